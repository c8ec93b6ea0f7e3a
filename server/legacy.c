/* SPDX-License-Identifier: Apache-2.0 */
/*
 * legacy.c - the legacy-device framework (legacy.h, docs/LEGACY.md): the registered devices
 * in memory, their topics, one job per device, image validation before any byte is sent,
 * retries and the wait for the version a device reports after its reboot.
 *
 * Mechanism, like transfer.c: no target is read or changed here; policy hears of starts,
 * failures and reports through the legacy_events_t that deploy_legacy.c registers.
 */
#include "legacy.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <mosquitto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqota/mqota_image.h"
#include "release.h"

/* Most bytes of progress a job holds unsaved: saved at most once per SAVE_EVERY_MS. */
#define SAVE_EVERY_MS 1000u

/* A topic a device listens on, in the hash by topic. */
typedef struct legacy_topic {
    UT_hash_handle hh;
    char topic[LEGACY_TOPIC_MAX + 1];
    int qos;
    legacy_dev_t *ld;
} legacy_topic_t;

typedef struct legacy {
    legacy_dev_t *devs;     /* by id */
    legacy_topic_t *topics; /* by topic */
    const legacy_events_t *ev;
} legacy_t;

static const legacy_events_t no_events;

static const char *const reason_names[] = {
    [LEGACY_REASON_NONE] = "none",
    [LEGACY_REASON_TIMEOUT] = "timeout",
    [LEGACY_REASON_DEVICE_ERROR] = "device-error",
    [LEGACY_REASON_CHECKSUM] = "checksum",
    [LEGACY_REASON_SIZE] = "size-mismatch",
    [LEGACY_REASON_FLASH] = "flash",
    [LEGACY_REASON_INVALID_IMAGE] = "invalid-image",
    [LEGACY_REASON_CHIP_MISMATCH] = "chip-mismatch",
    [LEGACY_REASON_NO_REBOOT] = "no-version",
    [LEGACY_REASON_WRONG_VERSION] = "wrong-version",
    [LEGACY_REASON_CONFIG] = "config",
};

const char *legacy__reason_name(legacy_reason_t r)
{
    return (unsigned)r < sizeof(reason_names) / sizeof(reason_names[0]) ? reason_names[r] : "?";
}

const legacy_adapter_t *legacy__adapter(db_protocol_t p)
{
    switch (p) {
    case DB_PROTO_B64: return &legacy_b64_adapter;
    case DB_PROTO_MD5: return &legacy_md5_adapter;
    case DB_PROTO_PULL: return &legacy_pull_adapter;
    case DB_PROTO_TCP: return &legacy_tcp_adapter;
    default: return NULL; /* mqota */
    }
}

static legacy_t *L(mqotad_t *d) { return d->legacy; }

static const legacy_events_t *events(mqotad_t *d)
{
    return L(d) && L(d)->ev ? L(d)->ev : &no_events;
}

void legacy__set_events(mqotad_t *d, const legacy_events_t *ev)
{
    if (L(d)) L(d)->ev = ev;
}

legacy_dev_t *legacy__find(mqotad_t *d, const char *device_id)
{
    legacy_dev_t *ld = NULL;
    if (L(d)) HASH_FIND_STR(L(d)->devs, device_id, ld);
    return ld;
}

void legacy__each(mqotad_t *d, void (*cb)(mqotad_t *d, legacy_dev_t *ld, void *ctx), void *ctx)
{
    legacy_dev_t *ld, *tmp;
    if (!L(d)) return;
    HASH_ITER(hh, L(d)->devs, ld, tmp) cb(d, ld, ctx);
}

static void job_free(legacy_job_t *j)
{
    if (!j) return;
    free(j->image);
    free(j);
}

/* Save the job's counters now if they changed (force) or a second passed. */
static void save(mqotad_t *d, legacy_job_t *j, uint64_t now_ms, bool force)
{
    if (!j->dirty || (!force && now_ms < j->saved_ms + SAVE_EVERY_MS)) return;
    if (events(d)->save_progress && events(d)->save_progress(d, &j->target) != 0) return;
    j->dirty = false;
    j->saved_ms = now_ms;
}

/* Abort the adapter's attempt and free the job (its counters saved first). */
static void drop_job(mqotad_t *d, legacy_dev_t *ld)
{
    if (!ld->job) return;
    if (ld->job->phase == LEGACY_JOB_SENDING && ld->ad->abort) ld->ad->abort(d, ld);
    save(d, ld->job, mqh_now_ms(), true);
    job_free(ld->job);
    ld->job = NULL;
    ld->timer_ms = 0;
}

/* Forget a device: its job, its session and its topics (their subscriptions stay until the
 * next reconnect; nothing routes them any more). */
static void dev_free(mqotad_t *d, legacy_dev_t *ld)
{
    legacy_topic_t *t, *tmp;
    drop_job(d, ld);
    if (ld->ad->detach) ld->ad->detach(d, ld);
    HASH_ITER(hh, L(d)->topics, t, tmp) {
        if (t->ld != ld) continue;
        HASH_DEL(L(d)->topics, t);
        if (d->mqtt_connected) mosquitto_unsubscribe(d->mosq, NULL, t->topic);
        free(t);
    }
    HASH_DEL(L(d)->devs, ld);
    cJSON_Delete(ld->params);
    free(ld);
}

/* Make the in-memory device and attach its adapter. params is taken. NULL on failure (logged
 * or in err). */
static legacy_dev_t *dev_add(mqotad_t *d, const char *id, db_protocol_t p, uint16_t chip,
                             cJSON *params, char *err, size_t err_cap)
{
    const legacy_adapter_t *ad = legacy__adapter(p);
    legacy_dev_t *ld = calloc(1, sizeof(*ld));
    if (!ad || !ld) {
        snprintf(err, err_cap, ad ? "out of memory" : "this mqotad has no adapter for protocol %s",
                 db__protocol_name(p));
        cJSON_Delete(params);
        free(ld);
        return NULL;
    }
    snprintf(ld->id, sizeof(ld->id), "%s", id);
    ld->protocol = p;
    ld->chip_id = chip;
    ld->params = params;
    ld->ad = ad;
    const cJSON *rt = cJSON_GetObjectItemCaseSensitive(params, "reboot_timeout_s");
    ld->reboot_timeout_ms = cJSON_IsNumber(rt) ? (uint32_t)rt->valueint * 1000u
                                               : LEGACY_REBOOT_TIMEOUT_MS;
    HASH_ADD_STR(L(d)->devs, id, ld);
    if (ad->attach(d, ld) != 0) {
        snprintf(err, err_cap, "the %s adapter could not attach device '%s'",
                 db__protocol_name(p), id);
        ld->ad = &(const legacy_adapter_t){0}; /* nothing to detach */
        HASH_DEL(L(d)->devs, ld);
        cJSON_Delete(params);
        free(ld);
        return NULL;
    }
    return ld;
}

typedef struct {
    mqotad_t *d;
    int n;
} load_ctx_t;

static int load_one(void *ctx, const char *id, db_protocol_t p, const char *params)
{
    load_ctx_t *c = ctx;
    char err[200];
    db_device_t dev;
    if (p == DB_PROTO_MQOTA) return 0; /* migrated: a native device now */
    if (db__device_get(c->d->db, id, &dev) != 0) return 0;
    cJSON *j = cJSON_Parse(params);
    if (!j || !legacy__adapter(p)) {
        mqh_log(MQH_WARN, "legacy device %s (%s) cannot be driven by this mqotad: %s", id,
                db__protocol_name(p), j ? "no adapter for its protocol" : "unreadable parameters");
        cJSON_Delete(j);
        return 0;
    }
    if (dev_add(c->d, id, p, dev.chip_id, j, err, sizeof(err))) c->n++;
    else mqh_log(MQH_WARN, "legacy device %s: %s", id, err);
    return 0;
}

int legacy__init(mqotad_t *d)
{
    d->legacy = calloc(1, sizeof(legacy_t));
    if (!d->legacy) return -1;
    load_ctx_t c = {d, 0};
    if (db__legacy_list(d->db, load_one, &c) != 0) return -1;
    if (c.n) mqh_log(MQH_INFO, "%d legacy device(s) registered", c.n);
    return 0;
}

void legacy__cleanup(mqotad_t *d)
{
    legacy_dev_t *ld, *tmp;
    if (!L(d)) return;
    HASH_ITER(hh, L(d)->devs, ld, tmp) dev_free(d, ld);
    free(d->legacy);
    d->legacy = NULL;
}

int legacy__listen(mqotad_t *d, legacy_dev_t *ld, const char *topic, int qos)
{
    legacy_topic_t *t = NULL;
    if (strlen(topic) > LEGACY_TOPIC_MAX) return -1;
    HASH_FIND_STR(L(d)->topics, topic, t);
    if (t && t->ld != ld) return -1; /* another device's topic: refused at registration */
    if (!t) {
        if (!(t = calloc(1, sizeof(*t)))) return -1;
        snprintf(t->topic, sizeof(t->topic), "%s", topic);
        t->ld = ld;
        t->qos = qos;
        HASH_ADD_STR(L(d)->topics, topic, t);
    }
    if (d->mqtt_connected) mosquitto_subscribe(d->mosq, NULL, topic, qos);
    return 0;
}

const char *legacy__topic_owner(mqotad_t *d, const char *topic)
{
    legacy_topic_t *t = NULL;
    if (L(d)) HASH_FIND_STR(L(d)->topics, topic, t);
    return t ? t->ld->id : NULL;
}

void legacy__on_connect(mqotad_t *d)
{
    legacy_topic_t *t, *tmp;
    if (!L(d)) return;
    HASH_ITER(hh, L(d)->topics, t, tmp) mosquitto_subscribe(d->mosq, NULL, t->topic, t->qos);
}

bool legacy__on_message(mqotad_t *d, const char *topic, const uint8_t *payload, size_t len,
                        bool retained)
{
    legacy_topic_t *t = NULL;
    if (!L(d)) return false;
    HASH_FIND_STR(L(d)->topics, topic, t);
    if (!t) return false;
    t->ld->ad->on_message(d, t->ld, topic, payload, len, retained, mqh_now_ms());
    return true;
}

void legacy__set_timer(legacy_dev_t *ld, uint64_t at_ms)
{
    ld->timer_ms = at_ms;
}

/* Read the release's stored image and check it as an upload is checked: structure, the
 * device's chip, the release's SHA-256. 0 with *out (malloc'd); else the reason. */
static legacy_reason_t load_image(mqotad_t *d, const legacy_dev_t *ld, const db_release_t *r,
                                  uint8_t **out, char *err, size_t err_cap)
{
    FILE *f = fopen(r->path, "rb");
    uint8_t *img = malloc(r->size ? r->size : 1);
    db_release_t chk;
    legacy_reason_t why = LEGACY_REASON_INVALID_IMAGE;
    size_t n = 0;
    if (!f || !img) {
        snprintf(err, err_cap, "cannot read the image %s: %s", r->path, strerror(errno));
        goto out;
    }
    n = fread(img, 1, r->size, f);
    if (n != r->size) {
        snprintf(err, err_cap, "the image %s has %zu of its %u bytes", r->path, n, r->size);
        goto out;
    }
    /* A signed release's .mqsig is not at hand here: its signature was judged at upload and
     * the SHA-256 compared below pins the same bytes, so only the structure is judged again. */
    bool require = d->require_signed;
    d->require_signed = false;
    release_result_t rc = release__check(d, img, n, r->version, NULL, NULL, &chk, err, err_cap);
    d->require_signed = require;
    if (rc != RELEASE_OK) goto out;
    if (strcmp(chk.sha256, r->sha256) != 0) {
        snprintf(err, err_cap, "the image %s no longer has the release's SHA-256", r->path);
        goto out;
    }
    if (chk.chip_id != ld->chip_id) {
        snprintf(err, err_cap, "release %lld is built for %s but device %s is an %s; nothing "
                 "was sent", (long long)r->id, mqota_chip_name(chk.chip_id), ld->id,
                 mqota_chip_name(ld->chip_id));
        why = LEGACY_REASON_CHIP_MISMATCH;
        goto out;
    }
    *out = img;
    img = NULL;
    why = LEGACY_REASON_NONE;
out:
    if (f) fclose(f);
    free(img);
    return why;
}

/* Begin the job's next attempt now. */
static void begin_attempt(mqotad_t *d, legacy_dev_t *ld, uint64_t now_ms)
{
    legacy_job_t *j = ld->job;
    j->attempts++;
    j->phase = LEGACY_JOB_SENDING;
    ld->timer_ms = 0;
    mqh_log(MQH_INFO, "legacy device %s (%s): attempt %d of %d to send release %lld (%s, %u "
            "bytes)", ld->id, db__protocol_name(ld->protocol), j->attempts, LEGACY_ATTEMPTS_MAX,
            (long long)j->target.release_id, j->version, j->size);
    if (ld->ad->start(d, ld, now_ms) != 0)
        legacy__attempt_failed(d, ld, LEGACY_REASON_DEVICE_ERROR, "the attempt could not begin",
                               now_ms);
}

/* The job's target fails: policy hears of it, the job goes. */
static void job_failed(mqotad_t *d, legacy_dev_t *ld, legacy_reason_t why)
{
    legacy_job_t *j = ld->job;
    save(d, j, mqh_now_ms(), true);
    db_target_t t = j->target;
    job_free(j);
    ld->job = NULL;
    ld->timer_ms = 0;
    if (events(d)->failed) events(d)->failed(d, &t, why);
}

int legacy__start(mqotad_t *d, const db_target_t *t, const db_release_t *r)
{
    char err[300];
    legacy_dev_t *ld = legacy__find(d, t->device_id);
    if (!ld) return -1;
    if (ld->job && ld->job->target.deployment_id == t->deployment_id) return 0;
    drop_job(d, ld); /* another target's job: superseded */
    legacy_job_t *j = calloc(1, sizeof(*j));
    if (!j) return -1;
    j->target = *t;
    j->size = r->size;
    snprintf(j->version, sizeof(j->version), "%s", r->version);
    ld->job = j;
    legacy_reason_t why = load_image(d, ld, r, &j->image, err, sizeof(err));
    if (why != LEGACY_REASON_NONE) {
        mqh_log(MQH_WARN, "legacy device %s: deployment %lld refused before sending: %s",
                ld->id, (long long)t->deployment_id, err);
        job_failed(d, ld, why);
        return -1;
    }
    begin_attempt(d, ld, mqh_now_ms());
    return 0;
}

void legacy__stop(mqotad_t *d, const char *device_id)
{
    legacy_dev_t *ld = legacy__find(d, device_id);
    if (ld) drop_job(d, ld);
}

void legacy__went_native(mqotad_t *d, const char *device_id)
{
    legacy_dev_t *ld = legacy__find(d, device_id);
    if (!ld) return;
    mqh_log(MQH_INFO, "device %s speaks mqota now (it was a %s legacy device): the same "
            "registry entry, driven natively from now on", device_id,
            db__protocol_name(ld->protocol));
    dev_free(d, ld);
}

void legacy__started(mqotad_t *d, legacy_dev_t *ld)
{
    if (!ld->job || ld->job->target.state != TARGET_PENDING) return;
    if (events(d)->started) events(d)->started(d, &ld->job->target);
}

void legacy__progress(mqotad_t *d, legacy_dev_t *ld, uint32_t acked, uint32_t sent,
                      uint32_t resent)
{
    (void)d;
    legacy_job_t *j = ld->job;
    if (!j) return;
    if (acked > j->target.progress) j->target.progress = acked > j->size ? j->size : acked;
    j->target.bytes_sent += sent;
    j->target.bytes_resent += resent;
    j->dirty = true;
}

void legacy__image_done(mqotad_t *d, legacy_dev_t *ld, uint64_t now_ms)
{
    legacy_job_t *j = ld->job;
    if (!j || j->phase != LEGACY_JOB_SENDING) return;
    j->phase = LEGACY_JOB_BOOTING;
    j->booting_since_ms = now_ms;
    j->target.progress = j->size;
    j->dirty = true;
    save(d, j, now_ms, true);
    mqh_log(MQH_INFO, "legacy device %s has the %u bytes of %s and restarts; waiting for it to "
            "report its version", ld->id, j->size, j->version);
}

void legacy__attempt_failed(mqotad_t *d, legacy_dev_t *ld, legacy_reason_t reason,
                            const char *detail, uint64_t now_ms)
{
    legacy_job_t *j = ld->job;
    if (!j || j->phase == LEGACY_JOB_WAITING) return;
    if (j->phase == LEGACY_JOB_SENDING && ld->ad->abort) ld->ad->abort(d, ld);
    ld->timer_ms = 0;
    bool retry = j->attempts < LEGACY_ATTEMPTS_MAX && reason != LEGACY_REASON_CONFIG &&
                 reason != LEGACY_REASON_WRONG_VERSION;
    mqh_log(MQH_WARN, "legacy device %s: attempt %d failed (%s: %s)%s", ld->id, j->attempts,
            legacy__reason_name(reason), detail, retry ? "; retrying" : "; giving up");
    if (!retry) {
        job_failed(d, ld, reason);
        return;
    }
    j->phase = LEGACY_JOB_WAITING;
    j->retry_at_ms = now_ms + LEGACY_RETRY_MS * (uint64_t)j->attempts;
}

void legacy__reported(mqotad_t *d, legacy_dev_t *ld, const legacy_report_t *r)
{
    if (events(d)->reported) events(d)->reported(d, ld, r);
}

/* One device's timers. */
static void tick_dev(mqotad_t *d, legacy_dev_t *ld, uint64_t now_ms)
{
    legacy_job_t *j = ld->job;
    if (j && j->phase == LEGACY_JOB_WAITING && now_ms >= j->retry_at_ms) {
        begin_attempt(d, ld, now_ms);
        j = ld->job;
    }
    if (j && j->phase == LEGACY_JOB_BOOTING &&
        now_ms >= j->booting_since_ms + ld->reboot_timeout_ms) {
        mqh_log(MQH_WARN, "legacy device %s did not report a version within %u s of taking "
                "the image", ld->id, ld->reboot_timeout_ms / 1000u);
        job_failed(d, ld, LEGACY_REASON_NO_REBOOT);
        j = NULL;
    }
    if (ld->timer_ms && now_ms >= ld->timer_ms) {
        ld->timer_ms = 0;
        ld->ad->tick(d, ld, now_ms);
    }
    if (ld->job) save(d, ld->job, now_ms, false);
}

void legacy__tick(mqotad_t *d, uint64_t now_ms)
{
    legacy_dev_t *ld, *tmp;
    if (!L(d)) return;
    HASH_ITER(hh, L(d)->devs, ld, tmp) tick_dev(d, ld, now_ms);
}

int legacy__next_timeout_ms(mqotad_t *d, uint64_t now_ms)
{
    legacy_dev_t *ld, *tmp;
    int best = -1;
    if (!L(d)) return -1;
    HASH_ITER(hh, L(d)->devs, ld, tmp) {
        uint64_t at = ld->timer_ms;
        if (ld->job && ld->job->phase == LEGACY_JOB_WAITING &&
            (!at || ld->job->retry_at_ms < at))
            at = ld->job->retry_at_ms;
        if (!at && !ld->job) continue;
        int ms = !at ? 1000 : at <= now_ms ? 0 : at - now_ms > 1000 ? 1000 : (int)(at - now_ms);
        if (best < 0 || ms < best) best = ms;
    }
    return best;
}

int legacy__register(mqotad_t *d, const char *device_id, db_protocol_t protocol,
                     uint16_t chip_id, const char *version, cJSON *params, char *err,
                     size_t err_cap)
{
    const legacy_adapter_t *ad = legacy__adapter(protocol);
    db_device_t dev;
    char *text = NULL;
    int ret = 500;
    if (!ad) {
        snprintf(err, err_cap, "protocol %s is not a legacy protocol this mqotad drives; give "
                 "b64, md5, pull or tcp", db__protocol_name(protocol));
        ret = 400;
        goto out;
    }
    if (!cJSON_IsObject(params)) {
        snprintf(err, err_cap, "\"params\" must be a JSON object");
        ret = 400;
        goto out;
    }
    const cJSON *rt = cJSON_GetObjectItemCaseSensitive(params, "reboot_timeout_s");
    if (rt && (!cJSON_IsNumber(rt) || rt->valuedouble < 1 ||
               rt->valuedouble > LEGACY_REBOOT_TIMEOUT_MAX_S ||
               rt->valuedouble != (double)rt->valueint)) {
        snprintf(err, err_cap, "params.reboot_timeout_s must be a whole number of seconds from 1 "
                 "to %d: how long the device has to report its version after taking an image "
                 "(default %u)", LEGACY_REBOOT_TIMEOUT_MAX_S, LEGACY_REBOOT_TIMEOUT_MS / 1000u);
        ret = 400;
        goto out;
    }
    if (ad->check_params(d, device_id, params, err, err_cap) != 0) {
        ret = 400;
        goto out;
    }
    int rc = db__device_get(d->db, device_id, &dev);
    if (rc < 0) goto db_err;
    legacy_dev_t *old = legacy__find(d, device_id);
    if (rc == 0 && !old && dev.protocol == DB_PROTO_MQOTA && dev.last_seen) {
        snprintf(err, err_cap, "device '%s' already speaks mqota (its agent reported); a native "
                 "device is not registered as legacy", device_id);
        ret = 409;
        goto out;
    }
    if (old && old->protocol != protocol) {
        snprintf(err, err_cap, "device '%s' is registered with protocol %s; it cannot change to "
                 "%s", device_id, db__protocol_name(old->protocol), db__protocol_name(protocol));
        ret = 409;
        goto out;
    }
    if (!(text = cJSON_PrintUnformatted(params)) || strlen(text) > LEGACY_PARAMS_MAX) {
        snprintf(err, err_cap, "\"params\" must be at most %d bytes of JSON", LEGACY_PARAMS_MAX);
        ret = 400;
        goto out;
    }
    if (rc == 1) {
        memset(&dev, 0, sizeof(dev));
        snprintf(dev.id, sizeof(dev.id), "%s", device_id);
        dev.first_seen = mqh_unix_now();
    }
    dev.chip_id = chip_id;
    dev.protocol = protocol;
    if (version && *version) snprintf(dev.version, sizeof(dev.version), "%s", version);
    if (old) dev_free(d, old); /* re-registered: the new parameters take over */
    if (db__legacy_register(d->db, &dev, text, mqh_unix_now()) != 0) goto db_err;
    legacy_dev_t *ld = dev_add(d, device_id, protocol, chip_id, params, err, err_cap);
    params = NULL;
    ret = ld ? 0 : 500;
    if (ld) mqh_log(MQH_INFO, "legacy device %s registered (%s, %s)", device_id,
                    db__protocol_name(protocol), mqota_chip_name(chip_id));
    goto out;
db_err:
    snprintf(err, err_cap, "database error while registering device '%s'", device_id);
    ret = 500;
out:
    cJSON_Delete(params);
    free(text);
    return ret;
}

cJSON *legacy__params_json(mqotad_t *d, const char *device_id)
{
    legacy_dev_t *ld = legacy__find(d, device_id);
    cJSON *o = ld ? cJSON_Duplicate(ld->params, true) : NULL;
    /* the pull login's salt and hash stay in mqotad: an answer says only that one is set */
    if (o && (cJSON_HasObjectItem(o, "salt") || cJSON_HasObjectItem(o, "hash"))) {
        cJSON_DeleteItemFromObjectCaseSensitive(o, "salt");
        cJSON_DeleteItemFromObjectCaseSensitive(o, "hash");
        cJSON_AddBoolToObject(o, "password_set", true);
    }
    return o;
}
