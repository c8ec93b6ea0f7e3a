/* SPDX-License-Identifier: Apache-2.0 */
/* mqota device command / device commands: sealed commands to one device (docs/CLI.md). */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "format.h"
#include "http.h"

#define POLL_MS 250
#define DEFAULT_WAIT_S 60.0

static const char usage_command[] =
    "Usage: mqota device command ID NAME [--arg TEXT] [--ttl SECONDS] [--no-wait]\n"
    "                           [--timeout SECONDS] [--json]\n"
    "\n"
    "Send a command to one device, sealed with its command key (AES-256-GCM, numbered so it\n"
    "cannot be replayed; docs/SECURITY.md section 9), wait for its answer and print it: the\n"
    "reply, or for 'diagnostics' one 'key: value' line each. Built-in commands: reboot,\n"
    "diagnostics, confirm, rollback (the last two for a device in pending-verify); any other\n"
    "NAME goes to the application on the device (mqota-fleet: relay with --arg on|off).\n"
    "mqotad sends it when the device is online, at most once.\n"
    "\n"
    "Options:\n"
    "  --arg TEXT          the command's argument\n"
    "  --ttl SECONDS       how long it may wait for an offline device (default 3600)\n"
    "  --no-wait           print the queued command and exit 0\n"
    "  --timeout SECONDS   stop waiting for the answer after this long (default 60; exit 3)\n"
    "  --json              print the command object (with its reply) as JSON\n"
    "\n"
    "Exit codes: 0 the device ran it (ok); 1 it answered failed, wrong-state or\n"
    "unknown-command, refused it, did not answer in time (timeout), was not reachable\n"
    "within --ttl (expired), or mqotad refused the request; 2 usage; 3 --timeout ran out\n"
    "(the command goes on in mqotad); 4 mqotad could not be reached.\n"
    "\n"
    "Examples:\n"
    "  mqota device command vdev-0001 diagnostics\n"
    "  mqota device command vdev-0001 relay --arg on\n"
    "  mqota device command vdev-0001 confirm\n";

static const char usage_commands[] =
    "Usage: mqota device commands ID [--json]\n"
    "\n"
    "List the commands sent to one device, newest first (at most 100):\n"
    "ID NAME ARGS STATE RESULT CREATED.\n"
    "\n"
    "Example:\n"
    "  mqota device commands vdev-0001\n";

/* A positive number of seconds (whole when whole is set). CLI_OK or CLI_USAGE. */
static int parse_seconds(const char *cmd, const char *opt, const char *text, bool whole,
                         double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (errno != 0 || end == text || *end != '\0' || !isfinite(v) || v <= 0 ||
        (whole && (v != floor(v) || v > 604800)))
        return cli_usage_error(cmd, "%s '%s' is not a positive %snumber of seconds%s", opt, text,
                               whole ? "whole " : "", whole ? " (at most 604800)" : "");
    *out = v;
    return CLI_OK;
}

/* "/api/v1/devices/<escaped id>/commands" (malloc'd) or NULL. */
static char *device_path(const char *id)
{
    char *eid = http_escape(id);
    if (eid == NULL)
        return NULL;
    size_t n = strlen(eid) + 40;
    char *p = malloc(n);
    if (p != NULL)
        snprintf(p, n, "/api/v1/devices/%s/commands", eid);
    free(eid);
    return p;
}

static bool finished(const char *state)
{
    return strcmp(state, "queued") != 0 && strcmp(state, "sent") != 0;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Print a finished command for a person; returns its exit code. */
static int report(const cJSON *c)
{
    const char *state = cli_json_str(c, "state", "?");
    const char *result = cli_json_str(c, "result", "");
    const char *reply = cli_json_str(c, "reply", "");
    const char *name = cli_json_str(c, "name", "?");
    const char *dev = cli_json_str(c, "device", "?");
    long long id = cli_json_int(c, "id", 0);

    if (strcmp(state, "done") == 0) {
        if (strcmp(name, "diagnostics") == 0) {
            size_t cap = strlen(reply) * 2 + 64;
            char *out = malloc(cap);
            if (out != NULL)
                fputs(fmt_kv_lines(reply, out, cap), stdout);
            free(out);
        } else if (*reply != '\0') {
            size_t n = strlen(reply);
            printf("%s%s", reply, reply[n - 1] == '\n' ? "" : "\n");
        } else {
            printf("%s: ok\n", name);
        }
        return CLI_OK;
    }
    if (strcmp(state, "failed") == 0)
        cli_error("%s on %s (command %lld): %s%s%s", name, dev, id, result, *reply ? ": " : "",
                  reply);
    else if (strcmp(state, "refused") == 0)
        cli_error("%s on %s (command %lld) was refused by the device: %s (it did not run; "
                  "see 'mqota device show %s')", name, dev, id, result, dev);
    else if (strcmp(state, "timeout") == 0)
        cli_error("%s on %s (command %lld): no reply within mqotad's --command-timeout; it may "
                  "or may not have run, and it is not sent again", name, dev, id);
    else if (strcmp(state, "expired") == 0)
        cli_error("%s on %s (command %lld) expired unsent: the device was not online, taking "
                  "commands, within its ttl of %lld s", name, dev, id, cli_json_int(c, "ttl_s", 0));
    else
        cli_error("%s on %s (command %lld) ended in state '%s'", name, dev, id, state);
    return CLI_FAILED;
}

int cmd_device_command(cli_ctx_t *ctx, int argc, char **argv)
{
    static const char cmd[] = "device command";
    const char *arg = NULL, *ttl_s = NULL, *timeout_s = NULL;
    bool no_wait = false;
    const cli_opt_t opts[] = { { "--arg", &arg, NULL }, { "--ttl", &ttl_s, NULL },
                               { "--timeout", &timeout_s, NULL }, { "--no-wait", NULL, &no_wait } };
    char *pos[2], *path = NULL, *text = NULL;
    int npos, rc;
    double ttl = 0, timeout = DEFAULT_WAIT_S;
    cJSON *body = NULL, *c = NULL;

    rc = cli_parse(ctx, cmd, usage_command, argc, argv, opts, 4, pos, &npos, 2);
    if (rc != CLI_OK)
        return rc;
    if (npos != 2)
        return cli_usage_error(cmd, "'%s' needs a device ID and a command NAME", cmd);
    if (ttl_s != NULL && (rc = parse_seconds(cmd, "--ttl", ttl_s, true, &ttl)) != CLI_OK)
        return rc;
    if (timeout_s != NULL && no_wait)
        return cli_usage_error(cmd, "--timeout is for waiting; it does not go with --no-wait");
    if (timeout_s != NULL &&
        (rc = parse_seconds(cmd, "--timeout", timeout_s, false, &timeout)) != CLI_OK)
        return rc;

    body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "name", pos[1]);
    if (arg != NULL)
        cJSON_AddStringToObject(body, "args", arg);
    if (ttl_s != NULL)
        cJSON_AddNumberToObject(body, "ttl_s", ttl);
    text = cJSON_PrintUnformatted(body);
    path = device_path(pos[0]);
    if (text == NULL || path == NULL) {
        cli_error("out of memory.");
        rc = CLI_FAILED;
        goto out;
    }
    rc = http_json(ctx, "POST", path, "application/json", text, strlen(text), &c, NULL);
    if (rc != CLI_OK)
        goto out;
    long long id = cli_json_int(c, "id", 0);
    if (no_wait) {
        if (ctx->json)
            cli_print_json(c);
        else
            printf("command %lld (%s) %s for %s\n", id, pos[1],
                   strcmp(cli_json_str(c, "state", ""), "sent") == 0 ? "sent" : "queued", pos[0]);
        goto out;
    }

    char cpath[64];
    snprintf(cpath, sizeof cpath, "/api/v1/commands/%lld", id);
    double end = now_s() + timeout;
    while (!finished(cli_json_str(c, "state", "queued"))) {
        if (now_s() >= end) {
            cli_error("no answer from %s to command %lld (%s) within %g s; it is still %s in "
                      "mqotad (see 'mqota device commands %s')", pos[0], id, pos[1], timeout,
                      cli_json_str(c, "state", "queued"), pos[0]);
            rc = CLI_TIMEOUT;
            goto out;
        }
        sleep_ms(POLL_MS);
        cJSON_Delete(c);
        c = NULL;
        if ((rc = http_get(ctx, cpath, &c)) != CLI_OK)
            goto out;
    }
    if (ctx->json) {
        cli_print_json(c);
        const char *state = cli_json_str(c, "state", "");
        rc = strcmp(state, "done") == 0 ? CLI_OK : CLI_FAILED;
    } else {
        rc = report(c);
    }
out:
    cJSON_Delete(body);
    cJSON_Delete(c);
    free(text);
    free(path);
    return rc;
}

int cmd_device_commands(cli_ctx_t *ctx, int argc, char **argv)
{
    static const char cmd[] = "device commands";
    static const char *const head[] = { "ID", "NAME", "ARGS", "STATE", "RESULT", "CREATED" };
    char *pos[1], *path;
    int npos;
    cJSON *arr = NULL;

    int rc = cli_parse(ctx, cmd, usage_commands, argc, argv, NULL, 0, pos, &npos, 1);
    if (rc != CLI_OK)
        return rc;
    if (npos != 1)
        return cli_usage_error(cmd, "'%s' needs a device ID from 'mqota device list'", cmd);
    if ((path = device_path(pos[0])) == NULL) {
        cli_error("out of memory.");
        return CLI_FAILED;
    }
    rc = http_get(ctx, path, &arr);
    free(path);
    if (rc != CLI_OK || ctx->json) {
        if (rc == CLI_OK)
            cli_print_json(arr);
        cJSON_Delete(arr);
        return rc;
    }
    fmt_table_t *t = fmt_table_new(6, head);
    if (t == NULL) {
        cJSON_Delete(arr);
        cli_error("out of memory while printing the command list.");
        return CLI_FAILED;
    }
    fmt_table_align_right(t, 0);
    const cJSON *c;
    cJSON_ArrayForEach(c, arr) {
        char id[24], args[40], date[32];
        const char *a = cli_json_str(c, "args", "");
        snprintf(id, sizeof id, "%lld", cli_json_int(c, "id", 0));
        if (strlen(a) > 24)
            snprintf(args, sizeof args, "%.21s...", a);
        else
            snprintf(args, sizeof args, "%s", *a ? a : "-");
        fmt_date(cli_json_int(c, "created_at", 0), date, sizeof date);
        const char *row[] = { id, cli_json_str(c, "name", "-"), args,
                              cli_json_str(c, "state", "-"), cli_json_str(c, "result", "-"),
                              date };
        fmt_table_add_row(t, row);
    }
    if (fmt_table_rows(t) == 0)
        printf("No commands for %s yet; send one with 'mqota device command %s diagnostics'.\n",
               pos[0], pos[0]);
    else
        fmt_table_print(t, stdout);
    fmt_table_free(t);
    cJSON_Delete(arr);
    return CLI_OK;
}
