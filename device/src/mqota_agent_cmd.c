/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mqota_agent_cmd.c - the agent's side of sealed commands (docs/PROTOCOL.md §14): a frame on the
 * cmd topic is opened with the platform's AEAD, checked against the replay window (stored
 * before the command runs), run (built-ins: reboot, diagnostics, confirm, rollback; then the
 * application's handler) and answered with a sealed REPLY. Every refusal is counted and
 * reported to the server, at most once per MQOTA_REFUSAL_REPORT_MS.
 */
#include <string.h>

#include "mqota_agent_internal.h"
#include "mqota_le.h"

/* The reply frame is built at io[MQOTA_SEALED_MAX_LEN]: header, then the plaintext (whose body
 * starts MQOTA_REPLY_FIXED_LEN bytes in), then the tag. */
static uint8_t *reply_frame(mqota_agent_t *a)
{
    return a->io + MQOTA_SEALED_MAX_LEN;
}

static uint8_t *reply_body(mqota_agent_t *a)
{
    return reply_frame(a) + MQOTA_SEALED_HEADER_LEN + MQOTA_REPLY_FIXED_LEN;
}

/* Text appender for reply bodies: never writes past cap, remembers overflow. */
typedef struct {
    char *buf;
    size_t cap;
    size_t len;
} text_t;

static void text_put(text_t *t, const char *s)
{
    for (; *s != '\0'; s++) {
        if (t->len < t->cap) {
            t->buf[t->len++] = *s;
        }
    }
}

static void text_u64(text_t *t, uint64_t v)
{
    char out[21];
    agent__u64_to_dec(v, out);
    text_put(t, out);
}

static void text_kv_str(text_t *t, const char *k, const char *v)
{
    text_put(t, k);
    text_put(t, "=");
    text_put(t, v);
    text_put(t, "\n");
}

static void text_kv_u64(text_t *t, const char *k, uint64_t v)
{
    text_put(t, k);
    text_put(t, "=");
    text_u64(t, v);
    text_put(t, "\n");
}

/* Seal and publish a REPLY whose body (body_len bytes) is already at reply_body(). The reply
 * counter is stored before the frame is sealed, so no counter is ever sealed twice. */
static mqota_status_t send_reply(mqota_agent_t *a, uint32_t command_id, uint8_t result,
                                 size_t body_len)
{
    uint8_t *frame = reply_frame(a);
    uint8_t *plain = frame + MQOTA_SEALED_HEADER_LEN;
    uint8_t nonce[MQOTA_AEAD_NONCE_LEN];
    uint8_t aad[MQOTA_AEAD_AAD_MAX];
    size_t aad_len = 0, n = 0;
    uint64_t counter = a->reply_counter + 1u;
    mqota_reply_t r;

    r.command_id = command_id;
    r.result = result;
    r.body_len = (uint16_t)body_len;
    r.body = plain + MQOTA_REPLY_FIXED_LEN;
    if (body_len > MQOTA_REPLY_BODY_MAX ||
        mqota_reply_encode(&r, plain, MQOTA_SEALED_PLAIN_MAX, &n) != MQOTA_OK ||
        mqota_sealed_header(MQOTA_MSG_REPLY, counter, frame) != MQOTA_OK ||
        mqota_sealed_aad(frame, a->device_id, aad, sizeof(aad), &aad_len) != MQOTA_OK ||
        agent__build_topic(a, "reply", a->topic, sizeof(a->topic)) != MQOTA_OK) {
        return MQOTA_ERR_NO_SPACE;
    }
    if (!store__cmd_save(a, &a->replay, counter)) {
        MQOTA_LOG(1, "cannot store the reply counter; reply not sent");
        return MQOTA_ERR_PLATFORM;
    }
    a->reply_counter = counter;
    mqota_sealed_nonce(frame, nonce);
    if (a->plat.aead_seal(a->plat.ctx, nonce, aad, aad_len, plain, n, plain, plain + n) != 0) {
        return MQOTA_ERR_PLATFORM;
    }
    if (!a->connected ||
        a->plat.publish(a->plat.ctx, a->topic, frame, MQOTA_SEALED_OVERHEAD + n, 1, false) != 0) {
        return MQOTA_ERR_PLATFORM;
    }
    return MQOTA_OK;
}

/* A frame on the cmd topic was refused: count it, and report it unless a report went out less
 * than MQOTA_REFUSAL_REPORT_MS ago. */
static void refuse(mqota_agent_t *a, uint8_t result, uint64_t counter, uint64_t now_ms)
{
    mqota_refusal_t r;
    a->commands_refused++;
    MQOTA_LOG(1, "command refused: %s", mqota_cmd_result_name(result));
    if (a->refusal_reported && now_ms - a->last_refusal_ms < MQOTA_REFUSAL_REPORT_MS) {
        return;
    }
    r.refused_counter = counter;
    r.highest_counter = a->replay.highest;
    r.refused_total = a->commands_refused;
    mqota_refusal_encode(&r, reply_body(a));
    if (send_reply(a, 0u, result, MQOTA_REFUSAL_BODY_LEN) == MQOTA_OK) {
        a->refusal_reported = true;
        a->last_refusal_ms = now_ms;
    }
}

/* The "diagnostics" body: key=value lines (docs/PROTOCOL.md §14.3), then the platform's. The
 * update fields are those of the STATE the agent would publish now, so the two never differ. */
static size_t diagnostics(mqota_agent_t *a, uint64_t now_ms)
{
    text_t t = {(char *)reply_body(a), MQOTA_REPLY_BODY_MAX, 0u};
    mqota_state_msg_t m;
    mqota_agent_state_msg(a, &m);
    text_kv_u64(&t, "uptime_ms", now_ms - a->boot_ms);
    text_kv_u64(&t, "boot_count", m.boot_count);
    text_kv_u64(&t, "slot", m.running_slot);
    text_kv_str(&t, "state", mqota_state_name((mqota_update_state_t)m.state));
    text_kv_str(&t, "reason", mqota_reason_name((mqota_reason_t)m.reason));
    text_kv_str(&t, "project", m.project);
    text_kv_str(&t, "version", m.version);
    text_kv_str(&t, "release_version", m.release_version);
    text_kv_str(&t, "idf_ver", m.idf_ver);
    text_kv_u64(&t, "running_release", m.running_release);
    text_kv_u64(&t, "target_release", m.target_release);
    text_kv_u64(&t, "progress", m.progress);
    text_kv_u64(&t, "image_size", m.image_size);
    text_kv_u64(&t, "min_secure_version", a->min_secure_version);
    text_kv_u64(&t, "commands_accepted", a->commands_accepted);
    text_kv_u64(&t, "commands_refused", a->commands_refused);
    if (a->plat.diagnostics != NULL && t.len < t.cap) {
        size_t extra = a->plat.diagnostics(a->plat.ctx, t.buf + t.len, t.cap - t.len);
        t.len += extra <= t.cap - t.len ? extra : t.cap - t.len;
    }
    return t.len;
}

/* Run an accepted command; returns its result, the body is at reply_body(). */
static uint8_t run_command(mqota_agent_t *a, const mqota_command_t *cmd, uint64_t now_ms,
                           size_t *body_len)
{
    text_t t = {(char *)reply_body(a), MQOTA_REPLY_BODY_MAX, 0u};
    bool builtin = strcmp(cmd->name, "reboot") == 0 || strcmp(cmd->name, "diagnostics") == 0 ||
                   strcmp(cmd->name, "confirm") == 0 || strcmp(cmd->name, "rollback") == 0;
    uint8_t result;

    *body_len = 0;
    if (builtin && cmd->args_len != 0u) {
        text_put(&t, "this command takes no argument");
        *body_len = t.len;
        return MQOTA_CMD_FAILED;
    }
    if (strcmp(cmd->name, "reboot") == 0) {
        a->reboot_requested = true; /* after the reply is handed to the transport */
        return MQOTA_CMD_OK;
    }
    if (strcmp(cmd->name, "diagnostics") == 0) {
        *body_len = diagnostics(a, now_ms);
        return MQOTA_CMD_OK;
    }
    if (strcmp(cmd->name, "confirm") == 0 || strcmp(cmd->name, "rollback") == 0) {
        if (a->state != MQOTA_STATE_PENDING_VERIFY) {
            text_put(&t, "not pending-verify (state ");
            text_put(&t, mqota_state_name((mqota_update_state_t)a->state));
            text_put(&t, ")");
            *body_len = t.len;
            return MQOTA_CMD_WRONG_STATE;
        }
        if (cmd->name[0] == 'c') {
            agent__confirm_now(a);
            if (a->state != MQOTA_STATE_CONFIRMED) {
                text_put(&t, "marking the image valid failed; rolling back");
                *body_len = t.len;
                return MQOTA_CMD_FAILED;
            }
        } else {
            agent__roll_back(a, MQOTA_REASON_COMMAND);
        }
        return MQOTA_CMD_OK;
    }
    if (a->command_handler == NULL) {
        return MQOTA_CMD_UNKNOWN;
    }
    result = (uint8_t)a->command_handler(a->command_ctx, cmd->name, cmd->args, cmd->args_len,
                                         reply_body(a), MQOTA_REPLY_BODY_MAX, body_len);
    if (*body_len > MQOTA_REPLY_BODY_MAX) {
        *body_len = MQOTA_REPLY_BODY_MAX;
    }
    if (result != MQOTA_CMD_OK && result != MQOTA_CMD_UNKNOWN && result != MQOTA_CMD_FAILED &&
        result != MQOTA_CMD_WRONG_STATE) {
        result = MQOTA_CMD_FAILED;
    }
    return result;
}

/* A frame on the cmd topic: header, authentication, replay window, plaintext, then run. */
mqota_status_t cmd__handle(mqota_agent_t *a, const uint8_t *payload, size_t len,
                                     uint64_t now_ms)
{
    mqota_sealed_t f;
    mqota_command_t cmd;
    mqota_replay_window_t w;
    uint8_t nonce[MQOTA_AEAD_NONCE_LEN];
    uint8_t aad[MQOTA_AEAD_AAD_MAX];
    size_t aad_len = 0, body_len = 0;
    uint8_t *plain = a->io;
    uint8_t result;
    mqota_status_t st = mqota_sealed_decode(payload, len, MQOTA_MSG_COMMAND, &f);

    if (st != MQOTA_OK) {
        refuse(a, MQOTA_CMD_REFUSED_MALFORMED,
               len >= MQOTA_SEALED_HEADER_LEN ? le__get_u64(payload + 8) : 0u, now_ms);
        return st;
    }
    mqota_sealed_nonce(f.header, nonce);
    if (mqota_sealed_aad(f.header, a->device_id, aad, sizeof(aad), &aad_len) != MQOTA_OK ||
        a->plat.aead_open(a->plat.ctx, nonce, aad, aad_len, f.ciphertext, f.ciphertext_len,
                          plain, f.tag) != 0) {
        refuse(a, MQOTA_CMD_REFUSED_FORGED, f.counter, now_ms);
        return MQOTA_ERR_AUTH;
    }
    if (!mqota_replay_check(&a->replay, f.counter)) {
        refuse(a, MQOTA_CMD_REFUSED_REPLAY, f.counter, now_ms);
        return MQOTA_ERR_REPLAY;
    }
    /* Authentic and new: the counter is spent from here on, whatever the plaintext says. */
    w = a->replay;
    mqota_replay_accept(&w, f.counter);
    if (!store__cmd_save(a, &w, a->reply_counter)) {
        a->commands_refused++;
        MQOTA_LOG(1, "cannot store the command window; command not run");
        return MQOTA_ERR_PLATFORM;
    }
    a->replay = w;
    if (mqota_command_decode(plain, f.ciphertext_len, &cmd) != MQOTA_OK) {
        refuse(a, MQOTA_CMD_REFUSED_MALFORMED, f.counter, now_ms);
        return MQOTA_ERR_MALFORMED;
    }
    a->commands_accepted++;
    MQOTA_LOG(2, "command %u '%s'", (unsigned)cmd.command_id, cmd.name);
    result = run_command(a, &cmd, now_ms, &body_len);
    (void)send_reply(a, cmd.command_id, result, body_len);
    return MQOTA_OK;
}
