/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file telemetry.h
 * @brief Application telemetry (docs/PROTOCOL.md §15): samples from devices kept as time
 *        series in SQLite, bounded per device (see telemetry.c).
 */
#ifndef MQOTAD_TELEMETRY_H
#define MQOTAD_TELEMETRY_H

#include <stddef.h>
#include <stdint.h>

#include "mqota/mqota_telemetry.h"

#ifdef __cplusplus
extern "C" {
#endif

struct mqotad;

/** --telemetry-retention default: samples older than this are deleted (seconds, 7 days). */
#define TELEMETRY_RETENTION_DEFAULT_S (7 * 24 * 3600)
/** --telemetry-points default: samples kept per device and name (the newest). */
#define TELEMETRY_POINTS_DEFAULT 10000
/** --telemetry-rate default: samples per device per second kept; the rest dropped. */
#define TELEMETRY_RATE_DEFAULT 20
/** Series (names) one device may have; a sample with a new name beyond it is dropped. */
#define TELEMETRY_SERIES_MAX 32

/**
 * @brief Keep the samples of a decoded TELEMETRY message from device_id (handle_telemetry.c
 *        decodes it): at most --telemetry-rate per device per second and TELEMETRY_SERIES_MAX
 *        names per device, the rest dropped, counted and warned about (rate-limited per
 *        device); each series trimmed to --telemetry-points and --telemetry-retention. A
 *        device that has sent no STATE yet is ignored.
 * @param[in] d         The daemon.
 * @param[in] device_id The id from the topic.
 * @param[in] m         The decoded message (copied).
 */
void telemetry__accept(struct mqotad *d, const char *device_id, const mqota_telemetry_t *m);

/** @brief Main-loop step: once a minute delete samples older than --telemetry-retention (for
 *         devices that stopped sending) and forget rate counters of quiet devices. */
void telemetry__tick(struct mqotad *d, uint64_t now_ms);

/** @brief Samples of device_id dropped (rate, names) since mqotad started. */
uint64_t telemetry__dropped(struct mqotad *d, const char *device_id);

/** @brief Free the rate table at exit. */
void telemetry__free(struct mqotad *d);

/**
 * @brief Parse a duration: a whole number followed by s, m, h or d (e.g. 90s, 15m, 1h, 7d).
 * @return 0 with *ms set, -1 if text is not one or is above 10 years.
 */
int telemetry__parse_duration(const char *text, int64_t *ms);

#ifdef __cplusplus
}
#endif

#endif /* MQOTAD_TELEMETRY_H */
