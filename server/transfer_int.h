/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file transfer_int.h
 * @brief The transfer engine's state, shared by transfer.c and stream.c only.
 *
 * A multicast stream (stream.c) sends chunks on behalf of its member transfers: it reads
 * their acked bits, stamps its sends into their sent times and keeps, per member, which of
 * its in-flight sends the member is counted in. Nothing else looks inside a transfer.
 */
#ifndef MQOTAD_TRANSFER_INT_H
#define MQOTAD_TRANSFER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uthash.h>

#include "mqotad.h"
#include "release.h"
#include "transfer.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CHUNK_ACKED 0x01u     /**< The device's ACKs say it is written */
#define CHUNK_EVER_SENT 0x02u /**< Published to the device at least once (unicast or stream) */
#define CHUNK_RESENT 0x04u    /**< Published more than once: no RTT sample from it (Karn) */

struct stream;

typedef struct image {
    struct image *next;
    int64_t release_id;
    uint8_t *data;          /* the image (encoding none); NULL for a compressed form */
    uint32_t size;          /* bytes of the image */
    int refs;
    uint8_t encoding;       /* MQOTA_ENCODING_* of the chunks sent from it (docs/PROTOCOL.md
                               §6.1); with an encoding, the form is cached per chunk size */
    uint8_t window_bits;
    uint32_t chunk_size;    /* 0 for encoding none (any chunk size) */
    release_form_t form;    /* the compressed chunks (release.c; delta_form.c for a delta) */
    int64_t base_release_id; /* delta encodings: the release the delta applies to, else 0 */
} image_t;

struct transfer {
    UT_hash_handle hh;         /* in the engine's hash by target.device_id (one per device) */
    db_target_t target;        /* deployment, device, counters (persisted) */
    image_t *img;
    char topic[DB_ID_MAX + 32];
    uint32_t chunk_size, chunk_count;
    uint32_t window;           /* the offer's window */
    uint32_t dev_window;       /* the window of the device's last ACK */
    uint32_t base;
    uint32_t acked_count;
    uint8_t *flags;            /* CHUNK_* per chunk */
    uint32_t *sent_at;         /* ms since epoch_ms + 1 of the last send; 0: send now */
    uint32_t *send_seq;        /* order of the last send of each chunk (1, 2, ...) */
    uint32_t next_seq;
    uint64_t progress_ms;      /* last time an ACK acknowledged something new (timer start) */
    uint64_t epoch_ms;
    uint64_t deadline_ms;      /* earliest retransmission in the window, 0: none */
    uint32_t srtt, rttvar, rto;
    uint32_t rto_est;          /* the estimator's RTO, before timeouts double rto: what the
                                  stream judges a member by (stream.c) */
    bool have_rtt;
    bool paused;               /* the device went offline: send nothing until its next ACK */
    bool dirty;
    uint64_t last_persist_ms;
    uint64_t last_ack_ms;
    /* Multicast stream membership (stream.c); stream NULL: not a member. */
    struct stream *stream;
    size_t stream_slot;        /* index in the stream's member array */
    uint64_t stream_mask;      /* bit r: counted in the lack of the stream's in-flight slot r */
    bool stream_slow;          /* demoted: too slow to pace the stream; it still receives the
                                  stream's sends, its own engine keeps its unicast window */
    bool stream_late;          /* on probation: joined after the stream sent chunks it lacks,
                                  not pacing it until one stream send shows it keeps up */
    uint32_t stream_probe;     /* on probation: the chunk of the first stream send it lacked */
    uint64_t stream_probe_ms;  /* when that send went out; 0: none yet */
};

/** The event handlers policy registered (never NULL: an empty set when none). */
const transfer_events_t *transfer__events(const mqotad_t *d);

/** Chunk i as sent (its wire bytes: compressed with an encoding); *len its length. */
const uint8_t *transfer__chunk_wire(const transfer_t *t, uint32_t i, uint32_t *len);

/** Bytes of chunk i of t's image. */
uint32_t transfer__chunk_len(const transfer_t *t, uint32_t i);

/** Record that the stream sent chunk i to t at now_ms: flags, sent time and order as for a
 *  unicast send (so t's engine only repairs it), and t's timer armed if it was idle. */
void transfer__mark_sent(transfer_t *t, uint32_t i, uint64_t now_ms);

/** Send what t's engine considers due now (unicast), and set its next deadline. */
void transfer__pump(mqotad_t *d, transfer_t *t, uint64_t now_ms);

/** Milliseconds since t's device last acknowledged anything (since the transfer began if
 *  never). */
uint64_t transfer__silent_ms(const transfer_t *t, uint64_t now_ms);

#ifdef __cplusplus
}
#endif

#endif /* MQOTAD_TRANSFER_INT_H */
