/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file deploy.h
 * @brief Deployments: create them, publish offers, and move targets along as devices report.
 */
#ifndef MQOTAD_DEPLOY_H
#define MQOTAD_DEPLOY_H

#include <stddef.h>
#include <stdint.h>

#include "mqota/mqota_proto.h"
#include "mqotad.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Result of deploy__create(); maps to an HTTP status in the API layer. */
typedef enum {
    DEPLOY_OK = 0,
    DEPLOY_BAD_REQUEST = 1, /**< no devices, both or neither of devices/all */
    DEPLOY_NOT_FOUND = 2,   /**< unknown release or device */
    DEPLOY_CONFLICT = 3,    /**< a device's chip differs from the release's */
    DEPLOY_ERROR = 4        /**< database or I/O failure */
} deploy_result_t;

/**
 * Register deploy.c's handlers of the transfer engine's events (its progress and stream byte
 * counters are stored into the targets' and deployments' rows here). Call once after
 * transfer__init(). Returns 0.
 */
int deploy__init(mqotad_t *d);

/**
 * Create a deployment of release_id to the named devices (or, with all, every known device of
 * the release's chip). Validates everything before writing; then, in one transaction, creates
 * the deployment and its pending targets and supersedes older unfinished targets of these
 * devices. Publishes each device's offer afterwards. err receives one sentence on failure.
 */
deploy_result_t deploy__create(mqotad_t *d, int64_t release_id, const char *const *devices,
                               size_t n_devices, bool all, db_deployment_t *out, char *err,
                               size_t err_cap);

/**
 * deploy__create() with the activation mode: with hold, every offer carries
 * MQOTA_OFFER_FLAG_HOLD (docs/PROTOCOL.md §5.2): devices download and verify the image and hold
 * it (target "ready") until deploy__activate(). A device whose last STATE lacks MQOTA_CAP_HOLD
 * (an older agent would ignore the flag and reboot at once) gets no offer at all until it is
 * activated (its target stays pending). Same results as deploy__create().
 */
deploy_result_t deploy__create_opts(mqotad_t *d, int64_t release_id, const char *const *devices,
                                    size_t n_devices, bool all, bool hold, db_deployment_t *out,
                                    char *err, size_t err_cap);

/**
 * Activate held targets of a running deployment: clear MQOTA_OFFER_FLAG_HOLD in their rows and
 * publish their offers again without it, so that each device switches to the image (at once
 * if it holds it, else as soon as it is verified).
 * @param devices    Only these devices (n_devices > 0), else every held target.
 * @param only_ready Only targets in state ready (the device holds the verified image), and
 *                   those whose offer was withheld (their device cannot hold: it downloads
 *                   and reboots now): what a maintenance window activates, so no device
 *                   still downloading reboots after the window closed.
 * @param[out] activated How many targets were activated (0 is not an error).
 * @param[out] err   One sentence on failure.
 * @return 0; 404 unknown deployment, or a named device not in it; 409 the deployment is
 *         finished, or a named device's target is not held (already activated or ended);
 *         500 database error (targets stored before it stay activated).
 */
int deploy__activate(mqotad_t *d, int64_t deployment_id, const char *const *devices,
                     size_t n_devices, bool only_ready, int *activated, char *err,
                     size_t err_cap);

/**
 * Move the device's running target along after a STATE message (called inside the caller's
 * transaction, after the device row was stored). prev is the device row before this message
 * (NULL for a new device). Returns 1 and fills finished if the target ended, 0 if not, -1
 * on a database error.
 */
int deploy__on_state(mqotad_t *d, const db_device_t *dev, const db_device_t *prev,
                     const mqota_state_msg_t *msg, db_target_t *finished);

/** After a target ended (committed): clear its retained offer and drop its transfer. */
void deploy__after_finish(mqotad_t *d, const db_target_t *t);

/** Mark a pending target active (first sign of life from its device). In its own
 *  transaction. */
int deploy__target_started(mqotad_t *d, db_target_t *t);

/**
 * The running (pending or active) target of device_id for release_id, which an ACK of that
 * device asks chunks for; a pending one becomes active here (the device answered its offer,
 * in its own transaction).
 * @param[out] out The target (state active) on 0.
 * @return 0; 1 when the device has no running target for release_id (or release_id is 0);
 *         -1 on a database error.
 */
int deploy__target_for_ack(mqotad_t *d, const char *device_id, int64_t release_id,
                           db_target_t *out);

/** Set the deployment finished if none of its targets is pending, active or ready (inside
 *  the caller's transaction, if any). @return 0 or -1. */
int deploy__maybe_finish(mqotad_t *d, int64_t deployment_id);

/** deploy_legacy.c: register the policy's handlers of the legacy framework's events (a legacy
 *  target started, failed, a legacy device reported its version). Call after legacy__init(). */
int deploy__legacy_init(mqotad_t *d);

/** deploy_legacy.c: a device registered as legacy sent its first native STATE (stored): its
 *  running legacy target succeeds if it runs the target's version (the migration), and the
 *  legacy framework lets the device go. */
void deploy__legacy_native(mqotad_t *d, const db_device_t *dev);

/** deploy_legacy.c: after mqotad (re)connected, start again the job of every legacy device
 *  whose target is running (active: mqotad restarted mid-transfer) and has none. */
void deploy__legacy_resume(mqotad_t *d);

/** Publish the offer of every pending target again (after a reconnect). */
void deploy__republish_offers(mqotad_t *d);

#ifdef __cplusplus
}
#endif

#endif /* MQOTAD_DEPLOY_H */
