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
#include <time.h>

#include <cjson/cJSON.h>

#include "clock.h"
#include "deploy.h"
#include "mqota/mqota_status.h"
#include "target.h"

/* Bytes of a rollout's filter its "created" event quotes at most (the rollout keeps it all). */
#define EVENT_FILTER_MAX 160

/* The maintenance window of rollout id (w->set false if it has none). 0, or -1 on a database
 * error. */
static int window_of(mqotad_t *d, int64_t id, rollout_window_t *w)
{
    int start = 0, end = 0;
    int rc = db__rollout_window_get(d->db, id, &start, &end);
    memset(w, 0, sizeof(*w));
    if (rc < 0) return -1;
    if (rc == 0) {
        w->set = true;
        w->start_min = (uint16_t)start;
        w->end_min = (uint16_t)end;
    }
    return 0;
}

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
    int64_t *ids;
    size_t n, cap;
    bool failed;
} dep_ids_t;

static int push_dep_id(void *ctx, int64_t id)
{
    dep_ids_t *v = ctx;
    if (v->n == v->cap) {
        size_t cap = v->cap ? 2 * v->cap : 4;
        int64_t *p = realloc(v->ids, cap * sizeof(*p));
        if (!p) {
            v->failed = true;
            return 1;
        }
        v->ids = p;
        v->cap = cap;
    }
    v->ids[v->n++] = id;
    return 0;
}

typedef struct {
    id_vec_t *ids;
    bool failed;
} unconfirmed_ctx_t;

/* Collect a wave's device unless its latest target succeeded (for a retry). */
static int push_unconfirmed(void *ctx, const char *id, const target_state_t *state,
                            int64_t offered_at)
{
    unconfirmed_ctx_t *c = ctx;
    (void)offered_at;
    if (state && *state == TARGET_SUCCEEDED) return 0;
    c->failed = push_id(c->ids, id) != 0;
    return c->failed;
}

/* ---- pacing: the transfer cap and the offers' jitter (docs/ROLLOUTS.md "Pacing") ---- */

static bool paced(const db_rollout_opts_t *o)
{
    return o->max_transfers > 0 || o->jitter_s > 0;
}

/* The cap in sentences: "3", or "none". */
static const char *cap_text(const db_rollout_opts_t *o, char *out, size_t cap)
{
    if (o->max_transfers) snprintf(out, cap, "%u", o->max_transfers);
    else snprintf(out, cap, "none");
    return out;
}

typedef struct {
    int64_t rollout_id, start_ms, now_ms;
    uint32_t jitter_s;
    size_t max;      /* take at most this many */
    id_vec_t *ids;   /* due devices with no target yet, in id order */
    size_t queued;   /* devices with no target yet (due or not) */
    bool failed;
} due_ctx_t;

/* Collect a wave's device that has no target yet and whose jittered offer time has come. */
static int push_due(void *ctx, const char *id, const target_state_t *state, int64_t offered_at)
{
    due_ctx_t *c = ctx;
    (void)offered_at;
    if (state) return 0;
    c->queued++;
    if (c->ids->n >= c->max ||
        c->start_ms + (int64_t)rollout_plan__jitter_ms(c->rollout_id, id, c->jitter_s) > c->now_ms)
        return 0;
    c->failed = push_id(c->ids, id) != 0;
    return c->failed;
}

/*
 * Offer the release to the devices of running wave w of paced rollout r that are due and fit
 * under the cap, in one deployment (inside the caller's transaction); records the offer in
 * the history and raises the rollout's peak. A device counts as transferring from its offer
 * until its target ends or its deadline passes. Returns 0 (offered, or nothing due or no
 * room); 1 when deploy__create() refused (err says why); -1 on a database error.
 */
static int fill_wave(mqotad_t *d, const db_rollout_t *r, const db_rollout_opts_t *o,
                     db_rollout_wave_t *w, int64_t now, char *err, size_t err_cap)
{
    int64_t in_flight = 0;
    if (db__rollout_in_flight(d->db, r->id, now - (int64_t)r->deadline_s + 1, &in_flight) != 0)
        return -1;
    if (o->max_transfers && in_flight >= (int64_t)o->max_transfers) return 0;
    id_vec_t ids = {0};
    due_ctx_t c = {r->id, w->started_at * 1000, clock__now_ms(), o->jitter_s,
                   o->max_transfers ? (size_t)(o->max_transfers - in_flight) : SIZE_MAX, &ids,
                   0, false};
    int ret = -1;
    if (db__rollout_wave_targets(d->db, r->id, w->idx, push_due, &c) != 0 || c.failed) goto out;
    ret = 0;
    if (ids.n == 0) goto out;
    db_deployment_t dep;
    rollout_window_t win;
    ret = -1;
    if (window_of(d, r->id, &win) != 0) goto out;
    /* with a maintenance window, each batch downloads now and holds the release until the
     * window is open (activate_in_window()) */
    deploy_result_t dr = deploy__create_opts(d, r->release_id, (const char *const *)ids.ids,
                                             ids.n, false, win.set, &dep, err, err_cap);
    if (dr != DEPLOY_OK) {
        ret = dr == DEPLOY_ERROR ? -1 : 1;
        goto out;
    }
    char name[24], cap[16];
    wave_name(w->idx, name, sizeof(name));
    w->deployment_id = dep.id;
    in_flight += (int64_t)ids.n;
    ret = -1;
    for (size_t i = 0; i < ids.n; i++) /* a paced retry's offer is made now */
        if (db__rollout_device_retry(d->db, r->id, ids.ids[i], false) != 0) goto out;
    if (db__rollout_wave_set(d->db, w) != 0 ||
        db__rollout_wave_deployment_add(d->db, r->id, w->idx, dep.id) != 0 ||
        db__rollout_peak(d->db, r->id, in_flight) != 0 ||
        event(d, r->id, now, w->idx, "offered", "%s: release %lld offered to %zu device%s "
              "(deployment %lld); %lld transferring (cap %s), %zu still to offer", name,
              (long long)r->release_id, ids.n, ids.n == 1 ? "" : "s", (long long)dep.id,
              (long long)in_flight, cap_text(o, cap, sizeof(cap)), c.queued - ids.n) != 0)
        goto out;
    ret = 0;
out:
    id_vec_free(&ids);
    return ret;
}

/*
 * Start wave w of rollout r paced (inside the caller's transaction): the wave runs from now
 * with no deployment yet, and fill_wave() offers what the cap and the jitter allow. Returns 2
 * when r is not paced (the caller offers every device at once), else start_wave()'s codes.
 */
static int start_paced_wave(mqotad_t *d, const db_rollout_t *r, db_rollout_wave_t *w,
                            int64_t now, char *err, size_t err_cap)
{
    db_rollout_opts_t o;
    if (db__rollout_opts_get(d->db, r->id, &o) != 0) return -1;
    if (!paced(&o)) return 2;
    char name[24], cap[16];
    wave_name(w->idx, name, sizeof(name));
    w->state = WAVE_RUNNING;
    w->deployment_id = 0;
    w->started_at = now;
    w->finished_at = 0;
    if (db__rollout_wave_set(d->db, w) != 0 ||
        db__rollout_set_state(d->db, r->id, ROLLOUT_RUNNING, w->idx, now) != 0 ||
        event(d, r->id, now, w->idx, "wave-started", "%s started: release %lld to %u device%s, "
              "paced (transfer cap %s, offers spread over %u s)", name,
              (long long)r->release_id, w->size, w->size == 1 ? "" : "s",
              cap_text(&o, cap, sizeof(cap)), o.jitter_s) != 0)
        return -1;
    return fill_wave(d, r, &o, w, now, err, err_cap);
}

static int drop_over_budget(mqotad_t *d, const db_rollout_t *r, int idx, int64_t now,
                            id_vec_t *ids);

/*
 * Retry wave w of rollout r paced (inside the caller's transaction), as a wave starts
 * (docs/ROLLOUTS.md "Pacing"): the devices in ids are marked for their retry offer (their
 * failed targets no longer count; each counts as not offered yet), the wave runs again from
 * now, and fill_wave() offers what the cap and the jitter allow, now and at each evaluation.
 * Returns 2 when r is not paced (the caller offers every device at once), else
 * start_wave()'s codes.
 */
static int retry_paced(mqotad_t *d, const db_rollout_t *r, db_rollout_wave_t *w, int64_t now,
                       const id_vec_t *ids, char *err, size_t err_cap)
{
    db_rollout_opts_t o;
    if (db__rollout_opts_get(d->db, r->id, &o) != 0) return -1;
    if (!paced(&o)) return 2;
    char name[24], cap[16];
    wave_name(w->idx, name, sizeof(name));
    for (size_t i = 0; i < ids->n; i++)
        if (db__rollout_device_retry(d->db, r->id, ids->ids[i], true) != 0) return -1;
    w->state = WAVE_RUNNING;
    w->started_at = now;
    w->finished_at = 0;
    if (db__rollout_wave_set(d->db, w) != 0 ||
        db__rollout_set_state(d->db, r->id, ROLLOUT_RUNNING, w->idx, now) != 0 ||
        event(d, r->id, now, w->idx, "wave-retried", "%s retried by the operator: release "
              "%lld to be offered again to the %zu device%s that did not confirm, paced "
              "(transfer cap %s, offers spread over %u s)", name, (long long)r->release_id,
              ids->n, ids->n == 1 ? "" : "s", cap_text(&o, cap, sizeof(cap)), o.jitter_s) != 0)
        return -1;
    return fill_wave(d, r, &o, w, now, err, err_cap);
}
static int cancel_rollout(mqotad_t *d, const db_rollout_t *r, int64_t now, const char *why);

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
    if (!retry) {
        int rc = start_paced_wave(d, r, &w, now, err, err_cap);
        if (rc != 2) return rc; /* paced: started (or refused); 2: offer all at once below */
    }
    if (retry) {
        unconfirmed_ctx_t u = {&ids, false};
        if (db__rollout_wave_targets(d->db, r->id, idx, push_unconfirmed, &u) != 0 || u.failed)
            goto out;
        if (ids.n == 0) {
            snprintf(err, err_cap, "every device of the %s confirmed; nothing to retry", name);
            ret = 1;
            goto out;
        }
        size_t unconfirmed = ids.n;
        if (drop_over_budget(d, r, idx, now, &ids) != 0) goto out;
        if (ids.n == 0) {
            snprintf(err, err_cap, "the %zu device%s of the %s that did not confirm %s over the "
                     "failure budget; nothing to retry ('mqota device reset-failures ID' lets "
                     "a device take the release again)", unconfirmed, unconfirmed == 1 ? "" : "s",
                     name, unconfirmed == 1 ? "is" : "are");
            ret = 1;
            goto out;
        }
        int rc = retry_paced(d, r, &w, now, &ids, err, err_cap);
        if (rc != 2) {
            ret = rc;
            goto out;
        }
    } else if (db__rollout_wave_devices(d->db, r->id, idx, push_id, &ids) != 0 ||
               ids.n != w.size) {
        snprintf(err, err_cap, "the %s's %u devices could not be read", name, w.size);
        goto out;
    }
    rollout_window_t win;
    if (window_of(d, r->id, &win) != 0) goto out;
    /* with a maintenance window, devices download now and hold the release until the window
     * opens (activate_in_window()) */
    deploy_result_t dr = deploy__create_opts(d, r->release_id, (const char *const *)ids.ids,
                                             ids.n, false, win.set, &dep, err, err_cap);
    if (dr != DEPLOY_OK) {
        ret = dr == DEPLOY_ERROR ? -1 : 1;
        goto out;
    }
    w.state = WAVE_RUNNING;
    w.deployment_id = dep.id;
    w.started_at = now;
    w.finished_at = 0;
    if (db__rollout_wave_set(d->db, &w) != 0 ||
        db__rollout_wave_deployment_add(d->db, r->id, idx, dep.id) != 0 ||
        db__rollout_set_state(d->db, r->id, ROLLOUT_RUNNING, idx, now) != 0)
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

/* A Unix time as "2026-12-24 02:00:00" (UTC). */
static const char *utc_text(int64_t t, char *out, size_t cap)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || strftime(out, cap, "%Y-%m-%d %H:%M:%S", &tm) == 0)
        snprintf(out, cap, "%lld", (long long)t);
    return out;
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

/* ---- eligibility: from-versions, devices on the release, failure budgets ---- */

/* What makes a device eligible: the release's version, the versions it must run (none: any)
 * and the failure budget (0: none). */
typedef struct {
    int64_t release_id;
    char release_version[33];
    char versions[ROLLOUT_FROM_VERSIONS_MAX][ROLLOUT_VERSION_MAX + 1];
    size_t n_versions;
    uint32_t failure_budget;
} eligibility_t;

/* Why a device is skipped (kinds counted in rollout__create()'s refusal). */
enum { TAKEN = 0, ON_RELEASE = 1, OTHER_VERSION = 2, OVER_BUDGET = 3 };

/* A skip's kind as stored in rollout_skips (a continuous rollout records each device's skip
 * once per kind). */
static const char *const skip_kinds[] = {"", "on-release", "other-version", "over-budget"};

/*
 * Record in the history that rollout_id skipped device id (kind k, sentence why) unless it
 * did already for that kind; inside the caller's transaction. 0, or -1 on a database error.
 */
static int record_skip(mqotad_t *d, int64_t rollout_id, int64_t now, int wave, const char *id,
                       int k, const char *why)
{
    bool has = false;
    if (db__rollout_skip_has(d->db, rollout_id, id, skip_kinds[k], &has) != 0) return -1;
    if (has) return 0;
    if (db__rollout_skip_put(d->db, rollout_id, id, skip_kinds[k]) != 0) return -1;
    return event(d, rollout_id, now, wave, "device-skipped", "%s", why);
}

/*
 * Whether device id may be offered the release under e: TAKEN, or why not with a sentence for
 * the history in why. -1 on a database error.
 */
static int eligible(mqotad_t *d, const eligibility_t *e, const char *id, char *why, size_t cap)
{
    db_device_t dev;
    int64_t failures = 0;
    if (db__device_get(d->db, id, &dev) != 0) return -1;
    /* on the release: running its version settled (not in pending-verify, nor reporting the
     * version it just failed or rolled back from) */
    if (strcmp(dev.version, e->release_version) == 0 &&
        (dev.state == MQOTA_STATE_IDLE || dev.state == MQOTA_STATE_CONFIRMED)) {
        snprintf(why, cap, "device %s already runs the release's version %s: skipped", id,
                 dev.version);
        return ON_RELEASE;
    }
    bool listed = e->n_versions == 0;
    for (size_t i = 0; !listed && i < e->n_versions; i++)
        listed = strcmp(dev.version, e->versions[i]) == 0;
    if (!listed) {
        snprintf(why, cap, "device %s runs version %s, not one of \"from_versions\": skipped", id,
                 dev.version);
        return OTHER_VERSION;
    }
    if (e->failure_budget) {
        if (db__device_release_failures(d->db, id, e->release_id, &failures) != 0) return -1;
        if (failures >= (int64_t)e->failure_budget) {
            snprintf(why, cap, "device %s failed release %lld %lld time%s (failure budget %u): "
                     "skipped until 'mqota device reset-failures %s'", id,
                     (long long)e->release_id, (long long)failures, failures == 1 ? "" : "s",
                     e->failure_budget, id);
            return OVER_BUDGET;
        }
    }
    return TAKEN;
}

/* The eligibility of a rollout of release_id with from_versions as JSON text ("" none).
 * 0, or -1 on a database error. */
static int eligibility_of(mqotad_t *d, int64_t release_id, const char *from_versions,
                          uint32_t failure_budget, eligibility_t *e)
{
    db_release_t *rel = malloc(sizeof(*rel));
    memset(e, 0, sizeof(*e));
    if (!rel || db__release_get(d->db, release_id, rel) != 0) {
        free(rel);
        return -1;
    }
    e->release_id = release_id;
    snprintf(e->release_version, sizeof(e->release_version), "%s", rel->version);
    free(rel);
    e->failure_budget = failure_budget;
    cJSON *a = from_versions[0] ? cJSON_Parse(from_versions) : NULL, *it;
    cJSON_ArrayForEach(it, a)
    {
        if (cJSON_IsString(it) && e->n_versions < ROLLOUT_FROM_VERSIONS_MAX)
            snprintf(e->versions[e->n_versions++], ROLLOUT_VERSION_MAX + 1, "%s",
                     it->valuestring);
    }
    cJSON_Delete(a);
    return 0;
}

/* The plan's from_versions as JSON text ("" when it names none). */
static void versions_text(const rollout_plan_t *p, char *out, size_t cap)
{
    out[0] = '\0';
    if (p->n_from_versions == 0) return;
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; i < p->n_from_versions; i++)
        cJSON_AddItemToArray(a, cJSON_CreateString(p->from_versions[i]));
    char *t = cJSON_PrintUnformatted(a);
    if (t) snprintf(out, cap, "%s", t);
    free(t);
    cJSON_Delete(a);
}

/*
 * Keep of sel's devices those eligible under e, in order, into ids; the skipped ones' sentences
 * into skipped, their kinds counted in n_skipped[]. 0, or -1 on a database error or out of
 * memory.
 */
static int select_eligible(mqotad_t *d, const eligibility_t *e, const target_ids_t *sel,
                           id_vec_t *ids, id_vec_t *skipped, size_t n_skipped[4])
{
    char why[300];
    for (size_t i = 0; i < sel->n; i++) {
        int k = eligible(d, e, sel->ids[i], why, sizeof(why));
        if (k < 0) return -1;
        n_skipped[k]++;
        if (k == TAKEN) {
            if (push_id(ids, sel->ids[i]) != 0) return -1;
            continue;
        }
        /* "<kind>\t<device>\t<sentence>": rollout__create() records each once */
        char entry[DB_ID_MAX + 340];
        snprintf(entry, sizeof(entry), "%d\t%s\t%s", k, sel->ids[i], why);
        if (push_id(skipped, entry) != 0) return -1;
    }
    return 0;
}

/*
 * A retry of wave idx of rollout r: drop from ids the devices over the rollout's failure
 * budget, each with a device-skipped event (inside the caller's transaction). 0, or -1 on a
 * database error.
 */
static int drop_over_budget(mqotad_t *d, const db_rollout_t *r, int idx, int64_t now,
                            id_vec_t *ids)
{
    db_rollout_opts_t o;
    if (db__rollout_opts_get(d->db, r->id, &o) != 0) return -1;
    if (o.failure_budget == 0) return 0;
    size_t kept = 0;
    for (size_t i = 0; i < ids->n; i++) {
        int64_t failures = 0;
        if (db__device_release_failures(d->db, ids->ids[i], r->release_id, &failures) != 0)
            return -1;
        if (failures < (int64_t)o.failure_budget) {
            ids->ids[kept++] = ids->ids[i];
            continue;
        }
        int rc = event(d, r->id, now, idx, "device-skipped", "device %s failed release %lld "
                       "%lld time%s (failure budget %u): not retried until 'mqota device "
                       "reset-failures %s'", ids->ids[i], (long long)r->release_id,
                       (long long)failures, failures == 1 ? "" : "s", o.failure_budget,
                       ids->ids[i]);
        free(ids->ids[i]);
        if (rc != 0) { /* keep the vector whole for id_vec_free() */
            for (size_t j = i + 1; j < ids->n; j++) ids->ids[kept++] = ids->ids[j];
            ids->n = kept;
            return -1;
        }
    }
    ids->n = kept;
    return 0;
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
    return health_gate(d, &r, wave, clock__now(), false, c, watching);
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
    target_ids_t all = {0};
    id_vec_t taken = {0}, skipped = {0};
    size_t n_skipped[4] = {0};
    uint32_t sizes[ROLLOUT_STAGES_MAX];
    db_rollout_opts_t opts = {0};
    eligibility_t elig;
    int ret = target__for_release(d, p->filter, p->release_id, &all, err, err_cap);
    if (ret != 0) goto out;
    opts.max_transfers = p->max_transfers;
    opts.jitter_s = p->jitter_s;
    opts.start_at = p->start_at;
    versions_text(p, opts.from_versions, sizeof(opts.from_versions));
    opts.failure_budget = p->failure_budget;
    opts.continuous = p->continuous;
    ret = 500;
    if (eligibility_of(d, p->release_id, opts.from_versions, p->failure_budget, &elig) != 0 ||
        select_eligible(d, &elig, &all, &taken, &skipped, n_skipped) != 0) {
        snprintf(err, err_cap, "database error while selecting the rollout's devices; nothing "
                 "was created");
        goto out;
    }
    ret = 400;
    if (taken.n == 0) {
        snprintf(err, err_cap, "the filter selects %zu device%s but none may take the release: "
                 "%zu already run%s version %s, %zu run%s a version not in \"from_versions\", "
                 "%zu failed it \"failure_budget\" times; nothing was created", all.n,
                 all.n == 1 ? "" : "s", n_skipped[ON_RELEASE], n_skipped[ON_RELEASE] == 1 ? "s" : "",
                 elig.release_version, n_skipped[OTHER_VERSION],
                 n_skipped[OTHER_VERSION] == 1 ? "s" : "", n_skipped[OVER_BUDGET]);
        goto out;
    }
    target_ids_t sel = {taken.ids, taken.n, all.other_chip};
    if (sel.n > UINT32_MAX ||
        rollout_plan__sizes(p, (uint32_t)sel.n, sizes, err, err_cap) != 0)
        goto out;

    /* One transaction: the rollout, its stages, its devices, the history, the canary. */
    ret = 500;
    int64_t now = clock__now();
    memset(out, 0, sizeof(*out));
    out->release_id = p->release_id;
    snprintf(out->filter, sizeof(out->filter), "%s", p->filter);
    plan_text(p, out->plan, sizeof(out->plan));
    out->success_percent = p->success_percent;
    out->error_percent = p->error_percent;
    out->deadline_s = p->deadline_s;
    out->abort_on_error = p->abort_on_error;
    out->approval = p->approval;
    bool scheduled = p->start_at > now;
    out->state = scheduled ? ROLLOUT_SCHEDULED : ROLLOUT_RUNNING;
    out->created_at = out->updated_at = now;
    out->devices = (int64_t)sel.n;
    out->n_waves = (int)p->n_stages;
    if (db__begin(d->db) != 0) {
        snprintf(err, err_cap, "database error while creating the rollout; nothing was created");
        goto out;
    }
    if (db__rollout_insert(d->db, out) != 0 || db__rollout_opts_set(d->db, out->id, &opts) != 0)
        goto db_err;
    char win[16] = "";
    if (p->window.set) {
        rollout_plan__window_text(&p->window, win, sizeof(win));
        if (db__rollout_window_put(d->db, out->id, p->window.start_min, p->window.end_min) != 0)
            goto db_err;
    }
    size_t k = 0;
    for (int i = 0; i < (int)p->n_stages; i++) {
        db_rollout_wave_t w = {out->id, i, sizes[i], WAVE_WAITING, 0, 0, 0};
        if (db__rollout_wave_insert(d->db, &w) != 0) goto db_err;
        for (uint32_t j = 0; j < sizes[i]; j++, k++)
            if (db__rollout_device_insert(d->db, out->id, sel.ids[k], i) != 0) goto db_err;
    }
    if (event(d, out->id, now, -1, "created", "created: release %lld to %zu device%s "
              "(filter '%.*s'), plan %s, success %u %%, error %u %%, on error %s, deadline %u s%s"
              "%s%s%s",
              (long long)p->release_id, sel.n, sel.n == 1 ? "" : "s",
              shown_len(p->filter, EVENT_FILTER_MAX), p->filter, out->plan,
              p->success_percent, p->error_percent, p->abort_on_error ? "abort" : "pause",
              p->deadline_s, p->approval ? ", approval before each wave" : "",
              win[0] ? ", maintenance window " : "", win, win[0] ? " UTC" : "") != 0 ||
        health_gate_create(d, out->id, p, now) != 0)
        goto db_err;
    for (size_t i = 0; i < skipped.n; i++) {
        char *id = strchr(skipped.ids[i], '\t'), *why = id ? strchr(id + 1, '\t') : NULL;
        if (!why) goto db_err;
        *id++ = '\0';
        *why++ = '\0';
        if (record_skip(d, out->id, now, -1, id, atoi(skipped.ids[i]), why) != 0) goto db_err;
    }
    if (scheduled) {
        char when[32];
        if (event(d, out->id, now, 0, "scheduled", "scheduled: the canary starts at %s UTC",
                  utc_text(p->start_at, when, sizeof(when))) != 0 ||
            db__commit(d->db) != 0)
            goto db_err;
        ret = 0;
        goto out;
    }
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
    target__ids_free(&all);
    id_vec_free(&taken);
    id_vec_free(&skipped);
    return ret;
}

/* ---- continuous rollouts and scheduled starts ---- */

/*
 * After the last wave of rollout r ended: a continuous rollout does not finish but stays
 * running, waiting for devices that match later (inside the caller's transaction). Returns 0
 * when r is not continuous (the caller finishes it), 1 when it stays running, -1 on a
 * database error.
 */
static int stay_continuous(mqotad_t *d, const db_rollout_t *r, int64_t now)
{
    db_rollout_opts_t o;
    char name[24];
    if (db__rollout_opts_get(d->db, r->id, &o) != 0) return -1;
    if (!o.continuous) return 0;
    wave_name(r->current_wave, name, sizeof(name));
    if (db__rollout_set_state(d->db, r->id, ROLLOUT_RUNNING, r->current_wave, now) != 0 ||
        event(d, r->id, now, r->current_wave, "waiting-for-devices", "every wave succeeded or "
              "was accepted; continuous: devices that match the filter later join the %s", name))
        return -1;
    return 1;
}

/*
 * Continuous rollout r (running): take the devices the filter selects now that are not yet
 * in it and may take the release into its current wave, which runs again if it had ended;
 * offer them the release at once (or paced). One transaction; the joins are in the history.
 * Devices that may not take the release are left out (asked again at the next tick), each
 * recorded in the history once per device and reason (rollout_skips), not at every tick.
 * 0, or -1 on a database error.
 */
static int join_devices(mqotad_t *d, const db_rollout_t *r, int64_t now)
{
    db_rollout_opts_t o;
    target_ids_t sel = {0};
    id_vec_t ids = {0}, skipped = {0};
    eligibility_t e;
    db_rollout_wave_t w;
    char err[400], why[300], name[24];
    int ret = -1;
    if (db__rollout_opts_get(d->db, r->id, &o) != 0) return -1;
    if (!o.continuous) return 0;
    int rc = target__for_release(d, r->filter, r->release_id, &sel, err, sizeof(err));
    if (rc != 0) { /* no device matches now (400), the release is gone (404) */
        target__ids_free(&sel);
        return rc >= 500 ? -1 : 0;
    }
    if (eligibility_of(d, r->release_id, o.from_versions, o.failure_budget, &e) != 0) goto out;
    for (size_t i = 0; i < sel.n; i++) {
        bool has = false;
        if (db__rollout_has_device(d->db, r->id, sel.ids[i], &has) != 0) goto out;
        if (has) continue;
        int k = eligible(d, &e, sel.ids[i], why, sizeof(why));
        if (k < 0 || (k == TAKEN && push_id(&ids, sel.ids[i]) != 0)) goto out;
        if (k == TAKEN) continue;
        /* skipped: recorded once per device and kind, not at every tick */
        bool known = false;
        if (db__rollout_skip_has(d->db, r->id, sel.ids[i], skip_kinds[k], &known) != 0) goto out;
        if (known) continue;
        char entry[DB_ID_MAX + 340];
        snprintf(entry, sizeof(entry), "%d\t%s\t%s", k, sel.ids[i], why);
        if (push_id(&skipped, entry) != 0) goto out;
    }
    ret = 0;
    if ((ids.n == 0 && skipped.n == 0) ||
        db__rollout_wave_get(d->db, r->id, r->current_wave, &w) != 0)
        goto out;
    ret = -1;
    wave_name(w.idx, name, sizeof(name));
    if (db__begin(d->db) != 0) goto out;
    for (size_t i = 0; i < skipped.n; i++) {
        char *id = strchr(skipped.ids[i], '\t'), *text = id ? strchr(id + 1, '\t') : NULL;
        if (!text) goto db_err;
        *id++ = '\0';
        *text++ = '\0';
        if (record_skip(d, r->id, now, w.idx, id, atoi(skipped.ids[i]), text) != 0) goto db_err;
    }
    if (ids.n == 0) {
        if (db__commit(d->db) != 0) goto db_err;
        ret = 0;
        goto out;
    }
    for (size_t i = 0; i < ids.n; i++)
        if (db__rollout_device_insert(d->db, r->id, ids.ids[i], w.idx) != 0 ||
            event(d, r->id, now, w.idx, "device-joined", "device %s matches the filter: joined "
                  "%s%s (continuous)", ids.ids[i], w.idx == 0 ? "the " : "", name) != 0)
            goto db_err;
    w.size += (uint32_t)ids.n;
    if (w.state != WAVE_RUNNING) {
        w.state = WAVE_RUNNING;
        w.started_at = now;
        w.finished_at = 0;
    }
    if (!paced(&o)) {
        db_deployment_t dep;
        rollout_window_t win;
        if (window_of(d, r->id, &win) != 0) goto db_err;
        deploy_result_t dr = deploy__create_opts(d, r->release_id, (const char *const *)ids.ids,
                                                 ids.n, false, win.set, &dep, err, sizeof(err));
        if (dr != DEPLOY_OK) {
            db__rollback(d->db);
            mqh_log(MQH_WARN, "rollout %lld: %zu device%s that joined could not be offered the "
                    "release: %s", (long long)r->id, ids.n, ids.n == 1 ? "" : "s", err);
            ret = dr == DEPLOY_ERROR ? -1 : 0;
            goto out;
        }
        w.deployment_id = dep.id;
        if (db__rollout_wave_deployment_add(d->db, r->id, w.idx, dep.id) != 0) goto db_err;
    }
    if (db__rollout_wave_set(d->db, &w) != 0 || db__commit(d->db) != 0) goto db_err;
    ret = 0;
    goto out;
db_err:
    db__rollback(d->db);
out:
    target__ids_free(&sel);
    id_vec_free(&ids);
    id_vec_free(&skipped);
    return ret;
}

static int push_rollout_id(void *ctx, int64_t id)
{
    id_vec_t *v = ctx;
    char text[24];
    snprintf(text, sizeof(text), "%lld", (long long)id);
    return push_id(v, text);
}

/*
 * Start every scheduled rollout whose time came: running, its canary started, in one
 * transaction each; a canary deploy__create() refuses pauses the rollout with its sentence.
 */
static void start_scheduled(mqotad_t *d, int64_t now)
{
    id_vec_t due = {0};
    db_rollout_t *r = malloc(sizeof(*r));
    char err[400], when[32];
    if (!r || db__rollout_scheduled_due(d->db, now, push_rollout_id, &due) != 0) goto out;
    for (size_t i = 0; i < due.n; i++) {
        int64_t id = strtoll(due.ids[i], NULL, 10);
        db_rollout_opts_t o;
        if (db__rollout_get(d->db, id, r) != 0 || db__rollout_opts_get(d->db, id, &o) != 0 ||
            db__begin(d->db) != 0)
            continue;
        int rc = db__rollout_set_state(d->db, id, ROLLOUT_RUNNING, 0, now) != 0 ||
                 event(d, id, now, 0, "started", "started: its scheduled time %s UTC came",
                       utc_text(o.start_at, when, sizeof(when))) != 0 ? -1 : 0;
        if (rc == 0) rc = start_wave(d, r, 0, now, false, err, sizeof(err));
        if (rc > 0)
            rc = db__rollout_set_state(d->db, id, ROLLOUT_PAUSED, 0, now) != 0 ||
                 event(d, id, now, 0, "paused", "paused: the canary could not start: %s",
                       err) != 0 ? -1 : 0;
        if (rc != 0 || db__commit(d->db) != 0) {
            db__rollback(d->db);
            mqh_log(MQH_WARN, "rollout %lld: database error while starting it; trying again "
                    "in %d ms", (long long)id, ROLLOUT_TICK_MS);
        }
    }
out:
    free(r);
    id_vec_free(&due);
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
        int rc = stay_continuous(d, r, now);
        if (rc != 0) return rc < 0 ? -1 : 0;
        if (db__rollout_set_state(d->db, r->id, ROLLOUT_FINISHED, r->current_wave, now) != 0) return -1;
        return event(d, r->id, now, -1, "finished", "finished: every wave succeeded or was "
                     "accepted");
    }
    if (r->approval && !approved) {
        char name[24];
        wave_name(idx, name, sizeof(name));
        if (db__rollout_set_state(d->db, r->id, ROLLOUT_AWAITING_APPROVAL, r->current_wave,
                                  now) != 0)
            return -1;
        return event(d, r->id, now, idx, "awaiting-approval", "%s awaits approval "
                     "('mqota rollout approve %lld')", name, (long long)r->id);
    }
    int rc = start_wave(d, r, idx, now, false, err, sizeof(err));
    if (rc < 0) return -1;
    if (rc > 0) {
        char name[24];
        wave_name(idx, name, sizeof(name));
        if (db__rollout_set_state(d->db, r->id, ROLLOUT_PAUSED, r->current_wave, now) != 0) return -1;
        return event(d, r->id, now, idx, "paused", "paused: %s could not start: %s", name, err);
    }
    return 0;
}

/*
 * How a wave's deadline is counted at now: deadline_s from each device's offer; with a
 * maintenance window (docs/ROLLOUTS.md "Maintenance window") only while the window is open
 * (closed: nobody expires, devices wait for it by design), and from no earlier than `from`,
 * the latest of the window's opening and the wave's last activation.
 */
typedef struct {
    int64_t now;
    uint32_t deadline_s;
    int64_t from;   /* 0: no window */
    bool closed;    /* the rollout's window is closed at now */
} deadline_t;

/*
 * The deadline of wave idx of rollout r at now. With a window, activate_in_window() ran just
 * before: a window found open (after a restart or a jump of the clock) activates first, and
 * the deadline runs from then. 0, or -1 on a database error.
 */
static int deadline_of(mqotad_t *d, const db_rollout_t *r, int idx, int64_t now, deadline_t *out)
{
    rollout_window_t win;
    memset(out, 0, sizeof(*out));
    out->now = now;
    out->deadline_s = r->deadline_s;
    if (window_of(d, r->id, &win) != 0) return -1;
    if (!win.set) return 0;
    int64_t activated = 0;
    if (db__rollout_event_last(d->db, r->id, idx, "window-activated", &activated) != 0)
        return -1;
    out->closed = !rollout_plan__window_open(&win, now);
    out->from = rollout_plan__window_opened_at(&win, now);
    if (activated > out->from) out->from = activated;
    return 0;
}

/* Whether a device offered at offered_at (0: not yet) with a target in state (NULL: none) is
 * past its deadline dl: offered, not finished (pending, active, or ready: holding the release),
 * deadline_s gone by since the offer (or since dl->from, if later), the window not closed. */
static bool past_deadline(const deadline_t *dl, const target_state_t *state, int64_t offered_at)
{
    if (!state || offered_at <= 0 || dl->closed) return false;
    switch (*state) {
    case TARGET_PENDING:
    case TARGET_ACTIVE:
    case TARGET_READY:
        break;
    case TARGET_SUCCEEDED:
    case TARGET_FAILED:
    case TARGET_SUPERSEDED:
    case TARGET_CANCELLED:
        return false;
    }
    int64_t from = offered_at > dl->from ? offered_at : dl->from;
    return dl->now >= from + (int64_t)dl->deadline_s;
}

typedef struct {
    mqotad_t *d;
    int64_t rollout_id;
    int wave;
    deadline_t dl;
    int rc;
} expiry_ctx_t;

static int log_expiry(void *ctx, const char *device_id, const target_state_t *state,
                      int64_t offered_at)
{
    expiry_ctx_t *c = ctx;
    if (!past_deadline(&c->dl, state, offered_at)) return 0;
    c->rc = event(c->d, c->rollout_id, c->dl.now, c->wave, "deadline-expired", "device %s did "
                  "not finish within the deadline (%u s, target %s): counted as failed",
                  device_id, c->dl.deadline_s, state__target_name(*state));
    return c->rc != 0;
}

/*
 * Judge the running wave of rollout r now, from its deployment's persisted counts; act on the
 * decision in one transaction. Returns 0 (decided or waiting), -1 on a database error
 * (nothing changed; the next tick tries again).
 */
typedef struct {
    deadline_t dl;
    uint32_t confirmed, failed, expired, unfinished, cancelled;
} judge_ctx_t;

/* Count one device of a wave by its latest target: confirmed, failed (or superseded),
 * silent past its deadline, cancelled (finished, neither confirmed nor failed), or unfinished
 * (offered and within it, holding the release until the window, or not offered yet). */
static int judge_device(void *ctx, const char *device_id, const target_state_t *state,
                        int64_t offered_at)
{
    judge_ctx_t *c = ctx;
    (void)device_id;
    if (past_deadline(&c->dl, state, offered_at)) c->expired++;
    else if (!state || *state == TARGET_PENDING || *state == TARGET_ACTIVE ||
             *state == TARGET_READY)
        c->unfinished++;
    else if (*state == TARGET_SUCCEEDED) c->confirmed++;
    else if (*state == TARGET_CANCELLED) c->cancelled++;
    else c->failed++;
    return 0;
}

/*
 * A paced rollout's running wave: offer what the cap and the jitter allow now, in its own
 * transaction. A wave whose offer deploy__create() refuses pauses the rollout with its
 * sentence. 0, or -1 on a database error.
 */
static int pace(mqotad_t *d, const db_rollout_t *r, db_rollout_wave_t *w, int64_t now)
{
    db_rollout_opts_t o;
    char err[400], name[24];
    if (db__rollout_opts_get(d->db, r->id, &o) != 0) return -1;
    if (!paced(&o)) return 0;
    if (db__begin(d->db) != 0) return -1;
    int rc = fill_wave(d, r, &o, w, now, err, sizeof(err));
    if (rc > 0) {
        wave_name(w->idx, name, sizeof(name));
        rc = db__rollout_set_state(d->db, r->id, ROLLOUT_PAUSED, w->idx, now) != 0 ||
             event(d, r->id, now, w->idx, "paused", "paused: %s's next offers could not be "
                   "made: %s", name, err) != 0 ? -1 : 0;
    }
    if (rc != 0 || db__commit(d->db) != 0) {
        db__rollback(d->db);
        return -1;
    }
    return 0;
}

static int evaluate(mqotad_t *d, const db_rollout_t *r, int64_t now)
{
    db_rollout_wave_t w;
    char name[24];
    if (db__rollout_wave_get(d->db, r->id, r->current_wave, &w) != 0) return -1;
    if (w.state != WAVE_RUNNING) return 0;
    if (pace(d, r, &w, now) != 0) return -1;
    deadline_t dl;
    if (deadline_of(d, r, w.idx, now, &dl) != 0) return -1;
    judge_ctx_t c = {dl, 0, 0, 0, 0, 0};
    if (db__rollout_wave_targets(d->db, r->id, w.idx, judge_device, &c) != 0) return -1;
    /* The health gate's correction (docs/ROLLOUTS.md "Health gate"): of the confirmed devices,
     * those that crashed too often are failed and those still watched are not yet confirmed. */
    db_counts_t gate = {0};
    uint32_t watching;
    if (health_gate(d, r, w.idx, now, false, &gate, &watching) != 0) return -1;
    uint32_t crashed = (uint32_t)gate.failed;
    bool expired = c.expired > 0;
    uint32_t failed = c.failed + c.expired + crashed;
    uint32_t confirmed = c.confirmed - crashed - watching;
    rollout_plan_t p = {0};
    p.success_percent = r->success_percent;
    p.error_percent = r->error_percent;
    rollout_decision_t dec = rollout_plan__decide(&p, w.size, confirmed, failed,
                                                  c.unfinished + watching);
    if (dec == ROLLOUT_WAIT) return 0;

    wave_name(w.idx, name, sizeof(name));
    if (db__begin(d->db) != 0) return -1;
    if (expired) {
        expiry_ctx_t x = {d, r->id, w.idx, dl, 0};
        if (db__rollout_wave_targets(d->db, r->id, w.idx, log_expiry, &x) != 0 || x.rc != 0)
            goto db_err;
    }
    if (dec != ROLLOUT_ADVANCE && health_gate(d, r, w.idx, now, true, NULL, &watching) != 0)
        goto db_err;
    w.finished_at = now;
    if (dec == ROLLOUT_ADVANCE) {
        w.state = WAVE_SUCCEEDED;
        if (db__rollout_wave_set(d->db, &w) != 0 ||
            event(d, r->id, now, w.idx, "wave-succeeded", "%s succeeded: %u of %u confirmed "
                  "(success threshold %u %%), %u failed", name, confirmed, w.size,
                  r->success_percent, failed) != 0 ||
            next_wave(d, r, now, false) != 0)
            goto db_err;
    } else {
        rollout_state_t to_state = r->abort_on_error ? ROLLOUT_ABORTED : ROLLOUT_PAUSED;
        const char *to = state__rollout_name(to_state);
        char withdrawn[32] = ""; /* devices whose deployment was cancelled, if any */
        if (c.cancelled) snprintf(withdrawn, sizeof(withdrawn), ", %u cancelled", c.cancelled);
        w.state = WAVE_FAILED;
        if (db__rollout_wave_set(d->db, &w) != 0 ||
            db__rollout_set_state(d->db, r->id, to_state, w.idx, now) != 0)
            goto db_err;
        int rc = dec == ROLLOUT_FAIL_ERRORS
            ? event(d, r->id, now, w.idx, "wave-failed", "%s failed: %u of %u failed (error "
                    "threshold %u %%), %u confirmed; rollout %s", name, failed, w.size,
                    r->error_percent, confirmed, to)
            : event(d, r->id, now, w.idx, "wave-failed", "%s failed: every device finished "
                    "but only %u of %u confirmed (success threshold %u %%)%s; rollout %s", name,
                    confirmed, w.size, r->success_percent, withdrawn, to);
        if (rc != 0) goto db_err;
        if (r->abort_on_error) {
            char why[80];
            snprintf(why, sizeof(why), "the rollout aborted itself when the %s failed", name);
            if (cancel_rollout(d, r, now, why) != 0) goto db_err;
        }
    }
    if (db__commit(d->db) != 0) goto db_err;
    return 0;
db_err:
    db__rollback(d->db);
    return -1;
}

/* ---- cancelling: an abort withdraws the offers still out (docs/ROLLOUTS.md "Cancelling") ---- */

typedef struct {
    mqotad_t *d;
    int64_t rollout_id, now;
    int wave;
    const char *why; /* the cause, for the history: "the rollout was aborted by the operator" */
    int cancelled, kept;
} cancel_ctx_t;

/* deploy_cancel_cb_t: one event for each target of the rollout deploy__cancel() looked at,
 * cancelled or left to finish, with the cause. Inside the cancel's transaction. */
static int record_cancel(void *ctx, const db_target_t *t, const db_device_t *dev,
                         bool cancelled)
{
    cancel_ctx_t *c = ctx;
    char name[24], at[40] = "";
    wave_name(c->wave, name, sizeof(name));
    if (!cancelled) {
        c->kept++;
        bool runs = dev && dev->running_release == (uint32_t)t->release_id;
        return event(c->d, c->rollout_id, c->now, c->wave, "device-not-cancelled", "device %s "
                     "of the %s not cancelled: it already %s the release (device %s); its "
                     "update finishes (%s)", t->device_id, name, runs ? "runs" : "reboots into",
                     dev ? mqota_state_name((mqota_update_state_t)dev->state) : "?", c->why);
    }
    c->cancelled++;
    if (dev && dev->image_size && dev->target_release == (uint32_t)t->release_id)
        snprintf(at, sizeof(at), ", %u %% downloaded",
                 (unsigned)((uint64_t)dev->progress * 100u / dev->image_size));
    return event(c->d, c->rollout_id, c->now, c->wave, "device-cancelled", "device %s of the %s "
                 "cancelled (target %s%s): %s; its offer was withdrawn", t->device_id, name,
                 state__target_name(t->state), at, c->why);
}

/*
 * Cancel every running deployment of rollout r's waves (deploy__cancel(): offers withdrawn,
 * transfers dropped), each device in the history with why; inside the caller's transaction.
 * 0, or -1 on a database error.
 */
static int cancel_rollout(mqotad_t *d, const db_rollout_t *r, int64_t now, const char *why)
{
    cancel_ctx_t c = {d, r->id, now, 0, why, 0, 0};
    char err[300];
    for (int wave = 0; wave < r->n_waves; wave++) {
        dep_ids_t deps = {0};
        if (db__rollout_wave_deployments(d->db, r->id, wave, push_dep_id, &deps) != 0 ||
            deps.failed) {
            free(deps.ids);
            return -1;
        }
        c.wave = wave;
        for (size_t i = 0; i < deps.n; i++) {
            int n = 0, k = 0;
            int rc = deploy__cancel(d, deps.ids[i], "rollout-aborted", record_cancel, &c, &n, &k,
                                    err, sizeof(err));
            if (rc == 409) continue; /* that deployment ended already */
            if (rc != 0) {
                mqh_log(MQH_WARN, "rollout %lld: %s", (long long)r->id, err);
                free(deps.ids);
                return -1;
            }
        }
        free(deps.ids);
    }
    if (c.cancelled == 0 && c.kept == 0) return 0;
    return event(d, r->id, now, -1, "cancelled", "%d device%s cancelled, %d left to finish: %s",
                 c.cancelled, c.cancelled == 1 ? "" : "s", c.kept, why);
}

int rollout__cancel_deployment(mqotad_t *d, int64_t deployment_id, int *cancelled, int *kept,
                               char *err, size_t err_cap)
{
    int64_t rollout_id = 0;
    int wave = 0;
    int rc = db__rollout_of_deployment(d->db, deployment_id, &rollout_id, &wave);
    if (rc < 0) {
        snprintf(err, err_cap, "database error while reading deployment %lld; nothing changed",
                 (long long)deployment_id);
        return 500;
    }
    if (rc == 1) /* not a rollout's */
        return deploy__cancel(d, deployment_id, "operator", NULL, NULL, cancelled, kept, err,
                              err_cap);
    char why[80];
    snprintf(why, sizeof(why), "deployment %lld was cancelled by the operator",
             (long long)deployment_id);
    int64_t now = clock__now();
    cancel_ctx_t c = {d, rollout_id, now, wave, why, 0, 0};
    if (db__begin(d->db) != 0) {
        snprintf(err, err_cap, "database error while cancelling deployment %lld; nothing "
                 "changed", (long long)deployment_id);
        return 500;
    }
    int st = deploy__cancel(d, deployment_id, "operator", record_cancel, &c, cancelled, kept,
                            err, err_cap);
    if (st == 0 && event(d, rollout_id, now, wave, "cancelled", "%d device%s cancelled, %d left "
                         "to finish: %s", *cancelled, *cancelled == 1 ? "" : "s", *kept,
                         why) != 0)
        st = 500;
    if (st != 0 || db__commit(d->db) != 0) {
        db__rollback(d->db);
        if (st == 0 || st == 500)
            snprintf(err, err_cap, "database error while cancelling deployment %lld; nothing "
                     "changed", (long long)deployment_id);
        return st ? st : 500;
    }
    return 0;
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
    bool running = out->state == ROLLOUT_RUNNING, paused = out->state == ROLLOUT_PAUSED;
    bool awaiting = out->state == ROLLOUT_AWAITING_APPROVAL;
    bool scheduled = out->state == ROLLOUT_SCHEDULED;
    /* which states each action applies to, and the words of the refusal */
    static const char *const may[] = {"a running", "a paused", "a running, paused, "
                                      "awaiting-approval or scheduled", "an awaiting-approval",
                                      "a paused"};
    static const char *const done[] = {"paused", "resumed", "aborted", "approved", "retried"};
    if ((action == ROLLOUT_PAUSE && !running) || (action == ROLLOUT_RESUME && !paused) ||
        (action == ROLLOUT_ABORT && !running && !paused && !awaiting && !scheduled) ||
        (action == ROLLOUT_APPROVE && !awaiting) || (action == ROLLOUT_RETRY && !paused)) {
        snprintf(err, err_cap, "rollout %lld is %s; only %s rollout can be %s", (long long)id,
                 state__rollout_name(out->state), may[action], done[action]);
        return 409;
    }
    int64_t now = clock__now();
    db_rollout_wave_t w;
    if (db__begin(d->db) != 0) goto db_err_out;
    if (action == ROLLOUT_RETRY) {
        char name[24];
        wave_name(out->current_wave, name, sizeof(name));
        if (db__rollout_wave_get(d->db, id, out->current_wave, &w) != 0) goto db_err;
        if (w.state != WAVE_FAILED) {
            db__rollback(d->db);
            snprintf(err, err_cap, "rollout %lld's %s is %s, not failed; only a failed wave can "
                     "be retried (resume a rollout paused by the operator)", (long long)id, name,
                     state__wave_name(w.state));
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
        if (db__rollout_set_state(d->db, id, ROLLOUT_RUNNING, out->current_wave, now) != 0 ||
            event(d, id, now, out->current_wave + 1, "approved", "approved by the operator: "
                  "%s starts", name) != 0 ||
            next_wave(d, out, now, true) != 0)
            goto db_err;
    } else if (action == ROLLOUT_RESUME) {
        if (db__rollout_wave_get(d->db, id, out->current_wave, &w) != 0 ||
            db__rollout_set_state(d->db, id, ROLLOUT_RUNNING, out->current_wave, now) != 0)
            goto db_err;
        char name[24];
        wave_name(w.idx, name, sizeof(name));
        if (w.state == WAVE_FAILED) {
            if (event(d, id, now, w.idx, "resumed", "resumed by the operator: the failed %s "
                      "is accepted", name) != 0 ||
                next_wave(d, out, now, true) != 0) /* resuming is the operator's decision */
                goto db_err;
        } else if (event(d, id, now, -1, "resumed", "resumed by the operator") != 0) {
            goto db_err;
        }
    } else {
        rollout_state_t to_state = action == ROLLOUT_PAUSE ? ROLLOUT_PAUSED : ROLLOUT_ABORTED;
        const char *to = state__rollout_name(to_state);
        if (db__rollout_set_state(d->db, id, to_state, out->current_wave, now) != 0 ||
            event(d, id, now, -1, to, "%s by the operator%s", to,
                  action == ROLLOUT_ABORT ? "; no further wave starts, and the offers still "
                  "out are withdrawn" : "; the running wave's deployment goes on, no new wave "
                  "starts") != 0)
            goto db_err;
        if (action == ROLLOUT_ABORT &&
            cancel_rollout(d, out, now, "the rollout was aborted by the operator") != 0)
            goto db_err;
    }
    if (db__commit(d->db) != 0) goto db_err;
    if (db__rollout_get(d->db, id, out) != 0) goto db_err_out;
    mqh_log(MQH_INFO, "rollout %lld: %s done, now %s", (long long)id, verbs[action],
            state__rollout_name(out->state));
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

/*
 * A rollout with a maintenance window: while the window is open, activate every target of the
 * running wave's deployments that holds the verified release (state ready), so that its device
 * reboots into it now; the history says how many and why. Outside the window, or without one,
 * nothing. Targets still downloading are activated on a later tick once they are ready, and
 * only if the window is still open then. 0, or -1 on a database error.
 */
static int activate_in_window(mqotad_t *d, const db_rollout_t *r, int64_t now)
{
    rollout_window_t win;
    db_rollout_wave_t w;
    char err[300], name[24], text[16];
    int n = 0;
    if (window_of(d, r->id, &win) != 0) return -1;
    if (!win.set || !rollout_plan__window_open(&win, now)) return 0;
    if (db__rollout_wave_get(d->db, r->id, r->current_wave, &w) != 0) return -1;
    if (w.state != WAVE_RUNNING || !w.deployment_id) return 0;
    /* every deployment the wave made (a retry, or offers paced over several deployments) */
    dep_ids_t deps = {0};
    if (db__rollout_wave_deployments(d->db, r->id, w.idx, push_dep_id, &deps) != 0 ||
        deps.failed) {
        free(deps.ids);
        return -1;
    }
    for (size_t i = 0; i < deps.n; i++) {
        int one = 0;
        int rc = deploy__activate(d, deps.ids[i], NULL, 0, true, &one, err, sizeof(err));
        if (rc == 409) continue; /* that deployment finished */
        if (rc != 0) {
            mqh_log(MQH_WARN, "rollout %lld: %s", (long long)r->id, err);
            free(deps.ids);
            return -1;
        }
        n += one;
    }
    free(deps.ids);
    if (n == 0) return 0;
    wave_name(w.idx, name, sizeof(name));
    rollout_plan__window_text(&win, text, sizeof(text));
    if (db__begin(d->db) != 0) return -1;
    if (event(d, r->id, now, w.idx, "window-activated", "%s: %d device%s holding the release "
              "activated: the maintenance window %s UTC is open", name, n, n == 1 ? "" : "s",
              text) != 0 ||
        db__commit(d->db) != 0) {
        db__rollback(d->db);
        return -1;
    }
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
    static uint64_t last_join_ms;
    if (!poked && last_ms && now_ms - last_ms < ROLLOUT_TICK_MS) return;
    /* continuous rollouts select their filter again once per ROLLOUT_TICK_MS, not per poke */
    bool join = !last_join_ms || now_ms - last_join_ms >= ROLLOUT_TICK_MS;
    if (join) last_join_ms = now_ms;
    last_ms = now_ms;
    poked = false;
    rollout_vec_t v = {0};
    if (db__rollout_running(d->db, push_rollout, &v) != 0) goto out;
    int64_t now = clock__now();
    start_scheduled(d, now);
    for (size_t i = 0; join && i < v.n; i++)
        if (join_devices(d, &v.items[i], now) != 0)
            mqh_log(MQH_WARN, "rollout %lld: database error while taking devices that match "
                    "later; trying again in %d ms", (long long)v.items[i].id, ROLLOUT_TICK_MS);
    for (size_t i = 0; i < v.n; i++)
        if (activate_in_window(d, &v.items[i], now) != 0 || evaluate(d, &v.items[i], now) != 0)
            mqh_log(MQH_WARN, "rollout %lld: database error while judging its wave; trying "
                    "again in %d ms", (long long)v.items[i].id, ROLLOUT_TICK_MS);
out:
    free(v.items);
}
