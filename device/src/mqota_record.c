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

#define TAG_PROGRESS "MQPR"
#define TAG_SLOT "MQSL"
#define TAG_ATTEMPT "MQBT"
#define TAG_MINSV "MQSV"

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

static void set_legacy(bool *legacy, bool v)
{
    if (legacy != NULL) {
        *legacy = v;
    }
}

/* ---------------------------------------------------------------------------------------- */
/* "mq.prog"                                                                                  */

mqota_status_t mqota_progress_encode(const mqota_progress_t *p, uint8_t *buf, size_t cap,
                                     size_t *out_len)
{
    mqota_status_t st = begin(p, buf, cap, out_len, TAG_PROGRESS, MQOTA_PROGRESS_RECORD_LEN);
    if (st != MQOTA_OK) {
        return st;
    }
    le__put_u32(buf + 8, p->release_id);
    le__put_u32(buf + 12, p->deployment_id);
    le__put_u32(buf + 16, p->image_size);
    le__put_u32(buf + 20, p->chunk_size);
    le__put_u32(buf + 24, p->base);
    buf[28] = p->slot; /* 29..31 reserved, 0 */
    memcpy(buf + 32, p->sha256, MQOTA_SHA256_LEN);
    finish(buf, MQOTA_PROGRESS_RECORD_LEN, out_len);
    return MQOTA_OK;
}

/* Fields of both forms sit at the same offsets relative to `f`, the first field after the
 * header (current) or the magic (legacy); only the slot's reserved bytes differ. */
static void progress_fields(const uint8_t *f, mqota_progress_t *p)
{
    p->release_id = le__get_u32(f);
    p->deployment_id = le__get_u32(f + 4);
    p->image_size = le__get_u32(f + 8);
    p->chunk_size = le__get_u32(f + 12);
    p->base = le__get_u32(f + 16);
    p->slot = f[20];
    memcpy(p->sha256, f + 24, MQOTA_SHA256_LEN);
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
        progress_fields(buf + 4, p);
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
    progress_fields(buf + 8, p);
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

mqota_status_t mqota_attempt_encode(const mqota_attempt_t *at, uint8_t *buf, size_t cap,
                                    size_t *out_len)
{
    mqota_status_t st = begin(at, buf, cap, out_len, TAG_ATTEMPT, MQOTA_ATTEMPT_RECORD_LEN);
    if (st != MQOTA_OK) {
        return st;
    }
    le__put_u32(buf + 8, at->release_id);
    le__put_u32(buf + 12, at->deployment_id);
    buf[16] = at->from_slot;
    buf[17] = at->to_slot;
    buf[18] = at->reason; /* 19 reserved, 0 */
    le__put_u32(buf + 20, at->secure_version);
    finish(buf, MQOTA_ATTEMPT_RECORD_LEN, out_len);
    return MQOTA_OK;
}

/* Fields common to every form, from `f`, the first field after the header or magic. */
static void attempt_fields(const uint8_t *f, mqota_attempt_t *at)
{
    at->release_id = le__get_u32(f);
    at->deployment_id = le__get_u32(f + 4);
    at->from_slot = f[8];
    at->to_slot = f[9];
    at->reason = f[10];
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
        memset(at, 0, sizeof(*at));
        attempt_fields(buf + 4, at);
        at->secure_version = v1 ? 0u : le__get_u32(buf + 16);
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
    attempt_fields(buf + 8, at);
    at->secure_version = le__get_u32(buf + 20);
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
