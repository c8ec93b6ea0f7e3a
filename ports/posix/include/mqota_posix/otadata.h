/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file otadata.h
 * @brief ESP-IDF otadata: which OTA slot boots, and its rollback state.
 *
 * Exactly ESP-IDF's format (esp_flash_partitions.h, bootloader_common.c, esp_ota_ops.c): the
 * otadata partition holds two 4096-byte sectors; each starts with an esp_ota_select_entry_t
 *   { u32 ota_seq; u8 seq_label[20]; u32 ota_state; u32 crc }   (32 bytes, little-endian)
 * and the rest of the sector is 0xFF.
 *
 * CRC: ESP-IDF's bootloader_common_ota_select_crc() is esp_rom_crc32_le(UINT32_MAX, &ota_seq, 4),
 * over the 4 bytes of ota_seq only. The ROM function inverts the seed on entry and the result on
 * exit (zlib convention), so this equals zlib's crc32(0xFFFFFFFF, le32(ota_seq), 4), i.e.
 * mqota_crc32(0xFFFFFFFF, ...), and Python's binascii.crc32(struct.pack("<I", seq), 0xFFFFFFFF)
 * as used by ESP-IDF's otatool.py. It is NOT mqota_crc32(0, ...). Example: seq 1 -> 0x4743989A.
 *
 * An entry is valid when ota_seq != 0xFFFFFFFF and the CRC matches. The active entry is the
 * valid one with the higher ota_seq; it selects slot (ota_seq - 1) % 2.
 */
#ifndef MQOTA_POSIX_OTADATA_H
#define MQOTA_POSIX_OTADATA_H

#include <stdbool.h>
#include <stdint.h>

#include "mqota/mqota_status.h"
#include "mqota_posix/vflash.h"

#ifdef __cplusplus
extern "C" {
#endif

#define OTADATA_ENTRY_LEN 32u             /**< sizeof(esp_ota_select_entry_t) */
#define OTADATA_SLOTS 2u                  /**< OTA app slots in this layout */
#define OTADATA_STATE_NEW 0u              /**< ESP_OTA_IMG_NEW */
#define OTADATA_STATE_PENDING_VERIFY 1u   /**< ESP_OTA_IMG_PENDING_VERIFY */
#define OTADATA_STATE_VALID 2u            /**< ESP_OTA_IMG_VALID */
#define OTADATA_STATE_INVALID 3u          /**< ESP_OTA_IMG_INVALID */
#define OTADATA_STATE_ABORTED 4u          /**< ESP_OTA_IMG_ABORTED */
#define OTADATA_STATE_UNDEFINED 0xFFFFFFFFu /**< ESP_OTA_IMG_UNDEFINED */

/** One decoded esp_ota_select_entry_t. */
typedef struct {
    uint32_t seq;          /**< ota_seq */
    uint8_t seq_label[20]; /**< seq_label (unused by ESP-IDF, 0xFF) */
    uint32_t state;        /**< ota_state, OTADATA_STATE_* as stored (raw u32) */
    uint32_t crc;          /**< crc as stored */
} otadata_entry_t;

/** Both sectors, decoded. */
typedef struct {
    otadata_entry_t entry[2]; /**< entry[i] is the one in sector i */
    bool valid[2];            /**< seq != 0xFFFFFFFF and crc ok */
    int active;               /**< Sector of the active entry, or -1 if neither is valid */
} otadata_t;

/** @brief ESP-IDF's CRC of an entry with this ota_seq (see the file comment). */
uint32_t otadata_crc(uint32_t seq);

/** @brief Slot an entry selects: (seq - 1) % OTADATA_SLOTS. */
uint8_t otadata_slot_of(const otadata_entry_t *e);

/**
 * @brief Read both sectors of the otadata partition at `offset`.
 * @return MQOTA_OK, MQOTA_ERR_ARG, MQOTA_ERR_PLATFORM (flash read failed).
 */
mqota_status_t otadata_read(vflash_t *fl, uint32_t offset, otadata_t *out);

/**
 * @brief Sector of the valid entry with the highest seq that selects `slot`, or -1.
 */
int otadata_find_slot(const otadata_t *od, uint8_t slot);

/**
 * @brief Select `slot` for the next boot, like esp_ota_set_boot_partition: the new seq is the
 *        smallest seq greater than the active one with (seq - 1) % 2 == slot; the entry (state
 *        NEW) is written, after an erase, to the sector that does NOT hold the active entry
 *        (sector 0 if none is valid), so a torn write leaves the old selection in force.
 * @return MQOTA_OK, MQOTA_ERR_ARG (slot >= 2), MQOTA_ERR_PLATFORM (flash failed).
 */
mqota_status_t otadata_set_boot(vflash_t *fl, uint32_t offset, uint8_t slot);

/**
 * @brief Rewrite the entry in `sector` with a new ota_state (erase the sector, write the entry
 *        with the same seq), as ESP-IDF does for PENDING_VERIFY / VALID / INVALID / ABORTED.
 * @return MQOTA_OK, MQOTA_ERR_ARG (sector not 0/1), MQOTA_ERR_STATE (the entry there is not
 *         valid), MQOTA_ERR_PLATFORM (flash failed).
 */
mqota_status_t otadata_set_state(vflash_t *fl, uint32_t offset, int sector, uint32_t state);

#ifdef __cplusplus
}
#endif

#endif /* MQOTA_POSIX_OTADATA_H */
