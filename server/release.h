/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file release.h
 * @brief Releases: validate an uploaded ESP32 application image and store it.
 */
#ifndef MQOTAD_RELEASE_H
#define MQOTAD_RELEASE_H

#include <stddef.h>
#include <stdint.h>

#include "mqotad.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    RELEASE_OK = 0,
    RELEASE_INVALID = 1,   /**< not a valid image, or a bad version/notes (HTTP 400) */
    RELEASE_DUPLICATE = 2, /**< same SHA-256 as release *dup_id (HTTP 409) */
    RELEASE_ERROR = 3,     /**< storage or database failure (HTTP 500) */
    RELEASE_NO_SPACE = 4   /**< the data directory's disk is full: ENOSPC/EDQUOT writing the
                                image, or SQLITE_FULL storing its row (HTTP 507) */
} release_result_t;

/**
 * The parse step of an upload, with no database and no disk: check that image (len bytes) is a
 * valid ESP32 application image (structure, checksum, appended SHA-256, chip), verify sig_b64
 * (base64 of a .mqsig, the X-Mqota-Signature header; NULL or "" for unsigned) under
 * d->trusted_keys and d->require_signed, and check version and notes (the query arguments;
 * NULL or "" when absent). On RELEASE_OK out holds every field of the release except id, path
 * and created_at. d is read only (keys and flags).
 * A body that starts with a file bundle's magic ("MQFB") is a file release instead
 * (release_files.c, docs/PROTOCOL.md §17): every byte of the bundle is checked and every file
 * hashed, a version is required and signatures are refused; on RELEASE_OK out->kind is
 * DB_RELEASE_FILES and out->manifest the manifest's JSON, malloc'd: the caller frees it.
 * @return RELEASE_OK; RELEASE_INVALID with err one sentence naming what is wrong with which
 *         input (HTTP 400); RELEASE_ERROR when OpenSSL cannot hash (HTTP 500).
 */
release_result_t release__check(mqotad_t *d, const uint8_t *image, size_t len,
                                const char *version, const char *notes, const char *sig_b64,
                                db_release_t *out, char *err, size_t err_cap);

/**
 * Validate image (len bytes) with release__check() and store it as a new release: the file goes to
 * DIR/releases/<sha256>.bin (temp file, fsync, rename), the row is inserted in a transaction,
 * and on any failure the file is removed. version may be NULL (use the descriptor's), notes
 * may be NULL. sig_b64 is base64 of a .mqsig file, or NULL for an unsigned upload: a signature
 * must verify under a --trusted-key and describe this image (signature.c), and the release
 * then takes its version and secure_version from the signed manifest (a different version
 * argument is refused). Under --require-signed an unsigned upload is refused. On failure err
 * receives one sentence saying why and nothing is stored: no row, no image or temp file.
 * @return RELEASE_OK; RELEASE_INVALID, RELEASE_DUPLICATE (*dup_id set), RELEASE_ERROR, or
 *         RELEASE_NO_SPACE when the disk of the data directory is full (image or row).
 */
release_result_t release__create(mqotad_t *d, const uint8_t *image, size_t len,
                                 const char *version, const char *notes, const char *sig_b64,
                                 db_release_t *out, int64_t *dup_id, char *err, size_t err_cap);

/**
 * At startup, remove what a crash may have left in DIR/releases: temporary files of an
 * interrupted store ("<sha256>.bin.tmp.<pid>") and images with no release row (mqotad died
 * between the rename of the image and the COMMIT of its row, so the upload was never
 * acknowledged). Other files are left alone. Each removal is logged.
 * @return files removed, or -1 if the directory or the database could not be read.
 */
int release__sweep(mqotad_t *d);

/** A release's compressed form (docs/PROTOCOL.md §6.1): chunk i's wire bytes are
 *  data[off[i] .. off[i + 1]). */
typedef struct {
    uint8_t *file;        /**< The cache file's bytes (owns data) */
    size_t file_len;
    const uint8_t *data;  /**< Chunk data, chunk after chunk */
    uint32_t *off;        /**< chunk_count + 1 offsets into data */
    uint32_t chunk_count;
    uint32_t wire_size;   /**< Bytes of all chunks' data (off[chunk_count]) */
    uint32_t max_chunk;   /**< Bytes of the largest chunk's data */
} release_form_t;

/**
 * The compressed form of release r with encoding (MQOTA_ENCODING_DEFLATE_SYNC or _FULL),
 * window_bits and chunk_size: read from its cache file DIR/releases/<sha256>.z<E>w<W>c<C>, or
 * built from image (r->size bytes; each chunk a raw deflate stream ended by its final block,
 * with the window of image bytes before it as dictionary for deflate-sync, the smallest of
 * zbest.h's zlib settings) and cached there (a failure to cache is logged, not fatal). image
 * may be NULL to only look the cache up. Free out with release__form_free().
 * @return 0 with out filled; 1 if not cached and image is NULL; -1 on bad parameters or
 *         failure (logged).
 */
int release__form(mqotad_t *d, const db_release_t *r, const uint8_t *image, uint8_t encoding,
                  uint8_t window_bits, uint32_t chunk_size, release_form_t *out);

/** Free what release__form() allocated; out is zeroed. */
void release__form_free(release_form_t *f);

#ifdef __cplusplus
}
#endif

#endif /* MQOTAD_RELEASE_H */
