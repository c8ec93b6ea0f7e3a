/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file mqota_config_defaults.h
 * @brief Compile-time tunables of the device agent. Define any of them before including
 *        mqota.h (or with -D) to override.
 */
#ifndef MQOTA_CONFIG_DEFAULTS_H
#define MQOTA_CONFIG_DEFAULTS_H

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
 * @brief Log hook: define MQOTA_LOG(level, ...) to a printf-like function to see the agent's
 *        log. Compiles away by default.
 */
#ifndef MQOTA_LOG
#define MQOTA_LOG(level, ...) ((void)0)
#endif

#endif /* MQOTA_CONFIG_DEFAULTS_H */
