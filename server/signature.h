/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file signature.h
 * @brief Signed releases on the server: the trusted P-256 public keys (--trusted-key) and the
 *        verification of an uploaded .mqsig against its image or file bundle
 *        (docs/SECURITY.md §3, docs/PROTOCOL.md §5.1).
 */
#ifndef MQOTAD_SIGNATURE_H
#define MQOTAD_SIGNATURE_H

#include <stddef.h>
#include <stdint.h>

#include "mqota/mqota_image.h"
#include "mqota/mqota_manifest.h"
#include "mqotad.h"

#ifdef __cplusplus
extern "C" {
#endif

/** What a verified .mqsig gives the release. */
typedef struct {
    mqota_manifest_t manifest;             /**< Decoded, checked against the image */
    uint8_t block[MQOTA_SIG_BLOCK_LEN];    /**< release_uid || r || s, as OFFERs carry it */
    char key_id[MQOTAD_KEY_ID_HEX];        /**< Trusted key whose signature verified */
} signature_t;

/**
 * Load every --trusted-key file into d->trusted_keys. Each must be a P-256 public key in PEM
 * (SubjectPublicKeyInfo, as `mqota key generate` writes NAME.pub.pem). Logs one sentence
 * naming the file and returns -1 on the first bad one; 0 when all loaded.
 */
int signature__load_keys(mqotad_t *d);

/** Free the keys loaded by signature__load_keys(). */
void signature__free_keys(mqotad_t *d);

/**
 * Verify a .mqsig for an uploaded image, following docs/SECURITY.md §3 steps 1-5.
 *
 * @param[in]  d       Daemon (trusted keys).
 * @param[in]  mqsig   The .mqsig JSON text (not NUL-terminated necessarily).
 * @param[in]  len     Its length.
 * @param[in]  sha256  SHA-256 of the uploaded image.
 * @param[in]  size    Bytes of the uploaded image.
 * @param[in]  info    The image's parsed header and descriptor.
 * @param[out] out     The manifest, block and key id on success.
 * @param[out] err     One sentence saying what is wrong, on failure.
 * @return 0 verified; -1 refused (HTTP 400).
 */
int signature__verify(mqotad_t *d, const char *mqsig, size_t len, const uint8_t sha256[32],
                      uint32_t size, const mqota_image_info_t *info, signature_t *out,
                      char *err, size_t err_cap);

/**
 * Verify a .mqsig for an uploaded file bundle (docs/PROTOCOL.md §17): its manifest must be a
 * file release's ("MQF1", §5.1) naming this bundle's SHA-256 and size, chip MQOTA_CHIP_ANY,
 * project "files" and security version 0, signed by a trusted key.
 *
 * @param[in]  d, mqsig, len  As signature__verify().
 * @param[in]  sha256  SHA-256 of the uploaded bundle.
 * @param[in]  size    Bytes of the bundle.
 * @param[out] out     The manifest, block and key id on success.
 * @param[out] err     One sentence saying what is wrong, on failure.
 * @return 0 verified; -1 refused (HTTP 400).
 */
int signature__verify_files(mqotad_t *d, const char *mqsig, size_t len,
                            const uint8_t sha256[32], uint32_t size, signature_t *out,
                            char *err, size_t err_cap);

/**
 * Decode standard base64 (with padding, no whitespace) into a malloc'd buffer.
 * @return the buffer (free()) and *out_len, or NULL when text is not base64 or out of memory.
 */
uint8_t *signature__base64_decode(const char *text, size_t *out_len);

#ifdef __cplusplus
}
#endif

#endif /* MQOTAD_SIGNATURE_H */
