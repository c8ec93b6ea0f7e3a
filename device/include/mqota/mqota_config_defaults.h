/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file mqota_config_defaults.h
 * @brief Compile-time tunables of the device agent, and where an application sets them.
 *
 * MQOTA_MAX_CHUNKS, MQOTA_VERIFY_STEP, MQOTA_TOPIC_MAX and MQOTA_DEVICE_ID_MAX size
 * mqota_agent_t, so libmqota and the application must be compiled with the same values. They
 * are set in ONE configuration header that both see, as coreMQTT's core_mqtt_config.h:
 *
 *  - the build defines MQOTA_CONFIG_FILE to the header's name (CMake: -DMQOTA_CONFIG_FILE=path,
 *    which mqota_core passes on to everything that links it), or
 *  - the build provides "mqota_config.h" on the include path (included when neither
 *    MQOTA_CONFIG_FILE nor MQOTA_DO_NOT_USE_CUSTOM_CONFIG is defined), or
 *  - the build defines MQOTA_DO_NOT_USE_CUSTOM_CONFIG to take every default below.
 *
 * Defining one of the four size tunables before including mqota.h, or with -D, is a build
 * error (it would change the application's idea of mqota_agent_t and not the library's). As a
 * last guard, mqota_agent_init() compares the application's sizes with the library's and
 * refuses a mismatch with MQOTA_ERR_CONFIG before it writes to the agent.
 *
 * The other tunables (timeouts, MQOTA_LOG) do not change the struct and may be set either way.
 */
#ifndef MQOTA_CONFIG_DEFAULTS_H
#define MQOTA_CONFIG_DEFAULTS_H

#if defined(MQOTA_MAX_CHUNKS) || defined(MQOTA_VERIFY_STEP) || defined(MQOTA_TOPIC_MAX) || \
    defined(MQOTA_DEVICE_ID_MAX)
#error "MQOTA_MAX_CHUNKS, MQOTA_VERIFY_STEP, MQOTA_TOPIC_MAX and MQOTA_DEVICE_ID_MAX size mqota_agent_t: set them in the configuration header (MQOTA_CONFIG_FILE or mqota_config.h) that libmqota is built with, not before including mqota.h or with -D"
#endif

#if defined(MQOTA_CONFIG_FILE)
#include MQOTA_CONFIG_FILE
#elif !defined(MQOTA_DO_NOT_USE_CUSTOM_CONFIG)
#include "mqota_config.h"
#endif

/**
 * @brief Most chunks one image may have; sizes the agent's received-chunk bitmap
 *        (MQOTA_MAX_CHUNKS / 8 bytes of RAM).
 * Possible values: a multiple of 64. Default value: 4096 (a 4 MiB image in 1 KiB chunks).
 */
#ifndef MQOTA_MAX_CHUNKS
#define MQOTA_MAX_CHUNKS 4096u
#endif

/**
 * @brief Largest device id, in bytes, without the NUL.
 * Possible values: 1..64. Default value: 48.
 */
#ifndef MQOTA_DEVICE_ID_MAX
#define MQOTA_DEVICE_ID_MAX 48u
#endif

/**
 * @brief Longest topic the agent builds, in bytes with the NUL.
 * Default value: 128.
 */
#ifndef MQOTA_TOPIC_MAX
#define MQOTA_TOPIC_MAX 128u
#endif

/**
 * @brief Bytes read back from flash per process() call while verifying.
 * Possible values: 256..65536. Default value: 4096.
 */
#ifndef MQOTA_VERIFY_STEP
#define MQOTA_VERIFY_STEP 4096u
#endif

/**
 * @brief Milliseconds without a chunk, while downloading, before the agent repeats its ACK
 *        (which asks the server for what is missing). Default value: 2000.
 */
#ifndef MQOTA_ACK_RETRY_MS
#define MQOTA_ACK_RETRY_MS 2000u
#endif

/**
 * @brief On a multicast stream the agent acknowledges at most every this many new chunks ...
 * Default value: 8.
 */
#ifndef MQOTA_STREAM_ACK_CHUNKS
#define MQOTA_STREAM_ACK_CHUNKS 8u
#endif

/**
 * @brief ... or after this many milliseconds with something new. Default value: 200.
 */
#ifndef MQOTA_STREAM_ACK_MS
#define MQOTA_STREAM_ACK_MS 200u
#endif

/**
 * @brief Milliseconds a freshly booted image may stay in pending-verify without reaching the
 *        broker before it is marked invalid and rolled back. 0 disables. Default value: 60000.
 */
#ifndef MQOTA_CONFIRM_TIMEOUT_MS
#define MQOTA_CONFIRM_TIMEOUT_MS 60000u
#endif

/**
 * @brief Most samples one mqota_agent_publish_telemetry() call sends; bounds its stack buffer
 *        (MQOTA_TELEMETRY_LEN(n) bytes: 13 + 24 per sample).
 * Possible values: 1..16 (MQOTA_TELEMETRY_SAMPLES, the wire's limit). Default value: 8.
 */
#ifndef MQOTA_TELEMETRY_SAMPLES_MAX
#define MQOTA_TELEMETRY_SAMPLES_MAX 8u
#endif

/**
 * @brief Seconds between two HEALTH reports while connected (docs/PROTOCOL.md §16), when
 *        mqota_config_t.health_interval_s is 0. One is also sent after every connect.
 * Possible values: 1..UINT32_MAX / 1000. Default value: 300.
 */
#ifndef MQOTA_HEALTH_INTERVAL_S
#define MQOTA_HEALTH_INTERVAL_S 300u
#endif

/**
 * @brief 1: the record decoders also read the raw-struct records that agents before the record
 *        codec wrote (docs/PROTOCOL.md §12.1), and the agent rewrites them in the current form;
 *        0: such a record is refused (MQOTA_ERR_MALFORMED) and treated as absent. Only the POSIX
 *        port (the virtual ESP32) ever ran those agents, so a port that came later (ESP-IDF,
 *        Arduino) has no such records to read.
 * Possible values: 0 or 1. Default value: 1.
 */
#ifndef MQOTA_CFG_LEGACY_RECORDS
#define MQOTA_CFG_LEGACY_RECORDS 1
#endif

/**
 * @brief 1: mqota_strerror() has a sentence for each status code (about 500 bytes of flash);
 *        0: it returns one fixed text for every code, for a build that logs the numbers (as
 *        coreMQTT leaves its texts to the log it compiles in). The state and reason names are
 *        always there: they are part of the protocol (STATE, diagnostics).
 * Possible values: 0 or 1. Default value: 1.
 */
#ifndef MQOTA_CFG_STATUS_TEXT
#define MQOTA_CFG_STATUS_TEXT 1
#endif

/**
 * @brief 1: the agent decodes compressed and delta transfers (docs/PROTOCOL.md §6.1, §18)
 *        through the platform's inflate hook, and announces them in its STATE when the hook
 *        is there; 0: the decode stage and the delta applier (mqota_decode.c, mqota_delta.c)
 *        are left out and the inflate hook is ignored: the device announces neither, refuses
 *        an offer with an encoding (reason bad-encoding) before anything is erased, and takes
 *        the server's fallback to the full image, as a device without the hook does. A port
 *        that installs no inflate hook gains nothing from 1 (the ESP-IDF component sets 0
 *        unless CONFIG_MQOTA_INFLATE_WINDOW_BITS is set). The mqota_delta_*() functions exist
 *        only with 1.
 * Possible values: 0 or 1. Default value: 1.
 */
#ifndef MQOTA_CFG_DECODE
#define MQOTA_CFG_DECODE 1
#endif

/**
 * @brief Log hook: define MQOTA_LOG(level, ...) to a printf-like function to see the agent's
 *        log. Compiles away by default.
 */
#ifndef MQOTA_LOG
#define MQOTA_LOG(level, ...) ((void)0)
#endif

#endif /* MQOTA_CONFIG_DEFAULTS_H */
