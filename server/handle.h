/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file handle.h
 * @brief One handler per message type a device publishes (mosquitto's handle__publish and
 *        its siblings): mqtt.c's dispatch table calls them by the topic's last level.
 *
 * A handler decodes and checks its payload, then calls policy (deploy.c, command.c) or
 * mechanism (transfer.c) as the message asks. Policy may call mechanism, never the other way
 * round (server/README.md, "Policy and mechanism").
 */
#ifndef MQOTAD_HANDLE_H
#define MQOTAD_HANDLE_H

#include <stddef.h>
#include <stdint.h>

#include "mqotad.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @brief A STATE on mqota/v1/dev/<id>/state (handle_state.c): store the device row and let its
 *        running deployment target follow, in one transaction.
 * @param[in] d         The daemon.
 * @param[in] device_id The id from the topic (at most DB_ID_MAX bytes).
 * @param[in] payload   The message (len 0: a cleared retained state, ignored).
 * @param[in] len       Bytes of payload.
 * @note An undecodable payload is logged (rate-limited per device) and changes nothing.
 */
void handle__state(mqotad_t *d, const char *device_id, const uint8_t *payload, size_t len);

/**
 * @brief "online" or "offline" on mqota/v1/dev/<id>/online (handle_online.c): stored; offline
 *        pauses the device's transfer, online lets its queued commands go.
 * @param[in] d, device_id, payload, len As for handle__state(); anything else is logged.
 */
void handle__online(mqotad_t *d, const char *device_id, const uint8_t *payload, size_t len);

/**
 * @brief An ACK on mqota/v1/dev/<id>/ack (handle_ack.c): the device's transfer applies it; a
 *        device without one gets one built when deploy.c finds its running target (that
 *        target becomes active).
 * @param[in] d, device_id, payload, len As for handle__state(); an ACK that cannot be
 *            decoded is logged, one for a release without a running target is ignored.
 */
void handle__ack(mqotad_t *d, const char *device_id, const uint8_t *payload, size_t len);

/**
 * @brief A sealed REPLY on mqota/v1/dev/<id>/reply (handle_reply.c): command.c opens it under
 *        the device's command key, checks its counter and finishes the command.
 * @param[in] d, device_id, payload, len As for handle__state(); anything not authentic is
 *            logged and counted as dropped.
 */
void handle__reply(mqotad_t *d, const char *device_id, const uint8_t *payload, size_t len);

/**
 * @brief A TELEMETRY message on mqota/v1/dev/<id>/telemetry (handle_telemetry.c): decoded,
 *        then kept by telemetry.c within its rate, name and retention limits.
 * @param[in] d, device_id, payload, len As for handle__state(); an undecodable message is
 *            counted and logged (rate-limited per device).
 */
void handle__telemetry(mqotad_t *d, const char *device_id, const uint8_t *payload, size_t len);

/**
 * @brief A HEALTH report on mqota/v1/dev/<id>/health (handle_health.c): decoded, then kept by
 *        health.c (latest report, reset history).
 * @param[in] d, device_id, payload, len As for handle__state(); an undecodable report is
 *            logged (rate-limited per device), an empty one (a cleared retained) ignored.
 */
void handle__health(mqotad_t *d, const char *device_id, const uint8_t *payload, size_t len);

/**
 * @brief A message on a topic outside mqota/v1/dev/ (handle_legacy.c): a legacy device's
 *        (docs/LEGACY.md), decoded by the adapter of the device listening on that topic.
 * @param[in] d        The daemon.
 * @param[in] topic    The whole topic.
 * @param[in] payload, len The message.
 * @param[in] retained Delivered from the broker's retained store (not live).
 * @note A topic no legacy device listens on is ignored.
 */
void handle__legacy(mqotad_t *d, const char *topic, const uint8_t *payload, size_t len,
                    bool retained);

#ifdef __cplusplus
}
#endif

#endif /* MQOTAD_HANDLE_H */
