/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http_telemetry.c - GET /api/v1/devices/{id}/telemetry (docs/API.md "Telemetry"): a device's
 * series names, or one series' samples between two times. The storage and its limits are
 * telemetry.c's and db.c's; this file only parses the request and writes JSON.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "http_api.h"
#include "mqota/mqota_telemetry.h"
#include "telemetry.h"

#define API "/api/v1"
#define POINTS_LIMIT_DEFAULT 1000  /* samples answered without ?limit= */
#define POINTS_LIMIT_MAX 100000    /* most samples one answer holds */

static int64_t unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * A time argument: a Unix time in milliseconds (digits only) or a duration (90s, 15m, 1h, 7d)
 * meaning that long before now_ms. 0 with *out, -1 with a 400 in res naming the argument.
 */
static int parse_time(const char *arg, const char *text, int64_t now_ms, int64_t *out,
                      api_response_t *res)
{
    size_t n = strspn(text, "0123456789");
    int64_t ms;
    if (n > 0 && n <= 15 && text[n] == '\0') {
        ms = 0;
        for (size_t i = 0; i < n; i++) ms = ms * 10 + (text[i] - '0');
        *out = ms;
        return 0;
    }
    if (telemetry__parse_duration(text, &ms) == 0) {
        *out = now_ms - ms;
        return 0;
    }
    char msg[300];
    snprintf(msg, sizeof(msg), "%s '%.40s%s' must be a Unix time in milliseconds or a duration "
             "before now such as 90s, 15m, 1h or 7d", arg, text, strlen(text) > 40 ? "..." : "");
    api__error(res, 400, msg);
    return -1;
}

static int add_series(void *ctx, const db_series_t *s)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "name", s->name);
    cJSON_AddNumberToObject(j, "points", (double)s->points);
    cJSON_AddNumberToObject(j, "first_ts", (double)s->first_ts);
    cJSON_AddNumberToObject(j, "last_ts", (double)s->last_ts);
    cJSON_AddNumberToObject(j, "last_value", s->last_value);
    cJSON_AddItemToArray(ctx, j);
    return 0;
}

static int add_point(void *ctx, const db_point_t *p)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "ts", (double)p->ts_ms);
    cJSON_AddNumberToObject(j, "device_ms", (double)p->device_ms);
    cJSON_AddNumberToObject(j, "value", p->value);
    cJSON_AddItemToArray(ctx, j);
    return 0;
}

/* The answer for a known device: its series, or with ?name= that series' samples. */
static void get_telemetry(mqotad_t *d, const api_request_t *req, const char *id,
                          api_response_t *res)
{
    const char *name = req->arg(req->conn, "name");
    const char *since = req->arg(req->conn, "since");
    const char *until = req->arg(req->conn, "until");
    const char *limit = req->arg(req->conn, "limit");
    int64_t now = unix_ms(), t0 = 0, t1 = INT64_MAX, lim = POINTS_LIMIT_DEFAULT;
    char msg[300];
    if (name && !mqota_telemetry_name_valid(name)) {
        snprintf(msg, sizeof(msg), "name '%.40s%s' is not a telemetry name: 1 to %u of a-z, "
                 "0-9, '_' and '.'", name, strlen(name) > 40 ? "..." : "",
                 MQOTA_TELEMETRY_NAME_MAX);
        api__error(res, 400, msg);
        return;
    }
    if (since && parse_time("since", since, now, &t0, res) != 0) return;
    if (until && parse_time("until", until, now, &t1, res) != 0) return;
    if (t0 > t1) {
        api__error(res, 400, "since is after until: no sample can lie between them");
        return;
    }
    if (limit) {
        size_t n = strspn(limit, "0123456789");
        lim = 0;
        for (size_t i = 0; i < n && i < 7; i++) lim = lim * 10 + (limit[i] - '0');
        if (n == 0 || n > 6 || limit[n] != '\0' || lim < 1 || lim > POINTS_LIMIT_MAX) {
            snprintf(msg, sizeof(msg), "limit '%.20s' must be a whole number from 1 to %d",
                     limit, POINTS_LIMIT_MAX);
            api__error(res, 400, msg);
            return;
        }
    }
    cJSON *j = cJSON_CreateObject();
    cJSON *a = cJSON_CreateArray();
    cJSON_AddStringToObject(j, "device", id);
    int rc;
    if (name) {
        cJSON_AddStringToObject(j, "name", name);
        cJSON_AddNumberToObject(j, "since", (double)t0);
        if (until) cJSON_AddNumberToObject(j, "until", (double)t1);
        cJSON_AddItemToObject(j, "points", a);
        rc = db__telemetry_points(d->db, id, name, t0, t1, lim, add_point, a);
    } else {
        cJSON_AddNumberToObject(j, "retention_s", d->telemetry_retention_s);
        cJSON_AddNumberToObject(j, "points_max", d->telemetry_points);
        cJSON_AddNumberToObject(j, "rate", d->telemetry_rate);
        cJSON_AddNumberToObject(j, "dropped", (double)telemetry__dropped(d, id));
        cJSON_AddItemToObject(j, "names", a);
        rc = db__telemetry_names(d->db, id, add_series, a);
    }
    if (rc != 0) {
        cJSON_Delete(j);
        api__error(res, 500, "database error while reading telemetry");
        return;
    }
    api__json(res, 200, j);
}

bool http_telemetry__route(mqotad_t *d, const api_request_t *req, api_response_t *res)
{
    char id[DB_ID_MAX + 1];
    bool too_long;
    db_device_t dv;
    if (!api__device_path(req->path, "/telemetry", id, &too_long)) return false;
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
        api__method_not_allowed(res, req->method, req->path, "GET");
        return true;
    }
    if (api__device_known(d, id, too_long, &dv, res) != 0) return true;
    get_telemetry(d, req, id, res);
    return true;
}
