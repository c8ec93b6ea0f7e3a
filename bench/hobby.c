/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench-hobby: the firmware-over-MQTT protocol of countless hobby projects, as a baseline.
 *
 * The sender reads the .bin and publishes it as base64 text, 381 raw bytes (508 base64
 * characters, no padding but on the last chunk) per message, at QoS 1, on
 * ota/<id>/data/<offset>; then it waits for the device's acknowledgement before the next one
 * (stop-and-wait). The device decodes the base64, writes the bytes at <offset> of its OTA slot
 * and publishes the next offset it wants, as decimal text, on ota/<id>/ack at QoS 1. Such
 * sketches size the chunk so that one message fits a small MQTT packet buffer on the device;
 * 381 bytes (508 characters, a multiple of 3 so only the last chunk is padded) is that size.
 *
 * Like those sketches, the device uses a clean session: a chunk published while it is away is
 * lost, and the sender publishes it again when no acknowledgement came for RESEND_MS.
 */
#define _GNU_SOURCE
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define RAW_CHUNK 381u /* 381 raw bytes = 508 base64 characters */
#define RESEND_MS 10000u
#define DEVICE_ID "bench-hobby-dev"

typedef struct {
    uint32_t offset;   /* sender: first byte not yet acknowledged */
    uint32_t inflight; /* sender: bytes of the chunk in flight (0: none) */
    uint64_t sent_ms;
} hobby_t;

static hobby_t H;

static void send_chunk(bench_t *b, bool again)
{
    uint32_t len = b->image_size - H.offset < RAW_CHUNK ? b->image_size - H.offset : RAW_CHUNK;
    unsigned char text[4 * ((RAW_CHUNK + 2) / 3) + 1];
    int n = EVP_EncodeBlock(text, b->image + H.offset, (int)len);
    char topic[96];
    snprintf(topic, sizeof(topic), "ota/%s/data/%u", DEVICE_ID, H.offset);
    if (mosquitto_publish(b->sender.mosq, NULL, topic, n, text, 1, false) != MOSQ_ERR_SUCCESS)
        mqh_log(MQH_WARN, "sender: publish of offset %u failed; retrying on the timer", H.offset);
    if (again) b->bytes_resent += len;
    H.inflight = len;
    H.sent_ms = mqh_now_ms();
}

static void start(bench_t *b)
{
    H.offset = 0;
    send_chunk(b, false);
}

static void tick(bench_t *b, uint64_t now)
{
    if (H.inflight && now >= H.sent_ms + RESEND_MS) send_chunk(b, true);
}

/* Sender: an acknowledgement names the next offset the device wants. */
static void sender_message(bench_client_t *c, const struct mosquitto_message *m)
{
    bench_t *b = c->b;
    char buf[24];
    if (m->payloadlen <= 0 || m->payloadlen >= (int)sizeof(buf)) return;
    memcpy(buf, m->payload, (size_t)m->payloadlen);
    buf[m->payloadlen] = '\0';
    unsigned long next = strtoul(buf, NULL, 10);
    if (next != (unsigned long)H.offset + H.inflight || H.inflight == 0) return; /* stale */
    H.offset = (uint32_t)next;
    H.inflight = 0;
    b->bytes_done = H.offset;
    if (H.offset >= b->image_size) {
        bench_finish(b, true);
        return;
    }
    send_chunk(b, false);
}

/* Device: decode, write at the offset, acknowledge. */
static void device_message(bench_client_t *c, const struct mosquitto_message *m)
{
    bench_t *b = c->b;
    const char *slash = strrchr(m->topic, '/');
    if (!slash || m->payloadlen <= 0 || m->payloadlen > 4 * ((int)RAW_CHUNK + 2) / 3 + 4) return;
    unsigned long off = strtoul(slash + 1, NULL, 10);
    unsigned char raw[RAW_CHUNK + 3];
    int n = EVP_DecodeBlock(raw, m->payload, m->payloadlen);
    if (n < 0) return;
    const char *p = m->payload; /* EVP_DecodeBlock counts '=' padding as zero bytes */
    for (int i = m->payloadlen - 1; i >= 0 && p[i] == '=' && n > 0; i--) n--;
    if (off + (unsigned long)n > b->image_size) return;
    if (bench_slot_write(b, (uint32_t)off, raw, (size_t)n) != 0) {
        mqh_log(MQH_ERROR, "device: flash write at %lu failed", off);
        return;
    }
    char ack[24], topic[64];
    int len = snprintf(ack, sizeof(ack), "%lu", off + (unsigned long)n);
    snprintf(topic, sizeof(topic), "ota/%s/ack", DEVICE_ID);
    mosquitto_publish(c->mosq, NULL, topic, len, ack, 1, false);
}

static void sender_connect(bench_client_t *c)
{
    mosquitto_subscribe(c->mosq, NULL, "ota/" DEVICE_ID "/ack", 1);
}

static void device_connect(bench_client_t *c)
{
    mosquitto_subscribe(c->mosq, NULL, "ota/" DEVICE_ID "/data/+", 1);
}

int main(int argc, char **argv)
{
    static bench_t b;
    mqh_log_init("bench-hobby", MQH_INFO);
    b.protocol = "hobby";
    b.start = start;
    b.tick = tick;
    b.sender.on_connect = sender_connect;
    b.sender.on_message = sender_message;
    b.device.on_connect = device_connect;
    b.device.on_message = device_message;
    if (bench_setup(&b, argc, argv, "bench-hobby",
                    "The hobby baseline: 381-byte chunks as 508 base64 characters, QoS 1,\n"
                    "stop-and-wait on the device's acknowledgement.\n") != 0)
        return 1;
    int rc = 1;
    if (bench_client_open(&b, &b.sender, "sender", "bench-hobby-sender", b.opt.broker) == 0 &&
        bench_client_open(&b, &b.device, "device", DEVICE_ID, b.opt.device_broker) == 0 &&
        bench_run(&b) == 0) {
        bench_report(&b);
        rc = b.completed && b.verified ? 0 : 3;
    }
    bench_close(&b);
    return rc;
}
