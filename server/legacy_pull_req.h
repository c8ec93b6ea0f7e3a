/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file legacy_pull_req.h
 * @brief Legacy protocol 3 (HTTPS pull, docs/LEGACY.md §3): the pure checks of a request's
 *        parts before anything is looked up: the route and its device id or file name, the
 *        app_ver value, a Range header, and the file names mqotad hands out. No I/O, no heap.
 */
#ifndef MQOTAD_LEGACY_PULL_REQ_H
#define MQOTAD_LEGACY_PULL_REQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Longest device id in a pull URL (the registry's DB_ID_MAX). */
#define PULL_ID_MAX 64u
/** Longest app_ver: an esp_app_desc_t version is char[32] with its NUL. */
#define PULL_VERSION_MAX 31u
/** Hex digits of the release's SHA-256 a file name carries. */
#define PULL_NAME_HASH_HEX 32u
/** Longest file name: hash, '-', id, ".bin". */
#define PULL_NAME_MAX (PULL_NAME_HASH_HEX + 1u + PULL_ID_MAX + 4u)
/** Longest URL path a pull request may have; longer ones are 404 without a look-up. */
#define PULL_PATH_MAX (7u + PULL_NAME_MAX)

/** What a request's path asks for. */
typedef enum {
    PULL_ROUTE_NONE = 0,   /**< not a pull route (404) */
    PULL_ROUTE_DEVICE = 1, /**< GET /devices/<id> */
    PULL_ROUTE_FILE = 2,   /**< GET /files/<hash>-<id>.bin */
} pull_route_kind_t;

/** A parsed path. */
typedef struct {
    pull_route_kind_t kind;
    char device_id[PULL_ID_MAX + 1];          /**< the device named (both routes) */
    char hash_hex[PULL_NAME_HASH_HEX + 1];    /**< PULL_ROUTE_FILE: the release's SHA-256 prefix */
} pull_route_t;

/**
 * @brief Parse a request path. A device id is 1..PULL_ID_MAX of [A-Za-z0-9_.-] (not "." or
 *        ".."); a file name is PULL_NAME_HASH_HEX lower-case hex digits, '-', a device id and
 *        ".bin". Anything else (percent-escapes, more segments, a trailing '/') is
 *        PULL_ROUTE_NONE.
 * @param[in]  path  the URL path, NUL-terminated (libmicrohttpd's, the query removed)
 * @param[out] out   the route; kind PULL_ROUTE_NONE when it is not one
 */
void pull_req__route(const char *path, pull_route_t *out);

/** @brief Whether v is an app_ver mqotad compares: 1..PULL_VERSION_MAX printable ASCII bytes
 *         (0x21..0x7E). */
bool pull_req__version_ok(const char *v);

/** @brief Whether s is a device id as pull_req__route() accepts it. */
bool pull_req__id_ok(const char *s);

/** pull_req__range() results. */
typedef enum {
    PULL_RANGE_NONE = 0,          /**< no usable Range: the whole file, 200 */
    PULL_RANGE_OK = 1,            /**< one satisfiable range: 206 with Content-Range */
    PULL_RANGE_UNSATISFIABLE = 2, /**< a range past the end: 416 */
} pull_range_t;

/**
 * @brief Read a Range header (RFC 9110 §14.2) for a file of size bytes: "bytes=F-L",
 *        "bytes=F-" (what esp_https_ota's partial download and resumption send) and
 *        "bytes=-N". Several ranges, another unit or bad syntax are ignored (the whole file),
 *        as RFC 9110 allows.
 * @param[in]  hdr    the header's value, or NULL
 * @param[in]  size   the file's size, bytes
 * @param[out] first  first byte served (PULL_RANGE_OK)
 * @param[out] last   last byte served, inclusive (PULL_RANGE_OK)
 */
pull_range_t pull_req__range(const char *hdr, uint64_t size, uint64_t *first, uint64_t *last);

/**
 * @brief The file name mqotad answers a device with: the first PULL_NAME_HASH_HEX hex digits
 *        of the release's SHA-256, '-', the device id, ".bin".
 * @return 0, or -1 when the id or hash is not valid or cap is too small.
 */
int pull_req__file_name(const char *sha256_hex, const char *device_id, char *out, size_t cap);

#ifdef __cplusplus
}
#endif

#endif /* MQOTAD_LEGACY_PULL_REQ_H */
