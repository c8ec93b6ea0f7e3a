/* SPDX-License-Identifier: Apache-2.0 */
/*
 * telemetry.c - application telemetry (docs/PROTOCOL.md §15): a device's named samples kept as
 * time series in SQLite (db.c, schema 8), each one stamped with mqotad's receive time.
 *
 * Everything a device sends is bounded, so one device cannot fill the disk or the log:
 *  - rate: at most --telemetry-rate samples per device per second are kept (a fixed one-second
 *    window per device, in a hash table on the device id); the rest are dropped and counted;
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

#define TELEMETRY_TICK_MS 60000u  /* telemetry__tick() prunes at most this often */
#define RATE_FORGET_MS 60000u     /* a device quiet this long leaves the rate table */
#define RATE_TABLE_MIN 64u        /* first size of the rate table (a power of two) */

typedef struct {
    char id[DB_ID_MAX + 1]; /* "" = free slot */
    uint64_t second;        /* the one-second window (mqh_now_ms() / 1000) counted */
    uint32_t kept;          /* samples kept in that window */
    uint64_t dropped;       /* samples dropped since mqotad started */
    uint64_t last_ms;       /* last message */
} rate_entry_t;

/* Open addressing with linear probing; grown at half full, rebuilt without quiet devices by
 * the tick (so no tombstones). */
struct telemetry {
    rate_entry_t *e;
    size_t cap, n;
};

/* Wall-clock time in Unix milliseconds: a sample's time in the API. */
static int64_t unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* FNV-1a of the device id. */
static size_t hash_id(const char *id)
{
    uint64_t h = 1469598103934665603u;
    for (; *id; id++) h = (h ^ (uint8_t)*id) * 1099511628211u;
    return (size_t)h;
}

/* The slot for id in a table of cap slots (a power of two): its entry or the free slot where
 * it goes. */
static rate_entry_t *slot(rate_entry_t *e, size_t cap, const char *id)
{
    size_t i = hash_id(id) & (cap - 1);
    while (e[i].id[0] && strcmp(e[i].id, id) != 0) i = (i + 1) & (cap - 1);
    return &e[i];
}

/* Move the entries last active at or after keep_from_ms into a fresh table of cap slots.
 * -1 (table unchanged) when out of memory. */
static int rebuild(struct telemetry *t, size_t cap, uint64_t keep_from_ms)
{
    rate_entry_t *e = calloc(cap, sizeof(*e));
    if (!e) return -1;
    size_t n = 0;
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->e[i].id[0] || t->e[i].last_ms < keep_from_ms) continue;
        *slot(e, cap, t->e[i].id) = t->e[i];
        n++;
    }
    free(t->e);
    t->e = e;
    t->cap = cap;
    t->n = n;
    return 0;
}

/* The rate entry of device_id, created if needed; NULL when out of memory. */
static rate_entry_t *rate_entry(mqotad_t *d, const char *device_id)
{
    struct telemetry *t = d->telemetry;
    if (!t) {
        t = d->telemetry = calloc(1, sizeof(*t));
        if (!t) return NULL;
    }
    if (t->cap == 0 || 2 * (t->n + 1) > t->cap) {
        if (rebuild(t, t->cap ? 2 * t->cap : RATE_TABLE_MIN, 0) != 0) return NULL;
    }
    rate_entry_t *r = slot(t->e, t->cap, device_id);
    if (!r->id[0]) {
        snprintf(r->id, sizeof(r->id), "%s", device_id);
        t->n++;
    }
    return r;
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
    rate_entry_t *r = d->telemetry && d->telemetry->cap ? slot(d->telemetry->e,
                                                               d->telemetry->cap, device_id)
                                                         : NULL;
    if (!r || !r->id[0] || r->second != now / 1000u || r->kept < d->telemetry_rate) {
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
    if (t && t->n > 0 && now_ms > RATE_FORGET_MS)
        (void)rebuild(t, t->cap, now_ms - RATE_FORGET_MS);
}

uint64_t telemetry__dropped(mqotad_t *d, const char *device_id)
{
    struct telemetry *t = d->telemetry;
    if (!t || t->cap == 0) return 0;
    rate_entry_t *r = slot(t->e, t->cap, device_id);
    return r->id[0] ? r->dropped : 0;
}

void telemetry__free(mqotad_t *d)
{
    if (!d->telemetry) return;
    free(d->telemetry->e);
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
