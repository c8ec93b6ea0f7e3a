/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ESP-IDF port's platform hooks (ports/esp-idf/src/mqota_esp_glue.c, shared with the
 * Arduino library) run on the host: the real libmqota agent with mqota_esp_glue_hooks(), on
 * the emulation of the ESP-IDF functions the glue calls (tests/emu/esp-idf), which acts on a
 * virtual ESP32 (ports/posix: flash file, partition table, otadata, bootloader, NVS-like store).
 * The server is played by this test (update_harness.c: OFFER and CHUNK messages built there,
 * the window sent from each ACK's base): unit tests may fake the transport. SHA-256 is OpenSSL
 * (the port's PSA hooks are not in scope); there is no release key, so no signature is checked.
 *
 * Built twice from this file: test_esp_glue runs the glue's ESP-IDF 5.5 path (esp_ota_resume,
 * esp_ota_mark_app_invalid_rollback), test_esp_glue_before_5_5 its fallback (resumed writes
 * through esp_partition_write, esp_image_verify, the rollback at esp_restart).
 *
 * Scenarios, each from a fresh device running the 2023 hello_world and taking the 2024 one:
 *  - full update into the next update partition, otadata switched (state NEW), a restart
 *    through esp_restart() and the virtual bootloader, self-test, confirm (state VALID);
 *  - a power cut mid-transfer: the download resumes, and no sector holding a chunk the agent
 *    kept is erased again (erases counted in the emulation);
 *  - a corrupted image: the agent refuses it, the boot partition is unchanged; and the glue's
 *    slot_end refuses it through esp_ota_end()'s validation (ESP_ERR_OTA_VALIDATE_FAILED);
 *  - a failing self-test: the new image is marked invalid and the old one boots again; on a
 *    device whose otadata was blank (first update after `idf.py flash`) ESP-IDF refuses the
 *    mark (no rollback is possible by its rules) and the bootloader's abort takes it back;
 *  - the emulation's own refusals, with ESP-IDF's error codes;
 *  - a power-loss sweep (test_power_loss_sweep*, as test_power_loss.c does on the POSIX
 *    port's hooks): one clean update counts the mutating flash operations from the offer to
 *    confirmed (chunk writes, the sector erases of esp_ota_begin(), NVS records, the otadata
 *    writes of esp_ota_set_boot_partition(), the bootloader's NEW -> PENDING_VERIFY rewrite at
 *    the restart, the confirm); then, from a copy of the pre-update flash and eFuse files, power
 *    is cut at each of them (290: all, about 1.5 s of CPU per sweep; above SWEEP_ALL_MAX an
 *    evenly spread sample; vflash_set_cut(): the operation tears, every later one fails), the
 *    device is power-cycled from its files alone, and it must boot (old or new image, never
 *    neither), report a coherent state, and finish the update: from the retained offer, or
 *    from a new deployment after a cut left the new image pending verify (the bootloader
 *    aborts it, the agent reports rolled-back / reset and by design ignores that deployment's
 *    offer from then on); at the end the running partition is byte-identical to the 2024 file
 *    and VALID in otadata. Three pre-update devices: just after `idf.py flash` (blank
 *    otadata), with ota_0 selected through otadata, and running from ota_1 after an update
 *    (the update goes into ota_0, which a blank otadata boots first).
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

#include "fixtures.h"
#include "update_harness.h"

#include <openssl/evp.h>

#include "esp_idf_emu.h"
#include "esp_ota_ops.h"
#include "mqota/mqota.h"
#include "mqota_esp_glue.h"
#include "mqota_posix/efuse.h"
#include "mqota_posix/vdev.h"
#include "nvs.h"

#define IMG_2023 MQOTA_FIXTURES "/idf_hello_world_esp32_2023.bin"
#define IMG_2024 MQOTA_FIXTURES "/idf_hello_world_esp32_2024.bin"
#define VER_2024 "v1.4.1-2-g0296947-dirty"
#define DEV_ID "dev-1"
#define CHUNK 1024u
#define WINDOW 16u
#define RELEASE 41u
#define DEPLOYMENT 9u
#define SECTOR 4096u     /* SPI flash erase unit */
#define STEP_LIMIT 20000 /* process() calls before an update counts as stuck */
#define NO_PAUSE UINT32_MAX
#define SWEEP_ALL_MAX 400u /* an update of at most this many flash operations: cut at each */
#define SWEEP_POINTS 120u  /* more: cut at an evenly spread sample of this many */
#define SWEEP_LISTED 64u  /* cut points ending on a retry deployment that the summary lists */

/* The port's struct: the glue's state first (mqota_esp_glue.h), then the crypto state. */
typedef struct {
    mqota_esp_glue_t glue;
    EVP_MD_CTX *sha;
} port_t;

typedef enum {
    RUN_DONE,
    RUN_PAUSED,
    RUN_FAILED,
    RUN_ROLLED_BACK,
    RUN_STUCK,
    RUN_CUT,   /* the armed power cut happened */
    RUN_BRICK, /* the virtual bootloader found no image to boot */
} run_t;

static uint8_t *image; /* the 2024 file */
static size_t image_len;
static uint8_t *served; /* what the server sends: image, or a corrupted copy */
static char old_version[33]; /* the 2023 image's, as its descriptor says */
static char dir[64];
static char flash_path[96];
static harness_snapshot_t snapshot; /* the pre-update device of a sweep */

static struct {
    vdev_t *dev;
    boot_result_t boot;
    port_t port;
    mqota_platform_t plat;
    mqota_agent_t agent;
    uint64_t now;
    bool healthy;           /* what the application's self-test answers */
    esp_ota_img_states_t state_at_restart; /* of the update partition, at the last restart */
    harness_server_t srv;   /* the server; chunks_sent counts from the offer */
    harness_cut_t cut;      /* mutating flash operations counted from the offer, the cut */
} S;

static bool cut_fired(void) { return harness_cut_fired(&S.cut); }

/* ---- hooks the port owns: crypto (OpenSSL); the transport is update_harness.c's ---- */
static int h_sha256_begin(void *ctx)
{
    port_t *p = ctx;
    if (p->sha == NULL) p->sha = EVP_MD_CTX_new();
    return p->sha != NULL && EVP_DigestInit_ex(p->sha, EVP_sha256(), NULL) == 1 ? 0 : -1;
}

static int h_sha256_update(void *ctx, const uint8_t *data, size_t len)
{
    port_t *p = ctx;
    return EVP_DigestUpdate(p->sha, data, len) == 1 ? 0 : -1;
}

static int h_sha256_finish(void *ctx, uint8_t out[32])
{
    port_t *p = ctx;
    unsigned n = 0;
    return EVP_DigestFinal_ex(p->sha, out, &n) == 1 && n == 32u ? 0 : -1;
}

static bool app_self_test(void *ctx)
{
    (void)ctx;
    return S.healthy;
}

/* ---- the device's life ---- */

/* Power on: open the flash file (arming what is left of a pending cut), run the virtual
 * bootloader, attach the emulated ESP-IDF to the chip, open NVS as the port does, start the
 * agent on the glue's hooks and connect. Returns the boot's status: anything but MQOTA_OK is a
 * device that does not boot (S.boot.message says why), unless the cut fired during the boot. */
static mqota_status_t power_on(esp_reset_reason_t why)
{
    char err[256] = "";
    assert_int_equal(vdev_open(flash_path, &S.dev, err, sizeof(err)), MQOTA_OK);
    harness_cut_power_on(&S.cut, vdev_flash(S.dev));
    memset(&S.port, 0, sizeof(S.port));
    mqota_status_t st = vdev_boot(S.dev, &S.boot);
    if (st != MQOTA_OK) return st;
    assert_int_equal(esp_emu_attach(S.dev, &S.boot, why), 0);
    esp_emu_set_time_us((int64_t)(S.now * 1000u));
    assert_int_equal(nvs_open("mqota", NVS_READWRITE, &S.port.glue.nvs), ESP_OK);
    S.port.glue.self_test = app_self_test;
    memset(&S.plat, 0, sizeof(S.plat));
    S.plat.ctx = &S.port;
    mqota_esp_glue_hooks(&S.plat);
    S.plat.publish = harness_publish_hook;
    S.plat.subscribe = harness_subscribe_hook;
    S.plat.sha256_begin = h_sha256_begin;
    S.plat.sha256_update = h_sha256_update;
    S.plat.sha256_finish = h_sha256_finish;
    S.srv.have_ack = false;
    mqota_config_t cfg = {.device_id = DEV_ID, .max_chunk = 4096, .max_window = WINDOW,
                          .auto_reboot = true, .verify_bytes_per_process = 1u << 20};
    assert_int_equal(mqota_agent_init(&S.agent, &cfg, &S.plat, S.now), MQOTA_OK);
    mqota_status_t c = mqota_agent_on_connect(&S.agent);
    if (!cut_fired()) assert_int_equal(c, MQOTA_OK); /* after the cut, nothing can be written */
    return MQOTA_OK;
}

/* Power off: RAM (the agent, the OTA handles) is lost; flash, NVS and eFuse stay. */
static void power_off(void)
{
    harness_cut_power_off(&S.cut);
    nvs_close(S.port.glue.nvs);
    esp_emu_detach();
    EVP_MD_CTX_free(S.port.sha);
    S.port.sha = NULL;
    vdev_close(S.dev);
    S.dev = NULL;
}

static const esp_partition_t *slot_partition(uint8_t slot)
{
    return esp_partition_find_first(ESP_PARTITION_TYPE_APP,
                                    (esp_partition_subtype_t)(ESP_PARTITION_SUBTYPE_APP_OTA_MIN + slot),
                                    NULL);
}

/* The agent asked for a restart: do what the port does (mqota_esp_glue_restart(), which
 * ends in esp_restart()), and come back here through the emulation's restart point. Returns
 * power_on()'s status. */
static mqota_status_t restart(void)
{
    jmp_buf jb;
    S.state_at_restart = ESP_OTA_IMG_UNDEFINED;
    (void)esp_ota_get_state_partition(slot_partition((uint8_t)(1u - S.boot.slot)),
                                      &S.state_at_restart);
    esp_emu_set_restart_jump(&jb);
    unsigned before = esp_emu_restarts();
    if (setjmp(jb) == 0) {
        mqota_esp_glue_restart(&S.port.glue);
        fail_msg("esp_restart() returned");
    }
    esp_emu_set_restart_jump(NULL);
    assert_int_equal(esp_emu_restarts(), before + 1u);
    power_off();
    return power_on(ESP_RST_SW);
}

/* ---- the server (update_harness.c) ---- */
static void send_offer(void) { harness_send_offer(&S.srv); }

static uint32_t chunk_count(void) { return harness_chunk_count(&S.srv); }

static mqota_state_msg_t state_msg(void)
{
    mqota_state_msg_t m;
    mqota_agent_state_msg(&S.agent, &m);
    return m;
}

/* Drive the update until it is confirmed on the new image, refused, rolled back,
 * `pause_after` chunks have been sent since the offer, or the armed power cut happens.
 * Restarts go through restart(); the retained offer is delivered again after each. */
static run_t drive(uint32_t pause_after)
{
    for (int steps = 0; steps < STEP_LIMIT; steps++) {
        if (cut_fired()) return RUN_CUT;
        if (S.port.glue.reboot_due) { /* asked for at connect (self-test) or in process() */
            if (restart() != MQOTA_OK) return cut_fired() ? RUN_CUT : RUN_BRICK;
            if (cut_fired()) return RUN_CUT;
            send_offer(); /* retained: the broker delivers it on every (re)subscribe */
            continue;
        }
        mqota_state_msg_t m = state_msg();
        if (m.state == MQOTA_STATE_CONFIRMED && strcmp(m.version, VER_2024) == 0) return RUN_DONE;
        if (m.state == MQOTA_STATE_FAILED) return RUN_FAILED;
        /* Rolled back once the old image runs again (the agent reports it before its restart). */
        if (m.state == MQOTA_STATE_ROLLED_BACK && strcmp(S.boot.image.version, VER_2024) != 0)
            return RUN_ROLLED_BACK;
        if (S.srv.chunks_sent >= pause_after) return RUN_PAUSED;
        S.now += 100;
        esp_emu_set_time_us((int64_t)(S.now * 1000u));
        (void)mqota_agent_process(&S.agent, S.now);
        if (!cut_fired() && !S.port.glue.reboot_due && S.srv.have_ack)
            harness_serve_ack(&S.srv, pause_after, cut_fired);
    }
    return RUN_STUCK;
}

/* What the server sends: the 2024 image, or with `corrupt` a copy with one byte flipped. */
static void serve(bool corrupt)
{
    memcpy(served, image, image_len);
    if (corrupt) served[image_len / 2] ^= 0x5Au; /* inside a segment: the checksum fails */
    unsigned n = 0;
    assert_int_equal(EVP_Digest(served, image_len, S.srv.sha256, &n, EVP_sha256(), NULL), 1);
}

/* How the pre-update device came to run 2023. */
typedef enum {
    DEV_FLASHED,  /* `idf.py flash`: 2023 in ota_0, otadata blank */
    DEV_SELECTED, /* then ota_0 selected through otadata and confirmed (VALID) */
    DEV_ON_OTA_1, /* then 2023 written into ota_1 through esp_ota_*, selected and confirmed
                   * (an updated device): the update goes into ota_0, which the inactive
                   * otadata sector still selects and a blank otadata boots first */
} device_t;

/* Write the 2023 file into the update partition through esp_ota_* and select it. */
static void install_2023_next(void)
{
    size_t len = 0;
    uint8_t *img = harness_load_file(IMG_2023, &len);
    assert_non_null(img);
    const esp_partition_t *next = esp_ota_get_next_update_partition(NULL);
    esp_ota_handle_t h;
    assert_int_equal(esp_ota_begin(next, len, &h), ESP_OK);
    assert_int_equal(esp_ota_write_with_offset(h, img, len, 0), ESP_OK);
    assert_int_equal(esp_ota_end(h), ESP_OK);
    assert_int_equal(esp_ota_set_boot_partition(next), ESP_OK);
    free(img);
}

/* A fresh device running 2023, booted once and powered off. Its otadata is blank, as
 * `idf.py flash` leaves it; with DEV_SELECTED, the running slot was selected through otadata
 * and confirmed before (as on a device updated before), then power-cycled; with DEV_ON_OTA_1
 * it runs 2023 from ota_1, selected and confirmed. */
static void make_device(device_t how)
{
    char err[256] = "";
    assert_int_equal(vdev_flash_create(flash_path, MQOTA_CHIP_ESP32, IMG_2023, err, sizeof(err)),
                     MQOTA_OK);
    S.now = 1000;
    harness_cut_reset(&S.cut);
    assert_int_equal(power_on(ESP_RST_POWERON), MQOTA_OK);
    snprintf(old_version, sizeof(old_version), "%s", S.boot.image.version);
    assert_string_not_equal(old_version, VER_2024);
    if (how != DEV_FLASHED) {
        assert_int_equal(esp_ota_set_boot_partition(esp_ota_get_running_partition()), ESP_OK);
        assert_int_equal(esp_ota_mark_app_valid_cancel_rollback(), ESP_OK);
        if (how == DEV_ON_OTA_1) {
            install_2023_next();
            power_off();
            assert_int_equal(power_on(ESP_RST_POWERON), MQOTA_OK);
            assert_int_equal(S.boot.slot, 1u);
            assert_int_equal(esp_ota_mark_app_valid_cancel_rollback(), ESP_OK);
        }
        power_off();
        assert_int_equal(power_on(ESP_RST_POWERON), MQOTA_OK);
        esp_ota_img_states_t st;
        assert_int_equal(esp_ota_get_state_partition(esp_ota_get_running_partition(), &st), ESP_OK);
        assert_int_equal(st, ESP_OTA_IMG_VALID);
        assert_string_equal(S.boot.image.version, old_version);
    }
    power_off();
}

/* Power the device on from its files, connected, and offer it the 2024 release. Flash
 * operations count from the offer, with a power cut armed at the cut_at-th (0: none). */
static void power_on_and_offer(uint32_t cut_at)
{
    S.now = 1000;
    S.healthy = true;
    S.srv.deployment_id = DEPLOYMENT;
    harness_cut_reset(&S.cut);
    assert_int_equal(power_on(ESP_RST_POWERON), MQOTA_OK);
    (void)mqota_agent_process(&S.agent, S.now);
    esp_emu_reset_counts();
    S.srv.chunks_sent = 0;
    harness_cut_start(&S.cut, cut_at);
    send_offer();
}

/* A fresh device running 2023 (booted once), connected, offered the 2024 release (make_device). */
static void start_ex(bool corrupt, bool selected)
{
    serve(corrupt);
    make_device(selected ? DEV_SELECTED : DEV_FLASHED);
    power_on_and_offer(0);
}

static void start(bool corrupt) { start_ex(corrupt, false); }

static void finish(void)
{
    power_off();
    unlink(flash_path);
    char ef[sizeof(flash_path) + sizeof(EFUSE_FILE_SUFFIX)];
    if (efuse_path(flash_path, ef, sizeof(ef)) == 0) unlink(ef);
}

/* The running partition holds exactly the 2024 file. */
static void assert_running_2024(void)
{
    static uint8_t buf[512 * 1024];
    assert_true(image_len <= sizeof(buf));
    assert_string_equal(S.boot.image.version, VER_2024);
    assert_int_equal(esp_partition_read(esp_ota_get_running_partition(), 0, buf, image_len),
                     ESP_OK);
    assert_memory_equal(buf, image, image_len);
}

static uint32_t image_sectors(void) { return (uint32_t)((image_len + SECTOR - 1u) / SECTOR); }

/* ---- scenarios ---- */

static void test_full_update(void **state)
{
    (void)state;
    start(false);
    uint8_t old_slot = S.boot.slot;
    const esp_partition_t *next = esp_ota_get_next_update_partition(NULL);
    assert_non_null(next);
    assert_ptr_not_equal(next, esp_ota_get_running_partition());
    assert_int_equal(drive(NO_PAUSE), RUN_DONE);
    /* otadata selected the update partition (NEW) before the restart; the virtual bootloader
     * booted it; the self-test passed and esp_ota_mark_app_valid_cancel_rollback() made it
     * VALID. */
    assert_int_equal(S.state_at_restart, ESP_OTA_IMG_NEW);
    assert_int_equal(S.boot.slot, 1u - old_slot);
    assert_false(S.boot.rolled_back);
    esp_ota_img_states_t st;
    assert_int_equal(esp_ota_get_state_partition(esp_ota_get_running_partition(), &st), ESP_OK);
    assert_int_equal(st, ESP_OTA_IMG_VALID);
    assert_running_2024();
    /* The image was erased once, sector by sector, by esp_ota_begin(). */
    assert_int_equal(esp_emu_erased_sectors(S.boot.slot), image_sectors());
    /* A further reset boots it again, confirmed. */
    power_off();
    assert_int_equal(power_on(ESP_RST_POWERON), MQOTA_OK);
    assert_string_equal(S.boot.image.version, VER_2024);
    finish();
}

/* The port's health hook (docs/PROTOCOL.md §16): esp_reset_reason() mapped by name, one boot
 * per reason of the emulation, and esp_get_minimum_free_heap_size(); no crash text, no RSSI. */
/* The application's RSSI hook of test_health_hook(): *ctx is what it reports (0: unknown). */
static int app_rssi(void *ctx, int8_t *dbm)
{
    int8_t v = *(const int8_t *)ctx;
    if (v == 0) return -1;
    *dbm = v;
    return 0;
}

static void test_health_hook(void **state)
{
    static const struct {
        esp_reset_reason_t esp;
        uint8_t wire;
    } map[] = {
        {ESP_RST_UNKNOWN, MQOTA_RESET_UNKNOWN},     {ESP_RST_POWERON, MQOTA_RESET_POWER_ON},
        {ESP_RST_EXT, MQOTA_RESET_EXTERNAL},        {ESP_RST_SW, MQOTA_RESET_SOFTWARE},
        {ESP_RST_PANIC, MQOTA_RESET_PANIC},         {ESP_RST_INT_WDT, MQOTA_RESET_INT_WDT},
        {ESP_RST_TASK_WDT, MQOTA_RESET_TASK_WDT},   {ESP_RST_WDT, MQOTA_RESET_WDT},
        {ESP_RST_DEEPSLEEP, MQOTA_RESET_DEEP_SLEEP}, {ESP_RST_BROWNOUT, MQOTA_RESET_BROWNOUT},
        {ESP_RST_SDIO, MQOTA_RESET_SDIO},           {ESP_RST_USB, MQOTA_RESET_USB},
        {ESP_RST_JTAG, MQOTA_RESET_JTAG},           {ESP_RST_EFUSE, MQOTA_RESET_EFUSE},
        {ESP_RST_PWR_GLITCH, MQOTA_RESET_POWER_GLITCH},
        {ESP_RST_CPU_LOCKUP, MQOTA_RESET_CPU_LOCKUP},
    };
    (void)state;
    start(false);
    assert_non_null(S.plat.health);
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        mqota_health_t h;
        power_off();
        assert_int_equal(power_on(map[i].esp), MQOTA_OK);
        memset(&h, 0, sizeof(h));
        assert_int_equal(S.plat.health(S.plat.ctx, &h), 0);
        assert_int_equal(h.reset_reason, map[i].wire);
        assert_int_equal(h.min_free_heap, 180000u);
        assert_int_equal(h.rssi, 0);
        assert_string_equal(h.crash, "");
    }
    /* the application's RSSI: taken when it knows one, unknown (0) when it does not or when
     * it says 0 dBm or more, which no received signal is */
    static const struct {
        int8_t app;
        int8_t wire;
    } rssi[] = {{-67, -67}, {-128, -128}, {0, 0}, {5, 0}};
    for (size_t i = 0; i < sizeof(rssi) / sizeof(rssi[0]); i++) {
        mqota_health_t h;
        int8_t v = rssi[i].app;
        S.port.glue.rssi = app_rssi;
        S.port.glue.rssi_ctx = &v;
        memset(&h, 0, sizeof(h));
        assert_int_equal(S.plat.health(S.plat.ctx, &h), 0);
        assert_int_equal(h.rssi, rssi[i].wire);
    }
    S.port.glue.rssi = NULL;
    finish();
}

static void test_resume_after_reset(void **state)
{
    (void)state;
    start(false);
    uint8_t target = (uint8_t)(1u - S.boot.slot);
    uint32_t half = chunk_count() / 2u;
    assert_int_equal(drive(half), RUN_PAUSED);
    assert_int_equal(esp_emu_erased_sectors(target), image_sectors());
    /* Power cut mid-transfer: RAM and the OTA handle are lost; flash and NVS stay. */
    power_off();
    esp_emu_reset_counts();
    assert_int_equal(power_on(ESP_RST_POWERON), MQOTA_OK);
    assert_string_equal(S.boot.image.version, old_version);
    send_offer();
    (void)mqota_agent_process(&S.agent, S.now);
    uint32_t kept = mqota_agent_progress(&S.agent);
    assert_true(kept > 0u);
    assert_true(kept <= half * CHUNK);
    assert_int_equal(drive(NO_PAUSE), RUN_DONE);
    /* No sector holding a kept chunk was erased again: only from the first sector not fully
     * kept to the image's end. */
    uint64_t again = esp_emu_erased_sectors(target);
    assert_true(again > 0u);
    assert_true(again <= image_sectors() - kept / SECTOR);
    assert_true(again < image_sectors());
    print_message("resume: %u bytes kept, %u of %u sectors erased again\n", (unsigned)kept,
                  (unsigned)again, (unsigned)image_sectors());
    assert_running_2024();
    finish();
}

static void test_corrupted_image_refused(void **state)
{
    (void)state;
    start(true);
    uint8_t running = S.boot.slot;
    assert_int_equal(drive(NO_PAUSE), RUN_FAILED);
    /* The boot partition is unchanged: a reset boots 2023 from the same slot. */
    power_off();
    assert_int_equal(power_on(ESP_RST_POWERON), MQOTA_OK);
    assert_int_equal(S.boot.slot, running);
    assert_string_equal(S.boot.image.version, old_version);

    /* The glue's own validation: the corrupted bytes written through its hooks, slot_end is
     * esp_ota_end(), which refuses them; slot_set_boot (esp_ota_set_boot_partition) too. */
    uint8_t target = (uint8_t)(1u - running);
    assert_int_equal(S.plat.slot_begin(S.plat.ctx, target, (uint32_t)image_len, 0), 0);
    for (size_t off = 0; off < image_len; off += CHUNK) {
        size_t n = image_len - off < CHUNK ? image_len - off : CHUNK;
        assert_int_equal(S.plat.slot_write(S.plat.ctx, target, (uint32_t)off, served + off, n), 0);
    }
    assert_int_not_equal(S.plat.slot_end(S.plat.ctx, target, (uint32_t)image_len), 0);
    assert_int_not_equal(S.plat.slot_set_boot(S.plat.ctx, target), 0);
    /* And esp_ota_end() directly: ESP_ERR_OTA_VALIDATE_FAILED. */
    const esp_partition_t *p = slot_partition(target);
    esp_ota_handle_t h;
    assert_int_equal(esp_ota_begin(p, image_len, &h), ESP_OK);
    assert_int_equal(esp_ota_write_with_offset(h, served, image_len, 0), ESP_OK);
    assert_int_equal(esp_ota_end(h), ESP_ERR_OTA_VALIDATE_FAILED);
    assert_int_equal(esp_ota_end(h), ESP_ERR_NOT_FOUND); /* freed whatever it returned */
    assert_int_equal(esp_ota_begin(esp_ota_get_running_partition(), image_len, &h),
                     ESP_ERR_OTA_PARTITION_CONFLICT);
    finish();
}

/* A failing self-test on a device whose running slot was selected through otadata before: the
 * glue marks the new image INVALID (esp_ota_mark_app_invalid_rollback, or before 5.5 the
 * _and_reboot variant at the restart) and the bootloader boots 2023 again. */
static void test_self_test_failure_rolls_back(void **state)
{
    (void)state;
    start_ex(false, true);
    uint8_t old_slot = S.boot.slot;
    S.healthy = false; /* the 2024 image's self-test will fail */
    assert_int_equal(drive(NO_PAUSE), RUN_ROLLED_BACK);
    assert_int_equal(S.boot.slot, old_slot);
    assert_string_equal(S.boot.image.version, old_version);
    mqota_state_msg_t m = state_msg();
    assert_string_equal(m.version, old_version);
    esp_ota_img_states_t st;
    assert_int_equal(esp_ota_get_state_partition(slot_partition((uint8_t)(1u - old_slot)), &st),
                     ESP_OK);
    /* INVALID, by the glue: not ABORTED, which the bootloader sets by itself for an image
     * still pending verify at reset. */
    assert_int_equal(st, ESP_OTA_IMG_INVALID);
    assert_true(S.boot.rolled_back);
    assert_int_equal(S.boot.rollback_why, BOOT_ROLLBACK_INVALID);
    finish();
}

/* The same on a device whose otadata was blank (the first update after `idf.py flash`):
 * ESP-IDF refuses to mark the image invalid (ESP_ERR_OTA_ROLLBACK_FAILED: the other otadata
 * sector selects nothing, esp_ota_check_rollback_is_possible()), the glue restarts anyway, and
 * the bootloader aborts the image still pending verify: 2023 boots again. */
static void test_self_test_failure_first_update(void **state)
{
    (void)state;
    start(false);
    uint8_t old_slot = S.boot.slot;
    S.healthy = false;
    assert_int_equal(drive(NO_PAUSE), RUN_ROLLED_BACK);
    assert_int_equal(S.boot.slot, old_slot);
    assert_string_equal(S.boot.image.version, old_version);
    esp_ota_img_states_t st;
    assert_int_equal(esp_ota_get_state_partition(slot_partition((uint8_t)(1u - old_slot)), &st),
                     ESP_OK);
    assert_int_equal(st, ESP_OTA_IMG_ABORTED);
    assert_true(S.boot.rolled_back);
    assert_int_equal(S.boot.rollback_why, BOOT_ROLLBACK_ABORTED);
    finish();
}

/* The emulation refuses what ESP-IDF documents as refused, with ESP-IDF's codes (a positive
 * control beside each). The agent has just taken the offer: its OTA handle is open on the
 * update partition. */
static void test_emulation_refusals(void **state)
{
    (void)state;
    start(false);
    const esp_partition_t *run = esp_ota_get_running_partition();
    const esp_partition_t *next = esp_ota_get_next_update_partition(NULL);
    esp_ota_handle_t h = 0;
    assert_int_equal(esp_ota_begin(run, image_len, &h), ESP_ERR_OTA_PARTITION_CONFLICT);
    assert_int_equal(esp_ota_begin(next, image_len, &h), ESP_ERR_OTA_ALREADY_IN_PROGRESS);
    assert_int_equal(esp_ota_begin(NULL, image_len, &h), ESP_ERR_INVALID_ARG);
    assert_int_equal(esp_ota_end(0xdeadu), ESP_ERR_NOT_FOUND);
    assert_int_equal(esp_ota_abort(0xdeadu), ESP_ERR_NOT_FOUND);
    assert_int_equal(esp_ota_write_with_offset(0xdeadu, image, 16, 0), ESP_ERR_INVALID_ARG);
    /* Erase ranges: sector-aligned and inside the partition only. */
    assert_int_equal(esp_partition_erase_range(next, 1, SECTOR), ESP_ERR_INVALID_ARG);
    assert_int_equal(esp_partition_erase_range(next, 0, SECTOR + 1u), ESP_ERR_INVALID_ARG);
    assert_int_equal(esp_partition_erase_range(next, 0, next->size + SECTOR), ESP_ERR_INVALID_SIZE);
    assert_int_equal(esp_partition_erase_range(next, next->size - SECTOR, SECTOR), ESP_OK);
    uint8_t b[8];
    assert_int_equal(esp_partition_read(next, next->size - 4u, b, sizeof(b)), ESP_ERR_INVALID_SIZE);
    assert_int_equal(esp_partition_read(next, next->size - 8u, b, sizeof(b)), ESP_OK);
    /* A data partition has no OTA state. */
    const esp_partition_t *od =
        esp_partition_find_first(ESP_PARTITION_TYPE_DATA, ESP_PARTITION_SUBTYPE_DATA_OTA, NULL);
    assert_non_null(od);
    esp_ota_img_states_t st;
    assert_int_equal(esp_ota_get_state_partition(od, &st), ESP_ERR_NOT_SUPPORTED);
    /* NVS: key length, absent keys, a buffer too small. */
    nvs_handle_t n = S.port.glue.nvs;
    assert_int_equal(nvs_set_blob(n, "0123456789abcdef", b, 1), ESP_ERR_NVS_KEY_TOO_LONG);
    assert_int_equal(nvs_set_blob(n, "0123456789abcde", "abcd", 4), ESP_OK);
    size_t len = 0;
    assert_int_equal(nvs_get_blob(n, "absent", NULL, &len), ESP_ERR_NVS_NOT_FOUND);
    assert_int_equal(nvs_get_blob(n, "0123456789abcde", NULL, &len), ESP_OK);
    assert_int_equal(len, 4u);
    len = 2;
    assert_int_equal(nvs_get_blob(n, "0123456789abcde", b, &len), ESP_ERR_NVS_INVALID_LENGTH);
    assert_int_equal(len, 4u);
    assert_int_equal(nvs_get_blob(n, "0123456789abcde", b, &len), ESP_OK);
    assert_memory_equal(b, "abcd", 4);
    assert_int_equal(nvs_erase_key(n, "0123456789abcde"), ESP_OK);
    assert_int_equal(nvs_erase_key(n, "0123456789abcde"), ESP_ERR_NVS_NOT_FOUND);
    assert_int_equal(nvs_get_blob(n + 1u, "mq.prog", NULL, &len), ESP_ERR_NVS_INVALID_HANDLE);
    finish();
}

/* ---- the power-loss sweep ---- */

static bool confirmed_on_new(void)
{
    mqota_state_msg_t m = state_msg();
    return m.state == MQOTA_STATE_CONFIRMED && strcmp(m.version, VER_2024) == 0;
}

/* update_harness's read_slot: the partition esp_ota_get_next_update_partition() names. */
static int read_update_partition(void *ctx, uint32_t off, uint8_t *buf, size_t len)
{
    (void)ctx;
    const esp_partition_t *next = esp_ota_get_next_update_partition(NULL);
    return next != NULL && esp_partition_read(next, off, buf, len) == ESP_OK ? 0 : -1;
}

/* The update is done: the running partition holds exactly the 2024 file, confirmed (VALID),
 * and a further reset boots it again. */
static void check_final(uint32_t k)
{
    static uint8_t buf[512 * 1024];
    assert_true(image_len <= sizeof(buf));
    assert_string_equal(S.boot.image.version, VER_2024);
    assert_int_equal(esp_partition_read(esp_ota_get_running_partition(), 0, buf, image_len),
                     ESP_OK);
    if (memcmp(buf, image, image_len) != 0)
        fail_msg("cut %u: the running partition differs from the 2024 file", k);
    esp_ota_img_states_t st = ESP_OTA_IMG_UNDEFINED;
    esp_err_t err = esp_ota_get_state_partition(esp_ota_get_running_partition(), &st);
    if (err != ESP_OK || st != ESP_OTA_IMG_VALID)
        fail_msg("cut %u: the running partition is not VALID in otadata (esp_err 0x%x, state %d)",
                 k, (unsigned)err, (int)st);
    power_off();
    assert_int_equal(power_on(ESP_RST_POWERON), MQOTA_OK);
    assert_string_equal(S.boot.image.version, VER_2024);
    mqota_update_state_t as = mqota_agent_state(&S.agent);
    assert_true(as == MQOTA_STATE_IDLE || as == MQOTA_STATE_CONFIRMED);
    power_off();
}

/* The sweep on the device make_device(how) leaves (`what` names it in the summary): one
 * clean update counts the operations, then a cut at every one of them (at an evenly spread
 * sample of SWEEP_POINTS if there are more than SWEEP_ALL_MAX), each from the same pre-update
 * files. */
static void sweep(device_t how, const char *what)
{
    double t0 = harness_now_s(CLOCK_MONOTONIC), c0 = harness_now_s(CLOCK_PROCESS_CPUTIME_ID);
    serve(false);
    make_device(how);
    harness_snapshot_free(&snapshot); /* an earlier sweep that failed left its copy */
    assert_int_equal(harness_snapshot_take(&snapshot, flash_path), 0);

    /* 1. One clean update, counting mutating flash operations from the offer to confirmed. */
    power_on_and_offer(0);
    uint8_t old_slot = S.boot.slot;
    assert_int_equal(drive(NO_PAUSE), RUN_DONE);
    uint64_t total = harness_cut_ops(&S.cut);
    assert_true(total >= 2u);
    check_final(0);

    /* 2. A cut at every operation (or an even sample). */
    uint32_t n = total <= SWEEP_ALL_MAX ? (uint32_t)total : SWEEP_POINTS;
    unsigned tried = 0, old_boots = 0, new_boots = 0, bricks = 0, incoherent = 0, stuck = 0,
             no_cut = 0, resumed = 0, retries = 0;
    uint32_t retry_at[SWEEP_LISTED];
    for (uint32_t i = 0; i < n; i++) {
        uint32_t k = harness_cut_point(i, n, total);
        tried++;
        harness_snapshot_restore(&snapshot);
        power_on_and_offer(k);
        run_t r = drive(NO_PAUSE);
        if (r != RUN_CUT) {
            print_error("cut %u: the cut never fired (run ended %d)\n", k, (int)r);
            no_cut++;
            power_off();
            continue;
        }
        /* Power cycle: nothing from RAM survives. */
        power_off();
        S.cut.armed = false;
        if (power_on(ESP_RST_POWERON) != MQOTA_OK) {
            print_error("cut %u: BRICK: %s\n", k, S.boot.message);
            bricks++;
            power_off();
            continue;
        }
        bool is_new = false;
        if (!harness_coherent_after_boot(&S.agent, S.boot.image.version, VER_2024, RELEASE, k,
                                         &is_new))
            incoherent++;
        if (is_new) {
            new_boots++;
        } else {
            old_boots++;
            if (S.boot.slot != old_slot) {
                print_error("cut %u: 2023 booted from slot %u\n", k, S.boot.slot);
                incoherent++;
            }
        }
        /* A device that reports rolled-back ends its part in the deployment (the agent ignores
         * that deployment's offer from then on): the server retries it with a new deployment
         * of the same release. Rolled back only by the bootloader's abort here: the self-test
         * passes. */
        mqota_update_state_t after = mqota_agent_state(&S.agent);
        if (after == MQOTA_STATE_ROLLED_BACK || after == MQOTA_STATE_FAILED) {
            if (after != MQOTA_STATE_ROLLED_BACK ||
                mqota_agent_reason(&S.agent) != MQOTA_REASON_RESET || is_new) {
                print_error("cut %u: unexpected %s/%s after the power cycle\n", k,
                            mqota_state_name(after),
                            mqota_reason_name(mqota_agent_reason(&S.agent)));
                incoherent++;
            }
            if (retries < SWEEP_LISTED) retry_at[retries] = k;
            retries++;
            S.srv.deployment_id++;
        }
        /* The server resumes: the offer again, then whatever the ACKs ask for. */
        send_offer();
        (void)mqota_agent_process(&S.agent, S.now);
        if (!harness_resume_trusts_only_written(&S.agent, image, image_len, read_update_partition,
                                                NULL, k))
            incoherent++;
        if (mqota_agent_progress(&S.agent) > 0u && !confirmed_on_new()) resumed++;
        r = drive(NO_PAUSE);
        if (r != RUN_DONE) {
            mqota_state_msg_t m = state_msg();
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
    harness_snapshot_free(&snapshot);

    double t1 = harness_now_s(CLOCK_MONOTONIC), c1 = harness_now_s(CLOCK_PROCESS_CPUTIME_ID);
    /* One line: what was cut, where each cut ended, what went wrong, what it cost. */
    printf("power-loss sweep, %s: %u of %llu flash operations cut (%s): booted old %u, new %u; "
           "retry deployment after the bootloader's abort %u [",
           what, tried, (unsigned long long)total, tried < total ? "evenly spread" : "every one",
           old_boots, new_boots, retries);
    for (unsigned i = 0; i < retries && i < SWEEP_LISTED; i++)
        printf(i ? " %u" : "%u", retry_at[i]);
    printf("]; resumed mid-transfer %u; bricks %u, incoherent %u, not completed %u, cut not "
           "reached %u; %.2f s wall, %.2f s CPU\n",
           resumed, bricks, incoherent, stuck, no_cut, t1 - t0, c1 - c0);

    assert_int_equal(bricks, 0);
    assert_int_equal(incoherent, 0);
    assert_int_equal(stuck, 0);
    assert_int_equal(no_cut, 0);
    assert_int_equal(old_boots + new_boots, tried);
    unlink(flash_path);
    char ef[sizeof(flash_path) + sizeof(EFUSE_FILE_SUFFIX)];
    if (efuse_path(flash_path, ef, sizeof(ef)) == 0) unlink(ef);
}

/* The first update after `idf.py flash`: otadata blank, so ESP-IDF would refuse to mark the new
 * image invalid; a cut while it is pending verify is the bootloader's abort. */
static void test_power_loss_sweep(void **state)
{
    (void)state;
    sweep(DEV_FLASHED, "first update after idf.py flash");
}

/* A device whose running slot was selected through otadata before: the abort falls back on
 * the other otadata entry. */
static void test_power_loss_sweep_selected(void **state)
{
    (void)state;
    sweep(DEV_SELECTED, "ota_0 selected through otadata");
}

/* A device running from ota_1: the update goes into ota_0, which a blank or torn otadata would
 * boot first; esp_ota_begin() erases the inactive otadata sector (it selected ota_0). */
static void test_power_loss_sweep_on_ota_1(void **state)
{
    (void)state;
    sweep(DEV_ON_OTA_1, "running from ota_1");
}

static int group_setup(void **state)
{
    (void)state;
    FILE *fp = fopen(IMG_2024, "rb");
    if (fp == NULL) return -1;
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    image = malloc((size_t)n);
    served = malloc((size_t)n);
    if (image == NULL || served == NULL || fread(image, 1, (size_t)n, fp) != (size_t)n) {
        fclose(fp);
        return -1;
    }
    fclose(fp);
    image_len = (size_t)n;
    snprintf(dir, sizeof(dir), "/tmp/test_esp_glue.XXXXXX");
    if (mkdtemp(dir) == NULL) return -1;
    snprintf(flash_path, sizeof(flash_path), "%s/dev.flash", dir);
    /* The server: the 2024 release, the bytes served() set. */
    harness_server_init(&S.srv, DEV_ID);
    S.srv.agent = &S.agent;
    S.srv.image = served;
    S.srv.image_len = image_len;
    S.srv.release_id = RELEASE;
    S.srv.deployment_id = DEPLOYMENT;
    S.srv.chunk_size = CHUNK;
    S.srv.window = WINDOW;
    S.srv.version = VER_2024;
    S.srv.project = "hello_world";
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    /* A failed test leaves its device behind: remove it here too. */
    unlink(flash_path);
    char ef[sizeof(flash_path) + sizeof(EFUSE_FILE_SUFFIX)];
    if (efuse_path(flash_path, ef, sizeof(ef)) == 0) unlink(ef);
    rmdir(dir);
    harness_snapshot_free(&snapshot);
    free(image);
    free(served);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_update),
        cmocka_unit_test(test_health_hook),
        cmocka_unit_test(test_resume_after_reset),
        cmocka_unit_test(test_corrupted_image_refused),
        cmocka_unit_test(test_self_test_failure_rolls_back),
        cmocka_unit_test(test_self_test_failure_first_update),
        cmocka_unit_test(test_emulation_refusals),
        cmocka_unit_test(test_power_loss_sweep),
        cmocka_unit_test(test_power_loss_sweep_selected),
        cmocka_unit_test(test_power_loss_sweep_on_ota_1),
    };
    return mqota_fixtures_run_group("esp_glue", tests, group_setup, group_teardown);
}
