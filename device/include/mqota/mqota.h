/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file mqota.h
 * @brief The mqota device agent: takes a firmware image over MQTT, writes the inactive OTA
 *        slot, switches the boot slot, and after reboot confirms or rolls back.
 *
 * No heap, no threads, no blocking calls, no OS headers. The caller owns the agent struct;
 * the platform (mqota_platform.h) is injected at init. The agent is driven by three calls:
 *
 *   mqota_agent_on_connect()  after every (re)connection to the broker
 *   mqota_agent_on_message()  for every message on the agent's subscribed topics
 *   mqota_agent_process()     periodically (every 10-100 ms), and after on_message
 *
 * Lifecycle of an update (states in mqota_status.h):
 *   idle -> offered -> downloading -> verifying -> ready-to-reboot -> (reboot)
 *        -> pending-verify -> confirmed                      (self-test passed)
 *                          -> (reboot) -> rolled-back        (self-test failed / timeout / reset)
 *   any of offered..verifying -> failed (reason)            (old image keeps running)
 *   With MQOTA_OFFER_FLAG_HOLD: verifying -> held (no switch, no reboot; survives a reset)
 *        -> verifying (the same offer without the flag) -> ready-to-reboot -> ...
 *
 * Trust (docs/SECURITY.md): an offer is judged before anything is erased. A signed offer
 * (80-byte signature block, mqota_manifest.h) must verify through the verify_signature hook
 * (else failed/signature); an unsigned one is refused when cfg.require_signature is set
 * (failed/unsigned); an offer whose secure_version is below the stored minimum is refused
 * (failed/security-version). The minimum rises to an image's secure_version once that image is
 * confirmed.
 */
#ifndef MQOTA_H
#define MQOTA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mqota_command.h"
#include "mqota_config_defaults.h"
#include "mqota_image.h"
#include "mqota_manifest.h"
#include "mqota_platform.h"
#include "mqota_proto.h"
#include "mqota_record.h"
#include "mqota_status.h"
#include "mqota_health.h"
#include "mqota_telemetry.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Default topic prefix. */
#define MQOTA_TOPIC_PREFIX_DEFAULT "mqota/v1"

/**
 * Application command handler (docs/PROTOCOL.md §14.3): runs a command the server sent that is
 * not a built-in (reboot, diagnostics, confirm, rollback). Called only for commands that
 * authenticated and passed the replay check.
 *
 * @param app_ctx   mqota_config_t.command_ctx.
 * @param name      Command name, NUL-terminated, 1..31 bytes.
 * @param args      Argument bytes (not NUL-terminated), args_len bytes; valid during the call.
 * @param reply     Where to write the reply body (text by convention), at most reply_cap bytes
 *                  (MQOTA_REPLY_BODY_MAX).
 * @param reply_len Bytes written to reply (0 if none).
 * @return MQOTA_CMD_OK, MQOTA_CMD_UNKNOWN (not a command of this application),
 *         MQOTA_CMD_FAILED or MQOTA_CMD_WRONG_STATE; other values are reported as failed.
 */
typedef mqota_cmd_result_t (*mqota_command_fn)(void *app_ctx, const char *name,
                                               const uint8_t *args, size_t args_len,
                                               uint8_t *reply, size_t reply_cap,
                                               size_t *reply_len);

/** Longest reply body a command handler may write, bytes. */
#define MQOTA_REPLY_BODY_MAX (MQOTA_SEALED_PLAIN_MAX - MQOTA_REPLY_FIXED_LEN)

/** Least time between two refusal reports (docs/PROTOCOL.md §14.4), milliseconds. */
#define MQOTA_REFUSAL_REPORT_MS 1000u

/** Configuration given to mqota_agent_init(); copied, so it may live on the stack. */
typedef struct {
    const char *device_id;    /**< Device id, [A-Za-z0-9_.-], 1..MQOTA_DEVICE_ID_MAX bytes */
    const char *topic_prefix; /**< Topic prefix; NULL for MQOTA_TOPIC_PREFIX_DEFAULT */
    uint32_t max_chunk;       /**< Largest chunk accepted, bytes (the MQTT receive buffer
                                   minus topic and header); power of two, 256..65536 */
    uint16_t max_window;      /**< Most chunks in flight the device accepts, 1..64 */
    uint32_t confirm_timeout_ms; /**< 0 for MQOTA_CONFIRM_TIMEOUT_MS */
    bool auto_reboot;         /**< Call the reboot hook once the boot slot is switched */
    uint32_t verify_bytes_per_process; /**< Flash bytes read back per process() call while
                                            verifying; 0 for MQOTA_VERIFY_STEP */
    bool require_signature;   /**< Refuse unsigned offers (reason unsigned); needs the
                                   platform's verify_signature hook. Signed offers are always
                                   verified when the hook is present. */
    bool confirm_by_command;  /**< In pending-verify, after the self-test passes, wait for the
                                   server's "confirm" or "rollback" command instead of confirming
                                   at once; confirm_timeout_ms without one rolls back
                                   (confirm-timeout). Needs the AEAD hooks. */
    mqota_command_fn command_handler; /**< Application commands (NULL: none) */
    void *command_ctx;        /**< Passed to command_handler */
    uint32_t health_interval_s; /**< Seconds between HEALTH reports (with the platform's
                                     health hook); 0 for MQOTA_HEALTH_INTERVAL_S */
} mqota_config_t;

/** Private to the agent: what handle_offer() keeps in the agent's scratch buffer. */
typedef struct {
    mqota_offer_t offer;                        /* the offer, decoded */
    mqota_sig_block_t sig;                      /* its signature block */
    uint8_t digest[MQOTA_SHA256_LEN];           /* SHA-256 of the manifest */
    uint8_t manifest[MQOTA_MANIFEST_MAX_LEN];   /* the signed manifest, rebuilt from it */
} mqota_offer_scratch_t;

/** The agent. Fields are private: read them only through the functions below. Its flags sit
 * in what would otherwise be padding before the next 32-bit member (16 bytes on the ESP32-C3). */
typedef struct {
    /* The 32-bit members the code uses most come first: on the ESP32-C3 a 32-bit member up to
     * 124 bytes into the struct is loaded and stored with a 2-byte instruction (RV32C's c.lw,
     * c.sw), one further in with a 4-byte one, and most of the hooks behind them stay within
     * reach (92 bytes of code, bench/footprint). The update state is one of them, 32 bits
     * wide: RV32C has no 2-byte load or store of a byte, and the state is read everywhere
     * (70 bytes; the three bytes it leaves behind sit after prefix). */
    uint32_t target_release;  /* release of the update in progress or last attempted */
    uint32_t chunk_count;
    uint32_t base;            /* first chunk not written */
    uint32_t received;        /* chunks written */
    uint32_t high;            /* 1 + highest chunk index written */
    uint32_t received_at_ack; /* received when the last ACK went out */
    uint32_t progress_bytes;  /* bytes written */
    uint32_t last_rx_ms;      /* time of the last chunk or offer (as the times below) */
    uint32_t verify_offset;   /* bytes read back so far while verifying */
    uint32_t min_secure_version; /* lowest secure_version accepted (key "mq.minsv") */
    uint32_t commands_accepted;
    uint32_t commands_refused;
    uint32_t state;           /* mqota_update_state_t */
    mqota_platform_t plat;
    char device_id[MQOTA_DEVICE_ID_MAX + 1];
    char prefix[40];
    /* three bytes in what would be padding after prefix */
    bool resumed;
    bool gap_requested;       /* deflate-sync: an ACK with REQUEST went out for this gap */
    uint8_t target_slot;
    uint32_t max_chunk;
    uint32_t confirm_timeout_ms;
    uint32_t verify_budget;
    bool auto_reboot;
    bool require_signature;
    bool stream;              /* the offer asked us to follow the release's multicast stream */
    bool refusal_reported;
    bool connected;
    bool state_dirty;         /* STATE must be (re)published */
    bool ack_due;             /* ACK must be sent */
    bool reboot_requested;
    bool reboot_done;
    uint8_t ack_flags;        /* MQOTA_ACK_FLAG_* for the next ACK */
    uint16_t max_window;

    mqota_running_t running;
    uint32_t running_release; /* release id of the running image, 0 if unknown */
    char release_version[MQOTA_STR_MAX + 1];

    uint8_t reason;           /* mqota_reason_t */
    bool have_offer;
    uint16_t window;          /* min(offer window, max_window) */
    mqota_offer_t offer;
    /* The times below are now_ms's low 32 bits, compared as (uint32_t)now_ms - t: right while
     * process() runs more often than every 49 days (2^32 ms), and without 64-bit arithmetic,
     * which the 32-bit ESP32-C3 does in several instructions. Uptime keeps all 64 (boot_ms). */
    uint32_t last_ack_ms;     /* time of the last ACK sent */
    uint32_t last_state_ms;   /* time of the last STATE published */
    uint32_t state_progress;  /* progress carried by the last STATE published */
    uint32_t pending_since_ms;/* start of pending-verify */
    mqota_image_check_t check;
    /* commands (docs/PROTOCOL.md §14) */
    bool commands;            /* the AEAD hooks are present */
    bool confirm_by_command;
    bool self_test_passed;    /* pending-verify, waiting for the confirm command */
    bool health_due;          /* a HEALTH goes out at the next process() (after a connect) */
    mqota_command_fn command_handler;
    void *command_ctx;
    mqota_replay_window_t replay; /* key "mq.cmd" */
    uint64_t reply_counter;   /* last counter used by a REPLY */
    uint64_t boot_ms;         /* now_ms at init, for uptime */
    uint32_t last_refusal_ms; /* time of the last refusal report */
    /* health (docs/PROTOCOL.md §16) */
    uint32_t health_interval_ms; /* between HEALTH reports */
    uint32_t connects;        /* on_connect() calls since init */
    uint32_t last_health_ms;  /* time of the last HEALTH published */
    /* The arrays last: on the ESP32-C3 a member more than 2047 bytes into the struct is
     * reached with an extra instruction (the topic, behind the scratch buffer, cost 34 bytes).
     * Scratch, holding nothing from one call to the next: the topic being built for a publish,
     * subscribe or unsubscribe, or a record being read or written (mqota_agent_store.c: off
     * the stack under the NVS calls, bench/stack-usage). */
    union {
        char topic[MQOTA_TOPIC_MAX];
        uint8_t rec[MQOTA_RECORD_MAX_LEN];
    };
    uint8_t bitmap[MQOTA_MAX_CHUNKS / 8u];
    /* Scratch, holding nothing from one call to the next: verify reads, STATE encoding, for a
     * command its plaintext at io[0] and the sealed reply at io[MQOTA_SEALED_MAX_LEN], and
     * while an offer is handled `judge`, off the stack, which is deepest under the ECDSA
     * verify of a signed offer (bench/stack-usage). */
    union {
        uint8_t io[MQOTA_VERIFY_STEP > 2u * MQOTA_SEALED_MAX_LEN ? MQOTA_VERIFY_STEP
                                                                 : 2u * MQOTA_SEALED_MAX_LEN];
        mqota_offer_scratch_t judge;
    };
} mqota_agent_t;

/** Topics of a device, for mqota_agent_topic(). */
typedef enum {
    MQOTA_TOPIC_STATE = 0,  /**< <prefix>/dev/<id>/state */
    MQOTA_TOPIC_ONLINE = 1, /**< <prefix>/dev/<id>/online */
    MQOTA_TOPIC_OFFER = 2,  /**< <prefix>/dev/<id>/offer */
    MQOTA_TOPIC_CHUNK = 3,  /**< <prefix>/dev/<id>/chunk */
    MQOTA_TOPIC_ACK = 4,    /**< <prefix>/dev/<id>/ack */
    MQOTA_TOPIC_STREAM = 5, /**< <prefix>/stream/<release_id> of the offer in progress */
    MQOTA_TOPIC_CMD = 6,    /**< <prefix>/dev/<id>/cmd */
    MQOTA_TOPIC_REPLY = 7,  /**< <prefix>/dev/<id>/reply */
    MQOTA_TOPIC_TELEMETRY = 8, /**< <prefix>/dev/<id>/telemetry */
    MQOTA_TOPIC_HEALTH = 9     /**< <prefix>/dev/<id>/health */
} mqota_topic_t;

/** Payloads of the online topic (ASCII, no NUL). "offline" is the last will. */
#define MQOTA_ONLINE_PAYLOAD "online"
#define MQOTA_OFFLINE_PAYLOAD "offline"

/**
 * @brief Initialise the agent after boot.
 *
 * Reads the running image (running hook), its slot state, and the persisted records. If the
 * running slot is pending verify, the agent enters MQOTA_STATE_PENDING_VERIFY and confirms once
 * connected. If the previous boot attempted a new image and the bootloader rolled back, the
 * agent enters MQOTA_STATE_ROLLED_BACK with the recorded reason.
 *
 * @param[out] agent Caller-owned agent; must outlive every other call.
 * @param[in]  cfg   Configuration (copied).
 * @param[in]  plat  Platform hooks (copied); every required hook non-NULL.
 * @param[in]  now_ms Current time in milliseconds (same clock as plat->now_ms).
 * @return MQOTA_OK, MQOTA_ERR_ARG (NULL, missing hook, bad id, max_chunk/max_window out of
 *         range, require_signature without a verify_signature hook, only one of aead_seal and
 *         aead_open, only one of secure_version_read and secure_version_raise,
 *         confirm_by_command without aead hooks, a topic prefix empty or too long),
 *         MQOTA_ERR_PLATFORM (running or secure_version_read hook failed, slot_count below 2
 *         or running_slot out of range), MQOTA_ERR_CONFIG (the caller was compiled with other size
 *         tunables than libmqota, see mqota_config_defaults.h; nothing was written to agent).
 *
 * @note A macro: it passes sizeof(mqota_agent_t) and the size tunables as the caller sees
 *       them to mqota_agent_init_checked(), so that an application and a library built with
 *       different configuration headers fail here instead of corrupting memory.
 *
 * @code
 * static mqota_agent_t agent;
 * mqota_config_t cfg = { .device_id = "pump-17", .max_chunk = 4096, .max_window = 16,
 *                        .auto_reboot = true };
 * if (mqota_agent_init(&agent, &cfg, &my_platform, now()) != MQOTA_OK) { ... }
 * // on MQTT connect: set last will MQOTA_OFFLINE_PAYLOAD on mqota_agent_topic(ONLINE) first
 * mqota_agent_on_connect(&agent);
 * // on message:      mqota_agent_on_message(&agent, topic, payload, len);
 * // every 10-100 ms: mqota_agent_process(&agent, now());
 * @endcode
 */
#define mqota_agent_init(agent, cfg, plat, now_ms) \
    mqota_agent_init_checked((agent), (cfg), (plat), (now_ms), MQOTA_AGENT_BUILD_ARGS)

/**
 * @brief The size tunables as the code calling mqota_agent_init() was compiled with; the
 *        library compares them with its own (mqota_config_defaults.h).
 */
#define MQOTA_AGENT_BUILD_ARGS                                                               \
    sizeof(mqota_agent_t), (uint32_t)(MQOTA_MAX_CHUNKS), (uint32_t)(MQOTA_VERIFY_STEP),      \
        (uint32_t)(MQOTA_TOPIC_MAX), (uint32_t)(MQOTA_DEVICE_ID_MAX)

/**
 * @brief What mqota_agent_init() expands to; call it through that macro.
 *
 * @param[out] agent   As mqota_agent_init().
 * @param[in]  cfg     As mqota_agent_init().
 * @param[in]  plat    As mqota_agent_init().
 * @param[in]  now_ms  As mqota_agent_init().
 * @param[in]  agent_size    sizeof(mqota_agent_t) as the caller was compiled.
 * @param[in]  max_chunks    The caller's MQOTA_MAX_CHUNKS.
 * @param[in]  verify_step   The caller's MQOTA_VERIFY_STEP.
 * @param[in]  topic_max     The caller's MQOTA_TOPIC_MAX.
 * @param[in]  device_id_max The caller's MQOTA_DEVICE_ID_MAX.
 * @return MQOTA_OK, or the errors of mqota_agent_init() (MQOTA_ERR_ARG, MQOTA_ERR_PLATFORM);
 *         MQOTA_ERR_CONFIG, with nothing written to agent, if any of the last five differs
 *         from the library's.
 */
mqota_status_t mqota_agent_init_checked(mqota_agent_t *agent, const mqota_config_t *cfg,
                                        const mqota_platform_t *plat, uint64_t now_ms,
                                        size_t agent_size, uint32_t max_chunks,
                                        uint32_t verify_step, uint32_t topic_max,
                                        uint32_t device_id_max);

/**
 * @brief Tell the agent the broker connection is up: subscribes to the offer and chunk topics
 *        (and the cmd topic when the platform has the AEAD hooks),
 *        publishes "online" and the STATE, and (in pending-verify) runs the self-test and
 *        confirms or rolls back.
 * @param[in,out] agent Agent initialised by mqota_agent_init().
 * @return MQOTA_OK, MQOTA_ERR_ARG (agent NULL), MQOTA_ERR_PLATFORM (subscribe or publish
 *         failed; call again on the next connection).
 * @note Call it after the session is up and the last will (MQOTA_OFFLINE_PAYLOAD on the online
 *       topic) is in place; it does not block (the hooks queue their messages).
 */
mqota_status_t mqota_agent_on_connect(mqota_agent_t *agent);

/**
 * @brief Tell the agent the broker connection dropped. Transfer state is kept in RAM and on
 *        flash; nothing is lost.
 * @param[in,out] agent Agent initialised by mqota_agent_init(); NULL is ignored.
 */
void mqota_agent_on_disconnect(mqota_agent_t *agent);

/**
 * @brief Handle one incoming MQTT message.
 * @param[in,out] agent Agent initialised by mqota_agent_init().
 * @param[in] topic   NUL-terminated topic; not kept after return.
 * @param[in] payload Payload bytes (may be NULL if len is 0); not kept after return.
 * @param[in] len     Payload length in bytes.
 * @return MQOTA_OK, MQOTA_IGNORED (not an agent topic, stale release, empty offer),
 *         MQOTA_DUPLICATE (chunk already written; chunks come on the device's chunk topic
 *         and, when the offer has MQOTA_OFFER_FLAG_STREAM, on the release's stream topic),
 *         MQOTA_ERR_MALFORMED / MQOTA_ERR_CRC /
 *         MQOTA_ERR_TRUNCATED (bad chunk: dropped, it will be re-requested),
 *         MQOTA_ERR_RANGE (chunk index outside the image or the window), MQOTA_ERR_STATE
 *         (chunk with no transfer running; or an offer refused: the state is failed with the
 *         reason, e.g. MQOTA_REASON_SIGNATURE, UNSIGNED, SECURITY_VERSION, CHIP_MISMATCH;
 *         an unauthentic offer during a transfer is refused without touching the transfer),
 *         MQOTA_ERR_PLATFORM (flash write failed: the update is failed with
 *         MQOTA_REASON_FLASH).
 *         On the cmd topic (docs/PROTOCOL.md §14): MQOTA_OK (the command ran, or ran and
 *         failed: the reply says), MQOTA_ERR_MALFORMED / MQOTA_ERR_TRUNCATED /
 *         MQOTA_ERR_VERSION / MQOTA_ERR_TYPE (bad frame), MQOTA_ERR_AUTH (forged, altered or
 *         wrong key), MQOTA_ERR_REPLAY (counter seen before), MQOTA_ERR_PLATFORM (the window
 *         could not be stored: not run). Every refusal is counted and reported to the server
 *         (at most one report per MQOTA_REFUSAL_REPORT_MS); a refused command never runs.
 *         MQOTA_ERR_ARG if agent or topic is NULL, or payload is NULL with len > 0.
 * @note A chunk is written to flash inside this call (one slot_write hook); call
 *       mqota_agent_process() afterwards to send the ACK.
 */
mqota_status_t mqota_agent_on_message(mqota_agent_t *agent, const char *topic,
                                      const uint8_t *payload, size_t len);

/**
 * @brief Periodic work: publish pending STATE and ACK, repeat the ACK when chunks stop
 *        arriving, verify the written image in steps of MQOTA_VERIFY_STEP bytes, switch the
 *        boot slot, request the reboot, enforce the confirm timeout.
 * @param[in,out] agent  Agent initialised by mqota_agent_init().
 * @param[in]     now_ms Current time in milliseconds, same clock as plat->now_ms.
 * @return MQOTA_OK (also after the reboot hook was called: nothing more is done),
 *         MQOTA_ERR_ARG (agent NULL).
 * @note Returns quickly: at most one flash read of cfg->verify_bytes_per_process bytes
 *       (MQOTA_VERIFY_STEP when 0) per call; the call that finishes verifying also runs
 *       slot_end, slot_set_boot and the record writes.
 */
mqota_status_t mqota_agent_process(mqota_agent_t *agent, uint64_t now_ms);

/**
 * @brief Current update state.
 * @param[in] agent Agent initialised by mqota_agent_init().
 * @return The state; MQOTA_STATE_IDLE if agent is NULL.
 */
mqota_update_state_t mqota_agent_state(const mqota_agent_t *agent);

/**
 * @brief Failure or rollback reason.
 * @param[in] agent Agent initialised by mqota_agent_init().
 * @return The reason; MQOTA_REASON_NONE unless failed or rolled back, or if agent is NULL.
 */
mqota_reason_t mqota_agent_reason(const mqota_agent_t *agent);

/**
 * @brief Lowest secure_version the agent accepts (key "mq.minsv").
 * @param[in] agent Agent initialised by mqota_agent_init().
 * @return The minimum; 0 until a confirmed image raised it, or if agent is NULL.
 */
uint32_t mqota_agent_min_secure_version(const mqota_agent_t *agent);

/**
 * @brief Commands accepted and refused since init (docs/PROTOCOL.md §14).
 * @param[in]  agent    Agent initialised by mqota_agent_init(); NULL gives 0 and 0.
 * @param[out] accepted Commands that authenticated and ran (may be NULL).
 * @param[out] refused  Frames refused (malformed, forged, replayed) (may be NULL).
 */
void mqota_agent_command_counts(const mqota_agent_t *agent, uint32_t *accepted,
                                uint32_t *refused);

/**
 * @brief Bytes of the target image written so far.
 * @param[in] agent Agent initialised by mqota_agent_init().
 * @return Bytes written to the inactive slot for the transfer in progress or last run; 0 if
 *         agent is NULL.
 */
uint32_t mqota_agent_progress(const mqota_agent_t *agent);

/**
 * @brief Build one of the device's topics into buf.
 * @param[in]  agent Agent initialised by mqota_agent_init().
 * @param[in]  which Which topic (MQOTA_TOPIC_STREAM: the stream of the offer in progress).
 * @param[out] buf   Where the NUL-terminated topic goes.
 * @param[in]  cap   Bytes available at buf, NUL included (MQOTA_TOPIC_MAX is always enough).
 * @return MQOTA_OK, MQOTA_ERR_ARG (agent or buf NULL, which out of range),
 *         MQOTA_ERR_NO_SPACE (the topic does not fit in cap).
 */
mqota_status_t mqota_agent_topic(const mqota_agent_t *agent, mqota_topic_t which, char *buf,
                                 size_t cap);

/**
 * @brief Publish a few named numeric values of the application (TELEMETRY, docs/PROTOCOL.md
 *        §15) on <prefix>/dev/<id>/telemetry, QoS 0, not retained, stamped with the ms since
 *        mqota_agent_init() (plat->now_ms).
 * @param[in,out] agent   Agent initialised by mqota_agent_init().
 * @param[in]     samples The samples: each name 1..MQOTA_TELEMETRY_NAME_MAX (15) bytes of
 *                        [a-z0-9_.] (names starting `sys.` are reserved for the agent's own
 *                        health values), each value finite, in the unit its name implies
 *                        (e.g. `temperature` in °C, `uptime_s` in seconds).
 * @param[in]     n       How many samples, 1..MQOTA_TELEMETRY_SAMPLES_MAX.
 * @return MQOTA_OK (handed to the publish hook; QoS 0, so the broker may still lose it),
 *         MQOTA_ERR_ARG (agent or samples NULL, a bad name, a NaN or infinite value),
 *         MQOTA_ERR_RANGE (n is 0 or above MQOTA_TELEMETRY_SAMPLES_MAX),
 *         MQOTA_ERR_STATE (not connected: nothing is queued, call again later; checked after
 *         agent NULL and n above the maximum, before the samples),
 *         MQOTA_ERR_NO_SPACE (the topic does not fit MQOTA_TOPIC_MAX),
 *         MQOTA_ERR_PLATFORM (the publish hook failed).
 * @note Uses MQOTA_TELEMETRY_LEN(MQOTA_TELEMETRY_SAMPLES_MAX) bytes of stack, no heap; does
 *       not block. Do not call it from inside another agent call (a hook).
 *
 * @code
 * const mqota_sample_t s[] = {{"temperature", 21.5}, {"humidity", 48.0}};
 * (void)mqota_agent_publish_telemetry(&agent, s, 2);
 * @endcode
 */
mqota_status_t mqota_agent_publish_telemetry(mqota_agent_t *agent, const mqota_sample_t *samples,
                                             size_t n);

/**
 * @brief Fill a STATE message describing the agent now (what on_connect publishes).
 * @param[in]  agent Agent initialised by mqota_agent_init(); not NULL.
 * @param[out] msg   The message, ready for mqota_state_encode(); not NULL.
 */
void mqota_agent_state_msg(const mqota_agent_t *agent, mqota_state_msg_t *msg);

#ifdef __cplusplus
}
#endif

#endif /* MQOTA_H */
