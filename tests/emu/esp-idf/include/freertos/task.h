/* SPDX-License-Identifier: Apache-2.0 */
/* Host emulation of ESP-IDF (tests/emu/esp-idf/README.md): FreeRTOS tasks
 * (FreeRTOS-Kernel/include/freertos/task.h), only what the ESP-IDF port calls. */
#ifndef MQOTA_EMU_FREERTOS_TASK_H
#define MQOTA_EMU_FREERTOS_TASK_H

#include "freertos/FreeRTOS.h"

typedef StaticTask_t *TaskHandle_t;

/* task.h xTaskCreateStatic(): a task running fn(arg) on `stack` (stack_depth bytes on
 * ESP-IDF); the handle, or NULL for a NULL stack or TCB. The emulation never runs the task's
 * function: the harness runs the task's work turn by turn (README.md, "Tasks"). */
TaskHandle_t xTaskCreateStatic(void (*fn)(void *), const char *name, uint32_t stack_depth,
                               void *arg, UBaseType_t priority, StackType_t *stack,
                               StaticTask_t *tcb);
/* task.h vTaskDelay(): block the calling task for `ticks` ticks. */
void vTaskDelay(TickType_t ticks);

#endif /* MQOTA_EMU_FREERTOS_TASK_H */
