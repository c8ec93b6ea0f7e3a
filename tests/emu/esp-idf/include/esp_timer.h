/* SPDX-License-Identifier: Apache-2.0 */
/* Host emulation of ESP-IDF (tests/emu/esp-idf/README.md): esp_timer_get_time()
 * (components/esp_timer/include/esp_timer.h), microseconds since boot, set by the test. */
#ifndef MQOTA_EMU_ESP_TIMER_H
#define MQOTA_EMU_ESP_TIMER_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

int64_t esp_timer_get_time(void);

#ifdef __cplusplus
}
#endif

#endif /* MQOTA_EMU_ESP_TIMER_H */
