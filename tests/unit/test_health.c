/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_health.c - the HEALTH codec (mqota_health.c, docs/PROTOCOL.md §16): the example bytes
 * of §16, round trips at the limits, every decoder and encoder refusal, and the reset
 * reasons' names and which of them are crashes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mqota/mqota_health.h"

/* §16's example: panic, "LoadProhibited", -67 dBm, up 12 s, boot 7, 180000 bytes, 1 reconnect */
static const uint8_t example[] = {
    0x4D, 0x51, 0x01, 0x08, 0x04, 0x0E, 0xBD, 0x00, 0x0C, 0x00, 0x00, 0x00,
    0x07, 0x00, 0x00, 0x00, 0x20, 0xBF, 0x02, 0x00, 0x01, 0x00, 0x00, 0x00,
    'L', 'o', 'a', 'd', 'P', 'r', 'o', 'h', 'i', 'b', 'i', 't', 'e', 'd',
};

static mqota_health_t example_report(void)
{
    mqota_health_t h = {.reset_reason = MQOTA_RESET_PANIC, .rssi = -67, .uptime_s = 12,
                        .boot_count = 7, .min_free_heap = 180000, .reconnects = 1,
                        .crash = "LoadProhibited"};
    return h;
}

static void test_example_bytes(void **state)
{
    (void)state;
    mqota_health_t h = example_report(), m;
    uint8_t buf[MQOTA_HEALTH_MAX_LEN];
    size_t n = 0;
    assert_int_equal(mqota_health_encode(&h, buf, sizeof(buf), &n), MQOTA_OK);
    assert_int_equal(n, sizeof(example));
    assert_memory_equal(buf, example, n);
    assert_int_equal(mqota_health_decode(example, sizeof(example), &m), MQOTA_OK);
    assert_int_equal(m.reset_reason, MQOTA_RESET_PANIC);
    assert_int_equal(m.rssi, -67);
    assert_int_equal(m.uptime_s, 12);
    assert_int_equal(m.boot_count, 7);
    assert_int_equal(m.min_free_heap, 180000);
    assert_int_equal(m.reconnects, 1);
    assert_string_equal(m.crash, "LoadProhibited");
}

static void test_limits_round_trip(void **state)
{
    (void)state;
    mqota_health_t h, m;
    uint8_t buf[MQOTA_HEALTH_MAX_LEN];
    size_t n = 0;
    memset(&h, 0, sizeof(h));
    assert_int_equal(mqota_health_encode(&h, buf, sizeof(buf), &n), MQOTA_OK);
    assert_int_equal(n, MQOTA_HEALTH_FIXED_LEN);
    assert_int_equal(mqota_health_decode(buf, n, &m), MQOTA_OK);
    assert_memory_equal(&h, &m, sizeof(h));
    h = (mqota_health_t){.reset_reason = MQOTA_RESET_MAX, .rssi = -128, .uptime_s = UINT32_MAX,
                         .boot_count = UINT32_MAX, .min_free_heap = UINT32_MAX,
                         .reconnects = UINT32_MAX};
    memset(h.crash, ' ', MQOTA_HEALTH_CRASH_MAX);
    h.crash[0] = '~';
    assert_int_equal(mqota_health_encode(&h, buf, sizeof(buf), &n), MQOTA_OK);
    assert_int_equal(n, MQOTA_HEALTH_MAX_LEN);
    assert_int_equal(mqota_health_decode(buf, n, &m), MQOTA_OK);
    assert_memory_equal(&h, &m, sizeof(h));
    /* the reserved byte is ignored */
    buf[7] = 0xFF;
    assert_int_equal(mqota_health_decode(buf, n, &m), MQOTA_OK);
}

static void test_decode_refusals(void **state)
{
    (void)state;
    uint8_t b[sizeof(example) + 1];
    mqota_health_t m, untouched;
    memset(&m, 0x5A, sizeof(m));
    untouched = m;
    /* every proper prefix is truncated (or too short for a header) */
    for (size_t len = 0; len < sizeof(example); len++) {
        mqota_status_t st = mqota_health_decode(example, len, &m);
        assert_true(st == MQOTA_ERR_TRUNCATED);
        assert_memory_equal(&m, &untouched, sizeof(m));
    }
    memcpy(b, example, sizeof(example));
    b[sizeof(example)] = 'x'; /* trailing byte */
    assert_int_equal(mqota_health_decode(b, sizeof(b), &m), MQOTA_ERR_MALFORMED);
    memcpy(b, example, sizeof(example));
    b[4] = MQOTA_RESET_MAX + 1; /* unknown reset reason */
    assert_int_equal(mqota_health_decode(b, sizeof(example), &m), MQOTA_ERR_MALFORMED);
    memcpy(b, example, sizeof(example));
    b[5] = MQOTA_HEALTH_CRASH_MAX + 1; /* crash length above the bound */
    assert_int_equal(mqota_health_decode(b, sizeof(example), &m), MQOTA_ERR_MALFORMED);
    for (unsigned c = 0; c < 256; c++) {
        memcpy(b, example, sizeof(example));
        b[30] = (uint8_t)c;
        assert_int_equal(mqota_health_decode(b, sizeof(example), &m),
                         c >= 0x20 && c <= 0x7E ? MQOTA_OK : MQOTA_ERR_MALFORMED);
    }
    memcpy(b, example, sizeof(example));
    b[3] = 7; /* a TELEMETRY */
    assert_int_equal(mqota_health_decode(b, sizeof(example), &m), MQOTA_ERR_TYPE);
    b[3] = 8;
    b[2] = 2;
    assert_int_equal(mqota_health_decode(b, sizeof(example), &m), MQOTA_ERR_VERSION);
    b[2] = 1;
    b[0] = 'X';
    assert_int_equal(mqota_health_decode(b, sizeof(example), &m), MQOTA_ERR_MALFORMED);
    assert_int_equal(mqota_health_decode(NULL, 4, &m), MQOTA_ERR_ARG);
    assert_int_equal(mqota_health_decode(example, sizeof(example), NULL), MQOTA_ERR_ARG);
}

static void test_encode_refusals(void **state)
{
    (void)state;
    mqota_health_t h = example_report();
    uint8_t buf[MQOTA_HEALTH_MAX_LEN];
    size_t n = 0;
    assert_int_equal(mqota_health_encode(&h, buf, sizeof(example) - 1, &n), MQOTA_ERR_NO_SPACE);
    assert_int_equal(mqota_health_encode(NULL, buf, sizeof(buf), &n), MQOTA_ERR_ARG);
    assert_int_equal(mqota_health_encode(&h, NULL, sizeof(buf), &n), MQOTA_ERR_ARG);
    assert_int_equal(mqota_health_encode(&h, buf, sizeof(buf), NULL), MQOTA_ERR_ARG);
    h.reset_reason = MQOTA_RESET_MAX + 1;
    assert_int_equal(mqota_health_encode(&h, buf, sizeof(buf), &n), MQOTA_ERR_ARG);
    h = example_report();
    h.crash[3] = '\n'; /* a control byte */
    assert_int_equal(mqota_health_encode(&h, buf, sizeof(buf), &n), MQOTA_ERR_ARG);
    h.crash[3] = (char)0xC3; /* not ASCII */
    assert_int_equal(mqota_health_encode(&h, buf, sizeof(buf), &n), MQOTA_ERR_ARG);
    memset(h.crash, 'a', sizeof(h.crash)); /* not terminated within the array */
    assert_int_equal(mqota_health_encode(&h, buf, sizeof(buf), &n), MQOTA_ERR_ARG);
}

static void test_reason_names(void **state)
{
    (void)state;
    static const char *const names[] = {"unknown", "power-on", "external", "software", "panic",
                                        "int-wdt", "task-wdt", "wdt", "deep-sleep", "brownout",
                                        "sdio", "usb", "jtag", "efuse", "power-glitch",
                                        "cpu-lockup"};
    assert_int_equal(sizeof(names) / sizeof(names[0]), MQOTA_RESET_MAX + 1);
    for (unsigned r = 0; r <= MQOTA_RESET_MAX; r++) {
        assert_string_equal(mqota_reset_reason_name((uint8_t)r), names[r]);
        assert_int_equal(mqota_reset_is_crash((uint8_t)r),
                         r == MQOTA_RESET_PANIC || r == MQOTA_RESET_INT_WDT ||
                             r == MQOTA_RESET_TASK_WDT || r == MQOTA_RESET_WDT);
    }
    assert_string_equal(mqota_reset_reason_name(MQOTA_RESET_MAX + 1), "unknown");
    assert_string_equal(mqota_reset_reason_name(255), "unknown");
    assert_false(mqota_reset_is_crash(255));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_example_bytes),
        cmocka_unit_test(test_limits_round_trip),
        cmocka_unit_test(test_decode_refusals),
        cmocka_unit_test(test_encode_refusals),
        cmocka_unit_test(test_reason_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
