/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file mqota_telemetry.h
 * @brief TELEMETRY (type 7, docs/PROTOCOL.md §15): a few named numeric values from the
 *        device's application. Pure codec: bytes in, struct out, no I/O, no heap.
 *
 * Topic: <prefix>/dev/<id>/telemetry, device -> server, QoS 0, not retained. The layout is
 * simple enough for a MicroPython agent to build with struct.pack('<d', value).
 */
#ifndef MQOTA_TELEMETRY_H
#define MQOTA_TELEMETRY_H

#include <stddef.h>
#include <stdint.h>

#include "mqota_status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MQOTA_MSG_TELEMETRY 7u        /**< Header type byte of a TELEMETRY (device -> server) */
#define MQOTA_TELEMETRY_NAME_MAX 15u  /**< Longest sample name, bytes (no NUL) */
#define MQOTA_TELEMETRY_SAMPLES 16u   /**< Most samples one message may carry (the wire's limit) */
#define MQOTA_TELEMETRY_FIXED_LEN 13u /**< Header, timestamp and count: bytes before the samples */
/** Bytes of one sample at its longest: name length, name, float64 value. */
#define MQOTA_TELEMETRY_SAMPLE_MAX_LEN (1u + MQOTA_TELEMETRY_NAME_MAX + 8u)
/** Longest TELEMETRY message (bytes) carrying n samples. */
#define MQOTA_TELEMETRY_LEN(n) (MQOTA_TELEMETRY_FIXED_LEN + (n) * MQOTA_TELEMETRY_SAMPLE_MAX_LEN)
/** Longest TELEMETRY message of all (bytes). */
#define MQOTA_TELEMETRY_MAX_LEN MQOTA_TELEMETRY_LEN(MQOTA_TELEMETRY_SAMPLES)

/** @brief One sample to send: a name of 1..15 bytes of [a-z0-9_.] and a finite value. */
typedef struct {
    const char *name; /**< NUL-terminated name; names starting "sys." are reserved (§15) */
    double value;     /**< The value, in the unit the name implies (e.g. `temperature`: °C) */
} mqota_sample_t;

/** @brief One decoded sample. */
typedef struct {
    char name[MQOTA_TELEMETRY_NAME_MAX + 1]; /**< NUL-terminated */
    double value;                            /**< Finite (NaN and infinities are refused) */
} mqota_telemetry_sample_t;

/** @brief A decoded TELEMETRY message. */
typedef struct {
    uint64_t ts_ms; /**< Device time of the samples: ms since boot, 0 if the device has none */
    uint8_t count;  /**< Samples, 1..MQOTA_TELEMETRY_SAMPLES */
    mqota_telemetry_sample_t samples[MQOTA_TELEMETRY_SAMPLES]; /**< The first count are set */
} mqota_telemetry_t;

/**
 * @brief Whether name is a valid sample name: 1..MQOTA_TELEMETRY_NAME_MAX bytes of
 *        [a-z0-9_.], NUL-terminated.
 * @param[in] name The name; NULL is not valid.
 * @return 1 if valid, 0 if not.
 */
int mqota_telemetry_name_valid(const char *name);

/**
 * @brief Encode a TELEMETRY message.
 * @param[in]  ts_ms   Device time in ms since boot (0: none).
 * @param[in]  samples The samples.
 * @param[in]  n       How many, 1..MQOTA_TELEMETRY_SAMPLES.
 * @param[out] buf     Where the message goes; MQOTA_TELEMETRY_LEN(n) bytes always suffice.
 * @param[in]  cap     Bytes available at buf.
 * @param[out] out_len Bytes written on MQOTA_OK.
 * @return MQOTA_OK, MQOTA_ERR_ARG (NULL pointer, a bad name, a NaN or infinite value),
 *         MQOTA_ERR_RANGE (n is 0 or above MQOTA_TELEMETRY_SAMPLES), MQOTA_ERR_NO_SPACE.
 */
mqota_status_t mqota_telemetry_encode(uint64_t ts_ms, const mqota_sample_t *samples, size_t n,
                                      uint8_t *buf, size_t cap, size_t *out_len);

/**
 * @brief Decode a TELEMETRY message.
 * @param[in]  buf Message bytes.
 * @param[in]  len Bytes in buf.
 * @param[out] msg The message on MQOTA_OK.
 * @return MQOTA_OK, MQOTA_ERR_ARG, MQOTA_ERR_TRUNCATED (ends inside a field),
 *         MQOTA_ERR_MALFORMED (bad magic, count 0 or above MQOTA_TELEMETRY_SAMPLES, a name of
 *         length 0, above 15 or with a byte outside [a-z0-9_.], a NaN or infinite value,
 *         trailing bytes), MQOTA_ERR_VERSION, MQOTA_ERR_TYPE. On error *msg is left unchanged.
 * @note Server side: defined in common/mqota_telemetry_host.c (CMake target mqota_codec_host),
 *       not in libmqota; a device does not link it.
 */
mqota_status_t mqota_telemetry_decode(const uint8_t *buf, size_t len, mqota_telemetry_t *msg);

#ifdef __cplusplus
}
#endif

#endif /* MQOTA_TELEMETRY_H */
