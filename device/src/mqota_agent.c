/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mqota_agent.c - the device agent's state machine.
 *
 * The agent owns no memory beyond its context struct and touches the outside world only
 * through the injected platform hooks. This file holds init and the recovery after a boot,
 * offers, chunks, the read-back verify, the boot slot switch, confirm and rollback; every state
 * change goes through transition() and its table. Sealed commands are in mqota_agent_cmd.c, the
 * persisted records in mqota_agent_store.c (mqota_agent_internal.h lists what they share).
 */
#include <string.h>

#include "mqota_agent_internal.h"


#define STATE_REFRESH_MS 5000u /* STATE re-published at most this often while downloading */
#define FLASH_SECTOR 4096u

/* ---------------------------------------------------------------------------------------- */
/* Small helpers                                                                              */

static bool is_pow2(uint32_t v)
{
    return v != 0u && (v & (v - 1u)) == 0u;
}

static void copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = 0;
    if (src != NULL) {
        while (n + 1u < cap && src[n] != '\0') {
            dst[n] = src[n];
            n++;
        }
    }
    dst[n] = '\0';
}

NOINLINE static bool bit_get(const mqota_agent_t *a, uint32_t i)
{
    return (a->bitmap[i >> 3] >> (i & 7u)) & 1u;
}

NOINLINE static void bit_set(mqota_agent_t *a, uint32_t i)
{
    a->bitmap[i >> 3] = (uint8_t)(a->bitmap[i >> 3] | (1u << (i & 7u)));
}

/* Concatenate the n strings of parts into buf, NUL-terminated: MQOTA_ERR_NO_SPACE if they do
 * not fit in cap bytes. */
static mqota_status_t join_parts(const char *const *parts, size_t n, char *buf, size_t cap)
{
    size_t len = 0;
    for (size_t p = 0; p < n; p++) {
        for (const char *c = parts[p]; *c != '\0'; c++) {
            if (len + 1u >= cap) {
                return MQOTA_ERR_NO_SPACE;
            }
            buf[len++] = *c;
        }
    }
    buf[len] = '\0';
    return MQOTA_OK;
}

/* Write the topic <prefix>/dev/<id>/<leaf> into buf. */
mqota_status_t agent__build_topic(const mqota_agent_t *a, const char *leaf, char *buf, size_t cap)
{
    const char *parts[5] = {a->prefix, "/dev/", a->device_id, "/", leaf};
    return join_parts(parts, 5u, buf, cap);
}

/* Publish payload on <prefix>/dev/<id>/<leaf> (built in a->topic). MQOTA_ERR_NO_SPACE if the
 * topic does not fit, MQOTA_ERR_PLATFORM if the publish hook failed. */
mqota_status_t agent__publish(mqota_agent_t *a, const char *leaf, const uint8_t *payload,
                              size_t len, int qos, bool retain)
{
    if (agent__build_topic(a, leaf, a->topic, sizeof(a->topic)) != MQOTA_OK) {
        return MQOTA_ERR_NO_SPACE;
    }
    return a->plat.publish(a->plat.ctx, a->topic, payload, len, qos, retain) != 0
               ? MQOTA_ERR_PLATFORM
               : MQOTA_OK;
}

/* Subscribe to <prefix>/dev/<id>/<leaf>; false if the topic does not fit or the hook failed. */
static bool subscribe_leaf(mqota_agent_t *a, const char *leaf, int qos)
{
    return agent__build_topic(a, leaf, a->topic, sizeof(a->topic)) == MQOTA_OK &&
           a->plat.subscribe(a->plat.ctx, a->topic, qos) == 0;
}

static const char *const topic_leaf[] = {"state", "online", "offer",     "chunk", "ack",
                                         NULL,    "cmd",    "reply", "telemetry", "health"};

/* *v /= d for d below 65536, returning *v % d. Divides with 32-bit operations, 16 bits at a
 * time (each partial dividend stays below d << 16): a 64-bit `/` and `%` on the 32-bit
 * ESP32-C3 link libgcc's __udivdi3 and __umoddi3, and a shift by a variable count its
 * __lshrdi3. */
static uint32_t divmod_u64(uint64_t *v, uint32_t d)
{
    uint16_t limb[4] = {(uint16_t)(*v >> 48), (uint16_t)(*v >> 32), (uint16_t)(*v >> 16),
                        (uint16_t)*v};
    uint32_t rem = 0;
    for (size_t i = 0; i < 4u; i++) {
        uint32_t cur = (rem << 16) | limb[i];
        limb[i] = (uint16_t)(cur / d);
        rem = cur % d;
    }
    *v = (uint64_t)limb[0] << 48 | (uint64_t)limb[1] << 32 | (uint32_t)limb[2] << 16 | limb[3];
    return rem;
}

/* Decimal digits of v into buf (at least 21 bytes), NUL-terminated. */
void agent__u64_to_dec(uint64_t v, char *buf)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + (int)divmod_u64(&v, 10u));
    } while (v != 0u);
    for (size_t i = 0; i < n; i++) {
        buf[i] = tmp[n - 1u - i];
    }
    buf[n] = '\0';
}

/* <prefix>/stream/<release_id>: the multicast stream of the offer in progress; a compressed
 * form has its own, <prefix>/stream/<release_id>/<encoding>, and a delta one per base,
 * <prefix>/stream/<release_id>/<encoding>/<first 4 bytes of the base's SHA-256 in lowercase
 * hex>, so that devices on another base never take its chunks (docs/PROTOCOL.md §13). */
static mqota_status_t build_stream_topic(const mqota_agent_t *a, char *buf, size_t cap)
{
    /* <release_id>, then "/" and the encoding's digits, then "/" and 8 hex digits */
    char tail[21 + 1 + 3 + 1 + 8];
    const char *parts[3] = {a->prefix, "/stream/", tail};
    char *t = tail;
    agent__u64_to_dec(a->offer.release_id, t);
    if (a->offer.encoding != MQOTA_ENCODING_NONE) {
        t += strlen(t);
        *t++ = '/';
        agent__u64_to_dec(a->offer.encoding, t);
        if (MQOTA_ENCODING_IS_DELTA(a->offer.encoding)) { /* one digit */
            t[1] = '/';
            for (size_t i = 0; i < 8u; i++) {
                unsigned n = (a->offer.base_sha256[i / 2u] >> (4u - 4u * (i & 1u))) & 15u;
                t[2u + i] = (char)(n < 10u ? '0' + n : 'a' - 10u + n);
            }
            t[10] = '\0';
        }
    }
    return join_parts(parts, 3u, buf, cap);
}

/* True if `topic` is the stream we follow, <prefix>/stream/<release_id>, or
 * <prefix>/stream/<release_id>/<encoding> for a compressed form (build_stream_topic()). Built
 * in a->topic, the agent's scratch, not on the stack: a topic buffer in on_message()'s frame
 * would sit under every offer's ECDSA verify, the deepest stack (bench/stack-usage). */
NOINLINE static bool is_stream_topic(mqota_agent_t *a, const char *topic)
{
    return a->stream && build_stream_topic(a, a->topic, sizeof(a->topic)) == MQOTA_OK &&
           strcmp(topic, a->topic) == 0;
}

/* True if `topic` is exactly <prefix>/dev/<id>/<leaf>: built in a->topic, the agent's scratch
 * (as is_stream_topic()), and compared. */
static bool topic_is(mqota_agent_t *a, const char *topic, const char *leaf)
{
    return agent__build_topic(a, leaf, a->topic, sizeof(a->topic)) == MQOTA_OK &&
           strcmp(topic, a->topic) == 0;
}

/* What happened, for transition(): each event moves the agent to one state, from the states
 * listed for it in the table below. */
typedef enum {
    EV_BOOT_IDLE,          /* init: nothing to recover */
    EV_BOOT_PENDING,       /* init: the running slot is pending-verify */
    EV_BOOT_CONFIRMED,     /* init: the attempt record's image runs, confirmed earlier */
    EV_BOOT_ROLLED_BACK,   /* init: back in the old slot after an attempt */
    EV_OFFER_ACCEPTED,     /* an offer passed judge_offer(); the transfer starts or resumes */
    EV_ALREADY_RUNNING,    /* an offer of the release that runs */
    EV_OFFER_CLEARED,      /* the server cleared the offer during the transfer */
    EV_CHUNK_WRITTEN,      /* a chunk is written (or a resume found every chunk there) */
    EV_ALL_WRITTEN,        /* every chunk is written: read the slot back */
    EV_BOOT_SLOT_SWITCHED, /* verified; attempt recorded, boot slot switched */
    EV_CONFIRMED,          /* the new image is marked valid */
    EV_ROLLED_BACK,        /* the new image is marked invalid; reboot into the old one */
    EV_FAILED,             /* the update failed or an offer was refused; the old image runs */
    EV_HELD,               /* verified, and the offer asks to hold the image (no switch) */
    EV_BOOT_HELD,          /* init: a held image waits in the inactive slot ("mq.held") */
    EV_ACTIVATE            /* the offer of the held image came without the hold flag: read the
                              slot back again, then switch the boot slot */
} event_t;

#define S(x) (1u << MQOTA_STATE_##x) /* a state in a set of states (in_state()) */
/* States from which an update may start, or fail before anything is switched. */
#define S_SETTLED (S(IDLE) | S(CONFIRMED) | S(FAILED) | S(ROLLED_BACK) | S(HELD))
#define S_TRANSFER (S(OFFERED) | S(DOWNLOADING))

/* Every allowed state change, by event: {states it may come from, next state}. Anything else is
 * refused by transition(). Once the boot slot is switched (ready-to-reboot, pending-verify)
 * only the new image's verdict moves the agent: no offer can make it "failed" there. */
static const struct {
    uint16_t from;
    uint8_t to;
} transitions[] = {
    [EV_BOOT_IDLE] = {S(IDLE), MQOTA_STATE_IDLE},
    [EV_BOOT_PENDING] = {S(IDLE), MQOTA_STATE_PENDING_VERIFY},
    [EV_BOOT_CONFIRMED] = {S(IDLE), MQOTA_STATE_CONFIRMED},
    [EV_BOOT_ROLLED_BACK] = {S(IDLE), MQOTA_STATE_ROLLED_BACK},
    [EV_OFFER_ACCEPTED] = {S_SETTLED | S_TRANSFER, MQOTA_STATE_OFFERED},
    [EV_ALREADY_RUNNING] = {S_SETTLED | S_TRANSFER, MQOTA_STATE_CONFIRMED},
    [EV_OFFER_CLEARED] = {S_TRANSFER | S(HELD), MQOTA_STATE_IDLE},
    [EV_CHUNK_WRITTEN] = {S(OFFERED), MQOTA_STATE_DOWNLOADING},
    [EV_ALL_WRITTEN] = {S_TRANSFER, MQOTA_STATE_VERIFYING},
    [EV_BOOT_SLOT_SWITCHED] = {S(VERIFYING), MQOTA_STATE_READY_TO_REBOOT},
    [EV_CONFIRMED] = {S(PENDING_VERIFY), MQOTA_STATE_CONFIRMED},
    [EV_ROLLED_BACK] = {S(PENDING_VERIFY), MQOTA_STATE_ROLLED_BACK},
    [EV_FAILED] = {S_SETTLED | S_TRANSFER | S(VERIFYING), MQOTA_STATE_FAILED},
    [EV_HELD] = {S(VERIFYING), MQOTA_STATE_HELD},
    [EV_BOOT_HELD] = {S(IDLE), MQOTA_STATE_HELD},
    [EV_ACTIVATE] = {S(HELD), MQOTA_STATE_VERIFYING},
};

/* Whether the agent is in one of `states` (S(x) | S(y) ...). */
static bool in_state(const mqota_agent_t *a, uint32_t states)
{
    return ((states >> a->state) & 1u) != 0u;
}

/* The one place the update state changes: look the event up in the table; if the current state
 * may take it, move to its next state with `reason` and mark the STATE for publishing. Returns
 * false, changing nothing, for a change the table does not allow. */
static bool transition(mqota_agent_t *a, event_t ev, mqota_reason_t reason)
{
    if (in_state(a, transitions[ev].from)) {
        a->state = transitions[ev].to;
        a->reason = (uint8_t)reason;
        a->state_dirty = true;
        return true;
    }
    MQOTA_LOG(1, "event %u refused in state %s", (unsigned)ev,
              mqota_state_name((mqota_update_state_t)a->state));
    return false;
}

/* Stop following the release's multicast stream, if we were. */
static void leave_stream(mqota_agent_t *a)
{
    if (a->stream && a->connected && a->plat.unsubscribe != NULL &&
        build_stream_topic(a, a->topic, sizeof(a->topic)) == MQOTA_OK) {
        (void)a->plat.unsubscribe(a->plat.ctx, a->topic);
    }
    a->stream = false;
}

/* Follow the release's multicast stream. */
static void join_stream(mqota_agent_t *a)
{
    a->stream = true;
    if (a->connected && build_stream_topic(a, a->topic, sizeof(a->topic)) == MQOTA_OK) {
        (void)a->plat.subscribe(a->plat.ctx, a->topic, 0);
    }
}

/* The transfer is over (failed, cleared, held, or its image switched to): drop its progress
 * record (and with drop_held the held-image record), leave its stream, forget the offer as one
 * in progress, and move on with `ev`. */
static void end_transfer(mqota_agent_t *a, event_t ev, mqota_reason_t reason, bool drop_held)
{
    (void)a->plat.kv_erase(a->plat.ctx, KEY_PROGRESS);
    if (drop_held) {
        (void)a->plat.kv_erase(a->plat.ctx, KEY_HELD);
    }
    leave_stream(a);
    a->have_offer = false;
    (void)transition(a, ev, reason);
}

/* End the transfer in progress with `reason`. The old image keeps running; the progress record
 * is dropped so that a new offer starts clean, and a held image that failed is gone too. */
static void fail(mqota_agent_t *a, mqota_reason_t reason)
{
    MQOTA_LOG(1, "update of release %u failed: %s", (unsigned)a->target_release,
              mqota_reason_name(reason));
    a->ack_due = false;
    end_transfer(a, EV_FAILED, reason, true);
}

static mqota_status_t persist_progress(mqota_agent_t *a)
{
    mqota_progress_t p;
    memset(&p, 0, sizeof(p));
    p.release_id = a->offer.release_id;
    p.deployment_id = a->offer.deployment_id;
    p.image_size = a->offer.image_size;
    p.chunk_size = a->offer.chunk_size;
    p.base = a->base;
    p.slot = a->target_slot;
    memcpy(p.sha256, a->offer.sha256, MQOTA_SHA256_LEN);
    return store__progress_save(a, &p) ? MQOTA_OK : MQOTA_ERR_PLATFORM;
}

/* Mark the running (pending-verify) image invalid and reboot into the previous slot. The
 * reason is recorded in the attempt record so that the old image can report it. */
void agent__roll_back(mqota_agent_t *a, mqota_reason_t reason)
{
    mqota_attempt_t at;
    if (store__attempt_load(a, &at)) {
        at.reason = (uint8_t)reason;
        (void)store__attempt_save(a, &at);
    }
    (void)a->plat.slot_mark_invalid(a->plat.ctx);
    (void)transition(a, EV_ROLLED_BACK, reason);
    a->reboot_requested = true;
}

/* ---------------------------------------------------------------------------------------- */
/* Init                                                                                       */

static bool id_valid(const char *id)
{
    size_t n = 0;
    if (id == NULL) {
        return false;
    }
    for (; id[n] != '\0'; n++) {
        char c = id[n];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_' || c == '.';
        if (!ok || n >= MQOTA_DEVICE_ID_MAX) {
            return false;
        }
    }
    return n > 0u;
}

/* The hooks every platform provides (the rest are optional, checked where they are used), as
 * offsets into mqota_platform_t: one loop instead of a test per hook, 80 bytes smaller on the
 * ESP32-C3. Each is read with memcpy() because the hooks' types differ. */
#define HOOK(h)                                                                                \
    (uint8_t)(offsetof(mqota_platform_t, h) + /* an offset past a byte is a build error */     \
              0u * sizeof(char[offsetof(mqota_platform_t, h) <= UINT8_MAX ? 1 : -1]))
static const uint8_t required_hooks[] = {
    HOOK(publish),       HOOK(subscribe),       HOOK(running),         HOOK(slot_size),
    HOOK(slot_begin),    HOOK(slot_write),      HOOK(slot_read),       HOOK(slot_end),
    HOOK(slot_set_boot), HOOK(slot_state),      HOOK(slot_mark_valid), HOOK(slot_mark_invalid),
    HOOK(reboot),        HOOK(kv_get),          HOOK(kv_set),          HOOK(kv_erase),
    HOOK(now_ms),        HOOK(sha256_begin),    HOOK(sha256_update),   HOOK(sha256_finish),
};
#undef HOOK

static bool hooks_present(const mqota_platform_t *p)
{
    for (size_t i = 0; i < sizeof(required_hooks); i++) {
        void (*hook)(void);
        memcpy(&hook, (const uint8_t *)p + required_hooks[i], sizeof(hook));
        if (hook == NULL) {
            return false;
        }
    }
    return true;
}

/* Work out, after boot, whether this boot follows an update attempt: confirm pending, report a
 * rollback, or nothing. */
/* Back in the old slot after a recorded attempt: did the boot slot switch happen? With the
 * platform's slot_state_of, the new slot's otadata state tells: VALID (an older entry) or
 * UNDEFINED (no entry) means the switch never completed; NEW, PENDING_VERIFY, ABORTED or
 * INVALID mean the bootloader selected it and came back. Without the hook: assume it did. */
static bool switch_took_effect(mqota_agent_t *a, const mqota_attempt_t *at,
                               mqota_slot_state_t *to_state)
{
    *to_state = MQOTA_SLOT_ABORTED;
    if (a->plat.slot_state_of == NULL ||
        a->plat.slot_state_of(a->plat.ctx, at->to_slot, to_state) != 0) {
        *to_state = MQOTA_SLOT_ABORTED;
        return true;
    }
    return *to_state != MQOTA_SLOT_VALID && *to_state != MQOTA_SLOT_UNDEFINED;
}

/* A held image ("mq.held") survived the reset: take it up again in state held, as if its
 * offer had just been verified; the retained offer then holds or activates it. If there is
 * none, or it names the running slot (the boot slot switched to it, so it is no longer held;
 * such a record is erased), the agent goes idle. */
static void resume_held_or_idle(mqota_agent_t *a)
{
    mqota_held_t h;
    if (!store__held_load(a, &h) ||
        h.slot == a->running.running_slot || h.slot >= a->running.slot_count) {
        /* a record naming the running slot is erased by recover_after_boot(), which erases
         * "mq.held" in every state but held */
        (void)transition(a, EV_BOOT_IDLE, MQOTA_REASON_NONE);
        return;
    }
    (void)a->plat.kv_erase(a->plat.ctx, KEY_PROGRESS); /* the transfer ended with the hold */
    memset(&a->offer, 0, sizeof(a->offer));
    a->offer.release_id = h.release_id;
    a->offer.deployment_id = h.deployment_id;
    a->offer.image_size = h.image_size;
    a->offer.flags = MQOTA_OFFER_FLAG_HOLD;
    memcpy(a->offer.sha256, h.sha256, MQOTA_SHA256_LEN);
    a->target_slot = h.slot;
    a->target_release = h.release_id;
    a->progress_bytes = h.image_size;
    MQOTA_LOG(2, "release %u held in slot %u since before the reset", (unsigned)h.release_id,
              (unsigned)h.slot);
    (void)transition(a, EV_BOOT_HELD, MQOTA_REASON_NONE);
}

static void recover_after_boot(mqota_agent_t *a, uint64_t now_ms)
{
    mqota_slot_state_t st = MQOTA_SLOT_UNDEFINED, to_state = MQOTA_SLOT_ABORTED;
    mqota_attempt_t at;
    bool have_attempt = store__attempt_load(a, &at);

    if (a->plat.slot_state(a->plat.ctx, &st) != 0) {
        st = MQOTA_SLOT_UNDEFINED;
    }
    if (have_attempt) {
        /* Remember which offer this was, so its retained copy is not taken up again. */
        a->target_release = at.release_id;
        a->offer.release_id = at.release_id;
        a->offer.deployment_id = at.deployment_id;
    }
    if (st == MQOTA_SLOT_PENDING_VERIFY) {
        /* First boot of a new image: confirm once the broker is reachable. */
        (void)transition(a, EV_BOOT_PENDING, MQOTA_REASON_NONE);
        a->pending_since_ms = (uint32_t)now_ms;
    } else if (have_attempt && a->running.running_slot == at.to_slot) {
        /* Confirmed earlier; the record outlived a reset between confirm and erase (or the
         * minimum could not be stored then): raise the minimum now, then drop the record. */
        (void)transition(a, EV_BOOT_CONFIRMED, MQOTA_REASON_NONE);
        if (store__raise_min_secure_version(a, at.secure_version)) {
            (void)a->plat.kv_erase(a->plat.ctx, KEY_ATTEMPT);
        }
    } else if (have_attempt && !switch_took_effect(a, &at, &to_state)) {
        /* Power went between the attempt record and the end of the boot slot switch: the new
         * image never ran. Not a rollback: drop the record; the retained offer resumes the
         * update (the progress record is still there). */
        MQOTA_LOG(2, "boot slot switch to slot %u never took effect; the update resumes",
                  (unsigned)at.to_slot);
        (void)a->plat.kv_erase(a->plat.ctx, KEY_ATTEMPT);
        resume_held_or_idle(a); /* an activation cut short holds the image again */
    } else if (have_attempt) {
        /* The bootloader brought us back to the old slot: the new image reset before it was
         * confirmed (ABORTED), or the bootloader refused it (still NEW), or it was marked
         * invalid with the reason recorded. */
        (void)transition(a, EV_BOOT_ROLLED_BACK,
                         at.reason != MQOTA_REASON_NONE ? (mqota_reason_t)at.reason
                         : to_state == MQOTA_SLOT_NEW   ? MQOTA_REASON_INVALID_IMAGE
                                                        : MQOTA_REASON_RESET);
        (void)a->plat.kv_erase(a->plat.ctx, KEY_ATTEMPT);
    } else {
        resume_held_or_idle(a);
    }
    if (a->state != MQOTA_STATE_HELD) {
        (void)a->plat.kv_erase(a->plat.ctx, KEY_HELD); /* switched to, or never written */
    }
}

/* mqota_agent_init(): first the caller's view of the agent's size tunables against ours, before
 * anything is written to an agent struct that may be smaller than ours (mqota_config_defaults.h). */
mqota_status_t mqota_agent_init_checked(mqota_agent_t *agent, const mqota_config_t *cfg,
                                        const mqota_platform_t *plat, uint64_t now_ms,
                                        size_t agent_size, uint32_t max_chunks,
                                        uint32_t verify_step, uint32_t topic_max,
                                        uint32_t device_id_max)
{
    mqota_slot_record_t sr;
    const char *prefix;
    if (agent_size != sizeof(mqota_agent_t) || max_chunks != MQOTA_MAX_CHUNKS ||
        verify_step != MQOTA_VERIFY_STEP || topic_max != MQOTA_TOPIC_MAX ||
        device_id_max != MQOTA_DEVICE_ID_MAX) {
        return MQOTA_ERR_CONFIG;
    }
    if (agent == NULL || cfg == NULL || plat == NULL || !hooks_present(plat) ||
        !id_valid(cfg->device_id) || !is_pow2(cfg->max_chunk) || cfg->max_chunk < MQOTA_CHUNK_MIN ||
        cfg->max_chunk > MQOTA_CHUNK_MAX || cfg->max_window < 1u ||
        cfg->max_window > MQOTA_SACK_BITS ||
        (cfg->require_signature && plat->verify_signature == NULL) ||
        ((plat->aead_seal == NULL) != (plat->aead_open == NULL)) ||
        ((plat->secure_version_read == NULL) != (plat->secure_version_raise == NULL)) ||
        (cfg->confirm_by_command && plat->aead_open == NULL) ||
        cfg->health_interval_s > UINT32_MAX / 1000u) {
        return MQOTA_ERR_ARG;
    }
    prefix = cfg->topic_prefix != NULL ? cfg->topic_prefix : MQOTA_TOPIC_PREFIX_DEFAULT;
    if (strlen(prefix) == 0u || strlen(prefix) >= sizeof(agent->prefix)) {
        return MQOTA_ERR_ARG;
    }
    memset(agent, 0, sizeof(*agent));
    agent->plat = *plat;
    copy_str(agent->device_id, sizeof(agent->device_id), cfg->device_id);
    copy_str(agent->prefix, sizeof(agent->prefix), prefix);
    agent->max_chunk = cfg->max_chunk;
    agent->max_window = cfg->max_window;
    agent->confirm_timeout_ms =
        cfg->confirm_timeout_ms != 0u ? cfg->confirm_timeout_ms : MQOTA_CONFIRM_TIMEOUT_MS;
    agent->verify_budget =
        cfg->verify_bytes_per_process != 0u ? cfg->verify_bytes_per_process : MQOTA_VERIFY_STEP;
    agent->auto_reboot = cfg->auto_reboot;
    agent->require_signature = cfg->require_signature;
    agent->commands = plat->aead_open != NULL; /* and aead_seal: both or neither (above) */
    agent->confirm_by_command = cfg->confirm_by_command && agent->commands;
    agent->command_handler = cfg->command_handler;
    agent->command_ctx = cfg->command_ctx;
    agent->boot_ms = now_ms;
    agent->health_interval_ms =
        (cfg->health_interval_s != 0u ? cfg->health_interval_s : MQOTA_HEALTH_INTERVAL_S) * 1000u;
    if (agent->commands) {
        store__cmd_load(agent);
    }

    if (plat->running(plat->ctx, &agent->running) != 0 || agent->running.slot_count < 2u ||
        agent->running.running_slot >= agent->running.slot_count) {
        return MQOTA_ERR_PLATFORM;
    }
    if (store__slot_load(agent, agent->running.running_slot, &sr)) {
        agent->running_release = sr.release_id;
        copy_str(agent->release_version, sizeof(agent->release_version), sr.version);
    }
    if (!store__min_secure_version(agent, &agent->min_secure_version)) {
        return MQOTA_ERR_PLATFORM;
    }
    recover_after_boot(agent, now_ms);
    agent->state_dirty = true;
    return MQOTA_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* Outgoing messages                                                                          */

void mqota_agent_state_msg(const mqota_agent_t *a, mqota_state_msg_t *m)
{
    memset(m, 0, sizeof(*m));
    m->deflate_window = decode__window(a);
    m->state = a->state;
    m->reason = a->reason;
    m->running_slot = a->running.running_slot;
    m->chip_id = a->running.chip_id;
    m->max_window = a->max_window;
    m->max_chunk = a->max_chunk;
    m->caps = MQOTA_CAP_RESUME | MQOTA_CAP_SACK | MQOTA_CAP_ROLLBACK | MQOTA_CAP_HOLD |
              (a->commands ? MQOTA_CAP_COMMANDS : 0u) |
              (m->deflate_window != 0u ? MQOTA_CAP_DEFLATE | MQOTA_CAP_DELTA : 0u);
    m->running_release = a->running_release;
    m->target_release = a->target_release;
    m->progress = a->progress_bytes;
    m->image_size = a->have_offer || a->state != MQOTA_STATE_IDLE ? a->offer.image_size : 0u;
    m->boot_count = a->running.boot_count;
    copy_str(m->project, sizeof(m->project), a->running.project);
    copy_str(m->version, sizeof(m->version), a->running.version);
    copy_str(m->idf_ver, sizeof(m->idf_ver), a->running.idf_ver);
    copy_str(m->release_version, sizeof(m->release_version), a->release_version);
}

static mqota_status_t publish_state(mqota_agent_t *a, uint64_t now_ms)
{
    mqota_state_msg_t m;
    size_t len = 0;
    mqota_status_t st;
    mqota_agent_state_msg(a, &m);
    if (mqota_state_encode(&m, a->io, sizeof(a->io), &len) != MQOTA_OK) {
        return MQOTA_ERR_NO_SPACE;
    }
    if ((st = agent__publish(a, "state", a->io, len, 1, true)) != MQOTA_OK) {
        return st;
    }
    a->state_dirty = false;
    a->last_state_ms = (uint32_t)now_ms;
    a->state_progress = a->progress_bytes;
    return MQOTA_OK;
}

static mqota_status_t publish_ack(mqota_agent_t *a, uint64_t now_ms)
{
    mqota_ack_t ack;
    uint32_t sack[2] = {0u, 0u};
    uint8_t buf[MQOTA_ACK_LEN];
    size_t len = 0;
    mqota_status_t st;
    memset(&ack, 0, sizeof(ack));
    ack.release_id = a->offer.release_id;
    ack.base = a->base;
    ack.high = a->high;
    /* Describe the newest 64 chunks: on a stream they lie far beyond base. */
    ack.sack_base = a->high > a->base + 1u + MQOTA_SACK_BITS ? a->high - 1u - MQOTA_SACK_BITS
                                                              : a->base;
    /* in two 32-bit halves: a 64-bit shift by k links libgcc's __ashldi3 */
    for (uint32_t k = 0; k < MQOTA_SACK_BITS; k++) {
        uint32_t i = ack.sack_base + 1u + k;
        if (i < a->chunk_count && bit_get(a, i)) {
            sack[k / 32u] |= 1u << (k % 32u);
        }
    }
    ack.sack = (uint64_t)sack[1] << 32 | sack[0];
    ack.window = a->window;
    ack.flags = a->ack_flags;
    if (a->received == a->chunk_count) {
        ack.flags |= MQOTA_ACK_FLAG_COMPLETE;
    }
    if (mqota_ack_encode(&ack, buf, sizeof(buf), &len) != MQOTA_OK) {
        return MQOTA_ERR_NO_SPACE;
    }
    if ((st = agent__publish(a, "ack", buf, len, 0, false)) != MQOTA_OK) {
        return st;
    }
    a->ack_due = false;
    a->ack_flags = 0;
    a->last_ack_ms = (uint32_t)now_ms;
    a->received_at_ack = a->received;
    return MQOTA_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* Incoming messages                                                                          */

static bool transferring(const mqota_agent_t *a)
{
    return a->have_offer &&
           (a->state == MQOTA_STATE_OFFERED || a->state == MQOTA_STATE_DOWNLOADING);
}

/* Start (or resume) the transfer described by a->offer into the inactive slot. */
static void start_transfer(mqota_agent_t *a)
{
    mqota_progress_t p;
    uint32_t slot_bytes = 0;
    uint32_t erase_from = 0;
    uint32_t cs = a->offer.chunk_size;

    a->target_slot = (uint8_t)((a->running.running_slot + 1u) % a->running.slot_count);
    a->target_release = a->offer.release_id;
    a->have_offer = true;
    leave_stream(a);
    a->base = 0;
    a->received = 0;
    a->received_at_ack = 0;
    a->high = 0;
    a->progress_bytes = 0;
    a->resumed = false;
    memset(a->bitmap, 0, sizeof(a->bitmap));

    if ((a->offer.flags & MQOTA_OFFER_FLAG_FILES) != 0u) { /* files, not an image (§17) */
        fail(a, MQOTA_REASON_FILE_RELEASE);
        return;
    }
    if (a->offer.chip_id != a->running.chip_id) {
        fail(a, MQOTA_REASON_CHIP_MISMATCH);
        return;
    }
    if (!decode__offer_ok(a, &a->offer)) {
        fail(a, MQOTA_REASON_BAD_ENCODING);
        return;
    }
    if (!decode__base_ok(a)) {
        fail(a, MQOTA_REASON_BASE_MISMATCH);
        return;
    }
    if (!is_pow2(cs) || cs < MQOTA_CHUNK_MIN || cs > MQOTA_CHUNK_MAX ||
        (a->offer.encoding == MQOTA_ENCODING_NONE && cs > a->max_chunk)) {
        fail(a, MQOTA_REASON_BAD_CHUNK_SIZE);
        return;
    }
    if (a->plat.slot_size(a->plat.ctx, a->target_slot, &slot_bytes) != 0 ||
        a->offer.image_size == 0u || a->offer.image_size > slot_bytes) {
        fail(a, MQOTA_REASON_TOO_LARGE);
        return;
    }
    a->chunk_count = (a->offer.image_size + cs - 1u) / cs;
    if (a->chunk_count > MQOTA_MAX_CHUNKS) {
        fail(a, MQOTA_REASON_TOO_MANY_CHUNKS);
        return;
    }
    a->window = a->offer.window != 0u && a->offer.window < a->max_window ? a->offer.window
                                                                         : a->max_window;

    if (store__progress_load(a, &p) &&
        p.release_id == a->offer.release_id && p.image_size == a->offer.image_size &&
        p.chunk_size == cs && p.slot == a->target_slot && p.base <= a->chunk_count &&
        memcmp(p.sha256, a->offer.sha256, MQOTA_SHA256_LEN) == 0) {
        /* Resume: keep whole erase sectors below the persisted base; the sector holding the
         * base may be partly written, so it is erased and its chunks fetched again. A record
         * whose base is the chunk count (a reset while verifying) resumes at the last chunk:
         * with chunks larger than FLASH_SECTOR, chunk_count * cs can lie beyond the image's
         * last sector, where slot_begin may not erase from. */
        uint32_t b = p.base < a->chunk_count ? p.base : a->chunk_count - 1u;
        uint32_t off = b * cs;
        erase_from = off - off % FLASH_SECTOR;
        a->base = erase_from / cs;
        a->resumed = a->base > 0u;
    } else {
        /* The slot's old content is about to go: forget which release it held. */
        (void)a->plat.kv_erase(a->plat.ctx, store__slot_key(a->target_slot));
    }
    if (a->plat.slot_begin(a->plat.ctx, a->target_slot, a->offer.image_size, erase_from) != 0) {
        fail(a, MQOTA_REASON_FLASH);
        return;
    }
    for (uint32_t i = 0; i < a->base; i++) {
        bit_set(a, i);
    }
    a->received = a->base;
    a->high = a->base;
    a->progress_bytes = a->base * cs;
    if (persist_progress(a) != MQOTA_OK) {
        fail(a, MQOTA_REASON_STORE);
        return;
    }
    MQOTA_LOG(2, "release %u: %s at chunk %u of %u", (unsigned)a->offer.release_id,
              a->resumed ? "resuming" : "starting", (unsigned)a->base, (unsigned)a->chunk_count);
    (void)transition(a, EV_OFFER_ACCEPTED, MQOTA_REASON_NONE);
    if ((a->offer.flags & MQOTA_OFFER_FLAG_STREAM) != 0u) {
        join_stream(a);
    }
    a->ack_due = true;
    a->ack_flags = a->resumed ? MQOTA_ACK_FLAG_RESUMED : 0u;
    if (a->received == a->chunk_count) {
        (void)transition(a, EV_CHUNK_WRITTEN, MQOTA_REASON_NONE);
    }
}

/*
 * Judge whether an offer may be acted on, before anything is erased: its signature (if it
 * carries one and the platform holds a key; required with require_signature) and its
 * secure_version against the stored minimum. Returns MQOTA_REASON_NONE if it may, else the
 * reason to refuse it with.
 *
 * The manifest is rebuilt from the offer's own fields, so a signature made for other bytes
 * (another image, version, chip or secure_version) does not verify. The sha256 hook and the
 * scratch buffer are free here: offers are ignored while an image is being verified. The
 * manifest, its digest and the signature block are in the scratch buffer (a->judge), off the
 * stack, which is deepest here: under the ECDSA verify (bench/stack-usage).
 */
NOINLINE static mqota_reason_t judge_offer(mqota_agent_t *a, const mqota_offer_t *offer)
{
    uint8_t *manifest = a->judge.manifest;
    uint8_t *digest = a->judge.digest;
    mqota_sig_block_t *blk = &a->judge.sig;
    size_t mlen = 0;
    mqota_status_t st = mqota_sig_block_decode(offer->sig, offer->sig_len, blk);

    if (st == MQOTA_ERR_NOT_FOUND || a->plat.verify_signature == NULL) {
        /* Unsigned, or no key to check with (then require_signature is off: see init). */
        if (a->require_signature) {
            return MQOTA_REASON_UNSIGNED;
        }
    } else if (st != MQOTA_OK ||
               mqota_offer_manifest(offer, manifest, MQOTA_MANIFEST_MAX_LEN, &mlen) != MQOTA_OK ||
               a->plat.sha256_begin(a->plat.ctx) != 0 ||
               a->plat.sha256_update(a->plat.ctx, manifest, mlen) != 0 ||
               a->plat.sha256_finish(a->plat.ctx, digest) != 0 ||
               a->plat.verify_signature(a->plat.ctx, digest, blk->signature,
                                        sizeof(blk->signature)) != 0) {
        return MQOTA_REASON_SIGNATURE;
    }
    if (offer->secure_version < a->min_secure_version) {
        return MQOTA_REASON_SECURITY_VERSION;
    }
    return MQOTA_REASON_NONE;
}

/* Whether an offer is for the image held in the inactive slot: same release, size and
 * SHA-256 (the deployment may differ: a new deployment of the same release reuses it). */
static bool held_matches(const mqota_agent_t *a, const mqota_offer_t *offer)
{
    return offer->release_id == a->offer.release_id && offer->image_size == a->offer.image_size &&
           memcmp(offer->sha256, a->offer.sha256, MQOTA_SHA256_LEN) == 0;
}

/* Read the held image back again and hash it (it may have waited for days), then switch the
 * boot slot as after a download: verify_step() and finish_verify(). */
static void activate_held(mqota_agent_t *a)
{
    MQOTA_LOG(2, "release %u activated", (unsigned)a->offer.release_id);
    (void)transition(a, EV_ACTIVATE, MQOTA_REASON_NONE);
    a->verify_offset = 0;
    mqota_image_check_init(&a->check);
    if (a->plat.sha256_begin(a->plat.ctx) != 0) {
        fail(a, MQOTA_REASON_FLASH);
    }
}

/* The offer of the held image, again (retained, after a reconnect or reset) or anew (another
 * deployment of the release, or the server's activation): judged as any offer, then with the
 * hold flag it keeps holding, without it the image is activated. An offer that does not pass
 * judge_offer() has no authority over the held image and changes nothing. */
static mqota_status_t held_offer(mqota_agent_t *a, const mqota_offer_t *offer, uint64_t now_ms)
{
    if (judge_offer(a, offer) != MQOTA_REASON_NONE) {
        return MQOTA_ERR_STATE;
    }
    a->offer = *offer;
    a->last_rx_ms = (uint32_t)now_ms;
    if ((offer->flags & MQOTA_OFFER_FLAG_HOLD) != 0u) {
        return MQOTA_IGNORED; /* still held */
    }
    activate_held(a);
    return a->state == MQOTA_STATE_FAILED ? MQOTA_ERR_STATE : MQOTA_OK;
}

NOINLINE static mqota_status_t handle_offer(mqota_agent_t *a, const uint8_t *payload, size_t len,
                                            uint64_t now_ms)
{
    mqota_reason_t refused;
    /* decoded in the scratch buffer, off the stack (judge_offer()) */
    mqota_offer_t *const o = &a->judge.offer;
    mqota_status_t st;

    if (len == 0u) {
        /* The server cleared the offer: the deployment ended or was cancelled. */
        if (a->state == MQOTA_STATE_HELD) {
            MQOTA_LOG(2, "offer cleared: held release %u dropped",
                      (unsigned)a->offer.release_id);
            (void)a->plat.kv_erase(a->plat.ctx, KEY_HELD);
            (void)transition(a, EV_OFFER_CLEARED, MQOTA_REASON_NONE);
            return MQOTA_OK;
        }
        if (transferring(a)) {
            end_transfer(a, EV_OFFER_CLEARED, MQOTA_REASON_NONE, false);
            return MQOTA_OK;
        }
        return MQOTA_IGNORED;
    }
    st = mqota_offer_decode(payload, len, o);
    if (st != MQOTA_OK) {
        if (!transferring(a) && !in_state(a, S(VERIFYING) | S(HELD))) {
            /* reported only where an update may fail (the table refuses it once the boot
             * slot is switched) */
            (void)transition(a, EV_FAILED, MQOTA_REASON_MALFORMED_OFFER);
        }
        return st;
    }
    if (a->state == MQOTA_STATE_HELD && held_matches(a, o)) {
        return held_offer(a, o, now_ms);
    }
    /* The retained offer comes again after every reconnect: same offer, nothing to do. */
    if (o->release_id == a->target_release &&
        (o->deployment_id == a->offer.deployment_id || !a->have_offer)) {
        if (in_state(a, S(OFFERED) | S(DOWNLOADING) | S(VERIFYING))) {
            /* The server may activate (clear the hold flag) before the image is verified. */
            if (o->deployment_id == a->offer.deployment_id) {
                a->offer.flags = (a->offer.flags & ~MQOTA_OFFER_FLAG_HOLD) |
                                 (o->flags & MQOTA_OFFER_FLAG_HOLD);
            }
            return MQOTA_IGNORED;
        }
        if (in_state(a, S(FAILED) | S(ROLLED_BACK)) &&
            o->deployment_id == a->offer.deployment_id && !decode__fallback(a, o)) {
            return MQOTA_IGNORED; /* a new deployment is needed to try again */
        }
        /* ready-to-reboot and pending-verify: ignored below, as any offer there */
    }
    if (in_state(a, S(VERIFYING) | S(READY_TO_REBOOT) | S(PENDING_VERIFY))) {
        return MQOTA_IGNORED; /* finish the current image first */
    }
    refused = judge_offer(a, o);
    if (refused != MQOTA_REASON_NONE) {
        MQOTA_LOG(1, "offer of release %u refused: %s", (unsigned)o->release_id,
                  mqota_reason_name(refused));
    }
    if ((refused == MQOTA_REASON_SIGNATURE || refused == MQOTA_REASON_UNSIGNED) &&
        (transferring(a) || a->state == MQOTA_STATE_HELD)) {
        /* An offer that is not authentic has no authority to cancel the transfer or to drop
         * a held image. */
        return MQOTA_ERR_STATE;
    }
    if (a->state == MQOTA_STATE_HELD) {
        /* An authentic offer of another image replaces the held one (its slot is rewritten,
         * or the offer is refused and nothing is held any more). */
        MQOTA_LOG(2, "held release %u dropped for release %u", (unsigned)a->offer.release_id,
                  (unsigned)o->release_id);
        (void)a->plat.kv_erase(a->plat.ctx, KEY_HELD);
    }
    if (refused != MQOTA_REASON_NONE && transferring(a)) {
        fail(a, refused); /* an authentic offer replaces the transfer, but is refused */
    }
    /* Refused (nothing was erased) or taken: remember the offer, so that its retained copy is
     * not judged again. */
    a->offer = *o;
    if (refused != MQOTA_REASON_NONE || o->release_id == a->running_release) {
        /* refused, or already running this release */
        a->target_release = o->release_id;
        a->have_offer = false;
        a->progress_bytes = refused != MQOTA_REASON_NONE ? 0u : o->image_size;
        (void)transition(a, refused != MQOTA_REASON_NONE ? EV_FAILED : EV_ALREADY_RUNNING,
                         refused);
        return refused != MQOTA_REASON_NONE ? MQOTA_ERR_STATE : MQOTA_OK;
    }
    a->last_rx_ms = (uint32_t)now_ms;
    start_transfer(a);
    return a->state == MQOTA_STATE_FAILED ? MQOTA_ERR_STATE : MQOTA_OK;
}

static mqota_status_t handle_chunk(mqota_agent_t *a, const uint8_t *payload, size_t len,
                                   uint64_t now_ms)
{
    mqota_chunk_t c;
    mqota_status_t st;
    uint32_t old_base;

    if (!transferring(a)) {
        return MQOTA_ERR_STATE;
    }
    st = mqota_chunk_decode(payload, len, &c);
    if (st != MQOTA_OK) {
        return st; /* dropped; the ACKs show it missing and the server sends it again */
    }
    if (c.release_id != a->offer.release_id) {
        return MQOTA_IGNORED;
    }
    if (c.index >= a->chunk_count) {
        return MQOTA_ERR_RANGE;
    }
    if (!decode__len_ok(a, c.index, c.len)) {
        return MQOTA_ERR_MALFORMED;
    }
    a->last_rx_ms = (uint32_t)now_ms;
    if (bit_get(a, c.index)) {
        a->ack_due = true; /* our earlier ACK may have been lost */
        return MQOTA_DUPLICATE;
    }
    if (!decode__ready(a, c.index)) {
        /* deflate-sync after a loss: ask once per gap for the window again (§6.1) */
        a->ack_due = true;
        if (!a->gap_requested) {
            a->ack_flags |= MQOTA_ACK_FLAG_REQUEST;
            a->gap_requested = true;
        }
        return MQOTA_IGNORED;
    }
    st = decode__chunk(a, c.index, c.data, c.len);
    if (st != MQOTA_OK) {
        fail(a, st == MQOTA_ERR_MALFORMED ? MQOTA_REASON_DECODE : MQOTA_REASON_FLASH);
        return st;
    }
    bit_set(a, c.index);
    a->gap_requested = false;
    a->received++;
    if (c.index + 1u > a->high) {
        a->high = c.index + 1u;
    }
    a->progress_bytes += agent__chunk_len(a, c.index); /* image bytes, whatever came on the wire */
    old_base = a->base;
    while (a->base < a->chunk_count && bit_get(a, a->base)) {
        a->base++;
    }
    /* Persist before acknowledging: the server never learns of a chunk a reset could lose. */
    if (a->base != old_base && persist_progress(a) != MQOTA_OK) {
        fail(a, MQOTA_REASON_STORE);
        return MQOTA_ERR_PLATFORM;
    }
    if (a->state == MQOTA_STATE_OFFERED) {
        (void)transition(a, EV_CHUNK_WRITTEN, MQOTA_REASON_NONE);
    }
    a->ack_due = true;
    return MQOTA_OK;
}

/* Mark the running (pending-verify) image valid: the self-test passed or the server said so. */
void agent__confirm_now(mqota_agent_t *a)
{
    mqota_attempt_t at;
    if (a->plat.slot_mark_valid(a->plat.ctx) != 0) {
        agent__roll_back(a, MQOTA_REASON_SET_BOOT);
        return;
    }
    a->self_test_passed = false;
    /* Confirmed: from now on nothing older than this image's secure_version is accepted. If
     * the store fails, the attempt record stays and the next boot raises the minimum. */
    if (store__attempt_load(a, &at) && !store__raise_min_secure_version(a, at.secure_version)) {
        (void)transition(a, EV_CONFIRMED, MQOTA_REASON_NONE);
        return;
    }
    (void)a->plat.kv_erase(a->plat.ctx, KEY_ATTEMPT);
    (void)transition(a, EV_CONFIRMED, MQOTA_REASON_NONE);
    MQOTA_LOG(2, "release %u confirmed", (unsigned)a->running_release);
}

mqota_status_t mqota_agent_on_message(mqota_agent_t *agent, const char *topic,
                                      const uint8_t *payload, size_t len)
{
    uint64_t now_ms;
    if (agent == NULL || topic == NULL || (payload == NULL && len != 0u)) {
        return MQOTA_ERR_ARG;
    }
    now_ms = agent->plat.now_ms(agent->plat.ctx);
    if (topic_is(agent, topic, "chunk") || is_stream_topic(agent, topic)) {
        return handle_chunk(agent, payload, len, now_ms);
    }
    if (topic_is(agent, topic, "offer")) {
        return handle_offer(agent, payload, len, now_ms);
    }
    if (agent->commands && topic_is(agent, topic, "cmd")) {
        return cmd__handle(agent, payload, len, now_ms);
    }
    return MQOTA_IGNORED;
}

/* ---------------------------------------------------------------------------------------- */
/* Connection                                                                                 */

/* Pending verify and the broker is reachable: run the application's self-test, then confirm
 * or roll back; with confirm_by_command a passed self-test waits for the server's command. */
static void confirm_or_roll_back(mqota_agent_t *a)
{
    bool healthy;
    if (a->self_test_passed) {
        return; /* waiting for "confirm" / "rollback" */
    }
    healthy = a->plat.self_test == NULL || a->plat.self_test(a->plat.ctx);
    if (!healthy) {
        agent__roll_back(a, MQOTA_REASON_SELF_TEST);
        return;
    }
    if (a->confirm_by_command) {
        a->self_test_passed = true;
        MQOTA_LOG(2, "self-test passed; waiting for the confirm command");
        return;
    }
    agent__confirm_now(a);
}

mqota_status_t mqota_agent_on_connect(mqota_agent_t *agent)
{
    mqota_agent_t *a = agent;
    uint64_t now_ms;
    if (a == NULL) {
        return MQOTA_ERR_ARG;
    }
    now_ms = a->plat.now_ms(a->plat.ctx);
    a->connected = true;
    a->connects++;
    a->health_due = a->plat.health != NULL;
    if (!subscribe_leaf(a, "offer", 1) || !subscribe_leaf(a, "chunk", 0) ||
        (a->commands && !subscribe_leaf(a, "cmd", 1)) ||
        agent__publish(a, "online", (const uint8_t *)MQOTA_ONLINE_PAYLOAD,
                       sizeof(MQOTA_ONLINE_PAYLOAD) - 1u, 1, true) != MQOTA_OK) {
        return MQOTA_ERR_PLATFORM;
    }
    if (a->state == MQOTA_STATE_PENDING_VERIFY) {
        confirm_or_roll_back(a);
    }
    if (transferring(a)) {
        /* Whatever was in flight when the link dropped is lost: ask for it now. */
        a->ack_due = true;
        a->ack_flags |= MQOTA_ACK_FLAG_REQUEST;
        if (a->stream) {
            join_stream(a);
        }
    }
    a->state_dirty = true;
    return publish_state(a, now_ms);
}

void mqota_agent_on_disconnect(mqota_agent_t *agent)
{
    if (agent != NULL) {
        agent->connected = false;
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Periodic work                                                                              */

/* All chunks are written and their bytes are verified: record what the slot holds, record the
 * boot attempt, and switch the boot slot. Order matters for power loss: the slot record and
 * the attempt record exist before the boot slot changes. */
static void switch_boot_slot(mqota_agent_t *a)
{
    mqota_slot_record_t sr;
    mqota_attempt_t at;

    memset(&sr, 0, sizeof(sr));
    sr.release_id = a->offer.release_id;
    copy_str(sr.version, sizeof(sr.version), a->offer.version);
    memset(&at, 0, sizeof(at));
    at.release_id = a->offer.release_id;
    at.deployment_id = a->offer.deployment_id;
    at.from_slot = a->running.running_slot;
    at.to_slot = a->target_slot;
    at.secure_version = a->offer.secure_version;
    if (!store__slot_save(a, a->target_slot, &sr) || !store__attempt_save(a, &at)) {
        fail(a, MQOTA_REASON_STORE);
        return;
    }
    if (a->plat.slot_set_boot(a->plat.ctx, a->target_slot) != 0) {
        (void)a->plat.kv_erase(a->plat.ctx, KEY_ATTEMPT);
        fail(a, MQOTA_REASON_SET_BOOT);
        return;
    }
    end_transfer(a, EV_BOOT_SLOT_SWITCHED, MQOTA_REASON_NONE, true);
    a->reboot_requested = a->auto_reboot;
}

/* Verified, and the offer asks to hold the image: record it ("mq.held") so that it survives a
 * reset, then drop the progress record (the transfer is over) and wait in state held for the
 * offer without the hold flag. The boot slot does not change. */
static void hold_image(mqota_agent_t *a)
{
    mqota_held_t h;
    memset(&h, 0, sizeof(h));
    h.release_id = a->offer.release_id;
    h.deployment_id = a->offer.deployment_id;
    h.image_size = a->offer.image_size;
    h.slot = a->target_slot;
    memcpy(h.sha256, a->offer.sha256, MQOTA_SHA256_LEN);
    if (!store__held_save(a, &h)) {
        fail(a, MQOTA_REASON_STORE);
        return;
    }
    MQOTA_LOG(2, "release %u verified and held in slot %u", (unsigned)h.release_id,
              (unsigned)h.slot);
    end_transfer(a, EV_HELD, MQOTA_REASON_NONE, false);
}

/* The whole image is read back: compare its SHA-256 with the offer, check the ESP32 image
 * structure and chip, then let the platform validate it (esp_ota_end). Returns
 * MQOTA_REASON_NONE if the image may be held or booted, else the reason it fails with. Out of
 * line so that its image descriptor is not in finish_verify()'s frame under the NVS writes
 * that follow (bench/stack-usage). */
NOINLINE static mqota_reason_t check_image(mqota_agent_t *a)
{
    uint8_t digest[MQOTA_SHA256_LEN];
    uint32_t hashed_len = 0;
    mqota_image_info_t info;

    if (a->plat.sha256_finish(a->plat.ctx, digest) != 0) {
        return MQOTA_REASON_FLASH;
    }
    if (memcmp(digest, a->offer.sha256, MQOTA_SHA256_LEN) != 0) {
        return MQOTA_REASON_HASH_MISMATCH;
    }
    if (mqota_image_check_finish(&a->check, &hashed_len) != MQOTA_OK) {
        return MQOTA_REASON_INVALID_IMAGE;
    }
    if (a->plat.slot_read(a->plat.ctx, a->target_slot, 0, a->io, MQOTA_IMAGE_HEAD_LEN) != 0 ||
        mqota_image_parse_head(a->io, MQOTA_IMAGE_HEAD_LEN, &info) != MQOTA_OK) {
        return MQOTA_REASON_INVALID_IMAGE;
    }
    if (info.chip_id != a->running.chip_id) {
        return MQOTA_REASON_CHIP_MISMATCH;
    }
    if (a->plat.slot_end(a->plat.ctx, a->target_slot, a->offer.image_size) != 0) {
        return MQOTA_REASON_INVALID_IMAGE;
    }
    return MQOTA_REASON_NONE;
}

/* The whole image is read back: check it (check_image()), then hold it or switch the boot
 * slot to it. */
static void finish_verify(mqota_agent_t *a)
{
    mqota_reason_t reason = check_image(a);
    if (reason != MQOTA_REASON_NONE) {
        fail(a, reason);
        return;
    }
    if ((a->offer.flags & MQOTA_OFFER_FLAG_HOLD) != 0u) {
        hold_image(a);
        return;
    }
    switch_boot_slot(a);
}

/* Read back up to verify_budget bytes of the slot, hashing and structure-checking them. */
static void verify_step(mqota_agent_t *a)
{
    uint32_t budget = a->verify_budget;
    while (budget > 0u && a->verify_offset < a->offer.image_size) {
        uint32_t n = a->offer.image_size - a->verify_offset;
        if (n > sizeof(a->io)) {
            n = (uint32_t)sizeof(a->io);
        }
        if (n > budget) {
            n = budget;
        }
        if (a->plat.slot_read(a->plat.ctx, a->target_slot, a->verify_offset, a->io, n) != 0 ||
            a->plat.sha256_update(a->plat.ctx, a->io, n) != 0) {
            fail(a, MQOTA_REASON_FLASH);
            return;
        }
        /* Structural errors are sticky in the checker and reported by finish. */
        (void)mqota_image_check_update(&a->check, a->io, n);
        a->verify_offset += n;
        budget -= n;
    }
    if (a->verify_offset >= a->offer.image_size) {
        finish_verify(a);
    }
}

static void start_verify(mqota_agent_t *a)
{
    leave_stream(a);
    (void)transition(a, EV_ALL_WRITTEN, MQOTA_REASON_NONE);
    a->verify_offset = 0;
    mqota_image_check_init(&a->check);
    if (a->plat.sha256_begin(a->plat.ctx) != 0) {
        fail(a, MQOTA_REASON_FLASH);
    }
}

/* Whole seconds in ms milliseconds, at most UINT32_MAX (divmod_u64(): a 64-bit `/` would link
 * libgcc's __udivdi3, 1.1 KB on the ESP32-C3). */
static uint32_t ms_to_s(uint64_t ms)
{
    (void)divmod_u64(&ms, 1000u);
    return ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
}

/* A HEALTH report (docs/PROTOCOL.md §16): the agent's counters, then the port's hook for the
 * reset reason, crash, heap and RSSI; QoS 1, retained, from a stack buffer. A hook that
 * declines, or a publish that fails, is tried again at the next interval. */
static void publish_health(mqota_agent_t *a, uint64_t now_ms)
{
    uint8_t buf[MQOTA_HEALTH_MAX_LEN];
    mqota_health_t h;
    size_t len = 0;

    a->health_due = false;
    a->last_health_ms = (uint32_t)now_ms;
    memset(&h, 0, sizeof(h));
    h.uptime_s = ms_to_s(now_ms - a->boot_ms);
    h.boot_count = a->running.boot_count;
    h.reconnects = a->connects > 0u ? a->connects - 1u : 0u;
    if (a->plat.health(a->plat.ctx, &h) != 0) {
        return;
    }
    h.crash[MQOTA_HEALTH_CRASH_MAX] = '\0';
    if (mqota_health_encode(&h, buf, sizeof(buf), &len) == MQOTA_OK) {
        (void)agent__publish(a, "health", buf, len, 1, true);
    }
}

/* On a multicast stream hundreds of devices acknowledge the same chunks: batch the ACKs
 * (MQOTA_STREAM_ACK_CHUNKS new chunks or MQOTA_STREAM_ACK_MS) unless one is urgent. */
static bool ack_can_wait(const mqota_agent_t *a, uint64_t now_ms)
{
    return a->stream && a->ack_flags == 0u && a->received != a->chunk_count &&
           a->received - a->received_at_ack < MQOTA_STREAM_ACK_CHUNKS &&
           (uint32_t)now_ms - a->last_ack_ms < MQOTA_STREAM_ACK_MS;
}

mqota_status_t mqota_agent_process(mqota_agent_t *agent, uint64_t now_ms)
{
    mqota_agent_t *a = agent;
    if (a == NULL) {
        return MQOTA_ERR_ARG;
    }
    if (a->reboot_done) {
        return MQOTA_OK;
    }

    if (transferring(a)) {
        if (a->connected && (uint32_t)now_ms - a->last_rx_ms >= MQOTA_ACK_RETRY_MS &&
            (uint32_t)now_ms - a->last_ack_ms >= MQOTA_ACK_RETRY_MS) {
            a->ack_due = true; /* stalled: ask for what is missing */
            a->ack_flags |= MQOTA_ACK_FLAG_REQUEST;
        }
        if (a->connected && a->ack_due && !ack_can_wait(a, now_ms)) {
            (void)publish_ack(a, now_ms);
        }
        if (a->received == a->chunk_count) {
            start_verify(a);
        } else if (a->state == MQOTA_STATE_DOWNLOADING && a->progress_bytes != a->state_progress &&
                   (uint32_t)now_ms - a->last_state_ms >= STATE_REFRESH_MS) {
            a->state_dirty = true;
        }
    } else if (a->state == MQOTA_STATE_VERIFYING) {
        verify_step(a);
    } else if (a->state == MQOTA_STATE_PENDING_VERIFY && (!a->connected || a->self_test_passed) &&
               (uint32_t)now_ms - a->pending_since_ms >= a->confirm_timeout_ms) {
        agent__roll_back(a, MQOTA_REASON_CONFIRM_TIMEOUT);
    }

    if (a->connected && a->state_dirty) {
        (void)publish_state(a, now_ms);
    }
    if (a->connected && a->plat.health != NULL &&
        (a->health_due || (uint32_t)now_ms - a->last_health_ms >= a->health_interval_ms)) {
        publish_health(a, now_ms);
    }
    /* Reboot once the STATE saying why has been handed to the transport (or we are offline). */
    if (a->reboot_requested && (!a->state_dirty || !a->connected)) {
        a->reboot_done = true;
        a->plat.reboot(a->plat.ctx);
    }
    return MQOTA_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* Accessors                                                                                  */

mqota_update_state_t mqota_agent_state(const mqota_agent_t *agent)
{
    return agent != NULL ? (mqota_update_state_t)agent->state : MQOTA_STATE_IDLE;
}

mqota_reason_t mqota_agent_reason(const mqota_agent_t *agent)
{
    return agent != NULL ? (mqota_reason_t)agent->reason : MQOTA_REASON_NONE;
}

uint32_t mqota_agent_min_secure_version(const mqota_agent_t *agent)
{
    return agent != NULL ? agent->min_secure_version : 0u;
}

void mqota_agent_command_counts(const mqota_agent_t *agent, uint32_t *accepted,
                                uint32_t *refused)
{
    if (accepted != NULL) {
        *accepted = agent != NULL ? agent->commands_accepted : 0u;
    }
    if (refused != NULL) {
        *refused = agent != NULL ? agent->commands_refused : 0u;
    }
}

uint32_t mqota_agent_progress(const mqota_agent_t *agent)
{
    return agent != NULL ? agent->progress_bytes : 0u;
}

#if MQOTA_TELEMETRY_SAMPLES_MAX < 1 || MQOTA_TELEMETRY_SAMPLES_MAX > MQOTA_TELEMETRY_SAMPLES
#error "MQOTA_TELEMETRY_SAMPLES_MAX must be 1..MQOTA_TELEMETRY_SAMPLES (16)"
#endif

/* Encode the samples with the uptime into a stack buffer sized by MQOTA_TELEMETRY_SAMPLES_MAX
 * and hand them to the publish hook at QoS 0 (docs/PROTOCOL.md §15). */
mqota_status_t mqota_agent_publish_telemetry(mqota_agent_t *agent, const mqota_sample_t *samples,
                                             size_t n)
{
    uint8_t buf[MQOTA_TELEMETRY_LEN(MQOTA_TELEMETRY_SAMPLES_MAX)];
    size_t len = 0;
    mqota_status_t st;

    /* samples NULL and n == 0 are the encoder's to refuse (same codes) */
    if (agent == NULL) {
        return MQOTA_ERR_ARG;
    }
    if (n > MQOTA_TELEMETRY_SAMPLES_MAX) {
        return MQOTA_ERR_RANGE;
    }
    if (!agent->connected) {
        return MQOTA_ERR_STATE;
    }
    st = mqota_telemetry_encode(agent->plat.now_ms(agent->plat.ctx) - agent->boot_ms, samples, n,
                                buf, sizeof(buf), &len);
    if (st != MQOTA_OK) {
        return st;
    }
    return agent__publish(agent, "telemetry", buf, len, 0, false);
}

mqota_status_t mqota_agent_topic(const mqota_agent_t *agent, mqota_topic_t which, char *buf,
                                 size_t cap)
{
    if (agent == NULL || buf == NULL || (unsigned)which > (unsigned)MQOTA_TOPIC_HEALTH) {
        return MQOTA_ERR_ARG;
    }
    if (which == MQOTA_TOPIC_STREAM) {
        return build_stream_topic(agent, buf, cap);
    }
    return agent__build_topic(agent, topic_leaf[which], buf, cap);
}
