/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file state.h
 * @brief The states of deployment targets and deployments (and, next, rollouts) as enums, each
 *        with one table of the names the database and the API use (docs/API.md).
 *
 * Code compares the enums; the names appear only where a row is read or written (db.c) and
 * where JSON is made (http_api.c). Values are numbered by hand and never renumbered; they are
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
} target_state_t;

/** A deployment. */
typedef enum {
    DEPLOYMENT_RUNNING = 0,  /**< "running": a target is pending or active */
    DEPLOYMENT_FINISHED = 1, /**< "finished": every target ended */
} deployment_state_t;

/** The name of s ("pending", ...); "?" for a value outside the enum. */
const char *state__target_name(target_state_t s);

/** The target state named name. @return 0, or -1 (out untouched) for an unknown name. */
int state__target_parse(const char *name, target_state_t *out);

/** The name of s ("running", "finished"); "?" for a value outside the enum. */
const char *state__deployment_name(deployment_state_t s);

/** The deployment state named name. @return 0, or -1 (out untouched) for an unknown name. */
int state__deployment_parse(const char *name, deployment_state_t *out);

#ifdef __cplusplus
}
#endif

#endif /* MQOTAD_STATE_H */
