/* SPDX-License-Identifier: Apache-2.0 */
/*
 * delta.c - delta preparation for delta updates (docs/PROTOCOL.md §18).
 *
 * Pipeline, run once per (base image, target image, chunk size) and cached on disk:
 *   1. bsdiff (Debian's, spawned as a program: the matcher is never ours) writes a BSDIFF40
 *      file: a 32-byte header (magic, three sign-magnitude little-endian 64-bit numbers: the
 *      compressed control length, the compressed diff length, the new size) then three bzip2
 *      streams: control triples (x, y, z), diff bytes, extra bytes. Each triple means: x target
 *      bytes are source bytes at the old position plus the next x diff bytes, then y target
 *      bytes are the next y extra bytes, then the old position moves by z.
 *   2. libbz2 decompresses the three streams; the triples become ADD and INSERT records
 *      (mqota_delta.h), cut at every chunk boundary, each chunk starting with the source
 *      position at its own target offset so that it decodes alone.
 *   3. The device's applier (mqota_delta.c) rebuilds the target from the records and the base;
 *      a delta that does not give the target byte for byte is refused, never cached.
 * The cached file is versioned and carries a CRC-32 (delta__save()).
 */
#include "delta.h"

#include <bzlib.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "mqota/mqota_delta.h"
#include "mqota/mqota_proto.h"
#include "zbest.h"

extern char **environ;

/* BSDIFF40 header: magic (8 bytes) and three 8-byte numbers. */
#define BSDIFF_MAGIC "BSDIFF40"
#define BSDIFF_HEADER_LEN 32u
/* A u32 LEB128 takes at most this many bytes. */
#define LEB_MAX 5u

/* A growable byte buffer for the record stream. */
typedef struct {
    uint8_t *p;
    size_t len, cap;
} buf_t;

/* Appends n bytes to b. Returns 0, or -1 when out of memory. */
static int buf_put(buf_t *b, const void *src, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 65536;
        while (cap < b->len + n) {
            cap *= 2;
        }
        uint8_t *p = realloc(b->p, cap);
        if (p == NULL) {
            return -1;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
    return 0;
}

/* Appends v as a LEB128 number. Returns 0 or -1 (out of memory). */
static int buf_leb(buf_t *b, uint32_t v)
{
    uint8_t tmp[LEB_MAX];
    size_t n = 0;
    while (v >= 0x80u) {
        tmp[n++] = (uint8_t)(v | 0x80u);
        v >>= 7;
    }
    tmp[n++] = (uint8_t)v;
    return buf_put(b, tmp, n);
}

/* bsdiff's offtin(): 8 bytes, sign-magnitude, little-endian. */
static int64_t offtin(const uint8_t *p)
{
    int64_t y = p[7] & 0x7F;
    for (int i = 6; i >= 0; i--) {
        y = y * 256 + p[i];
    }
    return (p[7] & 0x80) ? -y : y;
}

/*
 * Decompresses one whole bzip2 stream (in, len) into a new buffer *out (*out_len bytes).
 * Returns 0, or -1 on a corrupt stream or out of memory (*out is then NULL).
 */
static int bunzip(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len)
{
    bz_stream s;
    memset(&s, 0, sizeof(s));
    buf_t b = {0};
    *out = NULL;
    if (BZ2_bzDecompressInit(&s, 0, 0) != BZ_OK) {
        return -1;
    }
    s.next_in = (char *)in;
    s.avail_in = (unsigned)len;
    int rc = BZ_OK;
    while (rc == BZ_OK) {
        uint8_t tmp[65536];
        s.next_out = (char *)tmp;
        s.avail_out = sizeof(tmp);
        rc = BZ2_bzDecompress(&s);
        size_t got = sizeof(tmp) - s.avail_out;
        if ((rc == BZ_OK || rc == BZ_STREAM_END) && buf_put(&b, tmp, got) != 0) {
            rc = BZ_MEM_ERROR;
        }
        if (rc == BZ_OK && got == 0 && s.avail_in == 0) {
            rc = BZ_UNEXPECTED_EOF;
        }
    }
    BZ2_bzDecompressEnd(&s);
    if (rc != BZ_STREAM_END) {
        free(b.p);
        return -1;
    }
    *out = b.p;
    *out_len = b.len;
    return 0;
}

/* The record stream being cut into chunks: where the target and the chunk's source stand. */
typedef struct {
    buf_t out;
    uint32_t *offsets;
    uint32_t chunk_size;
    uint64_t t;   /* target bytes produced */
    int64_t pos;  /* source position as the device will track it */
} cutter_t;

/*
 * Emits one record of n target bytes (kind ADD from source src with diff bytes data, or
 * INSERT of data), cutting it at chunk boundaries. Returns 0 or -1 (out of memory).
 */
static int cut_record(cutter_t *c, unsigned kind, int64_t src, const uint8_t *data, uint64_t n)
{
    while (n > 0) {
        uint64_t in_chunk = c->t % c->chunk_size;
        if (in_chunk == 0) {
            c->offsets[c->t / c->chunk_size] = (uint32_t)c->out.len;
            c->pos = (int64_t)c->t;
        }
        uint64_t k = c->chunk_size - in_chunk;
        if (k > n) {
            k = n;
        }
        if (buf_leb(&c->out, (uint32_t)(k << 1 | kind)) != 0) {
            return -1;
        }
        if (kind == MQOTA_DELTA_ADD) {
            int64_t s = src - c->pos;
            uint32_t z = s >= 0 ? (uint32_t)((uint64_t)s << 1) : (uint32_t)(((uint64_t)(-s) << 1) - 1);
            if (buf_leb(&c->out, z) != 0) {
                return -1;
            }
            c->pos = src + (int64_t)k;
            src += (int64_t)k;
        }
        if (buf_put(&c->out, data, k) != 0) {
            return -1;
        }
        data += k;
        n -= k;
        c->t += k;
    }
    return 0;
}

/*
 * Turns a BSDIFF40 file (p, len) into delta chunks in *d (offsets and data allocated here).
 * Returns 0, or -1 with err set (a malformed bsdiff output, a move outside the base, or out of
 * memory).
 */
static int from_bsdiff(const uint8_t *p, size_t len, delta_t *d, char *err, size_t err_cap)
{
    uint8_t *ctl = NULL, *dif = NULL, *ext = NULL;
    size_t ctl_len = 0, dif_len = 0, ext_len = 0;
    cutter_t c = {0};
    int ret = -1;
    if (len < BSDIFF_HEADER_LEN || memcmp(p, BSDIFF_MAGIC, 8) != 0) {
        snprintf(err, err_cap, "bsdiff wrote no BSDIFF40 file");
        return -1;
    }
    int64_t cl = offtin(p + 8), dl = offtin(p + 16), ns = offtin(p + 24);
    if (cl < 0 || dl < 0 || ns != (int64_t)d->target_size ||
        (uint64_t)cl + (uint64_t)dl > len - BSDIFF_HEADER_LEN) {
        snprintf(err, err_cap, "bsdiff's output has a bad header");
        return -1;
    }
    const uint8_t *q = p + BSDIFF_HEADER_LEN;
    if (bunzip(q, (size_t)cl, &ctl, &ctl_len) != 0 || bunzip(q + cl, (size_t)dl, &dif, &dif_len) != 0 ||
        bunzip(q + cl + dl, len - BSDIFF_HEADER_LEN - (size_t)cl - (size_t)dl, &ext, &ext_len) != 0 ||
        ctl_len % 24 != 0) {
        snprintf(err, err_cap, "bsdiff's output does not decompress (libbz2)");
        goto out;
    }
    c.chunk_size = d->chunk_size;
    c.offsets = calloc((size_t)d->chunk_count + 1, sizeof(uint32_t));
    if (c.offsets == NULL) {
        snprintf(err, err_cap, "out of memory preparing a delta");
        goto out;
    }
    int64_t old = 0;
    size_t dp = 0, ep = 0;
    for (size_t i = 0; i < ctl_len; i += 24) {
        int64_t x = offtin(ctl + i), y = offtin(ctl + i + 8), z = offtin(ctl + i + 16);
        if (x < 0 || y < 0 || (uint64_t)x > dif_len - dp || (uint64_t)y > ext_len - ep ||
            c.t + (uint64_t)x + (uint64_t)y > d->target_size || old < 0 ||
            old + x > (int64_t)d->base_size) {
            snprintf(err, err_cap, "bsdiff's control stream is inconsistent");
            goto out;
        }
        if (cut_record(&c, MQOTA_DELTA_ADD, old, dif + dp, (uint64_t)x) != 0 ||
            cut_record(&c, MQOTA_DELTA_INSERT, 0, ext + ep, (uint64_t)y) != 0) {
            snprintf(err, err_cap, "out of memory preparing a delta");
            goto out;
        }
        dp += (size_t)x;
        ep += (size_t)y;
        old += x + z;
    }
    if (c.t != d->target_size) {
        snprintf(err, err_cap, "bsdiff's output covers %llu of %u target bytes",
                 (unsigned long long)c.t, (unsigned)d->target_size);
        goto out;
    }
    c.offsets[d->chunk_count] = (uint32_t)c.out.len;
    d->offsets = c.offsets;
    d->data = c.out.p;
    d->data_len = c.out.len;
    c.offsets = NULL;
    c.out.p = NULL;
    ret = 0;
out:
    free(ctl);
    free(dif);
    free(ext);
    free(c.offsets);
    free(c.out.p);
    return ret;
}

/* The applier's callbacks for the self-check: the base in memory, the rebuilt target. */
typedef struct {
    const uint8_t *base;
    const uint8_t *target;
    size_t at;      /* target bytes compared so far */
    size_t target_len;
} check_t;

static mqota_status_t check_read(void *ctx, uint32_t off, uint8_t *buf, size_t len)
{
    const check_t *c = ctx;
    memcpy(buf, c->base + off, len);
    return MQOTA_OK;
}

static mqota_status_t check_write(void *ctx, const uint8_t *data, size_t len)
{
    check_t *c = ctx;
    if (len > c->target_len - c->at || memcmp(c->target + c->at, data, len) != 0) {
        return MQOTA_ERR_HASH;
    }
    c->at += len;
    return MQOTA_OK;
}

/*
 * Applies every chunk of d to base with the device's applier, each in its own call, and
 * compares with target. Returns 0 when it rebuilds the target exactly, -1 otherwise.
 */
static int self_check(const delta_t *d, const uint8_t *base, const uint8_t *target)
{
    check_t c = {base, target, 0, d->target_size};
    mqota_delta_t a;
    if (mqota_delta_init(&a, d->base_size, check_read, check_write, &c) != MQOTA_OK) {
        return -1;
    }
    for (uint32_t i = 0; i < d->chunk_count; i++) {
        uint32_t off = i * d->chunk_size;
        uint32_t n = d->target_size - off < d->chunk_size ? d->target_size - off : d->chunk_size;
        if (c.at != off || mqota_delta_begin(&a, off, n) != MQOTA_OK ||
            mqota_delta_feed(&a, d->data + d->offsets[i], d->offsets[i + 1] - d->offsets[i]) != MQOTA_OK ||
            mqota_delta_end(&a) != MQOTA_OK) {
            return -1;
        }
    }
    return c.at == d->target_size ? 0 : -1;
}

/* Writes len bytes to a new file at path (0600). Returns 0 or -1 (errno set). */
static int write_file(const char *path, const uint8_t *p, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        return -1;
    }
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, p + done, len - done);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            int e = errno;
            close(fd);
            errno = e;
            return -1;
        }
        done += (size_t)n;
    }
    if (fsync(fd) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return close(fd);
}

/* Reads a whole file into a new buffer. Returns 0, 1 if it does not exist, -1 on error. */
static int read_file(const char *path, uint8_t **out, size_t *out_len)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return errno == ENOENT ? 1 : -1;
    }
    buf_t b = {0};
    uint8_t tmp[65536];
    size_t n;
    while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0) {
        if (buf_put(&b, tmp, n) != 0) {
            fclose(f);
            free(b.p);
            return -1;
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(b.p);
        return -1;
    }
    *out = b.p;
    *out_len = b.len;
    return 0;
}

/* CPU seconds of this process plus its waited-for children so far. */
static double cpu_seconds(void)
{
    struct rusage s, c;
    getrusage(RUSAGE_SELF, &s);
    getrusage(RUSAGE_CHILDREN, &c);
    return (double)(s.ru_utime.tv_sec + s.ru_stime.tv_sec + c.ru_utime.tv_sec + c.ru_stime.tv_sec) +
           (double)(s.ru_utime.tv_usec + s.ru_stime.tv_usec + c.ru_utime.tv_usec + c.ru_stime.tv_usec) / 1e6;
}

/*
 * Runs `bsdiff old new patch` and waits for it. Returns 0 when it exited with 0, -1 with err
 * set otherwise (not installed, killed, failed).
 */
static int run_bsdiff(const char *old_path, const char *new_path, const char *patch_path,
                      char *err, size_t err_cap)
{
    char *argv[] = {"bsdiff", (char *)old_path, (char *)new_path, (char *)patch_path, NULL};
    pid_t pid;
    int rc = posix_spawnp(&pid, "bsdiff", NULL, NULL, argv, environ);
    if (rc != 0) {
        snprintf(err, err_cap, "cannot run bsdiff (%s): install the Debian package bsdiff",
                 strerror(rc));
        return -1;
    }
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            snprintf(err, err_cap, "waiting for bsdiff failed: %s", strerror(errno));
            return -1;
        }
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        snprintf(err, err_cap, "bsdiff failed (status %d)", status);
        return -1;
    }
    return 0;
}

/*
 * delta__make() with bsdiff's output kept at keep_patch (NULL: not kept) and taken from there
 * when it is already, so that other chunk sizes of the same pair re-cut it instead of running
 * bsdiff again (a bad kept file is refused by libbz2 or by the self-check, never used).
 */
static int make_delta(const uint8_t *base, size_t base_len, const uint8_t *target,
                      size_t target_len, uint32_t chunk_size, const char *tmp_dir,
                      const char *keep_patch, delta_t *out, char *err, size_t err_cap)
{
    char old_path[4096], new_path[4096], patch_path[4096];
    uint8_t *patch = NULL;
    size_t patch_len = 0;
    int ret = -1;
    memset(out, 0, sizeof(*out));
    if (chunk_size == 0 || base_len == 0 || target_len == 0 || base_len > UINT32_MAX ||
        target_len > UINT32_MAX) {
        snprintf(err, err_cap, "a delta needs two non-empty images under 4 GiB and a chunk size");
        return -1;
    }
    double cpu0 = cpu_seconds();
    out->chunk_size = chunk_size;
    out->base_size = (uint32_t)base_len;
    out->target_size = (uint32_t)target_len;
    out->chunk_count = (uint32_t)((target_len + chunk_size - 1) / chunk_size);
    if (EVP_Digest(base, base_len, out->base_sha256, NULL, EVP_sha256(), NULL) != 1 ||
        EVP_Digest(target, target_len, out->target_sha256, NULL, EVP_sha256(), NULL) != 1) {
        snprintf(err, err_cap, "OpenSSL could not hash the images");
        return -1;
    }
    long pid = (long)getpid();
    snprintf(old_path, sizeof(old_path), "%s/.delta-base.%ld", tmp_dir, pid);
    snprintf(new_path, sizeof(new_path), "%s/.delta-target.%ld", tmp_dir, pid);
    snprintf(patch_path, sizeof(patch_path), "%s/.delta-patch.%ld", tmp_dir, pid);
    if (keep_patch != NULL && read_file(keep_patch, &patch, &patch_len) == 0 &&
        from_bsdiff(patch, patch_len, out, err, err_cap) == 0 && self_check(out, base, target) == 0) {
        out->prepare_seconds = cpu_seconds() - cpu0;
        ret = 0;
        goto out;
    }
    delta__free(out);
    free(patch);
    patch = NULL;
    if (write_file(old_path, base, base_len) != 0 || write_file(new_path, target, target_len) != 0) {
        snprintf(err, err_cap, "cannot write the delta's temporary files in %s: %s", tmp_dir,
                 strerror(errno));
        goto out;
    }
    if (run_bsdiff(old_path, new_path, patch_path, err, err_cap) != 0) {
        goto out;
    }
    if (read_file(patch_path, &patch, &patch_len) != 0) {
        snprintf(err, err_cap, "cannot read bsdiff's output %s", patch_path);
        goto out;
    }
    if (from_bsdiff(patch, patch_len, out, err, err_cap) != 0) {
        goto out;
    }
    if (self_check(out, base, target) != 0) {
        snprintf(err, err_cap, "the delta does not rebuild the target image: not used");
        goto out;
    }
    out->prepare_seconds = cpu_seconds() - cpu0;
    ret = 0;
    if (keep_patch != NULL && rename(patch_path, keep_patch) != 0) {
        unlink(patch_path); /* not kept: the next chunk size runs bsdiff again */
    }
out:
    unlink(old_path);
    unlink(new_path);
    unlink(patch_path);
    free(patch);
    if (ret != 0) {
        delta__free(out);
    }
    return ret;
}

int delta__make(const uint8_t *base, size_t base_len, const uint8_t *target, size_t target_len,
                uint32_t chunk_size, const char *tmp_dir, delta_t *out, char *err, size_t err_cap)
{
    return make_delta(base, base_len, target, target_len, chunk_size, tmp_dir, NULL, out, err,
                      err_cap);
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int delta__save(const delta_t *d, const char *path, char *err, size_t err_cap)
{
    size_t table = ((size_t)d->chunk_count + 1) * 4;
    size_t len = DELTA_FILE_HEADER_LEN + table + d->data_len + 4;
    uint8_t *p = malloc(len);
    char tmp[4096];
    if (p == NULL) {
        snprintf(err, err_cap, "out of memory saving a delta");
        return -1;
    }
    memcpy(p, DELTA_FILE_MAGIC, 4);
    put32(p + 4, DELTA_FILE_VERSION);
    put32(p + 8, d->chunk_size);
    put32(p + 12, d->base_size);
    put32(p + 16, d->target_size);
    put32(p + 20, d->chunk_count);
    memcpy(p + 24, d->base_sha256, 32);
    memcpy(p + 56, d->target_sha256, 32);
    put32(p + 88, (uint32_t)d->data_len);
    put32(p + 92, 0);
    for (uint32_t i = 0; i <= d->chunk_count; i++) {
        put32(p + DELTA_FILE_HEADER_LEN + (size_t)i * 4, d->offsets[i]);
    }
    memcpy(p + DELTA_FILE_HEADER_LEN + table, d->data, d->data_len);
    put32(p + len - 4, (uint32_t)crc32(0, p, (uInt)(len - 4)));
    snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
    int rc = write_file(tmp, p, len);
    free(p);
    if (rc != 0 || rename(tmp, path) != 0) {
        snprintf(err, err_cap, "cannot store the delta %s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

int delta__load(const char *path, delta_t *out, char *err, size_t err_cap)
{
    uint8_t *p = NULL;
    size_t len = 0;
    memset(out, 0, sizeof(*out));
    int rc = read_file(path, &p, &len);
    if (rc != 0) {
        if (rc < 0) {
            snprintf(err, err_cap, "cannot read the delta %s: %s", path, strerror(errno));
        }
        return rc;
    }
    const char *why = NULL;
    if (len < DELTA_FILE_HEADER_LEN + 8 || memcmp(p, DELTA_FILE_MAGIC, 4) != 0) {
        why = "not a delta file";
    } else if (get32(p + 4) != DELTA_FILE_VERSION) {
        why = "unknown version";
    } else if (get32(p + len - 4) != (uint32_t)crc32(0, p, (uInt)(len - 4))) {
        why = "CRC-32 mismatch";
    }
    if (why == NULL) {
        out->chunk_size = get32(p + 8);
        out->base_size = get32(p + 12);
        out->target_size = get32(p + 16);
        out->chunk_count = get32(p + 20);
        memcpy(out->base_sha256, p + 24, 32);
        memcpy(out->target_sha256, p + 56, 32);
        out->data_len = get32(p + 88);
        size_t table = ((size_t)out->chunk_count + 1) * 4;
        if (out->chunk_size == 0 ||
            out->chunk_count != (out->target_size + (uint64_t)out->chunk_size - 1) / out->chunk_size ||
            DELTA_FILE_HEADER_LEN + table + out->data_len + 4 != len) {
            why = "inconsistent sizes";
        }
    }
    if (why == NULL) {
        size_t table = ((size_t)out->chunk_count + 1) * 4;
        out->offsets = malloc(table);
        out->data = malloc(out->data_len ? out->data_len : 1);
        if (out->offsets == NULL || out->data == NULL) {
            why = "out of memory";
        } else {
            for (uint32_t i = 0; i <= out->chunk_count && why == NULL; i++) {
                out->offsets[i] = get32(p + DELTA_FILE_HEADER_LEN + (size_t)i * 4);
                if ((i == 0 && out->offsets[0] != 0) ||
                    (i > 0 && out->offsets[i] < out->offsets[i - 1])) {
                    why = "offset table out of order";
                }
            }
            if (why == NULL && out->offsets[out->chunk_count] != out->data_len) {
                why = "offset table does not end at the data's end";
            }
            if (why == NULL) {
                memcpy(out->data, p + DELTA_FILE_HEADER_LEN + table, out->data_len);
            }
        }
    }
    free(p);
    if (why != NULL) {
        snprintf(err, err_cap, "the delta %s is refused: %s", path, why);
        delta__free(out);
        return -1;
    }
    return 0;
}

/* Lowercase hex of a SHA-256 into out (65 bytes). */
static void hex32(const uint8_t *h, char *out)
{
    for (int i = 0; i < 32; i++) {
        snprintf(out + 2 * i, 3, "%02x", h[i]);
    }
}

int delta__prepare(const char *dir, const uint8_t *base, size_t base_len, const uint8_t *target,
                   size_t target_len, uint32_t chunk_size, delta_t *out, char *err,
                   size_t err_cap)
{
    uint8_t bh[32], th[32];
    char bx[65], tx[65], path[4096];
    if (EVP_Digest(base, base_len, bh, NULL, EVP_sha256(), NULL) != 1 ||
        EVP_Digest(target, target_len, th, NULL, EVP_sha256(), NULL) != 1) {
        snprintf(err, err_cap, "OpenSSL could not hash the images");
        return -1;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, err_cap, "cannot create the delta directory %s: %s", dir, strerror(errno));
        return -1;
    }
    hex32(bh, bx);
    hex32(th, tx);
    snprintf(path, sizeof(path), "%s/%s-%s-%u.mqdl", dir, bx, tx, (unsigned)chunk_size);
    int rc = delta__load(path, out, err, err_cap);
    if (rc == 0 && out->chunk_size == chunk_size && out->base_size == base_len &&
        out->target_size == target_len && memcmp(out->base_sha256, bh, 32) == 0 &&
        memcmp(out->target_sha256, th, 32) == 0) {
        return 0; /* cached: prepare_seconds stays 0 */
    }
    if (rc == 0) {
        delta__free(out); /* a file under this name for other images: made again */
    }
    char patch[4096];
    snprintf(patch, sizeof(patch), "%s/%s-%s.bsdiff", dir, bx, tx);
    if (make_delta(base, base_len, target, target_len, chunk_size, dir, patch, out, err,
                   err_cap) != 0) {
        return -1;
    }
    if (delta__save(out, path, err, err_cap) != 0) {
        delta__free(out);
        return -1;
    }
    return 0;
}

/* Appends to b one chunk's delta data: records_len (LEB128) then the records deflated with
 * dictionary dict (zbest.h). Returns 0, or -1 on a zlib failure or no memory. */
static int deflate_records(buf_t *b, const uint8_t *in, size_t len, const uint8_t *dict,
                           size_t dict_len, int window_bits)
{
    size_t bound = zbest__bound(len) + 5u;
    if (b->len + bound > b->cap) {
        size_t cap = b->cap ? b->cap : 65536;
        while (cap < b->len + bound) {
            cap *= 2;
        }
        uint8_t *p = realloc(b->p, cap);
        if (p == NULL) {
            return -1;
        }
        b->p = p;
        b->cap = cap;
    }
    if (buf_leb(b, (uint32_t)len) != 0) {
        return -1;
    }
    long n = zbest__deflate(in, len, dict, dict_len, window_bits, b->p + b->len);
    if (n < 0) {
        return -1;
    }
    b->len += (size_t)n;
    return 0;
}

/*
 * Appends to b the smaller delta data of chunk i: its records (in, len), or one INSERT record
 * of the chunk's image bytes (image, image_len), which is what a chunk unlike anything in the
 * base deflates best as (bench/delta-sizes). Both decode alike on the device. 0 or -1.
 */
static int deflate_chunk(buf_t *b, const uint8_t *in, size_t len, const uint8_t *image,
                         size_t image_len, const uint8_t *dict, size_t dict_len, int window_bits)
{
    size_t at = b->len;
    if (deflate_records(b, in, len, dict, dict_len, window_bits) != 0) {
        return -1;
    }
    size_t recs = b->len - at;
    buf_t alt = {0};
    int ret = -1;
    /* the INSERT record: h = len << 1 | kind 1, then the bytes */
    if (buf_leb(&alt, (uint32_t)(image_len << 1 | 1u)) != 0 ||
        buf_put(&alt, image, image_len) != 0) {
        goto out;
    }
    /* the records stay; the INSERT goes after them */
    size_t alt_at = b->len;
    if (deflate_records(b, alt.p, alt.len, dict, dict_len, window_bits) != 0) {
        goto out;
    }
    size_t alt_n = b->len - alt_at;
    if (alt_n < recs) {
        memmove(b->p + at, b->p + alt_at, alt_n); /* the INSERT is smaller */
        b->len = at + alt_n;
    } else {
        b->len = at + recs;
    }
    ret = 0;
out:
    free(alt.p);
    return ret;
}

int delta__wire(const delta_t *d, const uint8_t *target, uint8_t encoding, uint8_t window_bits,
                uint8_t **wire, uint32_t **off, size_t *wire_len, char *err, size_t err_cap)
{
    buf_t b = {0};
    *wire = NULL;
    *off = NULL;
    if (!MQOTA_ENCODING_IS_DELTA(encoding) || window_bits < MQOTA_WINDOW_BITS_MIN ||
        window_bits > MQOTA_WINDOW_BITS_MAX) {
        snprintf(err, err_cap, "encoding %u window %u is not a delta form", (unsigned)encoding,
                 (unsigned)window_bits);
        return -1;
    }
    uint32_t *o = calloc((size_t)d->chunk_count + 1, sizeof(uint32_t));
    if (o == NULL) {
        snprintf(err, err_cap, "out of memory deflating a delta");
        return -1;
    }
    size_t window = (size_t)1 << window_bits;
    for (uint32_t i = 0; i < d->chunk_count; i++) {
        size_t at = (size_t)i * d->chunk_size;
        size_t dict_len = encoding == MQOTA_ENCODING_DELTA_SYNC ? (at < window ? at : window) : 0;
        o[i] = (uint32_t)b.len;
        size_t image_len = d->target_size - at < d->chunk_size ? d->target_size - at
                                                                : d->chunk_size;
        if (deflate_chunk(&b, d->data + d->offsets[i], d->offsets[i + 1] - d->offsets[i],
                          target + at, image_len, target + at - dict_len, dict_len,
                          window_bits) != 0) {
            snprintf(err, err_cap, "zlib could not deflate delta chunk %u", (unsigned)i);
            free(o);
            free(b.p);
            return -1;
        }
    }
    o[d->chunk_count] = (uint32_t)b.len;
    *wire = b.p;
    *off = o;
    *wire_len = b.len;
    return 0;
}

void delta__free(delta_t *d)
{
    free(d->offsets);
    free(d->data);
    d->offsets = NULL;
    d->data = NULL;
    d->data_len = 0;
}
