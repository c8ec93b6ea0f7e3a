/* SPDX-License-Identifier: Apache-2.0 */
/*
 * handle_legacy.c - a message on a topic outside mqota/v1/dev/: a legacy device's (its
 * protocol's topics, docs/LEGACY.md). legacy.c finds the device listening on the topic (a
 * hash on the topic) and its protocol's adapter decodes the message; what it means for a
 * target reaches policy through the framework's events (deploy_legacy.c).
 */
#include "devlog.h"
#include "handle.h"
#include "legacy.h"
#include "mqotad.h"

void handle__legacy(mqotad_t *d, const char *topic, const uint8_t *payload, size_t len,
                    bool retained)
{
    if (!legacy__on_message(d, topic, payload, len, retained))
        mqh_log(MQH_DEBUG, "ignoring message on topic %.128s (no legacy device listens there)",
                topic);
}
