/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file release_files.h
 * @brief File releases: the file bundle (docs/PROTOCOL.md §17) that carries a MicroPython
 *        application's files, its pure parser and checks, and its manifest as JSON.
 */
#ifndef MQOTAD_RELEASE_FILES_H
#define MQOTAD_RELEASE_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RELEASE_FILES_MAGIC "MQFB"          /**< Bytes 0..3 of a bundle */
#define RELEASE_FILES_VERSION 1u            /**< Byte 4: the bundle format's version */
#define RELEASE_FILES_HEADER_LEN 16u        /**< Bytes before the first entry */
#define RELEASE_FILES_ENTRY_LEN 38u         /**< Bytes of an entry before its path */
#define RELEASE_FILES_MAX 64u               /**< Most files in one bundle */
#define RELEASE_FILES_PATH_MAX 96u          /**< Longest path, bytes */
#define RELEASE_FILES_BUNDLE_MAX 1048576u   /**< Largest bundle, bytes (1 MiB) */

/** One file of a bundle. */
typedef struct {
    char path[RELEASE_FILES_PATH_MAX + 1]; /**< NUL-terminated, checked by the parser */
    uint32_t size;                         /**< bytes */
    uint8_t sha256[32];                    /**< SHA-256 of the file's bytes, as the entry says */
    uint32_t offset;                       /**< where its bytes start in the bundle */
} release_file_t;

/** A bundle's manifest, as release_files__parse() reads it. */
typedef struct {
    uint16_t count;
    release_file_t files[RELEASE_FILES_MAX];
} release_files_t;

/**
 * Check one path of a bundle (n bytes, not NUL-terminated): 1..RELEASE_FILES_PATH_MAX bytes of
 * valid UTF-8, relative ('/' separated, no leading or trailing '/', no empty component), no
 * '.' or '..' component, no NUL, no other control byte, no backslash, and not under "mqota/"
 * (the agent's records directory, docs/PROTOCOL.md §12.2).
 * @return 0, or -1 with why one phrase saying what is wrong ("it starts with '/' ...").
 */
int release_files__check_path(const char *p, size_t n, char *why, size_t why_cap);

/**
 * Parse and check a bundle (len bytes) with no I/O: header (magic, version, reserved bytes,
 * file count 1..RELEASE_FILES_MAX, the size field equal to len, len at most
 * RELEASE_FILES_BUNDLE_MAX), every entry and path (release_files__check_path()), no path
 * twice (also not differing only in ASCII case, which a FAT filesystem would merge), no path
 * that is also a directory of another, and the data section exactly the sum of the sizes.
 * The files' SHA-256 are not computed here (release_files__verify()).
 * @param[out] out The manifest on success.
 * @return 0, or -1 with err one sentence naming the entry and what is wrong.
 */
int release_files__parse(const uint8_t *b, size_t len, release_files_t *out, char *err,
                         size_t err_cap);

/**
 * Hash each file of a parsed bundle and compare with its entry.
 * @return 0; -1 with err naming the first file whose bytes do not match; -2 when OpenSSL
 *         cannot hash (err says so).
 */
int release_files__verify(const uint8_t *b, const release_files_t *m, char *err,
                          size_t err_cap);

/**
 * The manifest as JSON text (malloc'd, the caller frees): [{"path": P, "size": N,
 * "sha256": HEX}, ...] in bundle order. NULL when out of memory.
 */
char *release_files__manifest_json(const release_files_t *m);

/** Whether the first bytes of an upload are a bundle's magic (the upload is a file release). */
bool release_files__is_bundle(const uint8_t *b, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* MQOTAD_RELEASE_FILES_H */
