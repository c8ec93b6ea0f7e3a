/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mqota_agent_internal.h - what the agent's three files share (internal to libmqota):
 *
 *   mqota_agent.c        the state machine: init and boot recovery, offers, chunks, verify,
 *                        boot slot switch, confirm and rollback, every state change through
 *                        one transition table
 *   mqota_agent_cmd.c    sealed commands (docs/PROTOCOL.md §14): open, replay window, run,
 *                        seal the reply, report refusals
 *   mqota_agent_store.c  the records in the platform's key-value store (docs/PROTOCOL.md §12),
 *                        through the pure codec of mqota_record.c
 *
 * Names shared between the files are <file>__<verb>() (agent__, cmd__, store__).
 */
#ifndef MQOTA_AGENT_INTERNAL_H
#define MQOTA_AGENT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mqota/mqota.h"
#include "mqota/mqota_record.h"
#include "mqota_noinline.h"

#define KEY_PROGRESS "mq.prog"
#define KEY_ATTEMPT "mq.boot"
#define KEY_MINSV "mq.minsv"
#define KEY_CMD "mq.cmd"
#define KEY_HELD "mq.held"

/* ---- mqota_agent.c ---- */

/* Write the topic <prefix>/dev/<id>/<leaf> into buf. MQOTA_OK or MQOTA_ERR_NO_SPACE. */
mqota_status_t agent__build_topic(const mqota_agent_t *a, const char *leaf, char *buf, size_t cap);
/* Publish on <prefix>/dev/<id>/<leaf>: MQOTA_OK, MQOTA_ERR_NO_SPACE (topic too long) or
 * MQOTA_ERR_PLATFORM (the publish hook failed). */
mqota_status_t agent__publish(mqota_agent_t *a, const char *leaf, const uint8_t *payload,
                              size_t len, int qos, bool retain);
/* Decimal digits of v into buf (at least 21 bytes), NUL-terminated. */
void agent__u64_to_dec(uint64_t v, char *buf);
/* Mark the running (pending-verify) image valid; on failure roll back. */
void agent__confirm_now(mqota_agent_t *a);
/* Mark the running (pending-verify) image invalid with `reason` and request the reboot. */
void agent__roll_back(mqota_agent_t *a, mqota_reason_t reason);

/* Image bytes of chunk `index` of the current offer (the last chunk may be short). */
static inline uint32_t agent__chunk_len(const mqota_agent_t *a, uint32_t index)
{
    uint32_t left = a->offer.image_size - index * a->offer.chunk_size;
    return left < a->offer.chunk_size ? left : a->offer.chunk_size;
}

/* ---- mqota_decode.c: the decode stage of compressed transfers (docs/PROTOCOL.md §6.1) ----
 * With MQOTA_CFG_DECODE 0 the stage is the inline stubs after these declarations: no window,
 * no encoding but none, plain chunks written as they come. */

#if MQOTA_CFG_DECODE
/* log2 of the largest deflate window the platform's inflate hook decodes; 0 if none. */
uint8_t decode__window(const mqota_agent_t *a);
/* Whether this device can take the offer's encoding, window and chunk size (judged before
 * anything is erased). */
bool decode__offer_ok(const mqota_agent_t *a, const mqota_offer_t *o);
/* Delta encodings (§18): whether the running image is the offer's base (size within the running
 * slot, SHA-256 of its first base_size bytes), read and hashed now, before anything is erased.
 * True for the other encodings. */
bool decode__base_ok(mqota_agent_t *a);
/* Whether `o`, from the deployment whose offer this device refused before erasing anything
 * (base-mismatch, bad-encoding), is the server's fallback to another form (another encoding):
 * then it is a new offer, not the retained copy of the refused one (§18). */
bool decode__fallback(const mqota_agent_t *a, const mqota_offer_t *o);
/* Whether a CHUNK of wire_len data bytes fits chunk `index` of the current offer. */
bool decode__len_ok(const mqota_agent_t *a, uint32_t index, uint32_t wire_len);
/* Whether chunk `index` can be decoded now: its history (deflate-sync) is written. */
bool decode__ready(const mqota_agent_t *a, uint32_t index);
/* Decode chunk `index` (len wire bytes) into its place in the target slot. MQOTA_OK;
 * MQOTA_ERR_PLATFORM if the slot could not be written or read; MQOTA_ERR_MALFORMED if the data
 * do not decode to exactly the chunk's image bytes. */
mqota_status_t decode__chunk(mqota_agent_t *a, uint32_t index, const uint8_t *data, uint32_t len);
#else
static inline uint8_t decode__window(const mqota_agent_t *a)
{
    (void)a;
    return 0u;
}
static inline bool decode__offer_ok(const mqota_agent_t *a, const mqota_offer_t *o)
{
    return o->encoding == MQOTA_ENCODING_NONE && o->chunk_size <= a->max_chunk;
}
static inline bool decode__base_ok(mqota_agent_t *a)
{
    (void)a; /* only delta offers have a base, and they never pass decode__offer_ok() */
    return true;
}
static inline bool decode__fallback(const mqota_agent_t *a, const mqota_offer_t *o)
{
    return a->state == MQOTA_STATE_FAILED && a->reason == MQOTA_REASON_BAD_ENCODING &&
           o->encoding != a->offer.encoding;
}
static inline bool decode__len_ok(const mqota_agent_t *a, uint32_t index, uint32_t wire_len)
{
    return wire_len == agent__chunk_len(a, index);
}
static inline bool decode__ready(const mqota_agent_t *a, uint32_t index)
{
    (void)a;
    (void)index;
    return true;
}
static inline mqota_status_t decode__chunk(mqota_agent_t *a, uint32_t index, const uint8_t *data,
                                           uint32_t len)
{
    return a->plat.slot_write(a->plat.ctx, a->target_slot, index * a->offer.chunk_size, data,
                              len) == 0
               ? MQOTA_OK
               : MQOTA_ERR_PLATFORM;
}
#endif /* MQOTA_CFG_DECODE */

/* ---- mqota_agent_cmd.c ---- */

/* A frame on the cmd topic: header, authentication, replay window, plaintext, then run. */
mqota_status_t cmd__handle(mqota_agent_t *a, const uint8_t *payload, size_t len, uint64_t now_ms);

/* ---- mqota_agent_store.c: each load returns false for an absent or damaged record; each save
 * false if the store failed. ---- */

const char *store__slot_key(uint8_t slot);
bool store__progress_load(mqota_agent_t *a, mqota_progress_t *p);
bool store__progress_save(mqota_agent_t *a, const mqota_progress_t *p);
bool store__slot_load(mqota_agent_t *a, uint8_t slot, mqota_slot_record_t *s);
bool store__slot_save(mqota_agent_t *a, uint8_t slot, const mqota_slot_record_t *s);
bool store__attempt_load(mqota_agent_t *a, mqota_attempt_t *at);
bool store__attempt_save(mqota_agent_t *a, const mqota_attempt_t *at);
bool store__held_load(mqota_agent_t *a, mqota_held_t *h);
bool store__held_save(mqota_agent_t *a, const mqota_held_t *h);
/* The minimum secure_version: the higher of "mq.minsv" (0 if none) and the platform's
 * secure_version hooks; false only if the read hook failed. */
bool store__min_secure_version(mqota_agent_t *a, uint32_t *min);
/* Raise the stored minimum to sv (never lower it); false only if the store failed. */
bool store__raise_min_secure_version(mqota_agent_t *a, uint32_t sv);
/* Load the replay window and reply counter ("mq.cmd"); absent or damaged: left zero. */
void store__cmd_load(mqota_agent_t *a);
bool store__cmd_save(mqota_agent_t *a, const mqota_replay_window_t *w, uint64_t reply_counter);

#endif /* MQOTA_AGENT_INTERNAL_H */
