/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file legacy.h
 * @brief Legacy devices (docs/LEGACY.md): devices that speak a home-made update protocol
 *        instead of the mqota agent's, driven by one adapter per protocol.
 *
 * The framework (legacy.c) keeps every registered legacy device in memory (a uthash on the
 * device id, another on each topic it listens to), runs at most one job (a transfer of one
 * release) per device, loads and validates the job's image before any adapter sees it,
 * retries a failed attempt (LEGACY_ATTEMPTS_MAX, with backoff) and waits, once the device has
 * the image, for it to say what it runs after its reboot. It is mechanism, like transfer.c:
 * it never reads or changes targets itself; what policy must decide (a target started,
 * failed, or the device reported a version) goes through the legacy_events_t that
 * deploy_legacy.c registers at start-up.
 *
 * An adapter (legacy_b64.c, legacy_md5.c, legacy_pull.c, legacy_tcp.c) is a legacy_adapter_t:
 * it checks a registration's parameters, listens to its device's topics (legacy__listen()),
 * speaks the protocol from start() / on_message() / tick() without blocking, and reports
 * through legacy__progress(), legacy__started(), legacy__image_done(), legacy__attempt_failed()
 * and legacy__reported(). Everything runs on mqotad's one loop: no thread per device.
 */
#ifndef MQOTAD_LEGACY_H
#define MQOTAD_LEGACY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uthash.h>

#include "mqotad.h"

#ifdef __cplusplus
extern "C" {
#endif

struct cJSON;

/** Transfer attempts of one job before its target fails (the first one included). */
#define LEGACY_ATTEMPTS_MAX 5
/** Wait before attempt n + 1: LEGACY_RETRY_MS * n (the device may be rebooting or away). */
#define LEGACY_RETRY_MS 2000u
/** After the device said it has the whole image: how long it has to report its version
 *  (params.reboot_timeout_s of any protocol: 1 .. LEGACY_REBOOT_TIMEOUT_MAX_S). */
#define LEGACY_REBOOT_TIMEOUT_MS 60000u
#define LEGACY_REBOOT_TIMEOUT_MAX_S 3600
/** Longest text of a registration's parameters (a JSON object), bytes. */
#define LEGACY_PARAMS_MAX 1024
/** Longest topic a legacy device uses, bytes. */
#define LEGACY_TOPIC_MAX 128

/** Why a legacy job's attempt or target failed: the target's reason is its name
 *  (legacy__reason_name()), as mqota_reason_name() names the agent's. */
typedef enum {
    LEGACY_REASON_NONE = 0,
    LEGACY_REASON_TIMEOUT = 1,       /**< "timeout": the device stopped answering */
    LEGACY_REASON_DEVICE_ERROR = 2,  /**< "device-error": the device reported an error */
    LEGACY_REASON_CHECKSUM = 3,      /**< "checksum": the device refused a chunk's checksum */
    LEGACY_REASON_SIZE = 4,          /**< "size-mismatch": the device counted other bytes */
    LEGACY_REASON_FLASH = 5,         /**< "flash": the device could not begin/write/end */
    LEGACY_REASON_INVALID_IMAGE = 6, /**< "invalid-image": the stored image failed its check */
    LEGACY_REASON_CHIP_MISMATCH = 7, /**< "chip-mismatch": the image is for another chip */
    LEGACY_REASON_NO_REBOOT = 8,     /**< "no-version": no version report after the reboot */
    LEGACY_REASON_WRONG_VERSION = 9, /**< "wrong-version": it came back with another version */
    LEGACY_REASON_CONFIG = 10        /**< "config": mqotad lacks what the protocol needs
                                          (e.g. protocol 1's command key) */
} legacy_reason_t;

/** The name of r, as stored in a target's reason; "?" outside the enum. */
const char *legacy__reason_name(legacy_reason_t r);

/** Where a job is. */
typedef enum {
    LEGACY_JOB_WAITING = 0, /**< the next attempt starts at retry_at_ms */
    LEGACY_JOB_SENDING = 1, /**< the adapter drives an attempt */
    LEGACY_JOB_BOOTING = 2  /**< the device has the image and restarts: waiting for its
                                 version (LEGACY_REBOOT_TIMEOUT_MS) */
} legacy_job_phase_t;

/** One release on its way to one legacy device. */
typedef struct legacy_job {
    db_target_t target;         /**< the running target (deploy.c's), counters updated here */
    uint8_t *image;             /**< the release's image, validated (legacy__start()) */
    uint32_t size;
    char version[33];           /**< the release's version: what the device must report */
    legacy_job_phase_t phase;
    int attempts;               /**< attempts started */
    uint64_t retry_at_ms;       /**< LEGACY_JOB_WAITING: when the next attempt starts */
    uint64_t booting_since_ms;  /**< LEGACY_JOB_BOOTING: since when */
    bool dirty;                 /**< counters changed since the last save */
    uint64_t saved_ms;
} legacy_job_t;

struct legacy_adapter;

/** One registered legacy device. */
typedef struct legacy_dev {
    UT_hash_handle hh;          /**< in the framework's hash by id */
    char id[DB_ID_MAX + 1];
    db_protocol_t protocol;
    uint16_t chip_id;           /**< as registered: images of other chips are never sent */
    struct cJSON *params;       /**< the registration's parameters, checked by the adapter */
    const struct legacy_adapter *ad;
    legacy_job_t *job;          /**< the running job, NULL when none */
    void *session;              /**< the adapter's per-device state (its own struct) */
    uint64_t timer_ms;          /**< the adapter's next tick() for this device, 0: none */
    uint32_t reboot_timeout_ms; /**< params.reboot_timeout_s (every protocol), default
                                     LEGACY_REBOOT_TIMEOUT_MS */
} legacy_dev_t;

/** What a device said about itself (legacy__reported()). */
typedef struct {
    const char *version;        /**< the version it runs; NULL if the protocol cannot say */
    bool booted;                /**< it (re)started: the message is the first after a boot */
} legacy_report_t;

/** Most topics a legacy device reads or writes (its broker ACL lines, auth.c). */
#define LEGACY_ACL_TOPICS 2

/** The topics a legacy device of an MQTT protocol reads and writes: its broker ACL. */
typedef struct {
    char reads[LEGACY_ACL_TOPICS][LEGACY_TOPIC_MAX + 1];  /**< the device subscribes */
    char writes[LEGACY_ACL_TOPICS][LEGACY_TOPIC_MAX + 1]; /**< the device publishes */
    int n_reads, n_writes;
} legacy_topics_t;

/** One protocol. Every hook but check_params and topics gets a device of its protocol. */
typedef struct legacy_adapter {
    db_protocol_t protocol;
    /**
     * Check a registration's parameters (a JSON object; add defaults to it). 400 sentences.
     * @return 0, or -1 with one sentence in err naming the parameter and what to give.
     */
    int (*check_params)(mqotad_t *d, const char *device_id, struct cJSON *params, char *err,
                        size_t err_cap);
    /** Make ld->session (from ld->params) and legacy__listen() to its topics. 0 or -1. */
    int (*attach)(mqotad_t *d, legacy_dev_t *ld);
    /** Free ld->session (the device is going, or turned native). */
    void (*detach)(mqotad_t *d, legacy_dev_t *ld);
    /** Begin an attempt of ld->job (phase SENDING). 0, or -1 (the attempt failed at once). */
    int (*start)(mqotad_t *d, legacy_dev_t *ld, uint64_t now_ms);
    /** A message on one of the device's topics (retained: delivered from the broker's store,
     *  not live). */
    void (*on_message)(mqotad_t *d, legacy_dev_t *ld, const char *topic, const uint8_t *payload,
                       size_t len, bool retained, uint64_t now_ms);
    /** ld->timer_ms came (legacy__set_timer()): resend, time out... */
    void (*tick)(mqotad_t *d, legacy_dev_t *ld, uint64_t now_ms);
    /** Abandon the attempt in flight (timeouts, a superseded target): forget its state. */
    void (*abort)(mqotad_t *d, legacy_dev_t *ld);
    /** The device's own MQTT topics from checked params (its broker ACL lines); NULL for a
     *  protocol that does not speak MQTT. 0, or -1 if params name none. */
    int (*topics)(const struct cJSON *params, legacy_topics_t *out);
} legacy_adapter_t;

/** What the framework reports to policy (deploy_legacy.c registers it). */
typedef struct legacy_events {
    /** Store t's progress and byte counters. 0, or -1 (offered again later). */
    int (*save_progress)(mqotad_t *d, const db_target_t *t);
    /** The device answered the job's first message: its target (pending) becomes active. */
    void (*started)(mqotad_t *d, db_target_t *t);
    /** The job gave up (attempts spent, or nothing can be sent): the target fails. */
    void (*failed)(mqotad_t *d, const db_target_t *t, legacy_reason_t reason);
    /** The device said what it runs. job: its job (NULL when none); the policy decides
     *  whether that is the target's success. */
    void (*reported)(mqotad_t *d, legacy_dev_t *ld, const legacy_report_t *r);
} legacy_events_t;

/* ---- for mqotad (main.c, mqtt.c, handle_legacy.c, deploy*.c, http_legacy.c) ---- */

/** Load every registered legacy device (db__legacy_list()) and attach its adapter. 0 or -1. */
int legacy__init(mqotad_t *d);
/** Free every device, job and session. */
void legacy__cleanup(mqotad_t *d);
/** Register policy's handlers (ev must outlive the framework). */
void legacy__set_events(mqotad_t *d, const legacy_events_t *ev);
/** The legacy device id, or NULL (a native device, or unknown). */
legacy_dev_t *legacy__find(mqotad_t *d, const char *device_id);
/** Call cb for every registered legacy device (cb may start or stop its job, not remove it). */
void legacy__each(mqotad_t *d, void (*cb)(mqotad_t *d, legacy_dev_t *ld, void *ctx), void *ctx);
/** The protocol's adapter, or NULL (mqota, or a protocol this mqotad lacks). */
const legacy_adapter_t *legacy__adapter(db_protocol_t p);

/**
 * Register (or re-register) a legacy device: checks protocol and params with the adapter,
 * stores the devices row (protocol, chip, version, state idle) and the parameters, attaches.
 * @param[in] params A JSON object (taken: freed here whatever the result).
 * @return 0; 400 (err: bad protocol, chip or parameter); 409 (the id is a native device
 *         already seen speaking mqota, or a legacy device of another protocol); 500.
 */
int legacy__register(mqotad_t *d, const char *device_id, db_protocol_t protocol,
                     uint16_t chip_id, const char *version, struct cJSON *params, char *err,
                     size_t err_cap);

/**
 * Start the job of a running target on a legacy device (deploy.c's branch where a native
 * device gets its OFFER). The image is read and checked (structure, chip = the device's,
 * SHA-256 = the release's) before any byte goes out; a bad one fails the target through the
 * failed event. A job already running for the same target is left alone; one for another
 * target is aborted (superseded).
 * @return 0 started (or already running); -1 the target failed (reported) or out of memory.
 */
int legacy__start(mqotad_t *d, const db_target_t *t, const db_release_t *r);
/** Drop the device's job (its target ended or was superseded). */
void legacy__stop(mqotad_t *d, const char *device_id);
/** The device came back speaking mqota (its native STATE): drop job, session and the device
 *  from the framework (the registry row stays: the same entry, now native). */
void legacy__went_native(mqotad_t *d, const char *device_id);

/** Every legacy device's topics subscribed again (after mqotad (re)connected). */
void legacy__on_connect(mqotad_t *d);
/**
 * A message on a topic outside mqota/v1/dev/ (handle__legacy()): to the adapter of the
 * device listening on it. @return true if a device listens on topic.
 */
bool legacy__on_message(mqotad_t *d, const char *topic, const uint8_t *payload, size_t len,
                        bool retained);
/** Timers: attempts due, reboot deadlines, adapters' tick(), progress saved once a second. */
void legacy__tick(mqotad_t *d, uint64_t now_ms);
/** Milliseconds until the earliest legacy timer (at most 1000), -1 when no job runs. */
int legacy__next_timeout_ms(mqotad_t *d, uint64_t now_ms);
/** The device's registration parameters as JSON for the API (secrets left out), or NULL. */
struct cJSON *legacy__params_json(mqotad_t *d, const char *device_id);

/* ---- for adapters ---- */

/** Route topic to ld (the framework's topic hash) and subscribe it at qos. 0 or -1. */
int legacy__listen(mqotad_t *d, legacy_dev_t *ld, const char *topic, int qos);
/** The id of the device listening on topic, or NULL (for check_params: one device per topic). */
const char *legacy__topic_owner(mqotad_t *d, const char *topic);
/** Call ld's adapter tick() at at_ms (0: no timer). */
void legacy__set_timer(legacy_dev_t *ld, uint64_t at_ms);
/** The device answered this attempt: its pending target becomes active (once). */
void legacy__started(mqotad_t *d, legacy_dev_t *ld);
/** Progress of the attempt: acked bytes the device confirmed; sent (and resent) bytes added. */
void legacy__progress(mqotad_t *d, legacy_dev_t *ld, uint32_t acked, uint32_t sent,
                      uint32_t resent);
/** The device has the whole image and restarts: wait (phase BOOTING) for its report. */
void legacy__image_done(mqotad_t *d, legacy_dev_t *ld, uint64_t now_ms);
/** This attempt failed (reason; detail: one line for the log): retried later while attempts
 *  remain, else the target fails. The adapter's abort() is called. */
void legacy__attempt_failed(mqotad_t *d, legacy_dev_t *ld, legacy_reason_t reason,
                            const char *detail, uint64_t now_ms);
/** The device said what it runs (any time): to policy. */
void legacy__reported(mqotad_t *d, legacy_dev_t *ld, const legacy_report_t *r);

/** The adapters (legacy_b64.c, legacy_md5.c; legacy_pull.c and legacy_tcp.c add theirs). */
extern const legacy_adapter_t legacy_b64_adapter;
extern const legacy_adapter_t legacy_md5_adapter;
extern const legacy_adapter_t legacy_pull_adapter; /* legacy_pull.c */
extern const legacy_adapter_t legacy_tcp_adapter;  /* legacy_tcp.c */

#ifdef __cplusplus
}
#endif

#endif /* MQOTAD_LEGACY_H */
