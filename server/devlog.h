/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file devlog.h
 * @brief Warnings caused by a device, rate-limited per device (see devlog.c).
 */
#ifndef MQOTAD_DEVLOG_H
#define MQOTAD_DEVLOG_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct mqotad;

/**
 * @brief Log a warning that device_id caused, unless the device used up its allowance: then
 *        it is only counted, and the count is logged later in one line. The text is escaped by
 *        mqh_log() like every log line.
 */
void devlog__warn(struct mqotad *d, const char *device_id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** @brief Main-loop step: report suppressed counts once allowed again; forget quiet devices. */
void devlog__tick(struct mqotad *d, uint64_t now_ms);

/** @brief Free the table at exit. */
void devlog__free(struct mqotad *d);

#ifdef __cplusplus
}
#endif

#endif /* MQOTAD_DEVLOG_H */
