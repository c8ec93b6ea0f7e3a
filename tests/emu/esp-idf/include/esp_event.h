/* SPDX-License-Identifier: Apache-2.0 */
/* Host emulation of ESP-IDF (tests/emu/esp-idf/README.md): the event types esp-mqtt's handlers
 * use (components/esp_event/include/esp_event_base.h). */
#ifndef MQOTA_EMU_ESP_EVENT_H
#define MQOTA_EMU_ESP_EVENT_H

#include <stdint.h>

typedef const char *esp_event_base_t;
typedef void (*esp_event_handler_t)(void *event_handler_arg, esp_event_base_t event_base,
                                    int32_t event_id, void *event_data);
#define ESP_EVENT_ANY_ID (-1)

#endif /* MQOTA_EMU_ESP_EVENT_H */
