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
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
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

#include "fixtures.h"
#include "update_harness.h"

#include "mqota/mqota.h"
#include "mqota_posix/inflate.h"
#include "mqota_posix/vdev.h"

#define IMG_2023 MQOTA_FIXTURES "/idf_hello_world_esp32_2023.bin"
#define IMG_2024 MQOTA_FIXTURES "/idf_hello_world_esp32_2024.bin"
#define DEV_ID "dev-1"
#define CHUNK 4096u
#define WINDOW 8u
#define STEP_LIMIT 5000

static uint8_t *image;
static size_t image_len;
static char dir[64];
static char flash_path[96];
static harness_snapshot_t snapshot;

static struct {
    vdev_t *dev;
    mqota_agent_t agent;
    mqota_platform_t plat;
    boot_result_t boot;
    uint64_t now;
    harness_server_t srv;
    uint32_t requests; /* ACKs with REQUEST seen */
    uint32_t erases;   /* slot_begin calls */
} S;

static int h_publish(void *ctx, const char *topic, const uint8_t *payload, size_t len, int qos,
                     bool retain)
{
    mqota_ack_t a;
    if (strcmp(topic, S.srv.topic_ack) == 0 && mqota_ack_decode(payload, len, &a) == MQOTA_OK &&
        (a.flags & MQOTA_ACK_FLAG_REQUEST) != 0u) {
        S.requests++;
    }
    return harness_publish_hook(ctx, topic, payload, len, qos, retain);
}
static uint64_t h_now(void *c)
{
    (void)c;
    return S.now;
}
static void h_reboot(void *c) { (void)c; }
static int (*real_slot_begin)(void *, uint8_t, uint32_t, uint32_t);
static int h_slot_begin(void *c, uint8_t slot, uint32_t size, uint32_t from)
{
    S.erases++;
    return real_slot_begin(c, slot, size, from);
}

/* A fresh pre-update device with the agent connected; with_inflate false: a port without the
 * decoder. */
static void power_on(bool with_inflate)
{
    char err[256] = "";
    harness_snapshot_restore(&snapshot);
    assert_int_equal(vdev_open(flash_path, &S.dev, err, sizeof(err)), MQOTA_OK);
    assert_int_equal(vdev_boot(S.dev, &S.boot), MQOTA_OK);
    memset(&S.plat, 0, sizeof(S.plat));
    vdev_platform_fill(S.dev, &S.plat);
    S.plat.publish = h_publish;
    S.plat.subscribe = harness_subscribe_hook;
    S.plat.now_ms = h_now;
    S.plat.reboot = h_reboot;
    real_slot_begin = S.plat.slot_begin;
    S.plat.slot_begin = h_slot_begin;
    if (!with_inflate) {
        S.plat.inflate = NULL;
    }
    S.now = 1000;
    S.requests = 0;
    S.erases = 0;
    S.srv.have_ack = false;
    S.srv.chunks_sent = 0;
    mqota_config_t cfg = {.device_id = DEV_ID, .max_chunk = 4096, .max_window = WINDOW,
                          .auto_reboot = false, .verify_bytes_per_process = 1u << 20};
    assert_int_equal(mqota_agent_init(&S.agent, &cfg, &S.plat, S.now), MQOTA_OK);
    assert_int_equal(mqota_agent_on_connect(&S.agent), MQOTA_OK);
    (void)mqota_agent_process(&S.agent, S.now);
}

static void power_off(void)
{
    vdev_close(S.dev);
    S.dev = NULL;
}

/* Run the agent and serve its ACKs until it leaves the transfer (verified and switched, or
 * failed). Returns the state it ends in. */
static mqota_update_state_t drive(void)
{
    for (int i = 0; i < STEP_LIMIT; i++) {
        mqota_update_state_t st = mqota_agent_state(&S.agent);
        if (st == MQOTA_STATE_READY_TO_REBOOT || st == MQOTA_STATE_FAILED) {
            return st;
        }
        S.now += 100;
        (void)mqota_agent_process(&S.agent, S.now);
        if (S.srv.have_ack) {
            harness_serve_ack(&S.srv, UINT32_MAX, NULL);
        }
    }
    return mqota_agent_state(&S.agent);
}

/* The update slot holds exactly the image. */
static void check_slot(void)
{
    static uint8_t buf[256 * 1024];
    assert_true(image_len <= sizeof(buf));
    assert_int_equal(S.plat.slot_read(S.plat.ctx, (uint8_t)(1u - S.boot.slot), 0, buf, image_len),
                     0);
    assert_memory_equal(buf, image, image_len);
}

#if MQOTA_CFG_DECODE /* test_decode; test_decode_off has the test after #else */

/* Send CHUNK index with its data changed by change() after its CRC was computed (or before,
 * with crc_after false). */
static void send_damaged(uint32_t index, bool crc_after)
{
    static uint8_t buf[MQOTA_CHUNK_HEADER_LEN + MQOTA_CHUNK_MAX];
    uint32_t off = S.srv.wire_off[index], len = S.srv.wire_off[index + 1u] - off;
    uint8_t data[MQOTA_CHUNK_MAX];
    memcpy(data, S.srv.wire + off, len);
    if (!crc_after) {
        data[len / 2u] ^= 0x55u; /* wrong deflate data, with its own good CRC */
    }
    assert_int_equal(mqota_chunk_encode_header(S.srv.release_id, index, data, len, buf,
                                               sizeof(buf)),
                     MQOTA_OK);
    memcpy(buf + MQOTA_CHUNK_HEADER_LEN, data, len);
    if (crc_after) {
        buf[MQOTA_CHUNK_HEADER_LEN + len / 2u] ^= 0x55u; /* damaged on the way */
    }
    (void)mqota_agent_on_message(&S.agent, S.srv.topic_chunk, buf, MQOTA_CHUNK_HEADER_LEN + len);
}

static void test_sync_update(void **state)
{
    (void)state;
    size_t wire = harness_compress(&S.srv, MQOTA_ENCODING_DEFLATE_SYNC, 15);
    power_on(true);
    mqota_state_msg_t m;
    mqota_agent_state_msg(&S.agent, &m);
    assert_true((m.caps & MQOTA_CAP_DEFLATE) != 0u);
    assert_int_equal(m.deflate_window, POSIX_INFLATE_WINDOW_BITS);
    harness_send_offer(&S.srv);
    assert_int_equal(drive(), MQOTA_STATE_READY_TO_REBOOT);
    check_slot();
    printf("deflate-sync: %zu of %zu bytes on the wire, %u chunks sent, decoder RAM %zu bytes\n",
           wire, image_len, S.srv.chunks_sent, posix_inflate_ram_peak());
    assert_int_equal(S.srv.chunks_sent, harness_chunk_count(&S.srv));
    power_off();
}

static void test_full_out_of_order(void **state)
{
    (void)state;
    harness_compress(&S.srv, MQOTA_ENCODING_DEFLATE_FULL, 15);
    power_on(true);
    harness_send_offer(&S.srv);
    for (uint32_t i = harness_chunk_count(&S.srv); i-- > 0;) {
        harness_send_chunk(&S.srv, i);
    }
    assert_int_equal(drive(), MQOTA_STATE_READY_TO_REBOOT);
    check_slot();
    assert_int_equal(S.srv.chunks_sent, harness_chunk_count(&S.srv)); /* none sent twice */
    power_off();
}

/* A compressed form's multicast stream, <prefix>/stream/<release_id>/<encoding> (PROTOCOL.md
 * §13): chunks on it are taken, none is served again by unicast. */
static void test_stream_of_form(void **state)
{
    (void)state;
    char chunk_topic[HARNESS_TOPIC_MAX];
    harness_compress(&S.srv, MQOTA_ENCODING_DEFLATE_FULL, 15);
    S.srv.offer_flags = MQOTA_OFFER_FLAG_STREAM;
    power_on(true);
    harness_send_offer(&S.srv);
    memcpy(chunk_topic, S.srv.topic_chunk, sizeof(chunk_topic));
    assert_int_equal(mqota_agent_topic(&S.agent, MQOTA_TOPIC_STREAM, S.srv.topic_chunk,
                                       sizeof(S.srv.topic_chunk)),
                     MQOTA_OK);
    assert_non_null(strstr(S.srv.topic_chunk, "/stream/"));
    for (uint32_t i = 0; i < harness_chunk_count(&S.srv); i++) {
        harness_send_chunk(&S.srv, i);
    }
    memcpy(S.srv.topic_chunk, chunk_topic, sizeof(chunk_topic));
    S.srv.offer_flags = 0;
    assert_int_equal(drive(), MQOTA_STATE_READY_TO_REBOOT);
    check_slot();
    assert_int_equal(S.srv.chunks_sent, harness_chunk_count(&S.srv));
    power_off();
}

static void test_sync_gap_requests_once(void **state)
{
    (void)state;
    harness_compress(&S.srv, MQOTA_ENCODING_DEFLATE_SYNC, 15);
    power_on(true);
    harness_send_offer(&S.srv);
    harness_send_chunk(&S.srv, 0);
    /* chunk 1 lost: 2, 3, 4 cannot be decoded yet */
    harness_send_chunk(&S.srv, 2);
    harness_send_chunk(&S.srv, 3);
    harness_send_chunk(&S.srv, 4);
    S.now += 100;
    (void)mqota_agent_process(&S.agent, S.now);
    assert_true(S.srv.have_ack);
    assert_int_equal(S.srv.ack.base, 1);
    assert_int_equal(S.srv.ack.sack, 0); /* nothing past the gap written */
    assert_int_equal(S.requests, 1u);
    assert_int_equal(drive(), MQOTA_STATE_READY_TO_REBOOT);
    check_slot();
    power_off();
}

static void test_damaged_chunk_dropped_by_crc(void **state)
{
    (void)state;
    harness_compress(&S.srv, MQOTA_ENCODING_DEFLATE_SYNC, 15);
    power_on(true);
    harness_send_offer(&S.srv);
    harness_send_chunk(&S.srv, 0);
    send_damaged(1, true);
    assert_int_equal(mqota_agent_state(&S.agent), MQOTA_STATE_DOWNLOADING);
    assert_int_equal(mqota_agent_progress(&S.agent), CHUNK); /* chunk 1 not taken */
    assert_int_equal(drive(), MQOTA_STATE_READY_TO_REBOOT);
    check_slot();
    power_off();
}

static void test_bad_deflate_fails_decode(void **state)
{
    (void)state;
    harness_compress(&S.srv, MQOTA_ENCODING_DEFLATE_SYNC, 15);
    power_on(true);
    harness_send_offer(&S.srv);
    harness_send_chunk(&S.srv, 0);
    send_damaged(1, false);
    assert_int_equal(mqota_agent_state(&S.agent), MQOTA_STATE_FAILED);
    assert_int_equal(mqota_agent_reason(&S.agent), MQOTA_REASON_DECODE);
    power_off();
}

static void test_wrong_result_refused(void **state)
{
    (void)state;
    /* The server compresses another image than the offer's hash names: every chunk decodes,
     * the final SHA-256 check refuses the result. */
    uint8_t saved = image[1000];
    image[1000] ^= 0x01u;
    harness_compress(&S.srv, MQOTA_ENCODING_DEFLATE_SYNC, 15);
    image[1000] = saved;
    power_on(true);
    harness_send_offer(&S.srv);
    assert_int_equal(drive(), MQOTA_STATE_FAILED);
    assert_int_equal(mqota_agent_reason(&S.agent), MQOTA_REASON_HASH_MISMATCH);
    power_off();
}

static void test_bad_encoding_refused_before_erase(void **state)
{
    (void)state;
    harness_compress(&S.srv, MQOTA_ENCODING_DEFLATE_SYNC, 15);
    /* a device without the decoder */
    power_on(false);
    mqota_state_msg_t m;
    mqota_agent_state_msg(&S.agent, &m);
    assert_int_equal(m.caps & MQOTA_CAP_DEFLATE, 0u);
    assert_int_equal(m.deflate_window, 0);
    harness_send_offer(&S.srv);
    assert_int_equal(mqota_agent_state(&S.agent), MQOTA_STATE_FAILED);
    assert_int_equal(mqota_agent_reason(&S.agent), MQOTA_REASON_BAD_ENCODING);
    assert_int_equal(S.erases, 0u);
    power_off();
    /* an encoding nobody knows */
    power_on(true);
    S.srv.encoding = 7;
    harness_send_offer(&S.srv);
    assert_int_equal(mqota_agent_reason(&S.agent), MQOTA_REASON_BAD_ENCODING);
    assert_int_equal(S.erases, 0u);
    power_off();
    harness_uncompress(&S.srv);
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
    harness_compress(&S.srv, MQOTA_ENCODING_DEFLATE_SYNC, 15);
    power_on(true);
    assert_non_null(S.plat.inflate); /* there, and ignored */
    mqota_state_msg_t m;
    mqota_agent_state_msg(&S.agent, &m);
    assert_int_equal(m.caps & (MQOTA_CAP_DEFLATE | MQOTA_CAP_DELTA), 0u);
    assert_int_equal(m.deflate_window, 0);
    harness_send_offer(&S.srv);
    assert_int_equal(mqota_agent_state(&S.agent), MQOTA_STATE_FAILED);
    assert_int_equal(mqota_agent_reason(&S.agent), MQOTA_REASON_BAD_ENCODING);
    /* a delta offer, another deployment */
    S.srv.deployment_id++;
    S.srv.encoding = MQOTA_ENCODING_DELTA_SYNC;
    S.srv.base_size = (uint32_t)image_len;
    harness_send_offer(&S.srv);
    assert_int_equal(mqota_agent_state(&S.agent), MQOTA_STATE_FAILED);
    assert_int_equal(mqota_agent_reason(&S.agent), MQOTA_REASON_BAD_ENCODING);
    assert_int_equal(S.erases, 0u);
    /* mqotad's fallback in the same deployment: the full image */
    harness_uncompress(&S.srv);
    S.srv.base_size = 0;
    harness_send_offer(&S.srv);
    assert_int_equal(drive(), MQOTA_STATE_READY_TO_REBOOT);
    check_slot();
    assert_int_equal(S.srv.chunks_sent, harness_chunk_count(&S.srv));
    power_off();
    S.srv.deployment_id--;
}

#endif /* MQOTA_CFG_DECODE */

static int group_setup(void **state)
{
    (void)state;
    char err[256] = "";
    image = harness_load_file(IMG_2024, &image_len);
    if (image == NULL) {
        return -1;
    }
    harness_server_init(&S.srv, DEV_ID);
    S.srv.agent = &S.agent;
    S.srv.image = image;
    S.srv.image_len = image_len;
    S.srv.release_id = 5;
    S.srv.deployment_id = 3;
    S.srv.chunk_size = CHUNK;
    S.srv.window = WINDOW;
    S.srv.version = "v2024";
    S.srv.project = "hello_world";
    snprintf(dir, sizeof(dir), "/tmp/test_decode.XXXXXX");
    if (mkdtemp(dir) == NULL) {
        return -1;
    }
    snprintf(flash_path, sizeof(flash_path), "%s/dev.flash", dir);
    if (vdev_flash_create(flash_path, MQOTA_CHIP_ESP32, IMG_2023, err, sizeof(err)) != MQOTA_OK ||
        vdev_open(flash_path, &S.dev, err, sizeof(err)) != MQOTA_OK) {
        print_error("setup: %s\n", err);
        return -1;
    }
    boot_result_t b;
    mqota_platform_t p;
    memset(&p, 0, sizeof(p));
    vdev_platform_fill(S.dev, &p);
    if (vdev_boot(S.dev, &b) != MQOTA_OK || p.sha256_begin(p.ctx) != 0 ||
        p.sha256_update(p.ctx, image, image_len) != 0 || p.sha256_finish(p.ctx, S.srv.sha256) != 0) {
        return -1;
    }
    vdev_close(S.dev);
    S.dev = NULL;
    return harness_snapshot_take(&snapshot, flash_path);
}

static int group_teardown(void **state)
{
    (void)state;
    harness_uncompress(&S.srv);
    unlink(flash_path);
    char ef[sizeof(flash_path) + sizeof(EFUSE_FILE_SUFFIX)];
    if (efuse_path(flash_path, ef, sizeof(ef)) == 0) {
        unlink(ef);
    }
    rmdir(dir);
    harness_snapshot_free(&snapshot);
    free(image);
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
