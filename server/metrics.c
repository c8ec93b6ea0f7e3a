/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics.c - the counters behind GET /metrics (docs/METRICS.md). The modules that do the
 * work call one function each (transfer.c and stream.c per chunk, command.c per command
 * event, http.c per answered request); http_metrics.c renders them with the gauges it reads
 * from SQLite. HTTP requests are counted by route template, never by raw path, so a client
 * requesting a million different URLs still makes a bounded number of series.
 */
#include "metrics.h"

#include <stdlib.h>
#include <string.h>

/*
 * Every route of docs/API.md, '{x}' standing for one path segment. A path that matches none
 * is counted as "other". tests/integration/test_docs_match_code.sh checks that every route
 * docs/API.md lists is here.
 */
static const char *const routes[] = {
    /* metrics-routes-begin */
    "/",
    "/index.html",
    "/metrics",
    "/api/v1/health",
    "/api/v1/devices",
    "/api/v1/devices/{id}",
    "/api/v1/devices/{id}/commands",
    "/api/v1/devices/{id}/tags",
    "/api/v1/devices/{id}/telemetry",
    "/api/v1/devices/{id}/reset-failures",
    "/api/v1/devices/{id}/health",
    "/api/v1/devices/{id}/deployments",
    "/api/v1/legacy-devices",
    "/api/v1/events",
    "/api/v1/events/ticket",
    "/api/v1/commands/{id}",
    "/api/v1/groups",
    "/api/v1/groups/{name}",
    "/api/v1/groups/{name}/devices",
    "/api/v1/releases",
    "/api/v1/releases/{id}",
    "/api/v1/deployments",
    "/api/v1/deployments/{id}",
    "/api/v1/deployments/{id}/activate",
    "/api/v1/rollouts",
    "/api/v1/rollouts/{id}",
    "/api/v1/rollouts/{id}/pause",
    "/api/v1/rollouts/{id}/resume",
    "/api/v1/rollouts/{id}/abort",
    "/api/v1/rollouts/{id}/approve",
    "/api/v1/rollouts/{id}/retry",
    /* metrics-routes-end */
    "other",
};
#define N_ROUTES (int)(sizeof(routes) / sizeof(routes[0]))

static const char *const methods[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE",
                                      "OPTIONS", "other"};
#define N_METHODS (int)(sizeof(methods) / sizeof(methods[0]))

static const char *const path_names[METRICS_PATH_COUNT] = {"unicast", "stream"};
static const char *const command_names[METRICS_CMD_COUNT] = {
    "sent", "replied", "failed", "refused", "timed_out", "expired"};

int metrics__init(mqotad_t *d)
{
    d->metrics = calloc(1, sizeof(*d->metrics));
    if (!d->metrics) return -1;
    d->metrics->started_at = mqh_unix_now();
    return 0;
}

void metrics__free(mqotad_t *d)
{
    free(d->metrics);
    d->metrics = NULL;
}

void metrics__chunk(mqotad_t *d, metrics_path_t path, uint32_t bytes, bool again)
{
    metrics_t *m = d->metrics;
    if (!m || path >= METRICS_PATH_COUNT) return;
    m->bytes[path] += bytes;
    m->chunks[path]++;
    if (again) {
        m->resent_bytes[path] += bytes;
        m->resent_chunks[path]++;
    }
}

void metrics__command(mqotad_t *d, metrics_cmd_t event, unsigned n)
{
    if (d->metrics && event < METRICS_CMD_COUNT) d->metrics->commands[event] += n;
}

/* Whether path matches template t segment by segment ('{x}' takes any non-empty segment). */
static bool route_matches(const char *t, const char *path)
{
    while (*t && *path) {
        if (*t != '/' || *path != '/') return false;
        t++, path++;
        size_t tn = strcspn(t, "/"), pn = strcspn(path, "/");
        if (t[0] == '{') {
            if (pn == 0) return false;
        } else if (tn != pn || strncmp(t, path, tn) != 0) {
            return false;
        }
        t += tn, path += pn;
    }
    return *t == '\0' && *path == '\0';
}

int metrics__route(const char *path)
{
    for (int i = 0; i < N_ROUTES - 1; i++)
        if (route_matches(routes[i], path)) return i;
    return N_ROUTES - 1;
}

const char *metrics__route_name(int i)
{
    return i >= 0 && i < N_ROUTES ? routes[i] : NULL;
}

const char *metrics__method_name(int i)
{
    return i >= 0 && i < N_METHODS ? methods[i] : NULL;
}

const char *metrics__path_name(metrics_path_t p)
{
    return p < METRICS_PATH_COUNT ? path_names[p] : "unknown";
}

const char *metrics__command_name(metrics_cmd_t e)
{
    return e < METRICS_CMD_COUNT ? command_names[e] : "unknown";
}

void metrics__http(mqotad_t *d, const char *method, const char *path, int status)
{
    metrics_t *m = d->metrics;
    if (!m) return;
    int route = metrics__route(path), meth = N_METHODS - 1;
    for (int i = 0; i < N_METHODS - 1; i++)
        if (strcmp(method, methods[i]) == 0) meth = i;
    if (status < 100 || status > 599) status = 0; /* not a status libmicrohttpd sends */
    for (int i = 0; i < m->n_http; i++) {
        metrics_http_t *h = &m->http[i];
        if (h->route == route && h->method == meth && h->status == status) {
            h->count++;
            return;
        }
    }
    if (m->n_http == METRICS_HTTP_SERIES_MAX) {
        m->http_overflow++;
        return;
    }
    m->http[m->n_http++] = (metrics_http_t){
        .route = (uint8_t)route, .method = (uint8_t)meth, .status = (uint16_t)status, .count = 1};
}
