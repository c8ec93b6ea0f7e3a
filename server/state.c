/* SPDX-License-Identifier: Apache-2.0 */
/*
 * state.c - one name table per state enum of state.h, in enum order; the names are those the
 * database and the API have always used.
 */
#include "state.h"

#include <stddef.h>
#include <string.h>

static const char *const target_names[] = {
    [TARGET_PENDING] = "pending",
    [TARGET_ACTIVE] = "active",
    [TARGET_SUCCEEDED] = "succeeded",
    [TARGET_FAILED] = "failed",
    [TARGET_SUPERSEDED] = "superseded",
    [TARGET_READY] = "ready",
    [TARGET_CANCELLED] = "cancelled",
};

static const char *const deployment_names[] = {
    [DEPLOYMENT_RUNNING] = "running",
    [DEPLOYMENT_FINISHED] = "finished",
    [DEPLOYMENT_CANCELLED] = "cancelled",
};

static const char *const rollout_names[] = {
    [ROLLOUT_RUNNING] = "running",
    [ROLLOUT_PAUSED] = "paused",
    [ROLLOUT_AWAITING_APPROVAL] = "awaiting-approval",
    [ROLLOUT_ABORTED] = "aborted",
    [ROLLOUT_FINISHED] = "finished",
    [ROLLOUT_SCHEDULED] = "scheduled",
};

static const char *const wave_names[] = {
    [WAVE_WAITING] = "waiting",
    [WAVE_RUNNING] = "running",
    [WAVE_SUCCEEDED] = "succeeded",
    [WAVE_FAILED] = "failed",
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Index of name in a table of n names, or -1. */
static int lookup(const char *const *names, size_t n, const char *name)
{
    for (size_t i = 0; name && i < n; i++)
        if (names[i] && strcmp(names[i], name) == 0) return (int)i;
    return -1;
}

const char *state__target_name(target_state_t s)
{
    return (unsigned)s < COUNT(target_names) && target_names[s] ? target_names[s] : "?";
}

int state__target_parse(const char *name, target_state_t *out)
{
    int i = lookup(target_names, COUNT(target_names), name);
    if (i < 0) return -1;
    *out = (target_state_t)i;
    return 0;
}

const char *state__deployment_name(deployment_state_t s)
{
    return (unsigned)s < COUNT(deployment_names) && deployment_names[s] ? deployment_names[s]
                                                                          : "?";
}

int state__deployment_parse(const char *name, deployment_state_t *out)
{
    int i = lookup(deployment_names, COUNT(deployment_names), name);
    if (i < 0) return -1;
    *out = (deployment_state_t)i;
    return 0;
}

const char *state__rollout_name(rollout_state_t s)
{
    return (unsigned)s < COUNT(rollout_names) && rollout_names[s] ? rollout_names[s] : "?";
}

int state__rollout_parse(const char *name, rollout_state_t *out)
{
    int i = lookup(rollout_names, COUNT(rollout_names), name);
    if (i < 0) return -1;
    *out = (rollout_state_t)i;
    return 0;
}

const char *state__wave_name(wave_state_t s)
{
    return (unsigned)s < COUNT(wave_names) && wave_names[s] ? wave_names[s] : "?";
}

int state__wave_parse(const char *name, wave_state_t *out)
{
    int i = lookup(wave_names, COUNT(wave_names), name);
    if (i < 0) return -1;
    *out = (wave_state_t)i;
    return 0;
}
