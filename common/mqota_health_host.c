/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mqota_health_host.c - the HEALTH decoder (docs/PROTOCOL.md §16) and the reset reasons' names,
 * the server's half of device/src/mqota_health.c: mqotad decodes what a device's agent
 * encoded. Not in libmqota: a device only encodes. Library mqota_codec_host.
 *
 * The decoder is all-or-nothing: it fills a local copy and writes the caller's struct only on
 * MQOTA_OK. A crash byte is judged by the encoder's own rule, health__crash_byte_ok().
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mqota/mqota_health.h"
#include "mqota/mqota_proto.h"
#include "mqota_le.h"
#include "mqota_proto_internal.h"

/* Names of mqota_reset_reason_t, by value: packed, each ended by a NUL. */
static const char reset_names[] = "unknown\0power-on\0external\0software\0panic\0int-wdt\0"
                                  "task-wdt\0wdt\0deep-sleep\0brownout\0sdio\0usb\0jtag\0"
                                  "efuse\0power-glitch\0cpu-lockup";

const char *mqota_reset_reason_name(uint8_t reason)
{
    const char *p = reset_names;
    if (reason > MQOTA_RESET_MAX) {
        return reset_names;
    }
    for (uint8_t i = 0; i < reason; i++) {
        p += strlen(p) + 1u;
    }
    return p;
}

int mqota_reset_is_crash(uint8_t reason)
{
    return reason == MQOTA_RESET_PANIC || reason == MQOTA_RESET_INT_WDT ||
           reason == MQOTA_RESET_TASK_WDT || reason == MQOTA_RESET_WDT;
}

mqota_status_t mqota_health_decode(const uint8_t *buf, size_t len, mqota_health_t *msg)
{
    mqota_health_t m;
    reader_t r;
    const uint8_t *p;
    mqota_status_t st;

    if (buf == NULL || msg == NULL) {
        return MQOTA_ERR_ARG;
    }
    st = proto__begin_decode(buf, len, (mqota_msg_type_t)MQOTA_MSG_HEALTH, &r); /* header (§3) */
    if (st != MQOTA_OK) {
        return st;
    }
    p = proto__take(&r, MQOTA_HEALTH_FIXED_LEN - MQOTA_HEADER_LEN);
    if (p == NULL) {
        return r.err;
    }
    memset(&m, 0, sizeof(m));
    m.reset_reason = p[0];
    m.rssi = (int8_t)p[2];
    m.uptime_s = le__get_u32(p + 4);
    m.boot_count = le__get_u32(p + 8);
    m.min_free_heap = le__get_u32(p + 12);
    m.reconnects = le__get_u32(p + 16);
    if (m.reset_reason > MQOTA_RESET_MAX || p[1] > MQOTA_HEALTH_CRASH_MAX) {
        return MQOTA_ERR_MALFORMED;
    }
    const uint8_t *crash = proto__take(&r, p[1]);
    if (crash == NULL) {
        return r.err;
    }
    for (size_t i = 0; i < p[1]; i++) {
        if (!health__crash_byte_ok(crash[i])) {
            return MQOTA_ERR_MALFORMED;
        }
    }
    memcpy(m.crash, crash, p[1]);
    st = proto__reader_end(&r);
    if (st == MQOTA_OK) {
        *msg = m;
    }
    return st;
}
