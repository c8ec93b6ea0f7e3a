/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file rollout_plan.h
 * @brief The pure parts of rollouts (docs/ROLLOUTS.md): a POST /api/v1/rollouts body parsed
 *        and judged, wave sizes from counts and percents, and the decision a wave's counts
 *        call for. Bytes and numbers in, a struct or one sentence out: no server, database
 *        or network, so they are unit-tested (tests/unit/test_rollout_plan.c).
 */
#ifndef MQOTAD_ROLLOUT_PLAN_H
#define MQOTAD_ROLLOUT_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Waves after the canary, at most. */
#define ROLLOUT_WAVES_MAX 20
/** Stages of a plan: the canary and its waves. */
#define ROLLOUT_STAGES_MAX (ROLLOUT_WAVES_MAX + 1)
/** Longest per-device deadline, seconds (30 days). */
#define ROLLOUT_DEADLINE_MAX_S 2592000
/** Deadline when the body names none, seconds (one hour). */
#define ROLLOUT_DEADLINE_DEFAULT_S 3600
/** Longest filter text a rollout keeps, bytes. */
#define ROLLOUT_FILTER_MAX 1024

/** Largest "max_transfers" (devices transferring at once across a rollout). */
#define ROLLOUT_MAX_TRANSFERS_MAX 1000000
/** Largest "jitter_s", seconds (one day). */
#define ROLLOUT_JITTER_MAX_S 86400
/** Latest "start_at", Unix seconds (9999-12-31T23:59:59Z). */
#define ROLLOUT_START_AT_MAX 253402300799LL
/** Most entries of "from_versions". */
#define ROLLOUT_FROM_VERSIONS_MAX 16
/** Longest version in "from_versions", bytes (a device's version field). */
#define ROLLOUT_VERSION_MAX 32
/** Largest "failure_budget". */
#define ROLLOUT_FAILURE_BUDGET_MAX 100

/** One stage's size as the plan gives it. */
typedef struct {
    bool percent;    /**< value is a percent (1..100) of the selected devices, else a count */
    uint32_t value;  /**< count >= 1, or percent 1..100 */
} rollout_size_t;

/** A daily maintenance window (docs/ROLLOUTS.md "Maintenance window"): minutes after 00:00
 *  UTC; end < start crosses midnight; start == end is refused. */
typedef struct {
    bool set;           /**< the plan has a window */
    uint16_t start_min; /**< 0..1439: devices may reboot from here... */
    uint16_t end_min;   /**< 0..1439: ...until here (excluded) */
} rollout_window_t;

/** A parsed plan (docs/ROLLOUTS.md "The model"). */
typedef struct {
    int64_t release_id;
    char filter[ROLLOUT_FILTER_MAX + 1];
    rollout_size_t stages[ROLLOUT_STAGES_MAX]; /**< [0] the canary, then the waves */
    size_t n_stages;                           /**< 2..ROLLOUT_STAGES_MAX */
    uint32_t success_percent;                  /**< 1..100 */
    uint32_t error_percent;                    /**< 0..100 */
    uint32_t deadline_s;                       /**< 1..ROLLOUT_DEADLINE_MAX_S */
    bool abort_on_error;                       /**< "on_error": "abort" (else pause) */
    bool approval;                             /**< "approval": true: each wave after the
                                                    canary waits for the operator's approve */
    /* pacing, schedule and eligibility (all optional, 0 / empty / false when absent) */
    uint32_t max_transfers;   /**< "max_transfers": devices transferring at once; 0: no cap */
    uint32_t jitter_s;        /**< "jitter_s": offers spread over 0..jitter_s s of a wave */
    int64_t start_at;         /**< "start_at": Unix s the canary starts; 0: at creation */
    char from_versions[ROLLOUT_FROM_VERSIONS_MAX][ROLLOUT_VERSION_MAX + 1]; /**< "from_versions" */
    size_t n_from_versions;   /**< 0: a device on any version is taken */
    uint32_t failure_budget;  /**< "failure_budget": skip devices that failed it this often */
    bool continuous;          /**< "continuous": devices matching later join the current wave */
    bool health;                               /**< "health" given: the health gate is on */
    uint32_t health_crashes;                   /**< "health"."crashes": crash resets a
                                                    confirmed device may have, 0..1000 */
    uint32_t health_within_s;                  /**< "health"."within_s": seconds after its
                                                    confirm they are counted in, 1..
                                                    ROLLOUT_DEADLINE_MAX_S */
    rollout_window_t window;                   /**< "window": {"start": "HH:MM", "end":
                                                    "HH:MM"} UTC; devices download outside it
                                                    and reboot only inside it */
} rollout_plan_t;

/** Most crash resets a health gate may allow ("health"."crashes"). */
#define ROLLOUT_HEALTH_CRASHES_MAX 1000

/**
 * Parse a rollout request body: {"release": N, "filter": "...", "canary": 1 | "10%",
 * "waves": [count | "P%", ...], "success_percent": S, "error_percent": E, "deadline_s": D,
 * "on_error": "pause" | "abort", "approval": true | false, "max_transfers": N, "jitter_s": S,
 * "start_at": unix seconds | "YYYY-MM-DDTHH:MM:SSZ", "from_versions": ["1.0", ...],
 * "failure_budget": N, "continuous": true | false, "health": {"crashes": N, "within_s": T},
 * "window": {"start": "HH:MM", "end": "HH:MM"}} (all after "waves" optional). Only the body is judged here:
 * whether the release exists and what the filter selects are rollout__create()'s.
 * @param[in]  body, len The request body (need not be NUL-terminated).
 * @param[out] out       The plan (zeroed on failure).
 * @param[out] err       One sentence on failure.
 * @return 0; 400 the body is not such a plan; 500 out of memory.
 */
int rollout_plan__parse(const uint8_t *body, size_t len, rollout_plan_t *out, char *err,
                        size_t err_cap);

/**
 * The devices each stage takes out of n selected ones: a count as is, a percent of n rounded
 * up (at least one), the last stage clamped to what is left.
 * @param[out] sizes  n_stages sizes (summing to n) on success.
 * @param[out] err    One sentence on failure.
 * @return 0; 400 a stage has no device left, a stage before the last wants more than are
 *         left, or the plan leaves devices out.
 */
int rollout_plan__sizes(const rollout_plan_t *p, uint32_t n, uint32_t *sizes, char *err,
                        size_t err_cap);

/** What a wave's counts call for (rollout_plan__decide()). */
typedef enum {
    ROLLOUT_WAIT = 0,        /**< not decided yet */
    ROLLOUT_ADVANCE = 1,     /**< success threshold reached: the next wave starts */
    ROLLOUT_FAIL_ERRORS = 2, /**< more failed than the error threshold allows */
    ROLLOUT_FAIL_SHORT = 3   /**< every device finished, too few confirmed */
} rollout_decision_t;

/**
 * The decision for a wave of size devices of which confirmed succeeded, failed failed (with
 * the ones silent past the deadline) and unfinished are still pending, active or ready
 * (holding the release for the maintenance window).
 * Errors first: failed * 100 > error_percent * size fails the wave; then confirmed * 100 >=
 * success_percent * size advances; then nothing unfinished fails it as short; else wait.
 */
rollout_decision_t rollout_plan__decide(const rollout_plan_t *p, uint32_t size,
                                        uint32_t confirmed, uint32_t failed,
                                        uint32_t unfinished);

struct cJSON;

/**
 * Parse a plan's "window" member: an object {"start": "HH:MM", "end": "HH:MM"} (UTC, 00:00 to
 * 23:59, end before start crossing midnight, start and end different). v NULL: no window.
 * @return 0; 400 with one sentence in err.
 */
int rollout_plan__parse_window(const struct cJSON *v, rollout_window_t *out, char *err,
                               size_t err_cap);

/** Whether window w is open at now (UTC seconds since 1970); a window not set is always open. */
bool rollout_plan__window_open(const rollout_window_t *w, int64_t now);

/** When the opening of w that now lies in (or last lay in) began: UTC seconds, <= now. */
int64_t rollout_plan__window_opened_at(const rollout_window_t *w, int64_t now);

/** w as text "HH:MM-HH:MM" (out holds at least 12 bytes). */
void rollout_plan__window_text(const rollout_window_t *w, char *out, size_t cap);
/**
 * The delay of a device's offer after its wave's start: a hash of the rollout id and the
 * device id (FNV-1a, 64 bits) modulo jitter_s * 1000, so it is the same after a restart and
 * spread evenly over the devices.
 * @return Milliseconds in [0, jitter_s * 1000); 0 when jitter_s is 0.
 */
uint32_t rollout_plan__jitter_ms(int64_t rollout_id, const char *device_id, uint32_t jitter_s);

/**
 * A UTC time as "YYYY-MM-DDTHH:MM:SSZ" (ISO 8601, the Z required) in Unix seconds.
 * @return 0; -1 when text is not such a time (a month 13, February 30, no Z, ...).
 */
int rollout_plan__parse_utc(const char *text, int64_t *out);

/** A stage's size as text: "3" or "10%" (out holds at least 12 bytes). */
void rollout_plan__size_text(const rollout_size_t *s, char *out, size_t cap);

#ifdef __cplusplus
}
#endif

#endif /* MQOTAD_ROLLOUT_PLAN_H */
