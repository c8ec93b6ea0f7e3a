/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stream.c - multicast streams: one publish per chunk for every device taking a release.
 *
 * A stream walks the release's chunks with a cyclic cursor and publishes, on
 * mqota/v1/stream/<release_id> (a compressed form on .../<encoding>, a delta on
 * .../<encoding>/<base>: one stream per form and base, docs/PROTOCOL.md §13), the next chunk that at least one live member has not
 * acknowledged; chunks nobody lacks are skipped, and after the last chunk the cursor wraps to
 * 0 (a new cycle) for members that joined late or lost chunks.
 *
 * Pacing is clocked by the members' ACKs so that the broker's per-subscriber queues stay
 * bounded: at most --stream-window sends are "unconfirmed". Each send takes an in-flight slot
 * holding the number of live members that lacked the chunk when it went out; a member's ACK
 * that newly covers the chunk decrements it, and the slot frees at zero or once it is older
 * than the stream RTO (the largest RTO of the paced members, at least 1 s; laggards are
 * repaired by unicast later). A member silent for more than 3 x its RTO (or offline) is
 * stalled: not counted in new slots, so one dead device cannot hold the wave.
 *
 * A member that holds the window for its slow link (still lacking half the window's sends
 * well after half the paced members acknowledged them) is demoted: it keeps receiving the stream,
 * but no longer paces it (not counted in slots, window or RTO), and its own engine serves it
 * with its unicast window at its own pace. It is paced again once it has caught up
 * (hysteresis: it lacks nothing the stream sent more than PROMOTE_LAG_MS ago, checked no
 * sooner than PROMOTE_CHECK_MS after a demotion).
 *
 * A member that joins a stream which already sent chunks it lacks (a late joiner: its device
 * answered the offer after the stream started) is on probation: it receives the stream but
 * does not pace it until the first stream send it lacked after joining is acknowledged within
 * the time the paced group's median member took, plus that time again (at least
 * SLOW_LAG_MIN_MS), as is_lagging judges a paced member. Then it is paced; if that time passes
 * first it is demoted as above. A late joiner on a slow link (gprs devices answer an offer about
 * 0.7 s after wifi ones) thus never holds the window, where a paced one held half of it until
 * its demotion, about 0.25 s: a third of a wifi group's time for the image (bench/mixed-links).
 *
 * Every stream send is stamped into each lacking member's transfer as a send, so a member's
 * own engine (transfer.c) only repairs what the stream sent it more than one RTO ago.
 * A new stream first gathers its members (until none joined for 200 ms, at most 2 s), then
 * sends; with fewer than two live members it is quiet and members are served by unicast.
 */
#include "metrics.h"
#include "stream.h"

#include "db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqota/mqota_proto.h"

#define STREAM_MAX_WINDOW 64u       /* in-flight slots: one bit each in a member's mask */
#define STREAM_RTO_MIN_MS 1000u
#define STALL_RTOS 3u               /* silent for this many RTOs: stalled */
#define RESCAN_MS 50u               /* nothing to send: look again after this (or a kick) */
#define PERSIST_EVERY_MS 1000u
#define GATHER_QUIET_MS 200u        /* a new stream starts once no member joined for this long */
#define GATHER_MAX_MS 2000u         /* ... or this long after its first member */
/* A member lacking a send longer than half the paced members' ACKs of it took, and at least
 * SLOW_LAG_MIN_MS, after those ACKs: lagging. Above the spread of ACK times between members on
 * one link (devices batch stream ACKs: MQOTA_STREAM_ACK_CHUNKS or MQOTA_STREAM_ACK_MS), small
 * beside a fast group's time for the image: with 1 s, 10 wifi devices (about 1 s alone) waited
 * that long for the demotion of 2 gprs ones, 1.6x their time alone (bench/mixed-links). Judged
 * against the median member, not the fastest: 18 lte devices beside 2 faster lan members were
 * otherwise demoted and paced again in turn at a small floor (bench/stalled-members). */
#define SLOW_LAG_MIN_MS 150u
#define PROMOTE_LAG_MS 1000u        /* demoted: paced again once it lacks nothing older */
#define PROMOTE_CHECK_MS 1000u      /* demoted members are checked for catching up this often */
#define SLOW_CHECK_MS 50u           /* members are checked for lagging at most this often */

typedef struct {
    uint32_t index;   /* chunk sent */
    uint32_t lack;    /* paced members that lacked it at send time and have not acked it */
    uint32_t counted; /* paced members that lacked it at send time */
    uint32_t acks;    /* of those, the ones that acked it */
    uint64_t sent_ms;
    uint64_t half_ack_ms; /* when half the counted members had acked it, 0: not yet */
    bool used;
} inflight_t;

typedef struct stream {
    struct stream *next;
    int64_t release_id;
    uint8_t encoding;        /* the form its members take (docs/PROTOCOL.md §6.1): one stream,
                                one topic per form of a release */
    int64_t base_release_id; /* a delta form's base: one stream, one topic per base too */
    char topic[64];
    uint32_t chunk_size, chunk_count;
    transfer_t **members;
    size_t n_members, cap;
    bool *stalled;           /* per member slot, refreshed before each round of sends */
    uint32_t *have;          /* per chunk: members whose ACKs cover it */
    uint64_t *sent_ms;       /* per chunk: time of the last stream send, 0: never */
    uint32_t cursor;         /* next chunk index to consider */
    uint32_t cycle;          /* times the cursor wrapped */
    inflight_t slot[STREAM_MAX_WINDOW];
    uint32_t inflight;
    uint32_t live;           /* members not stalled */
    uint32_t paced;          /* members neither stalled, demoted nor on probation: they clock
                                the window */
    uint32_t demoted;        /* demotions so far (logged when the stream stops) */
    uint32_t late;           /* late joiners put on probation so far (logged likewise) */
    uint32_t probation;      /* members on probation now (stream_late) */
    uint32_t lag_ms;         /* the paced group's median ACK lag: half_ack_ms - sent_ms of the
                                last send half its counted members acknowledged */
    uint64_t probe_check_ms;
    uint64_t promote_check_ms;
    uint64_t slow_check_ms;
    uint32_t window;         /* --stream-window, at most the smallest paced device window */
    bool started;            /* the gathering of the first members is over */
    bool streaming;          /* gathering, or live >= 2 and paced >= 1: paced members only
                                repair */
    bool kick;               /* something changed: look for a chunk to send at once */
    uint64_t idle_until_ms;
    uint64_t created_ms;
    uint64_t last_join_ms;
    int64_t bytes_sent;
    uint32_t sends;
} stream_t;

/* Stream bytes of one deployment or release: total, and the part not yet in the database. */
typedef struct acct {
    struct acct *next;
    int64_t id;
    int64_t total, unflushed;
    uint64_t seq;     /* the send last counted here */
} acct_t;

struct streams {
    stream_t *list;
    acct_t *deployments;
    acct_t *releases;
    uint64_t last_persist_ms;
    uint64_t seq;     /* stream sends so far, all streams */
    uint8_t buf[MQOTA_CHUNK_HEADER_LEN + MQOTA_CHUNK_MAX];
};

int stream__init(mqotad_t *d)
{
    d->streams = calloc(1, sizeof(*d->streams));
    return d->streams ? 0 : -1;
}

static void acct_free(acct_t *a)
{
    while (a) {
        acct_t *n = a->next;
        free(a);
        a = n;
    }
}

void stream__cleanup(mqotad_t *d)
{
    if (!d->streams) return;
    stream__persist(d, mqh_now_ms(), true);
    /* Members leave (and the last frees its stream) when transfer.c frees them. */
    acct_free(d->streams->deployments);
    acct_free(d->streams->releases);
    free(d->streams);
    d->streams = NULL;
}

/* The counter of id in list, created at zero. NULL when out of memory. */
static acct_t *acct_get(acct_t **list, int64_t id)
{
    for (acct_t *a = *list; a; a = a->next)
        if (a->id == id) return a;
    acct_t *a = calloc(1, sizeof(*a));
    if (!a) return NULL;
    a->id = id;
    a->next = *list;
    *list = a;
    return a;
}

/* Milliseconds from then to now; 0 if then is later (the loop's "now" is taken before the
 * ACKs of the same turn are handled, which use their own). */
static uint64_t elapsed(uint64_t now_ms, uint64_t then_ms)
{
    return now_ms > then_ms ? now_ms - then_ms : 0;
}

static bool acked(const transfer_t *t, uint32_t i) { return (t->flags[i] & CHUNK_ACKED) != 0; }

/* Whether member t paces the stream: neither demoted nor on probation. */
static bool pacing(const transfer_t *t) { return !t->stream_slow && !t->stream_late; }

/* How long after a stream send a member on probation may still lack it and be judged to keep
 * up: the paced group's median ACK lag, plus that lag again and at least SLOW_LAG_MIN_MS (the
 * point where is_lagging counts a paced member's slot as lagging). */
static uint64_t keep_up_ms(const stream_t *s)
{
    uint64_t lag = s->lag_ms;
    return lag + (lag < SLOW_LAG_MIN_MS ? SLOW_LAG_MIN_MS : lag);
}

/* Judged by the estimator's RTO (rto_est), not by rto, which doubles at every timeout of a
 * silent device: a frozen device (TCP still open, no ACKs) would otherwise stay live for
 * about 30 s while its growing rto became the stream RTO and held the whole wave (measured:
 * 18 LTE devices took 57 s instead of 9 s beside 2 frozen ones). */
static bool is_stalled(const transfer_t *t, uint64_t now_ms)
{
    return t->paused || transfer__silent_ms(t, now_ms) > (uint64_t)STALL_RTOS * t->rto_est;
}

static void slot_uncount(stream_t *s, transfer_t *t, uint32_t r);

/*
 * Whether member t holds the stream's window for its slow link: it is still counted in at
 * least half the window's in-flight sends that half their counted members acknowledged, each
 * for longer than those ACKs took after the send and at least SLOW_LAG_MIN_MS: the member is
 * more than one round trip of the paced group's median member behind. One lost chunk (one
 * slot, repaired by unicast) does not make a member slow; a link slower than the stream's
 * pace holds every slot of the window. A faster minority (or one device acknowledging at
 * once) does not make the others slow: they are the median.
 */
static bool is_lagging(const stream_t *s, const transfer_t *t, uint64_t now_ms)
{
    uint32_t lagging = 0, need = (s->window + 1u) / 2u;
    for (uint64_t m = t->stream_mask; m; m &= m - 1) {
        const inflight_t *f = &s->slot[__builtin_ctzll(m)];
        if (!f->used || !f->half_ack_ms) continue;
        uint64_t lag = elapsed(f->half_ack_ms, f->sent_ms);
        if (lag < SLOW_LAG_MIN_MS) lag = SLOW_LAG_MIN_MS;
        if (elapsed(now_ms, f->half_ack_ms) >= lag && ++lagging >= need) return true;
    }
    return false;
}

/* Whether demoted member t has caught up with the stream: it lacks no chunk the stream sent
 * more than PROMOTE_LAG_MS ago. */
static bool caught_up(const stream_t *s, const transfer_t *t, uint64_t now_ms)
{
    for (uint32_t i = 0; i < s->chunk_count; i++)
        if (s->sent_ms[i] && !acked(t, i) && elapsed(now_ms, s->sent_ms[i]) >= PROMOTE_LAG_MS)
            return false;
    return true;
}

/*
 * Demote member t (paced or on probation): it keeps receiving the stream but no longer paces
 * it, leaves every in-flight slot (the window it held frees at once), and its own engine is
 * kicked to serve it by its unicast window (stream__repair_only is false for it). The log line
 * says how many in-flight sends it held: none for a late joiner judged on probation.
 */
static void demote(mqotad_t *d, stream_t *s, transfer_t *t, uint64_t now_ms)
{
    uint32_t held = (uint32_t)__builtin_popcountll(t->stream_mask);
    if (t->stream_late) {
        t->stream_late = false;
        s->probation--;
    }
    t->stream_slow = true;
    s->demoted++;
    /* no promotion check for PROMOTE_CHECK_MS: on a young stream a member just demoted lacks
     * nothing sent PROMOTE_LAG_MS ago and would be paced again at once */
    s->promote_check_ms = now_ms;
    mqh_log(MQH_INFO, "%s is slower than the stream of release %lld (%u of %u chunks written, "
            "%u of the window's sends held): served at its own pace by unicast",
            t->target.device_id, (long long)s->release_id, t->acked_count, s->chunk_count, held);
    for (uint32_t r = 0; r < STREAM_MAX_WINDOW; r++)
        if (t->stream_mask & ((uint64_t)1u << r)) slot_uncount(s, t, r);
    transfer__pump(d, t, now_ms);
}

/*
 * Demote the members that hold a full window for their slow link (is_lagging, checked every
 * SLOW_CHECK_MS) and the members on probation whose first stream send since they joined is
 * older than keep_up_ms (checked as often, while any member is on probation), and pace again
 * the demoted ones that caught up (checked every PROMOTE_CHECK_MS). Not at every ACK: with
 * thousands of members that scan would cost more than the stream itself.
 */
static void pace_classes(mqotad_t *d, stream_t *s, uint64_t now_ms)
{
    bool full = s->started && s->inflight >= s->window &&
                elapsed(now_ms, s->slow_check_ms) >= SLOW_CHECK_MS;
    bool probe = s->probation && elapsed(now_ms, s->probe_check_ms) >= SLOW_CHECK_MS;
    bool check = elapsed(now_ms, s->promote_check_ms) >= PROMOTE_CHECK_MS;
    if (full) s->slow_check_ms = now_ms;
    if (probe) s->probe_check_ms = now_ms;
    if (check) s->promote_check_ms = now_ms;
    if (!full && !probe && !check) return;
    for (size_t k = 0; k < s->n_members; k++) {
        transfer_t *t = s->members[k];
        if (s->stalled[k]) continue;
        if (t->stream_late) {
            if (probe && t->stream_probe_ms &&
                elapsed(now_ms, t->stream_probe_ms) >= keep_up_ms(s))
                demote(d, s, t, now_ms);
        } else if (!t->stream_slow && full && t->stream_mask && is_lagging(s, t, now_ms)) {
            demote(d, s, t, now_ms);
        } else if (t->stream_slow && check && caught_up(s, t, now_ms)) {
            t->stream_slow = false;
            mqh_log(MQH_INFO, "%s caught up with the stream of release %lld: paced by it again",
                    t->target.device_id, (long long)s->release_id);
            s->kick = true;
        }
    }
}

/* Refresh the members' stalled flags, the slow members (pace_classes) and the live and paced
 * counts; returns the stream RTO, taken from the paced members. When the stream stops sending,
 * its members' engines are kicked to serve them by unicast. */
static uint32_t refresh(mqotad_t *d, stream_t *s, uint64_t now_ms)
{
    uint32_t rto = STREAM_RTO_MIN_MS, live = 0, paced = 0, win = d->stream_window;
    for (size_t k = 0; k < s->n_members; k++) s->stalled[k] = is_stalled(s->members[k], now_ms);
    pace_classes(d, s, now_ms);
    for (size_t k = 0; k < s->n_members; k++) {
        transfer_t *t = s->members[k];
        if (s->stalled[k]) continue;
        live++;
        if (!pacing(t)) continue;
        paced++;
        if (t->rto_est > rto) rto = t->rto_est;
        /* No more unconfirmed than a device accepts in flight: what a dropped connection
         * loses, and unicast repairs later, stays within one device window (§11). */
        uint32_t w = t->dev_window < t->window ? t->dev_window : t->window;
        if (w && w < win) win = w;
    }
    s->window = win ? win : 1;
    bool was = s->streaming;
    s->live = live;
    s->paced = paced;
    /* Demoted members still take the stream's sends: it keeps sending while one member paces
     * it and another listens. */
    s->streaming = !s->started || (live >= 2 && paced >= 1);
    if (was && !s->streaming) {
        mqh_log(MQH_DEBUG, "stream of release %lld quiet: %u live member(s) of %zu, %u paced",
                (long long)s->release_id, live, s->n_members, paced);
        for (size_t k = 0; k < s->n_members; k++)
            if (!s->members[k]->paused) transfer__pump(d, s->members[k], now_ms);
    } else if (!was && s->streaming) {
        s->kick = true;
    }
    return rto;
}

/* Free in-flight slot r; members still counted in it stop being counted. */
static void slot_release(stream_t *s, uint32_t r)
{
    uint64_t bit = (uint64_t)1u << r;
    if (s->slot[r].lack) {
        for (size_t k = 0; k < s->n_members; k++) s->members[k]->stream_mask &= ~bit;
    }
    s->slot[r].used = false;
    s->slot[r].lack = 0;
    s->slot[r].half_ack_ms = 0;
    s->inflight--;
    s->kick = true;
}

/* Member t no longer lacks what slot r sent (it acked it, or it leaves or is demoted). */
static void slot_uncount(stream_t *s, transfer_t *t, uint32_t r)
{
    t->stream_mask &= ~((uint64_t)1u << r);
    if (s->slot[r].used && s->slot[r].lack && --s->slot[r].lack == 0) slot_release(s, r);
}

static void stream_free(mqotad_t *d, stream_t *s)
{
    for (stream_t **pp = &d->streams->list; *pp; pp = &(*pp)->next) {
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    }
    acct_t *rel = acct_get(&d->streams->releases, s->release_id);
    mqh_log(MQH_INFO, "stream of release %lld on %s stopped: %u chunk(s) of %u bytes published "
            "(%lld bytes, %u wrap(s) of the cursor, %u late joiner(s) on probation, %u slow "
            "member(s) demoted) in %llu ms; %lld stream bytes for this release since start",
            (long long)s->release_id, s->topic, s->sends, s->chunk_size,
            (long long)s->bytes_sent, s->cycle, s->late, s->demoted,
            (unsigned long long)(mqh_now_ms() - s->created_ms),
            rel ? (long long)rel->total : -1LL);
    free(s->members);
    free(s->stalled);
    free(s->have);
    free(s->sent_ms);
    free(s);
}

int stream__topic(mqotad_t *d, int64_t release_id, uint8_t encoding, int64_t base_release_id,
                  char *buf, size_t cap)
{
    if (encoding == MQOTA_ENCODING_NONE) {
        snprintf(buf, cap, MQOTAD_STREAM_PREFIX "%lld", (long long)release_id);
        return 0;
    }
    if (!MQOTA_ENCODING_IS_DELTA(encoding)) {
        snprintf(buf, cap, MQOTAD_STREAM_PREFIX "%lld/%u", (long long)release_id,
                 (unsigned)encoding);
        return 0;
    }
    db_release_t *b = malloc(sizeof(*b));
    int rc = b && db__release_get(d->db, base_release_id, b) == 0 ? 0 : -1;
    if (rc == 0)
        snprintf(buf, cap, MQOTAD_STREAM_PREFIX "%lld/%u/%.8s", (long long)release_id,
                 (unsigned)encoding, b->sha256);
    free(b);
    return rc;
}

static stream_t *stream_create(mqotad_t *d, const transfer_t *t, uint64_t now_ms)
{
    stream_t *s = calloc(1, sizeof(*s));
    if (!s) return NULL;
    s->release_id = t->target.release_id;
    s->encoding = t->img->encoding;
    s->base_release_id = t->img->base_release_id;
    s->chunk_size = t->chunk_size;
    s->chunk_count = t->chunk_count;
    if (stream__topic(d, s->release_id, s->encoding, s->base_release_id, s->topic,
                      sizeof(s->topic)) != 0) {
        mqh_log(MQH_ERROR, "stream of release %lld: cannot read its delta's base, release "
                "%lld; its members are served by unicast", (long long)s->release_id,
                (long long)s->base_release_id);
        free(s);
        return NULL;
    }
    s->have = calloc(s->chunk_count, sizeof(*s->have));
    s->sent_ms = calloc(s->chunk_count, sizeof(*s->sent_ms));
    if (!s->have || !s->sent_ms) {
        free(s->have);
        free(s->sent_ms);
        free(s);
        return NULL;
    }
    s->created_ms = now_ms;
    s->next = d->streams->list;
    d->streams->list = s;
    mqh_log(MQH_INFO, "stream of release %lld started on %s: %u chunks of %u bytes",
            (long long)s->release_id, s->topic, s->chunk_count, s->chunk_size);
    return s;
}

void stream__join(mqotad_t *d, transfer_t *t, uint64_t now_ms)
{
    if (t->stream || !(t->target.offer_flags & MQOTA_OFFER_FLAG_STREAM)) return;
    stream_t *s = d->streams->list;
    while (s && (s->release_id != t->target.release_id || s->encoding != t->img->encoding ||
                 s->base_release_id != t->img->base_release_id))
        s = s->next;
    if (s && (s->chunk_size != t->chunk_size || s->chunk_count != t->chunk_count)) {
        /* Offered by an mqotad with another --chunk-size: it cannot share these messages. */
        mqh_log(MQH_DEBUG, "%s: chunk size %u differs from the stream's %u; unicast only",
                t->target.device_id, t->chunk_size, s->chunk_size);
        return;
    }
    if (!s && !(s = stream_create(d, t, now_ms))) return;
    if (s->n_members == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        transfer_t **m = realloc(s->members, cap * sizeof(*m));
        if (m) s->members = m;
        bool *st = m ? realloc(s->stalled, cap * sizeof(*st)) : NULL;
        if (st) s->stalled = st;
        if (!m || !st) {
            if (s->n_members == 0) stream_free(d, s);
            return;
        }
        s->cap = cap;
    }
    t->stream = s;
    t->stream_slot = s->n_members;
    t->stream_mask = 0;
    t->stream_slow = false;
    t->stream_probe_ms = 0;
    s->members[s->n_members] = t;
    s->stalled[s->n_members] = false;
    s->n_members++;
    uint32_t missed = 0; /* chunks the stream sent before t joined that t lacks */
    for (uint32_t i = 0; i < s->chunk_count; i++) {
        if (acked(t, i)) s->have[i]++;
        else if (s->sent_ms[i]) missed++;
    }
    t->stream_late = s->started && missed > 0;
    s->kick = true;
    s->last_join_ms = now_ms;
    mqh_log(MQH_DEBUG, "%s joined the stream of release %lld (%zu members, cursor %u, cycle "
            "%u)", t->target.device_id, (long long)s->release_id, s->n_members, s->cursor,
            s->cycle);
    if (t->stream_late) {
        s->probation++;
        s->late++;
        mqh_log(MQH_INFO, "%s joined the stream of release %lld late (%u chunk(s) sent before "
                "lacked): not pacing it until a stream send shows it keeps up",
                t->target.device_id, (long long)s->release_id, missed);
    }
    refresh(d, s, now_ms);
}

void stream__leave(mqotad_t *d, transfer_t *t)
{
    stream_t *s = t->stream;
    if (!s) return;
    for (uint32_t r = 0; r < STREAM_MAX_WINDOW; r++)
        if (t->stream_mask & ((uint64_t)1u << r)) slot_uncount(s, t, r);
    for (uint32_t i = 0; i < s->chunk_count; i++)
        if (acked(t, i) && s->have[i]) s->have[i]--;
    if (t->stream_late) s->probation--;
    size_t k = t->stream_slot, last = s->n_members - 1;
    s->members[k] = s->members[last];
    s->stalled[k] = s->stalled[last];
    s->members[k]->stream_slot = k;
    s->n_members--;
    t->stream = NULL;
    t->stream_mask = 0;
    t->stream_slow = false;
    t->stream_late = false;
    if (s->n_members == 0) {
        stream_free(d, s);
        return;
    }
    s->kick = true;
    refresh(d, s, mqh_now_ms());
}

void stream__chunk_acked(transfer_t *t, uint32_t i, bool now_acked)
{
    stream_t *s = t->stream;
    if (!s || i >= s->chunk_count) return;
    if (!now_acked) {
        if (s->have[i]) s->have[i]--;
        return;
    }
    s->have[i]++;
    if (t->stream_late && t->stream_probe_ms && i == t->stream_probe) {
        /* on probation: its first stream send since it joined, acknowledged in time, makes it
         * paced from now on (a late answer leaves it to pace_classes, which demotes it) */
        uint64_t took = elapsed(mqh_now_ms(), t->stream_probe_ms), limit = keep_up_ms(s);
        if (took < limit) {
            t->stream_late = false;
            s->probation--;
            s->kick = true;
            mqh_log(MQH_INFO, "%s keeps up with the stream of release %lld (its first send "
                    "acknowledged after %llu ms, under %llu): paced by it",
                    t->target.device_id, (long long)s->release_id, (unsigned long long)took,
                    (unsigned long long)limit);
        }
    }
    for (uint64_t m = t->stream_mask; m; m &= m - 1) {
        uint32_t r = (uint32_t)__builtin_ctzll(m);
        if (s->slot[r].index != i) continue;
        inflight_t *f = &s->slot[r];
        if (!f->half_ack_ms && ++f->acks * 2u >= f->counted) {
            f->half_ack_ms = mqh_now_ms();
            s->lag_ms = (uint32_t)elapsed(f->half_ack_ms, f->sent_ms);
        }
        slot_uncount(s, t, r);
    }
}

bool stream__repair_only(const transfer_t *t)
{
    return t->stream && t->stream->streaming && !t->stream_slow;
}

/* Whether a paced member lacks chunk i (stalled flags fresh). */
static bool live_lacker(const stream_t *s, uint32_t i)
{
    for (size_t k = 0; k < s->n_members; k++)
        if (!s->stalled[k] && pacing(s->members[k]) && !acked(s->members[k], i))
            return true;
    return false;
}

/*
 * The next chunk to send from the cursor: one that a live member lacks and that the stream
 * has not sent within the last rto (it is still on its way). False if there is none.
 */
static bool pick(const stream_t *s, uint64_t now_ms, uint32_t rto, uint32_t *out)
{
    uint32_t i = s->cursor;
    for (uint32_t k = 0; k < s->chunk_count; k++, i = i + 1 == s->chunk_count ? 0 : i + 1) {
        if (s->have[i] >= s->n_members) continue;
        if (s->sent_ms[i] && elapsed(now_ms, s->sent_ms[i]) < rto) continue;
        if (!live_lacker(s, i)) continue;
        *out = i;
        return true;
    }
    return false;
}

/* Count len once per send for deployment_id (a one-entry cache serves the usual stream
 * whose members all belong to one deployment). */
static void account(mqotad_t *d, int64_t deployment_id, uint32_t len, acct_t **cache)
{
    acct_t *a = *cache && (*cache)->id == deployment_id
                    ? *cache
                    : acct_get(&d->streams->deployments, deployment_id);
    if (!a) return;
    *cache = a;
    if (a->seq == d->streams->seq) return;
    a->seq = d->streams->seq;
    a->total += len;
    a->unflushed += len;
}

/* Publish chunk i on the stream and record it in every member that lacks it. -1 if the MQTT
 * client would not take it. */
static int send_one(mqotad_t *d, stream_t *s, uint32_t i, uint64_t now_ms)
{
    const transfer_t *first = s->members[0];
    uint32_t len = 0;
    const uint8_t *data = transfer__chunk_wire(first, i, &len);
    uint8_t *buf = d->streams->buf;
    if (mqota_chunk_encode_header((uint32_t)s->release_id, i, data, len, buf,
                                  MQOTA_CHUNK_HEADER_LEN) != MQOTA_OK)
        return -1;
    memcpy(buf + MQOTA_CHUNK_HEADER_LEN, data, len);
    if (mqtt__publish(d, s->topic, buf, MQOTA_CHUNK_HEADER_LEN + len, 0, false) != 0)
        return -1;

    /* A free slot exists: inflight < window <= STREAM_MAX_WINDOW. */
    uint32_t r = 0;
    while (s->slot[r].used) r++;
    uint64_t bit = (uint64_t)1u << r;
    uint32_t lack = 0;
    acct_t *cache = NULL;
    d->streams->seq++;
    for (size_t k = 0; k < s->n_members; k++) {
        transfer_t *t = s->members[k];
        if (acked(t, i)) continue;
        /* A device whose last will said it is offline cannot get this publish (QoS 0): it
         * is not recorded as sent, so it waits for the next cycle, not for a repair. */
        if (t->paused) continue;
        transfer__mark_sent(t, i, now_ms);
        account(d, t->target.deployment_id, len, &cache);
        if (t->stream_late && !t->stream_probe_ms) {
            t->stream_probe = i; /* its first send since it joined: judged by its ACK */
            t->stream_probe_ms = now_ms;
        }
        if (!s->stalled[k] && pacing(t)) {
            t->stream_mask |= bit;
            lack++;
        }
    }
    if (lack) {
        s->slot[r] = (inflight_t){
            .index = i, .lack = lack, .counted = lack, .sent_ms = now_ms, .used = true};
        /* half_ack_ms 0: set by the ACK of half the counted members (is_lagging) */
        s->inflight++;
    }
    metrics__chunk(d, METRICS_STREAM, len, s->sent_ms[i] != 0);
    s->sent_ms[i] = now_ms;
    if (i < s->cursor) s->cycle++;
    s->cursor = i + 1;
    if (s->cursor >= s->chunk_count) {
        s->cursor = 0;
        s->cycle++;
    }
    s->bytes_sent += len;
    s->sends++;
    acct_t *rel = acct_get(&d->streams->releases, s->release_id);
    if (rel) rel->total += len;
    return 0;
}

/* Expire old in-flight sends, then send while the window allows. */
static void pump(mqotad_t *d, stream_t *s, uint64_t now_ms)
{
    uint32_t rto = refresh(d, s, now_ms);
    if (!s->started) {
        /* Devices accept an offer (and subscribe) over some time: a stream that sent at the
         * first ACK would send its first window before most members listen. */
        if (elapsed(now_ms, s->last_join_ms) < GATHER_QUIET_MS &&
            elapsed(now_ms, s->created_ms) < GATHER_MAX_MS)
            return;
        s->started = true;
        mqh_log(MQH_INFO, "stream of release %lld sending to %zu member(s)",
                (long long)s->release_id, s->n_members);
        rto = refresh(d, s, now_ms);
    }
    for (uint32_t r = 0; r < STREAM_MAX_WINDOW; r++)
        if (s->slot[r].used && elapsed(now_ms, s->slot[r].sent_ms) >= rto) slot_release(s, r);
    if (!s->streaming || s->inflight >= s->window) return;
    if (!s->kick && now_ms < s->idle_until_ms) return;
    s->kick = false;
    while (s->inflight < s->window) {
        uint32_t i;
        if (!pick(s, now_ms, rto, &i)) {
            s->idle_until_ms = now_ms + RESCAN_MS;
            break;
        }
        if (send_one(d, s, i, now_ms) != 0) {
            s->idle_until_ms = now_ms + RESCAN_MS; /* not connected: try again later */
            break;
        }
    }
}

void stream__after_ack(mqotad_t *d, transfer_t *t, uint64_t now_ms)
{
    if (t->stream) pump(d, t->stream, now_ms);
}

void stream__tick(mqotad_t *d, uint64_t now_ms)
{
    for (stream_t *s = d->streams->list; s; s = s->next) pump(d, s, now_ms);
}

void stream__persist(mqotad_t *d, uint64_t now_ms, bool force)
{
    struct streams *ss = d->streams;
    if (!force && elapsed(now_ms, ss->last_persist_ms) < PERSIST_EVERY_MS) return;
    ss->last_persist_ms = now_ms;
    size_t n = 0;
    for (acct_t *a = ss->deployments; a; a = a->next) n += a->unflushed != 0;
    if (n) {
        /* Policy stores them (transfer_events_t); on failure they are kept in memory and
         * added again next time. */
        const transfer_events_t *ev = transfer__events(d);
        int64_t *ids = malloc(2 * n * sizeof(*ids)), *bytes = ids ? ids + n : NULL;
        size_t k = 0;
        for (acct_t *a = ss->deployments; ids && a; a = a->next) {
            if (!a->unflushed) continue;
            ids[k] = a->id;
            bytes[k++] = a->unflushed;
        }
        int rc = ids && ev->save_stream_bytes ? ev->save_stream_bytes(d, ids, bytes, n) : -1;
        free(ids);
        if (rc != 0) return;
    }
    /* Stored: clear the deltas; a deployment no stream serves any more needs no counter. */
    for (acct_t **pp = &ss->deployments; *pp;) {
        acct_t *a = *pp;
        a->unflushed = 0;
        bool served = false;
        for (stream_t *s = ss->list; s && !served; s = s->next)
            for (size_t k = 0; k < s->n_members && !served; k++)
                served = s->members[k]->target.deployment_id == a->id;
        if (!served) {
            *pp = a->next;
            free(a);
        } else {
            pp = &a->next;
        }
    }
}

int64_t stream__unflushed_bytes(mqotad_t *d, int64_t deployment_id)
{
    for (acct_t *a = d->streams->deployments; a; a = a->next)
        if (a->id == deployment_id) return a->unflushed;
    return 0;
}

int stream__count(mqotad_t *d)
{
    int n = 0;
    for (stream_t *s = d->streams->list; s; s = s->next) n++;
    return n;
}
