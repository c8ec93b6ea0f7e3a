/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file transfer.h
 * @brief The transfer engine: sends a release's chunks to a device as its ACKs ask for them.
 *
 * One in-memory transfer exists per (device, release) while chunks flow. It is built by
 * transfer__start() when policy (deploy.c, through handle__ack()) found the device's pending
 * or active target for the release of an ACK (also after a restart of mqotad), and freed when
 * the device reports every chunk written, when its target ends, or when the device stays
 * silent for a long time.
 *
 * This is mechanism: it never reads or changes deployments or targets itself and never calls
 * deploy.c. What policy must store (progress, byte counters) it reports through the
 * transfer_events_t that policy registers at start-up (deploy__init()).
 */
#ifndef MQOTAD_TRANSFER_H
#define MQOTAD_TRANSFER_H

#include <stddef.h>
#include <stdint.h>

#include "mqota/mqota_proto.h"
#include "mqotad.h"

#ifdef __cplusplus
extern "C" {
#endif

/** One transfer (transfer_int.h); opaque outside transfer.c and stream.c. */
typedef struct transfer transfer_t;

/**
 * What the transfer engine reports to policy. Policy (deploy.c) registers it once at start-up
 * with transfer__set_events(); until then nothing is stored and counters stay pending.
 */
typedef struct transfer_events {
    /**
     * Store the progress and byte counters of n targets (all in one transaction when n > 1;
     * the caller holds no transaction).
     * @return 0, or -1: nothing stored, the engine offers them again at the next persist.
     */
    int (*save_progress)(mqotad_t *d, const db_target_t *const *targets, size_t n);
    /**
     * Add bytes[i] bytes sent on multicast streams to deployment deployment_ids[i]'s counter,
     * for i < n, in one transaction.
     * @return 0, or -1: nothing added, the engine offers the same deltas again next time.
     */
    int (*save_stream_bytes)(mqotad_t *d, const int64_t *deployment_ids, const int64_t *bytes,
                             size_t n);
} transfer_events_t;

/** Allocate the engine's state (d->xfers, d->streams). 0, or -1 when out of memory. */
int transfer__init(mqotad_t *d);

/** Store pending counters (through the events) and free every transfer and stream. */
void transfer__cleanup(mqotad_t *d);

/** Register policy's event handlers (ev must outlive the engine; NULL: none). */
void transfer__set_events(mqotad_t *d, const transfer_events_t *ev);

/**
 * @brief The live transfer of device_id for release_id.
 * @return The transfer, or NULL if the device has none for that release.
 */
transfer_t *transfer__find(mqotad_t *d, const char *device_id, int64_t release_id);

/**
 * @brief Build the transfer of a running target (its release's image loaded or shared).
 * @param[in]  target The device's pending or active target (chunk size and window as offered).
 * @param[in]  now_ms Monotonic milliseconds (mqh_now_ms()).
 * @param[out] out    The new transfer on 0.
 * @return 0; 1 when the image has no chunk (nothing to send, no transfer kept); -1 on failure
 *         (logged: image unreadable, invalid chunk size, out of memory).
 * @note A transfer the device already had (for another release) is replaced.
 */
int transfer__start(mqotad_t *d, const db_target_t *target, uint64_t now_ms, transfer_t **out);

/**
 * @brief Apply one decoded ACK of t's device: update the chunk map, the RTT estimate and
 *        progress, then send what is missing (or let t's stream send). A complete transfer is
 *        stored (save_progress) and freed: t is then invalid.
 * @param[in] t      A transfer from transfer__find() or transfer__start().
 * @param[in] a      The ACK, for t's release.
 * @param[in] now_ms Monotonic milliseconds (mqh_now_ms()).
 */
void transfer__ack(mqotad_t *d, transfer_t *t, const mqota_ack_t *a, uint64_t now_ms);

/** Resend chunks whose retransmission timer expired; free transfers that went silent. */
void transfer__tick(mqotad_t *d, uint64_t now_ms);

/** Write changed progress and byte counters (each target at most once a second unless
 *  force), all in one transaction. */
void transfer__persist(mqotad_t *d, uint64_t now_ms, bool force);

/** Persist and free every transfer of a device (its target ended or was superseded). */
void transfer__drop_device(mqotad_t *d, const char *device_id);

/** The device published "offline" (its last will): pause its transfers until its next ACK. */
void transfer__device_offline(mqotad_t *d, const char *device_id);

/** Milliseconds until the earliest retransmission timer, or -1 if none. */
int transfer__next_timeout_ms(mqotad_t *d, uint64_t now_ms);

/** Number of live transfers (for the health endpoint and logs). */
int transfer__count(mqotad_t *d);

#ifdef __cplusplus
}
#endif

#endif /* MQOTAD_TRANSFER_H */
