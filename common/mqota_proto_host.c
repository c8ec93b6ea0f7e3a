/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mqota_proto_host.c - the server's half of the protocol v1 codecs of device/src/mqota_proto.c
 * (docs/PROTOCOL.md): the encoders of what mqotad sends (OFFER, the CHUNK header) and the
 * decoders of what a device sends (STATE, ACK). A device never calls them, so they are not in
 * libmqota (the ESP32 carries only its own half); mqotad, the CLI, the virtual fleet, the tests
 * and the fuzz targets link them from the library mqota_codec_host.
 *
 * They walk the same field tables as the device's half (mqota_proto_internal.h), so the two
 * halves cannot disagree on a layout. Pure functions: no heap, no I/O; decoders are
 * all-or-nothing, as in mqota_proto.c.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mqota/mqota_proto.h"
#include "mqota_le.h"
#include "mqota_proto_internal.h"

mqota_status_t mqota_state_decode(const uint8_t *buf, size_t len, mqota_state_msg_t *msg)
{
    mqota_state_msg_t m;
    reader_t r;
    mqota_status_t st;

    if (msg == NULL) {
        return MQOTA_ERR_ARG;
    }
    st = proto__begin_decode(buf, len, MQOTA_MSG_STATE, &r);
    if (st != MQOTA_OK) {
        return st;
    }
    memset(&m, 0, sizeof(m));
    proto__get_fields(&r, &m, proto__state_fields, COUNT_OF(proto__state_fields));
    st = proto__reader_end(&r);
    if (st == MQOTA_OK) {
        memcpy(msg, &m, sizeof(m));
    }
    return st;
}

mqota_status_t mqota_offer_encode(const mqota_offer_t *offer, uint8_t *buf, size_t cap,
                                  size_t *out_len)
{
    size_t pos;

    if (offer == NULL || buf == NULL || out_len == NULL || offer->sig_len > MQOTA_SIG_MAX) {
        return MQOTA_ERR_ARG;
    }
    if (cap < proto__put_fields(NULL, MQOTA_HEADER_LEN, offer, proto__offer_fields,
                                COUNT_OF(proto__offer_fields)) +
                  2u + offer->sig_len +
                  (MQOTA_ENCODING_IS_DELTA(offer->encoding) ? MQOTA_DELTA_BASE_LEN : 0u)) {
        return MQOTA_ERR_NO_SPACE;
    }
    proto__put_header(buf, MQOTA_MSG_OFFER);
    pos =
        proto__put_fields(buf, MQOTA_HEADER_LEN, offer, proto__offer_fields,
                            COUNT_OF(proto__offer_fields));
    le__put_u16(buf + pos, offer->sig_len);
    pos += 2u;
    memcpy(buf + pos, offer->sig, offer->sig_len);
    pos += offer->sig_len;
    if (MQOTA_ENCODING_IS_DELTA(offer->encoding)) { /* §18: the base follows the block */
        le__put_u32(buf + pos, offer->base_size);
        memcpy(buf + pos + 4u, offer->base_sha256, MQOTA_SHA256_LEN);
        pos += MQOTA_DELTA_BASE_LEN;
    }
    *out_len = pos;
    return MQOTA_OK;
}

mqota_status_t mqota_chunk_encode_header(uint32_t release_id, uint32_t index,
                                         const uint8_t *data, uint32_t len, uint8_t *buf,
                                         size_t cap)
{
    mqota_chunk_t c;

    if (buf == NULL || (data == NULL && len > 0u)) {
        return MQOTA_ERR_ARG;
    }
    if (cap < MQOTA_CHUNK_HEADER_LEN) {
        return MQOTA_ERR_NO_SPACE;
    }
    c.release_id = release_id;
    c.index = index;
    c.len = len;
    c.crc32 = mqota_crc32(0u, data, len);
    c.data = data;
    proto__put_header(buf, MQOTA_MSG_CHUNK);
    (void)proto__put_fields(buf, MQOTA_HEADER_LEN, &c, proto__chunk_fields,
                            COUNT_OF(proto__chunk_fields));
    return MQOTA_OK;
}

mqota_status_t mqota_ack_decode(const uint8_t *buf, size_t len, mqota_ack_t *ack)
{
    mqota_ack_t a;
    reader_t r;
    mqota_status_t st;

    if (ack == NULL) {
        return MQOTA_ERR_ARG;
    }
    st = proto__begin_decode(buf, len, MQOTA_MSG_ACK, &r);
    if (st != MQOTA_OK) {
        return st;
    }
    if (len != MQOTA_ACK_LEN) {
        return len < MQOTA_ACK_LEN ? MQOTA_ERR_TRUNCATED : MQOTA_ERR_MALFORMED;
    }
    /* the length is checked: no error */
    proto__get_fields(&r, &a, proto__ack_fields, COUNT_OF(proto__ack_fields));
    if (a.sack_base < a.base) {
        return MQOTA_ERR_MALFORMED;
    }
    *ack = a;
    return MQOTA_OK;
}

