/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench-pubsub: the raw throughput of a broker, the floor under any transfer through it.
 *
 *   bench-pubsub --broker mqtt://127.0.0.1:1883 [--bytes 67108864] [--size 4096]
 *
 * One publisher pushes --bytes in --size-byte QoS 0 messages to one subscriber through the
 * broker, both on loopback in this process, keeping at most --window messages published but
 * not yet received (so the broker is never asked to queue without bound, which would measure
 * its queue instead of its forwarding). Prints one JSON line: bytes received, seconds from the
 * first publish to the last receipt, bytes_per_s, messages lost.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define TOPIC "mqota/v1/bench/pubsub" /* inside mqotad's own access rules */
#define STALL_MS 3000u /* everything published and nothing received for this long: done */

static uint64_t total_msgs, sent, received, forgiven, last_rx_ms;
static uint32_t msg_size, window;
static uint8_t *payload;

static void pump(bench_t *b)
{
    while (sent < total_msgs && sent - (received + forgiven) < window) {
        if (mosquitto_publish(b->sender.mosq, NULL, TOPIC, (int)msg_size, payload, 0, false) !=
            MOSQ_ERR_SUCCESS)
            break; /* not connected: the loop tries again */
        sent++;
    }
}

static void start(bench_t *b)
{
    last_rx_ms = mqh_now_ms();
    pump(b);
}

static void tick(bench_t *b, uint64_t now)
{
    if (received >= total_msgs) {
        bench_finish(b, true);
        return;
    }
    if (sent >= total_msgs && now > last_rx_ms + STALL_MS) {
        bench_finish(b, false); /* the broker dropped some */
        return;
    }
    /* QoS 0 may be dropped: if nothing came for a while, let the window move on */
    if (now > last_rx_ms + STALL_MS / 3 && sent - (received + forgiven) >= window)
        forgiven = sent - received;
    pump(b);
}

static void sub_message(bench_client_t *c, const struct mosquitto_message *m)
{
    (void)m;
    received++;
    c->b->bytes_done += (uint64_t)m->payloadlen;
    last_rx_ms = mqh_now_ms();
}

static void pub_connect(bench_client_t *c)
{
    c->subscribed = true; /* the publisher subscribes to nothing */
}

static void sub_connect(bench_client_t *c)
{
    mosquitto_subscribe(c->mosq, NULL, TOPIC, 0);
}

static unsigned long long parse_num(const char *flag, const char *s, unsigned long long lo,
                                    unsigned long long hi)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "bench-pubsub: %s '%s' must be a whole number in %llu..%llu.\n", flag, s,
                lo, hi);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    static bench_t b;
    static const struct option longopts[] = {
        {"broker", required_argument, 0, 'b'}, {"bytes", required_argument, 0, 'n'},
        {"size", required_argument, 0, 's'},   {"window", required_argument, 0, 'w'},
        {"timeout", required_argument, 0, 't'}, {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *broker = NULL;
    uint64_t bytes = 64ull << 20;
    msg_size = 4096;
    window = 64;
    b.opt.give_up_s = 120;
    b.opt.connect_s = 30;
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'b': broker = optarg; break;
        case 'n': bytes = parse_num("--bytes", optarg, 1, 1ull << 34); break;
        case 's': msg_size = (uint32_t)parse_num("--size", optarg, 1, 1u << 20); break;
        case 'w': window = (uint32_t)parse_num("--window", optarg, 1, 100000); break;
        case 't': b.opt.give_up_s = (double)parse_num("--timeout", optarg, 1, 3600); break;
        case 'h':
            printf("usage: bench-pubsub --broker URL [--bytes N] [--size BYTES] [--window N]\n"
                   "                    [--timeout S]\n"
                   "One QoS 0 publisher to one subscriber through the broker; prints bytes/s.\n"
                   "Defaults: 64 MiB in 4096-byte messages, 64 in flight, 120 s cap.\n");
            return 0;
        default: return 2;
        }
    }
    if (broker == NULL || optind < argc) {
        fprintf(stderr, "bench-pubsub: --broker URL is required; see --help.\n");
        return 2;
    }
    mqh_log_init("bench-pubsub", MQH_INFO);
    mosquitto_lib_init();
    total_msgs = (bytes + msg_size - 1) / msg_size;
    payload = calloc(1, msg_size);
    if (payload == NULL) return 1;
    b.protocol = "pubsub";
    b.start = start;
    b.tick = tick;
    b.sender.on_connect = pub_connect;
    b.device.on_connect = sub_connect;
    b.device.on_message = sub_message;
    int rc = 1;
    if (bench_client_open(&b, &b.sender, "publisher", "bench-pubsub-pub", broker) == 0 &&
        bench_client_open(&b, &b.device, "subscriber", "bench-pubsub-sub", broker) == 0 &&
        bench_run(&b) == 0) {
        double secs = (double)((b.finished ? b.t_end_ms : mqh_now_ms()) - b.t0_ms) / 1000.0;
        if (secs <= 0) secs = 0.001;
        uint64_t got = b.bytes_done / msg_size;
        printf("{\"protocol\": \"pubsub\", \"message_bytes\": %u, \"messages\": %llu, "
               "\"bytes\": %llu, \"seconds\": %.3f, \"bytes_per_s\": %.0f, \"lost\": %llu}\n",
               msg_size, (unsigned long long)total_msgs, (unsigned long long)b.bytes_done, secs,
               (double)b.bytes_done / secs,
               (unsigned long long)(total_msgs > got ? total_msgs - got : 0));
        rc = 0;
    }
    bench_close(&b);
    free(payload);
    return rc;
}
