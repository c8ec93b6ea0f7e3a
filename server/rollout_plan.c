/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rollout_plan.c - the pure parts of rollouts: the POST /api/v1/rollouts body judged member by
 * member (one sentence per refusal, saying which member and what to write instead), the
 * sizes of the canary and waves, and the decision a wave's counts call for. No I/O.
 */
#include "rollout_plan.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
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

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (H. Hinnant's
 * days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

int rollout_plan__parse_utc(const char *text, int64_t *out)
{
    static const unsigned mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    unsigned y, mo, d, h, mi, sec;
    char z = 0, extra = 0;
    if (strlen(text) != 20 ||
        sscanf(text, "%4u-%2u-%2uT%2u:%2u:%2u%c%c", &y, &mo, &d, &h, &mi, &sec, &z, &extra) != 7 ||
        z != 'Z' || text[4] != '-' || text[7] != '-' || text[13] != ':' || text[16] != ':')
        return -1;
    for (size_t i = 0; i < 19; i++)
        if (i != 4 && i != 7 && i != 10 && i != 13 && i != 16 && (text[i] < '0' || text[i] > '9'))
            return -1;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
        (mo == 2 && d == 29 && !leap) || h > 23 || mi > 59 || sec > 59)
        return -1;
    *out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
    return 0;
}

uint32_t rollout_plan__jitter_ms(int64_t rollout_id, const char *device_id, uint32_t jitter_s)
{
    if (jitter_s == 0) return 0;
    uint64_t h = 14695981039346656037ull; /* FNV-1a offset basis */
    for (int i = 0; i < 8; i++) {
        h ^= (uint8_t)((uint64_t)rollout_id >> (8 * i));
        h *= 1099511628211ull; /* FNV prime */
    }
    for (const char *c = device_id; *c; c++) {
        h ^= (uint8_t)*c;
        h *= 1099511628211ull;
    }
    return (uint32_t)(h % ((uint64_t)jitter_s * 1000u));
}

/* "max_transfers", "jitter_s" and "start_at". 0, or 400 with err set. */
static int parse_pacing(const cJSON *body, rollout_plan_t *p, char *err, size_t cap)
{
    int rc;
    if ((rc = parse_int(body, "max_transfers", 0, ROLLOUT_MAX_TRANSFERS_MAX, 0,
                        "the most devices transferring the release at once across the "
                        "rollout; 0 for no cap", &p->max_transfers, err, cap)) != 0 ||
        (rc = parse_int(body, "jitter_s", 0, ROLLOUT_JITTER_MAX_S, 0,
                        "seconds over which a wave's offers are spread; 0 offers at once",
                        &p->jitter_s, err, cap)) != 0)
        return rc;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, "start_at");
    if (!v) return 0;
    if (cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= ROLLOUT_START_AT_MAX &&
        v->valuedouble == (double)(int64_t)v->valuedouble) {
        p->start_at = (int64_t)v->valuedouble;
        return 0;
    }
    if (cJSON_IsString(v) && rollout_plan__parse_utc(v->valuestring, &p->start_at) == 0)
        return 0;
    snprintf(err, cap, "\"start_at\" must be a UTC time such as \"2026-12-24T02:00:00Z\" or "
             "Unix seconds (when the canary starts; a past time starts it at once)");
    return 400;
}

/* "from_versions", "failure_budget" and "continuous". 0, or 400 with err set. */
static int parse_eligibility(const cJSON *body, rollout_plan_t *p, char *err, size_t cap)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, "from_versions"), *it;
    if (v) {
        int n = cJSON_IsArray(v) ? cJSON_GetArraySize(v) : -1;
        bool ok = n >= 1 && n <= ROLLOUT_FROM_VERSIONS_MAX;
        cJSON_ArrayForEach(it, v)
        {
            ok = ok && cJSON_IsString(it) && it->valuestring[0] &&
                 strlen(it->valuestring) <= ROLLOUT_VERSION_MAX;
            if (ok) snprintf(p->from_versions[p->n_from_versions++], ROLLOUT_VERSION_MAX + 1,
                             "%s", it->valuestring);
        }
        if (!ok) {
            snprintf(err, cap, "\"from_versions\" must be an array of 1 to %d versions (non-empty "
                     "strings of at most %d bytes) such as [\"1.0.3\", \"1.0.4\"]: the versions a "
                     "device must run to be taken", ROLLOUT_FROM_VERSIONS_MAX, ROLLOUT_VERSION_MAX);
            return 400;
        }
    }
    int rc = parse_int(body, "failure_budget", 0, ROLLOUT_FAILURE_BUDGET_MAX, 0,
                       "how many failures of the release make a device skipped until "
                       "'mqota device reset-failures'; 0 for no budget", &p->failure_budget,
                       err, cap);
    if (rc) return rc;
    v = cJSON_GetObjectItemCaseSensitive(body, "continuous");
    if (v && !cJSON_IsBool(v)) {
        snprintf(err, cap, "\"continuous\" must be true or false (whether devices that match "
                 "the filter later join the rollout)");
        return 400;
    }
    p->continuous = cJSON_IsTrue(v);
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
                                        "on_error", "approval", "max_transfers", "jitter_s",
                                        "start_at", "from_versions", "failure_budget",
                                        "continuous", "health", "window"};
    const cJSON *it;
    cJSON_ArrayForEach(it, body)
    {
        bool ok = false;
        for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
            ok = ok || strcmp(it->string, known[i]) == 0;
        if (!ok) {
            snprintf(err, cap, "unknown member \"%.40s\"; a rollout has \"release\", \"filter\", "
                     "\"canary\", \"waves\", \"success_percent\", \"error_percent\", "
                     "\"deadline_s\", \"on_error\", \"approval\", \"max_transfers\", "
                     "\"jitter_s\", \"start_at\", \"from_versions\", \"failure_budget\", "
                     "\"continuous\", \"health\" and \"window\"", it->string);
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
                        "seconds after its offer when a device not finished counts as failed",
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
    if ((rc = parse_pacing(body, p, err, cap)) != 0) return rc;
    if ((rc = parse_eligibility(body, p, err, cap)) != 0) return rc;
    if ((rc = parse_health(body, p, err, cap)) != 0) return rc;
    return rollout_plan__parse_window(cJSON_GetObjectItemCaseSensitive(body, "window"),
                                      &p->window, err, cap);
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

/* ---- maintenance windows (docs/ROLLOUTS.md "Maintenance window") ---- */

#define DAY_S 86400
#define WINDOW_SHAPE "{\"start\": \"22:00\", \"end\": \"04:00\"}"

/* "HH:MM" (two digits each, 00:00..23:59) into minutes after midnight; -1 if it is not. */
static int parse_hhmm(const cJSON *v)
{
    if (!cJSON_IsString(v)) return -1;
    const char *s = v->valuestring;
    for (int i = 0; i < 5; i++)
        if (i == 2 ? s[i] != ':' : !(s[i] >= '0' && s[i] <= '9')) return -1;
    if (s[5] != '\0') return -1;
    int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
    return h < 24 && m < 60 ? h * 60 + m : -1;
}

int rollout_plan__parse_window(const cJSON *v, rollout_window_t *out, char *err,
                               size_t err_cap)
{
    memset(out, 0, sizeof(*out));
    if (!v) return 0;
    if (!cJSON_IsObject(v)) {
        snprintf(err, err_cap, "\"window\" must be an object such as " WINDOW_SHAPE ": the "
                 "daily UTC time range in which devices may reboot into the release");
        return 400;
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, v)
    {
        if (strcmp(it->string, "start") != 0 && strcmp(it->string, "end") != 0) {
            snprintf(err, err_cap, "\"window\" has \"start\" and \"end\" only, not "
                     "\"%.40s\"", it->string);
            return 400;
        }
    }
    static const char *const names[] = {"start", "end"};
    int t[2];
    for (int i = 0; i < 2; i++) {
        t[i] = parse_hhmm(cJSON_GetObjectItemCaseSensitive(v, names[i]));
        if (t[i] < 0) {
            snprintf(err, err_cap, "\"window\" needs \"%s\" as a UTC time of day \"HH:MM\" from "
                     "\"00:00\" to \"23:59\", such as " WINDOW_SHAPE, names[i]);
            return 400;
        }
    }
    if (t[0] == t[1]) {
        snprintf(err, err_cap, "\"window\" starts and ends at %02d:%02d, which leaves no time to "
                 "reboot; give a range such as " WINDOW_SHAPE " (an end before the start "
                 "crosses midnight)", t[0] / 60, t[0] % 60);
        return 400;
    }
    out->set = true;
    out->start_min = (uint16_t)t[0];
    out->end_min = (uint16_t)t[1];
    return 0;
}

/* Minutes after 00:00 UTC of now. */
static int minute_of_day(int64_t now)
{
    return (int)(((now % DAY_S) + DAY_S) % DAY_S / 60);
}

bool rollout_plan__window_open(const rollout_window_t *w, int64_t now)
{
    if (!w->set) return true;
    int m = minute_of_day(now);
    return w->start_min < w->end_min ? m >= w->start_min && m < w->end_min
                                     : m >= w->start_min || m < w->end_min;
}

int64_t rollout_plan__window_opened_at(const rollout_window_t *w, int64_t now)
{
    int64_t day = now - (((now % DAY_S) + DAY_S) % DAY_S);
    int64_t at = day + (int64_t)w->start_min * 60;
    return at > now ? at - DAY_S : at;
}

void rollout_plan__window_text(const rollout_window_t *w, char *out, size_t cap)
{
    snprintf(out, cap, "%02u:%02u-%02u:%02u", w->start_min / 60u, w->start_min % 60u,
             w->end_min / 60u, w->end_min % 60u);
}
