/* SPDX-License-Identifier: Apache-2.0 */
/* vflash: a NOR flash in a sparse file, bytes stored inverted (see vflash.h). */
#define _GNU_SOURCE /* fallocate, FALLOC_FL_PUNCH_HOLE */
#include "mqota_posix/vflash.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK 4096u /* bytes per read-modify-write step; no bigger buffers anywhere */

struct vflash {
    int fd;
    vflash_stats_t stats;
    uint32_t cut_countdown; /* mutating ops left before the cut; 0 = no cut armed */
    int cut_armed;
    int cut_happened;
};

static int open_common(const char *path, int flags, vflash_t **out)
{
    if (out == NULL) {
        return -EINVAL;
    }
    *out = NULL;
    if (path == NULL) {
        return -EINVAL;
    }
    int fd = open(path, flags | O_CLOEXEC, 0644);
    if (fd < 0) {
        return -errno;
    }
    /* Flash is read in small pieces at scattered offsets, mostly in erased (sparse) areas:
     * readahead would make the kernel zero-fill pages nobody reads (a third of a fleet's CPU
     * during a wave before this). */
    (void)posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM);
    vflash_t *fl = calloc(1, sizeof(*fl));
    if (fl == NULL) {
        close(fd);
        return -ENOMEM;
    }
    fl->fd = fd;
    *out = fl;
    return 0;
}

int vflash_create(const char *path, vflash_t **out)
{
    int rc = open_common(path, O_RDWR | O_CREAT | O_TRUNC, out);
    if (rc != 0) {
        return rc;
    }
    if (ftruncate((*out)->fd, VFLASH_SIZE) != 0) {
        rc = -errno;
        vflash_close(*out);
        *out = NULL;
    }
    return rc;
}

int vflash_open(const char *path, vflash_t **out)
{
    int rc = open_common(path, O_RDWR, out);
    if (rc != 0) {
        return rc;
    }
    struct stat st;
    if (fstat((*out)->fd, &st) != 0) {
        rc = -errno;
    } else if (st.st_size != (off_t)VFLASH_SIZE) {
        rc = -EINVAL;
    }
    if (rc != 0) {
        vflash_close(*out);
        *out = NULL;
    }
    return rc;
}

void vflash_close(vflash_t *fl)
{
    if (fl != NULL) {
        close(fl->fd);
        free(fl);
    }
}

static int range_ok(uint32_t addr, size_t len)
{
    return addr <= VFLASH_SIZE && len <= (size_t)(VFLASH_SIZE - addr);
}

/* Decide the fate of one mutating operation. Returns 0 to do it fully, 1 to do it halfway and
 * then fail (this is the cut), -EIO to refuse it (power is already off). */
static int cut_step(vflash_t *fl)
{
    if (fl->cut_happened) {
        fl->stats.cut_failures++;
        return -EIO;
    }
    if (!fl->cut_armed) {
        return 0;
    }
    if (--fl->cut_countdown == 0) {
        fl->cut_armed = 0;
        fl->cut_happened = 1;
        fl->stats.cut_failures++;
        return 1;
    }
    return 0;
}

static int pwrite_all(int fd, const uint8_t *buf, size_t len, off_t off)
{
    while (len > 0) {
        ssize_t n = pwrite(fd, buf, len, off);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        buf += n;
        len -= (size_t)n;
        off += n;
    }
    return 0;
}

/* Reads past EOF cannot happen (the file is always VFLASH_SIZE), so a short read is an error. */
static int pread_all(int fd, uint8_t *buf, size_t len, off_t off)
{
    while (len > 0) {
        ssize_t n = pread(fd, buf, len, off);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        if (n == 0) {
            return -EIO;
        }
        buf += n;
        len -= (size_t)n;
        off += n;
    }
    return 0;
}

/* Make [off, off + len) of the file zero (= erased flash): punch a hole, or write zeros on file
 * systems that cannot punch. */
static int zero_range(int fd, off_t off, size_t len)
{
    if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, (off_t)len) == 0) {
        return 0;
    }
    static const uint8_t zeros[CHUNK];
    while (len > 0) {
        size_t n = len < CHUNK ? len : CHUNK;
        int rc = pwrite_all(fd, zeros, n, off);
        if (rc != 0) {
            return rc;
        }
        off += (off_t)n;
        len -= n;
    }
    return 0;
}

int vflash_erase(vflash_t *fl, uint32_t addr, uint32_t len)
{
    if (fl == NULL || addr % VFLASH_SECTOR != 0 || len % VFLASH_SECTOR != 0 ||
        !range_ok(addr, len)) {
        return -EINVAL;
    }
    for (uint32_t a = addr; a < addr + len; a += VFLASH_SECTOR) {
        int cut = cut_step(fl);
        if (cut < 0) {
            return cut;
        }
        int rc = zero_range(fl->fd, a, cut ? VFLASH_SECTOR / 2 : VFLASH_SECTOR);
        if (rc != 0) {
            return rc;
        }
        if (cut) {
            return -EIO;
        }
        fl->stats.erases++;
        fl->stats.bytes_erased += VFLASH_SECTOR;
    }
    return 0;
}

int vflash_write(vflash_t *fl, uint32_t addr, const void *data, size_t len)
{
    if (fl == NULL || (data == NULL && len > 0) || !range_ok(addr, len)) {
        return -EINVAL;
    }
    int cut = cut_step(fl);
    if (cut < 0) {
        return cut;
    }
    size_t todo = cut ? len / 2 : len;
    const uint8_t *src = data;
    uint8_t buf[CHUNK];
    /* file = ~flash, and new flash = old & data, so new file = old file | ~data. */
    for (size_t done = 0; done < todo;) {
        size_t n = todo - done < CHUNK ? todo - done : CHUNK;
        int rc = pread_all(fl->fd, buf, n, (off_t)addr + (off_t)done);
        if (rc != 0) {
            return rc;
        }
        for (size_t i = 0; i < n; i++) {
            buf[i] |= (uint8_t)~src[done + i];
        }
        rc = pwrite_all(fl->fd, buf, n, (off_t)addr + (off_t)done);
        if (rc != 0) {
            return rc;
        }
        done += n;
    }
    if (cut) {
        return -EIO;
    }
    fl->stats.writes++;
    fl->stats.bytes_written += len;
    return 0;
}

int vflash_read(vflash_t *fl, uint32_t addr, void *data, size_t len)
{
    if (fl == NULL || (data == NULL && len > 0) || !range_ok(addr, len)) {
        return -EINVAL;
    }
    int rc = pread_all(fl->fd, data, len, addr);
    if (rc != 0) {
        return rc;
    }
    uint8_t *p = data;
    for (size_t i = 0; i < len; i++) {
        p[i] = (uint8_t)~p[i];
    }
    fl->stats.reads++;
    fl->stats.bytes_read += len;
    return 0;
}

void vflash_set_cut(vflash_t *fl, uint32_t n)
{
    if (fl == NULL) {
        return;
    }
    if (n == 0) {
        fl->cut_armed = 0;
        fl->cut_happened = 1;
        return;
    }
    fl->cut_armed = 1;
    fl->cut_countdown = n;
    fl->cut_happened = 0;
}

void vflash_clear_cut(vflash_t *fl)
{
    if (fl != NULL) {
        fl->cut_armed = 0;
        fl->cut_happened = 0;
        fl->cut_countdown = 0;
    }
}

int vflash_cut_happened(const vflash_t *fl)
{
    return fl != NULL && fl->cut_happened;
}

void vflash_stats(const vflash_t *fl, vflash_stats_t *out)
{
    if (fl != NULL && out != NULL) {
        *out = fl->stats;
    }
}

void vflash_stats_reset(vflash_t *fl)
{
    if (fl != NULL) {
        memset(&fl->stats, 0, sizeof(fl->stats));
    }
}
