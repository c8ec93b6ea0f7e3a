/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mqota_proto.c - protocol v1 codecs: STATE, OFFER, CHUNK, ACK (layouts in docs/PROTOCOL.md),
 * the device's half: STATE and ACK encoded, OFFER and CHUNK decoded, and the field walker. The
 * server's half (STATE and ACK decoded, OFFER and the CHUNK header encoded) walks the same
 * tables from common/mqota_proto_host.c, outside libmqota.
 *
 * Pure functions: bytes in, struct out. No heap, no I/O. Every integer is little-endian and is
 * assembled from single bytes with shifts, so the code is independent of host byte order and
 * never performs an unaligned access.
 *
 * Decoders are all-or-nothing: they decode into a local copy and write the caller's struct
 * only on MQOTA_OK, so a malformed message never clobbers a good one the caller already holds.
 * Checks run in wire order: header (length, magic, version, type), then each field in turn;
 * the first problem found is reported.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mqota/mqota_proto.h"
#include "mqota_le.h"
#include "mqota_noinline.h"
#include "mqota_proto_internal.h"

/* ---- Little-endian byte access ---------------------------------------------------------- */

/* Write the 4-byte header of a message of this type (docs/PROTOCOL.md §3). */
NOINLINE void proto__put_header(uint8_t *buf, mqota_msg_type_t type)
{
    buf[0] = MQOTA_PROTO_MAGIC0;
    buf[1] = MQOTA_PROTO_MAGIC1;
    buf[2] = MQOTA_PROTO_VERSION;
    buf[3] = (uint8_t)type;
}

/* ---- Strings ------------------------------------------------------------------------------ */

/* Length of s as it goes on the wire: up to the NUL, cut at MQOTA_STR_MAX. Reads at most
 * MQOTA_STR_MAX bytes, so an unterminated 32-byte field is safe. */
static size_t wire_str_len(const char *s)
{
    size_t n = 0;

    while (n < MQOTA_STR_MAX && s[n] != '\0') {
        n++;
    }
    return n;
}

/* Write s as a length-prefixed string at p; returns the bytes written (1 + length). */
static size_t put_str(uint8_t *p, const char *s)
{
    size_t n = wire_str_len(s);

    p[0] = (uint8_t)n;
    memcpy(p + 1, s, n);
    return 1u + n;
}

/* Return a pointer to the next n bytes and advance, or NULL (TRUNCATED) if they are not there. */
const uint8_t *proto__take(reader_t *r, size_t n)
{
    const uint8_t *p;

    if (r->err != MQOTA_OK) {
        return NULL;
    }
    if (r->len - r->pos < n) {
        r->err = MQOTA_ERR_TRUNCATED;
        return NULL;
    }
    p = r->buf + r->pos;
    r->pos += n;
    return p;
}

static uint8_t read_u8(reader_t *r)
{
    const uint8_t *p = proto__take(r, 1u);
    return p != NULL ? p[0] : 0u;
}

static uint16_t read_u16(reader_t *r)
{
    const uint8_t *p = proto__take(r, 2u);
    return p != NULL ? le__get_u16(p) : 0u;
}

static uint32_t read_u32(reader_t *r)
{
    const uint8_t *p = proto__take(r, 4u);
    return p != NULL ? le__get_u32(p) : 0u;
}

/* Read a length-prefixed string into out[MQOTA_STR_MAX + 1], NUL-terminated. A length above
 * MQOTA_STR_MAX or a NUL inside the bytes is MALFORMED: the string could not round-trip. */
static void read_str(reader_t *r, char *out)
{
    uint8_t n = read_u8(r);
    const uint8_t *p;

    if (r->err != MQOTA_OK) {
        return;
    }
    if (n > MQOTA_STR_MAX) {
        r->err = MQOTA_ERR_MALFORMED;
        return;
    }
    p = proto__take(r, n);
    if (p == NULL) {
        return;
    }
    if (memchr(p, 0, n) != NULL) {
        r->err = MQOTA_ERR_MALFORMED;
        return;
    }
    memcpy(out, p, n);
    out[n] = '\0';
}

/* After the last field: anything left over is MALFORMED (a v1 message has a fixed shape). */
mqota_status_t proto__reader_end(const reader_t *r)
{
    if (r->err != MQOTA_OK) {
        return r->err;
    }
    return r->pos == r->len ? MQOTA_OK : MQOTA_ERR_MALFORMED;
}

/* ---- Layouts ------------------------------------------------------------------------------ */

/*
 * The fixed-shape messages (STATE, OFFER, ACK, and the signed manifest of mqota_manifest.c)
 * are described by tables of fields in wire order (mqota_proto_internal.h), and one encoder
 * and one decoder walk them.
 */

/*
 * Write the fields of the struct at s from buf[pos] on and return the position after them
 * (the length of the whole message); with buf NULL, only measure. The caller checks the room.
 */
size_t proto__put_fields(uint8_t *buf, size_t pos, const void *s, const field_t *f, size_t n)
{
    for (; n > 0u; n--, f++) {
        const uint8_t *m = (const uint8_t *)s + f->offset;
        uint8_t *p = buf != NULL ? buf + pos : NULL;
        switch (f->kind) {
        case F_U8:
        case F_RSV8:
            if (p != NULL) {
                p[0] = f->kind == F_U8 ? m[0] : 0u;
            }
            pos += 1u;
            break;
        case F_U16:
            if (p != NULL) {
                le__put_u16(p, *(const uint16_t *)(const void *)m);
            }
            pos += 2u;
            break;
        case F_U32:
        case F_RSV32:
            if (p != NULL) {
                le__put_u32(p, f->kind == F_U32 ? *(const uint32_t *)(const void *)m : 0u);
            }
            pos += 4u;
            break;
        case F_U64:
            if (p != NULL) {
                le__put_u64(p, *(const uint64_t *)(const void *)m);
            }
            pos += 8u;
            break;
        case F_STR:
            pos += p != NULL ? put_str(p, (const char *)m) : 1u + wire_str_len((const char *)m);
            break;
        default: /* F_SHA256, F_UID: bytes as they are */
            if (p != NULL) {
                memcpy(p, m, f->kind == F_SHA256 ? MQOTA_SHA256_LEN : F_UID_LEN);
            }
            pos += f->kind == F_SHA256 ? MQOTA_SHA256_LEN : F_UID_LEN;
            break;
        }
    }
    return pos;
}

/* Read the fields into the struct at s; the reader's first error sticks (see reader_t). */
void proto__get_fields(reader_t *r, void *s, const field_t *f, size_t n)
{
    for (; n > 0u; n--, f++) {
        uint8_t *m = (uint8_t *)s + f->offset;
        const uint8_t *p;
        switch (f->kind) {
        case F_U8:
            m[0] = read_u8(r);
            break;
        case F_RSV8:
            (void)read_u8(r);
            break;
        case F_U16:
            *(uint16_t *)(void *)m = read_u16(r);
            break;
        case F_U32:
            *(uint32_t *)(void *)m = read_u32(r);
            break;
        case F_RSV32:
            (void)read_u32(r); /* reserved: ignored so a later revision may use it */
            break;
        case F_U64:
            p = proto__take(r, 8u);
            *(uint64_t *)(void *)m = p != NULL ? le__get_u64(p) : 0u;
            break;
        case F_STR:
            read_str(r, (char *)m);
            break;
        default: /* F_SHA256, F_UID: bytes as they are */
            p = proto__take(r, f->kind == F_SHA256 ? MQOTA_SHA256_LEN : F_UID_LEN);
            if (p != NULL) {
                memcpy(m, p, f->kind == F_SHA256 ? MQOTA_SHA256_LEN : F_UID_LEN);
            }
            break;
        }
    }
}

/* ---- Common header ------------------------------------------------------------------------ */

mqota_status_t mqota_msg_type(const uint8_t *buf, size_t len, mqota_msg_type_t *type)
{
    if ((buf == NULL && len > 0u) || type == NULL) {
        return MQOTA_ERR_ARG;
    }
    if (len < MQOTA_HEADER_LEN) {
        return MQOTA_ERR_TRUNCATED;
    }
    if (buf[0] != MQOTA_PROTO_MAGIC0 || buf[1] != MQOTA_PROTO_MAGIC1) {
        return MQOTA_ERR_MALFORMED;
    }
    if (buf[2] != MQOTA_PROTO_VERSION) {
        return MQOTA_ERR_VERSION;
    }
    /* Any type byte is returned as is: the caller dispatches and ignores types it does not know. */
    *type = (mqota_msg_type_t)buf[3];
    return MQOTA_OK;
}

/* Check the header of a message that must be of type `want`, and start a reader after it. */
mqota_status_t proto__begin_decode(const uint8_t *buf, size_t len, mqota_msg_type_t want,
                                   reader_t *r)
{
    mqota_msg_type_t type;
    mqota_status_t st = mqota_msg_type(buf, len, &type);

    if (st != MQOTA_OK) {
        return st;
    }
    if (type != want) {
        return MQOTA_ERR_TYPE;
    }
    r->buf = buf;
    r->len = len;
    r->pos = MQOTA_HEADER_LEN;
    r->err = MQOTA_OK;
    return MQOTA_OK;
}

/* ---- STATE -------------------------------------------------------------------------------- */

/* docs/PROTOCOL.md §4, after the header. */
const field_t proto__state_fields[] = {
    FIELD(F_U8, mqota_state_msg_t, state),
    FIELD(F_U8, mqota_state_msg_t, reason),
    FIELD(F_U8, mqota_state_msg_t, running_slot),
    FIELD(F_U8, mqota_state_msg_t, flags),
    FIELD(F_U16, mqota_state_msg_t, chip_id),
    FIELD(F_U16, mqota_state_msg_t, max_window),
    FIELD(F_U32, mqota_state_msg_t, max_chunk),
    FIELD(F_U32, mqota_state_msg_t, caps),
    FIELD(F_U32, mqota_state_msg_t, running_release),
    FIELD(F_U32, mqota_state_msg_t, target_release),
    FIELD(F_U32, mqota_state_msg_t, progress),
    FIELD(F_U32, mqota_state_msg_t, image_size),
    FIELD(F_U32, mqota_state_msg_t, boot_count),
    FIELD(F_U8, mqota_state_msg_t, deflate_window),
    RESERVED(F_RSV8),
    RESERVED(F_RSV8),
    RESERVED(F_RSV8),
    FIELD(F_STR, mqota_state_msg_t, project),
    FIELD(F_STR, mqota_state_msg_t, version),
    FIELD(F_STR, mqota_state_msg_t, idf_ver),
    FIELD(F_STR, mqota_state_msg_t, release_version),
};
_Static_assert(offsetof(mqota_state_msg_t, release_version) <= UINT8_MAX,
               "field_t.offset is a byte");

mqota_status_t mqota_state_encode(const mqota_state_msg_t *msg, uint8_t *buf, size_t cap,
                                  size_t *out_len)
{
    if (msg == NULL || buf == NULL || out_len == NULL) {
        return MQOTA_ERR_ARG;
    }
    if (cap < proto__put_fields(NULL, MQOTA_HEADER_LEN, msg, proto__state_fields,
                                COUNT_OF(proto__state_fields))) {
        return MQOTA_ERR_NO_SPACE;
    }
    proto__put_header(buf, MQOTA_MSG_STATE);
    *out_len = proto__put_fields(buf, MQOTA_HEADER_LEN, msg, proto__state_fields,
                                 COUNT_OF(proto__state_fields));
    return MQOTA_OK;
}

/* ---- OFFER -------------------------------------------------------------------------------- */

/* docs/PROTOCOL.md §5, after the header, up to the signature block (sig_len, sig). */
const field_t proto__offer_fields[] = {
    FIELD(F_U32, mqota_offer_t, release_id),
    FIELD(F_U32, mqota_offer_t, deployment_id),
    FIELD(F_U32, mqota_offer_t, image_size),
    FIELD(F_U32, mqota_offer_t, chunk_size),
    FIELD(F_U16, mqota_offer_t, window),
    FIELD(F_U16, mqota_offer_t, chip_id),
    FIELD(F_U32, mqota_offer_t, secure_version),
    FIELD(F_U32, mqota_offer_t, flags),
    FIELD(F_SHA256, mqota_offer_t, sha256),
    FIELD(F_U8, mqota_offer_t, encoding),
    FIELD(F_U8, mqota_offer_t, window_bits),
    RESERVED(F_RSV8),
    RESERVED(F_RSV8),
    FIELD(F_STR, mqota_offer_t, version),
    FIELD(F_STR, mqota_offer_t, project),
};
_Static_assert(offsetof(mqota_offer_t, project) <= UINT8_MAX, "field_t.offset is a byte");

mqota_status_t mqota_offer_decode(const uint8_t *buf, size_t len, mqota_offer_t *offer)
{
    mqota_offer_t o;
    reader_t r;
    mqota_status_t st;
    const uint8_t *p;

    if (offer == NULL) {
        return MQOTA_ERR_ARG;
    }
    st = proto__begin_decode(buf, len, MQOTA_MSG_OFFER, &r);
    if (st != MQOTA_OK) {
        return st;
    }
    memset(&o, 0, sizeof(o));
    proto__get_fields(&r, &o, proto__offer_fields, COUNT_OF(proto__offer_fields));
    o.sig_len = read_u16(&r);
    if (r.err == MQOTA_OK && o.sig_len > MQOTA_SIG_MAX) {
        return MQOTA_ERR_MALFORMED;
    }
    p = proto__take(&r, o.sig_len);
    if (p != NULL) {
        memcpy(o.sig, p, o.sig_len);
    }
    if (MQOTA_ENCODING_IS_DELTA(o.encoding)) { /* §18: the base follows the block */
        o.base_size = read_u32(&r);
        p = proto__take(&r, MQOTA_SHA256_LEN);
        if (p != NULL) {
            memcpy(o.base_sha256, p, MQOTA_SHA256_LEN);
        }
    }
    st = proto__reader_end(&r);
    if (st == MQOTA_OK) {
        memcpy(offer, &o, sizeof(o));
    }
    return st;
}

/* ---- CHUNK -------------------------------------------------------------------------------- */

/* docs/PROTOCOL.md §6, after the header, up to the data. */
const field_t proto__chunk_fields[] = {
    FIELD(F_U32, mqota_chunk_t, release_id),
    FIELD(F_U32, mqota_chunk_t, index),
    FIELD(F_U32, mqota_chunk_t, len),
    FIELD(F_U32, mqota_chunk_t, crc32),
};

mqota_status_t mqota_chunk_decode(const uint8_t *buf, size_t len, mqota_chunk_t *chunk)
{
    mqota_chunk_t c;
    reader_t r;
    mqota_status_t st;

    if (chunk == NULL) {
        return MQOTA_ERR_ARG;
    }
    st = proto__begin_decode(buf, len, MQOTA_MSG_CHUNK, &r);
    if (st != MQOTA_OK) {
        return st;
    }
    proto__get_fields(&r, &c, proto__chunk_fields, COUNT_OF(proto__chunk_fields));
    /* a length larger than the payload is TRUNCATED, never a read past it */
    c.data = proto__take(&r, c.len);
    st = proto__reader_end(&r);
    if (st != MQOTA_OK) {
        return st;
    }
    if (mqota_crc32(0u, c.data, c.len) != c.crc32) {
        return MQOTA_ERR_CRC;
    }
    *chunk = c;
    return MQOTA_OK;
}

/* ---- ACK ---------------------------------------------------------------------------------- */

/* docs/PROTOCOL.md §7, after the header. */
const field_t proto__ack_fields[] = {
    FIELD(F_U32, mqota_ack_t, release_id),
    FIELD(F_U32, mqota_ack_t, base),
    FIELD(F_U64, mqota_ack_t, sack),
    FIELD(F_U16, mqota_ack_t, window),
    FIELD(F_U8, mqota_ack_t, flags),
    RESERVED(F_RSV8),
    FIELD(F_U32, mqota_ack_t, sack_base),
    FIELD(F_U32, mqota_ack_t, high),
};

mqota_status_t mqota_ack_encode(const mqota_ack_t *ack, uint8_t *buf, size_t cap,
                                size_t *out_len)
{
    if (ack == NULL || buf == NULL || out_len == NULL || ack->sack_base < ack->base) {
        return MQOTA_ERR_ARG;
    }
    if (cap < MQOTA_ACK_LEN) {
        return MQOTA_ERR_NO_SPACE;
    }
    proto__put_header(buf, MQOTA_MSG_ACK);
    /* MQOTA_ACK_LEN */
    *out_len = proto__put_fields(buf, MQOTA_HEADER_LEN, ack, proto__ack_fields,
                                 COUNT_OF(proto__ack_fields));
    return MQOTA_OK;
}

