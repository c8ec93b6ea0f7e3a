/* SPDX-License-Identifier: Apache-2.0 */
/*
 * health.c - device health (docs/PROTOCOL.md §16): each device's latest HEALTH and the history
 * of its resets, in SQLite (db.c, schema 10).
 *
 * A report is a new boot when the device had none before, when its boot_count differs from the
 * last one's, or, for a device that keeps no boot count (0), when its uptime went down. Only
 * then is a reset recorded, at the boot's time (receive time - uptime), so the retained copy the
 * broker hands a restarted mqotad, and the periodic reports of one boot, are not counted again.
 * Rollouts count crash resets (panic, watchdogs) after a device's confirm (rollout.c).
 *
 * Everything a device sends is bounded: the decoder admits only printable ASCII crash text of
 * at most MQOTA_HEALTH_CRASH_MAX bytes (checked again here as UTF-8 before it reaches JSON), at
 * most one report per device per second is stored, and HEALTH_RESETS_MAX resets per device.
 * A report that comes within the second of the device's last stored one is held (the newest
 * held one per device, in memory) and stored by health__tick() once that second is over, so a
 * device that reboots within a second of its last report (a small image on a fast link) still
 * gets its new boot recorded; only the reports a held one replaces are dropped.
 */
#include "health.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devlog.h"
#include "mqota_utf8.h"
#include "mqotad.h"
#include "rollout.h"

/* uthash: a failed allocation is not fatal (its default is to exit); hold() sees it.
 * Set before uthash.h is included. */
static bool held_oom;
#define uthash_nonfatal_oom(elt) (held_oom = true)
#include <uthash.h>

/* A report that came within the second of the device's last stored one, to be stored after it. */
typedef struct health_held {
    char id[DB_ID_MAX + 1];
    mqota_health_t report;
    UT_hash_handle hh;      /* in mqotad_t's health_held table, keyed by id */
} health_held_t;

/* Hold report h of device_id (replacing one held before) for health__tick(). */
static void hold(mqotad_t *d, const char *device_id, const mqota_health_t *h)
{
    health_held_t *e = NULL;
    HASH_FIND_STR(d->health_held, device_id, e);
    if (e == NULL) {
        if ((e = calloc(1, sizeof(*e))) == NULL) return;
        snprintf(e->id, sizeof(e->id), "%s", device_id);
        held_oom = false;
        HASH_ADD_STR(d->health_held, id, e);
        if (held_oom) {
            free(e);
            return;
        }
    } else {
        devlog__warn(d, device_id, "device %s sent more than one health report in one second; "
                     "only the newest is kept", device_id);
    }
    e->report = *h;
}

/* Whether report h of a device whose last report was prev (NULL: none) is a new boot. */
static bool new_boot(const db_health_t *prev, const mqota_health_t *h)
{
    if (prev == NULL) return true;
    if ((int64_t)h->boot_count != prev->boot_count) return true;
    return h->boot_count == 0 && (int64_t)h->uptime_s < prev->uptime_s;
}

void health__accept(mqotad_t *d, const char *device_id, const mqota_health_t *h)
{
    db_device_t dev;
    db_health_t prev, cur;
    int64_t now = mqh_unix_now();
    size_t crash_len = strnlen(h->crash, sizeof(h->crash));
    int known = db__device_get(d->db, device_id, &dev);
    if (known != 0) {
        if (known == 1)
            mqh_log(MQH_DEBUG, "health from %s, a device that has not announced itself (no "
                    "STATE yet); ignored", device_id);
        return;
    }
    if (crash_len >= sizeof(h->crash) || !mqh_utf8_valid(h->crash, crash_len)) {
        devlog__warn(d, device_id, "device %s sent a health report whose crash text is not "
                     "text; ignored", device_id);
        return;
    }
    int had = db__health_get(d->db, device_id, &prev);
    if (had < 0) return;
    if (had == 0 && prev.at == now) {
        hold(d, device_id, h); /* stored by health__tick() when this second is over */
        return;
    }
    bool boot = new_boot(had == 0 ? &prev : NULL, h);
    memset(&cur, 0, sizeof(cur));
    snprintf(cur.device_id, sizeof(cur.device_id), "%s", device_id);
    cur.at = now;
    cur.reset_reason = h->reset_reason;
    memcpy(cur.crash, h->crash, crash_len + 1);
    cur.uptime_s = h->uptime_s;
    cur.boot_count = h->boot_count;
    cur.min_free_heap = h->min_free_heap;
    cur.rssi = h->rssi;
    cur.reconnects = h->reconnects;
    cur.resets = (had == 0 ? prev.resets : 0) + (boot ? 1 : 0);
    if (db__begin(d->db) != 0) return;
    if (db__health_put(d->db, &cur) != 0) goto err;
    if (boot) {
        db_reset_t r = {now - (int64_t)h->uptime_s, h->reset_reason, h->boot_count, ""};
        memcpy(r.crash, h->crash, crash_len + 1);
        if (r.at < 0) r.at = 0;
        if (db__reset_insert(d->db, device_id, &r, HEALTH_RESETS_MAX) != 0) goto err;
    }
    if (db__commit(d->db) != 0) goto err;
    if (boot && mqota_reset_is_crash(h->reset_reason)) {
        mqh_log(MQH_INFO, "device %s reset by %s (boot %u%s%s)", device_id,
                mqota_reset_reason_name(h->reset_reason), (unsigned)h->boot_count,
                crash_len ? ": " : "", h->crash);
        rollout__poke(d);
    }
    return;
err:
    db__rollback(d->db);
}

void health__tick(mqotad_t *d)
{
    health_held_t *e, *tmp;
    int64_t now = mqh_unix_now();
    HASH_ITER(hh, d->health_held, e, tmp) {
        db_health_t last;
        if (db__health_get(d->db, e->id, &last) == 0 && last.at == now) continue;
        HASH_DEL(d->health_held, e);
        health__accept(d, e->id, &e->report);
        free(e);
    }
}

void health__free(mqotad_t *d)
{
    health_held_t *e, *tmp;
    HASH_ITER(hh, d->health_held, e, tmp) {
        HASH_DEL(d->health_held, e);
        free(e);
    }
}

cJSON *health__json(mqotad_t *d, const char *device_id)
{
    db_health_t h;
    if (db__health_get(d->db, device_id, &h) != 0) return NULL;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "at", (double)h.at);
    cJSON_AddStringToObject(j, "reset_reason", mqota_reset_reason_name((uint8_t)h.reset_reason));
    cJSON_AddBoolToObject(j, "crash_reset", mqota_reset_is_crash((uint8_t)h.reset_reason));
    cJSON_AddStringToObject(j, "crash", h.crash);
    cJSON_AddNumberToObject(j, "uptime_s", (double)h.uptime_s);
    cJSON_AddNumberToObject(j, "boot_count", (double)h.boot_count);
    cJSON_AddNumberToObject(j, "min_free_heap", (double)h.min_free_heap);
    if (h.rssi != 0) cJSON_AddNumberToObject(j, "rssi", h.rssi);
    else cJSON_AddNullToObject(j, "rssi");
    cJSON_AddNumberToObject(j, "reconnects", (double)h.reconnects);
    cJSON_AddNumberToObject(j, "resets", (double)h.resets);
    return j;
}
