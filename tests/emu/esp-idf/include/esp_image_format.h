/* SPDX-License-Identifier: Apache-2.0 */
/* Host emulation of ESP-IDF (tests/emu/esp-idf/README.md): esp_image_verify() and the types it
 * takes (components/bootloader_support/include/esp_image_format.h); only the fields used. */
#ifndef MQOTA_EMU_ESP_IMAGE_FORMAT_H
#define MQOTA_EMU_ESP_IMAGE_FORMAT_H

#include <stdint.h>

#include "esp_err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ESP_ERR_IMAGE_BASE 0x2000
#define ESP_ERR_IMAGE_INVALID (ESP_ERR_IMAGE_BASE + 2)

typedef struct {
    uint32_t offset;
    uint32_t size;
} esp_partition_pos_t;

typedef enum {
    ESP_IMAGE_VERIFY,
    ESP_IMAGE_VERIFY_SILENT,
} esp_image_load_mode_t;

typedef struct {
    uint32_t start_addr; /**< Flash address of the image */
    uint32_t image_len;  /**< Bytes, checksum and appended hash included */
} esp_image_metadata_t;

esp_err_t esp_image_verify(esp_image_load_mode_t mode, const esp_partition_pos_t *part,
                           esp_image_metadata_t *data);

#ifdef __cplusplus
}
#endif

#endif /* MQOTA_EMU_ESP_IMAGE_FORMAT_H */
