/* SPDX-License-Identifier: Apache-2.0 */
/*
 * handle_ack.c - a device's ACK on mqota/v1/dev/<id>/ack (docs/PROTOCOL.md): which chunks of
 * a release it has written and how many it accepts in flight.
 *
 * The ACK is decoded here. A device with a live transfer for the ACK's release goes straight
 * to the engine (a hash lookup: this runs for every ACK). Otherwise policy decides: deploy.c
 * finds the device's running target for that release (and marks it active), and only then
 * does the engine build a transfer; an ACK for a release without one is ignored.
 */
#include "deploy.h"
#include "devlog.h"
#include "handle.h"
#include "mqota/mqota_proto.h"
#include "mqotad.h"
#include "transfer.h"

void handle__ack(mqotad_t *d, const char *device_id, const uint8_t *payload, size_t len)
{
    mqota_ack_t a;
    mqota_status_t st = mqota_ack_decode(payload, len, &a);
    if (st != MQOTA_OK) {
        devlog__warn(d, device_id, "device %s sent an ACK that cannot be decoded (%s); "
                     "ignored", device_id, mqota_strerror(st));
        return;
    }
    uint64_t now = mqh_now_ms();
    mqh_log(MQH_DEBUG, "ACK from %s: release %u base %u sack %u+%016llx high %u window %u flags 0x%02x",
            device_id, a.release_id, a.base, a.sack_base, (unsigned long long)a.sack, a.high,
            a.window, a.flags);
    transfer_t *t = transfer__find(d, device_id, a.release_id);
    if (!t) {
        db_target_t target;
        if (deploy__target_for_ack(d, device_id, a.release_id, &target) != 0) {
            mqh_log(MQH_DEBUG, "ACK from %s for release %u: no running deployment; ignored",
                    device_id, a.release_id);
            return;
        }
        if (a.flags & MQOTA_ACK_FLAG_COMPLETE) return; /* nothing left to send */
        if (transfer__start(d, &target, now, &t) != 0) return;
    }
    transfer__ack(d, t, &a, now);
}
