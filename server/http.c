/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http.c - libmicrohttpd plumbing: the daemon (no internal thread; the main loop polls its
 * epoll fd and calls MHD_run), request bodies, and turning api_response_t into responses.
 * What each route does is in http_api.c.
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "http_api.h"
#include "metrics.h"
#include "http_console.h"
#include "mqotad.h"

/* Per-request state kept between the calls of the access handler. */
typedef struct {
    uint8_t *body;
    size_t len, cap;
    size_t max;                /* largest body of this request's kind */
    api_body_kind_t kind;
    bool too_large;
    bool answered;             /* refused on its headers: the body is discarded */
    bool peer_loopback;
    char local_addr[INET6_ADDRSTRLEN];
} request_t;

/* The memory libmicrohttpd gives each connection for its request line and headers: enough
 * for an URL well past API_URL_MAX, so that it reaches api__check_request() and gets the
 * API's JSON 414; beyond it libmicrohttpd answers by itself (docs/API.md "Errors"). */
#define HTTP_CONNECTION_MEMORY (256u * 1024u)

static const char *get_arg(void *conn, const char *name)
{
    return MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, name);
}

static const char *get_header(void *conn, const char *name)
{
    return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
}

static enum MHD_Result send_response(mqotad_t *d, struct MHD_Connection *conn,
                                     const char *method, const char *url, api_response_t *res)
{
    metrics__http(d, method, url, res->status);
    struct MHD_Response *r = MHD_create_response_from_buffer(
        res->len, res->body, res->body_static ? MHD_RESPMEM_PERSISTENT : MHD_RESPMEM_MUST_FREE);
    if (!r) {
        if (!res->body_static) free(res->body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, res->content_type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL,
                            res->cache_control ? res->cache_control : "no-store");
    if (res->etag) MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, res->etag);
    for (const char *const *h = http_console_security_headers; h[0]; h += 2)
        MHD_add_response_header(r, h[0], h[1]);
    if (res->allow) MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, res->allow);
    if (res->bearer_challenge)
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"mqotad\"");
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)res->status, r);
    MHD_destroy_response(r);
    return ret;
}

/* Append upload data, keeping at most rq->max bytes (past it, the body is discarded). */
static void append_body(request_t *rq, const char *data, size_t n)
{
    if (rq->too_large || rq->answered) return;
    if (rq->len + n > rq->max) {
        rq->too_large = true;
        free(rq->body);
        rq->body = NULL;
        rq->len = rq->cap = 0;
        return;
    }
    if (rq->len + n > rq->cap) {
        size_t cap = rq->cap ? rq->cap : 65536;
        while (cap < rq->len + n) cap *= 2;
        if (cap > rq->max) cap = rq->max;
        uint8_t *p = realloc(rq->body, cap);
        if (!p) {
            rq->too_large = true;
            return;
        }
        rq->body = p;
        rq->cap = cap;
    }
    memcpy(rq->body + rq->len, data, n);
    rq->len += n;
}

static enum MHD_Result add_arg_len(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    (void)kind;
    *(size_t *)cls += 2 + strlen(key) + (value ? strlen(value) : 0); /* '?'/'&', '=' */
    return MHD_YES;
}

/* Note who the client is (loopback or not) and which local address it reached. */
static void note_addresses(struct MHD_Connection *conn, request_t *rq)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    if (sa && sa->sa_family == AF_INET)
        rq->peer_loopback =
            (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    else if (sa && sa->sa_family == AF_INET6)
        rq->peer_loopback = IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr);
    ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    struct sockaddr_in local;
    socklen_t len = sizeof(local);
    if (ci && getsockname(ci->connect_fd, (struct sockaddr *)&local, &len) == 0 &&
        local.sin_family == AF_INET)
        inet_ntop(AF_INET, &local.sin_addr, rq->local_addr, sizeof(rq->local_addr));
}

/*
 * libmicrohttpd calls this once when the headers are in, once per piece of body, and once
 * more with no data when the body is complete: then the request is answered.
 */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    mqotad_t *d = cls;
    (void)version;
    request_t *rq = *con_cls;
    api_response_t res = {0};
    if (!rq) {
        /* The headers are in: judge them (Host, token, Origin, URL, type and length) before
         * any of the body is read, so an unauthenticated upload gets 401, not 413. */
        rq = calloc(1, sizeof(*rq));
        if (!rq) return MHD_NO;
        *con_cls = rq;
        note_addresses(conn, rq);
        size_t url_len = strlen(url);
        MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, add_arg_len, &url_len);
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
        unsigned long long n = cl ? strtoull(cl, NULL, 10) : 0; /* MHD checked its syntax */
        long long content_length = !cl ? -1 : n > 1ULL << 62 ? 1LL << 62 : (long long)n;
        api_request_t req = {
            .method = method, .path = url, .arg = get_arg, .header = get_header, .conn = conn,
            .url_len = url_len, .peer_loopback = rq->peer_loopback,
            .local_addr = rq->local_addr[0] ? rq->local_addr : NULL,
        };
        rq->kind = api__body_kind(method, url);
        rq->max = rq->kind == API_BODY_IMAGE ? MQOTAD_MAX_IMAGE : API_JSON_BODY_MAX;
        if (api__check_request(d, &req, content_length, &res)) {
            rq->answered = true;
            mqh_log(MQH_DEBUG, "http %s %s -> %d (on its headers)", method, url, res.status);
            return send_response(d, conn, method, url, &res);
        }
        if (http_events__is_stream(method, url)) { /* server-sent events (http_events.c) */
            rq->answered = true;
            return (enum MHD_Result)http_events__open(d, conn);
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        append_body(rq, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (rq->answered) return MHD_YES;
    if (rq->too_large) {
        api__too_large(&res, rq->kind);
        return send_response(d, conn, method, url, &res);
    }
    api_request_t req = {
        .method = method, .path = url, .body = rq->body, .body_len = rq->len,
        .arg = get_arg, .header = get_header, .conn = conn,
        .peer_loopback = rq->peer_loopback,
        .local_addr = rq->local_addr[0] ? rq->local_addr : NULL,
    };
    api__handle(d, &req, &res);
    mqh_log(MQH_DEBUG, "http %s %s -> %d", method, url, res.status);
    return send_response(d, conn, method, url, &res);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    request_t *rq = *con_cls;
    if (!rq) return;
    free(rq->body);
    free(rq);
    *con_cls = NULL;
}

/* Start the HTTP server on --http; port 0 lets the kernel pick one (d->http_bound_port). */
int http__start(mqotad_t *d)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)d->http_port)};
    if (inet_pton(AF_INET, d->http_addr, &sa.sin_addr) != 1) {
        mqh_log(MQH_ERROR, "--http address '%s' is not an IPv4 address", d->http_addr);
        return -1;
    }
    /* suspend/resume: an idle event stream (http_events.c) waits without being polled */
    d->mhd = MHD_start_daemon(MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME, (uint16_t)d->http_port,
                              NULL, NULL, on_request, d,
                              MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                              MHD_OPTION_NOTIFY_COMPLETED, on_completed, d,
                              MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)60,
                              MHD_OPTION_CONNECTION_LIMIT, (unsigned int)256,
                              MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                              (size_t)HTTP_CONNECTION_MEMORY,
                              MHD_OPTION_END);
    if (!d->mhd) {
        mqh_log(MQH_ERROR, "cannot listen for HTTP on %s:%d (address in use?)", d->http_addr,
                d->http_port);
        return -1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d->mhd, MHD_DAEMON_INFO_BIND_PORT);
    d->http_bound_port = info ? info->port : d->http_port;
    mqh_log(MQH_INFO, "HTTP API on http://%s:%d", d->http_addr, d->http_bound_port);
    return 0;
}

void http__stop(mqotad_t *d)
{
    http_events__close_all(d);
    if (d->mhd) MHD_stop_daemon(d->mhd);
    d->mhd = NULL;
}

int http__fd(mqotad_t *d)
{
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d->mhd, MHD_DAEMON_INFO_EPOLL_FD);
    return info ? info->epoll_fd : -1;
}

void http__run(mqotad_t *d)
{
    MHD_run(d->mhd);
}

/* Milliseconds until libmicrohttpd needs to run again (connection timeouts), or -1. */
int http__timeout_ms(mqotad_t *d)
{
    MHD_UNSIGNED_LONG_LONG t;
    if (MHD_get_timeout(d->mhd, &t) != MHD_YES) return -1;
    return t > 60000 ? 60000 : (int)t;
}
