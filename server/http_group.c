/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http_group.c - the group and tag routes of docs/API.md ("Groups and tags") and device
 * filters: parse the request, call db.c and filter.c, render JSON.
 *
 *   GET    /api/v1/groups                  every group with its member count
 *   POST   /api/v1/groups                  create one: {"name": "lab"}
 *   GET    /api/v1/groups/{name}           one group with its members
 *   DELETE /api/v1/groups/{name}           delete it (the devices stay)
 *   POST   /api/v1/groups/{name}/devices   {"add": [ids], "remove": [ids]}
 *   POST   /api/v1/devices/{id}/tags       {"add": ["site=berlin", "beta"], "remove": ["old"]}
 *   GET    /api/v1/devices?filter=EXPR     (http_group__select(), called by http_api.c;
 *                                           the selection itself is target.c's)
 *
 * A change is all or nothing: every name and id is judged, then one transaction applies it.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_parse.h"
#include "filter.h"
#include "http_api.h"
#include "target.h"

#define API "/api/v1"
#define GROUPS_MAX 1000       /* groups one mqotad keeps at most */
#define TAGS_PER_DEVICE_MAX 32 /* tags one device has at most */
#define BATCH_MAX AUTH_PROVISION_MAX /* device ids or tags in one request at most */

/* ---- JSON ---- */

static int add_name(void *ctx, const char *name)
{
    cJSON_AddItemToArray(ctx, cJSON_CreateString(name));
    return 0;
}

static int add_tag(void *ctx, const char *key, const char *value)
{
    char text[TAG_TEXT_MAX + 2];
    snprintf(text, sizeof(text), "%s%s%s", key, value[0] ? "=" : "", value);
    cJSON_AddItemToArray(ctx, cJSON_CreateString(text));
    return 0;
}

int http_group__device_fields(mqotad_t *d, const char *device_id, cJSON *j)
{
    cJSON *groups = cJSON_AddArrayToObject(j, "groups");
    cJSON *tags = cJSON_AddArrayToObject(j, "tags");
    if (db__device_groups(d->db, device_id, add_name, groups) != 0) return -1;
    return db__tag_list(d->db, device_id, add_tag, tags);
}

static cJSON *group_json(mqotad_t *d, const db_group_t *g, bool with_devices)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "name", g->name);
    cJSON_AddNumberToObject(j, "created_at", (double)g->created_at);
    cJSON_AddNumberToObject(j, "size", (double)g->members);
    if (with_devices) {
        cJSON *a = cJSON_AddArrayToObject(j, "devices");
        if (db__group_members(d->db, g->name, add_name, a) != 0) {
            cJSON_Delete(j);
            return NULL;
        }
    }
    return j;
}

/* ---- filters ---- */

int http_group__select(mqotad_t *d, const char *text, int (*cb)(void *ctx, const db_device_t *dv),
                       void *ctx, api_response_t *res)
{
    char err[600];
    int st = target__select(d, text, cb, ctx, err, sizeof(err));
    if (st != 0) api__error(res, st, err);
    return st == 0 ? 0 : -1;
}

/* ---- bodies ---- */

/*
 * The "add" and "remove" members of a {"add": [...], "remove": [...]} body, each an array of
 * non-empty strings (either may be absent, not both; nothing else in the body; at most
 * BATCH_MAX strings each). what names the strings in sentences ("device ids", "tags").
 * Returns 0, or 400 with err set.
 */
static int parse_batch(cJSON *body, const char *what, const char *example, cJSON **add,
                       cJSON **remove, char *err, size_t cap)
{
    cJSON *it;
    cJSON_ArrayForEach(it, body)
    {
        if (strcmp(it->string, "add") && strcmp(it->string, "remove")) {
            snprintf(err, cap, "unknown member \"%.40s\"; the body has \"add\" and/or "
                     "\"remove\", each an array of %s, as %s", it->string, what, example);
            return 400;
        }
    }
    *add = cJSON_GetObjectItemCaseSensitive(body, "add");
    *remove = cJSON_GetObjectItemCaseSensitive(body, "remove");
    if (!*add && !*remove) {
        snprintf(err, cap, "the body names nothing to do; give \"add\" and/or \"remove\", each "
                 "an array of %s, as %s", what, example);
        return 400;
    }
    cJSON *lists[2] = {*add, *remove};
    for (int l = 0; l < 2; l++) {
        const char *name = l == 0 ? "add" : "remove";
        if (!lists[l]) continue;
        if (!cJSON_IsArray(lists[l])) {
            snprintf(err, cap, "\"%s\" must be an array of %s", name, what);
            return 400;
        }
        if (cJSON_GetArraySize(lists[l]) > BATCH_MAX) {
            snprintf(err, cap, "\"%s\" holds more than %d %s; split the change", name,
                     BATCH_MAX, what);
            return 400;
        }
        cJSON_ArrayForEach(it, lists[l])
        {
            if (!cJSON_IsString(it) || !it->valuestring[0]) {
                snprintf(err, cap, "\"%s\" must hold %s (non-empty strings)", name, what);
                return 400;
            }
        }
    }
    return 0;
}

/* 0 the device is known, 404 (unknown) or 500 with err set. */
static int check_device(mqotad_t *d, const char *id, char *err, size_t cap)
{
    db_device_t dv;
    int rc = strlen(id) > DB_ID_MAX ? 1 : db__device_get(d->db, id, &dv);
    if (rc == 1)
        snprintf(err, cap, "unknown device '%.64s%s'; mqotad knows a device once it has "
                 "connected ('mqota device list')", id, strlen(id) > 64 ? "..." : "");
    else if (rc < 0)
        snprintf(err, cap, "database error while reading device '%.64s'", id);
    return rc == 0 ? 0 : rc == 1 ? 404 : 500;
}

/* ---- handlers ---- */

static int add_group(void *ctx, const db_group_t *g)
{
    cJSON_AddItemToArray(ctx, group_json(NULL, g, false));
    return 0;
}

static void get_groups(mqotad_t *d, api_response_t *res)
{
    cJSON *a = cJSON_CreateArray();
    if (db__group_list(d->db, add_group, a) != 0) {
        cJSON_Delete(a);
        api__error(res, 500, "database error while listing groups");
        return;
    }
    api__json(res, 200, a);
}

/* GET /api/v1/groups/{name}, and the answer of the changes: the group with its devices. */
static void answer_group(mqotad_t *d, const char *name, int status, int added, int removed,
                         api_response_t *res)
{
    char msg[GROUP_NAME_MAX + 80];
    db_group_t g;
    int rc = filter__group_name_ok(name) ? db__group_get(d->db, name, &g) : 1;
    if (rc == 1) {
        snprintf(msg, sizeof(msg), "unknown group '%.64s'; see 'mqota group list'", name);
        api__error(res, 404, msg);
        return;
    }
    cJSON *j = rc == 0 ? group_json(d, &g, true) : NULL;
    if (!j) {
        api__error(res, 500, "database error while reading the group");
        return;
    }
    if (added >= 0) cJSON_AddNumberToObject(j, "added", added);
    if (removed >= 0) cJSON_AddNumberToObject(j, "removed", removed);
    api__json(res, status, j);
}

/* POST /api/v1/groups {"name": "lab"} */
static void post_group(mqotad_t *d, const api_request_t *req, api_response_t *res)
{
    static const char shape[] = "the body must be a JSON object like {\"name\": \"lab\"}";
    char err[512];
    cJSON *body = NULL;
    int64_t count = 0;
    int st = api_parse__json(req->body, req->body_len, shape, &body, err, sizeof(err));
    if (st != 0) {
        api__error(res, st, err);
        return;
    }
    cJSON *name = cJSON_GetObjectItemCaseSensitive(body, "name");
    if (cJSON_GetArraySize(body) != 1 || !cJSON_IsString(name)) {
        api__error(res, 400, shape);
        goto out;
    }
    if (!filter__group_name_ok(name->valuestring)) {
        snprintf(err, sizeof(err), "\"%.64s%s\" is not a group name: give 1 to %d letters, "
                 "digits, '.', '_' or '-'", name->valuestring,
                 strlen(name->valuestring) > 64 ? "..." : "", GROUP_NAME_MAX);
        api__error(res, 400, err);
        goto out;
    }
    if (db__group_count(d->db, &count) != 0) {
        api__error(res, 500, "database error while counting groups");
        goto out;
    }
    int rc = count >= GROUPS_MAX ? 2 : db__group_insert(d->db, name->valuestring,
                                                        mqh_unix_now());
    if (rc == 1) {
        snprintf(err, sizeof(err), "group '%s' exists already", name->valuestring);
        api__error(res, 409, err);
    } else if (rc == 2) {
        snprintf(err, sizeof(err), "mqotad keeps at most %d groups; delete one first",
                 GROUPS_MAX);
        api__error(res, 409, err);
    } else if (rc < 0) {
        api__error(res, 500, "database error while creating the group");
    } else {
        mqh_log(MQH_INFO, "group %s created", name->valuestring);
        answer_group(d, name->valuestring, 201, -1, -1, res);
    }
out:
    cJSON_Delete(body);
}

static void delete_group(mqotad_t *d, const char *name, api_response_t *res)
{
    char msg[GROUP_NAME_MAX + 80];
    int rc = filter__group_name_ok(name) ? db__group_delete(d->db, name) : 1;
    if (rc == 1) {
        snprintf(msg, sizeof(msg), "unknown group '%.64s'; see 'mqota group list'", name);
        api__error(res, 404, msg);
    } else if (rc < 0) {
        api__error(res, 500, "database error while deleting the group");
    } else {
        mqh_log(MQH_INFO, "group %s deleted", name);
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "deleted", name);
        api__json(res, 200, j);
    }
}

/* POST /api/v1/groups/{name}/devices {"add": [...], "remove": [...]}: all or nothing. */
static void post_group_devices(mqotad_t *d, const char *name, const api_request_t *req,
                               api_response_t *res)
{
    static const char example[] = "{\"add\": [\"vdev-0001\"], \"remove\": [\"vdev-0002\"]}";
    char err[600];
    cJSON *body = NULL, *add, *remove, *it;
    db_group_t g;
    int added = 0, removed = 0, st;
    int rc = filter__group_name_ok(name) ? db__group_get(d->db, name, &g) : 1;
    if (rc != 0) {
        snprintf(err, sizeof(err), rc == 1 ? "unknown group '%.64s'; create it first with "
                 "'mqota group create'" : "database error while reading group '%.64s'", name);
        api__error(res, rc == 1 ? 404 : 500, err);
        return;
    }
    st = api_parse__json(req->body, req->body_len, "the body must be a JSON object like "
                         "{\"add\": [\"vdev-0001\"], \"remove\": [\"vdev-0002\"]}", &body, err,
                         sizeof(err));
    if (st == 0) st = parse_batch(body, "device ids", example, &add, &remove, err, sizeof(err));
    for (int l = 0; st == 0 && l < 2; l++) {
        cJSON *list = l == 0 ? add : remove;
        cJSON_ArrayForEach(it, list)
        {
            if ((st = check_device(d, it->valuestring, err, sizeof(err))) != 0) break;
        }
    }
    if (st != 0) {
        api__error(res, st, err);
        goto out;
    }
    int64_t now = mqh_unix_now();
    if (db__begin(d->db) != 0) goto db_err;
    cJSON_ArrayForEach(it, remove)
    {
        if ((rc = db__group_remove(d->db, name, it->valuestring)) < 0) goto db_err;
        removed += rc == 0;
    }
    cJSON_ArrayForEach(it, add)
    {
        if ((rc = db__group_add(d->db, name, it->valuestring, now)) < 0) goto db_err;
        added += rc == 0;
    }
    if (db__commit(d->db) != 0) goto db_err;
    mqh_log(MQH_INFO, "group %s: %d device%s added, %d removed", name, added,
            added == 1 ? "" : "s", removed);
    answer_group(d, name, 200, added, removed, res);
    goto out;
db_err:
    db__rollback(d->db);
    api__error(res, 500, "database error while changing the group; nothing was changed");
out:
    cJSON_Delete(body);
}

/* POST /api/v1/devices/{id}/tags {"add": [...], "remove": [...]}: removes first, then adds
 * (an added key replaces the key's old value); all or nothing. */
static void post_device_tags(mqotad_t *d, const char *id, const api_request_t *req,
                             api_response_t *res)
{
    static const char example[] = "{\"add\": [\"site=berlin\", \"beta\"], \"remove\": "
                                  "[\"old\"]}";
    char err[600], key[TAG_KEY_MAX + 1];
    cJSON *body = NULL, *add = NULL, *remove = NULL, *it;
    size_t kl = 0;
    int64_t count = 0;
    int st = check_device(d, id, err, sizeof(err));
    if (st == 0)
        st = api_parse__json(req->body, req->body_len, "the body must be a JSON object like "
                             "{\"add\": [\"site=berlin\", \"beta\"], \"remove\": [\"old\"]}",
                             &body, err, sizeof(err));
    if (st == 0) st = parse_batch(body, "tags", example, &add, &remove, err, sizeof(err));
    for (int l = 0; st == 0 && l < 2; l++) {
        cJSON *list = l == 0 ? add : remove;
        cJSON_ArrayForEach(it, list)
        {
            if (!filter__tag_check(it->valuestring, NULL, err, sizeof(err))) {
                st = 400;
                break;
            }
        }
    }
    if (st != 0) {
        api__error(res, st, err);
        goto out;
    }
    if (db__begin(d->db) != 0) goto db_err;
    for (int l = 0; l < 2; l++) {
        cJSON *list = l == 0 ? remove : add;
        cJSON_ArrayForEach(it, list)
        {
            const char *t = it->valuestring;
            filter__tag_check(t, &kl, NULL, 0);
            memcpy(key, t, kl);
            key[kl] = '\0';
            const char *value = t[kl] == '=' ? t + kl + 1 : NULL;
            int rc = l == 0 ? db__tag_delete(d->db, id, key, value)
                            : db__tag_put(d->db, id, key, value);
            if (rc < 0) goto db_err;
        }
    }
    if (db__tag_count(d->db, id, &count) != 0) goto db_err;
    if (count > TAGS_PER_DEVICE_MAX) {
        db__rollback(d->db);
        snprintf(err, sizeof(err), "device '%s' would have %lld tags; a device has at most %d, "
                 "nothing was changed", id, (long long)count, TAGS_PER_DEVICE_MAX);
        api__error(res, 400, err);
        goto out;
    }
    if (db__commit(d->db) != 0) goto db_err;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "device", id);
    if (http_group__device_fields(d, id, j) != 0) {
        cJSON_Delete(j);
        api__error(res, 500, "tags changed but could not be read back");
        goto out;
    }
    api__json(res, 200, j);
    goto out;
db_err:
    db__rollback(d->db);
    api__error(res, 500, "database error while changing the tags; nothing was changed");
out:
    cJSON_Delete(body);
}

/* The name (or id) between prefix and suffix of path, or false when path is not of that
 * shape; at most cap - 1 bytes (longer: cut, which no name or id is). */
static bool segment(const char *path, const char *prefix, const char *suffix, char *out,
                    size_t cap)
{
    size_t n = strlen(path), np = strlen(prefix), ns = strlen(suffix);
    if (n <= np + ns || strncmp(path, prefix, np) != 0 || strcmp(path + n - ns, suffix) != 0)
        return false;
    size_t len = n - np - ns;
    if (memchr(path + np, '/', len)) return false;
    if (len >= cap) len = cap - 1;
    memcpy(out, path + np, len);
    out[len] = '\0';
    return true;
}

bool http_group__json_body(const char *method, const char *path)
{
    char seg[DB_ID_MAX + 2];
    if (strcmp(method, "POST") != 0) return false;
    return strcmp(path, API "/groups") == 0 ||
           segment(path, API "/groups/", "/devices", seg, sizeof(seg)) ||
           segment(path, API "/devices/", "/tags", seg, sizeof(seg));
}

bool http_group__route(mqotad_t *d, const api_request_t *req, api_response_t *res)
{
    const char *p = req->path, *m = req->method;
    bool get = strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
    bool post = strcmp(m, "POST") == 0;
    char seg[DB_ID_MAX + 2];

    if (strcmp(p, API "/groups") == 0) {
        if (get) get_groups(d, res);
        else if (post) post_group(d, req, res);
        else api__method_not_allowed(res, m, p, "GET, POST");
        return true;
    }
    if (segment(p, API "/groups/", "/devices", seg, sizeof(seg))) {
        if (post) post_group_devices(d, seg, req, res);
        else api__method_not_allowed(res, m, p, "POST");
        return true;
    }
    if (segment(p, API "/groups/", "", seg, sizeof(seg))) {
        if (get) answer_group(d, seg, 200, -1, -1, res);
        else if (strcmp(m, "DELETE") == 0) delete_group(d, seg, res);
        else api__method_not_allowed(res, m, p, "GET, DELETE");
        return true;
    }
    if (segment(p, API "/devices/", "/tags", seg, sizeof(seg))) {
        if (post) post_device_tags(d, seg, req, res);
        else api__method_not_allowed(res, m, p, "POST");
        return true;
    }
    return false;
}
