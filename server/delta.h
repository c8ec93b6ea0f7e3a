/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file delta.h
 * @brief Delta preparation: the delta of a new image from a base image, cut into self-contained
 *        delta chunks (docs/PROTOCOL.md §18), computed once per (base, target, chunk size) and
 *        cached on disk.
 *
 * The matcher is bsdiff's (Debian package bsdiff, run as a program): its BSDIFF40 file is read
 * with libbz2 and its control/diff/extra streams are interleaved into the record stream that
 * the device's applier (device/src/mqota_delta.c) takes, cut at every chunk boundary so that
 * each chunk decodes alone. Before a delta is cached it is applied with the device's own applier
 * and compared with the target, byte for byte.
 */
#ifndef MQOTAD_DELTA_H
#define MQOTAD_DELTA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Magic and version of a cached delta file (delta__save()). Version 2: wire chunks deflated
 * by zbest.h, or one INSERT record when smaller; version 1 files are made again. */
#define DELTA_FILE_MAGIC "MQDL"
#define DELTA_FILE_VERSION 2u
/** Bytes of the cached file's header before the offset table. */
#define DELTA_FILE_HEADER_LEN 96u

/** A prepared delta: every delta chunk, back to back. */
typedef struct {
    uint32_t chunk_size;        /**< target bytes per chunk */
    uint32_t base_size;         /**< bytes of the base image */
    uint32_t target_size;       /**< bytes of the target image */
    uint32_t chunk_count;       /**< ceil(target_size / chunk_size) */
    uint8_t base_sha256[32];    /**< SHA-256 of the base image */
    uint8_t target_sha256[32];  /**< SHA-256 of the target image */
    uint32_t *offsets;          /**< chunk_count + 1 offsets into data: chunk i is
                                     data[offsets[i] .. offsets[i + 1]) */
    uint8_t *data;              /**< the delta chunks */
    size_t data_len;            /**< bytes of data (= offsets[chunk_count]) */
    double prepare_seconds;     /**< CPU seconds (this process and bsdiff) to make it; 0 when
                                     it came from the cache */
} delta_t;

/**
 * Make the delta of target (target_len bytes) from base (base_len bytes) for chunks of
 * chunk_size bytes: runs `bsdiff` (PATH) on two temporary files in tmp_dir, reads its output,
 * cuts it into delta chunks and checks them by applying them to base with the device's applier.
 * On success *out owns its memory (delta__free()).
 * @return 0; -1 with err one sentence saying what failed (bsdiff missing or failing, a file
 *         that cannot be written, an output that does not rebuild the target).
 */
int delta__make(const uint8_t *base, size_t base_len, const uint8_t *target, size_t target_len,
               uint32_t chunk_size, const char *tmp_dir, delta_t *out, char *err, size_t err_cap);

/**
 * Write d to path (temporary file, fsync, rename): the header (magic "MQDL", u32 version,
 * chunk_size, base_size, target_size, chunk_count, the two SHA-256, u32 data_len, u32
 * reserved), the u32 offset table, the data, and a CRC-32 of everything before it; integers
 * little-endian.
 * @return 0; -1 with err set.
 */
int delta__save(const delta_t *d, const char *path, char *err, size_t err_cap);

/**
 * Read a file delta__save() wrote. Refuses a bad magic, version, CRC, or an inconsistent
 * offset table.
 * @return 0 (*out owns its memory); 1 when the file does not exist; -1 with err set.
 */
int delta__load(const char *path, delta_t *out, char *err, size_t err_cap);

/**
 * The cached delta of target from base for chunk_size: DIR/<base sha>-<target sha>-<chunk
 * size>.mqdl is loaded if present and matching, else made (as delta__make(), tmp files in dir)
 * and saved. bsdiff's output is kept as DIR/<base sha>-<target sha>.bsdiff and re-cut for
 * other chunk sizes of the same pair instead of running bsdiff again. dir is created if
 * missing.
 * @return 0 (*out filled; out->prepare_seconds 0 if cached); -1 with err set.
 */
int delta__prepare(const char *dir, const uint8_t *base, size_t base_len, const uint8_t *target,
                  size_t target_len, uint32_t chunk_size, delta_t *out, char *err,
                  size_t err_cap);

/**
 * The wire form of d (docs/PROTOCOL.md §18): for each chunk, the LEB128 length of its records,
 * then the records as one raw deflate stream (window 1 << window_bits, ended by its final
 * block; the smallest of zbest.h's zlib settings). A chunk's records are d's, or one INSERT
 * record of the chunk's target bytes when that deflates smaller. With MQOTA_ENCODING_DELTA_SYNC the stream's preset dictionary is the
 * min(1 << window_bits, i * chunk_size) target bytes before chunk i (the device reads them back
 * from its update slot); with MQOTA_ENCODING_DELTA_FULL it has none. *wire (*wire_len bytes) and
 * *off (chunk_count + 1 offsets: chunk i is wire[off[i] .. off[i + 1])) are malloc'd.
 * @return 0; -1 with err set (bad encoding or window, zlib failure, out of memory).
 */
int delta__wire(const delta_t *d, const uint8_t *target, uint8_t encoding, uint8_t window_bits,
                uint8_t **wire, uint32_t **off, size_t *wire_len, char *err, size_t err_cap);

/** Release what a delta_t holds (safe on a zeroed or already freed one). */
void delta__free(delta_t *d);

#ifdef __cplusplus
}
#endif

#endif /* MQOTAD_DELTA_H */
