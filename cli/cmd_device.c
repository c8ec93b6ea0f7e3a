/* SPDX-License-Identifier: Apache-2.0 */
/* mqota device list / device show / device telemetry. */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "format.h"
#include "http.h"
#include "mqota_host.h"

static const char usage_list[] =
    "Usage: mqota device list [--filter EXPR] [--json]\n"
    "\n"
    "List the devices mqotad has heard from, sorted by id:\n"
    "ID CHIP VERSION SLOT STATE PROGRESS ONLINE LAST-SEEN. A device that speaks a legacy\n"
    "update protocol says which in its STATE cell: \"confirmed, legacy md5\".\n"
    "\n"
    "Options:\n"
    "  --filter EXPR   only the devices the filter selects: terms separated by spaces or\n"
    "                  commas, all of which must hold; KEY=VALUE, KEY!=VALUE, VALUE|VALUE for\n"
    "                  alternatives. Keys: chip, project, version, release, group, tag\n"
    "                  (KEY or KEY=VALUE), online (true/false), state (idle, failed, ...),\n"
    "                  last_seen<DURATION or last_seen>DURATION (90s, 15m, 2h, 7d),\n"
    "                  protocol (mqota, or a legacy one: b64, md5, pull, tcp)\n"
    "  --json          print the server's array as-is (pretty-printed)\n"
    "\n"
    "Examples:\n"
    "  mqota device list\n"
    "  mqota device list --filter 'chip=esp32 group=lab state=idle|failed last_seen<1h'\n"
    "  mqota device list --filter 'tag=site=berlin,online=false'\n"
    "  mqota device list --filter 'protocol!=mqota'\n";

static const char usage_show[] =
    "Usage: mqota device show ID [--json]\n"
    "\n"
    "Show everything mqotad knows about one device.\n"
    "\n"
    "Example:\n"
    "  mqota device show vdev-0001\n";

/* Progress cell: percent of the image received while an update runs, else "-". */
static void progress_cell(const cJSON *d, char *out, size_t cap)
{
    long long size = cli_json_int(d, "image_size", 0);
    long long done = cli_json_int(d, "progress", 0);
    const char *state = cli_json_str(d, "state", "");

    /* Only an update in progress (or one that stopped) has a meaningful percentage. */
    static const char *const busy[] = { "offered", "downloading", "verifying", "ready-to-reboot",
                                        "failed" };
    bool in_update = false;
    for (size_t i = 0; i < sizeof busy / sizeof busy[0]; i++)
        in_update |= strcmp(state, busy[i]) == 0;
    if (size <= 0 || !in_update)
        snprintf(out, cap, "-");
    else
        snprintf(out, cap, "%d%%", fmt_percent((uint64_t)done, (uint64_t)size));
}

int cmd_device_list(cli_ctx_t *ctx, int argc, char **argv)
{
    static const char cmd[] = "device list";
    static const char *const head[] = { "ID", "CHIP", "VERSION", "SLOT", "STATE", "PROGRESS",
                                        "ONLINE", "LAST-SEEN" };
    const char *filter = NULL;
    const cli_opt_t opts[] = { { "--filter", &filter, NULL } };
    char *pos[1];
    int npos = 0;
    cJSON *arr = NULL;
    int rc = cli_parse(ctx, cmd, usage_list, argc, argv, opts, 1, pos, &npos, 0);
    if (rc != CLI_OK)
        return rc;
    char *path = NULL;
    if (filter != NULL) {
        char *e = http_escape(filter);
        size_t n = e ? strlen(e) + 32 : 0;
        path = e ? malloc(n) : NULL;
        if (path)
            snprintf(path, n, "/api/v1/devices?filter=%s", e);
        free(e);
        if (path == NULL) {
            cli_error("out of memory.");
            return CLI_FAILED;
        }
    }
    rc = http_get(ctx, path ? path : "/api/v1/devices", &arr);
    free(path);
    if (rc != CLI_OK) {
        cJSON_Delete(arr);
        return rc;
    }
    if (ctx->json) {
        cli_print_json(arr);
        cJSON_Delete(arr);
        return CLI_OK;
    }

    fmt_table_t *t = fmt_table_new(8, head);
    if (t == NULL) {
        cJSON_Delete(arr);
        cli_error("out of memory while printing the device list.");
        return CLI_FAILED;
    }
    fmt_table_align_right(t, 3);
    fmt_table_align_right(t, 5);
    int64_t now = mqh_unix_now();
    const cJSON *d;
    cJSON_ArrayForEach(d, arr) {
        char slot[16], prog[16], seen[32];
        const char *state = cli_json_str(d, "state", "-");
        const char *reason = cli_json_str(d, "reason", "none");
        const char *proto = cli_json_str(d, "protocol", "mqota");
        char state_cell[160];
        /* A failed or rolled-back device says why, so the table alone explains it. */
        int n;
        if (strcmp(reason, "none") != 0 && *reason != '\0' &&
            (strcmp(state, "failed") == 0 || strcmp(state, "rolled-back") == 0))
            n = snprintf(state_cell, sizeof state_cell, "%s (%s)", state, reason);
        else
            n = snprintf(state_cell, sizeof state_cell, "%s", state);
        /* A legacy device (docs/LEGACY.md) names its protocol; a native one (mqota) says nothing. */
        if (strcmp(proto, "mqota") != 0 && *proto != '\0' && n >= 0 && (size_t)n < sizeof state_cell)
            snprintf(state_cell + n, sizeof state_cell - (size_t)n, ", legacy %s", proto);
        snprintf(slot, sizeof slot, "%lld", cli_json_int(d, "slot", -1));
        progress_cell(d, prog, sizeof prog);
        fmt_ago(now, cli_json_int(d, "last_seen", 0), seen, sizeof seen);
        const char *row[] = { cli_json_str(d, "id", "-"), cli_json_str(d, "chip", "-"),
                              cli_json_str(d, "version", "-"), slot, state_cell, prog,
                              cli_json_bool(d, "online", false) ? "yes" : "no", seen };
        fmt_table_add_row(t, row);
    }
    if (fmt_table_rows(t) == 0 && filter != NULL)
        printf("No device matches the filter.\n");
    else if (fmt_table_rows(t) == 0)
        printf("No devices yet; a device appears once it connects to the broker.\n");
    else
        fmt_table_print(t, stdout);
    fmt_table_free(t);
    cJSON_Delete(arr);
    return CLI_OK;
}

/* The "health" object of a device (docs/API.md "Health"), already made terminal-safe by
 * http_get(): its last reset and crash, uptime, boot count, heap minimum, RSSI, reconnects. */
static void print_health(const cJSON *d, int64_t now)
{
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(d, "health");
    char buf[64];
    if (!cJSON_IsObject(h)) {
        printf("  health            no report yet\n");
        return;
    }
    const char *crash = cli_json_str(h, "crash", "");
    printf("  health            reported %s\n", fmt_ago(now, cli_json_int(h, "at", 0), buf,
                                                    sizeof buf));
    printf("  last reset        %s%s%s\n", cli_json_str(h, "reset_reason", "-"),
           crash[0] ? ", last crash: " : "", crash);
    printf("  uptime            %lld s\n", cli_json_int(h, "uptime_s", 0));
    printf("  resets recorded   %lld\n",
           cli_json_int(h, "resets", 0));
    long long heap = cli_json_int(h, "min_free_heap", 0);
    if (heap > 0) printf("  min free heap     %s\n", fmt_size((uint64_t)heap, buf, sizeof buf));
    else printf("  min free heap     -\n");
    const cJSON *rssi = cJSON_GetObjectItemCaseSensitive(h, "rssi");
    if (cJSON_IsNumber(rssi)) printf("  rssi              %.0f dBm\n", rssi->valuedouble);
    else printf("  rssi              -\n");
    printf("  mqtt reconnects   %lld\n", cli_json_int(h, "reconnects", 0));
}

int cmd_device_show(cli_ctx_t *ctx, int argc, char **argv)
{
    static const char cmd[] = "device show";
    char *pos[1];
    int npos;
    cJSON *d = NULL;

    int rc = cli_parse(ctx, cmd, usage_show, argc, argv, NULL, 0, pos, &npos, 1);
    if (rc != CLI_OK)
        return rc;
    if (npos != 1)
        return cli_usage_error(cmd, "'%s' needs a device ID from 'mqota device list'", cmd);

    char *eid = http_escape(pos[0]);
    if (eid == NULL) {
        cli_error("out of memory.");
        return CLI_FAILED;
    }
    size_t plen = strlen(eid) + 32;
    char *path = malloc(plen);
    if (path == NULL) {
        free(eid);
        cli_error("out of memory.");
        return CLI_FAILED;
    }
    snprintf(path, plen, "/api/v1/devices/%s", eid);
    rc = http_get(ctx, path, &d);
    free(path);
    free(eid);
    if (rc != CLI_OK) {
        cJSON_Delete(d);
        return rc;
    }
    if (ctx->json) {
        cli_print_json(d);
        cJSON_Delete(d);
        return CLI_OK;
    }

    char buf[64], buf2[64], buf3[64];
    int64_t now = mqh_unix_now();
    long long size = cli_json_int(d, "image_size", 0);
    long long done = cli_json_int(d, "progress", 0);
    printf("device %s\n", cli_json_str(d, "id", pos[0]));
    printf("  online            %s (last seen %s)\n", cli_json_bool(d, "online", false) ? "yes" : "no",
           fmt_ago(now, cli_json_int(d, "last_seen", 0), buf, sizeof buf));
    printf("  protocol          %s\n", cli_json_str(d, "protocol", "mqota"));
    printf("  chip              %s (chip id %lld)\n", cli_json_str(d, "chip", "-"),
           cli_json_int(d, "chip_id", 0));
    printf("  project           %s\n", cli_json_str(d, "project", "-"));
    printf("  version           %s\n", cli_json_str(d, "version", "-"));
    printf("  descriptor        %s\n", cli_json_str(d, "descriptor_version", "-"));
    printf("  idf               %s\n", cli_json_str(d, "idf_version", "-"));
    printf("  slot              %lld\n", cli_json_int(d, "slot", -1));
    printf("  state             %s\n", cli_json_str(d, "state", "-"));
    printf("  reason            %s\n", cli_json_str(d, "reason", "-"));
    printf("  progress          %s of %s (%d%%)\n",
           fmt_size((uint64_t)(done > 0 ? done : 0), buf, sizeof buf),
           fmt_size((uint64_t)(size > 0 ? size : 0), buf2, sizeof buf2),
           fmt_percent((uint64_t)(done > 0 ? done : 0), (uint64_t)(size > 0 ? size : 0)));
    long long running = cli_json_int(d, "running_release", 0);
    long long target = cli_json_int(d, "target_release", 0);
    printf("  running release   %s\n", running > 0 ? (snprintf(buf, sizeof buf, "%lld", running), buf) : "-");
    printf("  target release    %s\n", target > 0 ? (snprintf(buf2, sizeof buf2, "%lld", target), buf2) : "-");
    printf("  boot count        %lld\n", cli_json_int(d, "boot_count", 0));
    printf("  max chunk/window  %lld bytes x %lld\n", cli_json_int(d, "max_chunk", 0),
           cli_json_int(d, "max_window", 0));
    printf("  first seen        %s\n", fmt_date(cli_json_int(d, "first_seen", 0), buf3, sizeof buf3));
    cli_print_groups_tags(d);
    bool key = cli_json_bool(d, "command_key", false);
    bool takes = cli_json_bool(d, "takes_commands", false);
    printf("  commands          %s\n",
           key && takes ? "takes sealed commands"
           : key        ? "has a command key, but its last state did not announce commands"
           : takes      ? "announces commands, but has no command key (mqotad device provision)"
                        : "no");
    long long refused = cli_json_int(d, "command_refusals", 0);
    const cJSON *last = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(d, "recent_refusals"), 0);
    if (refused > 0 && last != NULL)
        printf("  refused commands  %lld, last %s %s (counter %.0f)\n", refused,
               cli_json_str(last, "result", "?"),
               fmt_ago(now, cli_json_int(last, "at", 0), buf, sizeof buf),
               cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(last, "refused_counter")));
    else
        printf("  refused commands  %lld\n", refused);
    print_health(d, now);
    cJSON_Delete(d);
    return CLI_OK;
}

static const char usage_telemetry[] =
    "Usage: mqota device telemetry ID [--name NAME] [--since WHEN] [--until WHEN]\n"
    "                                [--limit N] [--json]\n"
    "\n"
    "Without --name: the device's telemetry series (NAME POINTS LAST-VALUE LAST).\n"
    "With --name: that series' samples, oldest first (TIME VALUE DEVICE-MS), the newest\n"
    "--limit of them (default 1000).\n"
    "\n"
    "Options:\n"
    "  --name NAME     one series: 1 to 15 of a-z, 0-9, '_' and '.'\n"
    "  --since WHEN    samples from WHEN on: a duration before now (90s, 15m, 1h, 7d) or a\n"
    "                  Unix time in milliseconds\n"
    "  --until WHEN    samples up to WHEN, as --since\n"
    "  --limit N       at most N samples (1..100000)\n"
    "  --json          print the server's answer as-is (pretty-printed)\n"
    "\n"
    "Examples:\n"
    "  mqota device telemetry vdev-0001\n"
    "  mqota device telemetry vdev-0001 --name temperature --since 1h\n";

/* A sample's time (Unix ms) as local "YYYY-MM-DD HH:MM:SS.mmm". */
static char *ms_date(long long ms, char *out, size_t cap)
{
    struct tm tm;
    time_t tt = (time_t)(ms / 1000);
    char day[32];
    if (ms <= 0 || localtime_r(&tt, &tm) == NULL ||
        strftime(day, sizeof day, "%Y-%m-%d %H:%M:%S", &tm) == 0)
        snprintf(out, cap, "-");
    else
        snprintf(out, cap, "%s.%03lld", day, ms % 1000);
    return out;
}

/* Append "&key=escaped(value)" to q (cap bytes); -1 when out of memory or too long. */
static int add_query(char *q, size_t cap, const char *key, const char *value)
{
    if (value == NULL)
        return 0;
    char *e = http_escape(value);
    if (e == NULL)
        return -1;
    size_t n = strlen(q);
    int w = snprintf(q + n, cap - n, "%c%s=%s", strchr(q, '?') ? '&' : '?', key, e);
    free(e);
    return w < 0 || (size_t)w >= cap - n ? -1 : 0;
}

int cmd_device_telemetry(cli_ctx_t *ctx, int argc, char **argv)
{
    static const char cmd[] = "device telemetry";
    const char *name = NULL, *since = NULL, *until = NULL, *limit = NULL;
    const cli_opt_t opts[] = { { "--name", &name, NULL }, { "--since", &since, NULL },
                               { "--until", &until, NULL }, { "--limit", &limit, NULL } };
    char *pos[1];
    int npos = 0;
    cJSON *j = NULL;
    int rc = cli_parse(ctx, cmd, usage_telemetry, argc, argv, opts, 4, pos, &npos, 1);
    if (rc != CLI_OK)
        return rc;
    if (npos != 1)
        return cli_usage_error(cmd, "'%s' needs a device ID from 'mqota device list'", cmd);
    char *eid = http_escape(pos[0]);
    char path[1024];
    if (eid == NULL || snprintf(path, sizeof path, "/api/v1/devices/%s/telemetry", eid) >=
                           (int)sizeof path ||
        add_query(path, sizeof path, "name", name) || add_query(path, sizeof path, "since", since) ||
        add_query(path, sizeof path, "until", until) ||
        add_query(path, sizeof path, "limit", limit)) {
        free(eid);
        cli_error("the device ID or an option is too long.");
        return CLI_FAILED;
    }
    free(eid);
    rc = http_get(ctx, path, &j);
    if (rc != CLI_OK) {
        cJSON_Delete(j);
        return rc;
    }
    if (ctx->json) {
        cli_print_json(j);
        cJSON_Delete(j);
        return CLI_OK;
    }
    static const char *const head_names[] = { "NAME", "POINTS", "LAST-VALUE", "LAST" };
    static const char *const head_points[] = { "TIME", "VALUE", "DEVICE-MS" };
    fmt_table_t *t = fmt_table_new(name ? 3 : 4, name ? head_points : head_names);
    if (t == NULL) {
        cJSON_Delete(j);
        cli_error("out of memory while printing telemetry.");
        return CLI_FAILED;
    }
    fmt_table_align_right(t, 1);
    fmt_table_align_right(t, 2);
    const cJSON *e;
    char a[48], b[48], c[48];
    int64_t now = mqh_unix_now();
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(j, name ? "points" : "names")) {
        double v = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(e, name ? "value"
                                                                                 : "last_value"));
        snprintf(b, sizeof b, "%.10g", v);
        if (name) {
            snprintf(c, sizeof c, "%lld", cli_json_int(e, "device_ms", 0));
            const char *row[] = { ms_date(cli_json_int(e, "ts", 0), a, sizeof a), b, c };
            fmt_table_add_row(t, row);
        } else {
            snprintf(a, sizeof a, "%lld", cli_json_int(e, "points", 0));
            fmt_ago(now, cli_json_int(e, "last_ts", 0) / 1000, c, sizeof c);
            const char *row[] = { cli_json_str(e, "name", "-"), a, b, c };
            fmt_table_add_row(t, row);
        }
    }
    if (fmt_table_rows(t) > 0)
        fmt_table_print(t, stdout);
    else if (name)
        printf("No samples of this series in that time range.\n");
    else
        printf("No telemetry from this device yet.\n");
    long long dropped = cli_json_int(j, "dropped", 0);
    if (!name && dropped > 0)
        printf("%lld samples dropped by mqotad's limits (rate %lld per second, %lld points per "
               "series).\n", dropped, cli_json_int(j, "rate", 0), cli_json_int(j, "points_max", 0));
    fmt_table_free(t);
    cJSON_Delete(j);
    return CLI_OK;
}
