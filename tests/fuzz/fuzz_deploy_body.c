/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the body of POST /api/v1/deployments (api_parse__deployment, the parse
 * step of the handler; no server or database). Whatever the bytes: no crash, leak or UB; a
 * refusal is 400 (or 500 out of memory) with one sentence and nothing to free; an accepted
 * body names a release id >= 1 and either all devices or at least one non-empty device id,
 * and the body re-rendered with cJSON (as the CLI sends it) parses to the same request.
 */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_parse.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

/* The body the CLI would send for b (cmd_deploy.c), malloc'd. */
static char *render(const api_deployment_body_t *b)
{
    cJSON *j = cJSON_CreateObject();
    char id[24]; /* decimal digits, as the CLI sends them (cJSON's %1.15g loses ids > 10^15) */
    snprintf(id, sizeof(id), "%lld", (long long)b->release_id);
    cJSON_AddRawToObject(j, "release", id);
    if (b->all) {
        cJSON_AddTrueToObject(j, "all");
    } else {
        cJSON *a = cJSON_AddArrayToObject(j, "devices");
        for (size_t i = 0; i < b->n_devices; i++)
            cJSON_AddItemToArray(a, cJSON_CreateString(b->devices[i]));
    }
    char *text = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    api_deployment_body_t b, again;
    char err[512] = "", err2[512] = "";
    int st = api_parse__deployment(data, size, &b, err, sizeof(err));
    if (st != 0) {
        CHECK(st == 400 || st == 500);
        CHECK(err[0] != '\0');
        CHECK(b.json == NULL && b.devices == NULL && b.n_devices == 0);
        return 0;
    }
    CHECK(b.release_id >= 1);
    CHECK(b.all ? b.n_devices == 0 && b.devices == NULL : b.n_devices > 0 && b.devices != NULL);
    for (size_t i = 0; i < b.n_devices; i++) CHECK(b.devices[i] && b.devices[i][0]);

    char *text = render(&b);
    CHECK(text != NULL);
    CHECK(api_parse__deployment((const uint8_t *)text, strlen(text), &again, err2,
                                sizeof(err2)) == 0);
    CHECK(again.release_id == b.release_id && again.all == b.all &&
          again.n_devices == b.n_devices);
    for (size_t i = 0; i < b.n_devices; i++) CHECK(strcmp(again.devices[i], b.devices[i]) == 0);
    api_parse__deployment_free(&again);
    free(text);
    api_parse__deployment_free(&b);
    return 0;
}
