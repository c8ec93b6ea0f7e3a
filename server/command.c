/* SPDX-License-Identifier: Apache-2.0 */
/*
 * command.c - server-to-device commands (docs/PROTOCOL.md §14): the queue, sealing and
 * publishing, replies and refusal reports, timeouts. SQL is in db.c, AES-GCM in seal.c, the
 * HTTP routes in http_command.c.
 *
 * Order of a send, so that a counter is never used twice even across a crash: the counter
 * max(last + 1, Unix time in microseconds) and the command's "sent" state commit together
 * first, then the frame is sealed and published (QoS 1, not retained). A publish that fails
 * at once puts the command back in the queue; its counter is simply skipped.
 *
 * The command key is read from the database for every frame and wiped from the stack after
 * use; it is never logged. Replies are accepted only if they open under the device's key with
 * the device id from the topic, and only with a counter above the last accepted one.
 */
#include "command.h"
#include "devlog.h"
#include "metrics.h"

#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mqota/mqota_command.h"
#include "mqota/mqota_proto.h"
#include "seal.h"

#define QUEUE_BATCH 32          /* queued commands sent per ready event */
#define CHECK_INTERVAL_MS 1000u /* how often timers run */

uint64_t command__unix_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* A command name: 1..31 of [a-z0-9._-] (docs/PROTOCOL.md §14.3). */
static bool valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > DB_COMMAND_NAME_MAX) return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '.' || *s == '_' ||
              *s == '-'))
            return false;
    return true;
}

static void command_topic(const char *device_id, char *out, size_t cap)
{
    snprintf(out, cap, MQOTAD_TOPIC_PREFIX "%s/cmd", device_id);
}

command_result_t command__queue(mqotad_t *d, const char *device_id, const char *name,
                                const uint8_t *args, size_t args_len, int64_t ttl_s,
                                db_command_t *out, char *err, size_t err_cap)
{
    db_device_t dev;
    db_key_t key;
    int have_dev, have_key;

    if (!valid_name(name)) {
        snprintf(err, err_cap, "command name '%.40s' must be 1 to %d lowercase letters, digits, "
                 "'.', '_' or '-'", name, DB_COMMAND_NAME_MAX);
        return COMMAND_INVALID;
    }
    size_t room = MQOTA_SEALED_MAX_LEN - MQOTA_SEALED_OVERHEAD - MQOTA_COMMAND_FIXED_LEN -
                  strlen(name);
    if (args_len > room) {
        snprintf(err, err_cap, "\"args\" is %zu bytes; with the name '%s' at most %zu bytes fit "
                 "in one sealed command (frames are at most %u bytes)", args_len, name, room,
                 MQOTA_SEALED_MAX_LEN);
        return COMMAND_INVALID;
    }
    if (ttl_s < 1 || ttl_s > COMMAND_TTL_MAX_S) {
        snprintf(err, err_cap, "\"ttl_s\" %lld must be a whole number of seconds from 1 to %d",
                 (long long)ttl_s, COMMAND_TTL_MAX_S);
        return COMMAND_INVALID;
    }
    if (strlen(device_id) > DB_ID_MAX) {
        snprintf(err, err_cap, "unknown device '%.64s'", device_id);
        return COMMAND_UNKNOWN_DEVICE;
    }
    have_dev = db__device_get(d->db, device_id, &dev);
    have_key = have_dev < 0 ? -1 : db__key_get(d->db, device_id, &key);
    OPENSSL_cleanse(&key, sizeof(key));
    if (have_dev < 0 || have_key < 0) {
        snprintf(err, err_cap, "database error while looking up device '%s'", device_id);
        return COMMAND_ERROR;
    }
    if (have_dev == 1 && have_key == 1) {
        snprintf(err, err_cap, "unknown device '%s'", device_id);
        return COMMAND_UNKNOWN_DEVICE;
    }
    if (have_dev == 0 && dev.protocol != DB_PROTO_MQOTA) {
        snprintf(err, err_cap, "device '%s' speaks legacy protocol %s, which carries no mqota "
                 "commands (docs/LEGACY.md); update it to an image with the agent first",
                 device_id, db__protocol_name(dev.protocol));
        return COMMAND_NO_KEY;
    }
    if (have_key == 1) {
        snprintf(err, err_cap, "device '%s' has no command key; provision it with 'mqotad --data "
                 "DIR device provision --replace %s' and give the device the new credentials file",
                 device_id, device_id);
        return COMMAND_NO_KEY;
    }
    memset(out, 0, sizeof(*out));
    snprintf(out->device_id, sizeof(out->device_id), "%s", device_id);
    snprintf(out->name, sizeof(out->name), "%s", name);
    if (args_len) memcpy(out->args, args, args_len);
    out->args_len = args_len;
    out->ttl_s = ttl_s;
    out->created_at = mqh_unix_now();
    if (db__command_insert(d->db, out) != 0) {
        snprintf(err, err_cap, "database error while storing the command");
        return COMMAND_ERROR;
    }
    /* command ids travel as u32; 4 billion commands in one database is out of reach, but an
     * id that does not fit must not wrap onto another command */
    if (out->id > (int64_t)UINT32_MAX) {
        db__command_finish(d->db, out->id, "queued", "expired", "", NULL, 0, out->created_at);
        snprintf(err, err_cap, "command ids are exhausted in this database (above 2^32)");
        return COMMAND_ERROR;
    }
    mqh_log(MQH_INFO, "command %lld (%s) queued for %s", (long long)out->id, name, device_id);
    command__device_ready(d, device_id);
    if (db__command_get(d->db, out->id, out) != 0) {
        snprintf(err, err_cap, "database error while reading the command back");
        return COMMAND_ERROR;
    }
    return COMMAND_OK;
}

/*
 * Seal and publish one queued command. The counter and the "sent" state are committed before
 * the publish. Returns 0 sent, 1 not sent (left queued, or expired for lack of a key), -1 on a
 * database error.
 */
static int send_one(mqotad_t *d, int64_t id)
{
    db_command_t c;
    db_key_t key;
    uint8_t plain[MQOTA_SEALED_PLAIN_MAX], frame[MQOTA_SEALED_MAX_LEN];
    size_t plain_len, frame_len;
    char topic[sizeof(MQOTAD_TOPIC_PREFIX) + DB_ID_MAX + 8];
    int rc = -1;

    if (db__command_get(d->db, id, &c) != 0 || strcmp(c.state, "queued") != 0) return 1;
    int k = db__key_get(d->db, c.device_id, &key);
    if (k < 0) return -1;
    if (k == 1) { /* revoked since it was queued */
        db__command_finish(d->db, id, "queued", "expired", "", NULL, 0, mqh_unix_now());
        mqh_log(MQH_WARN, "command %lld (%s) for %s expired: the device has no command key any "
                "more", (long long)id, c.name, c.device_id);
        return 1;
    }
    mqota_command_t cmd;
    memset(&cmd, 0, sizeof(cmd));
    cmd.command_id = (uint32_t)id;
    snprintf(cmd.name, sizeof(cmd.name), "%s", c.name);
    cmd.args_len = (uint16_t)c.args_len;
    cmd.args = c.args_len ? c.args : NULL;
    if (mqota_command_encode(&cmd, plain, sizeof(plain), &plain_len) != MQOTA_OK) {
        mqh_log(MQH_ERROR, "command %lld (%s) for %s cannot be encoded; left queued",
                (long long)id, c.name, c.device_id);
        rc = 1;
        goto out;
    }
    uint64_t counter = command__unix_us();
    if (key.command_counter + 1u > counter) counter = key.command_counter + 1u;
    if (db__begin(d->db) != 0) goto out;
    if (db__key_set_command_counter(d->db, c.device_id, counter) != 0 ||
        db__command_set_sent(d->db, id, counter, mqh_unix_now()) != 0 ||
        db__commit(d->db) != 0) {
        db__rollback(d->db);
        goto out;
    }
    command_topic(c.device_id, topic, sizeof(topic));
    if (seal__frame(key.key, MQOTA_MSG_COMMAND, counter, c.device_id, plain, plain_len, frame,
                    sizeof(frame), &frame_len) != 0 ||
        mqtt__publish(d, topic, frame, frame_len, 1, false) != 0) {
        db__command_unsend(d->db, id); /* nothing left mqotad: it may go later */
        mqh_log(MQH_WARN, "command %lld (%s) for %s could not be published; it stays queued",
                (long long)id, c.name, c.device_id);
        rc = 1;
        goto out;
    }
    metrics__command(d, METRICS_CMD_SENT, 1);
    mqh_log(MQH_INFO, "command %lld (%s) sent to %s (counter %llu, %zu bytes sealed)",
            (long long)id, c.name, c.device_id, (unsigned long long)counter, frame_len);
    rc = 0;
out:
    OPENSSL_cleanse(&key, sizeof(key));
    OPENSSL_cleanse(plain, sizeof(plain));
    return rc;
}

void command__device_ready(mqotad_t *d, const char *device_id)
{
    db_device_t dev;
    int64_t ids[QUEUE_BATCH];
    int n = 0;

    if (!d->mqtt_connected || db__device_get(d->db, device_id, &dev) != 0 || !dev.online ||
        !(dev.caps & MQOTA_CAP_COMMANDS))
        return;
    if (db__command_queued_ids(d->db, device_id, ids, QUEUE_BATCH, &n) != 0) return;
    for (int i = 0; i < n; i++)
        if (send_one(d, ids[i]) < 0) break;
}

/* Log why device_id's reply was dropped (one line, rate-limited per device) and count it. */
static void drop(mqotad_t *d, const char *device_id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void drop(mqotad_t *d, const char *device_id, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    d->cmd_replies_dropped++;
    devlog__warn(d, device_id, "%s; dropped (%llu replies dropped so far)", msg,
                 (unsigned long long)d->cmd_replies_dropped);
}

/* A command's answer: done for ok, failed for any other result; only a command in "sent". */
static int finish_answered(mqotad_t *d, const char *device_id, const mqota_reply_t *r)
{
    db_command_t c;
    int rc = db__command_get(d->db, (int64_t)r->command_id, &c);
    if (rc < 0) return -1;
    if (rc == 1 || strcmp(c.device_id, device_id) != 0) {
        devlog__warn(d, device_id, "device %s answered command %u, which mqotad never sent "
                     "to it; ignored", device_id, (unsigned)r->command_id);
        return 0;
    }
    const char *result = mqota_cmd_result_name(r->result);
    const char *state = r->result == MQOTA_CMD_OK ? "done" : "failed";
    rc = db__command_finish(d->db, c.id, "sent", state, result, r->body, r->body_len,
                            mqh_unix_now());
    if (rc < 0) return -1;
    if (rc == 1)
        devlog__warn(d, device_id, "device %s answered command %lld (%s) with %s, but the "
                     "command is %s already; the answer is not recorded", device_id,
                     (long long)c.id, c.name, result, c.state);
    else
        metrics__command(d, r->result == MQOTA_CMD_OK ? METRICS_CMD_REPLIED : METRICS_CMD_FAILED,
                         1);
    if (rc == 0)
        mqh_log(MQH_INFO, "command %lld (%s) on %s: %s (%u bytes of reply)", (long long)c.id,
                c.name, device_id, result, (unsigned)r->body_len);
    return 0;
}

/* A refusal report: store it; a command mqotad sent with the refused counter is refused. */
static int store_refusal(mqotad_t *d, const char *device_id, const mqota_reply_t *r)
{
    mqota_refusal_t rf;
    db_refusal_t row;
    db_command_t c;

    if (r->result < MQOTA_CMD_REFUSED_FORGED ||
        mqota_refusal_decode(r->body, r->body_len, &rf) != MQOTA_OK) {
        drop(d, device_id, "device %s sent a refusal report with result %u and a %u-byte body; "
             "expected a refused-* result and %u bytes", device_id, (unsigned)r->result,
             (unsigned)r->body_len, MQOTA_REFUSAL_BODY_LEN);
        return 0;
    }
    memset(&row, 0, sizeof(row));
    snprintf(row.device_id, sizeof(row.device_id), "%s", device_id);
    row.at = mqh_unix_now();
    snprintf(row.result, sizeof(row.result), "%s", mqota_cmd_result_name(r->result));
    row.refused_counter = rf.refused_counter;
    row.highest_counter = rf.highest_counter;
    row.refused_total = rf.refused_total;
    int found = rf.refused_counter ? db__command_by_counter(d->db, device_id, rf.refused_counter,
                                                            &c)
                                   : 1;
    if (found < 0) return -1;
    if (found == 0) row.command_id = c.id;
    if (db__refusal_insert(d->db, &row) != 0) return -1;
    bool marked = false;
    if (found == 0) {
        int rc = db__command_finish(d->db, c.id, "sent", "refused", row.result, NULL, 0, row.at);
        if (rc < 0) return -1;
        marked = rc == 0;
        if (marked) metrics__command(d, METRICS_CMD_REFUSED, 1);
    }
    char which[96] = "";
    if (found == 0)
        snprintf(which, sizeof(which), "; counter of command %lld (%s)%s", (long long)c.id,
                 c.name, marked ? ", now refused" : "");
    devlog__warn(d, device_id, "device %s refused a command: %s (refused counter %llu, "
                 "highest accepted %llu, %u refused since boot)%s", device_id, row.result,
                 (unsigned long long)rf.refused_counter, (unsigned long long)rf.highest_counter,
                 (unsigned)rf.refused_total, which);
    return 0;
}

void command__handle_reply(mqotad_t *d, const char *device_id, const uint8_t *payload,
                           size_t len)
{
    mqota_sealed_t f;
    mqota_reply_t r;
    db_key_t key;
    uint8_t plain[MQOTA_SEALED_PLAIN_MAX];
    mqota_status_t st;

    if (len == 0) return;
    if ((st = mqota_sealed_decode(payload, len, MQOTA_MSG_REPLY, &f)) != MQOTA_OK) {
        drop(d, device_id, "device %s sent a reply that is not a sealed REPLY frame (%s, %zu "
             "bytes)", device_id, mqota_strerror(st), len);
        return;
    }
    int k = db__key_get(d->db, device_id, &key);
    if (k != 0) {
        if (k == 1)
            drop(d, device_id, "device %s sent a reply but has no command key", device_id);
        return;
    }
    if (seal__open(key.key, &f, device_id, plain) != 0) {
        drop(d, device_id, "a reply on the topic of device %s does not open under its command "
             "key (altered, forged, or sealed with another key or for another device; counter "
             "%llu)",
             device_id, (unsigned long long)f.counter);
        goto out;
    }
    if (f.counter <= key.reply_counter) {
        drop(d, device_id, "device %s sent a replayed reply: counter %llu is not above the last "
             "accepted %llu", device_id, (unsigned long long)f.counter,
             (unsigned long long)key.reply_counter);
        goto out;
    }
    if (db__begin(d->db) != 0) goto out;
    /* authentic: its counter is used up even if the plaintext turns out malformed */
    if (db__key_set_reply_counter(d->db, device_id, f.counter) != 0) goto rollback;
    if ((st = mqota_reply_decode(plain, f.ciphertext_len, &r)) != MQOTA_OK) {
        drop(d, device_id, "device %s sent an authentic reply with a malformed plaintext (%s)",
             device_id, mqota_strerror(st));
    } else if (r.command_id != 0) {
        if (finish_answered(d, device_id, &r) != 0) goto rollback;
    } else if (store_refusal(d, device_id, &r) != 0) {
        goto rollback;
    }
    if (db__commit(d->db) != 0) goto rollback;
    goto out;
rollback:
    db__rollback(d->db);
out:
    OPENSSL_cleanse(&key, sizeof(key));
    OPENSSL_cleanse(plain, sizeof(plain));
}

void command__check_times(mqotad_t *d, int64_t now_s)
{
    int expired = 0, timed_out = 0;
    if (db__command_expire(d->db, now_s, &expired) == 0 && expired > 0) {
        metrics__command(d, METRICS_CMD_EXPIRED, (unsigned)expired);
        mqh_log(MQH_WARN, "%d queued command%s expired: the device was not reachable within the "
                "command's ttl", expired, expired == 1 ? "" : "s");
    }
    if (db__command_time_out(d->db, now_s - (int64_t)d->command_timeout_s, now_s,
                             &timed_out) == 0 && timed_out > 0) {
        metrics__command(d, METRICS_CMD_TIMED_OUT, (unsigned)timed_out);
        mqh_log(MQH_WARN, "%d sent command%s timed out: no reply within %u s (not sent again)",
                timed_out, timed_out == 1 ? "" : "s", d->command_timeout_s);
    }
}

void command__tick(mqotad_t *d, uint64_t now_ms)
{
    if (d->cmd_check_ms && now_ms < d->cmd_check_ms + CHECK_INTERVAL_MS) return;
    d->cmd_check_ms = now_ms;
    command__check_times(d, mqh_unix_now());
}
