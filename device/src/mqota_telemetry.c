/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mqota_telemetry.c - the TELEMETRY codec (docs/PROTOCOL.md §15): a timestamp and 1..16
 * samples of (name, float64 value). Pure functions, no heap, no I/O, no floating-point
 * arithmetic: a value travels as the 8 bytes of its IEEE-754 binary64 pattern, little-endian,
 * and is judged (NaN and infinities refused) by its exponent bits alone.
 *
 * The device only encodes; mqotad's decoder is common/mqota_telemetry_host.c, outside libmqota,
 * and judges names with mqota_telemetry_name_valid() from here.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mqota/mqota_proto.h"
#include "mqota/mqota_telemetry.h"
#include "mqota_le.h"
#include "mqota_proto_internal.h"

/* Exponent bits of a binary64 pattern: all ones is NaN or an infinity. */
#define F64_EXP_MASK 0x7FF0000000000000u

static int name_byte_ok(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.';
}

/* Whether the n bytes at p are a valid name: 1..MQOTA_TELEMETRY_NAME_MAX of [a-z0-9_.]. */
static int name_ok(const uint8_t *p, size_t n)
{
    if (n == 0u || n > MQOTA_TELEMETRY_NAME_MAX) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (!name_byte_ok(p[i])) {
            return 0;
        }
    }
    return 1;
}

int mqota_telemetry_name_valid(const char *name)
{
    size_t n = 0;

    if (name == NULL) {
        return 0;
    }
    /* Reads at most one byte past the longest name: stops at the NUL or the first bad byte. */
    while (n <= MQOTA_TELEMETRY_NAME_MAX && name[n] != '\0') {
        n++;
    }
    return name_ok((const uint8_t *)name, n);
}

mqota_status_t mqota_telemetry_encode(uint64_t ts_ms, const mqota_sample_t *samples, size_t n,
                                      uint8_t *buf, size_t cap, size_t *out_len)
{
    size_t pos = MQOTA_TELEMETRY_FIXED_LEN;

    if (samples == NULL || buf == NULL || out_len == NULL) {
        return MQOTA_ERR_ARG;
    }
    if (n == 0u || n > MQOTA_TELEMETRY_SAMPLES) {
        return MQOTA_ERR_RANGE;
    }
    if (cap < MQOTA_TELEMETRY_FIXED_LEN) {
        return MQOTA_ERR_NO_SPACE;
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t bits;
        size_t len;

        if (!mqota_telemetry_name_valid(samples[i].name)) {
            return MQOTA_ERR_ARG;
        }
        memcpy(&bits, &samples[i].value, sizeof(bits));
        if ((bits & F64_EXP_MASK) == F64_EXP_MASK) {
            return MQOTA_ERR_ARG;
        }
        len = strlen(samples[i].name);
        if (cap - pos < 1u + len + 8u) {
            return MQOTA_ERR_NO_SPACE;
        }
        buf[pos] = (uint8_t)len;
        memcpy(buf + pos + 1u, samples[i].name, len);
        le__put_u64(buf + pos + 1u + len, bits);
        pos += 1u + len + 8u;
    }
    proto__put_header(buf, MQOTA_MSG_TELEMETRY);
    le__put_u64(buf + 4, ts_ms);
    buf[12] = (uint8_t)n;
    *out_len = pos;
    return MQOTA_OK;
}

