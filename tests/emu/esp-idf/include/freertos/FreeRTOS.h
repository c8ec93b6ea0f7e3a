/* SPDX-License-Identifier: Apache-2.0 */
/* Host emulation of ESP-IDF (tests/emu/esp-idf/README.md): the FreeRTOS types and macros the
 * ESP-IDF port uses (components/freertos/FreeRTOS-Kernel/include/freertos/FreeRTOS.h,
 * projdefs.h, portmacro.h). Written from the documented API; the objects are ours
 * (freertos_emu.c), sized to hold the emulation's state inside the caller's static storage
 * as the xxxCreateStatic() functions require. */
#ifndef MQOTA_EMU_FREERTOS_H
#define MQOTA_EMU_FREERTOS_H

#include <stddef.h>
#include <stdint.h>

#include "sdkconfig.h"

typedef uint32_t TickType_t;
typedef int BaseType_t;
typedef unsigned int UBaseType_t;
typedef uint8_t StackType_t; /* ESP-IDF: stack depth is given in bytes (portSTACK_TYPE) */

#define pdTRUE 1
#define pdFALSE 0
#define pdPASS pdTRUE
#define portMAX_DELAY ((TickType_t)0xffffffffu)
#ifndef configTICK_RATE_HZ
#define configTICK_RATE_HZ 100 /* ESP-IDF's default CONFIG_FREERTOS_HZ */
#endif
/* projdefs.h: milliseconds to ticks, rounded down */
#define pdMS_TO_TICKS(ms) ((TickType_t)(((uint64_t)(ms) * configTICK_RATE_HZ) / 1000u))

/* Static storage of the objects (FreeRTOS.h StaticQueue_t and friends): opaque to users. */
typedef struct {
    uint8_t *storage; /* item storage given to xQueueCreateStatic() */
    UBaseType_t length, item_size, head, count;
    int is_semaphore; /* binary semaphore: count is 0 or 1, no items */
} StaticQueue_t;
typedef StaticQueue_t StaticSemaphore_t;
typedef struct {
    void (*fn)(void *);
    void *arg;
    const char *name;
} StaticTask_t;

#endif /* MQOTA_EMU_FREERTOS_H */
