/* SPDX-License-Identifier: Apache-2.0 */
/*
 * legacy_md5.c - the adapter of legacy protocol 2, per-chip topics with MD5 chunks (Arduino +
 * PubSubClient boards; docs/LEGACY.md): mechanism under legacy.c.
 *
 * mqotad publishes the image size (4 bytes, big-endian) on ota/<chipId>; each `ok` on
 * ota/feedback/<chipId> asks for the next chunk (length, data, MD5, chunks remaining); the
 * device's `success` means it has the image and restarts, its next live `ready` is its new
 * boot. The protocol has no chunk numbers, so it is stop-and-wait by nature and a chunk
 * cannot be sent twice: anything unexpected (an error word, silence for ANSWER_TIMEOUT_MS, a
 * `ready` mid-transfer: the device restarted) ends the attempt, and the framework's retry
 * starts over from the size message. The device's feedback is retained: a message delivered
 * from the broker's store (after mqotad subscribes) is old news and only logged.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "legacy.h"
#include "legacy_codec.h"

/* How long the device has to answer the size message or a chunk. */
#define ANSWER_TIMEOUT_MS 5000u

typedef struct {
    char chip[13];                    /* the device's chipId */
    char cmd_topic[LEGACY_TOPIC_MAX]; /* ota/<chipId> */
    uint32_t chunk;                   /* image bytes per chunk */
    uint32_t offset;                  /* attempt: bytes sent and answered `ok` */
    uint32_t inflight;                /* attempt: bytes of the chunk awaiting its answer */
    bool sizing;                      /* attempt: the size message awaits its answer */
    bool active;                      /* an attempt is in flight */
} md5_session_t;

/* params: {"chip": "esp32-xxxxxx", "chunk": 200} */
static int check_params(mqotad_t *d, const char *device_id, cJSON *params, char *err,
                        size_t cap)
{
    (void)d;
    (void)device_id;
    const cJSON *chip = cJSON_GetObjectItemCaseSensitive(params, "chip");
    const cJSON *chunk = cJSON_GetObjectItemCaseSensitive(params, "chunk");
    if (!cJSON_IsString(chip) || !lmd5_chip_id_valid(chip->valuestring)) {
        snprintf(err, cap, "protocol md5 needs params.chip, the device's chipId: \"esp32-\" and 6 "
                 "lowercase hex digits (the low 24 bits of its MAC)");
        return -1;
    }
    if (chunk && (!cJSON_IsNumber(chunk) || chunk->valuedouble < 1 ||
                  chunk->valuedouble > LMD5_CHUNK_MAX ||
                  chunk->valuedouble != (double)(int)chunk->valuedouble)) {
        snprintf(err, cap, "params.chunk must be a whole number of bytes from 1 to %u (default "
                 "%u; the device's MQTT packet size bounds it)", LMD5_CHUNK_MAX,
                 LMD5_CHUNK_DEFAULT);
        return -1;
    }
    if (!chunk) cJSON_AddNumberToObject(params, "chunk", LMD5_CHUNK_DEFAULT);
    return 0;
}

static int attach(mqotad_t *d, legacy_dev_t *ld)
{
    md5_session_t *s = calloc(1, sizeof(*s));
    char topic[LEGACY_TOPIC_MAX];
    if (!s) return -1;
    const cJSON *chip = cJSON_GetObjectItemCaseSensitive(ld->params, "chip");
    const cJSON *chunk = cJSON_GetObjectItemCaseSensitive(ld->params, "chunk");
    snprintf(s->chip, sizeof(s->chip), "%s", cJSON_IsString(chip) ? chip->valuestring : "");
    s->chunk = cJSON_IsNumber(chunk) ? (uint32_t)chunk->valuedouble : LMD5_CHUNK_DEFAULT;
    snprintf(s->cmd_topic, sizeof(s->cmd_topic), "ota/%s", s->chip);
    snprintf(topic, sizeof(topic), "ota/feedback/%s", s->chip);
    ld->session = s;
    return legacy__listen(d, ld, topic, 1);
}

static void detach(mqotad_t *d, legacy_dev_t *ld)
{
    (void)d;
    free(ld->session);
    ld->session = NULL;
}

/* Send the chunk at s->offset (answered by `ok` or an error word). */
static void send_chunk(mqotad_t *d, legacy_dev_t *ld, uint64_t now_ms)
{
    md5_session_t *s = ld->session;
    legacy_job_t *j = ld->job;
    uint8_t buf[LMD5_CHUNK_MAX + LMD5_OVERHEAD];
    uint32_t n = j->size - s->offset < s->chunk ? j->size - s->offset : s->chunk;
    uint32_t after = (j->size - s->offset - n + s->chunk - 1) / s->chunk;
    size_t len = lmd5_encode_chunk(j->image + s->offset, n, (uint16_t)after, buf, sizeof(buf));
    if (len == 0 || after > 0xFFFFu) {
        legacy__attempt_failed(d, ld, LEGACY_REASON_CONFIG, "the image needs more than 65535 "
                               "chunks at this chunk size; raise params.chunk", now_ms);
        return;
    }
    mqtt__publish(d, s->cmd_topic, buf, len, 1, false);
    s->inflight = n;
    legacy__progress(d, ld, s->offset, n, 0);
    legacy__set_timer(ld, now_ms + ANSWER_TIMEOUT_MS);
}

static int start(mqotad_t *d, legacy_dev_t *ld, uint64_t now_ms)
{
    md5_session_t *s = ld->session;
    uint8_t size[4];
    lmd5_encode_size(ld->job->size, size);
    s->offset = s->inflight = 0;
    s->sizing = s->active = true;
    /* not connected: the answer timeout ends the attempt and the framework retries */
    mqtt__publish(d, s->cmd_topic, size, sizeof(size), 1, false);
    legacy__set_timer(ld, now_ms + ANSWER_TIMEOUT_MS);
    return 0;
}

static void abort_attempt(mqotad_t *d, legacy_dev_t *ld)
{
    (void)d;
    md5_session_t *s = ld->session;
    s->active = s->sizing = false;
    s->inflight = 0;
    legacy__set_timer(ld, 0);
}

/* An error word: the attempt ends with the reason it names. */
static legacy_reason_t reason_of(lmd5_feedback_t f)
{
    switch (f) {
    case LMD5_FB_MD5_FAIL: return LEGACY_REASON_CHECKSUM;
    case LMD5_FB_LEN_FAIL:
    case LMD5_FB_SIZE_MISMATCH: return LEGACY_REASON_SIZE;
    case LMD5_FB_BEGIN_FAIL:
    case LMD5_FB_WRITE_FAIL:
    case LMD5_FB_END_FAIL: return LEGACY_REASON_FLASH;
    default: return LEGACY_REASON_DEVICE_ERROR;
    }
}

static void on_message(mqotad_t *d, legacy_dev_t *ld, const char *topic, const uint8_t *p,
                       size_t len, bool retained, uint64_t now_ms)
{
    md5_session_t *s = ld->session;
    (void)topic;
    lmd5_feedback_t f = lmd5_parse_feedback(p, len);
    if (retained) { /* the broker's copy of the device's last word: old news */
        mqh_log(MQH_DEBUG, "legacy device %s: retained feedback '%s' ignored", ld->id,
                lmd5_feedback_name(f));
        return;
    }
    legacy_job_t *j = ld->job;
    char detail[80];
    switch (f) {
    case LMD5_FB_READY:
        if (j && j->phase == LEGACY_JOB_SENDING && s->active) {
            legacy__attempt_failed(d, ld, LEGACY_REASON_TIMEOUT, "the device restarted or "
                                   "reconnected mid-transfer (a new 'ready')", now_ms);
            return;
        }
        /* no version on this protocol: a fresh boot is all it says */
        legacy__reported(d, ld, &(legacy_report_t){.version = NULL, .booted = true});
        return;
    case LMD5_FB_OK:
        if (!j || j->phase != LEGACY_JOB_SENDING || !s->active) return;
        if (s->sizing) {
            s->sizing = false;
            legacy__started(d, ld);
        } else {
            s->offset += s->inflight;
            s->inflight = 0;
            legacy__progress(d, ld, s->offset, 0, 0);
        }
        if (s->offset < j->size) send_chunk(d, ld, now_ms);
        else legacy__set_timer(ld, now_ms + ANSWER_TIMEOUT_MS); /* `success` is due */
        return;
    case LMD5_FB_SUCCESS:
        if (!j || j->phase != LEGACY_JOB_SENDING || !s->active) return;
        s->active = false;
        legacy__set_timer(ld, 0);
        legacy__image_done(d, ld, now_ms);
        return;
    case LMD5_FB_OTHER:
        mqh_log(MQH_DEBUG, "legacy device %s: unknown feedback (%zu bytes) ignored", ld->id, len);
        return;
    default:
        if (!j || j->phase != LEGACY_JOB_SENDING || !s->active) return;
        snprintf(detail, sizeof(detail), "the device answered '%s' at byte %u",
                 lmd5_feedback_name(f), (unsigned)s->offset);
        legacy__attempt_failed(d, ld, reason_of(f), detail, now_ms);
        return;
    }
}

static void tick(mqotad_t *d, legacy_dev_t *ld, uint64_t now_ms)
{
    md5_session_t *s = ld->session;
    char detail[80];
    if (!ld->job || !s->active) return;
    snprintf(detail, sizeof(detail), "no answer within %u ms at byte %u", ANSWER_TIMEOUT_MS,
             (unsigned)s->offset);
    legacy__attempt_failed(d, ld, LEGACY_REASON_TIMEOUT, detail, now_ms);
}

/* The device reads ota/<chipId> and writes ota/feedback/<chipId>. */
static int topics(const cJSON *params, legacy_topics_t *out)
{
    const cJSON *chip = cJSON_GetObjectItemCaseSensitive(params, "chip");
    if (!cJSON_IsString(chip) || !lmd5_chip_id_valid(chip->valuestring)) return -1;
    snprintf(out->reads[0], sizeof(out->reads[0]), "ota/%s", chip->valuestring);
    snprintf(out->writes[0], sizeof(out->writes[0]), "ota/feedback/%s", chip->valuestring);
    out->n_reads = out->n_writes = 1;
    return 0;
}

const legacy_adapter_t legacy_md5_adapter = {
    .protocol = DB_PROTO_MD5,
    .check_params = check_params,
    .attach = attach,
    .detach = detach,
    .start = start,
    .on_message = on_message,
    .tick = tick,
    .abort = abort_attempt,
    .topics = topics,
};
