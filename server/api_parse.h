/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file api_parse.h
 * @brief Pure parsers of HTTP API request bodies: bytes in, a struct or one sentence out. No
 *        server, database or network is needed, so they are unit-tested and fuzzed
 *        (tests/fuzz/fuzz_api_bodies.c). The release upload's parse step is release__check().
 */
#ifndef MQOTAD_API_PARSE_H
#define MQOTAD_API_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Largest whole number a request body may hold: 2^53 - 1, the largest integer up to which a
 *  JSON number (an IEEE double) holds every integer exactly (2^53 + 1 would read as 2^53). */
#define API_JSON_INT_MAX 9007199254740991.0
/** Largest release id a deployment body may name. */
#define API_RELEASE_ID_MAX API_JSON_INT_MAX

struct cJSON;

/**
 * The one way a request body becomes JSON: a JSON object and nothing else (cJSON with
 * return_parse_end; only whitespace may follow it), no string holding \u0000 (cJSON would
 * cut it short there), and every number a whole number (2, 2.0 and 2e0 are; 2.5 is not) no
 * larger than API_JSON_INT_MAX, judged exactly on its digits.
 *
 * @param[in]  body, len The request body (need not be NUL-terminated).
 * @param[in]  shape     The sentence to give when the body is not a JSON object.
 * @param[out] out       The object (cJSON_Delete() it), or NULL on failure.
 * @param[out] err       One sentence on failure.
 * @return 0, or 400.
 */
int api_parse__json(const uint8_t *body, size_t len, const char *shape, struct cJSON **out,
                    char *err, size_t err_cap);

/** A parsed POST /api/v1/deployments body (docs/API.md "Deployments"). */
typedef struct {
    int64_t release_id;      /**< "release": a positive integer */
    bool all;                /**< "all": true */
    const char **devices;    /**< "devices": n_devices non-empty strings (NULL with all) */
    const char *filter;      /**< "filter": a filter expression (docs/API.md "Filters"), or NULL */
    size_t n_devices;
    bool hold;               /**< "activate": "hold" (else "now", the default): offers carry
                                  MQOTA_OFFER_FLAG_HOLD (docs/PROTOCOL.md §5.2) */
    void *json;              /**< owns the strings devices point into (cJSON) */
} api_deployment_body_t;

/**
 * Parse a deployment request body: a JSON object {"release": N, "devices": ["id", ...]},
 * {"release": N, "all": true} or {"release": N, "filter": "group=lab"}, each with an optional
 * "activate": "now" | "hold". Only the shape is
 * judged here; the filter is parsed by filter__parse(), and whether the release and devices
 * exist is deploy__create()'s job.
 *
 * @param[in]  body     Request body (need not be NUL-terminated); may be NULL when len is 0.
 * @param[in]  len      Its length in bytes.
 * @param[out] out      The request on success; free it with api_parse__deployment_free().
 *                      Zeroed (nothing to free) on failure.
 * @param[out] err      One sentence saying what is wrong, on failure.
 * @param[in]  err_cap  Bytes at err.
 * @return 0 parsed; 400 the body is not such an object (not JSON, "release" not a positive
 *         integer up to 2^53 - 1, "all" not a boolean, not exactly one of "devices", "all"
 *         and "filter", "devices" not a non-empty array of non-empty strings, "filter" not a
 *         non-empty string); 500 out of memory.
 */
int api_parse__deployment(const uint8_t *body, size_t len, api_deployment_body_t *out,
                          char *err, size_t err_cap);

/** Free what api_parse__deployment() allocated (safe on a zeroed struct). */
void api_parse__deployment_free(api_deployment_body_t *b);

/**
 * Parse a POST /api/v1/deployments/{id}/activate body: empty or {} (every held target) or
 * {"devices": ["id", ...]} (1..n non-empty ids). Same ownership as api_parse__deployment():
 * free with api_parse__deployment_free(); only devices and n_devices are set.
 * @return 0, or 400 with one sentence in err.
 */
int api_parse__activate(const uint8_t *body, size_t len, api_deployment_body_t *out, char *err,
                        size_t err_cap);

/** A parsed POST /api/v1/devices body (docs/API.md "Provisioning devices"). */
typedef struct {
    const char **devices;    /**< n_devices non-empty strings */
    size_t n_devices;
    bool replace;            /**< "replace": true: existing devices get new credentials */
    void *json;              /**< owns the strings (cJSON) */
} api_provision_body_t;

/**
 * Parse a provisioning request body: a JSON object {"devices": ["id", ...]} with 1..max ids
 * and an optional "replace": true|false.
 * Whether each id is a valid device id is auth__provision()'s job.
 * @return 0 parsed; 400 (not such an object, not strings, empty, more than max); 500 out of
 *         memory. On failure err holds one sentence and out is zeroed.
 */
int api_parse__provision(const uint8_t *body, size_t len, size_t max, api_provision_body_t *out,
                         char *err, size_t err_cap);

/** Free what api_parse__provision() allocated (safe on a zeroed struct). */
void api_parse__provision_free(api_provision_body_t *b);

#ifdef __cplusplus
}
#endif

#endif /* MQOTAD_API_PARSE_H */
