/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file mqota_delta.h
 * @brief Delta applier: rebuilds a chunk of the new image from the running image and a delta
 *        chunk (streaming, no heap, bounded RAM).
 *
 * A delta update (docs/PROTOCOL.md §18) sends, for chunk `i` of the new image (target bytes
 * `[i * chunk_size, min((i + 1) * chunk_size, image_size))`), a **delta chunk**: a sequence of
 * records that produce exactly those target bytes from the base image (the source: the running
 * slot, read at random offsets) and literal bytes. Records are bsdiff's control/diff/extra
 * triples cut at chunk boundaries by mqotad (server/delta.c):
 *
 *   h = LEB128 u32 (1..5 bytes); kind = h & 1; len = h >> 1, 1..bytes the chunk still owes
 *   kind 0 ADD:    seek = LEB128 u32 zigzag (signed s: (z >> 1) ^ -(z & 1)); the source
 *                  position becomes pos + s; then len diff bytes d[k]; the target byte is
 *                  source[pos + k] + d[k] (mod 256); pos advances by len
 *   kind 1 INSERT: len literal bytes, copied to the target
 *
 * The source position starts at the chunk's target offset (`i * chunk_size`) in every chunk, so
 * a delta chunk decodes alone: chunks may come in any order, and a resume (cut link, reset)
 * starts again at a chunk boundary with nothing persisted but the transfer's own progress
 * (PROTOCOL.md §11, §12): mqota_delta_begin() is the whole reconstruction.
 *
 * Guarantees, whatever the input: the source is read only inside [0, source_size); at most the
 * chunk's declared length is written; every call consumes its input and returns (each loop
 * step consumes at least one input byte). RAM: sizeof(mqota_delta_t), 100 bytes on a 32-bit target.
 *
 * Built only with MQOTA_CFG_DECODE 1 (mqota_config_defaults.h; the ESP-IDF component's default
 * leaves it out, the host build and mqotad have it).
 */
#ifndef MQOTA_DELTA_H
#define MQOTA_DELTA_H

#include <stddef.h>
#include <stdint.h>

#include "mqota_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Bytes of source read and target written per step of an ADD record (the buffer in
 *  mqota_delta_t). Fixed, not a tunable: it shapes mqota_delta_t (STYLE.md: tunables that
 *  change a struct's size belong in the configuration header). */
#define MQOTA_DELTA_STEP 64u

/** Record kinds: the low bit of a record's header. */
#define MQOTA_DELTA_ADD 0u
#define MQOTA_DELTA_INSERT 1u

/**
 * Reads source (base image) bytes: `len` bytes at `offset` of the running slot into `buf`.
 * The applier calls it only with `offset + len <= source_size`. Returns MQOTA_OK or an error,
 * which the applier passes on.
 */
typedef mqota_status_t (*mqota_delta_read_fn)(void *ctx, uint32_t offset, uint8_t *buf,
                                              size_t len);

/**
 * Takes the next `len` target bytes, in order (the caller writes them to the update slot).
 * Returns MQOTA_OK or an error, which the applier passes on.
 */
typedef mqota_status_t (*mqota_delta_write_fn)(void *ctx, const uint8_t *data, size_t len);

/** Applier state. Owned by the caller; only mqota_delta_*() touch its fields. Apart from the
 *  callbacks, everything here lives for one chunk and is rebuilt by mqota_delta_begin(). */
typedef struct {
    mqota_delta_read_fn read;   /**< source reader */
    mqota_delta_write_fn write; /**< target writer */
    void *ctx;                  /**< passed to both callbacks */
    uint32_t source_size;       /**< bytes of the source (base image) */
    uint32_t pos;               /**< current source position */
    uint32_t left;              /**< target bytes the chunk still owes */
    uint32_t rec_left;          /**< data bytes left in the current record */
    uint32_t acc;               /**< LEB128 value being read */
    uint8_t shift;              /**< bits of acc read so far */
    uint8_t phase;              /**< what the next input byte is (internal) */
    uint8_t buf[MQOTA_DELTA_STEP]; /**< source bytes of one ADD step */
} mqota_delta_t;

/**
 * @brief Set up an applier for one base image.
 *
 * @code
 * mqota_delta_t d;
 * mqota_delta_init(&d, running_image_size, read_running_slot, write_update_slot, &slots);
 * mqota_delta_begin(&d, index * chunk_size, chunk_len);
 * mqota_delta_feed(&d, delta_chunk, delta_chunk_len); // as often as the bytes come
 * if (mqota_delta_end(&d) != MQOTA_OK) { ... drop the chunk ... }
 * @endcode
 * @param[out] d           Applier to set up.
 * @param[in]  source_size Bytes of the base image that may be read.
 * @param[in]  read        Source reader.
 * @param[in]  write       Target writer.
 * @param[in]  ctx         Passed to both callbacks; may be NULL.
 * @return MQOTA_OK; MQOTA_ERR_ARG if d, read or write is NULL.
 * @note No chunk is open after init: call mqota_delta_begin() first.
 */
mqota_status_t mqota_delta_init(mqota_delta_t *d, uint32_t source_size, mqota_delta_read_fn read,
                                mqota_delta_write_fn write, void *ctx);

/**
 * @brief Start applying one delta chunk (any state before is dropped).
 * @param[in,out] d             Applier.
 * @param[in]     target_offset Target offset of the chunk, bytes (`index * chunk_size`); the
 *                              source position starts there.
 * @param[in]     target_len    Target bytes the chunk produces, 1..chunk_size.
 * @return MQOTA_OK; MQOTA_ERR_ARG if d is NULL or target_len is 0.
 */
mqota_status_t mqota_delta_begin(mqota_delta_t *d, uint32_t target_offset, uint32_t target_len);

/**
 * @brief Apply the next bytes of the delta chunk: decode records, read the source, write
 *        the target.
 * @param[in,out] d   Applier, after mqota_delta_begin().
 * @param[in]     in  Delta bytes.
 * @param[in]     len Bytes in `in` (0 is allowed).
 * @return MQOTA_OK (all of `in` consumed);
 *         MQOTA_ERR_ARG (NULL);
 *         MQOTA_ERR_MALFORMED (a record of length 0 or longer than what the chunk still owes,
 *         a LEB128 number over 32 bits, or bytes after the chunk's last record);
 *         MQOTA_ERR_RANGE (an ADD record reaching outside [0, source_size));
 *         MQOTA_ERR_STATE (called after an error, or without mqota_delta_begin());
 *         or the error a callback returned. After an error the chunk is dead: every later
 *         call returns MQOTA_ERR_STATE until mqota_delta_begin().
 */
mqota_status_t mqota_delta_feed(mqota_delta_t *d, const uint8_t *in, size_t len);

/**
 * @brief Finish the chunk: check that it produced exactly its target bytes.
 * @param[in] d Applier.
 * @return MQOTA_OK; MQOTA_ERR_ARG (NULL); MQOTA_ERR_TRUNCATED (the delta chunk ended inside a
 *         record or before the chunk's last target byte); MQOTA_ERR_STATE (after an error).
 */
mqota_status_t mqota_delta_end(const mqota_delta_t *d);

#ifdef __cplusplus
}
#endif

#endif /* MQOTA_DELTA_H */
