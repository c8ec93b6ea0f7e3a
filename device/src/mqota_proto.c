/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mqota_proto.c - protocol v1 codecs: STATE, OFFER, CHUNK, ACK (layouts in docs/PROTOCOL.md).
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

/* Offsets of the fixed parts (see docs/PROTOCOL.md). */
#define STATE_FIXED_LEN 44u   /* header + fixed fields, strings start here */
#define OFFER_FIXED_LEN 68u   /* header + fixed fields, strings start here */

/* ---- Little-endian byte access ---------------------------------------------------------- */

static void put_header(uint8_t *buf, mqota_msg_type_t type)
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

/* Return a pointer to the next n bytes and advance, or NULL (TRUNCATED) if they are not there. */
static const uint8_t *take(reader_t *r, size_t n)
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
    const uint8_t *p = take(r, 1u);
    return p != NULL ? p[0] : 0u;
}

static uint16_t read_u16(reader_t *r)
{
    const uint8_t *p = take(r, 2u);
    return p != NULL ? get_u16(p) : 0u;
}

static uint32_t read_u32(reader_t *r)
{
    const uint8_t *p = take(r, 4u);
    return p != NULL ? get_u32(p) : 0u;
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
    p = take(r, n);
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
static mqota_status_t reader_end(const reader_t *r)
{
    if (r->err != MQOTA_OK) {
        return r->err;
    }
    return r->pos == r->len ? MQOTA_OK : MQOTA_ERR_MALFORMED;
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
static mqota_status_t begin_decode(const uint8_t *buf, size_t len, mqota_msg_type_t want,
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

mqota_status_t mqota_state_encode(const mqota_state_msg_t *msg, uint8_t *buf, size_t cap,
                                  size_t *out_len)
{
    size_t need;
    size_t pos;

    if (msg == NULL || buf == NULL || out_len == NULL) {
        return MQOTA_ERR_ARG;
    }
    need = STATE_FIXED_LEN + 4u + wire_str_len(msg->project) + wire_str_len(msg->version) +
           wire_str_len(msg->idf_ver) + wire_str_len(msg->release_version);
    if (cap < need) {
        return MQOTA_ERR_NO_SPACE;
    }
    put_header(buf, MQOTA_MSG_STATE);
    buf[4] = msg->state;
    buf[5] = msg->reason;
    buf[6] = msg->running_slot;
    buf[7] = msg->flags;
    put_u16(buf + 8, msg->chip_id);
    put_u16(buf + 10, msg->max_window);
    put_u32(buf + 12, msg->max_chunk);
    put_u32(buf + 16, msg->caps);
    put_u32(buf + 20, msg->running_release);
    put_u32(buf + 24, msg->target_release);
    put_u32(buf + 28, msg->progress);
    put_u32(buf + 32, msg->image_size);
    put_u32(buf + 36, msg->boot_count);
    put_u32(buf + 40, 0u); /* reserved */
    pos = STATE_FIXED_LEN;
    pos += put_str(buf + pos, msg->project);
    pos += put_str(buf + pos, msg->version);
    pos += put_str(buf + pos, msg->idf_ver);
    pos += put_str(buf + pos, msg->release_version);
    *out_len = pos;
    return MQOTA_OK;
}

mqota_status_t mqota_state_decode(const uint8_t *buf, size_t len, mqota_state_msg_t *msg)
{
    mqota_state_msg_t m;
    reader_t r;
    mqota_status_t st;

    if (msg == NULL) {
        return MQOTA_ERR_ARG;
    }
    st = begin_decode(buf, len, MQOTA_MSG_STATE, &r);
    if (st != MQOTA_OK) {
        return st;
    }
    memset(&m, 0, sizeof(m));
    m.state = read_u8(&r);
    m.reason = read_u8(&r);
    m.running_slot = read_u8(&r);
    m.flags = read_u8(&r);
    m.chip_id = read_u16(&r);
    m.max_window = read_u16(&r);
    m.max_chunk = read_u32(&r);
    m.caps = read_u32(&r);
    m.running_release = read_u32(&r);
    m.target_release = read_u32(&r);
    m.progress = read_u32(&r);
    m.image_size = read_u32(&r);
    m.boot_count = read_u32(&r);
    (void)read_u32(&r); /* reserved: ignored so a later revision may use it */
    read_str(&r, m.project);
    read_str(&r, m.version);
    read_str(&r, m.idf_ver);
    read_str(&r, m.release_version);
    st = reader_end(&r);
    if (st == MQOTA_OK) {
        memcpy(msg, &m, sizeof(m));
    }
    return st;
}

/* ---- OFFER -------------------------------------------------------------------------------- */

mqota_status_t mqota_offer_encode(const mqota_offer_t *offer, uint8_t *buf, size_t cap,
                                  size_t *out_len)
{
    size_t need;
    size_t pos;

    if (offer == NULL || buf == NULL || out_len == NULL || offer->sig_len > MQOTA_SIG_MAX) {
        return MQOTA_ERR_ARG;
    }
    need = OFFER_FIXED_LEN + 2u + wire_str_len(offer->version) + wire_str_len(offer->project) +
           2u + offer->sig_len;
    if (cap < need) {
        return MQOTA_ERR_NO_SPACE;
    }
    put_header(buf, MQOTA_MSG_OFFER);
    put_u32(buf + 4, offer->release_id);
    put_u32(buf + 8, offer->deployment_id);
    put_u32(buf + 12, offer->image_size);
    put_u32(buf + 16, offer->chunk_size);
    put_u16(buf + 20, offer->window);
    put_u16(buf + 22, offer->chip_id);
    put_u32(buf + 24, offer->secure_version);
    put_u32(buf + 28, offer->flags);
    memcpy(buf + 32, offer->sha256, MQOTA_SHA256_LEN);
    put_u32(buf + 64, 0u); /* reserved */
    pos = OFFER_FIXED_LEN;
    pos += put_str(buf + pos, offer->version);
    pos += put_str(buf + pos, offer->project);
    put_u16(buf + pos, offer->sig_len);
    pos += 2u;
    memcpy(buf + pos, offer->sig, offer->sig_len);
    pos += offer->sig_len;
    *out_len = pos;
    return MQOTA_OK;
}

mqota_status_t mqota_offer_decode(const uint8_t *buf, size_t len, mqota_offer_t *offer)
{
    mqota_offer_t o;
    reader_t r;
    mqota_status_t st;
    const uint8_t *p;

    if (offer == NULL) {
        return MQOTA_ERR_ARG;
    }
    st = begin_decode(buf, len, MQOTA_MSG_OFFER, &r);
    if (st != MQOTA_OK) {
        return st;
    }
    memset(&o, 0, sizeof(o));
    o.release_id = read_u32(&r);
    o.deployment_id = read_u32(&r);
    o.image_size = read_u32(&r);
    o.chunk_size = read_u32(&r);
    o.window = read_u16(&r);
    o.chip_id = read_u16(&r);
    o.secure_version = read_u32(&r);
    o.flags = read_u32(&r);
    p = take(&r, MQOTA_SHA256_LEN);
    if (p != NULL) {
        memcpy(o.sha256, p, MQOTA_SHA256_LEN);
    }
    (void)read_u32(&r); /* reserved */
    read_str(&r, o.version);
    read_str(&r, o.project);
    o.sig_len = read_u16(&r);
    if (r.err == MQOTA_OK && o.sig_len > MQOTA_SIG_MAX) {
        return MQOTA_ERR_MALFORMED;
    }
    p = take(&r, o.sig_len);
    if (p != NULL) {
        memcpy(o.sig, p, o.sig_len);
    }
    st = reader_end(&r);
    if (st == MQOTA_OK) {
        memcpy(offer, &o, sizeof(o));
    }
    return st;
}

/* ---- CHUNK -------------------------------------------------------------------------------- */

mqota_status_t mqota_chunk_encode_header(uint32_t release_id, uint32_t index,
                                         const uint8_t *data, uint32_t len, uint8_t *buf,
                                         size_t cap)
{
    if (buf == NULL || (data == NULL && len > 0u)) {
        return MQOTA_ERR_ARG;
    }
    if (cap < MQOTA_CHUNK_HEADER_LEN) {
        return MQOTA_ERR_NO_SPACE;
    }
    put_header(buf, MQOTA_MSG_CHUNK);
    put_u32(buf + 4, release_id);
    put_u32(buf + 8, index);
    put_u32(buf + 12, len);
    put_u32(buf + 16, mqota_crc32(0u, data, len));
    return MQOTA_OK;
}

mqota_status_t mqota_chunk_decode(const uint8_t *buf, size_t len, mqota_chunk_t *chunk)
{
    mqota_chunk_t c;
    reader_t r;
    mqota_status_t st;

    if (chunk == NULL) {
        return MQOTA_ERR_ARG;
    }
    st = begin_decode(buf, len, MQOTA_MSG_CHUNK, &r);
    if (st != MQOTA_OK) {
        return st;
    }
    c.release_id = read_u32(&r);
    c.index = read_u32(&r);
    c.len = read_u32(&r);
    c.crc32 = read_u32(&r);
    c.data = take(&r, c.len); /* a length larger than the payload is TRUNCATED, never a read past it */
    st = reader_end(&r);
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

mqota_status_t mqota_ack_encode(const mqota_ack_t *ack, uint8_t *buf, size_t cap,
                                size_t *out_len)
{
    if (ack == NULL || buf == NULL || out_len == NULL || ack->sack_base < ack->base) {
        return MQOTA_ERR_ARG;
    }
    if (cap < MQOTA_ACK_LEN) {
        return MQOTA_ERR_NO_SPACE;
    }
    put_header(buf, MQOTA_MSG_ACK);
    put_u32(buf + 4, ack->release_id);
    put_u32(buf + 8, ack->base);
    put_u64(buf + 12, ack->sack);
    put_u16(buf + 20, ack->window);
    buf[22] = ack->flags;
    buf[23] = 0u; /* reserved */
    put_u32(buf + 24, ack->sack_base);
    put_u32(buf + 28, ack->high);
    *out_len = MQOTA_ACK_LEN;
    return MQOTA_OK;
}

mqota_status_t mqota_ack_decode(const uint8_t *buf, size_t len, mqota_ack_t *ack)
{
    reader_t r;
    mqota_status_t st;

    if (ack == NULL) {
        return MQOTA_ERR_ARG;
    }
    st = begin_decode(buf, len, MQOTA_MSG_ACK, &r);
    if (st != MQOTA_OK) {
        return st;
    }
    if (len != MQOTA_ACK_LEN) {
        return len < MQOTA_ACK_LEN ? MQOTA_ERR_TRUNCATED : MQOTA_ERR_MALFORMED;
    }
    if (get_u32(buf + 24) < get_u32(buf + 8)) {
        return MQOTA_ERR_MALFORMED; /* sack_base below base */
    }
    ack->release_id = get_u32(buf + 4);
    ack->base = get_u32(buf + 8);
    ack->sack = get_u64(buf + 12);
    ack->window = get_u16(buf + 20);
    ack->flags = buf[22];
    /* buf[23] is reserved and ignored */
    ack->sack_base = get_u32(buf + 24);
    ack->high = get_u32(buf + 28);
    return MQOTA_OK;
}
