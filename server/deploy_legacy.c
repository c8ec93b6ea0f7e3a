/* SPDX-License-Identifier: Apache-2.0 */
/*
 * deploy_legacy.c - policy for legacy devices' targets (docs/LEGACY.md): what the legacy
 * framework's events mean for deployments. A target starts when the device answers the
 * adapter, fails when the framework gives up, and succeeds ONLY when the device, after its
 * reboot, reports the target's version: through its own protocol (legacy__reported()), or as
 * a native device whose first STATE carries it (the migration, deploy__legacy_native()).
 *
 * Policy: it calls the framework (legacy__stop(), legacy__went_native()); the framework calls
 * back only through the legacy_events_t registered here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deploy.h"
#include "legacy.h"
#include "mqota/mqota_status.h"

/* The device row follows what the legacy job says: state (an mqota update state, as the
 * registry shows natives; -1 keeps it), version when reported (NULL keeps it), progress of an
 * image of size bytes (size 0 keeps both), online and last seen. */
static void store_device(mqotad_t *d, const char *id, int state, const char *version,
                         uint32_t progress, uint32_t size)
{
    db_device_t dev;
    if (db__device_get(d->db, id, &dev) != 0) return;
    if (state >= 0) dev.state = state;
    if (version) snprintf(dev.version, sizeof(dev.version), "%s", version);
    if (size) { /* 0: no job, the last one's figures stay */
        dev.progress = progress;
        dev.image_size = size;
    }
    dev.online = true;
    dev.last_seen = mqh_unix_now();
    db__device_put(d->db, &dev);
}

/* End the device's running target t with state s and reason (both stored), finish its
 * deployment if that was the last, and let the framework and rollouts know. */
static void end_target(mqotad_t *d, db_target_t *t, target_state_t s, const char *reason)
{
    db_target_t cur;
    if (db__target_running(d->db, t->device_id, t->release_id, &cur) != 0 ||
        cur.deployment_id != t->deployment_id)
        return; /* ended or superseded meanwhile */
    cur.state = s;
    snprintf(cur.reason, sizeof(cur.reason), "%s", reason);
    cur.progress = t->progress > cur.progress ? t->progress : cur.progress;
    cur.bytes_sent = t->bytes_sent > cur.bytes_sent ? t->bytes_sent : cur.bytes_sent;
    cur.bytes_resent = t->bytes_resent > cur.bytes_resent ? t->bytes_resent : cur.bytes_resent;
    if (!cur.started_at) cur.started_at = mqh_unix_now();
    cur.finished_at = mqh_unix_now();
    if (db__begin(d->db) != 0) return;
    if (db__target_set_state(d->db, &cur) != 0 || db__target_set_counters(d->db, &cur) != 0 ||
        deploy__maybe_finish(d, cur.deployment_id) != 0 || db__commit(d->db) != 0) {
        db__rollback(d->db);
        return;
    }
    mqh_log(MQH_INFO, "legacy device %s: deployment %lld target %s%s%s", cur.device_id,
            (long long)cur.deployment_id, state__target_name(s),
            strcmp(reason, "none") ? ", reason " : "", strcmp(reason, "none") ? reason : "");
    deploy__after_finish(d, &cur); /* the job goes, rollouts are poked */
}

/* legacy_events_t.save_progress */
static int save_progress(mqotad_t *d, const db_target_t *t)
{
    int rc = db__target_set_counters(d->db, t);
    legacy_dev_t *ld = legacy__find(d, t->device_id);
    if (rc == 0 && ld && ld->job)
        store_device(d, t->device_id, ld->job->phase == LEGACY_JOB_BOOTING
                                          ? MQOTA_STATE_READY_TO_REBOOT
                                          : MQOTA_STATE_DOWNLOADING,
                     NULL, t->progress, ld->job->size);
    return rc;
}

/* legacy_events_t.started: the device answered: pending -> active. */
static void started(mqotad_t *d, db_target_t *t)
{
    deploy__target_started(d, t);
}

/* legacy_events_t.failed */
static void failed(mqotad_t *d, const db_target_t *t, legacy_reason_t reason)
{
    db_target_t c = *t;
    store_device(d, t->device_id, MQOTA_STATE_FAILED, NULL, t->progress, 0);
    end_target(d, &c, TARGET_FAILED, legacy__reason_name(reason));
}

/* legacy_events_t.reported: the device said what it runs. Only a report after the device
 * took the whole image and restarted (job BOOTING) decides the target: its version must be
 * the release's; a protocol that reports no version (2) counts the fresh boot itself. */
static void reported(mqotad_t *d, legacy_dev_t *ld, const legacy_report_t *r)
{
    legacy_job_t *j = ld->job;
    if (!j || j->phase != LEGACY_JOB_BOOTING) {
        /* its state stays what the last job left (confirmed, failed) or idle */
        store_device(d, ld->id, -1, r->version, j ? j->target.progress : 0, j ? j->size : 0);
        return;
    }
    if (r->version && strcmp(r->version, j->version) != 0) {
        if (!r->booted) return; /* an answer from before the reboot */
        mqh_log(MQH_WARN, "legacy device %s restarted with version %s, not %s", ld->id,
                r->version, j->version);
        db_target_t t = j->target;
        store_device(d, ld->id, MQOTA_STATE_FAILED, r->version, t.progress, j->size);
        end_target(d, &t, TARGET_FAILED, legacy__reason_name(LEGACY_REASON_WRONG_VERSION));
        return;
    }
    if (!r->version && !r->booted) return;
    db_target_t t = j->target;
    t.progress = j->size;
    store_device(d, ld->id, MQOTA_STATE_CONFIRMED, j->version, j->size, j->size);
    end_target(d, &t, TARGET_SUCCEEDED, "none");
}

static const legacy_events_t legacy_events = {
    .save_progress = save_progress,
    .started = started,
    .failed = failed,
    .reported = reported,
};

int deploy__legacy_init(mqotad_t *d)
{
    legacy__set_events(d, &legacy_events);
    return 0;
}

/* legacy__each() of deploy__legacy_resume(): a device without a job whose target is active. */
static void resume_one(mqotad_t *d, legacy_dev_t *ld, void *ctx)
{
    db_release_t *r = ctx;
    db_target_t t;
    if (ld->job || db__target_running(d->db, ld->id, 0, &t) != 0 || t.state != TARGET_ACTIVE ||
        db__release_get(d->db, t.release_id, r) != 0)
        return;
    mqh_log(MQH_INFO, "legacy device %s: deployment %lld was active; its transfer starts again",
            ld->id, (long long)t.deployment_id);
    legacy__start(d, &t, r);
}

void deploy__legacy_resume(mqotad_t *d)
{
    db_release_t *r = malloc(sizeof(*r));
    if (!r) return;
    legacy__each(d, resume_one, r);
    free(r);
}

void deploy__legacy_native(mqotad_t *d, const db_device_t *dev)
{
    legacy_dev_t *ld = legacy__find(d, dev->id);
    db_target_t t;
    if (ld && ld->job && ld->job->phase == LEGACY_JOB_BOOTING) {
        t = ld->job->target;
        t.progress = ld->job->size;
        bool same = strcmp(dev->version, ld->job->version) == 0;
        end_target(d, &t, same ? TARGET_SUCCEEDED : TARGET_FAILED,
                   same ? "none" : legacy__reason_name(LEGACY_REASON_WRONG_VERSION));
    }
    legacy__went_native(d, dev->id);
}
