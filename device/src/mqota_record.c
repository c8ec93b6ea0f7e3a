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
 * so that the agent rewrites them once in the current form.
 */
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

/* Check the output arguments of an encoder and write the header. Returns MQOTA_OK when the
 * caller may write its fields at buf + MQOTA_RECORD_HEADER_LEN. */
static mqota_status_t begin(const void *rec, uint8_t *buf, size_t cap, size_t *out_len,
                            const char *tag, size_t len)
{
    if (rec == NULL || buf == NULL || out_len == NULL) {
        return MQOTA_ERR_ARG;
    }
    if (cap < len) {
        return MQOTA_ERR_NO_SPACE;
    }
    memset(buf, 0, len);
    memcpy(buf, tag, 4u);
    buf[4] = (uint8_t)MQOTA_RECORD_VERSION;
    buf[5] = 0u;
    le__put_u16(buf + 6, (uint16_t)len);
    return MQOTA_OK;
}

/* Seal a record of len bytes with the CRC-32 of the bytes before the CRC. */
static void finish(uint8_t *buf, size_t len, size_t *out_len)
{
    le__put_u32(buf + len - CRC_LEN, mqota_crc32(0u, buf, len - CRC_LEN));
    *out_len = len;
}

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

/* Check a legacy raw-struct record whose length the caller has matched. */
static mqota_status_t check_legacy(const uint8_t *buf, size_t len, uint32_t magic)
{
    if (le__get_u32(buf) != magic) {
        return MQOTA_ERR_TYPE;
    }
    return crc_ok(buf, len) ? MQOTA_OK : MQOTA_ERR_CRC;
}

NOINLINE static void set_legacy(bool *legacy, bool v)
{
    if (legacy != NULL) {
        *legacy = v;
    }
}

/* ---------------------------------------------------------------------------------------- */
/* "mq.prog"                                                                                  */

/* The fields of "mq.prog" after the header (current form) or the magic (legacy form), at the
 * same offsets in both; the slot's 3 reserved bytes are 0 in the current form. */
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

/* Read the fields of a record whose length and CRC are checked (so nothing is missing) into
 * the struct at s, from buf[pos]. */
static void get_checked(const uint8_t *buf, size_t len, size_t pos, void *s, const field_t *f,
                        size_t n)
{
    reader_t r = {buf, len, pos, MQOTA_OK};
    proto__get_fields(&r, s, f, n);
}

mqota_status_t mqota_progress_encode(const mqota_progress_t *p, uint8_t *buf, size_t cap,
                                     size_t *out_len)
{
    mqota_status_t st = begin(p, buf, cap, out_len, TAG_PROGRESS, MQOTA_PROGRESS_RECORD_LEN);
    if (st != MQOTA_OK) {
        return st;
    }
    (void)proto__put_fields(buf, MQOTA_RECORD_HEADER_LEN, p, progress_fields,
                            COUNT_OF(progress_fields));
    finish(buf, MQOTA_PROGRESS_RECORD_LEN, out_len);
    return MQOTA_OK;
}

mqota_status_t mqota_progress_decode(const uint8_t *buf, size_t len, mqota_progress_t *p,
                                     bool *legacy)
{
    mqota_status_t st;
    if (buf == NULL || p == NULL) {
        return MQOTA_ERR_ARG;
    }
    if (len == LEGACY_PROGRESS_LEN) {
        if ((st = check_legacy(buf, len, LEGACY_PROGRESS_MAGIC)) != MQOTA_OK) {
            return st;
        }
        memset(p, 0, sizeof(*p));
        get_checked(buf, len, 4u, p, progress_fields, COUNT_OF(progress_fields));
        set_legacy(legacy, true);
        return MQOTA_OK;
    }
    if ((st = check_current(buf, len, TAG_PROGRESS, MQOTA_PROGRESS_RECORD_LEN)) != MQOTA_OK) {
        return st;
    }
    if (buf[29] != 0u || buf[30] != 0u || buf[31] != 0u) {
        return MQOTA_ERR_MALFORMED;
    }
    memset(p, 0, sizeof(*p));
    get_checked(buf, len, MQOTA_RECORD_HEADER_LEN, p, progress_fields, COUNT_OF(progress_fields));
    set_legacy(legacy, false);
    return MQOTA_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* "mq.slot0", "mq.slot1"                                                                     */

mqota_status_t mqota_slot_record_encode(const mqota_slot_record_t *s, uint8_t *buf, size_t cap,
                                        size_t *out_len)
{
    mqota_status_t st;
    size_t n;
    if (s == NULL || memchr(s->version, '\0', sizeof(s->version)) == NULL) {
        return MQOTA_ERR_ARG;
    }
    st = begin(s, buf, cap, out_len, TAG_SLOT, MQOTA_SLOT_RECORD_LEN);
    if (st != MQOTA_OK) {
        return st;
    }
    le__put_u32(buf + 8, s->release_id);
    n = strlen(s->version);
    memcpy(buf + 12, s->version, n); /* the rest of the 32 bytes stays 0 */
    finish(buf, MQOTA_SLOT_RECORD_LEN, out_len);
    return MQOTA_OK;
}

mqota_status_t mqota_slot_record_decode(const uint8_t *buf, size_t len, mqota_slot_record_t *s,
                                        bool *legacy)
{
    mqota_status_t st;
    const uint8_t *v;
    const uint8_t *nul;
    if (buf == NULL || s == NULL) {
        return MQOTA_ERR_ARG;
    }
    if (len == LEGACY_SLOT_LEN) {
        size_t n = 0;
        if ((st = check_legacy(buf, len, LEGACY_SLOT_MAGIC)) != MQOTA_OK) {
            return st;
        }
        memset(s, 0, sizeof(*s));
        s->release_id = le__get_u32(buf + 4);
        /* The old agent zero-filled the struct; read at most MQOTA_STR_MAX bytes anyway. */
        while (n < MQOTA_STR_MAX && buf[8 + n] != 0u) {
            s->version[n] = (char)buf[8 + n];
            n++;
        }
        set_legacy(legacy, true);
        return MQOTA_OK;
    }
    if ((st = check_current(buf, len, TAG_SLOT, MQOTA_SLOT_RECORD_LEN)) != MQOTA_OK) {
        return st;
    }
    v = buf + 12;
    nul = memchr(v, 0, MQOTA_STR_MAX + 1u);
    if (nul == NULL) {
        return MQOTA_ERR_MALFORMED;
    }
    for (const uint8_t *q = nul; q < v + MQOTA_STR_MAX + 1u; q++) {
        if (*q != 0u) {
            return MQOTA_ERR_MALFORMED;
        }
    }
    memset(s, 0, sizeof(*s));
    s->release_id = le__get_u32(buf + 8);
    memcpy(s->version, v, (size_t)(nul - v));
    set_legacy(legacy, false);
    return MQOTA_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* "mq.boot"                                                                                  */

/* The fields of "mq.boot" after the header (current form) or the magic (legacy forms), at the
 * same offsets in all; the "MQB1" form ends before secure_version. */
static const field_t attempt_fields[] = {
    FIELD(F_U32, mqota_attempt_t, release_id),
    FIELD(F_U32, mqota_attempt_t, deployment_id),
    FIELD(F_U8, mqota_attempt_t, from_slot),
    FIELD(F_U8, mqota_attempt_t, to_slot),
    FIELD(F_U8, mqota_attempt_t, reason),
    RESERVED(F_RSV8),
    FIELD(F_U32, mqota_attempt_t, secure_version),
};

mqota_status_t mqota_attempt_encode(const mqota_attempt_t *at, uint8_t *buf, size_t cap,
                                    size_t *out_len)
{
    mqota_status_t st = begin(at, buf, cap, out_len, TAG_ATTEMPT, MQOTA_ATTEMPT_RECORD_LEN);
    if (st != MQOTA_OK) {
        return st;
    }
    (void)proto__put_fields(buf, MQOTA_RECORD_HEADER_LEN, at, attempt_fields,
                            COUNT_OF(attempt_fields));
    finish(buf, MQOTA_ATTEMPT_RECORD_LEN, out_len);
    return MQOTA_OK;
}

mqota_status_t mqota_attempt_decode(const uint8_t *buf, size_t len, mqota_attempt_t *at,
                                    bool *legacy)
{
    mqota_status_t st;
    if (buf == NULL || at == NULL) {
        return MQOTA_ERR_ARG;
    }
    if (len == LEGACY_ATTEMPT_LEN || len == LEGACY_ATTEMPT_V1_LEN) {
        bool v1 = len == LEGACY_ATTEMPT_V1_LEN;
        st = check_legacy(buf, len, v1 ? LEGACY_ATTEMPT_V1_MAGIC : LEGACY_ATTEMPT_MAGIC);
        if (st != MQOTA_OK) {
            return st;
        }
        memset(at, 0, sizeof(*at)); /* "MQB1": secure_version 0 */
        get_checked(buf, len, 4u, at, attempt_fields, COUNT_OF(attempt_fields) - (v1 ? 1u : 0u));
        set_legacy(legacy, true);
        return MQOTA_OK;
    }
    if ((st = check_current(buf, len, TAG_ATTEMPT, MQOTA_ATTEMPT_RECORD_LEN)) != MQOTA_OK) {
        return st;
    }
    if (buf[19] != 0u) {
        return MQOTA_ERR_MALFORMED;
    }
    memset(at, 0, sizeof(*at));
    get_checked(buf, len, MQOTA_RECORD_HEADER_LEN, at, attempt_fields, COUNT_OF(attempt_fields));
    set_legacy(legacy, false);
    return MQOTA_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* "mq.minsv"                                                                                 */

mqota_status_t mqota_minsv_encode(uint32_t min_secure_version, uint8_t *buf, size_t cap,
                                  size_t *out_len)
{
    mqota_status_t st = begin(buf, buf, cap, out_len, TAG_MINSV, MQOTA_MINSV_RECORD_LEN);
    if (st != MQOTA_OK) {
        return st;
    }
    le__put_u32(buf + 8, min_secure_version);
    finish(buf, MQOTA_MINSV_RECORD_LEN, out_len);
    return MQOTA_OK;
}

mqota_status_t mqota_minsv_decode(const uint8_t *buf, size_t len, uint32_t *min_secure_version,
                                  bool *legacy)
{
    mqota_status_t st;
    if (buf == NULL || min_secure_version == NULL) {
        return MQOTA_ERR_ARG;
    }
    if (len == LEGACY_MINSV_LEN) {
        if ((st = check_legacy(buf, len, LEGACY_MINSV_MAGIC)) != MQOTA_OK) {
            return st;
        }
        *min_secure_version = le__get_u32(buf + 4);
        set_legacy(legacy, true);
        return MQOTA_OK;
    }
    if ((st = check_current(buf, len, TAG_MINSV, MQOTA_MINSV_RECORD_LEN)) != MQOTA_OK) {
        return st;
    }
    *min_secure_version = le__get_u32(buf + 8);
    set_legacy(legacy, false);
    return MQOTA_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* "mq.held"                                                                                  */

/* The fields of "mq.held" after the header; the slot's 3 reserved bytes are 0. */
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

mqota_status_t mqota_held_encode(const mqota_held_t *h, uint8_t *buf, size_t cap,
                                 size_t *out_len)
{
    mqota_status_t st = begin(h, buf, cap, out_len, TAG_HELD, MQOTA_HELD_RECORD_LEN);
    if (st != MQOTA_OK) {
        return st;
    }
    (void)proto__put_fields(buf, MQOTA_RECORD_HEADER_LEN, h, held_fields,
                            COUNT_OF(held_fields));
    finish(buf, MQOTA_HELD_RECORD_LEN, out_len);
    return MQOTA_OK;
}

mqota_status_t mqota_held_decode(const uint8_t *buf, size_t len, mqota_held_t *h)
{
    mqota_status_t st;
    if (buf == NULL || h == NULL) {
        return MQOTA_ERR_ARG;
    }
    if ((st = check_current(buf, len, TAG_HELD, MQOTA_HELD_RECORD_LEN)) != MQOTA_OK) {
        return st;
    }
    if (buf[21] != 0u || buf[22] != 0u || buf[23] != 0u) {
        return MQOTA_ERR_MALFORMED;
    }
    memset(h, 0, sizeof(*h));
    get_checked(buf, len, MQOTA_RECORD_HEADER_LEN, h, held_fields, COUNT_OF(held_fields));
    return MQOTA_OK;
}
