/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file mqota_manifest.h
 * @brief Signed release manifests: the canonical bytes a release key signs, and the OFFER's
 *        signature block (pure codec: bytes in, struct out, no I/O, no heap).
 *
 * The manifest binds what a device will install (image hash and size, chip, security version,
 * project, version) to one signing event (release_uid, chosen at random when signing). Layout,
 * little-endian (docs/PROTOCOL.md §5.1, docs/SECURITY.md):
 *
 *   offset 0   magic "MQM1" (4D 51 4D 31)
 *   offset 4   sha256[32]       SHA-256 of the whole image file
 *   offset 36  image_size u32
 *   offset 40  chip_id u16
 *   offset 42  secure_version u32
 *   offset 46  release_uid[16]
 *   offset 62  str project, str version   (str = u8 length 0..31, then the bytes, no NUL)
 *
 * Signature: ECDSA P-256 over SHA-256(manifest bytes), raw r || s (32 bytes each, big-endian).
 * In an OFFER the signature block is release_uid[16] || r || s (80 bytes); the device rebuilds
 * the manifest from the OFFER's own fields plus the uid (mqota_offer_manifest()), so a change
 * to any signed field of the OFFER breaks the signature.
 */
#ifndef MQOTA_MANIFEST_H
#define MQOTA_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "mqota_proto.h"
#include "mqota_status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MQOTA_MANIFEST_MAGIC0 0x4Du  /**< 'M' */
#define MQOTA_MANIFEST_MAGIC1 0x51u  /**< 'Q' */
#define MQOTA_MANIFEST_MAGIC2 0x4Du  /**< 'M' */
#define MQOTA_MANIFEST_MAGIC3 0x31u  /**< '1' */
#define MQOTA_MANIFEST_FIXED_LEN 62u /**< Bytes before the strings. */
/** Longest manifest: fixed part plus two strings of MQOTA_STR_MAX bytes (126). */
#define MQOTA_MANIFEST_MAX_LEN (MQOTA_MANIFEST_FIXED_LEN + 2u * (1u + MQOTA_STR_MAX))
/** Shortest manifest: fixed part plus two empty strings (64). */
#define MQOTA_MANIFEST_MIN_LEN (MQOTA_MANIFEST_FIXED_LEN + 2u)

#define MQOTA_RELEASE_UID_LEN 16u   /**< Bytes of a release uid. */
#define MQOTA_ECDSA_P256_SIG_LEN 64u /**< Raw r || s of an ECDSA P-256 signature. */
/** Bytes of the OFFER signature block: release_uid || r || s (80). */
#define MQOTA_SIG_BLOCK_LEN (MQOTA_RELEASE_UID_LEN + MQOTA_ECDSA_P256_SIG_LEN)

/** The signed fields of a release. Strings NUL-terminated, at most MQOTA_STR_MAX bytes. */
typedef struct {
    uint8_t sha256[MQOTA_SHA256_LEN];           /**< SHA-256 of the whole image file */
    uint32_t image_size;                        /**< Bytes of the image file */
    uint16_t chip_id;                           /**< ESP-IDF chip id the image is built for */
    uint32_t secure_version;                    /**< Anti-rollback security version */
    uint8_t release_uid[MQOTA_RELEASE_UID_LEN]; /**< Random, chosen when signing */
    char project[MQOTA_STR_MAX + 1];            /**< Project name */
    char version[MQOTA_STR_MAX + 1];            /**< Release version */
} mqota_manifest_t;

/** The OFFER's signature block, decoded. */
typedef struct {
    uint8_t release_uid[MQOTA_RELEASE_UID_LEN];       /**< uid of the signed manifest */
    uint8_t signature[MQOTA_ECDSA_P256_SIG_LEN];      /**< r || s, big-endian each */
} mqota_sig_block_t;

/**
 * @brief Encode a manifest into its canonical (signed) bytes.
 * @param[in]  m       Manifest; each string must be NUL-terminated within MQOTA_STR_MAX + 1
 *                     bytes.
 * @param[out] buf     Output; MQOTA_MANIFEST_MAX_LEN bytes always suffice.
 * @param[in]  cap     Capacity of buf.
 * @param[out] out_len Bytes written.
 * @return MQOTA_OK, MQOTA_ERR_ARG (NULL, or a string with no NUL in its 32 bytes),
 *         MQOTA_ERR_NO_SPACE.
 */
mqota_status_t mqota_manifest_encode(const mqota_manifest_t *m, uint8_t *buf, size_t cap,
                                     size_t *out_len);

/**
 * @brief Decode canonical manifest bytes.
 * @param[in]  buf Manifest bytes.
 * @param[in]  len Bytes in buf.
 * @param[out] m   The manifest on MQOTA_OK (strings copied, no pointers into buf).
 * @return MQOTA_OK, MQOTA_ERR_ARG, MQOTA_ERR_TRUNCATED (shorter than its strings say),
 *         MQOTA_ERR_MALFORMED (bad magic, a string longer than 31 bytes or containing a NUL,
 *         trailing bytes). On error *m is left unchanged.
 * @note Decoding and re-encoding gives the same bytes (the encoding is canonical).
 * @note Server side: defined in common/mqota_manifest_host.c (CMake target mqota_codec_host),
 *       not in libmqota; a device does not link it.
 */
mqota_status_t mqota_manifest_decode(const uint8_t *buf, size_t len, mqota_manifest_t *m);

/*
 * The signed manifest of a file release (docs/PROTOCOL.md §5.1 and §17), "MQF1": the bundle's
 * SHA-256 and size, chip_id (MQOTA_CHIP_ANY), the OFFER's kind flag MQOTA_OFFER_FLAG_FILES,
 * secure_version, release_uid, project, version. Its own magic and the flag make an image's
 * manifest and a bundle's two different byte strings, so a signature over one never verifies
 * as the other. Only the MicroPython agent takes file releases (ports/micropython/mqota/
 * proto.py rebuilds these bytes); the C agent refuses them unjudged (reason file-release).
 *
 *   offset 0   magic "MQF1" (4D 51 46 31)
 *   offset 4   sha256[32]       SHA-256 of the whole bundle
 *   offset 36  bundle_size u32  (mqota_manifest_t.image_size)
 *   offset 40  chip_id u16      MQOTA_CHIP_ANY
 *   offset 42  flags u32        MQOTA_OFFER_FLAG_FILES, nothing else
 *   offset 46  secure_version u32
 *   offset 50  release_uid[16]
 *   offset 66  str project, str version
 */
#define MQOTA_FILES_MANIFEST_MAGIC2 0x46u  /**< 'F' (bytes 0, 1, 3 as MQOTA_MANIFEST_MAGIC*) */
#define MQOTA_FILES_MANIFEST_FIXED_LEN 66u /**< Bytes before the strings. */
/** Longest bundle manifest: fixed part plus two strings of MQOTA_STR_MAX bytes (130). */
#define MQOTA_FILES_MANIFEST_MAX_LEN (MQOTA_FILES_MANIFEST_FIXED_LEN + 2u * (1u + MQOTA_STR_MAX))

/**
 * @brief Encode the manifest of a file release (magic "MQF1", flags MQOTA_OFFER_FLAG_FILES).
 * @param[in]  m       Manifest: image_size is the bundle's size; strings NUL-terminated within
 *                     MQOTA_STR_MAX + 1 bytes. chip_id is written as given (a file release's
 *                     is MQOTA_CHIP_ANY; the verifier checks it).
 * @param[out] buf     Output; MQOTA_FILES_MANIFEST_MAX_LEN bytes always suffice.
 * @param[in]  cap     Capacity of buf.
 * @param[out] out_len Bytes written.
 * @return MQOTA_OK, MQOTA_ERR_ARG (NULL, or a string with no NUL in its 32 bytes),
 *         MQOTA_ERR_NO_SPACE.
 * @note Server side: defined in common/mqota_manifest_host.c (mqota_codec_host).
 */
mqota_status_t mqota_files_manifest_encode(const mqota_manifest_t *m, uint8_t *buf, size_t cap,
                                           size_t *out_len);

/**
 * @brief Decode the canonical bytes of a file release's manifest.
 * @param[in]  buf Manifest bytes.
 * @param[in]  len Bytes in buf.
 * @param[out] m   The manifest on MQOTA_OK (image_size is the bundle's size).
 * @return MQOTA_OK, MQOTA_ERR_ARG, MQOTA_ERR_TRUNCATED, MQOTA_ERR_MALFORMED (not "MQF1", flags
 *         other than MQOTA_OFFER_FLAG_FILES, a bad string, trailing bytes). *m unchanged on
 *         error.
 * @note Server side: defined in common/mqota_manifest_host.c (mqota_codec_host).
 */
mqota_status_t mqota_files_manifest_decode(const uint8_t *buf, size_t len, mqota_manifest_t *m);

/**
 * @brief Write the 80-byte OFFER signature block: release_uid || signature.
 * @param[in]  blk Block to write.
 * @param[out] buf Where the MQOTA_SIG_BLOCK_LEN bytes go (mqota_offer_t.sig).
 * @param[in]  cap Bytes available at buf.
 * @return MQOTA_OK, MQOTA_ERR_ARG, MQOTA_ERR_NO_SPACE (cap < MQOTA_SIG_BLOCK_LEN).
 * @note Server side: defined in common/mqota_manifest_host.c (CMake target mqota_codec_host),
 *       not in libmqota; a device does not link it.
 */
mqota_status_t mqota_sig_block_encode(const mqota_sig_block_t *blk, uint8_t *buf, size_t cap);

/**
 * @brief Parse an OFFER signature block.
 * @param[in]  sig     The block (mqota_offer_t.sig).
 * @param[in]  sig_len Its length (mqota_offer_t.sig_len).
 * @param[out] blk     Decoded block.
 * @return MQOTA_OK, MQOTA_ERR_ARG (NULL), MQOTA_ERR_NOT_FOUND (sig_len 0: the offer is
 *         unsigned), MQOTA_ERR_MALFORMED (any other length than MQOTA_SIG_BLOCK_LEN).
 */
mqota_status_t mqota_sig_block_decode(const uint8_t *sig, size_t sig_len, mqota_sig_block_t *blk);

/**
 * @brief Fill a manifest from an OFFER's signed fields and a release uid.
 * @param[in]  offer The decoded OFFER.
 * @param[in]  uid   MQOTA_RELEASE_UID_LEN bytes of release uid (from its signature block).
 * @param[out] m     The manifest the signature must cover.
 * @return MQOTA_OK, MQOTA_ERR_ARG (a pointer NULL).
 */
mqota_status_t mqota_manifest_from_offer(const mqota_offer_t *offer,
                                         const uint8_t uid[MQOTA_RELEASE_UID_LEN],
                                         mqota_manifest_t *m);

/**
 * @brief Rebuild the signed manifest bytes of an OFFER: its sha256, image_size, chip_id,
 *        secure_version, project and version, with the release uid from its signature block.
 * @param[in]  offer   A decoded OFFER.
 * @param[out] buf     Output; MQOTA_MANIFEST_MAX_LEN bytes always suffice.
 * @param[in]  cap     Capacity of buf.
 * @param[out] len     Bytes written.
 * @return MQOTA_OK, MQOTA_ERR_ARG, MQOTA_ERR_NOT_FOUND (the offer is unsigned),
 *         MQOTA_ERR_MALFORMED (sig_len is neither 0 nor MQOTA_SIG_BLOCK_LEN),
 *         MQOTA_ERR_NO_SPACE.
 */
mqota_status_t mqota_offer_manifest(const mqota_offer_t *offer, uint8_t *buf, size_t cap,
                                    size_t *len);

#ifdef __cplusplus
}
#endif

#endif /* MQOTA_MANIFEST_H */
