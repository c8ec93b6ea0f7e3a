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
#include <stdbool.h>
#include <stdint.h>

#include "esp_system.h"
#include "mqtt_client.h"
#include "mqota_posix/boot.h"
#include "mqota_posix/vdev.h"

#ifdef __cplusplus
extern "C" {
#endif

/** One emulated chip's state: what the calls below act on once selected. */
typedef struct esp_emu esp_emu_t;

/** Why a task of the port blocks (FreeRTOS emulation, freertos_emu.c). */
typedef enum {
    ESP_EMU_BLOCK_WAIT = 1, /**< waits for another task: xSemaphoreTake() found the semaphore
                                 taken, xQueueReceive() an empty queue, xQueueSend() a full one */
    ESP_EMU_BLOCK_DELAY = 2 /**< vTaskDelay() */
} esp_emu_block_t;

/**
 * @brief What runs while a task blocks. The emulation has one thread: a task that would
 *        wait for another (the MQTT task for the agent's task to give the receive buffer back,
 *        the agent's task for esp-mqtt to send its outbox) calls this instead, once, and then
 *        looks again. The harness runs the other task's work in it.
 */
typedef void (*esp_emu_block_fn)(void *ctx, esp_emu_block_t what);

/**
 * @brief A new chip, not yet attached, for a harness that runs several (the fleet); a test
 *        with one device uses the default chip and never calls this.
 * @return The chip (free it with esp_emu_free()), or NULL when out of memory.
 */
esp_emu_t *esp_emu_new(void);

/** @brief Free a chip from esp_emu_new(); the default chip is selected if it was. */
void esp_emu_free(esp_emu_t *e);

/**
 * @brief Select the chip every emulated call acts on from now on (NULL: the default chip).
 *        The harness selects a device's chip before it runs any of that device's code.
 * @param[in] e From esp_emu_new(), or NULL.
 */
void esp_emu_select(esp_emu_t *e);

/**
 * @brief Set the selected chip's block hook (see esp_emu_block_fn); NULL: blocking returns at
 *        once (what a test with one task wants). Kept across resets.
 * @param[in] fn  Called from xSemaphoreTake() / vTaskDelay() with ctx.
 * @param[in] ctx The harness's, kept.
 */
void esp_emu_set_block_hook(esp_emu_block_fn fn, void *ctx);

/**
 * @brief Fault: esp_ota_write_with_offset() stores the byte at this offset of the update
 *        partition with one bit flipped (a flash bit error after the chunk's CRC passed).
 *        Kept across resets.
 * @param[in] image_offset Offset in the partition, bytes; -1: off (the default).
 */
void esp_emu_set_flip_offset(long image_offset);

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

/** @brief esp_timer_get_time() follows the host's monotonic clock from now (the boot) on. */
void esp_emu_use_host_clock(void);

/**
 * @brief Where esp_restart() goes: longjmp(*jb, 1). NULL: esp_restart() aborts the test
 *        process, as an unexpected restart should.
 * @param[in] jb The harness's, set with setjmp() in a frame that outlives every call into the
 *               port until it is replaced.
 * @return The restart point set before (to put back when the harness's frame returns).
 */
jmp_buf *esp_emu_set_restart_jump(jmp_buf *jb);

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

/**
 * @brief Prefix of the selected chip's ESP_LOGx lines on stderr (the device's id); kept
 *        across resets.
 * @param[in] prefix Copied (at most 63 bytes); NULL or "": none.
 */
void esp_emu_set_log_prefix(const char *prefix);

/* ---- esp-mqtt over libmosquitto (mqtt_emu.c) --------------------------------------------
 * esp_mqtt_client_init() creates a libmosquitto client with the configured client id, last
 * will, credentials and protocol version. esp-mqtt's own task (connecting, reconnecting,
 * keepalive, socket I/O) is the harness's loop: it connects the client's mosquitto handle
 * once esp_mqtt_client_start() has run, and drives its socket; the emulation turns
 * libmosquitto's callbacks into esp-mqtt events for the registered handler. */

struct mosquitto;
struct mosquitto_message;

/** What the harness learns from a client's libmosquitto callbacks, before the handler. */
typedef struct {
    /** CONNACK with libmosquitto's rc; return false to swallow it (no event: the harness
     *  resets the device before the application hears of the link). May be NULL. */
    bool (*connected)(void *ctx, int rc);
    /** The link is gone (rc 0: asked for); before MQTT_EVENT_DISCONNECTED. May be NULL. */
    void (*disconnected)(void *ctx, int rc);
    /** A message arrived; return false to drop it (a device that is restarting). May be NULL. */
    bool (*message)(void *ctx, const struct mosquitto_message *msg);
} esp_emu_mqtt_observer_t;

/**
 * @brief Watch a client's link and messages (see esp_emu_mqtt_observer_t).
 * @param[in] client From esp_mqtt_client_init().
 * @param[in] obs    Kept; NULL stops watching.
 * @param[in] ctx    Passed to obs's functions.
 */
void esp_emu_mqtt_observe(esp_mqtt_client_handle_t client, const esp_emu_mqtt_observer_t *obs,
                          void *ctx);

/** @brief The client's libmosquitto handle, for the harness to connect and drive; NULL for
 *         a NULL client. */
struct mosquitto *esp_emu_mqtt_mosquitto(esp_mqtt_client_handle_t client);

/** @brief Whether esp_mqtt_client_start() has run (and no esp_mqtt_client_stop() since). */
bool esp_emu_mqtt_started(esp_mqtt_client_handle_t client);

/** @brief The client's out buffer in bytes, as esp_mqtt_client_init() took it (buffer.out_size,
 *         else buffer.size); 0 for a NULL client. */
int esp_emu_mqtt_out_size(esp_mqtt_client_handle_t client);

/** @brief Whether esp-mqtt could build the client's CONNECT in that buffer; a client whose
 *         CONNECT does not fit never connects (mqtt_emu.c). */
bool esp_emu_mqtt_connect_fits(esp_mqtt_client_handle_t client);

/**
 * @brief Power loss: free the client without a DISCONNECT (the broker sends the last will once
 *        it sees the socket close) and without events. The handle is gone afterwards.
 * @param[in] client From esp_mqtt_client_init(), or NULL.
 */
void esp_emu_mqtt_power_off(esp_mqtt_client_handle_t client);

/* Not for harnesses: the FreeRTOS emulation's way to reach the block hook. */
void esp_emu__block(esp_emu_block_t what);

#ifdef __cplusplus
}
#endif

#endif /* MQOTA_EMU_ESP_IDF_EMU_H */
