/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Delta updates through the agent's decode stage (device/src/mqota_decode.c, mqota_delta.c,
 * docs/PROTOCOL.md §18) on a virtual ESP32 (vdev, the POSIX port's zlib inflate hook) running
 * the 2023 hello_world, served the delta to the 2024 image as mqotad builds it (server/delta.c:
 * bsdiff at test time, delta chunks deflated):
 *  - delta-sync and delta-full updates end verified with the slot byte-identical to the image;
 *    delta-full chunks sent last to first apply in any order;
 *  - a reset mid-delta resumes from the persisted base and sends no more than one window again;
 *  - a delta whose base is not the running image is refused (base-mismatch) before any erase,
 *    and the same deployment's offer of the full image is then taken;
 *  - a delta chunk damaged on the way is dropped by its CRC; one whose CRC passes but whose
 *    records are wrong fails the update (decode);
 *  - a result that is not the offer's image is refused by the final SHA-256 check;
 *  - a device without the decoder announces no MQOTA_CAP_DELTA and refuses a delta offer.
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

#include "delta.h"

#define IMG_2023 MQOTA_FIXTURES "/idf_hello_world_esp32_2023.bin"
#define IMG_2024 MQOTA_FIXTURES "/idf_hello_world_esp32_2024.bin"
#define DEV_ID "dev-1"
#define CHUNK 4096u
#define WBITS 15u
#define WINDOW 8u
#define STEP_LIMIT 5000

static uint8_t *image;
static size_t image_len;
static char dir[64];
static char flash_path[96];
static harness_snapshot_t snapshot;
static uint8_t *base;     /* the running image, 2023 */
static size_t base_len;
static delta_t delta;     /* 2023 -> 2024, made by bsdiff in the group setup */

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


/* Serve the delta of the 2024 image (or of `target`, another image) in `encoding`. Returns the
 * bytes on the wire. */
static size_t serve_delta(uint8_t encoding, const uint8_t *target)
{
    char err[256] = "";
    size_t wire_len = 0;
    harness_uncompress(&S.srv);
    delta_t d = delta;
    delta_t other = {0};
    if (target != image) {
        assert_int_equal(delta__make(base, base_len, target, image_len, CHUNK, dir, &other, err,
                                     sizeof(err)), 0);
        d = other;
    }
    if (delta__wire(&d, target, encoding, WBITS, &S.srv.wire, &S.srv.wire_off, &wire_len, err,
                    sizeof(err)) != 0) {
        fail_msg("delta__wire: %s", err);
    }
    delta__free(&other);
    S.srv.encoding = encoding;
    S.srv.window_bits = WBITS;
    S.srv.base_size = (uint32_t)base_len;
    memcpy(S.srv.base_sha256, delta.base_sha256, 32);
    return wire_len;
}

static void test_delta_sync_update(void **state)
{
    (void)state;
    size_t wire = serve_delta(MQOTA_ENCODING_DELTA_SYNC, image);
    power_on(true);
    mqota_state_msg_t m;
    mqota_agent_state_msg(&S.agent, &m);
    assert_true((m.caps & MQOTA_CAP_DELTA) != 0u);
    harness_send_offer(&S.srv);
    assert_int_equal(drive(), MQOTA_STATE_READY_TO_REBOOT);
    check_slot();
    printf("delta-sync: %zu of %zu bytes on the wire (%.1f %%), %u chunks sent\n", wire,
           image_len, 100.0 * (double)wire / (double)image_len, S.srv.chunks_sent);
    assert_int_equal(S.srv.chunks_sent, harness_chunk_count(&S.srv));
    power_off();
}

static void test_delta_full_out_of_order(void **state)
{
    (void)state;
    size_t wire = serve_delta(MQOTA_ENCODING_DELTA_FULL, image);
    power_on(true);
    harness_send_offer(&S.srv);
    for (uint32_t i = harness_chunk_count(&S.srv); i-- > 0;) {
        harness_send_chunk(&S.srv, i);
    }
    assert_int_equal(drive(), MQOTA_STATE_READY_TO_REBOOT);
    check_slot();
    printf("delta-full: %zu of %zu bytes on the wire\n", wire, image_len);
    assert_int_equal(S.srv.chunks_sent, harness_chunk_count(&S.srv));
    power_off();
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
    (void)serve_delta(MQOTA_ENCODING_DELTA_FULL, image);
    S.srv.offer_flags = MQOTA_OFFER_FLAG_STREAM;
    power_on(true);
    harness_send_offer(&S.srv);
    count = harness_chunk_count(&S.srv);
    assert_int_equal(mqota_agent_topic(&S.agent, MQOTA_TOPIC_STREAM, topic, sizeof(topic)),
                     MQOTA_OK);
    snprintf(want, sizeof(want), "/stream/%u/4/%02x%02x%02x%02x", (unsigned)S.srv.release_id,
             h[0], h[1], h[2], h[3]);
    assert_true(strlen(topic) > strlen(want));
    assert_string_equal(topic + strlen(topic) - strlen(want), want);
    memcpy(chunk_topic, S.srv.topic_chunk, sizeof(chunk_topic));
    memcpy(S.srv.topic_chunk, topic, sizeof(topic));
    S.srv.topic_chunk[strlen(topic) - 1u] = topic[strlen(topic) - 1u] == '0' ? '1' : '0';
    for (uint32_t i = 0; i < count; i++) { /* another base's stream */
        harness_send_chunk(&S.srv, i);
    }
    mqota_state_msg_t m;
    mqota_agent_state_msg(&S.agent, &m);
    assert_int_equal(m.progress, 0);
    memcpy(S.srv.topic_chunk, topic, sizeof(topic));
    for (uint32_t i = 0; i < count; i++) {
        harness_send_chunk(&S.srv, i);
    }
    memcpy(S.srv.topic_chunk, chunk_topic, sizeof(chunk_topic));
    S.srv.offer_flags = 0;
    assert_int_equal(drive(), MQOTA_STATE_READY_TO_REBOOT);
    check_slot();
    assert_int_equal(S.srv.chunks_sent, 2u * count); /* nothing by unicast */
    power_off();
}

/* A reset in the middle: the device resumes from its persisted base with a fresh applier and
 * ends with the same image; no more than one window (plus the partly written sector's chunk)
 * is sent again. */
static void test_delta_reset_resumes(void **state)
{
    (void)state;
    serve_delta(MQOTA_ENCODING_DELTA_SYNC, image);
    power_on(true);
    harness_send_offer(&S.srv);
    for (uint32_t i = 0; i < 12; i++) {
        harness_send_chunk(&S.srv, i);
    }
    S.now += 100;
    (void)mqota_agent_process(&S.agent, S.now);
    uint32_t sent_before = S.srv.chunks_sent;
    power_off(); /* reset: RAM gone, flash and the progress record stay */
    char err[256] = "";
    assert_int_equal(vdev_open(flash_path, &S.dev, err, sizeof(err)), MQOTA_OK);
    assert_int_equal(vdev_boot(S.dev, &S.boot), MQOTA_OK);
    memset(&S.plat, 0, sizeof(S.plat));
    vdev_platform_fill(S.dev, &S.plat);
    S.plat.publish = h_publish;
    S.plat.subscribe = harness_subscribe_hook;
    S.plat.now_ms = h_now;
    S.plat.reboot = h_reboot;
    S.srv.have_ack = false;
    mqota_config_t cfg = {.device_id = DEV_ID, .max_chunk = 4096, .max_window = WINDOW,
                          .auto_reboot = false, .verify_bytes_per_process = 1u << 20};
    assert_int_equal(mqota_agent_init(&S.agent, &cfg, &S.plat, S.now), MQOTA_OK);
    assert_int_equal(mqota_agent_on_connect(&S.agent), MQOTA_OK);
    harness_send_offer(&S.srv);
    S.now += 100;
    (void)mqota_agent_process(&S.agent, S.now);
    assert_true(S.srv.have_ack);
    assert_true((S.srv.ack.flags & MQOTA_ACK_FLAG_RESUMED) != 0u);
    assert_int_equal(S.srv.ack.base, 12u); /* 12 written and persisted: one chunk per sector */
    assert_int_equal(drive(), MQOTA_STATE_READY_TO_REBOOT);
    check_slot();
    uint32_t again = S.srv.chunks_sent - sent_before - (harness_chunk_count(&S.srv) - 12u);
    printf("delta reset at chunk 12: %u chunks sent again\n", again);
    assert_true(again <= 4u);
    power_off();
}

/* A delta whose base is not the running image is refused before anything is erased. */
static void test_delta_wrong_base_refused_before_erase(void **state)
{
    (void)state;
    serve_delta(MQOTA_ENCODING_DELTA_SYNC, image);
    S.srv.base_sha256[0] ^= 0x01u;
    power_on(true);
    harness_send_offer(&S.srv);
    assert_int_equal(mqota_agent_state(&S.agent), MQOTA_STATE_FAILED);
    assert_int_equal(mqota_agent_reason(&S.agent), MQOTA_REASON_BASE_MISMATCH);
    assert_int_equal(S.erases, 0u);
    /* the retained copy of the refused offer is ignored; the same deployment's fallback to the
     * full image (mqotad's answer to base-mismatch) is taken and completes */
    harness_send_offer(&S.srv);
    assert_int_equal(mqota_agent_state(&S.agent), MQOTA_STATE_FAILED);
    assert_int_equal(S.erases, 0u);
    harness_uncompress(&S.srv);
    harness_send_offer(&S.srv);
    assert_int_equal(drive(), MQOTA_STATE_READY_TO_REBOOT);
    check_slot();
    power_off();
    /* a base larger than the running slot */
    serve_delta(MQOTA_ENCODING_DELTA_SYNC, image);
    S.srv.base_size = 0x7FFFFFFFu;
    power_on(true);
    harness_send_offer(&S.srv);
    assert_int_equal(mqota_agent_reason(&S.agent), MQOTA_REASON_BASE_MISMATCH);
    assert_int_equal(S.erases, 0u);
    power_off();
}

static void test_delta_damaged_chunk_dropped_by_crc(void **state)
{
    (void)state;
    serve_delta(MQOTA_ENCODING_DELTA_SYNC, image);
    power_on(true);
    harness_send_offer(&S.srv);
    harness_send_chunk(&S.srv, 0);
    send_damaged(1, true);
    assert_int_equal(mqota_agent_state(&S.agent), MQOTA_STATE_DOWNLOADING);
    assert_int_equal(mqota_agent_progress(&S.agent), CHUNK);
    assert_int_equal(drive(), MQOTA_STATE_READY_TO_REBOOT);
    check_slot();
    power_off();
}

static void test_delta_bad_records_fail_decode(void **state)
{
    (void)state;
    serve_delta(MQOTA_ENCODING_DELTA_FULL, image);
    power_on(true);
    harness_send_offer(&S.srv);
    send_damaged(3, false);
    assert_int_equal(mqota_agent_state(&S.agent), MQOTA_STATE_FAILED);
    assert_int_equal(mqota_agent_reason(&S.agent), MQOTA_REASON_DECODE);
    power_off();
}

/* The delta of another image than the offer's hash names: every chunk applies, the final
 * SHA-256 check refuses the result and the old image keeps running. */
static void test_delta_wrong_result_refused(void **state)
{
    (void)state;
    uint8_t *other = malloc(image_len);
    assert_non_null(other);
    memcpy(other, image, image_len);
    other[1000] ^= 0x01u;
    serve_delta(MQOTA_ENCODING_DELTA_SYNC, other);
    power_on(true);
    harness_send_offer(&S.srv);
    assert_int_equal(drive(), MQOTA_STATE_FAILED);
    assert_int_equal(mqota_agent_reason(&S.agent), MQOTA_REASON_HASH_MISMATCH);
    mqota_state_msg_t m;
    mqota_agent_state_msg(&S.agent, &m);
    assert_int_equal(m.running_slot, S.boot.slot);
    power_off();
    free(other);
}

/* A device without the decoder announces no MQOTA_CAP_DELTA and refuses a delta offer. */
static void test_delta_without_decoder(void **state)
{
    (void)state;
    serve_delta(MQOTA_ENCODING_DELTA_SYNC, image);
    power_on(false);
    mqota_state_msg_t m;
    mqota_agent_state_msg(&S.agent, &m);
    assert_int_equal(m.caps & MQOTA_CAP_DELTA, 0u);
    harness_send_offer(&S.srv);
    assert_int_equal(mqota_agent_reason(&S.agent), MQOTA_REASON_BAD_ENCODING);
    assert_int_equal(S.erases, 0u);
    power_off();
}

static int group_setup(void **state)
{
    (void)state;
    char err[256] = "";
    image = harness_load_file(IMG_2024, &image_len);
    base = harness_load_file(IMG_2023, &base_len);
    if (image == NULL || base == NULL) {
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
    snprintf(dir, sizeof(dir), "/tmp/test_delta_agent.XXXXXX");
    if (mkdtemp(dir) == NULL ||
        delta__make(base, base_len, image, image_len, CHUNK, dir, &delta, err, sizeof(err)) != 0) {
        print_error("setup: %s\n", err);
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
    delta__free(&delta);
    free(base);
    free(image);
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
