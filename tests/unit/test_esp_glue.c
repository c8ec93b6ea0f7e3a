/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ESP-IDF port's platform hooks (ports/esp-idf/src/mqota_esp_glue.c, shared with the
 * Arduino library) run on the host: the real libmqota agent with mqota_esp_glue_hooks(), on
 * the emulation of the ESP-IDF functions the glue calls (tests/emu/esp-idf), which acts on a
 * virtual ESP32 (ports/posix: flash file, partition table, otadata, bootloader, NVS-like store).
 * The server is played by this test (OFFER and CHUNK messages built here, the window sent
 * from each ACK's base): unit tests may fake the transport. SHA-256 is OpenSSL (the port's PSA
 * hooks are not in scope); there is no release key, so no signature is checked.
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
 *  - the emulation's own refusals, with ESP-IDF's error codes.
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
#define TOPIC(leaf) "mqota/v1/dev/" DEV_ID "/" leaf
#define CHUNK 1024u
#define WINDOW 16u
#define RELEASE 41u
#define DEPLOYMENT 9u
#define SECTOR 4096u     /* SPI flash erase unit */
#define STEP_LIMIT 20000 /* process() calls before an update counts as stuck */
#define NO_PAUSE UINT32_MAX

/* The port's struct: the glue's state first (mqota_esp_glue.h), then the crypto state. */
typedef struct {
    mqota_esp_glue_t glue;
    EVP_MD_CTX *sha;
} port_t;

typedef enum { RUN_DONE, RUN_PAUSED, RUN_FAILED, RUN_ROLLED_BACK, RUN_STUCK } run_t;

static uint8_t *image; /* the 2024 file */
static size_t image_len;
static uint8_t *served; /* what the server sends: image, or a corrupted copy */
static uint8_t served_sha[32];
static char old_version[33]; /* the 2023 image's, as its descriptor says */
static char dir[64];
static char flash_path[96];

static struct {
    vdev_t *dev;
    boot_result_t boot;
    port_t port;
    mqota_platform_t plat;
    mqota_agent_t agent;
    uint64_t now;
    bool have_ack;
    mqota_ack_t ack;
    bool healthy;           /* what the application's self-test answers */
    uint32_t chunks_sent;
    esp_ota_img_states_t state_at_restart; /* of the update partition, at the last restart */
} S;

/* ---- hooks the port owns: transport (faked) and crypto (OpenSSL) ---- */
static int h_publish(void *c, const char *t, const uint8_t *p, size_t l, int q, bool r)
{
    (void)c;
    (void)q;
    (void)r;
    if (strcmp(t, TOPIC("ack")) == 0) {
        assert_int_equal(mqota_ack_decode(p, l, &S.ack), MQOTA_OK);
        S.have_ack = true;
    }
    return 0;
}

static int h_subscribe(void *c, const char *t, int q)
{
    (void)c;
    (void)t;
    (void)q;
    return 0;
}

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

/* Power on: open the flash file, run the virtual bootloader, attach the emulated ESP-IDF to
 * the chip, open NVS as the port does, start the agent on the glue's hooks and connect. */
static void power_on(esp_reset_reason_t why)
{
    char err[256] = "";
    assert_int_equal(vdev_open(flash_path, &S.dev, err, sizeof(err)), MQOTA_OK);
    assert_int_equal(vdev_boot(S.dev, &S.boot), MQOTA_OK);
    assert_int_equal(esp_emu_attach(S.dev, &S.boot, why), 0);
    esp_emu_set_time_us((int64_t)(S.now * 1000u));
    memset(&S.port, 0, sizeof(S.port));
    assert_int_equal(nvs_open("mqota", NVS_READWRITE, &S.port.glue.nvs), ESP_OK);
    S.port.glue.self_test = app_self_test;
    memset(&S.plat, 0, sizeof(S.plat));
    S.plat.ctx = &S.port;
    mqota_esp_glue_hooks(&S.plat);
    S.plat.publish = h_publish;
    S.plat.subscribe = h_subscribe;
    S.plat.sha256_begin = h_sha256_begin;
    S.plat.sha256_update = h_sha256_update;
    S.plat.sha256_finish = h_sha256_finish;
    S.have_ack = false;
    mqota_config_t cfg = {.device_id = DEV_ID, .max_chunk = 4096, .max_window = WINDOW,
                          .auto_reboot = true, .verify_bytes_per_process = 1u << 20};
    assert_int_equal(mqota_agent_init(&S.agent, &cfg, &S.plat, S.now), MQOTA_OK);
    assert_int_equal(mqota_agent_on_connect(&S.agent), MQOTA_OK);
}

static void power_off(void)
{
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
 * ends in esp_restart()), and come back here through the emulation's restart point. */
static void restart(void)
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
    power_on(ESP_RST_SW);
}

/* ---- the server ---- */
static void send_offer(void)
{
    mqota_offer_t o;
    uint8_t buf[MQOTA_OFFER_MAX_LEN];
    size_t len = 0;
    memset(&o, 0, sizeof(o));
    o.release_id = RELEASE;
    o.deployment_id = DEPLOYMENT;
    o.image_size = (uint32_t)image_len;
    o.chunk_size = CHUNK;
    o.window = WINDOW;
    o.chip_id = MQOTA_CHIP_ESP32;
    memcpy(o.sha256, served_sha, 32);
    snprintf(o.version, sizeof(o.version), "%s", VER_2024);
    snprintf(o.project, sizeof(o.project), "hello_world");
    assert_int_equal(mqota_offer_encode(&o, buf, sizeof(buf), &len), MQOTA_OK);
    (void)mqota_agent_on_message(&S.agent, TOPIC("offer"), buf, len);
}

static uint32_t chunk_count(void) { return (uint32_t)((image_len + CHUNK - 1u) / CHUNK); }

static void send_chunk(uint32_t index)
{
    static uint8_t buf[MQOTA_CHUNK_HEADER_LEN + CHUNK];
    uint32_t off = index * CHUNK;
    uint32_t len = (uint32_t)(image_len - off < CHUNK ? image_len - off : CHUNK);
    assert_int_equal(mqota_chunk_encode_header(RELEASE, index, served + off, len, buf, sizeof(buf)),
                     MQOTA_OK);
    memcpy(buf + MQOTA_CHUNK_HEADER_LEN, served + off, len);
    (void)mqota_agent_on_message(&S.agent, TOPIC("chunk"), buf, MQOTA_CHUNK_HEADER_LEN + len);
    S.chunks_sent++;
}

/* What the last ACK asks for: the window from its base, minus what its sack says is written;
 * no more than `budget` chunks in all. */
static void serve_ack(uint32_t budget)
{
    mqota_ack_t a = S.ack;
    S.have_ack = false;
    if (a.release_id != RELEASE || (a.flags & MQOTA_ACK_FLAG_COMPLETE) != 0u) return;
    for (uint32_t i = a.base; i < a.base + a.window && i < chunk_count(); i++) {
        if (i > a.sack_base && i <= a.sack_base + MQOTA_SACK_BITS &&
            (a.sack >> (i - a.sack_base - 1u) & 1u) != 0u)
            continue;
        if (S.chunks_sent >= budget) return;
        send_chunk(i);
    }
}

static mqota_state_msg_t state_msg(void)
{
    mqota_state_msg_t m;
    mqota_agent_state_msg(&S.agent, &m);
    return m;
}

/* Drive the update until it is confirmed on the new image, refused, rolled back, or
 * `pause_after` chunks have been sent. Restarts go through restart(); the retained offer is
 * delivered again after each. */
static run_t drive(uint32_t pause_after)
{
    for (int steps = 0; steps < STEP_LIMIT; steps++) {
        if (S.port.glue.reboot_due) { /* asked for at connect (self-test) or in process() */
            restart();
            send_offer(); /* retained: the broker delivers it on every (re)subscribe */
            continue;
        }
        mqota_state_msg_t m = state_msg();
        if (m.state == MQOTA_STATE_CONFIRMED && strcmp(m.version, VER_2024) == 0) return RUN_DONE;
        if (m.state == MQOTA_STATE_FAILED) return RUN_FAILED;
        /* Rolled back once the old image runs again (the agent reports it before its restart). */
        if (m.state == MQOTA_STATE_ROLLED_BACK && strcmp(S.boot.image.version, VER_2024) != 0)
            return RUN_ROLLED_BACK;
        if (S.chunks_sent >= pause_after) return RUN_PAUSED;
        S.now += 100;
        esp_emu_set_time_us((int64_t)(S.now * 1000u));
        (void)mqota_agent_process(&S.agent, S.now);
        if (!S.port.glue.reboot_due && S.have_ack) serve_ack(pause_after);
    }
    return RUN_STUCK;
}

/* A fresh device running 2023 (booted once), connected, offered the 2024 release. Its otadata
 * is blank, as `idf.py flash` leaves it; with `selected`, the running slot was selected
 * through otadata and confirmed before (as on a device updated before), then power-cycled. */
static void start_ex(bool corrupt, bool selected)
{
    char err[256] = "";
    memcpy(served, image, image_len);
    if (corrupt) served[image_len / 2] ^= 0x5Au; /* inside a segment: the checksum fails */
    unsigned n = 0;
    assert_int_equal(EVP_Digest(served, image_len, served_sha, &n, EVP_sha256(), NULL), 1);
    assert_int_equal(vdev_flash_create(flash_path, MQOTA_CHIP_ESP32, IMG_2023, err, sizeof(err)),
                     MQOTA_OK);
    S.now = 1000;
    S.healthy = true;
    S.chunks_sent = 0;
    power_on(ESP_RST_POWERON);
    snprintf(old_version, sizeof(old_version), "%s", S.boot.image.version);
    assert_string_not_equal(old_version, VER_2024);
    if (selected) {
        assert_int_equal(esp_ota_set_boot_partition(esp_ota_get_running_partition()), ESP_OK);
        assert_int_equal(esp_ota_mark_app_valid_cancel_rollback(), ESP_OK);
        power_off();
        power_on(ESP_RST_POWERON);
        esp_ota_img_states_t st;
        assert_int_equal(esp_ota_get_state_partition(esp_ota_get_running_partition(), &st), ESP_OK);
        assert_int_equal(st, ESP_OTA_IMG_VALID);
    }
    (void)mqota_agent_process(&S.agent, S.now);
    esp_emu_reset_counts();
    send_offer();
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
    power_on(ESP_RST_POWERON);
    assert_string_equal(S.boot.image.version, VER_2024);
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
    power_on(ESP_RST_POWERON);
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
    power_on(ESP_RST_POWERON);
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
    free(image);
    free(served);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_update),
        cmocka_unit_test(test_resume_after_reset),
        cmocka_unit_test(test_corrupted_image_refused),
        cmocka_unit_test(test_self_test_failure_rolls_back),
        cmocka_unit_test(test_self_test_failure_first_update),
        cmocka_unit_test(test_emulation_refusals),
    };
    return mqota_fixtures_run_group("esp_glue", tests, group_setup, group_teardown);
}
