/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file legacy_pull.h
 * @brief Legacy protocol 3, HTTPS pull (docs/LEGACY.md §3): what the pull listener
 *        (http_pull.c) asks of the adapter (legacy_pull.c), which knows the devices, their
 *        credentials and their jobs. The listener parses and bounds the request
 *        (legacy_pull_req.h); these functions decide the answer.
 */
#ifndef MQOTAD_LEGACY_PULL_H
#define MQOTAD_LEGACY_PULL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "legacy_pull_req.h"
#include "mqotad.h"

#ifdef __cplusplus
extern "C" {
#endif

/** PBKDF2-HMAC-SHA256 iterations of a stored pull password (docs/SECURITY.md). */
#define PULL_PBKDF2_ITER 20000
/** Longest basic-auth user name, bytes. */
#define PULL_USER_MAX 64u
/** Longest password accepted, bytes. */
#define PULL_PASSWORD_MAX 128u

/**
 * @brief A poll: GET /devices/<id>?app_ver=<version>.
 * @param[in]  d        mqotad
 * @param[in]  id       the device id from the path (checked by pull_req__route())
 * @param[in]  user     basic-auth user, or NULL when the request had no usable Authorization
 * @param[in]  pass     its password (NULL with user)
 * @param[in]  app_ver  the one app_ver argument, or NULL when it was missing or repeated
 * @param[out] name     on 200: the file name to fetch
 * @param[in]  cap      name's bytes (PULL_NAME_MAX + 1)
 * @return the HTTP status: 200 (name set), 204 no update, 400 app_ver missing, repeated or
 *         not a version, 403 bad or missing credentials, 404 no such pull device.
 */
int legacy_pull__poll(mqotad_t *d, const char *id, const char *user, const char *pass,
                      const char *app_ver, char *name, size_t cap);

/**
 * @brief A fetch: GET /files/<name>. The name must be the one the device's running job was
 *        answered with (its release's SHA-256 prefix); the fetch marks the target started.
 * @param[out] size           the image's bytes (200)
 * @param[out] deployment_id  the job's deployment (200): reads serve this job only
 * @return 200, 403 (credentials), 404 (no such device, no job, or another release).
 */
int legacy_pull__open(mqotad_t *d, const pull_route_t *r, const char *user, const char *pass,
                      uint32_t *size, int64_t *deployment_id);

/**
 * @brief Copy up to max bytes of the file at offset pos into buf, counting them as progress.
 * @return the bytes copied (0 at the end), or -1 when the device's job is no longer the one of
 *         deployment_id (it ended, or another replaced it) or waits for a retry.
 */
long legacy_pull__read(mqotad_t *d, const char *id, int64_t deployment_id, uint64_t pos,
                       uint8_t *buf, size_t max);

/**
 * @brief A fetch ended: complete when its response was sent whole. A complete response that
 *        reached the image's last byte hands the device the whole image (it restarts now); a
 *        cut one is a failed attempt (retried when the device polls again).
 * @param[in] reached  offset one past the last byte handed to the connection
 */
void legacy_pull__closed(mqotad_t *d, const char *id, int64_t deployment_id, uint64_t reached,
                         bool complete);

/* http_pull.c: the pull listener (--pull-https), its own libmicrohttpd daemon with TLS. */
/** Start it when --pull-https is given (else nothing). @return 0 or -1 (logged). */
int http_pull__start(mqotad_t *d);
void http_pull__stop(mqotad_t *d);
/** Its epoll fd for the main loop's poll, or -1 when it is off. */
int http_pull__fd(mqotad_t *d);
/** Answer what is ready (the main loop, every turn). */
void http_pull__run(mqotad_t *d);
/** Milliseconds until it must run again (0: TLS holds bytes already read), or -1. */
int http_pull__timeout_ms(mqotad_t *d);

/** The adapter (legacy__adapter()). */
extern const struct legacy_adapter legacy_pull_adapter;

#ifdef __cplusplus
}
#endif

#endif /* MQOTAD_LEGACY_PULL_H */
