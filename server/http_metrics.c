/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http_metrics.c - GET /metrics: Prometheus's text exposition format, version 0.0.4
 * (docs/METRICS.md lists every metric). Counters come from metrics.c; gauges are read from
 * SQLite now, with bounded queries (db__metrics()), and from the engine's state. Each family
 * has its HELP and TYPE lines; counters end in _total; label values are escaped (backslash,
 * double quote, newline) and made valid UTF-8, because some come from devices (versions).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_api.h"
#include "metrics.h"
#include "mqota/mqota_status.h"
#include "mqota_utf8.h"
#include "state.h"
#include "stream.h"
#include "transfer.h"

/** Most device versions given their own series; the rest are counted in one gauge. */
#define METRICS_VERSIONS_MAX 20
/** Most running deployments and unfinished rollouts given their own series (the newest). */
#define METRICS_ACTIVE_MAX 20
/** Update states a device reports (mqota_update_state_t, MQOTA_STATE_IDLE..HELD). */
#define DEVICE_STATES (MQOTA_STATE_HELD + 1)

/* A family's HELP and TYPE lines. */
static void family(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value: valid UTF-8, with '\\', '"' and newline escaped as the format requires. */
static void label_value(FILE *f, const char *v)
{
    char clean[3 * DB_METRICS_TEXT_MAX + 1];
    mqh_utf8_repair(v, strlen(v), clean, sizeof(clean));
    for (const char *p = clean; *p; p++) {
        if (*p == '\\') fputs("\\\\", f);
        else if (*p == '"') fputs("\\\"", f);
        else if (*p == '\n') fputs("\\n", f);
        else fputc(*p, f);
    }
}

/* name{label="value"} n */
static void sample1(FILE *f, const char *name, const char *label, const char *value, double n)
{
    fprintf(f, "%s{%s=\"", name, label);
    label_value(f, value);
    fprintf(f, "\"} %.17g\n", n);
}

/* ---- gauges from the database ---- */

typedef struct {
    double devices[DEVICE_STATES];
    double online, total, listed;
    FILE *f;
} scrape_t;

static int on_device_state(void *ctx, const db_metrics_row_t *r)
{
    scrape_t *s = ctx;
    int st = (int)r->num[0];
    if (st >= 0 && st < DEVICE_STATES) s->devices[st] += (double)r->num[2];
    if (r->num[1]) s->online += (double)r->num[2];
    s->total += (double)r->num[2];
    return 0;
}

static int on_device_version(void *ctx, const db_metrics_row_t *r)
{
    scrape_t *s = ctx;
    sample1(s->f, "mqotad_devices_by_version", "version", r->is_text[0] ? r->text[0] : "",
            (double)r->num[1]);
    s->listed += (double)r->num[1];
    return 0;
}

/* name{state="..."} n for a state group; the known states first, zero when none is in it. */
typedef struct {
    FILE *f;
    const char *name;
    const char *const *known;
    int n_known;
    double count[8];
    char other[8][DB_METRICS_TEXT_MAX + 1];
    double other_count[8];
    int n_other;
} by_state_t;

static int on_state(void *ctx, const db_metrics_row_t *r)
{
    by_state_t *b = ctx;
    const char *st = r->is_text[0] ? r->text[0] : "";
    for (int i = 0; i < b->n_known; i++)
        if (strcmp(st, b->known[i]) == 0) {
            b->count[i] += (double)r->num[1];
            return 0;
        }
    if (b->n_other < 8) { /* a state this mqotad does not name (a newer schema's) */
        snprintf(b->other[b->n_other], sizeof(b->other[0]), "%s", st);
        b->other_count[b->n_other++] = (double)r->num[1];
    }
    return 0;
}

static void print_states(by_state_t *b)
{
    for (int i = 0; i < b->n_known; i++) sample1(b->f, b->name, "state", b->known[i], b->count[i]);
    for (int i = 0; i < b->n_other; i++)
        sample1(b->f, b->name, "state", b->other[i], b->other_count[i]);
}

/* mqotad_deployment_targets{deployment, state} per row; progress once per deployment. */
typedef struct {
    FILE *f;
    int64_t ids[METRICS_ACTIVE_MAX];
    double bytes[METRICS_ACTIVE_MAX], want[METRICS_ACTIVE_MAX];
    double waves[METRICS_ACTIVE_MAX], waves_done[METRICS_ACTIVE_MAX];
    int n;
} active_t;

static int active_slot(active_t *a, int64_t id)
{
    for (int i = 0; i < a->n; i++)
        if (a->ids[i] == id) return i;
    if (a->n == METRICS_ACTIVE_MAX) return -1;
    a->ids[a->n] = id;
    return a->n++;
}

static int on_deployment_targets(void *ctx, const db_metrics_row_t *r)
{
    active_t *a = ctx;
    fprintf(a->f, "mqotad_deployment_targets{deployment=\"%lld\",state=\"", (long long)r->num[0]);
    label_value(a->f, r->is_text[1] ? r->text[1] : "");
    fprintf(a->f, "\"} %lld\n", (long long)r->num[2]);
    int k = active_slot(a, r->num[0]);
    if (k >= 0) {
        a->bytes[k] += (double)r->num[3];
        a->want[k] += (double)r->num[2] * (double)r->num[4];
    }
    return 0;
}

static int on_rollout_waves(void *ctx, const db_metrics_row_t *r)
{
    active_t *a = ctx;
    const char *st = r->is_text[1] ? r->text[1] : "";
    fprintf(a->f, "mqotad_rollout_waves{rollout=\"%lld\",state=\"", (long long)r->num[0]);
    label_value(a->f, st);
    fprintf(a->f, "\"} %lld\n", (long long)r->num[2]);
    int k = active_slot(a, r->num[0]);
    if (k >= 0) {
        a->waves[k] += (double)r->num[2];
        if (strcmp(st, "succeeded") == 0) a->waves_done[k] += (double)r->num[2];
    }
    return 0;
}

/* The families read from SQLite. -1 on a database error. */
static int gauges_from_db(mqotad_t *d, FILE *f)
{
    scrape_t s = {.f = f};
    if (db__metrics(d->db, DB_METRICS_DEVICE_STATES, 0, on_device_state, &s) != 0) return -1;
    family(f, "mqotad_devices", "gauge", "Devices known to mqotad by their last reported "
           "update state.");
    for (int i = 0; i < DEVICE_STATES; i++)
        sample1(f, "mqotad_devices", "state", mqota_state_name((mqota_update_state_t)i),
                s.devices[i]);
    family(f, "mqotad_devices_online", "gauge", "Devices whose online topic says online.");
    fprintf(f, "mqotad_devices_online %.17g\n", s.online);
    family(f, "mqotad_devices_by_version", "gauge", "Devices by the version they run (the "
           "most common versions only; see mqotad_devices_versions_omitted).");
    if (db__metrics(d->db, DB_METRICS_DEVICE_VERSIONS, METRICS_VERSIONS_MAX, on_device_version,
                    &s) != 0)
        return -1;
    family(f, "mqotad_devices_versions_omitted", "gauge", "Devices whose version is not among "
           "the most common ones listed in mqotad_devices_by_version.");
    fprintf(f, "mqotad_devices_versions_omitted %.17g\n", s.total - s.listed);

    const char *const dep_states[] = {state__deployment_name(DEPLOYMENT_RUNNING),
                                      state__deployment_name(DEPLOYMENT_FINISHED),
                                      state__deployment_name(DEPLOYMENT_CANCELLED)};
    by_state_t b = {.f = f, .name = "mqotad_deployments", .known = dep_states, .n_known = 3};
    if (db__metrics(d->db, DB_METRICS_DEPLOYMENT_STATES, 0, on_state, &b) != 0) return -1;
    family(f, "mqotad_deployments", "gauge", "Deployments by state.");
    print_states(&b);

    active_t a = {.f = f};
    family(f, "mqotad_deployment_targets", "gauge", "Targets of the newest running deployments "
           "by target state.");
    if (db__metrics(d->db, DB_METRICS_DEPLOYMENT_TARGETS, METRICS_ACTIVE_MAX,
                    on_deployment_targets, &a) != 0)
        return -1;
    family(f, "mqotad_deployment_progress_ratio", "gauge", "Bytes the targets of a running "
           "deployment have written over the bytes they need (0 to 1).");
    for (int i = 0; i < a.n; i++)
        fprintf(f, "mqotad_deployment_progress_ratio{deployment=\"%lld\"} %.6g\n",
                (long long)a.ids[i], a.want[i] > 0 ? a.bytes[i] / a.want[i] : 0.0);

    /* Every rollout state, named by state.c, so each has a series (0 when none). */
    static const char *ro_states[ROLLOUT_SCHEDULED + 1];
    for (int i = 0; i <= ROLLOUT_SCHEDULED; i++)
        ro_states[i] = state__rollout_name((rollout_state_t)i);
    by_state_t rb = {.f = f, .name = "mqotad_rollouts", .known = ro_states,
                     .n_known = ROLLOUT_SCHEDULED + 1};
    if (db__metrics(d->db, DB_METRICS_ROLLOUT_STATES, 0, on_state, &rb) != 0) return -1;
    family(f, "mqotad_rollouts", "gauge", "Rollouts by state.");
    print_states(&rb);

    active_t ra = {.f = f};
    family(f, "mqotad_rollout_waves", "gauge", "Waves of the newest unfinished rollouts by wave "
           "state.");
    if (db__metrics(d->db, DB_METRICS_ROLLOUT_WAVES, METRICS_ACTIVE_MAX, on_rollout_waves,
                    &ra) != 0)
        return -1;
    family(f, "mqotad_rollout_progress_ratio", "gauge", "Succeeded waves over all waves of an "
           "unfinished rollout (0 to 1).");
    for (int i = 0; i < ra.n; i++)
        fprintf(f, "mqotad_rollout_progress_ratio{rollout=\"%lld\"} %.6g\n",
                (long long)ra.ids[i], ra.waves[i] > 0 ? ra.waves_done[i] / ra.waves[i] : 0.0);
    return 0;
}

/* ---- counters ---- */

static void counter1(FILE *f, const char *name, const char *help, uint64_t v)
{
    family(f, name, "counter", help);
    fprintf(f, "%s %llu\n", name, (unsigned long long)v);
}

static void counters(mqotad_t *d, FILE *f)
{
    metrics_t *m = d->metrics;
    static const metrics_t none;
    if (!m) m = (metrics_t *)&none;
    static const struct {
        const char *name, *help;
        size_t off;
    } by_path[] = {
        {"mqotad_published_bytes_total", "Chunk payload bytes published, by path (unicast to "
         "one device, or once on a release's stream).", offsetof(metrics_t, bytes)},
        {"mqotad_published_chunks_total", "Chunks published, by path.",
         offsetof(metrics_t, chunks)},
        {"mqotad_retransmitted_bytes_total", "Of the bytes published, those of chunks sent "
         "again on the same path (lost or unconfirmed).", offsetof(metrics_t, resent_bytes)},
        {"mqotad_retransmitted_chunks_total", "Of the chunks published, those sent again on the "
         "same path.", offsetof(metrics_t, resent_chunks)},
    };
    for (size_t k = 0; k < sizeof(by_path) / sizeof(by_path[0]); k++) {
        const uint64_t *v = (const uint64_t *)((const char *)m + by_path[k].off);
        family(f, by_path[k].name, "counter", by_path[k].help);
        for (int p = 0; p < METRICS_PATH_COUNT; p++)
            fprintf(f, "%s{path=\"%s\"} %llu\n", by_path[k].name,
                    metrics__path_name((metrics_path_t)p), (unsigned long long)v[p]);
    }
    family(f, "mqotad_commands_total", "counter", "Commands by event: sent, replied (ok), "
           "failed (an error result), refused (by the device), timed_out, expired (never "
           "sent).");
    for (int e = 0; e < METRICS_CMD_COUNT; e++)
        fprintf(f, "mqotad_commands_total{event=\"%s\"} %llu\n",
                metrics__command_name((metrics_cmd_t)e), (unsigned long long)m->commands[e]);
    counter1(f, "mqotad_command_replies_dropped_total", "Command replies that did not open, "
             "were replayed or were malformed.", d->cmd_replies_dropped);
    counter1(f, "mqotad_telemetry_dropped_total", "Telemetry samples dropped by the rate and "
             "name limits.", d->telemetry_dropped);
    counter1(f, "mqotad_telemetry_refused_total", "Telemetry messages undecodable or from "
             "unknown devices.", d->telemetry_refused);
    family(f, "mqotad_http_requests_total", "counter", "HTTP requests answered, by route "
           "template (docs/METRICS.md; \"other\" for paths of no route), method and status.");
    for (int i = 0; i < m->n_http; i++) {
        const metrics_http_t *h = &m->http[i];
        fprintf(f, "mqotad_http_requests_total{route=\"%s\",method=\"%s\",code=\"%u\"} %llu\n",
                metrics__route_name(h->route), metrics__method_name(h->method),
                (unsigned)h->status, (unsigned long long)h->count);
    }
    counter1(f, "mqotad_http_requests_unlisted_total", "HTTP requests not in "
             "mqotad_http_requests_total because it reached its most series.", m->http_overflow);
}

/*
 * GET /metrics. The request was authorized by api__check_request() (a bearer token, or a
 * loopback client with --metrics-loopback). 500 with one sentence on a database error.
 */
void http_metrics__get(mqotad_t *d, api_response_t *res)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) {
        api__error(res, 500, "out of memory while rendering the metrics");
        return;
    }
    family(f, "mqotad_build_info", "gauge", "Always 1; the version of mqotad in its label.");
    fprintf(f, "mqotad_build_info{version=\"%s\"} 1\n", MQOTAD_VERSION);
    family(f, "mqotad_start_time_seconds", "gauge", "When mqotad started, Unix seconds.");
    fprintf(f, "mqotad_start_time_seconds %lld\n",
            (long long)(d->metrics ? d->metrics->started_at : 0));
    family(f, "mqotad_mqtt_connected", "gauge", "1 while mqotad's MQTT session is up.");
    fprintf(f, "mqotad_mqtt_connected %d\n", d->mqtt_connected ? 1 : 0);
    family(f, "mqotad_transfers", "gauge", "Unicast transfers in progress.");
    fprintf(f, "mqotad_transfers %d\n", transfer__count(d));
    family(f, "mqotad_streams", "gauge", "Multicast streams in progress.");
    fprintf(f, "mqotad_streams %d\n", stream__count(d));
    int rc = gauges_from_db(d, f);
    counters(d, f);
    if (fclose(f) != 0 || !text) rc = -1;
    if (rc != 0) {
        free(text);
        api__error(res, 500, "database error while reading the metrics' gauges");
        return;
    }
    res->status = 200;
    res->body = text;
    res->len = len;
    res->body_static = false;
    res->content_type = "text/plain; version=0.0.4; charset=utf-8";
}
