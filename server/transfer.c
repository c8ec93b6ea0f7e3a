/* SPDX-License-Identifier: Apache-2.0 */
/*
 * transfer.c - the chunk transfer engine.
 *
 * The device drives the transfer: each ACK says which chunks are written (cumulative base +
 * 64-bit selective bitmap) and how many it accepts in flight. We keep per chunk an "acked"
 * bit, an "ever sent" bit and the time it was last sent, and publish every chunk of the
 * window [base, base + window) that is not acked and not in flight.
 *
 * Loss recovery leans on ordered delivery (MQTT over TCP keeps one publisher's messages to one
 * subscriber in order): when an ACK newly acknowledges a chunk, every chunk of the window sent
 * before it and still not acknowledged was lost, and is sent again at once (fast retransmit).
 * Tail loss is caught by one retransmission timer per transfer, restarted whenever an ACK
 * acknowledges something new (RFC 6298 5.3), so chunks that are merely queued behind others
 * on a slow link never time out while ACKs keep coming. The RTO follows round-trip samples
 * of chunks sent once (Jacobson/Karels, Karn's rule).
 *
 * Release images are loaded from disk once and shared by every transfer of that release.
 * A device has at most one transfer (it has at most one running target), found by a hash on
 * its id (uthash), since every ACK looks it up.
 *
 * A transfer whose offer carried the stream flag joins its release's multicast stream
 * (stream.c). While the stream sends, this engine only repairs for that device (unless the
 * stream demoted it as too slow to pace it: then it keeps its own window): the stream's
 * sends are recorded here like our own, so a chunk is sent again by unicast only once it is
 * found lost (fast retransmit, the timer, REQUEST/RESUMED); chunks the stream has not sent to
 * the device yet wait for the stream's cursor instead of being sent by unicast.
 *
 * Mechanism only: which target a device's ACK belongs to is policy's answer (deploy.c, asked
 * by handle__ack()); counters go back to policy through its transfer_events_t.
 */
#include <stdbool.h>

/* uthash (included by transfer_int.h): a failed allocation is not fatal (its default is to
 * exit); create() sees hash_oom and gives the transfer up, the device's next ACK tries again.
 * Set before any header includes uthash.h. */
static bool hash_oom;
#define HASH_NONFATAL_OOM 1
#define uthash_nonfatal_oom(elt) (hash_oom = true)

#include "transfer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "delta_form.h"
#include "mqota/mqota_proto.h"
#include "metrics.h"
#include "stream.h"
#include "transfer_int.h"

#define RTO_INITIAL_MS 3000u
#define RTO_MIN_MS 1000u
#define RTO_MAX_MS 30000u
#define PERSIST_EVERY_MS 1000u
#define SILENCE_DROP_MS 120000u /* free a transfer whose device said nothing for this long */

struct transfers {
    const transfer_events_t *events; /* policy's handlers; never NULL */
    transfer_t *by_device; /* uthash head, keyed by target.device_id */
    image_t *images;
    uint8_t buf[MQOTA_CHUNK_HEADER_LEN + MQOTA_CHUNK_MAX]; /* one CHUNK message being built */
};

static const transfer_events_t no_events;

int transfer__init(mqotad_t *d)
{
    d->xfers = calloc(1, sizeof(*d->xfers));
    if (!d->xfers) return -1;
    d->xfers->events = &no_events;
    return stream__init(d);
}

void transfer__set_events(mqotad_t *d, const transfer_events_t *ev)
{
    d->xfers->events = ev ? ev : &no_events;
}

const transfer_events_t *transfer__events(const mqotad_t *d) { return d->xfers->events; }

/* Hand n targets' counters to policy; 0 when stored, -1 when not (nobody listens, or policy
 * failed): they stay dirty for the next persist. */
static int save_progress(mqotad_t *d, const db_target_t *const *targets, size_t n)
{
    const transfer_events_t *ev = d->xfers->events;
    return ev->save_progress ? ev->save_progress(d, targets, n) : -1;
}

static void image_put(mqotad_t *d, image_t *img)
{
    if (!img || --img->refs > 0) return;
    for (image_t **pp = &d->xfers->images; *pp; pp = &(*pp)->next) {
        if (*pp == img) {
            *pp = img->next;
            break;
        }
    }
    free(img->data);
    release__form_free(&img->form);
    free(img);
}

/* The image of a release in the form a target's offer named (encoding none: the image file;
 * else its compressed form for the target's window and chunk size, release__form()), loaded
 * on first use and shared by every transfer of that form; a delta encoding's form is the delta
 * from release base_release_id, delta__form()). NULL on failure (logged). */
static image_t *image_get(mqotad_t *d, int64_t release_id, uint8_t encoding,
                          uint8_t window_bits, uint32_t chunk_size, int64_t base_release_id)
{
    if (encoding == MQOTA_ENCODING_NONE) window_bits = 0, chunk_size = 0;
    if (!MQOTA_ENCODING_IS_DELTA(encoding)) base_release_id = 0;
    for (image_t *i = d->xfers->images; i; i = i->next) {
        if (i->release_id == release_id && i->encoding == encoding &&
            i->window_bits == window_bits && i->chunk_size == chunk_size &&
            i->base_release_id == base_release_id) {
            i->refs++;
            return i;
        }
    }
    db_release_t *r = malloc(sizeof(*r));
    image_t *img = calloc(1, sizeof(*img));
    FILE *f = NULL;
    if (!r || !img || db__release_get(d->db, release_id, r) != 0) goto err;
    img->data = malloc(r->size ? r->size : 1);
    if (!img->data) goto err;
    f = fopen(r->path, "rb");
    if (!f || fread(img->data, 1, r->size, f) != r->size) {
        mqh_log(MQH_ERROR, "cannot read release %lld from %s: %s", (long long)release_id,
                r->path, f ? "file is shorter than the release" : strerror(errno));
        goto err;
    }
    fclose(f);
    f = NULL;
    if (MQOTA_ENCODING_IS_DELTA(encoding)) {
        db_release_t *b = malloc(sizeof(*b));
        int rc = b && db__release_get(d->db, base_release_id, b) == 0
                     ? delta__form(d, b, r, encoding, window_bits, chunk_size, &img->form)
                     : -1;
        free(b);
        if (rc != 0) goto err;
        free(img->data);
        img->data = NULL;
    } else if (encoding != MQOTA_ENCODING_NONE) {
        if (release__form(d, r, img->data, encoding, window_bits, chunk_size, &img->form) != 0)
            goto err;
        free(img->data);
        img->data = NULL;
    }
    img->base_release_id = base_release_id;
    img->encoding = encoding;
    img->window_bits = window_bits;
    img->chunk_size = chunk_size;
    img->release_id = release_id;
    img->size = r->size;
    img->refs = 1;
    img->next = d->xfers->images;
    d->xfers->images = img;
    free(r);
    return img;
err:
    if (f) fclose(f);
    if (img) {
        free(img->data);
        release__form_free(&img->form);
    }
    free(img);
    free(r);
    return NULL;
}

static void transfer_free(mqotad_t *d, transfer_t *t)
{
    stream__leave(d, t);
    image_put(d, t->img);
    free(t->flags);
    free(t->sent_at);
    free(t->send_seq);
    free(t);
}

/* Have policy store one transfer's counters now. */
static void persist_one(mqotad_t *d, transfer_t *t, uint64_t now_ms)
{
    if (!t->dirty) return;
    const db_target_t *target = &t->target;
    if (save_progress(d, &target, 1) == 0) {
        t->dirty = false;
        t->last_persist_ms = now_ms;
    }
}

/* Unlink and free t, persisting its counters first. */
static void transfer_remove(mqotad_t *d, transfer_t *t)
{
    persist_one(d, t, mqh_now_ms());
    HASH_DELETE(hh, d->xfers->by_device, t);
    transfer_free(d, t);
}

void transfer__cleanup(mqotad_t *d)
{
    if (!d->xfers) return;
    transfer__persist(d, mqh_now_ms(), true);
    /* Paused: a stream losing members does not hand the rest to unicast on the way out. */
    transfer_t *t, *tmp;
    HASH_ITER(hh, d->xfers->by_device, t, tmp) t->paused = true;
    HASH_ITER(hh, d->xfers->by_device, t, tmp) {
        HASH_DELETE(hh, d->xfers->by_device, t);
        transfer_free(d, t);
    }
    if (d->streams) stream__cleanup(d);
    free(d->xfers);
    d->xfers = NULL;
}

/* The device's transfer, whatever its release; NULL if none. */
static transfer_t *of_device(mqotad_t *d, const char *device_id)
{
    transfer_t *t = NULL;
    HASH_FIND_STR(d->xfers->by_device, device_id, t);
    return t;
}

transfer_t *transfer__find(mqotad_t *d, const char *device_id, int64_t release_id)
{
    transfer_t *t = of_device(d, device_id);
    return t && t->target.release_id == release_id ? t : NULL;
}

/* Build a transfer for a running target. NULL on failure (logged). */
static transfer_t *create(mqotad_t *d, const db_target_t *target, uint64_t now_ms)
{
    transfer_t *t = calloc(1, sizeof(*t));
    if (!t) return NULL;
    t->target = *target;
    t->img = image_get(d, target->release_id, target->encoding, target->window_bits,
                       target->chunk_size, target->base_release_id);
    if (!t->img) goto err;
    t->chunk_size = target->chunk_size;
    if (t->chunk_size < MQOTA_CHUNK_MIN || t->chunk_size > MQOTA_CHUNK_MAX ||
        (t->chunk_size & (t->chunk_size - 1)) != 0) {
        mqh_log(MQH_ERROR, "target of device %s in deployment %lld has no valid chunk size",
                target->device_id, (long long)target->deployment_id);
        goto err;
    }
    t->window = target->window ? target->window : d->window;
    t->dev_window = t->window;
    t->chunk_count = (t->img->size + t->chunk_size - 1) / t->chunk_size;
    t->flags = calloc(t->chunk_count ? t->chunk_count : 1, 1);
    t->sent_at = calloc(t->chunk_count ? t->chunk_count : 1, sizeof(uint32_t));
    t->send_seq = calloc(t->chunk_count ? t->chunk_count : 1, sizeof(uint32_t));
    if (!t->flags || !t->sent_at || !t->send_seq) goto err;
    snprintf(t->topic, sizeof(t->topic), MQOTAD_TOPIC_PREFIX "%s/chunk", target->device_id);
    t->epoch_ms = now_ms;
    t->rto = t->rto_est = RTO_INITIAL_MS;
    t->last_persist_ms = t->epoch_ms;
    /* One per device: one for an earlier release (its target is no longer running, or the
     * device would not have one for this release) goes. */
    transfer_t *old = of_device(d, target->device_id);
    if (old) transfer_remove(d, old);
    hash_oom = false;
    HASH_ADD_STR(d->xfers->by_device, target.device_id, t);
    if (hash_oom) goto err;
    mqh_log(MQH_INFO, "transfer of release %lld to %s: %u chunks of %u bytes, window %u",
            (long long)target->release_id, target->device_id, t->chunk_count, t->chunk_size,
            t->window);
    return t;
err:
    transfer_free(d, t);
    return NULL;
}

uint32_t transfer__chunk_len(const transfer_t *t, uint32_t i)
{
    uint32_t off = i * t->chunk_size;
    uint32_t left = t->img->size - off;
    return left < t->chunk_size ? left : t->chunk_size;
}

static uint32_t chunk_len(const transfer_t *t, uint32_t i) { return transfer__chunk_len(t, i); }

const uint8_t *transfer__chunk_wire(const transfer_t *t, uint32_t i, uint32_t *len)
{
    const image_t *img = t->img;
    if (img->encoding == MQOTA_ENCODING_NONE) {
        *len = chunk_len(t, i);
        return img->data + (size_t)i * t->chunk_size;
    }
    *len = img->form.off[i + 1] - img->form.off[i];
    return img->form.data + img->form.off[i];
}

/* Flags, sent time and send order of chunk i after a send at now_ms. */
static void mark_sent(transfer_t *t, uint32_t i, uint64_t now_ms)
{
    if (t->flags[i] & CHUNK_EVER_SENT) t->flags[i] |= CHUNK_RESENT;
    t->flags[i] |= CHUNK_EVER_SENT;
    t->sent_at[i] = now_ms > t->epoch_ms ? (uint32_t)(now_ms - t->epoch_ms) + 1u : 1u;
    t->send_seq[i] = ++t->next_seq;
}

void transfer__mark_sent(transfer_t *t, uint32_t i, uint64_t now_ms)
{
    mark_sent(t, i, now_ms);
    if (!t->deadline_ms) {
        t->progress_ms = now_ms; /* the timer starts with the first chunk out */
        t->deadline_ms = now_ms + t->rto;
    }
}

uint64_t transfer__silent_ms(const transfer_t *t, uint64_t now_ms)
{
    uint64_t heard = t->last_ack_ms ? t->last_ack_ms : t->epoch_ms;
    return now_ms > heard ? now_ms - heard : 0;
}

/* Publish chunk i. Returns -1 if it could not be handed to the MQTT client. */
static int send_chunk(mqotad_t *d, transfer_t *t, uint32_t i, uint64_t now_ms)
{
    uint32_t len = 0;
    const uint8_t *data = transfer__chunk_wire(t, i, &len);
    uint8_t *buf = d->xfers->buf;
    if (mqota_chunk_encode_header((uint32_t)t->target.release_id, i, data, len, buf,
                                  MQOTA_CHUNK_HEADER_LEN) != MQOTA_OK)
        return -1;
    memcpy(buf + MQOTA_CHUNK_HEADER_LEN, data, len);
    if (mqtt__publish(d, t->topic, buf, MQOTA_CHUNK_HEADER_LEN + len, 0, false) != 0) return -1;
    t->target.bytes_sent += len;
    metrics__chunk(d, METRICS_UNICAST, len, (t->flags[i] & CHUNK_EVER_SENT) != 0);
    if (t->flags[i] & CHUNK_EVER_SENT) {
        mqh_log(MQH_DEBUG, "%s: chunk %u sent again (base %u, rto %u ms)", t->target.device_id,
                i, t->base, t->rto);
        t->target.bytes_resent += len;
    }
    mark_sent(t, i, now_ms);
    t->dirty = true;
    return 0;
}

static uint32_t device_window(const transfer_t *t)
{
    uint32_t win = t->dev_window < t->window ? t->dev_window : t->window;
    return win ? win : 1;
}

/* The window [base, end) the device accepts now; for a member of a sending stream every
 * chunk from base (the stream's sends lie anywhere). */
static uint32_t window_end(const transfer_t *t)
{
    if (stream__repair_only(t)) return t->chunk_count;
    uint32_t win = t->dev_window < t->window ? t->dev_window : t->window;
    if (win == 0) win = 1;
    uint32_t end = t->base + win;
    if (end > t->chunk_count || end < t->base) end = t->chunk_count;
    return end;
}

/*
 * Send every chunk of the window that is neither acked nor in flight (sent_at 0: never sent,
 * or found lost), then arm the retransmission timer if anything is in flight.
 */
static void pump(mqotad_t *d, transfer_t *t, uint64_t now_ms)
{
    uint32_t end = window_end(t);
    bool repair_only = stream__repair_only(t);
    uint32_t budget = repair_only ? device_window(t) : end - t->base;
    bool in_flight = false;
    for (uint32_t i = t->base; i < end && !in_flight; i++)
        in_flight = !(t->flags[i] & CHUNK_ACKED) && t->sent_at[i];
    if (!in_flight) t->progress_ms = now_ms; /* the timer starts with the first chunk out */
    bool blocked = false;
    for (uint32_t i = t->base; i < end; i++) {
        if (t->flags[i] & CHUNK_ACKED) continue;
        /* On a sending stream, a chunk never sent to this device waits for the stream;
         * at most one device window of repairs goes out per call (the ACKs clock the rest). */
        bool due = !t->sent_at[i] && (!repair_only || (t->flags[i] & CHUNK_EVER_SENT));
        if (due && budget > 0) {
            if (send_chunk(d, t, i, now_ms) != 0) {
                blocked = true; /* not connected: the timer retries */
                break;
            }
            budget--;
        }
        if (t->sent_at[i]) in_flight = true;
    }
    t->deadline_ms = in_flight || blocked ? t->progress_ms + t->rto : 0;
}

void transfer__pump(mqotad_t *d, transfer_t *t, uint64_t now_ms) { pump(d, t, now_ms); }

/* Jacobson/Karels estimator; rto = clamp(2 * srtt + 4 * rttvar, RTO_MIN_MS, RTO_MAX_MS). */
static void rtt_sample(transfer_t *t, uint32_t r)
{
    if (!t->have_rtt) {
        t->srtt = r;
        t->rttvar = r / 2;
        t->have_rtt = true;
    } else {
        uint32_t diff = t->srtt > r ? t->srtt - r : r - t->srtt;
        t->rttvar = (3u * t->rttvar + diff) / 4u;
        t->srtt = (7u * t->srtt + r) / 8u;
    }
    uint32_t rto = 2u * t->srtt + 4u * t->rttvar;
    t->rto = rto < RTO_MIN_MS ? RTO_MIN_MS : rto > RTO_MAX_MS ? RTO_MAX_MS : rto;
    t->rto_est = t->rto;
}

/* Set chunk i's acked bit from the device's word; returns 1 if it became acked. */
static int set_acked(transfer_t *t, uint32_t i, bool acked)
{
    bool was = (t->flags[i] & CHUNK_ACKED) != 0;
    if (acked == was) return 0;
    if (acked) {
        t->flags[i] |= CHUNK_ACKED;
        t->acked_count++;
        stream__chunk_acked(t, i, true);
        return 1;
    }
    t->flags[i] &= (uint8_t)~CHUNK_ACKED;
    t->acked_count--;
    stream__chunk_acked(t, i, false);
    return 0;
}

/*
 * Apply one ACK to t: chunks below base are written, sack bits say which of the 64 chunks
 * after sack_base are (sack_base == base except on a multicast stream); what lies between
 * base and sack_base keeps what earlier ACKs said.
 * Takes one RTT sample from the most recently sent chunk this ACK newly covers, if it was
 * sent only once. RESUMED or REQUEST makes every missing chunk of the window due now; for a
 * member of a sending stream, every missing chunk already sent to it (the stream's cycles
 * bring the others).
 */
static void apply_ack(transfer_t *t, const mqota_ack_t *a, uint64_t now_ms)
{
    uint32_t base = a->base > t->chunk_count ? t->chunk_count : a->base;
    uint32_t newest = 0;
    /* Latest send among the chunks this ACK newly acknowledges, sent once: the ACK of a chunk
     * sent twice may answer its first send (Karn), and taking the second would call every
     * chunk sent in between lost (a burst of spurious re-sends after each timeout). */
    uint32_t newest_seq = 0;
    bool progress = false;
    for (uint32_t i = t->base; i < base; i++) {
        if (!set_acked(t, i, true)) continue;
        progress = true;
        if (!(t->flags[i] & CHUNK_RESENT) && t->send_seq[i] > newest_seq)
            newest_seq = t->send_seq[i];
        if ((t->flags[i] & (CHUNK_EVER_SENT | CHUNK_RESENT)) == CHUNK_EVER_SENT &&
            t->sent_at[i] > newest)
            newest = t->sent_at[i];
    }
    /* The device went back (it lost progress): what it no longer has must be sent again. */
    for (uint32_t i = base; i < t->base; i++) set_acked(t, i, false);
    if (base < t->chunk_count) set_acked(t, base, false);
    for (uint32_t k = 0; k < MQOTA_SACK_BITS; k++) {
        uint32_t i = a->sack_base + 1u + k;
        if (i >= t->chunk_count) break;
        bool bit = (a->sack >> k) & 1u;
        if (!set_acked(t, i, bit)) continue;
        progress = true;
        if (!(t->flags[i] & CHUNK_RESENT) && t->send_seq[i] > newest_seq)
            newest_seq = t->send_seq[i];
        if ((t->flags[i] & (CHUNK_EVER_SENT | CHUNK_RESENT)) == CHUNK_EVER_SENT &&
            t->sent_at[i] > newest)
            newest = t->sent_at[i];
    }
    if (progress) t->progress_ms = now_ms; /* restart the retransmission timer */
    if (newest_seq) {
        /* Ordered delivery: a chunk this ACK describes, sent before one it newly acknowledges
         * and still missing, was lost on the way. Send it again now. */
        for (uint32_t i = base; i < t->chunk_count && i <= a->sack_base + MQOTA_SACK_BITS; i++) {
            if (i != base && i <= a->sack_base) continue; /* not described by this ACK */
            if (!(t->flags[i] & CHUNK_ACKED) && t->sent_at[i] && t->send_seq[i] < newest_seq)
                t->sent_at[i] = 0;
        }
    }
    if (newest) {
        uint64_t sent = t->epoch_ms + newest - 1u;
        rtt_sample(t, now_ms > sent ? (uint32_t)(now_ms - sent) : 1u);
    }
    t->base = base;
    t->dev_window = a->window ? a->window : t->window;
    if ((a->flags & (MQOTA_ACK_FLAG_RESUMED | MQOTA_ACK_FLAG_REQUEST)) &&
        stream__repair_only(t)) {
        for (uint32_t i = base; i < t->chunk_count; i++)
            if (!(t->flags[i] & CHUNK_ACKED) && (t->flags[i] & CHUNK_EVER_SENT)) t->sent_at[i] = 0;
    } else if (a->flags & (MQOTA_ACK_FLAG_RESUMED | MQOTA_ACK_FLAG_REQUEST)) {
        uint32_t end = base + t->dev_window;
        for (uint32_t i = base; i < end && i < t->chunk_count; i++)
            if (!(t->flags[i] & CHUNK_ACKED)) t->sent_at[i] = 0;
    }
    uint64_t written = (uint64_t)t->acked_count * t->chunk_size;
    if ((t->flags[t->chunk_count - 1] & CHUNK_ACKED) && written > 0)
        written -= t->chunk_size - chunk_len(t, t->chunk_count - 1);
    if (written > t->img->size) written = t->img->size;
    if ((uint32_t)written != t->target.progress) {
        t->target.progress = (uint32_t)written;
        t->dirty = true;
    }
    t->last_ack_ms = now_ms;
    t->paused = false;
}

int transfer__start(mqotad_t *d, const db_target_t *target, uint64_t now_ms, transfer_t **out)
{
    transfer_t *t = create(d, target, now_ms);
    if (!t) return -1;
    if (t->chunk_count == 0) {
        transfer_remove(d, t);
        return 1;
    }
    /* After a restart we know nothing of what was sent: the window is due now. */
    *out = t;
    return 0;
}

/*
 * Apply an ACK to t, then: every chunk written frees t (its counters stored first);
 * otherwise t joins its release's stream if its offer said so, and what is due is sent.
 */
void transfer__ack(mqotad_t *d, transfer_t *t, const mqota_ack_t *a, uint64_t now_ms)
{
    apply_ack(t, a, now_ms);
    if (a->flags & MQOTA_ACK_FLAG_COMPLETE || t->acked_count >= t->chunk_count) {
        mqh_log(MQH_INFO, "device %s has every chunk of release %lld (%lld bytes sent, %lld "
                "resent)", t->target.device_id, (long long)t->target.release_id,
                (long long)t->target.bytes_sent, (long long)t->target.bytes_resent);
        t->target.progress = t->img->size;
        t->dirty = true;
        transfer_remove(d, t);
        return;
    }
    if (t->target.offer_flags & MQOTA_OFFER_FLAG_STREAM) {
        stream__join(d, t, now_ms);
        stream__after_ack(d, t, now_ms);
    }
    pump(d, t, now_ms);
}

/*
 * Resend what timed out. Only transfers whose earliest deadline has passed do any work; each
 * timeout doubles the RTO (up to RTO_MAX_MS) so an unreachable device is not flooded.
 */
void transfer__tick(mqotad_t *d, uint64_t now_ms)
{
    transfer_t *t, *tmp;
    HASH_ITER(hh, d->xfers->by_device, t, tmp) {
        if (transfer__silent_ms(t, now_ms) > SILENCE_DROP_MS) {
            mqh_log(MQH_INFO, "device %s silent for %u s; pausing its transfer until it asks "
                    "again", t->target.device_id, SILENCE_DROP_MS / 1000u);
            transfer_remove(d, t);
            continue;
        }
        if (t->paused || !t->deadline_ms || now_ms < t->deadline_ms) continue;
        /* No progress for one RTO: the oldest chunk in flight is presumed lost (TCP's
         * retransmission timeout). If others were lost too, the ACK for it shows them. */
        uint32_t end = window_end(t), oldest = end;
        for (uint32_t i = t->base; i < end; i++)
            if (!(t->flags[i] & CHUNK_ACKED) && t->sent_at[i] &&
                (oldest == end || t->send_seq[i] < t->send_seq[oldest]))
                oldest = i;
        if (oldest < end) t->sent_at[oldest] = 0;
        t->rto = t->rto * 2u > RTO_MAX_MS ? RTO_MAX_MS : t->rto * 2u;
        t->progress_ms = now_ms;
        pump(d, t, now_ms);
    }
    stream__tick(d, now_ms);
}

/* Whether t's counters are due for storing at now_ms. */
static bool persist_due(const transfer_t *t, uint64_t now_ms, bool force)
{
    return t->dirty && (force || now_ms - t->last_persist_ms >= PERSIST_EVERY_MS);
}

/*
 * Hand every due transfer's counters to policy in one batch (one transaction there). If policy
 * fails (or is out of memory here) they stay dirty and go with the next batch.
 */
void transfer__persist(mqotad_t *d, uint64_t now_ms, bool force)
{
    size_t n = 0;
    transfer_t *t, *tmp;
    HASH_ITER(hh, d->xfers->by_device, t, tmp) n += persist_due(t, now_ms, force);
    const db_target_t **batch = n ? malloc(n * sizeof(*batch)) : NULL;
    if (batch) {
        size_t k = 0;
        HASH_ITER(hh, d->xfers->by_device, t, tmp)
            if (persist_due(t, now_ms, force)) batch[k++] = &t->target;
        if (save_progress(d, batch, n) == 0) {
            HASH_ITER(hh, d->xfers->by_device, t, tmp) {
                if (!persist_due(t, now_ms, force)) continue;
                t->dirty = false;
                t->last_persist_ms = now_ms;
            }
        }
        free(batch);
    }
    stream__persist(d, now_ms, force);
}

void transfer__drop_device(mqotad_t *d, const char *device_id)
{
    transfer_t *t = of_device(d, device_id);
    if (t) transfer_remove(d, t);
}

/*
 * The device's last will said it is gone: chunks sent now would be lost and counted as
 * re-sent later, so stop the timers. Its next ACK (REQUEST or RESUMED) restarts the flow.
 */
void transfer__device_offline(mqotad_t *d, const char *device_id)
{
    transfer_t *t = of_device(d, device_id);
    if (t) {
        t->paused = true;
        t->deadline_ms = 0;
        mqh_log(MQH_DEBUG, "device %s offline: transfer paused", device_id);
    }
}

int transfer__next_timeout_ms(mqotad_t *d, uint64_t now_ms)
{
    uint64_t best = 0;
    transfer_t *t, *tmp;
    HASH_ITER(hh, d->xfers->by_device, t, tmp)
        if (!t->paused && t->deadline_ms && (!best || t->deadline_ms < best)) best = t->deadline_ms;
    if (!best) return -1;
    return best <= now_ms ? 0 : (int)(best - now_ms > 60000 ? 60000 : best - now_ms);
}

int transfer__count(mqotad_t *d)
{
    return (int)HASH_COUNT(d->xfers->by_device);
}
