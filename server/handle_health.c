/* SPDX-License-Identifier: Apache-2.0 */
/*
 * handle_health.c - a device's health report (docs/PROTOCOL.md §16): decoded and checked
 * here, kept by health.c.
 */
#include "devlog.h"
#include "handle.h"
#include "health.h"
#include "mqotad.h"

void handle__health(mqotad_t *d, const char *device_id, const uint8_t *payload, size_t len)
{
    mqota_health_t h;
    mqota_status_t st;
    if (len == 0) return; /* a cleared retained report */
    st = mqota_health_decode(payload, len, &h);
    if (st != MQOTA_OK) {
        devlog__warn(d, device_id, "device %s sent a health report that cannot be decoded "
                     "(%s, %zu bytes); ignored", device_id, mqota_strerror(st), len);
        return;
    }
    health__accept(d, device_id, &h);
}
