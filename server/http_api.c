/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http_api.c - the routes of docs/API.md: parse the request, call the business logic
 * (release.c, deploy.c, db.c), render JSON with cJSON. Nothing here talks to MHD or MQTT.
 */
#include "http_api.h"
#include "health.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api_parse.h"
#include "mqota_utf8.h"
#include "deploy.h"
#include "http_console.h"
#include "mqota/mqota_image.h"
#include "mqota/mqota_status.h"
#include "release.h"
#include "rollout.h"
#include "stream.h"
#include "target.h"
#include "token.h"
#include "transfer.h"

#define API "/api/v1"

/*
 * Render json as the response body. cJSON copies bytes of 0x80 and above as they are, so a
 * string that is not UTF-8 (a device's STATE, a reply) would make the whole answer invalid
 * for a strict client: as the last line of defence such bytes become U+FFFD (docs/API.md).
 */
static void set_json(api_response_t *res, int status, cJSON *json)
{
    char *text = json ? cJSON_PrintUnformatted(json) : NULL;
    cJSON_Delete(json);
    if (text && !mqh_utf8_valid(text, strlen(text))) {
        size_t n = strlen(text);
        char *fixed = malloc(3 * n + 1);
        if (fixed) mqh_utf8_repair(text, n, fixed, 3 * n + 1);
        free(text);
        text = fixed;
    }
    if (!text) {
        res->status = 500;
        res->body = (char *)"{\"error\": \"out of memory while rendering the response\"}";
        res->len = strlen(res->body);
        res->body_static = true;
    } else {
        res->status = status;
        res->body = text;
        res->len = strlen(text);
        res->body_static = false;
    }
    res->content_type = "application/json";
}

void api__error(api_response_t *res, int status, const char *msg)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "error", msg);
    set_json(res, status, j);
}

void api__method_not_allowed(api_response_t *res, const char *method, const char *path,
                             const char *allow)
{
    char msg[300];
    snprintf(msg, sizeof(msg), "%s is not allowed on %.200s; use %s", method, path, allow);
    api__error(res, 405, msg);
    res->allow = allow;
}

bool api__device_path(const char *path, const char *suffix, char *id, bool *too_long)
{
    static const char prefix[] = API "/devices/";
    size_t n = strlen(path), np = sizeof(prefix) - 1, ns = strlen(suffix);
    if (n <= np + ns || strncmp(path, prefix, np) != 0 || strcmp(path + n - ns, suffix) != 0 ||
        memchr(path + np, '/', n - np - ns))
        return false;
    size_t len = n - np - ns;
    *too_long = len > DB_ID_MAX;
    if (*too_long) len = DB_ID_MAX;
    memcpy(id, path + np, len);
    id[len] = '\0';
    return true;
}

int api__device_known(mqotad_t *d, const char *id, bool too_long, db_device_t *dv,
                      api_response_t *res)
{
    char msg[300];
    int rc = too_long ? 1 : db__device_get(d->db, id, dv);
    if (rc == 1) {
        snprintf(msg, sizeof(msg), "unknown device '%s%s'; mqotad knows a device once it has "
                 "connected ('mqota device list')", id, too_long ? "..." : "");
        api__error(res, 404, msg);
    } else if (rc != 0) {
        api__error(res, 500, "database error while reading the device");
    }
    return rc;
}

int64_t api__parse_id(const char *s)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end != '\0' || v <= 0) return -1;
    return v;
}

/* ---- JSON renderers ---- */

static cJSON *device_json(const db_device_t *dv)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "id", dv->id);
    cJSON_AddStringToObject(j, "chip", mqota_chip_name(dv->chip_id));
    cJSON_AddNumberToObject(j, "chip_id", dv->chip_id);
    cJSON_AddStringToObject(j, "project", dv->project);
    cJSON_AddStringToObject(j, "version", dv->version);
    cJSON_AddStringToObject(j, "descriptor_version", dv->descriptor_version);
    cJSON_AddStringToObject(j, "idf_version", dv->idf_ver);
    cJSON_AddNumberToObject(j, "slot", dv->slot);
    cJSON_AddStringToObject(j, "state", mqota_state_name((mqota_update_state_t)dv->state));
    cJSON_AddStringToObject(j, "reason", mqota_reason_name((mqota_reason_t)dv->reason));
    cJSON_AddNumberToObject(j, "progress", dv->progress);
    cJSON_AddNumberToObject(j, "image_size", dv->image_size);
    cJSON_AddNumberToObject(j, "running_release", dv->running_release);
    cJSON_AddNumberToObject(j, "target_release", dv->target_release);
    cJSON_AddBoolToObject(j, "online", dv->online);
    cJSON_AddNumberToObject(j, "first_seen", (double)dv->first_seen);
    cJSON_AddNumberToObject(j, "last_seen", (double)dv->last_seen);
    cJSON_AddNumberToObject(j, "boot_count", dv->boot_count);
    cJSON_AddNumberToObject(j, "max_chunk", dv->max_chunk);
    cJSON_AddNumberToObject(j, "max_window", dv->max_window);
    cJSON_AddStringToObject(j, "protocol", db__protocol_name(dv->protocol));
    return j;
}

/* A release object; manifest (a file release's JSON text, or NULL) adds its "files". */
static cJSON *release_json(const db_release_t *r, const char *manifest)
{
    bool files = r->kind == DB_RELEASE_FILES;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "id", (double)r->id);
    cJSON_AddStringToObject(j, "kind", files ? "files" : "image");
    cJSON_AddStringToObject(j, "version", r->version);
    cJSON_AddStringToObject(j, "descriptor_version", r->descriptor_version);
    cJSON_AddStringToObject(j, "project", r->project);
    cJSON_AddStringToObject(j, "chip", files ? "any" : mqota_chip_name(r->chip_id));
    cJSON_AddNumberToObject(j, "chip_id", r->chip_id);
    cJSON_AddStringToObject(j, "idf_version", r->idf_ver);
    cJSON_AddNumberToObject(j, "secure_version", r->secure_version);
    cJSON_AddNumberToObject(j, "size", r->size);
    cJSON_AddStringToObject(j, "sha256", r->sha256);
    cJSON_AddNumberToObject(j, "created_at", (double)r->created_at);
    cJSON_AddStringToObject(j, "notes", r->notes);
    cJSON_AddBoolToObject(j, "signed", r->has_sig);
    if (r->has_sig) {
        char uid[2 * 16 + 1];
        mqh_hex(r->sig, 16, uid);
        cJSON_AddStringToObject(j, "key_id", r->key_id);
        cJSON_AddStringToObject(j, "release_uid", uid);
    } else {
        cJSON_AddNullToObject(j, "key_id");
    }
    if (files) {
        cJSON_AddNumberToObject(j, "file_count", r->file_count);
        cJSON *m = manifest ? cJSON_Parse(manifest) : NULL;
        if (m) cJSON_AddItemToObject(j, "files", m);
    }
    return j;
}

typedef struct {
    mqotad_t *d;
    cJSON *array;
    uint32_t image_size; /* the release's, for bytes saved */
} target_ctx_t;

/* Name of an OFFER encoding (docs/PROTOCOL.md §6.1), as the API shows it. */
static const char *encoding_name(uint8_t encoding)
{
    switch (encoding) {
    case MQOTA_ENCODING_NONE: return "none";
    case MQOTA_ENCODING_DEFLATE_SYNC: return "deflate-sync";
    case MQOTA_ENCODING_DEFLATE_FULL: return "deflate-full";
    case MQOTA_ENCODING_DELTA_SYNC: return "delta-sync";
    case MQOTA_ENCODING_DELTA_FULL: return "delta-full";
    default: return "unknown";
    }
}

static int add_target(void *ctx, const db_target_t *t)
{
    target_ctx_t *c = ctx;
    db_device_t dv;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "device", t->device_id);
    cJSON_AddStringToObject(j, "state", state__target_name(t->state));
    bool known = db__device_get(c->d->db, t->device_id, &dv) == 0;
    if (known)
        cJSON_AddStringToObject(j, "device_state",
                                mqota_state_name((mqota_update_state_t)dv.state));
    else
        cJSON_AddStringToObject(j, "device_state", "unknown");
    /* Its online topic (last will "offline"): a pending or active target of an offline
     * device waits for it to come back, which the target state alone does not say. */
    cJSON_AddBoolToObject(j, "online", known && dv.online);
    cJSON_AddStringToObject(j, "reason", t->reason);
    /* A hold offer not yet activated (docs/PROTOCOL.md §5.2): the device holds the image
     * ("ready") or will once it is verified. */
    cJSON_AddBoolToObject(j, "hold", (t->offer_flags & MQOTA_OFFER_FLAG_HOLD) != 0);
    cJSON_AddNumberToObject(j, "progress", t->progress);
    cJSON_AddNumberToObject(j, "bytes_sent", (double)t->bytes_sent);
    cJSON_AddNumberToObject(j, "bytes_resent", (double)t->bytes_resent);
    /* The form its offer carried: wire_size bytes of chunk data for image_size (0: offered
     * before mqotad recorded it) */
    cJSON_AddStringToObject(j, "encoding", encoding_name(t->encoding));
    cJSON_AddNumberToObject(j, "wire_size", (double)t->wire_size);
    cJSON_AddNumberToObject(j, "bytes_saved",
                            t->wire_size > 0 ? (double)c->image_size - (double)t->wire_size : 0);
    /* the multicast stream its offer named (docs/PROTOCOL.md §13), null for unicast; a delta's
     * base release (0: none) */
    char topic[64];
    if ((t->offer_flags & MQOTA_OFFER_FLAG_STREAM) &&
        stream__topic(c->d, t->release_id, t->encoding, t->base_release_id, topic,
                      sizeof(topic)) == 0)
        cJSON_AddStringToObject(j, "stream", topic);
    else
        cJSON_AddNullToObject(j, "stream");
    cJSON_AddNumberToObject(j, "base_release", (double)t->base_release_id);
    cJSON_AddNumberToObject(j, "started_at", (double)t->started_at);
    cJSON_AddNumberToObject(j, "finished_at", (double)t->finished_at);
    cJSON_AddItemToArray(c->array, j);
    return 0;
}

/* A deployment object; with_targets adds the per-device list. NULL on a database error. */
static cJSON *deployment_json(mqotad_t *d, const db_deployment_t *dep, bool with_targets)
{
    db_release_t *r = malloc(sizeof(*r));
    db_counts_t c;
    if (!r) return NULL;
    if (db__release_get(d->db, dep->release_id, r) != 0 ||
        db__deployment_counts(d->db, dep->id, &c) != 0) {
        free(r);
        return NULL;
    }
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "id", (double)dep->id);
    cJSON_AddNumberToObject(j, "release", (double)dep->release_id);
    cJSON_AddStringToObject(j, "release_version", r->version);
    cJSON_AddNumberToObject(j, "created_at", (double)dep->created_at);
    cJSON_AddStringToObject(j, "state", state__deployment_name(dep->state));
    cJSON_AddNumberToObject(j, "total", c.total);
    cJSON_AddNumberToObject(j, "pending", c.pending);
    cJSON_AddNumberToObject(j, "active", c.active);
    cJSON_AddNumberToObject(j, "succeeded", c.succeeded);
    cJSON_AddNumberToObject(j, "failed", c.failed);
    cJSON_AddNumberToObject(j, "superseded", c.superseded);
    cJSON_AddNumberToObject(j, "ready", c.ready);
    cJSON_AddNumberToObject(j, "cancelled", c.cancelled);
    cJSON_AddNumberToObject(j, "image_size", r->size);
    cJSON_AddNumberToObject(j, "stream_bytes_sent",
                            (double)(dep->stream_bytes_sent +
                                     stream__unflushed_bytes(d, dep->id)));
    cJSON_AddNumberToObject(j, "unicast_bytes_sent", (double)c.bytes_sent);
    /* compressed forms (docs/PROTOCOL.md §6.1): targets offered one, and the image bytes
     * the forms offered save against sending the image to each target */
    cJSON_AddNumberToObject(j, "compressed", c.compressed);
    cJSON_AddNumberToObject(j, "bytes_saved",
                            (double)c.wire_targets * r->size - (double)c.wire_size);
    uint32_t image_size = r->size;
    free(r);
    if (with_targets) {
        target_ctx_t tc = {d, cJSON_AddArrayToObject(j, "targets"), image_size};
        if (db__target_list(d->db, dep->id, add_target, &tc) != 0) {
            cJSON_Delete(j);
            return NULL;
        }
    }
    return j;
}

/* ---- handlers ---- */

static void get_health(mqotad_t *d, const api_request_t *req, api_response_t *res)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "status", "ok");
    cJSON_AddStringToObject(j, "version", MQOTAD_VERSION);
    cJSON_AddStringToObject(j, "broker", d->broker_url);
    cJSON_AddBoolToObject(j, "embedded_broker", d->embedded_broker);
    cJSON_AddBoolToObject(j, "mqtt_connected", d->mqtt_connected);
    cJSON_AddNumberToObject(j, "transfers", transfer__count(d));
    cJSON_AddNumberToObject(j, "streams", stream__count(d));
    cJSON_AddBoolToObject(j, "token_required", token__required(d));
    /* Where the CLI on this machine finds its token (docs/CLI.md "Global options"); a path
     * only, told only to loopback clients: the file is readable by mqotad's user alone. */
    if (req->peer_loopback && token__required(d) && d->token_file[0])
        cJSON_AddStringToObject(j, "token_file", d->token_file);
    cJSON_AddNumberToObject(j, "command_replies_dropped", (double)d->cmd_replies_dropped);
    set_json(res, 200, j);
}

typedef struct {
    mqotad_t *d;
    cJSON *array;
    int failed;
} dev_list_ctx_t;

static int add_device(void *ctx, const db_device_t *dv)
{
    dev_list_ctx_t *c = ctx;
    cJSON *j = device_json(dv);
    cJSON_AddItemToArray(c->array, j);
    if (http_group__device_fields(c->d, dv->id, j) != 0) {
        c->failed = 1;
        return 1;
    }
    return 0;
}

static int first_target(void *ctx, const db_target_t *t)
{
    *(db_target_t *)ctx = *t;
    return 1; /* one is enough */
}

/* One device of a page of the list (http_console__devices()): as in the plain list, and, while
 * a deployment's target of it is pending or active, that target's progress (the figure the
 * deployment page shows, from the device's ACKs) as "target_progress". */
static cJSON *page_device(mqotad_t *d, const db_device_t *dv)
{
    db_target_t t = {.deployment_id = 0};
    cJSON *j = device_json(dv);
    if (http_group__device_fields(d, dv->id, j) != 0 ||
        db__target_unfinished_of_device(d->db, dv->id, first_target, &t) != 0) {
        cJSON_Delete(j);
        return NULL;
    }
    if (t.deployment_id) cJSON_AddNumberToObject(j, "target_progress", t.progress);
    return j;
}

/* GET /api/v1/devices, or only the devices ?filter=EXPR selects (docs/API.md "Filters"); a
 * page of them with ?limit, offset, sort, order, q or count (http_console.c). */
static void get_devices(mqotad_t *d, const api_request_t *req, api_response_t *res)
{
    if (http_console__wants_page(req)) {
        http_console__devices(d, req, res, page_device);
        return;
    }
    dev_list_ctx_t c = {d, cJSON_CreateArray(), 0};
    const char *filter = req->arg(req->conn, "filter");
    if (filter) {
        if (http_group__select(d, filter, add_device, &c, res) != 0) {
            cJSON_Delete(c.array);
            return;
        }
    } else if (db__device_list(d->db, add_device, &c) != 0) {
        c.failed = 1;
    }
    if (c.failed) {
        cJSON_Delete(c.array);
        api__error(res, 500, "database error while listing devices");
        return;
    }
    set_json(res, 200, c.array);
}

static void get_device(mqotad_t *d, const char *id, api_response_t *res)
{
    db_device_t dv;
    char msg[DB_ID_MAX + 64];
    int rc = strlen(id) > DB_ID_MAX ? 1 : db__device_get(d->db, id, &dv);
    if (rc == 0) {
        cJSON *j = device_json(&dv);
        if (http_command__device_fields(d, &dv, j) != 0 ||
            http_group__device_fields(d, dv.id, j) != 0) {
            cJSON_Delete(j);
            api__error(res, 500, "database error while reading the device's commands");
            return;
        }
        cJSON *hl = health__json(d, dv.id); /* docs/API.md "Health"; null before a report */
        if (hl) cJSON_AddItemToObject(j, "health", hl);
        else cJSON_AddNullToObject(j, "health");
        set_json(res, 200, j);
    } else if (rc == 1) {
        snprintf(msg, sizeof(msg), "unknown device '%.64s'", id);
        api__error(res, 404, msg);
    } else {
        api__error(res, 500, "database error while reading the device");
    }
}

static int add_release(void *ctx, const db_release_t *r)
{
    cJSON_AddItemToArray(ctx, release_json(r, NULL));
    return 0;
}

static void get_releases(mqotad_t *d, api_response_t *res)
{
    cJSON *a = cJSON_CreateArray();
    if (db__release_list(d->db, add_release, a) != 0) {
        cJSON_Delete(a);
        api__error(res, 500, "database error while listing releases");
        return;
    }
    set_json(res, 200, a);
}

static void get_release(mqotad_t *d, const char *ids, api_response_t *res)
{
    char msg[128];
    int64_t id = api__parse_id(ids);
    db_release_t *r = malloc(sizeof(*r));
    char *manifest = NULL;
    int rc = id < 0 || !r ? 1 : db__release_get(d->db, id, r);
    if (rc == 0 && r->kind == DB_RELEASE_FILES) rc = db__release_manifest(d->db, id, &manifest);
    if (rc == 0) {
        set_json(res, 200, release_json(r, manifest));
        free(manifest);
    } else if (rc == 1) {
        snprintf(msg, sizeof(msg), "unknown release '%.40s'", ids);
        api__error(res, 404, msg);
    } else {
        api__error(res, 500, "database error while reading the release");
    }
    free(r);
}

static void post_release(mqotad_t *d, const api_request_t *req, api_response_t *res)
{
    char err[768];
    int64_t dup = 0;
    db_release_t *r = malloc(sizeof(*r));
    if (!r) {
        api__error(res, 500, "out of memory");
        return;
    }
    release_result_t rc = release__create(d, req->body, req->body_len,
                                          req->arg(req->conn, "version"),
                                          req->arg(req->conn, "notes"),
                                          req->header(req->conn, "X-Mqota-Signature"), r, &dup,
                                          err, sizeof(err));
    switch (rc) {
    case RELEASE_OK:
        set_json(res, 201, release_json(r, r->manifest));
        break;
    case RELEASE_INVALID:
        api__error(res, 400, err);
        break;
    case RELEASE_DUPLICATE: {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "error", err);
        cJSON_AddNumberToObject(j, "id", (double)dup);
        set_json(res, 409, j);
        break;
    }
    case RELEASE_NO_SPACE:
        api__error(res, 507, err); /* Insufficient Storage: the server's disk, not the input */
        break;
    default:
        api__error(res, 500, err);
        break;
    }
    free(r->manifest);
    free(r);
}

typedef struct {
    mqotad_t *d;
    cJSON *array;
    int failed;
} dep_list_ctx_t;

static int add_deployment(void *ctx, const db_deployment_t *dep)
{
    dep_list_ctx_t *c = ctx;
    cJSON *j = deployment_json(c->d, dep, false);
    if (!j) {
        c->failed = 1;
        return 1;
    }
    cJSON_AddItemToArray(c->array, j);
    return 0;
}

static void get_deployments(mqotad_t *d, api_response_t *res)
{
    dep_list_ctx_t c = {d, cJSON_CreateArray(), 0};
    if (db__deployment_list(d->db, add_deployment, &c) != 0 || c.failed) {
        cJSON_Delete(c.array);
        api__error(res, 500, "database error while listing deployments");
        return;
    }
    set_json(res, 200, c.array);
}

static void get_deployment(mqotad_t *d, const char *ids, api_response_t *res)
{
    char msg[128];
    db_deployment_t dep;
    int64_t id = api__parse_id(ids);
    int rc = id < 0 ? 1 : db__deployment_get(d->db, id, &dep);
    if (rc == 1) {
        snprintf(msg, sizeof(msg), "unknown deployment '%.40s'", ids);
        api__error(res, 404, msg);
        return;
    }
    cJSON *j = rc == 0 ? deployment_json(d, &dep, true) : NULL;
    if (!j) {
        api__error(res, 500, "database error while reading the deployment");
        return;
    }
    set_json(res, 200, j);
}

/*
 * POST /api/v1/deployments {"release": N, "devices": [...]}, {"release": N, "all": true} or
 * {"release": N, "filter": "..."}. The body is parsed by api_parse__deployment(); a filter
 * becomes the devices it selects at this moment; release, devices and chips are checked by
 * deploy__create().
 */
static void post_deployment(mqotad_t *d, const api_request_t *req, api_response_t *res)
{
    char err[600];
    api_deployment_body_t body;
    target_ids_t f = {0};
    int st = api_parse__deployment(req->body, req->body_len, &body, err, sizeof(err));
    if (st != 0) {
        api__error(res, st, err);
        return;
    }
    if (body.filter &&
        (st = target__for_release(d, body.filter, body.release_id, &f, err, sizeof(err))) != 0) {
        api__error(res, st, err);
        goto out;
    }
    db_deployment_t dep;
    deploy_result_t rc = body.filter
        ? deploy__create_opts(d, body.release_id, (const char *const *)f.ids, f.n, false,
                              body.hold, &dep, err, sizeof(err))
        : deploy__create_opts(d, body.release_id, body.devices, body.n_devices, body.all,
                              body.hold, &dep, err, sizeof(err));
    static const int status[] = {201, 400, 404, 409, 500};
    if (rc != DEPLOY_OK) {
        api__error(res, status[rc], err);
        goto out;
    }
    cJSON *j = deployment_json(d, &dep, true);
    if (!j)
        api__error(res, 500, "deployment created but could not be read back");
    else
        set_json(res, 201, j);
out:
    target__ids_free(&f);
    api_parse__deployment_free(&body);
}

/* POST /api/v1/deployments/{id}/activate, body empty or {"devices": [...]}: the held targets
 * (docs/PROTOCOL.md §5.2) get their offers again without the hold flag (deploy__activate()).
 * Answers the deployment with "activated": how many targets changed. */
static void post_activate(mqotad_t *d, const char *ids, const api_request_t *req,
                          api_response_t *res)
{
    char err[400];
    api_deployment_body_t body;
    db_deployment_t dep;
    int n = 0;
    int64_t id = api__parse_id(ids);
    int st = api_parse__activate(req->body, req->body_len, &body, err, sizeof(err));
    if (st == 0 && id < 0) {
        snprintf(err, sizeof(err), "unknown deployment '%.40s'; see 'mqota deploy list'", ids);
        st = 404;
    }
    if (st == 0)
        st = deploy__activate(d, id, body.devices, body.n_devices, false, &n, err, sizeof(err));
    if (st != 0) {
        api__error(res, st, err);
    } else {
        cJSON *j = db__deployment_get(d->db, id, &dep) == 0 ? deployment_json(d, &dep, true)
                                                             : NULL;
        if (!j) {
            api__error(res, 500, "targets activated but the deployment could not be read back");
        } else {
            cJSON_AddNumberToObject(j, "activated", n);
            set_json(res, 200, j);
        }
    }
    api_parse__deployment_free(&body);
}

/* POST /api/v1/deployments/{id}/cancel (no body): the unfinished targets are cancelled and
 * their offers withdrawn (rollout__cancel_deployment(): a rollout's deployment also records
 * each device in the rollout's history). Answers the deployment (its "cancelled" count) with
 * "kept": how many targets were left to finish (their devices already reboot into the
 * release). */
static void post_cancel(mqotad_t *d, const char *ids, api_response_t *res)
{
    char err[400];
    db_deployment_t dep;
    int n = 0, kept = 0, st = 0; /* n: cancelled now (the deployment's count says it too) */
    int64_t id = api__parse_id(ids);
    if (id < 0) {
        snprintf(err, sizeof(err), "unknown deployment '%.40s'; see 'mqota deploy list'", ids);
        st = 404;
    }
    if (st == 0) st = rollout__cancel_deployment(d, id, &n, &kept, err, sizeof(err));
    if (st != 0) {
        api__error(res, st, err);
        return;
    }
    cJSON *j = db__deployment_get(d->db, id, &dep) == 0 ? deployment_json(d, &dep, true) : NULL;
    if (!j) {
        api__error(res, 500, "deployment cancelled but it could not be read back");
        return;
    }
    cJSON_AddNumberToObject(j, "kept", kept);
    set_json(res, 200, j);
}

/* POST /api/v1/devices {"devices": [...]}: provision them (docs/API.md "Provisioning
 * devices"). The answer carries each device's credentials file text, once; it is not logged. */
static void post_devices(mqotad_t *d, const api_request_t *req, api_response_t *res)
{
    char err[300];
    api_provision_body_t body;
    int st = api_parse__provision((const uint8_t *)req->body, req->body_len, AUTH_PROVISION_MAX,
                                  &body, err, sizeof(err));
    if (st != 0) {
        api__error(res, st, err);
        return;
    }
    int n = (int)body.n_devices;
    char **texts = calloc((size_t)n, sizeof(*texts));
    if (!texts) {
        api_parse__provision_free(&body);
        api__error(res, 500, "out of memory");
        return;
    }
    int rc = auth__provision(d, (char *const *)body.devices, n, body.replace, texts, err,
                             sizeof(err));
    if (rc == AUTH_PROVISION_EXISTS) {
        api__error(res, 409, err);
    } else if (rc != 0) {
        api__error(res, strncmp(err, "device id", 9) == 0 ? 400 : 500, err);
    } else {
        broker__reload(d);
        mqh_log(MQH_INFO, "provisioned %d device%s through the API (first %s)", n,
                n == 1 ? "" : "s", body.devices[0]);
        cJSON *j = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(j, "devices");
        cJSON_AddNumberToObject(j, "provisioned", n);
        for (int i = 0; i < n; i++) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "id", body.devices[i]);
            cJSON_AddStringToObject(o, "credentials", texts[i]);
            cJSON_AddItemToArray(arr, o);
        }
        set_json(res, 201, j);
    }
    for (int i = 0; i < n; i++) {
        if (texts[i]) OPENSSL_cleanse(texts[i], strlen(texts[i]));
        free(texts[i]);
    }
    free(texts);
    api_parse__provision_free(&body);
}

/* "<prefix><id>" with a non-empty id and no further '/': the id, else NULL. */
static const char *item_of(const char *path, const char *prefix)
{
    size_t n = strlen(prefix);
    if (strncmp(path, prefix, n) != 0) return NULL;
    const char *id = path + n;
    return *id && !strchr(id, '/') ? id : NULL;
}

/* Whether path is /api/v1/deployments/{id}<suffix>; the id's text into ids (if not NULL). */
static bool is_deployment_action(const char *path, const char *suffix, char *ids, size_t cap)
{
    static const char prefix[] = API "/deployments/";
    size_t n = strlen(path), np = sizeof(prefix) - 1, ns = strlen(suffix);
    if (n <= np + ns || strncmp(path, prefix, np) != 0 || strcmp(path + n - ns, suffix) != 0 ||
        memchr(path + np, '/', n - np - ns) != NULL)
        return false;
    if (ids) snprintf(ids, cap, "%.*s", (int)(n - np - ns), path + np);
    return true;
}

/* Whether path is /api/v1/deployments/{id}/activate; the id's text into ids (if not NULL). */
static bool is_activate_path(const char *path, char *ids, size_t cap)
{
    return is_deployment_action(path, "/activate", ids, cap);
}

/* ---- checks on the headers, before the body (api__check_request) ---- */

/* in without bytes outside printable ASCII (each becomes '?'), cut to fit out with "...". */
static void printable(const char *in, char *out, size_t cap)
{
    size_t n = 0;
    for (; in[n] && n + 4 < cap; n++)
        out[n] = in[n] >= 0x20 && in[n] <= 0x7e ? in[n] : '?';
    if (in[n]) memcpy(out + n, "...", 3), n += 3;
    out[n] = '\0';
}

/* Paths answered without a token: the health check and the console's files. */
static bool is_public(const char *path)
{
    return http_console__asset(path) != NULL || strcmp(path, API "/health") == 0;
}

/* The event stream (GET /api/v1/events) takes a ticket instead of the bearer token: a browser's
 * EventSource cannot send headers (http_console.c). */
static bool has_ticket(mqotad_t *d, const api_request_t *req)
{
    return http_events__is_stream(req->method, req->path) &&
           http_console__ticket_ok(d, req->arg(req->conn, "ticket"), false);
}

/* GET /metrics without a token: only with --metrics-loopback, only from a loopback address. */
static bool metrics_open(mqotad_t *d, const api_request_t *req)
{
    return d->metrics_loopback && req->peer_loopback && strcmp(req->path, "/metrics") == 0;
}

api_body_kind_t api__body_kind(const char *method, const char *path)
{
    static const char dev_prefix[] = API "/devices/", suffix[] = "/commands";
    size_t n = strlen(path), ns = sizeof(suffix) - 1, np = sizeof(dev_prefix) - 1;
    if (strcmp(method, "POST") != 0) return API_BODY_NONE;
    if (strcmp(path, API "/releases") == 0) return API_BODY_IMAGE;
    if (strcmp(path, API "/deployments") == 0 || strcmp(path, API "/devices") == 0 ||
        (n > np + ns && strncmp(path, dev_prefix, np) == 0 && strcmp(path + n - ns, suffix) == 0) ||
        http_group__json_body(method, path) || http_rollout__json_body(method, path) ||
        http_legacy__json_body(method, path) ||
        is_activate_path(path, NULL, 0))
        return API_BODY_JSON;
    return API_BODY_NONE;
}

/*
 * Whether the Host header names this mqotad, so a page whose name an attacker's DNS points at
 * 127.0.0.1 (DNS rebinding) is refused: a --api-host entry (NAME: any port; NAME:PORT: that
 * one), or with mqotad's own port: localhost, a 127.x.y.z address, the --http address, or the
 * address the connection arrived on (mqotad listening on 0.0.0.0 is reached by its IPs).
 */
static bool host_allowed(mqotad_t *d, const api_request_t *req, const char *host)
{
    char name[256];
    const char *port = NULL;
    size_t n = strlen(host), len;
    if (n == 0 || n >= sizeof(name)) return false;
    if (host[0] == '[') {
        const char *rb = strchr(host, ']');
        if (!rb || (rb[1] && rb[1] != ':')) return false;
        len = (size_t)(rb - host) + 1;
        if (rb[1] == ':') port = rb + 2;
    } else {
        const char *colon = strchr(host, ':');
        len = colon ? (size_t)(colon - host) : n;
        if (colon) port = colon + 1;
    }
    memcpy(name, host, len);
    name[len] = '\0';
    for (int i = 0; i < d->n_api_hosts; i++) {
        const char *h = d->api_hosts[i], *rb = strchr(h, ']');
        bool has_port = strchr(rb ? rb : h, ':') != NULL;
        if (strcasecmp(h, has_port ? host : name) == 0) return true;
    }
    char *end = NULL;
    long p = port ? strtol(port, &end, 10) : 80;
    if ((port && (!*port || *end)) || p != d->http_bound_port) return false;
    if (strcasecmp(name, "localhost") == 0 || strcmp(name, "[::1]") == 0) return true;
    struct in_addr a;
    if (inet_pton(AF_INET, name, &a) != 1) return false;
    return (ntohl(a.s_addr) >> 24) == 127 || strcmp(name, d->http_addr) == 0 ||
           (req->local_addr && strcmp(name, req->local_addr) == 0);
}

/* A Content-Type header's media type (before any ';' parameters) equals want. */
static bool media_type_is(const char *ct, const char *want)
{
    size_t n = strlen(want);
    while (ct && *ct == ' ') ct++;
    if (!ct || strncasecmp(ct, want, n) != 0) return false;
    ct += n;
    while (*ct == ' ' || *ct == '\t') ct++;
    return *ct == '\0' || *ct == ';';
}

void api__too_large(api_response_t *res, api_body_kind_t kind)
{
    char msg[300];
    if (kind == API_BODY_IMAGE)
        snprintf(msg, sizeof(msg), "the upload is larger than the largest OTA slot (%u bytes)",
                 MQOTAD_MAX_IMAGE);
    else
        snprintf(msg, sizeof(msg), "the request body is larger than %u bytes, the most a JSON "
                 "request body may be (provisioning takes at most %d devices per request; "
                 "deploy to the whole fleet with \"all\": true)", API_JSON_BODY_MAX,
                 AUTH_PROVISION_MAX);
    api__error(res, 413, msg);
}

bool api__check_request(mqotad_t *d, const api_request_t *req, long long content_length,
                        api_response_t *res)
{
    char msg[600], shown[160], shown2[160];
    const char *m = req->method;
    const char *host = req->header(req->conn, "Host");
    if (!host || !host_allowed(d, req, host)) {
        printable(host ? host : "", shown, sizeof(shown));
        snprintf(msg, sizeof(msg), "Host '%s' is not a name this mqotad answers to: it answers "
                 "to localhost:%d, 127.0.0.1:%d and the address it listens on, and to names "
                 "given with --api-host (other names are refused against DNS rebinding)", shown,
                 d->http_bound_port, d->http_bound_port);
        api__error(res, 421, msg);
        return true;
    }
    if (!is_public(req->path) && !metrics_open(d, req) && !has_ticket(d, req) &&
        !token__authorized(d, req->header(req->conn, "Authorization"))) {
        api__error(res, 401, "missing or invalid bearer token");
        res->bearer_challenge = true;
        return true;
    }
    const char *origin = req->header(req->conn, "Origin");
    bool safe = strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0 || strcmp(m, "OPTIONS") == 0;
    if (!safe && origin) {
        bool own = (strncasecmp(origin, "http://", 7) == 0 && strcasecmp(origin + 7, host) == 0) ||
                   (strncasecmp(origin, "https://", 8) == 0 && strcasecmp(origin + 8, host) == 0);
        if (!own) {
            printable(origin, shown, sizeof(shown));
            printable(host, shown2, sizeof(shown2));
            snprintf(msg, sizeof(msg), "Origin '%s' is not this mqotad's own (http://%s): a page "
                     "from another site may not change anything here", shown, shown2);
            api__error(res, 403, msg);
            return true;
        }
    }
    if (req->url_len > API_URL_MAX) {
        snprintf(msg, sizeof(msg), "the URL is %zu bytes long (path and query string); mqotad "
                 "takes at most %d", req->url_len, API_URL_MAX);
        api__error(res, 414, msg);
        return true;
    }
    api_body_kind_t kind = api__body_kind(m, req->path);
    const char *ct = req->header(req->conn, "Content-Type");
    const char *want = kind == API_BODY_IMAGE ? "application/octet-stream" : "application/json";
    if (kind != API_BODY_NONE && !media_type_is(ct, want)) {
        printable(ct ? ct : "", shown, sizeof(shown));
        if (ct)
            snprintf(msg, sizeof(msg), "Content-Type '%s' is refused: send %s as %s", shown,
                     kind == API_BODY_IMAGE ? "the image file" : "the JSON body", want);
        else
            snprintf(msg, sizeof(msg), "the request has no Content-Type: send %s as %s",
                     kind == API_BODY_IMAGE ? "the image file" : "the JSON body", want);
        api__error(res, 415, msg);
        return true;
    }
    long long max = kind == API_BODY_IMAGE ? MQOTAD_MAX_IMAGE : API_JSON_BODY_MAX;
    if (content_length > max) {
        api__too_large(res, kind);
        return true;
    }
    return false;
}

/* Route table: path shape -> allowed methods -> handler. */
void api__handle(mqotad_t *d, const api_request_t *req, api_response_t *res)
{
    const char *p = req->path, *m = req->method, *id;
    char ids[48];
    bool get = strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
    bool post = strcmp(m, "POST") == 0;

    const http_asset_t *asset = http_console__asset(p);
    if (asset) {
        if (get) http_console__get_asset(asset, req, res);
        else api__method_not_allowed(res, m, p, "GET");
        return;
    }
    if (strcmp(p, API "/health") == 0) {
        if (get) get_health(d, req, res);
        else api__method_not_allowed(res, m, p, "GET");
        return;
    }
    /* Everything else needs the bearer token (unless --open-api, or /metrics from loopback
     * with --metrics-loopback); say nothing more. http.c checked it before reading the body
     * (api__check_request); checked here again so the route table is safe on its own
     * (fuzz_api calls it directly). */
    if (!metrics_open(d, req) && !token__authorized(d, req->header(req->conn, "Authorization"))) {
        api__error(res, 401, "missing or invalid bearer token");
        res->bearer_challenge = true;
        return;
    }
    if (http_command__route(d, req, res)) return; /* /devices/{id}/commands, /commands/{id} */
    if (http_group__route(d, req, res)) return;   /* /groups..., /devices/{id}/tags */
    if (http_rollout__route(d, req, res)) return; /* /rollouts... */
    if (http_telemetry__route(d, req, res)) return; /* /devices/{id}/telemetry */
    if (http_legacy__route(d, req, res)) return;  /* /legacy-devices (docs/LEGACY.md) */
    if (strcmp(p, "/metrics") == 0) { /* Prometheus (docs/METRICS.md) */
        if (get) http_metrics__get(d, res);
        else api__method_not_allowed(res, m, p, "GET");
        return;
    }
    if (http_health__route(d, req, res)) return;    /* /devices/{id}/health */
    if (http_console__route(d, req, res)) return; /* /events/ticket, /devices/{id}/deployments */
    if (strcmp(p, API "/devices") == 0) {
        if (get) get_devices(d, req, res);
        else if (post) post_devices(d, req, res);
        else api__method_not_allowed(res, m, p, "GET, POST");
        return;
    }
    if ((id = item_of(p, API "/devices/")) != NULL) {
        if (get) get_device(d, id, res);
        else api__method_not_allowed(res, m, p, "GET");
        return;
    }
    if (strcmp(p, API "/releases") == 0) {
        if (get) get_releases(d, res);
        else if (post) post_release(d, req, res);
        else api__method_not_allowed(res, m, p, "GET, POST");
        return;
    }
    if ((id = item_of(p, API "/releases/")) != NULL) {
        if (get) get_release(d, id, res);
        else api__method_not_allowed(res, m, p, "GET");
        return;
    }
    if (strcmp(p, API "/deployments") == 0) {
        if (get) get_deployments(d, res);
        else if (post) post_deployment(d, req, res);
        else api__method_not_allowed(res, m, p, "GET, POST");
        return;
    }
    if ((id = item_of(p, API "/deployments/")) != NULL) {
        if (get) get_deployment(d, id, res);
        else api__method_not_allowed(res, m, p, "GET");
        return;
    }
    if (is_activate_path(p, ids, sizeof(ids))) {
        if (post) post_activate(d, ids, req, res);
        else api__method_not_allowed(res, m, p, "POST");
        return;
    }
    if (is_deployment_action(p, "/cancel", ids, sizeof(ids))) {
        if (post) post_cancel(d, ids, res);
        else api__method_not_allowed(res, m, p, "POST");
        return;
    }
    char msg[300];
    snprintf(msg, sizeof(msg), "no such endpoint: %.200s (see docs/API.md)", p);
    api__error(res, 404, msg);
}

void api__json(api_response_t *res, int status, cJSON *json)
{
    set_json(res, status, json);
}
