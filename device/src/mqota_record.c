/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mqota_record.c - the agent's persisted records, encoded field by field (docs/PROTOCOL.md §12).
 *
 * Pure: bytes in, struct out, no I/O, no state. Each record is
 *
 *   tag (4 ASCII bytes) | version (u8) | reserved (u8, 0) | length (u16) | fields | crc32
 *
 * all integers little-endian, the CRC-32 over every byte before it. The decoders also accept
 * the raw C structs that agents wrote before this codec (recognised by their exact size and
 * magic, read as the little-endian, unpadded layout GCC gave them) and say so through *legacy,
 * so that the agent rewrites them once in the current form; with MQOTA_CFG_LEGACY_RECORDS 0
 * (the ESP-IDF component's default) that part is left out.
 *
 * The agent's store calls the codec by record kind (record__encode(), record__decode()); the
 * per-record functions of mqota_record.h are common/mqota_record_host.c, for tests and tools.
 */
#include "mqota/mqota_config_defaults.h"
#include "mqota/mqota_record.h"

#include <string.h>

#include "mqota_le.h"
#include "mqota_noinline.h"
#include "mqota_proto_internal.h"

#define TAG_PROGRESS "MQPR"
#define TAG_SLOT "MQSL"
#define TAG_ATTEMPT "MQBT"
#define TAG_MINSV "MQSV"
#define TAG_HELD "MQHD"

/* Legacy raw-struct records: magic (a little-endian u32) and exact size of each. */
#define LEGACY_PROGRESS_MAGIC 0x4D515031u /* "MQP1" */
#define LEGACY_PROGRESS_LEN 64u
#define LEGACY_SLOT_MAGIC 0x4D515331u     /* "MQS1" */
#define LEGACY_SLOT_LEN 44u
#define LEGACY_ATTEMPT_MAGIC 0x4D514232u  /* "MQB2" */
#define LEGACY_ATTEMPT_LEN 24u
#define LEGACY_ATTEMPT_V1_MAGIC 0x4D514231u /* "MQB1": no secure_version */
#define LEGACY_ATTEMPT_V1_LEN 20u
#define LEGACY_MINSV_MAGIC 0x4D515631u    /* "MQV1" */
#define LEGACY_MINSV_LEN 12u

#define CRC_LEN 4u
#define STR_LEN (MQOTA_STR_MAX + 1u) /* a string field: NUL-terminated, zero-padded */

/* The version's bytes travel as they are, as a SHA-256 does (same length). */
#define F_STR_FIXED F_SHA256
_Static_assert(MQOTA_STR_MAX + 1u == MQOTA_SHA256_LEN, "a version field is walked as 32 bytes");

/*
 * One record kind: its tag and length, its fields after the header (mqota_proto_internal.h's
 * table, read by the same walker as the messages), whether its last field is a string, and the
 * raw-struct forms of older agents (§12.1): length and magic, the fields from byte 4 at the
 * same offsets as after the header; "mq.boot" has a second, shorter one (MQB1, without its last
 * field). One encoder and one decoder serve every record.
 */
typedef struct {
    char tag[4];
    uint8_t len;          /* bytes of the current form */
    uint8_t n;            /* fields */
    bool str;             /* the last field is a char[STR_LEN] string */
    const field_t *fields;
#if MQOTA_CFG_LEGACY_RECORDS
    uint8_t legacy_len;   /* 0: no legacy form */
    uint8_t legacy1_len;  /* 0: no second legacy form */
    uint32_t legacy_magic;
    uint32_t legacy1_magic;
#endif
} record_t;

#if MQOTA_CFG_LEGACY_RECORDS
#define LEGACY(len, len1, magic, magic1) , len, len1, magic, magic1
#else
#define LEGACY(len, len1, magic, magic1)
#endif

static bool crc_ok(const uint8_t *buf, size_t len)
{
    return le__get_u32(buf + len - CRC_LEN) == mqota_crc32(0u, buf, len - CRC_LEN);
}

/* Check a current-form record: tag, version, reserved byte, length field, CRC, in that order
 * (so that a record from a newer agent is reported as a version, not a length, mismatch). */
static mqota_status_t check_current(const uint8_t *buf, size_t len, const char *tag,
                                    size_t want)
{
    if (len < MQOTA_RECORD_HEADER_LEN + CRC_LEN) {
        return MQOTA_ERR_MALFORMED;
    }
    if (memcmp(buf, tag, 4u) != 0) {
        return MQOTA_ERR_TYPE;
    }
    if (buf[4] != MQOTA_RECORD_VERSION) {
        return MQOTA_ERR_VERSION;
    }
    if (buf[5] != 0u || le__get_u16(buf + 6) != len || len != want) {
        return MQOTA_ERR_MALFORMED;
    }
    return crc_ok(buf, len) ? MQOTA_OK : MQOTA_ERR_CRC;
}

NOINLINE static void set_legacy(bool *legacy, bool v)
{
    if (legacy != NULL) {
        *legacy = v;
    }
}

/* Encode the record at s: header, fields, the string's bytes after its NUL zeroed, CRC-32 of
 * every byte before it. A string without a NUL in its STR_LEN bytes is MQOTA_ERR_ARG. */
static mqota_status_t rec_encode(const record_t *r, const void *s, uint8_t *buf, size_t cap,
                                 size_t *out_len)
{
    if (s == NULL || buf == NULL || out_len == NULL) {
        return MQOTA_ERR_ARG;
    }
    if (cap < r->len) {
        return MQOTA_ERR_NO_SPACE;
    }
    memcpy(buf, r->tag, 4u);
    buf[4] = (uint8_t)MQOTA_RECORD_VERSION;
    buf[5] = 0u;
    le__put_u16(buf + 6, r->len);
    (void)proto__put_fields(buf, MQOTA_RECORD_HEADER_LEN, s, r->fields, r->n);
    if (r->str) {
        uint8_t *v = buf + r->len - CRC_LEN - STR_LEN;
        uint8_t *nul = memchr(v, 0, STR_LEN);
        if (nul == NULL) {
            return MQOTA_ERR_ARG;
        }
        memset(nul, 0, (size_t)(v + STR_LEN - nul));
    }
    le__put_u32(buf + r->len - CRC_LEN, mqota_crc32(0u, buf, r->len - CRC_LEN));
    *out_len = r->len;
    return MQOTA_OK;
}

/*
 * Decode a record into the `size`-byte struct at s, which is written only on MQOTA_OK. The
 * current form is checked (check_current()), its fields read, and then encoded again: a record
 * that does not come back byte for byte (a reserved byte that is not 0, a string without its
 * NUL or with bytes after it) is MQOTA_ERR_MALFORMED. A legacy form (§12.1) is recognised by
 * its exact length, then its magic (else MQOTA_ERR_TYPE) and CRC.
 */
static mqota_status_t rec_decode(const record_t *r, const uint8_t *buf, size_t len, void *s,
                                 size_t size, bool *legacy)
{
    union {
        mqota_progress_t progress;
        mqota_slot_record_t slot;
        mqota_attempt_t attempt;
        mqota_held_t held;
        uint32_t minsv;
    } t;
    uint8_t again[MQOTA_RECORD_MAX_LEN];
    size_t n = 0;
    size_t pos = MQOTA_RECORD_HEADER_LEN;
    size_t fields = r->n;
    mqota_status_t st;
    bool old = false;

    if (buf == NULL || s == NULL) {
        return MQOTA_ERR_ARG;
    }
#if MQOTA_CFG_LEGACY_RECORDS
    if (len != 0u && (len == r->legacy_len || len == r->legacy1_len)) {
        bool v1 = len == r->legacy1_len;
        if (le__get_u32(buf) != (v1 ? r->legacy1_magic : r->legacy_magic)) {
            return MQOTA_ERR_TYPE;
        }
        if (!crc_ok(buf, len)) {
            return MQOTA_ERR_CRC;
        }
        old = true;
        pos = 4u; /* the fields follow the magic */
        fields -= v1 ? 1u : 0u; /* "MQB1": no secure_version (read as 0) */
    }
#endif
    if (!old && (st = check_current(buf, len, r->tag, r->len)) != MQOTA_OK) {
        return st;
    }
    memset(&t, 0, sizeof(t));
    reader_t rd = {buf, len, pos, MQOTA_OK};
    proto__get_fields(&rd, &t, r->fields, fields);
    if (old && r->str) {
        /* the old agent zero-filled the version; read up to its first NUL, at most
         * MQOTA_STR_MAX bytes, as the current form has it */
        uint8_t *v = (uint8_t *)&t + r->fields[r->n - 1u].offset;
        v[MQOTA_STR_MAX] = 0u;
        memset(v + strlen((const char *)v), 0, STR_LEN - strlen((const char *)v));
    }
    if (!old && (rec_encode(r, &t, again, sizeof(again), &n) != MQOTA_OK ||
                 memcmp(again, buf, len) != 0)) {
        return MQOTA_ERR_MALFORMED;
    }
    memcpy(s, &t, size);
    set_legacy(legacy, old);
    return MQOTA_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* The records                                                                                */

/* "mq.prog": the slot's 3 reserved bytes are 0 in the current form. */
static const field_t progress_fields[] = {
    FIELD(F_U32, mqota_progress_t, release_id),
    FIELD(F_U32, mqota_progress_t, deployment_id),
    FIELD(F_U32, mqota_progress_t, image_size),
    FIELD(F_U32, mqota_progress_t, chunk_size),
    FIELD(F_U32, mqota_progress_t, base),
    FIELD(F_U8, mqota_progress_t, slot),
    RESERVED(F_RSV8),
    RESERVED(F_RSV8),
    RESERVED(F_RSV8),
    FIELD(F_SHA256, mqota_progress_t, sha256),
};

/* "mq.slot0", "mq.slot1": the version's 32 bytes, NUL-terminated, the rest 0. */
static const field_t slot_fields[] = {
    FIELD(F_U32, mqota_slot_record_t, release_id),
    FIELD(F_STR_FIXED, mqota_slot_record_t, version),
};

/* "mq.boot": the byte after reason is reserved; the "MQB1" form ends before secure_version. */
static const field_t attempt_fields[] = {
    FIELD(F_U32, mqota_attempt_t, release_id),
    FIELD(F_U32, mqota_attempt_t, deployment_id),
    FIELD(F_U8, mqota_attempt_t, from_slot),
    FIELD(F_U8, mqota_attempt_t, to_slot),
    FIELD(F_U8, mqota_attempt_t, reason),
    RESERVED(F_RSV8),
    FIELD(F_U32, mqota_attempt_t, secure_version),
};

/* "mq.minsv": the uint32_t itself. */
static const field_t minsv_fields[] = {{F_U32, 0u}};

/* "mq.held": the slot's 3 reserved bytes are 0; no legacy form. */
static const field_t held_fields[] = {
    FIELD(F_U32, mqota_held_t, release_id),
    FIELD(F_U32, mqota_held_t, deployment_id),
    FIELD(F_U32, mqota_held_t, image_size),
    FIELD(F_U8, mqota_held_t, slot),
    RESERVED(F_RSV8),
    RESERVED(F_RSV8),
    RESERVED(F_RSV8),
    FIELD(F_SHA256, mqota_held_t, sha256),
};

/* Indexed by record__kind_t (mqota_proto_internal.h). */
static const record_t records[] = {
    [REC_PROGRESS] = {TAG_PROGRESS, MQOTA_PROGRESS_RECORD_LEN, COUNT_OF(progress_fields), false,
                      progress_fields LEGACY(LEGACY_PROGRESS_LEN, 0u, LEGACY_PROGRESS_MAGIC, 0u)},
    [REC_SLOT] = {TAG_SLOT, MQOTA_SLOT_RECORD_LEN, COUNT_OF(slot_fields), true,
                  slot_fields LEGACY(LEGACY_SLOT_LEN, 0u, LEGACY_SLOT_MAGIC, 0u)},
    [REC_ATTEMPT] = {TAG_ATTEMPT, MQOTA_ATTEMPT_RECORD_LEN, COUNT_OF(attempt_fields), false,
                     attempt_fields LEGACY(LEGACY_ATTEMPT_LEN, LEGACY_ATTEMPT_V1_LEN,
                                           LEGACY_ATTEMPT_MAGIC, LEGACY_ATTEMPT_V1_MAGIC)},
    [REC_MINSV] = {TAG_MINSV, MQOTA_MINSV_RECORD_LEN, COUNT_OF(minsv_fields), false,
                   minsv_fields LEGACY(LEGACY_MINSV_LEN, 0u, LEGACY_MINSV_MAGIC, 0u)},
    [REC_HELD] = {TAG_HELD, MQOTA_HELD_RECORD_LEN, COUNT_OF(held_fields), false,
                  held_fields LEGACY(0u, 0u, 0u, 0u)},
};

mqota_status_t record__encode(record__kind_t kind, const void *s, uint8_t *buf, size_t cap,
                              size_t *out_len)
{
    return rec_encode(&records[kind], s, buf, cap, out_len);
}

mqota_status_t record__decode(record__kind_t kind, const uint8_t *buf, size_t len, void *s,
                              bool *legacy)
{
    static const uint8_t size[] = {
        [REC_PROGRESS] = sizeof(mqota_progress_t), [REC_SLOT] = sizeof(mqota_slot_record_t),
        [REC_ATTEMPT] = sizeof(mqota_attempt_t),   [REC_MINSV] = sizeof(uint32_t),
        [REC_HELD] = sizeof(mqota_held_t)};
    return rec_decode(&records[kind], buf, len, s, size[kind], legacy);
}
