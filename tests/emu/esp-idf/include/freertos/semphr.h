/* SPDX-License-Identifier: Apache-2.0 */
/* Host emulation of ESP-IDF (tests/emu/esp-idf/README.md): FreeRTOS binary semaphores
 * (FreeRTOS-Kernel/include/freertos/semphr.h), only what the ESP-IDF port calls. */
#ifndef MQOTA_EMU_FREERTOS_SEMPHR_H
#define MQOTA_EMU_FREERTOS_SEMPHR_H

#include "freertos/queue.h"

typedef QueueHandle_t SemaphoreHandle_t;

/* semphr.h xSemaphoreCreateBinaryStatic(): a binary semaphore, created empty ("taken"). */
SemaphoreHandle_t xSemaphoreCreateBinaryStatic(StaticSemaphore_t *buffer);
/* semphr.h xSemaphoreGive(): pdTRUE, or pdFALSE if it was not taken. */
BaseType_t xSemaphoreGive(SemaphoreHandle_t s);
/* semphr.h xSemaphoreTake(): pdTRUE, or pdFALSE if still taken after `wait` ticks. */
BaseType_t xSemaphoreTake(SemaphoreHandle_t s, TickType_t wait);

#endif /* MQOTA_EMU_FREERTOS_SEMPHR_H */
