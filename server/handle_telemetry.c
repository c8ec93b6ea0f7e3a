/* SPDX-License-Identifier: Apache-2.0 */
/*
 * handle_telemetry.c - a device's application telemetry (docs/PROTOCOL.md §15): decoded and
 * checked here, kept by telemetry.c within its rate, name and retention limits.
 */
#include "devlog.h"
#include "handle.h"
#include "mqotad.h"
#include "telemetry.h"

void handle__telemetry(mqotad_t *d, const char *device_id, const uint8_t *payload, size_t len)
{
    mqota_telemetry_t m;
    mqota_status_t st = mqota_telemetry_decode(payload, len, &m);
    if (st != MQOTA_OK) {
        d->telemetry_refused++;
        devlog__warn(d, device_id, "device %s sent a telemetry message that cannot be decoded "
                     "(%s, %zu bytes); ignored", device_id, mqota_strerror(st), len);
        return;
    }
    telemetry__accept(d, device_id, &m);
}
