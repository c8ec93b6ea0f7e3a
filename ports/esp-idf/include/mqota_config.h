/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file mqota_config.h
 * @brief libmqota's configuration header for ESP-IDF: the Kconfig menu of the component
 *        (ports/esp-idf/Kconfig) mapped onto the core's tunables.
 *
 * mqota_config_defaults.h includes this header (neither MQOTA_CONFIG_FILE nor
 * MQOTA_DO_NOT_USE_CUSTOM_CONFIG is defined in an ESP-IDF build), and the component's
 * include path makes the application see the same one, so the core and the application agree
 * on the size of mqota_agent_t. Change the values in menuconfig, not here.
 */
#ifndef MQOTA_CONFIG_H
#define MQOTA_CONFIG_H

#include "mqota_esp_kconfig.h" /* sdkconfig.h, and the Kconfig defaults where it lacks them */

/* Append the unsigned suffix the core's defaults carry; works in #if expressions too. */
#define MQOTA_ESP_U_(x) x##u
#define MQOTA_ESP_U(x) MQOTA_ESP_U_(x)

#define MQOTA_MAX_CHUNKS MQOTA_ESP_U(CONFIG_MQOTA_MAX_CHUNKS)
#define MQOTA_DEVICE_ID_MAX MQOTA_ESP_U(CONFIG_MQOTA_DEVICE_ID_MAX)
#define MQOTA_TOPIC_MAX MQOTA_ESP_U(CONFIG_MQOTA_TOPIC_MAX)
#define MQOTA_VERIFY_STEP MQOTA_ESP_U(CONFIG_MQOTA_VERIFY_STEP)
#define MQOTA_ACK_RETRY_MS MQOTA_ESP_U(CONFIG_MQOTA_ACK_RETRY_MS)
#define MQOTA_CONFIRM_TIMEOUT_MS MQOTA_ESP_U(CONFIG_MQOTA_CONFIRM_TIMEOUT_MS)
#define MQOTA_HEALTH_INTERVAL_S MQOTA_ESP_U(CONFIG_MQOTA_HEALTH_INTERVAL_S)
/* bool options: sdkconfig.h defines them only when they are on */
#ifdef CONFIG_MQOTA_LEGACY_RECORDS
#define MQOTA_CFG_LEGACY_RECORDS 1
#else
#define MQOTA_CFG_LEGACY_RECORDS 0
#endif
#ifdef CONFIG_MQOTA_STATUS_TEXT
#define MQOTA_CFG_STATUS_TEXT 1
#else
#define MQOTA_CFG_STATUS_TEXT 0
#endif
/* compressed and delta transfers: compiled in only with a decoder window (Kconfig's
 * MQOTA_INFLATE_WINDOW_BITS; 0, the default, installs no inflate hook) */
#if CONFIG_MQOTA_INFLATE_WINDOW_BITS > 0
#define MQOTA_CFG_DECODE 1
#else
#define MQOTA_CFG_DECODE 0
#endif

#if (CONFIG_MQOTA_MAX_CHUNKS % 64) != 0
#error "CONFIG_MQOTA_MAX_CHUNKS must be a multiple of 64 (the agent's chunk bitmap is kept in 64-bit words)"
#endif

#endif /* MQOTA_CONFIG_H */
