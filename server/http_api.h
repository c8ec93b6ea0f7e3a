/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file http_api.h
 * @brief The HTTP API of docs/API.md as plain functions: request in, response out. No
 *        libmicrohttpd types here; http.c does the plumbing.
 */
#ifndef MQOTAD_HTTP_API_H
#define MQOTAD_HTTP_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mqotad.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    const char *method;
    const char *path;          /**< URL path, already percent-decoded, without the query */
    const uint8_t *body;
    size_t body_len;
    /** Query argument by name, or NULL. */
    const char *(*arg)(void *conn, const char *name);
    /** Request header by name (case-insensitive), or NULL. */
    const char *(*header)(void *conn, const char *name);
    void *conn;
    size_t url_len;            /**< bytes of the path and query string (0: not known) */
    bool peer_loopback;        /**< the client connected from a loopback address */
    const char *local_addr;    /**< address the connection arrived on (text), or NULL */
} api_request_t;



typedef struct {
    int status;
    char *body;                /**< malloc'ed unless body_static */
    size_t len;
    bool body_static;
    const char *content_type;
    const char *allow;         /**< Allow header for 405, else NULL */
    bool bearer_challenge;     /**< 401: send WWW-Authenticate: Bearer */
    const char *etag;          /**< ETag header (the console's files), else NULL */
    const char *cache_control; /**< Cache-Control, else no-store */
} api_response_t;

/** Largest path plus query string the API takes (a JSON 414 beyond; docs/API.md "Errors"). */
#define API_URL_MAX 8192
/** Largest JSON request body (provisioning AUTH_PROVISION_MAX ids takes about 50 KB). */
#define API_JSON_BODY_MAX (1024u * 1024u)

/** What a request's body must be, by method and path (api__body_kind()). */
typedef enum {
    API_BODY_NONE = 0,  /**< no body expected (GET, unknown routes): at most API_JSON_BODY_MAX */
    API_BODY_JSON,      /**< application/json, at most API_JSON_BODY_MAX */
    API_BODY_IMAGE      /**< application/octet-stream, at most MQOTAD_MAX_IMAGE */
} api_body_kind_t;

/** The body a request to method and path carries. */
api_body_kind_t api__body_kind(const char *method, const char *path);

/**
 * Judge a request by its headers alone, before any of its body is read, in this order: the
 * Host header names this mqotad (421), the bearer token (401), a state-changing request's
 * Origin is mqotad's own (403), the URL's length (414), the body's Content-Type (415) and
 * declared Content-Length (413).
 * @param[in] content_length The Content-Length header's value, or -1 when there is none.
 * @return true when res holds the refusal (answer it, read no body); false to go on.
 */
bool api__check_request(mqotad_t *d, const api_request_t *req, long long content_length,
                        api_response_t *res);

/** Fill res with the 413 sentence for a body of kind that is larger than its limit. */
void api__too_large(api_response_t *res, api_body_kind_t kind);

/** Route and answer one request. res->body is always set. */
void api__handle(mqotad_t *d, const api_request_t *req, api_response_t *res);

/** Fill res with {"error": msg} and status. */
void api__error(api_response_t *res, int status, const char *msg);

/** Fill res with a 405 naming the method and path and the Allow header (allow, e.g. "GET"). */
void api__method_not_allowed(api_response_t *res, const char *method, const char *path,
                             const char *allow);

/**
 * Whether path is API "/devices/{id}" followed by suffix (e.g. "/health"), {id} one non-empty
 * segment. On true, id holds the segment (cut to DB_ID_MAX bytes, NUL-terminated) and
 * *too_long says whether it was longer than DB_ID_MAX (no device has such an id).
 * @param[out] id The device id, DB_ID_MAX + 1 bytes.
 */
bool api__device_path(const char *path, const char *suffix, char *id, bool *too_long);

/**
 * Look the device of a route up; answer 404 (an unknown device, a too-long id shown cut with
 * "...") or 500 into res when it cannot be had.
 * @param[out] dv The device's row, when 0 is returned.
 * @return 0 when the device is known, else non-zero with res answered.
 */
int api__device_known(mqotad_t *d, const char *id, bool too_long, db_device_t *dv,
                      api_response_t *res);

/** A positive decimal id from a path segment; -1 if s is not one. */
int64_t api__parse_id(const char *s);

struct cJSON;
/** Fill res with json (rendered and deleted) and status; 500 if it cannot be rendered. */
void api__json(api_response_t *res, int status, struct cJSON *json);

/* http_command.c: the command routes of docs/API.md ("Commands"). */
/** Answer the request if its path is a command route; false if it is not one. */
bool http_command__route(mqotad_t *d, const api_request_t *req, api_response_t *res);
/** Add "command_key", "takes_commands", "command_refusals" and "recent_refusals" to a
 *  device object. @return 0, or -1 on a database error. */
int http_command__device_fields(mqotad_t *d, const db_device_t *dv, struct cJSON *j);

/* http_group.c: the group and tag routes of docs/API.md ("Groups and tags") and filters. */
/** Answer the request if its path is a group or tag route; false if it is not one. */
bool http_group__route(mqotad_t *d, const api_request_t *req, api_response_t *res);
/** Whether method and path are a group or tag route that takes a JSON body. */
bool http_group__json_body(const char *method, const char *path);
/** Add "groups" and "tags" (arrays of strings) to a device object. @return 0, or -1 on a
 *  database error. */
int http_group__device_fields(mqotad_t *d, const char *device_id, struct cJSON *j);
/**
 * The devices a filter expression (docs/API.md "Filters") selects, sorted by id, via cb.
 * @return 0; -1 with res holding the refusal: 400 with one sentence for a bad filter or a
 *         group it names that does not exist, 500 on a database error.
 */
int http_group__select(mqotad_t *d, const char *text, int (*cb)(void *ctx, const db_device_t *dv),
                       void *ctx, api_response_t *res);

/* http_rollout.c: the rollout routes of docs/API.md ("Rollouts"). */
/** Answer the request if its path is a rollout route; false if it is not one. */
bool http_rollout__route(mqotad_t *d, const api_request_t *req, api_response_t *res);
/** Whether method and path are a rollout route that takes a JSON body. */
bool http_rollout__json_body(const char *method, const char *path);
/* http_telemetry.c: GET /devices/{id}/telemetry of docs/API.md ("Telemetry"). */
/** Answer the request if its path is the telemetry route; false if it is not. */
bool http_telemetry__route(mqotad_t *d, const api_request_t *req, api_response_t *res);

/* http_legacy.c: POST /legacy-devices of docs/API.md ("Legacy devices"). */
/** Whether the request is one of its routes (answered into res). */
bool http_legacy__route(mqotad_t *d, const api_request_t *req, api_response_t *res);
/** Whether method and path take a JSON body there. */
bool http_legacy__json_body(const char *method, const char *path);
/* http_metrics.c: GET /metrics in Prometheus's text format (docs/METRICS.md). */
void http_metrics__get(mqotad_t *d, api_response_t *res);
/* http_health.c: GET /devices/{id}/health of docs/API.md ("Health"). */
/** Answer the request if its path is the health route; false if it is not. */
bool http_health__route(mqotad_t *d, const api_request_t *req, api_response_t *res);

#ifdef __cplusplus
}
#endif

#endif /* MQOTAD_HTTP_API_H */
