/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_image.c - ESP32 image head parser and streaming checker (mqota_image.c) against the six
 * real application images in MQOTA_FIXTURES, and against damaged copies of them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fixtures.h"
#include <openssl/sha.h>

#include "mqota/mqota_image.h"

/* The facts table of SOURCES.md in the fixture directory. */
typedef struct {
    const char *file;
    uint16_t chip_id;
    const char *chip;
    size_t size;
    const char *version;
    const char *project;
    const char *sha256;
} fixture_t;

static const fixture_t fixtures[] = {
    {"idf_hello_world_esp32_2023.bin", 0, "ESP32", 133392, "1", "hello_world",
     "c570214f16027b556ee3e9f4914aa3bea5a28d2eb7c657f8661beaf65c9a047d"},
    {"idf_hello_world_esp32_2024.bin", 0, "ESP32", 124416, "v1.4.1-2-g0296947-dirty",
     "hello_world", "d98bfba1b7e4343a7d68d492a45d51248a6842ba9cb749de0d573506bb420d33"},
    {"idf_blink_esp32s2.bin", 2, "ESP32-S2", 182368, "qa-test-v5.0-20220830-4-g4532e6",
     "blink", "a62c4d60cfab37953fd76124fa93ea5bafa3e2962fd75ad933b2a75b4d941d12"},
    {"arduino_nerdminer_esp32_v1.6.3.bin", 0, "ESP32", 968768, "esp-idf: v4.4.4 e8bdaf9198",
     "arduino-lib-builder", "fd13db8c4d7286d0e18841f3100e2d9b319add9e29d4fd4da08189b958466375"},
    {"arduino_nerdminer_esp32s3_v1.4.bin", 9, "ESP32-S3", 1320464, "esp-idf: v4.4.4 e8bdaf9198",
     "arduino-lib-builder", "869abafe57160821870ed0eb2fc06519c580c7196e1fba7bf3c3811f69f33f12"},
    {"arduino_nerdminer_esp32s3_v1.5.2.bin", 9, "ESP32-S3", 1770736,
     "esp-idf: v4.4.4 e8bdaf9198", "arduino-lib-builder",
     "1b382d5e4e44e74aed64bb4c11138051cb45121a38b59b5881e40b65d06aa2e6"},
};

#define FIXTURE_COUNT (sizeof(fixtures) / sizeof(fixtures[0]))

typedef struct {
    uint8_t *data;
    size_t len;
} blob_t;

static blob_t load_fixture(const char *name)
{
    char path[1024];
    blob_t b = {NULL, 0};
    FILE *f;
    long sz;

    snprintf(path, sizeof(path), "%s/%s", MQOTA_FIXTURES, name);
    f = fopen(path, "rb");
    if (f == NULL) {
        fail_msg("cannot open fixture %s", path);
    }
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    sz = ftell(f);
    assert_true(sz > 0);
    rewind(f);
    b.len = (size_t)sz;
    b.data = malloc(b.len);
    assert_non_null(b.data);
    assert_int_equal(fread(b.data, 1, b.len, f), b.len);
    fclose(f);
    return b;
}

static void to_hex(const uint8_t *d, size_t n, char *out)
{
    size_t i;

    for (i = 0; i < n; i++) {
        sprintf(out + 2 * i, "%02x", d[i]);
    }
}

typedef struct {
    mqota_status_t update_st; /* first non-OK status from update, or OK */
    mqota_status_t finish_st;
    uint32_t hashed_len;
    mqota_image_check_t chk;
} run_t;

/* Run the checker over buf in pieces of `step` bytes (0 = one call). */
static run_t check(const uint8_t *buf, size_t len, size_t step)
{
    run_t r;
    size_t pos = 0;

    memset(&r, 0, sizeof(r));
    mqota_image_check_init(&r.chk);
    if (step == 0) {
        step = len > 0 ? len : 1;
    }
    while (pos < len) {
        size_t n = len - pos < step ? len - pos : step;
        mqota_status_t st = mqota_image_check_update(&r.chk, buf + pos, n);
        if (st != MQOTA_OK && r.update_st == MQOTA_OK) {
            r.update_st = st;
        }
        pos += n;
    }
    r.finish_st = mqota_image_check_finish(&r.chk, &r.hashed_len);
    return r;
}

/* File offset of segment `index`'s data, and its length, walking the segment headers. */
static size_t segment_data_at(const blob_t *b, unsigned index, uint32_t *len)
{
    size_t pos = MQOTA_IMAGE_HEADER_LEN;
    unsigned i;

    for (i = 0;; i++) {
        const uint8_t *h = b->data + pos;
        uint32_t n = (uint32_t)h[4] | ((uint32_t)h[5] << 8) | ((uint32_t)h[6] << 16) |
                     ((uint32_t)h[7] << 24);
        if (i == index) {
            *len = n;
            return pos + MQOTA_SEGMENT_HEADER_LEN;
        }
        pos += MQOTA_SEGMENT_HEADER_LEN + n;
    }
}

/* ---- The six real images ------------------------------------------------------------------ */

static void test_fixtures_parse_head(void **state)
{
    MQOTA_SKIP_WITHOUT_FIXTURES();
    size_t i;

    (void)state;
    for (i = 0; i < FIXTURE_COUNT; i++) {
        const fixture_t *fx = &fixtures[i];
        blob_t b = load_fixture(fx->file);
        mqota_image_info_t info;
        uint8_t digest[SHA256_DIGEST_LENGTH];
        char hex[2 * SHA256_DIGEST_LENGTH + 1];

        assert_int_equal(b.len, fx->size);
        SHA256(b.data, b.len, digest);
        to_hex(digest, sizeof(digest), hex);
        assert_string_equal(hex, fx->sha256);

        memset(&info, 0x7E, sizeof(info));
        assert_int_equal(mqota_image_parse_head(b.data, MQOTA_IMAGE_HEAD_LEN, &info), MQOTA_OK);
        assert_int_equal(info.chip_id, fx->chip_id);
        assert_string_equal(mqota_chip_name(info.chip_id), fx->chip);
        assert_string_equal(info.version, fx->version);
        assert_string_equal(info.project_name, fx->project);
        assert_int_equal(info.segment_count, b.data[1]);
        assert_true(info.segment_count >= 1 && info.segment_count <= 16);
        assert_int_equal(info.hash_appended, 1);
        assert_int_equal(info.secure_version, 0);
        assert_int_equal(info.entry_addr, (uint32_t)b.data[4] | ((uint32_t)b.data[5] << 8) |
                                              ((uint32_t)b.data[6] << 16) |
                                              ((uint32_t)b.data[7] << 24));
        assert_true(strlen(info.idf_ver) > 0 && strlen(info.idf_ver) <= 32);
        assert_true(strlen(info.date) > 0 && strlen(info.date) <= 16);
        assert_true(strlen(info.time) > 0 && strlen(info.time) <= 16);
        assert_memory_equal(info.app_elf_sha256, b.data + 176, 32);
        /* Fields are copied byte for byte up to their NUL. */
        assert_memory_equal(info.idf_ver, b.data + 144, strlen(info.idf_ver));

        assert_int_equal(mqota_image_parse_head(b.data, MQOTA_IMAGE_HEAD_LEN - 1, &info),
                         MQOTA_ERR_TRUNCATED);
        assert_int_equal(mqota_image_parse_head(NULL, b.len, &info), MQOTA_ERR_ARG);
        assert_int_equal(mqota_image_parse_head(b.data, b.len, NULL), MQOTA_ERR_ARG);
        free(b.data);
    }
}

/* The blink image's idf_ver is cut at 31 characters in the descriptor; full-width fields. */
static void test_desc_strings(void **state)
{
    MQOTA_SKIP_WITHOUT_FIXTURES();
    blob_t b = load_fixture("idf_blink_esp32s2.bin");
    mqota_image_info_t info;

    (void)state;
    assert_int_equal(mqota_image_parse_head(b.data, b.len, &info), MQOTA_OK);
    assert_string_equal(info.idf_ver, "v5.0-beta1-427-g4532e6e0b2-dirt");
    assert_string_equal(info.time, "19:46:07");
    assert_string_equal(info.date, "Sep 13 2022");

    /* Fields that fill all their bytes (no NUL) are still terminated, and bytes after a NUL
     * inside a field are not copied. */
    memset(b.data + 48, 'V', 32);
    memset(b.data + 80, 'P', 32);
    memset(b.data + 112, 'T', 16);
    memset(b.data + 128, 'D', 16);
    memset(b.data + 144, 'I', 32);
    assert_int_equal(mqota_image_parse_head(b.data, MQOTA_IMAGE_HEAD_LEN, &info), MQOTA_OK);
    assert_int_equal(strlen(info.version), 32);
    assert_int_equal(strlen(info.project_name), 32);
    assert_int_equal(strlen(info.time), 16);
    assert_int_equal(strlen(info.date), 16);
    assert_int_equal(strlen(info.idf_ver), 32);
    assert_int_equal(info.version[0], 'V');
    assert_int_equal(info.idf_ver[31], 'I');
    b.data[48 + 3] = 0;
    assert_int_equal(mqota_image_parse_head(b.data, MQOTA_IMAGE_HEAD_LEN, &info), MQOTA_OK);
    assert_string_equal(info.version, "VVV");
    assert_int_equal(info.version[10], 0);
    free(b.data);
}

static void test_fixtures_check(void **state)
{
    MQOTA_SKIP_WITHOUT_FIXTURES();
    static const size_t steps[] = {0, 1, 7, 4096};
    size_t i, s;

    (void)state;
    for (i = 0; i < FIXTURE_COUNT; i++) {
        blob_t b = load_fixture(fixtures[i].file);
        run_t whole = check(b.data, b.len, 0);
        uint8_t digest[SHA256_DIGEST_LENGTH];

        assert_int_equal(whole.update_st, MQOTA_OK);
        assert_int_equal(whole.finish_st, MQOTA_OK);
        assert_int_equal(whole.chk.fault, MQOTA_IMAGE_FAULT_NONE);
        /* Checksum byte on the last byte of a 16-byte block; the hash follows it. */
        assert_int_equal(whole.hashed_len % 16, 0);
        assert_int_equal(whole.hashed_len, whole.chk.checksum_at + 1);
        assert_int_equal(whole.chk.image_len, whole.hashed_len + 32);
        assert_true(whole.chk.image_len <= b.len);
        assert_int_equal(whole.chk.offset, b.len);
        assert_memory_equal(whole.chk.appended_hash, b.data + whole.hashed_len, 32);
        SHA256(b.data, whole.hashed_len, digest);
        assert_memory_equal(digest, whole.chk.appended_hash, 32);

        for (s = 1; s < sizeof(steps) / sizeof(steps[0]); s++) {
            run_t r = check(b.data, b.len, steps[s]);
            assert_int_equal(r.update_st, MQOTA_OK);
            assert_int_equal(r.finish_st, MQOTA_OK);
            assert_int_equal(r.hashed_len, whole.hashed_len);
            assert_memory_equal(r.chk.appended_hash, whole.chk.appended_hash, 32);
            assert_int_equal(r.chk.checksum, whole.chk.checksum);
        }
        /* Exactly the image, with no trailing bytes, passes too. */
        {
            run_t r = check(b.data, whole.chk.image_len, 0);
            assert_int_equal(r.finish_st, MQOTA_OK);
        }
        free(b.data);
    }
}

/* ---- What may follow the image (ESP-IDF padding and signature blocks) ---------------------- */

#define SECTOR 4096u

/* The hello_world image followed by tail_len bytes of tail, in a new buffer. */
static blob_t with_tail(const blob_t *img, const uint8_t *tail, size_t tail_len)
{
    blob_t b = {malloc(img->len + tail_len), img->len + tail_len};
    assert_non_null(b.data);
    memcpy(b.data, img->data, img->len);
    if (tail_len > 0) {
        memcpy(b.data + img->len, tail, tail_len);
    }
    return b;
}

/* The checker accepts b whole and in pieces of 1, 7 and 4096 bytes. */
static void assert_accepted(const blob_t *b)
{
    static const size_t steps[] = {0, 1, 7, 4096};
    for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
        run_t r = check(b->data, b->len, steps[s]);
        assert_int_equal(r.update_st, MQOTA_OK);
        assert_int_equal(r.finish_st, MQOTA_OK);
        assert_int_equal(r.chk.fault, MQOTA_IMAGE_FAULT_NONE);
    }
}

/* The checker refuses b, whole and in pieces, with a trailing-bytes fault at offset at. */
static void assert_trailing_at(const blob_t *b, uint32_t at)
{
    static const size_t steps[] = {0, 1, 7, 4096};
    for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
        run_t r = check(b->data, b->len, steps[s]);
        assert_int_equal(r.finish_st, MQOTA_ERR_IMAGE);
        assert_int_equal(r.chk.fault, MQOTA_IMAGE_FAULT_TRAILING);
        assert_int_equal(r.chk.fault_offset, at);
        assert_int_equal(r.hashed_len, 0);
    }
}

static void test_trailer(void **state)
{
    blob_t img = load_fixture("idf_hello_world_esp32_2024.bin");
    const size_t end = img.len; /* the fixture is exactly the image */
    const size_t pad = SECTOR - end % SECTOR;
    static uint8_t tail[(1u << 20) + 2 * SECTOR];
    blob_t b;

    (void)state;
    assert_int_equal(check(img.data, img.len, 0).chk.image_len, end);
    assert_true(end % SECTOR != 0);
    srand(9);
    for (size_t i = 0; i < sizeof(tail); i++) {
        tail[i] = (uint8_t)rand();
    }

    /* accepted: 0xFF to the sector boundary (or part of it); then a Secure Boot v2 sector */
    memset(tail, 0xFF, pad);
    b = with_tail(&img, tail, pad);
    assert_accepted(&b);
    free(b.data);
    b = with_tail(&img, tail, 100);
    assert_accepted(&b);
    free(b.data);
    tail[pad] = 0xE7; /* ets_secure_boot_sig_block_t.magic_byte */
    b = with_tail(&img, tail, pad + SECTOR);
    assert_accepted(&b);
    free(b.data);
    /* ... but not a sector cut short, a byte after it, more 0xFF or a non-0xFF in the padding */
    b = with_tail(&img, tail, pad + 4000);
    assert_trailing_at(&b, (uint32_t)(end + pad));
    free(b.data);
    b = with_tail(&img, tail, pad + SECTOR + 1);
    assert_trailing_at(&b, (uint32_t)(end + pad + SECTOR));
    free(b.data);
    tail[pad] = 0xFF;
    b = with_tail(&img, tail, pad + 1);
    assert_trailing_at(&b, (uint32_t)(end + pad));
    free(b.data);
    tail[10] = 0x00;
    b = with_tail(&img, tail, pad);
    assert_trailing_at(&b, (uint32_t)(end + 10));
    free(b.data);

    /* accepted: a Secure Boot v1 block (u32 version 0, 64-byte signature) right at the end */
    memset(tail, 0, 4);
    b = with_tail(&img, tail, 68);
    assert_accepted(&b);
    free(b.data);
    b = with_tail(&img, tail, 69);
    assert_trailing_at(&b, (uint32_t)(end + 68));
    free(b.data);
    b = with_tail(&img, tail, 40);
    assert_trailing_at(&b, (uint32_t)end);
    free(b.data);
    tail[2] = 1; /* not version 0 */
    b = with_tail(&img, tail, 68);
    assert_trailing_at(&b, (uint32_t)end);
    free(b.data);

    /* refused: the SBv2 magic where no sector starts, and 1 MiB of random bytes */
    tail[0] = 0xE7;
    b = with_tail(&img, tail, SECTOR);
    assert_trailing_at(&b, (uint32_t)end);
    free(b.data);
    tail[0] = 0x5A;
    b = with_tail(&img, tail, 1u << 20);
    assert_trailing_at(&b, (uint32_t)end);
    assert_int_equal(check(b.data, b.len, 0).update_st, MQOTA_ERR_IMAGE);
    free(b.data);
    free(img.data);
}

/* ---- Damaged copies ----------------------------------------------------------------------- */

static void test_flipped_segment_byte(void **state)
{
    MQOTA_SKIP_WITHOUT_FIXTURES();
    blob_t b = load_fixture("idf_hello_world_esp32_2023.bin");
    unsigned segs = b.data[1];
    unsigned seg;
    run_t ok = check(b.data, b.len, 0);

    (void)state;
    for (seg = 0; seg < segs; seg++) {
        uint32_t len;
        size_t at = segment_data_at(&b, seg, &len);
        size_t where[3] = {at, at + len / 2, at + len - 1};
        size_t w;

        if (len == 0) {
            continue;
        }
        for (w = 0; w < 3; w++) {
            run_t r;
            b.data[where[w]] ^= 0x40;
            r = check(b.data, b.len, 7);
            assert_int_equal(r.update_st, MQOTA_OK);
            assert_int_equal(r.finish_st, MQOTA_ERR_IMAGE);
            assert_int_equal(r.chk.fault, MQOTA_IMAGE_FAULT_CHECKSUM);
            assert_int_equal(r.chk.computed_checksum, ok.chk.checksum ^ 0x40);
            assert_int_equal(r.chk.fault_offset, ok.chk.checksum_at);
            assert_int_equal(r.hashed_len, 0);
            b.data[where[w]] ^= 0x40;
        }
    }
    /* The checksum byte itself changed. */
    b.data[ok.chk.checksum_at] ^= 0x01;
    {
        run_t r = check(b.data, b.len, 0);
        assert_int_equal(r.finish_st, MQOTA_ERR_IMAGE);
        assert_int_equal(r.chk.fault, MQOTA_IMAGE_FAULT_CHECKSUM);
        assert_int_equal(r.chk.computed_checksum, ok.chk.checksum);
        /* finish() is repeatable and update() refuses further bytes. */
        assert_int_equal(mqota_image_check_finish(&r.chk, &r.hashed_len), MQOTA_ERR_IMAGE);
        assert_int_equal(mqota_image_check_update(&r.chk, b.data, 1), MQOTA_ERR_IMAGE);
    }
    free(b.data);
}

static void test_truncated(void **state)
{
    MQOTA_SKIP_WITHOUT_FIXTURES();
    blob_t b = load_fixture("idf_blink_esp32s2.bin");
    run_t ok = check(b.data, b.len, 0);
    uint32_t seg1_len;
    size_t seg1 = segment_data_at(&b, 1, &seg1_len);
    size_t cuts[] = {
        0, 1, 2, 23, 24, 25, 31, 32, 300,
        seg1 - 4,                  /* inside segment 1's header */
        seg1, seg1 + 1,            /* segment 1's data */
        ok.chk.checksum_at - 1,    /* padding or last segment */
        ok.chk.checksum_at,        /* checksum byte missing */
        ok.chk.checksum_at + 1,    /* hash missing */
        ok.chk.checksum_at + 17,   /* hash half there */
        ok.chk.checksum_at + 32,   /* one hash byte missing */
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        run_t r = check(b.data, cuts[i], 5);
        assert_int_equal(r.update_st, MQOTA_OK);
        assert_int_equal(r.finish_st, MQOTA_ERR_TRUNCATED);
        assert_int_equal(r.chk.fault, MQOTA_IMAGE_FAULT_TRUNCATED);
        assert_int_equal(r.chk.fault_offset, cuts[i]);
        assert_int_equal(r.hashed_len, 0);
        assert_int_equal(mqota_image_check_finish(&r.chk, &r.hashed_len), MQOTA_ERR_TRUNCATED);
    }
    /* Fault segment: the segment whose header or data was cut. */
    assert_int_equal(check(b.data, seg1 - 4, 0).chk.fault_segment, 1);
    assert_int_equal(check(b.data, seg1 + 1, 0).chk.fault_segment, 1);
    assert_int_equal(check(b.data, 300, 0).chk.fault_segment, 0);
    free(b.data);
}

static void test_bad_magic(void **state)
{
    MQOTA_SKIP_WITHOUT_FIXTURES();
    blob_t b = load_fixture("idf_hello_world_esp32_2024.bin");
    mqota_image_info_t info;
    run_t r;

    (void)state;
    b.data[0] = 0xE8;
    r = check(b.data, b.len, 1);
    assert_int_equal(r.update_st, MQOTA_ERR_IMAGE);
    assert_int_equal(r.finish_st, MQOTA_ERR_IMAGE);
    assert_int_equal(r.chk.fault, MQOTA_IMAGE_FAULT_MAGIC);
    assert_int_equal(r.chk.fault_offset, 0);
    assert_int_equal(mqota_image_parse_head(b.data, b.len, &info), MQOTA_ERR_IMAGE);
    /* Found on the very first byte. */
    mqota_image_check_init(&r.chk);
    assert_int_equal(mqota_image_check_update(&r.chk, b.data, 1), MQOTA_ERR_IMAGE);
    b.data[0] = MQOTA_IMAGE_MAGIC;

    /* Descriptor magic: parse_head refuses it. */
    b.data[32] ^= 0xFF;
    assert_int_equal(mqota_image_parse_head(b.data, b.len, &info), MQOTA_ERR_IMAGE);
    free(b.data);
}

static void test_segment_count(void **state)
{
    MQOTA_SKIP_WITHOUT_FIXTURES();
    blob_t b = load_fixture("idf_hello_world_esp32_2024.bin");
    const uint8_t counts[] = {0, 17, 255};
    mqota_image_info_t info;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(counts); i++) {
        run_t r;
        b.data[1] = counts[i];
        r = check(b.data, b.len, 7);
        assert_int_equal(r.update_st, MQOTA_ERR_IMAGE);
        assert_int_equal(r.finish_st, MQOTA_ERR_IMAGE);
        assert_int_equal(r.chk.fault, MQOTA_IMAGE_FAULT_SEGMENT_COUNT);
        assert_int_equal(r.chk.fault_offset, 1);
        assert_int_equal(mqota_image_parse_head(b.data, b.len, &info), MQOTA_ERR_IMAGE);
    }
    free(b.data);
}

static void test_segment_size(void **state)
{
    MQOTA_SKIP_WITHOUT_FIXTURES();
    blob_t b = load_fixture("idf_hello_world_esp32_2024.bin");
    const uint32_t bad[] = {0x1000000u, 0xFFFFFFFCu, 0x102u};
    uint32_t len;
    size_t at = segment_data_at(&b, 1, &len);
    size_t i;

    (void)state;
    for (i = 0; i < 3; i++) {
        run_t r;
        b.data[at - 4] = (uint8_t)bad[i];
        b.data[at - 3] = (uint8_t)(bad[i] >> 8);
        b.data[at - 2] = (uint8_t)(bad[i] >> 16);
        b.data[at - 1] = (uint8_t)(bad[i] >> 24);
        r = check(b.data, b.len, 0);
        assert_int_equal(r.update_st, MQOTA_ERR_IMAGE);
        assert_int_equal(r.chk.fault, MQOTA_IMAGE_FAULT_SEGMENT_SIZE);
        assert_int_equal(r.chk.fault_segment, 1);
        assert_int_equal(r.chk.fault_offset, at - 8);
    }
    free(b.data);
}

/* hash_appended = 0: the image ends after the checksum byte; no hashed range is reported. */
static void test_no_hash_appended(void **state)
{
    MQOTA_SKIP_WITHOUT_FIXTURES();
    blob_t b = load_fixture("idf_hello_world_esp32_2023.bin");
    run_t r;

    (void)state;
    b.data[23] = 0;
    /* the 32 bytes that were the hash are now bytes after the image's end */
    r = check(b.data, b.len, 0);
    assert_int_equal(r.finish_st, MQOTA_ERR_IMAGE);
    assert_int_equal(r.chk.fault, MQOTA_IMAGE_FAULT_TRAILING);
    assert_int_equal(r.chk.image_len, r.chk.checksum_at + 1);
    assert_int_equal(r.chk.fault_offset, r.chk.image_len);
    r = check(b.data, r.chk.checksum_at + 1, 0);
    assert_int_equal(r.finish_st, MQOTA_OK);
    assert_int_equal(r.hashed_len, 0);
    free(b.data);
}

static void test_not_an_image(void **state)
{
    char text[4096];
    mqota_image_info_t info;
    run_t r;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(text); i++) {
        text[i] = "Lorem ipsum dolor sit amet, consectetur adipiscing elit.\n"[i % 57];
    }
    r = check((const uint8_t *)text, sizeof(text), 0);
    assert_int_equal(r.update_st, MQOTA_ERR_IMAGE);
    assert_int_equal(r.finish_st, MQOTA_ERR_IMAGE);
    assert_int_equal(r.chk.fault, MQOTA_IMAGE_FAULT_MAGIC);
    assert_int_equal(r.hashed_len, 0);
    assert_int_equal(mqota_image_parse_head((const uint8_t *)text, sizeof(text), &info),
                     MQOTA_ERR_IMAGE);

    /* All 0xFF (erased flash) and all zeros fail the same way. */
    memset(text, 0xFF, sizeof(text));
    assert_int_equal(check((const uint8_t *)text, sizeof(text), 0).chk.fault,
                     MQOTA_IMAGE_FAULT_MAGIC);
    memset(text, 0, sizeof(text));
    assert_int_equal(check((const uint8_t *)text, sizeof(text), 0).chk.fault,
                     MQOTA_IMAGE_FAULT_MAGIC);

    /* Empty input is a truncated image. */
    r = check(NULL, 0, 0);
    assert_int_equal(r.finish_st, MQOTA_ERR_TRUNCATED);
    assert_int_equal(r.chk.fault, MQOTA_IMAGE_FAULT_TRUNCATED);
}

static void test_args_and_names(void **state)
{
    mqota_image_check_t chk;
    uint32_t hl;
    int f;

    (void)state;
    mqota_image_check_init(&chk);
    assert_int_equal(mqota_image_check_update(NULL, (const uint8_t *)"x", 1), MQOTA_ERR_ARG);
    assert_int_equal(mqota_image_check_update(&chk, NULL, 1), MQOTA_ERR_ARG);
    assert_int_equal(mqota_image_check_update(&chk, NULL, 0), MQOTA_OK);
    assert_int_equal(mqota_image_check_finish(NULL, &hl), MQOTA_ERR_ARG);
    assert_int_equal(mqota_image_check_finish(&chk, NULL), MQOTA_ERR_ARG);

    assert_string_equal(mqota_chip_name(0), "ESP32");
    assert_string_equal(mqota_chip_name(2), "ESP32-S2");
    assert_string_equal(mqota_chip_name(5), "ESP32-C3");
    assert_string_equal(mqota_chip_name(9), "ESP32-S3");
    assert_string_equal(mqota_chip_name(12), "ESP32-C2");
    assert_string_equal(mqota_chip_name(13), "ESP32-C6");
    assert_string_equal(mqota_chip_name(16), "ESP32-H2");
    assert_string_equal(mqota_chip_name(18), "ESP32-P4");
    assert_string_equal(mqota_chip_name(1), "unknown");
    assert_string_equal(mqota_chip_name(0xFFFF), "unknown");
    /* the ids between the chips, and the first after the last */
    static const uint16_t no_chip[] = {1, 3, 4, 6, 7, 8, 10, 11, 14, 15, 17, 19};
    for (f = 0; f < (int)(sizeof(no_chip) / sizeof(no_chip[0])); f++) {
        assert_string_equal(mqota_chip_name(no_chip[f]), "unknown");
    }

    /* every fault's text, so that the list out of step with the enum shows here */
    static const char *const faults[] = {
        "no fault", "bad image magic (byte 0 is not 0xE9)", "segment count is 0 or more than 16",
        "segment length not a multiple of 4 or 16 MiB or more", "image is truncated",
        "checksum mismatch", "bad app descriptor magic", "unknown chip id",
        "unexpected bytes after the image's end"};
    for (f = 0; f <= 8; f++) {
        assert_string_equal(mqota_image_fault_str((mqota_image_fault_t)f), faults[f]);
    }
    assert_string_equal(mqota_image_fault_str((mqota_image_fault_t)9), "unknown fault");
    assert_string_equal(mqota_image_fault_str((mqota_image_fault_t)-1), "unknown fault");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixtures_parse_head),
        cmocka_unit_test(test_desc_strings),
        cmocka_unit_test(test_fixtures_check),
        cmocka_unit_test(test_flipped_segment_byte),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_bad_magic),
        cmocka_unit_test(test_segment_count),
        cmocka_unit_test(test_segment_size),
        cmocka_unit_test(test_no_hash_appended),
        cmocka_unit_test(test_not_an_image),
        cmocka_unit_test(test_args_and_names),
        cmocka_unit_test(test_trailer),
    };
    return mqota_fixtures_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
