/* SPDX-License-Identifier: Apache-2.0 */
/*
 * deploy.c - deployments and their targets.
 *
 * A deployment sends one release to a set of devices. Each (deployment, device) pair is a
 * target: pending (offer published), active (the device answers), then succeeded, failed or
 * superseded (a newer deployment took the device). The device's retained STATE messages
 * drive the transitions; the transfer engine only moves bytes.
 *
 * This is policy: it calls the transfer engine (transfer__drop_device) and owns every target
 * transition; the engine never calls back here except through the transfer_events_t that
 * deploy__init() registers, which only stores counters.
 */
#include "deploy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqota/mqota_image.h"
#include "mqota/mqota_status.h"
#include "clock.h"
#include "legacy.h"
#include "delta_form.h"
#include "release.h"
#include "rollout.h"
#include "transfer.h"

/* Largest power of two <= v (v >= 1). */
static uint32_t pow2_floor(uint32_t v)
{
    uint32_t p = 1;
    while (p <= v / 2u) p <<= 1;
    return p;
}

/*
 * Chunk size for messages on topic to a receiver accepting at most max_chunk (0: no limit):
 * the smaller of --chunk-size and max_chunk, a power of two >= 256 whose CHUNK message fits
 * the broker's packet limit, then raised until the image needs at most 4096 chunks (the
 * device's bitmap limit wins over the other limits).
 */
static uint32_t chunk_size_for(mqotad_t *d, uint32_t max_chunk, const char *topic,
                               uint32_t image_size)
{
    uint32_t cs = d->chunk_size;
    if (max_chunk && max_chunk < cs) cs = max_chunk;
    cs = pow2_floor(cs ? cs : MQOTA_CHUNK_MIN);
    if (cs < MQOTA_CHUNK_MIN) cs = MQOTA_CHUNK_MIN;
    if (cs > MQOTA_CHUNK_MAX) cs = MQOTA_CHUNK_MAX;
    uint32_t maxp = mqtt__max_payload(d, topic);
    while (cs > MQOTA_CHUNK_MIN && MQOTA_CHUNK_HEADER_LEN + cs > maxp) cs >>= 1;
    while (cs < MQOTA_CHUNK_MAX && (image_size + cs - 1u) / cs > MQOTAD_MAX_CHUNKS) cs <<= 1;
    return cs;
}

/* Chunk size for one device's own chunk topic. */
static uint32_t choose_chunk_size(mqotad_t *d, const db_device_t *dev, uint32_t image_size)
{
    char topic[DB_ID_MAX + 32];
    snprintf(topic, sizeof(topic), MQOTAD_TOPIC_PREFIX "%s/chunk", dev->id);
    return chunk_size_for(d, dev->max_chunk, topic, image_size);
}

/* The release-wide chunk size every member of the release's stream uses: what
 * choose_chunk_size gives a device with the default limits, on the stream topic. */
static uint32_t stream_chunk_size(mqotad_t *d, int64_t release_id, uint32_t image_size)
{
    char topic[64];
    snprintf(topic, sizeof(topic), MQOTAD_STREAM_PREFIX "%lld", (long long)release_id);
    return chunk_size_for(d, 0, topic, image_size);
}

/* Whether a device can follow the stream: it accepts the stream's chunk size. */
static bool can_stream(const db_device_t *dev, uint32_t stream_cs)
{
    return dev->protocol == DB_PROTO_MQOTA && (!dev->max_chunk || dev->max_chunk >= stream_cs);
}

static uint32_t choose_window(mqotad_t *d, const db_device_t *dev)
{
    uint32_t w = d->window;
    if (dev->max_window && dev->max_window < w) w = dev->max_window;
    if (w > 0xFFFFu) w = 0xFFFFu;
    return w ? w : 1;
}

/* ---- the form of the image each target gets (docs/PROTOCOL.md §6.1) ---- */

/* Image bytes per chunk tried first for a compressed form: with a 32 KiB window, sync points
 * every 16 KiB reach gzip -9 (docs/PERFORMANCE.md); smaller sizes are tried when a device's
 * max_chunk cannot take the largest compressed chunk. */
#define FORM_CHUNK_FIRST 16384u
#define FORM_MEMO_MAX 16u

/* The forms one deployment looked at, so that each is read or built once per deployment. */
typedef struct {
    struct {
        uint8_t encoding, window_bits;
        uint32_t chunk_size, wire_size, max_chunk;
        bool ok;
    } e[FORM_MEMO_MAX];
    size_t n;
    uint8_t *image; /* the release's image, read on the first form not cached yet */
} form_memo_t;

/* Size of the compressed form (encoding, window_bits, chunk_size) of release r: its total
 * wire bytes and its largest chunk. Built and cached by release__form() the first time.
 * false if it cannot be had (logged there). */
static bool form_size(mqotad_t *d, const db_release_t *r, form_memo_t *m, uint8_t encoding,
                      uint8_t window_bits, uint32_t chunk_size, uint32_t *wire,
                      uint32_t *max_chunk)
{
    for (size_t i = 0; i < m->n; i++) {
        if (m->e[i].encoding == encoding && m->e[i].window_bits == window_bits &&
            m->e[i].chunk_size == chunk_size) {
            *wire = m->e[i].wire_size;
            *max_chunk = m->e[i].max_chunk;
            return m->e[i].ok;
        }
    }
    release_form_t f;
    int rc = release__form(d, r, NULL, encoding, window_bits, chunk_size, &f);
    if (rc == 1) {
        if (!m->image) {
            FILE *fh = fopen(r->path, "rb");
            m->image = malloc(r->size ? r->size : 1);
            if (!fh || !m->image || fread(m->image, 1, r->size, fh) != r->size) {
                mqh_log(MQH_ERROR, "cannot read release %lld from %s to compress it",
                        (long long)r->id, r->path);
                free(m->image);
                m->image = NULL;
            }
            if (fh) fclose(fh);
        }
        rc = m->image ? release__form(d, r, m->image, encoding, window_bits, chunk_size, &f)
                      : -1;
    }
    *wire = rc == 0 ? f.wire_size : 0;
    *max_chunk = rc == 0 ? f.max_chunk : 0;
    if (rc == 0) release__form_free(&f);
    if (m->n < FORM_MEMO_MAX) {
        m->e[m->n].encoding = encoding;
        m->e[m->n].window_bits = window_bits;
        m->e[m->n].chunk_size = chunk_size;
        m->e[m->n].wire_size = *wire;
        m->e[m->n].max_chunk = *max_chunk;
        m->e[m->n].ok = rc == 0;
        m->n++;
    }
    return rc == 0;
}

/*
 * Choose the form of t's offer: the image as is (t->chunk_size already set, wire_size the
 * image's size), or a compressed form when the device inflates (MQOTA_CAP_DEFLATE) and the
 * form is smaller. A stream member (stream_cs != 0) takes deflate-full at the stream's chunk
 * size, the same form for every member; a unicast target deflate-sync with the device's window
 * at the largest chunk size from FORM_CHUNK_FIRST down whose largest compressed chunk fits what
 * the device (max_chunk) and the broker take in one CHUNK message.
 */
static void choose_plain_form(mqotad_t *d, const db_release_t *r, const db_device_t *dev,
                              uint32_t stream_cs, form_memo_t *m, db_target_t *t)
{
    uint32_t wire = 0, max_chunk = 0;
    t->base_release_id = 0;
    t->encoding = MQOTA_ENCODING_NONE;
    t->window_bits = 0;
    t->wire_size = r->size;
    if (!(dev->caps & MQOTA_CAP_DEFLATE) || dev->deflate_window < MQOTA_WINDOW_BITS_MIN) return;
    uint8_t wb = dev->deflate_window > MQOTA_WINDOW_BITS_MAX ? (uint8_t)MQOTA_WINDOW_BITS_MAX
                                                             : dev->deflate_window;
    if (stream_cs) {
        if (form_size(d, r, m, MQOTA_ENCODING_DEFLATE_FULL, MQOTA_WINDOW_BITS_MAX, stream_cs,
                      &wire, &max_chunk) &&
            max_chunk <= stream_cs && wire < r->size) {
            t->encoding = MQOTA_ENCODING_DEFLATE_FULL;
            t->window_bits = MQOTA_WINDOW_BITS_MAX;
            t->wire_size = wire;
        }
        return;
    }
    /* a compressed CHUNK may carry up to what the device and the broker take in one message */
    char topic[DB_ID_MAX + 32];
    snprintf(topic, sizeof(topic), MQOTAD_TOPIC_PREFIX "%s/chunk", dev->id);
    uint32_t limit = dev->max_chunk ? dev->max_chunk : MQOTA_CHUNK_MAX;
    uint32_t maxp = mqtt__max_payload(d, topic);
    if (maxp < MQOTA_CHUNK_HEADER_LEN + limit)
        limit = maxp > MQOTA_CHUNK_HEADER_LEN ? maxp - MQOTA_CHUNK_HEADER_LEN : 0;
    for (uint32_t cs = FORM_CHUNK_FIRST; cs >= MQOTA_CHUNK_MIN; cs >>= 1) {
        if ((r->size + cs - 1u) / cs > MQOTAD_MAX_CHUNKS) break;
        if (!form_size(d, r, m, MQOTA_ENCODING_DEFLATE_SYNC, wb, cs, &wire, &max_chunk)) return;
        if (max_chunk <= limit) {
            if (wire < r->size) {
                t->encoding = MQOTA_ENCODING_DEFLATE_SYNC;
                t->window_bits = wb;
                t->chunk_size = cs;
                t->wire_size = wire;
            }
            return;
        }
    }
}

/*
 * Choose the form of t's offer as choose_plain_form() does, then, for a unicast target whose
 * device applies deltas (MQOTA_CAP_DELTA) and runs a release mqotad holds for the same chip,
 * the delta from that release (delta-sync, the device's window; docs/PROTOCOL.md §18) at the
 * largest chunk size from FORM_CHUNK_FIRST down whose largest wire chunk fits the device's
 * max_chunk and the broker's packet limit, when it is smaller than the plain form. bsdiff runs
 * once per pair, its records are cut once per chunk size, and all is cached (delta_form.c,
 * delta.c). A device that refuses the base gets choose_plain_form()'s form instead
 * (deploy__on_state()).
 */
static void choose_form(mqotad_t *d, const db_release_t *r, const db_device_t *dev,
                        uint32_t stream_cs, form_memo_t *m, db_target_t *t)
{
    choose_plain_form(d, r, dev, stream_cs, m, t);
    if (stream_cs || !(dev->caps & MQOTA_CAP_DELTA) ||
        dev->deflate_window < MQOTA_WINDOW_BITS_MIN || dev->running_release == 0 ||
        (int64_t)dev->running_release == r->id)
        return;
    db_release_t *b = malloc(sizeof(*b));
    if (!b) return;
    if (db__release_get(d->db, (int64_t)dev->running_release, b) != 0 || b->chip_id != r->chip_id) {
        free(b);
        return;
    }
    uint8_t wb = dev->deflate_window > MQOTA_WINDOW_BITS_MAX ? (uint8_t)MQOTA_WINDOW_BITS_MAX
                                                             : dev->deflate_window;
    /* a delta CHUNK may carry up to what the device and the broker take in one message, as a
     * compressed one (choose_plain_form()) */
    char topic[DB_ID_MAX + 32];
    snprintf(topic, sizeof(topic), MQOTAD_TOPIC_PREFIX "%s/chunk", dev->id);
    uint32_t limit = dev->max_chunk ? dev->max_chunk : MQOTA_CHUNK_MAX;
    uint32_t maxp = mqtt__max_payload(d, topic);
    if (maxp < MQOTA_CHUNK_HEADER_LEN + limit)
        limit = maxp > MQOTA_CHUNK_HEADER_LEN ? maxp - MQOTA_CHUNK_HEADER_LEN : 0;
    for (uint32_t cs = FORM_CHUNK_FIRST; cs >= MQOTA_CHUNK_MIN; cs >>= 1) {
        if ((r->size + cs - 1u) / cs > MQOTAD_MAX_CHUNKS) break;
        release_form_t f;
        if (delta__form(d, b, r, MQOTA_ENCODING_DELTA_SYNC, wb, cs, &f) != 0) break;
        uint32_t wire = f.wire_size, max_chunk = f.max_chunk;
        release__form_free(&f);
        if (max_chunk <= limit) {
            if (wire < t->wire_size) {
                t->encoding = MQOTA_ENCODING_DELTA_SYNC;
                t->window_bits = wb;
                t->chunk_size = cs;
                t->wire_size = wire;
                t->base_release_id = b->id;
            }
            break;
        }
    }
    free(b);
}

/* Whether a device inflates the form a release's compressed stream carries: deflate-full with
 * the largest window (one form per stream topic, docs/PROTOCOL.md §13). */
static bool inflates_stream_form(const db_device_t *dev)
{
    return (dev->caps & MQOTA_CAP_DEFLATE) && dev->deflate_window >= MQOTA_WINDOW_BITS_MAX;
}

/* Whether the release's compressed stream form (deflate-full, largest window, the stream's
 * chunk size) is worth sending: every chunk fits a CHUNK of the stream's size and it is
 * smaller than the image. */
static bool stream_form_ok(mqotad_t *d, const db_release_t *r, form_memo_t *m,
                           uint32_t stream_cs)
{
    uint32_t wire = 0, max_chunk = 0;
    return form_size(d, r, m, MQOTA_ENCODING_DEFLATE_FULL, MQOTA_WINDOW_BITS_MAX, stream_cs,
                     &wire, &max_chunk) &&
           max_chunk <= stream_cs && wire < r->size;
}

/* The base a stream member's delta would start from: the release the device runs when it
 * applies deltas (MQOTA_CAP_DELTA) with the largest window, as a delta stream's deflate-full
 * chunks need, and runs another release than r; 0 if none. Whether mqotad holds that release
 * for r's chip is delta_stream_wire()'s to find out. */
static int64_t delta_stream_base(const db_release_t *r, const db_device_t *dev)
{
    if (!(dev->caps & MQOTA_CAP_DELTA) || !inflates_stream_form(dev) ||
        dev->running_release == 0 || (int64_t)dev->running_release == r->id)
        return 0;
    return (int64_t)dev->running_release;
}

/* Wire bytes of release r's delta-full form from release base_id at the stream's chunk size
 * (the form a delta stream carries, docs/PROTOCOL.md §13, §18), or 0 when it cannot be had
 * (no such release for r's chip, the delta fails) or is not worth it: a chunk larger than
 * the stream's chunk size, or not smaller than `alt`, what the members would get otherwise. */
static uint32_t delta_stream_wire(mqotad_t *d, const db_release_t *r, int64_t base_id,
                                  uint32_t stream_cs, uint32_t alt)
{
    uint32_t wire = 0;
    db_release_t *b = malloc(sizeof(*b));
    release_form_t f;
    if (b && db__release_get(d->db, base_id, b) == 0 && b->chip_id == r->chip_id &&
        b->kind != DB_RELEASE_FILES &&
        delta__form(d, b, r, MQOTA_ENCODING_DELTA_FULL, MQOTA_WINDOW_BITS_MAX, stream_cs,
                    &f) == 0) {
        if (f.max_chunk <= stream_cs && f.wire_size < alt) wire = f.wire_size;
        release__form_free(&f);
    }
    free(b);
    return wire;
}

/*
 * The delta streams of a deployment: the stream members (can_stream()) whose delta would start
 * from the same base (delta_stream_base()) and that are at least two share one stream of
 * delta-full from that base, when it is smaller than the image and the deflate-full stream
 * form. Fills base[i] (0: not on a delta stream) and wire[i] for each of the n devices.
 * Returns the number of devices put on delta streams.
 */
static size_t group_delta_streams(mqotad_t *d, const db_release_t *r, const db_device_t *devs,
                                  size_t n, uint32_t stream_cs, form_memo_t *m, int64_t *base,
                                  uint32_t *wire)
{
    size_t placed = 0;
    uint32_t alt = 0, fw = 0, fmax = 0; /* the smaller of the image and deflate-full's stream */
    for (size_t i = 0; i < n; i++)
        base[i] = d->multicast && can_stream(&devs[i], stream_cs) ? delta_stream_base(r, &devs[i])
                                                                  : 0;
    for (size_t i = 0; i < n; i++) {
        if (base[i] == 0 || wire[i] != 0) continue;
        size_t members = 0;
        for (size_t j = i; j < n; j++) members += base[j] == base[i];
        if (members >= 2 && alt == 0) { /* looked at once, and only when a group has two */
            alt = r->size;
            if (form_size(d, r, m, MQOTA_ENCODING_DEFLATE_FULL, MQOTA_WINDOW_BITS_MAX,
                          stream_cs, &fw, &fmax) && fmax <= stream_cs && fw < alt)
                alt = fw;
        }
        uint32_t w = members >= 2 ? delta_stream_wire(d, r, base[i], stream_cs, alt) : 0;
        int64_t b = base[i];
        for (size_t j = i; j < n; j++) {
            if (base[j] != b) continue;
            base[j] = w ? b : 0;
            wire[j] = w;
            placed += w != 0;
        }
        if (w) mqh_log(MQH_INFO, "release %lld: %zu devices running release %lld share a delta "
                       "stream (delta-full, %u bytes on the wire for %u of image)",
                       (long long)r->id, members, (long long)b, w, r->size);
    }
    return placed;
}

/* A bit of a target's stored offer_flags that never goes on the wire: the target is held and
 * its device lacks MQOTA_CAP_HOLD, so its offer is withheld until deploy__activate(). */
#define TARGET_FLAG_WITHHELD 0x80000000u

/* Publish (retained, QoS 1) the offer for one target. */
static int publish_offer(mqotad_t *d, const db_release_t *r, const db_target_t *t)
{
    mqota_offer_t o;
    if (t->offer_flags & TARGET_FLAG_WITHHELD) {
        mqh_log(MQH_INFO, "offer of release %lld to %s withheld until activated: the device "
                "does not announce hold support (MQOTA_CAP_HOLD)", (long long)r->id,
                t->device_id);
        return 0;
    }
    if (r->kind == DB_RELEASE_FILES) { /* checked at deployment; the device may have changed */
        db_device_t dev;
        if (db__device_get(d->db, t->device_id, &dev) != 0 || !deploy__fits(r, &dev)) {
            mqh_log(MQH_WARN, "offer of file release %lld to %s withheld: the device does not "
                    "announce MQOTA_CAP_FILES (any more)", (long long)r->id, t->device_id);
            return 0;
        }
    }
    if (legacy__find(d, t->device_id)) /* a legacy device: its protocol's adapter sends it */
        return legacy__start(d, t, r);
    memset(&o, 0, sizeof(o));
    o.release_id = (uint32_t)r->id;
    o.deployment_id = (uint32_t)t->deployment_id;
    o.image_size = r->size;
    o.chunk_size = t->chunk_size;
    o.window = (uint16_t)t->window;
    o.chip_id = r->chip_id;
    o.secure_version = r->secure_version;
    o.flags = t->offer_flags & ~TARGET_FLAG_WITHHELD;
    if (r->kind == DB_RELEASE_FILES) o.flags |= MQOTA_OFFER_FLAG_FILES;
    o.encoding = t->encoding;
    o.window_bits = t->window_bits;
    if (mqh_unhex(r->sha256, o.sha256, sizeof(o.sha256)) != 0) return -1;
    if (MQOTA_ENCODING_IS_DELTA(t->encoding)) { /* the base the delta applies to (§18) */
        db_release_t *b = malloc(sizeof(*b));
        int rc = b && db__release_get(d->db, t->base_release_id, b) == 0 &&
                         mqh_unhex(b->sha256, o.base_sha256, sizeof(o.base_sha256)) == 0
                     ? 0
                     : -1;
        if (rc == 0) o.base_size = b->size;
        free(b);
        if (rc != 0) {
            mqh_log(MQH_ERROR, "the base release %lld of %s's delta is gone: offer not sent",
                    (long long)t->base_release_id, t->device_id);
            return -1;
        }
    }
    snprintf(o.version, sizeof(o.version), "%s", r->version);
    snprintf(o.project, sizeof(o.project), "%s", r->project);
    if (r->has_sig) { /* the signed manifest's fields above, its block here (§5.1) */
        memcpy(o.sig, r->sig, sizeof(r->sig));
        o.sig_len = (uint16_t)sizeof(r->sig);
    }
    uint8_t buf[MQOTA_OFFER_MAX_LEN];
    size_t len = 0;
    mqota_status_t st = mqota_offer_encode(&o, buf, sizeof(buf), &len);
    if (st != MQOTA_OK) {
        mqh_log(MQH_ERROR, "cannot encode the offer for %s: %s", t->device_id,
                mqota_strerror(st));
        return -1;
    }
    char topic[DB_ID_MAX + 32];
    snprintf(topic, sizeof(topic), MQOTAD_TOPIC_PREFIX "%s/offer", t->device_id);
    if (mqtt__publish(d, topic, buf, len, 1, true) != 0) {
        mqh_log(MQH_WARN, "offer for %s not published now (broker not connected); it will be "
                "published after the reconnect", t->device_id);
        return -1;
    }
    mqh_log(MQH_INFO, "offered %srelease %lld (%s) to %s: chunk %u, window %u%s%s%s%s",
            r->kind == DB_RELEASE_FILES ? "file " : "", (long long)r->id, r->version,
            t->device_id, t->chunk_size, t->window,
            t->encoding == MQOTA_ENCODING_DEFLATE_SYNC   ? ", deflate-sync"
            : t->encoding == MQOTA_ENCODING_DEFLATE_FULL ? ", deflate-full"
            : t->encoding == MQOTA_ENCODING_DELTA_SYNC   ? ", delta-sync"
            : t->encoding == MQOTA_ENCODING_DELTA_FULL   ? ", delta-full"
                                                         : "",
            (t->offer_flags & MQOTA_OFFER_FLAG_STREAM) ? ", stream" : "",
            (t->offer_flags & MQOTA_OFFER_FLAG_HOLD) ? ", hold" : "",
            r->has_sig ? ", signed" : "");
    return 0;
}

/* Set a deployment finished once none of its targets is pending or active. */
static int maybe_finish_deployment(mqotad_t *d, int64_t deployment_id);

int deploy__maybe_finish(mqotad_t *d, int64_t deployment_id)
{
    return maybe_finish_deployment(d, deployment_id);
}

static int maybe_finish_deployment(mqotad_t *d, int64_t deployment_id)
{
    db_counts_t c;
    if (db__deployment_counts(d->db, deployment_id, &c) != 0) return -1;
    if (c.pending + c.active + c.ready > 0) return 0;
    /* a cancelled deployment ends cancelled once the targets it left to finish ended */
    deployment_state_t to = c.cancelled > 0 ? DEPLOYMENT_CANCELLED : DEPLOYMENT_FINISHED;
    mqh_log(MQH_INFO, "deployment %lld %s: %d succeeded, %d failed, %d superseded, "
            "%d cancelled", (long long)deployment_id, state__deployment_name(to), c.succeeded,
            c.failed, c.superseded, c.cancelled);
    return db__deployment_set_state(d->db, deployment_id, to);
}

typedef struct {
    db_target_t *items;
    size_t n, cap;
} target_vec_t;

static int collect_target(void *ctx, const db_target_t *t)
{
    target_vec_t *v = ctx;
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 8;
        db_target_t *p = realloc(v->items, cap * sizeof(*p));
        if (!p) return 1;
        v->items = p;
        v->cap = cap;
    }
    v->items[v->n++] = *t;
    return 0;
}

typedef struct {
    db_device_t *items;
    size_t n, cap;
    const db_release_t *r;
} device_vec_t;

static int push_device(device_vec_t *v, const db_device_t *dev)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 16;
        db_device_t *p = realloc(v->items, cap * sizeof(*p));
        if (!p) return -1;
        v->items = p;
        v->cap = cap;
    }
    v->items[v->n++] = *dev;
    return 0;
}

bool deploy__fits(const db_release_t *r, const db_device_t *dev)
{
    if (r->kind == DB_RELEASE_FILES) return (dev->caps & MQOTA_CAP_FILES) != 0;
    return dev->chip_id == r->chip_id;
}

static int collect_chip_device(void *ctx, const db_device_t *dev)
{
    device_vec_t *v = ctx;
    if (!deploy__fits(v->r, dev)) return 0;
    return push_device(v, dev) == 0 ? 0 : 1;
}

/* Supersede every unfinished target of a device (inside the caller's transaction). */
static int supersede(mqotad_t *d, const char *device_id, int64_t now)
{
    target_vec_t old = {0};
    int rc = db__target_unfinished_of_device(d->db, device_id, collect_target, &old);
    for (size_t i = 0; rc == 0 && i < old.n; i++) {
        db_target_t *t = &old.items[i];
        t->state = TARGET_SUPERSEDED;
        t->finished_at = now;
        rc = db__target_set_state(d->db, t);
        if (rc == 0) rc = maybe_finish_deployment(d, t->deployment_id);
        if (rc == 0)
            mqh_log(MQH_INFO, "target %s of deployment %lld superseded", device_id,
                    (long long)t->deployment_id);
    }
    free(old.items);
    return rc;
}

deploy_result_t deploy__create(mqotad_t *d, int64_t release_id, const char *const *devices,
                               size_t n_devices, bool all, db_deployment_t *out, char *err,
                               size_t err_cap)
{
    return deploy__create_opts(d, release_id, devices, n_devices, all, false, out, err, err_cap);
}

deploy_result_t deploy__create_opts(mqotad_t *d, int64_t release_id, const char *const *devices,
                                    size_t n_devices, bool all, bool hold, db_deployment_t *out,
                                    char *err, size_t err_cap)
{
    deploy_result_t res = DEPLOY_ERROR;
    db_release_t *r = malloc(sizeof(*r));
    device_vec_t devs = {0};
    db_target_t *targets = NULL;
    form_memo_t memo; /* the forms looked at, and the image read to build them */
    memset(&memo, 0, sizeof(memo));
    int64_t *dbase = NULL;  /* per device: the base of its delta stream, 0 none */
    uint32_t *dwire = NULL; /* per device: that stream's wire bytes */
    bool in_tx = false;
    if (!r) goto out;

    /* 1. Validate everything before writing anything. */
    int rc = db__release_get(d->db, release_id, r);
    if (rc != 0) {
        if (rc == 1) {
            snprintf(err, err_cap, "unknown release %lld", (long long)release_id);
            res = DEPLOY_NOT_FOUND;
        } else {
            snprintf(err, err_cap, "database error while reading release %lld",
                     (long long)release_id);
        }
        goto out;
    }
    if (all) {
        devs.r = r;
        if (db__device_list(d->db, collect_chip_device, &devs) != 0) {
            snprintf(err, err_cap, "database error while listing devices");
            goto out;
        }
        if (devs.n == 0 && r->kind == DB_RELEASE_FILES) {
            snprintf(err, err_cap, "no known device takes file releases (release %lld is one): "
                     "only devices whose STATE announces MQOTA_CAP_FILES, such as the "
                     "MicroPython agent, do", (long long)release_id);
            res = DEPLOY_BAD_REQUEST;
            goto out;
        }
        if (devs.n == 0) {
            snprintf(err, err_cap, "no known device has chip %s, the chip of release %lld",
                     mqota_chip_name(r->chip_id), (long long)release_id);
            res = DEPLOY_BAD_REQUEST;
            goto out;
        }
    } else {
        if (n_devices == 0) {
            snprintf(err, err_cap, "\"devices\" is empty; name at least one device");
            res = DEPLOY_BAD_REQUEST;
            goto out;
        }
        for (size_t i = 0; i < n_devices; i++) {
            db_device_t dev;
            for (size_t j = 0; j < i; j++) {
                if (strcmp(devices[i], devices[j]) == 0) {
                    snprintf(err, err_cap, "device '%s' is listed twice", devices[i]);
                    res = DEPLOY_BAD_REQUEST;
                    goto out;
                }
            }
            rc = strlen(devices[i]) > DB_ID_MAX ? 1 : db__device_get(d->db, devices[i], &dev);
            if (rc == 1) {
                snprintf(err, err_cap, "unknown device '%s'", devices[i]);
                res = DEPLOY_NOT_FOUND;
                goto out;
            }
            if (rc != 0) {
                snprintf(err, err_cap, "database error while reading device '%s'", devices[i]);
                goto out;
            }
            if (r->kind == DB_RELEASE_FILES && !deploy__fits(r, &dev)) {
                snprintf(err, err_cap, "device '%s' does not take file releases (its STATE does "
                         "not announce MQOTA_CAP_FILES; the C agent takes images only), and "
                         "release %lld is a file release; nothing was created", dev.id,
                         (long long)release_id);
                res = DEPLOY_CONFLICT;
                goto out;
            }
            if (r->kind != DB_RELEASE_FILES && dev.chip_id != r->chip_id) {
                snprintf(err, err_cap, "device '%s' is an %s but release %lld is built for %s",
                         dev.id, mqota_chip_name(dev.chip_id), (long long)release_id,
                         mqota_chip_name(r->chip_id));
                res = DEPLOY_CONFLICT;
                goto out;
            }
            if (push_device(&devs, &dev) != 0) goto out;
        }
    }

    /* With --multicast auto, devices that accept the release-wide chunk size follow a stream of
     * the release when there are at least two of them; the others get unicast offers. Devices
     * that inflate the compressed stream form follow its own stream (topic .../<encoding>)
     * when there are two of them and the form is worth it; else they follow the image's. */
    uint32_t stream_cs = stream_chunk_size(d, release_id, r->size);
    size_t n_z = 0, n_plain = 0;
    /* Devices on the same base share a delta stream (.../<encoding>/<base>) first. */
    dbase = calloc(devs.n ? devs.n : 1, sizeof(*dbase));
    dwire = calloc(devs.n ? devs.n : 1, sizeof(*dwire));
    if (!dbase || !dwire) {
        snprintf(err, err_cap, "out of memory while choosing the forms of %zu devices; nothing "
                 "was created", devs.n);
        goto out;
    }
    size_t n_delta = r->kind == DB_RELEASE_FILES ? 0
                     : group_delta_streams(d, r, devs.items, devs.n, stream_cs, &memo, dbase,
                                           dwire);
    for (size_t i = 0; d->multicast && i < devs.n; i++) {
        if (!can_stream(&devs.items[i], stream_cs) || dbase[i]) continue;
        if (inflates_stream_form(&devs.items[i])) n_z++;
        else n_plain++;
    }
    bool stream_z = n_z >= 2 && stream_form_ok(d, r, &memo, stream_cs);
    if (!stream_z) n_plain += n_z;
    bool stream_p = n_plain >= 2;
    size_t n_stream = (stream_z ? n_z : 0) + (stream_p ? n_plain : 0) + n_delta;

    /* 2. One transaction: the deployment, its targets, superseded older targets. */
    int64_t now = mqh_unix_now();
    targets = calloc(devs.n, sizeof(*targets));
    if (!targets || db__begin(d->db) != 0) goto db_err;
    in_tx = true;
    memset(out, 0, sizeof(*out));
    out->release_id = release_id;
    out->created_at = clock__now(); /* on the schedule clock: rollouts' per-device deadlines */
    out->state = DEPLOYMENT_RUNNING;
    if (db__deployment_insert(d->db, out) != 0) goto db_err;
    for (size_t i = 0; i < devs.n; i++) {
        db_target_t *t = &targets[i];
        if (supersede(d, devs.items[i].id, now) != 0) goto db_err;
        t->deployment_id = out->id;
        t->release_id = release_id;
        snprintf(t->device_id, sizeof(t->device_id), "%s", devs.items[i].id);
        t->state = TARGET_PENDING;
        snprintf(t->reason, sizeof(t->reason), "none");
        bool on_stream = d->multicast && can_stream(&devs.items[i], stream_cs);
        bool on_z = on_stream && stream_z && inflates_stream_form(&devs.items[i]);
        if (dbase[i]) {
            t->chunk_size = stream_cs;
            t->offer_flags = MQOTA_OFFER_FLAG_STREAM;
            t->encoding = MQOTA_ENCODING_DELTA_FULL;
            t->window_bits = MQOTA_WINDOW_BITS_MAX;
            t->wire_size = dwire[i];
            t->base_release_id = dbase[i];
        } else if (on_z || (on_stream && stream_p)) {
            t->chunk_size = stream_cs;
            t->offer_flags = MQOTA_OFFER_FLAG_STREAM;
            t->wire_size = r->size;
            if (on_z) choose_form(d, r, &devs.items[i], stream_cs, &memo, t);
        } else {
            t->chunk_size = choose_chunk_size(d, &devs.items[i], r->size);
            choose_form(d, r, &devs.items[i], 0, &memo, t);
        }
        t->window = choose_window(d, &devs.items[i]);
        if (hold) {
            t->offer_flags |= MQOTA_OFFER_FLAG_HOLD;
            if (!(devs.items[i].caps & MQOTA_CAP_HOLD)) t->offer_flags |= TARGET_FLAG_WITHHELD;
        }
        if (db__target_insert(d->db, t) != 0) goto db_err;
    }
    if (db__commit(d->db) != 0) goto db_err;
    in_tx = false;
    mqh_log(MQH_INFO, "deployment %lld: release %lld (%s) to %zu device(s), %zu on the "
            "stream%s", (long long)out->id, (long long)release_id, r->version, devs.n,
            n_stream, hold ? ", held until activated" : "");

    /* 3. Side effects after the commit: stale transfers go, offers are published. */
    for (size_t i = 0; i < devs.n; i++) {
        transfer__drop_device(d, targets[i].device_id);
        publish_offer(d, r, &targets[i]);
    }
    res = DEPLOY_OK;
    goto out;
db_err:
    if (in_tx) db__rollback(d->db);
    snprintf(err, err_cap, "database error while creating the deployment; nothing was created");
    res = DEPLOY_ERROR;
out:
    free(memo.image);
    free(dbase);
    free(dwire);
    free(targets);
    free(devs.items);
    free(r);
    return res;
}

/* transfer_events_t.save_progress: the targets' progress and byte counters, n > 1 in one
 * transaction (a single one is a single statement). 0, or -1 with nothing stored. */
static int save_progress(mqotad_t *d, const db_target_t *const *targets, size_t n)
{
    if (n == 1) return db__target_set_counters(d->db, targets[0]);
    if (db__begin(d->db) != 0) return -1;
    for (size_t i = 0; i < n; i++) {
        if (db__target_set_counters(d->db, targets[i]) != 0) {
            db__rollback(d->db);
            return -1;
        }
    }
    if (db__commit(d->db) != 0) {
        db__rollback(d->db);
        return -1;
    }
    return 0;
}

/* transfer_events_t.save_stream_bytes: bytes sent on streams added to each deployment's
 * counter, in one transaction. 0, or -1 with nothing added. */
static int save_stream_bytes(mqotad_t *d, const int64_t *deployment_ids, const int64_t *bytes,
                             size_t n)
{
    if (db__begin(d->db) != 0) return -1;
    for (size_t i = 0; i < n; i++) {
        if (db__deployment_add_stream_bytes(d->db, deployment_ids[i], bytes[i]) != 0) {
            db__rollback(d->db);
            return -1;
        }
    }
    if (db__commit(d->db) != 0) {
        db__rollback(d->db);
        return -1;
    }
    return 0;
}

static const transfer_events_t deploy_events = {
    .save_progress = save_progress,
    .save_stream_bytes = save_stream_bytes,
};

int deploy__init(mqotad_t *d)
{
    transfer__set_events(d, &deploy_events);
    return 0;
}

int deploy__target_for_ack(mqotad_t *d, const char *device_id, int64_t release_id,
                           db_target_t *out)
{
    if (release_id == 0) return 1;
    int rc = db__target_running(d->db, device_id, release_id, out);
    if (rc != 0) return rc < 0 ? -1 : 1;
    if (out->state == TARGET_PENDING) deploy__target_started(d, out);
    return 0;
}

int deploy__target_started(mqotad_t *d, db_target_t *t)
{
    if (t->state != TARGET_PENDING) return 0;
    t->state = TARGET_ACTIVE;
    if (!t->started_at) t->started_at = mqh_unix_now();
    if (db__target_set_state(d->db, t) != 0) return -1;
    mqh_log(MQH_INFO, "device %s answered the offer of deployment %lld", t->device_id,
            (long long)t->deployment_id);
    return 0;
}

/*
 * A failed or rolled-back report identical to what we already stored (same state, reason,
 * target, progress and boot count) is the retained echo of an earlier attempt, not news
 * about this target: the device passes through other states before failing again.
 */
static bool stale_failure(const db_device_t *prev, const mqota_state_msg_t *m)
{
    return prev && prev->state == m->state && prev->reason == m->reason &&
           prev->target_release == m->target_release && prev->progress == m->progress &&
           prev->boot_count == m->boot_count;
}

/*
 * A device reports that it holds a release (docs/PROTOCOL.md §5.2), or is offered or
 * downloading one, for which it has no running target: its deployment ended, was superseded
 * or was cancelled while the device was away (or its link was down), and the empty retained
 * offer that told it so is gone from the broker (an empty retained message deletes the
 * retained one; a device connecting later, with a clean session, receives nothing). Unless
 * the device has a running target of another release (whose offer must stay), publish the
 * empty offer again: the device is subscribed now, so it drops the held image, or stops its
 * download, and reports idle.
 */
static void forget_offer(mqotad_t *d, const char *device_id, uint8_t state, uint32_t release)
{
    db_target_t t;
    char topic[DB_ID_MAX + 32];
    if (db__target_running(d->db, device_id, 0, &t) != 1) return;
    snprintf(topic, sizeof(topic), MQOTAD_TOPIC_PREFIX "%s/offer", device_id);
    if (mqtt__publish(d, topic, NULL, 0, 1, true) == 0)
        mqh_log(MQH_INFO, "device %s %s release %u for no running deployment: its offer is "
                "cleared so that it %s", device_id,
                state == MQOTA_STATE_HELD ? "holds" : "downloads", (unsigned)release,
                state == MQOTA_STATE_HELD ? "drops the image" : "stops");
}

/*
 * The device refused t's delta because its running image is not the delta's base
 * (base-mismatch, docs/PROTOCOL.md §18; nothing was erased): offer it the same deployment's
 * image in the plain form (full or compressed) instead, which the agent takes as a new offer.
 * Returns 0 (the target goes on), -1 on a database failure.
 */
static int fall_back(mqotad_t *d, const db_device_t *dev, db_target_t *t)
{
    db_release_t *r = malloc(sizeof(*r));
    form_memo_t memo;
    memset(&memo, 0, sizeof(memo));
    if (!r || db__release_get(d->db, t->release_id, r) != 0) {
        free(r);
        return -1;
    }
    int64_t base = t->base_release_id;
    if (t->offer_flags & MQOTA_OFFER_FLAG_STREAM) {
        /* a delta stream's member (it inflates deflate-full, delta_stream_base()): the
         * release's deflate-full stream, or the image's when that form is not smaller */
        t->chunk_size = stream_chunk_size(d, r->id, r->size);
        choose_plain_form(d, r, dev, t->chunk_size, &memo, t);
    } else {
        t->chunk_size = choose_chunk_size(d, dev, r->size);
        choose_plain_form(d, r, dev, 0, &memo, t);
    }
    free(memo.image);
    int rc = db__target_set_form(d->db, t);
    transfer__drop_device(d, dev->id);
    mqh_log(MQH_INFO, "device %s refused the delta from release %lld (base-mismatch): "
            "deployment %lld sends it release %lld %s instead", dev->id, (long long)base,
            (long long)t->deployment_id, (long long)r->id,
            t->encoding == MQOTA_ENCODING_NONE ? "in full" : "compressed");
    if (rc == 0) publish_offer(d, r, t);
    free(r);
    return rc;
}

int deploy__on_state(mqotad_t *d, const db_device_t *dev, const db_device_t *prev,
                     const mqota_state_msg_t *m, db_target_t *finished)
{
    if (m->target_release == 0) return 0;
    db_target_t t;
    int rc = db__target_running(d->db, dev->id, m->target_release, &t);
    if (rc == 1 && (m->state == MQOTA_STATE_HELD || m->state == MQOTA_STATE_OFFERED ||
                    m->state == MQOTA_STATE_DOWNLOADING))
        forget_offer(d, dev->id, m->state, m->target_release);
    if (rc != 0) return rc < 0 ? -1 : 0;
    int64_t now = mqh_unix_now();
    bool done = false;
    switch ((mqota_update_state_t)m->state) {
    case MQOTA_STATE_CONFIRMED:
        if (m->running_release != m->target_release) return 0;
        t.state = TARGET_SUCCEEDED;
        snprintf(t.reason, sizeof(t.reason), "none");
        if (m->image_size) t.progress = m->image_size;
        done = true;
        break;
    case MQOTA_STATE_FAILED:
    case MQOTA_STATE_ROLLED_BACK:
        if (stale_failure(prev, m)) return 0;
        if (m->state == MQOTA_STATE_FAILED && m->reason == MQOTA_REASON_BASE_MISMATCH &&
            MQOTA_ENCODING_IS_DELTA(t.encoding))
            return fall_back(d, dev, &t);
        t.state = TARGET_FAILED;
        snprintf(t.reason, sizeof(t.reason), "%s", mqota_reason_name(m->reason));
        t.progress = m->progress;
        done = true;
        break;
    case MQOTA_STATE_OFFERED:
    case MQOTA_STATE_DOWNLOADING:
    case MQOTA_STATE_VERIFYING:
    case MQOTA_STATE_READY_TO_REBOOT:
    case MQOTA_STATE_PENDING_VERIFY:
        t.state = TARGET_ACTIVE;
        t.progress = m->progress;
        break;
    case MQOTA_STATE_HELD:
        if (t.state != TARGET_READY)
            mqh_log(MQH_INFO, "device %s holds release %lld (deployment %lld) until activated",
                    dev->id, (long long)t.release_id, (long long)t.deployment_id);
        t.state = TARGET_READY;
        t.progress = m->progress;
        break;
    default:
        return 0;
    }
    if (!t.started_at) t.started_at = now;
    if (done) t.finished_at = now;
    if (db__target_set_state(d->db, &t) != 0) return -1;
    if (!done) return 0;
    mqh_log(MQH_INFO, "device %s: deployment %lld target %s%s%s", dev->id,
            (long long)t.deployment_id, state__target_name(t.state),
            strcmp(t.reason, "none") ? ", reason " : "", strcmp(t.reason, "none") ? t.reason : "");
    if (maybe_finish_deployment(d, t.deployment_id) != 0) return -1;
    *finished = t;
    return 1;
}

void deploy__after_finish(mqotad_t *d, const db_target_t *t)
{
    char topic[DB_ID_MAX + 32];
    snprintf(topic, sizeof(topic), MQOTAD_TOPIC_PREFIX "%s/offer", t->device_id);
    if (mqtt__publish(d, topic, NULL, 0, 1, true) != 0)
        mqh_log(MQH_WARN, "could not clear the retained offer of %s", t->device_id);
    transfer__drop_device(d, t->device_id);
    legacy__stop(d, t->device_id);
    rollout__poke(d); /* a rollout's wave may be decided now */
}

void deploy__republish_offers(mqotad_t *d)
{
    target_vec_t v = {0};
    if (db__target_all_pending(d->db, collect_target, &v) != 0) goto out;
    db_release_t *r = malloc(sizeof(*r));
    if (!r) goto out;
    r->id = 0;
    for (size_t i = 0; i < v.n; i++) {
        if (r->id != v.items[i].release_id &&
            db__release_get(d->db, v.items[i].release_id, r) != 0)
            continue;
        publish_offer(d, r, &v.items[i]);
    }
    free(r);
out:
    free(v.items);
    deploy__legacy_resume(d); /* legacy devices' active targets: their adapters go on */
}

typedef struct {
    const char *const *devices;
    size_t n;
    bool *named;      /* which of devices were found in the deployment */
    target_vec_t out; /* the targets to activate */
    const char *refused; /* first named device whose target is not held */
    target_state_t refused_state;
} activate_ctx_t;

/* Pick the targets deploy__activate() changes: held (flag set), not ended, named if names
 * were given. */
static int pick_held(void *ctx, const db_target_t *t)
{
    activate_ctx_t *c = ctx;
    bool unfinished = t->state == TARGET_PENDING || t->state == TARGET_ACTIVE ||
                      t->state == TARGET_READY;
    bool held = unfinished && (t->offer_flags & MQOTA_OFFER_FLAG_HOLD);
    if (c->n == 0) return held ? collect_target(&c->out, t) : 0;
    for (size_t i = 0; i < c->n; i++) {
        if (strcmp(c->devices[i], t->device_id) != 0) continue;
        c->named[i] = true;
        if (held) return collect_target(&c->out, t);
        if (!c->refused) {
            c->refused = c->devices[i];
            c->refused_state = t->state;
        }
    }
    return 0;
}

int deploy__activate(mqotad_t *d, int64_t deployment_id, const char *const *devices,
                     size_t n_devices, bool only_ready, int *activated, char *err,
                     size_t err_cap)
{
    db_deployment_t dep;
    activate_ctx_t c = {devices, n_devices, NULL, {0}, NULL, TARGET_PENDING};
    db_release_t *r = malloc(sizeof(*r));
    int ret = 500;
    *activated = 0;
    int rc = r ? db__deployment_get(d->db, deployment_id, &dep) : -1;
    if (rc != 0) {
        snprintf(err, err_cap, rc == 1 ? "unknown deployment %lld; see 'mqota deploy list'"
                 : "database error while reading deployment %lld", (long long)deployment_id);
        ret = rc == 1 ? 404 : 500;
        goto out;
    }
    if (dep.state != DEPLOYMENT_RUNNING) {
        snprintf(err, err_cap, "deployment %lld is %s; only a running deployment has targets "
                 "to activate", (long long)deployment_id, state__deployment_name(dep.state));
        ret = 409;
        goto out;
    }
    if (n_devices && !(c.named = calloc(n_devices, sizeof(*c.named)))) goto db_err;
    if (db__target_list(d->db, deployment_id, pick_held, &c) != 0 ||
        db__release_get(d->db, dep.release_id, r) != 0)
        goto db_err;
    for (size_t i = 0; i < n_devices; i++) {
        if (!c.named[i]) {
            snprintf(err, err_cap, "device '%.64s' is not a target of deployment %lld",
                     devices[i], (long long)deployment_id);
            ret = 404;
            goto out;
        }
    }
    if (c.refused) {
        snprintf(err, err_cap, "device '%.64s' of deployment %lld is not held (its target is "
                 "%s): only targets created with \"activate\": \"hold\" and not yet activated "
                 "or ended can be activated", c.refused, (long long)deployment_id,
                 state__target_name(c.refused_state));
        ret = 409;
        goto out;
    }
    for (size_t i = 0; i < c.out.n; i++) {
        db_target_t *t = &c.out.items[i];
        /* a device that cannot hold (withheld) downloads and reboots inside the window */
        if (only_ready && t->state != TARGET_READY && !(t->offer_flags & TARGET_FLAG_WITHHELD))
            continue;
        t->offer_flags &= ~(MQOTA_OFFER_FLAG_HOLD | TARGET_FLAG_WITHHELD);
        if (db__target_set_flags(d->db, t) != 0) goto db_err;
        (*activated)++;
        mqh_log(MQH_INFO, "deployment %lld: %s activated (target %s)", (long long)deployment_id,
                t->device_id, state__target_name(t->state));
        publish_offer(d, r, t); /* failing now, it goes again after the reconnect */
    }
    ret = 0;
    goto out;
db_err:
    snprintf(err, err_cap, "database error while activating deployment %lld",
             (long long)deployment_id);
    ret = 500;
out:
    free(c.out.items);
    free(c.named);
    free(r);
    return ret;
}

/*
 * Whether the device of target t is past the point where a cancel can stop it: it runs the
 * release, or its boot slot is switched or about to be (ready-to-reboot, pending-verify), or
 * it is verifying an image it will boot at once (no hold flag; the agent ignores a cleared
 * offer while verifying). Its update finishes as it would have; the target ends on its STATE.
 */
static bool past_cancel(const db_target_t *t, const db_device_t *dev)
{
    if (!dev || dev->target_release != (uint32_t)t->release_id) return false;
    switch ((mqota_update_state_t)dev->state) {
    case MQOTA_STATE_READY_TO_REBOOT:
    case MQOTA_STATE_PENDING_VERIFY:
        return true;
    case MQOTA_STATE_VERIFYING:
        return !(t->offer_flags & MQOTA_OFFER_FLAG_HOLD);
    case MQOTA_STATE_CONFIRMED:
        return dev->running_release == (uint32_t)t->release_id;
    default:
        return false;
    }
}

/* Pick the unfinished targets of a deployment (deploy__cancel()). */
static int pick_unfinished(void *ctx, const db_target_t *t)
{
    bool unfinished = t->state == TARGET_PENDING || t->state == TARGET_ACTIVE ||
                      t->state == TARGET_READY;
    return unfinished ? collect_target(ctx, t) : 0;
}

int deploy__cancel(mqotad_t *d, int64_t deployment_id, const char *reason,
                   deploy_cancel_cb_t cb, void *ctx, int *cancelled, int *kept, char *err,
                   size_t err_cap)
{
    db_deployment_t dep;
    target_vec_t v = {0};
    bool *gone = NULL;
    int ret = 500;
    *cancelled = *kept = 0;
    int rc = db__deployment_get(d->db, deployment_id, &dep);
    if (rc != 0) {
        snprintf(err, err_cap, rc == 1 ? "unknown deployment %lld; see 'mqota deploy list'"
                 : "database error while reading deployment %lld", (long long)deployment_id);
        return rc == 1 ? 404 : 500;
    }
    if (dep.state != DEPLOYMENT_RUNNING) {
        snprintf(err, err_cap, "deployment %lld is %s; only a running deployment can "
                 "be cancelled", (long long)deployment_id, state__deployment_name(dep.state));
        return 409;
    }
    if (db__target_list(d->db, deployment_id, pick_unfinished, &v) != 0) goto db_err_out;
    if (v.n && !(gone = calloc(v.n, sizeof(*gone)))) goto db_err_out;
    /* One transaction (a savepoint of the caller's): every target's new state, the callers'
     * records, the deployment's state. */
    int64_t now = mqh_unix_now();
    if (db__begin(d->db) != 0) goto db_err_out;
    for (size_t i = 0; i < v.n; i++) {
        db_target_t t = v.items[i];
        db_device_t dev;
        int got = db__device_get(d->db, t.device_id, &dev);
        if (got < 0) goto db_err;
        bool keep = got == 0 && past_cancel(&t, &dev);
        if (!keep) {
            t.state = TARGET_CANCELLED;
            snprintf(t.reason, sizeof(t.reason), "%s", reason);
            t.finished_at = now;
            if (db__target_set_state(d->db, &t) != 0) goto db_err;
            gone[i] = true;
            (*cancelled)++;
        } else {
            (*kept)++;
        }
        if (cb && cb(ctx, &v.items[i], got == 0 ? &dev : NULL, !keep) != 0) goto db_err;
    }
    if (v.n == 0 && db__deployment_set_state(d->db, deployment_id, DEPLOYMENT_CANCELLED) != 0)
        goto db_err;
    if (v.n && maybe_finish_deployment(d, deployment_id) != 0) goto db_err;
    if (db__commit(d->db) != 0) goto db_err;
    mqh_log(MQH_INFO, "deployment %lld cancelled (%s): %d target%s cancelled, %d left to "
            "finish (their devices already reboot into the release)", (long long)deployment_id,
            reason, *cancelled, *cancelled == 1 ? "" : "s", *kept);

    /* After the commit: the offers are withdrawn (an empty retained payload clears them,
     * docs/PROTOCOL.md §5) and the transfers dropped, leaving their streams. */
    for (size_t i = 0; i < v.n; i++) {
        if (!gone[i]) continue;
        char topic[DB_ID_MAX + 32];
        snprintf(topic, sizeof(topic), MQOTAD_TOPIC_PREFIX "%s/offer", v.items[i].device_id);
        if (mqtt__publish(d, topic, NULL, 0, 1, true) != 0)
            mqh_log(MQH_WARN, "could not clear the retained offer of %s (broker not "
                    "connected)", v.items[i].device_id);
        transfer__drop_device(d, v.items[i].device_id);
    }
    rollout__poke(d);
    ret = 0;
    goto out;
db_err:
    db__rollback(d->db);
db_err_out:
    snprintf(err, err_cap, "database error while cancelling deployment %lld; nothing changed",
             (long long)deployment_id);
    ret = 500;
    *cancelled = *kept = 0;
out:
    free(gone);
    free(v.items);
    return ret;
}
