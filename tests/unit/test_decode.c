/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The decode stage of compressed transfers (device/src/mqota_decode.c, docs/PROTOCOL.md §6.1)
 * on a virtual ESP32 (vdev, the POSIX port's zlib inflate hook) running the 2023 hello_world,
 * served the 2024 image compressed by update_harness.c as mqotad builds it:
 *  - deflate-sync and deflate-full updates end verified with the slot byte-identical to the
 *    image; deflate-full chunks sent last to first decode in any order;
 *  - a deflate-sync chunk that comes before its history is dropped and the ACK asks again
 *    (REQUEST) once per gap;
 *  - a compressed chunk damaged on the way is dropped by its CRC and the update completes
 *    when it comes again;
 *  - a chunk whose CRC passes but whose deflate data are wrong fails the update (decode), old
 *    image running;
 *  - a decoded image that is not the offer's (its hash) is refused by the final checks;
 *  - an offer whose encoding or window the device cannot decode is refused (bad-encoding)
 *    before anything is erased; a device without the hook announces no MQOTA_CAP_DEFLATE;
 *  - the example bytes of docs/PROTOCOL.md §6.1 (CHUNK header, CRC, what they decode to).
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

#if MQOTA_CFG_DECODE /* test_decode; test_decode_off has the test after #else */

static void test_sync_update(void **state)
{
    (void)state;
    size_t wire = harness_compress(&H.srv, MQOTA_ENCODING_DEFLATE_SYNC, 15);
    hello_power_on(true);
    mqota_state_msg_t m;
    mqota_agent_state_msg(&H.agent, &m);
    assert_true((m.caps & MQOTA_CAP_DEFLATE) != 0u);
    assert_int_equal(m.deflate_window, POSIX_INFLATE_WINDOW_BITS);
    harness_send_offer(&H.srv);
    assert_int_equal(hello_drive(), MQOTA_STATE_READY_TO_REBOOT);
    hello_check_slot();
    printf("deflate-sync: %zu of %zu bytes on the wire, %u chunks sent, decoder RAM %zu bytes\n",
           wire, H.image_len, H.srv.chunks_sent, posix_inflate_ram_peak());
    assert_int_equal(H.srv.chunks_sent, harness_chunk_count(&H.srv));
    hello_power_off();
}

static void test_full_out_of_order(void **state)
{
    (void)state;
    harness_compress(&H.srv, MQOTA_ENCODING_DEFLATE_FULL, 15);
    hello_power_on(true);
    harness_send_offer(&H.srv);
    for (uint32_t i = harness_chunk_count(&H.srv); i-- > 0;) {
        harness_send_chunk(&H.srv, i);
    }
    assert_int_equal(hello_drive(), MQOTA_STATE_READY_TO_REBOOT);
    hello_check_slot();
    assert_int_equal(H.srv.chunks_sent, harness_chunk_count(&H.srv)); /* none sent twice */
    hello_power_off();
}

/* A compressed form's multicast stream, <prefix>/stream/<release_id>/<encoding> (PROTOCOL.md
 * §13): chunks on it are taken, none is served again by unicast. */
static void test_stream_of_form(void **state)
{
    (void)state;
    char chunk_topic[HARNESS_TOPIC_MAX];
    harness_compress(&H.srv, MQOTA_ENCODING_DEFLATE_FULL, 15);
    H.srv.offer_flags = MQOTA_OFFER_FLAG_STREAM;
    hello_power_on(true);
    harness_send_offer(&H.srv);
    memcpy(chunk_topic, H.srv.topic_chunk, sizeof(chunk_topic));
    assert_int_equal(mqota_agent_topic(&H.agent, MQOTA_TOPIC_STREAM, H.srv.topic_chunk,
                                       sizeof(H.srv.topic_chunk)),
                     MQOTA_OK);
    assert_non_null(strstr(H.srv.topic_chunk, "/stream/"));
    for (uint32_t i = 0; i < harness_chunk_count(&H.srv); i++) {
        harness_send_chunk(&H.srv, i);
    }
    memcpy(H.srv.topic_chunk, chunk_topic, sizeof(chunk_topic));
    H.srv.offer_flags = 0;
    assert_int_equal(hello_drive(), MQOTA_STATE_READY_TO_REBOOT);
    hello_check_slot();
    assert_int_equal(H.srv.chunks_sent, harness_chunk_count(&H.srv));
    hello_power_off();
}

static void test_sync_gap_requests_once(void **state)
{
    (void)state;
    harness_compress(&H.srv, MQOTA_ENCODING_DEFLATE_SYNC, 15);
    hello_power_on(true);
    harness_send_offer(&H.srv);
    harness_send_chunk(&H.srv, 0);
    /* chunk 1 lost: 2, 3, 4 cannot be decoded yet */
    harness_send_chunk(&H.srv, 2);
    harness_send_chunk(&H.srv, 3);
    harness_send_chunk(&H.srv, 4);
    H.now += 100;
    (void)mqota_agent_process(&H.agent, H.now);
    assert_true(H.srv.have_ack);
    assert_int_equal(H.srv.ack.base, 1);
    assert_int_equal(H.srv.ack.sack, 0); /* nothing past the gap written */
    assert_int_equal(H.requests, 1u);
    assert_int_equal(hello_drive(), MQOTA_STATE_READY_TO_REBOOT);
    hello_check_slot();
    hello_power_off();
}

static void test_damaged_chunk_dropped_by_crc(void **state)
{
    (void)state;
    harness_compress(&H.srv, MQOTA_ENCODING_DEFLATE_SYNC, 15);
    hello_power_on(true);
    harness_send_offer(&H.srv);
    harness_send_chunk(&H.srv, 0);
    hello_send_damaged(1, true);
    assert_int_equal(mqota_agent_state(&H.agent), MQOTA_STATE_DOWNLOADING);
    assert_int_equal(mqota_agent_progress(&H.agent), HELLO_CHUNK); /* chunk 1 not taken */
    assert_int_equal(hello_drive(), MQOTA_STATE_READY_TO_REBOOT);
    hello_check_slot();
    hello_power_off();
}

static void test_bad_deflate_fails_decode(void **state)
{
    (void)state;
    harness_compress(&H.srv, MQOTA_ENCODING_DEFLATE_SYNC, 15);
    hello_power_on(true);
    harness_send_offer(&H.srv);
    harness_send_chunk(&H.srv, 0);
    hello_send_damaged(1, false);
    assert_int_equal(mqota_agent_state(&H.agent), MQOTA_STATE_FAILED);
    assert_int_equal(mqota_agent_reason(&H.agent), MQOTA_REASON_DECODE);
    hello_power_off();
}

static void test_wrong_result_refused(void **state)
{
    (void)state;
    /* The server compresses another image than the offer's hash names: every chunk decodes,
     * the final SHA-256 check refuses the result. */
    uint8_t saved = H.image[1000];
    H.image[1000] ^= 0x01u;
    harness_compress(&H.srv, MQOTA_ENCODING_DEFLATE_SYNC, 15);
    H.image[1000] = saved;
    hello_power_on(true);
    harness_send_offer(&H.srv);
    assert_int_equal(hello_drive(), MQOTA_STATE_FAILED);
    assert_int_equal(mqota_agent_reason(&H.agent), MQOTA_REASON_HASH_MISMATCH);
    hello_power_off();
}

static void test_bad_encoding_refused_before_erase(void **state)
{
    (void)state;
    harness_compress(&H.srv, MQOTA_ENCODING_DEFLATE_SYNC, 15);
    /* a device without the decoder */
    hello_power_on(false);
    mqota_state_msg_t m;
    mqota_agent_state_msg(&H.agent, &m);
    assert_int_equal(m.caps & MQOTA_CAP_DEFLATE, 0u);
    assert_int_equal(m.deflate_window, 0);
    harness_send_offer(&H.srv);
    assert_int_equal(mqota_agent_state(&H.agent), MQOTA_STATE_FAILED);
    assert_int_equal(mqota_agent_reason(&H.agent), MQOTA_REASON_BAD_ENCODING);
    assert_int_equal(H.erases, 0u);
    hello_power_off();
    /* an encoding nobody knows */
    hello_power_on(true);
    H.srv.encoding = 7;
    harness_send_offer(&H.srv);
    assert_int_equal(mqota_agent_reason(&H.agent), MQOTA_REASON_BAD_ENCODING);
    assert_int_equal(H.erases, 0u);
    hello_power_off();
    harness_uncompress(&H.srv);
}

/* The bytes of docs/PROTOCOL.md §6.1's example: their CRC-32 and what they decode to. */
static uint8_t example_out[16];
static size_t example_len;
static int example_write(const mqota_inflate_job_t *job, const uint8_t *data, size_t len)
{
    (void)job;
    if (len > sizeof(example_out) - example_len) {
        return -1;
    }
    memcpy(example_out + example_len, data, len);
    example_len += len;
    return 0;
}

static void test_protocol_example(void **state)
{
    (void)state;
    static const uint8_t sync_chunk[] = {0x7A, 0xC9, 0x80, 0x0A, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF};
    static const uint8_t last_chunk[] = {0x7B, 0xC9, 0x80, 0x0A, 0x00};
    static const uint8_t header[] = {0x4D, 0x51, 0x01, 0x03, 0x4D, 0x00, 0x00, 0x00, 0x00, 0x00,
                                     0x00, 0x00, 0x0A, 0x00, 0x00, 0x00, 0x5F, 0x00, 0xE8, 0x5F};
    uint8_t want[16] = {0xE9};
    uint8_t hdr[MQOTA_CHUNK_HEADER_LEN];
    assert_int_equal(mqota_chunk_encode_header(77, 0, sync_chunk, sizeof(sync_chunk), hdr,
                                               sizeof(hdr)),
                     MQOTA_OK);
    assert_memory_equal(hdr, header, sizeof(header));
    const uint8_t *chunks[] = {sync_chunk, last_chunk};
    const size_t lens[] = {sizeof(sync_chunk), sizeof(last_chunk)};
    for (int i = 0; i < 2; i++) {
        mqota_inflate_job_t job = {.window_bits = 15, .in = chunks[i], .in_len = lens[i],
                                   .out_len = 16, .write = example_write};
        example_len = 0;
        assert_int_equal(posix_inflate(NULL, &job), 0);
        assert_int_equal(example_len, 16);
        assert_memory_equal(example_out, want, sizeof(want));
    }
}

#else

/* MQOTA_CFG_DECODE 0 (this file built as test_decode_off, the core compiled with it, as the
 * ESP-IDF component's default has it): with the POSIX port's inflate hook installed the device
 * still announces neither compression nor deltas, refuses a compressed and a delta offer
 * (bad-encoding) before anything is erased, then takes the same deployment's fallback to the
 * full image and updates with it. */
static void test_decoder_left_out(void **state)
{
    (void)state;
    harness_compress(&H.srv, MQOTA_ENCODING_DEFLATE_SYNC, 15);
    hello_power_on(true);
    assert_non_null(H.plat.inflate); /* there, and ignored */
    mqota_state_msg_t m;
    mqota_agent_state_msg(&H.agent, &m);
    assert_int_equal(m.caps & (MQOTA_CAP_DEFLATE | MQOTA_CAP_DELTA), 0u);
    assert_int_equal(m.deflate_window, 0);
    harness_send_offer(&H.srv);
    assert_int_equal(mqota_agent_state(&H.agent), MQOTA_STATE_FAILED);
    assert_int_equal(mqota_agent_reason(&H.agent), MQOTA_REASON_BAD_ENCODING);
    /* a delta offer, another deployment */
    H.srv.deployment_id++;
    H.srv.encoding = MQOTA_ENCODING_DELTA_SYNC;
    H.srv.base_size = (uint32_t)H.image_len;
    harness_send_offer(&H.srv);
    assert_int_equal(mqota_agent_state(&H.agent), MQOTA_STATE_FAILED);
    assert_int_equal(mqota_agent_reason(&H.agent), MQOTA_REASON_BAD_ENCODING);
    assert_int_equal(H.erases, 0u);
    /* mqotad's fallback in the same deployment: the full image */
    harness_uncompress(&H.srv);
    H.srv.base_size = 0;
    harness_send_offer(&H.srv);
    assert_int_equal(hello_drive(), MQOTA_STATE_READY_TO_REBOOT);
    hello_check_slot();
    assert_int_equal(H.srv.chunks_sent, harness_chunk_count(&H.srv));
    hello_power_off();
    H.srv.deployment_id--;
}

#endif /* MQOTA_CFG_DECODE */

static int group_setup(void **state)
{
    (void)state;
    return hello_setup("test_decode");
}

static int group_teardown(void **state)
{
    (void)state;
    hello_teardown();
    return 0;
}

int main(void)
{
#if !MQOTA_CFG_DECODE
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decoder_left_out),
    };
#else
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sync_update),
        cmocka_unit_test(test_full_out_of_order),
        cmocka_unit_test(test_stream_of_form),
        cmocka_unit_test(test_sync_gap_requests_once),
        cmocka_unit_test(test_damaged_chunk_dropped_by_crc),
        cmocka_unit_test(test_bad_deflate_fails_decode),
        cmocka_unit_test(test_wrong_result_refused),
        cmocka_unit_test(test_bad_encoding_refused_before_erase),
        cmocka_unit_test(test_protocol_example),
    };
#endif
    return mqota_fixtures_run_group("decode", tests, group_setup, group_teardown);
}
