/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file mqota_esp_kconfig.h
 * @brief The component's Kconfig options (ports/esp-idf/Kconfig) for a compile whose
 *        sdkconfig.h was generated without this component.
 *
 * In an ESP-IDF build that has the component, sdkconfig.h defines every CONFIG_MQOTA_* and
 * nothing here takes effect. A compile of the port against an sdkconfig.h that never saw this
 * Kconfig (a compile check against a prepared SDK, an IDE indexing the file) gets the Kconfig
 * defaults instead of a wall of undeclared identifiers. Each value below is its option's
 * "default" in ports/esp-idf/Kconfig; sdk.esp_idf_compile fails when the two disagree.
 */
#ifndef MQOTA_ESP_KCONFIG_H
#define MQOTA_ESP_KCONFIG_H

#include "sdkconfig.h"

#ifndef CONFIG_MQOTA_MAX_CHUNKS
#define CONFIG_MQOTA_MAX_CHUNKS 2048
#endif
#ifndef CONFIG_MQOTA_DEVICE_ID_MAX
#define CONFIG_MQOTA_DEVICE_ID_MAX 48
#endif
#ifndef CONFIG_MQOTA_TOPIC_MAX
#define CONFIG_MQOTA_TOPIC_MAX 104
#endif
#ifndef CONFIG_MQOTA_VERIFY_STEP
#define CONFIG_MQOTA_VERIFY_STEP 1024
#endif
#ifndef CONFIG_MQOTA_ACK_RETRY_MS
#define CONFIG_MQOTA_ACK_RETRY_MS 2000
#endif
#ifndef CONFIG_MQOTA_CONFIRM_TIMEOUT_MS
#define CONFIG_MQOTA_CONFIRM_TIMEOUT_MS 60000
#endif
#ifndef CONFIG_MQOTA_HEALTH_INTERVAL_S
#define CONFIG_MQOTA_HEALTH_INTERVAL_S 300
#endif
#ifndef CONFIG_MQOTA_RX_BUFFER_SIZE
#define CONFIG_MQOTA_RX_BUFFER_SIZE 4116
#endif
#ifndef CONFIG_MQOTA_MQTT_BUFFER_SIZE
#define CONFIG_MQOTA_MQTT_BUFFER_SIZE 512
#endif
#ifndef CONFIG_MQOTA_RX_WAIT_MS
#define CONFIG_MQOTA_RX_WAIT_MS 100
#endif
#ifndef CONFIG_MQOTA_TASK_STACK
#define CONFIG_MQOTA_TASK_STACK 3280
#endif
#ifndef CONFIG_MQOTA_TASK_PRIORITY
#define CONFIG_MQOTA_TASK_PRIORITY 5
#endif
#ifndef CONFIG_MQOTA_PROCESS_MS
#define CONFIG_MQOTA_PROCESS_MS 50
#endif
#ifndef CONFIG_MQOTA_REBOOT_FLUSH_MS
#define CONFIG_MQOTA_REBOOT_FLUSH_MS 2000
#endif
#ifndef CONFIG_MQOTA_INFLATE_WINDOW_BITS
#define CONFIG_MQOTA_INFLATE_WINDOW_BITS 0
#endif
#ifndef CONFIG_MQOTA_NVS_NAMESPACE
#define CONFIG_MQOTA_NVS_NAMESPACE "mqota"
#endif

#endif /* MQOTA_ESP_KCONFIG_H */
