/* SPDX-License-Identifier: Apache-2.0 */
/*
 * legacy_pull.c - the adapter of legacy protocol 3, HTTPS pull (docs/LEGACY.md §3): devices
 * that run esp_https_ota poll mqotad's pull listener (http_pull.c) and fetch the file it names.
 *
 * Nothing is pushed: start() only arms the job; the device's next poll gets the file's name
 * (200), its fetch marks the target started, the bytes served count as progress, a response
 * sent whole is the image handed over (phase BOOTING: the device should restart), and the
 * target succeeds only when the device polls with the release's version (policy,
 * deploy_legacy.c). A whole response proves little (its last bytes may sit in socket buffers
 * when the device stops), so a poll with the old version after it is a failed attempt (the
 * fetch broke, esp_https_ota refused the image, or the new one rolled back), and a fetch while
 * BOOTING is still served. A fetch mqotad saw cut is a failed attempt at once. Either way the
 * framework's retry arms the job again and the device's next poll gets the name again (it may
 * resume with a Range, http_pull.c).
 *
 * Credentials: each device's registration carries a basic-auth user and password (the same
 * pair on many devices is a fleet-wide login). The password is never stored: check_params()
 * replaces it with a random salt and its PBKDF2-HMAC-SHA256 (PULL_PBKDF2_ITER iterations).
 * Devices poll every half minute, so a session remembers the SHA-256 of salt and the last
 * password that verified and skips PBKDF2 while the same one comes again.
 */
#include "legacy_pull.h"

#include <cjson/cJSON.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devlog.h"
#include "legacy.h"

#define SALT_LEN 16
#define HASH_LEN 32

/* A pull device's credentials and fetch state (ld->session). */
typedef struct {
    char user[PULL_USER_MAX + 1];
    uint8_t salt[SALT_LEN];
    uint8_t hash[HASH_LEN];
    uint8_t ok_digest[HASH_LEN]; /* SHA-256(salt || password) of the last password that verified */
    bool ok_cached;
} pull_session_t;

static int pbkdf2(const char *pass, const uint8_t salt[SALT_LEN], uint8_t out[HASH_LEN])
{
    return PKCS5_PBKDF2_HMAC(pass, (int)strlen(pass), salt, SALT_LEN, PULL_PBKDF2_ITER,
                             EVP_sha256(), HASH_LEN, out) == 1 ? 0 : -1;
}

/* A user name basic auth can carry: 1..PULL_USER_MAX printable ASCII bytes without ':'. */
static bool user_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > PULL_USER_MAX) return false;
    for (; *s; s++)
        if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7E || *s == ':') return false;
    return true;
}

/* The text of params[key] when it is a string, else NULL. */
static const char *str_param(cJSON *params, const char *key)
{
    cJSON *v = cJSON_GetObjectItemCaseSensitive(params, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/*
 * Check a registration's parameters: "user" and "password" (replaced here by "salt" and
 * "hash", hex), or "user", "salt" and "hash" as stored. Nothing else. 0, or -1 with a sentence.
 */
static int check_params(mqotad_t *d, const char *device_id, cJSON *params, char *err,
                        size_t cap)
{
    (void)d;
    const char *user = str_param(params, "user"), *pass = str_param(params, "password");
    const char *salt_hex = str_param(params, "salt"), *hash_hex = str_param(params, "hash");
    uint8_t salt[SALT_LEN], hash[HASH_LEN];
    char sh[2 * SALT_LEN + 1], hh[2 * HASH_LEN + 1];
    cJSON *it;
    if (!pull_req__id_ok(device_id)) {
        snprintf(err, cap, "a pull device's id must be 1 to %u of A-Z a-z 0-9 _ . - (it is in "
                 "the URL /devices/<id>)", PULL_ID_MAX);
        return -1;
    }
    cJSON_ArrayForEach(it, params) {
        if (strcmp(it->string, "user") && strcmp(it->string, "password") &&
            strcmp(it->string, "salt") && strcmp(it->string, "hash") &&
            strcmp(it->string, "reboot_timeout_s")) { /* the framework's (legacy.c) */
            snprintf(err, cap, "parameter \"%.40s\" is not one of the pull protocol's (user, "
                     "password, reboot_timeout_s)", it->string);
            return -1;
        }
    }
    if (!user || !user_ok(user)) {
        snprintf(err, cap, "parameter \"user\" must be the device's basic-auth user name: 1 to "
                 "%u printable characters without ':'", PULL_USER_MAX);
        return -1;
    }
    if (pass) {
        size_t n = strlen(pass);
        if (n == 0 || n > PULL_PASSWORD_MAX) {
            snprintf(err, cap, "parameter \"password\" must be 1 to %u bytes (the one the "
                     "device sends)", PULL_PASSWORD_MAX);
            return -1;
        }
        if (RAND_bytes(salt, SALT_LEN) != 1 || pbkdf2(pass, salt, hash) != 0) {
            snprintf(err, cap, "cannot hash the password (OpenSSL)");
            return -1;
        }
        mqh_hex(salt, SALT_LEN, sh);
        mqh_hex(hash, HASH_LEN, hh);
        cJSON_DeleteItemFromObjectCaseSensitive(params, "password");
        cJSON_DeleteItemFromObjectCaseSensitive(params, "salt");
        cJSON_DeleteItemFromObjectCaseSensitive(params, "hash");
        if (!cJSON_AddStringToObject(params, "salt", sh) ||
            !cJSON_AddStringToObject(params, "hash", hh)) {
            snprintf(err, cap, "out of memory");
            return -1;
        }
        return 0;
    }
    if (!salt_hex || !hash_hex || mqh_unhex(salt_hex, salt, SALT_LEN) != 0 ||
        mqh_unhex(hash_hex, hash, HASH_LEN) != 0) {
        snprintf(err, cap, "parameter \"password\" is missing: give the basic-auth password "
                 "the device sends");
        return -1;
    }
    return 0;
}

static int attach(mqotad_t *d, legacy_dev_t *ld)
{
    (void)d;
    const char *user = str_param(ld->params, "user");
    const char *salt_hex = str_param(ld->params, "salt"), *hash_hex = str_param(ld->params, "hash");
    pull_session_t *s = calloc(1, sizeof(*s));
    if (!s) return -1;
    if (!user || !user_ok(user) || !salt_hex || !hash_hex ||
        mqh_unhex(salt_hex, s->salt, SALT_LEN) != 0 || mqh_unhex(hash_hex, s->hash, HASH_LEN) != 0) {
        free(s);
        return -1;
    }
    snprintf(s->user, sizeof(s->user), "%s", user);
    ld->session = s;
    return 0;
}

static void detach(mqotad_t *d, legacy_dev_t *ld)
{
    (void)d;
    if (ld->session) OPENSSL_cleanse(ld->session, sizeof(pull_session_t));
    free(ld->session);
    ld->session = NULL;
}

/* Nothing is pushed: the device's next poll is the attempt. */
static int start(mqotad_t *d, legacy_dev_t *ld, uint64_t now_ms)
{
    (void)d, (void)ld, (void)now_ms;
    return 0;
}

static void on_message(mqotad_t *d, legacy_dev_t *ld, const char *topic, const uint8_t *payload,
                       size_t len, bool retained, uint64_t now_ms)
{
    (void)d, (void)ld, (void)topic, (void)payload, (void)len, (void)retained, (void)now_ms;
}

static void tick(mqotad_t *d, legacy_dev_t *ld, uint64_t now_ms)
{
    (void)d, (void)ld, (void)now_ms;
}

/* A fetch in flight ends by itself: legacy_pull__read() finds the job gone or changed. */
static void abort_attempt(mqotad_t *d, legacy_dev_t *ld)
{
    (void)d, (void)ld;
}

const legacy_adapter_t legacy_pull_adapter = {
    .protocol = DB_PROTO_PULL,
    .check_params = check_params,
    .attach = attach,
    .detach = detach,
    .start = start,
    .on_message = on_message,
    .tick = tick,
    .abort = abort_attempt,
};

/* The pull device id, or NULL (unknown, or of another protocol). */
static legacy_dev_t *find(mqotad_t *d, const char *id)
{
    legacy_dev_t *ld = legacy__find(d, id);
    return ld && ld->protocol == DB_PROTO_PULL && ld->session ? ld : NULL;
}

/* Whether user and pass are ld's credentials. Compared without early exit on the user; the
 * password through its cached SHA-256, else PBKDF2. */
static bool auth_ok(legacy_dev_t *ld, const char *user, const char *pass)
{
    pull_session_t *s = ld->session;
    uint8_t digest[HASH_LEN], h[HASH_LEN];
    unsigned int n = 0;
    if (!user || !pass || strlen(pass) > PULL_PASSWORD_MAX) return false;
    size_t ul = strlen(user);
    bool user_same = ul == strlen(s->user) && CRYPTO_memcmp(user, s->user, ul) == 0;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    bool ok = c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1 &&
              EVP_DigestUpdate(c, s->salt, SALT_LEN) == 1 &&
              EVP_DigestUpdate(c, pass, strlen(pass)) == 1 &&
              EVP_DigestFinal_ex(c, digest, &n) == 1;
    EVP_MD_CTX_free(c);
    if (!ok || !user_same) return false;
    if (s->ok_cached && CRYPTO_memcmp(digest, s->ok_digest, HASH_LEN) == 0) return true;
    if (pbkdf2(pass, s->salt, h) != 0 || CRYPTO_memcmp(h, s->hash, HASH_LEN) != 0) return false;
    memcpy(s->ok_digest, digest, HASH_LEN);
    s->ok_cached = true;
    return true;
}

/* The release's SHA-256 hex of ld's job (job->target.release_id), into hex; 0 or -1. */
static int job_sha(mqotad_t *d, legacy_dev_t *ld, char hex[65])
{
    db_release_t *r = malloc(sizeof(*r));
    int rc = -1;
    if (r && ld->job && db__release_get(d->db, ld->job->target.release_id, r) == 0) {
        snprintf(hex, 65, "%s", r->sha256);
        rc = 0;
    }
    free(r);
    return rc;
}

int legacy_pull__poll(mqotad_t *d, const char *id, const char *user, const char *pass,
                      const char *app_ver, char *name, size_t cap)
{
    if (!user) return 403; /* no credentials: no look-up either */
    legacy_dev_t *ld = find(d, id);
    if (!ld) return 404;
    if (!auth_ok(ld, user, pass)) {
        devlog__warn(d, id, "pull: device %s: bad credentials (user '%.64s')", id, user);
        return 403;
    }
    if (!app_ver || !pull_req__version_ok(app_ver)) return 400;
    legacy_job_t *j = ld->job;
    uint64_t now = mqh_now_ms();
    bool sending = j && j->phase == LEGACY_JOB_SENDING;
    bool booting = j && j->phase == LEGACY_JOB_BOOTING;
    if ((sending || booting) && strcmp(app_ver, j->version) == 0) {
        if (sending) { /* it runs the release already (flashed by hand, say) */
            legacy__started(d, ld);
            legacy__image_done(d, ld, now);
        }
        legacy__reported(d, ld, &(legacy_report_t){.version = app_ver, .booted = true});
        return 204;
    }
    if (booting) {
        /* sent whole, yet it polls with its old version. Another attempt, while any. */
        char why[160];
        snprintf(why, sizeof(why), "the whole image was sent but the device polls with version "
                 "%s, not %s (its fetch broke, it refused the image or rolled back)", app_ver,
                 j->version);
        legacy__attempt_failed(d, ld, LEGACY_REASON_DEVICE_ERROR, why, now);
    }
    legacy__reported(d, ld, &(legacy_report_t){.version = app_ver, .booted = false});
    j = ld->job; /* policy may have ended it */
    if (!j || j->phase != LEGACY_JOB_SENDING) return 204;
    char sha[65];
    if (job_sha(d, ld, sha) != 0 || pull_req__file_name(sha, id, name, cap) != 0) return 204;
    return 200;
}

/* ld's job when r names its release, else NULL. */
static legacy_job_t *job_for(mqotad_t *d, legacy_dev_t *ld, const pull_route_t *r)
{
    char sha[65];
    legacy_job_t *j = ld->job;
    if (!j || (j->phase != LEGACY_JOB_SENDING && j->phase != LEGACY_JOB_BOOTING) ||
        job_sha(d, ld, sha) != 0 ||
        strncmp(sha, r->hash_hex, PULL_NAME_HASH_HEX) != 0)
        return NULL;
    return j;
}

int legacy_pull__open(mqotad_t *d, const pull_route_t *r, const char *user, const char *pass,
                      uint32_t *size, int64_t *deployment_id)
{
    if (!user) return 403;
    legacy_dev_t *ld = find(d, r->device_id);
    if (!ld) return 404;
    if (!auth_ok(ld, user, pass)) {
        devlog__warn(d, r->device_id, "pull: device %s: bad credentials (user '%.64s')",
                     r->device_id, user);
        return 403;
    }
    legacy_job_t *j = job_for(d, ld, r);
    if (!j) return 404;
    legacy__started(d, ld);
    *size = j->size;
    *deployment_id = j->target.deployment_id;
    return 200;
}

/* ld's job while it is still the one of deployment_id, sending or booting; else NULL. */
static legacy_job_t *same_job(mqotad_t *d, const char *id, int64_t deployment_id,
                              legacy_dev_t **ldp)
{
    legacy_dev_t *ld = find(d, id);
    legacy_job_t *j = ld ? ld->job : NULL;
    if (!j || (j->phase != LEGACY_JOB_SENDING && j->phase != LEGACY_JOB_BOOTING) ||
        j->target.deployment_id != deployment_id)
        return NULL;
    *ldp = ld;
    return j;
}

long legacy_pull__read(mqotad_t *d, const char *id, int64_t deployment_id, uint64_t pos,
                       uint8_t *buf, size_t max)
{
    legacy_dev_t *ld = NULL;
    legacy_job_t *j = same_job(d, id, deployment_id, &ld);
    if (!j || !j->image) return -1; /* the job ended or another replaced it: stop serving */
    if (pos >= j->size) return 0;
    size_t n = j->size - pos < max ? (size_t)(j->size - pos) : max;
    memcpy(buf, j->image + pos, n);
    legacy__progress(d, ld, (uint32_t)(pos + n), (uint32_t)n, 0);
    return (long)n;
}

void legacy_pull__closed(mqotad_t *d, const char *id, int64_t deployment_id, uint64_t reached,
                         bool complete)
{
    legacy_dev_t *ld = NULL;
    legacy_job_t *j = same_job(d, id, deployment_id, &ld);
    if (!j) return;
    uint64_t now = mqh_now_ms();
    if (complete && reached >= j->size) { /* success waits for its poll with the version */
        legacy__image_done(d, ld, now); /* nothing new when it was BOOTING already */
        return;
    }
    if (j->phase != LEGACY_JOB_SENDING) return; /* a re-fetch while BOOTING: its poll decides */
    if (complete) return; /* a range before the end (partial download): more requests come */
    char why[96];
    snprintf(why, sizeof(why), "the fetch stopped at byte %llu of %u",
             (unsigned long long)reached, j->size);
    legacy__attempt_failed(d, ld, LEGACY_REASON_TIMEOUT, why, now);
}
