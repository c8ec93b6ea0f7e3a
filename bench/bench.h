/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file bench.h
 * @brief What the baseline transfer programs (bench-hobby, bench-tb4k) and bench-pubsub
 *        share: the command line, two libmosquitto clients on one poll loop with reconnects,
 *        a virtual ESP32 flash slot to write into, wire byte counters, and the JSON report.
 *
 * Benchmark code, not a product feature: it exists to measure mqota against the protocols
 * people use today, behind the same emulated links (docs/PERFORMANCE.md).
 *
 * A baseline runs both roles in one process: the sender (the server, in a data centre) on a
 * direct connection to --broker, the device on --device-broker (normally an mqota-linkemu
 * port, so the device's link is the emulated one). The protocol module supplies callbacks;
 * bench_run() drives the loop until the protocol calls bench_finish() or --give-up-after
 * runs out.
 */
#ifndef MQOTA_BENCH_H
#define MQOTA_BENCH_H

#include <mosquitto.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mqota_host.h"
#include "mqota_posix/vdev.h"

#ifdef __cplusplus
extern "C" {
#endif

struct bench;

/** One MQTT client of the benchmark, on the shared poll loop. */
typedef struct bench_client {
    struct bench *b;
    struct mosquitto *mosq;
    const char *role; /* "sender" or "device", for messages */
    mqh_url_t url;
    bool connected;
    bool subscribed;          /* the SUBACK of the protocol's subscription came back */
    uint64_t reconnect_at_ms; /* when not connected: next attempt */
    uint32_t reconnects;
    /* wire counters (TCP_INFO) over every socket this client has had */
    int fd;                   /* socket last sampled */
    uint64_t rx_done, tx_done; /* bytes of sockets already closed */
    uint64_t rx_cur, tx_cur;   /* last sample of the open socket */
    /* protocol hooks */
    void (*on_connect)(struct bench_client *c);
    void (*on_message)(struct bench_client *c, const struct mosquitto_message *m);
} bench_client_t;

/** Command line of a baseline. */
typedef struct bench_opt {
    const char *broker;        /* --broker: the sender's broker */
    const char *device_broker; /* --device-broker: the device's way to it (default: broker) */
    const char *image;         /* --image */
    const char *flash_dir;     /* --flash */
    double give_up_s;          /* --give-up-after (default 3600) */
    double connect_s;          /* --connect-timeout (default 30) */
} bench_opt_t;

/** State of one benchmark run. */
typedef struct bench {
    const char *protocol; /* name in the report */
    bench_opt_t opt;
    uint8_t *image;
    uint32_t image_size;
    vdev_t *dev;
    mqota_platform_t plat;
    bench_client_t sender, device;
    bool started, finished, completed, verified;
    uint64_t t0_ms, t_end_ms;
    uint64_t bytes_done;   /* image bytes the device has written, in order */
    uint64_t bytes_resent; /* image bytes the protocol sent again (timeouts) */
    void (*start)(struct bench *b); /* called once both clients are subscribed */
    void (*tick)(struct bench *b, uint64_t now_ms); /* every loop turn after start */
} bench_t;

/**
 * @brief Parse the baseline command line (prints usage and exits 2 on error, 0 on --help),
 *        load the image, create the device's flash in --flash (ota_0 holds the same image,
 *        so the device boots), boot it and erase ota_1 (slot_begin) for the transfer.
 * @param[in] extra_usage protocol description printed under the usage line
 * @return 0, or 1 with a reason on stderr.
 */
int bench_setup(bench_t *b, int argc, char **argv, const char *prog, const char *extra_usage);

/**
 * @brief Create a client (clean session, keepalive 60 s, MQTT 3.1.1) and connect it.
 * @return 0, or 1 with a reason on stderr.
 */
int bench_client_open(bench_t *b, bench_client_t *c, const char *role, const char *client_id,
                      const char *url);

/**
 * @brief Run the loop until bench_finish(), the give-up time after start, or the connect
 *        timeout before it. Every wait is bounded.
 * @return 0 when the run ended (finished or gave up), 1 if the clients never got ready.
 */
int bench_run(bench_t *b);

/** @brief Write into ota_1 at offset (the device's real work). @return 0 or a status. */
int bench_slot_write(bench_t *b, uint32_t offset, const uint8_t *data, size_t len);

/** @brief End the run: completed = every byte written; then esp_ota_end-like verification. */
void bench_finish(bench_t *b, bool completed);

/** @brief Print the one-line JSON report on stdout. */
void bench_report(const bench_t *b);

/** @brief Free everything; disconnect the clients. */
void bench_close(bench_t *b);

/** @brief Bytes the device's sockets have received (TCP_INFO tcpi_bytes_received). */
uint64_t bench_client_rx(bench_client_t *c);

#ifdef __cplusplus
}
#endif

#endif /* MQOTA_BENCH_H */
