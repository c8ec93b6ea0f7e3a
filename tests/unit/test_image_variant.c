/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_image_variant.c - the test tool that makes release variants of a real image
 * (tests/tools/image_variant.c): every variant of every fixture is a valid image by an
 * independent computation of the checksum and SHA-256, differs from the original only in the
 * descriptor, checksum byte and hash, is booted by the virtual bootloader with the new version,
 * and rewriting the original version back gives the original file byte for byte. Bad versions
 * and damaged inputs are refused with a reason and the buffer left unchanged.
 */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixtures.h"
#include <openssl/sha.h>

#include "image_variant.h"
#include "mqota/mqota_image.h"
#include "mqota_posix/vdev.h"

static const char *const fixtures[] = {
    "idf_hello_world_esp32_2023.bin", "idf_hello_world_esp32_2024.bin", "idf_blink_esp32s2.bin",
    "arduino_nerdminer_esp32_v1.6.3.bin",
};
#define FIXTURE_COUNT (sizeof(fixtures) / sizeof(fixtures[0]))

typedef struct {
    uint8_t *data;
    size_t len;
} blob_t;

static blob_t load(const char *name)
{
    char path[1024];
    blob_t b = {NULL, 0};
    snprintf(path, sizeof(path), "%s/%s", MQOTA_FIXTURES, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL) fail_msg("cannot open fixture %s", path);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long sz = ftell(f);
    assert_true(sz > 0);
    rewind(f);
    b.len = (size_t)sz;
    b.data = malloc(b.len);
    assert_non_null(b.data);
    assert_int_equal(fread(b.data, 1, b.len, f), b.len);
    fclose(f);
    return b;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The image format computed here from the bytes, without the device library's checker:
 * walk the segments, XOR their data from 0xEF, find the checksum byte on the last byte of a
 * 16-byte block, and SHA-256 everything up to it when hash_appended. Returns the checksum
 * byte's offset; fails the test if the checksum or the appended hash is wrong. */
static size_t assert_format_valid(const uint8_t *img, size_t len)
{
    uint8_t sum = 0xEF;
    size_t off = 24;
    assert_int_equal(img[0], 0xE9);
    for (unsigned s = 0; s < img[1]; s++) {
        assert_true(off + 8 <= len);
        uint32_t n = le32(img + off + 4);
        off += 8;
        assert_true(off + n <= len);
        for (uint32_t i = 0; i < n; i++) sum ^= img[off + i];
        off += n;
    }
    size_t at = (off | 15u);
    assert_true(at < len);
    assert_int_equal(img[at], sum);
    if (img[23]) {
        uint8_t d[32];
        assert_true(at + 1 + 32 <= len);
        SHA256(img, at + 1, d);
        assert_memory_equal(d, img + at + 1, 32);
    }
    return at;
}

/* Boot a virtual ESP32 whose ota_0 holds img; the bootloader's view of it in *out. */
static mqota_status_t boot_image(const uint8_t *img, size_t len, uint16_t chip,
                                 boot_result_t *out)
{
    char dir[] = "/tmp/test_image_variant.XXXXXX", bin[64], flash[80], err[256];
    assert_non_null(mkdtemp(dir));
    snprintf(bin, sizeof(bin), "%s/img.bin", dir);
    snprintf(flash, sizeof(flash), "%s/dev.flash", dir);
    FILE *f = fopen(bin, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(img, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    mqota_status_t st = vdev_flash_create(flash, chip, bin, err, sizeof(err));
    if (st == MQOTA_OK) {
        vdev_t *dev = NULL;
        st = vdev_open(flash, &dev, err, sizeof(err));
        if (st == MQOTA_OK) st = vdev_boot(dev, out);
        vdev_close(dev);
    }
    unlink(bin);
    unlink(flash);
    strncat(flash, EFUSE_FILE_SUFFIX, sizeof(flash) - strlen(flash) - 1);
    unlink(flash); /* the device's eFuse file */
    rmdir(dir);
    return st;
}

/* Every fixture: a variant is valid, differs only where it must, boots with the new version,
 * and the original version and secure_version written back restore the file exactly. */
static void test_variants_of_every_fixture(void **state)
{
    (void)state;
    for (size_t k = 0; k < FIXTURE_COUNT; k++) {
        blob_t b = load(fixtures[k]);
        uint8_t *v = malloc(b.len);
        char err[512] = "";
        mqota_image_info_t orig, info;
        assert_non_null(v);
        memcpy(v, b.data, b.len);
        assert_int_equal(mqota_image_parse_head(b.data, b.len, &orig), MQOTA_OK);
        size_t at = assert_format_valid(b.data, b.len);

        uint32_t sv = 7;
        if (image_variant_apply(v, b.len, "soak-07", &sv, err, sizeof(err)) != 0)
            fail_msg("%s: %s", fixtures[k], err);
        assert_int_equal(assert_format_valid(v, b.len), at);
        assert_int_equal(mqota_image_parse_head(v, b.len, &info), MQOTA_OK);
        assert_string_equal(info.version, "soak-07");
        assert_int_equal(info.secure_version, 7);
        assert_string_equal(info.project_name, orig.project_name);
        assert_string_equal(info.idf_ver, orig.idf_ver);
        assert_int_equal(info.chip_id, orig.chip_id);
        /* only secure_version (36..39), version (48..79), the checksum and the hash change */
        for (size_t i = 0; i < b.len; i++) {
            int may = (i >= 36 && i < 40) || (i >= 48 && i < 80) || i == at ||
                      (b.data[23] && i > at && i <= at + 32);
            if (!may && v[i] != b.data[i]) fail_msg("%s: byte %zu changed", fixtures[k], i);
        }
        assert_memory_not_equal(v + at + 1, b.data + at + 1, 32);

        boot_result_t boot;
        memset(&boot, 0, sizeof(boot));
        assert_int_equal(boot_image(v, b.len, orig.chip_id, &boot), MQOTA_OK);
        assert_int_equal(boot.slot, 0);
        assert_string_equal(boot.image.version, "soak-07");

        /* without --secure-version the secure_version stays */
        if (image_variant_apply(v, b.len, "soak-08", NULL, err, sizeof(err)) != 0)
            fail_msg("%s: %s", fixtures[k], err);
        assert_int_equal(mqota_image_parse_head(v, b.len, &info), MQOTA_OK);
        assert_string_equal(info.version, "soak-08");
        assert_int_equal(info.secure_version, 7);

        /* back to the original: the file is the fixture again, byte for byte */
        if (image_variant_apply(v, b.len, orig.version, &orig.secure_version, err,
                                sizeof(err)) != 0)
            fail_msg("%s: %s", fixtures[k], err);
        assert_memory_equal(v, b.data, b.len);
        free(v);
        free(b.data);
    }
}

/* An image without an appended hash (hash_appended 0, file ends at the checksum byte). */
static void test_no_appended_hash(void **state)
{
    (void)state;
    blob_t b = load("idf_hello_world_esp32_2024.bin");
    size_t at = assert_format_valid(b.data, b.len);
    size_t len = at + 1;
    char err[512];
    b.data[23] = 0;
    assert_format_valid(b.data, len);
    assert_int_equal(image_variant_apply(b.data, len, "nohash-1", NULL, err, sizeof(err)), 0);
    assert_int_equal(assert_format_valid(b.data, len), at);
    boot_result_t boot;
    assert_int_equal(boot_image(b.data, len, MQOTA_CHIP_ESP32, &boot), MQOTA_OK);
    assert_string_equal(boot.image.version, "nohash-1");
    free(b.data);
}

/* Refusals: one reason, the buffer unchanged. */
static void test_refusals(void **state)
{
    (void)state;
    blob_t b = load("idf_hello_world_esp32_2023.bin");
    uint8_t *copy = malloc(b.len);
    char err[512];
    assert_non_null(copy);
    memcpy(copy, b.data, b.len);

    static const char *const bad_versions[] = {"", "0123456789012345678901234567890123",
                                               "0123456789abcdef0123456789abcdef", "tab\there"};
    for (size_t i = 0; i < sizeof(bad_versions) / sizeof(bad_versions[0]); i++) {
        err[0] = '\0';
        assert_int_equal(image_variant_apply(b.data, b.len, bad_versions[i], NULL, err,
                                             sizeof(err)), -1);
        assert_non_null(strstr(err, "version"));
        assert_memory_equal(b.data, copy, b.len);
    }
    /* 31 bytes is the longest that fits with its NUL */
    assert_int_equal(image_variant_apply(b.data, b.len, "0123456789abcdef0123456789abcde", NULL,
                                         err, sizeof(err)), 0);
    memcpy(b.data, copy, b.len);

    /* a flipped byte in segment data: the checksum no longer matches */
    b.data[1000] ^= 0x01;
    copy[1000] ^= 0x01;
    assert_int_equal(image_variant_apply(b.data, b.len, "x", NULL, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "checksum"));
    assert_memory_equal(b.data, copy, b.len);
    b.data[1000] ^= 0x01;
    copy[1000] ^= 0x01;

    /* a flipped byte of the appended hash */
    size_t at = assert_format_valid(b.data, b.len);
    b.data[at + 5] ^= 0x80;
    copy[at + 5] ^= 0x80;
    assert_int_equal(image_variant_apply(b.data, b.len, "x", NULL, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "SHA-256"));
    assert_memory_equal(b.data, copy, b.len);
    b.data[at + 5] ^= 0x80;
    copy[at + 5] ^= 0x80;

    /* truncated before the checksum byte, and too short for a descriptor */
    assert_int_equal(image_variant_apply(b.data, at, "x", NULL, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "truncated"));
    assert_int_equal(image_variant_apply(b.data, 100, "x", NULL, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "100 bytes"));
    assert_memory_equal(b.data, copy, b.len);

    /* not an image at all */
    memset(b.data, 0x41, 4096);
    assert_int_equal(image_variant_apply(b.data, 4096, "x", NULL, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "magic"));
    free(copy);
    free(b.data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_variants_of_every_fixture),
        cmocka_unit_test(test_no_appended_hash),
        cmocka_unit_test(test_refusals),
    };
    return mqota_fixtures_run_group("image_variant", tests, NULL, NULL);
}
