/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file mqota_image.h
 * @brief ESP32 application image parser and streaming checker (pure: no I/O, no heap).
 *
 * Format source: ESP-IDF "App Image Format" (components/bootloader_support/include/
 * esp_app_format.h, esp_image_format.h) and esp_app_desc_t (components/esp_app_format):
 *
 *   offset 0   esp_image_header_t (24 bytes): magic 0xE9, segment_count, spi_mode,
 *              spi_speed:4|spi_size:4, entry_addr u32, wp_pin, spi_pin_drv[3], chip_id u16,
 *              min_chip_rev u8, min_chip_rev_full u16, max_chip_rev_full u16, reserved[4],
 *              hash_appended u8 (byte 23)
 *   offset 24  segment_count x { load_addr u32, data_len u32, data[data_len] }
 *              The first segment's data begins with esp_app_desc_t (offset 32 in the file).
 *   then       zero padding up to the last byte of a 16-byte block, then one checksum byte:
 *              0xEF XOR every byte of every segment's data
 *   then       if hash_appended: SHA-256 of every byte from 0 through the checksum byte
 *   then       (image_len) nothing, or 0xFF padding to a 4 KiB boundary optionally followed by
 *              a 4 KiB Secure Boot v2 signature sector (first byte 0xE7), or a 68-byte Secure
 *              Boot v1 signature block (u32 version 0, 64-byte signature); nothing else
 *
 *   esp_app_desc_t (256 bytes): magic_word u32 0xABCD5432, secure_version u32, reserv1[2] u32,
 *              version[32], project_name[32], time[16], date[16], idf_ver[32],
 *              app_elf_sha256[32], reserv2[20] u32.
 */
#ifndef MQOTA_IMAGE_H
#define MQOTA_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "mqota_status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MQOTA_IMAGE_MAGIC 0xE9u            /**< esp_image_header_t.magic */
#define MQOTA_APP_DESC_MAGIC 0xABCD5432u   /**< esp_app_desc_t.magic_word */
#define MQOTA_IMAGE_HEADER_LEN 24u         /**< sizeof(esp_image_header_t) */
#define MQOTA_SEGMENT_HEADER_LEN 8u        /**< sizeof(esp_image_segment_header_t) */
#define MQOTA_APP_DESC_OFFSET 32u          /**< esp_app_desc_t offset in the file */
#define MQOTA_APP_DESC_LEN 256u            /**< sizeof(esp_app_desc_t) */
#define MQOTA_IMAGE_MAX_SEGMENTS 16u       /**< ESP_IMAGE_MAX_SEGMENTS */
#define MQOTA_CHECKSUM_SEED 0xEFu          /**< ESP_ROM_CHECKSUM_INITIAL */
/** Bytes needed by mqota_image_parse_head(): header + first segment header + app descriptor. */
#define MQOTA_IMAGE_HEAD_LEN (MQOTA_APP_DESC_OFFSET + MQOTA_APP_DESC_LEN)

/** ESP-IDF chip ids (esp_chip_id_t). */
#define MQOTA_CHIP_ESP32 0u
#define MQOTA_CHIP_ESP32S2 2u
#define MQOTA_CHIP_ESP32C3 5u
#define MQOTA_CHIP_ESP32S3 9u
#define MQOTA_CHIP_ESP32C2 12u
#define MQOTA_CHIP_ESP32C6 13u
#define MQOTA_CHIP_ESP32H2 16u
#define MQOTA_CHIP_ESP32P4 18u

/** What the first MQOTA_IMAGE_HEAD_LEN bytes of an application image say. */
typedef struct {
    uint8_t segment_count;   /**< esp_image_header_t.segment_count */
    uint16_t chip_id;        /**< esp_image_header_t.chip_id */
    uint8_t hash_appended;   /**< 1 if a SHA-256 follows the checksum byte */
    uint32_t entry_addr;     /**< esp_image_header_t.entry_addr */
    uint32_t secure_version; /**< esp_app_desc_t.secure_version */
    char version[33];        /**< esp_app_desc_t.version, NUL-terminated */
    char project_name[33];   /**< esp_app_desc_t.project_name, NUL-terminated */
    char time[17];           /**< esp_app_desc_t.time */
    char date[17];           /**< esp_app_desc_t.date */
    char idf_ver[33];        /**< esp_app_desc_t.idf_ver */
    uint8_t app_elf_sha256[32]; /**< esp_app_desc_t.app_elf_sha256 */
} mqota_image_info_t;

/**
 * @brief Parse the image header and esp_app_desc_t from the start of an image.
 * @param[in]  buf  First bytes of the image.
 * @param[in]  len  Bytes in buf; at least MQOTA_IMAGE_HEAD_LEN.
 * @param[out] info Parsed fields.
 * @return MQOTA_OK, MQOTA_ERR_ARG, MQOTA_ERR_TRUNCATED (len < MQOTA_IMAGE_HEAD_LEN),
 *         MQOTA_ERR_IMAGE (bad magic 0xE9, segment count 0 or > 16, or descriptor magic
 *         is not 0xABCD5432). An unknown chip id is not an error here: callers judge chip
 *         ids with mqota_chip_name().
 */
mqota_status_t mqota_image_parse_head(const uint8_t *buf, size_t len, mqota_image_info_t *info);

/** Why an image was judged invalid (mqota_image_check_t.fault). */
typedef enum {
    MQOTA_IMAGE_FAULT_NONE = 0,
    MQOTA_IMAGE_FAULT_MAGIC = 1,          /**< byte 0 is not 0xE9 */
    MQOTA_IMAGE_FAULT_SEGMENT_COUNT = 2,  /**< segment count is 0 or more than 16 */
    MQOTA_IMAGE_FAULT_SEGMENT_SIZE = 3,   /**< a segment is 16 MiB or more, or its length is
                                               not a multiple of 4 (as ESP-IDF's
                                               verify_segment_header) */
    MQOTA_IMAGE_FAULT_TRUNCATED = 4,      /**< image ends inside a header, segment, checksum or hash */
    MQOTA_IMAGE_FAULT_CHECKSUM = 5,       /**< checksum byte does not match the segment data */
    MQOTA_IMAGE_FAULT_DESC_MAGIC = 6,     /**< reserved: parse_head reports this as a status */
    MQOTA_IMAGE_FAULT_CHIP = 7,           /**< reserved: callers judge chip ids */
    MQOTA_IMAGE_FAULT_TRAILING = 8        /**< bytes after the image's end that are neither
                                               0xFF padding to a 4 KiB boundary nor a Secure
                                               Boot signature block; fault_offset is where
                                               they start, image_len where the image ends */
} mqota_image_fault_t;

/**
 * @brief One-phrase description of a fault.
 * @param[in] fault A mqota_image_fault_t value (mqota_image_check_t.fault).
 * @return "checksum mismatch", ...; "unknown fault" for other values. Static, never NULL.
 * @note Server side: defined in common/mqota_image_host.c (CMake target mqota_codec_host),
 *       not in libmqota; a device does not link it.
 */
const char *mqota_image_fault_str(mqota_image_fault_t fault);

/** Streaming structure checker state; treat as opaque except the fault fields. */
typedef struct {
    uint32_t offset;        /**< Bytes consumed so far */
    uint32_t seg_left;      /**< Data bytes left in the current segment */
    uint32_t next_hdr_at;   /**< Offset of the next segment header, or end of segments */
    uint8_t seg_index;      /**< Segments whose header has been read */
    uint8_t segment_count;
    uint8_t hash_appended;
    uint8_t checksum;       /**< Running XOR */
    uint8_t hdr[MQOTA_IMAGE_HEADER_LEN]; /**< Buffer for partial image/segment headers */
    uint8_t hdr_fill;
    uint8_t phase;          /**< Internal phase */
    uint8_t expect_checksum;/**< Checksum byte read from the image */
    uint8_t failed;         /**< Non-zero once an error was found (sticky) */
    uint8_t fault;          /**< mqota_image_fault_t of the first error */
    uint8_t fault_segment;  /**< Segment index the fault concerns, if any */
    uint8_t computed_checksum; /**< On MQOTA_IMAGE_FAULT_CHECKSUM: the checksum computed */
    uint32_t fault_offset;  /**< File offset where the fault was found */
    uint32_t checksum_at;   /**< Offset of the checksum byte once known */
    uint32_t image_len;     /**< Offset just past checksum (+ 32 if hash appended) once known */
    uint8_t appended_hash[32]; /**< Appended SHA-256 as read from the image */
    uint8_t hash_fill;
    uint32_t tail_end;      /**< End of the signature block after the image, once one began */
} mqota_image_check_t;

/**
 * @brief Start a streaming check of an image's structure.
 * @param[out] chk Checker state, caller-owned; not NULL. Lives until the check is finished.
 */
void mqota_image_check_init(mqota_image_check_t *chk);

/**
 * @brief Feed the next bytes of the image, in order. May be called with any split.
 * @param[in,out] chk  Checker started by mqota_image_check_init().
 * @param[in]     data Next bytes of the image; read during the call only (may be NULL if len
 *                     is 0).
 * @param[in]     len  Bytes in data.
 * @return MQOTA_OK (keep feeding), MQOTA_ERR_ARG, MQOTA_ERR_IMAGE (bad magic, too many
 *         segments, segment runs past 16 MiB, unexpected bytes after the image's end). Errors
 *         are sticky.
 */
mqota_status_t mqota_image_check_update(mqota_image_check_t *chk, const uint8_t *data, size_t len);

/**
 * @brief Judge the bytes fed so far as a whole image. May be called at any point (it does not
 *        change what later updates do): before the end of the image it returns
 *        MQOTA_ERR_TRUNCATED; checksum_at and image_len are valid once it returns MQOTA_OK.
 * @param[in]  chk            Checker.
 * @param[out] hashed_len     Bytes covered by the appended SHA-256 (0 if none appended); the
 *                            caller hashes bytes [0, hashed_len) and compares with
 *                            chk->appended_hash.
 * @return MQOTA_OK, MQOTA_ERR_ARG, MQOTA_ERR_TRUNCATED (image ends inside a segment, before
 *         the checksum, or inside the appended hash), MQOTA_ERR_IMAGE (checksum mismatch,
 *         earlier structural error). On error chk->fault says why (the function sets it for
 *         truncation and checksum faults, so chk is not const).
 * @note After image_len only 0xFF padding to a 4 KiB boundary, a Secure Boot v2 signature
 *       sector after it, or a Secure Boot v1 signature block directly at image_len are allowed;
 *       other bytes are MQOTA_ERR_IMAGE with fault MQOTA_IMAGE_FAULT_TRAILING (found by
 *       mqota_image_check_update() already). A signature block cut short is that fault too.
 */
mqota_status_t mqota_image_check_finish(mqota_image_check_t *chk, uint32_t *hashed_len);

/**
 * @brief Name of an ESP-IDF chip id.
 * @param[in] chip_id esp_chip_id_t value from the image header (0 = ESP32).
 * @return "ESP32", "ESP32-S3", ...; "unknown" for other ids. Static, never NULL.
 * @note Server side: defined in common/mqota_image_host.c (CMake target mqota_codec_host),
 *       not in libmqota; a device does not link it.
 */
const char *mqota_chip_name(uint16_t chip_id);

#ifdef __cplusplus
}
#endif

#endif /* MQOTA_IMAGE_H */
