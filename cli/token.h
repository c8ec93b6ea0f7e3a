/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file token.h
 * @brief Finding the API token and server of an mqotad on this machine (its data directory's
 *        api.token and http.url files); see token.c and docs/CLI.md "Global options".
 */
#ifndef MQOTA_CLI_TOKEN_H
#define MQOTA_CLI_TOKEN_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Longest token the CLI reads from a file (mqotad's are 43 characters). */
#define CLI_TOKEN_MAX 128

/**
 * @brief Read DIR/api.token into out (cap > CLI_TOKEN_MAX).
 * @return 0, or -1 with one sentence naming the file in why.
 */
int cli_token_from_dir(const char *dir, char *out, size_t cap, char *why, size_t why_cap);

/** @brief Read DIR/http.url (mqotad's own URL) into out. @return 0, or -1. */
int cli_server_from_dir(const char *dir, char *out, size_t cap);

/**
 * @brief The token of the mqotad at server, from the token_file its health check named: used
 *        only when server is a loopback URL, the file's directory holds http.url equal to
 *        server and the pid file of a live process, and the file is this user's, mode 0600.
 * @return 0 with the token in out, or -1 (nothing to use; no message).
 */
int cli_token_for_server(const char *server, const char *token_file, char *out, size_t cap);

#ifdef __cplusplus
}
#endif

#endif /* MQOTA_CLI_TOKEN_H */
