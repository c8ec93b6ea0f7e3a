/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file target.h
 * @brief The devices a target filter selects (docs/API.md "Filters"), as business logic apart
 *        from HTTP: the filter parsed by filter.c, the groups it names checked, the selection
 *        run by db.c. Used by GET /api/v1/devices?filter=, deployments with "filter", and
 *        meant for rollouts' targets.
 */
#ifndef MQOTAD_TARGET_H
#define MQOTAD_TARGET_H

#include <stddef.h>
#include <stdint.h>

#include "mqotad.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * The devices a filter expression selects now, sorted by id, via cb (cb returning non-zero
 * stops the walk).
 * @param[in]  filter  The expression (NUL-terminated text, as filter__parse() takes it).
 * @param[out] err     One sentence on failure.
 * @return 0; 400 the filter is refused or names a group that does not exist; 500 a database
 *         error or out of memory.
 */
int target__select(mqotad_t *d, const char *filter, int (*cb)(void *ctx, const db_device_t *dv),
                   void *ctx, char *err, size_t err_cap);

/** The devices of a release's chip a filter selects (target__for_release()). */
typedef struct {
    char **ids;        /**< n malloc'd device ids, sorted */
    size_t n;
    size_t other_chip; /**< devices the filter selects that have another chip (left out) */
} target_ids_t;

/**
 * The ids of the devices of release_id's chip a filter selects now, as a deployment with
 * "filter" takes them ("all" narrowed by the filter).
 * @param[out] out Free it with target__ids_free() whatever the result.
 * @return 0 (at least one device); 400 the filter is refused, names a group that does not exist,
 *         or selects no device of the release's chip (err names the chip and how many devices
 *         of other chips it selects); 404 unknown release; 500 database error or out of memory.
 */
int target__for_release(mqotad_t *d, const char *filter, int64_t release_id, target_ids_t *out,
                        char *err, size_t err_cap);

/** Free what target__for_release() allocated (safe on a zeroed struct). */
void target__ids_free(target_ids_t *t);

#ifdef __cplusplus
}
#endif

#endif /* MQOTAD_TARGET_H */
