/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_cli_format.c - the mqota CLI's output formatting (cli/format.c): sizes, durations,
 * "last seen" times, percentages, progress bars, table column widths and terminal-safe text.
 */
#define _POSIX_C_SOURCE 200809L

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "format.h"

static void test_size(void **state)
{
    char b[32];
    (void)state;
    assert_string_equal(fmt_size(0, b, sizeof b), "0 B");
    assert_string_equal(fmt_size(1023, b, sizeof b), "1023 B");
    assert_string_equal(fmt_size(1024, b, sizeof b), "1.0 KiB");
    assert_string_equal(fmt_size(124416, b, sizeof b), "121.5 KiB");
    assert_string_equal(fmt_size(1966080, b, sizeof b), "1.9 MiB");
    /* Just under 1 MiB must not print as "1024.0 KiB". */
    assert_string_equal(fmt_size(1048575, b, sizeof b), "1.0 MiB");
    assert_string_equal(fmt_size(3ull << 30, b, sizeof b), "3.0 GiB");
    /* Truncation keeps the buffer terminated. */
    assert_string_equal(fmt_size(124416, b, 4), "121");
}

static void test_ago(void **state)
{
    char b[32];
    (void)state;
    assert_string_equal(fmt_ago(1000, 997, b, sizeof b), "3s ago");
    assert_string_equal(fmt_ago(1000, 1000, b, sizeof b), "0s ago");
    assert_string_equal(fmt_ago(1000, 1005, b, sizeof b), "0s ago"); /* clock skew */
    assert_string_equal(fmt_ago(1000, 941, b, sizeof b), "59s ago");
    assert_string_equal(fmt_ago(1000, 940, b, sizeof b), "1m ago");
    assert_string_equal(fmt_ago(1000, 700, b, sizeof b), "5m ago");
    assert_string_equal(fmt_ago(100000, 100000 - 7200, b, sizeof b), "2h ago");
    assert_string_equal(fmt_ago(1000000, 1000000 - 4 * 86400, b, sizeof b), "4d ago");
    assert_string_equal(fmt_ago(1000, 0, b, sizeof b), "never");
}

static void test_elapsed(void **state)
{
    char b[32];
    (void)state;
    assert_string_equal(fmt_elapsed(0, b, sizeof b), "0.0s");
    assert_string_equal(fmt_elapsed(450, b, sizeof b), "0.4s");
    assert_string_equal(fmt_elapsed(12345, b, sizeof b), "12.3s");
    assert_string_equal(fmt_elapsed(59999, b, sizeof b), "59.9s");
    assert_string_equal(fmt_elapsed(60000, b, sizeof b), "1m00s");
    assert_string_equal(fmt_elapsed(65000, b, sizeof b), "1m05s");
    assert_string_equal(fmt_elapsed(3600000 + 2 * 60000 + 5000, b, sizeof b), "1h02m");
}

static void test_date(void **state)
{
    char b[32];
    (void)state;
    assert_string_equal(fmt_date(0, b, sizeof b), "-");
    setenv("TZ", "UTC", 1);
    tzset();
    assert_string_equal(fmt_date(1795000000, b, sizeof b), "2026-11-18 11:06");
}

static void test_percent(void **state)
{
    (void)state;
    assert_int_equal(fmt_percent(0, 0), 0);
    assert_int_equal(fmt_percent(5, 0), 0);
    assert_int_equal(fmt_percent(0, 100), 0);
    assert_int_equal(fmt_percent(999, 1000), 99); /* never rounds up to 100 before done */
    assert_int_equal(fmt_percent(1000, 1000), 100);
    assert_int_equal(fmt_percent(2000, 1000), 100);
    assert_int_equal(fmt_percent(62208, 124416), 50);
}

static void test_bar_ascii(void **state)
{
    char b[64];
    (void)state;
    assert_string_equal(fmt_bar(b, sizeof b, 10, 0, 100, false), "[..........]");
    assert_string_equal(fmt_bar(b, sizeof b, 10, 50, 100, false), "[#####.....]");
    assert_string_equal(fmt_bar(b, sizeof b, 10, 99, 100, false), "[#########.]");
    assert_string_equal(fmt_bar(b, sizeof b, 10, 100, 100, false), "[##########]");
    assert_string_equal(fmt_bar(b, sizeof b, 10, 500, 100, false), "[##########]");
    assert_string_equal(fmt_bar(b, sizeof b, 4, 7, 0, false), "[....]"); /* size unknown */
    assert_string_equal(fmt_bar(b, sizeof b, 0, 1, 2, false), "[]");
    /* Too small a buffer: cut short, still terminated. */
    assert_string_equal(fmt_bar(b, 5, 10, 100, 100, false), "[###");
}

static void test_bar_unicode(void **state)
{
    char b[64];
    (void)state;
    fmt_bar(b, sizeof b, 4, 1, 2, true);
    assert_string_equal(b, "[\xe2\x96\x88\xe2\x96\x88\xe2\x96\x91\xe2\x96\x91]");
    assert_int_equal(strlen(b), 4 * 3 + 2);
    assert_int_equal(fmt_display_width(b), 6);
    /* A cut never splits a code point: 8 bytes hold "[" and two blocks. */
    fmt_bar(b, 8, 4, 1, 2, true);
    assert_int_equal(strlen(b), 7);
}

static void test_display_width(void **state)
{
    (void)state;
    assert_int_equal(fmt_display_width(""), 0);
    assert_int_equal(fmt_display_width(NULL), 0);
    assert_int_equal(fmt_display_width("vdev-0001"), 9);
    assert_int_equal(fmt_display_width("caf\xc3\xa9"), 4);
}

/* Print a table into a string with open_memstream. */
static char *print_table(const fmt_table_t *t)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    fmt_table_print(t, f);
    fclose(f);
    return buf;
}

static void test_table_widths(void **state)
{
    static const char *const head[] = { "ID", "VERSION", "SIZE" };
    (void)state;
    fmt_table_t *t = fmt_table_new(3, head);
    assert_non_null(t);
    assert_int_equal(fmt_table_rows(t), 0);
    assert_int_equal(fmt_table_width(t, 0), 2);
    assert_int_equal(fmt_table_width(t, 1), 7);

    const char *r1[] = { "1", "v1.4.1-2-g0296947", "121.5 KiB" };
    const char *r2[] = { "12", NULL, "1.9 MiB" };
    assert_int_equal(fmt_table_add_row(t, r1), 0);
    assert_int_equal(fmt_table_add_row(t, r2), 0);
    assert_int_equal(fmt_table_rows(t), 2);
    assert_int_equal(fmt_table_width(t, 0), 2);
    assert_int_equal(fmt_table_width(t, 1), 17);
    assert_int_equal(fmt_table_width(t, 2), 9);
    assert_int_equal(fmt_table_width(t, 3), 0); /* no such column */

    fmt_table_align_right(t, 0);
    fmt_table_align_right(t, 2);
    char *out = print_table(t);
    assert_string_equal(out,
                        "ID  VERSION                 SIZE\n"
                        " 1  v1.4.1-2-g0296947  121.5 KiB\n"
                        "12  -                    1.9 MiB\n");
    free(out);
    fmt_table_free(t);
}

static void test_table_no_trailing_blanks(void **state)
{
    static const char *const head[] = { "DEVICE", "STATE" };
    (void)state;
    fmt_table_t *t = fmt_table_new(2, head);
    const char *r1[] = { "a", "confirmed" };
    const char *r2[] = { "caf\xc3\xa9-device", "ok" }; /* multi-byte: padded by columns */
    fmt_table_add_row(t, r1);
    fmt_table_add_row(t, r2);
    assert_int_equal(fmt_table_width(t, 0), 11);
    char *out = print_table(t);
    assert_string_equal(out,
                        "DEVICE       STATE\n"
                        "a            confirmed\n"
                        "caf\xc3\xa9-device  ok\n");
    free(out);
    fmt_table_free(t);
    fmt_table_free(NULL);

    /* An empty last cell leaves no separator behind. */
    static const char *const h2[] = { "A", "REASON" };
    const char *r3[] = { "x", "" };
    t = fmt_table_new(2, h2);
    fmt_table_add_row(t, r3);
    out = print_table(t);
    assert_string_equal(out, "A  REASON\nx\n");
    free(out);
    fmt_table_free(t);
}

static void test_table_many_rows(void **state)
{
    static const char *const head[] = { "N" };
    char cell[16];
    (void)state;
    fmt_table_t *t = fmt_table_new(1, head);
    for (int i = 0; i < 1000; i++) {
        const char *row[] = { cell };
        snprintf(cell, sizeof cell, "%d", i);
        assert_int_equal(fmt_table_add_row(t, row), 0);
    }
    assert_int_equal(fmt_table_rows(t), 1000);
    assert_int_equal(fmt_table_width(t, 0), 3);
    fmt_table_free(t);
}

static void test_kv_lines(void **state)
{
    (void)state;
    char out[256];
    assert_string_equal(fmt_kv_lines("uptime_ms=3002\nslot=0\nrelay=off\n", out, sizeof out),
                        "uptime_ms: 3002\nslot:      0\nrelay:     off\n");
    /* CRLF, an empty value, a value with '=', a line without '=', blank lines, no final newline */
    assert_string_equal(fmt_kv_lines("a=1\r\n\nrelease_version=\nnote\nx=y=z", out, sizeof out),
                        "a:               1\nrelease_version: \nnote\nx:               y=z\n");
    assert_string_equal(fmt_kv_lines("", out, sizeof out), "");
    /* too small: whole lines only */
    assert_string_equal(fmt_kv_lines("a=1\nb=2\n", out, 8), "a: 1\n");
}

/* Check fmt_safe(s, keep) against want and free it. */
static void safe_is(const char *s, bool keep, const char *want)
{
    char *got = fmt_safe(s, keep);
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void test_safe(void **state)
{
    (void)state;
    /* plain ASCII and valid UTF-8 (U+00E9, U+2588, U+1F600) pass unchanged */
    safe_is("blink-1.2.0", false, "blink-1.2.0");
    safe_is("caf\xc3\xa9 \xe2\x96\x88 \xf0\x9f\x98\x80", false, "caf\xc3\xa9 \xe2\x96\x88 \xf0\x9f\x98\x80");
    safe_is(NULL, false, "");
    /* OSC 0 (set the window title) ended by BEL, and a CSI clearing the screen */
    safe_is("\x1b]0;owned\x07v1", false, "\\x1b]0;owned\\x07v1");
    safe_is("\x1b[2J\x1b[H", false, "\\x1b[2J\\x1b[H");
    /* every C0 control and DEL; a newline is kept only when asked */
    safe_is("a\nb\rc\td\x7f" "e\x01", false, "a\\x0ab\\x0dc\\x09d\\x7fe\\x01");
    safe_is("a=1\nb=2\r\n", true, "a=1\nb=2\\x0d\n");
    /* C1 controls U+0080..U+009F (CSI is U+009B), which some terminals obey */
    safe_is("\xc2\x9b" "31m\xc2\x80\xc2\x9f\xc2\xa0", false, "\\u009b31m\\u0080\\u009f\xc2\xa0");
    /* invalid UTF-8: stray bytes, an overlong '/', a surrogate, a truncated sequence */
    safe_is("\xff\xfe", false, "\\xff\\xfe");
    safe_is("\xc0\xaf", false, "\\xc0\\xaf");
    safe_is("\xed\xa0\x80", false, "\\xed\\xa0\\x80");
    safe_is("v\xe2\x96", false, "v\\xe2\\x96");
    /* idempotent: the escapes themselves are printable */
    safe_is("\\x1b", false, "\\x1b");
}

static void test_json_safe(void **state)
{
    (void)state;
    /* cJSON escapes C0 itself; DEL, C1 and invalid bytes come through raw and are escaped */
    char *got = fmt_json_safe("{\"v\":\"a\x7f" "b\xc2\x9b" "31m\xff\xc3\xa9\\u001b\"}");
    assert_non_null(got);
    assert_string_equal(got, "{\"v\":\"a\\u007fb\\u009b31m\\ufffd\xc3\xa9\\u001b\"}");
    free(got);
    got = fmt_json_safe("[1, \"ok\"]");
    assert_string_equal(got, "[1, \"ok\"]");
    free(got);
}

static void test_table_cells_safe(void **state)
{
    (void)state;
    const char *hdr[] = { "ID", "VERSION" };
    const char *row[] = { "dev-1", "\x1b]0;pwned\x07" };
    fmt_table_t *t = fmt_table_new(2, hdr);
    assert_non_null(t);
    assert_int_equal(fmt_table_add_row(t, row), 0);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    fmt_table_print(t, f);
    fclose(f);
    assert_null(memchr(buf, 0x1b, len));
    assert_non_null(strstr(buf, "\\x1b]0;pwned\\x07"));
    /* the column is as wide as what is printed */
    assert_int_equal(fmt_table_width(t, 1), strlen("\\x1b]0;pwned\\x07"));
    free(buf);
    fmt_table_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_size),
        cmocka_unit_test(test_ago),
        cmocka_unit_test(test_elapsed),
        cmocka_unit_test(test_date),
        cmocka_unit_test(test_percent),
        cmocka_unit_test(test_bar_ascii),
        cmocka_unit_test(test_bar_unicode),
        cmocka_unit_test(test_display_width),
        cmocka_unit_test(test_table_widths),
        cmocka_unit_test(test_table_no_trailing_blanks),
        cmocka_unit_test(test_table_many_rows),
        cmocka_unit_test(test_kv_lines),
        cmocka_unit_test(test_safe),
        cmocka_unit_test(test_table_cells_safe),
        cmocka_unit_test(test_json_safe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
