/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_config_off.c - libmqota's two switches for small builds, off as the ESP-IDF component's
 * Kconfig defaults have them (this file's target compiles mqota_record.c and mqota_status.c
 * with MQOTA_CFG_LEGACY_RECORDS 0 and MQOTA_CFG_STATUS_TEXT 0): a raw-struct record of an old
 * agent (docs/PROTOCOL.md §12.1) is refused like a damaged one, current records still round
 * trip, and mqota_strerror() gives its one fixed text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "mqota/mqota_record.h"
#include "mqota/mqota_status.h"

#if MQOTA_CFG_LEGACY_RECORDS || MQOTA_CFG_STATUS_TEXT
#error "test_config_off is built with both switches 0 (tests/unit/CMakeLists.txt)"
#endif

/* An "mq.minsv" record in the old agent's raw form: magic "MQV1", the u32, a CRC-32 of the 8
 * bytes before it (as test_record.c's old_minsv_t). */
static void test_legacy_record_refused(void **state)
{
    (void)state;
    uint8_t old[12] = {0x31, 0x56, 0x51, 0x4D, 5, 0, 0, 0};
    uint32_t crc = (uint32_t)crc32(0L, old, 8);
    for (size_t i = 0; i < 4u; i++) {
        old[8 + i] = (uint8_t)(crc >> (8u * i));
    }
    uint32_t v = 77;
    bool legacy = true;
    /* read as a current-form record: "MQV1" is not the tag "MQSV" */
    assert_int_equal(mqota_minsv_decode(old, sizeof(old), &v, &legacy), MQOTA_ERR_TYPE);
    assert_int_equal(v, 77); /* untouched */

    /* the current form still round trips */
    uint8_t buf[MQOTA_RECORD_MAX_LEN];
    size_t n = 0;
    assert_int_equal(mqota_minsv_encode(5, buf, sizeof(buf), &n), MQOTA_OK);
    assert_int_equal(mqota_minsv_decode(buf, n, &v, &legacy), MQOTA_OK);
    assert_int_equal(v, 5);
    assert_false(legacy);
}

static void test_status_text_left_out(void **state)
{
    (void)state;
    assert_string_equal(mqota_strerror(MQOTA_ERR_ARG),
                        "mqota status (texts left out: MQOTA_CFG_STATUS_TEXT)");
    assert_string_equal(mqota_strerror(MQOTA_OK), mqota_strerror(MQOTA_ERR_CONFIG));
    /* the protocol's names stay */
    assert_string_equal(mqota_state_name(MQOTA_STATE_HELD), "held");
    assert_string_equal(mqota_reason_name(MQOTA_REASON_COMMAND), "command");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_legacy_record_refused),
        cmocka_unit_test(test_status_text_left_out),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
