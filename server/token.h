/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file token.h
 * @brief HTTP API bearer tokens: `mqotad --data DIR token create|list|revoke` and the check
 *        every protected request passes (docs/API.md "Authentication").
 */
#ifndef MQOTAD_TOKEN_H
#define MQOTAD_TOKEN_H

#include <stdbool.h>

#include "mqotad.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Run `token create NAME`, `token list` or `token revoke NAME` (d->cmd_argv) on the open
 * database. create prints the new token once on stdout and stores only its SHA-256.
 * @return the process exit code: 0, 1 (refused: name taken, unknown, database error), 2 (usage).
 */
int token__command(mqotad_t *d);

/** Whether requests need a token: always, unless mqotad runs with --open-api. */
bool token__required(mqotad_t *d);

/**
 * Write DIR/api.token (mode 0600, created with O_EXCL) with a new token when the file is
 * absent, storing only its SHA-256 (row "api.token"), as `token create` does. Sets
 * d->token_file to the file's absolute path either way.
 * @return 0, or -1 (logged): the file or the database could not be written.
 */
int token__ensure_file(mqotad_t *d);

/**
 * Judge an Authorization header value (may be NULL). True when no token is required, or when
 * it is "Bearer <token>" and SHA-256(token) equals a stored hash; every stored hash is compared
 * in constant time, so the time taken does not say which bytes matched.
 */
bool token__authorized(mqotad_t *d, const char *authorization);

#ifdef __cplusplus
}
#endif

#endif /* MQOTAD_TOKEN_H */
