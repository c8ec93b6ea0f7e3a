/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_provision.c - mqota device provision: ask mqotad for new device identities (broker
 * username/password and command key, docs/SECURITY.md §7 and §9) and write each device's
 * credentials file. The secrets travel once, in mqotad's answer, and go only into files of
 * mode 0600 (or to stdout for a single device without --out-dir); never into --json output.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "http.h"

static const char usage_provision[] =
    "usage: mqota device provision [--replace] [--out-dir DIR] ID...\n"
    "\n"
    "Creates each device's identity in mqotad: a broker user with a random password (the\n"
    "embedded broker reloads at once; the device reaches only its own topics) and a random\n"
    "32-byte command key for sealed commands. A device that exists is refused unless\n"
    "--replace is given: new credentials lock the real device out until it gets them.\n"
    "Writes DIR/<ID>.cred (mode 0600: username, password, command_key, broker, ca) for each\n"
    "device; with a single ID and no --out-dir the credentials are printed instead. The\n"
    "secrets are shown only now: mqotad keeps the password's hash and the command key.\n"
    "\n"
    "  --out-dir DIR   write DIR/<ID>.cred files (DIR is created, mode 0700)\n"
    "  --replace       provision devices that exist again (new password and command key)\n"
    "  --json          print [{\"id\": ..., \"file\": ...}] (needs --out-dir; never the secrets)\n"
    "\n"
    "example:\n"
    "  mqota device provision --out-dir creds pump-17 pump-18\n"
    "  mqota-fleet --credentials-dir creds ...   # or flash creds/pump-17.cred into the device\n";

/* Write text to dir/id.cred with mode 0600, through a temporary file and rename. */
static int write_cred(const char *dir, const char *id, const char *text, char *path, size_t cap)
{
    char tmp[4200];
    snprintf(path, cap, "%s/%s.cred", dir, id);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) return -1;
    size_t len = strlen(text), off = 0;
    while (off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0) {
            if (errno == EINTR) continue;
            break;
        }
        off += (size_t)w;
    }
    int ok = off == len && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        errno = e;
        return -1;
    }
    return 0;
}

/* A device id as mqotad accepts it (docs/PROTOCOL.md §1): checked here for a clear message. */
static int valid_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 48) return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '.' || *s == '_' || *s == '-'))
            return 0;
    return 1;
}

int cmd_device_provision(cli_ctx_t *ctx, int argc, char **argv)
{
    static const char cmd[] = "device provision";
    const char *out_dir = NULL;
    bool replace = false;
    const cli_opt_t opts[] = { { "--out-dir", &out_dir, NULL }, { "--replace", NULL, &replace } };
    char **pos = calloc((size_t)argc + 1, sizeof(*pos));
    int npos = 0, rc;
    cJSON *body = NULL, *ans = NULL, *listing = NULL;
    char *text = NULL;

    if (pos == NULL) return CLI_FAILED;
    rc = cli_parse(ctx, cmd, usage_provision, argc, argv, opts, 2, pos, &npos, argc + 1);
    if (rc != CLI_OK) goto out;
    if (npos == 0) {
        rc = cli_usage_error(cmd, "'%s' needs at least one device ID", cmd);
        goto out;
    }
    if (npos > 1 && out_dir == NULL) {
        rc = cli_usage_error(cmd, "give --out-dir DIR to provision %d devices (one credentials "
                             "file each)", npos);
        goto out;
    }
    if (ctx->json && out_dir == NULL) {
        rc = cli_usage_error(cmd, "--json needs --out-dir: the credentials are secrets and are "
                             "not printed as JSON");
        goto out;
    }
    for (int i = 0; i < npos; i++) {
        if (!valid_id(pos[i])) {
            rc = cli_usage_error(cmd, "device ID '%.80s' must be 1 to 48 letters, digits, '.', "
                                 "'_' or '-'", pos[i]);
            goto out;
        }
    }
    if (out_dir != NULL && mkdir(out_dir, 0700) != 0 && errno != EEXIST) {
        cli_error("--out-dir %s: cannot create the directory: %s", out_dir, strerror(errno));
        rc = CLI_FAILED;
        goto out;
    }
    body = cJSON_CreateObject();
    cJSON *ids = cJSON_AddArrayToObject(body, "devices");
    for (int i = 0; i < npos; i++) cJSON_AddItemToArray(ids, cJSON_CreateString(pos[i]));
    if (replace) cJSON_AddTrueToObject(body, "replace");
    text = cJSON_PrintUnformatted(body);
    if (text == NULL) {
        rc = CLI_FAILED;
        goto out;
    }
    /* The answer is file content (credentials, multi-line), not text for a terminal: take it
     * as it came, as for --json, instead of made terminal-safe (cli_json_make_safe()). */
    cli_ctx_t raw = *ctx;
    raw.json = true;
    rc = http_json(&raw, "POST", "/api/v1/devices", "application/json", text, strlen(text), &ans,
                   NULL);
    if (rc != CLI_OK) goto out;
    const cJSON *devs = cJSON_GetObjectItemCaseSensitive(ans, "devices"), *d;
    if (!cJSON_IsArray(devs) || cJSON_GetArraySize(devs) != npos) {
        cli_error("mqotad's answer to the provisioning has no credentials for %d device%s",
                  npos, npos == 1 ? "" : "s");
        rc = CLI_FAILED;
        goto out;
    }
    listing = cJSON_CreateArray();
    int written = 0;
    cJSON_ArrayForEach(d, devs)
    {
        const char *id = cli_json_str(d, "id", ""), *cred = cli_json_str(d, "credentials", "");
        char path[4096];
        if (!valid_id(id) || cred[0] == '\0') {
            cli_error("mqotad's answer has a malformed entry (device '%.80s')", id);
            rc = CLI_FAILED;
            goto out;
        }
        if (out_dir == NULL) {
            fputs(cred, stdout);
            continue;
        }
        if (write_cred(out_dir, id, cred, path, sizeof(path)) != 0) {
            cli_error("cannot write %s: %s; the %d file%s before it %s written, and mqotad has "
                      "the new identities: run the same command again to replace them",
                      path, strerror(errno), written, written == 1 ? "" : "s",
                      written == 1 ? "was" : "were");
            rc = CLI_FAILED;
            goto out;
        }
        written++;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", id);
        cJSON_AddStringToObject(o, "file", path);
        cJSON_AddItemToArray(listing, o);
    }
    if (ctx->json)
        cli_print_json(listing);
    else if (out_dir != NULL)
        printf("provisioned %d device%s; credentials in %s/<id>.cred (mode 0600, shown only "
               "now)\n", written, written == 1 ? "" : "s", out_dir);
    rc = CLI_OK;
out:
    if (ans != NULL) {
        /* scrub the secrets from the parsed answer before freeing it */
        const cJSON *devs2 = cJSON_GetObjectItemCaseSensitive(ans, "devices"), *e;
        cJSON_ArrayForEach(e, devs2)
        {
            cJSON *c = cJSON_GetObjectItemCaseSensitive(e, "credentials");
            if (cJSON_IsString(c)) memset(c->valuestring, 0, strlen(c->valuestring));
        }
    }
    cJSON_Delete(ans);
    cJSON_Delete(listing);
    cJSON_Delete(body);
    cJSON_free(text);
    free(pos);
    return rc;
}
