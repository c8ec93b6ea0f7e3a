/* SPDX-License-Identifier: Apache-2.0 */
/* HTTP to mqotad over libcurl: one reused handle, JSON in and out. See http.h. */
#define _POSIX_C_SOURCE 200809L

#include "http.h"
#include "format.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "token.h"

/* One handle for the whole run so polling reuses the connection. */
static CURL *g_curl;

/* The token found for the server after a 401 (token.c), and whether it was looked for. */
static char g_found_token[CLI_TOKEN_MAX + 2];
static bool g_token_searched;

typedef struct {
    char *data;
    size_t len;
    size_t cap;
} buf_t;

/* libcurl write callback: append to a growing buffer; returning less than given aborts. */
static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    buf_t *b = userdata;
    size_t n = size * nmemb;

    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *d = realloc(b->data, cap);
        if (d == NULL)
            return 0;
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, ptr, n);
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

int http_global_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

void http_global_cleanup(void)
{
    OPENSSL_cleanse(g_found_token, sizeof g_found_token);
    if (g_curl != NULL)
        curl_easy_cleanup(g_curl);
    g_curl = NULL;
    curl_global_cleanup();
}

char *http_escape(const char *s)
{
    if (g_curl == NULL && (g_curl = curl_easy_init()) == NULL)
        return NULL;
    char *e = curl_easy_escape(g_curl, s, 0);
    if (e == NULL)
        return NULL;
    char *copy = strdup(e);
    curl_free(e);
    return copy;
}

/*
 * Print why no HTTP answer came. A refused or failed connection gets the operating system's
 * words ("Connection refused"), which read better than curl's "Failed to connect to ...".
 */
static void report_transport(const cli_ctx_t *ctx, CURLcode rc)
{
    const char *why = curl_easy_strerror(rc);
    long os_errno = 0;

    if (rc == CURLE_COULDNT_CONNECT &&
        curl_easy_getinfo(g_curl, CURLINFO_OS_ERRNO, &os_errno) == CURLE_OK && os_errno != 0)
        why = strerror((int)os_errno);
    cli_error("cannot reach mqotad at %s: %s. Is mqotad running? Set --server or MQOTA_SERVER.",
              ctx->server, why);
}

/*
 * Print the server's refusal: its "error" sentence when the body carries one, otherwise a
 * sentence naming the status and the request.
 */
static void report_http_error(const char *method, const char *path, long status,
                              const cJSON *body)
{
    const char *err = cli_json_str(body, "error", NULL);

    /* With --json the body was not made safe yet; the sentence still goes to a terminal. */
    char *safe = err != NULL && *err != '\0' ? fmt_safe(err, false) : NULL;
    if (safe != NULL)
        cli_error("%s", safe);
    else
        cli_error("mqotad answered HTTP %ld to %s %s; check the mqotad log.", status, method,
                  path);
    free(safe);
}

/*
 * After a 401 to a request sent without a token: ask the server's health check for its token
 * file and take the token when token.c judges the file to be that server's (same machine, same
 * user, running). Tried once per run. True when a token was found.
 */
static bool find_token(const cli_ctx_t *ctx)
{
    cJSON *health = NULL;
    if (g_token_searched)
        return false;
    g_token_searched = true;
    if (http_json(ctx, "GET", "/api/v1/health", NULL, NULL, 0, &health, NULL) != CLI_OK) {
        cJSON_Delete(health);
        return false;
    }
    int rc = cli_token_for_server(ctx->server, cli_json_str(health, "token_file", NULL),
                                  g_found_token, sizeof g_found_token);
    cJSON_Delete(health);
    if (rc != 0)
        OPENSSL_cleanse(g_found_token, sizeof g_found_token);
    return rc == 0;
}

int http_json(const cli_ctx_t *ctx, const char *method, const char *path, const char *ctype,
              const void *body, size_t len, cJSON **out, long *status)
{
    return http_json_hdr(ctx, method, path, ctype, body, len, NULL, out, status);
}

int http_json_hdr(const cli_ctx_t *ctx, const char *method, const char *path, const char *ctype,
                  const void *body, size_t len, const char *header, cJSON **out, long *status)
{
    struct curl_slist *hdrs = NULL;
    buf_t resp = { 0 };
    char url[2048];
    long code = 0;
    int ret = CLI_FAILED;

again:
    *out = NULL;
    if (status != NULL)
        *status = 0;
    /*
     * A request with a body and no token: look for the token before sending, not after the
     * 401. mqotad answers an unauthenticated upload at its headers and closes the connection,
     * so curl, still sending the body (no "Expect: 100-continue" below), may see the close
     * as "Failed sending data to the peer" and never read the 401 the retry hangs on.
     */
    if (ctx->token == NULL && !g_found_token[0] && body != NULL && len > 0)
        (void)find_token(ctx);
    const char *token = ctx->token != NULL ? ctx->token
                        : g_found_token[0] ? g_found_token : NULL;
    if (g_curl == NULL && (g_curl = curl_easy_init()) == NULL) {
        cli_error("cannot start libcurl; the system is out of memory.");
        return CLI_FAILED;
    }
    snprintf(url, sizeof url, "%s%s", ctx->server, path);

    curl_easy_reset(g_curl);
    curl_easy_setopt(g_curl, CURLOPT_URL, url);
    curl_easy_setopt(g_curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(g_curl, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(g_curl, CURLOPT_TIMEOUT_MS, 120000L);
    curl_easy_setopt(g_curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(g_curl, CURLOPT_WRITEDATA, &resp);
    curl_easy_setopt(g_curl, CURLOPT_USERAGENT, "mqota-cli/0.1");
    hdrs = curl_slist_append(hdrs, "Accept: application/json");
    /* No "Expect: 100-continue" round trip before uploading an image. */
    hdrs = curl_slist_append(hdrs, "Expect:");
    if (header != NULL)
        hdrs = curl_slist_append(hdrs, header);
    char *auth = NULL;
    if (token != NULL) {
        size_t n = strlen(token) + sizeof "Authorization: Bearer ";
        auth = malloc(n);
        if (auth == NULL) {
            cli_error("out of memory while preparing the request.");
            curl_slist_free_all(hdrs);
            return CLI_FAILED;
        }
        snprintf(auth, n, "Authorization: Bearer %s", token);
        hdrs = curl_slist_append(hdrs, auth);
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
        curl_easy_setopt(g_curl, CURLOPT_CUSTOMREQUEST, method); /* DELETE */
    if (strcmp(method, "POST") == 0) {
        char ct[128];
        snprintf(ct, sizeof ct, "Content-Type: %s", ctype ? ctype : "application/octet-stream");
        hdrs = curl_slist_append(hdrs, ct);
        curl_easy_setopt(g_curl, CURLOPT_POST, 1L);
        curl_easy_setopt(g_curl, CURLOPT_POSTFIELDS, body ? (const char *)body : "");
        curl_easy_setopt(g_curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    curl_easy_setopt(g_curl, CURLOPT_HTTPHEADER, hdrs);

    CURLcode rc = curl_easy_perform(g_curl);
    if (rc != CURLE_OK) {
        report_transport(ctx, rc);
        ret = CLI_UNREACHABLE;
        goto out;
    }
    curl_easy_getinfo(g_curl, CURLINFO_RESPONSE_CODE, &code);
    if (status != NULL)
        *status = code;

    cJSON *json = resp.data != NULL ? cJSON_ParseWithLength(resp.data, resp.len) : NULL;
    if (code == 401 && token == NULL && find_token(ctx)) {
        cJSON_Delete(json);
        curl_slist_free_all(hdrs);
        free(resp.data);
        resp = (buf_t){ 0 };
        hdrs = NULL;
        goto again; /* once: find_token() looks only once */
    }
    if (!ctx->json)
        cli_json_make_safe(json); /* before any of it, an error included, reaches a terminal */
    if (code == 401) {
        cli_error("mqotad refused the request: missing or invalid bearer token (give --token, "
                  "set MQOTA_TOKEN, or --data DIR for mqotad's DIR/api.token)");
        *out = json;
        ret = CLI_FAILED;
        goto out;
    }
    if (code < 200 || code > 299) {
        report_http_error(method, path, code, json);
        *out = json; /* the caller may add a hint from it (e.g. 409 names the release) */
        ret = CLI_FAILED;
        goto out;
    }
    if (json == NULL) {
        cli_error("mqotad at %s answered %s %s with something that is not JSON; is %s really "
                  "mqotad?", ctx->server, method, path, ctx->server);
        ret = CLI_FAILED;
        goto out;
    }
    *out = json;
    ret = CLI_OK;
out:
    curl_slist_free_all(hdrs);
    if (auth != NULL) {
        OPENSSL_cleanse(auth, strlen(auth));
        free(auth);
    }
    free(resp.data);
    return ret;
}

int http_get(const cli_ctx_t *ctx, const char *path, cJSON **out)
{
    return http_json(ctx, "GET", path, NULL, NULL, 0, out, NULL);
}
