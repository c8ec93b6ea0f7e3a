/* SPDX-License-Identifier: Apache-2.0 */
/* Power-safe log-structured key-value store with two pages (format and rules in kv.h). */
#include "mqota_posix/kv.h"
#include "posix_util.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "mqota/mqota_proto.h" /* mqota_crc32 */

#define PAGE_MAGIC 0x564B514Du /* "MQKV" little-endian */
#define PAGE_VERSION 1u
#define HDR_LEN 16u
#define REC_MAGIC 0xB0u
#define REC_FLAG_TOMBSTONE 0x01u
#define REC_HDR_LEN 8u
#define REC_MAX (REC_HDR_LEN + ((KV_KEY_MAX + KV_VAL_MAX + 3u) & ~3u) + 4u)

struct kv {
    vflash_t *fl;
    uint32_t offset;
    uint32_t page_size;
    int active;          /* page index holding the live log */
    uint32_t generation; /* of the active page */
    uint32_t tail;       /* end of the last valid record in the active page */
    bool dirty;          /* bytes after tail are not erased (a torn record): compact first */
    uint32_t seq;        /* seq of the last record written */
    uint32_t compactions;
    bool formatted;      /* kv_open found the partition blank and formatted it */
    uint8_t *page;       /* RAM copy of the active page */
    uint8_t *scratch;    /* page being built by a compaction */
};

/* A record found in a page. */
typedef struct {
    uint32_t pos, len;
    uint8_t flags, key_len;
    uint16_t val_len;
    uint32_t seq;
    const uint8_t *key, *val;
} rec_t;

static uint32_t rec_len(uint32_t key_len, uint32_t val_len)
{
    return REC_HDR_LEN + ((key_len + val_len + 3u) & ~3u) + 4u;
}

static uint32_t page_addr(const kv_t *kv, int page)
{
    return kv->offset + (uint32_t)page * kv->page_size;
}

/* Decode the record at pos. Returns 1 for a valid record, 0 at the end of the log (erased
 * byte), -1 for a torn or corrupt record. */
static int rec_at(const uint8_t *page, uint32_t pos, uint32_t limit, rec_t *r)
{
    if (pos + REC_HDR_LEN > limit || page[pos] == 0xFF) {
        return 0;
    }
    const uint8_t *p = page + pos;
    if ((p[0] & ~REC_FLAG_TOMBSTONE) != REC_MAGIC) {
        return -1;
    }
    r->pos = pos;
    r->flags = p[0] & REC_FLAG_TOMBSTONE;
    r->key_len = p[1];
    r->val_len = (uint16_t)(p[2] | p[3] << 8);
    r->seq = get_le32(p + 4);
    if (r->key_len == 0 || r->key_len > KV_KEY_MAX || r->val_len > KV_VAL_MAX) {
        return -1;
    }
    r->len = rec_len(r->key_len, r->val_len);
    if (r->len > limit - pos) {
        return -1;
    }
    if (mqota_crc32(0, p, r->len - 4u) != get_le32(p + r->len - 4u)) {
        return -1;
    }
    r->key = p + REC_HDR_LEN;
    r->val = r->key + r->key_len;
    return 1;
}

static bool rec_is_key(const rec_t *r, const char *key, size_t key_len)
{
    return r->key_len == key_len && memcmp(r->key, key, key_len) == 0;
}

static void make_header(uint8_t h[HDR_LEN], uint32_t generation)
{
    put_le32(h, PAGE_MAGIC);
    put_le16(h + 4, PAGE_VERSION);
    put_le16(h + 6, 0xFFFFu);
    put_le32(h + 8, generation);
    put_le32(h + 12, mqota_crc32(0, h, 12));
}

static bool header_ok(const uint8_t h[HDR_LEN], uint32_t *generation)
{
    if (get_le32(h) != PAGE_MAGIC || (h[4] | h[5] << 8) != PAGE_VERSION ||
        mqota_crc32(0, h, 12) != get_le32(h + 12)) {
        return false;
    }
    *generation = get_le32(h + 8);
    return true;
}

/* Scan the RAM copy of the active page: tail, highest seq, and whether garbage follows. */
static void scan(kv_t *kv)
{
    uint32_t pos = HDR_LEN;
    rec_t r;
    kv->seq = 0;
    while (rec_at(kv->page, pos, kv->page_size, &r) == 1) {
        if (r.seq > kv->seq) {
            kv->seq = r.seq;
        }
        pos += r.len;
    }
    kv->tail = pos;
    kv->dirty = false;
    for (uint32_t i = pos; i < kv->page_size; i++) {
        if (kv->page[i] != 0xFF) {
            kv->dirty = true;
            break;
        }
    }
}

/* All 0xFF: erased flash. */
static bool blank(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != 0xFF) {
            return false;
        }
    }
    return true;
}

/* (Re)load the store from flash: pick the active page and read it into RAM. Called at open and
 * after every failed flash operation. When neither page has a valid header, a blank partition
 * (both headers erased) is formatted (page 0 gets a header); anything else there (a torn or
 * corrupt header, or a newer format version) is MQOTA_ERR_MALFORMED and nothing is written:
 * the caller decides, as an ESP-IDF application does on ESP_ERR_NVS_NO_FREE_PAGES or
 * ESP_ERR_NVS_NEW_VERSION_FOUND, to erase the partition and open it again. */
static mqota_status_t load(kv_t *kv)
{
    bool ok[2], erased = true;
    uint32_t gen[2] = {0, 0};
    for (int i = 0; i < 2; i++) {
        uint8_t h[HDR_LEN];
        if (vflash_read(kv->fl, page_addr(kv, i), h, sizeof(h)) != 0) {
            return MQOTA_ERR_PLATFORM;
        }
        ok[i] = header_ok(h, &gen[i]);
        erased = erased && blank(h, sizeof(h));
    }
    if (!ok[0] && !ok[1]) {
        if (!erased) {
            return MQOTA_ERR_MALFORMED;
        }
        uint8_t h[HDR_LEN];
        make_header(h, 1);
        if (vflash_erase(kv->fl, page_addr(kv, 0), kv->page_size) != 0 ||
            vflash_write(kv->fl, page_addr(kv, 0), h, sizeof(h)) != 0) {
            return MQOTA_ERR_PLATFORM;
        }
        ok[0] = true;
        gen[0] = 1;
        kv->formatted = true;
    }
    kv->active = (ok[0] && (!ok[1] || gen[0] >= gen[1])) ? 0 : 1;
    kv->generation = gen[kv->active];
    if (vflash_read(kv->fl, page_addr(kv, kv->active), kv->page, kv->page_size) != 0) {
        return MQOTA_ERR_PLATFORM;
    }
    scan(kv);
    return MQOTA_OK;
}

mqota_status_t kv_open(vflash_t *fl, uint32_t offset, uint32_t size, kv_t **out)
{
    if (out == NULL) {
        return MQOTA_ERR_ARG;
    }
    *out = NULL;
    if (fl == NULL || offset % VFLASH_SECTOR != 0 || size % (2u * VFLASH_SECTOR) != 0 ||
        size == 0 || size > 1024u * 1024u) {
        return MQOTA_ERR_ARG;
    }
    kv_t *kv = calloc(1, sizeof(*kv));
    if (kv == NULL) {
        return MQOTA_ERR_PLATFORM;
    }
    kv->fl = fl;
    kv->offset = offset;
    kv->page_size = size / 2u;
    kv->page = malloc(kv->page_size);
    kv->scratch = malloc(kv->page_size);
    mqota_status_t st = MQOTA_ERR_PLATFORM;
    if (kv->page == NULL || kv->scratch == NULL) {
        goto err;
    }
    st = load(kv);
    if (st != MQOTA_OK) {
        goto err;
    }
    *out = kv;
    return MQOTA_OK;
err:
    kv_close(kv);
    return st;
}

void kv_close(kv_t *kv)
{
    if (kv != NULL) {
        free(kv->page);
        free(kv->scratch);
        free(kv);
    }
}

static mqota_status_t check_key(const char *key, size_t *key_len)
{
    if (key == NULL) {
        return MQOTA_ERR_ARG;
    }
    *key_len = strnlen(key, KV_KEY_MAX + 1u);
    return (*key_len == 0 || *key_len > KV_KEY_MAX) ? MQOTA_ERR_ARG : MQOTA_OK;
}

/* Last valid record of key in the active page (tombstones included), or false. */
static bool find(const kv_t *kv, const char *key, size_t key_len, rec_t *found)
{
    bool have = false;
    rec_t r;
    for (uint32_t pos = HDR_LEN; pos < kv->tail; pos += r.len) {
        if (rec_at(kv->page, pos, kv->tail, &r) != 1) {
            break;
        }
        if (rec_is_key(&r, key, key_len)) {
            *found = r;
            have = true;
        }
    }
    return have;
}

mqota_status_t kv_get(kv_t *kv, const char *key, void *buf, size_t cap, size_t *len)
{
    size_t key_len;
    if (kv == NULL || len == NULL || (buf == NULL && cap > 0) ||
        check_key(key, &key_len) != MQOTA_OK) {
        return MQOTA_ERR_ARG;
    }
    rec_t r;
    if (!find(kv, key, key_len, &r) || (r.flags & REC_FLAG_TOMBSTONE)) {
        return MQOTA_ERR_NOT_FOUND;
    }
    *len = r.val_len;
    if (r.val_len > cap) {
        return MQOTA_ERR_NO_SPACE;
    }
    if (r.val_len > 0) {
        memcpy(buf, r.val, r.val_len);
    }
    return MQOTA_OK;
}

/* Encode a record into rec (REC_MAX bytes); returns its length. */
static uint32_t encode(uint8_t *rec, uint8_t flags, const char *key, size_t key_len,
                       const void *val, size_t val_len, uint32_t seq)
{
    uint32_t n = rec_len((uint32_t)key_len, (uint32_t)val_len);
    memset(rec, 0, n);
    rec[0] = (uint8_t)(REC_MAGIC | flags);
    rec[1] = (uint8_t)key_len;
    put_le16(rec + 2, (uint16_t)val_len);
    put_le32(rec + 4, seq);
    memcpy(rec + REC_HDR_LEN, key, key_len);
    if (val_len > 0) {
        memcpy(rec + REC_HDR_LEN + key_len, val, val_len);
    }
    put_le32(rec + n - 4u, mqota_crc32(0, rec, n - 4u));
    return n;
}

/* Is r the last record of its key in [r.pos, tail)? */
static bool is_latest(const kv_t *kv, const rec_t *r)
{
    rec_t o;
    for (uint32_t pos = r->pos + r->len; pos < kv->tail; pos += o.len) {
        if (rec_at(kv->page, pos, kv->tail, &o) != 1) {
            break;
        }
        if (o.key_len == r->key_len && memcmp(o.key, r->key, r->key_len) == 0) {
            return false;
        }
    }
    return true;
}

/* Move the live records, minus `key` and plus `rec` (if rec_n > 0), to the other page. The
 * other page's header is written last: until it is complete the old page stays active. */
static mqota_status_t compact(kv_t *kv, const char *key, size_t key_len, const uint8_t *rec,
                              uint32_t rec_n)
{
    uint8_t *dst = kv->scratch;
    memset(dst, 0xFF, kv->page_size);
    uint32_t pos = HDR_LEN;
    rec_t r;
    for (uint32_t at = HDR_LEN; at < kv->tail; at += r.len) {
        if (rec_at(kv->page, at, kv->tail, &r) != 1) {
            break;
        }
        if ((r.flags & REC_FLAG_TOMBSTONE) || rec_is_key(&r, key, key_len) || !is_latest(kv, &r)) {
            continue;
        }
        memcpy(dst + pos, kv->page + at, r.len);
        pos += r.len;
    }
    if (rec_n > kv->page_size - pos) {
        return MQOTA_ERR_NO_SPACE;
    }
    memcpy(dst + pos, rec, rec_n);
    pos += rec_n;
    int other = 1 - kv->active;
    uint32_t addr = page_addr(kv, other);
    make_header(dst, kv->generation + 1u);
    if (vflash_erase(kv->fl, addr, kv->page_size) != 0 ||
        (pos > HDR_LEN && vflash_write(kv->fl, addr + HDR_LEN, dst + HDR_LEN, pos - HDR_LEN) != 0) ||
        vflash_write(kv->fl, addr, dst, HDR_LEN) != 0) {
        load(kv);
        return MQOTA_ERR_PLATFORM;
    }
    kv->scratch = kv->page;
    kv->page = dst;
    kv->active = other;
    kv->generation++;
    kv->tail = pos;
    kv->dirty = false;
    kv->compactions++;
    return MQOTA_OK;
}

/* Append one record, compacting first when it does not fit or the page has a torn tail. */
static mqota_status_t put(kv_t *kv, uint8_t flags, const char *key, size_t key_len,
                          const void *val, size_t val_len)
{
    uint8_t rec[REC_MAX];
    uint32_t n = encode(rec, flags, key, key_len, val, val_len, kv->seq + 1u);
    if (kv->dirty || n > kv->page_size - kv->tail) {
        /* A tombstone need not be carried over: the compaction simply drops the key. */
        mqota_status_t st = compact(kv, key, key_len, rec, (flags & REC_FLAG_TOMBSTONE) ? 0 : n);
        if (st == MQOTA_OK) {
            kv->seq++;
        }
        return st;
    }
    if (vflash_write(kv->fl, page_addr(kv, kv->active) + kv->tail, rec, n) != 0) {
        load(kv);
        return MQOTA_ERR_PLATFORM;
    }
    memcpy(kv->page + kv->tail, rec, n);
    kv->tail += n;
    kv->seq++;
    return MQOTA_OK;
}

mqota_status_t kv_set(kv_t *kv, const char *key, const void *buf, size_t len)
{
    size_t key_len;
    if (kv == NULL || len > KV_VAL_MAX || (buf == NULL && len > 0) ||
        check_key(key, &key_len) != MQOTA_OK) {
        return MQOTA_ERR_ARG;
    }
    return put(kv, 0, key, key_len, buf, len);
}

mqota_status_t kv_erase(kv_t *kv, const char *key)
{
    size_t key_len;
    if (kv == NULL || check_key(key, &key_len) != MQOTA_OK) {
        return MQOTA_ERR_ARG;
    }
    rec_t r;
    if (!find(kv, key, key_len, &r) || (r.flags & REC_FLAG_TOMBSTONE)) {
        return MQOTA_OK;
    }
    return put(kv, REC_FLAG_TOMBSTONE, key, key_len, NULL, 0);
}

void kv_info(const kv_t *kv, kv_info_t *out)
{
    if (kv == NULL || out == NULL) {
        return;
    }
    memset(out, 0, sizeof(*out));
    out->generation = kv->generation;
    out->used = kv->tail;
    out->page_size = kv->page_size;
    out->compactions = kv->compactions;
    out->formatted = kv->formatted ? 1u : 0u;
    rec_t r;
    for (uint32_t pos = HDR_LEN; pos < kv->tail; pos += r.len) {
        if (rec_at(kv->page, pos, kv->tail, &r) != 1) {
            break;
        }
        if (!(r.flags & REC_FLAG_TOMBSTONE) && is_latest(kv, &r)) {
            out->live_keys++;
        }
    }
}
