/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_utf8.c - the host programs' one UTF-8 validator (common/mqota_utf8.c), its repair for
 * JSON and the log escaping, with the classic cases: overlongs, surrogates, code points above
 * U+10FFFF, truncated sequences, stray continuation bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mqota_utf8.h"

#define VALID(lit) assert_true(mqh_utf8_valid(lit, sizeof(lit) - 1))
#define INVALID(lit) assert_false(mqh_utf8_valid(lit, sizeof(lit) - 1))

static void test_valid(void **state)
{
    (void)state;
    VALID("");
    VALID("blink 1.2.0");
    VALID("\xc2\x80");             /* U+0080, the smallest 2-byte */
    VALID("\xdf\xbf");             /* U+07FF */
    VALID("\xe0\xa0\x80");         /* U+0800, the smallest 3-byte */
    VALID("\xed\x9f\xbf");         /* U+D7FF, just below the surrogates */
    VALID("\xee\x80\x80");         /* U+E000, just above them */
    VALID("\xef\xbf\xbd");         /* U+FFFD */
    VALID("\xf0\x90\x80\x80");     /* U+10000, the smallest 4-byte */
    VALID("\xf4\x8f\xbf\xbf");     /* U+10FFFF, the largest code point */
    assert_true(mqh_utf8_valid("a\0b", 3)); /* U+0000 is a code point */
}

static void test_invalid(void **state)
{
    (void)state;
    INVALID("\xff\xfe");           /* never in UTF-8 */
    INVALID("\x80");               /* stray continuation byte */
    INVALID("a\xbf");
    INVALID("\xc0\xaf");           /* overlong '/' */
    INVALID("\xc1\xbf");           /* overlong U+007F */
    INVALID("\xe0\x80\xaf");       /* overlong 3-byte '/' */
    INVALID("\xe0\x9f\xbf");       /* overlong U+07FF */
    INVALID("\xf0\x80\x80\xaf");   /* overlong 4-byte '/' */
    INVALID("\xf0\x8f\xbf\xbf");   /* overlong U+FFFF */
    INVALID("\xed\xa0\x80");       /* U+D800, a high surrogate */
    INVALID("\xed\xbf\xbf");       /* U+DFFF, a low surrogate */
    INVALID("\xed\xa0\xbd\xed\xb2\xa9"); /* CESU-8 surrogate pair */
    INVALID("\xf4\x90\x80\x80");   /* U+110000 */
    INVALID("\xf5\x80\x80\x80");   /* lead byte beyond U+10FFFF */
    INVALID("\xc2");               /* truncated 2-byte */
    INVALID("\xe2\x96");           /* truncated 3-byte */
    INVALID("\xf0\x9f\x98");       /* truncated 4-byte */
    INVALID("\xe2\x28\xa1");       /* second byte not a continuation */
    INVALID("\xe2\x82\x28");       /* third byte not a continuation */
    assert_int_equal(mqh_utf8_seq("\xe2\x96\x88", 2), 0); /* n cuts it short */
    assert_int_equal(mqh_utf8_seq("\xe2\x96\x88", 3), 3);
    assert_int_equal(mqh_utf8_seq("x", 0), 0);
}

static void test_repair(void **state)
{
    char out[64];
    (void)state;
    assert_int_equal(mqh_utf8_repair("ok \xc3\xa9", 5, out, sizeof out), 0);
    assert_string_equal(out, "ok \xc3\xa9");
    /* each invalid byte becomes one U+FFFD; the valid text around it stays */
    assert_int_equal(mqh_utf8_repair("v\xff\xfe" "1", 4, out, sizeof out), 2);
    assert_string_equal(out, "v\xef\xbf\xbd\xef\xbf\xbd" "1");
    assert_true(mqh_utf8_valid(out, strlen(out)));
    assert_int_equal(mqh_utf8_repair("\xed\xa0\x80", 3, out, sizeof out), 3);
    assert_string_equal(out, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    /* stops at NUL */
    assert_int_equal(mqh_utf8_repair("ab\0\xff", 4, out, sizeof out), 0);
    assert_string_equal(out, "ab");
    /* a full buffer never cuts a sequence: 5 bytes hold "a" and one U+FFFD, not two */
    assert_int_equal(mqh_utf8_repair("a\xff\xff", 3, out, 5), 1);
    assert_string_equal(out, "a\xef\xbf\xbd");
    assert_int_equal(mqh_utf8_repair("\xc3\xa9\xc3\xa9", 4, out, 4), 0);
    assert_string_equal(out, "\xc3\xa9");
}

static void test_log_escape(void **state)
{
    char out[64];
    (void)state;
    const char forged[] = "x\n2026-12-04T10:00:00.000Z mqotad error: forged";
    mqh_log_escape(forged, sizeof forged - 1, out, sizeof out);
    assert_null(strchr(out, '\n'));
    assert_memory_equal(out, "x\\x0a2026", 9);
    assert_string_equal(mqh_log_escape("a\\b\x1b[31m\xc3\xa9", 10, out, sizeof out),
                        "a\\\\b\\x1b[31m\\xc3\\xa9");
    /* cut at a whole escape */
    assert_string_equal(mqh_log_escape("ab\x01", 3, out, 5), "ab");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_repair),
        cmocka_unit_test(test_log_escape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
