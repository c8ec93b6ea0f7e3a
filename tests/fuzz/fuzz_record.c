/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the agent's persisted records (mqota_record.c): the input is given to
 * each of the four decoders, as the store's bytes under that key would be. What decodes must
 * re-encode: a current-form record to exactly the input bytes, a legacy one (raw structs of
 * older agents) to a current-form record that decodes to the same fields.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mqota/mqota_record.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

/* A decoded record re-encoded into buf (n bytes): same bytes as the input unless legacy. */
static void check_canonical(const uint8_t *data, size_t size, const uint8_t *buf, size_t n,
                            bool legacy)
{
    if (!legacy) {
        CHECK(n == size && memcmp(buf, data, n) == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t buf[MQOTA_RECORD_MAX_LEN];
    size_t n = 0;
    bool legacy = false, again = true;

    mqota_progress_t p, p2;
    if (mqota_progress_decode(data, size, &p, &legacy) == MQOTA_OK) {
        CHECK(mqota_progress_encode(&p, buf, sizeof(buf), &n) == MQOTA_OK);
        check_canonical(data, size, buf, n, legacy);
        CHECK(mqota_progress_decode(buf, n, &p2, &again) == MQOTA_OK && !again);
        CHECK(memcmp(&p, &p2, sizeof(p)) == 0);
    }
    mqota_slot_record_t s, s2;
    if (mqota_slot_record_decode(data, size, &s, &legacy) == MQOTA_OK) {
        CHECK(memchr(s.version, '\0', sizeof(s.version)) != NULL);
        CHECK(mqota_slot_record_encode(&s, buf, sizeof(buf), &n) == MQOTA_OK);
        check_canonical(data, size, buf, n, legacy);
        CHECK(mqota_slot_record_decode(buf, n, &s2, &again) == MQOTA_OK && !again);
        CHECK(memcmp(&s, &s2, sizeof(s)) == 0);
    }
    mqota_attempt_t at, at2;
    if (mqota_attempt_decode(data, size, &at, &legacy) == MQOTA_OK) {
        CHECK(mqota_attempt_encode(&at, buf, sizeof(buf), &n) == MQOTA_OK);
        check_canonical(data, size, buf, n, legacy);
        CHECK(mqota_attempt_decode(buf, n, &at2, &again) == MQOTA_OK && !again);
        CHECK(memcmp(&at, &at2, sizeof(at)) == 0);
    }
    mqota_held_t h, h2; /* no legacy form: always canonical */
    if (mqota_held_decode(data, size, &h) == MQOTA_OK) {
        CHECK(mqota_held_encode(&h, buf, sizeof(buf), &n) == MQOTA_OK);
        check_canonical(data, size, buf, n, false);
        CHECK(mqota_held_decode(buf, n, &h2) == MQOTA_OK);
        CHECK(memcmp(&h, &h2, sizeof(h)) == 0);
    }
    uint32_t v, v2;
    if (mqota_minsv_decode(data, size, &v, &legacy) == MQOTA_OK) {
        CHECK(mqota_minsv_encode(v, buf, sizeof(buf), &n) == MQOTA_OK);
        check_canonical(data, size, buf, n, legacy);
        CHECK(mqota_minsv_decode(buf, n, &v2, &again) == MQOTA_OK && !again && v == v2);
    }
    return 0;
}
