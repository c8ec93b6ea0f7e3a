/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http_rollout.c - the rollout routes of docs/API.md ("Rollouts"): parse the request, call
 * rollout.c, render JSON.
 *
 *   GET  /api/v1/rollouts                    every rollout with its waves' counts
 *   POST /api/v1/rollouts                    create one (rollout_plan__parse() judges the body)
 *   GET  /api/v1/rollouts/{id}               one rollout: waves with counts and devices, history
 *   POST /api/v1/rollouts/{id}/pause|resume|abort|approve|retry   the controls (no body)
 *   POST /api/v1/devices/{id}/reset-failures  forget a device's failures (failure budgets)
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "http_api.h"
#include "rollout.h"

#define API "/api/v1"

typedef struct {
    mqotad_t *d;
    cJSON *array;
    bool details;
    int failed;
} wave_ctx_t;

static int add_device_id(void *ctx, const char *id)
{
    cJSON_AddItemToArray(ctx, cJSON_CreateString(id));
    return 0;
}

static int add_deployment_id(void *ctx, int64_t id)
{
    cJSON_AddItemToArray(ctx, cJSON_CreateNumber((double)id));
    return 0;
}

/* A wave as JSON: its state and deployments (the latest first named), its counts (each device
 * by its latest target), with details its devices. */
static int add_wave(void *ctx, const db_rollout_wave_t *w)
{
    wave_ctx_t *c = ctx;
    db_counts_t n = {0};
    char name[24];
    uint32_t watching = 0;
    if (w->deployment_id && db__rollout_wave_counts(c->d->db, w->rollout_id, w->idx, &n) != 0) {
        c->failed = 1;
        return 1;
    }
    /* a running or failed wave as its health gate judges it (a succeeded one as it was) */
    if (w->deployment_id && w->state != WAVE_SUCCEEDED &&
        rollout__health_counts(c->d, w->rollout_id, w->idx, &n, &watching) != 0) {
        c->failed = 1;
        return 1;
    }
    if (w->idx == 0) snprintf(name, sizeof(name), "canary");
    else snprintf(name, sizeof(name), "wave %d", w->idx);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddItemToArray(c->array, j);
    cJSON_AddNumberToObject(j, "index", w->idx);
    cJSON_AddStringToObject(j, "name", name);
    cJSON_AddNumberToObject(j, "size", w->size);
    cJSON_AddStringToObject(j, "state", state__wave_name(w->state));
    if (w->deployment_id) cJSON_AddNumberToObject(j, "deployment", (double)w->deployment_id);
    else cJSON_AddNullToObject(j, "deployment");
    cJSON *deps = cJSON_AddArrayToObject(j, "deployments");
    if (db__rollout_wave_deployments(c->d->db, w->rollout_id, w->idx, add_deployment_id, deps)) {
        c->failed = 1;
        return 1;
    }
    cJSON_AddNumberToObject(j, "started_at", (double)w->started_at);
    cJSON_AddNumberToObject(j, "finished_at", (double)w->finished_at);
    cJSON_AddNumberToObject(j, "confirmed", n.succeeded);
    cJSON_AddNumberToObject(j, "failed", n.failed);
    cJSON_AddNumberToObject(j, "superseded", n.superseded);
    cJSON_AddNumberToObject(j, "cancelled", n.cancelled); /* withdrawn: neither confirmed nor failed */
    cJSON_AddNumberToObject(j, "active", n.active);
    cJSON_AddNumberToObject(j, "pending", n.pending);
    cJSON_AddNumberToObject(j, "ready", n.ready); /* holding the release until the window */
    cJSON_AddNumberToObject(j, "watching", watching);
    if (c->details) {
        cJSON *a = cJSON_AddArrayToObject(j, "devices");
        if (db__rollout_wave_devices(c->d->db, w->rollout_id, w->idx, add_device_id, a) != 0) {
            c->failed = 1;
            return 1;
        }
    }
    return 0;
}

static int add_event(void *ctx, const db_rollout_event_t *e)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddItemToArray(ctx, j);
    cJSON_AddNumberToObject(j, "at", (double)e->at);
    if (e->wave >= 0) cJSON_AddNumberToObject(j, "wave", e->wave);
    else cJSON_AddNullToObject(j, "wave");
    cJSON_AddStringToObject(j, "kind", e->kind);
    cJSON_AddStringToObject(j, "message", e->message);
    return 0;
}

/* The plan's "window": {"start": "HH:MM", "end": "HH:MM", "open": bool} (UTC; open on the
 * schedule clock now), or null without one. 0, or -1 on a database error. */
static int add_window(mqotad_t *d, int64_t id, cJSON *plan)
{
    int start, end;
    int rc = db__rollout_window_get(d->db, id, &start, &end);
    if (rc < 0) return -1;
    if (rc == 1) {
        cJSON_AddNullToObject(plan, "window");
        return 0;
    }
    rollout_window_t w = {true, (uint16_t)start, (uint16_t)end};
    char text[16], hhmm[8];
    rollout_plan__window_text(&w, text, sizeof(text));
    cJSON *o = cJSON_AddObjectToObject(plan, "window");
    snprintf(hhmm, sizeof(hhmm), "%.5s", text);
    cJSON_AddStringToObject(o, "start", hhmm);
    snprintf(hhmm, sizeof(hhmm), "%.5s", text + 6);
    cJSON_AddStringToObject(o, "end", hhmm);
    cJSON_AddBoolToObject(o, "open", rollout_plan__window_open(&w, clock__now()));
    return 0;
}

/* The plan's pacing, schedule and eligibility members, and the rollout's transfers now
 * ("in_flight": offered, not ended, within the deadline) and at most ("peak_in_flight").
 * 0, or -1 on a database error. */
static int add_pacing(mqotad_t *d, const db_rollout_t *r, cJSON *j, cJSON *plan)
{
    db_rollout_opts_t o;
    int64_t in_flight = 0;
    if (db__rollout_opts_get(d->db, r->id, &o) != 0 ||
        db__rollout_in_flight(d->db, r->id, clock__now() - (int64_t)r->deadline_s + 1,
                              &in_flight) != 0)
        return -1;
    cJSON_AddNumberToObject(plan, "max_transfers", o.max_transfers);
    cJSON_AddNumberToObject(plan, "jitter_s", o.jitter_s);
    if (o.start_at) cJSON_AddNumberToObject(plan, "start_at", (double)o.start_at);
    else cJSON_AddNullToObject(plan, "start_at");
    cJSON *v = o.from_versions[0] ? cJSON_Parse(o.from_versions) : NULL;
    cJSON_AddItemToObject(plan, "from_versions", v ? v : cJSON_CreateArray());
    cJSON_AddNumberToObject(plan, "failure_budget", o.failure_budget);
    cJSON_AddBoolToObject(plan, "continuous", o.continuous);
    cJSON_AddNumberToObject(j, "in_flight", (double)in_flight);
    cJSON_AddNumberToObject(j, "peak_in_flight", (double)o.peak_in_flight);
    return 0;
}

/* A rollout as JSON (docs/API.md "Rollouts"); with details, each wave's devices and the
 * history. NULL on a database error. */
static cJSON *rollout_json(mqotad_t *d, const db_rollout_t *r, bool details)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "id", (double)r->id);
    cJSON_AddNumberToObject(j, "release", (double)r->release_id);
    cJSON_AddStringToObject(j, "filter", r->filter);
    cJSON_AddStringToObject(j, "state", state__rollout_name(r->state));
    cJSON_AddNumberToObject(j, "devices", (double)r->devices);
    cJSON_AddNumberToObject(j, "current_wave", r->current_wave);
    cJSON *plan = cJSON_AddObjectToObject(j, "plan");
    cJSON *stages = cJSON_Parse(r->plan);
    cJSON_AddItemToObject(plan, "stages", stages ? stages : cJSON_CreateArray());
    cJSON_AddNumberToObject(plan, "success_percent", r->success_percent);
    cJSON_AddNumberToObject(plan, "error_percent", r->error_percent);
    cJSON_AddNumberToObject(plan, "deadline_s", r->deadline_s);
    cJSON_AddStringToObject(plan, "on_error", r->abort_on_error ? "abort" : "pause");
    cJSON_AddBoolToObject(plan, "approval", r->approval);
    if (add_pacing(d, r, j, plan) != 0) goto err;
    uint32_t crashes, within_s; /* the health gate (docs/ROLLOUTS.md "Health gate") */
    int hg = db__rollout_health_get(d->db, r->id, &crashes, &within_s);
    if (hg < 0) goto err;
    if (hg == 0) {
        cJSON *h = cJSON_AddObjectToObject(plan, "health");
        cJSON_AddNumberToObject(h, "crashes", crashes);
        cJSON_AddNumberToObject(h, "within_s", within_s);
    }
    if (add_window(d, r->id, plan) != 0) goto err;
    cJSON_AddNumberToObject(j, "created_at", (double)r->created_at);
    cJSON_AddNumberToObject(j, "updated_at", (double)r->updated_at);
    wave_ctx_t c = {d, cJSON_AddArrayToObject(j, "waves"), details, 0};
    if (db__rollout_waves(d->db, r->id, add_wave, &c) != 0 || c.failed) goto err;
    if (details &&
        db__rollout_events(d->db, r->id, add_event, cJSON_AddArrayToObject(j, "events")) != 0)
        goto err;
    return j;
err:
    cJSON_Delete(j);
    return NULL;
}

typedef struct {
    mqotad_t *d;
    cJSON *array;
    int failed;
} list_ctx_t;

static int add_rollout(void *ctx, const db_rollout_t *r)
{
    list_ctx_t *c = ctx;
    cJSON *j = rollout_json(c->d, r, false);
    if (!j) {
        c->failed = 1;
        return 1;
    }
    cJSON_AddItemToArray(c->array, j);
    return 0;
}

static void get_rollouts(mqotad_t *d, api_response_t *res)
{
    list_ctx_t c = {d, cJSON_CreateArray(), 0};
    if (db__rollout_list(d->db, add_rollout, &c) != 0 || c.failed) {
        cJSON_Delete(c.array);
        api__error(res, 500, "database error while listing rollouts");
        return;
    }
    api__json(res, 200, c.array);
}

/* Answer rollout r (as read or changed) with status. */
static void answer(mqotad_t *d, const db_rollout_t *r, int status, api_response_t *res)
{
    cJSON *j = rollout_json(d, r, true);
    if (!j) api__error(res, 500, "database error while reading the rollout");
    else api__json(res, status, j);
}

static void get_rollout(mqotad_t *d, const char *ids, api_response_t *res)
{
    char msg[128];
    db_rollout_t *r = malloc(sizeof(*r));
    int64_t id = api__parse_id(ids);
    int rc = !r ? -1 : id < 0 ? 1 : db__rollout_get(d->db, id, r);
    if (rc == 1) {
        snprintf(msg, sizeof(msg), "unknown rollout '%.40s'; see 'mqota rollout list'", ids);
        api__error(res, 404, msg);
    } else if (rc != 0) {
        api__error(res, 500, "database error while reading the rollout");
    } else {
        answer(d, r, 200, res);
    }
    free(r);
}

static void post_rollout(mqotad_t *d, const api_request_t *req, api_response_t *res)
{
    char err[600];
    rollout_plan_t *p = malloc(sizeof(*p));
    db_rollout_t *r = malloc(sizeof(*r));
    int st = !p || !r ? 500 : rollout_plan__parse(req->body, req->body_len, p, err, sizeof(err));
    if (st == 0) st = rollout__create(d, p, r, err, sizeof(err));
    if (!p || !r) api__error(res, 500, "out of memory while creating the rollout");
    else if (st != 0) api__error(res, st, err);
    else answer(d, r, 201, res);
    free(p);
    free(r);
}

static void post_control(mqotad_t *d, const char *ids, rollout_action_t action,
                         api_response_t *res)
{
    char err[300];
    db_rollout_t *r = malloc(sizeof(*r));
    int64_t id = api__parse_id(ids);
    int st;
    if (!r) {
        api__error(res, 500, "out of memory while changing the rollout");
        return;
    }
    if (id < 0) {
        snprintf(err, sizeof(err), "unknown rollout '%.40s'; see 'mqota rollout list'", ids);
        st = 404;
    } else {
        st = rollout__control(d, id, action, r, err, sizeof(err));
    }
    if (st != 0) api__error(res, st, err);
    else answer(d, r, 200, res);
    free(r);
}

/* POST /api/v1/devices/{id}/reset-failures: the device's failures of every release so far no
 * longer count against rollouts' failure budgets. */
static void post_reset_failures(mqotad_t *d, const char *id, api_response_t *res)
{
    char msg[160];
    int64_t now = mqh_unix_now(); /* compared with targets' finish times, which are real */
    int rc = db__device_reset_failures(d->db, id, now);
    if (rc == 1) {
        snprintf(msg, sizeof(msg), "unknown device '%.64s'; see 'mqota device list'", id);
        api__error(res, 404, msg);
        return;
    }
    if (rc != 0) {
        api__error(res, 500, "database error while resetting the device's failures");
        return;
    }
    mqh_log(MQH_INFO, "device %s: failures reset (failure budgets count from now)", id);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "device", id);
    cJSON_AddNumberToObject(j, "failures_reset_at", (double)now);
    api__json(res, 200, j);
}

/* /api/v1/devices/{id}/reset-failures; false for any other path. */
static bool route_reset_failures(mqotad_t *d, const api_request_t *req, api_response_t *res)
{
    char id[DB_ID_MAX + 1];
    bool too_long;
    if (!api__device_path(req->path, "/reset-failures", id, &too_long) || too_long) return false;
    if (strcmp(req->method, "POST") == 0) post_reset_failures(d, id, res);
    else api__method_not_allowed(res, req->method, req->path, "POST");
    return true;
}

bool http_rollout__json_body(const char *method, const char *path)
{
    return strcmp(method, "POST") == 0 && strcmp(path, API "/rollouts") == 0;
}

bool http_rollout__route(mqotad_t *d, const api_request_t *req, api_response_t *res)
{
    static const char prefix[] = API "/rollouts/";
    static const char *const actions[] = {"/pause", "/resume", "/abort", "/approve", "/retry"};
    const char *p = req->path, *m = req->method;
    if (route_reset_failures(d, req, res)) return true;
    bool get = strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
    bool post = strcmp(m, "POST") == 0;
    if (strcmp(p, API "/rollouts") == 0) {
        if (get) get_rollouts(d, res);
        else if (post) post_rollout(d, req, res);
        else api__method_not_allowed(res, m, p, "GET, POST");
        return true;
    }
    if (strncmp(p, prefix, sizeof(prefix) - 1) != 0) return false;
    const char *rest = p + sizeof(prefix) - 1, *slash = strchr(rest, '/');
    char ids[32];
    size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
    snprintf(ids, sizeof(ids), "%.*s", (int)(n < sizeof(ids) ? n : sizeof(ids) - 1), rest);
    if (!slash) {
        if (get) get_rollout(d, ids, res);
        else api__method_not_allowed(res, m, p, "GET");
        return true;
    }
    for (int a = 0; a < 5; a++) {
        if (strcmp(slash, actions[a]) != 0) continue;
        if (post) post_control(d, ids, (rollout_action_t)a, res);
        else api__method_not_allowed(res, m, p, "POST");
        return true;
    }
    return false;
}
