/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mqota_proto_internal.h - the sequential reader and the table-driven field codec of
 * mqota_proto.c, shared with the manifest, record and command codecs (internal to libmqota, so
 * proto__* names).
 *
 * The server's halves of the codecs (common/mqota_*_host.c, library mqota_codec_host: the
 * encoders of what mqotad sends and the decoders of what devices send) walk the same tables,
 * so the tables and the header helpers they need are declared here rather than static.
 *
 * A fixed-shape message or record is a table of fields in wire order; proto__put_fields()
 * writes the members of a struct as the table says, proto__get_fields() reads them back, all
 * integers little-endian. The layouts in docs/PROTOCOL.md read off the tables, and the ESP32-C3
 * carries one copy of the byte shuffling instead of one per message.
 */
#ifndef MQOTA_PROTO_INTERNAL_H
#define MQOTA_PROTO_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mqota/mqota_proto.h"
#include "mqota/mqota_status.h"

/*
 * Sequential reader over a received message. The first error sticks: later reads do nothing
 * and return zeros, so a decoder can read every field and test r.err once at the end.
 */
typedef struct {
    const uint8_t *buf;
    size_t len;
    size_t pos;
    mqota_status_t err;
} reader_t;

enum {
    F_U8,     /* uint8_t member, 1 byte */
    F_U16,    /* uint16_t member, 2 bytes LE */
    F_U32,    /* uint32_t member, 4 bytes LE */
    F_U64,    /* uint64_t member, 8 bytes LE */
    F_RSV8,   /* reserved byte: written 0, ignored when read; no member */
    F_RSV32,  /* reserved u32: written 0, ignored when read; no member */
    F_STR,    /* char[MQOTA_STR_MAX + 1] member, length-prefixed on the wire */
    F_SHA256, /* uint8_t[MQOTA_SHA256_LEN] member, as is */
    F_UID     /* uint8_t[F_UID_LEN] member (a release uid), as is */
};

typedef struct {
    uint8_t kind;   /* F_* */
    uint8_t offset; /* offsetof() the member in the message struct */
} field_t;

#define FIELD(kind, type, member) {kind, (uint8_t)offsetof(type, member)}
#define RESERVED(kind) {kind, 0u}
#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))
#define F_UID_LEN 16u /* MQOTA_RELEASE_UID_LEN (mqota_manifest.c checks) */

/* Return a pointer to the next n bytes and advance, or NULL (TRUNCATED) if they are not there. */
const uint8_t *proto__take(reader_t *r, size_t n);
/* After the last field: the reader's error, or MALFORMED if bytes are left over. */
mqota_status_t proto__reader_end(const reader_t *r);
/* Write the fields of the struct at s from buf[pos]; returns the position after them. With buf
 * NULL, only measure. The caller checks the room first. */
size_t proto__put_fields(uint8_t *buf, size_t pos, const void *s, const field_t *f, size_t n);
/* Read the fields into the struct at s; the reader's first error sticks. */
void proto__get_fields(reader_t *r, void *s, const field_t *f, size_t n);
/* Write the 4-byte header of a message of this type (docs/PROTOCOL.md §3) at buf. */
void proto__put_header(uint8_t *buf, mqota_msg_type_t type);
/* Check the header of a message that must be of type `want` (mqota_msg_type()'s codes, or
 * MQOTA_ERR_TYPE) and start *r after it. */
mqota_status_t proto__begin_decode(const uint8_t *buf, size_t len, mqota_msg_type_t want,
                                   reader_t *r);

/* mqota_health.c: whether a byte may be in a HEALTH crash text (printable ASCII), the rule the
 * encoder and the decoder (common/mqota_health_host.c) share. 1 or 0. */
int health__crash_byte_ok(uint8_t c);

/* mqota_record.c: the persisted records (docs/PROTOCOL.md §12) by kind, for the agent's store;
 * the public mqota_*_encode()/_decode() of mqota_record.h are these with the kind filled in.
 * record__decode() takes the struct of the kind (a uint32_t for REC_MINSV). */
typedef enum { REC_PROGRESS, REC_SLOT, REC_ATTEMPT, REC_MINSV, REC_HELD } record__kind_t;
mqota_status_t record__encode(record__kind_t kind, const void *s, uint8_t *buf, size_t cap,
                              size_t *out_len);
mqota_status_t record__decode(record__kind_t kind, const uint8_t *buf, size_t len, void *s,
                              bool *legacy);

/* The layouts after the header (mqota_proto.c; the sizes are checked where they are defined):
 * STATE (§4), OFFER up to its signature block (§5), CHUNK up to its data (§6), ACK (§7). */
extern const field_t proto__state_fields[21];
extern const field_t proto__offer_fields[15];
extern const field_t proto__chunk_fields[4];
extern const field_t proto__ack_fields[8];
/* mqota_command.c: the COMMAND plaintext before its arguments, the REPLY plaintext before its
 * body, the refusal report's body (§14.3). */
extern const field_t command__command_fields[3];
extern const field_t command__reply_fields[4];
extern const field_t command__refusal_fields[4];
/* mqota_manifest.c: the signed manifest after its 4-byte magic (§5.1). */
extern const field_t manifest__fields[7];

#endif /* MQOTA_PROTO_INTERNAL_H */
