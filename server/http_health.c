/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http_health.c - GET /api/v1/devices/{id}/health (docs/API.md "Health"): a device's latest
 * health report and its recorded resets, newest first. The storage is health.c's and db.c's;
 * this file only parses the request and writes JSON.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "health.h"
#include "http_api.h"

#define API "/api/v1"

static int add_reset(void *ctx, const db_reset_t *r)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "at", (double)r->at);
    cJSON_AddStringToObject(j, "reason", mqota_reset_reason_name((uint8_t)r->reason));
    cJSON_AddBoolToObject(j, "crash_reset", mqota_reset_is_crash((uint8_t)r->reason));
    cJSON_AddNumberToObject(j, "boot_count", (double)r->boot_count);
    cJSON_AddStringToObject(j, "crash", r->crash);
    cJSON_AddItemToArray(ctx, j);
    return 0;
}

bool http_health__route(mqotad_t *d, const api_request_t *req, api_response_t *res)
{
    char id[DB_ID_MAX + 1];
    bool too_long;
    db_device_t dv;
    if (!api__device_path(req->path, "/health", id, &too_long)) return false;
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
        api__method_not_allowed(res, req->method, req->path, "GET");
        return true;
    }
    if (api__device_known(d, id, too_long, &dv, res) != 0) return true;
    cJSON *j = cJSON_CreateObject();
    cJSON *h = health__json(d, id);
    cJSON *a = cJSON_CreateArray();
    cJSON_AddStringToObject(j, "device", id);
    if (h) cJSON_AddItemToObject(j, "health", h);
    else cJSON_AddNullToObject(j, "health");
    cJSON_AddNumberToObject(j, "resets_max", HEALTH_RESETS_MAX);
    cJSON_AddItemToObject(j, "resets", a);
    if (db__reset_list(d->db, id, HEALTH_RESETS_MAX, add_reset, a) != 0) {
        cJSON_Delete(j);
        api__error(res, 500, "database error while reading the device's resets");
        return true;
    }
    api__json(res, 200, j);
    return true;
}
