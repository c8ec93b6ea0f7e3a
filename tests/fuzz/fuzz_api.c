/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for whole HTTP API requests: method, path, the version and notes query
 * arguments, the Authorization and X-Mqota-Signature headers and the body go to api__handle()
 * (the route table and every handler) as http.c would pass them, against real SQLite files
 * in a temporary directory (db__open, as mqotad opens them) holding three devices, release 1
 * (the tiny valid image of corpus/image/tiny-valid) and deployment 1. The MQTT client is not
 * connected, so offers are not published (deploy.c logs and moves on, as after a broker loss).
 *
 * Input (fuzz_fields.h): flags, method, path, version, notes, Authorization, signature, body.
 * Flags bit 0 picks the second server, whose database holds one API token (TOKEN below), so
 * the bearer check runs; the first runs as with --open-api (no token needed).
 *
 * Checked on every request: no crash, leak or UB; the status is one the API documents for a
 * healthy server (never 500); a JSON answer parses, errors are {"error": "<sentence>"}, 401
 * carries the Bearer challenge and 405 an Allow header; on the token server only the health
 * check and the dashboard answer without the token; a refused request changed nothing (the
 * release and deployment counts). A request that created something (201) is undone by
 * restoring the database file and releases/ from the state after setup, so every input runs
 * against the same data.
 */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "deploy.h"
#include "fuzz_fields.h"
#include "http_api.h"
#include "http_console.h"
#include "mqota_host.h"
#include "release.h"
#include "signature.h"
#include "transfer.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)
#define TOKEN "fuzz-token-Jq0c4hY0m2W7aaaaaaaaaaaaaaaaaaaaaaaa"
#define TINY FUZZ_SOURCE_DIR "/corpus/image/tiny-valid"
#define KEY FUZZ_SOURCE_DIR "/keys/api.pub.pem"

typedef struct {
    mqotad_t d;
    char db_path[PATH_MAX + 32];
    char pristine[PATH_MAX + 32];
    char release_file[PATH_MAX + 128]; /* releases/<sha>.bin of release 1 */
    int releases, deployments;         /* counts after setup */
} server_t;

static server_t servers[2];
static char top[PATH_MAX];
static fuzz_fields_t *cur; /* the request being handled, for arg() and header() */
static bool trace;

static void die(const char *what)
{
    fprintf(stderr, "fuzz_api: setup failed: %s\n", what);
    exit(1);
}

static int count_release(void *ctx, const db_release_t *r)
{
    (void)r;
    (*(int *)ctx)++;
    return 0;
}

static int count_deployment(void *ctx, const db_deployment_t *dep)
{
    (void)dep;
    (*(int *)ctx)++;
    return 0;
}

static int count_releases(server_t *s)
{
    int n = 0;
    CHECK(db__release_list(s->d.db, count_release, &n) == 0);
    return n;
}

static int count_deployments(server_t *s)
{
    int n = 0;
    CHECK(db__deployment_list(s->d.db, count_deployment, &n) == 0);
    return n;
}

static int copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = in ? fopen(to, "wb") : NULL;
    char buf[65536];
    size_t n;
    int rc = in && out ? 0 : -1;
    while (rc == 0 && (n = fread(buf, 1, sizeof(buf), in)) > 0)
        if (fwrite(buf, 1, n, out) != n) rc = -1;
    if (in && ferror(in)) rc = -1;
    if (in) fclose(in);
    if (out && fclose(out) != 0) rc = -1;
    return rc;
}

static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = malloc(1 << 16);
    if (!f || !buf) die(path);
    *len = fread(buf, 1, 1 << 16, f);
    fclose(f);
    return buf;
}

/* Bring s back to the state after setup: its database file and releases/ directory. */
static void restore(server_t *s)
{
    db__close(s->d.db); /* the last connection: checkpoints and removes the WAL */
    s->d.db = NULL;
    if (copy_file(s->pristine, s->db_path) != 0) die("restore the database");
    char dir[PATH_MAX + 16], path[PATH_MAX + 300];
    snprintf(dir, sizeof(dir), "%s/releases", s->d.data_dir);
    DIR *dh = opendir(dir);
    struct dirent *e;
    if (!dh) die(dir);
    while ((e = readdir(dh)) != NULL) {
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (strcmp(path, s->release_file) != 0 && unlink(path) != 0) die(path);
    }
    closedir(dh);
    if (db__open(&s->d.db, s->db_path) != 0) die("reopen the database");
}

static void setup(server_t *s, const char *name, bool with_token)
{
    mqotad_t *d = &s->d;
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s/%s", top, name);
    char *argv[] = {"mqotad", "--data", dir, "--trusted-key", KEY,
                    "--broker", "mqtt://127.0.0.1:1", "--log-level", "error", NULL};
    if (options__parse(d, 9, argv) != 0) die("options");
    if (mkdir(dir, 0700) != 0) die(dir);
    snprintf(s->db_path, sizeof(s->db_path), "%s/mqota.db", dir);
    snprintf(s->pristine, sizeof(s->pristine), "%s/pristine.db", dir);
    if (signature__load_keys(d) != 0 || db__open(&d->db, s->db_path) != 0 ||
        transfer__init(d) != 0 || deploy__init(d) != 0)
        die("keys, database or transfers");
    d->max_packet = 268435455u;

    static const struct { const char *id; uint16_t chip; } devs[] = {
        {"vdev-0001", 0}, {"vdev-0002", 0}, {"vdev-s3", 9}};
    for (size_t i = 0; i < 3; i++) {
        db_device_t dv = {0};
        snprintf(dv.id, sizeof(dv.id), "%s", devs[i].id);
        dv.chip_id = devs[i].chip;
        snprintf(dv.project, sizeof(dv.project), "fuzz");
        snprintf(dv.version, sizeof(dv.version), "fuzz-1");
        dv.online = true;
        dv.max_chunk = 4096;
        dv.max_window = 16;
        if (db__device_put(d->db, &dv) != 0) die("device");
    }
    /* group lab holds vdev-0001, which is tagged site=berlin (docs/API.md "Groups and tags") */
    if (db__group_insert(d->db, "lab", 1795000000) != 0 ||
        db__group_add(d->db, "lab", "vdev-0001", 1795000000) != 0 ||
        db__tag_put(d->db, "vdev-0001", "site", "berlin") != 0)
        die("group and tag");
    static const uint8_t command_key[32] = {1}; /* vdev-0001 takes commands (docs/API.md) */
    if (db__key_put(d->db, "vdev-0001", command_key, 1) != 0) die("command key");
    size_t len;
    uint8_t *img = read_all(TINY, &len);
    db_release_t *r = malloc(sizeof(*r));
    char err[768];
    int64_t dup;
    if (!r || release__create(d, img, len, "v1.0.0", "seed", NULL, r, &dup, err,
                              sizeof(err)) != RELEASE_OK)
        die(err);
    snprintf(s->release_file, sizeof(s->release_file), "%s", r->path);
    free(img);
    const char *one[] = {"vdev-0001"};
    db_deployment_t dep;
    if (deploy__create(d, r->id, one, 1, false, &dep, err, sizeof(err)) != DEPLOY_OK) die(err);
    free(r);
    if (with_token) {
        uint8_t digest[32];
        unsigned int n = 0;
        if (EVP_Digest(TOKEN, strlen(TOKEN), digest, &n, EVP_sha256(), NULL) != 1 ||
            db__token_insert(d->db, "fuzz", digest, 1795000000) != 0)
            die("token");
    }
    db__close(d->db);
    d->db = NULL;
    if (copy_file(s->db_path, s->pristine) != 0 || db__open(&d->db, s->db_path) != 0)
        die("pristine copy");
    s->releases = count_releases(s);
    s->deployments = count_deployments(s);
    if (s->releases != 1 || s->deployments != 1) die("counts after setup");
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void teardown(void)
{
    for (int i = 0; i < 2; i++) {
        if (servers[i].d.xfers) transfer__cleanup(&servers[i].d);
        db__close(servers[i].d.db);
        signature__free_keys(&servers[i].d);
    }
    if (top[0]) nftw(top, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *tmp = getenv("TMPDIR");
    snprintf(top, sizeof(top), "%s/mqota-fuzz-api.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(top)) die("mkdtemp");
    atexit(teardown);
    trace = getenv("MQOTA_FUZZ_TRACE") != NULL;
    mqh_log_init("fuzz_api", MQH_ERROR);
    setup(&servers[0], "open", false);
    servers[0].d.open_api = true; /* mqotad --open-api: the routes without the bearer check */
    setup(&servers[1], "token", true);
    return 0;
}

static const char *get_arg(void *conn, const char *name)
{
    (void)conn;
    /* the third field is an upload's ?version= and a device list's ?filter= */
    if (strcmp(name, "version") == 0 || strcmp(name, "filter") == 0)
        return fuzz_opt(cur->field[2]);
    if (strcmp(name, "notes") == 0) return fuzz_opt(cur->field[3]);
    return NULL;
}

static const char *get_header(void *conn, const char *name)
{
    (void)conn;
    if (strcasecmp(name, "Authorization") == 0) return fuzz_opt(cur->field[4]);
    if (strcasecmp(name, "X-Mqota-Signature") == 0) return fuzz_opt(cur->field[5]);
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_fields_t f;
    CHECK(fuzz_fields_split(data, size, 6, &f) == 0);
    server_t *s = &servers[f.flags & 1];
    cur = &f;
    api_request_t req = {
        .method = f.field[0], .path = f.field[1], .body = f.rest, .body_len = f.rest_len,
        .arg = get_arg, .header = get_header, .conn = NULL,
    };
    api_response_t res = {0};
    api__handle(&s->d, &req, &res);

    int st = res.status;
    if (trace) /* MQOTA_FUZZ_TRACE=1: one line per request, to see what the seeds reach */
        fprintf(stderr, "fuzz_api: server %d %s %s -> %d %.*s\n", f.flags & 1, f.field[0],
                f.field[1], st, res.len > 160 ? 160 : (int)res.len,
                strcmp(res.content_type, "application/json") == 0 ? res.body : "(html)");
    CHECK(st == 200 || st == 201 || st == 202 || st == 304 || st == 400 || st == 401 ||
          st == 404 || st == 405 || st == 409);
    CHECK(res.body != NULL && res.content_type != NULL);
    bool public_route = http_console__asset(f.field[1]) != NULL || /* the console's files */
                        strcmp(f.field[1], "/api/v1/health") == 0;
    if (strcmp(res.content_type, "application/json") == 0) {
        cJSON *j = cJSON_ParseWithLength(res.body, res.len);
        CHECK(j != NULL);
        if (st >= 400) {
            const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
            CHECK(cJSON_IsString(e) && e->valuestring[0] != '\0');
        }
        cJSON_Delete(j);
    } else if (strcmp(f.field[1], "/metrics") == 0) {
        /* Prometheus's text format (http_metrics.c): only a 200, beginning with a HELP line */
        CHECK(st == 200 && strncmp(res.content_type, "text/plain; version=0.0.4", 25) == 0 &&
              res.len > 7 && memcmp(res.body, "# HELP ", 7) == 0);
    } else {
        CHECK((st == 200 || st == 304) && public_route);
    }
    CHECK((st == 401) == res.bearer_challenge);
    CHECK((st == 405) == (res.allow != NULL));
    if (s == &servers[1] && !public_route && st != 401) CHECK(strstr(f.field[4], TOKEN));
    if (s == &servers[0]) CHECK(st != 401);
    if (st >= 400) {
        CHECK(count_releases(s) == s->releases);
        CHECK(count_deployments(s) == s->deployments);
    }
    if (!res.body_static) free(res.body);
    /* a release, deployment, command or group was stored, or a group or tags changed */
    if (st == 201 || st == 202 ||
        (st == 200 && strcmp(f.field[0], "GET") != 0 && strcmp(f.field[0], "HEAD") != 0))
        restore(s);
    cur = NULL;
    fuzz_fields_free(&f);
    return 0;
}
