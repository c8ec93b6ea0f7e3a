/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of the virtual ESP32's flash side with real images: partition table, otadata,
 * bootloader with rollback, and vdev's platform hooks. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixtures.h"
#include "image_variant.h"

#include "mqota/mqota.h"
#include "mqota/mqota_image.h"
#include "mqota_posix/otadata.h"
#include "mqota_posix/vdev.h"

#define IMG_2023 MQOTA_FIXTURES "/idf_hello_world_esp32_2023.bin"
#define IMG_2024 MQOTA_FIXTURES "/idf_hello_world_esp32_2024.bin"
#define VER_2024 "v1.4.1-2-g0296947-dirty"
#define OTADATA_OFF 0xD000u
#define NVS_OFF 0x9000u
#define NVS_SIZE 0x4000u

typedef struct {
    char dir[64];
    char path[96];
    char tmp[96];
    vdev_t *dev;
    mqota_platform_t plat;
    boot_result_t boot;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    char err[256] = "";
    snprintf(f->dir, sizeof(f->dir), "/tmp/test_boot.XXXXXX");
    if (mkdtemp(f->dir) == NULL) {
        return -1;
    }
    snprintf(f->path, sizeof(f->path), "%s/dev.flash", f->dir);
    snprintf(f->tmp, sizeof(f->tmp), "%s/tmp.bin", f->dir);
    if (vdev_flash_create(f->path, MQOTA_CHIP_ESP32, IMG_2023, err, sizeof(err)) != MQOTA_OK ||
        vdev_open(f->path, &f->dev, err, sizeof(err)) != MQOTA_OK) {
        print_error("setup: %s\n", err);
        return -1;
    }
    vdev_platform_fill(f->dev, &f->plat);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    char ef[128];
    vdev_close(f->dev);
    unlink(f->path);
    if (efuse_path(f->path, ef, sizeof(ef)) == 0) {
        unlink(ef);
    }
    if (efuse_path(f->tmp, ef, sizeof(ef)) == 0) {
        unlink(ef);
    }
    unlink(f->tmp);
    snprintf(ef, sizeof(ef), "%s.rtc", f->path); /* vdev_set_reset_reason()'s file */
    unlink(ef);
    rmdir(f->dir);
    free(f);
    return 0;
}

static uint8_t *load_file(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)n);
    assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    *len = (size_t)n;
    return buf;
}

static void do_boot(fixture_t *f)
{
    mqota_status_t st = vdev_boot(f->dev, &f->boot);
    if (st != MQOTA_OK) {
        fail_msg("boot failed: %s", f->boot.message);
    }
}

/* Write an image into a slot through the hooks, as the agent does, in 4 KiB chunks. Returns
 * slot_end's result. */
static int write_slot(fixture_t *f, uint8_t slot, const uint8_t *img, size_t len)
{
    const mqota_platform_t *p = &f->plat;
    assert_int_equal(p->slot_begin(p->ctx, slot, (uint32_t)len, 0), 0);
    for (size_t off = 0; off < len; off += 4096) {
        size_t n = len - off < 4096 ? len - off : 4096;
        assert_int_equal(p->slot_write(p->ctx, slot, (uint32_t)off, img + off, n), 0);
    }
    return p->slot_end(p->ctx, slot, (uint32_t)len);
}

static void update_to_2024(fixture_t *f)
{
    size_t len;
    uint8_t *img = load_file(IMG_2024, &len);
    assert_int_equal(write_slot(f, 1, img, len), 0);
    free(img);
    assert_int_equal(f->plat.slot_set_boot(f->plat.ctx, 1), 0);
}

static mqota_slot_state_t slot_state(fixture_t *f)
{
    mqota_slot_state_t s;
    assert_int_equal(f->plat.slot_state(f->plat.ctx, &s), 0);
    return s;
}

static void test_partition_table(void **state)
{
    fixture_t *f = *state;
    const partition_table_t *pt = vdev_partitions(f->dev);
    assert_int_equal(pt->count, 5);
    const partition_t *p = partition_find(pt, PARTITION_TYPE_APP, PARTITION_SUBTYPE_APP_OTA_1);
    assert_non_null(p);
    assert_int_equal(p->offset, 0x1F0000);
    assert_int_equal(p->size, 0x1E0000);
    assert_string_equal(p->label, "ota_1");
    p = partition_find(pt, PARTITION_TYPE_DATA, PARTITION_SUBTYPE_DATA_NVS);
    assert_int_equal(p->offset, 0x9000);
    assert_int_equal(p->size, 0x4000);
    /* Raw bytes as gen_esp32part.py writes them. */
    vflash_t *fl = vdev_flash(f->dev);
    uint8_t e[32];
    assert_int_equal(vflash_read(fl, 0x8000 + 3 * 32, e, 32), 0);
    const uint8_t ota0[16] = {0xAA, 0x50, 0x00, 0x10, 0x00, 0x00, 0x01, 0x00,
                              0x00, 0x00, 0x1E, 0x00, 'o', 't', 'a', '_'};
    assert_memory_equal(e, ota0, 16);
    assert_int_equal(vflash_read(fl, 0x8000 + 5 * 32, e, 32), 0);
    assert_int_equal(e[0], 0xEB);
    assert_int_equal(e[1], 0xEB);
    assert_int_equal(e[15], 0xFF);
    assert_int_equal(vflash_read(fl, 0x8000 + 6 * 32, e, 32), 0);
    assert_int_equal(e[0], 0xFF);
    /* A flipped bit in an entry breaks the MD5. */
    partition_table_t copy;
    uint8_t zero = 0x00;
    assert_int_equal(vflash_write(fl, 0x8000 + 3 * 32 + 12, &zero, 1), 0); /* 'o' of ota_0 */
    assert_int_equal(partition_table_read(fl, &copy), MQOTA_ERR_HASH);
}

static void test_first_boot_runs_ota0(void **state)
{
    fixture_t *f = *state;
    do_boot(f);
    assert_int_equal(f->boot.slot, 0);
    assert_false(f->boot.rolled_back);
    assert_int_equal(f->boot.boot_count, 1);
    assert_string_equal(f->boot.image.project_name, "hello_world");
    assert_string_equal(f->boot.image.version, "1");
    assert_int_equal(f->boot.image.chip_id, MQOTA_CHIP_ESP32);
    assert_int_equal(f->boot.image_len, 133392);
    assert_int_equal(f->boot.state, OTADATA_STATE_UNDEFINED);
    assert_int_equal(slot_state(f), MQOTA_SLOT_UNDEFINED);
    mqota_running_t r;
    assert_int_equal(f->plat.running(f->plat.ctx, &r), 0);
    assert_int_equal(r.running_slot, 0);
    assert_int_equal(r.slot_count, 2);
    assert_int_equal(r.boot_count, 1);
    assert_string_equal(r.project, "hello_world");
    assert_string_equal(r.version, "1");
    assert_true(strlen(r.idf_ver) > 0);
    do_boot(f);
    assert_int_equal(f->boot.boot_count, 2);
    /* The running slot cannot be written. */
    assert_int_not_equal(f->plat.slot_begin(f->plat.ctx, 0, 4096, 0), 0);
    assert_int_not_equal(f->plat.slot_write(f->plat.ctx, 0, 0, (const uint8_t *)"x", 1), 0);
    /* Bounds. */
    uint32_t size;
    assert_int_equal(f->plat.slot_size(f->plat.ctx, 1, &size), 0);
    assert_int_equal(size, 0x1E0000);
    assert_int_not_equal(f->plat.slot_begin(f->plat.ctx, 1, size + 1, 0), 0);
    assert_int_not_equal(f->plat.slot_write(f->plat.ctx, 1, size - 1, (const uint8_t *)"xy", 2), 0);
    uint8_t b[2];
    assert_int_not_equal(f->plat.slot_read(f->plat.ctx, 1, size, b, 1), 0);
    assert_int_equal(f->plat.slot_read(f->plat.ctx, 0, 0, b, 1), 0);
    assert_int_equal(b[0], 0xE9);
}

static void test_update_then_reset_rolls_back(void **state)
{
    fixture_t *f = *state;
    do_boot(f);
    update_to_2024(f);
    do_boot(f);
    assert_int_equal(f->boot.slot, 1);
    assert_false(f->boot.rolled_back);
    assert_string_equal(f->boot.image.version, VER_2024);
    assert_int_equal(f->boot.image_len, 124416);
    assert_int_equal(f->boot.state, OTADATA_STATE_PENDING_VERIFY);
    assert_int_equal(slot_state(f), MQOTA_SLOT_PENDING_VERIFY);
    /* Reset without confirming: the bootloader aborts the update. */
    do_boot(f);
    assert_int_equal(f->boot.slot, 0);
    assert_true(f->boot.rolled_back);
    assert_int_equal(f->boot.rollback_from, 1);
    assert_int_equal(f->boot.rollback_why, BOOT_ROLLBACK_ABORTED);
    assert_string_equal(f->boot.image.version, "1");
    assert_int_equal(f->boot.boot_count, 3);
    otadata_t od;
    assert_int_equal(otadata_read(vdev_flash(f->dev), OTADATA_OFF, &od), MQOTA_OK);
    assert_true(od.active >= 0);
    assert_int_equal(otadata_slot_of(&od.entry[od.active]), 1);
    assert_int_equal(od.entry[od.active].state, OTADATA_STATE_ABORTED);
    assert_int_equal(slot_state(f), MQOTA_SLOT_UNDEFINED); /* ota_0 has no entry */
    /* It stays on ota_0. */
    do_boot(f);
    assert_int_equal(f->boot.slot, 0);
    /* The aborted slot can be written again, and a new update goes through. */
    update_to_2024(f);
    do_boot(f);
    assert_int_equal(f->boot.slot, 1);
    assert_int_equal(f->boot.state, OTADATA_STATE_PENDING_VERIFY);
}

static void test_update_confirmed_stays(void **state)
{
    fixture_t *f = *state;
    do_boot(f);
    update_to_2024(f);
    do_boot(f);
    assert_int_equal(f->boot.slot, 1);
    assert_int_equal(f->plat.slot_mark_valid(f->plat.ctx), 0);
    assert_int_equal(slot_state(f), MQOTA_SLOT_VALID);
    for (int i = 0; i < 2; i++) {
        do_boot(f);
        assert_int_equal(f->boot.slot, 1);
        assert_false(f->boot.rolled_back);
        assert_int_equal(f->boot.state, OTADATA_STATE_VALID);
        assert_string_equal(f->boot.image.version, VER_2024);
    }
    /* Reopen the file (a restarted fleet): same state. */
    vdev_close(f->dev);
    char err[256];
    assert_int_equal(vdev_open(f->path, &f->dev, err, sizeof(err)), MQOTA_OK);
    vdev_platform_fill(f->dev, &f->plat);
    do_boot(f);
    assert_int_equal(f->boot.slot, 1);
    assert_int_equal(f->boot.boot_count, 5);
    /* Now ota_1 runs, so ota_1 is read-only and ota_0 writable. */
    assert_int_not_equal(f->plat.slot_begin(f->plat.ctx, 1, 4096, 0), 0);
    assert_int_equal(f->plat.slot_begin(f->plat.ctx, 0, 4096, 0), 0);
    /* mark_invalid rolls back to ota_0... which was just erased, so it refuses. */
    assert_int_not_equal(f->plat.slot_mark_invalid(f->plat.ctx), 0);
    size_t len;
    uint8_t *img = load_file(IMG_2023, &len);
    assert_int_equal(write_slot(f, 0, img, len), 0);
    free(img);
    assert_int_equal(f->plat.slot_mark_invalid(f->plat.ctx), 0);
    assert_int_equal(slot_state(f), MQOTA_SLOT_INVALID);
    do_boot(f);
    assert_int_equal(f->boot.slot, 0);
    assert_true(f->boot.rolled_back);
    assert_int_equal(f->boot.rollback_why, BOOT_ROLLBACK_INVALID);
}

static void test_corrupt_image_refused_and_bootloader_falls_back(void **state)
{
    fixture_t *f = *state;
    do_boot(f);
    size_t len;
    uint8_t *img = load_file(IMG_2024, &len);
    img[5000] ^= 0x01; /* inside segment data: checksum and hash both break */
    assert_int_not_equal(write_slot(f, 1, img, len), 0);
    assert_int_not_equal(f->plat.slot_set_boot(f->plat.ctx, 1), 0); /* verifies like ESP-IDF */
    free(img);
    /* Force the selection past the checks: the bootloader must still refuse the image. */
    assert_int_equal(otadata_set_boot(vdev_flash(f->dev), OTADATA_OFF, 1), MQOTA_OK);
    do_boot(f);
    assert_int_equal(f->boot.slot, 0);
    assert_true(f->boot.rolled_back);
    assert_int_equal(f->boot.rollback_from, 1);
    assert_int_equal(f->boot.rollback_why, BOOT_ROLLBACK_BAD_IMAGE);
    assert_string_equal(f->boot.image.version, "1");
    /* A truncated image is refused too. */
    img = load_file(IMG_2024, &len);
    assert_int_not_equal(write_slot(f, 1, img, len - 100), 0);
    free(img);
}

static void test_bricked(void **state)
{
    fixture_t *f = *state;
    do_boot(f);
    vflash_t *fl = vdev_flash(f->dev);
    uint8_t zeros[64] = {0}, was[64];
    assert_int_equal(vflash_read(fl, 0x10000 + 2000, was, sizeof(was)), 0);
    assert_memory_not_equal(was, zeros, sizeof(zeros));
    assert_int_equal(vflash_write(fl, 0x10000 + 2000, zeros, sizeof(zeros)), 0); /* corrupt ota_0 */
    mqota_status_t st = vdev_boot(f->dev, &f->boot);
    assert_int_equal(st, MQOTA_ERR_IMAGE);
    assert_non_null(strstr(f->boot.message, "bricked"));
    mqota_running_t r;
    assert_int_not_equal(f->plat.running(f->plat.ctx, &r), 0);
}

static void test_otadata_crc_matches_esp_idf(void **state)
{
    fixture_t *f = *state;
    /* esp_rom_crc32_le(UINT32_MAX, &seq, 4) == binascii.crc32(struct.pack("<I", seq), 0xFFFFFFFF) */
    assert_int_equal(otadata_crc(1), 0x4743989Au);
    assert_int_equal(otadata_crc(2), 0x55F63774u);
    assert_int_equal(otadata_crc(3), 0xED4A5011u);
    do_boot(f);
    update_to_2024(f); /* no entry yet: seq 2 (slot 1) goes to sector 0 */
    vflash_t *fl = vdev_flash(f->dev);
    uint8_t e[32];
    assert_int_equal(vflash_read(fl, OTADATA_OFF, e, 32), 0);
    const uint8_t want[32] = {0x02, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                              0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                              0xFF, 0xFF, 0xFF, 0x00, 0, 0, 0, 0x74, 0x37, 0xF6, 0x55};
    assert_memory_equal(e, want, 32);
    /* Next selection of ota_0: seq 3 in sector 1. */
    assert_int_equal(otadata_set_boot(fl, OTADATA_OFF, 0), MQOTA_OK);
    assert_int_equal(vflash_read(fl, OTADATA_OFF + 4096, e, 32), 0);
    assert_int_equal(e[0], 3);
    assert_int_equal(e[28] | e[29] << 8 | e[30] << 16 | (uint32_t)e[31] << 24, 0xED4A5011u);
    otadata_t od;
    assert_int_equal(otadata_read(fl, OTADATA_OFF, &od), MQOTA_OK);
    assert_int_equal(od.active, 1);
    /* A torn entry (bad CRC) is ignored: seq 2 in sector 0 is active again. */
    uint8_t zero = 0;
    assert_int_equal(vflash_write(fl, OTADATA_OFF + 4096 + 29, &zero, 1), 0);
    assert_int_equal(otadata_read(fl, OTADATA_OFF, &od), MQOTA_OK);
    assert_int_equal(od.active, 0);
}

static void test_create_refuses_bad_images(void **state)
{
    fixture_t *f = *state;
    char err[256] = "";
    mqota_status_t st = vdev_flash_create(f->tmp, 0, MQOTA_FIXTURES "/SOURCES.md", err, sizeof(err));
    assert_int_equal(st, MQOTA_ERR_IMAGE);
    assert_non_null(strstr(err, "not a valid ESP32 application image"));
    assert_int_not_equal(access(f->tmp, F_OK), 0); /* nothing left behind */
    st = vdev_flash_create(f->tmp, 0, MQOTA_FIXTURES "/no-such.bin", err, sizeof(err));
    assert_int_not_equal(st, MQOTA_OK);
    assert_non_null(strstr(err, "no-such.bin"));
    /* The chip id is the device's, not the image's. */
    vdev_t *dev;
    assert_int_equal(vdev_flash_create(f->tmp, MQOTA_CHIP_ESP32S3, IMG_2024, err, sizeof(err)),
                     MQOTA_OK);
    assert_int_equal(vdev_open(f->tmp, &dev, err, sizeof(err)), MQOTA_OK);
    mqota_platform_t p = {0};
    vdev_platform_fill(dev, &p);
    boot_result_t b;
    assert_int_equal(vdev_boot(dev, &b), MQOTA_OK);
    mqota_running_t r;
    assert_int_equal(p.running(p.ctx, &r), 0);
    assert_int_equal(r.chip_id, MQOTA_CHIP_ESP32S3);
    assert_string_equal(r.version, VER_2024);
    vdev_close(dev);
}

static void test_sha256_hooks(void **state)
{
    fixture_t *f = *state;
    uint8_t d[32];
    const mqota_platform_t *p = &f->plat;
    assert_int_equal(p->sha256_begin(p->ctx), 0);
    assert_int_equal(p->sha256_update(p->ctx, (const uint8_t *)"ab", 2), 0);
    assert_int_equal(p->sha256_update(p->ctx, (const uint8_t *)"c", 1), 0);
    assert_int_equal(p->sha256_finish(p->ctx, d), 0);
    const uint8_t abc[4] = {0xba, 0x78, 0x16, 0xbf};
    assert_memory_equal(d, abc, 4);
    assert_int_not_equal(p->sha256_update(p->ctx, d, 1), 0); /* no computation running */
    /* kv hooks go to the same store as the boot counter. */
    size_t n;
    uint8_t v[4];
    assert_int_equal(p->kv_get(p->ctx, "nope", v, sizeof(v), &n), MQOTA_ERR_NOT_FOUND);
    assert_int_equal(p->kv_set(p->ctx, "x", "1234", 4), 0);
    assert_int_equal(p->kv_get(p->ctx, "x", v, sizeof(v), &n), 0);
    assert_int_equal(p->kv_erase(p->ctx, "x"), 0);
    assert_int_equal(p->kv_get(p->ctx, "x", v, sizeof(v), &n), MQOTA_ERR_NOT_FOUND);
}

/* ---- NVS recovery and the eFuse identity ---- */

static int nop_publish(void *c, const char *t, const uint8_t *p, size_t n, int q, bool r)
{
    (void)c, (void)t, (void)p, (void)n, (void)q, (void)r;
    return 0;
}
static int nop_subscribe(void *c, const char *t, int q)
{
    (void)c, (void)t, (void)q;
    return 0;
}
static void nop_reboot(void *c)
{
    (void)c;
}
static uint64_t zero_ms(void *c)
{
    (void)c;
    return 0;
}

/* A user-facing sentence: one line, and no internal C function named in it. */
static void assert_user_sentence(const char *s)
{
    assert_null(strchr(s, '\n'));
    if (strstr(s, "vdev_") != NULL || strstr(s, "kv_") != NULL || strstr(s, "efuse_") != NULL) {
        fail_msg("names an internal function: %s", s);
    }
}

static void reopen(fixture_t *f)
{
    char err[1024] = "";
    vdev_close(f->dev);
    f->dev = NULL;
    if (vdev_open(f->path, &f->dev, err, sizeof(err)) != MQOTA_OK) {
        fail_msg("reopen: %s", err);
    }
    memset(&f->plat, 0, sizeof(f->plat));
    vdev_platform_fill(f->dev, &f->plat);
}

/* The agent's records as an update leaves them, under the agent's own keys. */
static const char *const AGENT_KEYS[] = {"mq.prog", "mq.boot", "mq.minsv", "mq.cmd"};

/* Erasing the NVS partition (esptool erase_region) of an updated device: it boots the image the
 * otadata selects, with the same chip, and its agent starts fresh. */
static void test_nvs_erased_device_boots_fresh(void **state)
{
    fixture_t *f = *state;
    do_boot(f);
    update_to_2024(f);
    do_boot(f);
    assert_int_equal(f->plat.slot_mark_valid(f->plat.ctx), 0);
    for (size_t i = 0; i < sizeof(AGENT_KEYS) / sizeof(AGENT_KEYS[0]); i++) {
        assert_int_equal(f->plat.kv_set(f->plat.ctx, AGENT_KEYS[i], "record", 6), 0);
    }
    do_boot(f);
    assert_int_equal(f->boot.boot_count, 3);
    efuse_t before = *vdev_efuse(f->dev);
    assert_null(vdev_notice(f->dev));

    vdev_close(f->dev);
    f->dev = NULL;
    char err[1024] = "";
    assert_int_equal(vdev_flash_erase_nvs(f->path, err, sizeof(err)), MQOTA_OK);
    reopen(f);
    const char *note = vdev_notice(f->dev);
    assert_non_null(note);
    assert_non_null(strstr(note, "NVS partition 'nvs'"));
    assert_non_null(strstr(note, f->path));
    assert_non_null(strstr(note, "starts fresh"));
    assert_user_sentence(note);
    /* Same chip, same MAC: they are in the eFuse file. */
    assert_int_equal(vdev_chip_id(f->dev), MQOTA_CHIP_ESP32);
    assert_memory_equal(vdev_efuse(f->dev)->mac, before.mac, 6);
    size_t n;
    uint8_t v[16];
    for (size_t i = 0; i < sizeof(AGENT_KEYS) / sizeof(AGENT_KEYS[0]); i++) {
        assert_int_equal(f->plat.kv_get(f->plat.ctx, AGENT_KEYS[i], v, sizeof(v), &n),
                         MQOTA_ERR_NOT_FOUND);
    }
    do_boot(f);
    assert_int_equal(f->boot.slot, 1); /* what the otadata selects */
    assert_string_equal(f->boot.image.version, VER_2024);
    assert_int_equal(f->boot.boot_count, 1);
    /* The agent starts fresh and reports the running image and the chip. */
    mqota_platform_t plat = f->plat;
    plat.publish = nop_publish;
    plat.subscribe = nop_subscribe;
    plat.reboot = nop_reboot;
    plat.now_ms = zero_ms;
    mqota_config_t cfg = {.device_id = "vdev-0001", .max_chunk = 4096, .max_window = 16};
    mqota_agent_t *agent = calloc(1, sizeof(*agent));
    assert_non_null(agent);
    assert_int_equal(mqota_agent_init(agent, &cfg, &plat, 0), MQOTA_OK);
    assert_int_equal(mqota_agent_state(agent), MQOTA_STATE_IDLE);
    mqota_running_t r;
    assert_int_equal(f->plat.running(f->plat.ctx, &r), 0);
    assert_int_equal(r.chip_id, MQOTA_CHIP_ESP32);
    assert_int_equal(r.running_slot, 1);
    assert_string_equal(r.version, VER_2024);
    free(agent);
    /* Only this open repaired something. */
    reopen(f);
    assert_null(vdev_notice(f->dev));
}

/* Write `path`'s image with secure_version sv into `slot` through the hooks. */
static void write_variant(fixture_t *f, uint8_t slot, const char *path, const char *version,
                          uint32_t sv)
{
    size_t len;
    char err[256] = "";
    uint8_t *img = load_file(path, &len);
    if (image_variant_apply(img, len, version, &sv, err, sizeof(err)) != 0) {
        fail_msg("variant: %s", err);
    }
    assert_int_equal(write_slot(f, slot, img, len), 0);
    free(img);
}

/* Anti-rollback (CONFIG_BOOTLOADER_APP_ANTI_ROLLBACK): once the eFuse secure version is 3, an
 * image with secure_version 2 is not booted even when otadata selects it, erasing NVS does not
 * lower the eFuse value, and with no image at or above it the device is bricked. */
static void test_bootloader_refuses_below_efuse_secure_version(void **state)
{
    fixture_t *f = *state;
    do_boot(f);
    uint32_t min = 99;
    assert_non_null(f->plat.secure_version_read);
    assert_int_equal(f->plat.secure_version_read(f->plat.ctx, &min), 0);
    assert_int_equal(min, 0u);
    write_variant(f, 1, IMG_2024, "sv-3", 3);
    assert_int_equal(f->plat.slot_set_boot(f->plat.ctx, 1), 0);
    do_boot(f);
    assert_int_equal(f->boot.slot, 1);
    assert_int_equal(f->plat.slot_mark_valid(f->plat.ctx), 0);
    assert_int_equal(f->plat.secure_version_raise(f->plat.ctx, 3), 0);
    assert_int_equal(f->plat.secure_version_read(f->plat.ctx, &min), 0);
    assert_int_equal(min, 3u);
    assert_int_equal(f->plat.secure_version_raise(f->plat.ctx, 1), 0); /* one way */
    assert_int_equal(f->plat.secure_version_read(f->plat.ctx, &min), 0);
    assert_int_equal(min, 3u);

    /* An older image forced into the selection: the bootloader keeps the newer one. */
    write_variant(f, 0, IMG_2023, "sv-2", 2);
    assert_int_equal(otadata_set_boot(vdev_flash(f->dev), OTADATA_OFF, 0), MQOTA_OK);
    do_boot(f);
    assert_int_equal(f->boot.slot, 1);
    assert_true(f->boot.rolled_back);
    assert_int_equal(f->boot.rollback_from, 0);
    assert_int_equal(f->boot.rollback_why, BOOT_ROLLBACK_BAD_IMAGE);
    assert_string_equal(f->boot.image.version, "sv-3");
    assert_non_null(strstr(f->boot.message, "secure_version 2 is below the eFuse secure version 3"));

    /* Erasing NVS leaves the eFuse alone: the older image still does not boot. */
    vdev_close(f->dev);
    f->dev = NULL;
    char err[1024] = "";
    assert_int_equal(vdev_flash_erase_nvs(f->path, err, sizeof(err)), MQOTA_OK);
    reopen(f);
    assert_int_equal(f->plat.secure_version_read(f->plat.ctx, &min), 0);
    assert_int_equal(min, 3u);
    assert_int_equal(otadata_set_boot(vdev_flash(f->dev), OTADATA_OFF, 0), MQOTA_OK);
    do_boot(f);
    assert_int_equal(f->boot.slot, 1);
    assert_string_equal(f->boot.image.version, "sv-3");

    /* An image at the eFuse value boots. */
    write_variant(f, 0, IMG_2023, "sv-3b", 3);
    assert_int_equal(otadata_set_boot(vdev_flash(f->dev), OTADATA_OFF, 0), MQOTA_OK);
    do_boot(f);
    assert_int_equal(f->boot.slot, 0);
    assert_false(f->boot.rolled_back);

    /* Raised past both images: nothing may boot. */
    assert_int_equal(f->plat.secure_version_raise(f->plat.ctx, 4), 0);
    assert_int_equal(vdev_boot(f->dev, &f->boot), MQOTA_ERR_IMAGE);
    assert_non_null(strstr(f->boot.message, "bricked"));
    assert_non_null(strstr(f->boot.message, "below the eFuse secure version 4"));
}

/* Corrupt NVS (a torn header) or a page of a newer format: erased and initialised again, as
 * an ESP-IDF application does on ESP_ERR_NVS_NO_FREE_PAGES / ESP_ERR_NVS_NEW_VERSION_FOUND. */
static void test_nvs_corrupt_or_newer_is_reinitialised(void **state)
{
    fixture_t *f = *state;
    for (int round = 0; round < 2; round++) {
        assert_int_equal(f->plat.kv_set(f->plat.ctx, "mq.prog", "x", 1), 0);
        vflash_t *fl = vdev_flash(f->dev);
        uint8_t h[16];
        assert_int_equal(vflash_read(fl, NVS_OFF, h, sizeof(h)), 0);
        assert_int_equal(vflash_erase(fl, NVS_OFF, NVS_SIZE), 0);
        if (round == 0) {
            memset(h + 8, 0x00, 4); /* generation and crc no longer agree */
        } else {
            h[4] = 2; /* format version 2 */
        }
        assert_int_equal(vflash_write(fl, NVS_OFF, h, sizeof(h)), 0);
        reopen(f);
        const char *note = vdev_notice(f->dev);
        assert_non_null(note);
        assert_non_null(strstr(note, "was corrupt or of a newer format: erased and initialised"));
        assert_user_sentence(note);
        size_t n;
        uint8_t v[4];
        assert_int_equal(f->plat.kv_get(f->plat.ctx, "mq.prog", v, sizeof(v), &n),
                         MQOTA_ERR_NOT_FOUND);
        do_boot(f);
        assert_int_equal(f->boot.slot, 0);
        assert_int_equal(vdev_chip_id(f->dev), MQOTA_CHIP_ESP32);
    }
}

/* A flash file of an older build: no eFuse file, the chip id in NVS. Migrated once. */
static void test_legacy_flash_migrated(void **state)
{
    fixture_t *f = *state;
    char ef[128], err[1024] = "";
    assert_int_equal(efuse_path(f->path, ef, sizeof(ef)), 0);
    const uint8_t chip[2] = {MQOTA_CHIP_ESP32C3, 0};
    assert_int_equal(kv_set(vdev_kv(f->dev), VDEV_LEGACY_CHIP_KEY, chip, sizeof(chip)), MQOTA_OK);
    vdev_close(f->dev);
    f->dev = NULL;
    assert_int_equal(unlink(ef), 0);
    reopen(f);
    assert_int_equal(vdev_chip_id(f->dev), MQOTA_CHIP_ESP32C3);
    assert_non_null(vdev_notice(f->dev));
    assert_non_null(strstr(vdev_notice(f->dev), "moved chip id 0x0005 to the new eFuse file"));
    assert_user_sentence(vdev_notice(f->dev));
    assert_int_equal(access(ef, F_OK), 0);
    size_t n;
    uint8_t v[2];
    assert_int_equal(kv_get(vdev_kv(f->dev), VDEV_LEGACY_CHIP_KEY, v, sizeof(v), &n),
                     MQOTA_ERR_NOT_FOUND);
    efuse_t burnt = *vdev_efuse(f->dev);
    /* From now on the eFuse file is the identity: an erased NVS changes nothing. */
    vdev_close(f->dev);
    f->dev = NULL;
    assert_int_equal(vdev_flash_erase_nvs(f->path, err, sizeof(err)), MQOTA_OK);
    reopen(f);
    assert_int_equal(vdev_chip_id(f->dev), MQOTA_CHIP_ESP32C3);
    assert_memory_equal(vdev_efuse(f->dev)->mac, burnt.mac, 6);
    do_boot(f);
}

/* No eFuse file and nothing to migrate, or a damaged eFuse file: refused with a sentence that
 * names the files and what to do, and no internal function. */
static void test_lost_identity_refused_with_a_sentence(void **state)
{
    fixture_t *f = *state;
    char ef[128], err[1024] = "";
    assert_int_equal(efuse_path(f->path, ef, sizeof(ef)), 0);
    vdev_close(f->dev);
    f->dev = NULL;
    assert_int_equal(chmod(ef, 0644), 0);
    FILE *fp = fopen(ef, "r+b");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, 14, SEEK_SET), 0);
    assert_int_equal(fputc(0x77, fp), 0x77); /* the chip id, under the crc */
    assert_int_equal(fclose(fp), 0);
    vdev_t *dev = NULL;
    assert_int_equal(vdev_open(f->path, &dev, err, sizeof(err)), MQOTA_ERR_CRC);
    assert_null(dev);
    assert_non_null(strstr(err, ef));
    assert_non_null(strstr(err, "CRC-32 does not match"));
    assert_non_null(strstr(err, "create the device again"));
    assert_user_sentence(err);

    assert_int_equal(unlink(ef), 0);
    assert_int_equal(vdev_open(f->path, &dev, err, sizeof(err)), MQOTA_ERR_NOT_FOUND);
    assert_null(dev);
    assert_non_null(strstr(err, "has no eFuse file"));
    assert_non_null(strstr(err, "create the device again"));
    assert_user_sentence(err);
    assert_int_not_equal(access(ef, F_OK), 0); /* nothing burnt from nothing */
}

/* The virtual chip's reset reason (vdev_set_reset_reason(), <flash>.rtc): power-on when new,
 * when killed (booted again without a word) and after a clean boot; software and panic when
 * announced, the panic's crash text kept (control bytes replaced) until the next panic; the
 * health hook reports them. */
static void test_reset_reason(void **state)
{
    fixture_t *f = *state;
    char rtc[128], err[256] = "";
    mqota_health_t h;
    snprintf(rtc, sizeof(rtc), "%s.rtc", f->path);
    assert_int_equal(vdev_boot(f->dev, &f->boot), MQOTA_OK);
    assert_int_equal(vdev_reset_reason(f->dev), MQOTA_RESET_POWER_ON);
    assert_int_not_equal(access(rtc, F_OK), 0); /* nothing to keep: no file */
    assert_non_null(f->plat.health);
    memset(&h, 0x55, sizeof(h));
    assert_int_equal(f->plat.health(f->plat.ctx, &h), 0);
    assert_int_equal(h.reset_reason, MQOTA_RESET_POWER_ON);
    assert_string_equal(h.crash, "");

    /* a restart the device asked for, across a close (the process of a restart) */
    assert_int_equal(vdev_set_reset_reason(f->dev, MQOTA_RESET_SOFTWARE, NULL), MQOTA_OK);
    vdev_close(f->dev);
    assert_int_equal(vdev_open(f->path, &f->dev, err, sizeof(err)), MQOTA_OK);
    vdev_platform_fill(f->dev, &f->plat);
    assert_int_equal(vdev_boot(f->dev, &f->boot), MQOTA_OK);
    assert_int_equal(vdev_reset_reason(f->dev), MQOTA_RESET_SOFTWARE);
    /* killed: boots again without a word */
    assert_int_equal(vdev_boot(f->dev, &f->boot), MQOTA_OK);
    assert_int_equal(vdev_reset_reason(f->dev), MQOTA_RESET_POWER_ON);

    /* a panic with its reason; a control byte is not kept */
    assert_int_equal(vdev_set_reset_reason(f->dev, MQOTA_RESET_PANIC, "LoadProhibited\x1b[31m"),
                     MQOTA_OK);
    assert_int_equal(vdev_boot(f->dev, &f->boot), MQOTA_OK);
    assert_int_equal(f->plat.health(f->plat.ctx, &h), 0);
    assert_int_equal(h.reset_reason, MQOTA_RESET_PANIC);
    assert_string_equal(h.crash, "LoadProhibited?[31m");
    /* power cut after it: power-on, the last crash kept */
    assert_int_equal(vdev_boot(f->dev, &f->boot), MQOTA_OK);
    assert_int_equal(f->plat.health(f->plat.ctx, &h), 0);
    assert_int_equal(h.reset_reason, MQOTA_RESET_POWER_ON);
    assert_string_equal(h.crash, "LoadProhibited?[31m");
    assert_int_equal(vdev_set_reset_reason(f->dev, MQOTA_RESET_MAX + 1, NULL), MQOTA_ERR_ARG);
    assert_int_equal(vdev_set_reset_reason(NULL, MQOTA_RESET_PANIC, NULL), MQOTA_ERR_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reset_reason, setup, teardown),
        cmocka_unit_test_setup_teardown(test_partition_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_first_boot_runs_ota0, setup, teardown),
        cmocka_unit_test_setup_teardown(test_update_then_reset_rolls_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_update_confirmed_stays, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_image_refused_and_bootloader_falls_back,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_bricked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_otadata_crc_matches_esp_idf, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_refuses_bad_images, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sha256_hooks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nvs_erased_device_boots_fresh, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nvs_corrupt_or_newer_is_reinitialised, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_legacy_flash_migrated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bootloader_refuses_below_efuse_secure_version,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_lost_identity_refused_with_a_sentence, setup,
                                        teardown),
    };
    return mqota_fixtures_run_group("boot", tests, NULL, NULL);
}
