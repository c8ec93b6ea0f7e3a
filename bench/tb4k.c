/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench-tb4k: firmware over MQTT the way the ThingsBoard device SDKs fetch it, as a baseline.
 *
 * ThingsBoard's MQTT device API ("Firmware API", https://thingsboard.io/docs/reference/mqtt-api/,
 * and the OTA guide https://thingsboard.io/docs/user-guide/ota-updates/): the device
 * subscribes to v2/fw/response/+/chunk/+, then asks for each chunk by publishing to
 * v2/fw/request/${requestId}/chunk/${chunkIndex} with the chunk size in bytes as the payload
 * (decimal text); the platform answers on v2/fw/response/${requestId}/chunk/${chunkIndex} with
 * the raw bytes of that chunk. The SDKs request one chunk at a time (stop-and-wait), 4096
 * bytes per chunk here, and request a chunk again when its answer does not come in time.
 * Firmware metadata (fw_title, fw_size, fw_checksum ...) arrives first as shared attributes;
 * that exchange is one round trip and is left out: the benchmark starts at chunk 0.
 *
 * The sender plays the platform: it answers every request from the image file.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define CHUNK 4096u
#define REQUEST_ID 1
#define RETRY_MS 10000u

typedef struct {
    uint32_t next;      /* device: chunk index it waits for */
    uint64_t asked_ms;  /* device: when it last requested it */
} tb4k_t;

static tb4k_t T;

static void request_chunk(bench_t *b, bool again)
{
    char topic[80];
    snprintf(topic, sizeof(topic), "v2/fw/request/%d/chunk/%u", REQUEST_ID, T.next);
    static const char size[] = "4096";
    mosquitto_publish(b->device.mosq, NULL, topic, (int)strlen(size), size, 1, false);
    if (again) {
        uint32_t off = T.next * CHUNK;
        b->bytes_resent += b->image_size - off < CHUNK ? b->image_size - off : CHUNK;
    }
    T.asked_ms = mqh_now_ms();
}

static void start(bench_t *b)
{
    T.next = 0;
    request_chunk(b, false);
}

static void tick(bench_t *b, uint64_t now)
{
    if (b->device.connected && now >= T.asked_ms + RETRY_MS) request_chunk(b, true);
}

/* Sender (the platform): answer a request with the raw chunk. */
static void sender_message(bench_client_t *c, const struct mosquitto_message *m)
{
    bench_t *b = c->b;
    int req;
    unsigned n;
    if (sscanf(m->topic, "v2/fw/request/%d/chunk/%u", &req, &n) != 2) return;
    char buf[16];
    unsigned long size = CHUNK;
    if (m->payloadlen > 0 && m->payloadlen < (int)sizeof(buf)) {
        memcpy(buf, m->payload, (size_t)m->payloadlen);
        buf[m->payloadlen] = '\0';
        size = strtoul(buf, NULL, 10);
    }
    if (size == 0 || size > 65536) size = CHUNK;
    uint64_t off = (uint64_t)n * size;
    uint32_t len = 0;
    if (off < b->image_size)
        len = b->image_size - off < size ? (uint32_t)(b->image_size - off) : (uint32_t)size;
    char topic[80];
    snprintf(topic, sizeof(topic), "v2/fw/response/%d/chunk/%u", req, n);
    mosquitto_publish(c->mosq, NULL, topic, (int)len, len ? b->image + off : NULL, 1, false);
}

/* Device: write the chunk it asked for, ask for the next. */
static void device_message(bench_client_t *c, const struct mosquitto_message *m)
{
    bench_t *b = c->b;
    int req;
    unsigned n;
    if (sscanf(m->topic, "v2/fw/response/%d/chunk/%u", &req, &n) != 2 || req != REQUEST_ID ||
        n != T.next || b->finished)
        return; /* an answer to a request made again, already written */
    uint32_t off = n * CHUNK;
    uint32_t want = b->image_size - off < CHUNK ? b->image_size - off : CHUNK;
    if ((uint32_t)m->payloadlen != want) return;
    if (bench_slot_write(b, off, m->payload, want) != 0) {
        mqh_log(MQH_ERROR, "device: flash write at %u failed", off);
        return;
    }
    b->bytes_done = off + want;
    if (b->bytes_done >= b->image_size) {
        bench_finish(b, true);
        return;
    }
    T.next++;
    request_chunk(b, false);
}

static void sender_connect(bench_client_t *c)
{
    mosquitto_subscribe(c->mosq, NULL, "v2/fw/request/+/chunk/+", 1);
}

static void device_connect(bench_client_t *c)
{
    mosquitto_subscribe(c->mosq, NULL, "v2/fw/response/+/chunk/+", 1);
    /* after a reconnection the answer in flight is lost (clean session): ask again */
    if (c->b->started && !c->b->finished) request_chunk(c->b, true);
}

int main(int argc, char **argv)
{
    static bench_t b;
    mqh_log_init("bench-tb4k", MQH_INFO);
    b.protocol = "tb4k";
    b.start = start;
    b.tick = tick;
    b.sender.on_connect = sender_connect;
    b.sender.on_message = sender_message;
    b.device.on_connect = device_connect;
    b.device.on_message = device_message;
    if (bench_setup(&b, argc, argv, "bench-tb4k",
                    "The ThingsBoard baseline: the device requests 4096-byte chunks one at a\n"
                    "time on v2/fw/request/1/chunk/N, QoS 1, stop-and-wait.\n") != 0)
        return 1;
    int rc = 1;
    if (bench_client_open(&b, &b.sender, "sender", "bench-tb4k-sender", b.opt.broker) == 0 &&
        bench_client_open(&b, &b.device, "device", "bench-tb4k-dev", b.opt.device_broker) == 0 &&
        bench_run(&b) == 0) {
        bench_report(&b);
        rc = b.completed && b.verified ? 0 : 3;
    }
    bench_close(&b);
    return rc;
}
