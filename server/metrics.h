/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file metrics.h
 * @brief mqotad's counters for GET /metrics (docs/METRICS.md): bytes published, chunks sent
 *        again, commands, HTTP requests. Each is one call where the thing happens; the gauges
 *        (devices, deployments, rollouts) are read from SQLite at scrape time by
 *        http_metrics.c, which renders the Prometheus text format.
 *
 * Every counter function does nothing while d->metrics is NULL (metrics__init() not called),
 * so unit tests and fuzz targets that link the modules need not set it up.
 */
#ifndef MQOTAD_METRICS_H
#define MQOTAD_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "mqotad.h"

#ifdef __cplusplus
extern "C" {
#endif

/** How chunk bytes left mqotad: to one device's topic, or once on a release's stream. */
typedef enum {
    METRICS_UNICAST = 0, /**< "unicast": a chunk on one device's topic (transfer.c) */
    METRICS_STREAM = 1,  /**< "stream": a chunk on a release's multicast stream (stream.c) */
    METRICS_PATH_COUNT
} metrics_path_t;

/** What happened to a command (command.c). */
typedef enum {
    METRICS_CMD_SENT = 0,     /**< "sent": sealed and published to the device */
    METRICS_CMD_REPLIED = 1,  /**< "replied": the device answered ok */
    METRICS_CMD_FAILED = 2,   /**< "failed": the device answered with an error result */
    METRICS_CMD_REFUSED = 3,  /**< "refused": the device refused the sealed frame */
    METRICS_CMD_TIMED_OUT = 4, /**< "timed_out": no reply within --command-timeout */
    METRICS_CMD_EXPIRED = 5,  /**< "expired": queued, never sent within its ttl */
    METRICS_CMD_COUNT
} metrics_cmd_t;

/** Most distinct (route, method, status) series kept; later ones count in "overflow". */
#define METRICS_HTTP_SERIES_MAX 256

/** One HTTP series: a route template, a method and a status code. */
typedef struct {
    uint8_t route;   /**< index into metrics__route_name() */
    uint8_t method;  /**< index into metrics__method_name() */
    uint16_t status;
    uint64_t count;
} metrics_http_t;

/** The counters (monotonic since mqotad started). */
typedef struct metrics {
    uint64_t bytes[METRICS_PATH_COUNT];         /**< chunk payload bytes published */
    uint64_t chunks[METRICS_PATH_COUNT];        /**< chunks published */
    uint64_t resent_bytes[METRICS_PATH_COUNT];  /**< of them, bytes of chunks sent before */
    uint64_t resent_chunks[METRICS_PATH_COUNT]; /**< of them, chunks sent before */
    uint64_t commands[METRICS_CMD_COUNT];
    metrics_http_t http[METRICS_HTTP_SERIES_MAX];
    int n_http;
    uint64_t http_overflow;                     /**< requests past METRICS_HTTP_SERIES_MAX */
    int64_t started_at;                         /**< Unix seconds of metrics__init() */
} metrics_t;

/** Allocate d->metrics (zeroed). @return 0, or -1 out of memory. */
int metrics__init(mqotad_t *d);
void metrics__free(mqotad_t *d);

/**
 * Count one chunk published on path.
 * @param[in] bytes Its payload bytes (without the chunk header).
 * @param[in] again The chunk had been sent on this path before (a retransmission).
 */
void metrics__chunk(mqotad_t *d, metrics_path_t path, uint32_t bytes, bool again);

/** Count n commands that reached event. */
void metrics__command(mqotad_t *d, metrics_cmd_t event, unsigned n);

/**
 * Count one answered HTTP request by its route template (never the raw path: the number of
 * series stays bounded), its method and its status.
 */
void metrics__http(mqotad_t *d, const char *method, const char *path, int status);

/** Index of path's route template (docs/METRICS.md); unknown paths give "other". */
int metrics__route(const char *path);
/** The route template of index i ("/api/v1/devices/{id}", "other"), NULL past the last. */
const char *metrics__route_name(int i);
/** The method of index i ("GET", ..., "other"), NULL past the last. */
const char *metrics__method_name(int i);
/** The label value of a path ("unicast", "stream") and of a command event ("sent", ...). */
const char *metrics__path_name(metrics_path_t p);
const char *metrics__command_name(metrics_cmd_t e);

#ifdef __cplusplus
}
#endif

#endif /* MQOTAD_METRICS_H */
