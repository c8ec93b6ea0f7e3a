/* SPDX-License-Identifier: Apache-2.0 */
/*
 * token.c - where the CLI finds its API token when none is given (docs/CLI.md "Global
 * options"): --token, then $MQOTA_TOKEN, then DIR/api.token of the data directory named by
 * --data or $MQOTA_DATA, and last, when mqotad answers 401, the token file of the mqotad the
 * server URL reaches, if that mqotad runs on this machine as this user.
 *
 * The last step asks mqotad's health check where its token file is (it tells loopback clients
 * only) and believes the answer only when the file's directory is a running mqotad's data
 * directory for this very URL: DIR/http.url is the URL, DIR/mqotad.pid names a live process,
 * and DIR/api.token belongs to this user and nobody else may read it. Another local user who
 * started a fake server on the port therefore gets no token from us.
 */
#define _POSIX_C_SOURCE 200809L

#include "token.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

/* The first line of path without its line end, into out; 0, or -1 (missing, empty, too long). */
static int read_line(const char *path, char *out, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    bool ok = fgets(out, (int)cap, f) != NULL;
    fclose(f);
    if (!ok)
        return -1;
    size_t n = strcspn(out, "\r\n");
    if (out[n] == '\0' && n == cap - 1)
        return -1; /* no line end within cap: too long to be ours */
    out[n] = '\0';
    return n > 0 ? 0 : -1;
}

/* A token as mqotad makes them: 1 to CLI_TOKEN_MAX of [A-Za-z0-9_-]. */
static bool token_text_ok(const char *t)
{
    size_t n = strlen(t);
    if (n == 0 || n > CLI_TOKEN_MAX)
        return false;
    for (; *t; t++)
        if (!((*t >= 'a' && *t <= 'z') || (*t >= 'A' && *t <= 'Z') || (*t >= '0' && *t <= '9') ||
              *t == '-' || *t == '_'))
            return false;
    return true;
}

int cli_token_from_dir(const char *dir, char *out, size_t cap, char *why, size_t why_cap)
{
    char path[4200];
    snprintf(path, sizeof path, "%.4000s/api.token", dir);
    errno = 0;
    if (read_line(path, out, cap) != 0) {
        snprintf(why, why_cap, "cannot read the API token in %s: %s", path,
                 errno ? strerror(errno) : "empty or malformed");
        return -1;
    }
    if (!token_text_ok(out)) {
        OPENSSL_cleanse(out, cap);
        snprintf(why, why_cap, "%s does not hold an API token", path);
        return -1;
    }
    return 0;
}

int cli_server_from_dir(const char *dir, char *out, size_t cap)
{
    char path[4200];
    snprintf(path, sizeof path, "%.4000s/http.url", dir);
    return read_line(path, out, cap);
}

/* Whether url's host is a loopback name or address: only then is mqotad on this machine. */
static bool loopback_url(const char *url)
{
    const char *h = strstr(url, "://");
    h = h ? h + 3 : url;
    return strncmp(h, "127.", 4) == 0 || strncmp(h, "localhost:", 10) == 0 ||
           strcmp(h, "localhost") == 0 || strncmp(h, "[::1]", 5) == 0;
}

/* url with "://localhost" spelled "://127.0.0.1" (mqotad listens on IPv4; http.url has the
 * address), into out. */
static void same_host_spelling(const char *url, char *out, size_t cap)
{
    const char *h = strstr(url, "://localhost");
    if (h && (h[12] == ':' || h[12] == '\0' || h[12] == '/'))
        snprintf(out, cap, "%.*s://127.0.0.1%s", (int)(h - url), url, h + 12);
    else
        snprintf(out, cap, "%s", url);
}

int cli_token_for_server(const char *server, const char *token_file, char *out, size_t cap)
{
    char dir[4096], line[4200];
    struct stat st;
    if (!loopback_url(server) || token_file == NULL || token_file[0] != '/')
        return -1;
    size_t n = strlen(token_file);
    const char *slash = strrchr(token_file, '/');
    if (n >= sizeof dir || strcmp(slash, "/api.token") != 0)
        return -1;
    snprintf(dir, sizeof dir, "%.*s", (int)(slash - token_file), token_file);
    /* the data directory of this URL's mqotad, and that mqotad is running */
    char want[1100];
    same_host_spelling(server, want, sizeof want);
    if (cli_server_from_dir(dir, line, sizeof line) != 0 || strcmp(line, want) != 0)
        return -1;
    snprintf(line, sizeof line, "%.4000s/mqotad.pid", dir);
    char pid_text[32];
    if (read_line(line, pid_text, sizeof pid_text) != 0)
        return -1;
    long pid = strtol(pid_text, NULL, 10);
    if (pid <= 0 || kill((pid_t)pid, 0) != 0)
        return -1;
    /* ours alone: a file another user can write or we cannot be sure of is not used */
    if (stat(token_file, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
        (st.st_mode & 077) != 0)
        return -1;
    char why[256];
    return cli_token_from_dir(dir, out, cap, why, sizeof why);
}
