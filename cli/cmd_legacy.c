/* SPDX-License-Identifier: Apache-2.0 */
/* mqota device add: register a legacy device (docs/CLI.md "Legacy devices", docs/LEGACY.md). */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "http.h"

static const char usage_add[] =
    "Usage: mqota device add ID --protocol P --chip CHIP [--version V] [--mqtt-user U\n"
    "       --mqtt-password-file FILE] [KEY=VALUE...] [--json]\n"
    "\n"
    "Register a device that speaks a legacy update protocol (docs/LEGACY.md): b64 (base64\n"
    "chunks over one topic) or md5 (per-chip topics with MD5 chunks). ID is the id it has in\n"
    "the registry, and as an mqota agent after a migration; CHIP its chip (esp32, esp32s3, ...:\n"
    "images of other chips are never sent); V the version it runs now. KEY=VALUE are the\n"
    "protocol's parameters (a whole number VALUE is a number): b64 prefix, update_topic,\n"
    "cmd_topic, status_topic, chunk, window; md5 chip (its chipId), chunk; both\n"
    "reboot_timeout_s. Registering an id again replaces its parameters.\n"
    "--mqtt-user U and --mqtt-password-file FILE (its first line): the broker login the\n"
    "device's firmware presents (b64, md5, tcp); the broker then lets it reach only its own\n"
    "topics. The password is hashed into the broker's password file, never stored or shown.\n"
    "\n"
    "Examples:\n"
    "  mqota device add pump-7 --protocol md5 --chip esp32 --version 2.3 chip=esp32-1a2b3c\n"
    "  mqota device add tracker-2 --protocol b64 --chip esp32 prefix=tracker-2/ window=8\n"
    "  mqota device add pump-7 --protocol md5 --chip esp32 chip=esp32-1a2b3c \\\n"
    "      --mqtt-user pump-7 --mqtt-password-file pump-7.pw\n";

/* The first line of path (without its newline) into out (cap bytes). 0, or -1 (printed). */
static int read_password(const char *path, char *out, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (!f || !fgets(out, (int)cap, f)) {
        cli_error("cannot read the password from %s: %s.", path,
                  f ? "it is empty" : strerror(errno));
        if (f) fclose(f);
        return -1;
    }
    fclose(f);
    out[strcspn(out, "\r\n")] = '\0';
    return 0;
}

/* Whether s is a whole number of 1 to 9 digits (sent as a JSON number). */
static bool is_number(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 9) return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return false;
    return true;
}

int cmd_device_add(cli_ctx_t *ctx, int argc, char **argv)
{
    static const char cmd[] = "device add";
    const char *protocol = NULL, *chip = NULL, *version = NULL, *user = NULL, *pwfile = NULL;
    const cli_opt_t opts[] = { { "--protocol", &protocol, NULL }, { "--chip", &chip, NULL },
                               { "--version", &version, NULL }, { "--mqtt-user", &user, NULL },
                               { "--mqtt-password-file", &pwfile, NULL } };
    char *pos[33], pw[256];
    int npos = 0;
    int rc = cli_parse(ctx, cmd, usage_add, argc, argv, opts, 5, pos, &npos, 33);
    if (rc != CLI_OK) return rc;
    if (npos < 1) return cli_usage_error(cmd, "'%s' needs the device's ID", cmd);
    if (!protocol || !chip) return cli_usage_error(cmd, "'%s' needs --protocol and --chip", cmd);
    cJSON *body = cJSON_CreateObject(), *params = cJSON_CreateObject(), *resp = NULL;
    cJSON_AddStringToObject(body, "id", pos[0]);
    cJSON_AddStringToObject(body, "protocol", protocol);
    cJSON_AddStringToObject(body, "chip", chip);
    if (version) cJSON_AddStringToObject(body, "version", version);
    for (int i = 1; i < npos; i++) {
        char *eq = strchr(pos[i], '=');
        if (!eq || eq == pos[i]) {
            cJSON_Delete(body);
            cJSON_Delete(params);
            return cli_usage_error(cmd, "parameter '%s' must be KEY=VALUE", pos[i]);
        }
        *eq = '\0';
        bool login = strncmp(pos[i], "mqtt_", 5) == 0; /* a login of digits stays a string */
        if (is_number(eq + 1) && !login) cJSON_AddNumberToObject(params, pos[i], atof(eq + 1));
        else cJSON_AddStringToObject(params, pos[i], eq + 1);
    }
    if (user) cJSON_AddStringToObject(params, "mqtt_user", user);
    if (pwfile) {
        if (read_password(pwfile, pw, sizeof(pw)) != 0) {
            cJSON_Delete(body);
            cJSON_Delete(params);
            return CLI_FAILED;
        }
        cJSON_AddStringToObject(params, "mqtt_password", pw);
        memset(pw, 0, sizeof(pw));
    }
    cJSON_AddItemToObject(body, "params", params);
    char *text = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    if (!text) {
        cli_error("out of memory.");
        return CLI_FAILED;
    }
    rc = http_json(ctx, "POST", "/api/v1/legacy-devices", "application/json", text, strlen(text),
                   &resp, NULL);
    free(text);
    if (rc == CLI_OK) {
        if (ctx->json) {
            cli_print_json(resp);
        } else {
            char *p = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(resp, "params"));
            printf("device %s registered: protocol %s, chip %s, params %s\n",
                   cli_json_str(resp, "id", "?"), cli_json_str(resp, "protocol", "?"),
                   cli_json_str(resp, "chip", "?"), p ? p : "{}");
            free(p);
        }
    }
    cJSON_Delete(resp);
    return rc;
}
