/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mqota_command.c - sealed COMMAND / REPLY frames, their plaintexts and the anti-replay window
 * (docs/PROTOCOL.md §14). Pure functions; the AEAD is done by the caller. The device's half:
 * COMMAND decoded, REPLY and the refusal report encoded; the server's half is
 * common/mqota_command_host.c, outside libmqota.
 *
 * Decoders are all-or-nothing, like mqota_proto.c: the caller's struct is written only on
 * MQOTA_OK.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mqota/mqota_command.h"
#include "mqota_le.h"
#include "mqota_names.h"
#include "mqota_proto_internal.h"

mqota_status_t mqota_sealed_header(uint8_t type, uint64_t counter, uint8_t *out)
{
    if (out == NULL || counter == 0u || (type != MQOTA_MSG_COMMAND && type != MQOTA_MSG_REPLY)) {
        return MQOTA_ERR_ARG;
    }
    out[0] = MQOTA_PROTO_MAGIC0;
    out[1] = MQOTA_PROTO_MAGIC1;
    out[2] = MQOTA_PROTO_VERSION;
    out[3] = type;
    out[4] = 0u; /* key_slot */
    out[5] = out[6] = out[7] = 0u;
    le__put_u64(out + 8, counter);
    return MQOTA_OK;
}

mqota_status_t mqota_sealed_decode(const uint8_t *buf, size_t len, uint8_t expect_type,
                                   mqota_sealed_t *out)
{
    mqota_sealed_t s;
    mqota_msg_type_t type;
    mqota_status_t st;

    if (buf == NULL || out == NULL) {
        return MQOTA_ERR_ARG;
    }
    st = mqota_msg_type(buf, len, &type); /* length, magic, version (§3) */
    if (st != MQOTA_OK) {
        return st;
    }
    if ((uint8_t)type != expect_type) {
        return MQOTA_ERR_TYPE;
    }
    if (len < MQOTA_SEALED_OVERHEAD) {
        return MQOTA_ERR_TRUNCATED;
    }
    if (len > MQOTA_SEALED_MAX_LEN || buf[4] != 0u || buf[5] != 0u || buf[6] != 0u ||
        buf[7] != 0u) {
        return MQOTA_ERR_MALFORMED;
    }
    s.type = buf[3];
    s.counter = le__get_u64(buf + 8);
    if (s.counter == 0u) {
        return MQOTA_ERR_MALFORMED;
    }
    s.header = buf;
    s.ciphertext = buf + MQOTA_SEALED_HEADER_LEN;
    s.ciphertext_len = len - MQOTA_SEALED_OVERHEAD;
    s.tag = buf + len - MQOTA_SEALED_TAG_LEN;
    *out = s;
    return MQOTA_OK;
}

void mqota_sealed_nonce(const uint8_t *header, uint8_t *nonce)
{
    memcpy(nonce, header, 4u);
    memcpy(nonce + 4, header + 8, 8u);
}

mqota_status_t mqota_sealed_aad(const uint8_t *header, const char *device_id, uint8_t *aad,
                                size_t cap, size_t *aad_len)
{
    size_t n = 0;

    if (header == NULL || device_id == NULL || aad == NULL || aad_len == NULL) {
        return MQOTA_ERR_ARG;
    }
    while (n <= 48u && device_id[n] != '\0') {
        n++;
    }
    if (n == 0u || n > 48u) {
        return MQOTA_ERR_ARG;
    }
    if (cap < MQOTA_SEALED_HEADER_LEN + n) {
        return MQOTA_ERR_NO_SPACE;
    }
    memcpy(aad, header, MQOTA_SEALED_HEADER_LEN);
    memcpy(aad + MQOTA_SEALED_HEADER_LEN, device_id, n);
    *aad_len = MQOTA_SEALED_HEADER_LEN + n;
    return MQOTA_OK;
}

/* docs/PROTOCOL.md §14.3: the COMMAND plaintext before its arguments. */
const field_t command__command_fields[] = {
    FIELD(F_U32, mqota_command_t, command_id),
    FIELD(F_STR, mqota_command_t, name),
    FIELD(F_U16, mqota_command_t, args_len),
};

mqota_status_t mqota_command_decode(const uint8_t *buf, size_t len, mqota_command_t *cmd)
{
    mqota_command_t c;
    reader_t r = {buf, len, 0u, MQOTA_OK};
    size_t name_len;

    if (buf == NULL || cmd == NULL) {
        return MQOTA_ERR_ARG;
    }
    if (len < 5u) {
        return MQOTA_ERR_TRUNCATED;
    }
    memset(&c, 0, sizeof(c));
    c.command_id = le__get_u32(buf);
    name_len = buf[4];
    if (c.command_id == 0u || name_len == 0u || name_len > MQOTA_STR_MAX) {
        return MQOTA_ERR_MALFORMED;
    }
    if (len < MQOTA_COMMAND_FIXED_LEN + name_len) {
        return MQOTA_ERR_TRUNCATED;
    }
    proto__get_fields(&r, &c, command__command_fields, COUNT_OF(command__command_fields));
    if (r.err != MQOTA_OK) {
        return r.err; /* a NUL in the name: MALFORMED (the length is checked) */
    }
    if (len < MQOTA_COMMAND_FIXED_LEN + name_len + c.args_len) {
        return MQOTA_ERR_TRUNCATED;
    }
    if (len > MQOTA_COMMAND_FIXED_LEN + name_len + c.args_len) {
        return MQOTA_ERR_MALFORMED;
    }
    c.args = buf + MQOTA_COMMAND_FIXED_LEN + name_len;
    *cmd = c;
    return MQOTA_OK;
}

/* docs/PROTOCOL.md §14.3: the REPLY plaintext before its body. */
const field_t command__reply_fields[] = {
    FIELD(F_U32, mqota_reply_t, command_id),
    FIELD(F_U8, mqota_reply_t, result),
    RESERVED(F_RSV8),
    FIELD(F_U16, mqota_reply_t, body_len),
};

mqota_status_t mqota_reply_encode(const mqota_reply_t *reply, uint8_t *buf, size_t cap,
                                  size_t *out_len)
{
    size_t total;

    if (reply == NULL || buf == NULL || out_len == NULL ||
        (reply->body_len > 0u && reply->body == NULL)) {
        return MQOTA_ERR_ARG;
    }
    total = MQOTA_REPLY_FIXED_LEN + reply->body_len;
    if (total > cap || total > MQOTA_SEALED_PLAIN_MAX) {
        return MQOTA_ERR_NO_SPACE;
    }
    (void)proto__put_fields(buf, 0u, reply, command__reply_fields, COUNT_OF(command__reply_fields));
    if (reply->body_len > 0u) {
        memmove(buf + MQOTA_REPLY_FIXED_LEN, reply->body, reply->body_len);
    }
    *out_len = total;
    return MQOTA_OK;
}

/* docs/PROTOCOL.md §14.3: the body of a refusal report. */
const field_t command__refusal_fields[] = {
    FIELD(F_U64, mqota_refusal_t, refused_counter),
    FIELD(F_U64, mqota_refusal_t, highest_counter),
    FIELD(F_U32, mqota_refusal_t, refused_total),
    RESERVED(F_RSV32),
};

void mqota_refusal_encode(const mqota_refusal_t *r, uint8_t *out)
{
    (void)proto__put_fields(out, 0u, r, command__refusal_fields, COUNT_OF(command__refusal_fields));
}

bool mqota_replay_check(const mqota_replay_window_t *w, uint64_t counter)
{
    uint64_t behind;

    if (counter == 0u) {
        return false;
    }
    if (counter > w->highest) {
        return true;
    }
    behind = w->highest - counter;
    if (behind >= MQOTA_REPLAY_WINDOW) {
        return false;
    }
    return (w->bitmap & ((uint64_t)1u << behind)) == 0u;
}

void mqota_replay_accept(mqota_replay_window_t *w, uint64_t counter)
{
    if (counter > w->highest) {
        uint64_t shift = counter - w->highest;
        w->bitmap = shift >= MQOTA_REPLAY_WINDOW ? 0u : w->bitmap << shift;
        w->bitmap |= 1u;
        w->highest = counter;
    } else {
        w->bitmap |= (uint64_t)1u << (w->highest - counter);
    }
}

/* mqota_cmd_result_t's names (mqota_names.h): the results a command ran with from
 * MQOTA_CMD_OK, then the refusals from MQOTA_CMD_REFUSED_FORGED. */
#define RAN_COUNT 4u
#define REFUSED_COUNT 3u
static const char result_names[] =
    "ok\0"                /* MQOTA_CMD_OK */
    "unknown-command\0"   /* MQOTA_CMD_UNKNOWN */
    "failed\0"            /* MQOTA_CMD_FAILED */
    "wrong-state\0"       /* MQOTA_CMD_WRONG_STATE */
    "refused-forged\0"    /* MQOTA_CMD_REFUSED_FORGED */
    "refused-replay\0"    /* MQOTA_CMD_REFUSED_REPLAY */
    "refused-malformed";  /* MQOTA_CMD_REFUSED_MALFORMED */

const char *mqota_cmd_result_name(uint8_t result)
{
    unsigned i = result;
    if (i >= RAN_COUNT) {
        /* MQOTA_CMD_REFUSED_FORGED.. to RAN_COUNT..; values between the runs are unknown */
        i -= MQOTA_CMD_REFUSED_FORGED - RAN_COUNT;
        if (i < RAN_COUNT) {
            i = ~0u;
        }
    }
    return status__name_at(result_names, RAN_COUNT + REFUSED_COUNT, i, "unknown");
}
