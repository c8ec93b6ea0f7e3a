/* SPDX-License-Identifier: Apache-2.0 */
/* mqota status: is mqotad up, and is it connected to its MQTT broker? */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "http.h"

static const char usage_status[] =
    "Usage: mqota status [--json]\n"
    "\n"
    "Check that mqotad answers and whether it is connected to its MQTT broker.\n"
    "Exits 0 when mqotad reports status \"ok\", 1 otherwise, 4 when it cannot be reached.\n"
    "\n"
    "Example:\n"
    "  MQOTA_SERVER=http://10.0.0.5:8080 mqota status\n";

int cmd_status(cli_ctx_t *ctx, int argc, char **argv)
{
    char *pos[1];
    int npos;
    cJSON *h = NULL;

    int rc = cli_parse(ctx, "status", usage_status, argc, argv, NULL, 0, pos, &npos, 0);
    if (rc != CLI_OK)
        return rc;
    rc = http_get(ctx, "/api/v1/health", &h);
    if (rc != CLI_OK) {
        cJSON_Delete(h);
        return rc;
    }
    const char *status = cli_json_str(h, "status", "?");
    bool ok = strcmp(status, "ok") == 0;
    bool connected = cli_json_bool(h, "mqtt_connected", false);
    if (ctx->json) {
        cli_print_json(h);
    } else {
        printf("mqotad %s at %s: %s\n", cli_json_str(h, "version", "?"), ctx->server, status);
        printf("broker %s%s: %s\n", cli_json_str(h, "broker", "?"),
               cli_json_bool(h, "embedded_broker", false) ? " (embedded)" : "",
               connected ? "connected" : "NOT connected");
    }
    cJSON_Delete(h);
    if (!ok) {
        cli_error("mqotad at %s reports status '%s'; check the mqotad log.", ctx->server, status);
        return CLI_FAILED;
    }
    return CLI_OK;
}
