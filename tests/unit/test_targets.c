/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_targets.c - issue 15's size targets on the fixture images, with mqotad's own code:
 * release.c's compressed forms (docs/PROTOCOL.md §6.1) and delta.c's wire form (§18) at 16 KiB
 * chunks and a 32 KiB window, against the sizes bench/deflate-sizes and bench/delta-sizes
 * measured for gzip -9, bsdiff and xdelta3 -9 on the same images (constants below: this test
 * does not run those programs). Every chunk is decoded as the device does (zlib's inflate with
 * the image before the chunk as dictionary, then for a delta the device's applier) and must
 * give exactly its image bytes. A form's cache file of the old version (1) is built again.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>

#include "fixtures.h"

#include "delta.h"
#include "mqota/mqota_delta.h"
#include "mqota/mqota_proto.h"
#include "mqotad.h"
#include "release.h"

#define CHUNK 16384u
#define WBITS 15u

/* gzip -9 of each new image, the smaller of bsdiff and xdelta3 -9 for each pair (bench/...). */
#define GZIP9_HELLO 62256u
#define GZIP9_NERD 808651u
#define DELTA_BEST_HELLO 56163u /* xdelta3 -9 */
#define DELTA_BEST_NERD 274801u /* bsdiff */

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

/* Inflates one chunk's raw deflate data (in, in_len) with dictionary dict into out, which must
 * end up exactly out_len bytes with all input consumed (the device's rule, §6.1). */
static void inflate_chunk(const uint8_t *in, size_t in_len, const uint8_t *dict, size_t dict_len,
                          uint8_t *out, size_t out_len)
{
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    assert_int_equal(inflateInit2(&zs, -(int)WBITS), Z_OK);
    if (dict_len > 0) {
        assert_int_equal(inflateSetDictionary(&zs, dict, (uInt)dict_len), Z_OK);
    }
    zs.next_in = (z_const Bytef *)in;
    zs.avail_in = (uInt)in_len;
    zs.next_out = out;
    zs.avail_out = (uInt)out_len + 1u; /* one byte more: a chunk that makes too many fails */
    int rc = inflate(&zs, Z_SYNC_FLUSH);
    assert_true(rc == Z_OK || rc == Z_STREAM_END);
    assert_int_equal(zs.avail_in, 0);
    assert_int_equal(zs.total_out, out_len);
    inflateEnd(&zs);
}

/* A temporary data directory for mqotad (DIR/releases made). */
static void make_dir(mqotad_t *d)
{
    snprintf(d->data_dir, sizeof(d->data_dir), "/tmp/mqota-test.targets.XXXXXX");
    assert_non_null(mkdtemp(d->data_dir));
    char sub[PATH_MAX + 16];
    snprintf(sub, sizeof(sub), "%s/releases", d->data_dir);
    assert_int_equal(mkdir(sub, 0700), 0);
}

static void rm_dir(const mqotad_t *d)
{
    char cmd[PATH_MAX + 32];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->data_dir);
    assert_int_equal(system(cmd), 0);
}

/* The deflate-sync and deflate-full forms of one image: deflate-sync no larger than gzip -9,
 * every chunk of both decoding to its image bytes; the cache's version checked. */
static void compressed(const char *name, uint32_t gzip9)
{
    MQOTA_SKIP_WITHOUT_FIXTURES();
    size_t len;
    uint8_t *img = read_fixture(name, &len);
    static mqotad_t d;
    memset(&d, 0, sizeof(d));
    make_dir(&d);
    db_release_t r;
    memset(&r, 0, sizeof(r));
    r.id = 1;
    r.size = (uint32_t)len;
    snprintf(r.sha256, sizeof(r.sha256), "%064d", 7);
    uint8_t *out = malloc(CHUNK + 1u);
    assert_non_null(out);
    for (uint8_t enc = MQOTA_ENCODING_DEFLATE_SYNC; enc <= MQOTA_ENCODING_DEFLATE_FULL; enc++) {
        release_form_t f;
        assert_int_equal(release__form(&d, &r, img, enc, WBITS, CHUNK, &f), 0);
        print_message("%s: %s at %u-byte chunks: %u bytes (gzip -9: %u)\n", name,
                      enc == MQOTA_ENCODING_DEFLATE_SYNC ? "deflate-sync" : "deflate-full",
                      CHUNK, f.wire_size, gzip9);
        if (enc == MQOTA_ENCODING_DEFLATE_SYNC) {
            assert_true(f.wire_size <= gzip9);
        }
        for (uint32_t i = 0; i < f.chunk_count; i++) {
            size_t at = (size_t)i * CHUNK, n = len - at < CHUNK ? len - at : CHUNK;
            size_t dict = enc == MQOTA_ENCODING_DEFLATE_SYNC ? (at < (1u << WBITS) ? at : 1u << WBITS)
                                                             : 0;
            inflate_chunk(f.data + f.off[i], f.off[i + 1] - f.off[i], img + at - dict, dict, out, n);
            assert_memory_equal(out, img + at, n);
        }
        release__form_free(&f);
    }
    /* The cached deflate-sync form is read back; one of version 1 is not, and is built again. */
    char path[PATH_MAX + 128];
    snprintf(path, sizeof(path), "%s/releases/%s.z1w15c%u", d.data_dir, r.sha256, CHUNK);
    release_form_t f;
    assert_int_equal(release__form(&d, &r, NULL, MQOTA_ENCODING_DEFLATE_SYNC, WBITS, CHUNK, &f), 0);
    uint32_t wire = f.wire_size;
    release__form_free(&f);
    FILE *fh = fopen(path, "r+b");
    assert_non_null(fh);
    fseek(fh, 0, SEEK_END);
    long n = ftell(fh);
    uint8_t *file = malloc((size_t)n);
    assert_non_null(file);
    fseek(fh, 0, SEEK_SET);
    assert_int_equal(fread(file, 1, (size_t)n, fh), (size_t)n);
    assert_int_equal(file[4], 2);
    file[4] = 1; /* an old file, its CRC-32 made right */
    uint32_t crc = (uint32_t)crc32(0, file, (uInt)(n - 4));
    for (int k = 0; k < 4; k++) file[n - 4 + k] = (uint8_t)(crc >> (8 * k));
    fseek(fh, 0, SEEK_SET);
    assert_int_equal(fwrite(file, 1, (size_t)n, fh), (size_t)n);
    fclose(fh);
    free(file);
    assert_int_equal(release__form(&d, &r, NULL, MQOTA_ENCODING_DEFLATE_SYNC, WBITS, CHUNK, &f), 1);
    assert_int_equal(release__form(&d, &r, img, MQOTA_ENCODING_DEFLATE_SYNC, WBITS, CHUNK, &f), 0);
    assert_int_equal(f.wire_size, wire);
    release__form_free(&f);
    free(out);
    free(img);
    rm_dir(&d);
}

static void test_compressed_hello_world(void **state)
{
    (void)state;
    compressed("idf_hello_world_esp32_2024.bin", GZIP9_HELLO);
}

static void test_compressed_nerdminer(void **state)
{
    (void)state;
    compressed("arduino_nerdminer_esp32s3_v1.5.2.bin", GZIP9_NERD);
}

/* The applier's world: the base, and the rebuilt chunk. */
typedef struct {
    const uint8_t *base;
    size_t base_len;
    uint8_t *out;
    size_t at, cap;
} world_t;

static mqota_status_t w_read(void *ctx, uint32_t off, uint8_t *buf, size_t len)
{
    world_t *w = ctx;
    if ((size_t)off > w->base_len || len > w->base_len - off) return MQOTA_ERR_PLATFORM;
    memcpy(buf, w->base + off, len);
    return MQOTA_OK;
}

static mqota_status_t w_write(void *ctx, const uint8_t *data, size_t len)
{
    world_t *w = ctx;
    if (len > w->cap - w->at) return MQOTA_ERR_PLATFORM;
    memcpy(w->out + w->at, data, len);
    w->at += len;
    return MQOTA_OK;
}

/* Reads a LEB128 u32 at p (at most 5 bytes); *n its length. */
static uint32_t leb(const uint8_t *p, size_t *n)
{
    uint32_t v = 0;
    size_t k = 0;
    do {
        v |= (uint32_t)(p[k] & 0x7Fu) << (7u * k);
    } while (p[k++] & 0x80u);
    *n = k;
    return v;
}

/* The delta-sync wire form of one pair: no larger than the best of bsdiff and xdelta3 -9,
 * every chunk inflating and applying to its image bytes; *inserts counts the chunks sent as
 * one INSERT record. */
static void delta(const char *base_name, const char *target_name, uint32_t best)
{
    MQOTA_SKIP_WITHOUT_FIXTURES();
    size_t bl, tl;
    uint8_t *base = read_fixture(base_name, &bl);
    uint8_t *target = read_fixture(target_name, &tl);
    static mqotad_t d;
    memset(&d, 0, sizeof(d));
    make_dir(&d);
    char err[256] = "";
    delta_t recs;
    if (delta__make(base, bl, target, tl, CHUNK, d.data_dir, &recs, err, sizeof(err)) != 0)
        fail_msg("delta__make: %s", err);
    uint8_t *wire;
    uint32_t *off;
    size_t wire_len;
    if (delta__wire(&recs, target, MQOTA_ENCODING_DELTA_SYNC, WBITS, &wire, &off, &wire_len, err,
                    sizeof(err)) != 0)
        fail_msg("delta__wire: %s", err);
    uint8_t *rec = malloc(2u * CHUNK + 16u);
    uint8_t *out = malloc(CHUNK);
    assert_non_null(rec);
    assert_non_null(out);
    unsigned inserts = 0;
    for (uint32_t i = 0; i < recs.chunk_count; i++) {
        size_t at = (size_t)i * CHUNK, n = tl - at < CHUNK ? tl - at : CHUNK;
        size_t dict = at < (1u << WBITS) ? at : 1u << WBITS, pre;
        uint32_t rlen = leb(wire + off[i], &pre);
        assert_true(rlen <= 2u * CHUNK + 16u);
        inflate_chunk(wire + off[i] + pre, off[i + 1] - off[i] - pre, target + at - dict, dict,
                      rec, rlen);
        size_t hn;
        if (leb(rec, &hn) == (uint32_t)(n << 1 | 1u) && hn + n == rlen) inserts++;
        world_t w = {base, bl, out, 0, n};
        mqota_delta_t a;
        assert_int_equal(mqota_delta_init(&a, (uint32_t)bl, w_read, w_write, &w), MQOTA_OK);
        assert_int_equal(mqota_delta_begin(&a, (uint32_t)at, (uint32_t)n), MQOTA_OK);
        assert_int_equal(mqota_delta_feed(&a, rec, rlen), MQOTA_OK);
        assert_int_equal(mqota_delta_end(&a), MQOTA_OK);
        assert_int_equal(w.at, n);
        assert_memory_equal(out, target + at, n);
    }
    print_message("%s -> %s: delta-sync at %u-byte chunks: %zu bytes (best of bsdiff and "
                  "xdelta3 -9: %u), %u of %u chunks one INSERT\n", base_name, target_name, CHUNK,
                  wire_len, best, inserts, recs.chunk_count);
    assert_true(wire_len <= best);
    free(rec);
    free(out);
    free(wire);
    free(off);
    delta__free(&recs);
    free(base);
    free(target);
    rm_dir(&d);
}

static void test_delta_hello_world(void **state)
{
    (void)state;
    delta("idf_hello_world_esp32_2023.bin", "idf_hello_world_esp32_2024.bin", DELTA_BEST_HELLO);
}

static void test_delta_nerdminer(void **state)
{
    (void)state;
    delta("arduino_nerdminer_esp32s3_v1.4.bin", "arduino_nerdminer_esp32s3_v1.5.2.bin",
          DELTA_BEST_NERD);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compressed_hello_world),
        cmocka_unit_test(test_compressed_nerdminer),
        cmocka_unit_test(test_delta_hello_world),
        cmocka_unit_test(test_delta_nerdminer),
    };
    return mqota_fixtures_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
