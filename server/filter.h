/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file filter.h
 * @brief Device target filters (docs/API.md "Filters"): a text expression such as
 *        `chip=esp32 group=lab state=idle|failed last_seen<1h` parsed into a struct, and the
 *        struct turned into an SQL condition on the devices table with bound parameters.
 *
 * Pure: no database, no server state; the parser is unit-tested (tests/unit/test_filter.c).
 * Used by GET /api/v1/devices?filter=, by deployments with "filter" and, later, by rollouts to
 * select their targets.
 *
 * Grammar: terms separated by spaces or commas, all of which must hold (AND). A term is
 * KEY OP VALUE[|VALUE...]: alternatives within a term are ORed for `=` (any of them) and all
 * excluded for `!=` (none of them).
 *
 * | key         | ops        | value                                                       |
 * |-------------|------------|-------------------------------------------------------------|
 * | `chip`      | `=` `!=`   | chip name, any case, with or without `-`: esp32, esp32-s3    |
 * | `project`   | `=` `!=`   | the running image's project name (exact)                     |
 * | `version`   | `=` `!=`   | the running version as the device list shows it (exact)      |
 * | `release`   | `=` `!=`   | release id the device runs (running_release)                 |
 * | `group`     | `=` `!=`   | group name                                                   |
 * | `tag`       | `=` `!=`   | `key` (any value) or `key=value` (exactly)                   |
 * | `online`    | `=` `!=`   | true or false                                                |
 * | `state`     | `=` `!=`   | update state name: idle, offered, ..., rolled-back, held     |
 * | `last_seen` | `<` `>`    | duration N[s|m|h|d]: `<1h` seen within the last hour, `>1d`  |
 * |             |            | not seen for more than a day (or never)                      |
 *
 * `group` and `tag` may be given more than once (the device must match every one); every
 * other key at most once.
 */
#ifndef MQOTAD_FILTER_H
#define MQOTAD_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FILTER_TEXT_MAX 1024  /**< Bytes of a filter expression at most */
#define FILTER_TERMS_MAX 32   /**< Terms of one filter at most */
#define FILTER_ALTS_MAX 16    /**< Alternatives (`|`) of one term at most */
#define FILTER_VALUE_MAX 100  /**< Bytes of one value at most (a tag key=value is 97) */
#define FILTER_TEXT_FIELD_MAX 32 /**< Bytes of a project or version value (mqotad keeps 32) */
/** Longest duration last_seen takes: ten years, in seconds. */
#define FILTER_DURATION_MAX (10LL * 366 * 24 * 3600)

#define GROUP_NAME_MAX 64     /**< Bytes of a group name: [A-Za-z0-9_.-]{1,GROUP_NAME_MAX} */
#define TAG_KEY_MAX 32        /**< Bytes of a tag's key: [A-Za-z0-9_.-]{1,TAG_KEY_MAX} */
#define TAG_VALUE_MAX 64      /**< Bytes of a tag's value (printable UTF-8, no space , | =) */
#define TAG_TEXT_MAX (TAG_KEY_MAX + 1 + TAG_VALUE_MAX) /**< Bytes of "key=value" */

/** The keys a term may use (docs/API.md "Filters"). */
typedef enum {
    FILTER_CHIP = 0,
    FILTER_PROJECT,
    FILTER_VERSION,
    FILTER_RELEASE,
    FILTER_GROUP,
    FILTER_TAG,
    FILTER_ONLINE,
    FILTER_STATE,
    FILTER_LAST_SEEN,
    FILTER_PROTOCOL, /**< the update protocol (db_protocol_t by name: mqota or a legacy one) */
    FILTER_KEY_COUNT
} filter_key_t;

/** A term's comparison. */
typedef enum {
    FILTER_EQ = 0, /**< `=`: any of the values */
    FILTER_NE,     /**< `!=`: none of the values */
    FILTER_LT,     /**< `<` (last_seen only): seen within the duration */
    FILTER_GT      /**< `>` (last_seen only): not seen for longer than the duration */
} filter_op_t;

/** One term, KEY OP VALUE[|VALUE...]. */
typedef struct {
    filter_key_t key;
    filter_op_t op;
    int n_values;
    /** The values as given (a tag "key" or "key=value"); for the text keys what is compared */
    char values[FILTER_ALTS_MAX][FILTER_VALUE_MAX + 1];
    /** Their numbers: chip id, release id, state, online 0/1, last_seen seconds, protocol */
    int64_t numbers[FILTER_ALTS_MAX];
    /** For tags: bytes of the key in values[i] (the value, if any, follows its '=') */
    size_t tag_key_len[FILTER_ALTS_MAX];
} filter_term_t;

/** A parsed filter: every term must hold. About 60 KiB: allocate it, do not put it on a
 *  small stack. */
typedef struct {
    int n_terms;
    filter_term_t terms[FILTER_TERMS_MAX];
} filter_t;

/** One bound parameter of the SQL filter__sql() writes: a text (pointing into the filter_t,
 *  text_len bytes, not NUL-terminated for a tag's key) or an integer; db__device_select()
 *  binds them. */
typedef db_param_t filter_param_t;

/** Bound parameters of one filter at most (a tag alternative takes two). */
#define FILTER_PARAMS_MAX (FILTER_TERMS_MAX * FILTER_ALTS_MAX * 2)
/** Bytes of the SQL condition filter__sql() writes at most. */
#define FILTER_SQL_MAX 16384

/**
 * Parse a filter expression.
 *
 * @param[in]  text    The expression, NUL-terminated, at most FILTER_TEXT_MAX bytes of UTF-8.
 * @param[out] out     The filter (zeroed first).
 * @param[out] err     On failure one sentence naming the bad term and what to write instead:
 *                     too long, not UTF-8, a control character, empty, an unknown key, an
 *                     operator the key does not take, an empty or bad value, too many terms
 *                     or alternatives, a key given twice.
 * @param[in]  err_cap Bytes at err.
 * @return 0 parsed, -1 refused (err says why).
 */
int filter__parse(const char *text, filter_t *out, char *err, size_t err_cap);

/**
 * The SQL condition that selects the devices a filter matches, for
 * `SELECT ... FROM devices WHERE <condition>`: fixed text with `?` placeholders only; every
 * value from the filter is a bound parameter, in params[0..*n_params) in placeholder order.
 *
 * @param[in]  f        A filter from filter__parse(); must outlive params (texts point into it).
 * @param[in]  now      Current Unix time, seconds (last_seen terms become times before it).
 * @param[out] sql      The condition, NUL-terminated ("1" for a filter without terms).
 * @param[in]  sql_cap  Bytes at sql; FILTER_SQL_MAX always suffice.
 * @param[out] params   FILTER_PARAMS_MAX entries always suffice.
 * @param[in]  params_cap Entries at params.
 * @param[out] n_params How many were written.
 * @return 0, or -1 when sql or params are too small.
 */
int filter__sql(const filter_t *f, int64_t now, char *sql, size_t sql_cap,
                filter_param_t *params, size_t params_cap, size_t *n_params);

/** The name of a key as a filter writes it ("chip", "last_seen", ...). */
const char *filter__key_name(filter_key_t key);

/** Whether name is a valid group name: 1..GROUP_NAME_MAX of [A-Za-z0-9_.-]. */
bool filter__group_name_ok(const char *name);

/**
 * Check a tag's syntax: `key` or `key=value`, key 1..TAG_KEY_MAX of [A-Za-z0-9_.-], value
 * 1..TAG_VALUE_MAX bytes of valid UTF-8 without controls, spaces, `,`, `|` or `=`.
 * @param[out] key_len Bytes of the key (may be NULL).
 * @param[out] err     One sentence naming the tag on failure (may be NULL).
 * @return true when valid.
 */
bool filter__tag_check(const char *tag, size_t *key_len, char *err, size_t err_cap);

#ifdef __cplusplus
}
#endif

#endif /* MQOTAD_FILTER_H */
