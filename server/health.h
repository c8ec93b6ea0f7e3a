/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file health.h
 * @brief Device health (docs/PROTOCOL.md §16): each device's latest HEALTH and a bounded
 *        history of its resets, kept in SQLite (see health.c), served by http_health.c and
 *        read by rollouts' health gate (rollout.c).
 */
#ifndef MQOTAD_HEALTH_H
#define MQOTAD_HEALTH_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "db.h"
#include "mqota/mqota_health.h"

#ifdef __cplusplus
extern "C" {
#endif

struct mqotad;

/** Resets kept per device (the newest); older ones are deleted as new ones come. */
#define HEALTH_RESETS_MAX 100

/**
 * Keep a decoded HEALTH from device_id: stored as its latest health, and when it reports a new
 * boot (no report before, another boot_count, or with boot_count 0 a smaller uptime) its reset
 * is recorded at the boot's time (now - uptime_s). At most one report per device per second is
 * stored: one that comes sooner is held (the newest per device) and stored by health__tick()
 * after that second; the ones it replaced are dropped, with a warning. A device mqotad does not
 * know is ignored.
 * @param[in] d         The daemon.
 * @param[in] device_id The id from the topic (at most DB_ID_MAX bytes).
 * @param[in] h         The decoded report (its crash text printable ASCII, as decoded).
 * @note A crash reset pokes the rollouts (rollout__poke()), so a health gate is judged at once.
 */
void health__accept(struct mqotad *d, const char *device_id, const mqota_health_t *h);

/**
 * Store the held reports whose device's second is over (health__accept()). Called from the
 * main loop; costs one lookup per held report.
 */
void health__tick(struct mqotad *d);

/** Free the held reports at exit. */
void health__free(struct mqotad *d);

/**
 * The "health" object of a device for the API: its latest report with the reset reason by
 * name, or NULL when it has none (or on a database error, logged).
 */
cJSON *health__json(struct mqotad *d, const char *device_id);

#ifdef __cplusplus
}
#endif

#endif /* MQOTAD_HEALTH_H */
