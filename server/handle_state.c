/* SPDX-License-Identifier: Apache-2.0 */
/*
 * handle_state.c - a device's STATE (its retained announcement on mqota/v1/dev/<id>/state):
 * decoded and stored here, then deploy.c moves the device's running target along.
 */
#include <stdio.h>
#include <string.h>

#include "command.h"
#include "deploy.h"
#include "devlog.h"
#include "handle.h"
#include "mqota/mqota_proto.h"
#include "mqotad.h"
#include "mqota_utf8.h"

/*
 * Copy a STATE string into a device field as valid UTF-8 (docs/PROTOCOL.md: a device's text
 * that is not UTF-8 is kept with U+FFFD for each bad byte, so the API's JSON stays valid and
 * the device stays listed). Returns the number of bytes replaced.
 */
static size_t store_text(char *out, size_t cap, const char *in)
{
    return mqh_utf8_repair(in, strlen(in), out, cap);
}

/*
 * Store the device's STATE and let its running deployment target follow. Undecodable
 * payloads are logged once and change nothing. The device row and the target change commit
 * together; the retained offer is cleared after the commit when a target ended.
 */
void handle__state(mqotad_t *d, const char *device_id, const uint8_t *payload, size_t len)
{
    mqota_state_msg_t m;
    if (len == 0) return; /* a cleared retained state */
    mqota_status_t st = mqota_state_decode(payload, len, &m);
    if (st != MQOTA_OK) {
        devlog__warn(d, device_id, "device %s sent a state message that cannot be decoded "
                     "(%s, %zu bytes); ignored", device_id, mqota_strerror(st), len);
        return;
    }
    db_device_t prev, dev;
    int have_prev = db__device_get(d->db, device_id, &prev);
    if (have_prev < 0) return;
    int64_t now = mqh_unix_now();
    memset(&dev, 0, sizeof(dev));
    snprintf(dev.id, sizeof(dev.id), "%s", device_id);
    dev.chip_id = m.chip_id;
    const char *version = m.release_version[0] ? m.release_version : m.version;
    size_t bad = store_text(dev.project, sizeof(dev.project), m.project) +
                 store_text(dev.version, sizeof(dev.version), version) +
                 store_text(dev.descriptor_version, sizeof(dev.descriptor_version), m.version) +
                 store_text(dev.idf_ver, sizeof(dev.idf_ver), m.idf_ver);
    if (bad > 0)
        devlog__warn(d, device_id, "device %s sent a state whose project, version or idf "
                     "strings are not valid UTF-8 (%zu bytes); stored with U+FFFD in their "
                     "place", device_id, bad);
    dev.slot = m.running_slot;
    dev.state = m.state;
    dev.reason = m.reason;
    dev.progress = m.progress;
    dev.image_size = m.image_size;
    dev.running_release = m.running_release;
    dev.target_release = m.target_release;
    dev.boot_count = m.boot_count;
    dev.max_chunk = m.max_chunk;
    dev.max_window = m.max_window;
    dev.caps = m.caps;
    dev.online = have_prev == 0 ? prev.online : false;
    dev.first_seen = have_prev == 0 && prev.first_seen ? prev.first_seen : now;
    dev.last_seen = now;

    db_target_t finished;
    int ended = 0;
    if (db__begin(d->db) != 0) return;
    if (db__device_put(d->db, &dev) != 0 ||
        (ended = deploy__on_state(d, &dev, have_prev == 0 ? &prev : NULL, &m, &finished)) < 0 ||
        db__commit(d->db) != 0) {
        db__rollback(d->db);
        return;
    }
    mqh_log(MQH_DEBUG, "device %s: %s, progress %u/%u, running release %u", device_id,
            mqota_state_name((mqota_update_state_t)m.state), m.progress, m.image_size,
            m.running_release);
    if (ended == 1) deploy__after_finish(d, &finished);
    if (have_prev == 0 && prev.protocol != DB_PROTO_MQOTA) /* a legacy device went native */
        deploy__legacy_native(d, &dev);
    command__device_ready(d, device_id); /* queued commands, now that its caps are known */
}
