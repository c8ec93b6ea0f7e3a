/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file stream.h
 * @brief Multicast streams: each chunk of a release published once on
 *        mqota/v1/stream/<release_id> for every device taking that release (docs/PROTOCOL.md §13);
 *        a compressed form of it on mqota/v1/stream/<release_id>/<encoding>, one stream each.
 *
 * A stream exists per release while it has members: transfers whose offer carried
 * MQOTA_OFFER_FLAG_STREAM. It is created by the first member's ACK and freed when its last
 * member leaves (done, dropped, superseded). While at least two members are live (not
 * stalled), the stream sends and the members' own transfer engines only repair; otherwise
 * every member is served by unicast as before. Called only by transfer.c.
 */
#ifndef MQOTAD_STREAM_H
#define MQOTAD_STREAM_H

#include <stdbool.h>
#include <stdint.h>

#include "mqotad.h"
#include "transfer_int.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Allocate d->streams. 0 or -1 (out of memory). */
int stream__init(mqotad_t *d);

/** Write the stream byte counters not yet stored and free d->streams (members are gone). */
void stream__cleanup(mqotad_t *d);

/** The topic of release_id's stream of a form (docs/PROTOCOL.md §13) into buf (cap bytes, 64
 *  are enough): mqota/v1/stream/<release_id>, .../<encoding> for a compressed form, and
 *  .../<encoding>/<the first 8 hex digits of the base's SHA-256> for a delta from release
 *  base_release_id. 0, or -1 when the base cannot be read (logged by db). */
int stream__topic(mqotad_t *d, int64_t release_id, uint8_t encoding, int64_t base_release_id,
                  char *buf, size_t cap);

/** t's offer carried the stream flag and t just applied an ACK: join the release's stream
 *  (creating it) if t is not a member yet and uses the stream's chunk size. */
void stream__join(mqotad_t *d, transfer_t *t, uint64_t now_ms);

/** t is about to be freed: leave its stream; the last member frees the stream. */
void stream__leave(mqotad_t *d, transfer_t *t);

/** Chunk i of member t changed its acked bit (from apply_ack). */
void stream__chunk_acked(transfer_t *t, uint32_t i, bool acked);

/** True while t's stream is sending: t's own engine then only repairs. */
bool stream__repair_only(const transfer_t *t);

/** After an ACK of member t: send what the stream's window now allows. */
void stream__after_ack(mqotad_t *d, transfer_t *t, uint64_t now_ms);

/** Every loop: update which members are live, expire unconfirmed sends, send. */
void stream__tick(mqotad_t *d, uint64_t now_ms);

/** Add the stream bytes counted since the last call to each deployment's row (at most once
 *  a second unless force; its own transaction). */
void stream__persist(mqotad_t *d, uint64_t now_ms, bool force);

/** Stream bytes of a deployment counted but not yet in its database row. */
int64_t stream__unflushed_bytes(mqotad_t *d, int64_t deployment_id);

/** Number of live streams (health endpoint). */
int stream__count(mqotad_t *d);

#ifdef __cplusplus
}
#endif

#endif /* MQOTAD_STREAM_H */
