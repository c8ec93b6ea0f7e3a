/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file mqota_host.h
 * @brief Small helpers shared by the host programs (mqotad, mqota, mqota-fleet, tests).
 *        Not part of the device library.
 */
#ifndef MQOTA_HOST_H
#define MQOTA_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** A parsed broker URL: mqtt://host[:port] (default port 1883) or mqtts://host[:port] (8883). */
typedef struct {
    char host[256];
    int port;
    bool tls;
} mqh_url_t;

/**
 * @brief Parse a broker URL. IPv6 literals are written in brackets (mqtt://[::1]:1883).
 * @return 0, or -1 with a one-sentence reason in err (err_cap bytes).
 */
int mqh_parse_broker_url(const char *url, mqh_url_t *out, char *err, size_t err_cap);

/** @brief Lower-case hex of len bytes into out (2 * len + 1 bytes). */
void mqh_hex(const uint8_t *data, size_t len, char *out);

/** @brief Parse 2 * len hex digits into out. @return 0, or -1 if not hex or wrong length. */
int mqh_unhex(const char *hex, uint8_t *out, size_t len);

/** @brief Monotonic clock in milliseconds. */
uint64_t mqh_now_ms(void);

/** @brief Wall clock, Unix seconds. */
int64_t mqh_unix_now(void);

/**
 * @brief Find a free TCP port on 127.0.0.1 (bind to port 0, read it, close).
 * @return The port, or -1.
 */
int mqh_free_port(void);

/** Log levels for mqh_log(). */
enum { MQH_ERROR = 0, MQH_WARN = 1, MQH_INFO = 2, MQH_DEBUG = 3 };

/** @brief Set the most verbose level printed (default MQH_INFO) and the program name. */
void mqh_log_init(const char *prog, int level);

/**
 * @brief Log one line to stderr: "2026-11-21T05:00:00.123Z prog level: message". The message
 *        is escaped with mqh_log_escape() (bytes outside printable ASCII as \\xNN, the
 *        backslash doubled), so text from a device can neither end the line nor forge another.
 */
void mqh_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#ifdef __cplusplus
}
#endif

#endif /* MQOTA_HOST_H */
