/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file state.h
 * @brief The states of deployment targets, deployments, rollouts and rollout waves as enums,
 *        each with one table of the names the database and the API use (docs/API.md).
 *
 * Code compares the enums; the names appear only where a row is read or written (db.c) and
 * where JSON is made (http_api.c, http_rollout.c). Values are numbered by hand and never renumbered; they are
 * not stored (the database keeps the names).
 */
#ifndef MQOTAD_STATE_H
#define MQOTAD_STATE_H

#ifdef __cplusplus
extern "C" {
#endif

/** A deployment target: one device in one deployment. */
typedef enum {
    TARGET_PENDING = 0,    /**< "pending": offer published, the device has not answered */
    TARGET_ACTIVE = 1,     /**< "active": the device answered (ACK or STATE) and is updating */
    TARGET_SUCCEEDED = 2,  /**< "succeeded": the device runs the release and confirmed it */
    TARGET_FAILED = 3,     /**< "failed": the device reported a failure or rolled back */
    TARGET_SUPERSEDED = 4, /**< "superseded": a newer deployment took the device */
    TARGET_READY = 5,      /**< "ready": the device downloaded and verified the image and holds
                                it until activated (hold offers, docs/PROTOCOL.md §5.2) */
    TARGET_CANCELLED = 6,  /**< "cancelled": the deployment was cancelled (deploy__cancel())
                                before the device rebooted into the release; its offer was
                                withdrawn */
} target_state_t;

/** A deployment. */
typedef enum {
    DEPLOYMENT_RUNNING = 0,  /**< "running": a target is pending or active */
    DEPLOYMENT_FINISHED = 1, /**< "finished": every target ended */
    DEPLOYMENT_CANCELLED = 2, /**< "cancelled": cancelled (deploy__cancel()), and every target
                                   it left to finish ended */
} deployment_state_t;

/** The name of s ("pending", ...); "?" for a value outside the enum. */
const char *state__target_name(target_state_t s);

/** The target state named name. @return 0, or -1 (out untouched) for an unknown name. */
int state__target_parse(const char *name, target_state_t *out);

/** The name of s ("running", "finished", "cancelled"); "?" for a value outside the enum. */
const char *state__deployment_name(deployment_state_t s);

/** The deployment state named name. @return 0, or -1 (out untouched) for an unknown name. */
int state__deployment_parse(const char *name, deployment_state_t *out);

/** A rollout (docs/ROLLOUTS.md "States"). */
typedef enum {
    ROLLOUT_RUNNING = 0,           /**< "running": its current wave is judged, the next starts */
    ROLLOUT_PAUSED = 1,            /**< "paused": a wave failed or the operator paused it */
    ROLLOUT_AWAITING_APPROVAL = 2, /**< "awaiting-approval": the next wave waits for approve */
    ROLLOUT_ABORTED = 3,           /**< "aborted": ended for good, no wave starts */
    ROLLOUT_FINISHED = 4,          /**< "finished": every wave succeeded or was accepted */
    ROLLOUT_SCHEDULED = 5,         /**< "scheduled": created, its canary waits for "start_at" */
} rollout_state_t;

/** A rollout's wave (the canary is wave 0). */
typedef enum {
    WAVE_WAITING = 0,   /**< "waiting": not started */
    WAVE_RUNNING = 1,   /**< "running": its deployment runs, judged on its targets */
    WAVE_SUCCEEDED = 2, /**< "succeeded": enough devices confirmed */
    WAVE_FAILED = 3,    /**< "failed": too many failed, or too few confirmed */
} wave_state_t;

/** The name of s ("running", "awaiting-approval", ...); "?" for a value outside the enum. */
const char *state__rollout_name(rollout_state_t s);

/** The rollout state named name. @return 0, or -1 (out untouched) for an unknown name. */
int state__rollout_parse(const char *name, rollout_state_t *out);

/** The name of s ("waiting", ...); "?" for a value outside the enum. */
const char *state__wave_name(wave_state_t s);

/** The wave state named name. @return 0, or -1 (out untouched) for an unknown name. */
int state__wave_parse(const char *name, wave_state_t *out);

#ifdef __cplusplus
}
#endif

#endif /* MQOTAD_STATE_H */
