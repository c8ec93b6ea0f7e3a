/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_record.c - the agent's persisted records (mqota_record.c, docs/PROTOCOL.md §12): the
 * exact bytes of each record (CRC from zlib, not from libmqota), round trips, every single-bit
 * flip refused, wrong tag/version/length/reserved refused, and the raw C structs that agents
 * before the codec wrote (declared here exactly as they were) still read and flagged legacy.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "mqota/mqota_record.h"

/* ---- The old agent's raw structs, copied from mqota_agent.c / mqota.h before the codec ---- */

typedef struct {
    uint32_t magic;
    uint32_t release_id;
    uint32_t deployment_id;
    uint32_t image_size;
    uint32_t chunk_size;
    uint32_t base;
    uint8_t slot;
    uint8_t reserved[3];
    uint8_t sha256[32];
    uint32_t crc;
} old_progress_t;

typedef struct {
    uint32_t magic;
    uint32_t release_id;
    char version[32];
    uint32_t crc;
} old_slot_record_t;

typedef struct {
    uint32_t magic;
    uint32_t release_id;
    uint32_t deployment_id;
    uint8_t from_slot;
    uint8_t to_slot;
    uint8_t reason;
    uint8_t reserved;
    uint32_t secure_version;
    uint32_t crc;
} old_attempt_record_t;

typedef struct {
    uint32_t magic;
    uint32_t min_secure_version;
    uint32_t crc;
} old_minsv_record_t;

/* The old record_save(): CRC-32 of every byte before the last 4, stored as a native u32. */
static void old_seal(void *rec, size_t size)
{
    uint32_t crc = (uint32_t)crc32(0L, rec, (uInt)(size - 4u));
    memcpy((uint8_t *)rec + size - 4u, &crc, sizeof(crc));
}

/* ---- Helpers ------------------------------------------------------------------------------ */

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* Recompute the CRC of a record after the test changed a byte, so that the codec's own check
 * of that byte, not the CRC, has to refuse it. */
static void reseal(uint8_t *rec, size_t len)
{
    put32(rec + len - 4u, (uint32_t)crc32(0L, rec, (uInt)(len - 4u)));
}

typedef mqota_status_t (*decode_fn)(const uint8_t *buf, size_t len);

static mqota_status_t dec_progress(const uint8_t *b, size_t n)
{
    mqota_progress_t p;
    return mqota_progress_decode(b, n, &p, NULL);
}
static mqota_status_t dec_slot(const uint8_t *b, size_t n)
{
    mqota_slot_record_t s;
    return mqota_slot_record_decode(b, n, &s, NULL);
}
static mqota_status_t dec_attempt(const uint8_t *b, size_t n)
{
    mqota_attempt_t at;
    return mqota_attempt_decode(b, n, &at, NULL);
}
static mqota_status_t dec_minsv(const uint8_t *b, size_t n)
{
    uint32_t v;
    return mqota_minsv_decode(b, n, &v, NULL);
}

/* Every single-bit flip of a valid record is refused, and so is every shorter prefix and the
 * record with one byte more. */
static void assert_every_damage_refused(decode_fn dec, const uint8_t *rec, size_t len)
{
    uint8_t b[MQOTA_RECORD_MAX_LEN + 1];
    assert_true(len <= MQOTA_RECORD_MAX_LEN);
    assert_int_equal(dec(rec, len), MQOTA_OK);
    for (size_t i = 0; i < len * 8u; i++) {
        memcpy(b, rec, len);
        b[i / 8u] ^= (uint8_t)(1u << (i % 8u));
        assert_int_not_equal(dec(b, len), MQOTA_OK);
    }
    for (size_t n = 0; n < len; n++) {
        assert_int_not_equal(dec(rec, n), MQOTA_OK);
    }
    memcpy(b, rec, len);
    b[len] = 0;
    assert_int_not_equal(dec(b, len + 1u), MQOTA_OK);
}

/* Field by field: the structs have padding, which a copy by value need not preserve. */
static void assert_progress_equal(const mqota_progress_t *a, const mqota_progress_t *b)
{
    assert_int_equal(a->release_id, b->release_id);
    assert_int_equal(a->deployment_id, b->deployment_id);
    assert_int_equal(a->image_size, b->image_size);
    assert_int_equal(a->chunk_size, b->chunk_size);
    assert_int_equal(a->base, b->base);
    assert_int_equal(a->slot, b->slot);
    assert_memory_equal(a->sha256, b->sha256, sizeof(a->sha256));
}

static void assert_attempt_equal(const mqota_attempt_t *a, const mqota_attempt_t *b)
{
    assert_int_equal(a->release_id, b->release_id);
    assert_int_equal(a->deployment_id, b->deployment_id);
    assert_int_equal(a->from_slot, b->from_slot);
    assert_int_equal(a->to_slot, b->to_slot);
    assert_int_equal(a->reason, b->reason);
    assert_int_equal(a->secure_version, b->secure_version);
}

static mqota_progress_t sample_progress(void)
{
    mqota_progress_t p;
    memset(&p, 0, sizeof(p));
    p.release_id = 0x01020304u;
    p.deployment_id = 0x05060708u;
    p.image_size = 0x0009A000u;
    p.chunk_size = 0x00000400u;
    p.base = 0x00000081u;
    p.slot = 1;
    for (size_t i = 0; i < sizeof(p.sha256); i++) {
        p.sha256[i] = (uint8_t)(0xA0u + i);
    }
    return p;
}

static mqota_attempt_t sample_attempt(void)
{
    mqota_attempt_t at;
    memset(&at, 0, sizeof(at));
    at.release_id = 0x11121314u;
    at.deployment_id = 0x21222324u;
    at.from_slot = 0;
    at.to_slot = 1;
    at.reason = 8;
    at.secure_version = 0x31323334u;
    return at;
}

/* ---- Exact bytes -------------------------------------------------------------------------- */

static void test_progress_bytes(void **state)
{
    (void)state;
    uint8_t want[MQOTA_PROGRESS_RECORD_LEN] = {
        'M', 'Q', 'P', 'R', 1, 0, 68, 0,           /* tag, version, reserved, length */
        0x04, 0x03, 0x02, 0x01, 0x08, 0x07, 0x06, 0x05, /* release_id, deployment_id */
        0x00, 0xA0, 0x09, 0x00, 0x00, 0x04, 0x00, 0x00, /* image_size, chunk_size */
        0x81, 0x00, 0x00, 0x00, 1, 0, 0, 0};           /* base, slot, reserved */
    for (size_t i = 0; i < 32u; i++) {
        want[32 + i] = (uint8_t)(0xA0u + i);
    }
    reseal(want, sizeof(want));
    mqota_progress_t p = sample_progress(), q;
    uint8_t buf[80];
    size_t n = 0;
    bool legacy = true;
    assert_int_equal(mqota_progress_encode(&p, buf, sizeof(buf), &n), MQOTA_OK);
    assert_int_equal(n, MQOTA_PROGRESS_RECORD_LEN);
    assert_memory_equal(buf, want, sizeof(want));
    assert_int_equal(mqota_progress_decode(buf, n, &q, &legacy), MQOTA_OK);
    assert_false(legacy);
    assert_progress_equal(&p, &q);
    assert_every_damage_refused(dec_progress, buf, n);
    assert_int_equal(mqota_progress_encode(&p, buf, MQOTA_PROGRESS_RECORD_LEN - 1u, &n),
                     MQOTA_ERR_NO_SPACE);
    assert_int_equal(mqota_progress_encode(NULL, buf, sizeof(buf), &n), MQOTA_ERR_ARG);
    assert_int_equal(mqota_progress_decode(NULL, 68, &q, NULL), MQOTA_ERR_ARG);
}

static void test_slot_bytes(void **state)
{
    (void)state;
    uint8_t want[MQOTA_SLOT_RECORD_LEN] = {'M', 'Q', 'S', 'L', 1, 0, 48, 0,
                                           0x44, 0x33, 0x22, 0x11, '2', '.', '1', '0'};
    reseal(want, sizeof(want));
    mqota_slot_record_t s, t;
    memset(&s, 0, sizeof(s));
    s.release_id = 0x11223344u;
    strcpy(s.version, "2.10");
    uint8_t buf[64];
    size_t n = 0;
    bool legacy = true;
    assert_int_equal(mqota_slot_record_encode(&s, buf, sizeof(buf), &n), MQOTA_OK);
    assert_int_equal(n, MQOTA_SLOT_RECORD_LEN);
    assert_memory_equal(buf, want, sizeof(want));
    assert_int_equal(mqota_slot_record_decode(buf, n, &t, &legacy), MQOTA_OK);
    assert_false(legacy);
    assert_int_equal(t.release_id, s.release_id);
    assert_string_equal(t.version, "2.10");
    assert_every_damage_refused(dec_slot, buf, n);

    /* the longest version, and one with no NUL */
    memset(s.version, 'v', sizeof(s.version) - 1u);
    s.version[sizeof(s.version) - 1u] = '\0';
    assert_int_equal(mqota_slot_record_encode(&s, buf, sizeof(buf), &n), MQOTA_OK);
    assert_int_equal(mqota_slot_record_decode(buf, n, &t, NULL), MQOTA_OK);
    assert_string_equal(t.version, s.version);
    buf[12 + 31] = 'v';
    reseal(buf, n);
    assert_int_equal(mqota_slot_record_decode(buf, n, &t, NULL), MQOTA_ERR_MALFORMED);
    s.version[31] = 'v';
    assert_int_equal(mqota_slot_record_encode(&s, buf, sizeof(buf), &n), MQOTA_ERR_ARG);
    /* a byte after the version's NUL */
    memcpy(buf, want, sizeof(want));
    buf[12 + 10] = 'x';
    reseal(buf, sizeof(want));
    assert_int_equal(mqota_slot_record_decode(buf, sizeof(want), &t, NULL), MQOTA_ERR_MALFORMED);
}

static void test_attempt_bytes(void **state)
{
    (void)state;
    uint8_t want[MQOTA_ATTEMPT_RECORD_LEN] = {
        'M', 'Q', 'B', 'T', 1, 0, 28, 0,
        0x14, 0x13, 0x12, 0x11, 0x24, 0x23, 0x22, 0x21, /* release_id, deployment_id */
        0, 1, 8, 0, 0x34, 0x33, 0x32, 0x31};            /* from, to, reason, reserved, sv */
    reseal(want, sizeof(want));
    mqota_attempt_t at = sample_attempt(), bt;
    uint8_t buf[32];
    size_t n = 0;
    bool legacy = true;
    assert_int_equal(mqota_attempt_encode(&at, buf, sizeof(buf), &n), MQOTA_OK);
    assert_int_equal(n, MQOTA_ATTEMPT_RECORD_LEN);
    assert_memory_equal(buf, want, sizeof(want));
    assert_int_equal(mqota_attempt_decode(buf, n, &bt, &legacy), MQOTA_OK);
    assert_false(legacy);
    assert_attempt_equal(&at, &bt);
    assert_every_damage_refused(dec_attempt, buf, n);
}

static void test_minsv_bytes(void **state)
{
    (void)state;
    uint8_t want[MQOTA_MINSV_RECORD_LEN] = {'M', 'Q', 'S', 'V', 1, 0, 16, 0, 0x07, 0x01, 0, 0};
    reseal(want, sizeof(want));
    uint8_t buf[16];
    size_t n = 0;
    uint32_t v = 0;
    bool legacy = true;
    assert_int_equal(mqota_minsv_encode(0x107u, buf, sizeof(buf), &n), MQOTA_OK);
    assert_int_equal(n, MQOTA_MINSV_RECORD_LEN);
    assert_memory_equal(buf, want, sizeof(want));
    assert_int_equal(mqota_minsv_decode(buf, n, &v, &legacy), MQOTA_OK);
    assert_false(legacy);
    assert_int_equal(v, 0x107u);
    assert_every_damage_refused(dec_minsv, buf, n);
    assert_int_equal(mqota_minsv_encode(1, NULL, 16, &n), MQOTA_ERR_ARG);
    assert_int_equal(mqota_minsv_encode(1, buf, 15, &n), MQOTA_ERR_NO_SPACE);
}

/* ---- Header checks, each with a correct CRC so that the field itself is what is refused ---- */

static void test_header_checks(void **state)
{
    (void)state;
    mqota_attempt_t at = sample_attempt(), bt;
    uint8_t good[32], b[32];
    size_t n = 0;
    assert_int_equal(mqota_attempt_encode(&at, good, sizeof(good), &n), MQOTA_OK);

    memcpy(b, good, n);
    b[4] = 2; /* a newer agent's version */
    reseal(b, n);
    assert_int_equal(mqota_attempt_decode(b, n, &bt, NULL), MQOTA_ERR_VERSION);
    b[4] = 0;
    reseal(b, n);
    assert_int_equal(mqota_attempt_decode(b, n, &bt, NULL), MQOTA_ERR_VERSION);

    memcpy(b, good, n);
    b[5] = 1; /* reserved */
    reseal(b, n);
    assert_int_equal(mqota_attempt_decode(b, n, &bt, NULL), MQOTA_ERR_MALFORMED);

    memcpy(b, good, n);
    b[19] = 1; /* reserved after reason */
    reseal(b, n);
    assert_int_equal(mqota_attempt_decode(b, n, &bt, NULL), MQOTA_ERR_MALFORMED);

    memcpy(b, good, n);
    b[6] = 27; /* length field says 27 */
    reseal(b, n);
    assert_int_equal(mqota_attempt_decode(b, n, &bt, NULL), MQOTA_ERR_MALFORMED);

    /* a record with one more byte whose length field and CRC agree with it */
    memcpy(b, good, n);
    b[6] = 29;
    b[n] = 0;
    reseal(b, n + 1u);
    assert_int_equal(mqota_attempt_decode(b, n + 1u, &bt, NULL), MQOTA_ERR_MALFORMED);

    /* another record's tag, under this key */
    memcpy(b, good, n);
    memcpy(b, "MQSV", 4);
    reseal(b, n);
    assert_int_equal(mqota_attempt_decode(b, n, &bt, NULL), MQOTA_ERR_TYPE);

    /* reserved bytes of mq.prog */
    mqota_progress_t p = sample_progress(), q;
    uint8_t r[MQOTA_PROGRESS_RECORD_LEN];
    assert_int_equal(mqota_progress_encode(&p, r, sizeof(r), &n), MQOTA_OK);
    for (size_t i = 29; i < 32u; i++) {
        uint8_t c[MQOTA_PROGRESS_RECORD_LEN];
        memcpy(c, r, n);
        c[i] = 0x80;
        reseal(c, n);
        assert_int_equal(mqota_progress_decode(c, n, &q, NULL), MQOTA_ERR_MALFORMED);
    }
    /* an empty or tiny record */
    uint32_t v = 0;
    assert_int_equal(mqota_minsv_decode(r, 0, &v, NULL), MQOTA_ERR_MALFORMED);
    assert_int_equal(mqota_minsv_decode(r, 11, &v, NULL), MQOTA_ERR_MALFORMED);
}

static mqota_status_t dec_held(const uint8_t *b, size_t n)
{
    mqota_held_t h;
    return mqota_held_decode(b, n, &h);
}

/* "mq.held" (docs/PROTOCOL.md §5.2, §12): exact bytes, round trip, every damage refused,
 * its reserved bytes and another record's tag refused; it has no legacy form. */
static void test_held_bytes(void **state)
{
    (void)state;
    uint8_t want[MQOTA_HELD_RECORD_LEN] = {
        'M', 'Q', 'H', 'D', 1, 0, 60, 0,                /* tag, version, reserved, length */
        0x04, 0x03, 0x02, 0x01, 0x08, 0x07, 0x06, 0x05, /* release_id, deployment_id */
        0x00, 0xA0, 0x09, 0x00, 1, 0, 0, 0};            /* image_size, slot, reserved */
    for (size_t i = 0; i < 32u; i++) {
        want[24 + i] = (uint8_t)(0xA0u + i);
    }
    reseal(want, sizeof(want));
    mqota_held_t h, g;
    memset(&h, 0, sizeof(h));
    h.release_id = 0x01020304u;
    h.deployment_id = 0x05060708u;
    h.image_size = 0x0009A000u;
    h.slot = 1;
    for (size_t i = 0; i < sizeof(h.sha256); i++) {
        h.sha256[i] = (uint8_t)(0xA0u + i);
    }
    uint8_t buf[80], c[MQOTA_HELD_RECORD_LEN];
    size_t n = 0;
    assert_int_equal(mqota_held_encode(&h, buf, sizeof(buf), &n), MQOTA_OK);
    assert_int_equal(n, MQOTA_HELD_RECORD_LEN);
    assert_memory_equal(buf, want, sizeof(want));
    assert_int_equal(mqota_held_decode(buf, n, &g), MQOTA_OK);
    assert_int_equal(g.release_id, h.release_id);
    assert_int_equal(g.deployment_id, h.deployment_id);
    assert_int_equal(g.image_size, h.image_size);
    assert_int_equal(g.slot, h.slot);
    assert_memory_equal(g.sha256, h.sha256, sizeof(h.sha256));
    assert_every_damage_refused(dec_held, buf, n);
    for (size_t i = 21; i < 24u; i++) {
        memcpy(c, buf, n);
        c[i] = 0x80;
        reseal(c, n);
        assert_int_equal(mqota_held_decode(c, n, &g), MQOTA_ERR_MALFORMED);
    }
    memcpy(c, buf, n);
    memcpy(c, "MQPR", 4);
    reseal(c, n);
    assert_int_equal(mqota_held_decode(c, n, &g), MQOTA_ERR_TYPE);
    memcpy(c, buf, n);
    c[4] = 2;
    reseal(c, n);
    assert_int_equal(mqota_held_decode(c, n, &g), MQOTA_ERR_VERSION);
    assert_int_equal(mqota_held_encode(&h, buf, MQOTA_HELD_RECORD_LEN - 1u, &n),
                     MQOTA_ERR_NO_SPACE);
    assert_int_equal(mqota_held_encode(NULL, buf, sizeof(buf), &n), MQOTA_ERR_ARG);
    assert_int_equal(mqota_held_decode(NULL, 60, &g), MQOTA_ERR_ARG);
}

/* ---- Records written by agents before the codec ------------------------------------------ */

static void test_legacy_progress(void **state)
{
    (void)state;
    old_progress_t o;
    memset(&o, 0, sizeof(o));
    o.magic = 0x4D515031u;
    o.release_id = 7;
    o.deployment_id = 9;
    o.image_size = 179200;
    o.chunk_size = 1024;
    o.base = 33;
    o.slot = 1;
    for (size_t i = 0; i < 32u; i++) {
        o.sha256[i] = (uint8_t)i;
    }
    old_seal(&o, sizeof(o));
    assert_int_equal(sizeof(o), 64);

    mqota_progress_t p;
    bool legacy = false;
    assert_int_equal(mqota_progress_decode((const uint8_t *)&o, sizeof(o), &p, &legacy), MQOTA_OK);
    assert_true(legacy);
    assert_int_equal(p.release_id, 7);
    assert_int_equal(p.deployment_id, 9);
    assert_int_equal(p.image_size, 179200);
    assert_int_equal(p.chunk_size, 1024);
    assert_int_equal(p.base, 33);
    assert_int_equal(p.slot, 1);
    assert_memory_equal(p.sha256, o.sha256, 32);
    assert_every_damage_refused(dec_progress, (const uint8_t *)&o, sizeof(o));

    /* rewritten in the current form, it reads back the same */
    uint8_t buf[MQOTA_PROGRESS_RECORD_LEN];
    size_t n = 0;
    mqota_progress_t q;
    assert_int_equal(mqota_progress_encode(&p, buf, sizeof(buf), &n), MQOTA_OK);
    assert_int_equal(mqota_progress_decode(buf, n, &q, &legacy), MQOTA_OK);
    assert_false(legacy);
    assert_progress_equal(&p, &q);
}

static void test_legacy_slot(void **state)
{
    (void)state;
    old_slot_record_t o;
    memset(&o, 0, sizeof(o));
    o.magic = 0x4D515331u;
    o.release_id = 42;
    strcpy(o.version, "2024.1.0");
    old_seal(&o, sizeof(o));
    assert_int_equal(sizeof(o), 44);
    mqota_slot_record_t s;
    bool legacy = false;
    assert_int_equal(mqota_slot_record_decode((const uint8_t *)&o, sizeof(o), &s, &legacy),
                     MQOTA_OK);
    assert_true(legacy);
    assert_int_equal(s.release_id, 42);
    assert_string_equal(s.version, "2024.1.0");
    assert_every_damage_refused(dec_slot, (const uint8_t *)&o, sizeof(o));
    /* an old record whose version filled all 32 bytes: read as its first 31 */
    memset(o.version, 'v', sizeof(o.version));
    old_seal(&o, sizeof(o));
    assert_int_equal(mqota_slot_record_decode((const uint8_t *)&o, sizeof(o), &s, &legacy),
                     MQOTA_OK);
    assert_int_equal(strlen(s.version), 31);
}

static void test_legacy_attempt(void **state)
{
    (void)state;
    old_attempt_record_t o;
    memset(&o, 0, sizeof(o));
    o.magic = 0x4D514232u;
    o.release_id = 5;
    o.deployment_id = 6;
    o.from_slot = 1;
    o.to_slot = 0;
    o.reason = 9;
    o.secure_version = 3;
    old_seal(&o, sizeof(o));
    assert_int_equal(sizeof(o), 24);
    mqota_attempt_t at;
    bool legacy = false;
    assert_int_equal(mqota_attempt_decode((const uint8_t *)&o, sizeof(o), &at, &legacy), MQOTA_OK);
    assert_true(legacy);
    assert_int_equal(at.release_id, 5);
    assert_int_equal(at.deployment_id, 6);
    assert_int_equal(at.from_slot, 1);
    assert_int_equal(at.to_slot, 0);
    assert_int_equal(at.reason, 9);
    assert_int_equal(at.secure_version, 3);
    assert_every_damage_refused(dec_attempt, (const uint8_t *)&o, sizeof(o));

    /* "MQB1": 20 bytes, no secure_version */
    uint8_t v1[20] = {0x31, 0x42, 0x51, 0x4D, 5, 0, 0, 0, 6, 0, 0, 0, 0, 1, 0, 0};
    reseal(v1, sizeof(v1));
    assert_int_equal(mqota_attempt_decode(v1, sizeof(v1), &at, &legacy), MQOTA_OK);
    assert_true(legacy);
    assert_int_equal(at.release_id, 5);
    assert_int_equal(at.to_slot, 1);
    assert_int_equal(at.secure_version, 0);
    assert_every_damage_refused(dec_attempt, v1, sizeof(v1));
    /* the "MQB2" magic at the "MQB1" size, and the reverse, are refused */
    memcpy(v1, "2BQM", 4);
    reseal(v1, sizeof(v1));
    assert_int_equal(mqota_attempt_decode(v1, sizeof(v1), &at, NULL), MQOTA_ERR_TYPE);
}

static void test_legacy_minsv(void **state)
{
    (void)state;
    old_minsv_record_t o = {0x4D515631u, 12, 0};
    old_seal(&o, sizeof(o));
    assert_int_equal(sizeof(o), 12);
    uint32_t v = 0;
    bool legacy = false;
    assert_int_equal(mqota_minsv_decode((const uint8_t *)&o, sizeof(o), &v, &legacy), MQOTA_OK);
    assert_true(legacy);
    assert_int_equal(v, 12);
    assert_every_damage_refused(dec_minsv, (const uint8_t *)&o, sizeof(o));
    /* a legacy record of another kind under this key */
    old_slot_record_t s;
    memset(&s, 0, sizeof(s));
    s.magic = 0x4D515631u;
    old_seal(&s, sizeof(s));
    assert_int_not_equal(mqota_minsv_decode((const uint8_t *)&s, sizeof(s), &v, NULL), MQOTA_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_progress_bytes),  cmocka_unit_test(test_slot_bytes),
        cmocka_unit_test(test_attempt_bytes),   cmocka_unit_test(test_minsv_bytes),
        cmocka_unit_test(test_header_checks),   cmocka_unit_test(test_legacy_progress),
        cmocka_unit_test(test_legacy_slot),     cmocka_unit_test(test_legacy_attempt),
        cmocka_unit_test(test_legacy_minsv),    cmocka_unit_test(test_held_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
