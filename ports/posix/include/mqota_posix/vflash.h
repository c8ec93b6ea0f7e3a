/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file vflash.h
 * @brief A file-backed 4 MiB NOR flash: the flash chip of one virtual ESP32.
 *
 * NOR semantics, exactly: erase works on whole 4096-byte sectors and sets every byte to 0xFF;
 * write can only clear bits (flash byte becomes old & data); read returns the flash bytes.
 *
 * The backing file stores every byte inverted (file byte = ~flash byte), so erased flash is
 * all-zero file content and can be a sparse hole: a fresh flash occupies almost no disk, and
 * erase punches holes (fallocate PUNCH_HOLE, falling back to writing zeros where the file
 * system cannot). One file descriptor stays open per flash; nothing maps or buffers the whole
 * file, so thousands of virtual devices can exist at once.
 *
 * Power cuts: vflash_set_cut(fl, n) makes the n-th mutating operation from now (erase of one
 * sector, or one write call) stop halfway and fail, and every later mutating operation fail,
 * until vflash_clear_cut(). Reads keep working.
 *
 * Every function that can fail returns 0 on success or a negative errno value (-EINVAL for a
 * bad argument or range, -EIO for a simulated power cut, the errno of the failed system call
 * otherwise).
 */
#ifndef MQOTA_POSIX_VFLASH_H
#define MQOTA_POSIX_VFLASH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VFLASH_SIZE (4u * 1024u * 1024u) /**< Flash size in bytes (4 MiB) */
#define VFLASH_SECTOR 4096u              /**< Erase granularity in bytes */

/** Opaque flash handle. */
typedef struct vflash vflash_t;

/** Operation counters since open (or the last vflash_stats_reset()). */
typedef struct {
    uint64_t erases;        /**< Sectors erased (a multi-sector erase counts each sector) */
    uint64_t writes;        /**< vflash_write() calls that succeeded */
    uint64_t reads;         /**< vflash_read() calls that succeeded */
    uint64_t bytes_erased;  /**< erases * 4096 */
    uint64_t bytes_written; /**< Bytes passed to successful writes */
    uint64_t bytes_read;    /**< Bytes returned by successful reads */
    uint64_t cut_failures;  /**< Mutating operations refused because of a power cut */
} vflash_stats_t;

/**
 * @brief Create (or truncate) the flash file at `path`: 4 MiB, all erased (a sparse file).
 * @param[in]  path File to create; mode 0644.
 * @param[out] out  The open flash; release with vflash_close().
 * @return 0, -EINVAL, or -errno of open/ftruncate. On error *out is NULL.
 */
int vflash_create(const char *path, vflash_t **out);

/**
 * @brief Open an existing flash file.
 * @return 0, -EINVAL (NULL argument, or the file is not exactly VFLASH_SIZE bytes), -errno.
 */
int vflash_open(const char *path, vflash_t **out);

/** @brief Close the file and free the handle. NULL is allowed. */
void vflash_close(vflash_t *fl);

/**
 * @brief Erase [addr, addr + len) to 0xFF, one sector at a time.
 * @param[in] addr Byte address, a multiple of VFLASH_SECTOR.
 * @param[in] len  Bytes, a multiple of VFLASH_SECTOR; addr + len <= VFLASH_SIZE. 0 is a no-op.
 * @return 0, -EINVAL (alignment or range), -EIO (power cut: sectors before the cut one are
 *         erased, the cut one only in its first half, later ones untouched), -errno.
 */
int vflash_erase(vflash_t *fl, uint32_t addr, uint32_t len);

/**
 * @brief Program `len` bytes at `addr`: each flash byte becomes old & data[i].
 * @return 0, -EINVAL (NULL data with len > 0, or range), -EIO (power cut: only the first
 *         len / 2 bytes were programmed), -errno.
 */
int vflash_write(vflash_t *fl, uint32_t addr, const void *data, size_t len);

/**
 * @brief Read `len` bytes at `addr` into data.
 * @return 0, -EINVAL (range), -errno. Never affected by a power cut.
 */
int vflash_read(vflash_t *fl, uint32_t addr, void *data, size_t len);

/**
 * @brief Simulate a power cut: the n-th mutating operation from now (n >= 1; n = 1 is the next
 *        one) is done only halfway and fails with -EIO, and so do all later mutating operations
 *        until vflash_clear_cut(). n = 0 cuts power right now (the next operation fails
 *        without doing anything).
 */
void vflash_set_cut(vflash_t *fl, uint32_t n);

/** @brief Restore power: mutating operations work again. */
void vflash_clear_cut(vflash_t *fl);

/** @brief 1 if a cut has happened and not been cleared, 0 otherwise. */
int vflash_cut_happened(const vflash_t *fl);

/** @brief Copy the counters into *out. */
void vflash_stats(const vflash_t *fl, vflash_stats_t *out);

/** @brief Zero the counters. */
void vflash_stats_reset(vflash_t *fl);

#ifdef __cplusplus
}
#endif

#endif /* MQOTA_POSIX_VFLASH_H */
