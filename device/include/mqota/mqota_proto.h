/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file mqota_proto.h
 * @brief Protocol v1 codecs: bytes in, struct out, no I/O, no heap.
 *
 * The byte layout of every message is in docs/PROTOCOL.md. All integers are little-endian
 * (the byte order of the ESP32 and of the ESP-IDF image format). Every message starts with
 * the same 4-byte header: 'M' (0x4D), 'Q' (0x51), version (1), type.
 *
 * Each message's codec has a device half and a server half. The functions noted "Server side"
 * here and in mqota_command.h, mqota_manifest.h, mqota_image.h and mqota_telemetry.h are
 * defined in common/ (CMake target mqota_codec_host) for mqotad, the CLI and the tests; libmqota
 * holds only what a device calls.
 *
 * Topics (prefix default "mqota/v1", device id is the MQTT topic level after "dev"):
 *   <prefix>/dev/<id>/state   device -> server, STATE, QoS 1, retained
 *   <prefix>/dev/<id>/online  device -> server, ASCII "online"/"offline", QoS 1, retained;
 *                             "offline" is the device's last will
 *   <prefix>/dev/<id>/offer   server -> device, OFFER, QoS 1, retained (empty payload clears it)
 *   <prefix>/dev/<id>/chunk   server -> device, CHUNK, QoS 0
 *   <prefix>/dev/<id>/ack     device -> server, ACK, QoS 0
 *   <prefix>/stream/<release> server -> devices, CHUNK, QoS 0 (multicast stream of a release)
 *   <prefix>/dev/<id>/cmd     server -> device, sealed COMMAND, QoS 1 (mqota_command.h)
 *   <prefix>/dev/<id>/reply   device -> server, sealed REPLY, QoS 1 (mqota_command.h)
 *   <prefix>/dev/<id>/telemetry device -> server, TELEMETRY, QoS 0 (mqota_telemetry.h)
 *   <prefix>/dev/<id>/health  device -> server, HEALTH, QoS 1, retained (mqota_health.h)
 */
#ifndef MQOTA_PROTO_H
#define MQOTA_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "mqota_status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MQOTA_PROTO_MAGIC0 0x4Du   /**< 'M' */
#define MQOTA_PROTO_MAGIC1 0x51u   /**< 'Q' */
#define MQOTA_PROTO_VERSION 1u     /**< Protocol version carried in byte 2 of every message. */
#define MQOTA_HEADER_LEN 4u        /**< Bytes of the common header. */

#define MQOTA_STR_MAX 31u          /**< Longest string field on the wire, in bytes (no NUL). */
#define MQOTA_SIG_MAX 128u         /**< Longest signature block in an offer, in bytes. */
#define MQOTA_SHA256_LEN 32u       /**< Bytes of a SHA-256 digest. */

#define MQOTA_CHUNK_HEADER_LEN 20u /**< Bytes before the data in a CHUNK message. */
#define MQOTA_ACK_LEN 32u          /**< Bytes of an ACK message. */
#define MQOTA_SACK_BITS 64u        /**< Chunks covered by the selective-ack bitmap. */

/** Smallest and largest chunk size an offer may carry (bytes, powers of two). */
#define MQOTA_CHUNK_MIN 256u
#define MQOTA_CHUNK_MAX 65536u

/** Longest encoded STATE message (bytes): fixed part plus four strings at their maximum. */
#define MQOTA_STATE_MAX_LEN (MQOTA_HEADER_LEN + 40u + 4u * (1u + MQOTA_STR_MAX))
/** Bytes a delta OFFER carries after its signature block: u32 base_size, base SHA-256 (§18). */
#define MQOTA_DELTA_BASE_LEN 36u
/** Longest encoded OFFER message (bytes): a delta offer with the longest strings and block. */
#define MQOTA_OFFER_MAX_LEN                                                                    \
    (MQOTA_HEADER_LEN + 64u + 2u * (1u + MQOTA_STR_MAX) + 2u + MQOTA_SIG_MAX + MQOTA_DELTA_BASE_LEN)

/** Message types (byte 3 of the header). */
typedef enum {
    MQOTA_MSG_STATE = 1, /**< Device announcement / state report. */
    MQOTA_MSG_OFFER = 2, /**< Update offer (manifest) from the server. */
    MQOTA_MSG_CHUNK = 3, /**< One chunk of image data. */
    MQOTA_MSG_ACK = 4    /**< Cumulative + selective acknowledgement, doubles as a request. */
} mqota_msg_type_t;

/** Capability bits in mqota_state_msg_t.caps. */
#define MQOTA_CAP_RESUME 0x00000001u    /**< Resumes from persisted progress. */
#define MQOTA_CAP_SACK 0x00000002u      /**< Sends selective acknowledgements. */
#define MQOTA_CAP_ROLLBACK 0x00000004u  /**< Runs pending-verify / rollback after reboot. */
#define MQOTA_CAP_COMMANDS 0x00000008u  /**< Takes sealed commands (docs/PROTOCOL.md §14). */
#define MQOTA_CAP_HOLD 0x00000010u      /**< Honours MQOTA_OFFER_FLAG_HOLD: downloads, verifies
                                             and holds the image until activated (§5.2). */
#define MQOTA_CAP_DEFLATE 0x00000020u   /**< Inflates compressed transfers (OFFER encoding
                                             deflate-sync/-full) up to the window of STATE's
                                             deflate_window (docs/PROTOCOL.md §6.1). */
#define MQOTA_CAP_FILES 0x00000040u     /**< Takes file releases (MQOTA_OFFER_FLAG_FILES): a
                                             bundle of application files (docs/PROTOCOL.md
                                             §17). The C agent takes images only and does not
                                             set it. */
#define MQOTA_CAP_DELTA 0x00000080u     /**< Applies delta updates (OFFER encoding delta-sync/
                                             -full) from its running image (PROTOCOL.md §18). */

/** Flags in mqota_state_msg_t.flags. */
#define MQOTA_STATE_FLAG_ROLLBACK_POSSIBLE 0x01u /**< The other slot holds a bootable image. */

/**
 * @brief STATE: the device's retained announcement (device -> server).
 *
 * String fields are NUL-terminated here and carried as length-prefixed bytes on the wire.
 */
typedef struct {
    uint8_t state;             /**< mqota_update_state_t */
    uint8_t reason;            /**< mqota_reason_t, MQOTA_REASON_NONE unless failed/rolled back */
    uint8_t running_slot;      /**< OTA slot the running image was booted from (0 = ota_0) */
    uint8_t flags;             /**< MQOTA_STATE_FLAG_* */
    uint16_t chip_id;          /**< ESP-IDF chip id (0 ESP32, 2 S2, 5 C3, 9 S3, ...) */
    uint16_t max_window;       /**< Most chunks the device accepts in flight */
    uint32_t max_chunk;        /**< Largest chunk the device accepts, bytes */
    uint32_t caps;             /**< MQOTA_CAP_* */
    uint32_t running_release;  /**< Release id of the running image, 0 if not installed by mqota */
    uint32_t target_release;   /**< Release id of the update in progress or last attempted, 0 if none */
    uint32_t progress;         /**< Bytes of the target image written so far */
    uint32_t image_size;       /**< Bytes of the target image, 0 if none */
    uint32_t boot_count;       /**< Boots since the flash was created (monotonic per device) */
    uint8_t deflate_window;    /**< log2 of the largest deflate window the device inflates
                                    (MQOTA_WINDOW_BITS_MIN..MAX), 0: none (§6.1) */
    char project[MQOTA_STR_MAX + 1];         /**< project_name from the running esp_app_desc_t */
    char version[MQOTA_STR_MAX + 1];         /**< version from the running esp_app_desc_t */
    char idf_ver[MQOTA_STR_MAX + 1];         /**< idf_ver from the running esp_app_desc_t */
    char release_version[MQOTA_STR_MAX + 1]; /**< Release version of the running image ("" if none) */
} mqota_state_msg_t;

/** Flags in mqota_offer_t.flags. */
#define MQOTA_OFFER_FLAG_STREAM 0x00000001u /**< Also subscribe to the release's multicast
                                                 stream topic <prefix>/stream/<release_id> */
#define MQOTA_OFFER_FLAG_HOLD 0x00000002u   /**< Download and verify, then hold the image in
                                                 state held without switching the boot slot;
                                                 the same offer without this flag activates
                                                 it (docs/PROTOCOL.md §5.2) */
#define MQOTA_OFFER_FLAG_FILES 0x00000004u  /**< The offer is a file release: the bytes are a
                                                 file bundle (docs/PROTOCOL.md §17), not an
                                                 image; chip_id is MQOTA_CHIP_ANY. Only a
                                                 device with MQOTA_CAP_FILES takes it */
/** OFFER chip_id of a file release: the files suit any chip (docs/PROTOCOL.md §17). */
#define MQOTA_CHIP_ANY 0xFFFFu

/** OFFER encoding: how a CHUNK's data carries the image bytes (docs/PROTOCOL.md §6.1). */
#define MQOTA_ENCODING_NONE 0u         /**< The data are the image bytes */
#define MQOTA_ENCODING_DEFLATE_SYNC 1u /**< Raw deflate, one stream cut at sync points: a chunk's
                                            history is the image bytes before it */
#define MQOTA_ENCODING_DEFLATE_FULL 2u /**< Raw deflate cut at full flushes: each chunk decodes
                                            alone */
#define MQOTA_ENCODING_DELTA_SYNC 3u   /**< Delta chunks (§18), each raw deflate whose history is
                                            the image bytes before the chunk */
#define MQOTA_ENCODING_DELTA_FULL 4u   /**< Delta chunks (§18), each raw deflate alone */
/** Whether an OFFER encoding is a delta one (its offer carries the base, §18). */
#define MQOTA_ENCODING_IS_DELTA(e) ((e) == MQOTA_ENCODING_DELTA_SYNC || (e) == MQOTA_ENCODING_DELTA_FULL)
#define MQOTA_WINDOW_BITS_MIN 9u       /**< Smallest deflate window, log2 bytes */
#define MQOTA_WINDOW_BITS_MAX 15u      /**< Largest deflate window (32 KiB), log2 bytes */

/**
 * @brief OFFER: the update manifest (server -> device), retained on the device's offer topic.
 */
typedef struct {
    uint32_t release_id;       /**< Server's release id, non-zero */
    uint32_t deployment_id;    /**< Server's deployment id, non-zero */
    uint32_t image_size;       /**< Bytes of the image */
    uint32_t chunk_size;       /**< Bytes per chunk, power of two in [MQOTA_CHUNK_MIN, MQOTA_CHUNK_MAX] */
    uint16_t window;           /**< Server's window in chunks (the device uses min(this, its own)) */
    uint16_t chip_id;          /**< Chip the image is built for */
    uint32_t secure_version;   /**< Security version (anti-rollback), from esp_app_desc_t or release */
    uint32_t flags;            /**< MQOTA_OFFER_FLAG_*; unknown bits are ignored */
    uint8_t encoding;          /**< MQOTA_ENCODING_* (§6.1) */
    uint8_t window_bits;       /**< Deflate window, log2 bytes; 0 with MQOTA_ENCODING_NONE */
    uint8_t sha256[MQOTA_SHA256_LEN]; /**< SHA-256 of the whole image file */
    char version[MQOTA_STR_MAX + 1];  /**< Release version (may differ from the descriptor's) */
    char project[MQOTA_STR_MAX + 1];  /**< Project name from the descriptor */
    uint16_t sig_len;                 /**< Bytes in sig, 0 in v1 (signature block reserved) */
    uint8_t sig[MQOTA_SIG_MAX];       /**< Signature block, meaning defined by a later revision */
    uint32_t base_size;               /**< Delta encodings only (§18): bytes of the base image */
    uint8_t base_sha256[MQOTA_SHA256_LEN]; /**< Delta encodings only: SHA-256 of the base */
} mqota_offer_t;

/**
 * @brief CHUNK: one chunk of the image (server -> device). `data` points into the decoded buffer.
 */
typedef struct {
    uint32_t release_id;  /**< Release the chunk belongs to */
    uint32_t index;       /**< Chunk index; byte offset = index * chunk_size */
    uint32_t len;         /**< Bytes of data (chunk_size except for the last chunk) */
    uint32_t crc32;       /**< CRC-32 (IEEE 802.3, as zlib's crc32) of the data */
    const uint8_t *data;  /**< The data; lives as long as the buffer given to the decoder */
} mqota_chunk_t;

/**
 * @brief ACK: cumulative + selective acknowledgement (device -> server).
 *
 * `base` is the index of the first chunk not yet written: every chunk below it is written.
 * Bit k of `sack` (k = 0..63) set means chunk sack_base + 1 + k is written too; the device is
 * authoritative for those 64 chunks. In a unicast transfer sack_base == base; on a multicast
 * stream, where chunks arrive far ahead of base, the device moves sack_base up to just below
 * the newest chunks it wrote. `high` is one more than the highest chunk index written (0 if
 * none). An ACK is also the device's request: the server may have chunks [base, base + window)
 * in flight.
 */
typedef struct {
    uint32_t release_id; /**< Release being transferred */
    uint32_t base;       /**< First chunk not yet written */
    uint64_t sack;       /**< Selective ack bitmap for chunks sack_base+1 .. sack_base+64 */
    uint16_t window;     /**< Chunks the device accepts in flight from base */
    uint8_t flags;       /**< MQOTA_ACK_FLAG_* */
    uint32_t sack_base;  /**< Chunk before the first one sack describes; >= base */
    uint32_t high;       /**< 1 + highest chunk index written, 0 if none */
} mqota_ack_t;

#define MQOTA_ACK_FLAG_RESUMED 0x01u  /**< base comes from persisted progress after a restart */
#define MQOTA_ACK_FLAG_COMPLETE 0x02u /**< every chunk is written */
#define MQOTA_ACK_FLAG_REQUEST 0x04u  /**< explicit request (after reconnect or a stall): resend
                                           every missing chunk of the window now */

/**
 * @brief CRC-32 (IEEE 802.3 polynomial 0xEDB88320, reflected; identical to zlib's crc32()).
 * @param[in] crc  0 to start, or the previous result to continue.
 * @param[in] data Bytes to add; may be NULL only if len is 0.
 * @param[in] len  Number of bytes.
 * @return The updated CRC.
 */
uint32_t mqota_crc32(uint32_t crc, const void *data, size_t len);

/**
 * @brief Check the common header and return the message type.
 * @param[in]  buf  Message bytes.
 * @param[in]  len  Length of buf in bytes.
 * @param[out] type Message type on success.
 * @return MQOTA_OK (also for a type byte this version does not know: callers ignore it),
 *         MQOTA_ERR_ARG, MQOTA_ERR_TRUNCATED (len < 4), MQOTA_ERR_MALFORMED (bad magic),
 *         MQOTA_ERR_VERSION (version byte is not 1).
 */
mqota_status_t mqota_msg_type(const uint8_t *buf, size_t len, mqota_msg_type_t *type);

/**
 * @brief Encode a STATE message.
 * @param[in]  msg     Message; strings longer than MQOTA_STR_MAX are cut.
 * @param[out] buf     Output buffer; MQOTA_STATE_MAX_LEN bytes always suffice.
 * @param[in]  cap     Capacity of buf in bytes.
 * @param[out] out_len Bytes written.
 * @return MQOTA_OK, MQOTA_ERR_ARG, MQOTA_ERR_NO_SPACE.
 */
mqota_status_t mqota_state_encode(const mqota_state_msg_t *msg, uint8_t *buf, size_t cap,
                                  size_t *out_len);

/**
 * @brief Decode a STATE message.
 * @param[in]  buf Message bytes.
 * @param[in]  len Bytes in buf.
 * @param[out] msg The message on MQOTA_OK (strings copied, no pointers into buf).
 * @return MQOTA_OK, MQOTA_ERR_ARG, MQOTA_ERR_TRUNCATED, MQOTA_ERR_MALFORMED (bad magic, a
 *         string longer than 31 bytes or containing a NUL, trailing bytes), MQOTA_ERR_VERSION,
 *         MQOTA_ERR_TYPE. On error *msg is left unchanged.
 * @note Server side: defined in common/mqota_proto_host.c (CMake target mqota_codec_host),
 *       not in libmqota; a device does not link it.
 */
mqota_status_t mqota_state_decode(const uint8_t *buf, size_t len, mqota_state_msg_t *msg);

/**
 * @brief Encode an OFFER message.
 * @param[in]  offer   Offer, with sig_len bytes of signature block (0: unsigned).
 * @param[out] buf     Where the message goes.
 * @param[in]  cap     Bytes available at buf.
 * @param[out] out_len Bytes written on MQOTA_OK.
 * @return MQOTA_OK, MQOTA_ERR_ARG (also sig_len > MQOTA_SIG_MAX), MQOTA_ERR_NO_SPACE.
 * @note Server side: defined in common/mqota_proto_host.c (CMake target mqota_codec_host),
 *       not in libmqota; a device does not link it.
 */
mqota_status_t mqota_offer_encode(const mqota_offer_t *offer, uint8_t *buf, size_t cap,
                                  size_t *out_len);

/**
 * @brief Decode an OFFER message. Does not judge the values (chunk size, chip): the agent does.
 * @param[in]  buf   Message bytes.
 * @param[in]  len   Bytes in buf.
 * @param[out] offer The offer on MQOTA_OK (strings and signature block copied).
 * @return MQOTA_OK, MQOTA_ERR_ARG, MQOTA_ERR_TRUNCATED, MQOTA_ERR_MALFORMED (as for STATE, or
 *         sig_len > 128), MQOTA_ERR_VERSION, MQOTA_ERR_TYPE. On error *offer is left unchanged.
 */
mqota_status_t mqota_offer_decode(const uint8_t *buf, size_t len, mqota_offer_t *offer);

/**
 * @brief Write the 20-byte CHUNK header for `len` bytes of data (the caller appends the data).
 * @param[in]  release_id Release id.
 * @param[in]  index      Chunk index.
 * @param[in]  data       The chunk data (used for the CRC).
 * @param[in]  len        Bytes of data.
 * @param[out] buf        At least MQOTA_CHUNK_HEADER_LEN bytes.
 * @param[in]  cap        Capacity of buf.
 * @return MQOTA_OK, MQOTA_ERR_ARG, MQOTA_ERR_NO_SPACE.
 * @note Server side: defined in common/mqota_proto_host.c (CMake target mqota_codec_host),
 *       not in libmqota; a device does not link it.
 */
mqota_status_t mqota_chunk_encode_header(uint32_t release_id, uint32_t index,
                                         const uint8_t *data, uint32_t len, uint8_t *buf,
                                         size_t cap);

/**
 * @brief Decode a CHUNK message and check its CRC-32.
 * @param[in]  buf   Message bytes.
 * @param[in]  len   Bytes in buf.
 * @param[out] chunk The chunk on MQOTA_OK; chunk->data points into buf, so buf must outlive
 *                   every use of it.
 * @return MQOTA_OK, MQOTA_ERR_ARG, MQOTA_ERR_TRUNCATED (payload shorter than the length field),
 *         MQOTA_ERR_MALFORMED (payload longer than the length field), MQOTA_ERR_VERSION,
 *         MQOTA_ERR_TYPE, MQOTA_ERR_CRC.
 */
mqota_status_t mqota_chunk_decode(const uint8_t *buf, size_t len, mqota_chunk_t *chunk);

/**
 * @brief Encode an ACK message (always MQOTA_ACK_LEN bytes).
 * @param[in]  ack     Acknowledgement.
 * @param[out] buf     Where the message goes.
 * @param[in]  cap     Bytes available at buf.
 * @param[out] out_len Bytes written (MQOTA_ACK_LEN) on MQOTA_OK.
 * @return MQOTA_OK, MQOTA_ERR_ARG (also sack_base < base), MQOTA_ERR_NO_SPACE.
 */
mqota_status_t mqota_ack_encode(const mqota_ack_t *ack, uint8_t *buf, size_t cap,
                                size_t *out_len);

/**
 * @brief Decode an ACK message.
 * @param[in]  buf Message bytes.
 * @param[in]  len Bytes in buf (MQOTA_ACK_LEN).
 * @param[out] ack The acknowledgement on MQOTA_OK.
 * @return MQOTA_OK, MQOTA_ERR_ARG, MQOTA_ERR_TRUNCATED, MQOTA_ERR_MALFORMED (wrong length,
 *         sack_base < base), MQOTA_ERR_VERSION, MQOTA_ERR_TYPE.
 * @note Server side: defined in common/mqota_proto_host.c (CMake target mqota_codec_host),
 *       not in libmqota; a device does not link it.
 */
mqota_status_t mqota_ack_decode(const uint8_t *buf, size_t len, mqota_ack_t *ack);

#ifdef __cplusplus
}
#endif

#endif /* MQOTA_PROTO_H */
