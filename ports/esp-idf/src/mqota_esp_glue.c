/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The platform hooks every ESP32 port shares (mqota_esp_glue.h), on ESP-IDF's own APIs:
 *
 *  - flash slots on esp_ota_ops: the slot to write is esp_ota_get_next_update_partition();
 *    chunks land out of order with esp_ota_write_with_offset(); after a reset the download
 *    continues with esp_ota_resume(), which erases nothing, and only the part not yet written
 *    is erased (esp_partition_erase_range). esp_ota_end() validates the image,
 *    esp_ota_set_boot_partition() selects it; rollback is esp_ota_get_state_partition(),
 *    esp_ota_mark_app_valid_cancel_rollback() and esp_ota_mark_app_invalid_rollback_and_reboot().
 *  - records in NVS blobs (nvs_set_blob + nvs_commit: NVS keeps the old value until the new
 *    one is written, so either survives a power cut);
 *  - esp_timer for the clock, esp_restart(), esp_reset_reason() in diagnostics.
 *
 * The ESP-IDF component (ports/esp-idf) and the Arduino library (ports/arduino, on
 * Arduino-ESP32 2.x = ESP-IDF 4.4) both build this file, each with its own transport and
 * crypto. Every hook runs in the port's agent task (ESP-IDF) or loop() (Arduino).
 */
#include <stdio.h>
#include <string.h>

#include "esp_idf_version.h"
#include "esp_image_format.h"
#include "esp_partition.h"
#include "esp_system.h"
#include "esp_timer.h"
#include "mqota_esp_glue.h"
#include "sdkconfig.h"
#if ESP_IDF_VERSION >= ESP_IDF_VERSION_VAL(5, 0, 0)
#include "esp_app_desc.h"
#endif
/* The last crash's text from the core dump in flash (docs/ESP-IDF.md "Device health"):
 * esp_core_dump_get_panic_reason() exists from ESP-IDF 5.3, on ELF core dumps in flash. */
#if defined(CONFIG_ESP_COREDUMP_ENABLE_TO_FLASH) && CONFIG_ESP_COREDUMP_ENABLE_TO_FLASH && \
    ESP_IDF_VERSION >= ESP_IDF_VERSION_VAL(5, 3, 0)
#define MQOTA_ESP_CRASH_TEXT 1
#include "esp_core_dump.h"
#endif
#if defined(CONFIG_BOOTLOADER_APP_ANTI_ROLLBACK)
#include "esp_efuse.h"
#endif

#if !defined(CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE)
#error "mqota needs CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE (menuconfig: Bootloader config > Application Rollback > Enable app rollback support): without it the bootloader never keeps a new image pending-verify, so an image that fails its self-test cannot be rolled back"
#endif

/* ESP-IDF 5.5 and master have esp_ota_resume(), which continues a download without erasing
 * what is written, and esp_ota_mark_app_invalid_rollback(), which rolls back without
 * restarting. Older versions (or MQOTA_ESP_IDF_BEFORE_5_5, to compile-check this path) take
 * the fallbacks: a resumed download writes through esp_partition_* and is validated with
 * esp_image_verify(), as esp_ota_end() would; the roll back waits for the restart and is
 * esp_ota_mark_app_invalid_rollback_and_reboot(). */
#if ESP_IDF_VERSION >= ESP_IDF_VERSION_VAL(5, 5, 0) && !defined(MQOTA_ESP_IDF_BEFORE_5_5)
#define MQOTA_ESP_IDF_5_5 1
#else
#define MQOTA_ESP_IDF_5_5 0
#endif

#define SECTOR 4096u /* SPI flash erase unit (SPI_FLASH_SEC_SIZE) */

/* The running image's description: esp_app_get_description() from ESP-IDF 5.0,
 * esp_ota_get_app_description() before. */
static const esp_app_desc_t *app_description(void)
{
#if ESP_IDF_VERSION >= ESP_IDF_VERSION_VAL(5, 0, 0)
    return esp_app_get_description();
#else
    return esp_ota_get_app_description();
#endif
}

static const esp_partition_t *slot_partition(uint8_t slot)
{
    return esp_partition_find_first(ESP_PARTITION_TYPE_APP,
                                    (esp_partition_subtype_t)(ESP_PARTITION_SUBTYPE_APP_OTA_MIN + slot),
                                    NULL);
}

/* The partition the agent may write: it must be the one ESP-IDF would update next (never
 * the running one). NULL otherwise. */
static const esp_partition_t *update_partition(mqota_esp_glue_t *e, uint8_t slot)
{
    const esp_partition_t *p = slot_partition(slot);
    if (p == NULL || p != esp_ota_get_next_update_partition(NULL)) return NULL;
    e->update = p;
    return p;
}

static mqota_slot_state_t slot_state_from(esp_ota_img_states_t s)
{
    switch (s) {
    case ESP_OTA_IMG_NEW: return MQOTA_SLOT_NEW;
    case ESP_OTA_IMG_PENDING_VERIFY: return MQOTA_SLOT_PENDING_VERIFY;
    case ESP_OTA_IMG_VALID: return MQOTA_SLOT_VALID;
    case ESP_OTA_IMG_INVALID: return MQOTA_SLOT_INVALID;
    case ESP_OTA_IMG_ABORTED: return MQOTA_SLOT_ABORTED;
    default: return MQOTA_SLOT_UNDEFINED;
    }
}

/* Copy at most cap-1 bytes of a fixed-size, possibly unterminated field. */
static void copy_field(char *dst, size_t cap, const char *src, size_t src_len)
{
    size_t n = strnlen(src, src_len);
    if (n >= cap) n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* ---- running image ------------------------------------------------------------------- */

static int h_running(void *ctx, mqota_running_t *out)
{
    const mqota_esp_glue_t *e = ctx;
    const esp_partition_t *run = esp_ota_get_running_partition();
    const esp_app_desc_t *d = app_description();
    if (run == NULL || d == NULL) return -1;
    memset(out, 0, sizeof(*out));
    out->chip_id = (uint16_t)CONFIG_IDF_FIRMWARE_CHIP_ID;
    out->slot_count = esp_ota_get_app_partition_count();
    if (out->slot_count == 0) return -1;
    /* The agent writes slot (running_slot + 1) % slot_count; that must be the partition
     * esp_ota_get_next_update_partition() names, also when a factory app runs. */
    const esp_partition_t *next = esp_ota_get_next_update_partition(NULL);
    if (next == NULL || next->subtype < ESP_PARTITION_SUBTYPE_APP_OTA_MIN ||
        next->subtype >= ESP_PARTITION_SUBTYPE_APP_OTA_MAX)
        return -1;
    uint8_t next_slot = (uint8_t)(next->subtype - ESP_PARTITION_SUBTYPE_APP_OTA_MIN);
    out->running_slot = (uint8_t)((next_slot + out->slot_count - 1u) % out->slot_count);
    copy_field(out->project, sizeof(out->project), d->project_name, sizeof(d->project_name));
    copy_field(out->version, sizeof(out->version), d->version, sizeof(d->version));
    copy_field(out->idf_ver, sizeof(out->idf_ver), d->idf_ver, sizeof(d->idf_ver));
    out->boot_count = e->boot_count;
    return 0;
}

/* ---- flash slots --------------------------------------------------------------------- */

static int h_slot_size(void *ctx, uint8_t slot, uint32_t *bytes)
{
    (void)ctx;
    const esp_partition_t *p = slot_partition(slot);
    if (p == NULL) return -1;
    *bytes = (uint32_t)p->size;
    return 0;
}

static void close_ota(mqota_esp_glue_t *e)
{
    if (e->ota_open) (void)esp_ota_abort(e->ota);
    e->ota_open = false;
    e->direct = false;
}

/* Begin (erase_from 0) or resume a download into `slot`. A fresh start is esp_ota_begin(),
 * which erases the image's sectors; a resume keeps [0, erase_from) and erases the rest up to
 * the image's last sector, so that esp_ota_write_with_offset() finds erased flash. */
static int h_slot_begin(void *ctx, uint8_t slot, uint32_t image_size, uint32_t erase_from)
{
    mqota_esp_glue_t *e = ctx;
    const esp_partition_t *p = update_partition(e, slot);
    uint32_t end = (image_size + SECTOR - 1u) / SECTOR * SECTOR;
    if (p == NULL || image_size == 0 || end > p->size || erase_from % SECTOR != 0) return -1;
    close_ota(e);
    if (erase_from == 0) {
        if (esp_ota_begin(p, image_size, &e->ota) != ESP_OK) return -1;
        e->ota_open = true;
        return 0;
    }
    if (erase_from < end && esp_partition_erase_range(p, erase_from, end - erase_from) != ESP_OK)
        return -1;
#if MQOTA_ESP_IDF_5_5
    if (esp_ota_resume(p, 0, erase_from, &e->ota) != ESP_OK) return -1;
    e->ota_open = true;
#else
    e->direct = true;
#endif
    return 0;
}

static int h_slot_write(void *ctx, uint8_t slot, uint32_t offset, const uint8_t *data, size_t len)
{
    mqota_esp_glue_t *e = ctx;
    const esp_partition_t *p = update_partition(e, slot);
    if (p == NULL) return -1;
    if (e->ota_open) return esp_ota_write_with_offset(e->ota, data, len, offset) == ESP_OK ? 0 : -1;
    if (e->direct) return esp_partition_write(p, offset, data, len) == ESP_OK ? 0 : -1;
    return -1;
}

static int h_slot_read(void *ctx, uint8_t slot, uint32_t offset, uint8_t *data, size_t len)
{
    (void)ctx;
    const esp_partition_t *p = slot_partition(slot);
    if (p == NULL) return -1;
    return esp_partition_read(p, offset, data, len) == ESP_OK ? 0 : -1;
}

/* Validate the written image. After a reset between the last write and this call no OTA
 * handle is open: one is resumed at the image's end (esp_ota_end() refuses a handle that
 * wrote nothing) or, without esp_ota_resume(), the image is checked by esp_image_verify(). */
static int h_slot_end(void *ctx, uint8_t slot, uint32_t image_size)
{
    mqota_esp_glue_t *e = ctx;
    const esp_partition_t *p = update_partition(e, slot);
    if (p == NULL) return -1;
#if MQOTA_ESP_IDF_5_5
    if (!e->ota_open) {
        if (esp_ota_resume(p, 0, image_size, &e->ota) != ESP_OK) return -1;
        e->ota_open = true;
    }
#else
    (void)image_size;
    if (!e->ota_open) {
        esp_image_metadata_t meta;
        const esp_partition_pos_t pos = {.offset = p->address, .size = p->size};
        e->direct = false;
        return esp_image_verify(ESP_IMAGE_VERIFY, &pos, &meta) == ESP_OK ? 0 : -1;
    }
#endif
    e->ota_open = false; /* esp_ota_end() frees the handle whatever it returns */
    return esp_ota_end(e->ota) == ESP_OK ? 0 : -1;
}

static int h_slot_set_boot(void *ctx, uint8_t slot)
{
    mqota_esp_glue_t *e = ctx;
    const esp_partition_t *p = update_partition(e, slot);
    if (p == NULL) return -1;
    return esp_ota_set_boot_partition(p) == ESP_OK ? 0 : -1;
}

static int h_slot_state_of(void *ctx, uint8_t slot, mqota_slot_state_t *state)
{
    (void)ctx;
    const esp_partition_t *p = slot_partition(slot);
    esp_ota_img_states_t s;
    if (p == NULL) return -1;
    esp_err_t err = esp_ota_get_state_partition(p, &s);
    if (err == ESP_ERR_NOT_FOUND) { /* no otadata entry for it: never selected */
        *state = MQOTA_SLOT_UNDEFINED;
        return 0;
    }
    if (err != ESP_OK) return -1;
    *state = slot_state_from(s);
    return 0;
}

static int h_slot_state(void *ctx, mqota_slot_state_t *state)
{
    (void)ctx;
    esp_ota_img_states_t s;
    esp_err_t err = esp_ota_get_state_partition(esp_ota_get_running_partition(), &s);
    if (err == ESP_ERR_NOT_FOUND || err == ESP_ERR_NOT_SUPPORTED) { /* factory app */
        *state = MQOTA_SLOT_UNDEFINED;
        return 0;
    }
    if (err != ESP_OK) return -1;
    *state = slot_state_from(s);
    return 0;
}

static int h_slot_mark_valid(void *ctx)
{
    (void)ctx;
    return esp_ota_mark_app_valid_cancel_rollback() == ESP_OK ? 0 : -1;
}

/* Mark the running image invalid; the agent then publishes STATE "rolled-back" and asks for
 * the restart. Where esp_ota_mark_app_invalid_rollback() exists it is done now (and fails if
 * no other slot holds a valid image); before ESP-IDF 5.5 only
 * esp_ota_mark_app_invalid_rollback_and_reboot() exists, which restarts at once, so it is
 * called at the restart. A power cut in between leaves the image pending-verify, which the
 * bootloader aborts on the next boot: the device rolls back either way. */
static int h_slot_mark_invalid(void *ctx)
{
    mqota_esp_glue_t *e = ctx;
#if MQOTA_ESP_IDF_5_5
    (void)e;
    return esp_ota_mark_app_invalid_rollback() == ESP_OK ? 0 : -1;
#else
    e->rollback_due = true;
    return 0;
#endif
}

static void h_reboot(void *ctx)
{
    mqota_esp_glue_t *e = ctx;
    e->reboot_due = true; /* the port restarts after the last publishes went out */
}

void mqota_esp_glue_count_boot(mqota_esp_glue_t *e)
{
    uint8_t b[4] = {0};
    size_t n = sizeof(b);
    uint32_t count = 0;
    /* absent (first boot, NVS erased), unreadable or of another length: counting starts again */
    if (nvs_get_blob(e->nvs, MQOTA_ESP_NVS_BOOTS, b, &n) == ESP_OK && n == sizeof(b))
        count = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    count++;
    for (unsigned i = 0; i < sizeof(b); i++) b[i] = (uint8_t)(count >> (8u * i));
    e->boot_count = nvs_set_blob(e->nvs, MQOTA_ESP_NVS_BOOTS, b, sizeof(b)) == ESP_OK &&
                            nvs_commit(e->nvs) == ESP_OK
                        ? count
                        : 0u;
}

void mqota_esp_glue_restart(mqota_esp_glue_t *e)
{
    if (e->rollback_due) (void)esp_ota_mark_app_invalid_rollback_and_reboot();
    esp_restart(); /* also when rolling back failed: the bootloader aborts a pending image */
}

/* ---- key-value store (NVS) ----------------------------------------------------------- */

static int h_kv_get(void *ctx, const char *key, void *buf, size_t cap, size_t *len)
{
    mqota_esp_glue_t *e = ctx;
    size_t need = 0;
    esp_err_t err = nvs_get_blob(e->nvs, key, NULL, &need);
    if (err == ESP_ERR_NVS_NOT_FOUND) return MQOTA_ERR_NOT_FOUND;
    if (err != ESP_OK) return -1;
    *len = need;
    if (need > cap) return MQOTA_ERR_NO_SPACE;
    return nvs_get_blob(e->nvs, key, buf, len) == ESP_OK ? 0 : -1;
}

static int h_kv_set(void *ctx, const char *key, const void *buf, size_t len)
{
    mqota_esp_glue_t *e = ctx;
    if (nvs_set_blob(e->nvs, key, buf, len) != ESP_OK) return -1;
    return nvs_commit(e->nvs) == ESP_OK ? 0 : -1;
}

static int h_kv_erase(void *ctx, const char *key)
{
    mqota_esp_glue_t *e = ctx;
    esp_err_t err = nvs_erase_key(e->nvs, key);
    if (err == ESP_ERR_NVS_NOT_FOUND) return 0;
    if (err != ESP_OK) return -1;
    return nvs_commit(e->nvs) == ESP_OK ? 0 : -1;
}

/* ---- clock ---------------------------------------------------------------------------- */

static uint64_t h_now_ms(void *ctx)
{
    (void)ctx;
    return (uint64_t)esp_timer_get_time() / 1000u;
}

/* ---- diagnostics, self-test ----------------------------------------------------------- */

static const char *reset_reason_name(esp_reset_reason_t r)
{
    switch (r) {
    case ESP_RST_POWERON: return "poweron";
    case ESP_RST_EXT: return "external";
    case ESP_RST_SW: return "software";
    case ESP_RST_PANIC: return "panic";
    case ESP_RST_INT_WDT: return "int-wdt";
    case ESP_RST_TASK_WDT: return "task-wdt";
    case ESP_RST_WDT: return "wdt";
    case ESP_RST_DEEPSLEEP: return "deepsleep";
    case ESP_RST_BROWNOUT: return "brownout";
    default: return "other";
    }
}

static size_t h_diagnostics(void *ctx, char *buf, size_t cap)
{
    mqota_esp_glue_t *e = ctx;
    esp_reset_reason_t r = esp_reset_reason();
    int n = snprintf(buf, cap, "reset_reason=%s\nfree_heap=%lu\nrx_dropped=%lu\n",
                     reset_reason_name(r), (unsigned long)esp_get_free_heap_size(),
                     (unsigned long)e->rx_dropped);
    if (n < 0) return 0;
    size_t len = (size_t)n < cap ? (size_t)n : cap - 1;
    if (e->diagnostics != NULL && len + 1u < cap) {
        size_t more = e->diagnostics(e->diagnostics_ctx, buf + len, cap - len);
        len += more < cap - len ? more : 0u; /* an application overrunning its room adds nothing */
    }
    return len;
}

/* esp_reset_reason_t to the wire's mqota_reset_reason_t (docs/PROTOCOL.md §16), by name, so a
 * renumbering in ESP-IDF cannot change what the wire says. */
static uint8_t reset_reason_wire(esp_reset_reason_t r)
{
    switch (r) {
    case ESP_RST_POWERON: return MQOTA_RESET_POWER_ON;
    case ESP_RST_EXT: return MQOTA_RESET_EXTERNAL;
    case ESP_RST_SW: return MQOTA_RESET_SOFTWARE;
    case ESP_RST_PANIC: return MQOTA_RESET_PANIC;
    case ESP_RST_INT_WDT: return MQOTA_RESET_INT_WDT;
    case ESP_RST_TASK_WDT: return MQOTA_RESET_TASK_WDT;
    case ESP_RST_WDT: return MQOTA_RESET_WDT;
    case ESP_RST_DEEPSLEEP: return MQOTA_RESET_DEEP_SLEEP;
    case ESP_RST_BROWNOUT: return MQOTA_RESET_BROWNOUT;
    case ESP_RST_SDIO: return MQOTA_RESET_SDIO;
#if ESP_IDF_VERSION >= ESP_IDF_VERSION_VAL(5, 1, 0) /* 4.4 (Arduino core 2.x) stops at SDIO */
    case ESP_RST_USB: return MQOTA_RESET_USB;
    case ESP_RST_JTAG: return MQOTA_RESET_JTAG;
    case ESP_RST_EFUSE: return MQOTA_RESET_EFUSE;
    case ESP_RST_PWR_GLITCH: return MQOTA_RESET_POWER_GLITCH;
    case ESP_RST_CPU_LOCKUP: return MQOTA_RESET_CPU_LOCKUP;
#endif
    default: return MQOTA_RESET_UNKNOWN;
    }
}

#if defined(MQOTA_ESP_CRASH_TEXT)
/* After a reset by panic or by the interrupt or task watchdog (which go through the panic
 * handler, and so write a core dump), the panic reason the core dump in flash recorded, cut to
 * MQOTA_HEALTH_CRASH_MAX bytes, each byte outside printable ASCII as '?'; "" when there is
 * none (no dump, not ELF, or the application erased it). Other resets (power-on, the RTC
 * watchdog: no panic handler ran) send none, so an old dump is not reported again. */
static void crash_text(esp_reset_reason_t why, char *out)
{
    out[0] = '\0';
    if (why != ESP_RST_PANIC && why != ESP_RST_INT_WDT && why != ESP_RST_TASK_WDT) return;
    if (esp_core_dump_get_panic_reason(out, MQOTA_HEALTH_CRASH_MAX + 1u) != ESP_OK) {
        out[0] = '\0';
        return;
    }
    for (size_t i = 0; out[i] != '\0'; i++) {
        unsigned char c = (unsigned char)out[i];
        if (c < 0x20u || c > 0x7Eu) out[i] = '?';
    }
}
#endif

/* The port's part of a HEALTH (docs/PROTOCOL.md §16): esp_reset_reason(),
 * esp_get_minimum_free_heap_size() and the application's RSSI; with the core dump in flash
 * (CONFIG_ESP_COREDUMP_ENABLE_TO_FLASH, ESP-IDF 5.3 or later) the last crash's panic reason
 * (crash_text()), else no crash text. The RSSI comes from the application (its rssi hook:
 * esp_wifi_sta_get_ap_info() on Wi-Fi, the modem's signal quality on cellular), because the
 * application owns the link: the port depends on neither. */
static int h_health(void *ctx, mqota_health_t *out)
{
    mqota_esp_glue_t *e = ctx;
    int8_t dbm = 0;
    esp_reset_reason_t why = esp_reset_reason();
    out->reset_reason = reset_reason_wire(why);
#if defined(MQOTA_ESP_CRASH_TEXT)
    crash_text(why, out->crash);
#endif
    out->min_free_heap = esp_get_minimum_free_heap_size();
    if (e->rssi != NULL && e->rssi(e->rssi_ctx, &dbm) == 0 && dbm < 0)
        out->rssi = dbm; /* 0 and above: not a received signal, left unknown */
    return 0;
}

static bool h_self_test(void *ctx)
{
    mqota_esp_glue_t *e = ctx;
    return e->self_test == NULL || e->self_test(e->self_test_ctx);
}

#if defined(CONFIG_BOOTLOADER_APP_ANTI_ROLLBACK)
/* With anti-rollback the bootloader refuses an image below the SECURE_VERSION eFuse field, so
 * the agent's minimum is that field, which no flash erase reaches (docs/SECURITY.md §4). */
static int h_secure_version_read(void *ctx, uint32_t *min)
{
    (void)ctx;
    *min = esp_efuse_read_secure_version();
    return 0;
}

/* One way; esp_ota_mark_app_valid_cancel_rollback() has already burnt the running image's
 * value, so this normally finds nothing to do. Fails for a value wider than the field
 * (CONFIG_BOOTLOADER_APP_SEC_VER_SIZE_EFUSE_FIELD). */
static int h_secure_version_raise(void *ctx, uint32_t to)
{
    (void)ctx;
    return esp_efuse_update_secure_version(to) == ESP_OK ? 0 : -1;
}
#endif

void mqota_esp_glue_hooks(mqota_platform_t *plat)
{
    plat->running = h_running;
    plat->slot_size = h_slot_size;
    plat->slot_begin = h_slot_begin;
    plat->slot_write = h_slot_write;
    plat->slot_read = h_slot_read;
    plat->slot_end = h_slot_end;
    plat->slot_set_boot = h_slot_set_boot;
    plat->slot_state = h_slot_state;
    plat->slot_mark_valid = h_slot_mark_valid;
    plat->slot_mark_invalid = h_slot_mark_invalid;
    plat->reboot = h_reboot;
    plat->kv_get = h_kv_get;
    plat->kv_set = h_kv_set;
    plat->kv_erase = h_kv_erase;
    plat->now_ms = h_now_ms;
    plat->slot_state_of = h_slot_state_of;
    plat->diagnostics = h_diagnostics;
    plat->self_test = h_self_test;
    plat->health = h_health;
#if defined(CONFIG_BOOTLOADER_APP_ANTI_ROLLBACK)
    plat->secure_version_read = h_secure_version_read;
    plat->secure_version_raise = h_secure_version_raise;
#endif
}
