/* SPDX-License-Identifier: Apache-2.0 */
/*
 * api_parse.c - request body parsers of the HTTP API (cJSON), apart from the handlers in
 * http_api.c so they can be fuzzed on their own.
 */
#include "api_parse.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void api_parse__deployment_free(api_deployment_body_t *b)
{
    free(b->devices);
    cJSON_Delete(b->json);
    memset(b, 0, sizeof(*b));
}

/* Fail with status and one sentence; frees what was parsed so far. */
static int refuse(api_deployment_body_t *b, int status, char *err, size_t cap, const char *msg)
{
    api_parse__deployment_free(b);
    snprintf(err, cap, "%s", msg);
    return status;
}

int api_parse__deployment(const uint8_t *body, size_t len, api_deployment_body_t *out,
                          char *err, size_t err_cap)
{
    memset(out, 0, sizeof(*out));
    cJSON *j = len ? cJSON_ParseWithLength((const char *)body, len) : NULL;
    out->json = j;
    if (!j || !cJSON_IsObject(j))
        return refuse(out, 400, err, err_cap, "the body must be a JSON object like "
                      "{\"release\": 2, \"devices\": [\"vdev-0001\"]} or {\"release\": 2, "
                      "\"all\": true}");
    cJSON *rel = cJSON_GetObjectItemCaseSensitive(j, "release");
    cJSON *devs = cJSON_GetObjectItemCaseSensitive(j, "devices");
    cJSON *all = cJSON_GetObjectItemCaseSensitive(j, "all");
    /* Range first: converting a double outside int64_t's range (1e300, inf) to int64_t is
     * undefined behaviour (found by fuzz_deploy_body and fuzz_api); NaN fails the range. */
    double v = cJSON_IsNumber(rel) ? rel->valuedouble : 0.0;
    if (!(v >= 1.0 && v <= API_RELEASE_ID_MAX) || v != (double)(int64_t)v)
        return refuse(out, 400, err, err_cap,
                      "\"release\" must be a release id (a positive integer)");
    out->release_id = (int64_t)v;
    out->all = all && cJSON_IsTrue(all);
    if (all && !cJSON_IsBool(all))
        return refuse(out, 400, err, err_cap, "\"all\" must be true or false");
    if (devs && out->all)
        return refuse(out, 400, err, err_cap,
                      "give either \"devices\" or \"all\": true, not both");
    if (!devs && !out->all)
        return refuse(out, 400, err, err_cap,
                      "name the devices with \"devices\": [...] or use \"all\": true");
    if (!devs) return 0;
    if (!cJSON_IsArray(devs))
        return refuse(out, 400, err, err_cap, "\"devices\" must be an array of device ids");
    size_t n = (size_t)cJSON_GetArraySize(devs);
    if (n == 0)
        return refuse(out, 400, err, err_cap, "\"devices\" is empty; name at least one device");
    out->devices = calloc(n, sizeof(*out->devices));
    if (!out->devices) return refuse(out, 500, err, err_cap, "out of memory");
    cJSON *it;
    cJSON_ArrayForEach(it, devs)
    {
        if (!cJSON_IsString(it) || !it->valuestring[0])
            return refuse(out, 400, err, err_cap,
                          "\"devices\" must hold device ids (non-empty strings)");
        out->devices[out->n_devices++] = it->valuestring;
    }
    return 0;
}

void api_parse__provision_free(api_provision_body_t *b)
{
    free(b->devices);
    cJSON_Delete(b->json);
    memset(b, 0, sizeof(*b));
}

int api_parse__provision(const uint8_t *body, size_t len, size_t max, api_provision_body_t *out,
                         char *err, size_t err_cap)
{
    memset(out, 0, sizeof(*out));
    cJSON *j = len ? cJSON_ParseWithLength((const char *)body, len) : NULL;
    out->json = j;
    cJSON *devs = j && cJSON_IsObject(j) ? cJSON_GetObjectItemCaseSensitive(j, "devices") : NULL;
    int status = 0;
    const char *msg = NULL;
    if (!devs || !cJSON_IsArray(devs)) {
        status = 400;
        msg = "the body must be a JSON object like {\"devices\": [\"vdev-0001\", \"vdev-0002\"]}";
    } else if (cJSON_GetArraySize(devs) < 1 || (size_t)cJSON_GetArraySize(devs) > max) {
        status = 400;
        snprintf(err, err_cap, "\"devices\" must name 1 to %zu devices", max);
    } else if (!(out->devices = calloc((size_t)cJSON_GetArraySize(devs), sizeof(*out->devices)))) {
        status = 500;
        msg = "out of memory";
    } else {
        cJSON *it;
        cJSON_ArrayForEach(it, devs)
        {
            if (!cJSON_IsString(it) || !it->valuestring[0]) {
                status = 400;
                msg = "\"devices\" must hold device ids (non-empty strings)";
                break;
            }
            out->devices[out->n_devices++] = it->valuestring;
        }
    }
    if (status != 0) {
        if (msg) snprintf(err, err_cap, "%s", msg);
        api_parse__provision_free(out);
    }
    return status;
}
