/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file partition.h
 * @brief ESP-IDF binary partition table at flash offset 0x8000 (esp_partition_info_t).
 *
 * Format, as ESP-IDF's gen_esp32part.py writes it and the bootloader reads it
 * (components/bootloader_support/include/esp_flash_partitions.h):
 *   32-byte entries { u16 magic 0x50AA LE, u8 type, u8 subtype, u32 offset LE, u32 size LE,
 *                     char label[16] (NUL-padded), u32 flags LE }
 *   then one MD5 entry { u16 0xEBEB, 14 bytes 0xFF, MD5 of all preceding entry bytes (16) }
 *   then 0xFF up to the end of the table area (0xC00 bytes).
 *
 * The default layout here is a two-slot OTA layout without a factory app:
 *   nvs      data/nvs  0x9000   0x4000
 *   otadata  data/ota  0xD000   0x2000
 *   phy_init data/phy  0xF000   0x1000
 *   ota_0    app/ota_0 0x10000  0x1E0000
 *   ota_1    app/ota_1 0x1F0000 0x1E0000
 */
#ifndef MQOTA_POSIX_PARTITION_H
#define MQOTA_POSIX_PARTITION_H

#include <stdint.h>

#include "mqota/mqota_status.h"
#include "mqota_posix/vflash.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PARTITION_TABLE_OFFSET 0x8000u /**< CONFIG_PARTITION_TABLE_OFFSET */
#define PARTITION_TABLE_MAX_LEN 0xC00u /**< ESP_PARTITION_TABLE_MAX_LEN */
#define PARTITION_ENTRY_LEN 32u        /**< sizeof(esp_partition_info_t) */
#define PARTITION_MAGIC 0x50AAu        /**< ESP_PARTITION_MAGIC */
#define PARTITION_MAGIC_MD5 0xEBEBu    /**< ESP_PARTITION_MAGIC_MD5 */
#define PARTITION_MAX 16u              /**< Entries this reader keeps */

#define PARTITION_TYPE_APP 0x00u
#define PARTITION_TYPE_DATA 0x01u
#define PARTITION_SUBTYPE_DATA_OTA 0x00u
#define PARTITION_SUBTYPE_DATA_PHY 0x01u
#define PARTITION_SUBTYPE_DATA_NVS 0x02u
#define PARTITION_SUBTYPE_APP_OTA_0 0x10u
#define PARTITION_SUBTYPE_APP_OTA_1 0x11u

/** One partition (an esp_partition_info_t, decoded). */
typedef struct {
    uint8_t type;     /**< PARTITION_TYPE_* */
    uint8_t subtype;  /**< PARTITION_SUBTYPE_* */
    uint32_t offset;  /**< Flash byte address */
    uint32_t size;    /**< Bytes */
    char label[17];   /**< NUL-terminated */
    uint32_t flags;   /**< Bit 0 encrypted, bit 1 readonly */
} partition_t;

/** A decoded table. */
typedef struct {
    partition_t part[PARTITION_MAX];
    unsigned count;
} partition_table_t;

/**
 * @brief Write the default two-slot OTA table (see the file comment) at 0x8000. Erases the
 *        table's sector first.
 * @return MQOTA_OK, MQOTA_ERR_ARG, MQOTA_ERR_PLATFORM (flash erase/write failed).
 */
mqota_status_t partition_table_write_default(vflash_t *fl);

/**
 * @brief Read and validate the table at 0x8000: every entry's magic, then the MD5 entry.
 * @return MQOTA_OK, MQOTA_ERR_ARG, MQOTA_ERR_PLATFORM (flash read failed), MQOTA_ERR_MALFORMED
 *         (an entry with an unknown magic, no MD5 entry, no entries, more than PARTITION_MAX
 *         entries), MQOTA_ERR_HASH (the MD5 does not match the entries).
 */
mqota_status_t partition_table_read(vflash_t *fl, partition_table_t *out);

/** @brief First partition with this type and subtype, or NULL. */
const partition_t *partition_find(const partition_table_t *pt, uint8_t type, uint8_t subtype);

#ifdef __cplusplus
}
#endif

#endif /* MQOTA_POSIX_PARTITION_H */
