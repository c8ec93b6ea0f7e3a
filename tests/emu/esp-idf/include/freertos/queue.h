/* SPDX-License-Identifier: Apache-2.0 */
/* Host emulation of ESP-IDF (tests/emu/esp-idf/README.md): FreeRTOS queues
 * (FreeRTOS-Kernel/include/freertos/queue.h), only what the ESP-IDF port calls. */
#ifndef MQOTA_EMU_FREERTOS_QUEUE_H
#define MQOTA_EMU_FREERTOS_QUEUE_H

#include "freertos/FreeRTOS.h"

typedef StaticQueue_t *QueueHandle_t;

/* queue.h xQueueCreateStatic(): a queue of `length` items of `item_size` bytes kept in
 * `storage` (length * item_size bytes); the handle, or NULL for a NULL buffer or zero length. */
QueueHandle_t xQueueCreateStatic(UBaseType_t length, UBaseType_t item_size, uint8_t *storage,
                                 StaticQueue_t *queue);
/* queue.h xQueueSend() (xQueueSendToBack): copy the item in; pdTRUE, or errQUEUE_FULL (pdFALSE)
 * when full after `wait` ticks. */
BaseType_t xQueueSend(QueueHandle_t q, const void *item, TickType_t wait);
/* queue.h xQueueReceive(): copy the oldest item out; pdTRUE, or pdFALSE when empty after
 * `wait` ticks. */
BaseType_t xQueueReceive(QueueHandle_t q, void *item, TickType_t wait);
/* queue.h uxQueueMessagesWaiting(): items in the queue. */
UBaseType_t uxQueueMessagesWaiting(QueueHandle_t q);

#define errQUEUE_FULL pdFALSE

#endif /* MQOTA_EMU_FREERTOS_QUEUE_H */
