/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file esp_idf_emu.h
 * @brief Control of the host emulation of ESP-IDF (tests/emu/esp-idf/README.md): which virtual
 *        ESP32 the emulated esp_ota_*, esp_partition_*, nvs_*, esp_timer, esp_restart and
 *        esp_reset_reason act on. Test code only; the port never includes this.
 */
#ifndef MQOTA_EMU_ESP_IDF_EMU_H
#define MQOTA_EMU_ESP_IDF_EMU_H

#include <setjmp.h>
#include <stdint.h>

#include "esp_system.h"
#include "mqota_posix/boot.h"
#include "mqota_posix/vdev.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @brief Make `dev`, just booted by vdev_boot() into `boot`, the chip the emulated ESP-IDF
 *        runs on: its partition table, flash, NVS and running slot. Open OTA handles of an
 *        earlier attach are dropped (RAM does not survive a reset).
 * @param[in] dev    The virtual ESP32, open and booted; it stays the caller's.
 * @param[in] boot   What its bootloader did (copied).
 * @param[in] reason What esp_reset_reason() reports until the next attach.
 * @return 0, or -1 if the partition table has more entries than the emulation keeps.
 */
int esp_emu_attach(vdev_t *dev, const boot_result_t *boot, esp_reset_reason_t reason);

/** @brief Forget the device (call before vdev_close()); every emulated call then fails. */
void esp_emu_detach(void);

/** @brief What esp_timer_get_time() returns from now on, in microseconds since boot. */
void esp_emu_set_time_us(int64_t us);

/**
 * @brief Where esp_restart() goes: longjmp(*jb, 1). NULL: esp_restart() aborts the test
 *        process, as an unexpected restart should.
 */
void esp_emu_set_restart_jump(jmp_buf *jb);

/** @brief esp_restart() calls since the process started. */
unsigned esp_emu_restarts(void);

/**
 * @brief Sectors erased in OTA slot `slot` (ota_0 = 0) through esp_partition_erase_range(),
 *        esp_ota_begin() and esp_ota_resume() since esp_emu_reset_counts(), across resets.
 * @param[in] slot OTA slot number; needs a device attached.
 * @return The count (0 for a slot the table lacks).
 */
uint64_t esp_emu_erased_sectors(uint8_t slot);

/** @brief Zero the erase counts of esp_emu_erased_sectors(). */
void esp_emu_reset_counts(void);

#ifdef __cplusplus
}
#endif

#endif /* MQOTA_EMU_ESP_IDF_EMU_H */
