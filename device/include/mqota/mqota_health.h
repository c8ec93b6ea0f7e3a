/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file mqota_health.h
 * @brief HEALTH (type 8, docs/PROTOCOL.md §16): the device's own health, reported by the agent
 *        after every connect and periodically: why it last reset, a short last-crash record,
 *        uptime, boot count, minimum free heap, RSSI and MQTT reconnects. Pure codec: bytes in,
 *        struct out, no I/O, no heap.
 *
 * Topic: <prefix>/dev/<id>/health, device -> server, QoS 1, retained. mqotad keeps the latest
 * report and a history of resets, and a rollout may count a crash-looping device as a failure
 * of the release it confirmed (docs/ROLLOUTS.md "Health gate").
 */
#ifndef MQOTA_HEALTH_H
#define MQOTA_HEALTH_H

#include <stddef.h>
#include <stdint.h>

#include "mqota_status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MQOTA_MSG_HEALTH 8u        /**< Header type byte of a HEALTH (device -> server) */
#define MQOTA_HEALTH_CRASH_MAX 48u /**< Longest last-crash text, bytes (no NUL) */
#define MQOTA_HEALTH_FIXED_LEN 24u /**< Bytes before the crash text */
/** Longest HEALTH message (bytes). */
#define MQOTA_HEALTH_MAX_LEN (MQOTA_HEALTH_FIXED_LEN + MQOTA_HEALTH_CRASH_MAX)

/**
 * Why the device last reset: ESP-IDF's esp_reset_reason_t set as our own numbers (the wire's,
 * never renumbered). The ESP-IDF port maps each ESP_RST_* to the value named beside it
 * (ports/esp-idf); the numbers happen to be equal today, but the port maps them by name.
 */
typedef enum {
    MQOTA_RESET_UNKNOWN = 0,      /**< ESP_RST_UNKNOWN: cannot be determined */
    MQOTA_RESET_POWER_ON = 1,     /**< ESP_RST_POWERON: power-on (or power cut) */
    MQOTA_RESET_EXTERNAL = 2,     /**< ESP_RST_EXT: external pin */
    MQOTA_RESET_SOFTWARE = 3,     /**< ESP_RST_SW: esp_restart() */
    MQOTA_RESET_PANIC = 4,        /**< ESP_RST_PANIC: exception or panic */
    MQOTA_RESET_INT_WDT = 5,      /**< ESP_RST_INT_WDT: interrupt watchdog */
    MQOTA_RESET_TASK_WDT = 6,     /**< ESP_RST_TASK_WDT: task watchdog */
    MQOTA_RESET_WDT = 7,          /**< ESP_RST_WDT: other watchdogs */
    MQOTA_RESET_DEEP_SLEEP = 8,   /**< ESP_RST_DEEPSLEEP: woke from deep sleep */
    MQOTA_RESET_BROWNOUT = 9,     /**< ESP_RST_BROWNOUT: brownout */
    MQOTA_RESET_SDIO = 10,        /**< ESP_RST_SDIO: over SDIO */
    MQOTA_RESET_USB = 11,         /**< ESP_RST_USB: by the USB peripheral */
    MQOTA_RESET_JTAG = 12,        /**< ESP_RST_JTAG: by JTAG */
    MQOTA_RESET_EFUSE = 13,       /**< ESP_RST_EFUSE: an eFuse error */
    MQOTA_RESET_POWER_GLITCH = 14,/**< ESP_RST_PWR_GLITCH: a power glitch was detected */
    MQOTA_RESET_CPU_LOCKUP = 15   /**< ESP_RST_CPU_LOCKUP: the CPU locked up (double exception) */
} mqota_reset_reason_t;

/** Highest mqota_reset_reason_t value a HEALTH may carry. */
#define MQOTA_RESET_MAX MQOTA_RESET_CPU_LOCKUP

/** @brief A HEALTH message. */
typedef struct {
    uint8_t reset_reason;   /**< mqota_reset_reason_t of the last reset */
    int8_t rssi;            /**< Wi-Fi RSSI in dBm; 0 when unknown (no Wi-Fi, not associated) */
    uint32_t uptime_s;      /**< Seconds since this boot */
    uint32_t boot_count;    /**< Boots since the flash was created; 0 if unknown */
    uint32_t min_free_heap; /**< Lowest free heap since boot, bytes; 0 if unknown */
    uint32_t reconnects;    /**< MQTT connections since boot, after the first */
    char crash[MQOTA_HEALTH_CRASH_MAX + 1]; /**< Last crash, printable ASCII, NUL-terminated;
                                                 "" when the port has none */
} mqota_health_t;

/**
 * @brief A reset reason's name, as docs/PROTOCOL.md §16 and the API spell it ("panic",
 *        "task-wdt", ...).
 * @param[in] reason An mqota_reset_reason_t value.
 * @return A static string; "unknown" for a value above MQOTA_RESET_MAX.
 * @note Server side: defined in common/mqota_health_host.c (CMake target mqota_codec_host),
 *       not in libmqota: a device never calls it.
 */
const char *mqota_reset_reason_name(uint8_t reason);

/**
 * @brief Whether a reset reason is a crash: a panic or a watchdog (interrupt, task, other).
 * @param[in] reason An mqota_reset_reason_t value.
 * @return 1 for MQOTA_RESET_PANIC, MQOTA_RESET_INT_WDT, MQOTA_RESET_TASK_WDT, MQOTA_RESET_WDT;
 *         0 otherwise.
 * @note Server side: defined in common/mqota_health_host.c (CMake target mqota_codec_host),
 *       not in libmqota: a device never calls it.
 */
int mqota_reset_is_crash(uint8_t reason);

/**
 * @brief Encode a HEALTH message.
 * @param[in]  h       The report; crash must be NUL-terminated within MQOTA_HEALTH_CRASH_MAX + 1
 *                     bytes, printable ASCII (0x20..0x7E).
 * @param[out] buf     Where the message goes; MQOTA_HEALTH_MAX_LEN bytes always suffice.
 * @param[in]  cap     Bytes available at buf.
 * @param[out] out_len Bytes written on MQOTA_OK.
 * @return MQOTA_OK, MQOTA_ERR_ARG (NULL pointer, a reset reason above MQOTA_RESET_MAX, crash
 *         text unterminated or not printable ASCII), MQOTA_ERR_NO_SPACE.
 */
mqota_status_t mqota_health_encode(const mqota_health_t *h, uint8_t *buf, size_t cap,
                                   size_t *out_len);

/**
 * @brief Decode a HEALTH message.
 * @param[in]  buf Message bytes.
 * @param[in]  len Bytes in buf.
 * @param[out] msg The report on MQOTA_OK (crash NUL-terminated).
 * @return MQOTA_OK, MQOTA_ERR_ARG, MQOTA_ERR_TRUNCATED (shorter than the fixed part or than its
 *         crash length says), MQOTA_ERR_MALFORMED (bad magic, a reset reason above
 *         MQOTA_RESET_MAX, a crash length above MQOTA_HEALTH_CRASH_MAX, a crash byte outside
 *         0x20..0x7E, trailing bytes), MQOTA_ERR_VERSION, MQOTA_ERR_TYPE. On error *msg is left
 *         unchanged.
 * @note Server side: defined in common/mqota_health_host.c (CMake target mqota_codec_host),
 *       not in libmqota: a device never calls it.
 */
mqota_status_t mqota_health_decode(const uint8_t *buf, size_t len, mqota_health_t *msg);

#ifdef __cplusplus
}
#endif

#endif /* MQOTA_HEALTH_H */
