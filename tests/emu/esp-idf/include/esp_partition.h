/* SPDX-License-Identifier: Apache-2.0 */
/* Host emulation of ESP-IDF (tests/emu/esp-idf/README.md): the part of esp_partition.h the
 * glue uses (components/esp_partition/include/esp_partition.h), on the virtual ESP32's
 * partition table and flash file. */
#ifndef MQOTA_EMU_ESP_PARTITION_H
#define MQOTA_EMU_ESP_PARTITION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "esp_err.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    ESP_PARTITION_TYPE_APP = 0x00,
    ESP_PARTITION_TYPE_DATA = 0x01,
} esp_partition_type_t;

typedef enum {
    ESP_PARTITION_SUBTYPE_APP_FACTORY = 0x00,
    ESP_PARTITION_SUBTYPE_APP_OTA_MIN = 0x10,
    ESP_PARTITION_SUBTYPE_APP_OTA_0 = 0x10,
    ESP_PARTITION_SUBTYPE_APP_OTA_1 = 0x11,
    ESP_PARTITION_SUBTYPE_APP_OTA_MAX = 0x20,
    ESP_PARTITION_SUBTYPE_DATA_OTA = 0x00,
    ESP_PARTITION_SUBTYPE_DATA_NVS = 0x02,
    ESP_PARTITION_SUBTYPE_ANY = 0xff,
} esp_partition_subtype_t;

typedef struct {
    void *flash_chip;                /**< Unused here (always NULL) */
    esp_partition_type_t type;       /**< Partition type */
    esp_partition_subtype_t subtype; /**< Partition subtype */
    uint32_t address;                /**< Flash byte address */
    uint32_t size;                   /**< Bytes */
    uint32_t erase_size;             /**< SPI_FLASH_SEC_SIZE */
    char label[17];                  /**< NUL-terminated */
    bool encrypted;                  /**< Always false here */
    bool readonly;                   /**< Flag from the table */
} esp_partition_t;

const esp_partition_t *esp_partition_find_first(esp_partition_type_t type,
                                                esp_partition_subtype_t subtype, const char *label);
esp_err_t esp_partition_read(const esp_partition_t *partition, size_t src_offset, void *dst,
                             size_t size);
esp_err_t esp_partition_write(const esp_partition_t *partition, size_t dst_offset,
                              const void *src, size_t size);
esp_err_t esp_partition_erase_range(const esp_partition_t *partition, size_t offset, size_t size);

#ifdef __cplusplus
}
#endif

#endif /* MQOTA_EMU_ESP_PARTITION_H */
