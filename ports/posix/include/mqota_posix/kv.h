/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file kv.h
 * @brief A small power-safe key-value store in the nvs partition, NVS-like in spirit.
 *
 * On flash (all integers little-endian): the partition is split into two pages of size / 2
 * bytes (each a whole number of 4096-byte sectors). A page starts with a 16-byte header
 *   { u32 magic 0x564B514D "MQKV", u16 version 1, u16 0xFFFF, u32 generation, u32 crc32 }
 * (crc32 over the first 12 bytes) followed by an append-only log of records
 *   { u8 magic 0xB0 | flags, u8 key_len (1..15), u16 val_len (0..512), u32 seq,
 *     key[key_len], value[val_len], 0x00 padding to a multiple of 4, u32 crc32 }
 * with crc32 (zlib's) over every byte of the record before it. Flag bit 0 marks a tombstone
 * (an erase; val_len is 0). The log ends at the first byte 0xFF where a record would start.
 *
 * Rules: the active page is the one with a valid header and the higher generation. Within it
 * the last valid record of a key wins. A record whose crc does not match (torn by a power cut)
 * is ignored, and so is everything after it in that page. When a record does not fit (or the
 * page holds a torn record), the store compacts: it erases the other page, writes the live
 * records and the new one there, and writes that page's header (generation + 1) last. A power
 * cut before the header is complete leaves the old page active, so every kv_set / kv_erase is
 * atomic: after a cut the key has its old or its new value.
 *
 * Opening: a partition whose two page headers are erased (0xFF) is blank and gets formatted;
 * one where neither header is valid but something is written there (a torn or corrupt header,
 * or a page of a newer format version) is refused with MQOTA_ERR_MALFORMED without writing
 * anything, like ESP-IDF's nvs_flash_init() answering ESP_ERR_NVS_NO_FREE_PAGES or
 * ESP_ERR_NVS_NEW_VERSION_FOUND: the owner then erases the partition and opens it again.
 *
 * The store keeps a RAM copy of the active page (size / 2 bytes) and re-reads the flash after
 * any failed flash operation.
 */
#ifndef MQOTA_POSIX_KV_H
#define MQOTA_POSIX_KV_H

#include <stddef.h>
#include <stdint.h>

#include "mqota/mqota_status.h"
#include "mqota_posix/vflash.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KV_KEY_MAX 15u  /**< Longest key, in characters */
#define KV_VAL_MAX 512u /**< Longest value, in bytes */

/** Opaque store handle. */
typedef struct kv kv_t;

/**
 * @brief Open the store in the partition [offset, offset + size) of `fl`; format it (erase the
 *        first page and write its header) if the partition is blank (both page headers erased).
 * @param[in]  fl     Flash; must outlive the store.
 * @param[in]  offset Partition start, a multiple of 4096.
 * @param[in]  size   Partition size, a multiple of 8192, at least 8192, at most 1 MiB.
 * @param[out] out    The store; release with kv_close().
 * @return MQOTA_OK, MQOTA_ERR_ARG, MQOTA_ERR_PLATFORM (flash failed, or out of memory),
 *         MQOTA_ERR_MALFORMED (neither page header is valid and the partition is not blank:
 *         corrupt, or a newer format; erase the partition with vflash_erase() and open again).
 * @code
 *   kv_t *kv;
 *   if (kv_open(fl, 0x9000, 0x4000, &kv) == MQOTA_OK) {
 *       kv_set(kv, "boot.count", &n, sizeof(n));
 *       kv_close(kv);
 *   }
 * @endcode
 */
mqota_status_t kv_open(vflash_t *fl, uint32_t offset, uint32_t size, kv_t **out);

/** @brief Free the store (the flash stays open). NULL is allowed. */
void kv_close(kv_t *kv);

/**
 * @brief Read the value of `key` into buf.
 * @param[out] len Value length on success, or the length needed on MQOTA_ERR_NO_SPACE.
 * @return MQOTA_OK, MQOTA_ERR_ARG (NULL key/len, key empty or longer than 15, NULL buf with
 *         cap > 0), MQOTA_ERR_NOT_FOUND (absent or erased), MQOTA_ERR_NO_SPACE (cap too small).
 */
mqota_status_t kv_get(kv_t *kv, const char *key, void *buf, size_t cap, size_t *len);

/**
 * @brief Store `len` bytes under `key`, atomically.
 * @return MQOTA_OK, MQOTA_ERR_ARG (bad key, len > 512, NULL buf with len > 0),
 *         MQOTA_ERR_NO_SPACE (live data plus this value do not fit one page),
 *         MQOTA_ERR_PLATFORM (flash failed; the old value is still there).
 */
mqota_status_t kv_set(kv_t *kv, const char *key, const void *buf, size_t len);

/**
 * @brief Remove `key` (writes a tombstone); removing an absent key succeeds and writes nothing.
 * @return MQOTA_OK, MQOTA_ERR_ARG, MQOTA_ERR_NO_SPACE, MQOTA_ERR_PLATFORM.
 */
mqota_status_t kv_erase(kv_t *kv, const char *key);

/** Counters, for tests and the fleet's statistics. */
typedef struct {
    uint32_t generation; /**< Generation of the active page */
    uint32_t used;       /**< Bytes used in the active page, header included */
    uint32_t page_size;  /**< Bytes per page */
    uint32_t live_keys;  /**< Keys with a value */
    uint32_t compactions;/**< Compactions done by this handle */
    uint32_t formatted;  /**< 1 if kv_open() found the partition blank and formatted it */
} kv_info_t;

/** @brief Fill *out. */
void kv_info(const kv_t *kv, kv_info_t *out);

#ifdef __cplusplus
}
#endif

#endif /* MQOTA_POSIX_KV_H */
