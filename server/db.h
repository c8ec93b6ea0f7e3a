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
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DB_ID_MAX 64   /**< Longest device id we store, bytes (longer ids are ignored). */

typedef struct db db_t;

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
    char state[16];  /**< "running" or "finished" */
    int64_t stream_bytes_sent; /**< Chunk data bytes published on the release's stream for it */
} db_deployment_t;

typedef struct {
    int64_t deployment_id;
    char device_id[DB_ID_MAX + 1];
    char state[16];   /**< pending, active, succeeded, failed, superseded */
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

typedef struct {
    int total, pending, active, succeeded, failed, superseded;
    int64_t bytes_sent, bytes_resent; /**< Sums of the targets' unicast byte counters */
} db_counts_t;

int db__open(db_t **out, const char *path);
void db__close(db_t *db);

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

int db__release_insert(db_t *db, db_release_t *r);
int db__release_get(db_t *db, int64_t id, db_release_t *out);
int db__release_by_sha(db_t *db, const char *sha256, db_release_t *out);
int db__release_list(db_t *db, int (*cb)(void *ctx, const db_release_t *r), void *ctx);

int db__deployment_insert(db_t *db, db_deployment_t *d);
int db__deployment_get(db_t *db, int64_t id, db_deployment_t *out);
int db__deployment_list(db_t *db, int (*cb)(void *ctx, const db_deployment_t *d), void *ctx);
int db__deployment_set_state(db_t *db, int64_t id, const char *state);
int db__deployment_counts(db_t *db, int64_t id, db_counts_t *out);
int db__deployment_add_stream_bytes(db_t *db, int64_t id, int64_t bytes);

int db__target_insert(db_t *db, const db_target_t *t);
int db__target_set_state(db_t *db, const db_target_t *t);
int db__target_set_counters(db_t *db, const db_target_t *t);
/** Every pending target of a running deployment (to republish offers after a reconnect). */
int db__target_all_pending(db_t *db, int (*cb)(void *ctx, const db_target_t *t), void *ctx);
int db__target_list(db_t *db, int64_t deployment_id,
                    int (*cb)(void *ctx, const db_target_t *t), void *ctx);
/** Pending/active target of a device in a running deployment, optionally of one release
 *  (release_id 0 = any). Newest deployment first. 0 found, 1 none, -1 error. */
int db__target_running(db_t *db, const char *device_id, int64_t release_id, db_target_t *out);
/** Every pending/active target of a device (for superseding), via callback. */
int db__target_unfinished_of_device(db_t *db, const char *device_id,
                                    int (*cb)(void *ctx, const db_target_t *t), void *ctx);

/** Store a token hash; 0 stored, 1 the name exists, -1 error. */
int db__token_insert(db_t *db, const char *name, const uint8_t sha256[32], int64_t created_at);
/** Delete a token by name; 0 deleted, 1 no such token, -1 error. */
int db__token_delete(db_t *db, const char *name);
/** Every token by name, via callback. */
int db__token_list(db_t *db, int (*cb)(void *ctx, const db_token_t *t), void *ctx);

#ifdef __cplusplus
}
#endif

#endif /* MQOTAD_DB_H */
