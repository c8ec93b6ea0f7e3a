/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file legacy_tcp.h
 * @brief Legacy protocol 4, command topics with a TCP side channel (the MicroPython
 *        framework's, docs/LEGACY.md §4): the adapter (legacy_tcp.c) and its sockets' place in
 *        mqotad's loop. Every device's connection is non-blocking and registered with one
 *        epoll instance; the main loop polls its fd and calls legacy_tcp__io() every turn.
 */
#ifndef MQOTAD_LEGACY_TCP_H
#define MQOTAD_LEGACY_TCP_H

#include <stdint.h>

#include "mqotad.h"

#ifdef __cplusplus
extern "C" {
#endif

/** After `open`: how long the device has to announce its address, ms. */
#define LTCP_ANNOUNCE_TIMEOUT_MS 10000u
/** A TCP connect, the header's answer, or one block's answer: how long each may take, ms. */
#define LTCP_IO_TIMEOUT_MS 10000u
/** After `reboot`: how often `getversion` is asked again until the device answers, ms. */
#define LTCP_ASK_EVERY_MS 2000u
/** Longest device name (the <name> of its topics), bytes. */
#define LTCP_NAME_MAX 64u

/** Make the epoll instance. @return 0 or -1 (logged). */
int legacy_tcp__init(mqotad_t *d);
/** Close it (the sessions' sockets are closed by their detach). */
void legacy_tcp__cleanup(mqotad_t *d);
/** The epoll fd for the main loop's poll, or -1. */
int legacy_tcp__fd(mqotad_t *d);
/** Serve every ready socket (never blocks). */
void legacy_tcp__io(mqotad_t *d, uint64_t now_ms);

/** The adapter (legacy__adapter()). */
extern const struct legacy_adapter legacy_tcp_adapter;

#ifdef __cplusplus
}
#endif

#endif /* MQOTAD_LEGACY_TCP_H */
