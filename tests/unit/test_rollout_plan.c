/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_rollout_plan.c - the pure parts of rollouts (server/rollout_plan.c): plan bodies
 * accepted with their defaults, every refusal with its sentence, stage sizes from counts and
 * percents (rounding up, the last stage clamped, plans that do not fit refused), and the
 * threshold decisions at their edges. Also db.c's nested transactions, on a real SQLite file,
 * which a rollout relies on to create a wave's deployment inside the wave's transaction.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "db.h"
#include "rollout_plan.h"

static int parse(const char *body, rollout_plan_t *p, char *err, size_t cap)
{
    err[0] = '\0';
    return rollout_plan__parse((const uint8_t *)body, strlen(body), p, err, cap);
}

static void test_parse_defaults(void **state)
{
    rollout_plan_t p;
    char err[600];
    (void)state;
    assert_int_equal(parse("{\"release\": 2, \"filter\": \"group=lab\", \"canary\": 1,"
                           " \"waves\": [\"50%\", 3, \"100%\"]}", &p, err, sizeof err), 0);
    assert_int_equal(p.release_id, 2);
    assert_string_equal(p.filter, "group=lab");
    assert_int_equal(p.n_stages, 4);
    assert_false(p.stages[0].percent);
    assert_int_equal(p.stages[0].value, 1);
    assert_true(p.stages[1].percent);
    assert_int_equal(p.stages[1].value, 50);
    assert_false(p.stages[2].percent);
    assert_int_equal(p.stages[2].value, 3);
    assert_true(p.stages[3].percent);
    assert_int_equal(p.stages[3].value, 100);
    assert_int_equal(p.success_percent, 100);
    assert_int_equal(p.error_percent, 0);
    assert_int_equal(p.deadline_s, ROLLOUT_DEADLINE_DEFAULT_S);
    assert_false(p.abort_on_error);
    assert_false(p.approval);

    assert_int_equal(parse("{\"release\": 7, \"filter\": \"tag=beta\", \"canary\": \"5%\","
                           " \"waves\": [\"100%\"], \"success_percent\": 90,"
                           " \"error_percent\": 10, \"deadline_s\": 60, \"on_error\": \"abort\","
                           " \"approval\": true}",
                           &p, err, sizeof err), 0);
    assert_true(p.stages[0].percent);
    assert_int_equal(p.stages[0].value, 5);
    assert_int_equal(p.success_percent, 90);
    assert_int_equal(p.error_percent, 10);
    assert_int_equal(p.deadline_s, 60);
    assert_true(p.abort_on_error);
    assert_true(p.approval);
    assert_false(p.health);
    assert_int_equal(parse("{\"release\": 1, \"filter\": \"g=x\", \"canary\": 1, "
                           "\"waves\": [1], \"health\": {\"crashes\": 0, \"within_s\": 600}}",
                           &p, err, sizeof err), 0);
    assert_true(p.health);
    assert_int_equal(p.health_crashes, 0);
    assert_int_equal(p.health_within_s, 600);
}

/* The pacing, schedule and eligibility members: defaults, each accepted form, the UTC
 * parser at its edges, and the jitter: in range, the same for the same input, spread. */
static void test_parse_pacing(void **state)
{
    rollout_plan_t p;
    char err[600];
    int64_t t = 0;
    (void)state;
    assert_int_equal(parse("{\"release\": 2, \"filter\": \"group=lab\", \"canary\": 1,"
                           " \"waves\": [\"100%\"]}", &p, err, sizeof err), 0);
    assert_int_equal(p.max_transfers, 0);
    assert_int_equal(p.jitter_s, 0);
    assert_int_equal(p.start_at, 0);
    assert_int_equal(p.n_from_versions, 0);
    assert_int_equal(p.failure_budget, 0);
    assert_false(p.continuous);
    assert_int_equal(parse("{\"release\": 2, \"filter\": \"group=lab\", \"canary\": 1,"
                           " \"waves\": [\"100%\"], \"max_transfers\": 3, \"jitter_s\": 10,"
                           " \"start_at\": \"2026-12-24T02:00:00Z\", \"from_versions\": [\"1\", \"1.1\"],"
                           " \"failure_budget\": 2, \"continuous\": true}", &p, err, sizeof err), 0);
    assert_int_equal(p.max_transfers, 3);
    assert_int_equal(p.jitter_s, 10);
    assert_int_equal(p.start_at, 1798077600); /* date -u -d 2026-12-24T02:00:00Z +%s */
    assert_int_equal(p.n_from_versions, 2);
    assert_string_equal(p.from_versions[1], "1.1");
    assert_int_equal(p.failure_budget, 2);
    assert_true(p.continuous);
    assert_int_equal(parse("{\"release\": 2, \"filter\": \"group=lab\", \"canary\": 1,"
                           " \"waves\": [\"100%\"], \"start_at\": 1798077600}", &p, err, sizeof err), 0);
    assert_int_equal(p.start_at, 1798077600);

    assert_int_equal(rollout_plan__parse_utc("1970-01-01T00:00:00Z", &t), 0);
    assert_int_equal(t, 0);
    assert_int_equal(rollout_plan__parse_utc("2024-02-29T23:59:59Z", &t), 0);
    assert_int_equal(t, 1709251199);
    assert_int_equal(rollout_plan__parse_utc("2000-03-01T00:00:00Z", &t), 0);
    assert_int_equal(t, 951868800);
    static const char *const bad[] = {"2023-02-29T00:00:00Z", "2026-13-01T00:00:00Z",
                                      "2026-12-24T24:00:00Z", "2026-12-24T02:00:00",
                                      "2026-12-24T02:00:00+01:00", "1969-12-31T23:59:59Z",
                                      "2026-12-24T02:00:6Z ", "+026-12-24T02:00:00Z", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(rollout_plan__parse_utc(bad[i], &t), -1);

    assert_int_equal(rollout_plan__jitter_ms(1, "vdev-0001", 0), 0);
    uint32_t first = rollout_plan__jitter_ms(1, "vdev-0001", 10), seen_low = 0, seen_high = 0;
    assert_int_equal(rollout_plan__jitter_ms(1, "vdev-0001", 10), first);
    assert_int_not_equal(rollout_plan__jitter_ms(2, "vdev-0001", 10), first);
    for (int i = 0; i < 1000; i++) {
        char id[16];
        snprintf(id, sizeof id, "vdev-%04d", i);
        uint32_t ms = rollout_plan__jitter_ms(7, id, 10);
        assert_true(ms < 10000);
        seen_low += ms < 5000;
        seen_high += ms >= 5000;
    }
    assert_in_range(seen_low, 400, 600); /* spread: about half in each half */
    assert_in_range(seen_high, 400, 600);
}

/* Each bad body: 400 with exactly its sentence. */
static void test_parse_refusals(void **state)
{
    static const struct {
        const char *body, *sentence;
    } cases[] = {
        {"[1]", "the body must be a JSON object such as {\"release\": 2, \"filter\": "
                "\"group=lab\", \"canary\": 1, \"waves\": [\"50%\", \"100%\"]} (docs/ROLLOUTS.md)"},
        {"{\"release\": 0, \"filter\": \"a=b\", \"canary\": 1, \"waves\": [1]}",
         "\"release\" must be a release id (a positive whole number); see 'mqota release list'"},
        {"{\"release\": 1, \"filter\": \"\", \"canary\": 1, \"waves\": [1]}",
         "\"filter\" must be a non-empty filter expression such as \"group=lab\" (docs/API.md "
         "\"Filters\"); to take every device of the release's chip write \"online=true|false\""},
        {"{\"release\": 1, \"filter\": \"group=lab\", \"waves\": [1]}",
         "\"canary\" is missing: give the first stage's size, a count such as 1 or a percent "
         "such as \"5%\""},
        {"{\"release\": 1, \"filter\": \"group=lab\", \"canary\": 0, \"waves\": [1]}",
         "\"canary\" must be a device count from 1 to 1000000000 or a percent such as \"10%\""},
        {"{\"release\": 1, \"filter\": \"group=lab\", \"canary\": \"101%\", \"waves\": [1]}",
         "\"canary\" must be a device count (1, 2, ...) or a percent from \"1%\" to \"100%\" "
         "of the selected devices"},
        {"{\"release\": 1, \"filter\": \"group=lab\", \"canary\": \"05%\", \"waves\": [1]}",
         "\"canary\" must be a device count (1, 2, ...) or a percent from \"1%\" to \"100%\" "
         "of the selected devices"},
        {"{\"release\": 1, \"filter\": \"group=lab\", \"canary\": 1, \"waves\": [\"x\"]}",
         "wave 1 must be a device count (1, 2, ...) or a percent from \"1%\" to \"100%\" of "
         "the selected devices"},
        {"{\"release\": 1, \"filter\": \"group=lab\", \"canary\": 1, \"waves\": []}",
         "\"waves\" must be an array of 1 to 20 wave sizes after the canary, such as "
         "[\"50%\", \"100%\"]"},
        {"{\"release\": 1, \"filter\": \"group=lab\", \"canary\": 1, \"waves\": [1],"
         " \"success_percent\": 0}",
         "\"success_percent\" must be a whole number from 1 to 100 (the share of a wave's "
         "devices that must confirm the release)"},
        {"{\"release\": 1, \"filter\": \"group=lab\", \"canary\": 1, \"waves\": [1],"
         " \"error_percent\": 101}",
         "\"error_percent\" must be a whole number from 0 to 100 (the share of a wave's devices "
         "that may fail; 0 stops at the first)"},
        {"{\"release\": 1, \"filter\": \"group=lab\", \"canary\": 1, \"waves\": [1],"
         " \"error_percent\": 2.5}",
         "\"error_percent\" is 2.5, which is not a whole number"},
        {"{\"release\": 1, \"filter\": \"group=lab\", \"canary\": 1, \"waves\": [1],"
         " \"on_error\": \"stop\"}",
         "\"on_error\" must be \"pause\" or \"abort\" (what a failed wave does to the rollout)"},
        {"{\"release\": 1, \"filter\": \"group=lab\", \"canary\": 1, \"waves\": [1], \"x\": 1}",
         "unknown member \"x\"; a rollout has \"release\", \"filter\", \"canary\", \"waves\", "
         "\"success_percent\", \"error_percent\", \"deadline_s\", \"on_error\", "
         "\"approval\", \"max_transfers\", \"jitter_s\", \"start_at\", \"from_versions\", "
         "\"failure_budget\", \"continuous\", \"health\" and \"window\""},
        {"{\"release\": 1, \"filter\": \"group=lab\", \"canary\": 1, \"waves\": [1],"
         " \"max_transfers\": -1}",
         "\"max_transfers\" must be a whole number from 0 to 1000000 (the most devices "
         "transferring the release at once across the rollout; 0 for no cap)"},
        {"{\"release\": 1, \"filter\": \"group=lab\", \"canary\": 1, \"waves\": [1],"
         " \"jitter_s\": 86401}",
         "\"jitter_s\" must be a whole number from 0 to 86400 (seconds over which a wave's "
         "offers are spread; 0 offers at once)"},
        {"{\"release\": 1, \"filter\": \"group=lab\", \"canary\": 1, \"waves\": [1],"
         " \"start_at\": \"2026-02-29T02:00:00Z\"}",
         "\"start_at\" must be a UTC time such as \"2026-12-24T02:00:00Z\" or Unix seconds "
         "(when the canary starts; a past time starts it at once)"},
        {"{\"release\": 1, \"filter\": \"group=lab\", \"canary\": 1, \"waves\": [1],"
         " \"start_at\": \"2026-12-24 02:00:00\"}",
         "\"start_at\" must be a UTC time"},
        {"{\"release\": 1, \"filter\": \"group=lab\", \"canary\": 1, \"waves\": [1],"
         " \"start_at\": -1}",
         "\"start_at\" must be a UTC time"},
        {"{\"release\": 1, \"filter\": \"group=lab\", \"canary\": 1, \"waves\": [1],"
         " \"from_versions\": []}",
         "\"from_versions\" must be an array of 1 to 16 versions (non-empty strings of at most "
         "32 bytes) such as [\"1.0.3\", \"1.0.4\"]: the versions a device must run to be taken"},
        {"{\"release\": 1, \"filter\": \"group=lab\", \"canary\": 1, \"waves\": [1],"
         " \"from_versions\": [\"1\", 2]}",
         "\"from_versions\" must be an array of 1 to 16 versions"},
        {"{\"release\": 1, \"filter\": \"group=lab\", \"canary\": 1, \"waves\": [1],"
         " \"from_versions\": [\"123456789012345678901234567890123\"]}",
         "\"from_versions\" must be an array of 1 to 16 versions"},
        {"{\"release\": 1, \"filter\": \"group=lab\", \"canary\": 1, \"waves\": [1],"
         " \"failure_budget\": 101}",
         "\"failure_budget\" must be a whole number from 0 to 100 (how many failures of the "
         "release make a device skipped until 'mqota device reset-failures'; 0 for no budget)"},
        {"{\"release\": 1, \"filter\": \"group=lab\", \"canary\": 1, \"waves\": [1],"
         " \"continuous\": \"yes\"}",
         "\"continuous\" must be true or false (whether devices that match the filter later "
         "join the rollout)"},
        {"{\"release\": 1, \"filter\": \"g=x\", \"canary\": 1, \"waves\": [1], \"health\": 3}",
         "\"health\" must be an object {\"crashes\": N, \"within_s\": T}: a confirmed device "
         "with more than N resets by panic or watchdog within T seconds of confirming counts "
         "as failed"},
        {"{\"release\": 1, \"filter\": \"g=x\", \"canary\": 1, \"waves\": [1],"
         " \"health\": {\"crashes\": 2}}",
         "\"health\" must be an object {\"crashes\": N, \"within_s\": T}"},
        {"{\"release\": 1, \"filter\": \"g=x\", \"canary\": 1, \"waves\": [1],"
         " \"health\": {\"crashes\": 2, \"within_s\": 60, \"panics\": 1}}",
         "unknown member \"panics\" in \"health\"; it has \"crashes\" and \"within_s\""},
        {"{\"release\": 1, \"filter\": \"g=x\", \"canary\": 1, \"waves\": [1],"
         " \"health\": {\"crashes\": 1001, \"within_s\": 60}}",
         "\"crashes\" must be a whole number from 0 to 1000"},
        {"{\"release\": 1, \"filter\": \"g=x\", \"canary\": 1, \"waves\": [1],"
         " \"health\": {\"crashes\": 1, \"within_s\": 0}}",
         "\"within_s\" must be a whole number from 1 to 2592000"},
        {"{\"release\": 1, \"filter\": \"group=lab\", \"canary\": 1, \"waves\": [1],"
         " \"approval\": 1}",
         "\"approval\" must be true or false (whether each wave after the canary waits for "
         "'mqota rollout approve')"},
    };
    rollout_plan_t p;
    char err[600];
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = parse(cases[i].body, &p, err, sizeof err);
        if (rc != 400 || strncmp(err, cases[i].sentence, strlen(cases[i].sentence)) != 0)
            fail_msg("case %zu: %s -> %d '%s', want 400 '%s'", i, cases[i].body, rc, err,
                     cases[i].sentence);
        assert_int_equal(p.n_stages, 0); /* zeroed on failure */
    }
    char waves[200] = "{\"release\": 1, \"filter\": \"g=x\", \"canary\": 1, \"waves\": [";
    for (int i = 0; i < ROLLOUT_WAVES_MAX + 1; i++) strcat(waves, i ? ",1" : "1");
    strcat(waves, "]}");
    assert_int_equal(parse(waves, &p, err, sizeof err), 400);
}

/* A plan from stage texts ("1", "50%"). */
/* Maintenance windows: parsed into minutes, open on the schedule clock's minute of day (a
 * range crossing midnight too), the opening it lies in, and each refusal's sentence. */
static void test_window(void **state)
{
    rollout_plan_t p;
    char err[600], text[16];
    (void)state;
    assert_int_equal(parse("{\"release\": 2, \"filter\": \"group=lab\", \"canary\": 1,"
                           " \"waves\": [\"100%\"]}", &p, err, sizeof err), 0);
    assert_false(p.window.set);
    assert_true(rollout_plan__window_open(&p.window, 12345)); /* no window: always open */
    assert_int_equal(parse("{\"release\": 2, \"filter\": \"group=lab\", \"canary\": 1,"
                           " \"waves\": [\"100%\"], \"window\": {\"start\": \"22:30\","
                           " \"end\": \"04:00\"}}", &p, err, sizeof err), 0);
    assert_true(p.window.set);
    assert_int_equal(p.window.start_min, 22 * 60 + 30);
    assert_int_equal(p.window.end_min, 4 * 60);
    rollout_plan__window_text(&p.window, text, sizeof text);
    assert_string_equal(text, "22:30-04:00");
    const int64_t day = 1796342400; /* 2026-12-04 00:00:00 UTC */
    assert_false(rollout_plan__window_open(&p.window, day + 22 * 3600 + 29 * 60 + 59));
    assert_true(rollout_plan__window_open(&p.window, day + 22 * 3600 + 30 * 60));
    assert_true(rollout_plan__window_open(&p.window, day + 86399));
    assert_true(rollout_plan__window_open(&p.window, day + 86400 + 3 * 3600 + 59 * 60 + 59));
    assert_false(rollout_plan__window_open(&p.window, day + 86400 + 4 * 3600));
    assert_false(rollout_plan__window_open(&p.window, day + 12 * 3600));
    /* the opening: yesterday's 22:30 seen from 03:00, today's from 23:00 */
    assert_int_equal(rollout_plan__window_opened_at(&p.window, day + 3 * 3600),
                     day - 86400 + 22 * 3600 + 30 * 60);
    assert_int_equal(rollout_plan__window_opened_at(&p.window, day + 23 * 3600),
                     day + 22 * 3600 + 30 * 60);
    rollout_window_t w = {true, 2 * 60, 3 * 60}; /* 02:00-03:00, within one day */
    assert_false(rollout_plan__window_open(&w, day + 1 * 3600 + 59 * 60));
    assert_true(rollout_plan__window_open(&w, day + 2 * 3600));
    assert_true(rollout_plan__window_open(&w, day + 2 * 3600 + 59 * 60 + 59));
    assert_false(rollout_plan__window_open(&w, day + 3 * 3600));
    assert_int_equal(rollout_plan__window_opened_at(&w, day + 2 * 3600 + 30 * 60),
                     day + 2 * 3600);

    static const struct {
        const char *window, *sentence;
    } bad[] = {
        {"\"02:00-03:00\"", "\"window\" must be an object such as {\"start\": \"22:00\", \"end\": "
                            "\"04:00\"}: the daily UTC time range in which devices may reboot "
                            "into the release"},
        {"{\"start\": \"02:00\"}", "\"window\" needs \"end\" as a UTC time of day \"HH:MM\" from "
                                   "\"00:00\" to \"23:59\", such as {\"start\": \"22:00\", "
                                   "\"end\": \"04:00\"}"},
        {"{\"start\": \"24:00\", \"end\": \"01:00\"}", "\"window\" needs \"start\" as a UTC time "
         "of day \"HH:MM\" from \"00:00\" to \"23:59\", such as {\"start\": \"22:00\", \"end\": "
         "\"04:00\"}"},
        {"{\"start\": \"02:60\", \"end\": \"01:00\"}", NULL},
        {"{\"start\": \"2:00\", \"end\": \"01:00\"}", NULL},
        {"{\"start\": \"02:00 \", \"end\": \"01:00\"}", NULL},
        {"{\"start\": 200, \"end\": \"01:00\"}", NULL},
        {"{\"start\": \"02:00\", \"end\": \"03:00\", \"tz\": \"CET\"}",
         "\"window\" has \"start\" and \"end\" only, not \"tz\""},
        {"{\"start\": \"02:00\", \"end\": \"02:00\"}", "\"window\" starts and ends at 02:00, which "
         "leaves no time to reboot; give a range such as {\"start\": \"22:00\", \"end\": "
         "\"04:00\"} (an end before the start crosses midnight)"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char body[300];
        snprintf(body, sizeof body, "{\"release\": 2, \"filter\": \"group=lab\", \"canary\": 1,"
                 " \"waves\": [\"100%%\"], \"window\": %s}", bad[i].window);
        assert_int_equal(parse(body, &p, err, sizeof err), 400);
        assert_false(p.window.set);
        if (bad[i].sentence) assert_string_equal(err, bad[i].sentence);
        else assert_non_null(strstr(err, "\"window\" needs \"start\" as a UTC time of day"));
    }
}

static void plan_of(rollout_plan_t *p, const char *const *stages, size_t n)
{
    memset(p, 0, sizeof(*p));
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(stages[i]);
        p->stages[i].percent = stages[i][len - 1] == '%';
        p->stages[i].value = (uint32_t)atoi(stages[i]);
    }
    p->n_stages = n;
}

static void test_sizes(void **state)
{
    rollout_plan_t p;
    uint32_t s[ROLLOUT_STAGES_MAX];
    char err[400];
    (void)state;
    /* 1, 50 % of 6 = 3, the rest 2 */
    plan_of(&p, (const char *const[]){"1", "50%", "100%"}, 3);
    assert_int_equal(rollout_plan__sizes(&p, 6, s, err, sizeof err), 0);
    assert_int_equal(s[0], 1);
    assert_int_equal(s[1], 3);
    assert_int_equal(s[2], 2);
    /* percents round up: 10 % of 7 is 1 device (0.7), 30 % of 7 is 3 (2.1) */
    plan_of(&p, (const char *const[]){"10%", "30%", "100%"}, 3);
    assert_int_equal(rollout_plan__sizes(&p, 7, s, err, sizeof err), 0);
    assert_int_equal(s[0], 1);
    assert_int_equal(s[1], 3);
    assert_int_equal(s[2], 3);
    /* 1 % of 1000 devices: 10 */
    plan_of(&p, (const char *const[]){"1%", "100%"}, 2);
    assert_int_equal(rollout_plan__sizes(&p, 1000, s, err, sizeof err), 0);
    assert_int_equal(s[0], 10);
    assert_int_equal(s[1], 990);
    /* a last count larger than what is left takes the rest */
    plan_of(&p, (const char *const[]){"1", "100"}, 2);
    assert_int_equal(rollout_plan__sizes(&p, 6, s, err, sizeof err), 0);
    assert_int_equal(s[1], 5);
    /* refusals */
    plan_of(&p, (const char *const[]){"1", "2"}, 2);
    assert_int_equal(rollout_plan__sizes(&p, 6, s, err, sizeof err), 400);
    assert_string_equal(err, "the plan takes 3 of the 6 devices the filter selects and leaves "
                        "3 out; make the last wave \"100%\" to take everyone left");
    plan_of(&p, (const char *const[]){"1", "5", "1"}, 3);
    assert_int_equal(rollout_plan__sizes(&p, 6, s, err, sizeof err), 400);
    assert_string_equal(err, "wave 2 gets no device: the stages before it take all 6 devices "
                        "the filter selects; remove it or make the earlier ones smaller");
    plan_of(&p, (const char *const[]){"50%", "60%", "100%"}, 3);
    assert_int_equal(rollout_plan__sizes(&p, 6, s, err, sizeof err), 400);
    assert_string_equal(err, "wave 1 wants 4 devices but only 3 of the 6 selected are left "
                        "for it, and stages follow it; make it smaller");
    /* one device: a canary of 1 leaves nobody for wave 1 */
    plan_of(&p, (const char *const[]){"1", "100%"}, 2);
    assert_int_equal(rollout_plan__sizes(&p, 1, s, err, sizeof err), 400);
    assert_string_equal(err, "wave 1 gets no device: the stages before it take all 1 devices "
                        "the filter selects; remove it or make the earlier ones smaller");
}

static void test_decide(void **state)
{
    rollout_plan_t p = {0};
    (void)state;
    p.success_percent = 100;
    p.error_percent = 0;
    /* size, confirmed, failed, unfinished */
    assert_int_equal(rollout_plan__decide(&p, 1, 0, 0, 1), ROLLOUT_WAIT);
    assert_int_equal(rollout_plan__decide(&p, 1, 1, 0, 0), ROLLOUT_ADVANCE);
    assert_int_equal(rollout_plan__decide(&p, 1, 0, 1, 0), ROLLOUT_FAIL_ERRORS);
    assert_int_equal(rollout_plan__decide(&p, 3, 2, 0, 1), ROLLOUT_WAIT);
    assert_int_equal(rollout_plan__decide(&p, 3, 2, 1, 0), ROLLOUT_FAIL_ERRORS);
    /* 90 % success, 10 % errors, on 10 devices: 9 confirmed advance with 1 active; 1 failed
     * is allowed (not more than 10 %), 2 are not */
    p.success_percent = 90;
    p.error_percent = 10;
    assert_int_equal(rollout_plan__decide(&p, 10, 8, 1, 1), ROLLOUT_WAIT);
    assert_int_equal(rollout_plan__decide(&p, 10, 9, 0, 1), ROLLOUT_ADVANCE);
    assert_int_equal(rollout_plan__decide(&p, 10, 9, 1, 0), ROLLOUT_ADVANCE);
    assert_int_equal(rollout_plan__decide(&p, 10, 7, 2, 1), ROLLOUT_FAIL_ERRORS);
    /* errors are judged first: 9 confirmed and 2 failed of 11 (18 %) fail the wave */
    assert_int_equal(rollout_plan__decide(&p, 11, 9, 2, 0), ROLLOUT_FAIL_ERRORS);
    /* everyone finished, too few confirmed, errors within their threshold (superseded and
     * failed at 50 % error allowed, 60 % success wanted) */
    p.success_percent = 60;
    p.error_percent = 50;
    assert_int_equal(rollout_plan__decide(&p, 10, 5, 5, 0), ROLLOUT_FAIL_SHORT);
    /* 100 % errors allowed: never fails on errors, only short */
    p.error_percent = 100;
    assert_int_equal(rollout_plan__decide(&p, 4, 0, 4, 0), ROLLOUT_FAIL_SHORT);
}

/* db__begin() inside a transaction is a savepoint: an inner rollback undoes only the inner
 * work, an outer rollback undoes the inner work it had committed, an outer commit keeps both. */
static void test_nested_transactions(void **state)
{
    char path[] = "/tmp/mqota-test-rollout-XXXXXX";
    int fd = mkstemp(path);
    db_t *db = NULL;
    db_group_t g;
    (void)state;
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(db__open(&db, path), 0);

    assert_int_equal(db__begin(db), 0);
    assert_int_equal(db__group_insert(db, "outer", 1), 0);
    assert_int_equal(db__begin(db), 0);
    assert_int_equal(db__group_insert(db, "inner", 1), 0);
    db__rollback(db); /* inner only */
    assert_int_equal(db__commit(db), 0);
    assert_int_equal(db__group_get(db, "outer", &g), 0);
    assert_int_equal(db__group_get(db, "inner", &g), 1);

    assert_int_equal(db__begin(db), 0);
    assert_int_equal(db__group_insert(db, "outer2", 1), 0);
    assert_int_equal(db__begin(db), 0);
    assert_int_equal(db__group_insert(db, "inner2", 1), 0);
    assert_int_equal(db__commit(db), 0); /* released into the outer transaction */
    db__rollback(db);                    /* undoes both */
    assert_int_equal(db__group_get(db, "outer2", &g), 1);
    assert_int_equal(db__group_get(db, "inner2", &g), 1);

    assert_int_equal(db__begin(db), 0);
    assert_int_equal(db__begin(db), 0);
    assert_int_equal(db__group_insert(db, "inner3", 1), 0);
    assert_int_equal(db__commit(db), 0);
    assert_int_equal(db__commit(db), 0);
    db__close(db);
    assert_int_equal(db__open(&db, path), 0); /* committed to the file */
    assert_int_equal(db__group_get(db, "inner3", &g), 0);
    db__close(db);
    for (int i = 0; i < 3; i++) {
        char p[64];
        snprintf(p, sizeof p, "%s%s", path, i == 0 ? "" : i == 1 ? "-wal" : "-shm");
        unlink(p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_defaults),
        cmocka_unit_test(test_parse_refusals),
        cmocka_unit_test(test_parse_pacing),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_decide),
        cmocka_unit_test(test_window),
        cmocka_unit_test(test_nested_transactions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
