/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the delta applier (device/src/mqota_delta.c). Input: u16 source size
 * (0..65535), u16 target offset, u16 target length (1..65535, 0 taken as 1), then the delta
 * chunk. The source is a made-up image of that size. Whatever the bytes, the applier must
 * never read outside the source, never write more than the chunk's length, make at most one
 * callback per input byte (so no loop runs unbounded), and give the same result, output and
 * status, whether the chunk comes whole or one byte at a time.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mqota/mqota_delta.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)
#define TARGET_MAX 65535u

typedef struct {
    uint32_t source_size;
    uint8_t out[TARGET_MAX];
    uint32_t out_len;  /* bytes written */
    uint32_t target_len;
    size_t calls;
} sink_t;

static mqota_status_t f_read(void *ctx, uint32_t off, uint8_t *buf, size_t len)
{
    sink_t *s = ctx;
    CHECK((uint64_t)off + len <= s->source_size && len <= MQOTA_DELTA_STEP && len > 0);
    for (size_t i = 0; i < len; i++) {
        buf[i] = (uint8_t)((off + i) * 31u + 7u);
    }
    s->calls++;
    return MQOTA_OK;
}

static mqota_status_t f_write(void *ctx, const uint8_t *data, size_t len)
{
    sink_t *s = ctx;
    CHECK(len > 0 && (uint64_t)s->out_len + len <= s->target_len);
    memcpy(s->out + s->out_len, data, len);
    s->out_len += (uint32_t)len;
    s->calls++;
    return MQOTA_OK;
}

static sink_t whole, bytewise;

/* Applies the chunk to s in pieces of `piece` bytes; returns the first error or end()'s. */
static mqota_status_t apply(sink_t *s, uint32_t off, const uint8_t *in, size_t len, size_t piece)
{
    mqota_delta_t d;
    CHECK(mqota_delta_init(&d, s->source_size, f_read, f_write, s) == MQOTA_OK);
    CHECK(mqota_delta_begin(&d, off, s->target_len) == MQOTA_OK);
    for (size_t at = 0; at < len; at += piece) {
        size_t n = len - at < piece ? len - at : piece;
        mqota_status_t st = mqota_delta_feed(&d, in + at, n);
        if (st != MQOTA_OK) {
            CHECK(mqota_delta_feed(&d, in, len) == MQOTA_ERR_STATE);
            return st;
        }
    }
    return mqota_delta_end(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 6) {
        return 0;
    }
    uint32_t source_size = (uint32_t)data[0] | (uint32_t)data[1] << 8;
    uint32_t off = (uint32_t)data[2] | (uint32_t)data[3] << 8;
    uint32_t tlen = (uint32_t)data[4] | (uint32_t)data[5] << 8;
    if (tlen == 0) {
        tlen = 1;
    }
    const uint8_t *in = data + 6;
    size_t len = size - 6;
    whole.source_size = bytewise.source_size = source_size;
    whole.target_len = bytewise.target_len = tlen;
    whole.out_len = bytewise.out_len = 0;
    whole.calls = bytewise.calls = 0;
    mqota_status_t a = apply(&whole, off, in, len, len ? len : 1);
    mqota_status_t b = apply(&bytewise, off, in, len, 1);
    CHECK(whole.calls <= 2 * len);
    CHECK(a == b);
    CHECK(whole.out_len == bytewise.out_len);
    CHECK(memcmp(whole.out, bytewise.out, whole.out_len) == 0);
    if (a == MQOTA_OK) {
        CHECK(whole.out_len == tlen);
    }
    return 0;
}
