/* SPDX-License-Identifier: Apache-2.0 */
/* mqota rollout create / list / show / pause / resume / abort / watch and mqota device
 * reset-failures (docs/CLI.md "Rollouts",
 * docs/ROLLOUTS.md). Every string from mqotad is printed through the table or as http.c made
 * it terminal-safe; the plan is judged by mqotad, whose sentence is printed as is. */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "format.h"
#include "http.h"

static const char usage_create[] =
    "Usage: mqota rollout create RELEASE_ID --filter EXPR --canary SIZE --waves SIZE,...\n"
    "                            [--success PERCENT] [--error PERCENT] [--deadline SECONDS]\n"
    "                            [--on-error pause|abort] [--approval] [--health N/SECONDS]\n"
    "                            [--max-transfers N] [--jitter SECONDS] [--start-at TIME]\n"
    "                            [--from-versions V,...] [--failure-budget N] [--continuous]\n"
    "                            [--window START-END]\n"
    "\n"
    "Roll a release out in stages to the devices of its chip the filter selects now, in\n"
    "device id order: a canary, then each wave once the one before succeeded (docs/ROLLOUTS.md).\n"
    "A SIZE is a device count (3) or a percent of the selected devices (10%); the last wave\n"
    "takes everyone left when larger (100%).\n"
    "\n"
    "Options:\n"
    "  --filter EXPR        the devices (as 'mqota device list --filter EXPR' shows them)\n"
    "  --canary SIZE        the first stage\n"
    "  --waves SIZE,...     the waves after the canary, comma-separated (at most 20)\n"
    "  --success PERCENT    share of a wave that must confirm the release (default 100)\n"
    "  --error PERCENT      share of a wave that may fail before the rollout stops (default 0)\n"
    "  --deadline SECONDS   after a wave's start, a device not finished counts as failed\n"
    "                       (default 3600)\n"
    "  --on-error ACTION    pause (default) or abort the rollout when a wave fails\n"
    "  --approval           each wave after the canary waits for 'mqota rollout approve'\n"
    "  --max-transfers N    at most N devices transferring the release at once across the\n"
    "                       rollout (from the offer until confirmed, failed or past the\n"
    "                       deadline); the others wait their turn (default: no cap)\n"
    "  --jitter SECONDS     spread each wave's offers over this many seconds (default 0)\n"
    "  --start-at TIME      start the canary at TIME: UTC as 2026-12-24T02:00:00Z, or Unix\n"
    "                       seconds (the rollout is scheduled until then)\n"
    "  --from-versions V,.. take only devices running one of these versions\n"
    "  --failure-budget N   skip devices that failed this release N times, until\n"
    "                       'mqota device reset-failures ID' (default: no budget)\n"
    "  --continuous         devices that match the filter later (new, provisioned, back\n"
    "                       online) join the current wave; the rollout never finishes by itself\n"
    "  --health N/SECONDS   health gate: a device that confirmed, then resets by panic or\n"
    "                       watchdog more than N times within SECONDS, counts as failed; a\n"
    "                       confirmed device counts as confirmed only after SECONDS\n"
    "  --window START-END   maintenance window, UTC, daily (22:00-04:00 crosses midnight):\n"
    "                       devices download at once and hold the release; they reboot into\n"
    "                       it only while the window is open\n"
    "  --json               print the rollout as JSON\n"
    "\n"
    "Example:\n"
    "  mqota rollout create 2 --filter group=lab --canary 1 --waves 50%,100% --deadline 600\n";

static const char usage_list[] =
    "Usage: mqota rollout list [--json]\n"
    "\n"
    "List rollouts, newest first: ID RELEASE STATE WAVE DEVICES CONFIRMED FAILED FILTER.\n"
    "\n"
    "Example:\n"
    "  mqota rollout list\n";

static const char usage_show[] =
    "Usage: mqota rollout show ID [--json]\n"
    "\n"
    "Show a rollout: its plan, each wave with its deployment and counts, and the history of\n"
    "every decision with its reason.\n"
    "\n"
    "Example:\n"
    "  mqota rollout show 1\n";

static const char usage_pause[] =
    "Usage: mqota rollout pause ID [--json]\n"
    "\n"
    "Stop a running rollout from starting waves (the running wave's deployment goes on).\n"
    "\n"
    "Example:\n"
    "  mqota rollout pause 1\n";

static const char usage_resume[] =
    "Usage: mqota rollout resume ID [--json]\n"
    "\n"
    "Continue a paused rollout. If its current wave failed, resuming accepts that wave and\n"
    "starts the next one at once.\n"
    "\n"
    "Example:\n"
    "  mqota rollout resume 1\n";

static const char usage_approve[] =
    "Usage: mqota rollout approve ID [--json]\n"
    "\n"
    "Start the next wave of a rollout created with --approval that awaits approval.\n"
    "\n"
    "Example:\n"
    "  mqota rollout approve 1\n";

static const char usage_retry[] =
    "Usage: mqota rollout retry ID [--json]\n"
    "\n"
    "Offer the release again to the devices of a paused rollout's failed wave that did not\n"
    "confirm (in a new deployment); the wave runs again, its deadline from now, and is judged\n"
    "on each device's latest attempt.\n"
    "\n"
    "Example:\n"
    "  mqota rollout retry 1\n";

static const char usage_abort[] =
    "Usage: mqota rollout abort ID [--json]\n"
    "\n"
    "End a running, paused or awaiting-approval rollout for good: no further wave starts.\n"
    "\n"
    "Example:\n"
    "  mqota rollout abort 1\n";

/* Add member name: text as a JSON number when it is 1 to 15 decimal digits, else as a
 * string (mqotad judges it and says what is wrong). */
static void add_value(cJSON *obj, const char *name, const char *text)
{
    size_t n = strspn(text, "0123456789");
    if (n > 0 && n <= 15 && text[n] == '\0')
        cJSON_AddRawToObject(obj, name, text);
    else
        cJSON_AddStringToObject(obj, name, text);
}

/* The pacing, schedule and eligibility options into the request body (mqotad judges them). */
static int add_pacing(cJSON *body, const char *max_transfers, const char *jitter,
                      const char *start_at, const char *from, const char *budget,
                      bool continuous)
{
    if (max_transfers != NULL)
        add_value(body, "max_transfers", max_transfers);
    if (jitter != NULL)
        add_value(body, "jitter_s", jitter);
    if (start_at != NULL)
        add_value(body, "start_at", start_at);
    if (budget != NULL)
        add_value(body, "failure_budget", budget);
    if (continuous)
        cJSON_AddTrueToObject(body, "continuous");
    if (from != NULL) {
        char *list = strdup(from), *save = NULL;
        if (list == NULL) {
            cli_error("out of memory.");
            return CLI_FAILED;
        }
        cJSON *arr = cJSON_AddArrayToObject(body, "from_versions");
        for (char *tok = strtok_r(list, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save))
            cJSON_AddItemToArray(arr, cJSON_CreateString(tok));
        free(list);
    }
    return CLI_OK;
}

/* A rollout's waves as a table: WAVE DEVICES STATE DEPLOYMENT CONFIRMED FAILED ACTIVE READY
 * CANCELLED (READY: holding the release for the maintenance window; CANCELLED: offers
 * withdrawn by a cancel or an abort). */
static void print_waves(const cJSON *r)
{
    static const char *const head[] = { "WAVE", "DEVICES", "STATE", "DEPLOYMENT", "CONFIRMED",
                                        "FAILED", "ACTIVE", "READY", "CANCELLED" };
    fmt_table_t *t = fmt_table_new(9, head);
    if (t == NULL) {
        cli_error("out of memory while printing the waves.");
        return;
    }
    for (size_t c = 1; c < 9; c++)
        if (c != 2)
            fmt_table_align_right(t, c);
    const cJSON *w;
    cJSON_ArrayForEach(w, cJSON_GetObjectItemCaseSensitive(r, "waves")) {
        char size[24], dep[24], ok[24], failed[24], active[24], ready[24], cancelled[24];
        snprintf(size, sizeof size, "%lld", cli_json_int(w, "size", 0));
        long long d = cli_json_int(w, "deployment", 0);
        if (d > 0)
            snprintf(dep, sizeof dep, "%lld", d);
        else
            snprintf(dep, sizeof dep, "-");
        snprintf(ok, sizeof ok, "%lld", cli_json_int(w, "confirmed", 0));
        snprintf(failed, sizeof failed, "%lld",
                 cli_json_int(w, "failed", 0) + cli_json_int(w, "superseded", 0));
        snprintf(active, sizeof active, "%lld",
                 cli_json_int(w, "active", 0) + cli_json_int(w, "pending", 0));
        snprintf(ready, sizeof ready, "%lld", cli_json_int(w, "ready", 0));
        snprintf(cancelled, sizeof cancelled, "%lld", cli_json_int(w, "cancelled", 0));
        const char *row[] = { cli_json_str(w, "name", "?"), size, cli_json_str(w, "state", "?"),
                              dep, ok, failed, active, ready, cancelled };
        fmt_table_add_row(t, row);
    }
    fmt_table_print(t, stdout);
    fmt_table_free(t);
}

/* The plan's pacing, schedule and eligibility, one line each when set. */
static void print_pacing(const cJSON *r, const cJSON *plan)
{
    long long cap = cli_json_int(plan, "max_transfers", 0), jitter = cli_json_int(plan, "jitter_s", 0);
    long long start = cli_json_int(plan, "start_at", 0), budget = cli_json_int(plan, "failure_budget", 0);
    char date[32];
    if (cap > 0 || jitter > 0)
        printf("  pacing: %lld transferring now (at most %lld so far), cap %s%lld, jitter %lld s\n",
               cli_json_int(r, "in_flight", 0), cli_json_int(r, "peak_in_flight", 0),
               cap > 0 ? "" : "none ", cap, jitter);
    if (start > 0)
        printf("  start at: %s\n", fmt_date(start, date, sizeof date));
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(plan, "from_versions"), *it;
    if (cJSON_GetArraySize(v) > 0) {
        printf("  from versions:");
        cJSON_ArrayForEach(it, v) {
            char *safe = fmt_safe(cJSON_IsString(it) ? it->valuestring : "?", false);
            printf(" %s", safe != NULL ? safe : "?");
            free(safe);
        }
        printf("\n");
    }
    if (budget > 0 || cli_json_bool(plan, "continuous", false))
        printf("  failure budget %lld%s\n", budget,
               cli_json_bool(plan, "continuous", false) ? ", continuous" : "");
}

/* "rollout N: release R to D devices (filter F): STATE", the waves and the history. */
static void print_rollout(const cJSON *r)
{
    long long n = cli_json_int(r, "devices", 0);
    const cJSON *plan = cJSON_GetObjectItemCaseSensitive(r, "plan");
    printf("rollout %lld: release %lld to %lld device%s (filter %s): %s\n",
           cli_json_int(r, "id", 0), cli_json_int(r, "release", 0), n, n == 1 ? "" : "s",
           cli_json_str(r, "filter", "?"), cli_json_str(r, "state", "?"));
    const cJSON *win = cJSON_GetObjectItemCaseSensitive(plan, "window");
    char wtext[64] = "";
    if (cJSON_IsObject(win))
        snprintf(wtext, sizeof wtext, ", window %.5s-%.5s UTC (%s)",
                 cli_json_str(win, "start", "?"), cli_json_str(win, "end", "?"),
                 cli_json_bool(win, "open", false) ? "open" : "closed");
    printf("  plan: success %lld %%, error %lld %%, deadline %lld s, on error %s%s%s\n",
           cli_json_int(plan, "success_percent", 0), cli_json_int(plan, "error_percent", 0),
           cli_json_int(plan, "deadline_s", 0), cli_json_str(plan, "on_error", "?"),
           cli_json_bool(plan, "approval", false) ? ", approval before each wave" : "",
           wtext);
    print_pacing(r, plan);
    const cJSON *health = cJSON_GetObjectItemCaseSensitive(plan, "health");
    if (cJSON_IsObject(health))
        printf("  health gate: more than %lld panic or watchdog resets within %lld s of "
               "confirming fail a device\n", cli_json_int(health, "crashes", 0),
               cli_json_int(health, "within_s", 0));
    print_waves(r);
    const cJSON *events = cJSON_GetObjectItemCaseSensitive(r, "events"), *e;
    if (cJSON_GetArraySize(events) > 0)
        printf("history:\n");
    cJSON_ArrayForEach(e, events) {
        char date[32];
        printf("  %s  %s\n", fmt_date(cli_json_int(e, "at", 0), date, sizeof date),
               cli_json_str(e, "message", "?"));
    }
}

int cmd_rollout_create(cli_ctx_t *ctx, int argc, char **argv)
{
    static const char cmd[] = "rollout create";
    const char *filter = NULL, *canary = NULL, *waves = NULL, *success = NULL, *error = NULL;
    const char *deadline = NULL, *on_error = NULL, *health = NULL;
    const char *max_transfers = NULL, *jitter = NULL, *start_at = NULL, *from = NULL;
    const char *budget = NULL, *window = NULL;
    bool approval = false, continuous = false;
    const cli_opt_t opts[] = { { "--approval", NULL, &approval }, { "--filter", &filter, NULL }, { "--canary", &canary, NULL },
                               { "--waves", &waves, NULL }, { "--success", &success, NULL },
                               { "--error", &error, NULL }, { "--deadline", &deadline, NULL },
                               { "--on-error", &on_error, NULL },
                               { "--max-transfers", &max_transfers, NULL },
                               { "--jitter", &jitter, NULL }, { "--start-at", &start_at, NULL },
                               { "--from-versions", &from, NULL },
                               { "--failure-budget", &budget, NULL },
                               { "--continuous", NULL, &continuous },
                               { "--health", &health, NULL }, { "--window", &window, NULL } };
    char *pos[1], *list = NULL, *text = NULL;
    int npos = 0;
    long long release;
    cJSON *body = NULL, *resp = NULL;
    int rc = cli_parse(ctx, cmd, usage_create, argc, argv, opts, sizeof opts / sizeof opts[0],
                       pos, &npos, 1);
    if (rc != CLI_OK)
        return rc;
    if (npos != 1)
        return cli_usage_error(cmd, "'rollout create' needs a RELEASE_ID from "
                               "'mqota release list'");
    if ((rc = cli_parse_id(cmd, "release id", pos[0], &release)) != CLI_OK)
        return rc;
    if (filter == NULL || canary == NULL || waves == NULL)
        return cli_usage_error(cmd, "give --filter EXPR, --canary SIZE and --waves SIZE,...");
    const char *dash = window != NULL ? strchr(window, '-') : NULL;
    if (window != NULL && (dash == NULL || strchr(dash + 1, '-') != NULL))
        return cli_usage_error(cmd, "--window '%s' is not START-END in UTC, such as 22:00-04:00",
                               window);
    const char *slash = health != NULL ? strchr(health, '/') : NULL;
    if (health != NULL && (slash == NULL || slash == health || slash[1] == '\0' ||
                           slash - health > 15))
        return cli_usage_error(cmd, "--health takes N/SECONDS, e.g. --health 2/600: more than "
                               "2 panic or watchdog resets within 600 s of confirming");
    body = cJSON_CreateObject();
    char release_text[24];
    snprintf(release_text, sizeof release_text, "%lld", release);
    cJSON_AddRawToObject(body, "release", release_text);
    cJSON_AddStringToObject(body, "filter", filter);
    add_value(body, "canary", canary);
    cJSON *arr = cJSON_AddArrayToObject(body, "waves");
    list = strdup(waves);
    if (list == NULL) {
        cli_error("out of memory.");
        rc = CLI_FAILED;
        goto out;
    }
    char *save = NULL;
    for (char *tok = strtok_r(list, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        cJSON *tmp = cJSON_CreateObject();
        add_value(tmp, "v", tok);
        cJSON_AddItemToArray(arr, cJSON_DetachItemFromObject(tmp, "v"));
        cJSON_Delete(tmp);
    }
    if (success != NULL)
        add_value(body, "success_percent", success);
    if (error != NULL)
        add_value(body, "error_percent", error);
    if (deadline != NULL)
        add_value(body, "deadline_s", deadline);
    if (on_error != NULL)
        cJSON_AddStringToObject(body, "on_error", on_error);
    if (approval)
        cJSON_AddTrueToObject(body, "approval");
    if (add_pacing(body, max_transfers, jitter, start_at, from, budget, continuous) != CLI_OK) {
        rc = CLI_FAILED;
        goto out;
    }
    if (health != NULL) { /* the server judges the numbers, with its sentences */
        char crashes[16];
        cJSON *h = cJSON_AddObjectToObject(body, "health");
        snprintf(crashes, sizeof crashes, "%.*s", (int)(slash - health), health);
        add_value(h, "crashes", crashes);
        add_value(h, "within_s", slash + 1);
    }
    if (window != NULL) {
        char start[16];
        snprintf(start, sizeof start, "%.*s", (int)(dash - window), window);
        cJSON *w = cJSON_AddObjectToObject(body, "window");
        cJSON_AddStringToObject(w, "start", start);
        cJSON_AddStringToObject(w, "end", dash + 1);
    }
    text = cJSON_PrintUnformatted(body);
    if (text == NULL) {
        cli_error("out of memory.");
        rc = CLI_FAILED;
        goto out;
    }
    rc = http_json(ctx, "POST", "/api/v1/rollouts", "application/json", text, strlen(text),
                   &resp, NULL);
    if (rc != CLI_OK)
        goto out;
    if (ctx->json)
        cli_print_json(resp);
    else
        print_rollout(resp);
out:
    cJSON_Delete(resp);
    cJSON_Delete(body);
    free(text);
    free(list);
    return rc;
}

int cmd_rollout_list(cli_ctx_t *ctx, int argc, char **argv)
{
    static const char cmd[] = "rollout list";
    static const char *const head[] = { "ID", "RELEASE", "STATE", "WAVE", "DEVICES",
                                        "CONFIRMED", "FAILED", "FILTER" };
    cJSON *arr = NULL;
    int rc = cli_list_fetch(ctx, cmd, usage_list, argc, argv, "/api/v1/rollouts", &arr);
    if (rc != CLI_OK || arr == NULL)
        return rc;
    fmt_table_t *t = fmt_table_new(8, head);
    if (t == NULL) {
        cJSON_Delete(arr);
        cli_error("out of memory while printing the rollout list.");
        return CLI_FAILED;
    }
    for (size_t c = 0; c < 7; c++)
        if (c != 2 && c != 3)
            fmt_table_align_right(t, c);
    const cJSON *r;
    cJSON_ArrayForEach(r, arr) {
        char id[24], rel[24], wave[48], devs[24], ok[24], failed[24];
        long long confirmed = 0, nfailed = 0;
        const cJSON *waves = cJSON_GetObjectItemCaseSensitive(r, "waves"), *w;
        cJSON_ArrayForEach(w, waves) {
            confirmed += cli_json_int(w, "confirmed", 0);
            nfailed += cli_json_int(w, "failed", 0) + cli_json_int(w, "superseded", 0);
        }
        long long cur = cli_json_int(r, "current_wave", 0);
        snprintf(id, sizeof id, "%lld", cli_json_int(r, "id", 0));
        snprintf(rel, sizeof rel, "%lld", cli_json_int(r, "release", 0));
        snprintf(wave, sizeof wave, "%s (%lld/%d)",
                 cli_json_str(cJSON_GetArrayItem(waves, (int)cur), "name", "?"), cur + 1,
                 cJSON_GetArraySize(waves));
        snprintf(devs, sizeof devs, "%lld", cli_json_int(r, "devices", 0));
        snprintf(ok, sizeof ok, "%lld", confirmed);
        snprintf(failed, sizeof failed, "%lld", nfailed);
        const char *row[] = { id, rel, cli_json_str(r, "state", "?"), wave, devs, ok, failed,
                              cli_json_str(r, "filter", "?") };
        fmt_table_add_row(t, row);
    }
    if (fmt_table_rows(t) == 0)
        printf("No rollouts yet; start one with 'mqota rollout create'.\n");
    else
        fmt_table_print(t, stdout);
    fmt_table_free(t);
    cJSON_Delete(arr);
    return CLI_OK;
}

/* GET /api/v1/rollouts/ID, or POST /api/v1/rollouts/ID/ACTION, and print the rollout. */
static int rollout_item(cli_ctx_t *ctx, const char *cmd, const char *usage, const char *action,
                        int argc, char **argv)
{
    char *pos[1], path[96];
    int npos = 0;
    long long id;
    cJSON *resp = NULL;
    int rc = cli_parse(ctx, cmd, usage, argc, argv, NULL, 0, pos, &npos, 1);
    if (rc != CLI_OK)
        return rc;
    if (npos != 1)
        return cli_usage_error(cmd, "'%s' needs a rollout ID from 'mqota rollout list'", cmd);
    if ((rc = cli_parse_id(cmd, "rollout id", pos[0], &id)) != CLI_OK)
        return rc;
    snprintf(path, sizeof path, "/api/v1/rollouts/%lld%s%s", id, action ? "/" : "",
             action ? action : "");
    rc = http_json(ctx, action ? "POST" : "GET", path, NULL, NULL, 0, &resp, NULL);
    if (rc == CLI_OK) {
        if (ctx->json)
            cli_print_json(resp);
        else
            print_rollout(resp);
    }
    cJSON_Delete(resp);
    return rc;
}

int cmd_rollout_show(cli_ctx_t *ctx, int argc, char **argv)
{
    return rollout_item(ctx, "rollout show", usage_show, NULL, argc, argv);
}

int cmd_rollout_pause(cli_ctx_t *ctx, int argc, char **argv)
{
    return rollout_item(ctx, "rollout pause", usage_pause, "pause", argc, argv);
}

int cmd_rollout_resume(cli_ctx_t *ctx, int argc, char **argv)
{
    return rollout_item(ctx, "rollout resume", usage_resume, "resume", argc, argv);
}

int cmd_rollout_approve(cli_ctx_t *ctx, int argc, char **argv)
{
    return rollout_item(ctx, "rollout approve", usage_approve, "approve", argc, argv);
}

int cmd_rollout_retry(cli_ctx_t *ctx, int argc, char **argv)
{
    return rollout_item(ctx, "rollout retry", usage_retry, "retry", argc, argv);
}

int cmd_rollout_abort(cli_ctx_t *ctx, int argc, char **argv)
{
    return rollout_item(ctx, "rollout abort", usage_abort, "abort", argc, argv);
}

static const char usage_reset_failures[] =
    "Usage: mqota device reset-failures ID [--json]\n"
    "\n"
    "Forget the device's failed updates so far: rollouts with a \"failure_budget\" offer it\n"
    "their release again (docs/ROLLOUTS.md \"Eligibility\").\n"
    "\n"
    "Example:\n"
    "  mqota device reset-failures vdev-0001\n";

int cmd_device_reset_failures(cli_ctx_t *ctx, int argc, char **argv)
{
    static const char cmd[] = "device reset-failures";
    char *pos[1], path[512];
    int npos = 0;
    cJSON *resp = NULL;
    int rc = cli_parse(ctx, cmd, usage_reset_failures, argc, argv, NULL, 0, pos, &npos, 1);
    if (rc != CLI_OK)
        return rc;
    if (npos != 1)
        return cli_usage_error(cmd, "'device reset-failures' needs a device ID from "
                               "'mqota device list'");
    char *esc = http_escape(pos[0]);
    if (esc == NULL || strlen(esc) > 400) {
        free(esc);
        return cli_usage_error(cmd, "'%s' is not a device id (see 'mqota device list')", pos[0]);
    }
    snprintf(path, sizeof path, "/api/v1/devices/%s/reset-failures", esc);
    free(esc);
    rc = http_json(ctx, "POST", path, NULL, NULL, 0, &resp, NULL);
    if (rc == CLI_OK) {
        if (ctx->json)
            cli_print_json(resp);
        else
            printf("device %s: failures reset; rollouts with a failure budget may offer it "
                   "their release again\n", cli_json_str(resp, "device", "?"));
    }
    cJSON_Delete(resp);
    return rc;
}
