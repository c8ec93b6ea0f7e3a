/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mqota_delta.c - delta applier: one delta chunk (records of bsdiff's ADD and INSERT, cut at
 * the chunk's boundaries by mqotad) in, the chunk's target bytes out (mqota_delta.h has the
 * format; docs/PROTOCOL.md §18 the protocol around it).
 *
 * The applier is a byte-driven state machine so that the delta may arrive in any pieces (the
 * transfer's decode stage hands over what it inflated): a record header or seek split across
 * two calls is simply continued. It holds no pointer into the caller's input between calls.
 * Every bound is checked before a callback runs: an ADD record's whole source range against
 * source_size when its seek is read, every record's length against what the chunk still owes
 * when its header is read. So a hostile delta can make the applier fail, never read outside
 * the base image or write past the chunk.
 */
#include <stddef.h>
#include <stdint.h>

#include "mqota/mqota_config_defaults.h"
#include "mqota/mqota_delta.h"

#if MQOTA_CFG_DECODE /* only the decode stage applies deltas on a device */

/* What the next input byte is. DEAD: an error happened; IDLE: no chunk begun. */
enum { PH_IDLE = 0, PH_HDR, PH_SEEK, PH_ADD, PH_INSERT, PH_DEAD };

/* Largest shift of a u32 LEB128's fifth byte, which may carry only the 4 high bits. */
#define LEB_LAST_SHIFT 28u

mqota_status_t mqota_delta_init(mqota_delta_t *d, uint32_t source_size, mqota_delta_read_fn read,
                                mqota_delta_write_fn write, void *ctx)
{
    if (d == NULL || read == NULL || write == NULL) {
        return MQOTA_ERR_ARG;
    }
    d->read = read;
    d->write = write;
    d->ctx = ctx;
    d->source_size = source_size;
    d->pos = 0;
    d->left = 0;
    d->rec_left = 0;
    d->acc = 0;
    d->shift = 0;
    d->phase = PH_IDLE;
    return MQOTA_OK;
}

mqota_status_t mqota_delta_begin(mqota_delta_t *d, uint32_t target_offset, uint32_t target_len)
{
    if (d == NULL || target_len == 0) {
        return MQOTA_ERR_ARG;
    }
    d->pos = target_offset;
    d->left = target_len;
    d->rec_left = 0;
    d->acc = 0;
    d->shift = 0;
    d->phase = PH_HDR;
    return MQOTA_OK;
}

/*
 * Takes one byte of a LEB128 u32 into d->acc. Returns MQOTA_OK when the number is complete,
 * MQOTA_MORE when more bytes follow, MQOTA_ERR_MALFORMED when it would exceed 32 bits.
 */
static mqota_status_t leb_byte(mqota_delta_t *d, uint8_t b)
{
    if (d->shift == LEB_LAST_SHIFT && (b & 0xF0u) != 0) {
        return MQOTA_ERR_MALFORMED;
    }
    d->acc |= (uint32_t)(b & 0x7Fu) << d->shift;
    if ((b & 0x80u) == 0) {
        return MQOTA_OK;
    }
    d->shift = (uint8_t)(d->shift + 7u);
    return MQOTA_MORE;
}

/*
 * A record header is complete in d->acc: checks its length against what the chunk owes and
 * moves to its seek (ADD) or its literal bytes (INSERT). MQOTA_ERR_MALFORMED on a bad length.
 */
static mqota_status_t take_header(mqota_delta_t *d)
{
    uint32_t len = d->acc >> 1;
    if (len == 0 || len > d->left) {
        return MQOTA_ERR_MALFORMED;
    }
    d->rec_left = len;
    d->phase = (d->acc & 1u) == MQOTA_DELTA_INSERT ? PH_INSERT : PH_SEEK;
    return MQOTA_OK;
}

/*
 * An ADD record's seek is complete in d->acc (zigzag): moves the source position and checks
 * that the record's whole source range lies in the base image. MQOTA_ERR_RANGE if not.
 */
static mqota_status_t take_seek(mqota_delta_t *d)
{
    int64_t s = (int64_t)(d->acc >> 1);
    if ((d->acc & 1u) != 0) {
        s = -s - 1;
    }
    int64_t src = (int64_t)d->pos + s;
    if (src < 0 || src + (int64_t)d->rec_left > (int64_t)d->source_size) {
        return MQOTA_ERR_RANGE;
    }
    d->pos = (uint32_t)src;
    d->phase = PH_ADD;
    return MQOTA_OK;
}

/*
 * Applies up to MQOTA_DELTA_STEP diff bytes of the current ADD record: reads the source,
 * adds, writes. Returns the bytes consumed through *used, or the callback's error.
 */
static mqota_status_t add_step(mqota_delta_t *d, const uint8_t *in, size_t len, size_t *used)
{
    size_t n = len < d->rec_left ? len : d->rec_left;
    if (n > MQOTA_DELTA_STEP) {
        n = MQOTA_DELTA_STEP;
    }
    mqota_status_t st = d->read(d->ctx, d->pos, d->buf, n);
    if (st != MQOTA_OK) {
        return st;
    }
    for (size_t k = 0; k < n; k++) {
        d->buf[k] = (uint8_t)(d->buf[k] + in[k]);
    }
    st = d->write(d->ctx, d->buf, n);
    if (st != MQOTA_OK) {
        return st;
    }
    d->pos += (uint32_t)n;
    d->rec_left -= (uint32_t)n;
    d->left -= (uint32_t)n;
    *used = n;
    return MQOTA_OK;
}

/*
 * Passes up to rec_left literal bytes of the current INSERT record to the writer. Returns the
 * bytes consumed through *used, or the writer's error.
 */
static mqota_status_t insert_step(mqota_delta_t *d, const uint8_t *in, size_t len, size_t *used)
{
    size_t n = len < d->rec_left ? len : d->rec_left;
    mqota_status_t st = d->write(d->ctx, in, n);
    if (st != MQOTA_OK) {
        return st;
    }
    d->rec_left -= (uint32_t)n;
    d->left -= (uint32_t)n;
    *used = n;
    return MQOTA_OK;
}

/*
 * One step of the state machine on the input at `in`: consumes at least one byte (through
 * *used) or fails. Header and seek bytes go through leb_byte(); data through the steps.
 */
static mqota_status_t step(mqota_delta_t *d, const uint8_t *in, size_t len, size_t *used)
{
    mqota_status_t st;
    switch (d->phase) {
    case PH_HDR:
    case PH_SEEK:
        if (d->phase == PH_HDR && d->left == 0) {
            return MQOTA_ERR_MALFORMED; /* bytes after the chunk's last record */
        }
        *used = 1;
        st = leb_byte(d, in[0]);
        if (st == MQOTA_MORE) {
            return MQOTA_OK;
        }
        if (st != MQOTA_OK) {
            return st;
        }
        st = d->phase == PH_HDR ? take_header(d) : take_seek(d);
        d->acc = 0;
        d->shift = 0;
        return st;
    case PH_ADD:
        st = add_step(d, in, len, used);
        break;
    case PH_INSERT:
        st = insert_step(d, in, len, used);
        break;
    default:
        return MQOTA_ERR_STATE;
    }
    if (st == MQOTA_OK && d->rec_left == 0) {
        d->phase = PH_HDR;
    }
    return st;
}

mqota_status_t mqota_delta_feed(mqota_delta_t *d, const uint8_t *in, size_t len)
{
    if (d == NULL || (in == NULL && len > 0)) {
        return MQOTA_ERR_ARG;
    }
    if (d->phase == PH_IDLE || d->phase == PH_DEAD) {
        return MQOTA_ERR_STATE;
    }
    while (len > 0) {
        size_t used = 0;
        mqota_status_t st = step(d, in, len, &used);
        if (st != MQOTA_OK) {
            d->phase = PH_DEAD;
            return st;
        }
        in += used;
        len -= used;
    }
    return MQOTA_OK;
}

mqota_status_t mqota_delta_end(const mqota_delta_t *d)
{
    if (d == NULL) {
        return MQOTA_ERR_ARG;
    }
    if (d->phase == PH_IDLE || d->phase == PH_DEAD) {
        return MQOTA_ERR_STATE;
    }
    if (d->phase != PH_HDR || d->shift != 0 || d->left != 0) {
        return MQOTA_ERR_TRUNCATED;
    }
    return MQOTA_OK;
}

#else
typedef int mqota_delta_left_out_t; /* ISO C wants a declaration in every translation unit */
#endif /* MQOTA_CFG_DECODE */
