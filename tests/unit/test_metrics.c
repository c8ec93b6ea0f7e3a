/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_metrics.c - mqotad's counters (server/metrics.c): HTTP requests are counted by route
 * template, never by the raw path, so the number of series stays bounded whatever clients ask
 * for; past METRICS_HTTP_SERIES_MAX series a request is counted as unlisted, never lost;
 * chunk and command counters; every counter call is a no-op before metrics__init().
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

static const char *route_of(const char *path)
{
    return metrics__route_name(metrics__route(path));
}

/* Each path shape goes to its template; ids of any text are one {id} segment. */
static void test_route_templates(void **state)
{
    (void)state;
    static const struct {
        const char *path, *route;
    } cases[] = {
        {"/", "/"},
        {"/index.html", "/index.html"},
        {"/metrics", "/metrics"},
        {"/api/v1/health", "/api/v1/health"},
        {"/api/v1/devices", "/api/v1/devices"},
        {"/api/v1/devices/vdev-0001", "/api/v1/devices/{id}"},
        {"/api/v1/devices/\"quoted\" id\n", "/api/v1/devices/{id}"},
        {"/api/v1/devices/vdev-0001/commands", "/api/v1/devices/{id}/commands"},
        {"/api/v1/devices/vdev-0001/telemetry", "/api/v1/devices/{id}/telemetry"},
        {"/api/v1/devices/vdev-0001/tags", "/api/v1/devices/{id}/tags"},
        {"/api/v1/commands/17", "/api/v1/commands/{id}"},
        {"/api/v1/groups/lab/devices", "/api/v1/groups/{name}/devices"},
        {"/api/v1/rollouts/3/pause", "/api/v1/rollouts/{id}/pause"},
        {"/api/v1/rollouts/3/retry", "/api/v1/rollouts/{id}/retry"},
        {"/api/v1/deployments/12", "/api/v1/deployments/{id}"},
        {"/api/v1/deployments/12/activate", "/api/v1/deployments/{id}/activate"},
        /* not routes: other */
        {"/api/v1/devices/", "other"},            /* an empty segment is no id */
        {"/api/v1/devices//commands", "other"},
        {"/api/v1/devices/a/b", "other"},
        {"/api/v1/rollouts/3/explode", "other"},
        {"/api/v1/healthz", "other"},
        {"/api/v1/health/", "other"},
        {"/metrics/x", "other"},
        {"/api/v2/devices", "other"},
        {"", "other"},
        {"metrics", "other"},
        {"/favicon.ico", "other"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *got = route_of(cases[i].path);
        if (strcmp(got, cases[i].route) != 0)
            fail_msg("path '%s' counted as '%s', not '%s'", cases[i].path, got, cases[i].route);
    }
    assert_null(metrics__route_name(-1));
    assert_null(metrics__route_name(1000));
}

/* 100,000 requests on distinct paths (device ids, junk) make a bounded number of series, and
 * every request is counted once, listed or not. */
static void test_http_series_bounded(void **state)
{
    (void)state;
    mqotad_t d;
    memset(&d, 0, sizeof(d));
    assert_int_equal(metrics__init(&d), 0);
    static const char *const methods[] = {"GET", "POST", "DELETE", "BREW"};
    static const int statuses[] = {200, 201, 400, 401, 404, 405, 409, 500};
    char path[128];
    uint64_t requests = 0;
    for (int i = 0; i < 100000; i++) {
        switch (i % 4) {
        case 0: snprintf(path, sizeof(path), "/api/v1/devices/dev-%d", i); break;
        case 1: snprintf(path, sizeof(path), "/api/v1/devices/dev-%d/commands", i); break;
        case 2: snprintf(path, sizeof(path), "/junk/%d/%x", i, (unsigned)i * 2654435761u); break;
        default: snprintf(path, sizeof(path), "/api/v1/rollouts/%d/pause", i); break;
        }
        metrics__http(&d, methods[(i / 4) % 4], path, statuses[(i / 16) % 8]);
        requests++;
    }
    metrics_t *m = d.metrics;
    /* 4 routes x 4 methods (BREW is "other") x 8 statuses */
    assert_int_equal(m->n_http, 4 * 4 * 8);
    uint64_t counted = m->http_overflow;
    for (int i = 0; i < m->n_http; i++) {
        counted += m->http[i].count;
        const char *r = metrics__route_name(m->http[i].route);
        assert_null(strstr(r, "dev-"));
        assert_non_null(metrics__method_name(m->http[i].method));
    }
    assert_int_equal(counted, requests);
    assert_int_equal(m->http_overflow, 0);
    metrics__free(&d);
    assert_null(d.metrics);
}

/* More (route, method, status) combinations than METRICS_HTTP_SERIES_MAX: the rest are
 * counted as unlisted; an out-of-range status is status 0, not a new series per value. */
static void test_http_overflow(void **state)
{
    (void)state;
    mqotad_t d;
    memset(&d, 0, sizeof(d));
    assert_int_equal(metrics__init(&d), 0);
    int requests = 0;
    for (int s = 100; s < 600; s++) {
        metrics__http(&d, "GET", "/metrics", s);
        metrics__http(&d, "POST", "/api/v1/releases", s);
        requests += 2;
    }
    metrics_t *m = d.metrics;
    assert_int_equal(m->n_http, METRICS_HTTP_SERIES_MAX);
    assert_int_equal(m->http_overflow, (uint64_t)(requests - METRICS_HTTP_SERIES_MAX));
    metrics__free(&d);

    assert_int_equal(metrics__init(&d), 0);
    for (int s = 600; s < 5000; s++) metrics__http(&d, "GET", "/", s);
    metrics__http(&d, "GET", "/", -7);
    assert_int_equal(d.metrics->n_http, 1);
    assert_int_equal(d.metrics->http[0].status, 0);
    assert_int_equal(d.metrics->http[0].count, 5000 - 600 + 1);
    metrics__free(&d);
}

static void test_chunks_and_commands(void **state)
{
    (void)state;
    mqotad_t d;
    memset(&d, 0, sizeof(d));
    /* before metrics__init(): nothing happens, nothing crashes */
    metrics__chunk(&d, METRICS_UNICAST, 4096, false);
    metrics__command(&d, METRICS_CMD_SENT, 1);
    metrics__http(&d, "GET", "/metrics", 200);
    assert_int_equal(metrics__init(&d), 0);
    metrics_t *m = d.metrics;
    assert_true(m->started_at > 0);
    metrics__chunk(&d, METRICS_UNICAST, 4096, false);
    metrics__chunk(&d, METRICS_UNICAST, 1000, true);
    metrics__chunk(&d, METRICS_STREAM, 4096, false);
    metrics__chunk(&d, METRICS_PATH_COUNT, 4096, false); /* out of range: ignored */
    assert_int_equal(m->bytes[METRICS_UNICAST], 5096);
    assert_int_equal(m->chunks[METRICS_UNICAST], 2);
    assert_int_equal(m->resent_bytes[METRICS_UNICAST], 1000);
    assert_int_equal(m->resent_chunks[METRICS_UNICAST], 1);
    assert_int_equal(m->bytes[METRICS_STREAM], 4096);
    assert_int_equal(m->resent_chunks[METRICS_STREAM], 0);
    metrics__command(&d, METRICS_CMD_TIMED_OUT, 3);
    metrics__command(&d, METRICS_CMD_COUNT, 3); /* out of range: ignored */
    assert_int_equal(m->commands[METRICS_CMD_TIMED_OUT], 3);
    assert_string_equal(metrics__path_name(METRICS_STREAM), "stream");
    assert_string_equal(metrics__command_name(METRICS_CMD_TIMED_OUT), "timed_out");
    metrics__free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_route_templates),
        cmocka_unit_test(test_http_series_bounded),
        cmocka_unit_test(test_http_overflow),
        cmocka_unit_test(test_chunks_and_commands),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
