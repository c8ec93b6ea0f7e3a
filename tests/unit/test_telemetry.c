/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_telemetry.c - the TELEMETRY codec (mqota_telemetry.c, docs/PROTOCOL.md §15): the
 * example bytes of §15, round trips at the limits, and every decoder and encoder refusal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mqota/mqota_telemetry.h"

/* §15's example: ts 1000 ms, temperature 21.5, humidity 48.25. */
static const uint8_t example[] = {
    0x4D, 0x51, 0x01, 0x07, 0xE8, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
    0x0B, 't', 'e', 'm', 'p', 'e', 'r', 'a', 't', 'u', 'r', 'e',
    0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x35, 0x40,
    0x08, 'h', 'u', 'm', 'i', 'd', 'i', 't', 'y',
    0x00, 0x00, 0x00, 0x00, 0x00, 0x20, 0x48, 0x40,
};

static void test_example_bytes(void **state)
{
    (void)state;
    const mqota_sample_t s[] = {{"temperature", 21.5}, {"humidity", 48.25}};
    uint8_t buf[MQOTA_TELEMETRY_MAX_LEN];
    size_t n = 0;
    assert_int_equal(mqota_telemetry_encode(1000, s, 2, buf, sizeof(buf), &n), MQOTA_OK);
    assert_int_equal(n, sizeof(example));
    assert_memory_equal(buf, example, n);
    mqota_telemetry_t m;
    assert_int_equal(mqota_telemetry_decode(example, sizeof(example), &m), MQOTA_OK);
    assert_int_equal(m.ts_ms, 1000);
    assert_int_equal(m.count, 2);
    assert_string_equal(m.samples[0].name, "temperature");
    assert_true(m.samples[0].value == 21.5);
    assert_string_equal(m.samples[1].name, "humidity");
    assert_true(m.samples[1].value == 48.25);
}

/* 16 samples with 15-byte names and extreme finite values: exactly MQOTA_TELEMETRY_MAX_LEN. */
static void test_round_trip_at_limits(void **state)
{
    (void)state;
    static const double v[] = {-0.0, 1e308, -1e308, 4.9e-324, 123456789.0, -273.15, 1.0, 0.5};
    char names[MQOTA_TELEMETRY_SAMPLES][16];
    mqota_sample_t s[MQOTA_TELEMETRY_SAMPLES];
    for (unsigned i = 0; i < MQOTA_TELEMETRY_SAMPLES; i++) {
        memcpy(names[i], "abcdefghij.._09", 15);
        names[i][0] = (char)('a' + i);
        names[i][15] = '\0';
        s[i].name = names[i];
        s[i].value = v[i % 8];
    }
    uint8_t buf[MQOTA_TELEMETRY_MAX_LEN];
    size_t n = 0;
    assert_int_equal(mqota_telemetry_encode(UINT64_MAX, s, MQOTA_TELEMETRY_SAMPLES, buf,
                                            sizeof(buf), &n), MQOTA_OK);
    assert_int_equal(n, MQOTA_TELEMETRY_MAX_LEN);
    mqota_telemetry_t m;
    assert_int_equal(mqota_telemetry_decode(buf, n, &m), MQOTA_OK);
    assert_true(m.ts_ms == UINT64_MAX);
    assert_int_equal(m.count, MQOTA_TELEMETRY_SAMPLES);
    for (unsigned i = 0; i < MQOTA_TELEMETRY_SAMPLES; i++) {
        assert_string_equal(m.samples[i].name, names[i]);
        assert_memory_equal(&m.samples[i].value, &v[i % 8], sizeof(double));
    }
    /* one byte short of room: NO_SPACE */
    assert_int_equal(mqota_telemetry_encode(0, s, MQOTA_TELEMETRY_SAMPLES, buf, n - 1, &n),
                     MQOTA_ERR_NO_SPACE);
}

static void test_names(void **state)
{
    (void)state;
    assert_true(mqota_telemetry_name_valid("a"));
    assert_true(mqota_telemetry_name_valid("sys.uptime_s"));
    assert_true(mqota_telemetry_name_valid("abcdefghijklmno"));
    assert_false(mqota_telemetry_name_valid("abcdefghijklmnop")); /* 16 bytes */
    assert_false(mqota_telemetry_name_valid(""));
    assert_false(mqota_telemetry_name_valid(NULL));
    assert_false(mqota_telemetry_name_valid("Temp"));
    assert_false(mqota_telemetry_name_valid("a-b"));
    assert_false(mqota_telemetry_name_valid("a b"));
    assert_false(mqota_telemetry_name_valid("t\xc3\xa9"));
}

static void test_encode_refusals(void **state)
{
    (void)state;
    uint8_t buf[MQOTA_TELEMETRY_MAX_LEN];
    size_t n = 0;
    mqota_sample_t s[MQOTA_TELEMETRY_SAMPLES + 1];
    for (unsigned i = 0; i <= MQOTA_TELEMETRY_SAMPLES; i++) s[i] = (mqota_sample_t){"t", 1.0};
    assert_int_equal(mqota_telemetry_encode(0, s, 0, buf, sizeof(buf), &n), MQOTA_ERR_RANGE);
    assert_int_equal(mqota_telemetry_encode(0, s, MQOTA_TELEMETRY_SAMPLES + 1, buf, sizeof(buf),
                                            &n), MQOTA_ERR_RANGE);
    assert_int_equal(mqota_telemetry_encode(0, NULL, 1, buf, sizeof(buf), &n), MQOTA_ERR_ARG);
    assert_int_equal(mqota_telemetry_encode(0, s, 1, NULL, sizeof(buf), &n), MQOTA_ERR_ARG);
    assert_int_equal(mqota_telemetry_encode(0, s, 1, buf, 5, &n), MQOTA_ERR_NO_SPACE);
    s[0].name = "Bad";
    assert_int_equal(mqota_telemetry_encode(0, s, 1, buf, sizeof(buf), &n), MQOTA_ERR_ARG);
    s[0].name = "t";
    s[0].value = 1.0 / 0.0;
    assert_int_equal(mqota_telemetry_encode(0, s, 1, buf, sizeof(buf), &n), MQOTA_ERR_ARG);
    s[0].value = -1.0 / 0.0;
    assert_int_equal(mqota_telemetry_encode(0, s, 1, buf, sizeof(buf), &n), MQOTA_ERR_ARG);
    s[0].value = 0.0 / 0.0;
    assert_int_equal(mqota_telemetry_encode(0, s, 1, buf, sizeof(buf), &n), MQOTA_ERR_ARG);
}

/* Decode a copy of example[] with byte `at` set to `v` (at < 0: unchanged), `len` bytes long. */
static mqota_status_t decode_patched(int at, uint8_t v, size_t len, mqota_telemetry_t *m)
{
    uint8_t b[sizeof(example) + 8];
    memset(b, 0, sizeof(b));
    memcpy(b, example, sizeof(example));
    if (at >= 0) b[at] = v;
    return mqota_telemetry_decode(b, len, m);
}

static void test_decode_refusals(void **state)
{
    (void)state;
    mqota_telemetry_t m, keep;
    memset(&m, 0xA5, sizeof(m));
    keep = m;
    const size_t L = sizeof(example);
    /* every truncation: TRUNCATED, and *m untouched */
    for (size_t len = 0; len < L; len++) {
        assert_int_equal(decode_patched(-1, 0, len, &m), MQOTA_ERR_TRUNCATED);
        assert_memory_equal(&m, &keep, sizeof(m));
    }
    assert_int_equal(decode_patched(-1, 0, L + 1, &m), MQOTA_ERR_MALFORMED); /* trailing */
    assert_int_equal(decode_patched(0, 'X', L, &m), MQOTA_ERR_MALFORMED);     /* magic */
    assert_int_equal(decode_patched(2, 2, L, &m), MQOTA_ERR_VERSION);
    assert_int_equal(decode_patched(3, 1, L, &m), MQOTA_ERR_TYPE);
    assert_int_equal(decode_patched(12, 0, L, &m), MQOTA_ERR_MALFORMED);      /* count 0 */
    assert_int_equal(decode_patched(12, 17, L, &m), MQOTA_ERR_MALFORMED);     /* count 17 */
    assert_int_equal(decode_patched(12, 3, L, &m), MQOTA_ERR_TRUNCATED);      /* one missing */
    assert_int_equal(decode_patched(12, 1, L, &m), MQOTA_ERR_MALFORMED);      /* one extra */
    assert_int_equal(decode_patched(13, 0, L, &m), MQOTA_ERR_MALFORMED);      /* name len 0 */
    assert_int_equal(decode_patched(13, 16, L, &m), MQOTA_ERR_MALFORMED);     /* name len 16 */
    assert_int_equal(decode_patched(14, 'T', L, &m), MQOTA_ERR_MALFORMED);    /* upper case */
    assert_int_equal(decode_patched(15, 0, L, &m), MQOTA_ERR_MALFORMED);      /* NUL */
    assert_int_equal(decode_patched(16, '/', L, &m), MQOTA_ERR_MALFORMED);
    assert_int_equal(decode_patched(16, 0xC3, L, &m), MQOTA_ERR_MALFORMED);   /* not ASCII */
    /* exponent all ones in the first value (bytes 25..32, high bytes 31 and 32): inf, NaN */
    uint8_t b[sizeof(example)];
    memcpy(b, example, L);
    b[31] = 0xF0;
    b[32] = 0x7F; /* +inf */
    assert_int_equal(mqota_telemetry_decode(b, L, &m), MQOTA_ERR_MALFORMED);
    b[32] = 0xFF; /* -inf */
    assert_int_equal(mqota_telemetry_decode(b, L, &m), MQOTA_ERR_MALFORMED);
    b[25] = 1; /* NaN */
    assert_int_equal(mqota_telemetry_decode(b, L, &m), MQOTA_ERR_MALFORMED);
    b[31] = 0xE0; /* largest exponent below all ones: finite */
    assert_int_equal(mqota_telemetry_decode(b, L, &m), MQOTA_OK);
    assert_memory_not_equal(&m, &keep, sizeof(m));
    assert_int_equal(mqota_telemetry_decode(NULL, L, &m), MQOTA_ERR_ARG);
    assert_int_equal(mqota_telemetry_decode(example, L, NULL), MQOTA_ERR_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_example_bytes),
        cmocka_unit_test(test_round_trip_at_limits),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_encode_refusals),
        cmocka_unit_test(test_decode_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
