/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the unit tests that run a whole update on a virtual ESP32 share (test_power_loss.c on
 * the POSIX port's hooks, test_esp_glue.c on the ESP-IDF port's glue):
 *
 *  - the server, played by the test: OFFER and CHUNK messages built here and handed to the
 *    agent, the window sent from each ACK's base minus what its sack says is written (unit
 *    tests may fake the transport; the integration tests run the real mqotad);
 *  - the device's files: a copy of the flash file and of its eFuse file taken once and put
 *    back before each cut point, so that every run starts from the same pre-update device;
 *  - the power cut: mutating flash operations (sector erases + write calls) counted across
 *    power cycles from a starting point, and vflash_set_cut() armed again on every new flash
 *    handle so that the cut lands on the k-th operation counted, whichever boot it falls in.
 *
 * Test code: it asserts with cmocka (include <cmocka.h> before this header).
 */
#ifndef MQOTA_TEST_UPDATE_HARNESS_H
#define MQOTA_TEST_UPDATE_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "mqota/mqota.h"
#include "mqota_posix/efuse.h"
#include "mqota_posix/vflash.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HARNESS_TOPIC_MAX 96 /* bytes of a topic built from the device id, with its NUL */
#define HARNESS_PATH_MAX 600 /* bytes of a device file's path, with its NUL */

/* ---- the server ---- */

/* The release the server offers and the transfer it serves. The test fills the fields marked
 * "set" after harness_server_init() and may change deployment_id between offers. */
typedef struct {
    mqota_agent_t *agent;     /* set: the device's agent, which gets every message */
    const uint8_t *image;     /* set: the bytes served (the image or a damaged copy) */
    size_t image_len;         /* set */
    uint8_t sha256[32];       /* set: what the offer says the image hashes to */
    uint32_t release_id;      /* set */
    uint32_t deployment_id;   /* set */
    uint32_t chunk_size;      /* set: bytes per CHUNK message */
    uint32_t window;          /* set: chunks in flight */
    uint32_t secure_version;  /* set: the offer's anti-rollback version (0: none) */
    const char *version;      /* set: the offer's version string */
    const char *project;      /* set: the offer's project name */
    uint8_t encoding;         /* MQOTA_ENCODING_* of the offer; set by harness_compress() */
    uint8_t window_bits;      /* its deflate window */
    uint8_t *wire;            /* the compressed chunks, one after the other */
    uint32_t *wire_off;       /* chunk i is wire[wire_off[i] .. wire_off[i + 1]) */
    uint32_t base_size;       /* delta encodings: the offer's base (docs/PROTOCOL.md §18) */
    uint8_t base_sha256[32];
    uint32_t offer_flags;     /* set: MQOTA_OFFER_FLAG_* of the offer (0: none) */
    bool have_ack;            /* an ACK arrived and is not served yet */
    mqota_ack_t ack;          /* the last ACK */
    uint32_t chunks_sent;     /* CHUNK messages sent since init */
    char topic_offer[HARNESS_TOPIC_MAX];
    char topic_chunk[HARNESS_TOPIC_MAX];
    char topic_ack[HARNESS_TOPIC_MAX];
} harness_server_t;

/* Zero *s and build the device's topics from device_id. */
void harness_server_init(harness_server_t *s, const char *device_id);

/* Called from the test's publish hook with what the agent publishes: an ACK is decoded (it
 * must decode) and kept for harness_serve_ack(); anything else is ignored. */
void harness_server_published(harness_server_t *s, const char *topic, const uint8_t *payload,
                              size_t len);

/* The retained OFFER, as the broker delivers it on every (re)subscribe. What the agent answers
 * is not checked: after a power cut it may refuse. */
void harness_send_offer(harness_server_t *s);

/* Chunks in the image (the last one may be short). */
uint32_t harness_chunk_count(const harness_server_t *s);

/* CHUNK `index` of the image, with its header. */
void harness_send_chunk(harness_server_t *s, uint32_t index);

/* Serve the image compressed from now on (docs/PROTOCOL.md §6.1), as mqotad's release.c
 * builds it: one raw deflate stream (zlib level 9, window 1 << window_bits) ended at each
 * chunk_size bytes of image by a sync (MQOTA_ENCODING_DEFLATE_SYNC) or full flush, the last
 * chunk by Z_FINISH. Returns the bytes of all compressed chunks. */
size_t harness_compress(harness_server_t *s, uint8_t encoding, uint8_t window_bits);
/* Serve the image as it is again; frees what harness_compress() allocated. */
void harness_uncompress(harness_server_t *s);

/* Serve the last ACK: the window from its base, minus what its sack says is written; nothing
 * for another release or a complete transfer. Stops when `budget` chunks have been sent in
 * all (chunks_sent), or when stop() (NULL: never) says so after a chunk. */
void harness_serve_ack(harness_server_t *s, uint32_t budget, bool (*stop)(void));

/* ---- the device's files ---- */

/* A copy of a device's flash file (VFLASH_SIZE bytes) and of its eFuse file. */
typedef struct {
    char flash_path[HARNESS_PATH_MAX];
    char efuse_path[HARNESS_PATH_MAX];
    uint8_t *flash;                 /* malloc'd; harness_snapshot_free() */
    uint8_t efuse[EFUSE_BLOCK_LEN];
} harness_snapshot_t;

/* Read a whole file into a malloc'd buffer. Returns NULL if it cannot be read. */
uint8_t *harness_load_file(const char *path, size_t *len);

/* Copy the device whose flash file is `flash_path` (closed: no vdev holds it open). Returns 0,
 * or -1 if a file cannot be read or has the wrong size. */
int harness_snapshot_take(harness_snapshot_t *snap, const char *flash_path);

/* Write the copy back over both files (the eFuse file is one-way: removed and written anew,
 * read-only as vdev_flash_create() leaves it). Asserts on failure. */
void harness_snapshot_restore(const harness_snapshot_t *snap);

/* Free the copy (the files stay). */
void harness_snapshot_free(harness_snapshot_t *snap);

/* ---- the power cut ---- */

/* Mutating flash operations counted across power cycles, and the cut to make. */
typedef struct {
    vflash_t *fl;    /* the flash of the device powered on now, or NULL */
    uint64_t closed; /* operations on the flash handles closed since the count started */
    uint32_t cut_at; /* operation to cut, 1-based from the start of the count; 0: none */
    bool armed;      /* cut_at is still to come */
} harness_cut_t;

/* No count, no cut. */
void harness_cut_reset(harness_cut_t *c);

/* Power on: `fl` is the new flash handle; an armed cut is set on it for what is left (it must
 * not have passed while no handle was open). */
void harness_cut_power_on(harness_cut_t *c, vflash_t *fl);

/* Power off: the handle's operations are added to the count and power is back for the next
 * handle (vflash_clear_cut). Call before the handle is closed. */
void harness_cut_power_off(harness_cut_t *c);

/* Start counting from now on the open handle, and arm a cut at operation `cut_at` from here
 * (0: count only). */
void harness_cut_start(harness_cut_t *c, uint32_t cut_at);

/* Mutating operations since harness_cut_start(). */
uint64_t harness_cut_ops(const harness_cut_t *c);

/* True once the cut has happened on the open handle (until harness_cut_power_off()). */
bool harness_cut_fired(const harness_cut_t *c);

/* The i-th of n cut points spread evenly over operations 1..total, both ends included
 * (n >= 2, total >= 1). */
uint32_t harness_cut_point(uint32_t i, uint32_t n, uint64_t total);

/* Transport hooks for the agent's platform (the ctx is the platform's own and unused): publish
 * hands the message to the server of the last harness_server_init(), subscribe does nothing
 * (the test delivers every message itself). */
int harness_publish_hook(void *ctx, const char *topic, const uint8_t *payload, size_t len,
                         int qos, bool retain);
int harness_subscribe_hook(void *ctx, const char *topic, int qos);

/* Seconds on clock clk (CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID), for a sweep's timing line. */
double harness_now_s(clockid_t clk);

/* ---- the checks after a power cut ---- */

/* Whether the agent, just booted after cut point k, reports what booted: its version is
 * booted_version; on the new image (new_version) it is confirmed, or idle running `release`;
 * on the old one idle or rolled-back. Says why (print_error) and returns false if not; *is_new
 * tells which image booted. */
bool harness_coherent_after_boot(const mqota_agent_t *agent, const char *booted_version,
                                 const char *new_version, uint32_t release, uint32_t k,
                                 bool *is_new);

/* Whether a download resumed after cut point k claims only bytes the update slot holds: the
 * agent's progress, read back with read_slot(ctx, offset, buf, len) (0 on success), must
 * equal the image's first bytes. Says why and returns false if not; true when the agent is not
 * downloading. */
bool harness_resume_trusts_only_written(const mqota_agent_t *agent, const uint8_t *image,
                                        size_t image_len,
                                        int (*read_slot)(void *ctx, uint32_t off, uint8_t *buf,
                                                         size_t len),
                                        void *ctx, uint32_t k);

#ifdef __cplusplus
}
#endif

#endif /* MQOTA_TEST_UPDATE_HARNESS_H */
