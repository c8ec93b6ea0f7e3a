/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for rollout plans (server/rollout_plan.c: rollout_plan__parse,
 * rollout_plan__sizes, rollout_plan__decide; no server or database). The input's first four
 * bytes are a device count (little-endian, taken modulo 100,000) and, for the decision, three
 * counts; the rest is the POST /api/v1/rollouts body. Whatever the bytes: no crash, leak or
 * UB; a refused body is one sentence and a zeroed plan; an accepted plan has 2..
 * ROLLOUT_STAGES_MAX stages and its thresholds in range; sizes either refuse with a sentence
 * or give every stage at least one device and sum to the count exactly; the decision is one
 * of the four and advances only when the success threshold is met and the error threshold is
 * not passed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rollout_plan.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

static rollout_plan_t p;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[700] = "";
    uint32_t sizes[ROLLOUT_STAGES_MAX];
    if (size < 4) return 0;
    uint32_t n = ((uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 |
                  (uint32_t)data[3] << 24) % 100000u;
    if (rollout_plan__parse(data + 4, size - 4, &p, err, sizeof(err)) != 0) {
        CHECK(err[0] != '\0' && p.n_stages == 0);
        return 0;
    }
    CHECK(p.n_stages >= 2 && p.n_stages <= ROLLOUT_STAGES_MAX);
    CHECK(p.release_id >= 1 && p.filter[0] != '\0');
    CHECK(p.success_percent >= 1 && p.success_percent <= 100 && p.error_percent <= 100);
    CHECK(p.deadline_s >= 1 && p.deadline_s <= ROLLOUT_DEADLINE_MAX_S);
    err[0] = '\0';
    if (rollout_plan__sizes(&p, n, sizes, err, sizeof(err)) != 0) {
        CHECK(err[0] != '\0');
        return 0;
    }
    uint64_t sum = 0;
    for (size_t i = 0; i < p.n_stages; i++) {
        CHECK(sizes[i] >= 1);
        sum += sizes[i];
    }
    CHECK(sum == n);
    /* a decision on counts of the first stage made from the count's bytes */
    uint32_t size0 = sizes[0], confirmed = data[1] % (size0 + 1);
    uint32_t failed = data[2] % (size0 - confirmed + 1), unfinished = size0 - confirmed - failed;
    rollout_decision_t d = rollout_plan__decide(&p, size0, confirmed, failed, unfinished);
    CHECK(d == ROLLOUT_WAIT || d == ROLLOUT_ADVANCE || d == ROLLOUT_FAIL_ERRORS ||
          d == ROLLOUT_FAIL_SHORT);
    if (d == ROLLOUT_ADVANCE)
        CHECK((uint64_t)confirmed * 100u >= (uint64_t)p.success_percent * size0 &&
              (uint64_t)failed * 100u <= (uint64_t)p.error_percent * size0);
    if (d == ROLLOUT_WAIT) CHECK(unfinished > 0);
    return 0;
}
