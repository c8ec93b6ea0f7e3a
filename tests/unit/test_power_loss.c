/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Power-loss sweep: a virtual ESP32 (vdev on a temp flash file) running the 2023 hello_world
 * takes the 2024 one from a server played by this test (update_harness.c: OFFER and CHUNK
 * messages built there, the window sent from each ACK's base). First one clean update counts
 * the mutating flash operations (sector erases + write calls) from the offer to confirmed,
 * reboot and confirm included. Then, for every cut point k in 1..that count (an evenly spread
 * sample of 250 if there are more than 400), from a fresh copy of the pre-update flash: power
 * is cut at the k-th operation (it tears, every later one fails), the device is power-cycled
 * from the file alone (new vdev, new agent), it must boot (old or new image, never neither),
 * report a coherent state, and finish the update when the server re-sends the retained offer:
 * confirmed on the 2024 version with the running slot byte-identical to the 2024 file.
 *
 * A cut between the boot-attempt record ("mq.boot") and the end of the confirm (the otadata
 * switch, the bootloader's NEW -> PENDING_VERIFY rewrite and boot counter, the mark-valid)
 * leaves the old image running and the agent reporting rolled-back / reset, after which it
 * ignores that deployment's retained offer by design (docs/PROTOCOL.md section 12;
 * server/deploy.c marks the device failed). The server here then retries with a new
 * deployment of the same release; the sweep prints those cut points.
 *
 * The 2024 image carries secure_version 1 (the 2023 one 0), so the agent raises the eFuse
 * secure version after the confirm; the eFuse file is restored with the flash for every cut,
 * and a raise before the confirm would brick a device rolled back to 2023 (the bootloader
 * refuses an image below the eFuse value), which the sweep counts.
 *
 * The sweep runs three times: over the image sent as it is, compressed (deflate-sync, 32 KiB
 * window, docs/PROTOCOL.md §6.1), where each chunk is decoded with its history read back from
 * the slot, and as a delta from 2023 (delta-sync, §18: bsdiff's records, made at test time by
 * server/delta.c, applied from the running slot).
 *
 * Chunks are 1024 bytes, so four chunks share a 4096-byte sector and a progress record
 * ("mq.prog") is written per chunk: cuts land inside chunk writes, sector erases, kv records,
 * kv compactions, otadata writes, the boot counter and the confirm.
 */
#define _POSIX_C_SOURCE 200809L /* mkdtemp, clock_gettime */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <unistd.h>

#include <cmocka.h>

#include "image_variant.h"

#include "fixtures.h"
#include "update_harness.h"

#include "delta.h"

#include "mqota/mqota.h"
#include "mqota_posix/vdev.h"

#define IMG_2023 MQOTA_FIXTURES "/idf_hello_world_esp32_2023.bin"
#define IMG_2024 MQOTA_FIXTURES "/idf_hello_world_esp32_2024.bin"
#define VER_2024 "v1.4.1-2-g0296947-dirty"
#define DEV_ID "dev-1"
#define CHUNK 1024u
#define WINDOW 16u
#define RELEASE 41u
#define DEPLOYMENT 9u
#define SAMPLE_ABOVE 400u /* more cut points than this: sample */
#define SAMPLE_N 250u
#define STEP_LIMIT 20000  /* process() calls before an update counts as stuck */

/* ---- the image and the pre-update flash ---- */
static uint8_t *image;
static size_t image_len;
static char dir[64];
static char flash_path[96];
static harness_snapshot_t snapshot; /* the pre-update flash and eFuse files */
#define NEW_SECURE_VERSION 1u /* secure_version of the 2024 image sent */

/* ---- the simulation ---- */
typedef enum { RUN_DONE = 0, RUN_CUT = 1, RUN_STUCK = 2, RUN_BRICK = 3 } run_t;

static struct {
    vdev_t *dev;
    vflash_t *fl;
    mqota_agent_t agent;
    mqota_platform_t plat;
    boot_result_t boot;
    mqota_status_t boot_st;
    uint64_t now;
    bool reboot_req;
    harness_server_t srv; /* the server; its deployment_id is the retained offer's */
    harness_cut_t cut;    /* mutating flash operations counted from the offer, the cut */
} S;

static bool cut_fired(void) { return harness_cut_fired(&S.cut); }

/* ---- hooks the caller owns ---- */
static uint64_t h_now(void *c)
{
    (void)c;
    return S.now;
}
static void h_reboot(void *c)
{
    (void)c;
    S.reboot_req = true;
}
static bool h_self_test(void *c)
{
    (void)c;
    return true;
}

/* ---- the device's life ---- */

/* Power on: open the flash file alone, arm what is left of the cut, boot, start the agent and
 * connect it. Returns the boot status (MQOTA_ERR_IMAGE: bricked). */
static mqota_status_t power_on(void)
{
    char err[256] = "";
    assert_int_equal(vdev_open(flash_path, &S.dev, err, sizeof(err)), MQOTA_OK);
    S.fl = vdev_flash(S.dev);
    harness_cut_power_on(&S.cut, S.fl);
    S.reboot_req = false;
    S.srv.have_ack = false;
    S.boot_st = vdev_boot(S.dev, &S.boot);
    if (S.boot_st != MQOTA_OK) {
        return S.boot_st;
    }
    memset(&S.plat, 0, sizeof(S.plat));
    vdev_platform_fill(S.dev, &S.plat);
    S.plat.publish = harness_publish_hook;
    S.plat.subscribe = harness_subscribe_hook;
    S.plat.now_ms = h_now;
    S.plat.reboot = h_reboot;
    S.plat.self_test = h_self_test;
    mqota_config_t cfg = {.device_id = DEV_ID, .max_chunk = 4096, .max_window = WINDOW,
                          .auto_reboot = true, .verify_bytes_per_process = 1u << 20};
    assert_int_equal(mqota_agent_init(&S.agent, &cfg, &S.plat, S.now), MQOTA_OK);
    (void)mqota_agent_on_connect(&S.agent); /* may fail after a cut */
    return MQOTA_OK;
}

static void power_off(void)
{
    harness_cut_power_off(&S.cut);
    vdev_close(S.dev);
    S.dev = NULL;
    S.fl = NULL;
}

/* ---- the server (update_harness.c) ---- */
static void send_offer(void) { harness_send_offer(&S.srv); }

static uint32_t chunk_count(void) { return harness_chunk_count(&S.srv); }

/* What the last ACK asks for, until the cut fires. */
static void serve_ack(void) { harness_serve_ack(&S.srv, UINT32_MAX, cut_fired); }

static bool confirmed_on_new(void)
{
    mqota_state_msg_t m;
    mqota_agent_state_msg(&S.agent, &m);
    return m.state == MQOTA_STATE_CONFIRMED && strcmp(m.version, VER_2024) == 0;
}

/* Drive the update until it is confirmed on the new image, or the armed cut fires. */
static run_t drive(void)
{
    for (int steps = 0; steps < STEP_LIMIT; steps++) {
        if (confirmed_on_new()) {
            return RUN_DONE;
        }
        S.now += 100;
        (void)mqota_agent_process(&S.agent, S.now);
        if (cut_fired()) {
            return RUN_CUT;
        }
        if (S.reboot_req) {
            power_off();
            if (power_on() != MQOTA_OK) {
                if (cut_fired()) {
                    return RUN_CUT;
                }
                return RUN_BRICK;
            }
            if (cut_fired()) {
                return RUN_CUT;
            }
            send_offer(); /* retained: the broker delivers it on every (re)subscribe */
        } else if (S.srv.have_ack) {
            serve_ack();
        }
        if (cut_fired()) {
            return RUN_CUT;
        }
    }
    return RUN_STUCK;
}

/* A fresh device from the pre-update file, connected; the cut (if any) armed at the offer. */
static void start(uint32_t cut_at)
{
    harness_snapshot_restore(&snapshot);
    S.now = 1000;
    S.srv.deployment_id = DEPLOYMENT;
    harness_cut_reset(&S.cut);
    assert_int_equal(power_on(), MQOTA_OK);
    (void)mqota_agent_process(&S.agent, S.now);
    /* From here on, operations count from the offer. */
    harness_cut_start(&S.cut, cut_at);
    send_offer();
}

/* The running slot holds exactly the 2024 file, and a further reset boots it again. */
static void check_final(uint32_t k)
{
    static uint8_t buf[256 * 1024];
    assert_true(image_len <= sizeof(buf));
    assert_string_equal(S.boot.image.version, VER_2024);
    assert_int_equal(S.plat.slot_read(S.plat.ctx, S.boot.slot, 0, buf, image_len), 0);
    if (memcmp(buf, image, image_len) != 0) {
        fail_msg("cut %u: running slot %u differs from the 2024 file", k, S.boot.slot);
    }
    power_off();
    assert_int_equal(power_on(), MQOTA_OK);
    assert_string_equal(S.boot.image.version, VER_2024);
    mqota_update_state_t st = mqota_agent_state(&S.agent);
    assert_true(st == MQOTA_STATE_IDLE || st == MQOTA_STATE_CONFIRMED);
    /* The minimum is in eFuse now, not in NVS. */
    uint32_t min = 0;
    assert_int_equal(S.plat.secure_version_read(S.plat.ctx, &min), 0);
    assert_int_equal(min, NEW_SECURE_VERSION);
    assert_int_equal(mqota_agent_min_secure_version(&S.agent), NEW_SECURE_VERSION);
    power_off();
}

/* update_harness's read_slot: the slot the agent writes (the other one). */
static int read_update_slot(void *ctx, uint32_t off, uint8_t *buf, size_t len)
{
    (void)ctx;
    return S.plat.slot_read(S.plat.ctx, (uint8_t)(1u - S.boot.slot), off, buf, len);
}

/* The sweep over the update the server serves now (S.srv: the image as it is, or compressed). */
static void sweep(void)
{
    double t0 = harness_now_s(CLOCK_MONOTONIC), c0 = harness_now_s(CLOCK_PROCESS_CPUTIME_ID);

    /* 1. One clean update, counting mutating flash operations from the offer to confirmed. */
    start(0);
    assert_int_equal(drive(), RUN_DONE);
    uint64_t total = harness_cut_ops(&S.cut);
    check_final(0);
    assert_true(total > 0u);

    /* 2. A cut at every operation (or an even sample). */
    uint32_t n = (uint32_t)total;
    bool sampled = total > SAMPLE_ABOVE;
    if (sampled) {
        n = SAMPLE_N;
    }
    unsigned tried = 0, old_boots = 0, new_boots = 0, bricks = 0, incoherent = 0, stuck = 0,
             no_cut = 0, resumed = 0, retries = 0;
    uint32_t retry_at[64];
    for (uint32_t i = 0; i < n; i++) {
        uint32_t k = sampled ? harness_cut_point(i, n, total) : i + 1u;
        tried++;
        start(k);
        run_t r = drive();
        if (r != RUN_CUT) {
            print_error("cut %u: the cut never fired (run ended %d)\n", k, (int)r);
            no_cut++;
            power_off();
            continue;
        }
        /* Power cycle: nothing from RAM survives. */
        power_off();
        S.cut.armed = false;
        if (power_on() != MQOTA_OK) {
            print_error("cut %u: BRICK: %s\n", k, S.boot.message);
            bricks++;
            power_off();
            continue;
        }
        bool is_new = false;
        if (!harness_coherent_after_boot(&S.agent, S.boot.image.version, VER_2024, RELEASE, k,
                                         &is_new)) {
            incoherent++;
        }
        if (is_new) {
            new_boots++;
        } else {
            old_boots++;
        }
        /* A device that reports rolled-back (or failed) ends its part in the deployment
         * (server/deploy.c marks it failed; the agent ignores that deployment's offer from
         * then on): the server retries it with a new deployment of the same release. */
        mqota_update_state_t after = mqota_agent_state(&S.agent);
        if (after == MQOTA_STATE_ROLLED_BACK || after == MQOTA_STATE_FAILED) {
            if (after != MQOTA_STATE_ROLLED_BACK ||
                mqota_agent_reason(&S.agent) != MQOTA_REASON_RESET || is_new) {
                print_error("cut %u: unexpected %s/%s after the power cycle\n", k,
                            mqota_state_name(after), mqota_reason_name(mqota_agent_reason(&S.agent)));
                incoherent++;
            }
            if (retries < sizeof(retry_at) / sizeof(retry_at[0])) {
                retry_at[retries] = k;
            }
            retries++;
            S.srv.deployment_id++;
        }
        /* The server resumes: the retained offer again, then whatever the ACKs ask for. */
        send_offer();
        (void)mqota_agent_process(&S.agent, S.now);
        if (!harness_resume_trusts_only_written(&S.agent, image, image_len, read_update_slot, NULL,
                                                k)) {
            incoherent++;
        }
        if (mqota_agent_progress(&S.agent) > 0u && !confirmed_on_new()) {
            resumed++;
        }
        r = drive();
        if (r != RUN_DONE) {
            mqota_state_msg_t m;
            mqota_agent_state_msg(&S.agent, &m);
            print_error("cut %u: update did not complete (run %d, state %s, reason %s, "
                        "running %s)\n",
                        k, (int)r, mqota_state_name((mqota_update_state_t)m.state),
                        mqota_reason_name((mqota_reason_t)m.reason), m.version);
            stuck++;
            power_off();
            continue;
        }
        check_final(k);
    }

    double t1 = harness_now_s(CLOCK_MONOTONIC), c1 = harness_now_s(CLOCK_PROCESS_CPUTIME_ID);
    printf("power-loss sweep: %llu mutating flash operations from offer to confirmed "
           "(%u chunks of %u bytes%s)\n",
           (unsigned long long)total, chunk_count(), CHUNK,
           S.srv.encoding == MQOTA_ENCODING_DEFLATE_SYNC ? ", deflate-sync"
           : S.srv.encoding == MQOTA_ENCODING_DELTA_SYNC ? ", delta-sync"
                                                         : "");
    printf("power-loss sweep: %u cut points tried (%s)\n", tried,
           sampled ? "evenly spread sample" : "every one");
    printf("power-loss sweep: after the cut booted old image %u, new image %u; bricks %u; "
           "resumed mid-transfer %u; incoherent %u; not completed %u; cut not reached %u\n",
           old_boots, new_boots, bricks, resumed, incoherent, stuck, no_cut);
    printf("power-loss sweep: %u cut points hit the new image in pending-verify (bootloader "
           "rollback, rolled-back/reset, completed by a retry deployment):",
           retries);
    for (unsigned i = 0; i < retries && i < sizeof(retry_at) / sizeof(retry_at[0]); i++) {
        printf(" %u", retry_at[i]);
    }
    printf("\n");
    printf("power-loss sweep: %.2f s wall, %.2f s CPU\n", t1 - t0, c1 - c0);

    assert_int_equal(bricks, 0);
    assert_int_equal(incoherent, 0);
    assert_int_equal(stuck, 0);
    assert_int_equal(no_cut, 0);
    assert_int_equal(old_boots + new_boots, tried);
}

static void test_power_loss_sweep(void **state)
{
    (void)state;
    harness_uncompress(&S.srv);
    sweep();
}

/* The same sweep over a compressed update (docs/PROTOCOL.md §6.1): every chunk decoded with
 * its history read back from the slot, so a cut anywhere resumes from what was written. */
static void test_power_loss_sweep_deflate(void **state)
{
    (void)state;
    size_t wire = harness_compress(&S.srv, MQOTA_ENCODING_DEFLATE_SYNC, MQOTA_WINDOW_BITS_MAX);
    printf("power-loss sweep (deflate-sync): %zu bytes on the wire for %zu\n", wire, image_len);
    assert_true(wire < image_len);
    sweep();
    harness_uncompress(&S.srv);
}

/* The same sweep over a delta update (docs/PROTOCOL.md §18): every chunk rebuilt from the
 * running slot with a fresh applier, so a cut anywhere resumes from what was written, and the
 * base is hashed again on every resume. */
static void test_power_loss_sweep_delta(void **state)
{
    (void)state;
    char err[256] = "";
    size_t base_len = 0, wire = 0;
    uint8_t *base = harness_load_file(IMG_2023, &base_len);
    assert_non_null(base);
    delta_t d;
    if (delta__make(base, base_len, image, image_len, CHUNK, dir, &d, err, sizeof(err)) != 0 ||
        delta__wire(&d, image, MQOTA_ENCODING_DELTA_SYNC, MQOTA_WINDOW_BITS_MAX, &S.srv.wire,
                    &S.srv.wire_off, &wire, err, sizeof(err)) != 0) {
        fail_msg("delta: %s", err);
    }
    S.srv.encoding = MQOTA_ENCODING_DELTA_SYNC;
    S.srv.window_bits = MQOTA_WINDOW_BITS_MAX;
    S.srv.base_size = (uint32_t)base_len;
    memcpy(S.srv.base_sha256, d.base_sha256, 32);
    delta__free(&d);
    free(base);
    printf("power-loss sweep (delta-sync): %zu bytes on the wire for %zu\n", wire, image_len);
    assert_true(wire < image_len);
    sweep();
    harness_uncompress(&S.srv);
}

static int group_setup(void **state)
{
    (void)state;
    char err[256] = "";
    image = harness_load_file(IMG_2024, &image_len);
    uint32_t sv = NEW_SECURE_VERSION;
    if (image == NULL ||
        image_variant_apply(image, image_len, VER_2024, &sv, err, sizeof(err)) != 0) {
        return -1;
    }
    /* The server: the 2024 image (secure_version raised), as the release is offered. */
    harness_server_init(&S.srv, DEV_ID);
    S.srv.agent = &S.agent;
    S.srv.image = image;
    S.srv.image_len = image_len;
    S.srv.release_id = RELEASE;
    S.srv.deployment_id = DEPLOYMENT;
    S.srv.chunk_size = CHUNK;
    S.srv.window = WINDOW;
    S.srv.secure_version = NEW_SECURE_VERSION;
    S.srv.version = VER_2024;
    S.srv.project = "hello_world";
    snprintf(dir, sizeof(dir), "/tmp/test_power_loss.XXXXXX");
    if (mkdtemp(dir) == NULL) {
        return -1;
    }
    snprintf(flash_path, sizeof(flash_path), "%s/dev.flash", dir);
    /* The pre-update device: flashed with 2023 and booted once. */
    if (vdev_flash_create(flash_path, MQOTA_CHIP_ESP32, IMG_2023, err, sizeof(err)) != MQOTA_OK ||
        vdev_open(flash_path, &S.dev, err, sizeof(err)) != MQOTA_OK) {
        print_error("setup: %s\n", err);
        return -1;
    }
    boot_result_t b;
    if (vdev_boot(S.dev, &b) != MQOTA_OK) {
        print_error("setup: %s\n", b.message);
        return -1;
    }
    /* SHA-256 of the image through the vdev's own hook. */
    mqota_platform_t p;
    memset(&p, 0, sizeof(p));
    vdev_platform_fill(S.dev, &p);
    if (p.sha256_begin(p.ctx) != 0 || p.sha256_update(p.ctx, image, image_len) != 0 ||
        p.sha256_finish(p.ctx, S.srv.sha256) != 0) {
        return -1;
    }
    vdev_close(S.dev);
    S.dev = NULL;
    return harness_snapshot_take(&snapshot, flash_path);
}

static int group_teardown(void **state)
{
    (void)state;
    unlink(flash_path);
    char ef[sizeof(flash_path) + sizeof(EFUSE_FILE_SUFFIX)];
    if (efuse_path(flash_path, ef, sizeof(ef)) == 0) {
        unlink(ef); /* the device's eFuse file */
    }
    rmdir(dir);
    harness_snapshot_free(&snapshot);
    free(image);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_power_loss_sweep),
        cmocka_unit_test(test_power_loss_sweep_deflate),
        cmocka_unit_test(test_power_loss_sweep_delta),
    };
    return mqota_fixtures_run_group("power_loss", tests, group_setup, group_teardown);
}
