/* SPDX-License-Identifier: Apache-2.0 */
/*
 * zbest.h - the smallest raw deflate zlib makes of one chunk (docs/PROTOCOL.md §6.1, §18).
 *
 * mqotad builds a release's compressed and delta forms once and caches them, so it spends CPU
 * there: each chunk is deflated with every setting of a small fixed list (zlib level 9,
 * memLevel 9, the chunk cut into 1, 2 or 4 deflate blocks) and the smallest result is kept. Every candidate is a raw deflate stream with the same preset
 * dictionary, ended by its final block: any inflater decodes any of them the same way, so the
 * device never knows which one it got.
 */
#ifndef MQOTAD_ZBEST_H
#define MQOTAD_ZBEST_H

#include <stddef.h>
#include <stdint.h>

/**
 * Bytes zbest__deflate() may write for len input bytes (a bound, not the result).
 * @param len  input bytes
 * @return the capacity out must have
 */
size_t zbest__bound(size_t len);

/**
 * Deflates in as one raw deflate stream (RFC 1951, window 1 << window_bits) whose preset
 * dictionary is dict, ended by its final block, with each candidate setting; writes the
 * smallest (the first of equal ones) to out.
 * @param in           bytes to compress (len may be 0)
 * @param dict         preset dictionary (dict_len bytes, at most the window; NULL when 0)
 * @param window_bits  log2 of the window, 9..15
 * @param out          at least zbest__bound(len) bytes
 * @return bytes written to out; -1 on a zlib failure or no memory
 */
long zbest__deflate(const uint8_t *in, size_t len, const uint8_t *dict, size_t dict_len,
                    int window_bits, uint8_t *out);

#endif
