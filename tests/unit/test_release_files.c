/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The file bundle parser of file releases (server/release_files.c) against docs/PROTOCOL.md
 * §17.1: its example bundle byte for byte, each rule of the header and of the paths (one
 * refusal sentence each), duplicates (also by case), a path that is a directory of another,
 * trailing and missing data, and the files' SHA-256.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "release_files.h"

/* PROTOCOL.md §17.1's example: main.py holding "VERSION = 2\n". */
static const uint8_t example[73] = {
    0x4D, 0x51, 0x46, 0x42, 0x01, 0x00, 0x01, 0x00, 0x49, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x0C, 0x00, 0x00, 0x00, 0x54, 0x57, 0xA7, 0x07, 0x70, 0x05, 0xA7, 0x6D, 0xD3, 0xF5,
    0x61, 0xD9, 0x92, 0x27, 0x7E, 0xC1, 0x2B, 0xFD, 0xC3, 0x23, 0x9F, 0xA5, 0xC1, 0x20, 0xD2,
    0xE9, 0x81, 0x45, 0x36, 0xE4, 0xF9, 0x2B, 0x07, 0x00, 0x6D, 0x61, 0x69, 0x6E, 0x2E, 0x70,
    0x79, 0x56, 0x45, 0x52, 0x53, 0x49, 0x4F, 0x4E, 0x20, 0x3D, 0x20, 0x32, 0x0A};

static release_files_t m;
static char err[512];

/* A bundle of n files named paths[i], each holding its own path as its bytes (hashes zero). */
static size_t build(uint8_t *b, size_t cap, const char *const *paths, size_t n)
{
    size_t off = 16, total = 16;
    for (size_t i = 0; i < n; i++) total += 38 + 2 * strlen(paths[i]);
    assert_true(total <= cap);
    memset(b, 0, total);
    memcpy(b, "MQFB", 4);
    b[4] = 1;
    b[6] = (uint8_t)n;
    b[8] = (uint8_t)total;
    b[9] = (uint8_t)(total >> 8);
    for (size_t i = 0; i < n; i++) {
        size_t pl = strlen(paths[i]);
        b[off] = (uint8_t)pl;
        b[off + 36] = (uint8_t)pl;
        memcpy(b + off + 38, paths[i], pl);
        off += 38 + pl;
    }
    for (size_t i = 0; i < n; i++) {
        memcpy(b + off, paths[i], strlen(paths[i]));
        off += strlen(paths[i]);
    }
    return total;
}

static void refused(const char *const *paths, size_t n, const char *why)
{
    uint8_t b[2048];
    size_t len = build(b, sizeof(b), paths, n);
    assert_int_equal(release_files__parse(b, len, &m, err, sizeof(err)), -1);
    if (!strstr(err, why)) fail_msg("'%s' does not say '%s'", err, why);
}

static void test_example(void **state)
{
    (void)state;
    assert_true(release_files__is_bundle(example, sizeof(example)));
    assert_int_equal(release_files__parse(example, sizeof(example), &m, err, sizeof(err)), 0);
    assert_int_equal(m.count, 1);
    assert_string_equal(m.files[0].path, "main.py");
    assert_int_equal(m.files[0].size, 12);
    assert_int_equal(m.files[0].offset, 61);
    assert_int_equal(release_files__verify(example, &m, err, sizeof(err)), 0);
    char *json = release_files__manifest_json(&m);
    assert_non_null(json);
    assert_string_equal(json, "[{\"path\":\"main.py\",\"size\":12,\"sha256\":"
                              "\"5457a7077005a76dd3f561d992277ec12bfdc3239fa5c120d2e9814536e4f92b\"}]");
    free(json);
    /* one byte of the file changed: its SHA-256 no longer matches its entry */
    uint8_t b[73];
    memcpy(b, example, sizeof(b));
    b[72] = '3';
    assert_int_equal(release_files__parse(b, sizeof(b), &m, err, sizeof(err)), 0);
    assert_int_equal(release_files__verify(b, &m, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "the bytes of 'main.py' hash to"));
}

static void test_header(void **state)
{
    uint8_t b[80];
    (void)state;
    struct { size_t at; uint8_t v; const char *why; } cases[] = {
        {0, 'X', "magic"}, {4, 2, "format version 2"}, {5, 1, "reserved header bytes"},
        {12, 1, "reserved header bytes"}, {6, 0, "holds 0 files"}, {6, 65, "holds 65 files"},
        {8, 72, "header says 72 bytes but 73 came"}, {53, 1, "reserved byte of file 1"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memcpy(b, example, sizeof(example));
        b[cases[i].at] = cases[i].v;
        assert_int_equal(release_files__parse(b, sizeof(example), &m, err, sizeof(err)), -1);
        if (!strstr(err, cases[i].why)) fail_msg("case %zu: '%s'", i, err);
    }
    /* cut short, and a byte too many */
    assert_int_equal(release_files__parse(example, 40, &m, err, sizeof(err)), -1);
    memcpy(b, example, sizeof(example));
    b[8] = 74;
    b[73] = 0;
    assert_int_equal(release_files__parse(b, 74, &m, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "announce 12 bytes of file data but 13 follow"));
    b[8] = 72;
    assert_int_equal(release_files__parse(b, 72, &m, err, sizeof(err)), -1);
}

static void test_paths(void **state)
{
    (void)state;
    static const char *const ok[] = {"main.py", "lib/util.py", "config.txt", "lib/é.py",
                                     "a/b/c/d.txt", ".hidden", "lib/..x"};
    uint8_t b[2048];
    size_t len = build(b, sizeof(b), ok, 7);
    assert_int_equal(release_files__parse(b, len, &m, err, sizeof(err)), 0);
    assert_int_equal(m.count, 7);
    refused((const char *const[]){"../boot.py"}, 1, "'..' component");
    refused((const char *const[]){"lib/../../x"}, 1, "'..' component");
    refused((const char *const[]){"./main.py"}, 1, "'.' component");
    refused((const char *const[]){"/main.py"}, 1, "starts with '/'");
    refused((const char *const[]){"lib/"}, 1, "ends with '/'");
    refused((const char *const[]){"lib//x.py"}, 1, "empty component");
    refused((const char *const[]){"lib\\x.py"}, 1, "backslash");
    refused((const char *const[]){"a\tb"}, 1, "control byte 0x09");
    refused((const char *const[]){"bad\xff.py"}, 1, "not valid UTF-8");
    refused((const char *const[]){"mqota/prog"}, 1, "records directory");
    refused((const char *const[]){"main.py", "main.py"}, 2, "'main.py' is listed twice");
    refused((const char *const[]){"Main.py", "main.py"}, 2, "differ only in case");
    refused((const char *const[]){"lib", "lib/x.py"}, 2, "'lib' is a file and also a directory");
    refused((const char *const[]){"lib/x.py", "lib"}, 2, "'lib' is a file and also a directory");
    char longp[98];
    memset(longp, 'a', 97);
    longp[97] = '\0';
    refused((const char *const[]){longp}, 1, "97 bytes long");
    /* a NUL inside a path */
    uint8_t nb[80];
    memcpy(nb, example, sizeof(example));
    nb[56] = 0;
    assert_int_equal(release_files__parse(nb, sizeof(example), &m, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "NUL byte at byte 2"));
}

static void test_limits(void **state)
{
    (void)state;
    size_t len = RELEASE_FILES_BUNDLE_MAX + 1;
    uint8_t *b = calloc(1, len);
    assert_non_null(b);
    memcpy(b, example, sizeof(example));
    b[8] = (uint8_t)len;
    b[9] = (uint8_t)(len >> 8);
    b[10] = (uint8_t)(len >> 16);
    assert_int_equal(release_files__parse(b, len, &m, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "larger than the largest bundle (1048576 bytes)"));
    free(b);
    /* 64 files are fine, 65 are not */
    const char *names[65];
    char store[65][8];
    for (int i = 0; i < 65; i++) {
        snprintf(store[i], sizeof(store[i]), "f%d", i);
        names[i] = store[i];
    }
    uint8_t big[8192];
    len = build(big, sizeof(big), names, 64);
    assert_int_equal(release_files__parse(big, len, &m, err, sizeof(err)), 0);
    len = build(big, sizeof(big), names, 65);
    assert_int_equal(release_files__parse(big, len, &m, err, sizeof(err)), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_example),
        cmocka_unit_test(test_header),
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
