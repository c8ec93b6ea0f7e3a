/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http_command.c - the command routes of docs/API.md ("Commands"): parse the request, call
 * command.c, render JSON. Command keys never reach any answer: only whether a device has one.
 *
 *   POST /api/v1/devices/{id}/commands   queue a command
 *   GET  /api/v1/devices/{id}/commands   a device's commands, newest first
 *   GET  /api/v1/commands/{id}           one command with its reply
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_parse.h"
#include "command.h"
#include "http_api.h"
#include "mqota/mqota_proto.h"

#define API "/api/v1"
#define LIST_MAX 100          /* commands in a device's list */
#define RECENT_REFUSALS 5     /* refusal reports in a device object */

/*
 * Bytes as a NUL-terminated UTF-8 string for JSON: every byte that is not part of a valid
 * UTF-8 sequence (and every NUL) becomes U+FFFD, so a device's reply can never make the
 * answer invalid JSON. malloc'ed; NULL when out of memory.
 */
static char *utf8_text(const uint8_t *b, size_t n)
{
    char *out = malloc(n * 3 + 1), *o = out;
    if (!out) return NULL;
    for (size_t i = 0; i < n;) {
        uint8_t c = b[i];
        size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3
                   : (c & 0xF8) == 0xF0 ? 4 : 0;
        uint32_t cp = len == 1 ? c : len == 2 ? c & 0x1Fu : len == 3 ? c & 0x0Fu : c & 0x07u;
        bool ok = len > 0 && c != 0 && i + len <= n;
        for (size_t k = 1; ok && k < len; k++) {
            ok = (b[i + k] & 0xC0) == 0x80;
            cp = (cp << 6) | (b[i + k] & 0x3Fu);
        }
        /* no overlong forms, surrogates or code points past U+10FFFF */
        if (ok && ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
                   (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF)))
            ok = false;
        if (ok) {
            memcpy(o, b + i, len);
            o += len;
            i += len;
        } else {
            memcpy(o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        }
    }
    *o = '\0';
    return out;
}

static void add_text(cJSON *j, const char *key, const uint8_t *b, size_t n)
{
    char *t = utf8_text(b, n);
    if (t) cJSON_AddStringToObject(j, key, t);
    else cJSON_AddNullToObject(j, key);
    free(t);
}

/* "key=value" lines of a diagnostics reply as an object of strings (docs/PROTOCOL.md §14.3);
 * lines without '=' are skipped, a repeated key keeps its last value. */
static cJSON *diagnostics_json(const uint8_t *b, size_t n)
{
    cJSON *o = cJSON_CreateObject();
    char *text = utf8_text(b, n);
    if (!text) return o;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        char *eq = strchr(line, '=');
        if (!eq || eq == line) continue;
        *eq = '\0';
        line[strcspn(line, "\r")] = '\0';
        eq[1 + strcspn(eq + 1, "\r")] = '\0';
        cJSON_DeleteItemFromObjectCaseSensitive(o, line);
        cJSON_AddStringToObject(o, line, eq + 1);
    }
    free(text);
    return o;
}

static void add_time(cJSON *j, const char *key, int64_t t)
{
    if (t > 0) cJSON_AddNumberToObject(j, key, (double)t);
    else cJSON_AddNullToObject(j, key);
}

/* A command object; with_reply adds "reply" (and "diagnostics" for a diagnostics answer). */
static cJSON *command_json(const db_command_t *c, bool with_reply)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "id", (double)c->id);
    cJSON_AddStringToObject(j, "device", c->device_id);
    cJSON_AddStringToObject(j, "name", c->name);
    add_text(j, "args", c->args, c->args_len);
    cJSON_AddStringToObject(j, "state", c->state);
    if (c->result[0]) cJSON_AddStringToObject(j, "result", c->result);
    else cJSON_AddNullToObject(j, "result");
    if (c->counter) cJSON_AddNumberToObject(j, "counter", (double)c->counter);
    else cJSON_AddNullToObject(j, "counter");
    cJSON_AddNumberToObject(j, "ttl_s", (double)c->ttl_s);
    add_time(j, "created_at", c->created_at);
    add_time(j, "sent_at", c->sent_at);
    add_time(j, "finished_at", c->finished_at);
    if (!with_reply) return j;
    bool answered = strcmp(c->state, "done") == 0 || strcmp(c->state, "failed") == 0;
    if (answered) add_text(j, "reply", c->reply, c->reply_len);
    else cJSON_AddNullToObject(j, "reply");
    if (answered && strcmp(c->name, "diagnostics") == 0 && strcmp(c->state, "done") == 0)
        cJSON_AddItemToObject(j, "diagnostics", diagnostics_json(c->reply, c->reply_len));
    return j;
}

static int add_refusal(void *ctx, const db_refusal_t *r)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "at", (double)r->at);
    cJSON_AddStringToObject(j, "result", r->result);
    cJSON_AddNumberToObject(j, "refused_counter", (double)r->refused_counter);
    cJSON_AddNumberToObject(j, "highest_counter", (double)r->highest_counter);
    cJSON_AddNumberToObject(j, "refused_total", r->refused_total);
    if (r->command_id) cJSON_AddNumberToObject(j, "command", (double)r->command_id);
    else cJSON_AddNullToObject(j, "command");
    cJSON_AddItemToArray(ctx, j);
    return 0;
}

int http_command__device_fields(mqotad_t *d, const db_device_t *dv, cJSON *j)
{
    db_key_t key;
    int64_t total = 0;
    int k = db__key_get(d->db, dv->id, &key);
    memset(&key, 0, sizeof(key));
    if (k < 0) return -1;
    cJSON_AddBoolToObject(j, "command_key", k == 0);
    cJSON_AddBoolToObject(j, "takes_commands", (dv->caps & MQOTA_CAP_COMMANDS) != 0);
    cJSON *recent = cJSON_CreateArray();
    if (db__refusal_list(d->db, dv->id, RECENT_REFUSALS, add_refusal, recent, &total) != 0) {
        cJSON_Delete(recent);
        return -1;
    }
    cJSON_AddNumberToObject(j, "command_refusals", (double)total);
    cJSON_AddItemToObject(j, "recent_refusals", recent);
    return 0;
}

/* POST /api/v1/devices/{id}/commands {"name": "...", "args": "text", "ttl_s": N} */
static void post_command(mqotad_t *d, const char *device_id, const api_request_t *req,
                         api_response_t *res)
{
    static const char shape[] = "the body must be a JSON object like {\"name\": \"relay\", "
                                "\"args\": \"on\", \"ttl_s\": 600} (args and ttl_s optional)";
    char err[512];
    db_command_t *c = NULL;
    cJSON *body = NULL;
    int st = api_parse__json(req->body, req->body_len, shape, &body, err, sizeof(err));
    if (st != 0) {
        api__error(res, st, err);
        goto out;
    }
    cJSON *it;
    cJSON_ArrayForEach(it, body)
    {
        if (strcmp(it->string, "name") && strcmp(it->string, "args") &&
            strcmp(it->string, "ttl_s")) {
            snprintf(err, sizeof(err), "unknown member \"%.40s\"; a command has \"name\", "
                     "\"args\" and \"ttl_s\"", it->string);
            api__error(res, 400, err);
            goto out;
        }
    }
    cJSON *name = cJSON_GetObjectItemCaseSensitive(body, "name");
    cJSON *args = cJSON_GetObjectItemCaseSensitive(body, "args");
    cJSON *ttl = cJSON_GetObjectItemCaseSensitive(body, "ttl_s");
    if (!cJSON_IsString(name)) {
        api__error(res, 400, "\"name\" must be the command's name, a string such as "
                   "\"diagnostics\" or \"relay\"");
        goto out;
    }
    if (args && !cJSON_IsString(args)) {
        api__error(res, 400, "\"args\" must be a string (the command's argument as text)");
        goto out;
    }
    int64_t ttl_s = COMMAND_TTL_DEFAULT_S;
    if (ttl) {
        /* the range first: casting a double outside int64_t's range is undefined */
        if (!cJSON_IsNumber(ttl) || !(ttl->valuedouble >= 1 && ttl->valuedouble <= COMMAND_TTL_MAX_S) ||
            ttl->valuedouble != (double)(int64_t)ttl->valuedouble) {
            snprintf(err, sizeof(err), "\"ttl_s\" must be a whole number of seconds from 1 to "
                     "%d", COMMAND_TTL_MAX_S);
            api__error(res, 400, err);
            goto out;
        }
        ttl_s = (int64_t)ttl->valuedouble;
    }
    const char *a = args ? args->valuestring : "";
    c = malloc(sizeof(*c));
    if (!c) {
        api__error(res, 500, "out of memory");
        goto out;
    }
    command_result_t rc = command__queue(d, device_id, name->valuestring, (const uint8_t *)a,
                                         strlen(a), ttl_s, c, err, sizeof(err));
    static const int status[] = {202, 400, 404, 409, 500};
    if (rc != COMMAND_OK) api__error(res, status[rc], err);
    else api__json(res, 202, command_json(c, true));
out:
    free(c);
    cJSON_Delete(body);
}

typedef struct {
    cJSON *array;
    int n;
} list_ctx_t;

static int add_command(void *ctx, const db_command_t *c)
{
    list_ctx_t *l = ctx;
    cJSON_AddItemToArray(l->array, command_json(c, false));
    l->n++;
    return 0;
}

/* GET /api/v1/devices/{id}/commands: newest first, at most LIST_MAX. */
static void get_device_commands(mqotad_t *d, const char *device_id, api_response_t *res)
{
    char msg[DB_ID_MAX + 64];
    db_device_t dv;
    db_key_t key;
    list_ctx_t l = {cJSON_CreateArray(), 0};
    if (db__command_list(d->db, device_id, LIST_MAX, add_command, &l) != 0) {
        cJSON_Delete(l.array);
        api__error(res, 500, "database error while listing commands");
        return;
    }
    if (l.n == 0) {
        int dev = db__device_get(d->db, device_id, &dv);
        int k = dev == 1 ? db__key_get(d->db, device_id, &key) : 0;
        memset(&key, 0, sizeof(key));
        if (dev < 0 || k < 0) {
            cJSON_Delete(l.array);
            api__error(res, 500, "database error while reading the device");
            return;
        }
        if (dev == 1 && k == 1) {
            cJSON_Delete(l.array);
            snprintf(msg, sizeof(msg), "unknown device '%.64s'", device_id);
            api__error(res, 404, msg);
            return;
        }
    }
    api__json(res, 200, l.array);
}

static void get_command(mqotad_t *d, const char *ids, api_response_t *res)
{
    char msg[128];
    int64_t id = api__parse_id(ids);
    db_command_t *c = malloc(sizeof(*c));
    int rc = !c ? -1 : id < 0 ? 1 : db__command_get(d->db, id, c);
    if (rc == 0) {
        api__json(res, 200, command_json(c, true));
    } else if (rc == 1) {
        snprintf(msg, sizeof(msg), "unknown command '%.40s'", ids);
        api__error(res, 404, msg);
    } else {
        api__error(res, 500, "database error while reading the command");
    }
    free(c);
}

bool http_command__route(mqotad_t *d, const api_request_t *req, api_response_t *res)
{
    static const char dev_prefix[] = API "/devices/", cmd_prefix[] = API "/commands/",
                      suffix[] = "/commands";
    const char *p = req->path, *m = req->method;
    bool get = strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
    size_t n = strlen(p), np = sizeof(dev_prefix) - 1, ns = sizeof(suffix) - 1;

    if (n > np + ns && strncmp(p, dev_prefix, np) == 0 && strcmp(p + n - ns, suffix) == 0) {
        char id[DB_ID_MAX + 2];
        size_t idn = n - np - ns;
        if (idn > DB_ID_MAX) idn = DB_ID_MAX + 1; /* too long: unknown, cut for the message */
        memcpy(id, p + np, idn);
        id[idn] = '\0';
        if (strchr(id, '/')) return false;
        if (strcmp(m, "POST") == 0) post_command(d, id, req, res);
        else if (get) get_device_commands(d, id, res);
        else api__method_not_allowed(res, m, p, "GET, POST");
        return true;
    }
    if (strncmp(p, cmd_prefix, sizeof(cmd_prefix) - 1) == 0 && p[sizeof(cmd_prefix) - 1] &&
        !strchr(p + sizeof(cmd_prefix) - 1, '/')) {
        if (get) get_command(d, p + sizeof(cmd_prefix) - 1, res);
        else api__method_not_allowed(res, m, p, "GET");
        return true;
    }
    return false;
}
