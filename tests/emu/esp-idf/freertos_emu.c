/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Host emulation of the FreeRTOS calls the ESP-IDF port makes (include/freertos/): static
 * queues, binary semaphores, static tasks and vTaskDelay, following the FreeRTOS API reference
 * (FreeRTOS-Kernel include/freertos/queue.h, semphr.h, task.h, as shipped in
 * ../shared/sdk/esp-idf components/freertos).
 *
 * There is one thread. A task's function is never run (the port's are endless loops); the
 * harness runs a task's work turn by turn. A call that would block, waiting for the other
 * task, calls the chip's block hook once instead (esp_idf_emu.h: the harness runs the other
 * task's work there) and then looks again; a wait of 0 ticks never blocks, as in FreeRTOS.
 */
#include <string.h>

#include "esp_idf_emu.h"
#include "freertos/queue.h"
#include "freertos/semphr.h"
#include "freertos/task.h"

/* queue.h xQueueCreateStatic(): NULL without storage for a non-zero item size, without the
 * StaticQueue_t, or for a zero length (configASSERT in FreeRTOS). */
QueueHandle_t xQueueCreateStatic(UBaseType_t length, UBaseType_t item_size, uint8_t *storage,
                                 StaticQueue_t *queue)
{
    if (queue == NULL || length == 0u || (item_size > 0u && storage == NULL)) return NULL;
    memset(queue, 0, sizeof(*queue));
    queue->storage = storage;
    queue->length = length;
    queue->item_size = item_size;
    return queue;
}

/* queue.h xQueueSend(): copies the item to the back; full after the wait: errQUEUE_FULL. */
BaseType_t xQueueSend(QueueHandle_t q, const void *item, TickType_t wait)
{
    if (q == NULL || q->is_semaphore) return pdFALSE;
    if (q->count == q->length && wait > 0u) esp_emu__block(ESP_EMU_BLOCK_WAIT);
    if (q->count == q->length) return errQUEUE_FULL;
    memcpy(q->storage + ((q->head + q->count) % q->length) * q->item_size, item, q->item_size);
    q->count++;
    return pdTRUE;
}

/* queue.h xQueueReceive(): copies the oldest item out and removes it; empty after the wait:
 * pdFALSE. */
BaseType_t xQueueReceive(QueueHandle_t q, void *item, TickType_t wait)
{
    if (q == NULL || q->is_semaphore) return pdFALSE;
    if (q->count == 0u && wait > 0u) esp_emu__block(ESP_EMU_BLOCK_WAIT);
    if (q->count == 0u) return pdFALSE;
    memcpy(item, q->storage + q->head * q->item_size, q->item_size);
    q->head = (q->head + 1u) % q->length;
    q->count--;
    return pdTRUE;
}

UBaseType_t uxQueueMessagesWaiting(QueueHandle_t q) { return q != NULL ? q->count : 0u; }

/* semphr.h xSemaphoreCreateBinaryStatic(): "The semaphore is created in the 'empty' state,
 * meaning the semaphore must first be given". NULL without a buffer. */
SemaphoreHandle_t xSemaphoreCreateBinaryStatic(StaticSemaphore_t *buffer)
{
    if (buffer == NULL) return NULL;
    memset(buffer, 0, sizeof(*buffer));
    buffer->length = 1u;
    buffer->is_semaphore = 1;
    return buffer;
}

/* semphr.h xSemaphoreGive(): pdFALSE if the semaphore was already available (a binary
 * semaphore is a queue of length one). */
BaseType_t xSemaphoreGive(SemaphoreHandle_t s)
{
    if (s == NULL || !s->is_semaphore || s->count == 1u) return pdFALSE;
    s->count = 1u;
    return pdTRUE;
}

/* semphr.h xSemaphoreTake(): pdTRUE once obtained, pdFALSE if the wait expired. */
BaseType_t xSemaphoreTake(SemaphoreHandle_t s, TickType_t wait)
{
    if (s == NULL || !s->is_semaphore) return pdFALSE;
    if (s->count == 0u && wait > 0u) esp_emu__block(ESP_EMU_BLOCK_WAIT);
    if (s->count == 0u) return pdFALSE;
    s->count = 0u;
    return pdTRUE;
}

/* task.h xTaskCreateStatic(): NULL when the stack or the TCB buffer is NULL. The task is
 * recorded, not run (see the file comment). */
TaskHandle_t xTaskCreateStatic(void (*fn)(void *), const char *name, uint32_t stack_depth,
                               void *arg, UBaseType_t priority, StackType_t *stack,
                               StaticTask_t *tcb)
{
    (void)stack_depth;
    (void)priority;
    if (fn == NULL || stack == NULL || tcb == NULL) return NULL;
    tcb->fn = fn;
    tcb->arg = arg;
    tcb->name = name;
    return tcb;
}

/* task.h vTaskDelay(): the calling task lets the others run for `ticks` ticks. */
void vTaskDelay(TickType_t ticks)
{
    if (ticks > 0u) esp_emu__block(ESP_EMU_BLOCK_DELAY);
}
