/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mqota rollout watch: poll one rollout every ROLLOUT_POLL_MS and print what changed, a line
 * each: every new event of its history and every change of a wave's counts, until the rollout
 * is finished (exit 0), paused or aborted (exit 1), or the timeout runs out (exit 3). Every
 * string from mqotad goes through fmt_safe() (text) or fmt_json_safe() (--json lines), so a
 * device id or filter cannot drive the terminal. Lines, not a redrawn screen: the same output
 * fits a terminal, a log and a pipe.
 */
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
#include "mqota_host.h"

/* How often the rollout is read, milliseconds. */
#define ROLLOUT_POLL_MS 500u
/* --timeout when none is given, seconds (a watch always ends). */
#define WATCH_TIMEOUT_DEFAULT_S 3600.0
/* Longest --timeout, seconds (30 days, the longest rollout deadline). */
#define WATCH_TIMEOUT_MAX_S 2592000.0
/* Waves a rollout has at most (the canary and 20 waves, server/rollout_plan.h). */
#define WAVES_MAX 21

static const char usage_watch[] =
    "Usage: mqota rollout watch ID [--timeout SECONDS] [--json]\n"
    "\n"
    "Follow a rollout: print each new decision of its history and each change of a wave's\n"
    "counts, one line each, until it is finished (exit 0), paused or aborted (exit 1), or\n"
    "the timeout runs out (exit 3; default 3600 s). With --json each line is a JSON object:\n"
    "{\"type\": \"event\" | \"wave\" | \"end\", ...}.\n"
    "\n"
    "Example:\n"
    "  mqota rollout watch 1 --timeout 900\n";

typedef struct {
    cli_ctx_t *ctx;
    long long id;
    int events_seen;             /* events of the history printed so far */
    char waves[WAVES_MAX][112];   /* each wave's counts as last printed */
} rwatch_t;

static void sleep_ms(uint64_t ms)
{
    struct timespec ts = { (time_t)(ms / 1000u), (long)(ms % 1000u) * 1000000L };
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* Print v as one line of JSON, terminal-safe, and flush (a pipe reads it at once). */
static void json_line(cJSON *v)
{
    char *raw = cJSON_PrintUnformatted(v);
    char *safe = raw != NULL ? fmt_json_safe(raw) : NULL;
    if (safe != NULL)
        printf("%s\n", safe);
    free(raw);
    free(safe);
    fflush(stdout);
}

/* Print text (from mqotad) after a prefix, terminal-safe, as one line. */
static void text_line(const char *prefix, const char *text)
{
    char *safe = fmt_safe(text, false);
    printf("%s%s\n", prefix, safe != NULL ? safe : "?");
    free(safe);
    fflush(stdout);
}

/* The history's events not printed yet. */
static void print_events(rwatch_t *w, const cJSON *r)
{
    const cJSON *events = cJSON_GetObjectItemCaseSensitive(r, "events");
    int n = cJSON_GetArraySize(events);
    for (int i = w->events_seen; i < n; i++) {
        const cJSON *e = cJSON_GetArrayItem(events, i);
        if (w->ctx->json) {
            cJSON *o = cJSON_Duplicate(e, true);
            if (o == NULL)
                continue;
            cJSON_AddStringToObject(o, "type", "event");
            json_line(o);
            cJSON_Delete(o);
        } else {
            char date[32], prefix[48];
            snprintf(prefix, sizeof prefix, "%s  ",
                     fmt_date(cli_json_int(e, "at", 0), date, sizeof date));
            text_line(prefix, cli_json_str(e, "message", "?"));
        }
    }
    w->events_seen = n;
}

/* Each started wave whose counts changed since last printed. */
static void print_waves(rwatch_t *w, const cJSON *r)
{
    const cJSON *wave;
    int i = 0;
    cJSON_ArrayForEach(wave, cJSON_GetObjectItemCaseSensitive(r, "waves")) {
        if (i >= WAVES_MAX)
            break;
        const char *state = cli_json_str(wave, "state", "?");
        long long size = cli_json_int(wave, "size", 0), ok = cli_json_int(wave, "confirmed", 0);
        long long failed = cli_json_int(wave, "failed", 0) + cli_json_int(wave, "superseded", 0);
        long long active = cli_json_int(wave, "active", 0) + cli_json_int(wave, "pending", 0);
        long long ready = cli_json_int(wave, "ready", 0); /* holding it for the window */
        long long cancelled = cli_json_int(wave, "cancelled", 0); /* offers withdrawn */
        char now[112];
        snprintf(now, sizeof now, "%s %lld %lld %lld %lld %lld %lld", state, size, ok, failed,
                 active, ready, cancelled);
        bool started = strcmp(state, "waiting") != 0;
        if (started && strcmp(now, w->waves[i]) != 0) {
            if (w->ctx->json) {
                cJSON *o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "type", "wave");
                cJSON_AddNumberToObject(o, "index", (double)i);
                cJSON_AddStringToObject(o, "name", cli_json_str(wave, "name", "?"));
                cJSON_AddStringToObject(o, "state", state);
                cJSON_AddNumberToObject(o, "size", (double)size);
                cJSON_AddNumberToObject(o, "confirmed", (double)ok);
                cJSON_AddNumberToObject(o, "failed", (double)failed);
                cJSON_AddNumberToObject(o, "active", (double)active);
                cJSON_AddNumberToObject(o, "ready", (double)ready);
                cJSON_AddNumberToObject(o, "cancelled", (double)cancelled);
                cJSON_AddNumberToObject(o, "in_flight", (double)cli_json_int(r, "in_flight", 0));
                json_line(o);
                cJSON_Delete(o);
            } else {
                char line[200];
                int n = snprintf(line, sizeof line, ": %s, %lld of %lld confirmed, %lld failed, "
                                 "%lld active", state, ok, size, failed, active);
                if (ready > 0 && n > 0 && (size_t)n < sizeof line)
                    n += snprintf(line + n, sizeof line - (size_t)n, ", %lld ready", ready);
                if (cancelled > 0 && n > 0 && (size_t)n < sizeof line)
                    snprintf(line + n, sizeof line - (size_t)n, ", %lld cancelled", cancelled);
                char *name = fmt_safe(cli_json_str(wave, "name", "?"), false);
                printf("  %s", name != NULL ? name : "?");
                free(name);
                text_line("", line);
            }
            snprintf(w->waves[i], sizeof w->waves[i], "%s", now);
        }
        i++;
    }
}

/* The last line: the rollout's end state and the exit code it means. */
static int report_end(rwatch_t *w, const cJSON *r, const char *state)
{
    int rc = strcmp(state, "finished") == 0 ? CLI_OK : CLI_FAILED;
    if (w->ctx->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "type", "end");
        cJSON_AddStringToObject(o, "state", state);
        cJSON_AddNumberToObject(o, "exit", rc);
        json_line(o);
        cJSON_Delete(o);
    } else if (rc == CLI_OK) {
        printf("rollout %lld finished\n", w->id);
    }
    if (rc != CLI_OK) {
        const cJSON *events = cJSON_GetObjectItemCaseSensitive(r, "events");
        const cJSON *last = cJSON_GetArrayItem(events, cJSON_GetArraySize(events) - 1);
        char *why = fmt_safe(cli_json_str(last, "message", "?"), false);
        cli_error("rollout %lld is %s (%s); see 'mqota rollout show %lld'.", w->id, state,
                  why != NULL ? why : "?", w->id);
        free(why);
    }
    return rc;
}

int cmd_rollout_watch(cli_ctx_t *ctx, int argc, char **argv)
{
    static const char cmd[] = "rollout watch";
    const char *timeout_text = NULL;
    const cli_opt_t opts[] = { { "--timeout", &timeout_text, NULL } };
    char *pos[1], path[64];
    int npos = 0;
    long long id;
    double timeout = WATCH_TIMEOUT_DEFAULT_S;
    int rc = cli_parse(ctx, cmd, usage_watch, argc, argv, opts, 1, pos, &npos, 1);
    if (rc != CLI_OK)
        return rc;
    if (npos != 1)
        return cli_usage_error(cmd, "'rollout watch' needs a rollout ID from 'mqota rollout list'");
    if ((rc = cli_parse_id(cmd, "rollout id", pos[0], &id)) != CLI_OK)
        return rc;
    if (timeout_text != NULL) {
        char *end = NULL;
        errno = 0;
        timeout = strtod(timeout_text, &end);
        if (errno != 0 || end == timeout_text || *end != '\0' || !isfinite(timeout) ||
            timeout <= 0 || timeout > WATCH_TIMEOUT_MAX_S)
            return cli_usage_error(cmd, "--timeout '%s' is not a number of seconds from 1 to "
                                   "%.0f", timeout_text, WATCH_TIMEOUT_MAX_S);
    }
    rwatch_t w = { .ctx = ctx, .id = id };
    uint64_t start = mqh_now_ms();
    snprintf(path, sizeof path, "/api/v1/rollouts/%lld", id);
    for (;;) {
        uint64_t poll_at = mqh_now_ms();
        cJSON *r = NULL;
        rc = http_get(ctx, path, &r);
        if (rc != CLI_OK) {
            cJSON_Delete(r);
            return rc;
        }
        print_events(&w, r);
        print_waves(&w, r);
        const char *state = cli_json_str(r, "state", "?");
        if (strcmp(state, "finished") == 0 || strcmp(state, "paused") == 0 ||
            strcmp(state, "aborted") == 0) {
            rc = report_end(&w, r, state);
            cJSON_Delete(r);
            return rc;
        }
        char *st = fmt_safe(state, false); /* state lives in r */
        cJSON_Delete(r);
        if ((double)(mqh_now_ms() - start) >= timeout * 1000.0) {
            cli_error("rollout %lld is still %s after the %g s timeout; it goes on in mqotad: "
                      "run 'mqota rollout watch %lld' to follow it again.", id,
                      st != NULL ? st : "?", timeout, id);
            free(st);
            return CLI_TIMEOUT;
        }
        free(st);
        uint64_t spent = mqh_now_ms() - poll_at;
        if (spent < ROLLOUT_POLL_MS)
            sleep_ms(ROLLOUT_POLL_MS - spent);
    }
}
