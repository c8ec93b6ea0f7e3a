/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench-ack-dispatch: the cost of one incoming ACK in mqotad with N live transfers (issue 11
 * item 7: a device's transfer found by a hash on its id, not a list walk per ACK).
 *
 * Real parts, no broker: mqotad's own sources (handle__ack, deploy.c, transfer.c, db.c on a
 * real SQLite file in a temporary directory), one real release image, N devices of its chip
 * in one unicast deployment (--multicast off). Every device first sends an ACK, which builds
 * its transfer (a database lookup, as after a restart). Then ACKS ACKs go to handle__ack(),
 * device after device, each asking for nothing new (base 0, window 16): the transfer is found
 * and its window scanned; sending fails at once (no broker connected), as for any chunk that
 * cannot go out. Prints the wall-clock nanoseconds per ACK, the median of ROUNDS rounds.
 *
 * usage: bench-ack-dispatch IMAGE [N=10000] [ACKS=200000] [ROUNDS=5]
 * bench/ack-dispatch runs it before and after the change and prints the ratio.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "deploy.h"
#include "handle.h"
#include "mqota/mqota_proto.h"
#include "mqota_host.h"
#include "mqotad.h"
#include "release.h"
#include "transfer.h"

static void die(const char *what)
{
    fprintf(stderr, "bench-ack-dispatch: %s\n", what);
    exit(1);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* One ACK of release_id asking for nothing new: base 0, no sack, window 16. */
static void ack(mqotad_t *d, const char *dev, uint32_t release_id)
{
    mqota_ack_t a = {.release_id = release_id, .window = 16};
    uint8_t buf[64];
    size_t len = 0;
    if (mqota_ack_encode(&a, buf, sizeof(buf), &len) != MQOTA_OK) die("ACK encoding");
    handle__ack(d, dev, buf, len);
}

int main(int argc, char **argv)
{
    if (argc < 2) die("usage: bench-ack-dispatch IMAGE [N] [ACKS] [ROUNDS]");
    int n = argc > 2 ? atoi(argv[2]) : 10000;
    long acks = argc > 3 ? atol(argv[3]) : 200000;
    int rounds = argc > 4 ? atoi(argv[4]) : 5;
    if (n < 1 || acks < 1 || rounds < 1 || rounds > 99) die("N, ACKS and ROUNDS must be >= 1");

    char dir[] = "/tmp/mqota-bench-ack.XXXXXX";
    if (!mkdtemp(dir)) die("mkdtemp");
    char data[sizeof(dir) + 8], db_path[sizeof(dir) + 32];
    snprintf(data, sizeof(data), "%s/data", dir);
    snprintf(db_path, sizeof(db_path), "%s/mqota.db", data);
    static mqotad_t d;
    char *opts[] = {"mqotad", "--data", data, "--broker", "mqtt://127.0.0.1:1",
                    "--log-level", "error", "--multicast", "off", NULL};
    if (options__parse(&d, 9, opts) != 0) die("options");
    mqh_log_init("bench-ack-dispatch", d.log_level);
    if (mkdir(data, 0700) != 0 || db__open(&d.db, db_path) != 0 || transfer__init(&d) != 0 ||
        deploy__init(&d) != 0)
        die("database or transfer engine");
    d.max_packet = 268435455u;

    FILE *f = fopen(argv[1], "rb");
    if (!f) die(argv[1]);
    static uint8_t img[8u << 20];
    size_t len = fread(img, 1, sizeof(img), f);
    fclose(f);
    db_release_t *r = malloc(sizeof(*r));
    char err[768];
    int64_t dup;
    if (!r || release__create(&d, img, len, "bench", "", NULL, r, &dup, err, sizeof(err)) !=
                  RELEASE_OK)
        die(err);

    char (*ids)[24] = calloc((size_t)n, sizeof(*ids));
    if (!ids || db__begin(d.db) != 0) die("devices");
    for (int i = 0; i < n; i++) {
        db_device_t dv = {0};
        snprintf(ids[i], sizeof(ids[i]), "vdev-%05d", i);
        snprintf(dv.id, sizeof(dv.id), "%s", ids[i]);
        dv.chip_id = r->chip_id;
        dv.online = true;
        dv.max_chunk = 4096;
        dv.max_window = 16;
        if (db__device_put(d.db, &dv) != 0) die("device");
    }
    if (db__commit(d.db) != 0) die("commit");
    db_deployment_t dep;
    if (deploy__create(&d, r->id, NULL, 0, true, &dep, err, sizeof(err)) != DEPLOY_OK) die(err);
    uint32_t rel = (uint32_t)r->id;

    for (int i = 0; i < n; i++) ack(&d, ids[i], rel); /* builds each transfer */
    if (transfer__count(&d) != n) die("not every device has a transfer");

    uint64_t ns[99];
    for (int k = 0; k < rounds; k++) {
        uint64_t t0 = now_ns();
        for (long i = 0; i < acks; i++) ack(&d, ids[i % n], rel);
        ns[k] = (now_ns() - t0) / (uint64_t)acks;
    }
    qsort(ns, (size_t)rounds, sizeof(ns[0]), cmp_u64);
    if (transfer__count(&d) != n) die("transfers were lost during the run");
    printf("%d transfers, %ld ACKs x %d rounds: %llu ns per ACK (median)\n", n, acks, rounds,
           (unsigned long long)ns[rounds / 2]);

    transfer__cleanup(&d);
    db__close(d.db);
    free(ids);
    free(r);
    char cmd[sizeof(dir) + 16];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : 1;
}
