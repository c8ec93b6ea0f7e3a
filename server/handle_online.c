/* SPDX-License-Identifier: Apache-2.0 */
/*
 * handle_online.c - a device's online topic: "online" when it connects, "offline" as its last
 * will (both retained). Offline pauses its transfer; online lets queued commands go.
 */
#include <string.h>

#include "command.h"
#include "devlog.h"
#include "handle.h"
#include "mqotad.h"
#include "transfer.h"

/* "online" / "offline" (ASCII) on the device's online topic. */
void handle__online(mqotad_t *d, const char *device_id, const uint8_t *payload, size_t len)
{
    bool online;
    if (len == 6 && memcmp(payload, "online", 6) == 0) {
        online = true;
    } else if (len == 7 && memcmp(payload, "offline", 7) == 0) {
        online = false;
    } else {
        if (len > 0)
            devlog__warn(d, device_id, "device %s sent '%.*s' on its online topic; expected "
                         "online or offline", device_id, (int)(len > 32 ? 32 : len),
                         (const char *)payload);
        return;
    }
    db__device_set_online(d->db, device_id, online, mqh_unix_now());
    if (!online) transfer__device_offline(d, device_id);
    mqh_log(MQH_DEBUG, "device %s is %s", device_id, online ? "online" : "offline");
    if (online) command__device_ready(d, device_id);
}
