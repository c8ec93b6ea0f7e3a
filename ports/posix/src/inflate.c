/* SPDX-License-Identifier: Apache-2.0 */
/*
 * inflate.c - the POSIX port's inflate hook: zlib (Debian's zlib1g) in raw mode, as a device
 * would run it: no heap, its state and window carved from a static arena through zalloc and
 * zfree. zlib asks for two blocks per stream (its inflate_state, then the window on first
 * use); the arena is a bump allocator reset at every call, since the agent's decoder keeps
 * nothing from one chunk to the next (its history is read back from flash).
 */
#include "mqota_posix/inflate.h"

#include <string.h>
#include <zlib.h>

/* zlib's inflate state (7,160 bytes with zlib 1.2.13 on x86_64) plus the largest window,
 * with room for alignment. */
#define ARENA_BYTES (8192u + (1u << POSIX_INFLATE_WINDOW_BITS))
#define HIST_PIECE 1024u /* history is read from the slot in pieces of this size */
#define OUT_PIECE 1024u  /* and output handed to the slot in pieces of this size */

static struct {
    _Alignas(16) unsigned char buf[ARENA_BYTES];
    size_t used;
    size_t peak;
} arena;

/* zalloc: the next aligned block of the arena, Z_NULL when it is full. */
static voidpf arena_alloc(voidpf opaque, uInt items, uInt size)
{
    (void)opaque;
    size_t n = ((size_t)items * size + 15u) & ~(size_t)15u;
    if (size != 0u && items > ARENA_BYTES / size) {
        return Z_NULL;
    }
    if (n > ARENA_BYTES - arena.used) {
        return Z_NULL;
    }
    voidpf p = arena.buf + arena.used;
    arena.used += n;
    if (arena.used > arena.peak) {
        arena.peak = arena.used;
    }
    return p;
}

/* zfree: nothing; the arena is reset at the next call. */
static void arena_free(voidpf opaque, voidpf address)
{
    (void)opaque;
    (void)address;
}

size_t posix_inflate_ram_peak(void) { return arena.peak; }

/* Prime the decoder's history with the job's hist_len bytes, read in pieces (a raw inflate
 * appends each piece to its window). Z_OK or a zlib error. */
static int prime(z_stream *zs, const mqota_inflate_job_t *job)
{
    unsigned char piece[HIST_PIECE];
    for (uint32_t off = 0; off < job->hist_len;) {
        uint32_t n = job->hist_len - off < HIST_PIECE ? job->hist_len - off : HIST_PIECE;
        if (job->read_history(job, off, piece, n) != 0) {
            return Z_ERRNO;
        }
        int rc = inflateSetDictionary(zs, piece, n);
        if (rc != Z_OK) {
            return rc;
        }
        off += n;
    }
    return Z_OK;
}

int posix_inflate(void *ctx, const mqota_inflate_job_t *job)
{
    z_stream zs;
    unsigned char out[OUT_PIECE];
    int rc;
    int result = -1;
    size_t total = 0; /* output bytes handed to job->write */
    (void)ctx;

    if (job == NULL || job->window_bits < 9u || job->window_bits > POSIX_INFLATE_WINDOW_BITS ||
        job->hist_len > (1u << job->window_bits)) {
        return -1;
    }
    memset(&zs, 0, sizeof(zs));
    zs.zalloc = arena_alloc;
    zs.zfree = arena_free;
    arena.used = 0;
    if (inflateInit2(&zs, -(int)job->window_bits) != Z_OK) {
        return -1;
    }
    if (prime(&zs, job) != Z_OK) {
        goto out;
    }
    zs.next_in = (z_const Bytef *)job->in;
    zs.avail_in = (uInt)job->in_len;
    for (;;) {
        zs.next_out = out;
        zs.avail_out = sizeof(out);
        rc = inflate(&zs, Z_SYNC_FLUSH);
        size_t produced = sizeof(out) - zs.avail_out;
        if (produced > 0u && job->write(job, out, produced) != 0) {
            goto out;
        }
        total += produced;
        if (rc == Z_STREAM_END || (rc == Z_BUF_ERROR && produced == 0u)) {
            break; /* end of the stream, or of this chunk's input */
        }
        if (rc != Z_OK) {
            goto out; /* bad data, or no memory in the arena */
        }
    }
    /* every byte of input taken (none after the stream's end), exactly out_len bytes out */
    result = zs.avail_in == 0u && total == job->out_len ? 0 : -1;
out:
    (void)inflateEnd(&zs);
    return result;
}
