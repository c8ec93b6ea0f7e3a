/* SPDX-License-Identifier: Apache-2.0 */
/*
 * legacy_b64.c - the device side of legacy protocol 1 (docs/LEGACY.md), as the SIM7600
 * boards' sketches behave: subscribed to <id>/firmware/update and <id>/server_cmd (QoS 1),
 * answering on <id>/esp32_status. The fleet puts the device id in front of the protocol's
 * topic names so that one broker holds many devices (the protocol allows one device per topic
 * set; register them with params.prefix "<id>/").
 *
 * Update messages are base64: OTA:BEGIN:<size> starts a download into the inactive slot
 * (OTA:STARTED), data chunks are written in arrival order (the expected number: written,
 * OTA:PROGRESS; a lower one: a duplicate, OTA:PROGRESS again; a higher one: OTA:REQUEST for the
 * expected one), OTA:END checks the byte count and the image (esp_ota_end) and answers
 * OTA:SUCCESS, then the device restarts. Its quirk: when the finished image fails its check,
 * it resets its modem before its OTA:ERROR leaves, so the ERROR never arrives.
 *
 * Commands (base64 of AES-256-CBC under --b64-key's key and IV): VERSION answers
 * VERSION:<running version>, RESTART restarts; one that does not decrypt is refused (logged,
 * nothing answered).
 */
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleet.h"
#include "legacy.h"
#include "legacy_codec.h"

typedef struct {
    char update_topic[MQOTA_TOPIC_MAX];
    char cmd_topic[MQOTA_TOPIC_MAX];
    char status_topic[MQOTA_TOPIC_MAX];
    mqota_running_t running;
    bool receiving;
    uint8_t slot;       /* the inactive slot the download goes to */
    uint32_t size;      /* BEGIN's size */
    uint32_t written;   /* bytes written */
    uint32_t expected;  /* the next chunk number */
    lb64_msg_t msg;     /* the message being decoded (too large for the stack's comfort) */
} b64_dev_t;

static void status(fleet_dev_t *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Publish one status line (QoS 1, not retained). */
static void status(fleet_dev_t *d, const char *fmt, ...)
{
    b64_dev_t *b = d->legacy;
    char text[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    if (n > 0 && (size_t)n < sizeof(text))
        fleet_legacy_publish(d, b->status_topic, text, (size_t)n, 1, false);
}

static int boot(fleet_dev_t *d)
{
    b64_dev_t *b = calloc(1, sizeof(*b));
    if (b == NULL) return -1;
    d->legacy = b;
    snprintf(b->update_topic, sizeof(b->update_topic), "%s/firmware/update", d->id);
    snprintf(b->cmd_topic, sizeof(b->cmd_topic), "%s/server_cmd", d->id);
    snprintf(b->status_topic, sizeof(b->status_topic), "%s/esp32_status", d->id);
    if (d->vplat.running(d->vplat.ctx, &b->running) != 0) return -1;
    return 0;
}

static void on_connect(fleet_dev_t *d)
{
    b64_dev_t *b = d->legacy;
    mosquitto_subscribe(d->mosq, NULL, b->update_topic, 1);
    mosquitto_subscribe(d->mosq, NULL, b->cmd_topic, 1);
}

/* BEGIN: a new download into the inactive slot (a download in progress starts over). */
static void begin(fleet_dev_t *d, uint32_t size)
{
    b64_dev_t *b = d->legacy;
    uint32_t cap = 0;
    b->receiving = false;
    b->slot = (uint8_t)(b->running.running_slot == 0 ? 1 : 0);
    if (d->vplat.slot_size(d->vplat.ctx, b->slot, &cap) != 0 || size == 0 || size > cap) {
        status(d, "OTA:ERROR:size");
        return;
    }
    if (d->vplat.slot_begin(d->vplat.ctx, b->slot, size, 0) != 0) {
        status(d, "OTA:ERROR:begin");
        return;
    }
    b->receiving = true;
    b->size = size;
    b->written = 0;
    b->expected = 1;
    mqh_log(MQH_INFO, "%s: OTA:BEGIN of %u bytes into slot %u", d->id, (unsigned)size,
            (unsigned)b->slot);
    status(d, "OTA:STARTED");
}

static void data(fleet_dev_t *d, lb64_msg_t *m)
{
    b64_dev_t *b = d->legacy;
    if (!b->receiving) {
        status(d, "OTA:ERROR:not-started");
        return;
    }
    if (m->chunk < b->expected) { /* a duplicate: written already */
        status(d, "OTA:PROGRESS:%u/%u:CHUNK:%u", (unsigned)b->written, (unsigned)b->size,
               (unsigned)m->chunk);
        return;
    }
    if (m->chunk > b->expected) {
        status(d, "OTA:REQUEST:%u", (unsigned)b->expected);
        return;
    }
    if (m->data_len > b->size - b->written) {
        status(d, "OTA:ERROR:overflow");
        b->receiving = false;
        return;
    }
    if (fleet_legacy_corrupt_now(d, m->chunk)) m->data[m->data_len / 2] ^= 0x01;
    if (d->vplat.slot_write(d->vplat.ctx, b->slot, b->written, m->data, m->data_len) != 0) {
        status(d, "OTA:ERROR:write");
        b->receiving = false;
        return;
    }
    b->written += (uint32_t)m->data_len;
    b->expected++;
    status(d, "OTA:PROGRESS:%u/%u:CHUNK:%u", (unsigned)b->written, (unsigned)b->size,
           (unsigned)m->chunk);
    fleet_legacy_maybe_cut(d, b->written, b->size);
}

static void end(fleet_dev_t *d)
{
    b64_dev_t *b = d->legacy;
    if (!b->receiving) {
        status(d, "OTA:ERROR:not-started");
        return;
    }
    b->receiving = false;
    if (b->written != b->size) {
        status(d, "OTA:ERROR:size-mismatch");
        return;
    }
    if (fleet_legacy_finish_image(d, b->slot, b->size) != 0) {
        /* the quirk: the sketch resets its modem on this error before its OTA:ERROR leaves */
        fleet_legacy_drop_link(d, "OTA:ERROR:validation never sent: the sketch resets its "
                               "modem on this error");
        return;
    }
    mqh_log(MQH_INFO, "%s: OTA:SUCCESS, restarting", d->id);
    status(d, "OTA:SUCCESS");
    fleet_legacy_restart(d);
}

/* A sealed command on the command topic. */
static void command(fleet_dev_t *d, const char *text, size_t len)
{
    b64_dev_t *b = d->legacy;
    uint8_t key[32], iv[16];
    char cmd[LB64_CMD_MAX + 1], line[200];
    bool have = false;
    FILE *f = d->fleet->opt.b64_key ? fopen(d->fleet->opt.b64_key, "r") : NULL;
    bool k = false, v = false;
    while (f && fgets(line, sizeof(line), f)) {
        size_t l = strcspn(line, "\r\n");
        line[l] = '\0';
        if (strncmp(line, "key=", 4) == 0) k = l == 68 && mqh_unhex(line + 4, key, 32) == 0;
        if (strncmp(line, "iv=", 3) == 0) v = l == 35 && mqh_unhex(line + 3, iv, 16) == 0;
    }
    if (f) fclose(f);
    have = k && v;
    int n = have ? lb64_cmd_open(key, iv, text, len, cmd, sizeof(cmd)) : -1;
    OPENSSL_cleanse(key, sizeof(key));
    OPENSSL_cleanse(iv, sizeof(iv));
    OPENSSL_cleanse(line, sizeof(line));
    if (n < 0) {
        mqh_log(MQH_WARN, "%s: command refused: it does not decrypt under the fleet's key "
                "(%s)", d->id, have ? "wrong key or IV, or not a command" : "no --b64-key");
        return;
    }
    if (strcmp(cmd, "VERSION") == 0) {
        status(d, "VERSION:%s", b->running.version);
    } else if (strcmp(cmd, "RESTART") == 0) {
        status(d, "RESTARTING");
        fleet_legacy_restart(d);
    } else {
        status(d, "CMD:UNKNOWN");
    }
}

static void on_message(fleet_dev_t *d, const struct mosquitto_message *m)
{
    b64_dev_t *b = d->legacy;
    size_t len = m->payloadlen > 0 ? (size_t)m->payloadlen : 0;
    if (strcmp(m->topic, b->cmd_topic) == 0) {
        command(d, m->payload, len);
        return;
    }
    if (strcmp(m->topic, b->update_topic) != 0) return;
    if (lb64_decode_update(m->payload, len, &b->msg) != 0) {
        status(d, "OTA:ERROR:decode");
        return;
    }
    d->rx_chunk_bytes += len;
    switch (b->msg.kind) {
    case LB64_MSG_BEGIN: begin(d, b->msg.size); break;
    case LB64_MSG_DATA: data(d, &b->msg); break;
    case LB64_MSG_END: end(d); break;
    }
}

static void tick(fleet_dev_t *d, uint64_t now_ms)
{
    (void)d;
    (void)now_ms;
}

static void power_off(fleet_dev_t *d)
{
    free(d->legacy);
    d->legacy = NULL;
}

const fleet_legacy_ops_t fleet_legacy_b64_ops = {
    .boot = boot,
    .on_connect = on_connect,
    .on_message = on_message,
    .tick = tick,
    .power_off = power_off,
};
