/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file transfer.h
 * @brief The transfer engine: sends a release's chunks to a device as its ACKs ask for them.
 *
 * One in-memory transfer exists per (device, release) while chunks flow. It is built from
 * the first ACK of a device whose deployment target is pending or active (also after a
 * restart of mqotad) and freed when the device reports every chunk written, when its target
 * ends, or when the device stays silent for a long time.
 */
#ifndef MQOTAD_TRANSFER_H
#define MQOTAD_TRANSFER_H

#include <stddef.h>
#include <stdint.h>

#include "mqotad.h"

#ifdef __cplusplus
extern "C" {
#endif

int transfer__init(mqotad_t *d);
void transfer__cleanup(mqotad_t *d);

/** Handle an ACK published by a device: update the chunk map and send what is missing. */
void transfer__handle_ack(mqotad_t *d, const char *device_id, const uint8_t *payload,
                          size_t len);

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
