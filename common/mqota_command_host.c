/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mqota_command_host.c - the server's half of the sealed-command codecs of
 * device/src/mqota_command.c (docs/PROTOCOL.md §14.3): the COMMAND plaintext mqotad seals, and
 * the REPLY plaintext and refusal report it opens. Not in libmqota: a device decodes commands
 * and encodes replies, never the reverse. Library mqota_codec_host; the same field tables as
 * the device's half (mqota_proto_internal.h).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mqota/mqota_command.h"
#include "mqota_proto_internal.h"

mqota_status_t mqota_command_encode(const mqota_command_t *cmd, uint8_t *buf, size_t cap,
                                    size_t *out_len)
{
    size_t name_len = 0;
    size_t total;

    if (cmd == NULL || buf == NULL || out_len == NULL || cmd->command_id == 0u ||
        (cmd->args_len > 0u && cmd->args == NULL)) {
        return MQOTA_ERR_ARG;
    }
    while (name_len < sizeof(cmd->name) && cmd->name[name_len] != '\0') {
        name_len++;
    }
    if (name_len == 0u || name_len > MQOTA_STR_MAX) {
        return MQOTA_ERR_ARG;
    }
    total = MQOTA_COMMAND_FIXED_LEN + name_len + cmd->args_len;
    if (total > cap || total > MQOTA_SEALED_PLAIN_MAX) {
        return MQOTA_ERR_NO_SPACE;
    }
    (void)proto__put_fields(buf, 0u, cmd, command__command_fields,
                            COUNT_OF(command__command_fields));
    if (cmd->args_len > 0u) {
        memcpy(buf + MQOTA_COMMAND_FIXED_LEN + name_len, cmd->args, cmd->args_len);
    }
    *out_len = total;
    return MQOTA_OK;
}

mqota_status_t mqota_reply_decode(const uint8_t *buf, size_t len, mqota_reply_t *reply)
{
    mqota_reply_t r;
    reader_t rd = {buf, len, 0u, MQOTA_OK};

    if (buf == NULL || reply == NULL) {
        return MQOTA_ERR_ARG;
    }
    if (len < MQOTA_REPLY_FIXED_LEN) {
        return MQOTA_ERR_TRUNCATED;
    }
    /* the length is checked: no error */
    proto__get_fields(&rd, &r, command__reply_fields, COUNT_OF(command__reply_fields));
    if (buf[5] != 0u) {
        return MQOTA_ERR_MALFORMED;
    }
    if (len < MQOTA_REPLY_FIXED_LEN + (size_t)r.body_len) {
        return MQOTA_ERR_TRUNCATED;
    }
    if (len > MQOTA_REPLY_FIXED_LEN + (size_t)r.body_len) {
        return MQOTA_ERR_MALFORMED;
    }
    r.body = buf + MQOTA_REPLY_FIXED_LEN;
    *reply = r;
    return MQOTA_OK;
}

mqota_status_t mqota_refusal_decode(const uint8_t *buf, size_t len, mqota_refusal_t *r)
{
    reader_t rd = {buf, len, 0u, MQOTA_OK};

    if (buf == NULL || r == NULL) {
        return MQOTA_ERR_ARG;
    }
    if (len < MQOTA_REFUSAL_BODY_LEN) {
        return MQOTA_ERR_TRUNCATED;
    }
    if (len > MQOTA_REFUSAL_BODY_LEN) {
        return MQOTA_ERR_MALFORMED;
    }
    /* the length is checked: no error */
    proto__get_fields(&rd, r, command__refusal_fields, COUNT_OF(command__refusal_fields));
    return MQOTA_OK;
}

