/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mqota_agent_store.c - the agent's records in the platform's key-value store
 * (docs/PROTOCOL.md §12). Everything that must survive a reset is written here before the agent
 * acknowledges it:
 *
 *   "mq.prog"   transfer progress: which release goes into which slot, and the first chunk not
 *               yet written. Written every time that chunk index advances, before the ACK.
 *   "mq.slot0"  which release (id, version) a slot holds; erased before the slot is
 *   "mq.slot1"  overwritten, written after the image in it is verified.
 *   "mq.boot"   the boot attempt: release, from-slot, to-slot, failure reason, secure_version.
 *               Written just before the boot slot changes; read after the reboot to tell
 *               confirm from rollback.
 *   "mq.minsv"  the lowest secure_version accepted (anti-rollback). Raised to the attempt's
 *               secure_version once the new image is confirmed, before "mq.boot" is erased.
 *               With the platform's secure_version hooks the hardware value (eFuse) is raised
 *               at the same moment, up to the running image's descriptor secure_version, and
 *               the minimum is the higher of the two, so erasing the store cannot take it
 *               below the eFuse (docs/SECURITY.md §4).
 *   "mq.held"   a verified image held in the inactive slot until the offer activates it
 *               (docs/PROTOCOL.md §5.2): release, deployment, size, slot, SHA-256. Written
 *               once the image is verified and the offer asked to hold it; erased when the
 *               boot slot switches to it, or a newer offer, a clear or a failure drops it.
 *   "mq.cmd"    sealed commands: the anti-replay window and the last reply counter. Written
 *               before a command runs and before a reply is sealed (docs/PROTOCOL.md §14.4).
 *
 * The bytes of the first four and of "mq.held" come from the pure codec in mqota_record.c, by
 * record kind, through one load() and one save(); records an older agent wrote as raw structs
 * are read and rewritten once in the current form (§12.1; with MQOTA_CFG_LEGACY_RECORDS 1).
 */
#include <string.h>

#include "mqota_agent_internal.h"
#include "mqota_le.h"
#include "mqota_proto_internal.h"

#define CMD_MAGIC 0x4D514331u /* "MQC1" */
#define CMD_RECORD_SIZE 36u

/* The key of a slot's record: "mq.slot0" or "mq.slot1". */
const char *store__slot_key(uint8_t slot)
{
    return slot == 0u ? "mq.slot0" : "mq.slot1";
}

/* Read a fixed-size record whose last 4 bytes are a CRC-32 of the rest and whose first 4 bytes
 * are `magic` ("mq.cmd"). Returns true only for a complete, intact record. */
static bool record_load(mqota_agent_t *a, const char *key, void *rec, size_t size, uint32_t magic)
{
    size_t len = 0;
    if (a->plat.kv_get(a->plat.ctx, key, rec, size, &len) != 0 || len != size) {
        return false;
    }
    return le__get_u32(rec) == magic &&
           le__get_u32((const uint8_t *)rec + size - 4u) == mqota_crc32(0, rec, size - 4u);
}

static bool record_save(mqota_agent_t *a, const char *key, void *rec, size_t size)
{
    le__put_u32((uint8_t *)rec + size - 4u, mqota_crc32(0, rec, size - 4u));
    return a->plat.kv_set(a->plat.ctx, key, rec, size) == 0;
}

/* Encode the record of this kind from s and write it under key. An encoder failure (never
 * expected: the buffer is sized by the codec's constant) counts as a store failure. */
static bool save(mqota_agent_t *a, const char *key, record__kind_t kind, const void *s)
{
    uint8_t *rec = a->rec; /* scratch (mqota_agent_t) */
    size_t n = 0;
    return record__encode(kind, s, rec, MQOTA_RECORD_MAX_LEN, &n) == MQOTA_OK &&
           a->plat.kv_set(a->plat.ctx, key, rec, n) == 0;
}

/* Read the record under key (at most MQOTA_RECORD_MAX_LEN bytes) and decode it into s. Returns
 * false if it is absent, too long, unreadable or refused by the decoder. A record in the
 * raw-struct form of older agents is rewritten once in the current form (docs/PROTOCOL.md
 * §12.1); a failed rewrite is harmless: the old form is read again. */
static bool load(mqota_agent_t *a, const char *key, record__kind_t kind, void *s)
{
    uint8_t *rec = a->rec; /* scratch (mqota_agent_t) */
    size_t len = 0;
    bool legacy = false;
    if (a->plat.kv_get(a->plat.ctx, key, rec, MQOTA_RECORD_MAX_LEN, &len) != 0 ||
        len > MQOTA_RECORD_MAX_LEN ||
        record__decode(kind, rec, len, s, &legacy) != MQOTA_OK) {
        return false;
    }
#if MQOTA_CFG_LEGACY_RECORDS
    if (legacy) {
        bool ok = save(a, key, kind, s);
        (void)ok;
        MQOTA_LOG(2, "record %s rewritten in the current form: %s", key, ok ? "done" : "failed");
    }
#endif
    return true;
}

bool store__progress_save(mqota_agent_t *a, const mqota_progress_t *p)
{
    return save(a, KEY_PROGRESS, REC_PROGRESS, p);
}

bool store__slot_save(mqota_agent_t *a, uint8_t slot, const mqota_slot_record_t *s)
{
    return save(a, store__slot_key(slot), REC_SLOT, s);
}

bool store__attempt_save(mqota_agent_t *a, const mqota_attempt_t *at)
{
    return save(a, KEY_ATTEMPT, REC_ATTEMPT, at);
}

bool store__held_save(mqota_agent_t *a, const mqota_held_t *h)
{
    return save(a, KEY_HELD, REC_HELD, h);
}

/* Read the held-image record; absent or damaged: false. */
bool store__held_load(mqota_agent_t *a, mqota_held_t *h)
{
    return load(a, KEY_HELD, REC_HELD, h);
}

/* Read the progress record; absent, damaged or foreign: false. */
bool store__progress_load(mqota_agent_t *a, mqota_progress_t *p)
{
    return load(a, KEY_PROGRESS, REC_PROGRESS, p);
}

bool store__slot_load(mqota_agent_t *a, uint8_t slot, mqota_slot_record_t *s)
{
    return load(a, store__slot_key(slot), REC_SLOT, s);
}

/* Read the boot-attempt record. Records of older agents are read too, an "MQB1" one (no
 * secure_version) as secure_version 0, so an update across that agent change still confirms
 * or reports its rollback. */
bool store__attempt_load(mqota_agent_t *a, mqota_attempt_t *at)
{
    return load(a, KEY_ATTEMPT, REC_ATTEMPT, at);
}

/* The secure_version in the esp_app_desc_t of the image that runs, read from its slot; 0 if
 * it cannot be read (then nothing is raised in hardware). */
static uint32_t running_image_secure_version(mqota_agent_t *a)
{
    uint8_t head[MQOTA_IMAGE_HEAD_LEN];
    mqota_image_info_t info;
    if (a->plat.slot_read(a->plat.ctx, a->running.running_slot, 0, head, sizeof(head)) != 0 ||
        mqota_image_parse_head(head, sizeof(head), &info) != MQOTA_OK) {
        MQOTA_LOG(1, "cannot read the running image's secure_version");
        return 0u;
    }
    return info.secure_version;
}

/*
 * Raise the hardware minimum (the secure_version_raise hook) towards sv, but never above the
 * secure_version in the running image's own descriptor: the bootloader compares the eFuse with
 * the descriptor, so an eFuse above it would refuse the image that runs (a release whose
 * --security-version is higher than its descriptor's is held to it by "mq.minsv" only).
 * Returns false only if the hook failed.
 */
static bool hw_raise(mqota_agent_t *a, uint32_t sv)
{
    if (a->plat.secure_version_raise == NULL) {
        return true;
    }
    uint32_t img = running_image_secure_version(a);
    uint32_t to = sv < img ? sv : img;
    if (to == 0u) {
        return true;
    }
    if (a->plat.secure_version_raise(a->plat.ctx, to) != 0) {
        MQOTA_LOG(1, "cannot raise the hardware secure version to %u", (unsigned)to);
        return false;
    }
    return true;
}

/* Raise the minimum secure_version to sv (never lower it): "mq.minsv" first, then with the
 * platform's secure_version hooks the hardware value (hw_raise), so a hardware that cannot take
 * the value (wider than its field) still leaves the minimum in force. Returns false if either
 * write failed; the caller then keeps the attempt record so that the next boot tries again. */
bool store__raise_min_secure_version(mqota_agent_t *a, uint32_t sv)
{
    if (sv > a->min_secure_version) {
        if (!save(a, KEY_MINSV, REC_MINSV, &sv)) {
            MQOTA_LOG(1, "cannot store minimum secure version %u", (unsigned)sv);
            return false;
        }
        a->min_secure_version = sv;
        MQOTA_LOG(2, "minimum secure version is now %u", (unsigned)sv);
    }
    return hw_raise(a, sv);
}

/* The "mq.cmd" record (docs/PROTOCOL.md §14.4), little-endian bytes. Absent or damaged: all
 * zero (docs/SECURITY.md says what that allows). */
void store__cmd_load(mqota_agent_t *a)
{
    uint8_t rec[CMD_RECORD_SIZE];
    if (record_load(a, KEY_CMD, rec, sizeof(rec), CMD_MAGIC)) {
        a->replay.highest = le__get_u64(rec + 8);
        a->replay.bitmap = le__get_u64(rec + 16);
        a->reply_counter = le__get_u64(rec + 24);
    }
}

bool store__cmd_save(mqota_agent_t *a, const mqota_replay_window_t *w,
                            uint64_t reply_counter)
{
    uint8_t rec[CMD_RECORD_SIZE];
    le__put_u32(rec, CMD_MAGIC);
    le__put_u32(rec + 4, 0u);
    le__put_u64(rec + 8, w->highest);
    le__put_u64(rec + 16, w->bitmap);
    le__put_u64(rec + 24, reply_counter);
    return record_save(a, KEY_CMD, rec, sizeof(rec));
}

/*
 * The minimum secure_version into *min: the higher of "mq.minsv" and, with the secure_version
 * hooks, the hardware value, which an erase of the store cannot lower. A hardware value below
 * "mq.minsv" (a device moving to a build with the hooks) is raised towards it here, as far as
 * the running image's descriptor allows (hw_raise); a failure there is retried at every init.
 * Returns false only if secure_version_read failed.
 */
bool store__min_secure_version(mqota_agent_t *a, uint32_t *min)
{
    uint32_t nvs = 0; /* "mq.minsv"; 0 if none was ever stored, or it fails its CRC (treated as
                         absent like every other record: docs/SECURITY.md says why) */
    (void)load(a, KEY_MINSV, REC_MINSV, &nvs);
    uint32_t hw = 0;
    if (a->plat.secure_version_read != NULL) {
        if (a->plat.secure_version_read(a->plat.ctx, &hw) != 0) {
            MQOTA_LOG(1, "cannot read the minimum secure version from the platform");
            return false;
        }
        if (nvs > hw) {
            (void)hw_raise(a, nvs);
        }
    }
    *min = nvs > hw ? nvs : hw;
    return true;
}
