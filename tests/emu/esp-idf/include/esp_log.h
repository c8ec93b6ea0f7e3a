/* SPDX-License-Identifier: Apache-2.0 */
/* Host emulation of ESP-IDF (tests/emu/esp-idf/README.md): the ESP_LOGx macros
 * (components/log/include/esp_log.h); lines go to stderr as "E (tag) message". */
#ifndef MQOTA_EMU_ESP_LOG_H
#define MQOTA_EMU_ESP_LOG_H

void esp_emu_log(char level, const char *tag, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define ESP_LOGE(tag, ...) esp_emu_log('E', tag, __VA_ARGS__)
#define ESP_LOGW(tag, ...) esp_emu_log('W', tag, __VA_ARGS__)
#define ESP_LOGI(tag, ...) esp_emu_log('I', tag, __VA_ARGS__)
#define ESP_LOGD(tag, ...) esp_emu_log('D', tag, __VA_ARGS__)

#endif /* MQOTA_EMU_ESP_LOG_H */
