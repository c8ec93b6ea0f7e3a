/* SPDX-License-Identifier: Apache-2.0 */
/*
 * legacy.c - which protocol a virtual device speaks (fleet/legacy.h): by the project name of
 * the image it boots, and the table of the protocols' device sides.
 */
#include "legacy.h"

#include <string.h>

static const char *const names[] = {
    [FLEET_PROTO_NATIVE] = "mqota", [FLEET_PROTO_B64] = "b64", [FLEET_PROTO_MD5] = "md5",
    [FLEET_PROTO_PULL] = "pull", [FLEET_PROTO_TCP] = "tcp",
};

int fleet_legacy_parse(const char *name, fleet_proto_t *out)
{
    for (size_t i = 1; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(name, names[i]) == 0) {
            *out = (fleet_proto_t)i;
            return 0;
        }
    }
    return -1;
}

fleet_proto_t fleet_legacy_of_project(const char *project, fleet_proto_t dflt)
{
    fleet_proto_t p;
    if (strcmp(project, "legacy") == 0) return dflt;
    if (strncmp(project, "legacy-", 7) == 0 && fleet_legacy_parse(project + 7, &p) == 0) return p;
    return FLEET_PROTO_NATIVE;
}

const fleet_legacy_ops_t *fleet_legacy_ops(fleet_proto_t p)
{
    switch (p) {
    case FLEET_PROTO_B64: return &fleet_legacy_b64_ops;
    case FLEET_PROTO_MD5: return &fleet_legacy_md5_ops;
    case FLEET_PROTO_PULL: return &fleet_legacy_pull_ops;
    case FLEET_PROTO_TCP: return &fleet_legacy_tcp_ops;
    default: return NULL; /* native; pull and tcp join here with their device sides */
    }
}

/* ---- helpers of the protocols' device sides ---- */

#include <stdio.h>
#include <sys/socket.h>

#include "fleet.h"
#include "mqota_posix/vdev.h"

int fleet_legacy_publish(fleet_dev_t *d, const char *topic, const void *p, size_t n, int qos,
                         bool retain)
{
    if (d->mosq == NULL || d->conn != DEV_CONNECTED) return -1;
    return mosquitto_publish(d->mosq, NULL, topic, (int)n, p, qos, retain) == MOSQ_ERR_SUCCESS
               ? 0 : -1;
}

void fleet_legacy_restart(fleet_dev_t *d)
{
    d->reboot_due = true;
    if (d->vdev != NULL) (void)vdev_set_reset_reason(d->vdev, MQOTA_RESET_SOFTWARE, NULL);
}

void fleet_legacy_drop_link(fleet_dev_t *d, const char *why)
{
    if (d->mosq == NULL || d->conn != DEV_CONNECTED) return;
    mqh_log(MQH_INFO, "%s: drops its link (%s)", d->id, why);
    shutdown(mosquitto_socket(d->mosq), SHUT_RDWR);
}

void fleet_legacy_maybe_cut(fleet_dev_t *d, uint32_t done, uint32_t total)
{
    const fleet_opts_t *o = &d->fleet->opt;
    if (total == 0 || d->cuts_done >= o->cut_count || d->conn != DEV_CONNECTED) return;
    if ((double)done / (double)total >= o->cut_at[d->cuts_done]) {
        d->cuts_done++;
        mqh_log(MQH_INFO, "%s: fault: cutting the link at %u of %u bytes", d->id,
                (unsigned)done, (unsigned)total);
        shutdown(mosquitto_socket(d->mosq), SHUT_RDWR);
    }
}

bool fleet_legacy_corrupt_now(fleet_dev_t *d, uint32_t n)
{
    if (d->fleet->opt.legacy_corrupt <= 0 || d->corrupted ||
        (long)n != d->fleet->opt.legacy_corrupt)
        return false;
    d->corrupted = true;
    mqh_log(MQH_INFO, "%s: fault: chunk %u arrives with a flipped bit (--legacy-corrupt)", d->id,
            (unsigned)n);
    return true;
}

int fleet_legacy_finish_image(fleet_dev_t *d, uint8_t slot, uint32_t size)
{
    int rc = d->vplat.slot_end(d->vplat.ctx, slot, size);
    if (rc == 0) rc = d->vplat.slot_set_boot(d->vplat.ctx, slot);
    if (rc != 0)
        mqh_log(MQH_WARN, "%s: the downloaded image (%u bytes) does not verify: %s", d->id,
                (unsigned)size, mqota_strerror((mqota_status_t)rc));
    return rc == 0 ? 0 : -1;
}
