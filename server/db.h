/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file db.h
 * @brief mqotad's persistent store: every SQL statement of the daemon lives in db.c.
 *
 * SQLite in WAL mode, schema versioned with PRAGMA user_version. Functions return 0 on
 * success, 1 for "not found" where that is a normal answer, -1 on a database error (logged).
 */
#ifndef MQOTAD_DB_H
#define MQOTAD_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "state.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DB_ID_MAX 64   /**< Longest device id we store, bytes (longer ids are ignored). */

typedef struct db db_t;

/** The update protocol a device speaks (docs/LEGACY.md), stored by name (db__protocol_name()). */
typedef enum {
    DB_PROTO_MQOTA = 0, /**< "mqota": the native agent (docs/PROTOCOL.md) */
    DB_PROTO_B64 = 1,   /**< "b64": legacy protocol 1, base64 chunks over one topic */
    DB_PROTO_MD5 = 2,   /**< "md5": legacy protocol 2, per-chip topics with MD5 chunks */
    DB_PROTO_PULL = 3,  /**< "pull": legacy protocol 3, HTTPS pull (esp_https_ota) */
    DB_PROTO_TCP = 4,   /**< "tcp": legacy protocol 4, command topics + TCP side channel */
    DB_PROTO_COUNT
} db_protocol_t;

typedef struct {
    char id[DB_ID_MAX + 1];
    uint16_t chip_id;
    char project[33];
    char version[33];
    char descriptor_version[33];
    char idf_ver[33];
    int slot;
    int state;   /**< mqota_update_state_t */
    int reason;  /**< mqota_reason_t */
    uint32_t progress, image_size, running_release, target_release, boot_count;
    uint32_t max_chunk, max_window;
    bool online;
    int64_t first_seen, last_seen;
    uint32_t caps;  /**< MQOTA_CAP_* of its last STATE (schema 5) */
    db_protocol_t protocol; /**< what it speaks (schema 12); a native STATE makes it mqota */
} db_device_t;

typedef struct {
    int64_t id;
    char version[33];
    char descriptor_version[33];
    char project[33];
    uint16_t chip_id;
    char idf_ver[33];
    uint32_t secure_version;
    uint32_t size;
    char sha256[65];
    char path[4096];
    char notes[1024];
    int64_t created_at;
    bool has_sig;          /**< Signed: sig holds the OFFER's signature block */
    uint8_t sig[80];       /**< release_uid || r || s (docs/PROTOCOL.md §5.1) */
    char key_id[17];       /**< Trusted key that verified it (hex), "" when unsigned */
} db_release_t;

typedef struct {
    int64_t id;
    int64_t release_id;
    int64_t created_at;
    deployment_state_t state; /**< Stored as its name (state.h) */
    int64_t stream_bytes_sent; /**< Chunk data bytes published on the release's stream for it */
} db_deployment_t;

typedef struct {
    int64_t deployment_id;
    char device_id[DB_ID_MAX + 1];
    target_state_t state; /**< Stored as its name (state.h) */
    char reason[32];  /**< mqota_reason_name() */
    uint32_t progress;
    int64_t bytes_sent, bytes_resent;
    int64_t started_at, finished_at;
    uint32_t chunk_size; /**< Chunk size of the offer sent for this target */
    uint32_t window;     /**< Window of the offer sent for this target */
    int64_t release_id;  /**< Filled by lookups that join the deployment */
    uint32_t offer_flags; /**< MQOTA_OFFER_FLAG_* of the offer sent for this target */
} db_target_t;

/** An HTTP API token: only its SHA-256 is ever stored. */
typedef struct {
    char name[65];
    uint8_t sha256[32];
    int64_t created_at;
} db_token_t;

/** A device's command key and counters (docs/PROTOCOL.md §14.4). The key never leaves
 *  mqotad except in the credentials file `device provision` writes. */
typedef struct {
    uint8_t key[32];
    uint64_t command_counter; /**< Last COMMAND counter used (stored before publishing) */
    uint64_t reply_counter;   /**< Last REPLY counter accepted */
    int64_t created_at;
} db_key_t;

#define DB_COMMAND_NAME_MAX 31   /**< Bytes of a command name (docs/PROTOCOL.md §14.3) */
#define DB_COMMAND_DATA_MAX 992  /**< Bytes of args or a reply body at most (a sealed plaintext) */

/** One server-to-device command (server/command.c). */
typedef struct {
    int64_t id;                         /**< Also the COMMAND's command_id (1..2^32-1) */
    char device_id[DB_ID_MAX + 1];
    char name[DB_COMMAND_NAME_MAX + 1];
    uint8_t args[DB_COMMAND_DATA_MAX];
    size_t args_len;
    char state[12];   /**< queued, sent, done, failed, refused, timeout, expired */
    char result[24];  /**< mqota_cmd_result_name() once answered or refused, else "" */
    uint8_t reply[DB_COMMAND_DATA_MAX]; /**< Reply body */
    size_t reply_len;
    uint64_t counter; /**< COMMAND counter it was sealed with, 0 until sent */
    int64_t ttl_s;    /**< Seconds it may stay queued */
    int64_t created_at, sent_at, finished_at;
} db_command_t;

/** A refusal report a device sent (REPLY with command_id 0). */
typedef struct {
    int64_t id;
    char device_id[DB_ID_MAX + 1];
    int64_t at;
    char result[24];          /**< refused-forged, refused-replay, refused-malformed */
    uint64_t refused_counter;
    uint64_t highest_counter;
    uint32_t refused_total;
    int64_t command_id;       /**< The command mqotad sent with refused_counter, 0 if none */
} db_refusal_t;

typedef struct {
    int total, pending, active, succeeded, failed, superseded;
    int ready; /**< Targets holding a verified image until activated (TARGET_READY) */
    int64_t bytes_sent, bytes_resent; /**< Sums of the targets' unicast byte counters */
} db_counts_t;

int db__open(db_t **out, const char *path);
void db__close(db_t *db);

/** Begin a transaction; inside one, a savepoint (transactions nest; see db.c). */
int db__begin(db_t *db);
int db__commit(db_t *db);
void db__rollback(db_t *db);
/**
 * Whether the last failed call failed because the disk is full (SQLITE_FULL, or ENOSPC/EDQUOT
 * from the OS). Ask right after the failure, before db__rollback(): a later failure replaces it.
 */
bool db__disk_full(const db_t *db);

int db__device_get(db_t *db, const char *id, db_device_t *out);
int db__device_put(db_t *db, const db_device_t *d);
int db__device_set_online(db_t *db, const char *id, bool online, int64_t now);
int db__device_list(db_t *db, int (*cb)(void *ctx, const db_device_t *d), void *ctx);

/** The name of p ("mqota", "b64", "md5", "pull", "tcp"); "?" outside the enum. */
const char *db__protocol_name(db_protocol_t p);
/** The protocol named name. @return 0, or -1 (out untouched) for an unknown name. */
int db__protocol_parse(const char *name, db_protocol_t *out);
/** Store a legacy device's parameters (a JSON object's text; schema 12). @return 0 or -1. */
int db__legacy_put(db_t *db, const char *device_id, const char *params, int64_t now);
/** The devices row of a legacy device and its parameters, in one transaction. @return 0 or -1. */
int db__legacy_register(db_t *db, const db_device_t *dev, const char *params, int64_t now);
/** A legacy device's parameters into params (cap bytes). @return 0, 1 none stored, -1 error. */
int db__legacy_get(db_t *db, const char *device_id, char *params, size_t cap);
/** Every legacy device (id, its devices row's protocol, parameters) by id; cb non-zero stops.
 *  @return 0 or -1. */
int db__legacy_list(db_t *db, int (*cb)(void *ctx, const char *device_id,
                                        db_protocol_t protocol, const char *params),
                    void *ctx);

int db__release_insert(db_t *db, db_release_t *r);
int db__release_get(db_t *db, int64_t id, db_release_t *out);
int db__release_by_sha(db_t *db, const char *sha256, db_release_t *out);
int db__release_list(db_t *db, int (*cb)(void *ctx, const db_release_t *r), void *ctx);

int db__deployment_insert(db_t *db, db_deployment_t *d);
int db__deployment_get(db_t *db, int64_t id, db_deployment_t *out);
int db__deployment_list(db_t *db, int (*cb)(void *ctx, const db_deployment_t *d), void *ctx);
int db__deployment_set_state(db_t *db, int64_t id, deployment_state_t state);
int db__deployment_counts(db_t *db, int64_t id, db_counts_t *out);
int db__deployment_add_stream_bytes(db_t *db, int64_t id, int64_t bytes);

int db__target_insert(db_t *db, const db_target_t *t);
int db__target_set_state(db_t *db, const db_target_t *t);
int db__target_set_counters(db_t *db, const db_target_t *t);
/** Every pending or ready target of a running deployment (to republish offers after a
 *  reconnect). */
int db__target_all_pending(db_t *db, int (*cb)(void *ctx, const db_target_t *t), void *ctx);
int db__target_list(db_t *db, int64_t deployment_id,
                    int (*cb)(void *ctx, const db_target_t *t), void *ctx);
/** Pending/active target of a device in a running deployment, optionally of one release
 *  (release_id 0 = any). Newest deployment first. 0 found, 1 none, -1 error. */
/** A device's targets, newest deployment first, at most limit (the console's device page). */
int db__target_of_device(db_t *db, const char *device_id, int limit,
                         int (*cb)(void *ctx, const db_target_t *t), void *ctx);
/** Rows changed by mqotad's connection since it opened (sqlite3_total_changes()). */
long long db__change_count(db_t *db);
int db__target_running(db_t *db, const char *device_id, int64_t release_id, db_target_t *out);
/** Store a target's offer_flags (hold offers: activation clears MQOTA_OFFER_FLAG_HOLD). */
int db__target_set_flags(db_t *db, const db_target_t *t);
/** Every pending/active target of a device (for superseding), via callback. */
int db__target_unfinished_of_device(db_t *db, const char *device_id,
                                    int (*cb)(void *ctx, const db_target_t *t), void *ctx);

/** Store a token hash; 0 stored, 1 the name exists, -1 error. */
int db__token_insert(db_t *db, const char *name, const uint8_t sha256[32], int64_t created_at);
/** Delete a token by name; 0 deleted, 1 no such token, -1 error. */
int db__token_delete(db_t *db, const char *name);
/** Every token by name, via callback. */
int db__token_list(db_t *db, int (*cb)(void *ctx, const db_token_t *t), void *ctx);

/* ---- command keys (schema 5) ---- */

/** Store a device's new command key with both counters reset (provision, rotation). */
int db__key_put(db_t *db, const char *device_id, const uint8_t key[32], int64_t created_at);
/** A device's key and counters; 0 found, 1 none, -1 error. */
int db__key_get(db_t *db, const char *device_id, db_key_t *out);
/** Delete a device's key (revoke); 0 deleted, 1 none, -1 error. */
int db__key_delete(db_t *db, const char *device_id);
int db__key_set_command_counter(db_t *db, const char *device_id, uint64_t counter);
int db__key_set_reply_counter(db_t *db, const char *device_id, uint64_t counter);

/* ---- commands (schema 5) ---- */

/** Insert a queued command; c->id receives its id. */
int db__command_insert(db_t *db, db_command_t *c);
/** 0 found, 1 none, -1 error. */
int db__command_get(db_t *db, int64_t id, db_command_t *out);
/** The command of device_id that was sealed with counter; 0 found, 1 none, -1 error. */
int db__command_by_counter(db_t *db, const char *device_id, uint64_t counter,
                           db_command_t *out);
/** A device's commands, newest first, at most limit, via callback. */
int db__command_list(db_t *db, const char *device_id, int limit,
                     int (*cb)(void *ctx, const db_command_t *c), void *ctx);
/** Ids of a device's queued commands, oldest first; *n receives how many (at most cap). */
int db__command_queued_ids(db_t *db, const char *device_id, int64_t *ids, int cap, int *n);
/** Mark a queued command sent with its counter; 0 done, 1 it was not queued, -1 error. */
int db__command_set_sent(db_t *db, int64_t id, uint64_t counter, int64_t sent_at);
/** Put a sent command back to queued (its publish failed); 0, 1 not sent, -1 error. */
int db__command_unsend(db_t *db, int64_t id);
/**
 * Finish a command that is in state from: state, result, reply body and time.
 * @return 0 changed, 1 the command was not in state from, -1 error.
 */
int db__command_finish(db_t *db, int64_t id, const char *from, const char *state,
                       const char *result, const uint8_t *reply, size_t reply_len,
                       int64_t finished_at);
/** Queued commands whose ttl ran out by now become expired; *n receives how many. */
int db__command_expire(db_t *db, int64_t now, int *n);
/** Sent commands sent at or before sent_before become timeout (at now); *n how many. */
int db__command_time_out(db_t *db, int64_t sent_before, int64_t now, int *n);
/** Queued commands of a device become expired (its key was revoked); *n how many. */
int db__command_expire_device(db_t *db, const char *device_id, int64_t now, int *n);

/** Store a refusal report; r->id receives its id. */
int db__refusal_insert(db_t *db, db_refusal_t *r);
/** A device's refusal reports, newest first, at most limit, and *total of them. */
int db__refusal_list(db_t *db, const char *device_id, int limit,
                     int (*cb)(void *ctx, const db_refusal_t *r), void *ctx, int64_t *total);

/* ---- groups and tags (schema 6) ---- */

/** A named static group of devices (docs/API.md "Groups and tags"). */
typedef struct {
    char name[65];       /**< [A-Za-z0-9_.-]{1,64} (filter__group_name_ok()) */
    int64_t created_at;
    int64_t members;     /**< How many devices are in it */
} db_group_t;

/** Create a group; 0 created, 1 the name exists, -1 error. */
int db__group_insert(db_t *db, const char *name, int64_t created_at);
/** Delete a group and its memberships; 0 deleted, 1 no such group, -1 error. */
int db__group_delete(db_t *db, const char *name);
/** 0 found, 1 none, -1 error. */
int db__group_get(db_t *db, const char *name, db_group_t *out);
/** Every group by name, via callback. */
int db__group_list(db_t *db, int (*cb)(void *ctx, const db_group_t *g), void *ctx);
/** How many groups there are. */
int db__group_count(db_t *db, int64_t *out);
/** A group's device ids in order, via callback. */
int db__group_members(db_t *db, const char *name, int (*cb)(void *ctx, const char *device_id),
                      void *ctx);
/** The groups a device is in, by name, via callback. */
int db__device_groups(db_t *db, const char *device_id, int (*cb)(void *ctx, const char *group),
                      void *ctx);
/** Put a known device in a group; 0 added, 1 it was in it already, -1 error. */
int db__group_add(db_t *db, const char *name, const char *device_id, int64_t added_at);
/** Take a device out of a group; 0 removed, 1 it was not in it, -1 error. */
int db__group_remove(db_t *db, const char *name, const char *device_id);

/** Set a device's tag key to value ("" or NULL: a tag without value), replacing its old value. */
int db__tag_put(db_t *db, const char *device_id, const char *key, const char *value);
/** Delete a device's tag key (when value is not NULL, only if it has that value);
 *  0 deleted, 1 it had no such tag, -1 error. */
int db__tag_delete(db_t *db, const char *device_id, const char *key, const char *value);
/** A device's tags by key, via callback (value "" for a tag without value). */
int db__tag_list(db_t *db, const char *device_id,
                 int (*cb)(void *ctx, const char *key, const char *value), void *ctx);
/** How many tags a device has. */
int db__tag_count(db_t *db, const char *device_id, int64_t *out);

/** A bound parameter of db__device_select(): text (text_len bytes) or a number. */
typedef struct {
    bool is_text;
    const char *text;
    size_t text_len;
    int64_t number;
} db_param_t;

/**
 * The devices a condition on the devices table selects, sorted by id, via callback.
 * @param[in] where    An SQL condition with '?' placeholders and no values in it
 *                     (filter__sql() writes them).
 * @param[in] params   The placeholders' values, in order.
 */
int db__device_select(db_t *db, const char *where, const db_param_t *params, size_t n_params,
                      int (*cb)(void *ctx, const db_device_t *d), void *ctx);

/* ---- rollouts (schema 7, docs/ROLLOUTS.md) ---- */

/** A rollout: a release, a filter and a plan; rollout.c moves it along. */
typedef struct {
    int64_t id;
    int64_t release_id;
    char filter[1025];       /**< The filter expression as given */
    char plan[1024];         /**< The plan's stages as JSON text, e.g. [1,"50%","100%"] */
    uint32_t success_percent, error_percent, deadline_s;
    bool abort_on_error;     /**< on_error "abort" (else "pause") */
    bool approval;           /**< Each wave after the canary waits for an operator's approve */
    rollout_state_t state;
    int current_wave;        /**< Index of the wave last started (0: the canary) */
    int64_t created_at, updated_at;
    int64_t devices;         /**< How many devices it took at creation */
    int n_waves;             /**< Stages, the canary included */
} db_rollout_t;

/** One stage of a rollout (index 0: the canary). */
typedef struct {
    int64_t rollout_id;
    int idx;
    uint32_t size;
    wave_state_t state;
    int64_t deployment_id;   /**< Its deployment once started, 0 before */
    int64_t started_at, finished_at;
} db_rollout_wave_t;

/** One decision in a rollout's history. */
typedef struct {
    int64_t id, rollout_id, at;
    int wave;                /**< The wave it is about, -1 for the rollout as a whole */
    char kind[24];           /**< created, wave-started, wave-succeeded, wave-failed, ... */
    char message[512];
} db_rollout_event_t;

/** Store a rollout; r->id receives its id. */
int db__rollout_insert(db_t *db, db_rollout_t *r);
/** 0 found, 1 none, -1 error. */
int db__rollout_get(db_t *db, int64_t id, db_rollout_t *out);
/** Every rollout, newest first, via callback. */
int db__rollout_list(db_t *db, int (*cb)(void *ctx, const db_rollout_t *r), void *ctx);
/** Every running rollout, oldest first, via callback. */
int db__rollout_running(db_t *db, int (*cb)(void *ctx, const db_rollout_t *r), void *ctx);
/** Set a rollout's state and current wave. */
int db__rollout_set_state(db_t *db, int64_t id, rollout_state_t state, int current_wave,
                          int64_t now);
int db__rollout_wave_insert(db_t *db, const db_rollout_wave_t *w);
/** Store a wave's state, deployment and times. */
int db__rollout_wave_set(db_t *db, const db_rollout_wave_t *w);

/* ---- rollout maintenance windows (docs/ROLLOUTS.md "Maintenance window") ---- */

/** Store rollout_id's daily window, minutes after 00:00 UTC (inside the caller's transaction). */
int db__rollout_window_put(db_t *db, int64_t rollout_id, int start_min, int end_min);
/** The window of rollout_id. @return 0 (filled), 1 the rollout has none, -1 database error. */
int db__rollout_window_get(db_t *db, int64_t rollout_id, int *start_min, int *end_min);
/** Time of the latest event of kind for wave of rollout_id (0 if none). @return 0 or -1. */
int db__rollout_event_last(db_t *db, int64_t rollout_id, int wave, const char *kind,
                           int64_t *at);
/** 0 found, 1 none, -1 error. */
int db__rollout_wave_get(db_t *db, int64_t rollout_id, int idx, db_rollout_wave_t *out);
/** A rollout's waves in order, via callback. */
int db__rollout_waves(db_t *db, int64_t rollout_id,
                      int (*cb)(void *ctx, const db_rollout_wave_t *w), void *ctx);
/** Put a device in a rollout's wave (once per rollout). */
int db__rollout_device_insert(db_t *db, int64_t rollout_id, const char *device_id, int wave);
/** A wave's device ids in order, via callback. */
int db__rollout_wave_devices(db_t *db, int64_t rollout_id, int wave,
                             int (*cb)(void *ctx, const char *device_id), void *ctx);
/** Append a decision to a rollout's history. */
int db__rollout_event_insert(db_t *db, int64_t rollout_id, int64_t at, int wave,
                             const char *kind, const char *message);
/** Record a deployment a wave made (its first, or a retry's). */
int db__rollout_wave_deployment_add(db_t *db, int64_t rollout_id, int wave, int64_t deployment_id);
/** The deployments a wave made, oldest first, via callback. */
int db__rollout_wave_deployments(db_t *db, int64_t rollout_id, int wave,
                                 int (*cb)(void *ctx, int64_t deployment_id), void *ctx);
/** Each device of a wave, by id, with the state of its latest target among the wave's
 *  deployments and the Unix time that target's deployment was created (its offer); state
 *  NULL and offered_at 0 when it has none yet. Via callback. */
int db__rollout_wave_targets(db_t *db, int64_t rollout_id, int wave,
                             int (*cb)(void *ctx, const char *device_id,
                                       const target_state_t *state, int64_t offered_at),
                             void *ctx);
/** A wave's counts: each device counted once, by its latest target (none counts as pending);
 *  the byte counters are left 0. */
int db__rollout_wave_counts(db_t *db, int64_t rollout_id, int wave, db_counts_t *out);
/** A rollout's history, oldest first, via callback. */
int db__rollout_events(db_t *db, int64_t rollout_id,
                       int (*cb)(void *ctx, const db_rollout_event_t *e), void *ctx);
/* ---- rollouts' pacing and eligibility (schema 9, docs/ROLLOUTS.md) ---- */

/** A rollout's plan members beyond the first slice's (rollout_plan_t's pacing, schedule and
 *  eligibility), and the most devices it had transferring at once. */
typedef struct {
    uint32_t max_transfers;   /**< devices transferring at once across the rollout; 0: no cap */
    uint32_t jitter_s;        /**< offers spread over this many seconds from a wave's start */
    int64_t start_at;         /**< Unix time the canary starts; 0: at creation */
    char from_versions[600];  /**< JSON array of the versions a device must run; "": any */
    uint32_t failure_budget;  /**< failures of the release after which a device is skipped */
    bool continuous;          /**< devices matching the filter later join the current wave */
    int64_t peak_in_flight;   /**< most devices seen transferring at once (after an offer) */
} db_rollout_opts_t;

/** Store a rollout's pacing and eligibility (once, after db__rollout_insert()). */
int db__rollout_opts_set(db_t *db, int64_t id, const db_rollout_opts_t *o);
/** 0 found, 1 none, -1 error. */
int db__rollout_opts_get(db_t *db, int64_t id, db_rollout_opts_t *out);
/** Raise a rollout's peak_in_flight to in_flight when larger. */
int db__rollout_peak(db_t *db, int64_t id, int64_t in_flight);
/** How many of a rollout's devices were offered the release at or after offered_since (Unix
 *  s) and have a target still pending or active. */
int db__rollout_in_flight(db_t *db, int64_t rollout_id, int64_t offered_since, int64_t *out);
/** The id of every scheduled rollout whose start_at is at or before now, oldest first. */
int db__rollout_scheduled_due(db_t *db, int64_t now, int (*cb)(void *ctx, int64_t id),
                              void *ctx);
/** Whether device_id is one of a rollout's devices. */
int db__rollout_has_device(db_t *db, int64_t rollout_id, const char *device_id, bool *out);
/** How many targets of release_id device_id failed since its last reset-failures. */
int db__device_release_failures(db_t *db, const char *device_id, int64_t release_id,
                                int64_t *out);
/** Forget a device's failures before now (failure budgets). 0; 1 no such device; -1 error. */
int db__device_reset_failures(db_t *db, const char *device_id, int64_t now);

/* ---- telemetry (schema 8, server/telemetry.c) ---- */

/** One series of a device, for db__telemetry_names(). */
typedef struct {
    char name[16];      /**< [a-z0-9_.]{1,15} */
    int64_t points;     /**< samples kept */
    int64_t first_ts;   /**< oldest sample kept, Unix ms (mqotad's receive time) */
    int64_t last_ts;    /**< newest, Unix ms */
    double last_value;  /**< newest sample's value */
} db_series_t;

/** One sample of a series, for db__telemetry_points(). */
typedef struct {
    int64_t ts_ms;      /**< mqotad's receive time, Unix ms */
    int64_t device_ms;  /**< the device's time (ms since its boot), 0 if none */
    double value;
} db_point_t;

/** Whether device_id has a series called name (*exists), and how many series it has. */
int db__telemetry_series_count(db_t *db, const char *device_id, const char *name,
                               bool *exists, int64_t *count);
/** Store one sample, then trim its series to the newest `keep` samples and to those at or
 *  after min_ts_ms (the retention limits). Call inside db__begin()/db__commit(). */
int db__telemetry_insert(db_t *db, const char *device_id, const char *name, int64_t ts_ms,
                         uint64_t device_ms, double value, int64_t keep, int64_t min_ts_ms);
/** Delete every sample older than min_ts_ms, then the series left empty. */
int db__telemetry_prune(db_t *db, int64_t min_ts_ms);
/** A device's series, sorted by name, via callback. */
int db__telemetry_names(db_t *db, const char *device_id,
                        int (*cb)(void *ctx, const db_series_t *s), void *ctx);
/** The newest `limit` samples of a series with since_ms <= ts <= until_ms, oldest first. */
int db__telemetry_points(db_t *db, const char *device_id, const char *name, int64_t since_ms,
                         int64_t until_ms, int64_t limit,
                         int (*cb)(void *ctx, const db_point_t *p), void *ctx);


/* ---- gauges for GET /metrics (http_metrics.c, docs/METRICS.md) ---- */

/** The grouped counts GET /metrics reads at scrape time; each query is bounded. */
typedef enum {
    DB_METRICS_DEVICE_STATES = 0, /**< state (int), online (int), devices */
    DB_METRICS_DEVICE_VERSIONS,   /**< version (text), devices: the `limit` most common */
    DB_METRICS_DEPLOYMENT_STATES, /**< state (text), deployments */
    DB_METRICS_DEPLOYMENT_TARGETS, /**< deployment id, target state (text), targets, sum of
                                        their progress bytes (each at most the image size),
                                        image size: the `limit` newest running deployments */
    DB_METRICS_ROLLOUT_STATES,    /**< state (text), rollouts */
    DB_METRICS_ROLLOUT_WAVES,     /**< rollout id, wave state (text), waves: the `limit`
                                       newest rollouts neither aborted nor finished */
    DB_METRICS_COUNT
} db_metrics_query_t;

/** Longest text column value a metrics row carries (longer ones are cut). */
#define DB_METRICS_TEXT_MAX 72
/** Most columns of a metrics row. */
#define DB_METRICS_COLS 5

/** One row: column i is num[i] when the value is an integer, else text[i]. */
typedef struct {
    int n;
    bool is_text[DB_METRICS_COLS];
    int64_t num[DB_METRICS_COLS];
    char text[DB_METRICS_COLS][DB_METRICS_TEXT_MAX + 1];
} db_metrics_row_t;

/**
 * Run one metrics query, calling cb per row (cb returns non-zero to stop).
 * @param[in] limit The most groups for the bounded queries (ignored by the others).
 * @return 0, or -1 on a database error (logged).
 */
int db__metrics(db_t *db, db_metrics_query_t q, int limit,
                int (*cb)(void *ctx, const db_metrics_row_t *r), void *ctx);
/* ---- health (schema 10; server/health.c, docs/API.md "Health") ---- */

/** Longest crash text mqotad keeps (MQOTA_HEALTH_CRASH_MAX). */
#define DB_CRASH_MAX 48

/** A device's latest HEALTH. */
typedef struct {
    char device_id[DB_ID_MAX + 1];
    int64_t at;            /**< when mqotad received it, Unix s */
    int reset_reason;      /**< mqota_reset_reason_t */
    char crash[DB_CRASH_MAX + 1];
    int64_t uptime_s, boot_count, min_free_heap, reconnects;
    int rssi;              /**< dBm; 0 unknown */
    int64_t resets;        /**< resets mqotad has recorded for the device (new boots) */
} db_health_t;

/** One reset of a device: a report of a new boot. */
typedef struct {
    int64_t at;            /**< the boot's time: receive time - uptime, Unix s */
    int reason;            /**< mqota_reset_reason_t */
    int64_t boot_count;
    char crash[DB_CRASH_MAX + 1];
} db_reset_t;

/** A device's latest health: 0, 1 when it has none, -1 on error. */
int db__health_get(db_t *db, const char *device_id, db_health_t *out);
/** Store a device's latest health (replacing the one before). */
int db__health_put(db_t *db, const db_health_t *h);
/** Record a reset, then keep the device's newest `keep` resets. Inside a transaction. */
int db__reset_insert(db_t *db, const char *device_id, const db_reset_t *r, int64_t keep);
/** A device's newest `limit` resets, newest first, via callback. */
int db__reset_list(db_t *db, const char *device_id, int64_t limit,
                   int (*cb)(void *ctx, const db_reset_t *r), void *ctx);
/** Store a rollout's health gate (docs/ROLLOUTS.md "Health gate"). */
int db__rollout_health_put(db_t *db, int64_t rollout_id, uint32_t crashes, uint32_t within_s);
/** A rollout's health gate: 0, 1 when it has none, -1 on error. */
int db__rollout_health_get(db_t *db, int64_t rollout_id, uint32_t *crashes, uint32_t *within_s);
/** Each device of a rollout's wave whose latest target succeeded: its confirm time (Unix s)
 *  and its crash resets (panic or watchdog) from then to then + within_s, via callback. */
int db__rollout_wave_health(db_t *db, int64_t rollout_id, int wave, uint32_t within_s,
                            int (*cb)(void *ctx, const char *device_id, int64_t confirmed_at,
                                      int64_t crashes),
                            void *ctx);

#ifdef __cplusplus
}
#endif

#endif /* MQOTAD_DB_H */
