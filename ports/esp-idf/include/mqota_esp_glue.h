/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file mqota_esp_glue.h
 * @brief The platform hooks every ESP32 port shares: flash slots on esp_ota_ops, records in
 *        NVS, esp_timer, esp_restart(), esp_reset_reason() in diagnostics, the self-test.
 *
 * The ESP-IDF component (mqota_esp.c) and the Arduino library (ports/arduino) both build this
 * file; each adds its own transport and crypto hooks. The hooks' ctx is the port's struct,
 * whose FIRST member is a mqota_esp_glue_t, so that one pointer serves both.
 * It compiles against ESP-IDF 4.4 (Arduino-ESP32 2.x) and 5.x/6.x: before ESP-IDF 5.5 it takes
 * the fallbacks without esp_ota_resume() (docs/ESP-IDF.md).
 */
#ifndef MQOTA_ESP_GLUE_H
#define MQOTA_ESP_GLUE_H

#include <stdbool.h>
#include <stdint.h>

#include "esp_ota_ops.h"
/* The core's header: on the include path in the component's build (its INCLUDE_DIRS) and
 * beside this one in the assembled Arduino library; else by its place in the repository
 * (the component is built from the tree: CMakeLists.txt takes the core from
 * ../../device), so the port compiles with only its own include directory on the path. */
#if __has_include("mqota/mqota.h")
#include "mqota/mqota.h"
#else
#include "../../../device/include/mqota/mqota.h"
#endif
#include "nvs.h"

#ifdef __cplusplus
extern "C" {
#endif

/** NVS key (in the port's namespace) of the release public key: 65 bytes, SEC1
 *  uncompressed P-256 (0x04 || X || Y). Read when the application passes no key. */
#define MQOTA_ESP_NVS_RELEASE_KEY "mq.relkey"
/** NVS key of the 32-byte AES-256-GCM command key. Read when the application passes none. */
#define MQOTA_ESP_NVS_COMMAND_KEY "mq.cmdkey"
/** NVS key of the boot counter (mqota_esp_glue_count_boot()): 4 bytes, little-endian. */
#define MQOTA_ESP_NVS_BOOTS "mq.boots"

/** The shared hooks' state; the first member of a port's struct. Do not touch its fields. */
typedef struct {
    nvs_handle_t nvs;               /**< Opened by the port before mqota_agent_init() */
    const esp_partition_t *update;  /**< esp_ota_get_next_update_partition() */
    esp_ota_handle_t ota;           /**< Open OTA handle, if ota_open */
    bool ota_open;                  /**< ota is open */
    bool direct;                    /**< Older ESP-IDF: resumed writes go to esp_partition_* */
    bool rollback_due;              /**< slot_mark_invalid(): roll back at the reboot */
    bool reboot_due;                /**< The agent asked for a restart; the port restarts */
    uint32_t rx_dropped;            /**< Messages the port's transport dropped (diagnostics) */
    bool (*self_test)(void *ctx);   /**< The application's self-test; NULL: always healthy */
    void *self_test_ctx;            /**< Passed to self_test */
    /** The application's own diagnostics lines ("key=value\n"), written after the port's into
     *  buf (cap bytes); returns the bytes written. NULL: none. */
    size_t (*diagnostics)(void *ctx, char *buf, size_t cap);
    void *diagnostics_ctx;          /**< Passed to diagnostics */
    /** The link's signal strength for HEALTH: 0 and *dbm set, or -1 when unknown. NULL: none
     *  (HEALTH's rssi 0, unknown). */
    int (*rssi)(void *ctx, int8_t *dbm);
    void *rssi_ctx;                 /**< Passed to rssi */
    uint32_t boot_count;            /**< This boot's number (mqota_esp_glue_count_boot()) */
} mqota_esp_glue_t;

/**
 * @brief Fill in the shared hooks: running image, flash slots, NVS, clock, reboot,
 *        diagnostics and self-test; the caller adds ctx, transport and crypto.
 * @param[out] plat Hooks set; the others are left as they were. Every hook set here casts
 *                  plat->ctx to mqota_esp_glue_t *, so plat->ctx must point at a struct whose
 *                  first member is the mqota_esp_glue_t.
 */
void mqota_esp_glue_hooks(mqota_platform_t *plat);

/**
 * @brief Count this boot: ESP-IDF keeps no boot counter, so the port keeps one in NVS (key
 *        MQOTA_ESP_NVS_BOOTS, 4 bytes little-endian; NVS checks each entry with its own
 *        CRC-32) and reports it as the STATE's boot_count, which tells the server and the
 *        operator that a device restarted (or keeps restarting). Call once per boot, after
 *        nvs_open() and before mqota_agent_init(). A counter that cannot be read or written
 *        leaves boot_count 0 ("unknown", as the STATE format allows); nothing else depends on it.
 * @param[in,out] g The shared hooks' state, its nvs handle open.
 */
void mqota_esp_glue_count_boot(mqota_esp_glue_t *g);

/**
 * @brief Restart the chip for the agent: roll back first if slot_mark_invalid() left that to
 *        the restart (ESP-IDF before 5.5). Does not return.
 * @param[in,out] g The shared hooks' state.
 */
void mqota_esp_glue_restart(mqota_esp_glue_t *g);

#ifdef __cplusplus
}
#endif

#endif /* MQOTA_ESP_GLUE_H */
