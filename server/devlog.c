/* SPDX-License-Identifier: Apache-2.0 */
/*
 * devlog.c - warnings a device causes (undecodable messages, replies that do not open, ...),
 * rate-limited per device so that one device flooding its own topics cannot flood the log.
 *
 * Each device that warned has a token bucket: DEVLOG_BURST warnings at once, one more every
 * DEVLOG_REFILL_MS. A warning without a token is counted, not written. The count is reported
 * in one line ("N more warnings from device X suppressed in the last S s") by the next warning
 * that gets a token, or by devlog__tick() as soon as a token is back, so a device that stopped
 * is reported within DEVLOG_REFILL_MS. Devices whose bucket is full again are forgotten, so the
 * table holds only devices that warned recently (at most the provisioned fleet).
 *
 * The text itself is escaped by mqh_log(), like every log line.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devlog.h"
#include "mqotad.h"

#define DEVLOG_BURST 10        /* warnings a device may cause in a row */
#define DEVLOG_REFILL_MS 6000u /* then one more per this many milliseconds */
#define DEVLOG_TICK_MS 1000u   /* devlog__tick() looks at the table at most this often */

typedef struct {
    char id[DB_ID_MAX + 1];
    int tokens;
    uint64_t refill_ms;     /* tokens were last topped up at this time */
    uint64_t suppressed;    /* warnings not written since the last report */
    uint64_t first_supp_ms; /* when the first of them was suppressed */
} devlog_entry_t;

struct devlog {
    devlog_entry_t *e;
    size_t n, cap;
    uint64_t tick_ms;
};

/* The entry of device_id, created with a full bucket; NULL when out of memory. */
static devlog_entry_t *entry(mqotad_t *d, const char *device_id, uint64_t now)
{
    struct devlog *l = d->devlog;
    if (l == NULL && (l = d->devlog = calloc(1, sizeof(*l))) == NULL) return NULL;
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->e[i].id, device_id) == 0) return &l->e[i];
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        devlog_entry_t *e = realloc(l->e, cap * sizeof(*e));
        if (e == NULL) return NULL;
        l->e = e;
        l->cap = cap;
    }
    devlog_entry_t *x = &l->e[l->n++];
    memset(x, 0, sizeof(*x));
    snprintf(x->id, sizeof(x->id), "%s", device_id);
    x->tokens = DEVLOG_BURST;
    x->refill_ms = now;
    return x;
}

/* Add the tokens earned since the last top-up, up to DEVLOG_BURST. */
static void refill(devlog_entry_t *x, uint64_t now)
{
    if (now <= x->refill_ms) return;
    uint64_t earned = (now - x->refill_ms) / DEVLOG_REFILL_MS;
    if (x->tokens + (int64_t)earned >= DEVLOG_BURST) {
        x->tokens = DEVLOG_BURST;
        x->refill_ms = now;
    } else {
        x->tokens += (int)earned;
        x->refill_ms += earned * DEVLOG_REFILL_MS;
    }
}

/* Write the suppressed count of x (if any) and reset it; uses no token of its own. */
static void report(devlog_entry_t *x, uint64_t now)
{
    if (x->suppressed == 0) return;
    mqh_log(MQH_WARN, "%llu more warning%s from device %s suppressed in the last %llu s "
            "(at most %d in a row, then one per %u s)", (unsigned long long)x->suppressed,
            x->suppressed == 1 ? "" : "s", x->id,
            (unsigned long long)((now - x->first_supp_ms + 999) / 1000), DEVLOG_BURST,
            DEVLOG_REFILL_MS / 1000);
    x->suppressed = 0;
}

void devlog__warn(mqotad_t *d, const char *device_id, const char *fmt, ...)
{
    uint64_t now = mqh_now_ms();
    devlog_entry_t *x = entry(d, device_id, now);
    if (x != NULL) {
        refill(x, now);
        if (x->tokens == 0) {
            if (x->suppressed++ == 0) x->first_supp_ms = now;
            return;
        }
        x->tokens--;
        report(x, now);
    }
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    mqh_log(MQH_WARN, "%s", msg);
}

void devlog__tick(mqotad_t *d, uint64_t now)
{
    struct devlog *l = d->devlog;
    if (l == NULL || now - l->tick_ms < DEVLOG_TICK_MS) return;
    l->tick_ms = now;
    for (size_t i = 0; i < l->n;) {
        devlog_entry_t *x = &l->e[i];
        refill(x, now);
        if (x->suppressed > 0 && x->tokens > 0) {
            x->tokens--;
            report(x, now);
        }
        if (x->tokens == DEVLOG_BURST && x->suppressed == 0)
            l->e[i] = l->e[--l->n]; /* quiet again: forget it */
        else
            i++;
    }
}

void devlog__free(mqotad_t *d)
{
    if (d->devlog == NULL) return;
    free(d->devlog->e);
    free(d->devlog);
    d->devlog = NULL;
}
