/* SPDX-License-Identifier: Apache-2.0 */
/*
 * zbest.c - the smallest raw deflate of a chunk over a fixed list of zlib settings (zbest.h).
 *
 * Measured with bench/deflate-sizes and bench/delta-sizes (docs/PERFORMANCE.md): ending a
 * chunk with its own final block instead of a sync flush saves the flush's empty stored block,
 * and letting the chunk be cut into 2 or 4 blocks gives each part its own Huffman codes (zlib
 * ends a block only when its symbol buffer fills).
 */
#include "zbest.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define ZBEST_LEVEL 9 /* zlib's best compression: a form is built once per release */

/* The candidates: strategy, memLevel and the number of equal parts (deflate blocks). Z_FILTERED
 * and memLevel 8 as well (12 candidates) won 36 bytes of NerdMiner's 263,313-byte delta and 4 of
 * its 804,293-byte form for four times the CPU (bench/deflate-sizes, bench/delta-sizes). */
static const struct {
    int strategy;
    int mem_level;
    unsigned parts;
} zbest__cands[] = {
    {Z_DEFAULT_STRATEGY, 9, 1},
    {Z_DEFAULT_STRATEGY, 9, 2},
    {Z_DEFAULT_STRATEGY, 9, 4},
};
#define ZBEST_MAX_PARTS 4u

size_t zbest__bound(size_t len)
{
    /* zlib's bound for the stored worst case, plus the block ends of the parts */
    return (size_t)compressBound((uLong)len) + 16u * ZBEST_MAX_PARTS + 64u;
}

/* One candidate: in deflated into out (cap bytes) with the given settings, each part ended
 * by Z_BLOCK and the last by Z_FINISH. Bytes written, or -1 (zlib failure, out too small). */
static long zbest__one(const uint8_t *in, size_t len, const uint8_t *dict, size_t dict_len,
                       int window_bits, int strategy, int mem_level, unsigned parts, uint8_t *out,
                       size_t cap)
{
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    if (deflateInit2(&zs, ZBEST_LEVEL, Z_DEFLATED, -window_bits, mem_level, strategy) != Z_OK)
        return -1;
    long ret = -1;
    if (dict_len > 0 && deflateSetDictionary(&zs, dict, (uInt)dict_len) != Z_OK) goto out;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    for (unsigned k = 0; k < parts; k++) {
        size_t from = len * k / parts, to = len * (k + 1) / parts;
        int flush = k + 1 == parts ? Z_FINISH : Z_BLOCK;
        zs.next_in = (z_const Bytef *)(in + from);
        zs.avail_in = (uInt)(to - from);
        int rc = deflate(&zs, flush);
        /* all input taken and the flush complete (room left: nothing pending in zlib) */
        if ((flush == Z_FINISH ? rc != Z_STREAM_END : rc != Z_OK) || zs.avail_in != 0 ||
            zs.avail_out == 0)
            goto out;
    }
    ret = (long)(cap - zs.avail_out);
out:
    deflateEnd(&zs);
    return ret;
}

long zbest__deflate(const uint8_t *in, size_t len, const uint8_t *dict, size_t dict_len,
                    int window_bits, uint8_t *out)
{
    size_t cap = zbest__bound(len);
    uint8_t *tmp = malloc(cap);
    if (!tmp) return -1;
    long best = -1;
    for (size_t c = 0; c < sizeof(zbest__cands) / sizeof(zbest__cands[0]); c++) {
        /* parts of fewer than 2 bytes gain nothing */
        if (zbest__cands[c].parts > 1 && len < 2u * zbest__cands[c].parts) continue;
        long n = zbest__one(in, len, dict, dict_len, window_bits, zbest__cands[c].strategy,
                            zbest__cands[c].mem_level, zbest__cands[c].parts, tmp, cap);
        if (n < 0) {
            best = -1;
            break;
        }
        if (best < 0 || n < best) {
            memcpy(out, tmp, (size_t)n);
            best = n;
        }
    }
    free(tmp);
    return best;
}
