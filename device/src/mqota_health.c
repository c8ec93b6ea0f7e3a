/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mqota_health.c - the HEALTH codec (docs/PROTOCOL.md §16): reset reason, crash text length,
 * RSSI, a reserved byte, four u32 counters and the crash text. Pure functions, no heap, no I/O.
 *
 * The crash text is printable ASCII only (0x20..0x7E): what an ESP-IDF panic reason is, valid
 * UTF-8 as it stands, and unable to carry a terminal escape sequence to whoever prints it.
 * The decoder is all-or-nothing: it fills a local copy and writes the caller's struct only on
 * MQOTA_OK.
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

static int crash_byte_ok(uint8_t c)
{
    return c >= 0x20u && c <= 0x7Eu;
}

mqota_status_t mqota_health_encode(const mqota_health_t *h, uint8_t *buf, size_t cap,
                                   size_t *out_len)
{
    size_t n = 0;

    if (h == NULL || buf == NULL || out_len == NULL || h->reset_reason > MQOTA_RESET_MAX) {
        return MQOTA_ERR_ARG;
    }
    while (n <= MQOTA_HEALTH_CRASH_MAX && h->crash[n] != '\0') {
        if (!crash_byte_ok((uint8_t)h->crash[n])) {
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
    buf[0] = MQOTA_PROTO_MAGIC0;
    buf[1] = MQOTA_PROTO_MAGIC1;
    buf[2] = MQOTA_PROTO_VERSION;
    buf[3] = MQOTA_MSG_HEALTH;
    buf[4] = h->reset_reason;
    buf[5] = (uint8_t)n;
    buf[6] = (uint8_t)h->rssi;
    buf[7] = 0u; /* reserved */
    le__put_u32(buf + 8, h->uptime_s);
    le__put_u32(buf + 12, h->boot_count);
    le__put_u32(buf + 16, h->min_free_heap);
    le__put_u32(buf + 20, h->reconnects);
    memcpy(buf + MQOTA_HEALTH_FIXED_LEN, h->crash, n);
    *out_len = MQOTA_HEALTH_FIXED_LEN + n;
    return MQOTA_OK;
}

mqota_status_t mqota_health_decode(const uint8_t *buf, size_t len, mqota_health_t *msg)
{
    mqota_health_t m;
    mqota_msg_type_t type;
    reader_t r = {buf, len, MQOTA_HEADER_LEN, MQOTA_OK};
    const uint8_t *p;
    mqota_status_t st;

    if (buf == NULL || msg == NULL) {
        return MQOTA_ERR_ARG;
    }
    st = mqota_msg_type(buf, len, &type); /* length, magic, version (§3) */
    if (st != MQOTA_OK) {
        return st;
    }
    if ((uint8_t)type != MQOTA_MSG_HEALTH) {
        return MQOTA_ERR_TYPE;
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
        if (!crash_byte_ok(crash[i])) {
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
