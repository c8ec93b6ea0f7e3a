/* SPDX-License-Identifier: Apache-2.0 */
/*
 * db.c - all of mqotad's SQL.
 *
 * The schema is versioned with PRAGMA user_version: migrations[] is an ordered list, entry i
 * takes the schema from version i to i + 1, and db__open() applies the missing ones in one
 * transaction each. Never edit a shipped migration; append a new one.
 *
 * Every statement is prepared once at open time (stmts[]) and reset after each use: statements
 * without rows through exec_stmt(), one-row queries through get_row() and count_one() with a
 * reader, and every walk over their rows ends in end_rows().
 */
#include "db.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mqota_host.h"

static const char *const migrations[] = {
    /* 0 -> 1: initial schema */
    "CREATE TABLE devices ("
    " id TEXT PRIMARY KEY, chip_id INTEGER NOT NULL DEFAULT 0, project TEXT NOT NULL DEFAULT '',"
    " version TEXT NOT NULL DEFAULT '', descriptor_version TEXT NOT NULL DEFAULT '',"
    " idf_ver TEXT NOT NULL DEFAULT '', slot INTEGER NOT NULL DEFAULT 0,"
    " state INTEGER NOT NULL DEFAULT 0, reason INTEGER NOT NULL DEFAULT 0,"
    " progress INTEGER NOT NULL DEFAULT 0, image_size INTEGER NOT NULL DEFAULT 0,"
    " running_release INTEGER NOT NULL DEFAULT 0, target_release INTEGER NOT NULL DEFAULT 0,"
    " boot_count INTEGER NOT NULL DEFAULT 0, max_chunk INTEGER NOT NULL DEFAULT 0,"
    " max_window INTEGER NOT NULL DEFAULT 0, online INTEGER NOT NULL DEFAULT 0,"
    " first_seen INTEGER NOT NULL DEFAULT 0, last_seen INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE releases ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, version TEXT NOT NULL,"
    " descriptor_version TEXT NOT NULL, project TEXT NOT NULL, chip_id INTEGER NOT NULL,"
    " idf_ver TEXT NOT NULL, secure_version INTEGER NOT NULL, size INTEGER NOT NULL,"
    " sha256 TEXT NOT NULL UNIQUE, path TEXT NOT NULL, notes TEXT NOT NULL DEFAULT '',"
    " created_at INTEGER NOT NULL);"
    "CREATE TABLE deployments ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " release_id INTEGER NOT NULL REFERENCES releases(id),"
    " created_at INTEGER NOT NULL, state TEXT NOT NULL DEFAULT 'running');"
    "CREATE TABLE deployment_targets ("
    " deployment_id INTEGER NOT NULL REFERENCES deployments(id),"
    " device_id TEXT NOT NULL REFERENCES devices(id),"
    " state TEXT NOT NULL DEFAULT 'pending', reason TEXT NOT NULL DEFAULT 'none',"
    " progress INTEGER NOT NULL DEFAULT 0, bytes_sent INTEGER NOT NULL DEFAULT 0,"
    " bytes_resent INTEGER NOT NULL DEFAULT 0, started_at INTEGER NOT NULL DEFAULT 0,"
    " finished_at INTEGER NOT NULL DEFAULT 0, chunk_size INTEGER NOT NULL DEFAULT 0,"
    " offer_window INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY (deployment_id, device_id));"
    "CREATE INDEX targets_by_device ON deployment_targets(device_id, state);",
    /* 1 -> 2: multicast streams: chunk bytes published on a release's stream for the
     * deployment, and the offer's flags (MQOTA_OFFER_FLAG_STREAM) per target */
    "ALTER TABLE deployments ADD COLUMN stream_bytes_sent INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE deployment_targets ADD COLUMN offer_flags INTEGER NOT NULL DEFAULT 0;",
    /* 2 -> 3: signed releases: the OFFER signature block (80 bytes, NULL = unsigned) and the
     * id of the trusted key that verified it (docs/SECURITY.md §3) */
    "ALTER TABLE releases ADD COLUMN signature BLOB;"
    "ALTER TABLE releases ADD COLUMN key_id TEXT NOT NULL DEFAULT '';",
    /* 3 -> 4: HTTP API bearer tokens: only the SHA-256 of each token is stored */
    "CREATE TABLE api_tokens ("
    " name TEXT PRIMARY KEY, sha256 BLOB NOT NULL, created_at INTEGER NOT NULL);",
    /* 4 -> 5: sealed commands (docs/PROTOCOL.md §14, docs/SECURITY.md §9): each device's
     * 32-byte command key with the last COMMAND counter used and the last REPLY counter
     * accepted; the commands; the refusal reports; the capability bits of the last STATE */
    "CREATE TABLE device_keys ("
    " device_id TEXT PRIMARY KEY, key BLOB NOT NULL,"
    " command_counter INTEGER NOT NULL DEFAULT 0, reply_counter INTEGER NOT NULL DEFAULT 0,"
    " created_at INTEGER NOT NULL);"
    "CREATE TABLE commands ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, device_id TEXT NOT NULL, name TEXT NOT NULL,"
    " args BLOB NOT NULL, state TEXT NOT NULL DEFAULT 'queued',"
    " result TEXT NOT NULL DEFAULT '', reply BLOB, counter INTEGER NOT NULL DEFAULT 0,"
    " ttl_s INTEGER NOT NULL, created_at INTEGER NOT NULL,"
    " sent_at INTEGER NOT NULL DEFAULT 0, finished_at INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX commands_by_device ON commands(device_id, id);"
    "CREATE INDEX commands_by_state ON commands(state);"
    "CREATE TABLE command_refusals ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, device_id TEXT NOT NULL, at INTEGER NOT NULL,"
    " result TEXT NOT NULL, refused_counter INTEGER NOT NULL,"
    " highest_counter INTEGER NOT NULL, refused_total INTEGER NOT NULL,"
    " command_id INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX refusals_by_device ON command_refusals(device_id, id);"
    "ALTER TABLE devices ADD COLUMN caps INTEGER NOT NULL DEFAULT 0;",
    /* 5 -> 6: named static groups (a device may be in several) and free-form tags, for
     * target filters (server/filter.c, docs/API.md "Groups and tags"); a tag is a key with
     * an optional value ('' = none), one value per key and device */
    "CREATE TABLE device_groups ("
    " name TEXT PRIMARY KEY, created_at INTEGER NOT NULL);"
    "CREATE TABLE device_group_members ("
    " group_name TEXT NOT NULL REFERENCES device_groups(name) ON DELETE CASCADE,"
    " device_id TEXT NOT NULL REFERENCES devices(id), added_at INTEGER NOT NULL,"
    " PRIMARY KEY (group_name, device_id));"
    "CREATE INDEX members_by_device ON device_group_members(device_id);"
    "CREATE TABLE device_tags ("
    " device_id TEXT NOT NULL REFERENCES devices(id), tag_key TEXT NOT NULL,"
    " tag_value TEXT NOT NULL DEFAULT '', PRIMARY KEY (device_id, tag_key));"
    "CREATE INDEX tags_by_key ON device_tags(tag_key, tag_value);",
    /* 6 -> 7: rollouts (docs/ROLLOUTS.md): a release, a filter and a plan; its devices, each
     * in the wave it was given at creation (by device id); its waves, each a deployment once
     * started (0 before; the latest), with every deployment a wave made (the first, then one
     * per retry); the history of every decision with its reason */
    "CREATE TABLE rollouts ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " release_id INTEGER NOT NULL REFERENCES releases(id), filter TEXT NOT NULL,"
    " plan TEXT NOT NULL, success_percent INTEGER NOT NULL, error_percent INTEGER NOT NULL,"
    " deadline_s INTEGER NOT NULL, on_error TEXT NOT NULL, approval INTEGER NOT NULL,"
    " state TEXT NOT NULL,"
    " current_wave INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL);"
    "CREATE TABLE rollout_waves ("
    " rollout_id INTEGER NOT NULL REFERENCES rollouts(id), idx INTEGER NOT NULL,"
    " size INTEGER NOT NULL, state TEXT NOT NULL DEFAULT 'waiting',"
    " deployment_id INTEGER NOT NULL DEFAULT 0, started_at INTEGER NOT NULL DEFAULT 0,"
    " finished_at INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (rollout_id, idx));"
    "CREATE TABLE rollout_devices ("
    " rollout_id INTEGER NOT NULL REFERENCES rollouts(id),"
    " device_id TEXT NOT NULL REFERENCES devices(id), wave INTEGER NOT NULL,"
    " PRIMARY KEY (rollout_id, device_id));"
    "CREATE INDEX rollout_devices_by_wave ON rollout_devices(rollout_id, wave, device_id);"
    "CREATE TABLE rollout_wave_deployments ("
    " rollout_id INTEGER NOT NULL REFERENCES rollouts(id), wave INTEGER NOT NULL,"
    " deployment_id INTEGER NOT NULL REFERENCES deployments(id),"
    " PRIMARY KEY (rollout_id, wave, deployment_id));"
    "CREATE TABLE rollout_events ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " rollout_id INTEGER NOT NULL REFERENCES rollouts(id), at INTEGER NOT NULL,"
    " wave INTEGER NOT NULL, kind TEXT NOT NULL, message TEXT NOT NULL);"
    "CREATE INDEX rollout_events_by_rollout ON rollout_events(rollout_id, id);",
    /* 7 -> 8: application telemetry (docs/PROTOCOL.md §15, server/telemetry.c): one row per
     * sample; ts is mqotad's receive time (Unix ms), device_ms the device's own time; a
     * series (device, name) is listed in telemetry_series so its names are counted cheaply */
    "CREATE TABLE telemetry_series ("
    " device_id TEXT NOT NULL, name TEXT NOT NULL, PRIMARY KEY (device_id, name));"
    "CREATE TABLE telemetry ("
    " device_id TEXT NOT NULL, name TEXT NOT NULL, ts INTEGER NOT NULL,"
    " device_ms INTEGER NOT NULL, value REAL NOT NULL);"
    "CREATE INDEX telemetry_by_series ON telemetry(device_id, name, ts);",
    /* 8 -> 9: rollouts' pacing and eligibility (docs/ROLLOUTS.md): the transfer cap and the
     * offers' jitter, the scheduled start, the versions a device must run, the per-device
     * failure budget, continuous rollouts, the most devices seen transferring at once; a
     * device's failures of a release count only after its last reset-failures */
    "ALTER TABLE rollouts ADD COLUMN max_transfers INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE rollouts ADD COLUMN jitter_s INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE rollouts ADD COLUMN start_at INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE rollouts ADD COLUMN from_versions TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE rollouts ADD COLUMN failure_budget INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE rollouts ADD COLUMN continuous INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE rollouts ADD COLUMN peak_in_flight INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE devices ADD COLUMN failures_reset_at INTEGER NOT NULL DEFAULT 0;",
    /* 9 -> 10: device health (docs/PROTOCOL.md §16, server/health.c): each device's latest
     * HEALTH; its resets (a report of a new boot), the newest HEALTH_RESETS_MAX kept, at = the
     * boot's time as mqotad reckons it (receive time - uptime, Unix s); a rollout's health gate
     * (docs/ROLLOUTS.md "Health gate"), apart from the rollouts table */
    "CREATE TABLE device_health ("
    " device_id TEXT PRIMARY KEY, at INTEGER NOT NULL, reset_reason INTEGER NOT NULL,"
    " crash TEXT NOT NULL, uptime_s INTEGER NOT NULL, boot_count INTEGER NOT NULL,"
    " min_free_heap INTEGER NOT NULL, rssi INTEGER NOT NULL, reconnects INTEGER NOT NULL,"
    " resets INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE device_resets ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, device_id TEXT NOT NULL, at INTEGER NOT NULL,"
    " reason INTEGER NOT NULL, boot_count INTEGER NOT NULL, crash TEXT NOT NULL);"
    "CREATE INDEX resets_by_device ON device_resets(device_id, at);"
    "CREATE TABLE rollout_health ("
    " rollout_id INTEGER PRIMARY KEY REFERENCES rollouts(id), crashes INTEGER NOT NULL,"
    " within_s INTEGER NOT NULL);",
    /* 10 -> 11: a rollout's daily maintenance window (docs/ROLLOUTS.md), minutes after 00:00
     * UTC; a rollout without a row has none */
    "CREATE TABLE rollout_windows ("
    " rollout_id INTEGER PRIMARY KEY REFERENCES rollouts(id),"
    " start_min INTEGER NOT NULL, end_min INTEGER NOT NULL);",
    /* 11 -> 12: file releases (docs/PROTOCOL.md §17): the kind (0 image, 1 files), the file
     * count and the manifest as JSON text ([{"path","size","sha256"}], '' for an image) */
    "ALTER TABLE releases ADD COLUMN kind INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE releases ADD COLUMN file_count INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE releases ADD COLUMN manifest TEXT NOT NULL DEFAULT '';",
    /* 12 -> 13: legacy devices (docs/LEGACY.md): the protocol a device speaks ("mqota" for
     * the native agent; a native STATE sets it back to "mqota": the migration), and a legacy
     * device's own parameters (its topics, chip id...: a JSON object legacy.c checks) */
    "ALTER TABLE devices ADD COLUMN protocol TEXT NOT NULL DEFAULT 'mqota';"
    "CREATE TABLE legacy_devices ("
    " device_id TEXT PRIMARY KEY REFERENCES devices(id), params TEXT NOT NULL,"
    " created_at INTEGER NOT NULL);",
    /* 13 -> 14: compressed transfers (docs/PROTOCOL.md §6.1): the largest deflate window a
     * device inflates (its STATE's deflate_window, 0 = none); per target the form its offer
     * carried (encoding, window_bits) and the bytes of chunk data that form totals (wire_size:
     * the image's size for encoding 0), so bytes saved = image size - wire_size */
    "ALTER TABLE devices ADD COLUMN deflate_window INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE deployment_targets ADD COLUMN encoding INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE deployment_targets ADD COLUMN window_bits INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE deployment_targets ADD COLUMN wire_size INTEGER NOT NULL DEFAULT 0;",
    /* 14 -> 15: delta updates (docs/PROTOCOL.md §18): the release a target's delta applies to
     * (its device's running release when offered; 0 for every other form) */
    "ALTER TABLE deployment_targets ADD COLUMN base_release_id INTEGER NOT NULL DEFAULT 0;",
    /* 15 -> 16: cancelling and paced retries (docs/ROLLOUTS.md): a rollout's device whose
     * retry offer is still to be made (a paced retry; its old target no longer counts); the
     * skips of a continuous rollout, one row per device and reason so each is recorded once */
    "ALTER TABLE rollout_devices ADD COLUMN retry INTEGER NOT NULL DEFAULT 0;"
    "CREATE TABLE rollout_skips ("
    " rollout_id INTEGER NOT NULL REFERENCES rollouts(id), device_id TEXT NOT NULL,"
    " reason TEXT NOT NULL, PRIMARY KEY (rollout_id, device_id, reason));",
};
#define MIGRATION_COUNT ((int)(sizeof(migrations) / sizeof(migrations[0])))

#define DEVICE_COLS "id, chip_id, project, version, descriptor_version, idf_ver, slot, state," \
    " reason, progress, image_size, running_release, target_release, boot_count, max_chunk," \
    " max_window, online, first_seen, last_seen, caps, protocol, deflate_window"
#define RELEASE_COLS "id, version, descriptor_version, project, chip_id, idf_ver," \
    " secure_version, size, sha256, path, notes, created_at, signature, key_id, kind, file_count"
#define TARGET_COLS "t.deployment_id, t.device_id, t.state, t.reason, t.progress," \
    " t.bytes_sent, t.bytes_resent, t.started_at, t.finished_at, t.chunk_size, t.offer_window," \
    " d.release_id, t.offer_flags, t.encoding, t.window_bits, t.wire_size, t.base_release_id"
#define COMMAND_COLS "id, device_id, name, args, state, result, reply, counter, ttl_s," \
    " created_at, sent_at, finished_at"
#define ROLLOUT_COLS "r.id, r.release_id, r.filter, r.plan, r.success_percent," \
    " r.error_percent, r.deadline_s, r.on_error, r.state, r.current_wave, r.created_at," \
    " r.updated_at, r.approval, (SELECT count(*) FROM rollout_devices v WHERE v.rollout_id = r.id)," \
    " (SELECT count(*) FROM rollout_waves w WHERE w.rollout_id = r.id)"
#define WAVE_COLS "rollout_id, idx, size, state, deployment_id, started_at, finished_at"
#define REFUSAL_COLS "id, device_id, at, result, refused_counter, highest_counter," \
    " refused_total, command_id"

enum {
    S_BEGIN, S_COMMIT, S_ROLLBACK,
    S_DEV_GET, S_DEV_PUT, S_DEV_ONLINE, S_DEV_LIST,
    S_REL_INSERT, S_REL_GET, S_REL_BY_SHA, S_REL_LIST,
    S_DEP_INSERT, S_DEP_GET, S_DEP_LIST, S_DEP_STATE, S_DEP_COUNTS, S_DEP_STREAM_BYTES,
    S_TGT_INSERT, S_TGT_FORM, S_TGT_STATE, S_TGT_COUNTERS, S_TGT_PENDING, S_TGT_LIST, S_TGT_RUNNING,
    S_TGT_UNFINISHED, S_TGT_OF_DEVICE,
    S_TOK_INSERT, S_TOK_DELETE, S_TOK_LIST,
    S_KEY_PUT, S_KEY_GET, S_KEY_DELETE, S_KEY_CMD_CTR, S_KEY_REPLY_CTR,
    S_CMD_INSERT, S_CMD_GET, S_CMD_BY_COUNTER, S_CMD_LIST, S_CMD_QUEUED, S_CMD_SENT,
    S_CMD_UNSEND, S_CMD_FINISH, S_CMD_EXPIRE, S_CMD_TIME_OUT, S_CMD_EXPIRE_DEVICE,
    S_REF_INSERT, S_REF_LIST, S_REF_COUNT,
    S_GRP_INSERT, S_GRP_DELETE, S_GRP_GET, S_GRP_LIST, S_GRP_COUNT, S_GRP_MEMBERS, S_GRP_ADD,
    S_GRP_REMOVE, S_DEV_GROUPS,
    S_TAG_PUT, S_TAG_DELETE, S_TAG_LIST, S_TAG_COUNT,
    S_RO_INSERT, S_RO_GET, S_RO_LIST, S_RO_RUNNING, S_RO_STATE, S_RO_WAVE_INSERT, S_RO_WAVE_GET,
    S_RO_WAVE_SET, S_RO_WAVES, S_RO_DEV_INSERT, S_RO_DEVS, S_RO_EV_INSERT, S_RO_EVS,
    S_RO_WDEP_INSERT, S_RO_WDEPS, S_RO_WAVE_TARGETS,
    /* telemetry (schema 8) */
    S_TEL_SERIES_HAS, S_TEL_SERIES_COUNT, S_TEL_SERIES_PUT, S_TEL_INSERT, S_TEL_TRIM_COUNT,
    S_TEL_TRIM_AGE, S_TEL_PRUNE_AGE, S_TEL_PRUNE_SERIES, S_TEL_NAMES, S_TEL_POINTS,
    /* rollouts' pacing and eligibility (schema 9) */
    S_RO_OPTS_SET, S_RO_OPTS_GET, S_RO_PEAK, S_RO_IN_FLIGHT, S_RO_SCHEDULED, S_RO_HAS_DEV,
    S_RO_DEV_FAILURES, S_RO_DEV_RESET,
    /* health (schema 10) */
    S_HL_GET, S_HL_PUT, S_RST_INSERT, S_RST_TRIM, S_RST_LIST, S_RO_HL_PUT, S_RO_HL_GET,
    S_RO_HL_WAVE,
    /* hold offers and maintenance windows (schema 11) */
    S_TGT_FLAGS, S_RO_WIN_PUT, S_RO_WIN_GET, S_RO_EV_LAST,
    /* file releases (schema 12) */
    S_REL_SET_MANIFEST, S_REL_MANIFEST,
    /* legacy devices (schema 13) */
    S_LEG_PUT, S_LEG_GET, S_LEG_LIST,
    /* cancelling and paced retries (schema 16) */
    S_RO_OF_DEP, S_RO_DEV_RETRY, S_RO_SKIP_HAS, S_RO_SKIP_PUT,
    S_COUNT
};

static const char *const stmt_sql[S_COUNT] = {
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_DEV_GET] = "SELECT " DEVICE_COLS " FROM devices WHERE id = ?1",
    [S_DEV_PUT] = "INSERT INTO devices (" DEVICE_COLS ") VALUES"
                  " (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,?21,?22)"
                  " ON CONFLICT(id) DO UPDATE SET chip_id=?2, project=?3, version=?4,"
                  " descriptor_version=?5, idf_ver=?6, slot=?7, state=?8, reason=?9,"
                  " progress=?10, image_size=?11, running_release=?12, target_release=?13,"
                  " boot_count=?14, max_chunk=?15, max_window=?16, online=?17,"
                  " last_seen=?19, caps=?20, protocol=?21, deflate_window=?22",
    [S_DEV_ONLINE] = "INSERT INTO devices (id, online, first_seen, last_seen) VALUES (?1,?2,?3,?3)"
                     " ON CONFLICT(id) DO UPDATE SET online=?2, last_seen=?3",
    [S_DEV_LIST] = "SELECT " DEVICE_COLS " FROM devices ORDER BY id",
    [S_REL_INSERT] = "INSERT INTO releases (version, descriptor_version, project, chip_id, idf_ver,"
                     " secure_version, size, sha256, path, notes, created_at, signature, key_id,"
                     " kind, file_count) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15)",
    [S_REL_GET] = "SELECT " RELEASE_COLS " FROM releases WHERE id = ?1",
    [S_REL_BY_SHA] = "SELECT " RELEASE_COLS " FROM releases WHERE sha256 = ?1",
    [S_REL_LIST] = "SELECT " RELEASE_COLS " FROM releases ORDER BY id DESC",
    [S_DEP_INSERT] = "INSERT INTO deployments (release_id, created_at, state) VALUES (?1,?2,?3)",
    [S_DEP_GET] = "SELECT id, release_id, created_at, state, stream_bytes_sent FROM deployments"
                  " WHERE id = ?1",
    [S_DEP_LIST] = "SELECT id, release_id, created_at, state, stream_bytes_sent FROM deployments"
                   " ORDER BY id DESC",
    [S_DEP_STATE] = "UPDATE deployments SET state = ?2 WHERE id = ?1",
    [S_DEP_COUNTS] = "SELECT count(*), coalesce(sum(state='pending'),0),"
                     " coalesce(sum(state='active'),0), coalesce(sum(state='succeeded'),0),"
                     " coalesce(sum(state='failed'),0), coalesce(sum(state='superseded'),0),"
                     " coalesce(sum(bytes_sent),0), coalesce(sum(bytes_resent),0),"
                     " coalesce(sum(state='ready'),0), coalesce(sum(wire_size),0),"
                     " coalesce(sum(wire_size > 0),0), coalesce(sum(encoding != 0),0),"
                     " coalesce(sum(state='cancelled'),0)"
                     " FROM deployment_targets WHERE deployment_id = ?1",
    [S_DEP_STREAM_BYTES] = "UPDATE deployments SET stream_bytes_sent = stream_bytes_sent + ?2"
                           " WHERE id = ?1",
    [S_TGT_INSERT] = "INSERT INTO deployment_targets (deployment_id, device_id, state, reason,"
                     " progress, bytes_sent, bytes_resent, started_at, finished_at, chunk_size,"
                     " offer_window, offer_flags, encoding, window_bits, wire_size, base_release_id)"
                     " VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16)",
    [S_TGT_FORM] = "UPDATE deployment_targets SET chunk_size=?3, encoding=?4, window_bits=?5,"
                   " wire_size=?6, base_release_id=?7 WHERE deployment_id=?1 AND device_id=?2",
    [S_TGT_STATE] = "UPDATE deployment_targets SET state=?3, reason=?4, progress=?5,"
                    " started_at=?6, finished_at=?7 WHERE deployment_id=?1 AND device_id=?2",
    [S_TGT_COUNTERS] = "UPDATE deployment_targets SET progress=max(progress, ?3), bytes_sent=?4,"
                       " bytes_resent=?5 WHERE deployment_id=?1 AND device_id=?2",
    [S_TGT_PENDING] = "SELECT " TARGET_COLS " FROM deployment_targets t"
                      " JOIN deployments d ON d.id = t.deployment_id"
                      " WHERE t.state IN ('pending','ready') AND d.state = 'running'",
    [S_TGT_LIST] = "SELECT " TARGET_COLS " FROM deployment_targets t"
                   " JOIN deployments d ON d.id = t.deployment_id"
                   " WHERE t.deployment_id = ?1 ORDER BY t.device_id",
    [S_TGT_RUNNING] = "SELECT " TARGET_COLS " FROM deployment_targets t"
                      " JOIN deployments d ON d.id = t.deployment_id"
                      " WHERE t.device_id = ?1 AND t.state IN ('pending','active','ready')"
                      " AND d.state = 'running' AND (?2 = 0 OR d.release_id = ?2)"
                      " ORDER BY t.deployment_id DESC LIMIT 1",
    [S_TGT_UNFINISHED] = "SELECT " TARGET_COLS " FROM deployment_targets t"
                         " JOIN deployments d ON d.id = t.deployment_id"
                         " WHERE t.device_id = ?1 AND t.state IN ('pending','active','ready')",
    [S_TGT_OF_DEVICE] = "SELECT " TARGET_COLS " FROM deployment_targets t"
                        " JOIN deployments d ON d.id = t.deployment_id"
                        " WHERE t.device_id = ?1 ORDER BY t.deployment_id DESC LIMIT ?2",
    [S_TOK_INSERT] = "INSERT INTO api_tokens (name, sha256, created_at) VALUES (?1,?2,?3)"
                     " ON CONFLICT(name) DO NOTHING",
    [S_TOK_DELETE] = "DELETE FROM api_tokens WHERE name = ?1",
    [S_TOK_LIST] = "SELECT name, sha256, created_at FROM api_tokens ORDER BY name",
    [S_KEY_PUT] = "INSERT INTO device_keys (device_id, key, command_counter, reply_counter,"
                  " created_at) VALUES (?1,?2,0,0,?3) ON CONFLICT(device_id) DO UPDATE SET"
                  " key=?2, command_counter=0, reply_counter=0, created_at=?3",
    [S_KEY_GET] = "SELECT key, command_counter, reply_counter, created_at FROM device_keys"
                  " WHERE device_id = ?1",
    [S_KEY_DELETE] = "DELETE FROM device_keys WHERE device_id = ?1",
    [S_KEY_CMD_CTR] = "UPDATE device_keys SET command_counter = ?2 WHERE device_id = ?1",
    [S_KEY_REPLY_CTR] = "UPDATE device_keys SET reply_counter = ?2 WHERE device_id = ?1",
    [S_CMD_INSERT] = "INSERT INTO commands (device_id, name, args, state, ttl_s, created_at)"
                     " VALUES (?1,?2,?3,'queued',?4,?5)",
    [S_CMD_GET] = "SELECT " COMMAND_COLS " FROM commands WHERE id = ?1",
    [S_CMD_BY_COUNTER] = "SELECT " COMMAND_COLS " FROM commands WHERE device_id = ?1"
                         " AND counter = ?2 AND counter != 0 ORDER BY id DESC LIMIT 1",
    [S_CMD_LIST] = "SELECT " COMMAND_COLS " FROM commands WHERE device_id = ?1"
                   " ORDER BY id DESC LIMIT ?2",
    [S_CMD_QUEUED] = "SELECT id FROM commands WHERE device_id = ?1 AND state = 'queued'"
                     " ORDER BY id LIMIT ?2",
    [S_CMD_SENT] = "UPDATE commands SET state = 'sent', counter = ?2, sent_at = ?3"
                   " WHERE id = ?1 AND state = 'queued'",
    [S_CMD_UNSEND] = "UPDATE commands SET state = 'queued', sent_at = 0"
                     " WHERE id = ?1 AND state = 'sent'",
    [S_CMD_FINISH] = "UPDATE commands SET state = ?3, result = ?4, reply = ?5,"
                     " finished_at = ?6 WHERE id = ?1 AND state = ?2",
    [S_CMD_EXPIRE] = "UPDATE commands SET state = 'expired', finished_at = ?1"
                     " WHERE state = 'queued' AND created_at + ttl_s <= ?1",
    [S_CMD_TIME_OUT] = "UPDATE commands SET state = 'timeout', finished_at = ?2"
                       " WHERE state = 'sent' AND sent_at <= ?1",
    [S_CMD_EXPIRE_DEVICE] = "UPDATE commands SET state = 'expired', finished_at = ?2"
                            " WHERE device_id = ?1 AND state = 'queued'",
    [S_REF_INSERT] = "INSERT INTO command_refusals (device_id, at, result, refused_counter,"
                     " highest_counter, refused_total, command_id) VALUES (?1,?2,?3,?4,?5,?6,?7)",
    [S_REF_LIST] = "SELECT " REFUSAL_COLS " FROM command_refusals WHERE device_id = ?1"
                   " ORDER BY id DESC LIMIT ?2",
    [S_REF_COUNT] = "SELECT count(*) FROM command_refusals WHERE device_id = ?1",
    [S_GRP_INSERT] = "INSERT INTO device_groups (name, created_at) VALUES (?1,?2)"
                     " ON CONFLICT(name) DO NOTHING",
    [S_GRP_DELETE] = "DELETE FROM device_groups WHERE name = ?1",
    [S_GRP_GET] = "SELECT g.name, g.created_at, (SELECT count(*) FROM device_group_members m"
                  " WHERE m.group_name = g.name) FROM device_groups g WHERE g.name = ?1",
    [S_GRP_LIST] = "SELECT g.name, g.created_at, (SELECT count(*) FROM device_group_members m"
                   " WHERE m.group_name = g.name) FROM device_groups g ORDER BY g.name",
    [S_GRP_COUNT] = "SELECT count(*) FROM device_groups",
    [S_GRP_MEMBERS] = "SELECT device_id FROM device_group_members WHERE group_name = ?1"
                      " ORDER BY device_id",
    [S_GRP_ADD] = "INSERT INTO device_group_members (group_name, device_id, added_at)"
                  " VALUES (?1,?2,?3) ON CONFLICT(group_name, device_id) DO NOTHING",
    [S_GRP_REMOVE] = "DELETE FROM device_group_members WHERE group_name = ?1 AND device_id = ?2",
    [S_DEV_GROUPS] = "SELECT group_name FROM device_group_members WHERE device_id = ?1"
                     " ORDER BY group_name",
    [S_TAG_PUT] = "INSERT INTO device_tags (device_id, tag_key, tag_value) VALUES (?1,?2,?3)"
                  " ON CONFLICT(device_id, tag_key) DO UPDATE SET tag_value = ?3",
    [S_TAG_DELETE] = "DELETE FROM device_tags WHERE device_id = ?1 AND tag_key = ?2"
                     " AND (?3 IS NULL OR tag_value = ?3)",
    [S_TAG_LIST] = "SELECT tag_key, tag_value FROM device_tags WHERE device_id = ?1"
                   " ORDER BY tag_key",
    [S_TAG_COUNT] = "SELECT count(*) FROM device_tags WHERE device_id = ?1",
    [S_RO_INSERT] = "INSERT INTO rollouts (release_id, filter, plan, success_percent,"
                    " error_percent, deadline_s, on_error, state, current_wave, created_at,"
                    " updated_at, approval) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?10,?11)",
    [S_RO_GET] = "SELECT " ROLLOUT_COLS " FROM rollouts r WHERE r.id = ?1",
    [S_RO_LIST] = "SELECT " ROLLOUT_COLS " FROM rollouts r ORDER BY r.id DESC",
    [S_RO_RUNNING] = "SELECT " ROLLOUT_COLS " FROM rollouts r WHERE r.state = 'running'"
                     " ORDER BY r.id",
    [S_RO_STATE] = "UPDATE rollouts SET state = ?2, current_wave = ?3, updated_at = ?4"
                   " WHERE id = ?1",
    [S_RO_WAVE_INSERT] = "INSERT INTO rollout_waves (rollout_id, idx, size, state, deployment_id,"
                         " started_at, finished_at) VALUES (?1,?2,?3,?4,?5,?6,?7)",
    [S_RO_WAVE_GET] = "SELECT " WAVE_COLS " FROM rollout_waves WHERE rollout_id = ?1"
                      " AND idx = ?2",
    [S_RO_WAVE_SET] = "UPDATE rollout_waves SET state = ?4, deployment_id = ?5, started_at = ?6,"
                      " finished_at = ?7 WHERE rollout_id = ?1 AND idx = ?2",
    [S_RO_WAVES] = "SELECT " WAVE_COLS " FROM rollout_waves WHERE rollout_id = ?1 ORDER BY idx",
    [S_RO_DEV_INSERT] = "INSERT INTO rollout_devices (rollout_id, device_id, wave)"
                        " VALUES (?1,?2,?3)",
    [S_RO_DEVS] = "SELECT device_id FROM rollout_devices WHERE rollout_id = ?1 AND wave = ?2"
                  " ORDER BY device_id",
    [S_RO_EV_INSERT] = "INSERT INTO rollout_events (rollout_id, at, wave, kind, message)"
                       " VALUES (?1,?2,?3,?4,?5)",
    [S_RO_EVS] = "SELECT id, rollout_id, at, wave, kind, message FROM rollout_events"
                 " WHERE rollout_id = ?1 ORDER BY id",
    [S_RO_WDEP_INSERT] = "INSERT INTO rollout_wave_deployments (rollout_id, wave, deployment_id)"
                         " VALUES (?1,?2,?3)",
    [S_RO_WDEPS] = "SELECT deployment_id FROM rollout_wave_deployments WHERE rollout_id = ?1"
                   " AND wave = ?2 ORDER BY deployment_id",
    /* each device of a wave with the state of its latest target among the wave's deployments
     * and that deployment's creation (the offer): '' and 0 when it has none, or when its
     * paced retry's offer is still to be made (v.retry) */
    [S_RO_WAVE_TARGETS] = "SELECT v.device_id, CASE WHEN v.retry THEN '' ELSE"
                          " coalesce(t.state, '') END,"
                          " CASE WHEN v.retry THEN 0 ELSE coalesce(d.created_at, 0) END"
                          " FROM rollout_devices v LEFT JOIN deployment_targets t"
                          " ON t.device_id = v.device_id AND t.deployment_id ="
                          " (SELECT max(x.deployment_id) FROM rollout_wave_deployments x"
                          " JOIN deployment_targets t2 ON t2.deployment_id = x.deployment_id"
                          " WHERE x.rollout_id = v.rollout_id AND x.wave = v.wave"
                          " AND t2.device_id = v.device_id)"
                          " LEFT JOIN deployments d ON d.id = t.deployment_id"
                          " WHERE v.rollout_id = ?1 AND v.wave = ?2 ORDER BY v.device_id",
    /* ---- rollouts' pacing and eligibility (schema 9) ---- */
    [S_RO_OPTS_SET] = "UPDATE rollouts SET max_transfers = ?2, jitter_s = ?3, start_at = ?4,"
                      " from_versions = ?5, failure_budget = ?6, continuous = ?7 WHERE id = ?1",
    [S_RO_OPTS_GET] = "SELECT max_transfers, jitter_s, start_at, from_versions, failure_budget,"
                      " continuous, peak_in_flight FROM rollouts WHERE id = ?1",
    [S_RO_PEAK] = "UPDATE rollouts SET peak_in_flight = max(peak_in_flight, ?2) WHERE id = ?1",
    /* devices of a rollout offered the release at or after ?2 whose target has not ended */
    [S_RO_IN_FLIGHT] = "SELECT count(*) FROM rollout_wave_deployments x"
                       " JOIN deployments d ON d.id = x.deployment_id"
                       " JOIN deployment_targets t ON t.deployment_id = x.deployment_id"
                       " WHERE x.rollout_id = ?1 AND d.created_at >= ?2"
                       " AND t.state IN ('pending', 'active')",
    [S_RO_SCHEDULED] = "SELECT id FROM rollouts WHERE state = 'scheduled' AND start_at <= ?1"
                       " ORDER BY id",
    [S_RO_HAS_DEV] = "SELECT count(*) FROM rollout_devices WHERE rollout_id = ?1"
                     " AND device_id = ?2",
    [S_RO_DEV_FAILURES] = "SELECT count(*) FROM deployment_targets t"
                          " JOIN deployments d ON d.id = t.deployment_id"
                          " JOIN devices v ON v.id = t.device_id"
                          " WHERE t.device_id = ?1 AND d.release_id = ?2 AND t.state = 'failed'"
                          " AND t.finished_at > v.failures_reset_at",
    [S_RO_DEV_RESET] = "UPDATE devices SET failures_reset_at = ?2 WHERE id = ?1",
    /* ---- telemetry (schema 8) ---- */
    [S_TEL_SERIES_HAS] = "SELECT count(*) FROM telemetry_series WHERE device_id = ?1"
                         " AND name = ?2",
    [S_TEL_SERIES_COUNT] = "SELECT count(*) FROM telemetry_series WHERE device_id = ?1",
    [S_TEL_SERIES_PUT] = "INSERT INTO telemetry_series (device_id, name) VALUES (?1,?2)"
                         " ON CONFLICT(device_id, name) DO NOTHING",
    [S_TEL_INSERT] = "INSERT INTO telemetry (device_id, name, ts, device_ms, value)"
                     " VALUES (?1,?2,?3,?4,?5)",
    [S_TEL_TRIM_COUNT] = "DELETE FROM telemetry WHERE rowid IN (SELECT rowid FROM telemetry"
                         " WHERE device_id = ?1 AND name = ?2 ORDER BY ts DESC, rowid DESC"
                         " LIMIT -1 OFFSET ?3)",
    [S_TEL_TRIM_AGE] = "DELETE FROM telemetry WHERE device_id = ?1 AND name = ?2 AND ts < ?3",
    [S_TEL_PRUNE_AGE] = "DELETE FROM telemetry WHERE rowid IN (SELECT t.rowid FROM"
                        " telemetry_series s JOIN telemetry t ON t.device_id = s.device_id"
                        " AND t.name = s.name AND t.ts < ?1)",
    [S_TEL_PRUNE_SERIES] = "DELETE FROM telemetry_series WHERE NOT EXISTS (SELECT 1 FROM"
                           " telemetry t WHERE t.device_id = telemetry_series.device_id"
                           " AND t.name = telemetry_series.name)",
    [S_TEL_NAMES] = "SELECT s.name, (SELECT count(*) FROM telemetry t WHERE t.device_id ="
                    " s.device_id AND t.name = s.name), (SELECT min(ts) FROM telemetry t WHERE"
                    " t.device_id = s.device_id AND t.name = s.name), t2.ts, t2.value"
                    " FROM telemetry_series s LEFT JOIN telemetry t2 ON t2.rowid = (SELECT"
                    " rowid FROM telemetry t WHERE t.device_id = s.device_id AND t.name ="
                    " s.name ORDER BY ts DESC, rowid DESC LIMIT 1)"
                    " WHERE s.device_id = ?1 ORDER BY s.name",
    [S_TEL_POINTS] = "SELECT ts, device_ms, value FROM (SELECT ts, device_ms, value, rowid AS r"
                     " FROM telemetry WHERE device_id = ?1 AND name = ?2 AND ts >= ?3"
                     " AND ts <= ?4 ORDER BY ts DESC, rowid DESC LIMIT ?5) ORDER BY ts, r",
    /* ---- health (schema 10) ---- */
    [S_HL_GET] = "SELECT device_id, at, reset_reason, crash, uptime_s, boot_count, min_free_heap,"
                 " rssi, reconnects, resets FROM device_health WHERE device_id = ?1",
    [S_HL_PUT] = "INSERT OR REPLACE INTO device_health (device_id, at, reset_reason, crash,"
                 " uptime_s, boot_count, min_free_heap, rssi, reconnects, resets)"
                 " VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)",
    [S_RST_INSERT] = "INSERT INTO device_resets (device_id, at, reason, boot_count, crash)"
                     " VALUES (?1,?2,?3,?4,?5)",
    [S_RST_TRIM] = "DELETE FROM device_resets WHERE device_id = ?1 AND id NOT IN (SELECT id"
                   " FROM device_resets WHERE device_id = ?1 ORDER BY id DESC LIMIT ?2)",
    [S_RST_LIST] = "SELECT at, reason, boot_count, crash FROM device_resets WHERE device_id = ?1"
                   " ORDER BY id DESC LIMIT ?2",
    [S_RO_HL_PUT] = "INSERT OR REPLACE INTO rollout_health (rollout_id, crashes, within_s)"
                    " VALUES (?1,?2,?3)",
    [S_RO_HL_GET] = "SELECT crashes, within_s FROM rollout_health WHERE rollout_id = ?1",
    /* each device of a wave whose latest target among the wave's deployments succeeded, with
     * its confirm time and its crash resets (panic, watchdogs: mqota_reset_is_crash()) from
     * then to then + ?3 s */
    [S_RO_HL_WAVE] = "SELECT v.device_id, t.finished_at, (SELECT count(*) FROM device_resets r"
                     " WHERE r.device_id = v.device_id AND r.reason IN (4,5,6,7)"
                     " AND r.at >= t.finished_at AND r.at <= t.finished_at + ?3)"
                     " FROM rollout_devices v JOIN deployment_targets t ON t.rowid = (SELECT"
                     " t2.rowid FROM deployment_targets t2 JOIN rollout_wave_deployments x"
                     " ON x.deployment_id = t2.deployment_id WHERE x.rollout_id = v.rollout_id"
                     " AND x.wave = v.wave AND t2.device_id = v.device_id"
                     " ORDER BY t2.deployment_id DESC LIMIT 1)"
                     " WHERE v.rollout_id = ?1 AND v.wave = ?2 AND t.state = 'succeeded'"
                     " ORDER BY v.device_id",
    /* ---- hold offers and maintenance windows (schema 11) ---- */
    [S_TGT_FLAGS] = "UPDATE deployment_targets SET offer_flags=?3"
                    " WHERE deployment_id=?1 AND device_id=?2",
    [S_RO_WIN_PUT] = "INSERT INTO rollout_windows (rollout_id, start_min, end_min)"
                     " VALUES (?1,?2,?3)",
    [S_RO_WIN_GET] = "SELECT start_min, end_min FROM rollout_windows WHERE rollout_id = ?1",
    [S_RO_EV_LAST] = "SELECT coalesce(max(at), 0) FROM rollout_events"
                     " WHERE rollout_id = ?1 AND wave = ?2 AND kind = ?3",
    /* ---- file releases (schema 12) ---- */
    [S_REL_SET_MANIFEST] = "UPDATE releases SET manifest = ?2 WHERE id = ?1",
    [S_REL_MANIFEST] = "SELECT manifest FROM releases WHERE id = ?1",
    [S_LEG_PUT] = "INSERT INTO legacy_devices (device_id, params, created_at) VALUES (?1,?2,?3)"
                  " ON CONFLICT(device_id) DO UPDATE SET params=?2",
    [S_LEG_GET] = "SELECT params FROM legacy_devices WHERE device_id = ?1",
    [S_LEG_LIST] = "SELECT l.device_id, d.protocol, l.params FROM legacy_devices l"
                   " JOIN devices d ON d.id = l.device_id ORDER BY l.device_id",
    /* ---- cancelling and paced retries (schema 16) ---- */
    [S_RO_OF_DEP] = "SELECT rollout_id, wave FROM rollout_wave_deployments"
                    " WHERE deployment_id = ?1 LIMIT 1",
    [S_RO_DEV_RETRY] = "UPDATE rollout_devices SET retry = ?3 WHERE rollout_id = ?1"
                       " AND device_id = ?2",
    [S_RO_SKIP_HAS] = "SELECT count(*) FROM rollout_skips WHERE rollout_id = ?1"
                      " AND device_id = ?2 AND reason = ?3",
    [S_RO_SKIP_PUT] = "INSERT INTO rollout_skips (rollout_id, device_id, reason)"
                      " VALUES (?1,?2,?3) ON CONFLICT DO NOTHING",
};

struct db {
    sqlite3 *h;
    sqlite3_stmt *st[S_COUNT];
    bool full; /* the last failure was a full disk (db__disk_full) */
    int depth; /* open db__begin()s: the outer one a transaction, the inner ones savepoints */
};

/* Report a failed SQLite call once, with the statement's purpose; remember whether the disk
 * was full (SQLITE_FULL, or an I/O error whose errno is ENOSPC/EDQUOT). SQLite updates the
 * system errno only for I/O and open errors, so it is read only for those. */
static int fail(db_t *db, const char *what)
{
    int code = sqlite3_errcode(db->h);
    int sys = code == SQLITE_IOERR || code == SQLITE_CANTOPEN ? sqlite3_system_errno(db->h) : 0;
    db->full = code == SQLITE_FULL || sys == ENOSPC || sys == EDQUOT;
    mqh_log(MQH_ERROR, "database: %s: %s%s%s", what, sqlite3_errmsg(db->h),
            sys ? ": " : "", sys ? strerror(sys) : "");
    return -1;
}

static void copy_text(char *dst, size_t cap, sqlite3_stmt *s, int col)
{
    const unsigned char *t = sqlite3_column_text(s, col);
    snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

/*
 * Bring the schema to the newest version. Each migration runs in its own transaction together
 * with the user_version bump, so a crash leaves the database at a well-defined version.
 */
static int migrate(db_t *db)
{
    sqlite3_stmt *s;
    int version = 0;
    if (sqlite3_prepare_v2(db->h, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK)
        return fail(db, "read schema version");
    if (sqlite3_step(s) == SQLITE_ROW) version = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    if (version > MIGRATION_COUNT) {
        mqh_log(MQH_ERROR, "database: schema version %d is newer than this mqotad knows (%d); "
                "use a newer mqotad", version, MIGRATION_COUNT);
        return -1;
    }
    for (int v = version; v < MIGRATION_COUNT; v++) {
        char bump[64];
        snprintf(bump, sizeof(bump), "PRAGMA user_version = %d", v + 1);
        if (sqlite3_exec(db->h, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
            return fail(db, "begin migration");
        if (sqlite3_exec(db->h, migrations[v], NULL, NULL, NULL) != SQLITE_OK ||
            sqlite3_exec(db->h, bump, NULL, NULL, NULL) != SQLITE_OK) {
            fail(db, "migrate schema");
            sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
            return -1;
        }
        if (sqlite3_exec(db->h, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
            return fail(db, "commit migration");
        mqh_log(MQH_INFO, "database: schema migrated to version %d", v + 1);
    }
    return 0;
}

/*
 * Open (creating if needed) the database at path, set WAL mode, migrate the schema and prepare
 * every statement. On failure everything is released and -1 returned.
 */
int db__open(db_t **out, const char *path)
{
    db_t *db = calloc(1, sizeof(*db));
    if (!db) return -1;
    if (sqlite3_open_v2(path, &db->h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        mqh_log(MQH_ERROR, "database: cannot open %s: %s", path,
                db->h ? sqlite3_errmsg(db->h) : "out of memory");
        goto err;
    }
    sqlite3_busy_timeout(db->h, 2000);
    if (sqlite3_exec(db->h, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                            " PRAGMA foreign_keys=ON;", NULL, NULL, NULL) != SQLITE_OK) {
        fail(db, "set pragmas");
        goto err;
    }
    if (migrate(db) != 0) goto err;
    /* The database holds the devices' command keys (schema 5): owner only, and so are its
     * WAL and shared-memory files (made by now, by the pragma and the migration). */
    for (int i = 0; i < 3; i++) {
        char p[4096 + 8];
        snprintf(p, sizeof(p), "%s%s", path, i == 0 ? "" : i == 1 ? "-wal" : "-shm");
        if (chmod(p, 0600) != 0 && errno != ENOENT)
            mqh_log(MQH_WARN, "database: cannot make %s private (mode 0600): %s", p,
                    strerror(errno));
    }
    for (int i = 0; i < S_COUNT; i++) {
        if (sqlite3_prepare_v3(db->h, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &db->st[i],
                               NULL) != SQLITE_OK) {
            mqh_log(MQH_ERROR, "database: cannot prepare statement %d: %s", i,
                    sqlite3_errmsg(db->h));
            goto err;
        }
    }
    *out = db;
    return 0;
err:
    db__close(db);
    return -1;
}

void db__close(db_t *db)
{
    if (!db) return;
    for (int i = 0; i < S_COUNT; i++) sqlite3_finalize(db->st[i]);
    sqlite3_close(db->h);
    free(db);
}

/* Run a statement that returns no rows, then reset it. */
static int exec_stmt(db_t *db, int which, const char *what)
{
    sqlite3_stmt *s = db->st[which];
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc != SQLITE_DONE) return fail(db, what);
    return 0;
}

/* Run a statement that changes rows: 0 when it changed one, 1 when none, -1 on error. */
static int exec_changed(db_t *db, int which, const char *what)
{
    if (exec_stmt(db, which, what) != 0) return -1;
    return sqlite3_changes(db->h) > 0 ? 0 : 1;
}

/* Reads the row a statement stands on into out: 0, or the reader's own code for a row it
 * cannot take (read_key()'s 2, read_strdup()'s -1). */
typedef int row_reader_t(sqlite3_stmt *s, void *out);

/*
 * Step a bound statement once. A row: what read(s, out) returns. No row: 1, or fail(what)
 * (-1) when row_needed (an aggregate such as count(*) always has one). An error: fail(what),
 * -1. The statement is reset and its bindings cleared whatever happened.
 */
static int step_row(db_t *db, int which, const char *what, row_reader_t *read, void *out,
                    bool row_needed)
{
    sqlite3_stmt *s = db->st[which];
    int rc = sqlite3_step(s), ret;
    if (rc == SQLITE_ROW) ret = read(s, out);
    else if (rc == SQLITE_DONE && !row_needed) ret = 1;
    else ret = fail(db, what);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return ret;
}

/* The one row a bound query selects, read into out: 0, 1 when there is none, -1 on error. */
static int get_row(db_t *db, int which, const char *what, row_reader_t *read, void *out)
{
    return step_row(db, which, what, read, out, false);
}

/* Every column of the row as an int64, into out[] (room for as many as the query selects). */
static int read_int64s(sqlite3_stmt *s, void *out)
{
    for (int i = 0; i < sqlite3_column_count(s); i++)
        ((int64_t *)out)[i] = sqlite3_column_int64(s, i);
    return 0;
}

/* The one integer a counting statement (already bound) selects: 0 with *out, -1 on error. */
static int count_one(db_t *db, int which, const char *what, int64_t *out)
{
    return step_row(db, which, what, read_int64s, out, true);
}

/*
 * End a walk over a statement's rows, `while ((rc = sqlite3_step(s)) == SQLITE_ROW)`, rc its
 * last step: SQLITE_ROW when the caller stopped early, SQLITE_DONE at the end, else an error.
 * 0, or fail(what) (-1) on an error; the statement is reset and its bindings cleared either way.
 */
static int end_rows(db_t *db, sqlite3_stmt *s, int rc, const char *what)
{
    int ret = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : fail(db, what);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return ret;
}

/*
 * Transactions nest: the outermost db__begin() is BEGIN IMMEDIATE, an inner one (a rollout
 * starting a wave calls deploy__create(), which has its own) a SAVEPOINT, so the inner work
 * commits or rolls back with the outer transaction. An inner db__commit() releases its
 * savepoint, an inner db__rollback() undoes only the inner work (the outer caller, told of the
 * failure, rolls back the rest).
 */
int db__begin(db_t *db)
{
    if (db->depth > 0) {
        if (sqlite3_exec(db->h, "SAVEPOINT nested", NULL, NULL, NULL) != SQLITE_OK)
            return fail(db, "begin nested transaction");
    } else if (exec_stmt(db, S_BEGIN, "begin transaction") != 0) {
        return -1;
    }
    db->depth++;
    return 0;
}

int db__commit(db_t *db)
{
    if (db->depth > 1) {
        db->depth--;
        if (sqlite3_exec(db->h, "RELEASE nested", NULL, NULL, NULL) != SQLITE_OK)
            return fail(db, "commit nested transaction");
        return 0;
    }
    db->depth = 0;
    return exec_stmt(db, S_COMMIT, "commit");
}

bool db__disk_full(const db_t *db) { return db->full; }
void db__rollback(db_t *db)
{
    if (db->depth > 1) {
        db->depth--;
        if (sqlite3_exec(db->h, "ROLLBACK TO nested; RELEASE nested", NULL, NULL, NULL) !=
            SQLITE_OK)
            fail(db, "roll back nested transaction");
        return;
    }
    db->depth = 0;
    if (!sqlite3_get_autocommit(db->h)) exec_stmt(db, S_ROLLBACK, "rollback");
}

/* ---- devices ---- */

static int read_device(sqlite3_stmt *s, void *out)
{
    db_device_t *d = out;
    memset(d, 0, sizeof(*d));
    copy_text(d->id, sizeof(d->id), s, 0);
    d->chip_id = (uint16_t)sqlite3_column_int(s, 1);
    copy_text(d->project, sizeof(d->project), s, 2);
    copy_text(d->version, sizeof(d->version), s, 3);
    copy_text(d->descriptor_version, sizeof(d->descriptor_version), s, 4);
    copy_text(d->idf_ver, sizeof(d->idf_ver), s, 5);
    d->slot = sqlite3_column_int(s, 6);
    d->state = sqlite3_column_int(s, 7);
    d->reason = sqlite3_column_int(s, 8);
    d->progress = (uint32_t)sqlite3_column_int64(s, 9);
    d->image_size = (uint32_t)sqlite3_column_int64(s, 10);
    d->running_release = (uint32_t)sqlite3_column_int64(s, 11);
    d->target_release = (uint32_t)sqlite3_column_int64(s, 12);
    d->boot_count = (uint32_t)sqlite3_column_int64(s, 13);
    d->max_chunk = (uint32_t)sqlite3_column_int64(s, 14);
    d->max_window = (uint32_t)sqlite3_column_int64(s, 15);
    d->online = sqlite3_column_int(s, 16) != 0;
    d->first_seen = sqlite3_column_int64(s, 17);
    d->last_seen = sqlite3_column_int64(s, 18);
    d->caps = (uint32_t)sqlite3_column_int64(s, 19);
    const char *proto = (const char *)sqlite3_column_text(s, 20);
    if (db__protocol_parse(proto ? proto : "", &d->protocol) != 0) {
        mqh_log(MQH_WARN, "device %s has protocol '%.16s', which this mqotad does not know; "
                "read as mqota", d->id, proto ? proto : "");
        d->protocol = DB_PROTO_MQOTA;
    }
    d->deflate_window = (uint8_t)sqlite3_column_int(s, 21);
    return 0;
}

int db__device_get(db_t *db, const char *id, db_device_t *out)
{
    sqlite3_bind_text(db->st[S_DEV_GET], 1, id, -1, SQLITE_TRANSIENT);
    return get_row(db, S_DEV_GET, "read device", read_device, out);
}

/* Insert or update a device; first_seen is only written when the row is created. */
int db__device_put(db_t *db, const db_device_t *d)
{
    sqlite3_stmt *s = db->st[S_DEV_PUT];
    sqlite3_bind_text(s, 1, d->id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(s, 2, d->chip_id);
    sqlite3_bind_text(s, 3, d->project, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 4, d->version, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 5, d->descriptor_version, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 6, d->idf_ver, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(s, 7, d->slot);
    sqlite3_bind_int(s, 8, d->state);
    sqlite3_bind_int(s, 9, d->reason);
    sqlite3_bind_int64(s, 10, d->progress);
    sqlite3_bind_int64(s, 11, d->image_size);
    sqlite3_bind_int64(s, 12, d->running_release);
    sqlite3_bind_int64(s, 13, d->target_release);
    sqlite3_bind_int64(s, 14, d->boot_count);
    sqlite3_bind_int64(s, 15, d->max_chunk);
    sqlite3_bind_int64(s, 16, d->max_window);
    sqlite3_bind_int(s, 17, d->online);
    sqlite3_bind_int64(s, 18, d->first_seen);
    sqlite3_bind_int64(s, 19, d->last_seen);
    sqlite3_bind_int64(s, 20, d->caps);
    sqlite3_bind_text(s, 21, db__protocol_name(d->protocol), -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 22, d->deflate_window);
    return exec_stmt(db, S_DEV_PUT, "store device");
}

int db__device_set_online(db_t *db, const char *id, bool online, int64_t now)
{
    sqlite3_stmt *s = db->st[S_DEV_ONLINE];
    sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(s, 2, online);
    sqlite3_bind_int64(s, 3, now);
    return exec_stmt(db, S_DEV_ONLINE, "store device online flag");
}

int db__device_list(db_t *db, int (*cb)(void *ctx, const db_device_t *d), void *ctx)
{
    sqlite3_stmt *s = db->st[S_DEV_LIST];
    int rc;
    db_device_t d;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        read_device(s, &d);
        if (cb(ctx, &d) != 0) break;
    }
    return end_rows(db, s, rc, "list devices");
}

/* ---- device protocols and legacy devices (schema 13, docs/LEGACY.md) ---- */

/* The names the database and the API use, by db_protocol_t. */
static const char *const protocol_names[DB_PROTO_COUNT] = {
    [DB_PROTO_MQOTA] = "mqota", [DB_PROTO_B64] = "b64", [DB_PROTO_MD5] = "md5",
    [DB_PROTO_PULL] = "pull", [DB_PROTO_TCP] = "tcp",
};

const char *db__protocol_name(db_protocol_t p)
{
    return (unsigned)p < DB_PROTO_COUNT ? protocol_names[p] : "?";
}

int db__protocol_parse(const char *name, db_protocol_t *out)
{
    for (int i = 0; i < DB_PROTO_COUNT; i++) {
        if (strcmp(name, protocol_names[i]) == 0) {
            *out = (db_protocol_t)i;
            return 0;
        }
    }
    return -1;
}

int db__legacy_put(db_t *db, const char *device_id, const char *params, int64_t now)
{
    sqlite3_stmt *s = db->st[S_LEG_PUT];
    sqlite3_bind_text(s, 1, device_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, params, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 3, now);
    return exec_stmt(db, S_LEG_PUT, "store a legacy device's parameters");
}

int db__legacy_register(db_t *db, const db_device_t *dev, const char *params, int64_t now)
{
    if (db__begin(db) != 0) return -1;
    if (db__device_put(db, dev) != 0 || db__legacy_put(db, dev->id, params, now) != 0 ||
        db__commit(db) != 0) {
        db__rollback(db);
        return -1;
    }
    return 0;
}

/* A text column read into a caller's buffer (read_text()). */
struct text_buf {
    char *p;
    size_t cap;
};

static int read_text(sqlite3_stmt *s, void *out)
{
    struct text_buf *b = out;
    copy_text(b->p, b->cap, s, 0);
    return 0;
}

int db__legacy_get(db_t *db, const char *device_id, char *params, size_t cap)
{
    struct text_buf b = {params, cap};
    sqlite3_bind_text(db->st[S_LEG_GET], 1, device_id, -1, SQLITE_TRANSIENT);
    return get_row(db, S_LEG_GET, "read a legacy device's parameters", read_text, &b);
}

int db__legacy_list(db_t *db, int (*cb)(void *ctx, const char *device_id,
                                        db_protocol_t protocol, const char *params),
                    void *ctx)
{
    sqlite3_stmt *s = db->st[S_LEG_LIST];
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(s, 0);
        const char *proto = (const char *)sqlite3_column_text(s, 1);
        const char *params = (const char *)sqlite3_column_text(s, 2);
        db_protocol_t p;
        if (!id || !proto || !params || db__protocol_parse(proto, &p) != 0) continue;
        if (cb(ctx, id, p, params) != 0) break;
    }
    return end_rows(db, s, rc, "list legacy devices");
}

/* ---- releases ---- */

static int read_release(sqlite3_stmt *s, void *out)
{
    db_release_t *r = out;
    memset(r, 0, sizeof(*r));
    r->id = sqlite3_column_int64(s, 0);
    copy_text(r->version, sizeof(r->version), s, 1);
    copy_text(r->descriptor_version, sizeof(r->descriptor_version), s, 2);
    copy_text(r->project, sizeof(r->project), s, 3);
    r->chip_id = (uint16_t)sqlite3_column_int(s, 4);
    copy_text(r->idf_ver, sizeof(r->idf_ver), s, 5);
    r->secure_version = (uint32_t)sqlite3_column_int64(s, 6);
    r->size = (uint32_t)sqlite3_column_int64(s, 7);
    copy_text(r->sha256, sizeof(r->sha256), s, 8);
    copy_text(r->path, sizeof(r->path), s, 9);
    copy_text(r->notes, sizeof(r->notes), s, 10);
    r->created_at = sqlite3_column_int64(s, 11);
    /* A signature column of any other length than a whole block reads as unsigned. */
    if (sqlite3_column_type(s, 12) == SQLITE_BLOB &&
        sqlite3_column_bytes(s, 12) == (int)sizeof(r->sig)) {
        memcpy(r->sig, sqlite3_column_blob(s, 12), sizeof(r->sig));
        r->has_sig = true;
    }
    copy_text(r->key_id, sizeof(r->key_id), s, 13);
    r->kind = (uint8_t)sqlite3_column_int(s, 14);
    r->file_count = (uint16_t)sqlite3_column_int(s, 15);
    return 0;
}

/* Insert a release; on success r->id holds the new id. */
int db__release_insert(db_t *db, db_release_t *r)
{
    sqlite3_stmt *s = db->st[S_REL_INSERT];
    sqlite3_bind_text(s, 1, r->version, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, r->descriptor_version, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 3, r->project, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(s, 4, r->chip_id);
    sqlite3_bind_text(s, 5, r->idf_ver, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 6, r->secure_version);
    sqlite3_bind_int64(s, 7, r->size);
    sqlite3_bind_text(s, 8, r->sha256, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 9, r->path, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 10, r->notes, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 11, r->created_at);
    if (r->has_sig)
        sqlite3_bind_blob(s, 12, r->sig, (int)sizeof(r->sig), SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(s, 12);
    sqlite3_bind_text(s, 13, r->key_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(s, 14, r->kind);
    sqlite3_bind_int(s, 15, r->file_count);
    if (exec_stmt(db, S_REL_INSERT, "store release") != 0) return -1;
    r->id = sqlite3_last_insert_rowid(db->h);
    return 0;
}

int db__release_set_manifest(db_t *db, int64_t id, const char *json)
{
    sqlite3_stmt *s = db->st[S_REL_SET_MANIFEST];
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_text(s, 2, json, -1, SQLITE_TRANSIENT);
    return exec_stmt(db, S_REL_SET_MANIFEST, "store the release's manifest");
}

/* The first column's text, malloc'd into *(char **)out; -1 when out of memory. */
static int read_strdup(sqlite3_stmt *s, void *out)
{
    const char *t = (const char *)sqlite3_column_text(s, 0);
    char **p = out;
    *p = strdup(t ? t : "");
    return *p ? 0 : -1;
}

/* A release's manifest text, malloc'd; 0, 1 (no such release) or -1. */
int db__release_manifest(db_t *db, int64_t id, char **out)
{
    *out = NULL;
    sqlite3_bind_int64(db->st[S_REL_MANIFEST], 1, id);
    return get_row(db, S_REL_MANIFEST, "read the release's manifest", read_strdup, out);
}

int db__release_get(db_t *db, int64_t id, db_release_t *out)
{
    sqlite3_bind_int64(db->st[S_REL_GET], 1, id);
    return get_row(db, S_REL_GET, "read release", read_release, out);
}

int db__release_by_sha(db_t *db, const char *sha256, db_release_t *out)
{
    sqlite3_bind_text(db->st[S_REL_BY_SHA], 1, sha256, -1, SQLITE_TRANSIENT);
    return get_row(db, S_REL_BY_SHA, "read release", read_release, out);
}

int db__release_list(db_t *db, int (*cb)(void *ctx, const db_release_t *r), void *ctx)
{
    sqlite3_stmt *s = db->st[S_REL_LIST];
    int rc, ret;
    db_release_t *r = malloc(sizeof(*r));
    if (!r) return -1;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        read_release(s, r);
        if (cb(ctx, r) != 0) break;
    }
    ret = end_rows(db, s, rc, "list releases");
    free(r);
    return ret;
}

/* ---- deployments ---- */

static int read_deployment(sqlite3_stmt *s, void *out)
{
    db_deployment_t *d = out;
    memset(d, 0, sizeof(*d));
    d->id = sqlite3_column_int64(s, 0);
    d->release_id = sqlite3_column_int64(s, 1);
    d->created_at = sqlite3_column_int64(s, 2);
    const char *state = (const char *)sqlite3_column_text(s, 3);
    if (state__deployment_parse(state, &d->state) != 0) {
        /* only mqotad writes it: a name it does not know is damage; nothing acts on it */
        mqh_log(MQH_ERROR, "database: deployment %lld has the unknown state '%s'; taken as %s",
                (long long)d->id, state ? state : "", state__deployment_name(DEPLOYMENT_FINISHED));
        d->state = DEPLOYMENT_FINISHED;
    }
    d->stream_bytes_sent = sqlite3_column_int64(s, 4);
    return 0;
}

int db__deployment_insert(db_t *db, db_deployment_t *d)
{
    sqlite3_stmt *s = db->st[S_DEP_INSERT];
    sqlite3_bind_int64(s, 1, d->release_id);
    sqlite3_bind_int64(s, 2, d->created_at);
    sqlite3_bind_text(s, 3, state__deployment_name(d->state), -1, SQLITE_STATIC);
    if (exec_stmt(db, S_DEP_INSERT, "store deployment") != 0) return -1;
    d->id = sqlite3_last_insert_rowid(db->h);
    return 0;
}

int db__deployment_get(db_t *db, int64_t id, db_deployment_t *out)
{
    sqlite3_bind_int64(db->st[S_DEP_GET], 1, id);
    return get_row(db, S_DEP_GET, "read deployment", read_deployment, out);
}

int db__deployment_list(db_t *db, int (*cb)(void *ctx, const db_deployment_t *d), void *ctx)
{
    sqlite3_stmt *s = db->st[S_DEP_LIST];
    int rc;
    db_deployment_t d;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        read_deployment(s, &d);
        if (cb(ctx, &d) != 0) break;
    }
    return end_rows(db, s, rc, "list deployments");
}

int db__deployment_set_state(db_t *db, int64_t id, deployment_state_t state)
{
    sqlite3_stmt *s = db->st[S_DEP_STATE];
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_text(s, 2, state__deployment_name(state), -1, SQLITE_STATIC);
    return exec_stmt(db, S_DEP_STATE, "store deployment state");
}

static int read_counts(sqlite3_stmt *s, void *out)
{
    db_counts_t *c = out;
    c->total = sqlite3_column_int(s, 0);
    c->pending = sqlite3_column_int(s, 1);
    c->active = sqlite3_column_int(s, 2);
    c->succeeded = sqlite3_column_int(s, 3);
    c->failed = sqlite3_column_int(s, 4);
    c->superseded = sqlite3_column_int(s, 5);
    c->bytes_sent = sqlite3_column_int64(s, 6);
    c->bytes_resent = sqlite3_column_int64(s, 7);
    c->ready = sqlite3_column_int(s, 8);
    c->wire_size = sqlite3_column_int64(s, 9);
    c->wire_targets = sqlite3_column_int(s, 10);
    c->compressed = sqlite3_column_int(s, 11);
    c->cancelled = sqlite3_column_int(s, 12);
    return 0;
}

int db__deployment_counts(db_t *db, int64_t id, db_counts_t *out)
{
    sqlite3_bind_int64(db->st[S_DEP_COUNTS], 1, id);
    memset(out, 0, sizeof(*out));
    return step_row(db, S_DEP_COUNTS, "count deployment targets", read_counts, out, true);
}

/* Add bytes published on a multicast stream for the deployment (a delta, so that several
 * streams and restarts only ever add). */
int db__deployment_add_stream_bytes(db_t *db, int64_t id, int64_t bytes)
{
    sqlite3_stmt *s = db->st[S_DEP_STREAM_BYTES];
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, bytes);
    return exec_stmt(db, S_DEP_STREAM_BYTES, "add deployment stream bytes");
}

/* ---- deployment targets ---- */

static int read_target(sqlite3_stmt *s, void *out)
{
    db_target_t *t = out;
    memset(t, 0, sizeof(*t));
    t->deployment_id = sqlite3_column_int64(s, 0);
    copy_text(t->device_id, sizeof(t->device_id), s, 1);
    const char *state = (const char *)sqlite3_column_text(s, 2);
    if (state__target_parse(state, &t->state) != 0) {
        /* only mqotad writes it: a name it does not know is damage; nothing acts on it */
        mqh_log(MQH_ERROR, "database: the target of %s in deployment %lld has the unknown "
                "state '%s'; taken as %s", t->device_id, (long long)t->deployment_id,
                state ? state : "", state__target_name(TARGET_FAILED));
        t->state = TARGET_FAILED;
    }
    copy_text(t->reason, sizeof(t->reason), s, 3);
    t->progress = (uint32_t)sqlite3_column_int64(s, 4);
    t->bytes_sent = sqlite3_column_int64(s, 5);
    t->bytes_resent = sqlite3_column_int64(s, 6);
    t->started_at = sqlite3_column_int64(s, 7);
    t->finished_at = sqlite3_column_int64(s, 8);
    t->chunk_size = (uint32_t)sqlite3_column_int64(s, 9);
    t->window = (uint32_t)sqlite3_column_int64(s, 10);
    t->release_id = sqlite3_column_int64(s, 11);
    t->offer_flags = (uint32_t)sqlite3_column_int64(s, 12);
    t->encoding = (uint8_t)sqlite3_column_int(s, 13);
    t->window_bits = (uint8_t)sqlite3_column_int(s, 14);
    t->wire_size = sqlite3_column_int64(s, 15);
    t->base_release_id = sqlite3_column_int64(s, 16);
    return 0;
}

static int target_rows(db_t *db, int which, int (*cb)(void *ctx, const db_target_t *t),
                       void *ctx);

static void bind_target(sqlite3_stmt *s, const db_target_t *t)
{
    sqlite3_bind_int64(s, 1, t->deployment_id);
    sqlite3_bind_text(s, 2, t->device_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 3, state__target_name(t->state), -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, t->reason, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 5, t->progress);
    sqlite3_bind_int64(s, 6, t->bytes_sent);
    sqlite3_bind_int64(s, 7, t->bytes_resent);
    sqlite3_bind_int64(s, 8, t->started_at);
    sqlite3_bind_int64(s, 9, t->finished_at);
    sqlite3_bind_int64(s, 10, t->chunk_size);
    sqlite3_bind_int64(s, 11, t->window);
    sqlite3_bind_int64(s, 12, t->offer_flags);
    sqlite3_bind_int(s, 13, t->encoding);
    sqlite3_bind_int(s, 14, t->window_bits);
    sqlite3_bind_int64(s, 15, t->wire_size);
    sqlite3_bind_int64(s, 16, t->base_release_id);
}

int db__target_insert(db_t *db, const db_target_t *t)
{
    bind_target(db->st[S_TGT_INSERT], t);
    return exec_stmt(db, S_TGT_INSERT, "store deployment target");
}

/* Write a target's state, reason, progress and times (not its byte counters). */
int db__target_set_form(db_t *db, const db_target_t *t)
{
    sqlite3_stmt *s = db->st[S_TGT_FORM];
    sqlite3_bind_int64(s, 1, t->deployment_id);
    sqlite3_bind_text(s, 2, t->device_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 3, t->chunk_size);
    sqlite3_bind_int(s, 4, t->encoding);
    sqlite3_bind_int(s, 5, t->window_bits);
    sqlite3_bind_int64(s, 6, t->wire_size);
    sqlite3_bind_int64(s, 7, t->base_release_id);
    return exec_stmt(db, S_TGT_FORM, "update deployment target form");
}

int db__target_set_state(db_t *db, const db_target_t *t)
{
    sqlite3_stmt *s = db->st[S_TGT_STATE];
    sqlite3_bind_int64(s, 1, t->deployment_id);
    sqlite3_bind_text(s, 2, t->device_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 3, state__target_name(t->state), -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, t->reason, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 5, t->progress);
    sqlite3_bind_int64(s, 6, t->started_at);
    sqlite3_bind_int64(s, 7, t->finished_at);
    return exec_stmt(db, S_TGT_STATE, "update deployment target state");
}

/* Write the transfer engine's counters; progress only moves forward here. */
int db__target_set_counters(db_t *db, const db_target_t *t)
{
    sqlite3_stmt *s = db->st[S_TGT_COUNTERS];
    sqlite3_bind_int64(s, 1, t->deployment_id);
    sqlite3_bind_text(s, 2, t->device_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 3, t->progress);
    sqlite3_bind_int64(s, 4, t->bytes_sent);
    sqlite3_bind_int64(s, 5, t->bytes_resent);
    return exec_stmt(db, S_TGT_COUNTERS, "update deployment target counters");
}

int db__target_all_pending(db_t *db, int (*cb)(void *ctx, const db_target_t *t), void *ctx)
{
    return target_rows(db, S_TGT_PENDING, cb, ctx);
}

/* Step a target query to the end, calling cb per row. The callback must not use the same
 * statement (it may use others). */
static int target_rows(db_t *db, int which, int (*cb)(void *ctx, const db_target_t *t),
                       void *ctx)
{
    sqlite3_stmt *s = db->st[which];
    int rc;
    db_target_t t;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        read_target(s, &t);
        if (cb(ctx, &t) != 0) break;
    }
    return end_rows(db, s, rc, "list deployment targets");
}

int db__target_list(db_t *db, int64_t deployment_id,
                    int (*cb)(void *ctx, const db_target_t *t), void *ctx)
{
    sqlite3_bind_int64(db->st[S_TGT_LIST], 1, deployment_id);
    return target_rows(db, S_TGT_LIST, cb, ctx);
}

int db__target_unfinished_of_device(db_t *db, const char *device_id,
                                    int (*cb)(void *ctx, const db_target_t *t), void *ctx)
{
    sqlite3_bind_text(db->st[S_TGT_UNFINISHED], 1, device_id, -1, SQLITE_TRANSIENT);
    return target_rows(db, S_TGT_UNFINISHED, cb, ctx);
}

int db__target_of_device(db_t *db, const char *device_id, int limit,
                         int (*cb)(void *ctx, const db_target_t *t), void *ctx)
{
    sqlite3_bind_text(db->st[S_TGT_OF_DEVICE], 1, device_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(db->st[S_TGT_OF_DEVICE], 2, limit);
    return target_rows(db, S_TGT_OF_DEVICE, cb, ctx);
}

/* Rows this connection inserted, updated or deleted since it opened: mqotad's only writer, so
 * a change of the count is a change of what the API shows (http_events.c). */
long long db__change_count(db_t *db)
{
    return (long long)sqlite3_total_changes(db->h);
}

int db__target_running(db_t *db, const char *device_id, int64_t release_id, db_target_t *out)
{
    sqlite3_stmt *s = db->st[S_TGT_RUNNING];
    sqlite3_bind_text(s, 1, device_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 2, release_id);
    return get_row(db, S_TGT_RUNNING, "find running target", read_target, out);
}

/* ---- API tokens ---- */

/* Store a token's hash under name; 1 when the name is taken. */
int db__token_insert(db_t *db, const char *name, const uint8_t sha256[32], int64_t created_at)
{
    sqlite3_stmt *s = db->st[S_TOK_INSERT];
    sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_blob(s, 2, sha256, 32, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 3, created_at);
    return exec_changed(db, S_TOK_INSERT, "store token");
}

/* Delete the token called name; 1 when there is none. */
int db__token_delete(db_t *db, const char *name)
{
    sqlite3_stmt *s = db->st[S_TOK_DELETE];
    sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
    return exec_changed(db, S_TOK_DELETE, "revoke token");
}

/* Every token, by name; a callback returning non-zero stops the walk. */
int db__token_list(db_t *db, int (*cb)(void *ctx, const db_token_t *t), void *ctx)
{
    sqlite3_stmt *s = db->st[S_TOK_LIST];
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        db_token_t t;
        memset(&t, 0, sizeof(t));
        copy_text(t.name, sizeof(t.name), s, 0);
        if (sqlite3_column_bytes(s, 1) == 32) memcpy(t.sha256, sqlite3_column_blob(s, 1), 32);
        t.created_at = sqlite3_column_int64(s, 2);
        if (cb(ctx, &t) != 0) break;
    }
    return end_rows(db, s, rc, "list tokens");
}

/* ---- command keys ---- */

/* Counters are u64 on the wire; SQLite integers are signed 64-bit, so they are stored as the
 * same 64 bits (a counter above 2^63 reads back unchanged). */
static void bind_u64(sqlite3_stmt *s, int i, uint64_t v)
{
    sqlite3_bind_int64(s, i, (sqlite3_int64)v);
}

static uint64_t column_u64(sqlite3_stmt *s, int col)
{
    return (uint64_t)sqlite3_column_int64(s, col);
}

int db__key_put(db_t *db, const char *device_id, const uint8_t key[32], int64_t created_at)
{
    sqlite3_stmt *s = db->st[S_KEY_PUT];
    sqlite3_bind_text(s, 1, device_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_blob(s, 2, key, 32, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 3, created_at);
    return exec_stmt(db, S_KEY_PUT, "store command key");
}

/* A key of any other length is not one of ours: 2, and the caller treats the device as
 * keyless. */
static int read_key(sqlite3_stmt *s, void *out)
{
    db_key_t *k = out;
    memset(k, 0, sizeof(*k));
    if (sqlite3_column_bytes(s, 0) != (int)sizeof(k->key)) return 2;
    memcpy(k->key, sqlite3_column_blob(s, 0), sizeof(k->key));
    k->command_counter = column_u64(s, 1);
    k->reply_counter = column_u64(s, 2);
    k->created_at = sqlite3_column_int64(s, 3);
    return 0;
}

int db__key_get(db_t *db, const char *device_id, db_key_t *out)
{
    sqlite3_bind_text(db->st[S_KEY_GET], 1, device_id, -1, SQLITE_TRANSIENT);
    int ret = get_row(db, S_KEY_GET, "read command key", read_key, out);
    if (ret == 2) {
        mqh_log(MQH_WARN, "database: the command key of device %s is not 32 bytes; "
                "provision the device again", device_id);
        ret = 1;
    }
    return ret;
}

int db__key_delete(db_t *db, const char *device_id)
{
    sqlite3_bind_text(db->st[S_KEY_DELETE], 1, device_id, -1, SQLITE_TRANSIENT);
    return exec_changed(db, S_KEY_DELETE, "delete command key");
}

int db__key_set_command_counter(db_t *db, const char *device_id, uint64_t counter)
{
    sqlite3_stmt *s = db->st[S_KEY_CMD_CTR];
    sqlite3_bind_text(s, 1, device_id, -1, SQLITE_TRANSIENT);
    bind_u64(s, 2, counter);
    return exec_changed(db, S_KEY_CMD_CTR, "store command counter") == 0 ? 0 : -1;
}

int db__key_set_reply_counter(db_t *db, const char *device_id, uint64_t counter)
{
    sqlite3_stmt *s = db->st[S_KEY_REPLY_CTR];
    sqlite3_bind_text(s, 1, device_id, -1, SQLITE_TRANSIENT);
    bind_u64(s, 2, counter);
    return exec_changed(db, S_KEY_REPLY_CTR, "store reply counter") == 0 ? 0 : -1;
}

/* ---- commands ---- */

static int read_command(sqlite3_stmt *s, void *out)
{
    db_command_t *c = out;
    memset(c, 0, sizeof(*c));
    c->id = sqlite3_column_int64(s, 0);
    copy_text(c->device_id, sizeof(c->device_id), s, 1);
    copy_text(c->name, sizeof(c->name), s, 2);
    size_t n = (size_t)sqlite3_column_bytes(s, 3);
    c->args_len = n > sizeof(c->args) ? sizeof(c->args) : n;
    if (c->args_len) memcpy(c->args, sqlite3_column_blob(s, 3), c->args_len);
    copy_text(c->state, sizeof(c->state), s, 4);
    copy_text(c->result, sizeof(c->result), s, 5);
    n = sqlite3_column_type(s, 6) == SQLITE_BLOB ? (size_t)sqlite3_column_bytes(s, 6) : 0;
    c->reply_len = n > sizeof(c->reply) ? sizeof(c->reply) : n;
    if (c->reply_len) memcpy(c->reply, sqlite3_column_blob(s, 6), c->reply_len);
    c->counter = column_u64(s, 7);
    c->ttl_s = sqlite3_column_int64(s, 8);
    c->created_at = sqlite3_column_int64(s, 9);
    c->sent_at = sqlite3_column_int64(s, 10);
    c->finished_at = sqlite3_column_int64(s, 11);
    return 0;
}

int db__command_insert(db_t *db, db_command_t *c)
{
    sqlite3_stmt *s = db->st[S_CMD_INSERT];
    sqlite3_bind_text(s, 1, c->device_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, c->name, -1, SQLITE_TRANSIENT);
    /* a zero-length blob, not NULL, for empty args (the column is NOT NULL) */
    sqlite3_bind_blob(s, 3, c->args_len ? (const void *)c->args : "", (int)c->args_len,
                      SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 4, c->ttl_s);
    sqlite3_bind_int64(s, 5, c->created_at);
    if (exec_stmt(db, S_CMD_INSERT, "store command") != 0) return -1;
    c->id = sqlite3_last_insert_rowid(db->h);
    snprintf(c->state, sizeof(c->state), "queued");
    return 0;
}

int db__command_get(db_t *db, int64_t id, db_command_t *out)
{
    sqlite3_bind_int64(db->st[S_CMD_GET], 1, id);
    return get_row(db, S_CMD_GET, "read command", read_command, out);
}

int db__command_by_counter(db_t *db, const char *device_id, uint64_t counter,
                           db_command_t *out)
{
    sqlite3_stmt *s = db->st[S_CMD_BY_COUNTER];
    sqlite3_bind_text(s, 1, device_id, -1, SQLITE_TRANSIENT);
    bind_u64(s, 2, counter);
    return get_row(db, S_CMD_BY_COUNTER, "read command", read_command, out);
}

int db__command_list(db_t *db, const char *device_id, int limit,
                     int (*cb)(void *ctx, const db_command_t *c), void *ctx)
{
    sqlite3_stmt *s = db->st[S_CMD_LIST];
    int rc, ret;
    db_command_t *c = malloc(sizeof(*c));
    if (!c) return -1;
    sqlite3_bind_text(s, 1, device_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(s, 2, limit);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        read_command(s, c);
        if (cb(ctx, c) != 0) break;
    }
    ret = end_rows(db, s, rc, "list commands");
    free(c);
    return ret;
}

int db__command_queued_ids(db_t *db, const char *device_id, int64_t *ids, int cap, int *n)
{
    sqlite3_stmt *s = db->st[S_CMD_QUEUED];
    int rc;
    *n = 0;
    sqlite3_bind_text(s, 1, device_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(s, 2, cap);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW && *n < cap) ids[(*n)++] = sqlite3_column_int64(s, 0);
    return end_rows(db, s, rc, "list queued commands");
}

int db__command_set_sent(db_t *db, int64_t id, uint64_t counter, int64_t sent_at)
{
    sqlite3_stmt *s = db->st[S_CMD_SENT];
    sqlite3_bind_int64(s, 1, id);
    bind_u64(s, 2, counter);
    sqlite3_bind_int64(s, 3, sent_at);
    return exec_changed(db, S_CMD_SENT, "mark command sent");
}

int db__command_unsend(db_t *db, int64_t id)
{
    sqlite3_bind_int64(db->st[S_CMD_UNSEND], 1, id);
    return exec_changed(db, S_CMD_UNSEND, "put command back in the queue");
}

int db__command_finish(db_t *db, int64_t id, const char *from, const char *state,
                       const char *result, const uint8_t *reply, size_t reply_len,
                       int64_t finished_at)
{
    sqlite3_stmt *s = db->st[S_CMD_FINISH];
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_text(s, 2, from, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 3, state, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 4, result ? result : "", -1, SQLITE_TRANSIENT);
    if (reply)
        sqlite3_bind_blob(s, 5, reply_len ? (const void *)reply : "", (int)reply_len,
                          SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(s, 5);
    sqlite3_bind_int64(s, 6, finished_at);
    return exec_changed(db, S_CMD_FINISH, "finish command");
}

int db__command_expire(db_t *db, int64_t now, int *n)
{
    sqlite3_bind_int64(db->st[S_CMD_EXPIRE], 1, now);
    if (exec_stmt(db, S_CMD_EXPIRE, "expire queued commands") != 0) return -1;
    *n = sqlite3_changes(db->h);
    return 0;
}

int db__command_time_out(db_t *db, int64_t sent_before, int64_t now, int *n)
{
    sqlite3_stmt *s = db->st[S_CMD_TIME_OUT];
    sqlite3_bind_int64(s, 1, sent_before);
    sqlite3_bind_int64(s, 2, now);
    if (exec_stmt(db, S_CMD_TIME_OUT, "time out sent commands") != 0) return -1;
    *n = sqlite3_changes(db->h);
    return 0;
}

int db__command_expire_device(db_t *db, const char *device_id, int64_t now, int *n)
{
    sqlite3_stmt *s = db->st[S_CMD_EXPIRE_DEVICE];
    sqlite3_bind_text(s, 1, device_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 2, now);
    if (exec_stmt(db, S_CMD_EXPIRE_DEVICE, "expire a device's queued commands") != 0) return -1;
    *n = sqlite3_changes(db->h);
    return 0;
}

/* ---- refusal reports ---- */

int db__refusal_insert(db_t *db, db_refusal_t *r)
{
    sqlite3_stmt *s = db->st[S_REF_INSERT];
    sqlite3_bind_text(s, 1, r->device_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 2, r->at);
    sqlite3_bind_text(s, 3, r->result, -1, SQLITE_TRANSIENT);
    bind_u64(s, 4, r->refused_counter);
    bind_u64(s, 5, r->highest_counter);
    sqlite3_bind_int64(s, 6, r->refused_total);
    sqlite3_bind_int64(s, 7, r->command_id);
    if (exec_stmt(db, S_REF_INSERT, "store refusal report") != 0) return -1;
    r->id = sqlite3_last_insert_rowid(db->h);
    return 0;
}

int db__refusal_list(db_t *db, const char *device_id, int limit,
                     int (*cb)(void *ctx, const db_refusal_t *r), void *ctx, int64_t *total)
{
    sqlite3_stmt *s = db->st[S_REF_LIST];
    int rc;
    *total = 0;
    sqlite3_bind_text(db->st[S_REF_COUNT], 1, device_id, -1, SQLITE_TRANSIENT);
    if (count_one(db, S_REF_COUNT, "count refusal reports", total) != 0) return -1;
    sqlite3_bind_text(s, 1, device_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(s, 2, limit);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        db_refusal_t r;
        memset(&r, 0, sizeof(r));
        r.id = sqlite3_column_int64(s, 0);
        copy_text(r.device_id, sizeof(r.device_id), s, 1);
        r.at = sqlite3_column_int64(s, 2);
        copy_text(r.result, sizeof(r.result), s, 3);
        r.refused_counter = column_u64(s, 4);
        r.highest_counter = column_u64(s, 5);
        r.refused_total = (uint32_t)sqlite3_column_int64(s, 6);
        r.command_id = sqlite3_column_int64(s, 7);
        if (cb(ctx, &r) != 0) break;
    }
    return end_rows(db, s, rc, "list refusal reports");
}

/* ---- groups and tags (schema 6) ---- */

int db__group_insert(db_t *db, const char *name, int64_t created_at)
{
    sqlite3_stmt *s = db->st[S_GRP_INSERT];
    sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 2, created_at);
    return exec_changed(db, S_GRP_INSERT, "store group");
}

int db__group_delete(db_t *db, const char *name)
{
    sqlite3_bind_text(db->st[S_GRP_DELETE], 1, name, -1, SQLITE_TRANSIENT);
    return exec_changed(db, S_GRP_DELETE, "delete group");
}

static int read_group(sqlite3_stmt *s, void *out)
{
    db_group_t *g = out;
    memset(g, 0, sizeof(*g));
    copy_text(g->name, sizeof(g->name), s, 0);
    g->created_at = sqlite3_column_int64(s, 1);
    g->members = sqlite3_column_int64(s, 2);
    return 0;
}

int db__group_get(db_t *db, const char *name, db_group_t *out)
{
    sqlite3_bind_text(db->st[S_GRP_GET], 1, name, -1, SQLITE_TRANSIENT);
    return get_row(db, S_GRP_GET, "read group", read_group, out);
}

int db__group_list(db_t *db, int (*cb)(void *ctx, const db_group_t *g), void *ctx)
{
    sqlite3_stmt *s = db->st[S_GRP_LIST];
    int rc;
    db_group_t g;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        read_group(s, &g);
        if (cb(ctx, &g) != 0) break;
    }
    return end_rows(db, s, rc, "list groups");
}

int db__group_count(db_t *db, int64_t *out)
{
    return count_one(db, S_GRP_COUNT, "count groups", out);
}

/* Each row's first column of a bound query as text to cb (members of a group, groups of a
 * device, devices of a wave), until cb returns non-zero. 0, or -1 on error. */
static int list_names(db_t *db, int which, const char *what,
                      int (*cb)(void *ctx, const char *name), void *ctx)
{
    sqlite3_stmt *s = db->st[which];
    int rc;
    char name[DB_ID_MAX + 1];
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        copy_text(name, sizeof(name), s, 0);
        if (cb(ctx, name) != 0) break;
    }
    return end_rows(db, s, rc, what);
}

int db__group_members(db_t *db, const char *name, int (*cb)(void *ctx, const char *device_id),
                      void *ctx)
{
    sqlite3_bind_text(db->st[S_GRP_MEMBERS], 1, name, -1, SQLITE_TRANSIENT);
    return list_names(db, S_GRP_MEMBERS, "list group members", cb, ctx);
}

int db__device_groups(db_t *db, const char *device_id, int (*cb)(void *ctx, const char *group),
                      void *ctx)
{
    sqlite3_bind_text(db->st[S_DEV_GROUPS], 1, device_id, -1, SQLITE_TRANSIENT);
    return list_names(db, S_DEV_GROUPS, "list a device's groups", cb, ctx);
}

int db__group_add(db_t *db, const char *name, const char *device_id, int64_t added_at)
{
    sqlite3_stmt *s = db->st[S_GRP_ADD];
    sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, device_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 3, added_at);
    return exec_changed(db, S_GRP_ADD, "add a device to a group");
}

int db__group_remove(db_t *db, const char *name, const char *device_id)
{
    sqlite3_stmt *s = db->st[S_GRP_REMOVE];
    sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, device_id, -1, SQLITE_TRANSIENT);
    return exec_changed(db, S_GRP_REMOVE, "remove a device from a group");
}

int db__tag_put(db_t *db, const char *device_id, const char *key, const char *value)
{
    sqlite3_stmt *s = db->st[S_TAG_PUT];
    sqlite3_bind_text(s, 1, device_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, key, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 3, value ? value : "", -1, SQLITE_TRANSIENT);
    return exec_stmt(db, S_TAG_PUT, "store tag");
}

int db__tag_delete(db_t *db, const char *device_id, const char *key, const char *value)
{
    sqlite3_stmt *s = db->st[S_TAG_DELETE];
    sqlite3_bind_text(s, 1, device_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, key, -1, SQLITE_TRANSIENT);
    if (value) sqlite3_bind_text(s, 3, value, -1, SQLITE_TRANSIENT);
    else sqlite3_bind_null(s, 3);
    return exec_changed(db, S_TAG_DELETE, "delete tag");
}

int db__tag_list(db_t *db, const char *device_id,
                 int (*cb)(void *ctx, const char *key, const char *value), void *ctx)
{
    sqlite3_stmt *s = db->st[S_TAG_LIST];
    int rc;
    char key[72], value[136];
    sqlite3_bind_text(s, 1, device_id, -1, SQLITE_TRANSIENT);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        copy_text(key, sizeof(key), s, 0);
        copy_text(value, sizeof(value), s, 1);
        if (cb(ctx, key, value) != 0) break;
    }
    return end_rows(db, s, rc, "list tags");
}

int db__tag_count(db_t *db, const char *device_id, int64_t *out)
{
    sqlite3_bind_text(db->st[S_TAG_COUNT], 1, device_id, -1, SQLITE_TRANSIENT);
    return count_one(db, S_TAG_COUNT, "count tags", out);
}

/*
 * The devices a condition selects, by id. The condition comes from filter__sql(): fixed text
 * with '?' placeholders, the values bound here, so this statement is prepared per call (its
 * shape depends on the filter) but never holds a value as text.
 */
int db__device_select(db_t *db, const char *where, const db_param_t *params, size_t n_params,
                      int (*cb)(void *ctx, const db_device_t *d), void *ctx)
{
    static const char head[] = "SELECT " DEVICE_COLS " FROM devices WHERE (";
    static const char tail[] = ") ORDER BY id";
    size_t n = strlen(head) + strlen(where) + strlen(tail) + 1;
    char *sql = malloc(n);
    sqlite3_stmt *s = NULL;
    int rc, ret = 0;
    if (!sql) return -1;
    snprintf(sql, n, "%s%s%s", head, where, tail);
    if (sqlite3_prepare_v2(db->h, sql, -1, &s, NULL) != SQLITE_OK) {
        free(sql);
        return fail(db, "prepare the device filter");
    }
    free(sql);
    for (size_t i = 0; i < n_params; i++) {
        if (params[i].is_text)
            sqlite3_bind_text(s, (int)i + 1, params[i].text, (int)params[i].text_len,
                              SQLITE_TRANSIENT);
        else
            sqlite3_bind_int64(s, (int)i + 1, params[i].number);
    }
    db_device_t d;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        read_device(s, &d);
        if (cb(ctx, &d) != 0) break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) ret = fail(db, "select devices by filter");
    sqlite3_finalize(s);
    return ret;
}

/* ---- rollouts (schema 7) ---- */

static int read_rollout(sqlite3_stmt *s, void *out)
{
    db_rollout_t *r = out;
    memset(r, 0, sizeof(*r));
    r->id = sqlite3_column_int64(s, 0);
    r->release_id = sqlite3_column_int64(s, 1);
    copy_text(r->filter, sizeof(r->filter), s, 2);
    copy_text(r->plan, sizeof(r->plan), s, 3);
    r->success_percent = (uint32_t)sqlite3_column_int64(s, 4);
    r->error_percent = (uint32_t)sqlite3_column_int64(s, 5);
    r->deadline_s = (uint32_t)sqlite3_column_int64(s, 6);
    char on_error[12];
    copy_text(on_error, sizeof(on_error), s, 7);
    r->abort_on_error = strcmp(on_error, "abort") == 0;
    const char *state = (const char *)sqlite3_column_text(s, 8);
    if (state__rollout_parse(state, &r->state) != 0) {
        /* only mqotad writes it: a name it does not know is damage; nothing acts on it */
        mqh_log(MQH_ERROR, "database: rollout %lld has the unknown state '%s'; taken as %s",
                (long long)r->id, state ? state : "", state__rollout_name(ROLLOUT_ABORTED));
        r->state = ROLLOUT_ABORTED;
    }
    r->current_wave = sqlite3_column_int(s, 9);
    r->created_at = sqlite3_column_int64(s, 10);
    r->updated_at = sqlite3_column_int64(s, 11);
    r->approval = sqlite3_column_int(s, 12) != 0;
    r->devices = sqlite3_column_int64(s, 13);
    r->n_waves = sqlite3_column_int(s, 14);
    return 0;
}

int db__rollout_insert(db_t *db, db_rollout_t *r)
{
    sqlite3_stmt *s = db->st[S_RO_INSERT];
    sqlite3_bind_int64(s, 1, r->release_id);
    sqlite3_bind_text(s, 2, r->filter, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 3, r->plan, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 4, r->success_percent);
    sqlite3_bind_int64(s, 5, r->error_percent);
    sqlite3_bind_int64(s, 6, r->deadline_s);
    sqlite3_bind_text(s, 7, r->abort_on_error ? "abort" : "pause", -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 8, state__rollout_name(r->state), -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 9, r->current_wave);
    sqlite3_bind_int64(s, 10, r->created_at);
    sqlite3_bind_int(s, 11, r->approval ? 1 : 0);
    if (exec_stmt(db, S_RO_INSERT, "store rollout") != 0) return -1;
    r->id = sqlite3_last_insert_rowid(db->h);
    return 0;
}

int db__rollout_get(db_t *db, int64_t id, db_rollout_t *out)
{
    sqlite3_bind_int64(db->st[S_RO_GET], 1, id);
    return get_row(db, S_RO_GET, "read rollout", read_rollout, out);
}

/* Every row of a rollout query to cb. */
static int rollout_rows(db_t *db, int which, const char *what,
                        int (*cb)(void *ctx, const db_rollout_t *r), void *ctx)
{
    sqlite3_stmt *s = db->st[which];
    int rc, ret;
    db_rollout_t *r = malloc(sizeof(*r));
    if (!r) return -1;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        read_rollout(s, r);
        if (cb(ctx, r) != 0) break;
    }
    ret = end_rows(db, s, rc, what);
    free(r);
    return ret;
}

int db__rollout_list(db_t *db, int (*cb)(void *ctx, const db_rollout_t *r), void *ctx)
{
    return rollout_rows(db, S_RO_LIST, "list rollouts", cb, ctx);
}

int db__rollout_running(db_t *db, int (*cb)(void *ctx, const db_rollout_t *r), void *ctx)
{
    return rollout_rows(db, S_RO_RUNNING, "list running rollouts", cb, ctx);
}

int db__rollout_set_state(db_t *db, int64_t id, rollout_state_t state, int current_wave,
                          int64_t now)
{
    sqlite3_stmt *s = db->st[S_RO_STATE];
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_text(s, 2, state__rollout_name(state), -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 3, current_wave);
    sqlite3_bind_int64(s, 4, now);
    return exec_stmt(db, S_RO_STATE, "update rollout");
}

static void bind_wave(sqlite3_stmt *s, const db_rollout_wave_t *w)
{
    sqlite3_bind_int64(s, 1, w->rollout_id);
    sqlite3_bind_int(s, 2, w->idx);
    sqlite3_bind_int64(s, 3, w->size);
    sqlite3_bind_text(s, 4, state__wave_name(w->state), -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 5, w->deployment_id);
    sqlite3_bind_int64(s, 6, w->started_at);
    sqlite3_bind_int64(s, 7, w->finished_at);
}

static int read_wave(sqlite3_stmt *s, void *out)
{
    db_rollout_wave_t *w = out;
    memset(w, 0, sizeof(*w));
    w->rollout_id = sqlite3_column_int64(s, 0);
    w->idx = sqlite3_column_int(s, 1);
    w->size = (uint32_t)sqlite3_column_int64(s, 2);
    const char *state = (const char *)sqlite3_column_text(s, 3);
    if (state__wave_parse(state, &w->state) != 0) {
        /* only mqotad writes it: a name it does not know is damage; nothing acts on it */
        mqh_log(MQH_ERROR, "database: wave %d of rollout %lld has the unknown state '%s'; "
                "taken as %s", w->idx, (long long)w->rollout_id, state ? state : "",
                state__wave_name(WAVE_FAILED));
        w->state = WAVE_FAILED;
    }
    w->deployment_id = sqlite3_column_int64(s, 4);
    w->started_at = sqlite3_column_int64(s, 5);
    w->finished_at = sqlite3_column_int64(s, 6);
    return 0;
}

int db__rollout_wave_insert(db_t *db, const db_rollout_wave_t *w)
{
    bind_wave(db->st[S_RO_WAVE_INSERT], w);
    return exec_stmt(db, S_RO_WAVE_INSERT, "store rollout wave");
}

int db__rollout_wave_set(db_t *db, const db_rollout_wave_t *w)
{
    bind_wave(db->st[S_RO_WAVE_SET], w);
    return exec_stmt(db, S_RO_WAVE_SET, "update rollout wave");
}

int db__rollout_wave_get(db_t *db, int64_t rollout_id, int idx, db_rollout_wave_t *out)
{
    sqlite3_stmt *s = db->st[S_RO_WAVE_GET];
    sqlite3_bind_int64(s, 1, rollout_id);
    sqlite3_bind_int(s, 2, idx);
    return get_row(db, S_RO_WAVE_GET, "read rollout wave", read_wave, out);
}

int db__rollout_waves(db_t *db, int64_t rollout_id,
                      int (*cb)(void *ctx, const db_rollout_wave_t *w), void *ctx)
{
    sqlite3_stmt *s = db->st[S_RO_WAVES];
    int rc;
    db_rollout_wave_t w;
    sqlite3_bind_int64(s, 1, rollout_id);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        read_wave(s, &w);
        if (cb(ctx, &w) != 0) break;
    }
    return end_rows(db, s, rc, "list rollout waves");
}

int db__rollout_device_insert(db_t *db, int64_t rollout_id, const char *device_id, int wave)
{
    sqlite3_stmt *s = db->st[S_RO_DEV_INSERT];
    sqlite3_bind_int64(s, 1, rollout_id);
    sqlite3_bind_text(s, 2, device_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(s, 3, wave);
    return exec_stmt(db, S_RO_DEV_INSERT, "store rollout device");
}

int db__rollout_wave_devices(db_t *db, int64_t rollout_id, int wave,
                             int (*cb)(void *ctx, const char *device_id), void *ctx)
{
    sqlite3_bind_int64(db->st[S_RO_DEVS], 1, rollout_id);
    sqlite3_bind_int(db->st[S_RO_DEVS], 2, wave);
    return list_names(db, S_RO_DEVS, "list a rollout wave's devices", cb, ctx);
}

int db__rollout_event_insert(db_t *db, int64_t rollout_id, int64_t at, int wave,
                             const char *kind, const char *message)
{
    sqlite3_stmt *s = db->st[S_RO_EV_INSERT];
    sqlite3_bind_int64(s, 1, rollout_id);
    sqlite3_bind_int64(s, 2, at);
    sqlite3_bind_int(s, 3, wave);
    sqlite3_bind_text(s, 4, kind, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 5, message, -1, SQLITE_TRANSIENT);
    return exec_stmt(db, S_RO_EV_INSERT, "store rollout event");
}

int db__rollout_events(db_t *db, int64_t rollout_id,
                       int (*cb)(void *ctx, const db_rollout_event_t *e), void *ctx)
{
    sqlite3_stmt *s = db->st[S_RO_EVS];
    int rc;
    db_rollout_event_t e;
    sqlite3_bind_int64(s, 1, rollout_id);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        memset(&e, 0, sizeof(e));
        e.id = sqlite3_column_int64(s, 0);
        e.rollout_id = sqlite3_column_int64(s, 1);
        e.at = sqlite3_column_int64(s, 2);
        e.wave = sqlite3_column_int(s, 3);
        copy_text(e.kind, sizeof(e.kind), s, 4);
        copy_text(e.message, sizeof(e.message), s, 5);
        if (cb(ctx, &e) != 0) break;
    }
    return end_rows(db, s, rc, "list rollout events");
}

int db__rollout_wave_deployment_add(db_t *db, int64_t rollout_id, int wave, int64_t deployment_id)
{
    sqlite3_stmt *s = db->st[S_RO_WDEP_INSERT];
    sqlite3_bind_int64(s, 1, rollout_id);
    sqlite3_bind_int(s, 2, wave);
    sqlite3_bind_int64(s, 3, deployment_id);
    return exec_stmt(db, S_RO_WDEP_INSERT, "store a rollout wave's deployment");
}

int db__rollout_wave_deployments(db_t *db, int64_t rollout_id, int wave,
                                 int (*cb)(void *ctx, int64_t deployment_id), void *ctx)
{
    sqlite3_stmt *s = db->st[S_RO_WDEPS];
    int rc;
    sqlite3_bind_int64(s, 1, rollout_id);
    sqlite3_bind_int(s, 2, wave);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        if (cb(ctx, sqlite3_column_int64(s, 0)) != 0) break;
    return end_rows(db, s, rc, "list a rollout wave's deployments");
}

int db__rollout_wave_targets(db_t *db, int64_t rollout_id, int wave,
                             int (*cb)(void *ctx, const char *device_id,
                                       const target_state_t *state, int64_t offered_at),
                             void *ctx)
{
    sqlite3_stmt *s = db->st[S_RO_WAVE_TARGETS];
    int rc;
    char id[DB_ID_MAX + 1];
    sqlite3_bind_int64(s, 1, rollout_id);
    sqlite3_bind_int(s, 2, wave);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        copy_text(id, sizeof(id), s, 0);
        const char *name = (const char *)sqlite3_column_text(s, 1);
        target_state_t st = TARGET_FAILED;
        bool has = name && name[0];
        if (has && state__target_parse(name, &st) != 0)
            mqh_log(MQH_ERROR, "database: the target of %s in rollout %lld has the unknown "
                    "state '%s'; taken as %s", id, (long long)rollout_id, name,
                    state__target_name(TARGET_FAILED));
        if (cb(ctx, id, has ? &st : NULL, sqlite3_column_int64(s, 2)) != 0) break;
    }
    return end_rows(db, s, rc, "list a rollout wave's targets");
}

/* Count one device's latest target state into a db_counts_t. */
static int count_state(void *ctx, const char *device_id, const target_state_t *state,
                       int64_t offered_at)
{
    db_counts_t *c = ctx;
    (void)device_id;
    (void)offered_at;
    c->total++;
    switch (state ? *state : TARGET_PENDING) {
    case TARGET_PENDING: c->pending++; break;
    case TARGET_ACTIVE: c->active++; break;
    case TARGET_SUCCEEDED: c->succeeded++; break;
    case TARGET_FAILED: c->failed++; break;
    case TARGET_SUPERSEDED: c->superseded++; break;
    case TARGET_READY: c->ready++; break;
    case TARGET_CANCELLED: c->cancelled++; break;
    }
    return 0;
}

int db__rollout_wave_counts(db_t *db, int64_t rollout_id, int wave, db_counts_t *out)
{
    memset(out, 0, sizeof(*out));
    return db__rollout_wave_targets(db, rollout_id, wave, count_state, out);
}

/* ---- telemetry (schema 8) ---- */

int db__telemetry_series_count(db_t *db, const char *device_id, const char *name,
                               bool *exists, int64_t *count)
{
    int64_t has = 0;
    sqlite3_bind_text(db->st[S_TEL_SERIES_HAS], 1, device_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(db->st[S_TEL_SERIES_HAS], 2, name, -1, SQLITE_TRANSIENT);
    if (count_one(db, S_TEL_SERIES_HAS, "look a telemetry series up", &has) != 0) return -1;
    *exists = has > 0;
    sqlite3_bind_text(db->st[S_TEL_SERIES_COUNT], 1, device_id, -1, SQLITE_TRANSIENT);
    return count_one(db, S_TEL_SERIES_COUNT, "count telemetry series", count);
}

int db__telemetry_insert(db_t *db, const char *device_id, const char *name, int64_t ts_ms,
                         uint64_t device_ms, double value, int64_t keep, int64_t min_ts_ms)
{
    sqlite3_stmt *s = db->st[S_TEL_SERIES_PUT];
    sqlite3_bind_text(s, 1, device_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, name, -1, SQLITE_TRANSIENT);
    if (exec_stmt(db, S_TEL_SERIES_PUT, "add a telemetry series") != 0) return -1;
    s = db->st[S_TEL_INSERT];
    sqlite3_bind_text(s, 1, device_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 3, ts_ms);
    /* SQLite integers are signed: a device time above INT64_MAX is stored as INT64_MAX */
    sqlite3_bind_int64(s, 4, device_ms > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)device_ms);
    sqlite3_bind_double(s, 5, value);
    if (exec_stmt(db, S_TEL_INSERT, "store a telemetry sample") != 0) return -1;
    s = db->st[S_TEL_TRIM_COUNT];
    sqlite3_bind_text(s, 1, device_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 3, keep);
    if (exec_stmt(db, S_TEL_TRIM_COUNT, "trim a telemetry series") != 0) return -1;
    s = db->st[S_TEL_TRIM_AGE];
    sqlite3_bind_text(s, 1, device_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 3, min_ts_ms);
    return exec_stmt(db, S_TEL_TRIM_AGE, "trim a telemetry series");
}

int db__telemetry_prune(db_t *db, int64_t min_ts_ms)
{
    sqlite3_bind_int64(db->st[S_TEL_PRUNE_AGE], 1, min_ts_ms);
    if (exec_stmt(db, S_TEL_PRUNE_AGE, "delete old telemetry") != 0) return -1;
    return exec_stmt(db, S_TEL_PRUNE_SERIES, "delete empty telemetry series");
}

int db__telemetry_names(db_t *db, const char *device_id,
                        int (*cb)(void *ctx, const db_series_t *s), void *ctx)
{
    sqlite3_stmt *s = db->st[S_TEL_NAMES];
    int rc;
    db_series_t e;
    sqlite3_bind_text(s, 1, device_id, -1, SQLITE_TRANSIENT);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        copy_text(e.name, sizeof(e.name), s, 0);
        e.points = sqlite3_column_int64(s, 1);
        e.first_ts = sqlite3_column_int64(s, 2);
        e.last_ts = sqlite3_column_int64(s, 3);
        e.last_value = sqlite3_column_double(s, 4);
        if (cb(ctx, &e) != 0) break;
    }
    return end_rows(db, s, rc, "list telemetry series");
}

int db__telemetry_points(db_t *db, const char *device_id, const char *name, int64_t since_ms,
                         int64_t until_ms, int64_t limit,
                         int (*cb)(void *ctx, const db_point_t *p), void *ctx)
{
    sqlite3_stmt *s = db->st[S_TEL_POINTS];
    int rc;
    db_point_t pt;
    sqlite3_bind_text(s, 1, device_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 3, since_ms);
    sqlite3_bind_int64(s, 4, until_ms);
    sqlite3_bind_int64(s, 5, limit);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        pt.ts_ms = sqlite3_column_int64(s, 0);
        pt.device_ms = sqlite3_column_int64(s, 1);
        pt.value = sqlite3_column_double(s, 2);
        if (cb(ctx, &pt) != 0) break;
    }
    return end_rows(db, s, rc, "read a telemetry series");
}

/* ---- rollouts' pacing and eligibility (schema 9) ---- */

int db__rollout_opts_set(db_t *db, int64_t id, const db_rollout_opts_t *o)
{
    sqlite3_stmt *s = db->st[S_RO_OPTS_SET];
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, o->max_transfers);
    sqlite3_bind_int64(s, 3, o->jitter_s);
    sqlite3_bind_int64(s, 4, o->start_at);
    sqlite3_bind_text(s, 5, o->from_versions, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 6, o->failure_budget);
    sqlite3_bind_int(s, 7, o->continuous ? 1 : 0);
    return exec_stmt(db, S_RO_OPTS_SET, "store a rollout's pacing");
}

static int read_rollout_opts(sqlite3_stmt *s, void *out)
{
    db_rollout_opts_t *o = out;
    o->max_transfers = (uint32_t)sqlite3_column_int64(s, 0);
    o->jitter_s = (uint32_t)sqlite3_column_int64(s, 1);
    o->start_at = sqlite3_column_int64(s, 2);
    copy_text(o->from_versions, sizeof(o->from_versions), s, 3);
    o->failure_budget = (uint32_t)sqlite3_column_int64(s, 4);
    o->continuous = sqlite3_column_int(s, 5) != 0;
    o->peak_in_flight = sqlite3_column_int64(s, 6);
    return 0;
}

int db__rollout_opts_get(db_t *db, int64_t id, db_rollout_opts_t *out)
{
    sqlite3_bind_int64(db->st[S_RO_OPTS_GET], 1, id);
    memset(out, 0, sizeof(*out));
    return get_row(db, S_RO_OPTS_GET, "read a rollout's pacing", read_rollout_opts, out);
}

int db__rollout_peak(db_t *db, int64_t id, int64_t in_flight)
{
    sqlite3_stmt *s = db->st[S_RO_PEAK];
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, in_flight);
    return exec_stmt(db, S_RO_PEAK, "store a rollout's peak of transfers");
}

int db__rollout_in_flight(db_t *db, int64_t rollout_id, int64_t offered_since, int64_t *out)
{
    sqlite3_bind_int64(db->st[S_RO_IN_FLIGHT], 1, rollout_id);
    sqlite3_bind_int64(db->st[S_RO_IN_FLIGHT], 2, offered_since);
    return count_one(db, S_RO_IN_FLIGHT, "count a rollout's transfers", out);
}

int db__rollout_scheduled_due(db_t *db, int64_t now, int (*cb)(void *ctx, int64_t id),
                              void *ctx)
{
    sqlite3_stmt *s = db->st[S_RO_SCHEDULED];
    int rc;
    sqlite3_bind_int64(s, 1, now);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        if (cb(ctx, sqlite3_column_int64(s, 0)) != 0) break;
    return end_rows(db, s, rc, "list scheduled rollouts");
}

int db__rollout_has_device(db_t *db, int64_t rollout_id, const char *device_id, bool *out)
{
    int64_t n = 0;
    sqlite3_bind_int64(db->st[S_RO_HAS_DEV], 1, rollout_id);
    sqlite3_bind_text(db->st[S_RO_HAS_DEV], 2, device_id, -1, SQLITE_TRANSIENT);
    if (count_one(db, S_RO_HAS_DEV, "look a device up in a rollout", &n) != 0) return -1;
    *out = n > 0;
    return 0;
}

int db__device_release_failures(db_t *db, const char *device_id, int64_t release_id,
                                int64_t *out)
{
    sqlite3_bind_text(db->st[S_RO_DEV_FAILURES], 1, device_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(db->st[S_RO_DEV_FAILURES], 2, release_id);
    return count_one(db, S_RO_DEV_FAILURES, "count a device's failures of a release", out);
}

int db__device_reset_failures(db_t *db, const char *device_id, int64_t now)
{
    sqlite3_stmt *s = db->st[S_RO_DEV_RESET];
    sqlite3_bind_text(s, 1, device_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 2, now);
    return exec_changed(db, S_RO_DEV_RESET, "reset a device's failures");
}

/* ---- gauges for GET /metrics (docs/METRICS.md) ---- */

/*
 * Grouped counts read at scrape time, prepared per scrape (Prometheus asks every 15 s or so:
 * not worth a persistent statement each). The queries over deployments and rollouts look at
 * the `limit` newest unfinished ones only, so a scrape's size stays bounded however long
 * mqotad has run; the version query keeps the `limit` most common versions.
 */
static const char *const metrics_sql[DB_METRICS_COUNT] = {
    [DB_METRICS_DEVICE_STATES] = "SELECT state, online, COUNT(*) FROM devices"
                                 " GROUP BY state, online",
    [DB_METRICS_DEVICE_VERSIONS] = "SELECT version, COUNT(*) AS n FROM devices GROUP BY version"
                                   " ORDER BY n DESC, version LIMIT ?1",
    [DB_METRICS_DEPLOYMENT_STATES] = "SELECT state, COUNT(*) FROM deployments GROUP BY state",
    [DB_METRICS_DEPLOYMENT_TARGETS] =
        "SELECT t.deployment_id, t.state, COUNT(*), SUM(MIN(t.progress, r.size)), r.size"
        " FROM deployment_targets t JOIN deployments d ON d.id = t.deployment_id"
        " JOIN releases r ON r.id = d.release_id WHERE t.deployment_id IN"
        " (SELECT id FROM deployments WHERE state = ?2 ORDER BY id DESC LIMIT ?1)"
        " GROUP BY t.deployment_id, t.state ORDER BY t.deployment_id, t.state",
    [DB_METRICS_ROLLOUT_STATES] = "SELECT state, COUNT(*) FROM rollouts GROUP BY state",
    [DB_METRICS_ROLLOUT_WAVES] =
        "SELECT w.rollout_id, w.state, COUNT(*) FROM rollout_waves w WHERE w.rollout_id IN"
        " (SELECT id FROM rollouts WHERE state NOT IN ('aborted', 'finished')"
        " ORDER BY id DESC LIMIT ?1) GROUP BY w.rollout_id, w.state"
        " ORDER BY w.rollout_id, w.state",
};

int db__metrics(db_t *db, db_metrics_query_t q, int limit,
                int (*cb)(void *ctx, const db_metrics_row_t *r), void *ctx)
{
    sqlite3_stmt *s = NULL;
    db_metrics_row_t row;
    int rc, ret = 0;
    if (q >= DB_METRICS_COUNT) return -1;
    if (sqlite3_prepare_v2(db->h, metrics_sql[q], -1, &s, NULL) != SQLITE_OK)
        return fail(db, "prepare a metrics query");
    if (sqlite3_bind_parameter_count(s) >= 1) sqlite3_bind_int(s, 1, limit);
    if (sqlite3_bind_parameter_count(s) >= 2)
        sqlite3_bind_text(s, 2, state__deployment_name(DEPLOYMENT_RUNNING), -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        memset(&row, 0, sizeof(row));
        row.n = sqlite3_column_count(s);
        if (row.n > DB_METRICS_COLS) row.n = DB_METRICS_COLS;
        for (int i = 0; i < row.n; i++) {
            row.is_text[i] = sqlite3_column_type(s, i) == SQLITE_TEXT;
            if (row.is_text[i]) copy_text(row.text[i], sizeof(row.text[i]), s, i);
            else row.num[i] = sqlite3_column_int64(s, i);
        }
        if (cb(ctx, &row) != 0) break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) ret = fail(db, "run a metrics query");
    sqlite3_finalize(s);
    return ret;
}

/* ---- health (schema 10) ---- */

static int read_health(sqlite3_stmt *s, void *out)
{
    db_health_t *h = out;
    memset(h, 0, sizeof(*h));
    copy_text(h->device_id, sizeof(h->device_id), s, 0);
    h->at = sqlite3_column_int64(s, 1);
    h->reset_reason = sqlite3_column_int(s, 2);
    copy_text(h->crash, sizeof(h->crash), s, 3);
    h->uptime_s = sqlite3_column_int64(s, 4);
    h->boot_count = sqlite3_column_int64(s, 5);
    h->min_free_heap = sqlite3_column_int64(s, 6);
    h->rssi = sqlite3_column_int(s, 7);
    h->reconnects = sqlite3_column_int64(s, 8);
    h->resets = sqlite3_column_int64(s, 9);
    return 0;
}

int db__health_get(db_t *db, const char *device_id, db_health_t *out)
{
    sqlite3_bind_text(db->st[S_HL_GET], 1, device_id, -1, SQLITE_TRANSIENT);
    return get_row(db, S_HL_GET, "read a device's health", read_health, out);
}

int db__health_put(db_t *db, const db_health_t *h)
{
    sqlite3_stmt *s = db->st[S_HL_PUT];
    sqlite3_bind_text(s, 1, h->device_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 2, h->at);
    sqlite3_bind_int(s, 3, h->reset_reason);
    sqlite3_bind_text(s, 4, h->crash, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 5, h->uptime_s);
    sqlite3_bind_int64(s, 6, h->boot_count);
    sqlite3_bind_int64(s, 7, h->min_free_heap);
    sqlite3_bind_int(s, 8, h->rssi);
    sqlite3_bind_int64(s, 9, h->reconnects);
    sqlite3_bind_int64(s, 10, h->resets);
    return exec_stmt(db, S_HL_PUT, "store a device's health");
}

int db__reset_insert(db_t *db, const char *device_id, const db_reset_t *r, int64_t keep)
{
    sqlite3_stmt *s = db->st[S_RST_INSERT];
    sqlite3_bind_text(s, 1, device_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 2, r->at);
    sqlite3_bind_int(s, 3, r->reason);
    sqlite3_bind_int64(s, 4, r->boot_count);
    sqlite3_bind_text(s, 5, r->crash, -1, SQLITE_TRANSIENT);
    if (exec_stmt(db, S_RST_INSERT, "record a device's reset") != 0) return -1;
    s = db->st[S_RST_TRIM];
    sqlite3_bind_text(s, 1, device_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 2, keep);
    return exec_stmt(db, S_RST_TRIM, "trim a device's reset history");
}

int db__reset_list(db_t *db, const char *device_id, int64_t limit,
                   int (*cb)(void *ctx, const db_reset_t *r), void *ctx)
{
    sqlite3_stmt *s = db->st[S_RST_LIST];
    int rc;
    db_reset_t r;
    sqlite3_bind_text(s, 1, device_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 2, limit);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        r.at = sqlite3_column_int64(s, 0);
        r.reason = sqlite3_column_int(s, 1);
        r.boot_count = sqlite3_column_int64(s, 2);
        copy_text(r.crash, sizeof(r.crash), s, 3);
        if (cb(ctx, &r) != 0) break;
    }
    return end_rows(db, s, rc, "list a device's resets");
}

int db__rollout_health_put(db_t *db, int64_t rollout_id, uint32_t crashes, uint32_t within_s)
{
    sqlite3_stmt *s = db->st[S_RO_HL_PUT];
    sqlite3_bind_int64(s, 1, rollout_id);
    sqlite3_bind_int64(s, 2, crashes);
    sqlite3_bind_int64(s, 3, within_s);
    return exec_stmt(db, S_RO_HL_PUT, "store a rollout's health gate");
}

int db__rollout_health_get(db_t *db, int64_t rollout_id, uint32_t *crashes, uint32_t *within_s)
{
    int64_t v[2];
    sqlite3_bind_int64(db->st[S_RO_HL_GET], 1, rollout_id);
    int ret = get_row(db, S_RO_HL_GET, "read a rollout's health gate", read_int64s, v);
    if (ret == 0) {
        *crashes = (uint32_t)v[0];
        *within_s = (uint32_t)v[1];
    }
    return ret;
}

int db__rollout_wave_health(db_t *db, int64_t rollout_id, int wave, uint32_t within_s,
                            int (*cb)(void *ctx, const char *device_id, int64_t confirmed_at,
                                      int64_t crashes),
                            void *ctx)
{
    sqlite3_stmt *s = db->st[S_RO_HL_WAVE];
    int rc;
    sqlite3_bind_int64(s, 1, rollout_id);
    sqlite3_bind_int(s, 2, wave);
    sqlite3_bind_int64(s, 3, within_s);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const unsigned char *id = sqlite3_column_text(s, 0);
        if (cb(ctx, id ? (const char *)id : "", sqlite3_column_int64(s, 1),
               sqlite3_column_int64(s, 2)) != 0)
            break;
    }
    return end_rows(db, s, rc, "read a wave's confirmed devices");
}

/* ---- hold offers and maintenance windows (schema 11) ---- */

int db__target_set_flags(db_t *db, const db_target_t *t)
{
    sqlite3_stmt *s = db->st[S_TGT_FLAGS];
    sqlite3_bind_int64(s, 1, t->deployment_id);
    sqlite3_bind_text(s, 2, t->device_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 3, t->offer_flags);
    return exec_stmt(db, S_TGT_FLAGS, "update deployment target offer flags");
}

int db__rollout_window_put(db_t *db, int64_t rollout_id, int start_min, int end_min)
{
    sqlite3_stmt *s = db->st[S_RO_WIN_PUT];
    sqlite3_bind_int64(s, 1, rollout_id);
    sqlite3_bind_int(s, 2, start_min);
    sqlite3_bind_int(s, 3, end_min);
    return exec_stmt(db, S_RO_WIN_PUT, "store rollout window");
}

int db__rollout_window_get(db_t *db, int64_t rollout_id, int *start_min, int *end_min)
{
    int64_t v[2];
    sqlite3_bind_int64(db->st[S_RO_WIN_GET], 1, rollout_id);
    int ret = get_row(db, S_RO_WIN_GET, "read rollout window", read_int64s, v);
    if (ret == 0) {
        *start_min = (int)v[0];
        *end_min = (int)v[1];
    }
    return ret;
}

int db__rollout_event_last(db_t *db, int64_t rollout_id, int wave, const char *kind,
                           int64_t *at)
{
    sqlite3_stmt *s = db->st[S_RO_EV_LAST];
    sqlite3_bind_int64(s, 1, rollout_id);
    sqlite3_bind_int(s, 2, wave);
    sqlite3_bind_text(s, 3, kind, -1, SQLITE_TRANSIENT);
    return count_one(db, S_RO_EV_LAST, "read a rollout's last event", at);
}

/* ---- cancelling and paced retries (schema 12) ---- */

int db__rollout_of_deployment(db_t *db, int64_t deployment_id, int64_t *rollout_id, int *wave)
{
    int64_t v[2];
    sqlite3_bind_int64(db->st[S_RO_OF_DEP], 1, deployment_id);
    int ret = get_row(db, S_RO_OF_DEP, "find a deployment's rollout", read_int64s, v);
    if (ret == 0) {
        *rollout_id = v[0];
        *wave = (int)v[1];
    }
    return ret;
}

int db__rollout_device_retry(db_t *db, int64_t rollout_id, const char *device_id, bool retry)
{
    sqlite3_stmt *s = db->st[S_RO_DEV_RETRY];
    sqlite3_bind_int64(s, 1, rollout_id);
    sqlite3_bind_text(s, 2, device_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(s, 3, retry ? 1 : 0);
    return exec_stmt(db, S_RO_DEV_RETRY, "mark a rollout device for its retry");
}

int db__rollout_skip_has(db_t *db, int64_t rollout_id, const char *device_id,
                         const char *reason, bool *out)
{
    int64_t n = 0;
    sqlite3_bind_int64(db->st[S_RO_SKIP_HAS], 1, rollout_id);
    sqlite3_bind_text(db->st[S_RO_SKIP_HAS], 2, device_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(db->st[S_RO_SKIP_HAS], 3, reason, -1, SQLITE_TRANSIENT);
    if (count_one(db, S_RO_SKIP_HAS, "look a rollout's skip up", &n) != 0) return -1;
    *out = n > 0;
    return 0;
}

int db__rollout_skip_put(db_t *db, int64_t rollout_id, const char *device_id,
                         const char *reason)
{
    sqlite3_stmt *s = db->st[S_RO_SKIP_PUT];
    sqlite3_bind_int64(s, 1, rollout_id);
    sqlite3_bind_text(s, 2, device_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 3, reason, -1, SQLITE_TRANSIENT);
    return exec_stmt(db, S_RO_SKIP_PUT, "store a rollout's skip");
}
