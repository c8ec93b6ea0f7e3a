/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The hello_world device of the decode-stage tests (hello_fixture.h).
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

#include "hello_fixture.h"

#include "mqota_posix/efuse.h"

#define STEP_LIMIT 5000 /* process() steps of hello_drive(), 100 ms of agent time each */

hello_t H;

static int (*real_slot_begin)(void *, uint8_t, uint32_t, uint32_t);

static int h_publish(void *ctx, const char *topic, const uint8_t *payload, size_t len, int qos,
                     bool retain)
{
    mqota_ack_t a;
    if (strcmp(topic, H.srv.topic_ack) == 0 && mqota_ack_decode(payload, len, &a) == MQOTA_OK &&
        (a.flags & MQOTA_ACK_FLAG_REQUEST) != 0u) {
        H.requests++;
    }
    return harness_publish_hook(ctx, topic, payload, len, qos, retain);
}
static uint64_t h_now(void *c)
{
    (void)c;
    return H.now;
}
static void h_reboot(void *c) { (void)c; }
static int h_slot_begin(void *c, uint8_t slot, uint32_t size, uint32_t from)
{
    H.erases++;
    return real_slot_begin(c, slot, size, from);
}

int hello_setup(const char *name)
{
    char err[256] = "";
    H.image = harness_load_file(HELLO_IMG_2024, &H.image_len);
    if (H.image == NULL) {
        print_error("setup: cannot read %s\n", HELLO_IMG_2024);
        return -1;
    }
    harness_server_init(&H.srv, HELLO_DEV_ID);
    H.srv.agent = &H.agent;
    H.srv.image = H.image;
    H.srv.image_len = H.image_len;
    H.srv.release_id = 5;
    H.srv.deployment_id = 3;
    H.srv.chunk_size = HELLO_CHUNK;
    H.srv.window = HELLO_WINDOW;
    H.srv.version = "v2024";
    H.srv.project = "hello_world";
    snprintf(H.dir, sizeof(H.dir), "/tmp/%s.XXXXXX", name);
    if (mkdtemp(H.dir) == NULL) {
        print_error("setup: cannot make %s\n", H.dir);
        return -1;
    }
    snprintf(H.flash_path, sizeof(H.flash_path), "%s/dev.flash", H.dir);
    if (vdev_flash_create(H.flash_path, MQOTA_CHIP_ESP32, HELLO_IMG_2023, err, sizeof(err)) !=
            MQOTA_OK ||
        vdev_open(H.flash_path, &H.dev, err, sizeof(err)) != MQOTA_OK) {
        print_error("setup: %s\n", err);
        return -1;
    }
    boot_result_t b;
    mqota_platform_t p;
    memset(&p, 0, sizeof(p));
    vdev_platform_fill(H.dev, &p);
    if (vdev_boot(H.dev, &b) != MQOTA_OK || p.sha256_begin(p.ctx) != 0 ||
        p.sha256_update(p.ctx, H.image, H.image_len) != 0 ||
        p.sha256_finish(p.ctx, H.srv.sha256) != 0) {
        print_error("setup: the device does not boot or hash\n");
        return -1;
    }
    vdev_close(H.dev);
    H.dev = NULL;
    return harness_snapshot_take(&H.snapshot, H.flash_path);
}

void hello_teardown(void)
{
    harness_uncompress(&H.srv);
    unlink(H.flash_path);
    char ef[sizeof(H.flash_path) + sizeof(EFUSE_FILE_SUFFIX)];
    if (efuse_path(H.flash_path, ef, sizeof(ef)) == 0) {
        unlink(ef);
    }
    rmdir(H.dir);
    harness_snapshot_free(&H.snapshot);
    free(H.image);
    H.image = NULL;
}

void hello_boot(bool with_inflate)
{
    char err[256] = "";
    assert_int_equal(vdev_open(H.flash_path, &H.dev, err, sizeof(err)), MQOTA_OK);
    assert_int_equal(vdev_boot(H.dev, &H.boot), MQOTA_OK);
    memset(&H.plat, 0, sizeof(H.plat));
    vdev_platform_fill(H.dev, &H.plat);
    H.plat.publish = h_publish;
    H.plat.subscribe = harness_subscribe_hook;
    H.plat.now_ms = h_now;
    H.plat.reboot = h_reboot;
    real_slot_begin = H.plat.slot_begin;
    H.plat.slot_begin = h_slot_begin;
    if (!with_inflate) {
        H.plat.inflate = NULL;
    }
    H.srv.have_ack = false;
    mqota_config_t cfg = {.device_id = HELLO_DEV_ID, .max_chunk = HELLO_CHUNK,
                          .max_window = HELLO_WINDOW, .auto_reboot = false,
                          .verify_bytes_per_process = 1u << 20};
    assert_int_equal(mqota_agent_init(&H.agent, &cfg, &H.plat, H.now), MQOTA_OK);
    assert_int_equal(mqota_agent_on_connect(&H.agent), MQOTA_OK);
    (void)mqota_agent_process(&H.agent, H.now);
}

void hello_power_on(bool with_inflate)
{
    harness_snapshot_restore(&H.snapshot);
    H.now = 1000;
    H.requests = 0;
    H.erases = 0;
    H.srv.chunks_sent = 0;
    hello_boot(with_inflate);
}

void hello_power_off(void)
{
    vdev_close(H.dev);
    H.dev = NULL;
}

mqota_update_state_t hello_drive(void)
{
    for (int i = 0; i < STEP_LIMIT; i++) {
        mqota_update_state_t st = mqota_agent_state(&H.agent);
        if (st == MQOTA_STATE_READY_TO_REBOOT || st == MQOTA_STATE_FAILED) {
            return st;
        }
        H.now += 100;
        (void)mqota_agent_process(&H.agent, H.now);
        if (H.srv.have_ack) {
            harness_serve_ack(&H.srv, UINT32_MAX, NULL);
        }
    }
    return mqota_agent_state(&H.agent);
}

void hello_check_slot(void)
{
    static uint8_t buf[256 * 1024];
    assert_true(H.image_len <= sizeof(buf));
    assert_int_equal(H.plat.slot_read(H.plat.ctx, (uint8_t)(1u - H.boot.slot), 0, buf,
                                      H.image_len),
                     0);
    assert_memory_equal(buf, H.image, H.image_len);
}

void hello_send_damaged(uint32_t index, bool crc_after)
{
    static uint8_t buf[MQOTA_CHUNK_HEADER_LEN + MQOTA_CHUNK_MAX];
    uint32_t off = H.srv.wire_off[index], len = H.srv.wire_off[index + 1u] - off;
    uint8_t data[MQOTA_CHUNK_MAX];
    memcpy(data, H.srv.wire + off, len);
    if (!crc_after) {
        data[len / 2u] ^= 0x55u; /* wrong data, with its own good CRC */
    }
    assert_int_equal(mqota_chunk_encode_header(H.srv.release_id, index, data, len, buf,
                                               sizeof(buf)),
                     MQOTA_OK);
    memcpy(buf + MQOTA_CHUNK_HEADER_LEN, data, len);
    if (crc_after) {
        buf[MQOTA_CHUNK_HEADER_LEN + len / 2u] ^= 0x55u; /* damaged on the way */
    }
    (void)mqota_agent_on_message(&H.agent, H.srv.topic_chunk, buf, MQOTA_CHUNK_HEADER_LEN + len);
}
