/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mqota_health.c - the HEALTH codec (docs/PROTOCOL.md §16): reset reason, crash text length,
 * RSSI, a reserved byte, four u32 counters and the crash text. Pure functions, no heap, no I/O.
 *
 * The device's half: the encoder. The decoder, the reset reasons' names and the crash predicate,
 * which only mqotad calls, are in common/mqota_health_host.c (library mqota_codec_host).
 *
 * The crash text is printable ASCII only (0x20..0x7E): what an ESP-IDF panic reason is, valid
 * UTF-8 as it stands, and unable to carry a terminal escape sequence to whoever prints it.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mqota/mqota_health.h"
#include "mqota/mqota_proto.h"
#include "mqota_proto_internal.h"

/* Whether c may be in a crash text: printable ASCII. Shared with the decoder
 * (common/mqota_health_host.c) so encoder and decoder agree. */
int health__crash_byte_ok(uint8_t c)
{
    return c >= 0x20u && c <= 0x7Eu;
}

/* docs/PROTOCOL.md §16: the four counters after the first 8 bytes. */
static const field_t health_counter_fields[] = {
    FIELD(F_U32, mqota_health_t, uptime_s),
    FIELD(F_U32, mqota_health_t, boot_count),
    FIELD(F_U32, mqota_health_t, min_free_heap),
    FIELD(F_U32, mqota_health_t, reconnects),
};

mqota_status_t mqota_health_encode(const mqota_health_t *h, uint8_t *buf, size_t cap,
                                   size_t *out_len)
{
    size_t n = 0;

    if (h == NULL || buf == NULL || out_len == NULL || h->reset_reason > MQOTA_RESET_MAX) {
        return MQOTA_ERR_ARG;
    }
    while (n <= MQOTA_HEALTH_CRASH_MAX && h->crash[n] != '\0') {
        if (!health__crash_byte_ok((uint8_t)h->crash[n])) {
            return MQOTA_ERR_ARG;
        }
        n++;
    }
    if (n > MQOTA_HEALTH_CRASH_MAX) {
        return MQOTA_ERR_ARG; /* not terminated within the array */
    }
    if (cap < MQOTA_HEALTH_FIXED_LEN + n) {
        return MQOTA_ERR_NO_SPACE;
    }
    proto__put_header(buf, MQOTA_MSG_HEALTH);
    buf[4] = h->reset_reason;
    buf[5] = (uint8_t)n;
    buf[6] = (uint8_t)h->rssi;
    buf[7] = 0u; /* reserved */
    (void)proto__put_fields(buf, 8u, h, health_counter_fields, COUNT_OF(health_counter_fields));
    memcpy(buf + MQOTA_HEALTH_FIXED_LEN, h->crash, n);
    *out_len = MQOTA_HEALTH_FIXED_LEN + n;
    return MQOTA_OK;
}
