/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file rollout.h
 * @brief Rollouts (docs/ROLLOUTS.md): a release sent to the devices a filter selects in a
 *        canary and waves, each wave a deployment, each advanced or stopped on the persisted
 *        counts of its targets. Business logic only: the routes are http_rollout.c's.
 */
#ifndef MQOTAD_ROLLOUT_H
#define MQOTAD_ROLLOUT_H

#include <stddef.h>
#include <stdint.h>

#include "mqotad.h"
#include "rollout_plan.h"

#ifdef __cplusplus
extern "C" {
#endif

/** How often rollout__tick() evaluates the running waves, milliseconds. */
#define ROLLOUT_TICK_MS 1000

/** A controls' action (rollout__control()). */
typedef enum {
    ROLLOUT_PAUSE = 0,
    ROLLOUT_RESUME = 1,
    ROLLOUT_ABORT = 2,
    ROLLOUT_APPROVE = 3, /**< start the wave an "approval" rollout waits for */
    ROLLOUT_RETRY = 4    /**< offer a failed wave's unconfirmed devices the release again */
} rollout_action_t;

/**
 * Create a rollout from a parsed plan: select its devices (target__for_release(): the filter
 * narrowed to the release's chip), size the stages, and in one transaction store the rollout,
 * its waves, its devices and its history, and start the canary (its deployment created inside
 * that transaction).
 * @param[out] out The rollout as stored.
 * @param[out] err One sentence on failure.
 * @return 0; 400 a bad filter, an unknown group, no device matched, a plan that does not fit
 *         the devices; 404 unknown release; 500 a database error (nothing was created).
 */
int rollout__create(mqotad_t *d, const rollout_plan_t *p, db_rollout_t *out, char *err,
                    size_t err_cap);

/**
 * Pause, resume, abort or approve a rollout, with an event in its history. Resuming a rollout
 * whose current wave failed accepts that wave and starts the next one (or finishes the
 * rollout). Approving a rollout awaiting approval starts its next wave. Retrying a paused
 * rollout whose current wave failed offers the release again, in a new deployment, to that
 * wave's devices whose latest target did not succeed; the wave runs again from now (its
 * deadline too) and is judged on each device's latest target.
 * @param[out] out The rollout after the change.
 * @return 0; 404 no such rollout; 409 the action does not apply to its state (err says why);
 *         500 a database error (nothing changed).
 */
int rollout__control(mqotad_t *d, int64_t id, rollout_action_t action, db_rollout_t *out,
                     char *err, size_t err_cap);

/**
 * Cancel a running deployment (deploy__cancel()); one a rollout's wave made also records each
 * of its devices, cancelled or left to finish, in that rollout's history, with the deployment's
 * cancel as the cause, in the same transaction. The wave is then judged on its devices' latest
 * targets: a cancelled device is finished, neither confirmed nor failed.
 * @param[out] cancelled How many targets were cancelled.
 * @param[out] kept      How many were left to finish (their devices already reboot into the
 *                       release).
 * @return 0; 404 unknown deployment; 409 it is not running (err says why); 500 a database error
 *         (nothing changed).
 */
int rollout__cancel_deployment(mqotad_t *d, int64_t deployment_id, int *cancelled, int *kept,
                               char *err, size_t err_cap);

/** Evaluate the running wave of every running rollout: at most once per ROLLOUT_TICK_MS, or at
 *  once after rollout__poke(). */
void rollout__tick(mqotad_t *d, uint64_t now_ms);

/**
 * A wave's counts c (db__rollout_wave_counts()) as the rollout's health gate sees them now
 * (docs/ROLLOUTS.md "Health gate"): confirmed devices that crashed too often moved to failed,
 * those still watched out of confirmed and counted in *watching. No gate: unchanged, 0.
 * @return 0, or -1 on a database error.
 */
int rollout__health_counts(mqotad_t *d, int64_t rollout_id, int wave, db_counts_t *c,
                           uint32_t *watching);

/** A deployment's target ended (deploy.c, after its commit): the next rollout__tick() judges
 *  the waves at once instead of within ROLLOUT_TICK_MS. Cheap; no database access. */
void rollout__poke(mqotad_t *d);

#ifdef __cplusplus
}
#endif

#endif /* MQOTAD_ROLLOUT_H */
