/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file mqota_record.h
 * @brief The agent's persisted records ("mq.prog", "mq.slot0"/"mq.slot1", "mq.boot",
 *        "mq.minsv", "mq.held"): a pure codec, bytes in and struct out, no I/O.
 *
 * Every record is encoded field by field (docs/PROTOCOL.md §12): an 8-byte header (a 4-byte
 * ASCII tag naming the record, a version byte MQOTA_RECORD_VERSION, a reserved zero byte and
 * the record's total length as a little-endian u16), the fields, little-endian, and a CRC-32
 * (mqota_crc32()) of every byte before it. The layout is the same whatever the compiler, CPU or
 * struct padding.
 *
 * The decoders also read the records written by agents before this codec, which stored raw C
 * structs (as laid out by GCC for x86_64 and the 32-bit ESP32 targets: little-endian, no
 * padding in these structs). Such a record is recognised by its exact size and magic; the
 * decoder then sets *legacy so that the caller rewrites it in the current form (with
 * MQOTA_CFG_LEGACY_RECORDS 1, mqota_config_defaults.h).
 *
 * The functions below are defined in common/mqota_record_host.c (CMake target
 * mqota_codec_host), for tests and tools: libmqota's agent reaches the same codec by record
 * kind (device/src/mqota_record.c), so a device does not carry one pair per record.
 */
#ifndef MQOTA_RECORD_H
#define MQOTA_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mqota_proto.h"
#include "mqota_status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MQOTA_RECORD_VERSION 1u     /**< Version byte of every record this codec writes. */
#define MQOTA_RECORD_HEADER_LEN 8u  /**< Tag (4), version (1), reserved (1), length (2). */
#define MQOTA_PROGRESS_RECORD_LEN 68u /**< Bytes of an encoded "mq.prog" record. */
#define MQOTA_SLOT_RECORD_LEN 48u   /**< Bytes of an encoded "mq.slot0"/"mq.slot1" record. */
#define MQOTA_ATTEMPT_RECORD_LEN 28u /**< Bytes of an encoded "mq.boot" record. */
#define MQOTA_MINSV_RECORD_LEN 16u  /**< Bytes of an encoded "mq.minsv" record. */
#define MQOTA_HELD_RECORD_LEN 60u   /**< Bytes of an encoded "mq.held" record. */
#define MQOTA_RECORD_MAX_LEN 68u    /**< Largest record, current or legacy form. */

/** Transfer progress (key "mq.prog"): which release goes into which slot, and how far. */
typedef struct {
    uint32_t release_id;    /**< Release being written. */
    uint32_t deployment_id; /**< Deployment that offered it. */
    uint32_t image_size;    /**< Image size in bytes. */
    uint32_t chunk_size;    /**< Chunk size in bytes. */
    uint32_t base;          /**< Chunks [0, base) are written. */
    uint8_t slot;           /**< OTA slot being written. */
    uint8_t sha256[MQOTA_SHA256_LEN]; /**< The offer's SHA-256 of the whole image. */
} mqota_progress_t;

/** Which release a slot holds (keys "mq.slot0", "mq.slot1"). */
typedef struct {
    uint32_t release_id;              /**< Release in the slot. */
    char version[MQOTA_STR_MAX + 1u]; /**< Release version, NUL-terminated. */
} mqota_slot_record_t;

/** The boot attempt into a new image (key "mq.boot"). */
typedef struct {
    uint32_t release_id;     /**< Release booted into. */
    uint32_t deployment_id;  /**< Deployment that offered it. */
    uint8_t from_slot;       /**< Slot that ran before. */
    uint8_t to_slot;         /**< Slot of the new image. */
    uint8_t reason;          /**< mqota_reason_t the new image recorded before it rolled back. */
    uint32_t secure_version; /**< The offer's; becomes the minimum once the image is confirmed. */
} mqota_attempt_t;

/** A verified image held in the inactive slot until it is activated (key "mq.held",
 *  docs/PROTOCOL.md §5.2). */
typedef struct {
    uint32_t release_id;    /**< Release in the slot. */
    uint32_t deployment_id; /**< Deployment whose offer asked to hold it. */
    uint32_t image_size;    /**< Image size in bytes. */
    uint8_t slot;           /**< OTA slot holding it (never the running one). */
    uint8_t sha256[MQOTA_SHA256_LEN]; /**< SHA-256 of the whole image, as verified. */
} mqota_held_t;

/**
 * @brief Encode a transfer-progress record.
 * @param[in]  p       Record to encode.
 * @param[out] buf     Where the MQOTA_PROGRESS_RECORD_LEN bytes go.
 * @param[in]  cap     Bytes available at buf.
 * @param[out] out_len Bytes written (MQOTA_PROGRESS_RECORD_LEN).
 * @return MQOTA_OK; MQOTA_ERR_ARG if a pointer is NULL; MQOTA_ERR_NO_SPACE if cap is too small.
 */
mqota_status_t mqota_progress_encode(const mqota_progress_t *p, uint8_t *buf, size_t cap,
                                     size_t *out_len);

/**
 * @brief Decode a transfer-progress record, current or legacy (64-byte "MQP1" struct) form.
 * @param[in]  buf    Record bytes, as read from the store.
 * @param[in]  len    Their length.
 * @param[out] p      The record; written only on MQOTA_OK.
 * @param[out] legacy Set to true for the legacy form, false for the current one (may be NULL).
 * @return MQOTA_OK; MQOTA_ERR_ARG if buf or p is NULL; MQOTA_ERR_MALFORMED if len is not a
 *         record's length, the length field disagrees with it, or a reserved byte is not zero;
 *         MQOTA_ERR_TYPE if the tag or magic is another record's; MQOTA_ERR_VERSION if the
 *         version byte is not MQOTA_RECORD_VERSION; MQOTA_ERR_CRC if the CRC-32 does not match.
 */
mqota_status_t mqota_progress_decode(const uint8_t *buf, size_t len, mqota_progress_t *p,
                                     bool *legacy);

/**
 * @brief Encode a slot record.
 * @param[in]  s       Record to encode; its version must be NUL-terminated.
 * @param[out] buf     Where the MQOTA_SLOT_RECORD_LEN bytes go.
 * @param[in]  cap     Bytes available at buf.
 * @param[out] out_len Bytes written (MQOTA_SLOT_RECORD_LEN).
 * @return MQOTA_OK; MQOTA_ERR_ARG if a pointer is NULL or the version is not NUL-terminated;
 *         MQOTA_ERR_NO_SPACE if cap is too small.
 */
mqota_status_t mqota_slot_record_encode(const mqota_slot_record_t *s, uint8_t *buf, size_t cap,
                                        size_t *out_len);

/**
 * @brief Decode a slot record, current or legacy (44-byte "MQS1" struct) form.
 * @param[in]  buf    Record bytes.
 * @param[in]  len    Their length.
 * @param[out] s      The record, version NUL-terminated; written only on MQOTA_OK.
 * @param[out] legacy Set to true for the legacy form (may be NULL).
 * @return MQOTA_OK, or the refusals of mqota_progress_decode() (MQOTA_ERR_ARG,
 *         MQOTA_ERR_MALFORMED, MQOTA_ERR_TYPE, MQOTA_ERR_VERSION, MQOTA_ERR_CRC); also
 *         MQOTA_ERR_MALFORMED if the version is not NUL-terminated or a byte after its NUL is
 *         not zero (current form).
 */
mqota_status_t mqota_slot_record_decode(const uint8_t *buf, size_t len, mqota_slot_record_t *s,
                                        bool *legacy);

/**
 * @brief Encode a boot-attempt record.
 * @param[in]  at      Record to encode.
 * @param[out] buf     Where the MQOTA_ATTEMPT_RECORD_LEN bytes go.
 * @param[in]  cap     Bytes available at buf.
 * @param[out] out_len Bytes written (MQOTA_ATTEMPT_RECORD_LEN).
 * @return MQOTA_OK; MQOTA_ERR_ARG if a pointer is NULL; MQOTA_ERR_NO_SPACE if cap is too small.
 */
mqota_status_t mqota_attempt_encode(const mqota_attempt_t *at, uint8_t *buf, size_t cap,
                                    size_t *out_len);

/**
 * @brief Decode a boot-attempt record: current form, or legacy 24-byte "MQB2" or 20-byte
 *        "MQB1" struct (the latter without secure_version, read as 0).
 * @param[in]  buf    Record bytes.
 * @param[in]  len    Their length.
 * @param[out] at     The record; written only on MQOTA_OK.
 * @param[out] legacy Set to true for a legacy form (may be NULL).
 * @return MQOTA_OK, or the refusals of mqota_progress_decode() (MQOTA_ERR_ARG,
 *         MQOTA_ERR_MALFORMED, MQOTA_ERR_TYPE, MQOTA_ERR_VERSION, MQOTA_ERR_CRC).
 */
mqota_status_t mqota_attempt_decode(const uint8_t *buf, size_t len, mqota_attempt_t *at,
                                    bool *legacy);

/**
 * @brief Encode the minimum-secure-version record.
 * @param[in]  min_secure_version Lowest secure_version accepted.
 * @param[out] buf     Where the MQOTA_MINSV_RECORD_LEN bytes go.
 * @param[in]  cap     Bytes available at buf.
 * @param[out] out_len Bytes written (MQOTA_MINSV_RECORD_LEN).
 * @return MQOTA_OK; MQOTA_ERR_ARG if a pointer is NULL; MQOTA_ERR_NO_SPACE if cap is too small.
 */
mqota_status_t mqota_minsv_encode(uint32_t min_secure_version, uint8_t *buf, size_t cap,
                                  size_t *out_len);

/**
 * @brief Decode the minimum-secure-version record, current or legacy (12-byte "MQV1") form.
 * @param[in]  buf    Record bytes.
 * @param[in]  len    Their length.
 * @param[out] min_secure_version The stored minimum; written only on MQOTA_OK.
 * @param[out] legacy Set to true for the legacy form (may be NULL).
 * @return MQOTA_OK, or the refusals of mqota_progress_decode() (MQOTA_ERR_ARG,
 *         MQOTA_ERR_MALFORMED, MQOTA_ERR_TYPE, MQOTA_ERR_VERSION, MQOTA_ERR_CRC).
 */
mqota_status_t mqota_minsv_decode(const uint8_t *buf, size_t len, uint32_t *min_secure_version,
                                  bool *legacy);

/**
 * @brief Encode a held-image record.
 * @param[in]  h       Record to encode.
 * @param[out] buf     Where the MQOTA_HELD_RECORD_LEN bytes go.
 * @param[in]  cap     Bytes available at buf.
 * @param[out] out_len Bytes written (MQOTA_HELD_RECORD_LEN).
 * @return MQOTA_OK; MQOTA_ERR_ARG if a pointer is NULL; MQOTA_ERR_NO_SPACE if cap is too small.
 */
mqota_status_t mqota_held_encode(const mqota_held_t *h, uint8_t *buf, size_t cap,
                                 size_t *out_len);

/**
 * @brief Decode a held-image record (there is no legacy form: it came with version 1 of the
 *        codec).
 * @param[in]  buf Record bytes.
 * @param[in]  len Their length.
 * @param[out] h   The record; written only on MQOTA_OK.
 * @return MQOTA_OK; MQOTA_ERR_ARG if buf or h is NULL; MQOTA_ERR_MALFORMED (length, length
 *         field or a reserved byte), MQOTA_ERR_TYPE (another record's tag), MQOTA_ERR_VERSION,
 *         MQOTA_ERR_CRC.
 */
mqota_status_t mqota_held_decode(const uint8_t *buf, size_t len, mqota_held_t *h);

#ifdef __cplusplus
}
#endif

#endif /* MQOTA_RECORD_H */
