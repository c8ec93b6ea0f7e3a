/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Delta updates through the agent's decode stage (device/src/mqota_decode.c, mqota_delta.c,
 * docs/PROTOCOL.md §18) on a virtual ESP32 (vdev, the POSIX port's zlib inflate hook) running
 * the 2023 hello_world, served the delta to the 2024 image as mqotad builds it (server/delta.c:
 * bsdiff at test time, delta chunks deflated):
 *  - delta-sync and delta-full updates end verified with the slot byte-identical to the H.image;
 *    delta-full chunks sent last to first apply in any order;
 *  - a reset mid-delta resumes from the persisted base and sends no more than one window again;
 *  - a delta whose base is not the running image is refused (base-mismatch) before any erase,
 *    and the same deployment's offer of the full image is then taken;
 *  - a delta chunk damaged on the way is dropped by its CRC; one whose CRC passes but whose
 *    records are wrong fails the update (decode);
 *  - a result that is not the offer's image is refused by the final SHA-256 check;
 *  - a device without the decoder announces no MQOTA_CAP_DELTA and refuses a delta offer.
 */
#define _POSIX_C_SOURCE 200809L /* clockid_t of update_harness.h */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include <cmocka.h>

#include "hello_fixture.h"

#include "mqota/mqota.h"
#include "mqota_posix/inflate.h"
#include "mqota_posix/vdev.h"

#include "delta.h"

#define WBITS 15u

static uint8_t *base;     /* the running image, 2023 */
static size_t base_len;
static delta_t delta;     /* 2023 -> 2024, made by bsdiff in the group setup */

/* Serve the delta of the 2024 image (or of `target`, another image) in `encoding`. Returns the
 * bytes on the wire. */
static size_t serve_delta(uint8_t encoding, const uint8_t *target)
{
    char err[256] = "";
    size_t wire_len = 0;
    harness_uncompress(&H.srv);
    delta_t d = delta;
    delta_t other = {0};
    if (target != H.image) {
        assert_int_equal(delta__make(base, base_len, target, H.image_len, HELLO_CHUNK, H.dir, &other, err,
                                     sizeof(err)), 0);
        d = other;
    }
    if (delta__wire(&d, target, encoding, WBITS, &H.srv.wire, &H.srv.wire_off, &wire_len, err,
                    sizeof(err)) != 0) {
        fail_msg("delta__wire: %s", err);
    }
    delta__free(&other);
    H.srv.encoding = encoding;
    H.srv.window_bits = WBITS;
    H.srv.base_size = (uint32_t)base_len;
    memcpy(H.srv.base_sha256, delta.base_sha256, 32);
    return wire_len;
}

static void test_delta_sync_update(void **state)
{
    (void)state;
    size_t wire = serve_delta(MQOTA_ENCODING_DELTA_SYNC, H.image);
    hello_power_on(true);
    mqota_state_msg_t m;
    mqota_agent_state_msg(&H.agent, &m);
    assert_true((m.caps & MQOTA_CAP_DELTA) != 0u);
    harness_send_offer(&H.srv);
    assert_int_equal(hello_drive(), MQOTA_STATE_READY_TO_REBOOT);
    hello_check_slot();
    printf("delta-sync: %zu of %zu bytes on the wire (%.1f %%), %u chunks sent\n", wire,
           H.image_len, 100.0 * (double)wire / (double)H.image_len, H.srv.chunks_sent);
    assert_int_equal(H.srv.chunks_sent, harness_chunk_count(&H.srv));
    hello_power_off();
}

static void test_delta_full_out_of_order(void **state)
{
    (void)state;
    size_t wire = serve_delta(MQOTA_ENCODING_DELTA_FULL, H.image);
    hello_power_on(true);
    harness_send_offer(&H.srv);
    for (uint32_t i = harness_chunk_count(&H.srv); i-- > 0;) {
        harness_send_chunk(&H.srv, i);
    }
    assert_int_equal(hello_drive(), MQOTA_STATE_READY_TO_REBOOT);
    hello_check_slot();
    printf("delta-full: %zu of %zu bytes on the wire\n", wire, H.image_len);
    assert_int_equal(H.srv.chunks_sent, harness_chunk_count(&H.srv));
    hello_power_off();
}

/* A delta stream is per base (docs/PROTOCOL.md §13): the agent subscribes to
 * <prefix>/stream/<release>/4/<first 8 hex digits of the base's SHA-256>, ignores the same
 * release's delta stream of another base, and takes every chunk from its own. */
static void test_delta_full_stream_per_base(void **state)
{
    (void)state;
    char topic[HARNESS_TOPIC_MAX], chunk_topic[HARNESS_TOPIC_MAX], want[40];
    const uint8_t *h = delta.base_sha256;
    uint32_t count;
    (void)serve_delta(MQOTA_ENCODING_DELTA_FULL, H.image);
    H.srv.offer_flags = MQOTA_OFFER_FLAG_STREAM;
    hello_power_on(true);
    harness_send_offer(&H.srv);
    count = harness_chunk_count(&H.srv);
    assert_int_equal(mqota_agent_topic(&H.agent, MQOTA_TOPIC_STREAM, topic, sizeof(topic)),
                     MQOTA_OK);
    snprintf(want, sizeof(want), "/stream/%u/4/%02x%02x%02x%02x", (unsigned)H.srv.release_id,
             h[0], h[1], h[2], h[3]);
    assert_true(strlen(topic) > strlen(want));
    assert_string_equal(topic + strlen(topic) - strlen(want), want);
    memcpy(chunk_topic, H.srv.topic_chunk, sizeof(chunk_topic));
    memcpy(H.srv.topic_chunk, topic, sizeof(topic));
    H.srv.topic_chunk[strlen(topic) - 1u] = topic[strlen(topic) - 1u] == '0' ? '1' : '0';
    for (uint32_t i = 0; i < count; i++) { /* another base's stream */
        harness_send_chunk(&H.srv, i);
    }
    mqota_state_msg_t m;
    mqota_agent_state_msg(&H.agent, &m);
    assert_int_equal(m.progress, 0);
    memcpy(H.srv.topic_chunk, topic, sizeof(topic));
    for (uint32_t i = 0; i < count; i++) {
        harness_send_chunk(&H.srv, i);
    }
    memcpy(H.srv.topic_chunk, chunk_topic, sizeof(chunk_topic));
    H.srv.offer_flags = 0;
    assert_int_equal(hello_drive(), MQOTA_STATE_READY_TO_REBOOT);
    hello_check_slot();
    assert_int_equal(H.srv.chunks_sent, 2u * count); /* nothing by unicast */
    hello_power_off();
}

/* A reset in the middle: the device resumes from its persisted base with a fresh applier and
 * ends with the same image; no more than one window (plus the partly written sector's chunk)
 * is sent again. */
static void test_delta_reset_resumes(void **state)
{
    (void)state;
    serve_delta(MQOTA_ENCODING_DELTA_SYNC, H.image);
    hello_power_on(true);
    harness_send_offer(&H.srv);
    for (uint32_t i = 0; i < 12; i++) {
        harness_send_chunk(&H.srv, i);
    }
    H.now += 100;
    (void)mqota_agent_process(&H.agent, H.now);
    uint32_t sent_before = H.srv.chunks_sent;
    hello_power_off(); /* reset: RAM gone, flash and the progress record stay */
    hello_boot(true);
    harness_send_offer(&H.srv);
    H.now += 100;
    (void)mqota_agent_process(&H.agent, H.now);
    assert_true(H.srv.have_ack);
    assert_true((H.srv.ack.flags & MQOTA_ACK_FLAG_RESUMED) != 0u);
    assert_int_equal(H.srv.ack.base, 12u); /* 12 written and persisted: one chunk per sector */
    assert_int_equal(hello_drive(), MQOTA_STATE_READY_TO_REBOOT);
    hello_check_slot();
    uint32_t again = H.srv.chunks_sent - sent_before - (harness_chunk_count(&H.srv) - 12u);
    printf("delta reset at chunk 12: %u chunks sent again\n", again);
    assert_true(again <= 4u);
    hello_power_off();
}

/* A delta whose base is not the running image is refused before anything is erased. */
static void test_delta_wrong_base_refused_before_erase(void **state)
{
    (void)state;
    serve_delta(MQOTA_ENCODING_DELTA_SYNC, H.image);
    H.srv.base_sha256[0] ^= 0x01u;
    hello_power_on(true);
    harness_send_offer(&H.srv);
    assert_int_equal(mqota_agent_state(&H.agent), MQOTA_STATE_FAILED);
    assert_int_equal(mqota_agent_reason(&H.agent), MQOTA_REASON_BASE_MISMATCH);
    assert_int_equal(H.erases, 0u);
    /* the retained copy of the refused offer is ignored; the same deployment's fallback to the
     * full image (mqotad's answer to base-mismatch) is taken and completes */
    harness_send_offer(&H.srv);
    assert_int_equal(mqota_agent_state(&H.agent), MQOTA_STATE_FAILED);
    assert_int_equal(H.erases, 0u);
    harness_uncompress(&H.srv);
    harness_send_offer(&H.srv);
    assert_int_equal(hello_drive(), MQOTA_STATE_READY_TO_REBOOT);
    hello_check_slot();
    hello_power_off();
    /* a base larger than the running slot */
    serve_delta(MQOTA_ENCODING_DELTA_SYNC, H.image);
    H.srv.base_size = 0x7FFFFFFFu;
    hello_power_on(true);
    harness_send_offer(&H.srv);
    assert_int_equal(mqota_agent_reason(&H.agent), MQOTA_REASON_BASE_MISMATCH);
    assert_int_equal(H.erases, 0u);
    hello_power_off();
}

static void test_delta_damaged_chunk_dropped_by_crc(void **state)
{
    (void)state;
    serve_delta(MQOTA_ENCODING_DELTA_SYNC, H.image);
    hello_power_on(true);
    harness_send_offer(&H.srv);
    harness_send_chunk(&H.srv, 0);
    hello_send_damaged(1, true);
    assert_int_equal(mqota_agent_state(&H.agent), MQOTA_STATE_DOWNLOADING);
    assert_int_equal(mqota_agent_progress(&H.agent), HELLO_CHUNK);
    assert_int_equal(hello_drive(), MQOTA_STATE_READY_TO_REBOOT);
    hello_check_slot();
    hello_power_off();
}

static void test_delta_bad_records_fail_decode(void **state)
{
    (void)state;
    serve_delta(MQOTA_ENCODING_DELTA_FULL, H.image);
    hello_power_on(true);
    harness_send_offer(&H.srv);
    hello_send_damaged(3, false);
    assert_int_equal(mqota_agent_state(&H.agent), MQOTA_STATE_FAILED);
    assert_int_equal(mqota_agent_reason(&H.agent), MQOTA_REASON_DECODE);
    hello_power_off();
}

/* The delta of another image than the offer's hash names: every chunk applies, the final
 * SHA-256 check refuses the result and the old image keeps running. */
static void test_delta_wrong_result_refused(void **state)
{
    (void)state;
    uint8_t *other = malloc(H.image_len);
    assert_non_null(other);
    memcpy(other, H.image, H.image_len);
    other[1000] ^= 0x01u;
    serve_delta(MQOTA_ENCODING_DELTA_SYNC, other);
    hello_power_on(true);
    harness_send_offer(&H.srv);
    assert_int_equal(hello_drive(), MQOTA_STATE_FAILED);
    assert_int_equal(mqota_agent_reason(&H.agent), MQOTA_REASON_HASH_MISMATCH);
    mqota_state_msg_t m;
    mqota_agent_state_msg(&H.agent, &m);
    assert_int_equal(m.running_slot, H.boot.slot);
    hello_power_off();
    free(other);
}

/* A device without the decoder announces no MQOTA_CAP_DELTA and refuses a delta offer. */
static void test_delta_without_decoder(void **state)
{
    (void)state;
    serve_delta(MQOTA_ENCODING_DELTA_SYNC, H.image);
    hello_power_on(false);
    mqota_state_msg_t m;
    mqota_agent_state_msg(&H.agent, &m);
    assert_int_equal(m.caps & MQOTA_CAP_DELTA, 0u);
    harness_send_offer(&H.srv);
    assert_int_equal(mqota_agent_reason(&H.agent), MQOTA_REASON_BAD_ENCODING);
    assert_int_equal(H.erases, 0u);
    hello_power_off();
}

static int group_setup(void **state)
{
    (void)state;
    char err[256] = "";
    if (hello_setup("test_delta_agent") != 0) {
        return -1;
    }
    base = harness_load_file(HELLO_IMG_2023, &base_len);
    if (base == NULL || delta__make(base, base_len, H.image, H.image_len, HELLO_CHUNK, H.dir, &delta,
                                    err, sizeof(err)) != 0) {
        print_error("setup: %s\n", err);
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    delta__free(&delta);
    free(base);
    hello_teardown();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_delta_sync_update),
        cmocka_unit_test(test_delta_full_out_of_order),
        cmocka_unit_test(test_delta_full_stream_per_base),
        cmocka_unit_test(test_delta_reset_resumes),
        cmocka_unit_test(test_delta_wrong_base_refused_before_erase),
        cmocka_unit_test(test_delta_damaged_chunk_dropped_by_crc),
        cmocka_unit_test(test_delta_bad_records_fail_decode),
        cmocka_unit_test(test_delta_wrong_result_refused),
        cmocka_unit_test(test_delta_without_decoder),
    };
    return mqota_fixtures_run_group("delta_agent", tests, group_setup, group_teardown);
}
