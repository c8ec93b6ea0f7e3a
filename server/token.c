/* SPDX-License-Identifier: Apache-2.0 */
/*
 * token.c - HTTP API bearer tokens.
 *
 * A token is 32 random bytes (OpenSSL RAND_bytes) in base64url without padding, 43 characters.
 * It is printed once by `token create` and never stored: the database keeps its SHA-256, name
 * and creation time. A request's token is hashed and compared with every stored hash with
 * CRYPTO_memcmp, without stopping at a match. Tokens are never logged.
 *
 * The API needs a token unless mqotad runs with --open-api. So that the CLI on the server's
 * own machine works without setup, mqotad writes one token to DIR/api.token (mode 0600, only
 * the user running mqotad reads it) when that file is absent; its hash is the row named
 * TOKEN_FILE_NAME, replaced each time the file is made again.
 */
#include "token.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define TOKEN_BYTES 32
#define TOKEN_TEXT_MAX 128 /* longer Authorization values cannot be one of ours */
#define TOKEN_FILE_NAME "api.token" /* in the data directory; also the name of its row */

/* base64url without padding of n bytes into out (4 * ceil(n / 3) + 1 bytes suffice). */
static void base64url(const uint8_t *in, size_t n, char *out)
{
    static const char a[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n) v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n) v |= in[i + 2];
        out[o++] = a[(v >> 18) & 63];
        out[o++] = a[(v >> 12) & 63];
        if (i + 1 < n) out[o++] = a[(v >> 6) & 63];
        if (i + 2 < n) out[o++] = a[v & 63];
    }
    out[o] = '\0';
}

/* A token name: 1..64 of [A-Za-z0-9._-], so it prints and greps safely. */
static bool valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64) return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '.' || *s == '_' || *s == '-'))
            return false;
    return true;
}

#define TOKEN_TEXT_LEN (4 * ((TOKEN_BYTES + 2) / 3))

/* A new random token's text (TOKEN_TEXT_LEN characters and NUL) and its SHA-256; 0 or -1. */
static int new_token(char text[TOKEN_TEXT_LEN + 1], uint8_t digest[32])
{
    uint8_t raw[TOKEN_BYTES];
    unsigned int dlen = 0;
    if (RAND_bytes(raw, sizeof(raw)) != 1) return -1;
    base64url(raw, sizeof(raw), text);
    OPENSSL_cleanse(raw, sizeof(raw));
    return EVP_Digest(text, strlen(text), digest, &dlen, EVP_sha256(), NULL) == 1 ? 0 : -1;
}

static int print_token(void *ctx, const db_token_t *t)
{
    (void)ctx;
    char when[32] = "-";
    time_t tt = (time_t)t->created_at;
    struct tm tm;
    if (gmtime_r(&tt, &tm)) strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    printf("%-24s %s\n", t->name, when);
    return 0;
}

static int count_token(void *ctx, const db_token_t *t)
{
    (void)t;
    (*(int *)ctx)++;
    return 0;
}

int token__command(mqotad_t *d)
{
    int argc = d->cmd_argc;
    char **argv = d->cmd_argv;
    const char *verb = argc > 0 ? argv[0] : "";
    bool named = strcmp(verb, "create") == 0 || strcmp(verb, "revoke") == 0;
    if (!(named && argc == 2) && !(strcmp(verb, "list") == 0 && argc == 1)) {
        fprintf(stderr, "mqotad: usage: mqotad --data DIR token create NAME | token list | "
                "token revoke NAME\n");
        return 2;
    }
    if (named && !valid_name(argv[1])) {
        fprintf(stderr, "mqotad: token name '%.80s' must be 1 to 64 letters, digits, '.', '_' "
                "or '-'.\n", argv[1]);
        return 2;
    }
    if (strcmp(verb, "list") == 0) {
        int n = 0;
        if (db__token_list(d->db, count_token, &n) != 0) return 1;
        if (n == 0) {
            printf("No API tokens: the HTTP API refuses every request but the health check "
                   "(unless mqotad runs with --open-api). mqotad writes %s/%s when it starts; "
                   "or create one with 'mqotad --data %s token create NAME'.\n", d->data_dir,
                   TOKEN_FILE_NAME, d->data_dir);
            return 0;
        }
        printf("%-24s %s\n", "NAME", "CREATED");
        return db__token_list(d->db, print_token, NULL) == 0 ? 0 : 1;
    }
    if (strcmp(verb, "revoke") == 0) {
        int rc = db__token_delete(d->db, argv[1]);
        if (rc == 1) {
            fprintf(stderr, "mqotad: there is no token named '%s'; see 'mqotad --data %s token "
                    "list'.\n", argv[1], d->data_dir);
            return 1;
        }
        if (rc != 0) return 1;
        printf("revoked token '%s'\n", argv[1]);
        return 0;
    }
    uint8_t digest[32];
    char text[TOKEN_TEXT_LEN + 1];
    if (new_token(text, digest) != 0) {
        fprintf(stderr, "mqotad: OpenSSL could not produce random bytes for the token.\n");
        return 1;
    }
    int rc = db__token_insert(d->db, argv[1], digest, (int64_t)time(NULL));
    if (rc == 1) {
        fprintf(stderr, "mqotad: a token named '%s' exists; revoke it first or pick another "
                "name.\n", argv[1]);
        return 1;
    }
    if (rc != 0) return 1;
    printf("%s\n", text);
    fprintf(stderr, "mqotad: token '%s' created; it is shown only now (mqotad keeps only its "
            "SHA-256). Send it as 'Authorization: Bearer <token>' (mqota --token or "
            "MQOTA_TOKEN).\n", argv[1]);
    OPENSSL_cleanse(text, sizeof(text));
    return 0;
}

bool token__required(mqotad_t *d)
{
    return !d->open_api;
}

/*
 * Make DIR/api.token if it is absent: a new token written to a 0600 temporary file created
 * with O_EXCL (a stale one is removed first), its hash stored as the row TOKEN_FILE_NAME
 * (replacing the old row, whose token was only in the file), then the file linked into place;
 * link() fails rather than replace a file another process made meanwhile. An existing file is
 * left alone, also after 'token revoke api.token'. d->token_file gets the absolute path.
 * Returns 0, or -1 after logging why.
 */
int token__ensure_file(mqotad_t *d)
{
    char path[PATH_MAX + 32], tmp[PATH_MAX + 48], text[TOKEN_TEXT_LEN + 2];
    uint8_t digest[32];
    int rc = -1, fd = -1;
    char *abs = realpath(d->data_dir, NULL);
    snprintf(d->token_file, sizeof(d->token_file), "%s/%s", abs ? abs : d->data_dir,
             TOKEN_FILE_NAME);
    free(abs);
    snprintf(path, sizeof(path), "%s/%s", d->data_dir, TOKEN_FILE_NAME);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    if (access(path, F_OK) == 0) return 0;
    if (new_token(text, digest) != 0) {
        mqh_log(MQH_ERROR, "OpenSSL could not produce random bytes for %s", path);
        return -1;
    }
    strcat(text, "\n");
    unlink(tmp);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    size_t len = strlen(text);
    if (fd < 0 || write(fd, text, len) != (ssize_t)len || fsync(fd) != 0) goto err;
    if (close(fd) != 0) {
        fd = -1;
        goto err;
    }
    fd = -1;
    if (db__token_delete(d->db, TOKEN_FILE_NAME) < 0 ||
        db__token_insert(d->db, TOKEN_FILE_NAME, digest, (int64_t)time(NULL)) != 0) {
        mqh_log(MQH_ERROR, "cannot store the hash of %s in the database", path);
        goto out;
    }
    if (link(tmp, path) != 0) goto err;
    mqh_log(MQH_INFO, "wrote a new API token to %s (mode 0600); the mqota CLI on this machine "
            "finds it by itself", path);
    rc = 0;
    goto out;
err:
    mqh_log(MQH_ERROR, "cannot write the API token file %s: %s", path, strerror(errno));
out:
    if (fd >= 0) close(fd);
    unlink(tmp);
    OPENSSL_cleanse(text, sizeof(text));
    return rc;
}

typedef struct {
    uint8_t digest[32];
    int match;
} match_ctx_t;

static int compare_token(void *ctx, const db_token_t *t)
{
    match_ctx_t *m = ctx;
    m->match |= CRYPTO_memcmp(m->digest, t->sha256, sizeof(m->digest)) == 0;
    return 0; /* compare with every token: no early exit */
}

bool token__authorized(mqotad_t *d, const char *authorization)
{
    if (!token__required(d)) return true;
    if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0) return false;
    const char *tok = authorization + 7;
    while (*tok == ' ') tok++;
    size_t n = strlen(tok);
    while (n > 0 && (tok[n - 1] == ' ' || tok[n - 1] == '\t')) n--;
    if (n == 0 || n > TOKEN_TEXT_MAX) return false;
    match_ctx_t m = {.match = 0};
    unsigned int dlen = 0;
    if (EVP_Digest(tok, n, m.digest, &dlen, EVP_sha256(), NULL) != 1) return false;
    if (db__token_list(d->db, compare_token, &m) != 0) return false;
    return m.match != 0;
}
