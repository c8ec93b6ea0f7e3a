/* SPDX-License-Identifier: Apache-2.0 */
/* mqota deploy, deployment list / show / watch (the watch loop itself is in watch.c). */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "format.h"
#include "http.h"

static const char usage_deploy[] =
    "Usage: mqota deploy RELEASE_ID (--all | --filter EXPR | DEVICE...) [--hold]\n"
    "                    [--watch [--timeout SECONDS]]\n"
    "\n"
    "Roll a release out to the named devices, to every device with --all, or to the devices\n"
    "a filter selects when the deployment is made. A new deployment supersedes any running\n"
    "one for the same device. Prints the deployment id.\n"
    "\n"
    "Options:\n"
    "  --all               deploy to every known device of the release's chip\n"
    "  --filter EXPR       deploy to the devices of the release's chip the filter selects now\n"
    "                      (as 'mqota device list --filter EXPR' shows them)\n"
    "  --hold              devices download and verify the release, then hold it (target\n"
    "                      'ready') without rebooting until 'mqota deployment activate ID'\n"
    "  --watch             then follow it as 'mqota deployment watch' does\n"
    "  --timeout SECONDS   with --watch: give up watching after this long (exit 3)\n"
    "  --json              print the deployment as JSON\n"
    "\n"
    "Examples:\n"
    "  mqota deploy 2 vdev-0001 vdev-0002\n"
    "  mqota deploy 2 --all --watch --timeout 600\n"
    "  mqota deploy 2 --filter 'group=lab state!=failed'\n"
    "  mqota deploy 2 --all --hold\n";

static const char usage_activate[] =
    "Usage: mqota deployment activate ID [DEVICE...] [--json]\n"
    "\n"
    "Activate the held targets of a deployment made with 'mqota deploy --hold': each device\n"
    "switches to the release and reboots, at once if it holds the verified image (target\n"
    "'ready'), else as soon as its download is verified. Without DEVICE, every held target;\n"
    "a named device that is not a held target of the deployment is refused.\n"
    "\n"
    "Examples:\n"
    "  mqota deployment activate 4\n"
    "  mqota deployment activate 4 vdev-0001 vdev-0002\n";

static const char usage_cancel[] =
    "Usage: mqota deployment cancel ID [--json]\n"
    "\n"
    "Cancel a running deployment: each target not yet finished is cancelled and its offer\n"
    "withdrawn, so its device stops downloading (or drops a held image) and stays on the\n"
    "image it runs. A device that already reboots into the release (ready-to-reboot,\n"
    "pending-verify) or runs it is left to finish. A rollout's deployment also records each\n"
    "device in the rollout's history.\n"
    "\n"
    "Examples:\n"
    "  mqota deployment cancel 4\n";

static const char usage_list[] =
    "Usage: mqota deployment list [--json]\n"
    "\n"
    "List deployments, newest first: ID RELEASE VERSION STATE DONE SUCCEEDED FAILED ACTIVE\n"
    "PENDING CREATED.\n"
    "\n"
    "Example:\n"
    "  mqota deployment list\n";

static const char usage_show[] =
    "Usage: mqota deployment show ID [--json]\n"
    "\n"
    "Show one deployment and each of its targets.\n"
    "\n"
    "Example:\n"
    "  mqota deployment show 4\n";

static const char usage_watch[] =
    "Usage: mqota deployment watch ID [--timeout SECONDS]\n"
    "\n"
    "Follow a deployment until it finishes, polling mqotad every 500 ms. On a terminal it\n"
    "draws one progress bar per target and a summary line; otherwise it prints a line when a\n"
    "target changes state and a summary at most every 5 s. With --json it prints only the\n"
    "final deployment.\n"
    "\n"
    "Options:\n"
    "  --timeout SECONDS   stop watching after this long (the deployment goes on)\n"
    "\n"
    "Exit codes: 0 every target succeeded, 1 a target failed or was superseded,\n"
    "            3 --timeout ran out, 4 mqotad could not be reached.\n"
    "\n"
    "Example:\n"
    "  mqota deployment watch 4 --timeout 300\n";

/* Parse --timeout SECONDS: a positive number. CLI_OK or CLI_USAGE. */
static int parse_timeout(const char *cmd, const char *text, double *out)
{
    char *end = NULL;

    *out = 0;
    if (text == NULL)
        return CLI_OK;
    errno = 0;
    double v = strtod(text, &end);
    if (errno != 0 || end == text || *end != '\0' || !isfinite(v) || v <= 0)
        return cli_usage_error(cmd, "--timeout '%s' is not a positive number of seconds", text);
    *out = v;
    return CLI_OK;
}

int cmd_deploy(cli_ctx_t *ctx, int argc, char **argv)
{
    static const char cmd[] = "deploy";
    bool all = false, watch = false, hold = false;
    const char *timeout_s = NULL, *filter = NULL;
    const cli_opt_t opts[] = { { "--all", NULL, &all }, { "--watch", NULL, &watch },
                               { "--timeout", &timeout_s, NULL }, { "--filter", &filter, NULL },
                               { "--hold", NULL, &hold } };
    char **pos = calloc((size_t)argc + 1, sizeof *pos);
    int npos = 0, rc;
    long long release;
    double timeout = 0;
    cJSON *body = NULL, *resp = NULL;
    char *text = NULL;

    if (pos == NULL) {
        cli_error("out of memory.");
        return CLI_FAILED;
    }
    rc = cli_parse(ctx, cmd, usage_deploy, argc, argv, opts, 5, pos, &npos, argc);
    if (rc != CLI_OK)
        goto out;
    if (npos < 1) {
        rc = cli_usage_error(cmd, "'deploy' needs a RELEASE_ID from 'mqota release list'");
        goto out;
    }
    if ((rc = cli_parse_id(cmd, "release id", pos[0], &release)) != CLI_OK)
        goto out;
    if ((all && npos > 1) || (filter != NULL && (all || npos > 1))) {
        rc = cli_usage_error(cmd, "give one of --all, --filter EXPR and device ids");
        goto out;
    }
    if (!all && filter == NULL && npos == 1) {
        rc = cli_usage_error(cmd, "name the devices to update, or give --filter EXPR or --all");
        goto out;
    }
    if (timeout_s != NULL && !watch) {
        rc = cli_usage_error(cmd, "--timeout only applies with --watch");
        goto out;
    }
    if ((rc = parse_timeout(cmd, timeout_s, &timeout)) != CLI_OK)
        goto out;

    body = cJSON_CreateObject();
    /* The id as decimal digits: cJSON prints a number with 15 significant digits when that
     * reads back within DBL_EPSILON, so 9007199254740939 would go out as 9.00719925474094e+15
     * (...940, another release). */
    char release_text[24];
    snprintf(release_text, sizeof release_text, "%lld", release);
    cJSON_AddRawToObject(body, "release", release_text);
    if (all) {
        cJSON_AddTrueToObject(body, "all");
    } else if (filter != NULL) {
        cJSON_AddStringToObject(body, "filter", filter);
    } else {
        cJSON *devs = cJSON_AddArrayToObject(body, "devices");
        for (int i = 1; i < npos; i++)
            cJSON_AddItemToArray(devs, cJSON_CreateString(pos[i]));
    }
    if (hold)
        cJSON_AddStringToObject(body, "activate", "hold");
    text = cJSON_PrintUnformatted(body);
    if (text == NULL) {
        cli_error("out of memory.");
        rc = CLI_FAILED;
        goto out;
    }
    rc = http_json(ctx, "POST", "/api/v1/deployments", "application/json", text, strlen(text),
                   &resp, NULL);
    if (rc != CLI_OK)
        goto out;

    long long id = cli_json_int(resp, "id", 0);
    if (ctx->json) {
        if (!watch)
            cli_print_json(resp);
    } else {
        long long total = cli_json_int(resp, "total", 0);
        printf("deployment %lld created: release %lld (%s) to %lld device%s%s\n", id, release,
               cli_json_str(resp, "release_version", "?"), total, total == 1 ? "" : "s",
               hold ? ", held until 'mqota deployment activate'" : "");
        fflush(stdout);
    }
    if (watch)
        rc = cli_watch(ctx, id, timeout);
out:
    cJSON_Delete(resp);
    cJSON_Delete(body);
    free(text);
    free(pos);
    return rc;
}

int cmd_deployment_list(cli_ctx_t *ctx, int argc, char **argv)
{
    static const char cmd[] = "deployment list";
    static const char *const head[] = { "ID", "RELEASE", "VERSION", "STATE", "DONE",
                                        "SUCCEEDED", "FAILED", "ACTIVE", "PENDING", "CREATED" };
    cJSON *arr = NULL;
    int rc = cli_list_fetch(ctx, cmd, usage_list, argc, argv, "/api/v1/deployments", &arr);
    if (rc != CLI_OK || arr == NULL)
        return rc;
    fmt_table_t *t = fmt_table_new(10, head);
    if (t == NULL) {
        cJSON_Delete(arr);
        cli_error("out of memory while printing the deployment list.");
        return CLI_FAILED;
    }
    for (size_t c = 0; c < 10; c++)
        if (c != 2 && c != 3 && c != 9)
            fmt_table_align_right(t, c);
    const cJSON *d;
    cJSON_ArrayForEach(d, arr) {
        char id[24], rel[24], done[48], ok[24], fail[24], act[24], pend[24], date[32];
        long long total = cli_json_int(d, "total", 0);
        long long succ = cli_json_int(d, "succeeded", 0);
        long long failed = cli_json_int(d, "failed", 0);
        snprintf(id, sizeof id, "%lld", cli_json_int(d, "id", 0));
        snprintf(rel, sizeof rel, "%lld", cli_json_int(d, "release", 0));
        snprintf(done, sizeof done, "%lld/%lld",
                 succ + failed + cli_json_int(d, "cancelled", 0), total);
        snprintf(ok, sizeof ok, "%lld", succ);
        snprintf(fail, sizeof fail, "%lld", failed);
        snprintf(act, sizeof act, "%lld", cli_json_int(d, "active", 0));
        snprintf(pend, sizeof pend, "%lld", cli_json_int(d, "pending", 0));
        fmt_date(cli_json_int(d, "created_at", 0), date, sizeof date);
        const char *row[] = { id, rel, cli_json_str(d, "release_version", "-"),
                              cli_json_str(d, "state", "-"), done, ok, fail, act, pend, date };
        fmt_table_add_row(t, row);
    }
    if (fmt_table_rows(t) == 0)
        printf("No deployments yet; start one with 'mqota deploy RELEASE_ID --all'.\n");
    else
        fmt_table_print(t, stdout);
    fmt_table_free(t);
    cJSON_Delete(arr);
    return CLI_OK;
}

/* Fetch /api/v1/deployments/ID for the show and watch commands. */
static int parse_deployment_args(cli_ctx_t *ctx, const char *cmd, const char *usage, int argc,
                                 char **argv, const cli_opt_t *opts, size_t nopts,
                                 long long *id)
{
    char *pos[1];
    int npos;
    int rc = cli_parse(ctx, cmd, usage, argc, argv, opts, nopts, pos, &npos, 1);
    if (rc != CLI_OK)
        return rc;
    if (npos != 1)
        return cli_usage_error(cmd, "'%s' needs a deployment ID from 'mqota deployment list'",
                               cmd);
    return cli_parse_id(cmd, "deployment id", pos[0], id);
}

const char *cli_target_state(const cJSON *target, char *buf, size_t cap)
{
    const char *st = cli_json_str(target, "state", "?");
    bool waiting = strcmp(st, "pending") == 0 || strcmp(st, "active") == 0 ||
                   strcmp(st, "ready") == 0;
    /* A server without the "online" member says nothing about it: shown as before. */
    snprintf(buf, cap, "%s%s", st,
             waiting && !cli_json_bool(target, "online", true) ? " (device offline)" : "");
    return buf;
}

int cmd_deployment_show(cli_ctx_t *ctx, int argc, char **argv)
{
    static const char cmd[] = "deployment show";
    static const char *const head[] = { "DEVICE", "STATE", "DEVICE-STATE", "PROGRESS", "SENT",
                                        "RESENT", "FORM", "SAVED", "TIME", "REASON" };
    long long id;
    char path[64];
    cJSON *d = NULL;

    int rc = parse_deployment_args(ctx, cmd, usage_show, argc, argv, NULL, 0, &id);
    if (rc != CLI_OK)
        return rc;
    snprintf(path, sizeof path, "/api/v1/deployments/%lld", id);
    rc = http_get(ctx, path, &d);
    if (rc != CLI_OK) {
        cJSON_Delete(d);
        return rc;
    }
    if (ctx->json) {
        cli_print_json(d);
        cJSON_Delete(d);
        return CLI_OK;
    }

    char date[32], size[32];
    long long image = cli_json_int(d, "image_size", 0);
    printf("deployment %lld: release %lld (%s), %s\n", cli_json_int(d, "id", id),
           cli_json_int(d, "release", 0), cli_json_str(d, "release_version", "?"),
           cli_json_str(d, "state", "?"));
    printf("  created  %s, image %s\n", fmt_date(cli_json_int(d, "created_at", 0), date, sizeof date),
           fmt_size((uint64_t)(image > 0 ? image : 0), size, sizeof size));
    long long ready = cli_json_int(d, "ready", 0);
    char held[48] = "";
    if (ready > 0) /* holding the release until 'mqota deployment activate' */
        snprintf(held, sizeof held, ", %lld ready", ready);
    long long cancelled = cli_json_int(d, "cancelled", 0);
    char withdrawn[48] = "";
    if (cancelled > 0) /* 'mqota deployment cancel', or its rollout's abort */
        snprintf(withdrawn, sizeof withdrawn, ", %lld cancelled", cancelled);
    printf("  targets  %lld: %lld succeeded, %lld failed, %lld active, %lld pending%s%s\n",
           cli_json_int(d, "total", 0), cli_json_int(d, "succeeded", 0),
           cli_json_int(d, "failed", 0), cli_json_int(d, "active", 0),
           cli_json_int(d, "pending", 0), held, withdrawn);
    /* compressed forms (docs/PROTOCOL.md §6.1): what they saved against the image per target */
    long long compressed = cli_json_int(d, "compressed", 0);
    if (compressed > 0) {
        char saved[32];
        fmt_size((uint64_t)cli_json_int(d, "bytes_saved", 0), saved, sizeof saved);
        printf("  wire     %lld compressed, %s saved against sending the image to each\n",
               compressed, saved);
    }
    printf("\n");

    fmt_table_t *t = fmt_table_new(10, head);
    if (t == NULL) {
        cJSON_Delete(d);
        cli_error("out of memory while printing the deployment.");
        return CLI_FAILED;
    }
    fmt_table_align_right(t, 3);
    fmt_table_align_right(t, 4);
    fmt_table_align_right(t, 5);
    fmt_table_align_right(t, 7);
    fmt_table_align_right(t, 8);
    const cJSON *tg;
    cJSON_ArrayForEach(tg, cJSON_GetObjectItemCaseSensitive(d, "targets")) {
        char prog[16], sent[32], resent[32], took[32], saved[32];
        long long p = cli_json_int(tg, "progress", 0);
        long long st = cli_json_int(tg, "started_at", 0);
        long long fin = cli_json_int(tg, "finished_at", 0);
        snprintf(prog, sizeof prog, "%d%%", fmt_percent((uint64_t)(p > 0 ? p : 0),
                                                        (uint64_t)(image > 0 ? image : 0)));
        fmt_size((uint64_t)cli_json_int(tg, "bytes_sent", 0), sent, sizeof sent);
        fmt_size((uint64_t)cli_json_int(tg, "bytes_resent", 0), resent, sizeof resent);
        long long sv = cli_json_int(tg, "bytes_saved", 0);
        if (sv > 0)
            fmt_size((uint64_t)sv, saved, sizeof saved);
        else
            snprintf(saved, sizeof saved, "-");
        if (st > 0 && fin >= st)
            fmt_elapsed((uint64_t)(fin - st) * 1000u, took, sizeof took);
        else
            snprintf(took, sizeof took, "-");
        const char *reason = cli_json_str(tg, "reason", "none");
        /* a stream member's form names its stream (docs/PROTOCOL.md §13) after the release's
         * stream prefix: "delta-full @77/4/1a2b3c4d" */
        char form[96];
        const char *topic = cli_json_str(tg, "stream", NULL);
        const char *tail = topic ? strstr(topic, "/stream/") : NULL;
        snprintf(form, sizeof form, "%s%s%s", cli_json_str(tg, "encoding", "none"),
                 tail ? " @" : "", tail ? tail + 8 : "");
        char state[48];
        const char *row[] = { cli_json_str(tg, "device", "-"),
                              cli_target_state(tg, state, sizeof state),
                              cli_json_str(tg, "device_state", "-"), prog, sent, resent,
                              form, saved, took,
                              strcmp(reason, "none") == 0 ? "" : reason };
        fmt_table_add_row(t, row);
    }
    fmt_table_print(t, stdout);
    fmt_table_free(t);
    cJSON_Delete(d);
    return CLI_OK;
}

int cmd_deployment_watch(cli_ctx_t *ctx, int argc, char **argv)
{
    static const char cmd[] = "deployment watch";
    const char *timeout_s = NULL;
    const cli_opt_t opts[] = { { "--timeout", &timeout_s, NULL } };
    long long id;
    double timeout;

    int rc = parse_deployment_args(ctx, cmd, usage_watch, argc, argv, opts, 1, &id);
    if (rc != CLI_OK)
        return rc;
    if ((rc = parse_timeout(cmd, timeout_s, &timeout)) != CLI_OK)
        return rc;
    return cli_watch(ctx, id, timeout);
}

int cmd_deployment_activate(cli_ctx_t *ctx, int argc, char **argv)
{
    static const char cmd[] = "deployment activate";
    char **pos = calloc((size_t)argc + 1, sizeof *pos);
    int npos = 0, rc;
    long long id;
    cJSON *body = NULL, *resp = NULL;
    char *text = NULL, path[64];

    if (pos == NULL) {
        cli_error("out of memory.");
        return CLI_FAILED;
    }
    rc = cli_parse(ctx, cmd, usage_activate, argc, argv, NULL, 0, pos, &npos, argc);
    if (rc != CLI_OK)
        goto out;
    if (npos < 1) {
        rc = cli_usage_error(cmd, "'%s' needs a deployment ID from 'mqota deployment list'", cmd);
        goto out;
    }
    if ((rc = cli_parse_id(cmd, "deployment id", pos[0], &id)) != CLI_OK)
        goto out;
    body = cJSON_CreateObject();
    if (npos > 1) {
        cJSON *devs = cJSON_AddArrayToObject(body, "devices");
        for (int i = 1; i < npos; i++)
            cJSON_AddItemToArray(devs, cJSON_CreateString(pos[i]));
    }
    text = cJSON_PrintUnformatted(body);
    if (text == NULL) {
        cli_error("out of memory.");
        rc = CLI_FAILED;
        goto out;
    }
    snprintf(path, sizeof path, "/api/v1/deployments/%lld/activate", id);
    rc = http_json(ctx, "POST", path, "application/json", text, strlen(text), &resp, NULL);
    if (rc != CLI_OK)
        goto out;
    if (ctx->json) {
        cli_print_json(resp);
    } else {
        long long n = cli_json_int(resp, "activated", 0);
        printf("deployment %lld: %lld target%s activated (%lld ready, %lld still downloading)\n",
               id, n, n == 1 ? "" : "s", cli_json_int(resp, "ready", 0),
               cli_json_int(resp, "active", 0) + cli_json_int(resp, "pending", 0));
    }
out:
    cJSON_Delete(resp);
    cJSON_Delete(body);
    free(text);
    free(pos);
    return rc;
}

int cmd_deployment_cancel(cli_ctx_t *ctx, int argc, char **argv)
{
    static const char cmd[] = "deployment cancel";
    long long id;
    cJSON *resp = NULL;
    char path[64];

    int rc = parse_deployment_args(ctx, cmd, usage_cancel, argc, argv, NULL, 0, &id);
    if (rc != CLI_OK)
        return rc;
    snprintf(path, sizeof path, "/api/v1/deployments/%lld/cancel", id);
    rc = http_json(ctx, "POST", path, NULL, NULL, 0, &resp, NULL);
    if (rc != CLI_OK) {
        cJSON_Delete(resp); /* an error's answer, if one came */
        return rc;
    }
    if (ctx->json) {
        cli_print_json(resp);
    } else {
        long long n = cli_json_int(resp, "cancelled", 0), kept = cli_json_int(resp, "kept", 0);
        printf("deployment %lld: %s, %lld target%s cancelled (offers withdrawn), %lld left to "
               "finish, %lld succeeded, %lld failed\n", id, cli_json_str(resp, "state", "?"), n,
               n == 1 ? "" : "s", kept, cli_json_int(resp, "succeeded", 0),
               cli_json_int(resp, "failed", 0));
    }
    cJSON_Delete(resp);
    return CLI_OK;
}
