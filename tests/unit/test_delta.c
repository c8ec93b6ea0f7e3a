/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_delta.c - the delta applier (device/src/mqota_delta.c) and mqotad's delta preparation
 * (server/delta.c) on the real fixture pairs: deltas made at test time by bsdiff, applied
 * chunk by chunk, out of order and in odd pieces, to byte-identical images; the applier's
 * refusals on hand-made records; the cached delta file's checks.
 */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixtures.h"

#include "delta.h"
#include "mqota/mqota_delta.h"

/* The applier's world: a source image and a target buffer written at an offset. */
typedef struct {
    const uint8_t *src;
    size_t src_len;
    uint8_t *out;      /* the rebuilt image */
    size_t out_cap;
    size_t at;         /* where the next target byte goes */
    unsigned reads_outside; /* reads the applier must never make */
    mqota_status_t write_fails; /* nonzero: the writer returns it */
} world_t;

static mqota_status_t w_read(void *ctx, uint32_t off, uint8_t *buf, size_t len)
{
    world_t *w = ctx;
    if ((size_t)off > w->src_len || len > w->src_len - off) {
        w->reads_outside++;
        return MQOTA_ERR_PLATFORM;
    }
    memcpy(buf, w->src + off, len);
    return MQOTA_OK;
}

static mqota_status_t w_write(void *ctx, const uint8_t *data, size_t len)
{
    world_t *w = ctx;
    if (w->write_fails != MQOTA_OK) {
        return w->write_fails;
    }
    assert_true(len <= w->out_cap - w->at);
    memcpy(w->out + w->at, data, len);
    w->at += len;
    return MQOTA_OK;
}

static uint8_t *read_fixture(const char *name, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", MQOTA_FIXTURES, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc((size_t)n);
    assert_non_null(p);
    assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return p;
}

/* A fresh temporary directory for the delta's files. */
static void make_tmp(char *dir, size_t cap)
{
    snprintf(dir, cap, "/tmp/mqota-test.delta.XXXXXX");
    assert_non_null(mkdtemp(dir));
}

static void rm_tmp(const char *dir)
{
    char cmd[1200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/*
 * Applies every chunk of d to base, in reverse order (a delta chunk decodes alone), each with a
 * fresh applier (as after a reset), feeding `piece` bytes at a time, and checks the result is
 * the target byte for byte.
 */
static void apply_all(const delta_t *d, const uint8_t *base, size_t base_len,
                      const uint8_t *target, size_t target_len, size_t piece)
{
    uint8_t *out = calloc(1, target_len);
    assert_non_null(out);
    world_t w = {base, base_len, out, target_len, 0, 0, MQOTA_OK};
    for (uint32_t k = d->chunk_count; k-- > 0;) {
        mqota_delta_t a;
        uint32_t off = k * d->chunk_size;
        uint32_t n = (uint32_t)(target_len - off < d->chunk_size ? target_len - off : d->chunk_size);
        assert_int_equal(mqota_delta_init(&a, (uint32_t)base_len, w_read, w_write, &w), MQOTA_OK);
        assert_int_equal(mqota_delta_begin(&a, off, n), MQOTA_OK);
        w.at = off;
        const uint8_t *p = d->data + d->offsets[k];
        size_t left = d->offsets[k + 1] - d->offsets[k];
        while (left > 0) {
            size_t m = left < piece ? left : piece;
            assert_int_equal(mqota_delta_feed(&a, p, m), MQOTA_OK);
            p += m;
            left -= m;
        }
        assert_int_equal(mqota_delta_end(&a), MQOTA_OK);
        assert_int_equal(w.at, off + n);
    }
    assert_int_equal(w.reads_outside, 0);
    assert_memory_equal(out, target, target_len);
    free(out);
}

/* One fixture pair: made by bsdiff now, applied to the identical image, cached once. */
static void pair(const char *base_name, const char *target_name, uint32_t chunk_size, size_t piece)
{
    MQOTA_SKIP_WITHOUT_FIXTURES();
    size_t bl, tl;
    uint8_t *base = read_fixture(base_name, &bl);
    uint8_t *target = read_fixture(target_name, &tl);
    char dir[256], err[256] = "";
    make_tmp(dir, sizeof(dir));
    delta_t d;
    int rc = delta__prepare(dir, base, bl, target, tl, chunk_size, &d, err, sizeof(err));
    if (rc != 0) {
        fail_msg("delta__prepare: %s", err);
    }
    assert_int_equal(d.chunk_count, (tl + chunk_size - 1) / chunk_size);
    assert_true(d.prepare_seconds > 0);
    print_message("%s -> %s, chunks of %u: %zu delta bytes (before deflate) for %zu, %.3f s CPU\n",
                  base_name, target_name, chunk_size, d.data_len, tl, d.prepare_seconds);
    apply_all(&d, base, bl, target, tl, piece);

    /* Prepared once: the second call reads the cache, the same bytes. */
    delta_t c;
    assert_int_equal(delta__prepare(dir, base, bl, target, tl, chunk_size, &c, err, sizeof(err)), 0);
    assert_true(c.prepare_seconds == 0);
    assert_int_equal(c.data_len, d.data_len);
    assert_memory_equal(c.data, d.data, d.data_len);
    assert_memory_equal(c.offsets, d.offsets, ((size_t)d.chunk_count + 1) * 4);
    delta__free(&c);

    /* Another chunk size re-cuts bsdiff's kept output: no bsdiff needed (none on PATH). */
    const char *old = getenv("PATH");
    char *keep = old ? strdup(old) : NULL;
    setenv("PATH", dir, 1);
    rc = delta__prepare(dir, base, bl, target, tl, chunk_size * 2, &c, err, sizeof(err));
    if (keep) {
        setenv("PATH", keep, 1);
        free(keep);
    }
    if (rc != 0) {
        fail_msg("delta__prepare from the kept bsdiff output: %s", err);
    }
    assert_int_equal(c.chunk_count, (tl + 2 * chunk_size - 1) / (2 * chunk_size));
    apply_all(&c, base, bl, target, tl, 4096);
    delta__free(&c);

    /* The delta against another base does not rebuild the target. */
    uint8_t *wrong = malloc(bl);
    assert_non_null(wrong);
    memcpy(wrong, base, bl);
    for (size_t i = 0; i < bl; i += 4096) {
        wrong[i] ^= 0x5A;
    }
    uint8_t *out = calloc(1, tl);
    world_t w = {wrong, bl, out, tl, 0, 0, MQOTA_OK};
    mqota_delta_t a;
    assert_int_equal(mqota_delta_init(&a, (uint32_t)bl, w_read, w_write, &w), MQOTA_OK);
    for (uint32_t k = 0; k < d.chunk_count; k++) {
        uint32_t n = (uint32_t)(tl - (size_t)k * chunk_size < chunk_size ? tl - (size_t)k * chunk_size : chunk_size);
        assert_int_equal(mqota_delta_begin(&a, k * chunk_size, n), MQOTA_OK);
        assert_int_equal(mqota_delta_feed(&a, d.data + d.offsets[k], d.offsets[k + 1] - d.offsets[k]), MQOTA_OK);
        assert_int_equal(mqota_delta_end(&a), MQOTA_OK);
    }
    assert_true(memcmp(out, target, tl) != 0);
    free(out);
    free(wrong);
    delta__free(&d);
    rm_tmp(dir);
    free(base);
    free(target);
}

static void test_pair_hello_world(void **state)
{
    (void)state;
    pair("idf_hello_world_esp32_2023.bin", "idf_hello_world_esp32_2024.bin", 4096, 4096);
}

/* Bigger chunks, fed 3 bytes at a time: headers and seeks split across calls. */
static void test_pair_nerdminer(void **state)
{
    (void)state;
    pair("arduino_nerdminer_esp32s3_v1.4.bin", "arduino_nerdminer_esp32s3_v1.5.2.bin", 16384, 3);
}

/* A 64-byte source 0..63 and a 16-byte chunk at target offset 8. */
static uint8_t src64[64];
static uint8_t out16[16];
static world_t small;
static mqota_delta_t app;

static int small_setup(void **state)
{
    (void)state;
    for (unsigned i = 0; i < sizeof(src64); i++) {
        src64[i] = (uint8_t)i;
    }
    memset(out16, 0, sizeof(out16));
    small = (world_t){src64, sizeof(src64), out16, sizeof(out16), 0, 0, MQOTA_OK};
    assert_int_equal(mqota_delta_init(&app, sizeof(src64), w_read, w_write, &small), MQOTA_OK);
    return 0;
}

static mqota_status_t run(const uint8_t *rec, size_t len, uint32_t target_len)
{
    assert_int_equal(mqota_delta_begin(&app, 8, target_len), MQOTA_OK);
    return mqota_delta_feed(&app, rec, len);
}

/* ADD 4 from seek +2 (source 10..13, diff 1) then INSERT 2: exact bytes. */
static void test_records(void **state)
{
    (void)state;
    const uint8_t rec[] = {4 << 1, 2 << 1, 1, 1, 1, 1, 2 << 1 | 1, 0xAA, 0xBB,
                           /* ADD 2 from seek -1 (back to 13) */ 2 << 1, 1, 0, 0};
    assert_int_equal(run(rec, sizeof(rec), 8), MQOTA_OK);
    assert_int_equal(mqota_delta_end(&app), MQOTA_OK);
    const uint8_t want[] = {11, 12, 13, 14, 0xAA, 0xBB, 13, 14};
    assert_int_equal(small.at, 8);
    assert_memory_equal(out16, want, sizeof(want));
}

static void test_refusals(void **state)
{
    (void)state;
    /* reaching past the source's end, or before its start: RANGE, and no read is made */
    const uint8_t past[] = {4 << 1, 54 << 1}; /* 8 + 54 = 62, 4 bytes: 62..65 */
    assert_int_equal(run(past, sizeof(past), 4), MQOTA_ERR_RANGE);
    const uint8_t before[] = {1 << 1, (9 << 1) - 1}; /* seek -9 from 8 */
    assert_int_equal(run(before, sizeof(before), 1), MQOTA_ERR_RANGE);
    assert_int_equal(small.reads_outside, 0);
    /* the error is sticky until the next begin */
    const uint8_t one[] = {1 << 1 | 1, 7};
    assert_int_equal(mqota_delta_feed(&app, one, sizeof(one)), MQOTA_ERR_STATE);
    assert_int_equal(mqota_delta_end(&app), MQOTA_ERR_STATE);
    /* a record of length 0, or longer than the chunk owes */
    const uint8_t zero[] = {0 << 1 | 1};
    assert_int_equal(run(zero, sizeof(zero), 4), MQOTA_ERR_MALFORMED);
    const uint8_t big[] = {5 << 1 | 1, 1, 2, 3, 4, 5};
    assert_int_equal(run(big, sizeof(big), 4), MQOTA_ERR_MALFORMED);
    assert_int_equal(small.at, 0); /* nothing written past the chunk */
    /* bytes after the chunk's last record */
    const uint8_t extra[] = {1 << 1 | 1, 7, 0};
    assert_int_equal(run(extra, sizeof(extra), 1), MQOTA_ERR_MALFORMED);
    /* a LEB128 number over 32 bits */
    const uint8_t leb[] = {0x82, 0x80, 0x80, 0x80, 0x10}; /* 2 + 1 << 32 */
    assert_int_equal(run(leb, sizeof(leb), 4), MQOTA_ERR_MALFORMED);
    /* a chunk that ends early: inside a header, inside a record, before its last byte */
    small.at = 0;
    const uint8_t part[] = {0x82};
    assert_int_equal(run(part, sizeof(part), 4), MQOTA_OK);
    assert_int_equal(mqota_delta_end(&app), MQOTA_ERR_TRUNCATED);
    small.at = 0;
    const uint8_t half[] = {2 << 1 | 1, 7};
    assert_int_equal(run(half, sizeof(half), 4), MQOTA_OK);
    assert_int_equal(mqota_delta_end(&app), MQOTA_ERR_TRUNCATED);
    small.at = 0;
    const uint8_t short_chunk[] = {1 << 1 | 1, 7};
    assert_int_equal(run(short_chunk, sizeof(short_chunk), 4), MQOTA_OK);
    assert_int_equal(mqota_delta_end(&app), MQOTA_ERR_TRUNCATED);
    /* a writer's error comes back as it was */
    small.at = 0;
    small.write_fails = MQOTA_ERR_PLATFORM;
    assert_int_equal(run(short_chunk, sizeof(short_chunk), 1), MQOTA_ERR_PLATFORM);
    small.write_fails = MQOTA_OK;
    /* arguments and order */
    mqota_delta_t fresh;
    assert_int_equal(mqota_delta_init(&fresh, 1, NULL, w_write, NULL), MQOTA_ERR_ARG);
    assert_int_equal(mqota_delta_init(&fresh, 1, w_read, w_write, NULL), MQOTA_OK);
    assert_int_equal(mqota_delta_feed(&fresh, one, sizeof(one)), MQOTA_ERR_STATE);
    assert_int_equal(mqota_delta_begin(&fresh, 0, 0), MQOTA_ERR_ARG);
}

/* docs/PROTOCOL.md §18's example, byte for byte: chunk 3 of 4,096 bytes copies 4,090 bytes
 * from the base at 12,300 with 3 bytes changed, then inserts AA BB CC DD EE FF. */
static void test_protocol_example(void **state)
{
    (void)state;
    static uint8_t src[20000], rec[4100], out[4096];
    for (size_t i = 0; i < sizeof(src); i++) {
        src[i] = (uint8_t)(i * 13u);
    }
    const uint8_t head[] = {0xF4, 0x3F, 0x18}, ins[] = {0x0D, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF};
    memcpy(rec, head, 3);
    memset(rec + 3, 0, 4090);
    rec[3 + 10] = 1;
    rec[3 + 2000] = 0x80;
    rec[3 + 4089] = 0xFF;
    memcpy(rec + 3 + 4090, ins, sizeof(ins));
    world_t w = {src, sizeof(src), out, sizeof(out), 0, 0, MQOTA_OK};
    mqota_delta_t a;
    assert_int_equal(mqota_delta_init(&a, sizeof(src), w_read, w_write, &w), MQOTA_OK);
    assert_int_equal(mqota_delta_begin(&a, 3u * 4096u, 4096u), MQOTA_OK);
    assert_int_equal(mqota_delta_feed(&a, rec, sizeof(rec)), MQOTA_OK);
    assert_int_equal(mqota_delta_end(&a), MQOTA_OK);
    assert_int_equal(sizeof(rec), 4100u); /* records_len, LEB128 84 20 */
    for (size_t k = 0; k < 4090; k++) {
        assert_int_equal(out[k], (uint8_t)(src[12300 + k] + rec[3 + k]));
    }
    assert_memory_equal(out + 4090, ins + 1, 6);
}

/* The cached file: a flipped byte is refused (CRC), a missing file says so, bsdiff missing
 * is one clear sentence. */
static void test_cache_file(void **state)
{
    (void)state;
    MQOTA_SKIP_WITHOUT_FIXTURES();
    size_t bl, tl;
    uint8_t *base = read_fixture("idf_hello_world_esp32_2023.bin", &bl);
    uint8_t *target = read_fixture("idf_hello_world_esp32_2024.bin", &tl);
    char dir[256], path[512], err[256] = "";
    make_tmp(dir, sizeof(dir));
    delta_t d, l;
    assert_int_equal(delta__make(base, bl, target, tl, 4096, dir, &d, err, sizeof(err)), 0);
    snprintf(path, sizeof(path), "%s/x.mqdl", dir);
    assert_int_equal(delta__load(path, &l, err, sizeof(err)), 1);
    assert_int_equal(delta__save(&d, path, err, sizeof(err)), 0);
    assert_int_equal(delta__load(path, &l, err, sizeof(err)), 0);
    assert_int_equal(l.data_len, d.data_len);
    assert_memory_equal(l.data, d.data, d.data_len);
    delta__free(&l);
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    fseek(f, DELTA_FILE_HEADER_LEN + 100, SEEK_SET);
    int c = fgetc(f);
    fseek(f, DELTA_FILE_HEADER_LEN + 100, SEEK_SET);
    fputc(c ^ 1, f);
    fclose(f);
    assert_int_equal(delta__load(path, &l, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "CRC-32"));
    delta__free(&d);

    const char *old = getenv("PATH");
    char *keep = old ? strdup(old) : NULL;
    setenv("PATH", dir, 1);
    assert_int_equal(delta__make(base, bl, target, tl, 4096, dir, &d, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "bsdiff"));
    if (keep) {
        setenv("PATH", keep, 1);
        free(keep);
    }
    rm_tmp(dir);
    free(base);
    free(target);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pair_hello_world),
        cmocka_unit_test(test_pair_nerdminer),
        cmocka_unit_test_setup(test_records, small_setup),
        cmocka_unit_test_setup(test_refusals, small_setup),
        cmocka_unit_test(test_protocol_example),
        cmocka_unit_test(test_cache_file),
    };
    return mqota_fixtures_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
