/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of the key-value store: basics, compaction, reopen, power cuts at every step. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "mqota/mqota_proto.h" /* mqota_crc32 */
#include "mqota_posix/kv.h"

#define NVS_OFF 0x9000u
#define NVS_SIZE 0x4000u

typedef struct {
    char dir[64];
    char path[96];
    vflash_t *fl;
    kv_t *kv;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/test_kv.XXXXXX");
    if (mkdtemp(f->dir) == NULL) {
        return -1;
    }
    snprintf(f->path, sizeof(f->path), "%s/flash.bin", f->dir);
    if (vflash_create(f->path, &f->fl) != 0 || kv_open(f->fl, NVS_OFF, NVS_SIZE, &f->kv) != 0) {
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    kv_close(f->kv);
    vflash_close(f->fl);
    unlink(f->path);
    rmdir(f->dir);
    free(f);
    return 0;
}

static void reopen(fixture_t *f)
{
    kv_close(f->kv);
    f->kv = NULL;
    assert_int_equal(kv_open(f->fl, NVS_OFF, NVS_SIZE, &f->kv), MQOTA_OK);
}

static void expect_str(kv_t *kv, const char *key, const char *want)
{
    char buf[KV_VAL_MAX];
    size_t n = 0;
    assert_int_equal(kv_get(kv, key, buf, sizeof(buf), &n), MQOTA_OK);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(buf, want, n);
}

static void test_set_get_overwrite_erase(void **state)
{
    fixture_t *f = *state;
    char buf[16];
    size_t n = 99;
    assert_int_equal(kv_get(f->kv, "a", buf, sizeof(buf), &n), MQOTA_ERR_NOT_FOUND);
    assert_int_equal(kv_set(f->kv, "a", "one", 3), MQOTA_OK);
    expect_str(f->kv, "a", "one");
    assert_int_equal(kv_set(f->kv, "a", "two!", 4), MQOTA_OK);
    expect_str(f->kv, "a", "two!");
    assert_int_equal(kv_set(f->kv, "empty", NULL, 0), MQOTA_OK);
    assert_int_equal(kv_get(f->kv, "empty", buf, sizeof(buf), &n), MQOTA_OK);
    assert_int_equal(n, 0);
    /* Too small a buffer says how much is needed. */
    assert_int_equal(kv_get(f->kv, "a", buf, 2, &n), MQOTA_ERR_NO_SPACE);
    assert_int_equal(n, 4);
    assert_int_equal(kv_erase(f->kv, "a"), MQOTA_OK);
    assert_int_equal(kv_get(f->kv, "a", buf, sizeof(buf), &n), MQOTA_ERR_NOT_FOUND);
    assert_int_equal(kv_erase(f->kv, "a"), MQOTA_OK);       /* absent: fine */
    assert_int_equal(kv_erase(f->kv, "never"), MQOTA_OK);
    assert_int_equal(kv_set(f->kv, "a", "back", 4), MQOTA_OK);
    expect_str(f->kv, "a", "back");
    /* Argument checks. */
    uint8_t big[KV_VAL_MAX + 1] = {0};
    assert_int_equal(kv_set(f->kv, "", "x", 1), MQOTA_ERR_ARG);
    assert_int_equal(kv_set(f->kv, "sixteen-chars-xx", "x", 1), MQOTA_ERR_ARG);
    assert_int_equal(kv_set(f->kv, "fifteen-chars-x", "x", 1), MQOTA_OK);
    assert_int_equal(kv_set(f->kv, "big", big, sizeof(big)), MQOTA_ERR_ARG);
    assert_int_equal(kv_set(f->kv, "big", big, KV_VAL_MAX), MQOTA_OK);
    assert_int_equal(kv_get(f->kv, NULL, buf, sizeof(buf), &n), MQOTA_ERR_ARG);
}

static void test_compaction_and_reopen(void **state)
{
    fixture_t *f = *state;
    char key[16], val[64];
    /* 2000 overwrites of 10 keys: ~60 KiB of records through an 8 KiB page. */
    for (int i = 0; i < 2000; i++) {
        snprintf(key, sizeof(key), "k%d", i % 10);
        int n = snprintf(val, sizeof(val), "value %d of key %d", i, i % 10);
        assert_int_equal(kv_set(f->kv, key, val, (size_t)n), MQOTA_OK);
        if (i % 7 == 3) {
            assert_int_equal(kv_erase(f->kv, "k9"), MQOTA_OK);
        }
    }
    kv_info_t info;
    kv_info(f->kv, &info);
    assert_true(info.compactions >= 5);
    assert_true(info.generation >= 6);
    assert_int_equal(info.live_keys, 10);
    reopen(f);
    for (int k = 0; k < 10; k++) {
        snprintf(key, sizeof(key), "k%d", k);
        snprintf(val, sizeof(val), "value %d of key %d", 1990 + k, k);
        expect_str(f->kv, key, val);
    }
    kv_info_t again;
    kv_info(f->kv, &again);
    assert_int_equal(again.generation, info.generation);
    assert_int_equal(again.used, info.used);
}

static void test_full(void **state)
{
    fixture_t *f = *state;
    uint8_t v[KV_VAL_MAX];
    char key[16];
    memset(v, 0xA5, sizeof(v));
    mqota_status_t st = MQOTA_OK;
    int i;
    for (i = 0; i < 100 && st == MQOTA_OK; i++) {
        snprintf(key, sizeof(key), "big%d", i);
        st = kv_set(f->kv, key, v, sizeof(v));
    }
    assert_int_equal(st, MQOTA_ERR_NO_SPACE);
    assert_true(i > 10 && i < 17); /* 8 KiB page, ~536-byte records */
    /* Everything stored before is still there, and overwrites still work. */
    size_t n;
    assert_int_equal(kv_get(f->kv, "big0", v, sizeof(v), &n), MQOTA_OK);
    assert_int_equal(kv_set(f->kv, "big0", v, 10), MQOTA_OK);
}

/* Keys and their values in the cut test: value of key k at step s. */
#define CUT_KEYS 6
static int cut_value(char *buf, size_t cap, int key, int step)
{
    /* Varying lengths so records straddle page ends in different ways. */
    return snprintf(buf, cap, "%d:%d:%.*s", key, step, (step * 7 + key * 13) % 90,
                    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
}

static void test_power_cut_every_op(void **state)
{
    fixture_t *f = *state;
    const int steps = 240; /* enough for several compactions */
    char key[16], buf[128], got[KV_VAL_MAX];
    int cuts = 0;
    for (uint32_t cut = 1;; cut++) {
        /* Fresh store with every key at step -1 ("old" value). */
        kv_close(f->kv);
        f->kv = NULL;
        vflash_clear_cut(f->fl);
        assert_int_equal(vflash_erase(f->fl, NVS_OFF, NVS_SIZE), 0);
        assert_int_equal(kv_open(f->fl, NVS_OFF, NVS_SIZE, &f->kv), MQOTA_OK);
        int last[CUT_KEYS];
        for (int k = 0; k < CUT_KEYS; k++) {
            snprintf(key, sizeof(key), "key%d", k);
            int n = cut_value(buf, sizeof(buf), k, 0);
            assert_int_equal(kv_set(f->kv, key, buf, (size_t)n), MQOTA_OK);
            last[k] = 0;
        }
        vflash_set_cut(f->fl, cut);
        int failed_key = -1, failed_step = -1;
        for (int s = 1; s <= steps; s++) {
            int k = (s * 5) % CUT_KEYS;
            snprintf(key, sizeof(key), "key%d", k);
            int n = cut_value(buf, sizeof(buf), k, s);
            mqota_status_t st = kv_set(f->kv, key, buf, (size_t)n);
            if (st != MQOTA_OK) {
                assert_int_equal(st, MQOTA_ERR_PLATFORM);
                failed_key = k;
                failed_step = s;
                break;
            }
            last[k] = s;
        }
        if (failed_key < 0) {
            break; /* the cut fell after the whole sequence: every op has been tried */
        }
        cuts++;
        /* Power back, reboot: each key holds its last confirmed value, or for the key being
         * written when the power went, possibly the new one. */
        vflash_clear_cut(f->fl);
        reopen(f);
        for (int k = 0; k < CUT_KEYS; k++) {
            snprintf(key, sizeof(key), "key%d", k);
            size_t n = 0;
            assert_int_equal(kv_get(f->kv, key, got, sizeof(got), &n), MQOTA_OK);
            int want = cut_value(buf, sizeof(buf), k, last[k]);
            bool ok = (size_t)want == n && memcmp(buf, got, n) == 0;
            if (!ok && k == failed_key) {
                want = cut_value(buf, sizeof(buf), k, failed_step);
                ok = (size_t)want == n && memcmp(buf, got, n) == 0;
            }
            if (!ok) {
                fail_msg("cut at op %u: key%d holds '%.*s'", cut, k, (int)n, got);
            }
        }
        /* And the store keeps working after the cut. */
        assert_int_equal(kv_set(f->kv, "after", "cut", 3), MQOTA_OK);
        for (int s = 0; s < 40; s++) {
            assert_int_equal(kv_set(f->kv, "key0", buf, 60), MQOTA_OK);
        }
        reopen(f);
        expect_str(f->kv, "after", "cut");
    }
    assert_true(cuts > steps); /* compactions add erases and writes beyond one per set */
}

/* Opening as nvs_flash_init() does: blank is formatted; a torn header or a page of a newer
 * format is refused (the ESP_ERR_NVS_NO_FREE_PAGES / ESP_ERR_NVS_NEW_VERSION_FOUND case) and
 * nothing is written, so the owner can erase the partition and open it again. */
static void test_open_blank_corrupt_newer(void **state)
{
    fixture_t *f = *state;
    kv_info_t info;
    kv_info(f->kv, &info);
    assert_int_equal(info.formatted, 1); /* the fixture's flash was blank */
    assert_int_equal(kv_set(f->kv, "a", "1", 1), MQOTA_OK);
    reopen(f);
    kv_info(f->kv, &info);
    assert_int_equal(info.formatted, 0);
    expect_str(f->kv, "a", "1");

    uint8_t h[16], again[16];
    assert_int_equal(vflash_read(f->fl, NVS_OFF, h, sizeof(h)), 0);
    for (int kind = 0; kind < 2; kind++) {
        uint8_t bad[16];
        memcpy(bad, h, sizeof(bad));
        if (kind == 0) {
            bad[12] ^= 0x5A; /* the header's crc */
        } else {
            bad[4] = 2; /* format version 2 */
            uint32_t crc = mqota_crc32(0, bad, 12);
            for (int i = 0; i < 4; i++) {
                bad[12 + i] = (uint8_t)(crc >> (8 * i));
            }
        }
        kv_close(f->kv);
        f->kv = NULL;
        assert_int_equal(vflash_erase(f->fl, NVS_OFF, VFLASH_SECTOR), 0);
        assert_int_equal(vflash_write(f->fl, NVS_OFF, bad, sizeof(bad)), 0);
        assert_int_equal(kv_open(f->fl, NVS_OFF, NVS_SIZE, &f->kv), MQOTA_ERR_MALFORMED);
        assert_null(f->kv);
        assert_int_equal(vflash_read(f->fl, NVS_OFF, again, sizeof(again)), 0);
        assert_memory_equal(again, bad, sizeof(bad)); /* untouched */
        /* The owner's recovery: erase, open again. */
        assert_int_equal(vflash_erase(f->fl, NVS_OFF, NVS_SIZE), 0);
        assert_int_equal(kv_open(f->fl, NVS_OFF, NVS_SIZE, &f->kv), MQOTA_OK);
        kv_info(f->kv, &info);
        assert_int_equal(info.formatted, 1);
        assert_int_equal(info.live_keys, 0);
        assert_int_equal(kv_set(f->kv, "a", "1", 1), MQOTA_OK);
        assert_int_equal(vflash_read(f->fl, NVS_OFF, h, sizeof(h)), 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_set_get_overwrite_erase, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compaction_and_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_power_cut_every_op, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_blank_corrupt_newer, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
