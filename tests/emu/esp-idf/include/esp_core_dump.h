/* SPDX-License-Identifier: Apache-2.0 */
/* Host emulation of ESP-IDF (tests/emu/esp-idf/README.md): the panic reason of the core dump in
 * flash (components/espcoredump/include/esp_core_dump.h), the one core dump call the port
 * makes. */
#ifndef MQOTA_EMU_ESP_CORE_DUMP_H
#define MQOTA_EMU_ESP_CORE_DUMP_H

#include <stddef.h>

#include "esp_err.h"
#include "sdkconfig.h"

#ifdef __cplusplus
extern "C" {
#endif

#if CONFIG_ESP_COREDUMP_ENABLE_TO_FLASH
/**
 * The panic reason the core dump in flash recorded, cut to buffer_size - 1 bytes and
 * NUL-terminated. ESP_OK; ESP_ERR_INVALID_ARG (reason_buffer NULL or buffer_size 0);
 * ESP_ERR_NOT_FOUND (no core dump, or none with a panic reason).
 */
esp_err_t esp_core_dump_get_panic_reason(char *reason_buffer, size_t buffer_size);
#endif

#ifdef __cplusplus
}
#endif

#endif /* MQOTA_EMU_ESP_CORE_DUMP_H */
