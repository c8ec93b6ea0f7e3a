/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_state.c - the target, deployment, rollout and wave state enums (server/state.c) and their names:
 * every value's name is the string the API and the database have always used, every name
 * parses back to its value, anything else is refused; and through the real db.c on a real
 * SQLite file, each state is stored as exactly that text, read back as its enum, and the SQL
 * that selects running targets (written with the names) agrees with the enums. A row whose
 * state text mqotad never writes reads as failed / finished.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "mqota_host.h"
#include "state.h"

/* The names docs/API.md gives, in enum order. */
static const char *const target_names[] = {"pending", "active", "succeeded", "failed",
                                           "superseded", "ready", "cancelled"};
static const char *const deployment_names[] = {"running", "finished", "cancelled"};

static void test_names(void **state)
{
    (void)state;
    for (int i = 0; i < 7; i++) {
        target_state_t s = TARGET_FAILED;
        assert_string_equal(state__target_name((target_state_t)i), target_names[i]);
        assert_int_equal(state__target_parse(target_names[i], &s), 0);
        assert_int_equal(s, i);
    }
    for (int i = 0; i < 3; i++) {
        deployment_state_t s = DEPLOYMENT_FINISHED;
        assert_string_equal(state__deployment_name((deployment_state_t)i), deployment_names[i]);
        assert_int_equal(state__deployment_parse(deployment_names[i], &s), 0);
        assert_int_equal(s, i);
    }
    assert_int_equal(TARGET_PENDING, 0); /* numbered by hand, never renumbered */
    assert_int_equal(TARGET_SUPERSEDED, 4);
    assert_int_equal(TARGET_READY, 5);
    assert_int_equal(TARGET_CANCELLED, 6);
    assert_int_equal(DEPLOYMENT_FINISHED, 1);
    assert_int_equal(DEPLOYMENT_CANCELLED, 2);
    /* out of range: a name no row holds */
    assert_string_equal(state__target_name((target_state_t)7), "?");
    assert_string_equal(state__target_name((target_state_t)-1), "?");
    assert_string_equal(state__deployment_name((deployment_state_t)3), "?");
    /* refused, and the output untouched */
    static const char *const bad[] = {"", "Pending", "pending ", "runnin", "running",
                                      "finished", "?", "succeeded\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        target_state_t s = TARGET_ACTIVE;
        assert_int_equal(state__target_parse(bad[i], &s), -1);
        assert_int_equal(s, TARGET_ACTIVE);
    }
    deployment_state_t ds = DEPLOYMENT_RUNNING;
    assert_int_equal(state__deployment_parse("pending", &ds), -1);
    assert_int_equal(state__deployment_parse(NULL, &ds), -1);
    assert_int_equal(ds, DEPLOYMENT_RUNNING);
}

static int count_target(void *ctx, const db_target_t *t)
{
    (void)t;
    (*(int *)ctx)++;
    return 0;
}

/* Records the state of target dev1. */
static int dev1_state(void *ctx, const db_target_t *t)
{
    if (strcmp(t->device_id, "dev1") == 0) *(int *)ctx = (int)t->state;
    return 0;
}

/* The text of a column of the one row a query selects, from a second connection. */
static void expect_text(const char *path, const char *sql, const char *want)
{
    sqlite3 *h = NULL;
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(s, 0), want);
    sqlite3_finalize(s);
    sqlite3_close(h);
}

static void exec_sql(const char *path, const char *sql)
{
    sqlite3 *h = NULL;
    assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
    assert_int_equal(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
}

static void test_on_sqlite(void **state)
{
    char dir[] = "/tmp/mqota-state.XXXXXX", path[64], sql[200];
    db_t *db = NULL;
    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/mqota.db", dir);
    assert_int_equal(db__open(&db, path), 0);

    db_release_t *r = calloc(1, sizeof(*r));
    assert_non_null(r);
    snprintf(r->sha256, sizeof(r->sha256), "%064d", 0);
    snprintf(r->path, sizeof(r->path), "%s/r.bin", dir);
    assert_int_equal(db__release_insert(db, r), 0);
    db_deployment_t dep = {.release_id = r->id, .created_at = 1, .state = DEPLOYMENT_RUNNING};
    assert_int_equal(db__deployment_insert(db, &dep), 0);
    expect_text(path, "SELECT state FROM deployments", "running");

    /* one device per state, stored by insert and by set_state */
    for (int i = 0; i < 5; i++) {
        db_device_t dv = {0};
        snprintf(dv.id, sizeof(dv.id), "dev%d", i);
        assert_int_equal(db__device_put(db, &dv), 0);
        db_target_t t = {.deployment_id = dep.id, .state = TARGET_PENDING};
        snprintf(t.device_id, sizeof(t.device_id), "dev%d", i);
        snprintf(t.reason, sizeof(t.reason), "none");
        assert_int_equal(db__target_insert(db, &t), 0);
        snprintf(sql, sizeof(sql), "SELECT state FROM deployment_targets WHERE device_id='dev%d'",
                 i);
        expect_text(path, sql, "pending");
        t.state = (target_state_t)i;
        assert_int_equal(db__target_set_state(db, &t), 0);
        expect_text(path, sql, target_names[i]);
        db_target_t back;
        int rc = db__target_running(db, t.device_id, 0, &back);
        /* the SQL's 'pending','active' and the enums agree */
        assert_int_equal(rc, i <= TARGET_ACTIVE ? 0 : 1);
        if (rc == 0) assert_int_equal(back.state, i);
    }
    int n = 0;
    assert_int_equal(db__target_all_pending(db, count_target, &n), 0);
    assert_int_equal(n, 1);

    assert_int_equal(db__deployment_set_state(db, dep.id, DEPLOYMENT_FINISHED), 0);
    expect_text(path, "SELECT state FROM deployments", "finished");
    db_deployment_t got;
    assert_int_equal(db__deployment_get(db, dep.id, &got), 0);
    assert_int_equal(got.state, DEPLOYMENT_FINISHED);

    /* a state text mqotad never writes: read as failed / finished, nothing runs */
    exec_sql(path, "UPDATE deployments SET state='paused';"
                   "UPDATE deployment_targets SET state='weird' WHERE device_id='dev1';");
    assert_int_equal(db__deployment_get(db, dep.id, &got), 0);
    assert_int_equal(got.state, DEPLOYMENT_FINISHED);
    exec_sql(path, "UPDATE deployments SET state='running';");
    db_target_t back;
    int s1 = -1;
    assert_int_equal(db__target_list(db, dep.id, dev1_state, &s1), 0);
    assert_int_equal(s1, TARGET_FAILED);
    assert_int_equal(db__target_running(db, "dev1", 0, &back), 1);
    assert_int_equal(db__target_running(db, "dev0", 0, &back), 0);
    assert_int_equal(back.state, TARGET_PENDING);

    db__close(db);
    free(r);
    snprintf(sql, sizeof(sql), "rm -rf %s", dir);
    assert_int_equal(system(sql), 0);
}

static const char *const rollout_names[] = {"running", "paused", "awaiting-approval", "aborted",
                                            "finished", "scheduled"};
static const char *const wave_names[] = {"waiting", "running", "succeeded", "failed"};

/* Rollouts and waves: names both ways, and through db.c each stored as its name, read back
 * as its enum; a name mqotad never writes reads as aborted / failed. */
static void test_rollout_states(void **state)
{
    (void)state;
    for (int i = 0; i < 6; i++) {
        rollout_state_t s = ROLLOUT_ABORTED;
        assert_string_equal(state__rollout_name((rollout_state_t)i), rollout_names[i]);
        assert_int_equal(state__rollout_parse(rollout_names[i], &s), 0);
        assert_int_equal(s, i);
    }
    for (int i = 0; i < 4; i++) {
        wave_state_t s = WAVE_FAILED;
        assert_string_equal(state__wave_name((wave_state_t)i), wave_names[i]);
        assert_int_equal(state__wave_parse(wave_names[i], &s), 0);
        assert_int_equal(s, i);
    }
    assert_string_equal(state__rollout_name((rollout_state_t)6), "?");
    assert_string_equal(state__wave_name((wave_state_t)4), "?");
    rollout_state_t rs = ROLLOUT_PAUSED;
    wave_state_t ws = WAVE_RUNNING;
    assert_int_equal(state__rollout_parse("awaiting_approval", &rs), -1);
    assert_int_equal(state__rollout_parse(NULL, &rs), -1);
    assert_int_equal(state__wave_parse("pending", &ws), -1);
    assert_int_equal(rs, ROLLOUT_PAUSED);
    assert_int_equal(ws, WAVE_RUNNING);

    char dir[] = "/tmp/mqota-state.XXXXXX", path[64], sql[200];
    db_t *db = NULL;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/mqota.db", dir);
    assert_int_equal(db__open(&db, path), 0);
    db_release_t *rel = calloc(1, sizeof(*rel));
    db_rollout_t *r = calloc(1, sizeof(*r)), *back = calloc(1, sizeof(*back));
    assert_non_null(rel);
    assert_non_null(r);
    assert_non_null(back);
    snprintf(rel->sha256, sizeof(rel->sha256), "%064d", 0);
    snprintf(rel->path, sizeof(rel->path), "%s/r.bin", dir);
    assert_int_equal(db__release_insert(db, rel), 0);
    r->release_id = rel->id;
    snprintf(r->filter, sizeof(r->filter), "group=lab");
    snprintf(r->plan, sizeof(r->plan), "[1]");
    r->state = ROLLOUT_SCHEDULED;
    assert_int_equal(db__rollout_insert(db, r), 0);
    expect_text(path, "SELECT state FROM rollouts", "scheduled");
    for (int i = 0; i < 6; i++) {
        assert_int_equal(db__rollout_set_state(db, r->id, (rollout_state_t)i, 0, 1), 0);
        expect_text(path, "SELECT state FROM rollouts", rollout_names[i]);
        assert_int_equal(db__rollout_get(db, r->id, back), 0);
        assert_int_equal(back->state, i);
    }
    db_rollout_wave_t w = {r->id, 0, 1, WAVE_WAITING, 0, 0, 0}, wb;
    assert_int_equal(db__rollout_wave_insert(db, &w), 0);
    for (int i = 0; i < 4; i++) {
        w.state = (wave_state_t)i;
        assert_int_equal(db__rollout_wave_set(db, &w), 0);
        expect_text(path, "SELECT state FROM rollout_waves", wave_names[i]);
        assert_int_equal(db__rollout_wave_get(db, r->id, 0, &wb), 0);
        assert_int_equal(wb.state, i);
    }
    exec_sql(path, "UPDATE rollouts SET state='weird'; UPDATE rollout_waves SET state='odd';");
    assert_int_equal(db__rollout_get(db, r->id, back), 0);
    assert_int_equal(back->state, ROLLOUT_ABORTED);
    assert_int_equal(db__rollout_wave_get(db, r->id, 0, &wb), 0);
    assert_int_equal(wb.state, WAVE_FAILED);
    db__close(db);
    free(rel);
    free(r);
    free(back);
    snprintf(sql, sizeof(sql), "rm -rf %s", dir);
    assert_int_equal(system(sql), 0);
}

int main(void)
{
    mqh_log_init("test_state", MQH_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_on_sqlite),
        cmocka_unit_test(test_rollout_states),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
