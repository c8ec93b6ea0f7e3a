/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file http.h
 * @brief The only place the mqota CLI talks HTTP (libcurl) to mqotad.
 */
#ifndef MQOTA_CLI_HTTP_H
#define MQOTA_CLI_HTTP_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "cli.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @brief Call mqotad and parse its JSON answer.
 *
 * On success (2xx with a JSON body) *out holds the parsed body. On failure one sentence has
 * been printed to stderr: the server's "error" text for an HTTP error, the transport error for
 * an unreachable server; *out then holds the error body when it was JSON, else NULL. Either
 * way *out is the caller's to cJSON_Delete().
 *
 * @param[in] ctx Run context (server URL).
 * @param[in] method "GET", "POST" or "DELETE" (without a body).
 * @param[in] path Path and query, already URL-escaped, e.g. "/api/v1/devices".
 * @param[in] ctype Content-Type of body, or NULL when there is no body.
 * @param[in] body Request body, or NULL.
 * @param[in] len Length of body.
 * @param[out] out Parsed response.
 * @param[out] status HTTP status, or 0 when no answer came; may be NULL.
 * @return CLI_OK, CLI_FAILED (HTTP error or malformed answer) or CLI_UNREACHABLE.
 */
int http_json(const cli_ctx_t *ctx, const char *method, const char *path, const char *ctype,
              const void *body, size_t len, cJSON **out, long *status);

/**
 * @brief http_json() with one more request header.
 * @param[in] header A whole header line such as "X-Mqota-Signature: ...", or NULL.
 */
int http_json_hdr(const cli_ctx_t *ctx, const char *method, const char *path, const char *ctype,
                  const void *body, size_t len, const char *header, cJSON **out, long *status);

/** @brief GET path and parse the JSON answer; see http_json(). */
int http_get(const cli_ctx_t *ctx, const char *path, cJSON **out);

/**
 * @brief URL-escape s for a query value or path segment.
 * @return A malloc'd string (free()), or NULL when out of memory.
 */
char *http_escape(const char *s);

/** @brief Initialise libcurl once at start-up. @return 0, or -1. */
int http_global_init(void);

/** @brief Release libcurl at exit. */
void http_global_cleanup(void);

#ifdef __cplusplus
}
#endif

#endif /* MQOTA_CLI_HTTP_H */
