/* SPDX-License-Identifier: Apache-2.0 */
/*
 * legacy_b64.c - the adapter of legacy protocol 1, base64 chunks over one topic (SIM7600
 * cellular boards; docs/LEGACY.md): mechanism under legacy.c.
 *
 * mqotad publishes base64 "OTA:BEGIN:<size>" on the device's update topic, then, once the
 * device said OTA:STARTED, numbered chunks (1-based) and finally "OTA:END". The device writes
 * in arrival order, answers each chunk with OTA:PROGRESS (a duplicate too) and asks for a
 * missing one with OTA:REQUEST. The protocol's own senders wait for each PROGRESS before the
 * next chunk; this adapter keeps `window` chunks in flight on the one QoS 1 topic (the broker
 * keeps their order), goes back to the first unconfirmed chunk when the device asks for it or
 * says nothing for RESEND_MS, and gives the attempt up after SILENT_RESENDS_MAX such silences
 * (the device drops its link on some errors, so its OTA:ERROR never arrives). After
 * OTA:SUCCESS the device restarts; mqotad then asks its version with the sealed VERSION
 * command every VERSION_POLL_MS until it answers VERSION:<version> on its status topic.
 *
 * Commands are AES-256-CBC with PKCS#7 under the fleet's static key and IV (the protocol's
 * own scheme): DIR/auth/legacy-b64.key, "key=<64 hex>" and "iv=<32 hex>" lines, mode 0600,
 * read at each attempt.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "legacy.h"
#include "legacy_codec.h"

/* The device's answer to BEGIN and END. */
#define ANSWER_TIMEOUT_MS 5000u
/* No PROGRESS for this long: the chunks from the first unconfirmed one go again. */
#define RESEND_MS 3000u
/* Resends in a row without progress before the attempt is given up. */
#define SILENT_RESENDS_MAX 3
/* While the device restarts: the VERSION command this often. */
#define VERSION_POLL_MS 2000u
#define WINDOW_DEFAULT 8
#define WINDOW_MAX 64

typedef struct {
    char update_topic[LEGACY_TOPIC_MAX + 1];
    char cmd_topic[LEGACY_TOPIC_MAX + 1];
    char status_topic[LEGACY_TOPIC_MAX + 1];
    uint32_t chunk, window;
    uint32_t n_chunks;
    uint32_t acked;    /* chunks 1..acked are written (the device writes in order) */
    uint32_t next;     /* the next chunk to send */
    uint32_t sent_max; /* the highest chunk sent in this attempt (a lower one is a resend) */
    int silent;        /* resends in a row without progress */
    bool active, begun, ending, polling;
} b64_session_t;

/* Copy params' string name (or dflt) into out. -1 if present but not a string or too long. */
static int topic_param(const cJSON *params, const char *name, const char *prefix,
                       const char *dflt, char *out, size_t cap)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(params, name);
    if (v && (!cJSON_IsString(v) || !v->valuestring[0] || strlen(v->valuestring) >= cap ||
              strpbrk(v->valuestring, "+#")))
        return -1;
    int n = v ? snprintf(out, cap, "%s", v->valuestring) : snprintf(out, cap, "%s%s", prefix, dflt);
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

static int session_topics(const cJSON *p, b64_session_t *s)
{
    const cJSON *pre = cJSON_GetObjectItemCaseSensitive(p, "prefix");
    const char *prefix = cJSON_IsString(pre) ? pre->valuestring : "";
    if (pre && (!cJSON_IsString(pre) || strpbrk(prefix, "+#"))) return -1;
    return topic_param(p, "update_topic", prefix, "firmware/update", s->update_topic,
                       sizeof(s->update_topic)) |
           topic_param(p, "cmd_topic", prefix, "server_cmd", s->cmd_topic, sizeof(s->cmd_topic)) |
           topic_param(p, "status_topic", prefix, "esp32_status", s->status_topic,
                       sizeof(s->status_topic));
}

/* Whole number params.name in [lo, hi], default dflt; -1 if present and not. */
static int number_param(const cJSON *p, const char *name, int lo, int hi, int dflt, uint32_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(p, name);
    if (!v) {
        *out = (uint32_t)dflt;
        return 0;
    }
    if (!cJSON_IsNumber(v) || v->valuedouble < lo || v->valuedouble > hi ||
        v->valuedouble != (double)(int)v->valuedouble)
        return -1;
    *out = (uint32_t)v->valueint;
    return 0;
}

/* params: {"prefix": "", "update_topic": "firmware/update", "cmd_topic": "server_cmd",
 * "status_topic": "esp32_status", "chunk": 508, "window": 8} */
static int check_params(mqotad_t *d, const char *device_id, cJSON *params, char *err,
                        size_t cap)
{
    b64_session_t s;
    (void)device_id;
    if (session_topics(params, &s) != 0) {
        snprintf(err, cap, "protocol b64's params.prefix, update_topic, cmd_topic and "
                 "status_topic must be MQTT topic names (no + or #) of at most %d bytes",
                 LEGACY_TOPIC_MAX);
        return -1;
    }
    if (number_param(params, "chunk", 1, LB64_DATA_MAX, LB64_DATA_MAX, &s.chunk) != 0 ||
        number_param(params, "window", 1, WINDOW_MAX, WINDOW_DEFAULT, &s.window) != 0) {
        snprintf(err, cap, "params.chunk must be 1..%u image bytes per message and "
                 "params.window 1..%d messages in flight (1: the protocol's stop-and-wait)",
                 LB64_DATA_MAX, WINDOW_MAX);
        return -1;
    }
    const char *taken = legacy__topic_owner(d, s.status_topic);
    if (taken && strcmp(taken, device_id) != 0) {
        snprintf(err, cap, "status topic '%s' is device '%s''s: protocol b64 has one device "
                 "per topic set", s.status_topic, taken);
        return -1;
    }
    return 0;
}

static int attach(mqotad_t *d, legacy_dev_t *ld)
{
    b64_session_t *s = calloc(1, sizeof(*s));
    if (!s) return -1;
    ld->session = s;
    if (session_topics(ld->params, s) != 0 ||
        number_param(ld->params, "chunk", 1, LB64_DATA_MAX, LB64_DATA_MAX, &s->chunk) != 0 ||
        number_param(ld->params, "window", 1, WINDOW_MAX, WINDOW_DEFAULT, &s->window) != 0)
        return -1;
    return legacy__listen(d, ld, s->status_topic, 1);
}

static void detach(mqotad_t *d, legacy_dev_t *ld)
{
    (void)d;
    free(ld->session);
    ld->session = NULL;
}

/* Hex text of exactly n bytes into out. 0 or -1. */
static int unhex(const char *s, uint8_t *out, size_t n)
{
    char buf[65];
    size_t len = strcspn(s, " \t\r\n");
    if (len != 2 * n || len >= sizeof(buf)) return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    int rc = mqh_unhex(buf, out, n) == 0 ? 0 : -1;
    OPENSSL_cleanse(buf, sizeof(buf));
    return rc;
}

/*
 * Read the fleet's command key and IV from DIR/auth/legacy-b64.key ("key=" 64 hex digits,
 * "iv=" 32). The file must be the owner's only (mode 0600 or stricter), like the other
 * secrets. 0, or -1 with one sentence in err.
 */
static int read_key(mqotad_t *d, uint8_t key[32], uint8_t iv[16], char *err, size_t cap)
{
    char path[PATH_MAX + 32], line[200];
    struct stat st;
    bool have_key = false, have_iv = false;
    snprintf(path, sizeof(path), "%s/auth/legacy-b64.key", d->data_dir);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, cap, "protocol b64 needs the fleet's command key in %s (\"key=\" 64 hex "
                 "digits, \"iv=\" 32, mode 0600): %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fileno(f), &st) != 0 || (st.st_mode & 077)) {
        snprintf(err, cap, "%s is readable by others; chmod 600 it (it holds the fleet's "
                 "command key)", path);
        fclose(f);
        return -1;
    }
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "key=", 4) == 0) have_key = unhex(line + 4, key, 32) == 0;
        else if (strncmp(line, "iv=", 3) == 0) have_iv = unhex(line + 3, iv, 16) == 0;
    }
    OPENSSL_cleanse(line, sizeof(line));
    fclose(f);
    if (!have_key || !have_iv) {
        snprintf(err, cap, "%s needs a line \"key=\" with 64 hex digits and a line \"iv=\" with "
                 "32", path);
        return -1;
    }
    return 0;
}

/* Seal cmd under the fleet's key and publish it on the device's command topic. 0 or -1. */
static int send_command(mqotad_t *d, legacy_dev_t *ld, const char *cmd)
{
    b64_session_t *s = ld->session;
    uint8_t key[32], iv[16];
    char err[300], text[LB64_SEALED_MAX + 1];
    if (read_key(d, key, iv, err, sizeof(err)) != 0) {
        mqh_log(MQH_WARN, "legacy device %s: %s", ld->id, err);
        return -1;
    }
    size_t n = lb64_cmd_seal(key, iv, cmd, text, sizeof(text));
    OPENSSL_cleanse(key, sizeof(key));
    OPENSSL_cleanse(iv, sizeof(iv));
    if (n == 0) return -1;
    return mqtt__publish(d, s->cmd_topic, text, n, 1, false);
}

/* Publish chunk number c (1-based). */
static void send_data(mqotad_t *d, legacy_dev_t *ld, uint32_t c)
{
    b64_session_t *s = ld->session;
    legacy_job_t *j = ld->job;
    char text[LB64_TEXT_MAX + 1];
    uint32_t off = (c - 1) * s->chunk;
    uint32_t n = j->size - off < s->chunk ? j->size - off : s->chunk;
    size_t len = lb64_encode_data(c, j->image + off, n, text, sizeof(text));
    if (len == 0 || mqtt__publish(d, s->update_topic, text, len, 1, false) != 0) return;
    bool again = c <= s->sent_max;
    if (!again) s->sent_max = c;
    legacy__progress(d, ld, s->acked * s->chunk, n, again ? n : 0);
}

/* Fill the window; END once every chunk is confirmed. The resend timer runs. */
static void pump(mqotad_t *d, legacy_dev_t *ld, uint64_t now_ms)
{
    b64_session_t *s = ld->session;
    char text[32];
    while (s->next <= s->n_chunks && s->next <= s->acked + s->window) send_data(d, ld, s->next++);
    if (s->acked == s->n_chunks && !s->ending) {
        size_t n = lb64_encode_end(text, sizeof(text));
        mqtt__publish(d, s->update_topic, text, n, 1, false);
        s->ending = true;
        legacy__set_timer(ld, now_ms + ANSWER_TIMEOUT_MS);
        return;
    }
    legacy__set_timer(ld, now_ms + (s->ending ? ANSWER_TIMEOUT_MS : RESEND_MS));
}

static int start(mqotad_t *d, legacy_dev_t *ld, uint64_t now_ms)
{
    b64_session_t *s = ld->session;
    uint8_t key[32], iv[16];
    char err[300], text[32];
    /* the key is needed to hear the version after the reboot: without it nothing is sent */
    if (read_key(d, key, iv, err, sizeof(err)) != 0) {
        OPENSSL_cleanse(key, sizeof(key));
        legacy__attempt_failed(d, ld, LEGACY_REASON_CONFIG, err, now_ms);
        return 0;
    }
    OPENSSL_cleanse(key, sizeof(key));
    OPENSSL_cleanse(iv, sizeof(iv));
    s->n_chunks = (ld->job->size + s->chunk - 1) / s->chunk;
    s->acked = s->sent_max = 0;
    s->next = 1;
    s->silent = 0;
    s->active = true;
    s->begun = s->ending = s->polling = false;
    size_t n = lb64_encode_begin(ld->job->size, text, sizeof(text));
    mqtt__publish(d, s->update_topic, text, n, 1, false);
    legacy__set_timer(ld, now_ms + ANSWER_TIMEOUT_MS);
    return 0;
}

static void abort_attempt(mqotad_t *d, legacy_dev_t *ld)
{
    (void)d;
    b64_session_t *s = ld->session;
    s->active = s->begun = s->ending = false;
    legacy__set_timer(ld, 0);
}

static void on_message(mqotad_t *d, legacy_dev_t *ld, const char *topic, const uint8_t *p,
                       size_t len, bool retained, uint64_t now_ms)
{
    b64_session_t *s = ld->session;
    lb64_status_t st;
    char detail[120];
    (void)topic;
    if (lb64_parse_status((const char *)p, len, &st) != 0) {
        mqh_log(MQH_DEBUG, "legacy device %s: malformed status message (%zu bytes) ignored",
                ld->id, len);
        return;
    }
    if (st.kind == LB64_ST_VERSION) {
        legacy__reported(d, ld, &(legacy_report_t){.version = st.text, .booted = s->polling});
        if (!ld->job) s->polling = false;
        return;
    }
    if (retained || !ld->job || !s->active) return;
    switch (st.kind) {
    case LB64_ST_STARTED:
        if (s->begun) return;
        s->begun = true;
        legacy__started(d, ld);
        pump(d, ld, now_ms);
        return;
    case LB64_ST_PROGRESS:
        if (!s->begun) return;
        if (st.total != ld->job->size) {
            snprintf(detail, sizeof(detail), "the device counts a total of %u bytes, not %u",
                     (unsigned)st.total, (unsigned)ld->job->size);
            legacy__attempt_failed(d, ld, LEGACY_REASON_SIZE, detail, now_ms);
            return;
        }
        if (st.chunk > s->acked && st.chunk <= s->n_chunks) {
            s->acked = st.chunk;
            s->silent = 0;
            if (s->next <= s->acked) s->next = s->acked + 1;
            legacy__progress(d, ld, st.bytes, 0, 0);
            pump(d, ld, now_ms);
        }
        return;
    case LB64_ST_REQUEST:
        if (!s->begun || st.chunk == 0 || st.chunk > s->n_chunks) return;
        if (st.chunk <= s->acked) s->acked = st.chunk - 1;
        if (st.chunk < s->next) s->next = st.chunk; /* go back: the device missed it */
        pump(d, ld, now_ms);
        return;
    case LB64_ST_SUCCESS:
        if (!s->ending) return;
        s->active = false;
        s->polling = true;
        legacy__image_done(d, ld, now_ms);
        legacy__set_timer(ld, now_ms + VERSION_POLL_MS);
        return;
    case LB64_ST_ERROR:
        snprintf(detail, sizeof(detail), "the device said OTA:ERROR:%s", st.text);
        legacy__attempt_failed(d, ld, LEGACY_REASON_DEVICE_ERROR, detail, now_ms);
        return;
    default:
        return;
    }
}

static void tick(mqotad_t *d, legacy_dev_t *ld, uint64_t now_ms)
{
    b64_session_t *s = ld->session;
    char detail[120];
    if (!ld->job) return;
    if (s->polling) { /* the device restarts: ask what it runs until it answers */
        send_command(d, ld, "VERSION");
        legacy__set_timer(ld, now_ms + VERSION_POLL_MS);
        return;
    }
    if (!s->active) return;
    if (!s->begun || s->ending || ++s->silent > SILENT_RESENDS_MAX) {
        snprintf(detail, sizeof(detail), "no answer %s", !s->begun ? "to OTA:BEGIN"
                 : s->ending ? "to OTA:END" : "to the chunks sent (the device may have dropped "
                 "its link on an error)");
        legacy__attempt_failed(d, ld, LEGACY_REASON_TIMEOUT, detail, now_ms);
        return;
    }
    s->next = s->acked + 1; /* go back to the first unconfirmed chunk */
    pump(d, ld, now_ms);
}

/* The device reads its update and command topics and writes its status topic. */
static int topics(const cJSON *params, legacy_topics_t *out)
{
    b64_session_t s;
    if (session_topics(params, &s) != 0) return -1;
    snprintf(out->reads[0], sizeof(out->reads[0]), "%s", s.update_topic);
    snprintf(out->reads[1], sizeof(out->reads[1]), "%s", s.cmd_topic);
    snprintf(out->writes[0], sizeof(out->writes[0]), "%s", s.status_topic);
    out->n_reads = 2;
    out->n_writes = 1;
    return 0;
}

const legacy_adapter_t legacy_b64_adapter = {
    .protocol = DB_PROTO_B64,
    .check_params = check_params,
    .attach = attach,
    .detach = detach,
    .start = start,
    .on_message = on_message,
    .tick = tick,
    .abort = abort_attempt,
    .topics = topics,
};
