/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http_console.c - what mqotad serves its operator's console (server/dashboard,
 * docs/CONSOLE.md) beyond the routes the CLI uses, with no libmicrohttpd in it:
 *
 *   GET  /, /index.html, /console.js, ...   the embedded files (public, ETag + no-cache)
 *   GET  /api/v1/devices?limit=&offset=&sort=&order=&q=&count=   a page of the inventory
 *   GET  /api/v1/devices/{id}/deployments  the device's targets, newest deployment first
 *   POST /api/v1/events/ticket             a one-use ticket for GET /api/v1/events
 *
 * The event stream itself (server-sent events over libmicrohttpd) is http_events.c.
 * EventSource cannot send an Authorization header, so the page trades its bearer token for a
 * ticket: random, good for CONSOLE_TICKET_TTL_MS and one stream, so a ticket that leaks into a
 * log or a history is worthless by the time anyone reads it (docs/API.md "Events").
 */
#include "http_console.h"

#include <cjson/cJSON.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mqota/mqota_image.h"
#include "mqota/mqota_status.h"

#define API "/api/v1"

/* Sent with every answer (http.c): the console is one origin's scripts and styles only, is
 * never framed, and tells no other site where it was. */
const char *const http_console_security_headers[] = {
    "Content-Security-Policy",
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'",
    "X-Content-Type-Options", "nosniff",
    "X-Frame-Options", "DENY",
    "Referrer-Policy", "no-referrer",
    "Cross-Origin-Opener-Policy", "same-origin",
    "Cross-Origin-Resource-Policy", "same-origin",
    NULL, NULL,
};

struct console *http_console__state(mqotad_t *d)
{
    if (!d->console) d->console = calloc(1, sizeof(*d->console));
    return d->console;
}

void http_console__cleanup(mqotad_t *d)
{
    if (!d->console) return;
    OPENSSL_cleanse(d->console->tickets, sizeof(d->console->tickets));
    free(d->console);
    d->console = NULL;
}

/* ---- embedded files ---- */

const http_asset_t *http_console__asset(const char *path)
{
    if (strcmp(path, "/") == 0) path = "/index.html";
    if (strcmp(path, "/favicon.ico") == 0) path = "/favicon.svg"; /* browsers ask for it */
    for (const http_asset_t *a = mqotad_assets; a->path; a++)
        if (strcmp(a->path, path) == 0) return a;
    return NULL;
}

void http_console__get_asset(const http_asset_t *a, const api_request_t *req,
                             api_response_t *res)
{
    const char *inm = req->header(req->conn, "If-None-Match");
    res->etag = a->etag;
    res->cache_control = "no-cache";
    res->content_type = a->content_type;
    res->body_static = true;
    if (inm && strstr(inm, a->etag)) {
        res->status = 304;
        res->body = (char *)"";
        res->len = 0;
        return;
    }
    res->status = 200;
    res->body = (char *)a->data;
    res->len = a->len;
}

/* ---- tickets ---- */

/* POST /api/v1/events/ticket: a fresh ticket in the ring (the oldest unused one is forgotten
 * when CONSOLE_TICKETS_MAX are out); 201 with it, or 500 without memory or randomness. */
static void ticket_new(mqotad_t *d, api_response_t *res)
{
    struct console *c = http_console__state(d);
    uint8_t raw[16];
    if (!c || RAND_bytes(raw, sizeof(raw)) != 1) {
        api__error(res, 500, "could not make a ticket (out of memory or no randomness)");
        return;
    }
    console_ticket_t *t = &c->tickets[c->next_ticket];
    c->next_ticket = (c->next_ticket + 1) % CONSOLE_TICKETS_MAX;
    mqh_hex(raw, sizeof(raw), t->text);
    OPENSSL_cleanse(raw, sizeof(raw));
    t->expires_ms = mqh_now_ms() + CONSOLE_TICKET_TTL_MS;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "ticket", t->text);
    cJSON_AddNumberToObject(j, "expires_in_s", CONSOLE_TICKET_TTL_MS / 1000);
    api__json(res, 201, j);
}

bool http_console__ticket_ok(mqotad_t *d, const char *ticket, bool consume)
{
    struct console *c = d->console;
    if (!c || !ticket || strlen(ticket) != 32) return false;
    uint64_t now = mqh_now_ms();
    for (int i = 0; i < CONSOLE_TICKETS_MAX; i++) {
        console_ticket_t *t = &c->tickets[i];
        if (t->expires_ms <= now || CRYPTO_memcmp(t->text, ticket, 32) != 0) continue;
        if (consume) t->expires_ms = 0;
        return true;
    }
    return false;
}

/* ---- the paged device list ---- */

typedef enum { SORT_ID, SORT_VERSION, SORT_STATE, SORT_LAST_SEEN, SORT_ONLINE, SORT_CHIP,
               SORT_PROGRESS } sort_key_t;
static const char *const sort_names[] = {"id", "version", "state", "last_seen", "online",
                                         "chip", "progress"};

typedef struct {
    db_device_t *v;
    size_t n, cap;
    const char *q;       /* ?q=: a substring of id, version or project, any case; or NULL */
    int failed;
} dev_vec_t;

/* One device of the selection into the vector, unless ?q= leaves it out; 1 (stop) without
 * memory. */
static int collect(void *ctx, const db_device_t *dv)
{
    dev_vec_t *c = ctx;
    if (c->q && !strcasestr(dv->id, c->q) && !strcasestr(dv->version, c->q) &&
        !strcasestr(dv->project, c->q))
        return 0;
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 256;
        db_device_t *p = realloc(c->v, cap * sizeof(*p));
        if (!p) {
            c->failed = 1;
            return 1;
        }
        c->v = p;
        c->cap = cap;
    }
    c->v[c->n++] = *dv;
    return 0;
}

static int cmp_num(long long a, long long b) { return a < b ? -1 : a > b; }

/* Order of two devices by key (then by id, so pages are stable); desc reverses the key. */
static int cmp_devices(const void *pa, const void *pb, void *arg)
{
    const db_device_t *a = pa, *b = pb;
    const int *k = arg;
    int r = 0;
    switch ((sort_key_t)k[0]) {
    case SORT_ID: r = strcmp(a->id, b->id); break;
    case SORT_VERSION: r = strcmp(a->version, b->version); break;
    case SORT_STATE:
        r = strcmp(mqota_state_name((mqota_update_state_t)a->state),
                   mqota_state_name((mqota_update_state_t)b->state));
        break;
    case SORT_LAST_SEEN: r = cmp_num(a->last_seen, b->last_seen); break;
    case SORT_ONLINE: r = cmp_num(a->online, b->online); break;
    case SORT_CHIP: r = strcmp(mqota_chip_name(a->chip_id), mqota_chip_name(b->chip_id)); break;
    case SORT_PROGRESS:
        r = cmp_num(a->image_size ? (long long)a->progress * 1000 / a->image_size : 0,
                    b->image_size ? (long long)b->progress * 1000 / b->image_size : 0);
        break;
    }
    if (k[1]) r = -r;
    return r ? r : strcmp(a->id, b->id);
}

bool http_console__wants_page(const api_request_t *req)
{
    static const char *const args[] = {"limit", "offset", "sort", "order", "q", "count"};
    for (size_t i = 0; i < sizeof(args) / sizeof(args[0]); i++)
        if (req->arg(req->conn, args[i])) return true;
    return false;
}

/* ?NAME= as a whole number from lo to hi into *out (def when absent); else 400 with a
 * sentence. */
static int arg_number(const api_request_t *req, const char *name, long def, long lo, long hi,
                      long *out, api_response_t *res)
{
    const char *s = req->arg(req->conn, name);
    char *end, msg[200];
    *out = def;
    if (!s) return 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < lo || v > hi || s[0] == '-' || s[0] == '+') {
        snprintf(msg, sizeof(msg), "%s '%.20s%s' must be a whole number from %ld to %ld", name,
                 s, strlen(s) > 20 ? "..." : "", lo, hi);
        api__error(res, 400, msg);
        return -1;
    }
    *out = v;
    return 0;
}

/* Reads every device the filter selects and sorts them all (10,000: tens of ms, PERFORMANCE.md
 * "The console at 10,000 devices"), then renders only the page. */
void http_console__devices(mqotad_t *d, const api_request_t *req, api_response_t *res,
                           cJSON *(*render)(mqotad_t *d, const db_device_t *dv))
{
    char msg[300];
    long limit, offset, count;
    int key[2] = {SORT_ID, 0};
    if (arg_number(req, "limit", CONSOLE_PAGE_DEFAULT, 1, CONSOLE_PAGE_MAX, &limit, res) ||
        arg_number(req, "offset", 0, 0, 100000000, &offset, res) ||
        arg_number(req, "count", 0, 0, 1, &count, res))
        return;
    const char *sort = req->arg(req->conn, "sort"), *order = req->arg(req->conn, "order");
    if (sort) {
        size_t i = 0, n = sizeof(sort_names) / sizeof(sort_names[0]);
        while (i < n && strcmp(sort, sort_names[i]) != 0) i++;
        if (i == n) {
            snprintf(msg, sizeof(msg), "sort '%.40s' is not a column; sort by id, version, "
                     "state, last_seen, online, chip or progress", sort);
            api__error(res, 400, msg);
            return;
        }
        key[0] = (int)i;
    }
    if (order && strcmp(order, "asc") && strcmp(order, "desc")) {
        api__error(res, 400, "order must be asc or desc");
        return;
    }
    key[1] = order && strcmp(order, "desc") == 0;
    const char *q = req->arg(req->conn, "q");
    dev_vec_t c = {.q = q && *q ? q : NULL};
    const char *filter = req->arg(req->conn, "filter");
    if (filter && *filter) {
        if (http_group__select(d, filter, collect, &c, res) != 0) {
            free(c.v);
            return;
        }
    } else if (db__device_list(d->db, collect, &c) != 0) {
        c.failed = 1;
    }
    if (c.failed) {
        free(c.v);
        api__error(res, 500, "database error or out of memory while listing devices");
        return;
    }
    cJSON *j = cJSON_CreateObject(), *states = cJSON_CreateObject();
    size_t online = 0;
    int per_state[16] = {0};
    for (size_t i = 0; i < c.n; i++) {
        online += c.v[i].online;
        if (c.v[i].state >= 0 && c.v[i].state < 16) per_state[c.v[i].state]++;
    }
    for (int s = 0; s < 16; s++) {
        const char *name = mqota_state_name((mqota_update_state_t)s);
        if (per_state[s] && strcmp(name, "unknown") != 0)
            cJSON_AddNumberToObject(states, name, per_state[s]);
    }
    cJSON_AddNumberToObject(j, "total", (double)c.n);
    cJSON_AddNumberToObject(j, "online", (double)online);
    cJSON_AddItemToObject(j, "states", states);
    if (!count) {
        qsort_r(c.v, c.n, sizeof(*c.v), cmp_devices, key);
        cJSON_AddNumberToObject(j, "offset", (double)offset);
        cJSON_AddNumberToObject(j, "limit", (double)limit);
        cJSON *a = cJSON_AddArrayToObject(j, "devices");
        for (size_t i = (size_t)offset; i < c.n && i < (size_t)(offset + limit); i++) {
            cJSON *dj = render(d, &c.v[i]);
            if (!dj) {
                free(c.v);
                cJSON_Delete(j);
                api__error(res, 500, "database error while listing devices");
                return;
            }
            cJSON_AddItemToArray(a, dj);
        }
    }
    free(c.v);
    api__json(res, 200, j);
}

/* ---- a device's deployment history ---- */

static int add_history(void *ctx, const db_target_t *t)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "deployment", (double)t->deployment_id);
    cJSON_AddNumberToObject(j, "release", (double)t->release_id);
    cJSON_AddStringToObject(j, "state", state__target_name(t->state));
    cJSON_AddStringToObject(j, "reason", t->reason);
    cJSON_AddNumberToObject(j, "progress", t->progress);
    cJSON_AddNumberToObject(j, "bytes_sent", (double)t->bytes_sent);
    cJSON_AddNumberToObject(j, "bytes_resent", (double)t->bytes_resent);
    cJSON_AddNumberToObject(j, "started_at", (double)t->started_at);
    cJSON_AddNumberToObject(j, "finished_at", (double)t->finished_at);
    cJSON_AddItemToArray(ctx, j);
    return 0;
}

/* GET /api/v1/devices/{id}/deployments: the device's CONSOLE_HISTORY_MAX newest targets; 404
 * for an unknown device, 500 on a database error. */
static void get_history(mqotad_t *d, const char *id, api_response_t *res)
{
    char msg[DB_ID_MAX + 128];
    db_device_t dv;
    int rc = strlen(id) > DB_ID_MAX ? 1 : db__device_get(d->db, id, &dv);
    if (rc == 1) {
        snprintf(msg, sizeof(msg), "unknown device '%.64s'; mqotad knows a device once it has "
                 "connected ('mqota device list')", id);
        api__error(res, 404, msg);
        return;
    }
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "device", dv.id);
    cJSON *a = cJSON_AddArrayToObject(j, "targets");
    if (rc < 0 || db__target_of_device(d->db, dv.id, CONSOLE_HISTORY_MAX, add_history, a)) {
        cJSON_Delete(j);
        api__error(res, 500, "database error while reading the device's deployments");
        return;
    }
    api__json(res, 200, j);
}

/* The console's own routes; false for any other path (http_api.c goes on). */
bool http_console__route(mqotad_t *d, const api_request_t *req, api_response_t *res)
{
    static const char dev[] = API "/devices/", suffix[] = "/deployments";
    const char *p = req->path, *m = req->method;
    bool get = strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
    if (strcmp(p, API "/events/ticket") == 0) {
        if (strcmp(m, "POST") == 0) ticket_new(d, res);
        else api__method_not_allowed(res, m, p, "POST");
        return true;
    }
    size_t n = strlen(p), nd = sizeof(dev) - 1, ns = sizeof(suffix) - 1;
    if (n > nd + ns && strncmp(p, dev, nd) == 0 && strcmp(p + n - ns, suffix) == 0) {
        char id[DB_ID_MAX + 2];
        size_t idn = n - nd - ns;
        if (idn >= sizeof(id)) idn = sizeof(id) - 1; /* too long: unknown, said by get_history */
        memcpy(id, p + nd, idn);
        id[idn] = '\0';
        if (strchr(id, '/')) return false;
        if (get) get_history(d, id, res);
        else api__method_not_allowed(res, m, p, "GET");
        return true;
    }
    return false;
}

bool http_events__is_stream(const char *method, const char *path)
{
    return strcmp(method, "GET") == 0 && strcmp(path, API "/events") == 0;
}
