/* SPDX-License-Identifier: Apache-2.0 */
/*
 * handle_reply.c - a device's sealed REPLY on mqota/v1/dev/<id>/reply (docs/PROTOCOL.md §14).
 * Its payload only parses once opened under the device's command key, which command.c keeps
 * (with the reply counter), so the whole check is command__handle_reply().
 */
#include "command.h"
#include "handle.h"

void handle__reply(mqotad_t *d, const char *device_id, const uint8_t *payload, size_t len)
{
    command__handle_reply(d, device_id, payload, len);
}
