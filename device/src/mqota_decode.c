/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mqota_decode.c - the decode stage between a CHUNK's receipt and the slot write
 * (docs/PROTOCOL.md §6.1).
 *
 * Whatever the encoding, chunk i stands for image bytes [i * chunk_size, ...): the bitmap,
 * base, the progress record and the final checks count image chunks as for a plain transfer.
 * Only the bytes on the wire differ. With an encoding, the platform's inflate hook decodes
 * the chunk; it keeps no state from one chunk to the next: its history (the image bytes right
 * before the chunk) is read back from the slot every time. So a reset or a cut link needs
 * nothing restored beyond what a plain transfer restores, and deflate-full chunks (no
 * history) decode in any order, deflate-sync ones once the bytes before them are written.
 *
 * Delta encodings (§18) add a stage behind the inflate: the inflated bytes are delta records
 * that the applier (mqota_delta.c) turns into the chunk's image bytes, reading the base image
 * from the running slot. A delta chunk starts from a fresh applier, so it too needs nothing
 * restored after a reset. Before anything is erased, decode__base_ok() checks that the
 * running image is the offer's base.
 *
 * A chunk that passed its CRC-32 but does not decode was sent wrong by the server; it may
 * have written part of its bytes (NOR flash cannot take them again without an erase), so the
 * caller fails the transfer (reason decode).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mqota/mqota_delta.h"
#include "mqota_agent_internal.h"

#if MQOTA_CFG_DECODE /* else the stage is the inline stubs of mqota_agent_internal.h */

/* A u32 LEB128 (a delta chunk's record length) takes at most this many bytes. */
#define LEB_MAX 5u

/* Where the inflate hook's callbacks read and write: the chunk's image offset and the
 * bytes it produced so far. With a delta encoding the inflated bytes go to the applier,
 * whose output goes to the slot. */
typedef struct {
    mqota_agent_t *a;
    uint32_t chunk_off; /* image offset of the chunk's first byte */
    uint32_t hist_len;
    uint32_t produced;  /* output bytes written so far (inflated bytes) */
    bool flash_failed;  /* slot_write failed (reason flash, not decode) */
    mqota_delta_t *delta; /* delta encodings: the applier; NULL otherwise */
    uint32_t written;   /* delta encodings: image bytes the applier wrote */
} sink_t;

/* Whether the offer's encoding needs a decoder. */
static bool encoded(const mqota_agent_t *a)
{
    return a->offer.encoding != MQOTA_ENCODING_NONE;
}

/* History bytes of chunk `index`: the window, or fewer at the start of the image; none with
 * deflate-full (each chunk starts a new stream). */
static uint32_t history_len(const mqota_agent_t *a, uint32_t index)
{
    uint32_t window;
    uint32_t before = index * a->offer.chunk_size;
    if ((a->offer.encoding != MQOTA_ENCODING_DEFLATE_SYNC &&
         a->offer.encoding != MQOTA_ENCODING_DELTA_SYNC) ||
        a->offer.window_bits > MQOTA_WINDOW_BITS_MAX) {
        return 0u; /* (a window out of range never passes decode__offer_ok()) */
    }
    window = 1u << a->offer.window_bits;
    return before < window ? before : window;
}

uint8_t decode__window(const mqota_agent_t *a)
{
    uint8_t wb = a->plat.inflate_window_bits;
    if (a->plat.inflate == NULL || wb < MQOTA_WINDOW_BITS_MIN) {
        return 0u;
    }
    return wb > MQOTA_WINDOW_BITS_MAX ? (uint8_t)MQOTA_WINDOW_BITS_MAX : wb;
}

bool decode__offer_ok(const mqota_agent_t *a, const mqota_offer_t *o)
{
    switch (o->encoding) {
    case MQOTA_ENCODING_NONE:
        return o->chunk_size <= a->max_chunk;
    case MQOTA_ENCODING_DEFLATE_SYNC:
    case MQOTA_ENCODING_DEFLATE_FULL:
        return o->window_bits >= MQOTA_WINDOW_BITS_MIN && o->window_bits <= decode__window(a);
    case MQOTA_ENCODING_DELTA_SYNC:
    case MQOTA_ENCODING_DELTA_FULL:
        return o->window_bits >= MQOTA_WINDOW_BITS_MIN && o->window_bits <= decode__window(a) &&
               o->base_size != 0u;
    default:
        return false;
    }
}

bool decode__fallback(const mqota_agent_t *a, const mqota_offer_t *o)
{
    return a->state == MQOTA_STATE_FAILED &&
           (a->reason == MQOTA_REASON_BASE_MISMATCH || a->reason == MQOTA_REASON_BAD_ENCODING) &&
           o->encoding != a->offer.encoding;
}

bool decode__len_ok(const mqota_agent_t *a, uint32_t index, uint32_t wire_len)
{
    if (!encoded(a)) {
        return wire_len == agent__chunk_len(a, index);
    }
    return wire_len > 0u && wire_len <= a->max_chunk;
}

/* Whether every chunk holding history bytes of chunk `index` is written. */
bool decode__ready(const mqota_agent_t *a, uint32_t index)
{
    uint32_t hist = history_len(a, index);
    uint32_t cs = a->offer.chunk_size;
    uint32_t first;
    if (hist == 0u) {
        return true;
    }
    first = (index * cs - hist) / cs;
    for (uint32_t i = first; i < index; i++) {
        if ((a->bitmap[i / 8u] & (1u << (i % 8u))) == 0u) {
            return false;
        }
    }
    return true;
}

/* The inflate hook's history reads: back from the slot, just before the chunk. */
static int read_history(const mqota_inflate_job_t *job, uint32_t off, uint8_t *buf, size_t len)
{
    const sink_t *s = (const sink_t *)job->sink;
    if (off > s->hist_len || len > s->hist_len - off) {
        return -1;
    }
    return s->a->plat.slot_read(s->a->plat.ctx, s->a->target_slot,
                                s->chunk_off - s->hist_len + off, buf, len);
}

/* The inflate hook's output: into the slot after what the chunk produced so far, never
 * beyond the chunk's image bytes; with a delta encoding, into the applier. */
static int write_out(const mqota_inflate_job_t *job, const uint8_t *data, size_t len)
{
    sink_t *s = (sink_t *)job->sink;
    if (len > job->out_len - s->produced) {
        return -1;
    }
    if (len == 0u) {
        return 0;
    }
    if (s->delta != NULL) {
        if (mqota_delta_feed(s->delta, data, len) != MQOTA_OK) {
            return -1;
        }
        s->produced += (uint32_t)len;
        return 0;
    }
    if (s->a->plat.slot_write(s->a->plat.ctx, s->a->target_slot, s->chunk_off + s->produced,
                              data, len) != 0) {
        s->flash_failed = true;
        return -1;
    }
    s->produced += (uint32_t)len;
    return 0;
}

/* The applier's source reads: the base image, in the running slot. */
static mqota_status_t delta_read(void *ctx, uint32_t offset, uint8_t *buf, size_t len)
{
    const sink_t *s = (const sink_t *)ctx;
    return s->a->plat.slot_read(s->a->plat.ctx, s->a->running.running_slot, offset, buf, len) == 0
               ? MQOTA_OK
               : MQOTA_ERR_PLATFORM;
}

/* The applier's output: the chunk's image bytes, in order, into the target slot (the applier
 * never writes more than the chunk's length: mqota_delta_begin()). */
static mqota_status_t delta_write(void *ctx, const uint8_t *data, size_t len)
{
    sink_t *s = (sink_t *)ctx;
    if (s->a->plat.slot_write(s->a->plat.ctx, s->a->target_slot, s->chunk_off + s->written, data,
                              len) != 0) {
        s->flash_failed = true;
        return MQOTA_ERR_PLATFORM;
    }
    s->written += (uint32_t)len;
    return MQOTA_OK;
}

/* Reads the LEB128 u32 that starts a delta chunk (its inflated record bytes) into *value.
 * Returns the bytes it took, 0 if the data end first or the number exceeds 32 bits. */
static uint32_t read_leb(const uint8_t *data, uint32_t len, uint32_t *value)
{
    uint32_t v = 0u;
    for (uint32_t i = 0u; i < len && i < LEB_MAX; i++) {
        if (i == LEB_MAX - 1u && (data[i] & 0xF0u) != 0u) {
            return 0u;
        }
        v |= (uint32_t)(data[i] & 0x7Fu) << (7u * i);
        if ((data[i] & 0x80u) == 0u) {
            *value = v;
            return i + 1u;
        }
    }
    return 0u;
}

bool decode__base_ok(mqota_agent_t *a)
{
    uint32_t slot_bytes = 0u;
    uint8_t digest[MQOTA_SHA256_LEN];
    const mqota_offer_t *o = &a->offer;

    if (!MQOTA_ENCODING_IS_DELTA(o->encoding)) {
        return true;
    }
    if (a->plat.slot_size(a->plat.ctx, a->running.running_slot, &slot_bytes) != 0 ||
        o->base_size > slot_bytes || a->plat.sha256_begin(a->plat.ctx) != 0) {
        return false;
    }
    for (uint32_t off = 0u; off < o->base_size;) {
        uint32_t n = o->base_size - off < sizeof(a->io) ? o->base_size - off : (uint32_t)sizeof(a->io);
        if (a->plat.slot_read(a->plat.ctx, a->running.running_slot, off, a->io, n) != 0 ||
            a->plat.sha256_update(a->plat.ctx, a->io, n) != 0) {
            (void)a->plat.sha256_finish(a->plat.ctx, digest);
            return false;
        }
        off += n;
    }
    return a->plat.sha256_finish(a->plat.ctx, digest) == 0 &&
           memcmp(digest, o->base_sha256, MQOTA_SHA256_LEN) == 0;
}

mqota_status_t decode__chunk(mqota_agent_t *a, uint32_t index, const uint8_t *data, uint32_t len)
{
    mqota_inflate_job_t job;
    sink_t s;
    mqota_delta_t applier;
    uint32_t off = index * a->offer.chunk_size;
    uint32_t records = 0u;
    uint32_t skip = 0u;

    if (!encoded(a)) {
        return a->plat.slot_write(a->plat.ctx, a->target_slot, off, data, len) == 0
                   ? MQOTA_OK
                   : MQOTA_ERR_PLATFORM;
    }
    s.a = a;
    s.chunk_off = off;
    s.hist_len = history_len(a, index);
    s.produced = 0u;
    s.flash_failed = false;
    s.delta = NULL;
    s.written = 0u;
    if (MQOTA_ENCODING_IS_DELTA(a->offer.encoding)) {
        /* §18: LEB128 record bytes, then the records deflated */
        skip = read_leb(data, len, &records);
        if (skip == 0u || records == 0u ||
            mqota_delta_init(&applier, a->offer.base_size, delta_read, delta_write, &s) != MQOTA_OK ||
            mqota_delta_begin(&applier, off, agent__chunk_len(a, index)) != MQOTA_OK) {
            return MQOTA_ERR_MALFORMED;
        }
        s.delta = &applier;
    }
    job.window_bits = a->offer.window_bits;
    job.in = data + skip;
    job.in_len = len - skip;
    job.hist_len = s.hist_len;
    job.out_len = s.delta != NULL ? records : agent__chunk_len(a, index);
    job.sink = &s;
    job.read_history = read_history;
    job.write = write_out;
    if (a->plat.inflate(a->plat.ctx, &job) != 0 || s.produced != job.out_len) {
        return s.flash_failed ? MQOTA_ERR_PLATFORM : MQOTA_ERR_MALFORMED;
    }
    if (s.delta != NULL &&
        (mqota_delta_end(&applier) != MQOTA_OK || s.written != agent__chunk_len(a, index))) {
        return MQOTA_ERR_MALFORMED;
    }
    return MQOTA_OK;
}

#else
typedef int mqota_decode_left_out_t; /* ISO C wants a declaration in every translation unit */
#endif /* MQOTA_CFG_DECODE */
