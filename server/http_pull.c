/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http_pull.c - the pull listener of legacy protocol 3 (docs/LEGACY.md §3, docs/API.md "Pull
 * listener"): a libmicrohttpd daemon of its own, TLS only, on --pull-https ADDR:PORT (off by
 * default), polled by the main loop like the API's. It answers two routes the way the devices'
 * firmware expects, and nothing else:
 *
 *   GET /devices/<id>?app_ver=<version>  200 + file name | 204 | 400 | 403 | 404
 *   GET /files/<name>                    200 | 206 (Range) | 403 | 404 | 416, the image bytes
 *
 * 403 carries no WWW-Authenticate challenge (the firmware sends its credentials up front).
 * Every part of a request is bounded and checked (legacy_pull_req.c) before anything is
 * looked up; what the answer is, legacy_pull.c decides. The certificate is --pull-cert and
 * --pull-key, or else mqotad's own (DIR/tls/server.crt, its private CA DIR/tls/ca.crt).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <openssl/crypto.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "legacy_pull.h"
#include "mqotad.h"

/* Largest certificate or key file read, bytes. */
#define PEM_MAX (64u * 1024u)
/* Connection memory (request line and headers): the longest pull URL and a basic-auth header
 * fit many times over; more is refused by libmicrohttpd itself. */
#define PULL_CONNECTION_MEMORY (16u * 1024u)
/* Connections at once (hundreds of devices poll; a poll lasts a round trip). */
#define PULL_CONNECTION_LIMIT 512u
/* Idle connection timeout, seconds. */
#define PULL_CONNECTION_TIMEOUT_S 30u
/* Most query arguments a request may carry. */
#define PULL_ARGS_MAX 8

/* One file response: shared by the request (con_cls) and the response's reader. */
typedef struct {
    mqotad_t *d;
    int refs;
    pull_route_t route;
    int64_t deployment_id;
    uint64_t first;      /* file offset of the response's first byte */
    uint64_t reached;    /* file offset one past the last byte handed to the connection */
    bool is_file;
} pull_rq_t;

static void rq_unref(pull_rq_t *rq)
{
    if (rq && --rq->refs == 0) free(rq);
}

static ssize_t read_file(void *cls, uint64_t pos, char *buf, size_t max)
{
    pull_rq_t *rq = cls;
    long n = legacy_pull__read(rq->d, rq->route.device_id, rq->deployment_id, rq->first + pos,
                               (uint8_t *)buf, max);
    if (n < 0) return MHD_CONTENT_READER_END_WITH_ERROR;
    if (n == 0) return MHD_CONTENT_READER_END_OF_STREAM;
    rq->reached = rq->first + pos + (uint64_t)n;
    return (ssize_t)n;
}

static void free_reader(void *cls)
{
    rq_unref(cls);
}

/* A short text answer (no challenge with 403). */
static enum MHD_Result answer(struct MHD_Connection *conn, unsigned status, const char *text)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

typedef struct {
    int n_args, n_app_ver;
    const char *app_ver;
} args_t;

static enum MHD_Result count_args(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
    (void)kind;
    args_t *a = cls;
    a->n_args++;
    if (strcmp(key, "app_ver") == 0) {
        a->n_app_ver++;
        a->app_ver = value;
    }
    return MHD_YES;
}

/* GET /devices/<id>?app_ver=: the poll. */
static enum MHD_Result poll_device(mqotad_t *d, struct MHD_Connection *conn,
                                   const pull_route_t *route, const char *user, const char *pass)
{
    args_t a = {0};
    char name[PULL_NAME_MAX + 1] = "";
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, count_args, &a);
    const char *ver = a.n_app_ver == 1 && a.n_args <= PULL_ARGS_MAX && a.app_ver ? a.app_ver
                                                                                 : NULL;
    int st = legacy_pull__poll(d, route->device_id, user, pass, ver, name, sizeof(name));
    mqh_log(MQH_DEBUG, "pull: GET /devices/%s -> %d", route->device_id, st);
    switch (st) {
    case 200: return answer(conn, 200, name);
    case 204: return answer(conn, 204, "");
    case 400: return answer(conn, 400, "app_ver must be given once: 1 to 31 printable "
                                       "characters\n");
    case 403: return answer(conn, 403, "forbidden\n");
    default: return answer(conn, 404, "no such device\n");
    }
}

/* GET /files/<name>: the image, whole or the one Range asked. */
static enum MHD_Result fetch_file(mqotad_t *d, struct MHD_Connection *conn, pull_rq_t *rq,
                                  const char *user, const char *pass)
{
    uint32_t size = 0;
    int st = legacy_pull__open(d, &rq->route, user, pass, &size, &rq->deployment_id);
    if (st == 403) return answer(conn, 403, "forbidden\n");
    if (st != 200) return answer(conn, 404, "no such file\n");
    uint64_t first = 0, last = size ? size - 1 : 0;
    const char *range = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_RANGE);
    pull_range_t rg = pull_req__range(range, size, &first, &last);
    char cr[64];
    if (rg == PULL_RANGE_UNSATISFIABLE) {
        struct MHD_Response *r = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
        if (!r) return MHD_NO;
        snprintf(cr, sizeof(cr), "bytes */%u", size);
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_RANGE, cr);
        enum MHD_Result ret = MHD_queue_response(conn, 416, r);
        MHD_destroy_response(r);
        return ret;
    }
    if (rg == PULL_RANGE_NONE) first = 0, last = size ? size - 1 : 0;
    rq->first = rq->reached = first;
    rq->is_file = true;
    uint64_t len = size ? last - first + 1 : 0;
    struct MHD_Response *r =
        MHD_create_response_from_callback(len, 16384, read_file, rq, free_reader);
    if (!r) return MHD_NO;
    rq->refs++; /* the reader's */
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/octet-stream");
    MHD_add_response_header(r, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (rg == PULL_RANGE_OK) {
        snprintf(cr, sizeof(cr), "bytes %llu-%llu/%u", (unsigned long long)first,
                 (unsigned long long)last, size);
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_RANGE, cr);
    }
    mqh_log(MQH_INFO, "pull: device %s fetches bytes %llu..%llu of %u", rq->route.device_id,
            (unsigned long long)first, (unsigned long long)last, size);
    enum MHD_Result ret = MHD_queue_response(conn, rg == PULL_RANGE_OK ? 206 : 200, r);
    MHD_destroy_response(r);
    return ret;
}

/*
 * libmicrohttpd calls this when the headers are in (a GET has no body; anything with one is
 * refused): the route, the credentials, then legacy_pull.c.
 */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    mqotad_t *d = cls;
    (void)version;
    (void)upload_data;
    if (*con_cls) { /* a body after the answer: discarded */
        *upload_data_size = 0;
        return MHD_YES;
    }
    pull_rq_t *rq = calloc(1, sizeof(*rq));
    if (!rq) return MHD_NO;
    rq->d = d;
    rq->refs = 1;
    *con_cls = rq;
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0) {
        struct MHD_Response *r = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
        if (!r) return MHD_NO;
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET");
        enum MHD_Result ret = MHD_queue_response(conn, 405, r);
        MHD_destroy_response(r);
        return ret;
    }
    pull_req__route(url, &rq->route);
    if (rq->route.kind == PULL_ROUTE_NONE) return answer(conn, 404, "not found\n");
    char *pass = NULL;
    char *user = MHD_basic_auth_get_username_password(conn, &pass);
    enum MHD_Result ret = rq->route.kind == PULL_ROUTE_DEVICE
                              ? poll_device(d, conn, &rq->route, user, user ? pass : NULL)
                              : fetch_file(d, conn, rq, user, user ? pass : NULL);
    if (pass) {
        OPENSSL_cleanse(pass, strlen(pass));
        MHD_free(pass);
    }
    if (user) MHD_free(user);
    return ret;
}

/* A request ended: a file response tells the adapter how far it got. */
static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    pull_rq_t *rq = *con_cls;
    if (!rq) return;
    if (rq->is_file)
        legacy_pull__closed(cls, rq->route.device_id, rq->deployment_id, rq->reached,
                            toe == MHD_REQUEST_TERMINATED_COMPLETED_OK);
    rq_unref(rq);
    *con_cls = NULL;
}

/* A PEM file's text (NUL-terminated, malloc'd), or NULL (logged). */
static char *read_pem(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = f ? malloc(PEM_MAX + 1) : NULL;
    size_t n = buf ? fread(buf, 1, PEM_MAX + 1, f) : 0;
    if (f) fclose(f);
    if (!buf || n == 0 || n > PEM_MAX) {
        mqh_log(MQH_ERROR, "--pull-https: cannot read %s%s", path,
                n > PEM_MAX ? " (larger than 64 KiB)" : "");
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

int http_pull__start(mqotad_t *d)
{
    if (!d->pull_on) return 0;
    if (!d->pull_cert_file != !d->pull_key_file) {
        mqh_log(MQH_ERROR, "--pull-cert and --pull-key go together: give both, or neither for "
                "mqotad's own certificate");
        return -1;
    }
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
        mqh_log(MQH_ERROR, "--pull-https: this libmicrohttpd has no TLS");
        return -1;
    }
    const char *cert_path = d->pull_cert_file, *key_path = d->pull_key_file;
    if (!cert_path) { /* mqotad's own certificate, from its private CA */
        if (tls__ensure_broker_certs(d) != 0) return -1;
        cert_path = d->tls_cert;
        key_path = d->tls_key;
    }
    char *cert = read_pem(cert_path), *key = cert ? read_pem(key_path) : NULL;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)d->pull_port)};
    int rc = -1;
    if (!cert || !key) goto out;
    if (inet_pton(AF_INET, d->pull_addr, &sa.sin_addr) != 1) {
        mqh_log(MQH_ERROR, "--pull-https address '%s' is not an IPv4 address", d->pull_addr);
        goto out;
    }
    d->pull_mhd = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_TLS, (uint16_t)d->pull_port, NULL,
                                   NULL, on_request, d,
                                   MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                                   MHD_OPTION_HTTPS_MEM_CERT, cert,
                                   MHD_OPTION_HTTPS_MEM_KEY, key,
                                   MHD_OPTION_NOTIFY_COMPLETED, on_completed, d,
                                   MHD_OPTION_CONNECTION_TIMEOUT, PULL_CONNECTION_TIMEOUT_S,
                                   MHD_OPTION_CONNECTION_LIMIT, PULL_CONNECTION_LIMIT,
                                   MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                                   (size_t)PULL_CONNECTION_MEMORY,
                                   MHD_OPTION_END);
    if (!d->pull_mhd) {
        mqh_log(MQH_ERROR, "cannot listen for pull requests on %s:%d (address in use, or the "
                "certificate and key do not match)", d->pull_addr, d->pull_port);
        goto out;
    }
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(d->pull_mhd, MHD_DAEMON_INFO_BIND_PORT);
    d->pull_bound_port = info ? info->port : d->pull_port;
    mqh_log(MQH_INFO, "pull listener (legacy protocol 3) on https://%s:%d, certificate %s",
            d->pull_addr, d->pull_bound_port, cert_path);
    rc = 0;
out:
    free(cert);
    if (key) {
        OPENSSL_cleanse(key, strlen(key));
        free(key);
    }
    return rc;
}

void http_pull__stop(mqotad_t *d)
{
    if (d->pull_mhd) MHD_stop_daemon(d->pull_mhd);
    d->pull_mhd = NULL;
}

int http_pull__fd(mqotad_t *d)
{
    if (!d->pull_mhd) return -1;
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(d->pull_mhd, MHD_DAEMON_INFO_EPOLL_FD);
    return info ? info->epoll_fd : -1;
}

void http_pull__run(mqotad_t *d)
{
    if (d->pull_mhd) MHD_run(d->pull_mhd);
}

/* Milliseconds until the pull listener needs to run again (connection timeouts; 0 while TLS
 * holds bytes already read), or -1 when it is off. */
int http_pull__timeout_ms(mqotad_t *d)
{
    MHD_UNSIGNED_LONG_LONG t;
    if (!d->pull_mhd || MHD_get_timeout(d->pull_mhd, &t) != MHD_YES) return -1;
    return t > 60000 ? 60000 : (int)t;
}
