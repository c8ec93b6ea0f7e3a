/* SPDX-License-Identifier: Apache-2.0 */
/* Host emulation of ESP-IDF (tests/emu/esp-idf/README.md): the version the emulation behaves as.
 * 5.5 has esp_ota_resume() and esp_ota_mark_app_invalid_rollback(); the glue's older path is
 * built with MQOTA_ESP_IDF_BEFORE_5_5 (components/esp_common/include/esp_idf_version.h). */
#ifndef MQOTA_EMU_ESP_IDF_VERSION_H
#define MQOTA_EMU_ESP_IDF_VERSION_H

#define ESP_IDF_VERSION_MAJOR 5
#define ESP_IDF_VERSION_MINOR 5
#define ESP_IDF_VERSION_PATCH 0
#define ESP_IDF_VERSION_VAL(major, minor, patch) (((major) << 16) | ((minor) << 8) | (patch))
#define ESP_IDF_VERSION \
    ESP_IDF_VERSION_VAL(ESP_IDF_VERSION_MAJOR, ESP_IDF_VERSION_MINOR, ESP_IDF_VERSION_PATCH)

#endif /* MQOTA_EMU_ESP_IDF_VERSION_H */
