/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_proto.c - protocol v1 codecs (mqota_proto.c), CRC-32 (mqota_crc32.c) and the status
 * names (mqota_status.c): round trips, every decoder error path, CRC against zlib.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "mqota/mqota_command.h"
#include "mqota/mqota_proto.h"
#include "mqota/mqota_status.h"

#define BIG 1024u

/* ---- Helpers ------------------------------------------------------------------------------ */

static void fill_str(char *dst, char c, size_t n)
{
    memset(dst, c, n);
    dst[n] = '\0';
}

/* A STATE with every field distinct and every string at its maximum length. */
static void full_state(mqota_state_msg_t *m)
{
    memset(m, 0, sizeof(*m));
    m->state = MQOTA_STATE_DOWNLOADING;
    m->reason = MQOTA_REASON_NONE;
    m->running_slot = 1;
    m->flags = MQOTA_STATE_FLAG_ROLLBACK_POSSIBLE;
    m->chip_id = 0x0109;
    m->max_window = 0x0A0B;
    m->max_chunk = 0x11121314u;
    m->caps = MQOTA_CAP_RESUME | MQOTA_CAP_SACK | MQOTA_CAP_ROLLBACK;
    m->running_release = 0x21222324u;
    m->target_release = 0x31323334u;
    m->progress = 0x41424344u;
    m->image_size = 0x51525354u;
    m->boot_count = 0xF1F2F3F4u;
    m->deflate_window = 15;
    fill_str(m->project, 'p', MQOTA_STR_MAX);
    fill_str(m->version, 'v', MQOTA_STR_MAX);
    fill_str(m->idf_ver, 'i', MQOTA_STR_MAX);
    fill_str(m->release_version, 'r', MQOTA_STR_MAX);
}

static void full_offer(mqota_offer_t *o, uint16_t sig_len)
{
    size_t i;

    memset(o, 0, sizeof(*o));
    o->release_id = 0x01020304u;
    o->deployment_id = 0x05060708u;
    o->image_size = 1770736u;
    o->chunk_size = 4096u;
    o->window = 16u;
    o->chip_id = 9u;
    o->secure_version = 0xA1A2A3A4u;
    o->flags = 0u;
    o->encoding = MQOTA_ENCODING_DEFLATE_SYNC;
    o->window_bits = 12;
    for (i = 0; i < MQOTA_SHA256_LEN; i++) {
        o->sha256[i] = (uint8_t)(0xC0u + i);
    }
    fill_str(o->version, '1', MQOTA_STR_MAX);
    fill_str(o->project, 'n', MQOTA_STR_MAX);
    o->sig_len = sig_len;
    for (i = 0; i < sig_len; i++) {
        o->sig[i] = (uint8_t)(i * 7u);
    }
}

static size_t encode_state(const mqota_state_msg_t *m, uint8_t *buf)
{
    size_t n = 0;
    assert_int_equal(mqota_state_encode(m, buf, BIG, &n), MQOTA_OK);
    return n;
}

static size_t encode_offer(const mqota_offer_t *o, uint8_t *buf)
{
    size_t n = 0;
    assert_int_equal(mqota_offer_encode(o, buf, BIG, &n), MQOTA_OK);
    return n;
}

static size_t encode_chunk(uint8_t *buf, uint32_t len)
{
    uint32_t i;

    for (i = 0; i < len; i++) {
        buf[MQOTA_CHUNK_HEADER_LEN + i] = (uint8_t)(i * 31u + 5u);
    }
    assert_int_equal(mqota_chunk_encode_header(77u, 3u, buf + MQOTA_CHUNK_HEADER_LEN, len, buf,
                                               BIG),
                     MQOTA_OK);
    return MQOTA_CHUNK_HEADER_LEN + len;
}

static size_t encode_ack(uint8_t *buf)
{
    mqota_ack_t a = {.release_id = 9u, .base = 12u, .sack = 0x8000000000000005ull,
                     .window = 16u, .flags = MQOTA_ACK_FLAG_REQUEST, .sack_base = 12u,
                     .high = 77u};
    size_t n = 0;
    assert_int_equal(mqota_ack_encode(&a, buf, BIG, &n), MQOTA_OK);
    return n;
}

/* Decode any message type into scratch storage; the error path tests use this. */
static mqota_status_t decode_any(mqota_msg_type_t type, const uint8_t *buf, size_t len)
{
    static mqota_state_msg_t s;
    static mqota_offer_t o;
    static mqota_chunk_t c;
    static mqota_ack_t a;

    switch (type) {
    case MQOTA_MSG_STATE: return mqota_state_decode(buf, len, &s);
    case MQOTA_MSG_OFFER: return mqota_offer_decode(buf, len, &o);
    case MQOTA_MSG_CHUNK: return mqota_chunk_decode(buf, len, &c);
    case MQOTA_MSG_ACK: return mqota_ack_decode(buf, len, &a);
    }
    return MQOTA_ERR_ARG;
}

/* One valid message of each type, encoded into buf. */
static size_t encode_any(mqota_msg_type_t type, uint8_t *buf)
{
    mqota_state_msg_t s;
    mqota_offer_t o;

    switch (type) {
    case MQOTA_MSG_STATE: full_state(&s); return encode_state(&s, buf);
    case MQOTA_MSG_OFFER: full_offer(&o, 40u); return encode_offer(&o, buf);
    case MQOTA_MSG_CHUNK: return encode_chunk(buf, 300u);
    case MQOTA_MSG_ACK: return encode_ack(buf);
    }
    return 0;
}

static const mqota_msg_type_t all_types[] = {MQOTA_MSG_STATE, MQOTA_MSG_OFFER, MQOTA_MSG_CHUNK,
                                             MQOTA_MSG_ACK};

/* Insert one byte at pos in a message of length *len. */
static void insert_byte(uint8_t *buf, size_t *len, size_t pos, uint8_t v)
{
    memmove(buf + pos + 1, buf + pos, *len - pos);
    buf[pos] = v;
    (*len)++;
}

/* ---- CRC-32 ------------------------------------------------------------------------------- */

static void test_crc32_check_value(void **state)
{
    (void)state;
    assert_int_equal(mqota_crc32(0u, "123456789", 9), 0xCBF43926u);
    assert_int_equal(mqota_crc32(0u, "", 0), 0u);
    assert_int_equal(mqota_crc32(0u, NULL, 0), 0u);
    assert_int_equal(mqota_crc32(0x12345678u, NULL, 0), 0x12345678u);
}

static void test_crc32_matches_zlib(void **state)
{
    static uint8_t buf[70000];
    size_t lens[] = {0, 1, 2, 3, 4, 7, 15, 16, 17, 255, 256, 4095, 4096, 65536, sizeof(buf)};
    size_t i;
    uint32_t x = 0x9E3779B9u;

    (void)state;
    for (i = 0; i < sizeof(buf); i++) {
        x = x * 1664525u + 1013904223u;
        buf[i] = (uint8_t)(x >> 24);
    }
    for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        uLong ref = crc32(0L, buf, (uInt)lens[i]);
        assert_int_equal(mqota_crc32(0u, buf, lens[i]), (uint32_t)ref);
    }
    /* Continuation: crc(a ++ b) == crc(crc(a), b), as with zlib. */
    for (i = 0; i <= 1000; i += 37) {
        uint32_t c = mqota_crc32(0u, buf, i);
        c = mqota_crc32(c, buf + i, 1000 - i);
        assert_int_equal(c, (uint32_t)crc32(0L, buf, 1000));
    }
    /* Continuing from a non-zero start value agrees with zlib too. */
    assert_int_equal(mqota_crc32(0xDEADBEEFu, buf, 333), (uint32_t)crc32(0xDEADBEEFuL, buf, 333));
}

/* ---- Header ------------------------------------------------------------------------------- */

static void test_msg_type(void **state)
{
    uint8_t buf[BIG];
    mqota_msg_type_t t;
    size_t i;

    (void)state;
    for (i = 0; i < 4; i++) {
        encode_any(all_types[i], buf);
        assert_int_equal(mqota_msg_type(buf, 4, &t), MQOTA_OK);
        assert_int_equal(t, all_types[i]);
    }
    assert_int_equal(mqota_msg_type(buf, 3, &t), MQOTA_ERR_TRUNCATED);
    assert_int_equal(mqota_msg_type(NULL, 0, &t), MQOTA_ERR_TRUNCATED);
    assert_int_equal(mqota_msg_type(NULL, 4, &t), MQOTA_ERR_ARG);
    assert_int_equal(mqota_msg_type(buf, 4, NULL), MQOTA_ERR_ARG);
    buf[2] = 2;
    assert_int_equal(mqota_msg_type(buf, 4, &t), MQOTA_ERR_VERSION);
    buf[0] = 'X';
    assert_int_equal(mqota_msg_type(buf, 4, &t), MQOTA_ERR_MALFORMED);
}

/* Bad magic, bad version and a foreign type byte, for every decoder. */
static void test_header_errors(void **state)
{
    uint8_t buf[BIG];
    size_t i, j, n;

    (void)state;
    for (i = 0; i < 4; i++) {
        mqota_msg_type_t type = all_types[i];

        n = encode_any(type, buf);
        assert_int_equal(decode_any(type, buf, n), MQOTA_OK);

        buf[0] = 'm';
        assert_int_equal(decode_any(type, buf, n), MQOTA_ERR_MALFORMED);
        buf[0] = MQOTA_PROTO_MAGIC0;
        buf[1] = 'q';
        assert_int_equal(decode_any(type, buf, n), MQOTA_ERR_MALFORMED);
        buf[1] = MQOTA_PROTO_MAGIC1;

        buf[2] = 0;
        assert_int_equal(decode_any(type, buf, n), MQOTA_ERR_VERSION);
        buf[2] = 2;
        assert_int_equal(decode_any(type, buf, n), MQOTA_ERR_VERSION);
        buf[2] = MQOTA_PROTO_VERSION;

        for (j = 0; j < 4; j++) {
            if (all_types[j] != type) {
                buf[3] = (uint8_t)all_types[j];
                assert_int_equal(decode_any(type, buf, n), MQOTA_ERR_TYPE);
            }
        }
        buf[3] = 0;
        assert_int_equal(decode_any(type, buf, n), MQOTA_ERR_TYPE);
        buf[3] = 0xFF;
        assert_int_equal(decode_any(type, buf, n), MQOTA_ERR_TYPE);
        buf[3] = (uint8_t)type;
        assert_int_equal(decode_any(type, buf, n), MQOTA_OK);
    }
}

/* Every proper prefix of every message is TRUNCATED; one extra byte is MALFORMED. */
static void test_truncation_and_trailing(void **state)
{
    uint8_t buf[BIG];
    size_t i, len, n;

    (void)state;
    for (i = 0; i < 4; i++) {
        mqota_msg_type_t type = all_types[i];

        n = encode_any(type, buf);
        for (len = 0; len < n; len++) {
            uint8_t *copy = malloc(len > 0 ? len : 1); /* exact size: ASan sees any overread */
            memcpy(copy, buf, len);
            assert_int_equal(decode_any(type, copy, len), MQOTA_ERR_TRUNCATED);
            free(copy);
        }
        buf[n] = 0;
        assert_int_equal(decode_any(type, buf, n + 1), MQOTA_ERR_MALFORMED);
        assert_int_equal(decode_any(type, buf, n + 100), MQOTA_ERR_MALFORMED);
        assert_int_equal(decode_any(type, buf, n), MQOTA_OK);
    }
    /* A NULL buffer is an argument error, except with length 0 (then simply too short). */
    assert_int_equal(decode_any(MQOTA_MSG_ACK, NULL, 24), MQOTA_ERR_ARG);
    assert_int_equal(decode_any(MQOTA_MSG_ACK, NULL, 0), MQOTA_ERR_TRUNCATED);
}

/* ---- STATE -------------------------------------------------------------------------------- */

static void test_state_round_trip(void **state)
{
    uint8_t buf[BIG];
    mqota_state_msg_t in, out;
    size_t n;

    (void)state;
    full_state(&in);
    n = encode_state(&in, buf);
    assert_int_equal(n, MQOTA_STATE_MAX_LEN);
    assert_int_equal(MQOTA_STATE_MAX_LEN, 172);
    memset(&out, 0xAA, sizeof(out));
    assert_int_equal(mqota_state_decode(buf, n, &out), MQOTA_OK);
    assert_memory_equal(&in, &out, sizeof(in)); /* full_state() zeroed padding too */

    /* Byte layout spot checks (docs/PROTOCOL.md). */
    assert_int_equal(buf[0], 0x4D);
    assert_int_equal(buf[1], 0x51);
    assert_int_equal(buf[2], 1);
    assert_int_equal(buf[3], MQOTA_MSG_STATE);
    assert_int_equal(buf[4], MQOTA_STATE_DOWNLOADING);
    assert_int_equal(buf[8], 0x09);
    assert_int_equal(buf[9], 0x01);
    assert_int_equal(buf[12], 0x14);
    assert_int_equal(buf[15], 0x11);
    assert_int_equal(buf[36], 0xF4);
    assert_int_equal(buf[39], 0xF1);
    assert_int_equal(buf[40], 15); /* deflate_window */
    assert_int_equal(buf[41] | buf[42] | buf[43], 0);
    assert_int_equal(buf[44], 31);
    assert_int_equal(buf[45], 'p');

    /* Empty strings: 48 bytes. The reserved word is ignored by the decoder. */
    in.project[0] = in.version[0] = in.idf_ver[0] = in.release_version[0] = '\0';
    n = encode_state(&in, buf);
    assert_int_equal(n, 48);
    buf[41] = 0x5A;
    assert_int_equal(mqota_state_decode(buf, n, &out), MQOTA_OK);
    assert_int_equal(out.deflate_window, 15);
    assert_string_equal(out.project, "");
    assert_string_equal(out.release_version, "");
    assert_int_equal(out.boot_count, in.boot_count);
}

static void test_state_encode_cuts_and_space(void **state)
{
    uint8_t buf[BIG];
    mqota_state_msg_t in, out;
    size_t n = 0;

    (void)state;
    full_state(&in);
    /* Unterminated 32-byte field: the encoder reads 31 bytes and cuts there. */
    memset(in.version, 'x', sizeof(in.version));
    strcpy(in.project, "hello_world");
    n = encode_state(&in, buf);
    assert_int_equal(mqota_state_decode(buf, n, &out), MQOTA_OK);
    assert_int_equal(strlen(out.version), 31);
    assert_string_equal(out.project, "hello_world");

    assert_int_equal(mqota_state_encode(&in, buf, n - 1, &n), MQOTA_ERR_NO_SPACE);
    assert_int_equal(mqota_state_encode(NULL, buf, BIG, &n), MQOTA_ERR_ARG);
    assert_int_equal(mqota_state_encode(&in, NULL, BIG, &n), MQOTA_ERR_ARG);
    assert_int_equal(mqota_state_encode(&in, buf, BIG, NULL), MQOTA_ERR_ARG);
    assert_int_equal(mqota_state_decode(buf, n, NULL), MQOTA_ERR_ARG);
}

/* Offsets of the four string length bytes in an encoded STATE. */
static void state_str_offsets(const uint8_t *buf, size_t off[4])
{
    size_t i, pos = 44;

    for (i = 0; i < 4; i++) {
        off[i] = pos;
        pos += 1u + buf[pos];
    }
}

static void test_state_bad_strings(void **state)
{
    uint8_t buf[BIG];
    mqota_state_msg_t in, out, keep;
    size_t off[4], i, n;

    (void)state;
    full_state(&in);
    for (i = 0; i < 4; i++) {
        /* Length 32, with 32 bytes present. */
        n = encode_state(&in, buf);
        state_str_offsets(buf, off);
        buf[off[i]] = 32;
        insert_byte(buf, &n, off[i] + 1, 'z');
        memset(&out, 0x33, sizeof(out));
        keep = out;
        assert_int_equal(mqota_state_decode(buf, n, &out), MQOTA_ERR_MALFORMED);
        assert_memory_equal(&out, &keep, sizeof(out)); /* untouched on error */
        /* Length 255. */
        n = encode_state(&in, buf);
        buf[off[i]] = 255;
        assert_int_equal(mqota_state_decode(buf, n, &out), MQOTA_ERR_MALFORMED);
        /* A NUL inside the bytes: first, middle, last. */
        n = encode_state(&in, buf);
        buf[off[i] + 1] = 0;
        assert_int_equal(mqota_state_decode(buf, n, &out), MQOTA_ERR_MALFORMED);
        n = encode_state(&in, buf);
        buf[off[i] + 16] = 0;
        assert_int_equal(mqota_state_decode(buf, n, &out), MQOTA_ERR_MALFORMED);
        n = encode_state(&in, buf);
        buf[off[i] + 31] = 0;
        assert_int_equal(mqota_state_decode(buf, n, &out), MQOTA_ERR_MALFORMED);
    }
}

/* ---- OFFER -------------------------------------------------------------------------------- */

/* A delta offer (§18) carries its base after the signature block: u32 base_size, SHA-256;
 * an offer of another encoding carries nothing there (a trailing base is MALFORMED). */
static void test_offer_delta(void **state)
{
    uint8_t buf[BIG];
    mqota_offer_t in, out;
    size_t n, i;

    (void)state;
    full_offer(&in, MQOTA_SIG_MAX);
    in.encoding = MQOTA_ENCODING_DELTA_SYNC;
    in.base_size = 0x00142610u;
    for (i = 0; i < MQOTA_SHA256_LEN; i++) {
        in.base_sha256[i] = (uint8_t)(0x40u + i);
    }
    n = encode_offer(&in, buf);
    assert_int_equal(n, MQOTA_OFFER_MAX_LEN);
    assert_int_equal(buf[64], MQOTA_ENCODING_DELTA_SYNC);
    assert_int_equal(buf[n - 36], 0x10);
    assert_int_equal(buf[n - 35], 0x26);
    assert_int_equal(buf[n - 34], 0x14);
    assert_int_equal(buf[n - 33], 0x00);
    assert_int_equal(buf[n - 32], 0x40);
    assert_int_equal(buf[n - 1], 0x5F);
    memset(&out, 0xAA, sizeof(out));
    assert_int_equal(mqota_offer_decode(buf, n, &out), MQOTA_OK);
    assert_memory_equal(&in, &out, sizeof(in));
    assert_int_equal(mqota_offer_decode(buf, n - 1, &out), MQOTA_ERR_TRUNCATED);
    in.encoding = MQOTA_ENCODING_DELTA_FULL;
    n = encode_offer(&in, buf);
    assert_int_equal(mqota_offer_decode(buf, n, &out), MQOTA_OK);
    assert_memory_equal(&in, &out, sizeof(in));
    buf[64] = MQOTA_ENCODING_DEFLATE_FULL; /* the same bytes without a delta encoding */
    assert_int_equal(mqota_offer_decode(buf, n, &out), MQOTA_ERR_MALFORMED);
}

static void test_offer_round_trip(void **state)
{
    uint8_t buf[BIG];
    mqota_offer_t in, out;
    uint16_t sig_lens[] = {0, 1, 64, MQOTA_SIG_MAX};
    size_t i, n;

    (void)state;
    for (i = 0; i < 4; i++) {
        full_offer(&in, sig_lens[i]);
        n = encode_offer(&in, buf);
        assert_int_equal(n, 68u + 64u + 2u + sig_lens[i]);
        memset(&out, 0xAA, sizeof(out));
        assert_int_equal(mqota_offer_decode(buf, n, &out), MQOTA_OK);
        assert_memory_equal(&in, &out, sizeof(in));
    }
    assert_int_equal(n, MQOTA_OFFER_MAX_LEN - MQOTA_DELTA_BASE_LEN);

    /* Layout spot checks. */
    assert_int_equal(buf[3], MQOTA_MSG_OFFER);
    assert_int_equal(buf[4], 0x04);
    assert_int_equal(buf[7], 0x01);
    assert_int_equal(buf[20], 16);
    assert_int_equal(buf[22], 9);
    assert_int_equal(buf[32], 0xC0);
    assert_int_equal(buf[63], 0xDF);
    assert_int_equal(buf[64], MQOTA_ENCODING_DEFLATE_SYNC); /* encoding */
    assert_int_equal(buf[65], 12);                          /* window_bits */
    assert_int_equal(buf[66] | buf[67], 0);
    assert_int_equal(buf[68], 31);
    assert_int_equal(buf[69], '1');
    assert_int_equal(buf[100], 31);
    assert_int_equal(buf[132], MQOTA_SIG_MAX & 0xFF);
    assert_int_equal(buf[133], MQOTA_SIG_MAX >> 8);

    /* Short strings; the decoder does not judge values (chunk size 3, chip 0xFFFF). */
    full_offer(&in, 0);
    memset(in.version, 0, sizeof(in.version)); /* the decoder zero-fills after the NUL */
    memset(in.project, 0, sizeof(in.project));
    strcpy(in.version, "v1.5.2");
    in.chunk_size = 3;
    in.chip_id = 0xFFFF;
    n = encode_offer(&in, buf);
    buf[66] = 0x77; /* reserved: ignored */
    assert_int_equal(mqota_offer_decode(buf, n, &out), MQOTA_OK);
    assert_memory_equal(&in, &out, sizeof(in));
}

static void test_offer_encode_errors(void **state)
{
    uint8_t buf[BIG];
    mqota_offer_t in;
    size_t n = 0;

    (void)state;
    full_offer(&in, 10);
    assert_int_equal(mqota_offer_encode(&in, buf, 68 + 64 + 2 + 10 - 1, &n), MQOTA_ERR_NO_SPACE);
    assert_int_equal(mqota_offer_encode(&in, buf, 68 + 64 + 2 + 10, &n), MQOTA_OK);
    assert_int_equal(n, 68 + 64 + 2 + 10);
    in.sig_len = MQOTA_SIG_MAX + 1;
    assert_int_equal(mqota_offer_encode(&in, buf, BIG, &n), MQOTA_ERR_ARG);
    assert_int_equal(mqota_offer_encode(NULL, buf, BIG, &n), MQOTA_ERR_ARG);
    assert_int_equal(mqota_offer_encode(&in, NULL, BIG, &n), MQOTA_ERR_ARG);
    assert_int_equal(mqota_offer_decode(buf, n, NULL), MQOTA_ERR_ARG);
}

static void test_offer_bad_fields(void **state)
{
    uint8_t buf[BIG];
    mqota_offer_t in, out, keep;
    size_t n, i, pos;

    (void)state;
    full_offer(&in, 4);
    for (i = 0; i < 2; i++) {
        size_t off = 68u + i * 32u;

        n = encode_offer(&in, buf);
        buf[off] = 32;
        insert_byte(buf, &n, off + 1, 'z');
        assert_int_equal(mqota_offer_decode(buf, n, &out), MQOTA_ERR_MALFORMED);
        n = encode_offer(&in, buf);
        buf[off + 5] = 0;
        assert_int_equal(mqota_offer_decode(buf, n, &out), MQOTA_ERR_MALFORMED);
    }

    /* sig_len 129 with 129 signature bytes present: MALFORMED, output untouched. */
    full_offer(&in, MQOTA_SIG_MAX);
    n = encode_offer(&in, buf);
    pos = 68u + 64u;
    buf[pos] = (uint8_t)(MQOTA_SIG_MAX + 1);
    insert_byte(buf, &n, n, 0xEE);
    memset(&out, 0x5C, sizeof(out));
    keep = out;
    assert_int_equal(mqota_offer_decode(buf, n, &out), MQOTA_ERR_MALFORMED);
    assert_memory_equal(&out, &keep, sizeof(out));
    /* sig_len 0xFFFF. */
    buf[pos] = 0xFF;
    buf[pos + 1] = 0xFF;
    assert_int_equal(mqota_offer_decode(buf, n, &out), MQOTA_ERR_MALFORMED);
}

/* ---- CHUNK -------------------------------------------------------------------------------- */

static void test_chunk_round_trip(void **state)
{
    uint8_t buf[BIG];
    mqota_chunk_t c;
    uint32_t lens[] = {0, 1, 256, 1000};
    size_t i, n;

    (void)state;
    for (i = 0; i < 4; i++) {
        n = encode_chunk(buf, lens[i]);
        assert_int_equal(mqota_chunk_decode(buf, n, &c), MQOTA_OK);
        assert_int_equal(c.release_id, 77u);
        assert_int_equal(c.index, 3u);
        assert_int_equal(c.len, lens[i]);
        assert_ptr_equal(c.data, buf + MQOTA_CHUNK_HEADER_LEN);
        assert_int_equal(c.crc32, (uint32_t)crc32(0L, buf + 20, lens[i]));
        assert_int_equal(buf[12], (uint8_t)lens[i]);
    }
    assert_int_equal(buf[3], MQOTA_MSG_CHUNK);
    assert_int_equal(buf[4], 77);

    assert_int_equal(mqota_chunk_encode_header(1, 1, NULL, 5, buf, BIG), MQOTA_ERR_ARG);
    assert_int_equal(mqota_chunk_encode_header(1, 1, NULL, 0, buf, BIG), MQOTA_OK);
    assert_int_equal(mqota_chunk_encode_header(1, 1, buf, 5, NULL, BIG), MQOTA_ERR_ARG);
    assert_int_equal(mqota_chunk_encode_header(1, 1, buf + 20, 5, buf, 19), MQOTA_ERR_NO_SPACE);
    assert_int_equal(mqota_chunk_decode(buf, 20, NULL), MQOTA_ERR_ARG);
}

static void test_chunk_crc_and_length(void **state)
{
    uint8_t buf[BIG];
    mqota_chunk_t c;
    size_t n, bit;

    (void)state;
    n = encode_chunk(buf, 300);
    /* Any single bit flipped in the data or in the CRC field is caught. */
    for (bit = 0; bit < 8; bit++) {
        buf[20 + 150] ^= (uint8_t)(1u << bit);
        assert_int_equal(mqota_chunk_decode(buf, n, &c), MQOTA_ERR_CRC);
        buf[20 + 150] ^= (uint8_t)(1u << bit);
        buf[16 + bit / 2] ^= (uint8_t)(1u << bit);
        assert_int_equal(mqota_chunk_decode(buf, n, &c), MQOTA_ERR_CRC);
        buf[16 + bit / 2] ^= (uint8_t)(1u << bit);
    }
    assert_int_equal(mqota_chunk_decode(buf, n, &c), MQOTA_OK);

    /* Length field larger than the payload (even absurdly so) is TRUNCATED, smaller MALFORMED. */
    buf[12] = 0xFF; buf[13] = 0xFF; buf[14] = 0xFF; buf[15] = 0xFF;
    assert_int_equal(mqota_chunk_decode(buf, n, &c), MQOTA_ERR_TRUNCATED);
    buf[12] = (uint8_t)(301 & 0xFF); buf[13] = 301 >> 8; buf[14] = 0; buf[15] = 0;
    assert_int_equal(mqota_chunk_decode(buf, n, &c), MQOTA_ERR_TRUNCATED);
    buf[12] = (uint8_t)(299 & 0xFF); buf[13] = 299 >> 8;
    assert_int_equal(mqota_chunk_decode(buf, n, &c), MQOTA_ERR_MALFORMED);
}

/* ---- ACK ---------------------------------------------------------------------------------- */

static void test_ack_round_trip(void **state)
{
    uint8_t buf[BIG];
    mqota_ack_t in = {.release_id = 0xA1B2C3D4u, .base = 0x01020304u,
                      .sack = 0x8877665544332211ull, .window = 0xBEEF,
                      .flags = MQOTA_ACK_FLAG_RESUMED | MQOTA_ACK_FLAG_COMPLETE |
                               MQOTA_ACK_FLAG_REQUEST,
                      .sack_base = 0x01020310u, .high = 0x0A0B0C0Du};
    mqota_ack_t out;
    const uint8_t want[32] = {0x4D, 0x51, 0x01, 0x04, 0xD4, 0xC3, 0xB2, 0xA1,
                              0x04, 0x03, 0x02, 0x01, 0x11, 0x22, 0x33, 0x44,
                              0x55, 0x66, 0x77, 0x88, 0xEF, 0xBE, 0x07, 0x00,
                              0x10, 0x03, 0x02, 0x01, 0x0D, 0x0C, 0x0B, 0x0A};
    size_t n = 0;

    (void)state;
    assert_int_equal(mqota_ack_encode(&in, buf, BIG, &n), MQOTA_OK);
    assert_int_equal(n, MQOTA_ACK_LEN);
    assert_memory_equal(buf, want, sizeof(want));
    memset(&out, 0, sizeof(out));
    assert_int_equal(mqota_ack_decode(buf, n, &out), MQOTA_OK);
    assert_int_equal(out.release_id, in.release_id);
    assert_int_equal(out.base, in.base);
    assert_true(out.sack == in.sack);
    assert_int_equal(out.window, in.window);
    assert_int_equal(out.flags, in.flags);
    assert_int_equal(out.sack_base, in.sack_base);
    assert_int_equal(out.high, in.high);
    buf[23] = 0x99; /* reserved: ignored */
    assert_int_equal(mqota_ack_decode(buf, n, &out), MQOTA_OK);
    buf[24] = 0x00; /* sack_base below base */
    assert_int_equal(mqota_ack_decode(buf, n, &out), MQOTA_ERR_MALFORMED);
    in.sack_base = in.base - 1u;
    assert_int_equal(mqota_ack_encode(&in, buf, BIG, &n), MQOTA_ERR_ARG);
    in.sack_base = in.base;

    assert_int_equal(mqota_ack_encode(&in, buf, MQOTA_ACK_LEN - 1u, &n), MQOTA_ERR_NO_SPACE);
    assert_int_equal(mqota_ack_encode(NULL, buf, BIG, &n), MQOTA_ERR_ARG);
    assert_int_equal(mqota_ack_encode(&in, buf, BIG, NULL), MQOTA_ERR_ARG);
    assert_int_equal(mqota_ack_decode(buf, MQOTA_ACK_LEN, NULL), MQOTA_ERR_ARG);
}

/* ---- Names -------------------------------------------------------------------------------- */

static void test_names(void **state)
{
    static const char *const states[] = {"idle", "offered", "downloading", "verifying",
                                         "ready-to-reboot", "pending-verify", "confirmed",
                                         "failed", "rolled-back", "held"};
    static const char *const reasons[] = {"none", "chip-mismatch", "too-large",
                                          "bad-chunk-size", "flash", "hash-mismatch",
                                          "invalid-image", "set-boot", "self-test",
                                          "confirm-timeout", "reset", "too-many-chunks",
                                          "store", "malformed-offer", "signature",
                                          "unsigned", "security-version", "command",
                                          "file-release", "decode", "bad-encoding",
                                          "base-mismatch"};
    int i;

    (void)state;
    for (i = 0; i < 10; i++) {
        assert_string_equal(mqota_state_name((mqota_update_state_t)i), states[i]);
    }
    assert_string_equal(mqota_state_name((mqota_update_state_t)10), "unknown");
    assert_string_equal(mqota_state_name((mqota_update_state_t)-1), "unknown");
    for (i = 0; i < 22; i++) {
        assert_string_equal(mqota_reason_name((mqota_reason_t)i), reasons[i]);
    }
    assert_string_equal(mqota_reason_name((mqota_reason_t)22), "unknown");
    assert_string_equal(mqota_reason_name((mqota_reason_t)255), "unknown");
    /* every code's text, so that a name list out of step with its enum shows here */
    static const struct {
        mqota_status_t code;
        const char *text;
    } texts[] = {
        {MQOTA_OK, "success"},
        {MQOTA_ERR_ARG, "invalid argument"},
        {MQOTA_ERR_MALFORMED, "malformed message"},
        {MQOTA_ERR_VERSION, "unsupported protocol version"},
        {MQOTA_ERR_TYPE, "unexpected message type"},
        {MQOTA_ERR_NO_SPACE, "output buffer too small"},
        {MQOTA_ERR_CRC, "CRC-32 mismatch"},
        {MQOTA_ERR_STATE, "not allowed in the current state"},
        {MQOTA_ERR_PLATFORM, "platform hook failed"},
        {MQOTA_ERR_RANGE, "value out of range"},
        {MQOTA_ERR_IMAGE, "invalid ESP32 application image"},
        {MQOTA_ERR_NOT_FOUND, "key not found in the persistent store"},
        {MQOTA_ERR_TRUNCATED, "input ended too early"},
        {MQOTA_ERR_HASH, "SHA-256 mismatch"},
        {MQOTA_ERR_AUTH, "authentication failed"},
        {MQOTA_ERR_REPLAY, "replayed message"},
        {MQOTA_ERR_CONFIG, "application and libmqota built with different MQOTA_* sizes"},
        {MQOTA_IGNORED, "ignored (not for this agent, or stale)"},
        {MQOTA_DUPLICATE, "duplicate chunk"},
        {MQOTA_MORE, "more input needed"},
    };
    for (i = 0; i < (int)(sizeof(texts) / sizeof(texts[0])); i++) {
        assert_string_equal(mqota_strerror(texts[i].code), texts[i].text);
    }
    assert_string_equal(mqota_strerror((mqota_status_t)17), "unknown status");
    assert_string_equal(mqota_strerror((mqota_status_t)99), "unknown status");
    assert_string_equal(mqota_strerror((mqota_status_t)103), "unknown status");
    assert_string_equal(mqota_strerror((mqota_status_t)-1), "unknown status");
    for (i = 0; i < 200; i++) {
        assert_non_null(mqota_strerror((mqota_status_t)i));
        assert_true(strlen(mqota_strerror((mqota_status_t)i)) > 0);
    }
    assert_string_equal(mqota_strerror((mqota_status_t)50), "unknown status");
}

/* ---- sealed commands (docs/PROTOCOL.md §14) ---- */

static void test_sealed_frame(void **state)
{
    (void)state;
    uint8_t f[64] = {0};
    mqota_sealed_t s;
    assert_int_equal(mqota_sealed_header(MQOTA_MSG_COMMAND, 0x0102030405060708ull, f), MQOTA_OK);
    const uint8_t want[16] = {0x4D, 0x51, 1, 5, 0, 0, 0, 0, 8, 7, 6, 5, 4, 3, 2, 1};
    assert_memory_equal(f, want, 16);
    assert_int_equal(mqota_sealed_decode(f, 40, MQOTA_MSG_COMMAND, &s), MQOTA_OK);
    assert_int_equal(s.counter, 0x0102030405060708ull);
    assert_int_equal(s.ciphertext_len, 8);
    assert_ptr_equal(s.ciphertext, f + 16);
    assert_ptr_equal(s.tag, f + 24);
    uint8_t nonce[12];
    mqota_sealed_nonce(f, nonce);
    const uint8_t want_nonce[12] = {0x4D, 0x51, 1, 5, 8, 7, 6, 5, 4, 3, 2, 1};
    assert_memory_equal(nonce, want_nonce, 12);
    uint8_t aad[MQOTA_AEAD_AAD_MAX];
    size_t aad_len = 0;
    assert_int_equal(mqota_sealed_aad(f, "pump-17", aad, sizeof(aad), &aad_len), MQOTA_OK);
    assert_int_equal(aad_len, 23);
    assert_memory_equal(aad + 16, "pump-17", 7);
    assert_int_equal(mqota_sealed_aad(f, "", aad, sizeof(aad), &aad_len), MQOTA_ERR_ARG);
    assert_int_equal(mqota_sealed_aad(f, "pump-17", aad, 20, &aad_len), MQOTA_ERR_NO_SPACE);

    assert_int_equal(mqota_sealed_decode(f, 40, MQOTA_MSG_REPLY, &s), MQOTA_ERR_TYPE);
    assert_int_equal(mqota_sealed_decode(f, 31, MQOTA_MSG_COMMAND, &s), MQOTA_ERR_TRUNCATED);
    assert_int_equal(mqota_sealed_decode(f, 3, MQOTA_MSG_COMMAND, &s), MQOTA_ERR_TRUNCATED);
    uint8_t big[MQOTA_SEALED_MAX_LEN + 1];
    memcpy(big, f, 16);
    assert_int_equal(mqota_sealed_decode(big, sizeof(big), MQOTA_MSG_COMMAND, &s), MQOTA_ERR_MALFORMED);
    assert_int_equal(mqota_sealed_decode(big, sizeof(big) - 1, MQOTA_MSG_COMMAND, &s), MQOTA_OK);
    f[4] = 1; /* key_slot */
    assert_int_equal(mqota_sealed_decode(f, 40, MQOTA_MSG_COMMAND, &s), MQOTA_ERR_MALFORMED);
    f[4] = 0;
    f[6] = 1; /* reserved */
    assert_int_equal(mqota_sealed_decode(f, 40, MQOTA_MSG_COMMAND, &s), MQOTA_ERR_MALFORMED);
    f[6] = 0;
    memset(f + 8, 0, 8); /* counter 0 */
    assert_int_equal(mqota_sealed_decode(f, 40, MQOTA_MSG_COMMAND, &s), MQOTA_ERR_MALFORMED);
    f[2] = 2;
    assert_int_equal(mqota_sealed_decode(f, 40, MQOTA_MSG_COMMAND, &s), MQOTA_ERR_VERSION);
    assert_int_equal(mqota_sealed_header(MQOTA_MSG_COMMAND, 0, f), MQOTA_ERR_ARG);
    assert_int_equal(mqota_sealed_header(MQOTA_MSG_ACK, 1, f), MQOTA_ERR_ARG);
}

static void test_command_reply_codecs(void **state)
{
    (void)state;
    uint8_t buf[1024];
    size_t n = 0;
    mqota_command_t c = {.command_id = 0x11223344u, .args_len = 2, .args = (const uint8_t *)"on"};
    strcpy(c.name, "relay");
    assert_int_equal(mqota_command_encode(&c, buf, sizeof(buf), &n), MQOTA_OK);
    const uint8_t want[] = {0x44, 0x33, 0x22, 0x11, 5, 'r', 'e', 'l', 'a', 'y', 2, 0, 'o', 'n'};
    assert_int_equal(n, sizeof(want));
    assert_memory_equal(buf, want, n);
    mqota_command_t d;
    assert_int_equal(mqota_command_decode(buf, n, &d), MQOTA_OK);
    assert_int_equal(d.command_id, c.command_id);
    assert_string_equal(d.name, "relay");
    assert_int_equal(d.args_len, 2);
    assert_memory_equal(d.args, "on", 2);
    assert_int_equal(mqota_command_decode(buf, n - 1, &d), MQOTA_ERR_TRUNCATED);
    assert_int_equal(mqota_command_decode(buf, n + 1, &d), MQOTA_ERR_MALFORMED);
    buf[4] = 0; /* empty name */
    assert_int_equal(mqota_command_decode(buf, n, &d), MQOTA_ERR_MALFORMED);
    buf[4] = 32; /* too long */
    assert_int_equal(mqota_command_decode(buf, n, &d), MQOTA_ERR_MALFORMED);
    buf[4] = 5;
    buf[7] = 0; /* NUL in the name */
    assert_int_equal(mqota_command_decode(buf, n, &d), MQOTA_ERR_MALFORMED);
    c.command_id = 0;
    assert_int_equal(mqota_command_encode(&c, buf, sizeof(buf), &n), MQOTA_ERR_ARG);
    c.command_id = 1;
    c.args_len = 1000; /* over MQOTA_SEALED_PLAIN_MAX */
    uint8_t args[1000] = {0};
    c.args = args;
    assert_int_equal(mqota_command_encode(&c, buf, sizeof(buf), &n), MQOTA_ERR_NO_SPACE);

    mqota_reply_t r = {.command_id = 9, .result = MQOTA_CMD_WRONG_STATE, .body_len = 3,
                       .body = (const uint8_t *)"abc"};
    assert_int_equal(mqota_reply_encode(&r, buf, sizeof(buf), &n), MQOTA_OK);
    const uint8_t want_r[] = {9, 0, 0, 0, 3, 0, 3, 0, 'a', 'b', 'c'};
    assert_int_equal(n, sizeof(want_r));
    assert_memory_equal(buf, want_r, n);
    mqota_reply_t e;
    assert_int_equal(mqota_reply_decode(buf, n, &e), MQOTA_OK);
    assert_int_equal(e.result, MQOTA_CMD_WRONG_STATE);
    assert_memory_equal(e.body, "abc", 3);
    assert_int_equal(mqota_reply_decode(buf, n - 1, &e), MQOTA_ERR_TRUNCATED);
    assert_int_equal(mqota_reply_decode(buf, n + 1, &e), MQOTA_ERR_MALFORMED);
    buf[5] = 1;
    assert_int_equal(mqota_reply_decode(buf, n, &e), MQOTA_ERR_MALFORMED);

    mqota_refusal_t rf = {.refused_counter = 5, .highest_counter = 0x100000000ull, .refused_total = 7};
    mqota_refusal_t rg;
    mqota_refusal_encode(&rf, buf);
    assert_int_equal(mqota_refusal_decode(buf, 24, &rg), MQOTA_OK);
    assert_int_equal(rg.refused_counter, 5);
    assert_int_equal(rg.highest_counter, 0x100000000ull);
    assert_int_equal(rg.refused_total, 7);
    assert_int_equal(mqota_refusal_decode(buf, 23, &rg), MQOTA_ERR_TRUNCATED);
    assert_string_equal(mqota_cmd_result_name(MQOTA_CMD_OK), "ok");
    assert_string_equal(mqota_cmd_result_name(MQOTA_CMD_UNKNOWN), "unknown-command");
    assert_string_equal(mqota_cmd_result_name(MQOTA_CMD_FAILED), "failed");
    assert_string_equal(mqota_cmd_result_name(MQOTA_CMD_WRONG_STATE), "wrong-state");
    assert_string_equal(mqota_cmd_result_name(MQOTA_CMD_REFUSED_FORGED), "refused-forged");
    assert_string_equal(mqota_cmd_result_name(MQOTA_CMD_REFUSED_REPLAY), "refused-replay");
    assert_string_equal(mqota_cmd_result_name(MQOTA_CMD_REFUSED_MALFORMED), "refused-malformed");
    assert_string_equal(mqota_cmd_result_name(4), "unknown");
    assert_string_equal(mqota_cmd_result_name(15), "unknown");
    assert_string_equal(mqota_cmd_result_name(19), "unknown");
    assert_string_equal(mqota_cmd_result_name(99), "unknown");
}

static void test_replay_window(void **state)
{
    (void)state;
    mqota_replay_window_t w = {0, 0};
    assert_false(mqota_replay_check(&w, 0));
    assert_true(mqota_replay_check(&w, 1));
    mqota_replay_accept(&w, 100);
    assert_false(mqota_replay_check(&w, 100));
    assert_true(mqota_replay_check(&w, 99));
    assert_true(mqota_replay_check(&w, 37));  /* 63 behind: inside the window */
    assert_false(mqota_replay_check(&w, 36)); /* 64 behind: too old */
    mqota_replay_accept(&w, 99);
    assert_false(mqota_replay_check(&w, 99));
    mqota_replay_accept(&w, 101); /* slides by one: 99 and 100 stay marked */
    assert_false(mqota_replay_check(&w, 100));
    assert_false(mqota_replay_check(&w, 99));
    assert_true(mqota_replay_check(&w, 98));
    mqota_replay_accept(&w, 1000); /* jump past the window: everything below is too old */
    assert_int_equal(w.bitmap, 1);
    assert_false(mqota_replay_check(&w, 936));
    assert_true(mqota_replay_check(&w, 937));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32_check_value),
        cmocka_unit_test(test_crc32_matches_zlib),
        cmocka_unit_test(test_msg_type),
        cmocka_unit_test(test_header_errors),
        cmocka_unit_test(test_truncation_and_trailing),
        cmocka_unit_test(test_state_round_trip),
        cmocka_unit_test(test_state_encode_cuts_and_space),
        cmocka_unit_test(test_state_bad_strings),
        cmocka_unit_test(test_offer_round_trip),
        cmocka_unit_test(test_offer_delta),
        cmocka_unit_test(test_offer_encode_errors),
        cmocka_unit_test(test_offer_bad_fields),
        cmocka_unit_test(test_chunk_round_trip),
        cmocka_unit_test(test_chunk_crc_and_length),
        cmocka_unit_test(test_ack_round_trip),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_sealed_frame),
        cmocka_unit_test(test_command_reply_codecs),
        cmocka_unit_test(test_replay_window),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
