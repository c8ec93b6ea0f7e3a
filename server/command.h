/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file command.h
 * @brief Server-to-device commands (docs/PROTOCOL.md §14, docs/SECURITY.md §9): queue, seal
 *        and publish them, take the devices' sealed replies and refusal reports, time them out.
 *
 * State lives in SQLite (db.c): a command is queued, then sent (its counter stored before the
 * publish), then done, failed or refused when the device answers, timeout when it does not
 * within --command-timeout, or expired when it was never sent within its ttl. mqotad never
 * sends a command twice.
 */
#ifndef MQOTAD_COMMAND_H
#define MQOTAD_COMMAND_H

#include <stddef.h>
#include <stdint.h>

#include "mqotad.h"

#ifdef __cplusplus
extern "C" {
#endif

#define COMMAND_TTL_DEFAULT_S 3600    /**< Seconds a command may wait for its device */
#define COMMAND_TTL_MAX_S 604800      /**< Longest ttl accepted (7 days) */
#define COMMAND_TIMEOUT_DEFAULT_S 30  /**< --command-timeout default, seconds */

typedef enum {
    COMMAND_OK = 0,
    COMMAND_INVALID,        /**< bad name, args or ttl (HTTP 400) */
    COMMAND_UNKNOWN_DEVICE, /**< neither seen nor provisioned (HTTP 404) */
    COMMAND_NO_KEY,         /**< the device has no command key, or is a legacy device (HTTP 409) */
    COMMAND_ERROR           /**< database error (HTTP 500) */
} command_result_t;

/**
 * @brief Queue a command for a device and, if the device is online and takes commands, send
 *        it at once.
 * @param[in]  name     1..31 of [a-z0-9._-].
 * @param[in]  args     Argument bytes (may be NULL when args_len is 0).
 * @param[in]  args_len Bytes of args; the sealed frame must stay within 1024 bytes.
 * @param[in]  ttl_s    Seconds it may stay queued, 1..COMMAND_TTL_MAX_S.
 * @param[out] out      The stored command (state queued or sent) on COMMAND_OK.
 * @param[out] err      One sentence on any other result.
 * @return COMMAND_OK, COMMAND_INVALID, COMMAND_UNKNOWN_DEVICE, COMMAND_NO_KEY, COMMAND_ERROR.
 */
command_result_t command__queue(mqotad_t *d, const char *device_id, const char *name,
                                const uint8_t *args, size_t args_len, int64_t ttl_s,
                                db_command_t *out, char *err, size_t err_cap);

/** The device may take commands now (it came online or sent its STATE): send its queued
 *  ones if it is online, announced MQOTA_CAP_COMMANDS, and mqotad is connected. */
void command__device_ready(mqotad_t *d, const char *device_id);

/** A REPLY on the device's reply topic: open, check its counter, finish the command or
 *  store the refusal report. Anything else is logged once and dropped (and counted). */
void command__handle_reply(mqotad_t *d, const char *device_id, const uint8_t *payload,
                           size_t len);

/** Once a second: expire queued commands past their ttl, time out sent ones. */
void command__tick(mqotad_t *d, uint64_t now_ms);

/** The timers of command__tick() at Unix time now_s (seconds); for tests. */
void command__check_times(mqotad_t *d, int64_t now_s);

/** Wall clock in microseconds (the floor of a COMMAND counter). */
uint64_t command__unix_us(void);

#ifdef __cplusplus
}
#endif

#endif /* MQOTAD_COMMAND_H */
