/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of vflash: NOR semantics, erase, sparseness, counters, power cuts. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include <errno.h>
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

#include "mqota_posix/vflash.h"

typedef struct {
    char dir[64];
    char path[96];
    vflash_t *fl;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/test_vflash.XXXXXX");
    if (mkdtemp(f->dir) == NULL) {
        return -1;
    }
    snprintf(f->path, sizeof(f->path), "%s/flash.bin", f->dir);
    if (vflash_create(f->path, &f->fl) != 0) {
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    vflash_close(f->fl);
    unlink(f->path);
    rmdir(f->dir);
    free(f);
    return 0;
}

static void assert_all(const uint8_t *p, size_t n, uint8_t v)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != v) {
            fail_msg("byte %zu is 0x%02x, expected 0x%02x", i, p[i], v);
        }
    }
}

static void test_fresh_is_erased_and_sparse(void **state)
{
    fixture_t *f = *state;
    uint8_t buf[8192];
    assert_int_equal(vflash_read(f->fl, 0, buf, sizeof(buf)), 0);
    assert_all(buf, sizeof(buf), 0xFF);
    assert_int_equal(vflash_read(f->fl, VFLASH_SIZE - sizeof(buf), buf, sizeof(buf)), 0);
    assert_all(buf, sizeof(buf), 0xFF);
    struct stat st;
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(st.st_size, VFLASH_SIZE);
    assert_true(st.st_blocks * 512 < 64 * 1024); /* a hole, not 4 MiB of data */
}

static void test_nor_write_clears_bits_only(void **state)
{
    fixture_t *f = *state;
    const uint8_t a[4] = {0xF0, 0x0F, 0xAA, 0x00};
    const uint8_t b[4] = {0xCC, 0xFF, 0x55, 0xFF};
    uint8_t r[4];
    assert_int_equal(vflash_write(f->fl, 0x1000, a, 4), 0);
    assert_int_equal(vflash_read(f->fl, 0x1000, r, 4), 0);
    assert_memory_equal(r, a, 4);
    assert_int_equal(vflash_write(f->fl, 0x1000, b, 4), 0);
    assert_int_equal(vflash_read(f->fl, 0x1000, r, 4), 0);
    const uint8_t want[4] = {0xC0, 0x0F, 0x00, 0x00};
    assert_memory_equal(r, want, 4);
    /* Neighbours untouched. */
    assert_int_equal(vflash_read(f->fl, 0xFFC, r, 4), 0);
    assert_all(r, 4, 0xFF);
}

static void test_erase(void **state)
{
    fixture_t *f = *state;
    uint8_t buf[3 * VFLASH_SECTOR];
    memset(buf, 0x12, sizeof(buf));
    assert_int_equal(vflash_write(f->fl, 0x10000, buf, sizeof(buf)), 0);
    assert_int_equal(vflash_erase(f->fl, 0x11000, VFLASH_SECTOR), 0);
    assert_int_equal(vflash_read(f->fl, 0x10000, buf, sizeof(buf)), 0);
    assert_all(buf, VFLASH_SECTOR, 0x12);
    assert_all(buf + VFLASH_SECTOR, VFLASH_SECTOR, 0xFF);
    assert_all(buf + 2 * VFLASH_SECTOR, VFLASH_SECTOR, 0x12);
    /* After erase, a write programs again from 0xFF. */
    uint8_t v = 0x5A, r;
    assert_int_equal(vflash_write(f->fl, 0x11000, &v, 1), 0);
    assert_int_equal(vflash_read(f->fl, 0x11000, &r, 1), 0);
    assert_int_equal(r, 0x5A);
    /* Alignment and range. */
    assert_int_equal(vflash_erase(f->fl, 0x11001, VFLASH_SECTOR), -EINVAL);
    assert_int_equal(vflash_erase(f->fl, 0x11000, 100), -EINVAL);
    assert_int_equal(vflash_erase(f->fl, VFLASH_SIZE, VFLASH_SECTOR), -EINVAL);
    assert_int_equal(vflash_write(f->fl, VFLASH_SIZE - 1, buf, 2), -EINVAL);
    assert_int_equal(vflash_read(f->fl, VFLASH_SIZE, buf, 1), -EINVAL);
    /* Erasing everything leaves the file sparse again. */
    assert_int_equal(vflash_erase(f->fl, 0, VFLASH_SIZE), 0);
    struct stat st;
    assert_int_equal(stat(f->path, &st), 0);
    assert_true(st.st_blocks * 512 < 64 * 1024);
}

static void test_counters(void **state)
{
    fixture_t *f = *state;
    uint8_t buf[100] = {0};
    vflash_stats_t s;
    vflash_stats_reset(f->fl);
    assert_int_equal(vflash_erase(f->fl, 0, 2 * VFLASH_SECTOR), 0);
    assert_int_equal(vflash_write(f->fl, 0, buf, sizeof(buf)), 0);
    assert_int_equal(vflash_write(f->fl, 200, buf, 10), 0);
    assert_int_equal(vflash_read(f->fl, 0, buf, sizeof(buf)), 0);
    vflash_stats(f->fl, &s);
    assert_int_equal(s.erases, 2);
    assert_int_equal(s.bytes_erased, 2 * VFLASH_SECTOR);
    assert_int_equal(s.writes, 2);
    assert_int_equal(s.bytes_written, 110);
    assert_int_equal(s.reads, 1);
    assert_int_equal(s.bytes_read, 100);
    assert_int_equal(s.cut_failures, 0);
}

static void test_reopen_keeps_content(void **state)
{
    fixture_t *f = *state;
    const uint8_t v[3] = {1, 2, 3};
    uint8_t r[3];
    assert_int_equal(vflash_write(f->fl, 0x3FFFFD, v, 3), 0);
    vflash_close(f->fl);
    assert_int_equal(vflash_open(f->path, &f->fl), 0);
    assert_int_equal(vflash_read(f->fl, 0x3FFFFD, r, 3), 0);
    assert_memory_equal(r, v, 3);
    vflash_t *bad = NULL;
    assert_int_not_equal(vflash_open("/nonexistent/dir/flash", &bad), 0);
    assert_null(bad);
}

static void test_cut_write_half(void **state)
{
    fixture_t *f = *state;
    uint8_t data[64], r[64];
    memset(data, 0x00, sizeof(data));
    vflash_set_cut(f->fl, 2);
    assert_int_equal(vflash_write(f->fl, 0, data, 8), 0);        /* op 1: fine */
    assert_int_equal(vflash_write(f->fl, 0x100, data, 64), -EIO); /* op 2: cut */
    assert_true(vflash_cut_happened(f->fl));
    assert_int_equal(vflash_read(f->fl, 0x100, r, 64), 0); /* reads still work */
    assert_all(r, 32, 0x00);
    assert_all(r + 32, 32, 0xFF);
    /* Everything later fails, erase too, and changes nothing. */
    assert_int_equal(vflash_write(f->fl, 0x200, data, 4), -EIO);
    assert_int_equal(vflash_erase(f->fl, 0, VFLASH_SECTOR), -EIO);
    assert_int_equal(vflash_read(f->fl, 0x200, r, 4), 0);
    assert_all(r, 4, 0xFF);
    assert_int_equal(vflash_read(f->fl, 0, r, 8), 0);
    assert_all(r, 8, 0x00);
    vflash_stats_t s;
    vflash_stats(f->fl, &s);
    assert_int_equal(s.cut_failures, 3);
    vflash_clear_cut(f->fl);
    assert_false(vflash_cut_happened(f->fl));
    assert_int_equal(vflash_write(f->fl, 0x200, data, 4), 0);
    assert_int_equal(vflash_read(f->fl, 0x200, r, 4), 0);
    assert_all(r, 4, 0x00);
}

static void test_cut_erase_half(void **state)
{
    fixture_t *f = *state;
    uint8_t buf[3 * VFLASH_SECTOR];
    memset(buf, 0x00, sizeof(buf));
    assert_int_equal(vflash_write(f->fl, 0x20000, buf, sizeof(buf)), 0);
    vflash_set_cut(f->fl, 2); /* second sector of a three-sector erase */
    assert_int_equal(vflash_erase(f->fl, 0x20000, 3 * VFLASH_SECTOR), -EIO);
    assert_int_equal(vflash_read(f->fl, 0x20000, buf, sizeof(buf)), 0);
    assert_all(buf, VFLASH_SECTOR, 0xFF);                            /* done */
    assert_all(buf + VFLASH_SECTOR, VFLASH_SECTOR / 2, 0xFF);         /* half erased */
    assert_all(buf + VFLASH_SECTOR * 3 / 2, VFLASH_SECTOR / 2, 0x00);
    assert_all(buf + 2 * VFLASH_SECTOR, VFLASH_SECTOR, 0x00);        /* not reached */
    vflash_clear_cut(f->fl);
    /* n = 0: power is off right away. */
    vflash_set_cut(f->fl, 0);
    assert_int_equal(vflash_erase(f->fl, 0x20000, VFLASH_SECTOR), -EIO);
    vflash_clear_cut(f->fl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fresh_is_erased_and_sparse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nor_write_clears_bits_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_erase, setup, teardown),
        cmocka_unit_test_setup_teardown(test_counters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_keeps_content, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cut_write_half, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cut_erase_half, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
