/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mqota_telemetry_host.c - the TELEMETRY decoder (docs/PROTOCOL.md §15), the server's half of
 * device/src/mqota_telemetry.c: mqotad decodes what a device's mqota_agent_publish_telemetry()
 * encoded. Not in libmqota: a device only encodes. Library mqota_codec_host.
 *
 * All-or-nothing like the decoders of mqota_proto.c: it fills a local copy and writes the
 * caller's struct only on MQOTA_OK. A name is judged by the device's own rule,
 * mqota_telemetry_name_valid(), so the encoder and the decoder agree on it.
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

mqota_status_t mqota_telemetry_decode(const uint8_t *buf, size_t len, mqota_telemetry_t *msg)
{
    mqota_telemetry_t m;
    reader_t r;
    const uint8_t *p;
    mqota_status_t st;

    if (buf == NULL || msg == NULL) {
        return MQOTA_ERR_ARG;
    }
    st = proto__begin_decode(buf, len, (mqota_msg_type_t)MQOTA_MSG_TELEMETRY, &r); /* header (§3) */
    if (st != MQOTA_OK) {
        return st;
    }
    memset(&m, 0, sizeof(m));
    p = proto__take(&r, 9u);
    if (p == NULL) {
        return r.err;
    }
    m.ts_ms = le__get_u64(p);
    m.count = p[8];
    if (m.count == 0u || m.count > MQOTA_TELEMETRY_SAMPLES) {
        return MQOTA_ERR_MALFORMED;
    }
    for (unsigned i = 0; i < m.count; i++) {
        const uint8_t *n = proto__take(&r, 1u);
        const uint8_t *name;
        uint64_t bits;

        if (n == NULL) {
            return r.err;
        }
        if (n[0] == 0u || n[0] > MQOTA_TELEMETRY_NAME_MAX) {
            return MQOTA_ERR_MALFORMED;
        }
        name = proto__take(&r, (size_t)n[0] + 8u);
        if (name == NULL) {
            return r.err;
        }
        memcpy(m.samples[i].name, name, n[0]);
        m.samples[i].name[n[0]] = '\0';
        /* a NUL among the bytes shortens the string: refused like any byte outside the set */
        if (strlen(m.samples[i].name) != n[0] || !mqota_telemetry_name_valid(m.samples[i].name)) {
            return MQOTA_ERR_MALFORMED;
        }
        bits = le__get_u64(name + n[0]);
        if ((bits & F64_EXP_MASK) == F64_EXP_MASK) {
            return MQOTA_ERR_MALFORMED;
        }
        memcpy(&m.samples[i].value, &bits, sizeof(bits));
    }
    st = proto__reader_end(&r);
    if (st == MQOTA_OK) {
        *msg = m;
    }
    return st;
}

