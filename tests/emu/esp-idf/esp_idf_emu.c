/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Host emulation of exactly the ESP-IDF functions ports/esp-idf/src/mqota_esp_glue.c calls, on
 * the virtual ESP32 of ports/posix: its flash file (vflash), partition table, otadata, the
 * bootloader (boot.c, which also verifies images) and the NVS-like store (kv.c).
 *
 * Each function does what ESP-IDF documents for it: what it erases, what it refuses and with
 * which esp_err_t. The source is cited beside each one: the header is the API reference as
 * shipped in ../shared/sdk/esp-idf (master headers, components/...), the .c file is where
 * ESP-IDF implements it (app_update/esp_ota_ops.c, read where the header leaves the behaviour
 * open: what esp_ota_resume() erases, when a rollback is possible; esp_partition/,
 * nvs_flash/src/nvs_api.cpp). Written from those descriptions; no ESP-IDF code is copied.
 *
 * Not emulated: flash encryption, secure boot, secure_version anti-rollback, namespaces (the
 * store is one flat namespace), factory partitions (the virtual ESP32 has ota_0 and ota_1).
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime() */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "esp_app_desc.h"
#include "esp_core_dump.h"
#include "esp_idf_emu.h"
#include "esp_image_format.h"
#include "esp_log.h"
#include "esp_ota_ops.h"
#include "esp_partition.h"
#include "esp_system.h"
#include "esp_timer.h"
#include "nvs.h"

#include "mqota_posix/kv.h"
#include "mqota_posix/otadata.h"
#include "mqota_posix/partition.h"
#include "mqota_posix/vflash.h"

#define EMU_HANDLES 2u         /* OTA handles open at once (one per OTA slot) */
#define EMU_NVS_HANDLE 1u      /* the one nvs_handle_t nvs_open() gives */
#define EMU_FREE_HEAP 200000u  /* esp_get_free_heap_size(): a plausible ESP32 figure */
#define EMU_MIN_FREE_HEAP 180000u /* esp_get_minimum_free_heap_size() */

typedef struct {
    bool open;
    esp_ota_handle_t id;
    const esp_partition_t *part;
    uint32_t wrote; /* bytes written through this handle, or the resumed image_offset */
} emu_ota_t;

struct esp_emu {
    /* the chip's RAM: gone at a reset (esp_emu_detach() zeroes up to `restart`) */
    vdev_t *dev;
    vflash_t *fl;
    kv_t *kv;
    boot_result_t boot;
    esp_partition_t part[PARTITION_MAX];
    unsigned count;
    const esp_partition_t *running;
    const esp_partition_t *otadata;
    esp_app_desc_t desc;
    emu_ota_t ota[EMU_HANDLES];
    esp_reset_reason_t reason;
    int64_t now_us;
    bool host_clock; /* esp_timer_get_time() from CLOCK_MONOTONIC since boot_us, not now_us */
    int64_t boot_us;
    bool nvs_open;
    /* from here on, the harness's: kept across a reset */
    jmp_buf *restart;
    unsigned restarts;
    esp_ota_handle_t next_id; /* handle numbering goes on, as a test expects fresh handles */
    esp_emu_block_fn block; /* what runs while a task blocks (esp_emu_set_block_hook) */
    void *block_ctx;
    char log_prefix[64];    /* before each ESP_LOGx line (esp_emu_set_log_prefix) */
    long flip_offset;       /* fault: image offset stored with one bit flipped, or -1 */
    /* Sectors erased through esp_partition_erase_range() (and so esp_ota_begin/esp_ota_resume),
     * by partition table index; kept across esp_emu_attach() until esp_emu_reset_counts(). */
    uint64_t erased[PARTITION_MAX];
};

/* The chip the emulated calls act on: a test's one device, or the one the fleet selected. */
static esp_emu_t emu_default = {.flip_offset = -1};
static esp_emu_t *E = &emu_default;

/* ---- control ------------------------------------------------------------------------- */

int esp_emu_attach(vdev_t *dev, const boot_result_t *boot, esp_reset_reason_t reason)
{
    const partition_table_t *pt = vdev_partitions(dev);
    if (pt == NULL || pt->count > PARTITION_MAX) return -1;
    esp_emu_detach();
    E->dev = dev;
    E->fl = vdev_flash(dev);
    E->kv = vdev_kv(dev);
    E->boot = *boot;
    E->reason = reason;
    E->count = pt->count;
    for (unsigned i = 0; i < pt->count; i++) {
        const partition_t *p = &pt->part[i];
        esp_partition_t *q = &E->part[i];
        memset(q, 0, sizeof(*q));
        q->type = (esp_partition_type_t)p->type;
        q->subtype = (esp_partition_subtype_t)p->subtype;
        q->address = p->offset;
        q->size = p->size;
        q->erase_size = VFLASH_SECTOR;
        snprintf(q->label, sizeof(q->label), "%s", p->label);
        q->readonly = (p->flags & 2u) != 0u;
        if (q->type == ESP_PARTITION_TYPE_APP && q->address == boot->slot_offset) E->running = q;
        if (q->type == ESP_PARTITION_TYPE_DATA && q->subtype == ESP_PARTITION_SUBTYPE_DATA_OTA)
            E->otadata = q;
    }
    /* esp_app_get_description(): the booted image's descriptor, as the bootloader read it. */
    memset(&E->desc, 0, sizeof(E->desc));
    E->desc.secure_version = boot->image.secure_version;
    memcpy(E->desc.version, boot->image.version, sizeof(E->desc.version));
    memcpy(E->desc.project_name, boot->image.project_name, sizeof(E->desc.project_name));
    memcpy(E->desc.time, boot->image.time, sizeof(E->desc.time));
    memcpy(E->desc.date, boot->image.date, sizeof(E->desc.date));
    memcpy(E->desc.idf_ver, boot->image.idf_ver, sizeof(E->desc.idf_ver));
    memcpy(E->desc.app_elf_sha256, boot->image.app_elf_sha256, sizeof(E->desc.app_elf_sha256));
    return 0;
}

void esp_emu_detach(void)
{
    memset(E, 0, offsetof(esp_emu_t, restart)); /* the RAM; the harness's fields stay */
}

esp_emu_t *esp_emu_new(void)
{
    esp_emu_t *e = calloc(1, sizeof(*e));
    if (e != NULL) e->flip_offset = -1;
    return e;
}

void esp_emu_free(esp_emu_t *e)
{
    if (e == NULL) return;
    if (E == e) E = &emu_default;
    free(e);
}

void esp_emu_select(esp_emu_t *e) { E = e != NULL ? e : &emu_default; }

void esp_emu_set_block_hook(esp_emu_block_fn fn, void *ctx)
{
    E->block = fn;
    E->block_ctx = ctx;
}

void esp_emu__block(esp_emu_block_t what)
{
    if (E->block != NULL) E->block(E->block_ctx, what);
}

void esp_emu_set_flip_offset(long image_offset) { E->flip_offset = image_offset; }

void esp_emu_set_log_prefix(const char *prefix)
{
    snprintf(E->log_prefix, sizeof(E->log_prefix), "%s", prefix != NULL ? prefix : "");
}

/* esp_log.h ESP_LOGx(): one line per call, "<level> (<tag>) <message>", after the chip's
 * prefix. */
void esp_emu_log(char level, const char *tag, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s%s%c (%s) %s\n", E->log_prefix, E->log_prefix[0] ? ": " : "", level, tag,
            msg);
}

/* esp_err.h esp_err_to_name(): the macro's name for the codes this emulation returns. */
const char *esp_err_to_name(esp_err_t code)
{
    static const struct {
        esp_err_t code;
        const char *name;
    } names[] = {
        {ESP_OK, "ESP_OK"},
        {ESP_FAIL, "ESP_FAIL"},
        {ESP_ERR_NO_MEM, "ESP_ERR_NO_MEM"},
        {ESP_ERR_INVALID_ARG, "ESP_ERR_INVALID_ARG"},
        {ESP_ERR_INVALID_STATE, "ESP_ERR_INVALID_STATE"},
        {ESP_ERR_INVALID_SIZE, "ESP_ERR_INVALID_SIZE"},
        {ESP_ERR_NOT_FOUND, "ESP_ERR_NOT_FOUND"},
        {ESP_ERR_NOT_SUPPORTED, "ESP_ERR_NOT_SUPPORTED"},
        {ESP_ERR_FLASH_OP_FAIL, "ESP_ERR_FLASH_OP_FAIL"},
        {ESP_ERR_NVS_NOT_FOUND, "ESP_ERR_NVS_NOT_FOUND"},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (names[i].code == code) return names[i].name;
    return "UNKNOWN ERROR";
}

void esp_emu_set_time_us(int64_t us)
{
    E->host_clock = false;
    E->now_us = us;
}

void esp_emu_use_host_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    E->host_clock = true;
    E->boot_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

jmp_buf *esp_emu_set_restart_jump(jmp_buf *jb)
{
    jmp_buf *was = E->restart;
    E->restart = jb;
    return was;
}

unsigned esp_emu_restarts(void) { return E->restarts; }

uint64_t esp_emu_erased_sectors(uint8_t slot)
{
    for (unsigned i = 0; i < E->count; i++) {
        if (E->part[i].type == ESP_PARTITION_TYPE_APP &&
            (unsigned)E->part[i].subtype == ESP_PARTITION_SUBTYPE_APP_OTA_MIN + (unsigned)slot)
            return E->erased[i];
    }
    return 0;
}

void esp_emu_reset_counts(void) { memset(E->erased, 0, sizeof(E->erased)); }

/* ---- helpers ---------------------------------------------------------------------------- */

static bool known_partition(const esp_partition_t *p)
{
    return E->dev != NULL && p >= &E->part[0] && p < &E->part[E->count];
}

static bool is_ota_app(const esp_partition_t *p)
{
    return p != NULL && p->type == ESP_PARTITION_TYPE_APP &&
           p->subtype >= ESP_PARTITION_SUBTYPE_APP_OTA_MIN &&
           p->subtype < ESP_PARTITION_SUBTYPE_APP_OTA_MAX;
}

static uint8_t slot_of(const esp_partition_t *p)
{
    return (uint8_t)(p->subtype - ESP_PARTITION_SUBTYPE_APP_OTA_MIN);
}

static emu_ota_t *handle_of(esp_ota_handle_t h)
{
    for (unsigned i = 0; i < EMU_HANDLES; i++) {
        if (E->ota[i].open && E->ota[i].id == h) return &E->ota[i];
    }
    return NULL;
}

/* The bootloader's image check (boot_verify_image, the same one the virtual bootloader runs
 * at reset) over a whole app partition: the image's end is found from its segments. */
static bool image_valid(const esp_partition_t *p, uint32_t *image_len)
{
    return boot_verify_image(E->fl, p->address, p->size, 0, NULL, image_len, NULL, 0) == MQOTA_OK;
}

/* The otadata entry selecting the running partition: its sector, or -1. */
static int running_entry(otadata_t *od)
{
    if (E->otadata == NULL || E->running == NULL ||
        otadata_read(E->fl, E->otadata->address, od) != MQOTA_OK)
        return -1;
    return otadata_find_slot(od, slot_of(E->running));
}

/* ---- esp_partition -------------------------------------------------------------------- */

/* esp_partition.h esp_partition_find_first(), esp_partition/partition.c: the first partition
 * in table order with this type, subtype (ESP_PARTITION_SUBTYPE_ANY: any) and label (NULL:
 * any), or NULL. The pointer stays valid: callers compare partitions by pointer. */
const esp_partition_t *esp_partition_find_first(esp_partition_type_t type,
                                                esp_partition_subtype_t subtype, const char *label)
{
    if (E->dev == NULL) return NULL;
    for (unsigned i = 0; i < E->count; i++) {
        const esp_partition_t *p = &E->part[i];
        if (p->type == type && (subtype == ESP_PARTITION_SUBTYPE_ANY || p->subtype == subtype) &&
            (label == NULL || strcmp(label, p->label) == 0))
            return p;
    }
    return NULL;
}

/* esp_partition.h esp_partition_read(): ESP_ERR_INVALID_ARG when src_offset exceeds the
 * partition size, ESP_ERR_INVALID_SIZE when the read would go past its end. */
esp_err_t esp_partition_read(const esp_partition_t *partition, size_t src_offset, void *dst,
                             size_t size)
{
    if (!known_partition(partition) || dst == NULL) return ESP_ERR_INVALID_ARG;
    if (src_offset > partition->size) return ESP_ERR_INVALID_ARG;
    if (size > partition->size - src_offset) return ESP_ERR_INVALID_SIZE;
    return vflash_read(E->fl, partition->address + (uint32_t)src_offset, dst, size) == 0
               ? ESP_OK
               : ESP_ERR_FLASH_OP_FAIL;
}

/* esp_partition.h esp_partition_write(): the range must have been erased (NOR flash only
 * clears bits: the virtual flash ANDs, as the chip does); ESP_ERR_INVALID_ARG when dst_offset
 * exceeds the partition size, ESP_ERR_INVALID_SIZE past its end, ESP_ERR_NOT_ALLOWED for a
 * read-only partition (reported here as ESP_ERR_INVALID_ARG: the glue writes none). */
esp_err_t esp_partition_write(const esp_partition_t *partition, size_t dst_offset,
                              const void *src, size_t size)
{
    if (!known_partition(partition) || src == NULL || partition->readonly)
        return ESP_ERR_INVALID_ARG;
    if (dst_offset > partition->size) return ESP_ERR_INVALID_ARG;
    if (size > partition->size - dst_offset) return ESP_ERR_INVALID_SIZE;
    return vflash_write(E->fl, partition->address + (uint32_t)dst_offset, src, size) == 0
               ? ESP_OK
               : ESP_ERR_FLASH_OP_FAIL;
}

/* esp_partition.h esp_partition_erase_range(): offset and size must be multiples of the
 * partition's erase_size (SPI_FLASH_SEC_SIZE) else ESP_ERR_INVALID_ARG; past the end is
 * ESP_ERR_INVALID_SIZE. */
esp_err_t esp_partition_erase_range(const esp_partition_t *partition, size_t offset, size_t size)
{
    if (!known_partition(partition) || partition->readonly) return ESP_ERR_INVALID_ARG;
    if (offset > partition->size) return ESP_ERR_INVALID_ARG;
    if (size > partition->size - offset) return ESP_ERR_INVALID_SIZE;
    if (offset % partition->erase_size != 0u || size % partition->erase_size != 0u)
        return ESP_ERR_INVALID_ARG;
    if (size == 0u) return ESP_OK;
    E->erased[partition - &E->part[0]] += size / partition->erase_size;
    return vflash_erase(E->fl, partition->address + (uint32_t)offset, (uint32_t)size) == 0
               ? ESP_OK
               : ESP_ERR_FLASH_OP_FAIL;
}

/* ---- esp_ota_ops: partitions ----------------------------------------------------------- */

/* esp_ota_ops.h esp_ota_get_running_partition(): the app partition the running code executes
 * from (here: the one the virtual bootloader booted). */
const esp_partition_t *esp_ota_get_running_partition(void) { return E->running; }

/* esp_ota_ops.h esp_ota_get_next_update_partition(): the OTA app partition after start_from
 * (NULL: the running one) in subtype order, wrapping around; never start_from itself. From a
 * factory app, ota_0. NULL when there is none. */
const esp_partition_t *esp_ota_get_next_update_partition(const esp_partition_t *start_from)
{
    const esp_partition_t *from = start_from != NULL ? start_from : E->running;
    if (E->dev == NULL || from == NULL) return NULL;
    unsigned first = is_ota_app(from) ? slot_of(from) + 1u : 0u;
    for (unsigned k = 0; k < 16u; k++) {
        unsigned slot = (first + k) % 16u;
        const esp_partition_t *p = esp_partition_find_first(
            ESP_PARTITION_TYPE_APP,
            (esp_partition_subtype_t)(ESP_PARTITION_SUBTYPE_APP_OTA_MIN + slot), NULL);
        if (p != NULL && p != from) return p;
    }
    return NULL;
}

/* esp_ota_ops.h esp_ota_get_app_partition_count(): the number of OTA app partitions. */
uint8_t esp_ota_get_app_partition_count(void)
{
    uint8_t n = 0;
    for (unsigned i = 0; i < E->count; i++) n = (uint8_t)(n + (is_ota_app(&E->part[i]) ? 1u : 0u));
    return n;
}

/* ---- esp_ota_ops: writing an image ------------------------------------------------------ */

/* The checks esp_ota_begin() and esp_ota_resume() share (esp_ota_ops.h, esp_ota_ops.c):
 * ESP_ERR_INVALID_ARG (NULL, or not an OTA app partition), ESP_ERR_NOT_FOUND (not in the
 * table), ESP_ERR_OTA_PARTITION_CONFLICT (the running partition),
 * ESP_ERR_OTA_ALREADY_IN_PROGRESS (a handle is open on that partition); for esp_ota_begin()
 * only (`begin`), ESP_ERR_OTA_ROLLBACK_INVALID_STATE (with rollback enabled, the running app
 * is still pending verify: it must be confirmed first; esp_ota_resume()'s documentation does
 * not list it). Returns a free handle slot in *slot. */
static esp_err_t open_checks(const esp_partition_t *partition, esp_ota_handle_t *out, bool begin,
                             emu_ota_t **slot)
{
    if (partition == NULL || out == NULL || !is_ota_app(partition)) return ESP_ERR_INVALID_ARG;
    if (!known_partition(partition)) return ESP_ERR_NOT_FOUND;
    if (partition == E->running) return ESP_ERR_OTA_PARTITION_CONFLICT;
    otadata_t od;
    int sec = begin ? running_entry(&od) : -1;
    if (sec >= 0 && od.entry[sec].state == OTADATA_STATE_PENDING_VERIFY)
        return ESP_ERR_OTA_ROLLBACK_INVALID_STATE;
    *slot = NULL;
    for (unsigned i = 0; i < EMU_HANDLES; i++) {
        if (E->ota[i].open && E->ota[i].part == partition) return ESP_ERR_OTA_ALREADY_IN_PROGRESS;
        if (!E->ota[i].open && *slot == NULL) *slot = &E->ota[i];
    }
    return *slot != NULL ? ESP_OK : ESP_ERR_NO_MEM;
}

static esp_ota_handle_t open_handle(emu_ota_t *h, const esp_partition_t *p, uint32_t wrote)
{
    E->next_id++;
    if (E->next_id == 0u) E->next_id = 1u; /* 0 is never a valid handle */
    h->open = true;
    h->id = E->next_id;
    h->part = p;
    h->wrote = wrote;
    return h->id;
}

/* esp_ota_ops.h esp_ota_invalidate_inactive_ota_data_slot(), which esp_ota_begin() calls with
 * rollback enabled (esp_ota_ops.c erase_last_boot_app_partition(true)): the otadata sector
 * that is not the active one, if it holds a valid entry selecting another app than the
 * running one, is erased, so that the bootloader can no longer fall back to the image being
 * overwritten. Its failures are ignored, as esp_ota_begin() ignores them. */
static void invalidate_inactive_otadata(void)
{
    otadata_t od;
    if (E->otadata == NULL || E->running == NULL ||
        otadata_read(E->fl, E->otadata->address, &od) != MQOTA_OK || od.active < 0)
        return;
    int inactive = 1 - od.active;
    if (!od.valid[inactive] || otadata_slot_of(&od.entry[inactive]) == slot_of(E->running))
        return;
    (void)esp_partition_erase_range(E->otadata, (size_t)inactive * E->otadata->erase_size,
                                    E->otadata->erase_size);
}

/* esp_ota_ops.h esp_ota_begin(), esp_ota_ops.c: erases the partition up to image_size rounded
 * up to whole sectors; 0 or OTA_SIZE_UNKNOWN erase the whole partition, and
 * OTA_WITH_SEQUENTIAL_WRITES erases nothing here (ESP-IDF then erases sector by sector as
 * esp_ota_write() advances). An image_size larger than the partition is ESP_ERR_INVALID_SIZE
 * (from the erase). Then invalidate_inactive_otadata(). */
esp_err_t esp_ota_begin(const esp_partition_t *partition, size_t image_size,
                        esp_ota_handle_t *out_handle)
{
    emu_ota_t *h;
    esp_err_t err = open_checks(partition, out_handle, true, &h);
    if (err != ESP_OK) return err;
    if (image_size != OTA_WITH_SEQUENTIAL_WRITES) {
        size_t erase = partition->size;
        if (image_size != 0u && image_size != OTA_SIZE_UNKNOWN) {
            if (image_size > partition->size) return ESP_ERR_INVALID_SIZE;
            erase = (image_size + VFLASH_SECTOR - 1u) / VFLASH_SECTOR * VFLASH_SECTOR;
        }
        err = esp_partition_erase_range(partition, 0, erase);
        if (err != ESP_OK) return err;
    }
    invalidate_inactive_otadata();
    *out_handle = open_handle(h, partition, 0);
    return ESP_OK;
}

/* esp_ota_ops.h esp_ota_resume() (ESP-IDF 5.5), esp_ota_ops.c: continues an interrupted
 * download and erases NOTHING (erase_size only says whether later writes erase as they go,
 * OTA_WITH_SEQUENTIAL_WRITES, which the glue never asks for and is not emulated:
 * ESP_ERR_NOT_SUPPORTED); the handle counts image_offset bytes as written, so that
 * esp_ota_end() accepts it. ESP_ERR_INVALID_ARG for an image_offset beyond the partition,
 * then the refusals of esp_ota_begin() but the pending-verify one. */
esp_err_t esp_ota_resume(const esp_partition_t *partition, const size_t erase_size,
                         const size_t image_offset, esp_ota_handle_t *out_handle)
{
    emu_ota_t *h;
    if (partition != NULL && image_offset > partition->size) return ESP_ERR_INVALID_ARG;
    esp_err_t err = open_checks(partition, out_handle, false, &h);
    if (err != ESP_OK) return err;
    if (erase_size == OTA_WITH_SEQUENTIAL_WRITES) return ESP_ERR_NOT_SUPPORTED;
    *out_handle = open_handle(h, partition, (uint32_t)image_offset);
    return ESP_OK;
}

/* esp_ota_ops.h esp_ota_write_with_offset(): writes at `offset` of the handle's partition,
 * which must be erased there (it erases nothing itself); ESP_ERR_INVALID_ARG for an unknown
 * handle, ESP_ERR_INVALID_SIZE past the partition's end (esp_ota_write()'s bound). */
esp_err_t esp_ota_write_with_offset(esp_ota_handle_t handle, const void *data, size_t size,
                                    uint32_t offset)
{
    emu_ota_t *h = handle_of(handle);
    if (h == NULL || data == NULL) return ESP_ERR_INVALID_ARG;
    if (offset > h->part->size || size > h->part->size - offset) return ESP_ERR_INVALID_SIZE;
    esp_err_t err;
    if (E->flip_offset >= 0 && (uint64_t)E->flip_offset >= offset &&
        (uint64_t)E->flip_offset < (uint64_t)offset + size) {
        /* fault (esp_emu_set_flip_offset): a flash bit error; the data passed its CRC, the
         * stored byte is wrong, as the fleet's --flip-offset does on the POSIX port */
        uint8_t *copy = malloc(size);
        if (copy == NULL) return ESP_ERR_NO_MEM;
        memcpy(copy, data, size);
        copy[E->flip_offset - (long)offset] ^= 0x10;
        err = esp_partition_write(h->part, offset, copy, size);
        free(copy);
    } else {
        err = esp_partition_write(h->part, offset, data, size);
    }
    if (err != ESP_OK) return err;
    h->wrote += (uint32_t)size;
    return ESP_OK;
}

/* esp_ota_ops.h esp_ota_end(), esp_ota_ops.c: frees the handle whatever it returns;
 * ESP_ERR_NOT_FOUND for an unknown handle, ESP_ERR_INVALID_ARG if it never wrote,
 * ESP_ERR_OTA_VALIDATE_FAILED if the partition does not hold a valid app image (esp_image_verify
 * over the partition: segments, checksum, appended SHA-256). */
esp_err_t esp_ota_end(esp_ota_handle_t handle)
{
    emu_ota_t *h = handle_of(handle);
    if (h == NULL) return ESP_ERR_NOT_FOUND;
    const esp_partition_t *p = h->part;
    uint32_t wrote = h->wrote;
    memset(h, 0, sizeof(*h));
    if (wrote == 0u) return ESP_ERR_INVALID_ARG;
    return image_valid(p, NULL) ? ESP_OK : ESP_ERR_OTA_VALIDATE_FAILED;
}

/* esp_ota_ops.h esp_ota_abort(): frees the handle; ESP_ERR_NOT_FOUND if unknown. */
esp_err_t esp_ota_abort(esp_ota_handle_t handle)
{
    emu_ota_t *h = handle_of(handle);
    if (h == NULL) return ESP_ERR_NOT_FOUND;
    memset(h, 0, sizeof(*h));
    return ESP_OK;
}

/* ---- esp_ota_ops: boot selection and rollback ------------------------------------------- */

/* esp_ota_ops.h esp_ota_set_boot_partition(), esp_ota_ops.c: ESP_ERR_INVALID_ARG unless an
 * OTA app partition (a factory one is not emulated), ESP_ERR_OTA_VALIDATE_FAILED if it holds
 * no valid image, ESP_ERR_NOT_FOUND without an otadata partition; otherwise the next otadata
 * sequence number selecting it is written to the inactive otadata sector, state
 * ESP_OTA_IMG_NEW (rollback enabled), so a torn write keeps the old selection. */
esp_err_t esp_ota_set_boot_partition(const esp_partition_t *partition)
{
    if (partition == NULL || !known_partition(partition) || !is_ota_app(partition))
        return ESP_ERR_INVALID_ARG;
    if (!image_valid(partition, NULL)) return ESP_ERR_OTA_VALIDATE_FAILED;
    if (E->otadata == NULL) return ESP_ERR_NOT_FOUND;
    return otadata_set_boot(E->fl, E->otadata->address, slot_of(partition)) == MQOTA_OK
               ? ESP_OK
               : ESP_ERR_FLASH_OP_FAIL;
}

/* esp_ota_ops.h esp_ota_get_state_partition(): ESP_ERR_INVALID_ARG for NULL arguments,
 * ESP_ERR_NOT_SUPPORTED for a partition that is not an OTA app (factory), ESP_ERR_NOT_FOUND
 * when no valid otadata entry selects it (never selected). */
esp_err_t esp_ota_get_state_partition(const esp_partition_t *partition,
                                      esp_ota_img_states_t *ota_state)
{
    if (partition == NULL || ota_state == NULL || !known_partition(partition))
        return ESP_ERR_INVALID_ARG;
    if (!is_ota_app(partition)) return ESP_ERR_NOT_SUPPORTED;
    otadata_t od;
    if (E->otadata == NULL || otadata_read(E->fl, E->otadata->address, &od) != MQOTA_OK)
        return ESP_ERR_NOT_FOUND;
    int sec = otadata_find_slot(&od, slot_of(partition));
    if (sec < 0) return ESP_ERR_NOT_FOUND;
    *ota_state = (esp_ota_img_states_t)od.entry[sec].state;
    return ESP_OK;
}

/* esp_ota_ops.c esp_ota_check_rollback_is_possible(): a rollback needs the otadata sector
 * other than the active one to hold a valid entry whose slot holds a valid image (or, that
 * sector being blank, a factory app: not emulated). So on a device whose otadata was blank
 * when flashed (`idf.py flash` writes it erased), the first update cannot be rolled back
 * this way: only the bootloader's abort of a pending-verify image takes it back. */
static bool rollback_possible(const otadata_t *od)
{
    if (od->active < 0) return false;
    int last = 1 - od->active;
    if (!od->valid[last]) return false;
    const esp_partition_t *p = esp_partition_find_first(
        ESP_PARTITION_TYPE_APP,
        (esp_partition_subtype_t)(ESP_PARTITION_SUBTYPE_APP_OTA_MIN +
                                  otadata_slot_of(&od->entry[last])),
        NULL);
    return p != NULL && image_valid(p, NULL);
}

/* esp_ota_ops.h esp_ota_mark_app_valid_cancel_rollback(), esp_ota_ops.c
 * esp_ota_current_ota_is_workable(true): the ACTIVE otadata entry (highest valid sequence
 * number) becomes VALID unless it is; no active entry ("running firmware is factory", also a
 * blank otadata) is ESP_FAIL. */
esp_err_t esp_ota_mark_app_valid_cancel_rollback(void)
{
    otadata_t od;
    if (E->dev == NULL || E->otadata == NULL) return ESP_ERR_NOT_FOUND;
    if (otadata_read(E->fl, E->otadata->address, &od) != MQOTA_OK) return ESP_ERR_NOT_FOUND;
    if (od.active < 0) return ESP_FAIL;
    if (od.entry[od.active].state == OTADATA_STATE_VALID) return ESP_OK;
    return otadata_set_state(E->fl, E->otadata->address, od.active, OTADATA_STATE_VALID) ==
                   MQOTA_OK
               ? ESP_OK
               : ESP_ERR_FLASH_OP_FAIL;
}

/* esp_ota_ops.h esp_ota_mark_app_invalid_rollback() (ESP-IDF 5.5), esp_ota_ops.c
 * esp_ota_current_ota_is_workable(false): the active otadata entry becomes INVALID, so that
 * the bootloader boots the previous app at the next reset; it does not restart. No active
 * entry is ESP_FAIL; ESP_ERR_OTA_ROLLBACK_FAILED when rollback_possible() says no, and then
 * nothing is written. */
esp_err_t esp_ota_mark_app_invalid_rollback(void)
{
    otadata_t od;
    if (E->dev == NULL || E->otadata == NULL) return ESP_ERR_NOT_FOUND;
    if (otadata_read(E->fl, E->otadata->address, &od) != MQOTA_OK) return ESP_ERR_NOT_FOUND;
    if (od.active < 0) return ESP_FAIL;
    if (!rollback_possible(&od)) return ESP_ERR_OTA_ROLLBACK_FAILED;
    return otadata_set_state(E->fl, E->otadata->address, od.active, OTADATA_STATE_INVALID) ==
                   MQOTA_OK
               ? ESP_OK
               : ESP_ERR_FLASH_OP_FAIL;
}

/* esp_ota_ops.h esp_ota_mark_app_invalid_rollback_and_reboot(): as
 * esp_ota_mark_app_invalid_rollback(), then esp_restart(); returns only on failure. */
esp_err_t esp_ota_mark_app_invalid_rollback_and_reboot(void)
{
    esp_err_t err = esp_ota_mark_app_invalid_rollback();
    if (err != ESP_OK) return err;
    esp_restart();
}

/* ---- esp_image_format ---------------------------------------------------------------------- */

/* esp_image_format.h esp_image_verify() (bootloader_support/src/esp_image_format.c): checks
 * the app image at part->offset (segments, checksum, appended SHA-256) within part->size;
 * ESP_ERR_IMAGE_INVALID if it is not valid. Fills data's start address and length. */
esp_err_t esp_image_verify(esp_image_load_mode_t mode, const esp_partition_pos_t *part,
                           esp_image_metadata_t *data)
{
    (void)mode;
    uint32_t len = 0;
    if (part == NULL || data == NULL || E->dev == NULL) return ESP_ERR_INVALID_ARG;
    if (boot_verify_image(E->fl, part->offset, part->size, 0, NULL, &len, NULL, 0) != MQOTA_OK)
        return ESP_ERR_IMAGE_INVALID;
    data->start_addr = part->offset;
    data->image_len = len;
    return ESP_OK;
}

/* ---- esp_app_desc, esp_timer, esp_system ---------------------------------------------------- */

/* esp_app_desc.h esp_app_get_description(): the running app's descriptor (never NULL on a
 * chip; NULL here before esp_emu_attach()). */
const esp_app_desc_t *esp_app_get_description(void) { return E->dev != NULL ? &E->desc : NULL; }

/* esp_timer.h esp_timer_get_time(): microseconds since boot. */
int64_t esp_timer_get_time(void)
{
    if (!E->host_clock) return E->now_us;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000 - E->boot_us;
}

/* esp_system.h esp_restart(): does not return. Here: back to the test's restart point, which
 * power-cycles the virtual ESP32 (RAM, and so open OTA handles, are lost). */
void esp_restart(void)
{
    E->restarts++;
    if (E->restart == NULL) {
        fprintf(stderr, "esp_restart() called with no restart point set (esp_emu_set_restart_jump)\n");
        abort();
    }
    longjmp(*E->restart, 1);
}

/* esp_system.h esp_reset_reason(): why the chip last reset (set at esp_emu_attach()). */
esp_reset_reason_t esp_reset_reason(void) { return E->reason; }

/* esp_core_dump.h esp_core_dump_get_panic_reason(): the core dump in flash is the virtual
 * ESP32's last-crash record (vdev_last_crash(): the reason a simulated panic wrote, kept across
 * resets as a dump stays in its partition). As espcoredump's core_dump_elf.c: the text cut to
 * buffer_size - 1 bytes and NUL-terminated; ESP_ERR_NOT_FOUND when there is none. */
esp_err_t esp_core_dump_get_panic_reason(char *reason_buffer, size_t buffer_size)
{
    if (reason_buffer == NULL || buffer_size == 0) return ESP_ERR_INVALID_ARG;
    const char *crash = E->dev != NULL ? vdev_last_crash(E->dev) : NULL;
    if (crash == NULL || crash[0] == '\0') return ESP_ERR_NOT_FOUND;
    size_t n = strlen(crash);
    if (n > buffer_size - 1u) n = buffer_size - 1u;
    memcpy(reason_buffer, crash, n);
    reason_buffer[n] = '\0';
    return ESP_OK;
}

/* esp_system.h esp_get_free_heap_size(): a fixed figure on the host. */
uint32_t esp_get_free_heap_size(void) { return EMU_FREE_HEAP; }

/* esp_system.h esp_get_minimum_free_heap_size(): a fixed figure below the free heap. */
uint32_t esp_get_minimum_free_heap_size(void) { return EMU_MIN_FREE_HEAP; }

/* ---- nvs ----------------------------------------------------------------------------------- */

/* nvs.h nvs_open(), nvs_flash/src/nvs_api.cpp: namespace names are 1..15 characters
 * (ESP_ERR_NVS_INVALID_NAME otherwise); a READONLY open of a namespace that does not exist is
 * ESP_ERR_NVS_NOT_FOUND, which this flat store never reports (its one namespace always
 * exists). Every open gives the same handle. */
esp_err_t nvs_open(const char *namespace_name, nvs_open_mode_t open_mode, nvs_handle_t *out_handle)
{
    (void)open_mode;
    if (E->dev == NULL) return ESP_ERR_INVALID_STATE; /* ESP_ERR_NVS_NOT_INITIALIZED on a chip */
    if (namespace_name == NULL || out_handle == NULL) return ESP_ERR_INVALID_ARG;
    size_t n = strlen(namespace_name);
    if (n == 0u || n >= NVS_KEY_NAME_MAX_SIZE) return ESP_ERR_NVS_INVALID_NAME;
    E->nvs_open = true;
    *out_handle = EMU_NVS_HANDLE;
    return ESP_OK;
}

static esp_err_t nvs_check(nvs_handle_t handle, const char *key)
{
    if (E->dev == NULL || !E->nvs_open || handle != EMU_NVS_HANDLE) return ESP_ERR_NVS_INVALID_HANDLE;
    if (key == NULL) return ESP_ERR_INVALID_ARG;
    if (strlen(key) >= NVS_KEY_NAME_MAX_SIZE) return ESP_ERR_NVS_KEY_TOO_LONG;
    return ESP_OK;
}

/* nvs.h nvs_get_blob(), nvs_api.cpp nvs_get_str_or_blob(): no blob is ESP_ERR_NVS_NOT_FOUND
 * (checked first), a NULL length ESP_ERR_NVS_INVALID_LENGTH; with out_value NULL, *length is
 * set to the blob's size; with a buffer, *length is its capacity in and the blob's size out,
 * and a buffer too small is ESP_ERR_NVS_INVALID_LENGTH with *length set to the size needed. */
esp_err_t nvs_get_blob(nvs_handle_t handle, const char *key, void *out_value, size_t *length)
{
    esp_err_t err = nvs_check(handle, key);
    if (err != ESP_OK) return err;
    size_t len = 0;
    if (kv_get(E->kv, key, NULL, 0, &len) == MQOTA_ERR_NOT_FOUND) return ESP_ERR_NVS_NOT_FOUND;
    if (length == NULL) return ESP_ERR_NVS_INVALID_LENGTH;
    mqota_status_t st = kv_get(E->kv, key, out_value, out_value != NULL ? *length : 0u, &len);
    if (st == MQOTA_ERR_NOT_FOUND) return ESP_ERR_NVS_NOT_FOUND;
    if (st == MQOTA_ERR_NO_SPACE) {
        *length = len;
        return out_value == NULL ? ESP_OK : ESP_ERR_NVS_INVALID_LENGTH;
    }
    if (st != MQOTA_OK) return ESP_FAIL;
    *length = len;
    return ESP_OK;
}

/* nvs.h nvs_set_blob(): ESP_ERR_NVS_KEY_TOO_LONG for a key of 16 characters or more,
 * ESP_ERR_NVS_VALUE_TOO_LONG for a blob larger than the store takes; the old value stays
 * readable until the new one is complete (here: kv_set() is atomic). */
esp_err_t nvs_set_blob(nvs_handle_t handle, const char *key, const void *value, size_t length)
{
    esp_err_t err = nvs_check(handle, key);
    if (err != ESP_OK) return err;
    if (value == NULL && length > 0u) return ESP_ERR_INVALID_ARG;
    if (length > KV_VAL_MAX) return ESP_ERR_NVS_VALUE_TOO_LONG;
    return kv_set(E->kv, key, value, length) == MQOTA_OK ? ESP_OK : ESP_FAIL;
}

/* nvs.h nvs_erase_key(): ESP_ERR_NVS_NOT_FOUND when the key does not exist. */
esp_err_t nvs_erase_key(nvs_handle_t handle, const char *key)
{
    esp_err_t err = nvs_check(handle, key);
    if (err != ESP_OK) return err;
    size_t len = 0;
    mqota_status_t st = kv_get(E->kv, key, NULL, 0, &len);
    if (st == MQOTA_ERR_NOT_FOUND) return ESP_ERR_NVS_NOT_FOUND;
    return kv_erase(E->kv, key) == MQOTA_OK ? ESP_OK : ESP_FAIL;
}

/* nvs.h nvs_commit(): NVS writes each value to flash as it is set; commit has nothing left to
 * do in ESP-IDF's implementation (nvs_api.cpp), nor here. */
esp_err_t nvs_commit(nvs_handle_t handle)
{
    return nvs_check(handle, "") == ESP_OK ? ESP_OK : ESP_ERR_NVS_INVALID_HANDLE;
}

/* nvs.h nvs_close(). */
void nvs_close(nvs_handle_t handle)
{
    if (handle == EMU_NVS_HANDLE) E->nvs_open = false;
}
