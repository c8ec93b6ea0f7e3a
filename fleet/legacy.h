/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file legacy.h
 * @brief Virtual legacy devices (docs/LEGACY.md): devices of the fleet that speak a home-made
 *        update protocol instead of running the mqota agent.
 *
 * Which protocol a device speaks is decided at every boot by the image it boots: a project
 * name (esp_app_desc_t.project_name) "legacy-b64", "legacy-md5", "legacy-pull" or
 * "legacy-tcp" speaks that protocol; "legacy" speaks --protocol's; any other image runs the
 * native agent. So a legacy device updated to an image carrying the agent comes back native
 * (the migration), under the same device id. Make legacy images with
 * `mqota-image-variant --project legacy-md5 --version 1.0 IN OUT`.
 *
 * A legacy device keeps the fleet's connection handling (device.c: libmosquitto on the epoll
 * loop, reconnects, reboots through the virtual bootloader) and replaces the agent by its
 * protocol's fleet_legacy_ops_t. It writes the real virtual flash through the POSIX port's
 * slot hooks (d->vplat) and restarts through dev_reboot().
 */
#ifndef MQOTA_FLEET_LEGACY_H
#define MQOTA_FLEET_LEGACY_H

#include <mosquitto.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct fleet_dev;
struct fleet_opts;

/** What a device speaks (fleet_opts_t.protocol, fleet_dev_t.proto). */
typedef enum {
    FLEET_PROTO_NATIVE = 0, /**< the mqota agent */
    FLEET_PROTO_B64 = 1,    /**< protocol 1 (fleet/legacy_b64.c) */
    FLEET_PROTO_MD5 = 2,    /**< protocol 2 (fleet/legacy_md5.c) */
    FLEET_PROTO_PULL = 3,   /**< protocol 3 (fleet/legacy_pull.c) */
    FLEET_PROTO_TCP = 4     /**< protocol 4 (fleet/legacy_tcp.c) */
} fleet_proto_t;

/** One protocol's device side. Every hook gets a device booted into that protocol. */
typedef struct fleet_legacy_ops {
    /** After the bootloader ran: make d->legacy from the running image. 0, or -1 (logged). */
    int (*boot)(struct fleet_dev *d);
    /** The link is up: subscribe, announce. */
    void (*on_connect)(struct fleet_dev *d);
    /** A message on a subscribed topic. */
    void (*on_message)(struct fleet_dev *d, const struct mosquitto_message *m);
    /** Every fleet tick (TICK_MS) while powered. */
    void (*tick)(struct fleet_dev *d, uint64_t now_ms);
    /** Power off: free d->legacy. */
    void (*power_off)(struct fleet_dev *d);
} fleet_legacy_ops_t;

/** The protocol named name ("b64", "md5", "pull", "tcp"). 0, or -1. */
int fleet_legacy_parse(const char *name, fleet_proto_t *out);
/** The protocol a device booting an image of project speaks (see the file comment). */
fleet_proto_t fleet_legacy_of_project(const char *project, fleet_proto_t dflt);
/** The device side of p, or NULL (native, or not built in). */
const fleet_legacy_ops_t *fleet_legacy_ops(fleet_proto_t p);

/* ---- helpers every protocol's device side uses (legacy.c) ---- */
/** Publish on the device's link (QoS, retain). 0, or -1 (not connected). */
int fleet_legacy_publish(struct fleet_dev *d, const char *topic, const void *p, size_t n, int qos,
                         bool retain);
/** Restart the device after this loop turn, as esp_restart() (queued publishes go first). */
void fleet_legacy_restart(struct fleet_dev *d);
/** Drop the link now without DISCONNECT; what is queued is lost (a modem losing carrier). */
void fleet_legacy_drop_link(struct fleet_dev *d, const char *why);
/** --cut-at: drop the link once at each fraction the download (done of total bytes) passes. */
void fleet_legacy_maybe_cut(struct fleet_dev *d, uint32_t done, uint32_t total);
/** --legacy-corrupt N: whether chunk n (1-based) of this boot's download arrives damaged
 *  (once per boot); the caller flips a bit in it. */
bool fleet_legacy_corrupt_now(struct fleet_dev *d, uint32_t n);
/** Flash the downloaded image: slot_end (esp_ota_end's checks) and slot_set_boot on the
 *  inactive slot. 0, or -1 (logged). */
int fleet_legacy_finish_image(struct fleet_dev *d, uint8_t slot, uint32_t size);

extern const fleet_legacy_ops_t fleet_legacy_b64_ops;
extern const fleet_legacy_ops_t fleet_legacy_md5_ops;
extern const fleet_legacy_ops_t fleet_legacy_pull_ops; /* legacy_pull.c */
extern const fleet_legacy_ops_t fleet_legacy_tcp_ops;  /* legacy_tcp.c */

#ifdef __cplusplus
}
#endif

#endif /* MQOTA_FLEET_LEGACY_H */
