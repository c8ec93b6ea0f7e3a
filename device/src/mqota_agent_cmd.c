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
#include "mqota_names.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

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

/* Text appender for reply bodies: never writes past cap, remembers overflow. `key` walks a
 * packed list of keys (mqota_names.h) for text_kv_*(). */
typedef struct {
    char *buf;
    size_t cap;
    size_t len;
    const char *key;
} text_t;

static void text_put(text_t *t, const char *s)
{
    for (; *s != '\0'; s++) {
        if (t->len < t->cap) {
            t->buf[t->len++] = *s;
        }
    }
}

/* "key=": the next key of t->key. */
static void text_key(text_t *t)
{
    text_put(t, t->key);
    t->key += strlen(t->key) + 1u;
    text_put(t, "=");
}

/* One "key=value" line with the next key: a string, or a number in decimal. */
static void text_kv_str(text_t *t, const char *v)
{
    text_key(t);
    text_put(t, v);
    text_put(t, "\n");
}

static void text_kv_u64(text_t *t, uint64_t v)
{
    char out[21];
    agent__u64_to_dec(v, out);
    text_kv_str(t, out);
}

/* Seal (seal true) or open the sealed frame whose header is at `header`: len bytes at `in`
 * into `out` (out may equal in), the tag right after the ciphertext as the frame holds it
 * (mqota_platform.h): at out + len when sealing, at in + len when opening. False if the AEAD
 * hook failed or, when opening, the frame is not authentic. One function for both ways, so
 * the nonce and the AAD are built in one place; out of line so that they are not in the
 * frames of send_reply() and cmd__handle() under the NVS writes (bench/stack-usage). */
NOINLINE static bool crypt_frame(mqota_agent_t *a, bool seal, const uint8_t *header,
                                 const uint8_t *in, size_t len, uint8_t *out)
{
    uint8_t nonce[MQOTA_AEAD_NONCE_LEN];
    uint8_t aad[MQOTA_AEAD_AAD_MAX];
    size_t aad_len = 0;
    mqota_sealed_nonce(header, nonce);
    if (mqota_sealed_aad(header, a->device_id, aad, sizeof(aad), &aad_len) != MQOTA_OK) {
        return false;
    }
    return (seal ? a->plat.aead_seal(a->plat.ctx, nonce, aad, aad_len, in, len, out, out + len)
                 : a->plat.aead_open(a->plat.ctx, nonce, aad, aad_len, in, len, out,
                                     in + len)) == 0;
}

/* Seal and publish a REPLY whose body (body_len bytes) is already at reply_body(). The reply
 * counter is stored before the frame is sealed, so no counter is ever sealed twice. */
static mqota_status_t send_reply(mqota_agent_t *a, uint32_t command_id, uint8_t result,
                                 size_t body_len)
{
    uint8_t *frame = reply_frame(a);
    uint8_t *plain = frame + MQOTA_SEALED_HEADER_LEN;
    size_t n = 0;
    uint64_t counter = a->reply_counter + 1u;
    mqota_reply_t r;

    r.command_id = command_id;
    r.result = result;
    r.body_len = (uint16_t)body_len;
    r.body = plain + MQOTA_REPLY_FIXED_LEN;
    if (body_len > MQOTA_REPLY_BODY_MAX ||
        mqota_reply_encode(&r, plain, MQOTA_SEALED_PLAIN_MAX, &n) != MQOTA_OK ||
        mqota_sealed_header(MQOTA_MSG_REPLY, counter, frame) != MQOTA_OK) {
        return MQOTA_ERR_NO_SPACE;
    }
    if (!store__cmd_save(a, &a->replay, counter)) {
        MQOTA_LOG(1, "cannot store the reply counter; reply not sent");
        return MQOTA_ERR_PLATFORM;
    }
    a->reply_counter = counter;
    if (!crypt_frame(a, true, frame, plain, n, plain)) {
        return MQOTA_ERR_PLATFORM;
    }
    if (!a->connected) {
        return MQOTA_ERR_PLATFORM;
    }
    return agent__publish(a, "reply", frame, MQOTA_SEALED_OVERHEAD + n, 1, false);
}

/* A frame on the cmd topic was refused: count it, and report it unless a report went out less
 * than MQOTA_REFUSAL_REPORT_MS ago. */
static void refuse(mqota_agent_t *a, uint8_t result, uint64_t counter, uint64_t now_ms)
{
    mqota_refusal_t r;
    a->commands_refused++;
    MQOTA_LOG(1, "command refused: %s", mqota_cmd_result_name(result));
    if (a->refusal_reported && (uint32_t)now_ms - a->last_refusal_ms < MQOTA_REFUSAL_REPORT_MS) {
        return;
    }
    r.refused_counter = counter;
    r.highest_counter = a->replay.highest;
    r.refused_total = a->commands_refused;
    mqota_refusal_encode(&r, reply_body(a));
    if (send_reply(a, 0u, result, MQOTA_REFUSAL_BODY_LEN) == MQOTA_OK) {
        a->refusal_reported = true;
        a->last_refusal_ms = (uint32_t)now_ms;
    }
}

/* The keys of the "diagnostics" body, in the order diagnostics() writes their values. */
static const char diag_keys[] = "uptime_ms\0boot_count\0slot\0state\0reason\0project\0version\0"
                                "release_version\0idf_ver\0running_release\0target_release\0"
                                "progress\0image_size\0min_secure_version\0commands_accepted\0"
                                "commands_refused";

/* The "diagnostics" body: key=value lines (docs/PROTOCOL.md §14.3), then the platform's. The
 * update fields are those of the STATE the agent would publish now, so the two never differ. */
NOINLINE static size_t diagnostics(mqota_agent_t *a, uint64_t now_ms)
{
    text_t t = {(char *)reply_body(a), MQOTA_REPLY_BODY_MAX, 0u, diag_keys};
    mqota_state_msg_t m;
    mqota_agent_state_msg(a, &m);
    const char *strs[] = {mqota_state_name((mqota_update_state_t)m.state),
                          mqota_reason_name((mqota_reason_t)m.reason), m.project, m.version,
                          m.release_version, m.idf_ver};
    const uint32_t nums[] = {m.running_release,      m.target_release,      m.progress,
                             m.image_size,           a->min_secure_version, a->commands_accepted,
                             a->commands_refused};
    text_kv_u64(&t, now_ms - a->boot_ms); /* uptime_ms */
    text_kv_u64(&t, m.boot_count);
    text_kv_u64(&t, m.running_slot); /* slot */
    for (size_t i = 0; i < COUNT(strs); i++) {
        text_kv_str(&t, strs[i]);
    }
    for (size_t i = 0; i < COUNT(nums); i++) {
        text_kv_u64(&t, nums[i]);
    }
    if (a->plat.diagnostics != NULL && t.len < t.cap) {
        size_t extra = a->plat.diagnostics(a->plat.ctx, t.buf + t.len, t.cap - t.len);
        t.len += extra <= t.cap - t.len ? extra : t.cap - t.len;
    }
    return t.len;
}

/* The built-in commands (docs/PROTOCOL.md §14.3), a packed list (mqota_names.h). */
enum { BUILTIN_REBOOT, BUILTIN_DIAGNOSTICS, BUILTIN_CONFIRM, BUILTIN_ROLLBACK, BUILTIN_COUNT };
static const char builtins[] = "reboot\0diagnostics\0confirm\0rollback";

/* Run an accepted command; returns its result, the body is at reply_body(). */
NOINLINE static uint8_t run_command(mqota_agent_t *a, const mqota_command_t *cmd,
                                    uint64_t now_ms, size_t *body_len)
{
    text_t t = {(char *)reply_body(a), MQOTA_REPLY_BODY_MAX, 0u, NULL};
    unsigned builtin = 0;
    uint8_t result;

    while (builtin < BUILTIN_COUNT &&
           strcmp(cmd->name, status__name_at(builtins, BUILTIN_COUNT, builtin, "")) != 0) {
        builtin++;
    }
    *body_len = 0;
    if (builtin < BUILTIN_COUNT && cmd->args_len != 0u) {
        text_put(&t, "this command takes no argument");
        *body_len = t.len;
        return MQOTA_CMD_FAILED;
    }
    if (builtin == BUILTIN_REBOOT) {
        a->reboot_requested = true; /* after the reply is handed to the transport */
        return MQOTA_CMD_OK;
    }
    if (builtin == BUILTIN_DIAGNOSTICS) {
        *body_len = diagnostics(a, now_ms);
        return MQOTA_CMD_OK;
    }
    if (builtin == BUILTIN_CONFIRM || builtin == BUILTIN_ROLLBACK) {
        if (a->state != MQOTA_STATE_PENDING_VERIFY) {
            text_put(&t, "not pending-verify (state ");
            text_put(&t, mqota_state_name((mqota_update_state_t)a->state));
            text_put(&t, ")");
            *body_len = t.len;
            return MQOTA_CMD_WRONG_STATE;
        }
        if (builtin == BUILTIN_CONFIRM) {
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
    size_t body_len = 0;
    uint8_t *plain = a->io;
    uint8_t result;
    mqota_status_t st = mqota_sealed_decode(payload, len, MQOTA_MSG_COMMAND, &f);

    if (st != MQOTA_OK) {
        refuse(a, MQOTA_CMD_REFUSED_MALFORMED,
               len >= MQOTA_SEALED_HEADER_LEN ? le__get_u64(payload + 8) : 0u, now_ms);
        return st;
    }
    /* decrypted into the scratch buffer; f.tag == f.ciphertext + f.ciphertext_len */
    if (!crypt_frame(a, false, f.header, f.ciphertext, f.ciphertext_len, plain)) {
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
