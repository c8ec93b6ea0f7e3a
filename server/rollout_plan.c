/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rollout_plan.c - the pure parts of rollouts: the POST /api/v1/rollouts body judged member by
 * member (one sentence per refusal, saying which member and what to write instead), the
 * sizes of the canary and waves, and the decision a wave's counts call for. No I/O.
 */
#include "rollout_plan.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "api_parse.h"

#define PLAN_SHAPE "the body must be a JSON object such as {\"release\": 2, \"filter\": " \
    "\"group=lab\", \"canary\": 1, \"waves\": [\"50%\", \"100%\"]} (docs/ROLLOUTS.md)"

/*
 * One stage size: a whole number >= 1 (a count) or a string "P%" with P in 1..100. what names
 * the member in sentences ("\"canary\"", "wave 2"). 0, or 400 with err set.
 */
static int parse_size(const cJSON *v, const char *what, rollout_size_t *out, char *err,
                      size_t cap)
{
    if (cJSON_IsNumber(v)) {
        if (v->valuedouble < 1 || v->valuedouble > 1e9) {
            snprintf(err, cap, "%s must be a device count from 1 to 1000000000 or a percent "
                     "such as \"10%%\"", what);
            return 400;
        }
        out->percent = false;
        out->value = (uint32_t)v->valuedouble;
        return 0;
    }
    if (cJSON_IsString(v)) {
        const char *s = v->valuestring;
        size_t n = strlen(s);
        uint32_t p = 0;
        bool ok = n >= 2 && n <= 4 && s[n - 1] == '%';
        for (size_t i = 0; ok && i + 1 < n; i++) {
            ok = s[i] >= '0' && s[i] <= '9' && !(i == 0 && s[i] == '0');
            p = p * 10u + (uint32_t)(s[i] - '0');
        }
        if (ok && p >= 1 && p <= 100) {
            out->percent = true;
            out->value = p;
            return 0;
        }
    }
    snprintf(err, cap, "%s must be a device count (1, 2, ...) or a percent from \"1%%\" to "
             "\"100%%\" of the selected devices", what);
    return 400;
}

/* An optional whole-number member in lo..hi, def when absent. 0, or 400 with err set. */
static int parse_int(const cJSON *body, const char *name, uint32_t lo, uint32_t hi,
                     uint32_t def, const char *meaning, uint32_t *out, char *err, size_t cap)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, name);
    *out = def;
    if (!v) return 0;
    if (!cJSON_IsNumber(v) || v->valuedouble < lo || v->valuedouble > hi) {
        snprintf(err, cap, "\"%s\" must be a whole number from %u to %u (%s)", name, lo, hi,
                 meaning);
        return 400;
    }
    *out = (uint32_t)v->valuedouble;
    return 0;
}

/*
 * The optional health gate: {"crashes": N, "within_s": T}, both required, nothing else (docs/
 * ROLLOUTS.md "Health gate"). 0, or 400 with err set.
 */
static int parse_health(const cJSON *body, rollout_plan_t *p, char *err, size_t cap)
{
    static const char shape[] = "\"health\" must be an object {\"crashes\": N, \"within_s\": T}: "
                                "a confirmed device with more than N resets by panic or watchdog "
                                "within T seconds of confirming counts as failed";
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, "health");
    const cJSON *it;
    int rc;
    if (!v) return 0;
    if (!cJSON_IsObject(v)) {
        snprintf(err, cap, "%s", shape);
        return 400;
    }
    cJSON_ArrayForEach(it, v)
    {
        if (strcmp(it->string, "crashes") != 0 && strcmp(it->string, "within_s") != 0) {
            snprintf(err, cap, "unknown member \"%.40s\" in \"health\"; it has \"crashes\" and "
                     "\"within_s\"", it->string);
            return 400;
        }
    }
    if (!cJSON_GetObjectItemCaseSensitive(v, "crashes") ||
        !cJSON_GetObjectItemCaseSensitive(v, "within_s")) {
        snprintf(err, cap, "%s", shape);
        return 400;
    }
    if ((rc = parse_int(v, "crashes", 0, ROLLOUT_HEALTH_CRASHES_MAX, 0,
                        "crash resets a confirmed device may have; 0 fails it at the first",
                        &p->health_crashes, err, cap)) != 0 ||
        (rc = parse_int(v, "within_s", 1, ROLLOUT_DEADLINE_MAX_S, 0,
                        "seconds after a device's confirm in which its crash resets count",
                        &p->health_within_s, err, cap)) != 0)
        return rc;
    p->health = true;
    return 0;
}

static int parse_members(const cJSON *body, rollout_plan_t *p, char *err, size_t cap)
{
    static const char *const known[] = {"release", "filter", "canary", "waves",
                                        "success_percent", "error_percent", "deadline_s",
                                        "on_error", "approval", "health"};
    const cJSON *it;
    cJSON_ArrayForEach(it, body)
    {
        bool ok = false;
        for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
            ok = ok || strcmp(it->string, known[i]) == 0;
        if (!ok) {
            snprintf(err, cap, "unknown member \"%.40s\"; a rollout has \"release\", \"filter\", "
                     "\"canary\", \"waves\", \"success_percent\", \"error_percent\", "
                     "\"deadline_s\", \"on_error\", \"approval\" and \"health\"", it->string);
            return 400;
        }
    }
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, "release");
    if (!cJSON_IsNumber(v) || v->valuedouble < 1) {
        snprintf(err, cap, "\"release\" must be a release id (a positive whole number); see "
                 "'mqota release list'");
        return 400;
    }
    p->release_id = (int64_t)v->valuedouble;
    v = cJSON_GetObjectItemCaseSensitive(body, "filter");
    if (!cJSON_IsString(v) || !v->valuestring[0]) {
        snprintf(err, cap, "\"filter\" must be a non-empty filter expression such as "
                 "\"group=lab\" (docs/API.md \"Filters\"); to take every device of the "
                 "release's chip write \"online=true|false\"");
        return 400;
    }
    if (strlen(v->valuestring) > ROLLOUT_FILTER_MAX) {
        snprintf(err, cap, "\"filter\" is longer than %d bytes", ROLLOUT_FILTER_MAX);
        return 400;
    }
    snprintf(p->filter, sizeof(p->filter), "%s", v->valuestring);
    v = cJSON_GetObjectItemCaseSensitive(body, "canary");
    if (!v) {
        snprintf(err, cap, "\"canary\" is missing: give the first stage's size, a count such "
                 "as 1 or a percent such as \"5%%\"");
        return 400;
    }
    int rc = parse_size(v, "\"canary\"", &p->stages[0], err, cap);
    if (rc) return rc;
    v = cJSON_GetObjectItemCaseSensitive(body, "waves");
    int n = cJSON_IsArray(v) ? cJSON_GetArraySize(v) : -1;
    if (n < 1 || n > ROLLOUT_WAVES_MAX) {
        snprintf(err, cap, "\"waves\" must be an array of 1 to %d wave sizes after the canary, "
                 "such as [\"50%%\", \"100%%\"]", ROLLOUT_WAVES_MAX);
        return 400;
    }
    p->n_stages = 1;
    cJSON_ArrayForEach(it, v)
    {
        char what[24];
        snprintf(what, sizeof(what), "wave %zu", p->n_stages);
        if ((rc = parse_size(it, what, &p->stages[p->n_stages], err, cap)) != 0) return rc;
        p->n_stages++;
    }
    if ((rc = parse_int(body, "success_percent", 1, 100, 100,
                        "the share of a wave's devices that must confirm the release",
                        &p->success_percent, err, cap)) != 0 ||
        (rc = parse_int(body, "error_percent", 0, 100, 0,
                        "the share of a wave's devices that may fail; 0 stops at the first",
                        &p->error_percent, err, cap)) != 0 ||
        (rc = parse_int(body, "deadline_s", 1, ROLLOUT_DEADLINE_MAX_S,
                        ROLLOUT_DEADLINE_DEFAULT_S,
                        "seconds after a wave's start when a silent device counts as failed",
                        &p->deadline_s, err, cap)) != 0)
        return rc;
    v = cJSON_GetObjectItemCaseSensitive(body, "on_error");
    if (v && !(cJSON_IsString(v) && (strcmp(v->valuestring, "pause") == 0 ||
                                     strcmp(v->valuestring, "abort") == 0))) {
        snprintf(err, cap, "\"on_error\" must be \"pause\" or \"abort\" (what a failed wave "
                 "does to the rollout)");
        return 400;
    }
    p->abort_on_error = v && strcmp(v->valuestring, "abort") == 0;
    v = cJSON_GetObjectItemCaseSensitive(body, "approval");
    if (v && !cJSON_IsBool(v)) {
        snprintf(err, cap, "\"approval\" must be true or false (whether each wave after the "
                 "canary waits for 'mqota rollout approve')");
        return 400;
    }
    p->approval = cJSON_IsTrue(v);
    return parse_health(body, p, err, cap);
}

int rollout_plan__parse(const uint8_t *body, size_t len, rollout_plan_t *out, char *err,
                        size_t err_cap)
{
    cJSON *j = NULL;
    memset(out, 0, sizeof(*out));
    int rc = api_parse__json(body, len, PLAN_SHAPE, &j, err, err_cap);
    if (rc != 0) return rc;
    rc = parse_members(j, out, err, err_cap);
    cJSON_Delete(j);
    if (rc != 0) memset(out, 0, sizeof(*out));
    return rc;
}

void rollout_plan__size_text(const rollout_size_t *s, char *out, size_t cap)
{
    snprintf(out, cap, "%u%s", s->value, s->percent ? "%" : "");
}

/* The name of stage i in sentences: "the canary", "wave 2". */
static void stage_name(size_t i, char *out, size_t cap)
{
    if (i == 0) snprintf(out, cap, "the canary");
    else snprintf(out, cap, "wave %zu", i);
}

int rollout_plan__sizes(const rollout_plan_t *p, uint32_t n, uint32_t *sizes, char *err,
                        size_t err_cap)
{
    uint32_t taken = 0;
    char name[32]; /* "wave " and a size_t in decimal */
    for (size_t i = 0; i < p->n_stages; i++) {
        const rollout_size_t *s = &p->stages[i];
        uint64_t want = s->percent ? ((uint64_t)s->value * n + 99u) / 100u : s->value;
        if (want < 1) want = 1;
        stage_name(i, name, sizeof(name));
        if (taken >= n) {
            snprintf(err, err_cap, "%s gets no device: the stages before it take all %u "
                     "devices the filter selects; remove it or make the earlier ones smaller",
                     name, n);
            return 400;
        }
        if (want > n - taken) {
            if (i + 1 < p->n_stages) {
                snprintf(err, err_cap, "%s wants %llu devices but only %u of the %u selected "
                         "are left for it, and stages follow it; make it smaller", name,
                         (unsigned long long)want, n - taken, n);
                return 400;
            }
            want = n - taken; /* the last stage takes the rest */
        }
        sizes[i] = (uint32_t)want;
        taken += (uint32_t)want;
    }
    if (taken < n) {
        snprintf(err, err_cap, "the plan takes %u of the %u devices the filter selects and "
                 "leaves %u out; make the last wave \"100%%\" to take everyone left", taken, n,
                 n - taken);
        return 400;
    }
    return 0;
}

rollout_decision_t rollout_plan__decide(const rollout_plan_t *p, uint32_t size,
                                        uint32_t confirmed, uint32_t failed,
                                        uint32_t unfinished)
{
    if ((uint64_t)failed * 100u > (uint64_t)p->error_percent * size) return ROLLOUT_FAIL_ERRORS;
    if ((uint64_t)confirmed * 100u >= (uint64_t)p->success_percent * size) return ROLLOUT_ADVANCE;
    if (unfinished == 0) return ROLLOUT_FAIL_SHORT;
    return ROLLOUT_WAIT;
}
