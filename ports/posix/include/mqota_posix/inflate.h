/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file inflate.h
 * @brief The POSIX port's decoder for compressed transfers (docs/PROTOCOL.md §6.1): zlib's raw
 *        inflate, its memory from a static arena through zalloc/zfree (no heap).
 */
#ifndef MQOTA_POSIX_INFLATE_H
#define MQOTA_POSIX_INFLATE_H

#include <stddef.h>

#include "mqota/mqota_platform.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Largest deflate window the POSIX decoder takes, log2 bytes (32 KiB). */
#define POSIX_INFLATE_WINDOW_BITS 15u

/**
 * The platform's inflate hook (mqota_platform_t.inflate): a new raw inflate with window
 * 1 << job->window_bits, history primed through job->read_history (inflateSetDictionary),
 * output through job->write. Single-threaded: the arena is one static buffer, reset at every
 * call (the fleet runs its devices on one thread, one hook call at a time).
 * @param[in] ctx Unused.
 * @param[in] job The chunk (mqota_platform.h).
 * @return 0 if the whole input was consumed and exactly job->out_len bytes came out, -1
 *         otherwise (bad data, window too large, arena too small, a callback failed).
 */
int posix_inflate(void *ctx, const mqota_inflate_job_t *job);

/**
 * Bytes of the arena the decoder used at most since the process started (zlib's state plus
 * its window): the RAM a device spends on it, for docs/PERFORMANCE.md.
 */
size_t posix_inflate_ram_peak(void);

#ifdef __cplusplus
}
#endif

#endif /* MQOTA_POSIX_INFLATE_H */
