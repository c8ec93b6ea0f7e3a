/* SPDX-License-Identifier: Apache-2.0 */
/*
 * telemetry.c - application telemetry (docs/PROTOCOL.md §15): a device's named samples kept as
 * time series in SQLite (db.c, schema 8), each one stamped with mqotad's receive time.
 *
 * Everything a device sends is bounded, so one device cannot fill the disk or the log:
 *  - rate: at most --telemetry-rate samples per device per second are kept (a fixed one-second
 *    window per device, in a uthash table on the device id); the rest are dropped and counted;
 *  - names: at most TELEMETRY_SERIES_MAX series per device; a sample with a new name beyond
 *    that is dropped and counted;
 *  - retention, enforced on insert: a series keeps its newest --telemetry-points samples and
 *    none older than --telemetry-retention; telemetry__tick() applies the age limit to every
 *    series once a minute too, for devices that stopped sending;
 *  - an undecodable message or one from a device mqotad does not know is dropped.
 * Warnings go through devlog (rate-limited per device).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "devlog.h"
#include "mqota/mqota_telemetry.h"
#include "mqotad.h"
#include "telemetry.h"

/* uthash: a failed allocation is not fatal (its default is to exit); rate_entry() sees it.
 * Set before uthash.h is included. */
static bool rate_oom;
#define uthash_nonfatal_oom(elt) (rate_oom = true)
#include <uthash.h>

#define TELEMETRY_TICK_MS 60000u  /* telemetry__tick() prunes at most this often */
#define RATE_FORGET_MS 60000u     /* a device quiet this long leaves the rate table */

typedef struct {
    char id[DB_ID_MAX + 1];
    uint64_t second;        /* the one-second window (mqh_now_ms() / 1000) counted */
    uint32_t kept;          /* samples kept in that window */
    uint64_t dropped;       /* samples dropped since mqotad started */
    uint64_t last_ms;       /* last message */
    UT_hash_handle hh;      /* in struct telemetry's table, keyed by id */
} rate_entry_t;

/* The devices heard from in the last RATE_FORGET_MS, by id (uthash, as transfer.c keeps
 * transfers); the tick forgets quiet ones. */
struct telemetry {
    rate_entry_t *by_device;
};

/* Wall-clock time in Unix milliseconds: a sample's time in the API. */
static int64_t unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The rate entry of device_id, or NULL. */
static rate_entry_t *rate_find(mqotad_t *d, const char *device_id)
{
    rate_entry_t *r = NULL;
    if (d->telemetry) HASH_FIND_STR(d->telemetry->by_device, device_id, r);
    return r;
}

/* The rate entry of device_id, created if needed; NULL when out of memory. */
static rate_entry_t *rate_entry(mqotad_t *d, const char *device_id)
{
    rate_entry_t *r = rate_find(d, device_id);
    if (r) return r;
    if (!d->telemetry && !(d->telemetry = calloc(1, sizeof(*d->telemetry)))) return NULL;
    if (!(r = calloc(1, sizeof(*r)))) return NULL;
    snprintf(r->id, sizeof(r->id), "%s", device_id);
    rate_oom = false;
    HASH_ADD_STR(d->telemetry->by_device, id, r);
    if (rate_oom) {
        free(r);
        return NULL;
    }
    return r;
}

/* Forget the devices quiet since before keep_from_ms (all of them for UINT64_MAX). */
static void rate_forget(struct telemetry *t, uint64_t keep_from_ms)
{
    rate_entry_t *r, *tmp;
    HASH_ITER(hh, t->by_device, r, tmp) {
        if (r->last_ms >= keep_from_ms) continue;
        HASH_DEL(t->by_device, r);
        free(r);
    }
}

/*
 * Store the samples of m that the rate and name limits let through, in one transaction;
 * returns how many were dropped by the name limit, or -1 on a database error (rolled back).
 */
static int store(mqotad_t *d, const char *device_id, const mqota_telemetry_t *m, unsigned n,
                 int64_t now_ms)
{
    int64_t min_ts = now_ms - (int64_t)d->telemetry_retention_s * 1000;
    int dropped = 0;
    if (db__begin(d->db) != 0) return -1;
    for (unsigned i = 0; i < n; i++) {
        bool exists = false;
        int64_t series = 0;
        const mqota_telemetry_sample_t *s = &m->samples[i];
        if (db__telemetry_series_count(d->db, device_id, s->name, &exists, &series) != 0)
            goto err;
        if (!exists && series >= TELEMETRY_SERIES_MAX) {
            dropped++;
            continue;
        }
        if (db__telemetry_insert(d->db, device_id, s->name, now_ms, m->ts_ms, s->value,
                                 d->telemetry_points, min_ts) != 0)
            goto err;
    }
    if (db__commit(d->db) != 0) goto err;
    return dropped;
err:
    db__rollback(d->db);
    return -1;
}

void telemetry__accept(mqotad_t *d, const char *device_id, const mqota_telemetry_t *msg)
{
    const mqota_telemetry_t m = *msg;
    db_device_t dev;
    uint64_t now = mqh_now_ms();
    /* A device over its rate costs no database lookup: it has an entry already. */
    rate_entry_t *r = rate_find(d, device_id);
    if (!r || r->second != now / 1000u || r->kept < d->telemetry_rate) {
        int known = db__device_get(d->db, device_id, &dev);
        if (known != 0) {
            d->telemetry_refused++;
            if (known == 1)
                mqh_log(MQH_DEBUG, "telemetry from %s, a device that has not announced itself "
                        "(no STATE yet); ignored", device_id);
            return;
        }
    }
    r = rate_entry(d, device_id);
    if (!r) {
        mqh_log(MQH_ERROR, "out of memory: telemetry from %s dropped", device_id);
        return;
    }
    if (r->second != now / 1000u) {
        r->second = now / 1000u;
        r->kept = 0;
    }
    r->last_ms = now;
    unsigned allow = r->kept >= d->telemetry_rate ? 0u : d->telemetry_rate - r->kept;
    unsigned n = m.count < allow ? m.count : allow;
    if (n < m.count) {
        r->dropped += m.count - n;
        d->telemetry_dropped += m.count - n;
        devlog__warn(d, device_id, "device %s sent more than %u telemetry samples in one second "
                     "(--telemetry-rate); %u dropped", device_id, d->telemetry_rate,
                     m.count - n);
    }
    if (n == 0) return;
    r->kept += n;
    int names = store(d, device_id, &m, n, unix_ms());
    if (names > 0) {
        r->dropped += (unsigned)names;
        d->telemetry_dropped += (unsigned)names;
        devlog__warn(d, device_id, "device %s has %d telemetry series, the most mqotad keeps "
                     "per device; %d samples with new names dropped", device_id,
                     TELEMETRY_SERIES_MAX, names);
    }
}

void telemetry__tick(mqotad_t *d, uint64_t now_ms)
{
    struct telemetry *t = d->telemetry;
    if (d->telemetry_tick_ms != 0 && now_ms - d->telemetry_tick_ms < TELEMETRY_TICK_MS) return;
    d->telemetry_tick_ms = now_ms;
    (void)db__telemetry_prune(d->db, unix_ms() - (int64_t)d->telemetry_retention_s * 1000);
    if (t && now_ms > RATE_FORGET_MS) rate_forget(t, now_ms - RATE_FORGET_MS);
}

uint64_t telemetry__dropped(mqotad_t *d, const char *device_id)
{
    rate_entry_t *r = rate_find(d, device_id);
    return r ? r->dropped : 0;
}

void telemetry__free(mqotad_t *d)
{
    if (!d->telemetry) return;
    rate_forget(d->telemetry, UINT64_MAX);
    free(d->telemetry);
    d->telemetry = NULL;
}

int telemetry__parse_duration(const char *text, int64_t *ms)
{
    static const char units[] = "smhd";
    static const int64_t unit_ms[] = {1000, 60000, 3600000, 86400000};
    const int64_t max_ms = 10LL * 366 * 86400000;
    int64_t v = 0;
    const char *p = text;
    if (!text || *p < '0' || *p > '9') return -1;
    for (; *p >= '0' && *p <= '9'; p++) {
        v = v * 10 + (*p - '0');
        if (v > max_ms / 1000) return -1;
    }
    const char *u = *p ? strchr(units, *p) : NULL;
    if (!u || p[1] != '\0') return -1;
    v *= unit_ms[u - units];
    if (v > max_ms) return -1;
    *ms = v;
    return 0;
}
