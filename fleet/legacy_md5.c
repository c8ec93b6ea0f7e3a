/* SPDX-License-Identifier: Apache-2.0 */
/*
 * legacy_md5.c - the device side of legacy protocol 2 (docs/LEGACY.md), as the Arduino +
 * PubSubClient boards' sketches behave: chipId = "esp32-" + the low 24 bits of the eFuse MAC
 * in lowercase hex; after each connection a retained `ready` on ota/feedback/<chipId> and a
 * subscription to ota/<chipId>. A 4-byte message is the image size (Update.begin: `ok` or
 * `begin-fail`; a download in progress starts over); any other is a chunk: length, data, MD5,
 * chunks remaining (`len-fail`, `md5-fail`, `write-fail`, else `ok`; after the last one the
 * byte count and the image are checked: `size-mismatch`, `end-fail`, or `success` and a
 * restart). Every feedback word is published retained (the quirk: the broker keeps the last
 * one and gives it to whoever subscribes later). There are no timeouts on the device.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleet.h"
#include "legacy.h"
#include "legacy_codec.h"
#include "mqota_posix/vdev.h"

typedef struct {
    char chip[13];
    char cmd_topic[MQOTA_TOPIC_MAX];
    char fb_topic[MQOTA_TOPIC_MAX];
    mqota_running_t running;
    bool receiving;
    uint8_t slot;
    uint32_t size, written, chunks;
} md5_dev_t;

/* One feedback word, retained, at QoS 0 (PubSubClient publishes nothing else). */
static void feedback(fleet_dev_t *d, lmd5_feedback_t f)
{
    md5_dev_t *m = d->legacy;
    const char *w = lmd5_feedback_name(f);
    fleet_legacy_publish(d, m->fb_topic, w, strlen(w), 0, true);
}

static int boot(fleet_dev_t *d)
{
    md5_dev_t *m = calloc(1, sizeof(*m));
    if (m == NULL) return -1;
    d->legacy = m;
    lmd5_chip_id(vdev_efuse(d->vdev)->mac, m->chip);
    snprintf(m->cmd_topic, sizeof(m->cmd_topic), "ota/%s", m->chip);
    snprintf(m->fb_topic, sizeof(m->fb_topic), "ota/feedback/%s", m->chip);
    if (d->vplat.running(d->vplat.ctx, &m->running) != 0) return -1;
    mqh_log(MQH_INFO, "%s: protocol md5, chipId %s, running %s", d->id, m->chip,
            m->running.version);
    return 0;
}

static void on_connect(fleet_dev_t *d)
{
    md5_dev_t *m = d->legacy;
    mosquitto_subscribe(d->mosq, NULL, m->cmd_topic, 1);
    feedback(d, LMD5_FB_READY);
}

static void size_message(fleet_dev_t *d, const uint8_t *p)
{
    md5_dev_t *m = d->legacy;
    uint32_t size = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    uint32_t cap = 0;
    m->receiving = false;
    m->slot = (uint8_t)(m->running.running_slot == 0 ? 1 : 0);
    if (size == 0 || d->vplat.slot_size(d->vplat.ctx, m->slot, &cap) != 0 || size > cap ||
        d->vplat.slot_begin(d->vplat.ctx, m->slot, size, 0) != 0) {
        feedback(d, LMD5_FB_BEGIN_FAIL);
        return;
    }
    m->receiving = true;
    m->size = size;
    m->written = m->chunks = 0;
    mqh_log(MQH_INFO, "%s: update of %u bytes into slot %u begins", d->id, (unsigned)size,
            (unsigned)m->slot);
    feedback(d, LMD5_FB_OK);
}

static void chunk_message(fleet_dev_t *d, uint8_t *p, size_t len)
{
    md5_dev_t *m = d->legacy;
    lmd5_chunk_t c;
    if (!m->receiving) {
        feedback(d, LMD5_FB_WRITE_FAIL); /* Update.write() without Update.begin() */
        return;
    }
    m->chunks++;
    /* the wire's damage lands before the device checks anything */
    if (len > LMD5_OVERHEAD && fleet_legacy_corrupt_now(d, m->chunks)) p[2 + (len - 20) / 2] ^= 1;
    if (lmd5_decode_chunk(p, len, &c) != 0) {
        m->receiving = false;
        feedback(d, LMD5_FB_LEN_FAIL);
        return;
    }
    if (!c.md5_ok) {
        m->receiving = false; /* Update.abort() */
        mqh_log(MQH_INFO, "%s: chunk %u fails its MD5", d->id, (unsigned)m->chunks);
        feedback(d, LMD5_FB_MD5_FAIL);
        return;
    }
    if (c.len > m->size - m->written ||
        d->vplat.slot_write(d->vplat.ctx, m->slot, m->written, c.data, c.len) != 0) {
        m->receiving = false;
        feedback(d, LMD5_FB_WRITE_FAIL);
        return;
    }
    m->written += (uint32_t)c.len;
    d->rx_chunk_bytes += c.len;
    if (c.remaining > 0) {
        feedback(d, LMD5_FB_OK);
        fleet_legacy_maybe_cut(d, m->written, m->size);
        return;
    }
    m->receiving = false;
    if (m->written != m->size) {
        feedback(d, LMD5_FB_SIZE_MISMATCH);
        return;
    }
    if (fleet_legacy_finish_image(d, m->slot, m->size) != 0) {
        feedback(d, LMD5_FB_END_FAIL);
        return;
    }
    mqh_log(MQH_INFO, "%s: success, restarting", d->id);
    feedback(d, LMD5_FB_SUCCESS);
    fleet_legacy_restart(d);
}

static void on_message(fleet_dev_t *d, const struct mosquitto_message *msg)
{
    md5_dev_t *m = d->legacy;
    size_t len = msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0;
    if (strcmp(msg->topic, m->cmd_topic) != 0 || len == 0) return;
    if (len == 4) size_message(d, msg->payload);
    else chunk_message(d, msg->payload, len);
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

const fleet_legacy_ops_t fleet_legacy_md5_ops = {
    .boot = boot,
    .on_connect = on_connect,
    .on_message = on_message,
    .tick = tick,
    .power_off = power_off,
};
