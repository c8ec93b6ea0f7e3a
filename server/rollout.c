/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rollout.c - rollouts above deployments (docs/ROLLOUTS.md).
 *
 * A rollout's devices are chosen once, at creation, and split into stages (the canary, then
 * the waves) by device id. Starting a stage creates its deployment with deploy__create(); the
 * deployment then runs as any other (offers, transfers, streams, STATE). After a target ended
 * (rollout__poke()) and at least once a second, the running stage of every running rollout is
 * judged from its devices' persisted targets (rollout_plan__decide()), and the decision, with
 * its reason, goes into the history.
 *
 * Every decision is one transaction: the wave's new state, the next wave's deployment (inside
 * it: db__begin() nests) and the events. After a kill -9 the database says exactly which
 * waves have a deployment, so a restarted mqotad never offers a stage twice.
 */
#include "rollout.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deploy.h"
#include "target.h"

/* Bytes of a rollout's filter its "created" event quotes at most (the rollout keeps it all). */
#define EVENT_FILTER_MAX 160

/* A stage's name in sentences and events. */
static void wave_name(int idx, char *out, size_t cap)
{
    if (idx == 0) snprintf(out, cap, "canary");
    else snprintf(out, cap, "wave %d", idx);
}

static int event(mqotad_t *d, int64_t rollout_id, int64_t now, int wave, const char *kind,
                 const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Append one decision to a rollout's history (and the log). Inside the caller's transaction. */
static int event(mqotad_t *d, int64_t rollout_id, int64_t now, int wave, const char *kind,
                 const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    mqh_log(MQH_INFO, "rollout %lld: %s", (long long)rollout_id, msg);
    return db__rollout_event_insert(d->db, rollout_id, now, wave, kind, msg);
}

typedef struct {
    char **ids;
    size_t n, cap;
} id_vec_t;

static int push_id(void *ctx, const char *id)
{
    id_vec_t *v = ctx;
    if (v->n == v->cap) {
        size_t cap = v->cap ? 2 * v->cap : 16;
        char **p = realloc(v->ids, cap * sizeof(*p));
        if (!p) return 1;
        v->ids = p;
        v->cap = cap;
    }
    if (!(v->ids[v->n] = strdup(id))) return 1;
    v->n++;
    return 0;
}

static void id_vec_free(id_vec_t *v)
{
    for (size_t i = 0; i < v->n; i++) free(v->ids[i]);
    free(v->ids);
    memset(v, 0, sizeof(*v));
}

typedef struct {
    id_vec_t *ids;
    bool failed;
} unconfirmed_ctx_t;

/* Collect a wave's device unless its latest target succeeded (for a retry). */
static int push_unconfirmed(void *ctx, const char *id, const char *state)
{
    unconfirmed_ctx_t *c = ctx;
    if (strcmp(state, "succeeded") == 0) return 0;
    c->failed = push_id(c->ids, id) != 0;
    return c->failed;
}

/*
 * Start stage idx of rollout r inside the caller's transaction: its deployment (to the
 * devices given the stage at creation; with retry, to those of them whose latest target did
 * not succeed), the stage running from now, the rollout's current wave, the event. Returns 0;
 * 1 when deploy__create() refused the stage for a reason other than the database (err says
 * why; nothing of the stage was written); -1 on a database error.
 */
static int start_wave(mqotad_t *d, const db_rollout_t *r, int idx, int64_t now, bool retry,
                      char *err, size_t err_cap)
{
    db_rollout_wave_t w;
    db_deployment_t dep;
    id_vec_t ids = {0};
    char name[24];
    int ret = -1;
    wave_name(idx, name, sizeof(name));
    if (db__rollout_wave_get(d->db, r->id, idx, &w) != 0) goto out;
    if (retry) {
        unconfirmed_ctx_t u = {&ids, false};
        if (db__rollout_wave_targets(d->db, r->id, idx, push_unconfirmed, &u) != 0 || u.failed)
            goto out;
        if (ids.n == 0) {
            snprintf(err, err_cap, "every device of the %s confirmed; nothing to retry", name);
            ret = 1;
            goto out;
        }
    } else if (db__rollout_wave_devices(d->db, r->id, idx, push_id, &ids) != 0 ||
               ids.n != w.size) {
        snprintf(err, err_cap, "the %s's %u devices could not be read", name, w.size);
        goto out;
    }
    deploy_result_t dr = deploy__create(d, r->release_id, (const char *const *)ids.ids, ids.n,
                                        false, &dep, err, err_cap);
    if (dr != DEPLOY_OK) {
        ret = dr == DEPLOY_ERROR ? -1 : 1;
        goto out;
    }
    snprintf(w.state, sizeof(w.state), "running");
    w.deployment_id = dep.id;
    w.started_at = now;
    w.finished_at = 0;
    if (db__rollout_wave_set(d->db, &w) != 0 ||
        db__rollout_wave_deployment_add(d->db, r->id, idx, dep.id) != 0 ||
        db__rollout_set_state(d->db, r->id, "running", idx, now) != 0)
        goto out;
    if (retry ? event(d, r->id, now, idx, "wave-retried", "%s retried by the operator: "
                      "release %lld offered again to the %zu device%s that did not confirm "
                      "(deployment %lld)", name, (long long)r->release_id, ids.n,
                      ids.n == 1 ? "" : "s", (long long)dep.id)
              : event(d, r->id, now, idx, "wave-started", "%s started: release %lld to %u "
                      "device%s (deployment %lld)", name, (long long)r->release_id, w.size,
                      w.size == 1 ? "" : "s", (long long)dep.id))
        goto out;
    ret = 0;
out:
    id_vec_free(&ids);
    return ret;
}

/* How many bytes of text to show in an event: at most max, never ending inside a UTF-8
 * sequence (filter values may be UTF-8; the event must stay valid text when cut). */
static int shown_len(const char *text, size_t max)
{
    size_t n = strlen(text);
    if (n <= max) return (int)n;
    while (max > 0 && ((unsigned char)text[max] & 0xC0u) == 0x80u) max--;
    return (int)max;
}

/* Store the plan's stages as JSON text, e.g. [1,"50%","100%"]. */
static void plan_text(const rollout_plan_t *p, char *out, size_t cap)
{
    size_t n = 0;
    n += (size_t)snprintf(out + n, cap - n, "[");
    for (size_t i = 0; i < p->n_stages && n < cap; i++) {
        char s[16];
        rollout_plan__size_text(&p->stages[i], s, sizeof(s));
        n += (size_t)snprintf(out + n, cap - n, "%s%s%s%s", i ? "," : "",
                              p->stages[i].percent ? "\"" : "", s,
                              p->stages[i].percent ? "\"" : "");
    }
    if (n < cap) snprintf(out + n, cap - n, "]");
}

/*
 * The health gate (docs/ROLLOUTS.md "Health gate"): a device whose latest target in the wave
 * succeeded is "confirmed, watching" until within_s seconds after its confirm; more than
 * `crashes` resets by panic or watchdog in that time (health.c's history) make it a failure of
 * the release. Neither a watching nor a crashed device counts as confirmed.
 */
typedef struct {
    mqotad_t *d;
    int64_t rollout_id, now;
    int wave;
    uint32_t crashes, within_s;
    bool log;            /* write an event for each crashed device */
    uint32_t crashed;    /* confirmed, then crashed too often: failed */
    uint32_t watching;   /* confirmed, window still open */
    int rc;
} health_gate_t;

static int health_one(void *ctx, const char *device_id, int64_t confirmed_at, int64_t crashes)
{
    health_gate_t *g = ctx;
    if (crashes > (int64_t)g->crashes) {
        g->crashed++;
        if (g->log)
            g->rc = event(g->d, g->rollout_id, g->now, g->wave, "health-failed", "device %s "
                          "confirmed the release, then reset %lld times by panic or watchdog "
                          "within %u s (health gate: more than %u): counted as failed",
                          device_id, (long long)crashes, g->within_s, g->crashes);
        return g->rc != 0;
    }
    if (g->now < confirmed_at + (int64_t)g->within_s) g->watching++;
    return 0;
}

/*
 * Apply rollout r's health gate, if it has one, to the counts c of its wave: crashed devices
 * move from succeeded to failed, watching ones out of succeeded (*watching says how many, for
 * the decision's unfinished). With log, one event per crashed device (inside the caller's
 * transaction). 0, or -1 on a database error.
 */
static int health_gate(mqotad_t *d, const db_rollout_t *r, int wave, int64_t now, bool log,
                       db_counts_t *c, uint32_t *watching)
{
    health_gate_t g = {d, r->id, now, wave, 0, 0, log, 0, 0, 0};
    *watching = 0;
    int rc = db__rollout_health_get(d->db, r->id, &g.crashes, &g.within_s);
    if (rc != 0) return rc > 0 ? 0 : -1;
    if (db__rollout_wave_health(d->db, r->id, wave, g.within_s, health_one, &g) != 0 ||
        g.rc != 0)
        return -1;
    if (c) {
        c->succeeded -= (int)(g.crashed + g.watching);
        c->failed += (int)g.crashed;
    }
    *watching = g.watching;
    return 0;
}

int rollout__health_counts(mqotad_t *d, int64_t rollout_id, int wave, db_counts_t *c,
                           uint32_t *watching)
{
    db_rollout_t r;
    memset(&r, 0, sizeof(r));
    r.id = rollout_id;
    return health_gate(d, &r, wave, mqh_unix_now(), false, c, watching);
}

/* Store plan p's health gate for the new rollout id with its event; inside the caller's
 * transaction. 0 (also with no gate), or -1 on a database error. */
static int health_gate_create(mqotad_t *d, int64_t id, const rollout_plan_t *p, int64_t now)
{
    if (!p->health) return 0;
    if (db__rollout_health_put(d->db, id, p->health_crashes, p->health_within_s) != 0) return -1;
    return event(d, id, now, -1, "health-gate", "health gate: a device that confirmed and then "
                 "resets by panic or watchdog more than %u time%s within %u s counts as failed; "
                 "a confirmed device counts as confirmed only after those %u s",
                 p->health_crashes, p->health_crashes == 1 ? "" : "s", p->health_within_s,
                 p->health_within_s);
}

int rollout__create(mqotad_t *d, const rollout_plan_t *p, db_rollout_t *out, char *err,
                    size_t err_cap)
{
    target_ids_t sel = {0};
    uint32_t sizes[ROLLOUT_STAGES_MAX];
    int ret = target__for_release(d, p->filter, p->release_id, &sel, err, err_cap);
    if (ret != 0) goto out;
    ret = 400;
    if (sel.n > UINT32_MAX ||
        rollout_plan__sizes(p, (uint32_t)sel.n, sizes, err, err_cap) != 0)
        goto out;

    /* One transaction: the rollout, its stages, its devices, the history, the canary. */
    ret = 500;
    int64_t now = mqh_unix_now();
    memset(out, 0, sizeof(*out));
    out->release_id = p->release_id;
    snprintf(out->filter, sizeof(out->filter), "%s", p->filter);
    plan_text(p, out->plan, sizeof(out->plan));
    out->success_percent = p->success_percent;
    out->error_percent = p->error_percent;
    out->deadline_s = p->deadline_s;
    out->abort_on_error = p->abort_on_error;
    out->approval = p->approval;
    snprintf(out->state, sizeof(out->state), "running");
    out->created_at = out->updated_at = now;
    out->devices = (int64_t)sel.n;
    out->n_waves = (int)p->n_stages;
    if (db__begin(d->db) != 0) {
        snprintf(err, err_cap, "database error while creating the rollout; nothing was created");
        goto out;
    }
    if (db__rollout_insert(d->db, out) != 0) goto db_err;
    size_t k = 0;
    for (int i = 0; i < (int)p->n_stages; i++) {
        db_rollout_wave_t w = {out->id, i, sizes[i], "waiting", 0, 0, 0};
        if (db__rollout_wave_insert(d->db, &w) != 0) goto db_err;
        for (uint32_t j = 0; j < sizes[i]; j++, k++)
            if (db__rollout_device_insert(d->db, out->id, sel.ids[k], i) != 0) goto db_err;
    }
    if (event(d, out->id, now, -1, "created", "created: release %lld to %zu device%s "
              "(filter '%.*s'), plan %s, success %u %%, error %u %%, on error %s, deadline %u s%s",
              (long long)p->release_id, sel.n, sel.n == 1 ? "" : "s",
              shown_len(p->filter, EVENT_FILTER_MAX), p->filter, out->plan,
              p->success_percent, p->error_percent, p->abort_on_error ? "abort" : "pause",
              p->deadline_s, p->approval ? ", approval before each wave" : "") != 0 ||
        health_gate_create(d, out->id, p, now) != 0)
        goto db_err;
    int rc = start_wave(d, out, 0, now, false, err, err_cap);
    if (rc != 0) {
        db__rollback(d->db);
        if (rc > 0) ret = 400; /* err holds deploy__create()'s sentence */
        else snprintf(err, err_cap, "database error while creating the rollout; nothing was "
                      "created");
        goto out;
    }
    if (db__commit(d->db) != 0) goto db_err;
    ret = 0;
    goto out;
db_err:
    db__rollback(d->db);
    snprintf(err, err_cap, "database error while creating the rollout; nothing was created");
out:
    target__ids_free(&sel);
    return ret;
}

/*
 * After a wave ended (succeeded, or accepted by the operator's resume): start the next one,
 * or finish the rollout after the last; with approval (unless approved is set: the operator's
 * approve) wait in awaiting-approval instead. Inside the caller's transaction; 0, or -1 on a
 * database error. A next wave deploy__create() refuses pauses the rollout with its sentence.
 */
static int next_wave(mqotad_t *d, const db_rollout_t *r, int64_t now, bool approved)
{
    char err[400];
    int idx = r->current_wave + 1;
    if (idx >= r->n_waves) {
        if (db__rollout_set_state(d->db, r->id, "finished", r->current_wave, now) != 0) return -1;
        return event(d, r->id, now, -1, "finished", "finished: every wave succeeded or was "
                     "accepted");
    }
    if (r->approval && !approved) {
        char name[24];
        wave_name(idx, name, sizeof(name));
        if (db__rollout_set_state(d->db, r->id, "awaiting-approval", r->current_wave, now) != 0)
            return -1;
        return event(d, r->id, now, idx, "awaiting-approval", "%s awaits approval "
                     "('mqota rollout approve %lld')", name, (long long)r->id);
    }
    int rc = start_wave(d, r, idx, now, false, err, sizeof(err));
    if (rc < 0) return -1;
    if (rc > 0) {
        char name[24];
        wave_name(idx, name, sizeof(name));
        if (db__rollout_set_state(d->db, r->id, "paused", r->current_wave, now) != 0) return -1;
        return event(d, r->id, now, idx, "paused", "paused: %s could not start: %s", name, err);
    }
    return 0;
}

typedef struct {
    mqotad_t *d;
    int64_t rollout_id, now;
    int wave;
    uint32_t deadline_s;
    int rc;
} expiry_ctx_t;

static int log_expiry(void *ctx, const char *device_id, const char *state)
{
    expiry_ctx_t *c = ctx;
    if (state[0] && strcmp(state, "pending") && strcmp(state, "active")) return 0;
    c->rc = event(c->d, c->rollout_id, c->now, c->wave, "deadline-expired", "device %s did "
                  "not finish within the deadline (%u s, target %s): counted as failed",
                  device_id, c->deadline_s, state[0] ? state : "pending");
    return c->rc != 0;
}

/*
 * Judge the running wave of rollout r now, from its deployment's persisted counts; act on the
 * decision in one transaction. Returns 0 (decided or waiting), -1 on a database error
 * (nothing changed; the next tick tries again).
 */
static int evaluate(mqotad_t *d, const db_rollout_t *r, int64_t now)
{
    db_rollout_wave_t w;
    db_counts_t c;
    char name[24];
    if (db__rollout_wave_get(d->db, r->id, r->current_wave, &w) != 0) return -1;
    if (strcmp(w.state, "running") != 0) return 0;
    if (db__rollout_wave_counts(d->db, r->id, w.idx, &c) != 0) return -1;
    uint32_t watching; /* confirmed, health gate still watching: neither success nor failure */
    if (health_gate(d, r, w.idx, now, false, &c, &watching) != 0) return -1;
    uint32_t unfinished = (uint32_t)(c.pending + c.active);
    bool expired = unfinished > 0 && now >= w.started_at + (int64_t)r->deadline_s;
    uint32_t failed = (uint32_t)(c.failed + c.superseded) + (expired ? unfinished : 0);
    rollout_plan_t p = {0};
    p.success_percent = r->success_percent;
    p.error_percent = r->error_percent;
    rollout_decision_t dec = rollout_plan__decide(&p, w.size, (uint32_t)c.succeeded, failed,
                                                  (expired ? 0 : unfinished) + watching);
    if (dec == ROLLOUT_WAIT) return 0;

    wave_name(w.idx, name, sizeof(name));
    if (db__begin(d->db) != 0) return -1;
    if (expired) {
        expiry_ctx_t x = {d, r->id, now, w.idx, r->deadline_s, 0};
        if (db__rollout_wave_targets(d->db, r->id, w.idx, log_expiry, &x) != 0 || x.rc != 0)
            goto db_err;
    }
    if (dec != ROLLOUT_ADVANCE && health_gate(d, r, w.idx, now, true, NULL, &watching) != 0)
        goto db_err;
    w.finished_at = now;
    if (dec == ROLLOUT_ADVANCE) {
        snprintf(w.state, sizeof(w.state), "succeeded");
        if (db__rollout_wave_set(d->db, &w) != 0 ||
            event(d, r->id, now, w.idx, "wave-succeeded", "%s succeeded: %d of %u confirmed "
                  "(success threshold %u %%), %u failed", name, c.succeeded, w.size,
                  r->success_percent, failed) != 0 ||
            next_wave(d, r, now, false) != 0)
            goto db_err;
    } else {
        const char *to = r->abort_on_error ? "aborted" : "paused";
        snprintf(w.state, sizeof(w.state), "failed");
        if (db__rollout_wave_set(d->db, &w) != 0 ||
            db__rollout_set_state(d->db, r->id, to, w.idx, now) != 0)
            goto db_err;
        int rc = dec == ROLLOUT_FAIL_ERRORS
            ? event(d, r->id, now, w.idx, "wave-failed", "%s failed: %u of %u failed (error "
                    "threshold %u %%), %d confirmed; rollout %s", name, failed, w.size,
                    r->error_percent, c.succeeded, to)
            : event(d, r->id, now, w.idx, "wave-failed", "%s failed: every device finished "
                    "but only %d of %u confirmed (success threshold %u %%); rollout %s", name,
                    c.succeeded, w.size, r->success_percent, to);
        if (rc != 0) goto db_err;
    }
    if (db__commit(d->db) != 0) goto db_err;
    return 0;
db_err:
    db__rollback(d->db);
    return -1;
}

int rollout__control(mqotad_t *d, int64_t id, rollout_action_t action, db_rollout_t *out,
                     char *err, size_t err_cap)
{
    static const char *const verbs[] = {"pause", "resume", "abort", "approve", "retry"};
    int rc = db__rollout_get(d->db, id, out);
    if (rc != 0) {
        snprintf(err, err_cap, rc == 1 ? "unknown rollout '%lld'; see 'mqota rollout list'"
                 : "database error while reading rollout %lld", (long long)id);
        return rc == 1 ? 404 : 500;
    }
    bool running = strcmp(out->state, "running") == 0, paused = strcmp(out->state, "paused") == 0;
    bool awaiting = strcmp(out->state, "awaiting-approval") == 0;
    /* which states each action applies to, and the words of the refusal */
    static const char *const may[] = {"a running", "a paused", "a running, paused or "
                                      "awaiting-approval", "an awaiting-approval", "a paused"};
    static const char *const done[] = {"paused", "resumed", "aborted", "approved", "retried"};
    if ((action == ROLLOUT_PAUSE && !running) || (action == ROLLOUT_RESUME && !paused) ||
        (action == ROLLOUT_ABORT && !running && !paused && !awaiting) ||
        (action == ROLLOUT_APPROVE && !awaiting) || (action == ROLLOUT_RETRY && !paused)) {
        snprintf(err, err_cap, "rollout %lld is %s; only %s rollout can be %s", (long long)id,
                 out->state, may[action], done[action]);
        return 409;
    }
    int64_t now = mqh_unix_now();
    db_rollout_wave_t w;
    if (db__begin(d->db) != 0) goto db_err_out;
    if (action == ROLLOUT_RETRY) {
        char name[24];
        wave_name(out->current_wave, name, sizeof(name));
        if (db__rollout_wave_get(d->db, id, out->current_wave, &w) != 0) goto db_err;
        if (strcmp(w.state, "failed") != 0) {
            db__rollback(d->db);
            snprintf(err, err_cap, "rollout %lld's %s is %s, not failed; only a failed wave can "
                     "be retried (resume a rollout paused by the operator)", (long long)id, name,
                     w.state);
            return 409;
        }
        int started = start_wave(d, out, out->current_wave, now, true, err, err_cap);
        if (started != 0) {
            db__rollback(d->db);
            if (started < 0) goto db_err_out;
            return 409; /* err: nothing to retry, or deploy__create()'s sentence */
        }
    } else if (action == ROLLOUT_APPROVE) {
        char name[24];
        wave_name(out->current_wave + 1, name, sizeof(name));
        if (db__rollout_set_state(d->db, id, "running", out->current_wave, now) != 0 ||
            event(d, id, now, out->current_wave + 1, "approved", "approved by the operator: "
                  "%s starts", name) != 0 ||
            next_wave(d, out, now, true) != 0)
            goto db_err;
    } else if (action == ROLLOUT_RESUME) {
        if (db__rollout_wave_get(d->db, id, out->current_wave, &w) != 0 ||
            db__rollout_set_state(d->db, id, "running", out->current_wave, now) != 0)
            goto db_err;
        char name[24];
        wave_name(w.idx, name, sizeof(name));
        if (strcmp(w.state, "failed") == 0) {
            if (event(d, id, now, w.idx, "resumed", "resumed by the operator: the failed %s "
                      "is accepted", name) != 0 ||
                next_wave(d, out, now, true) != 0) /* resuming is the operator's decision */
                goto db_err;
        } else if (event(d, id, now, -1, "resumed", "resumed by the operator") != 0) {
            goto db_err;
        }
    } else {
        const char *to = action == ROLLOUT_PAUSE ? "paused" : "aborted";
        if (db__rollout_set_state(d->db, id, to, out->current_wave, now) != 0 ||
            event(d, id, now, -1, to, "%s by the operator%s", to,
                  action == ROLLOUT_ABORT ? "; no further wave starts (targets already "
                  "offered go on)" : "; the running wave's deployment goes on, no new wave "
                  "starts") != 0)
            goto db_err;
    }
    if (db__commit(d->db) != 0) goto db_err;
    if (db__rollout_get(d->db, id, out) != 0) goto db_err_out;
    mqh_log(MQH_INFO, "rollout %lld: %s done, now %s", (long long)id, verbs[action], out->state);
    return 0;
db_err:
    db__rollback(d->db);
db_err_out:
    snprintf(err, err_cap, "database error while changing rollout %lld; nothing changed",
             (long long)id);
    return 500;
}

typedef struct {
    db_rollout_t *items;
    size_t n, cap;
} rollout_vec_t;

static int push_rollout(void *ctx, const db_rollout_t *r)
{
    rollout_vec_t *v = ctx;
    if (v->n == v->cap) {
        size_t cap = v->cap ? 2 * v->cap : 8;
        db_rollout_t *p = realloc(v->items, cap * sizeof(*p));
        if (!p) return 1;
        v->items = p;
        v->cap = cap;
    }
    v->items[v->n++] = *r;
    return 0;
}

/* One mqotad per process: the time of the last evaluation and the poke are the process's. */
static uint64_t last_ms;
static bool poked;

void rollout__poke(mqotad_t *d)
{
    (void)d;
    poked = true;
}

void rollout__tick(mqotad_t *d, uint64_t now_ms)
{
    if (!poked && last_ms && now_ms - last_ms < ROLLOUT_TICK_MS) return;
    last_ms = now_ms;
    poked = false;
    rollout_vec_t v = {0};
    if (db__rollout_running(d->db, push_rollout, &v) != 0) goto out;
    int64_t now = mqh_unix_now();
    for (size_t i = 0; i < v.n; i++)
        if (evaluate(d, &v.items[i], now) != 0)
            mqh_log(MQH_WARN, "rollout %lld: database error while judging its wave; trying "
                    "again in %d ms", (long long)v.items[i].id, ROLLOUT_TICK_MS);
out:
    free(v.items);
}
