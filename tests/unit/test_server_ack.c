/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_server_ack.c - the path of a device's ACK through mqotad (issue 11 item 7): handle__ack()
 * (server/handle_ack.c) asks policy (deploy.c) for the running target, the transfer engine
 * (transfer.c, stream.c) keeps one transfer per device in a hash on its id, and counters come
 * back to policy only through the transfer_events_t that deploy__init() registers. The real
 * modules on a real SQLite file and a real image file; mqtt__publish() and
 * mqtt__max_payload() are replaced by a recorder (mosquitto's habit: the real module, stubs
 * around it), command__device_ready() by a counter.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "command.h"
#include "db.h"
#include "deploy.h"
#include "release.h"
#include "devlog.h"
#include "handle.h"
#include "mqota/mqota_proto.h"
#include "mqotad.h"
#include "transfer.h"

#define CHUNK 1024u
#define CHUNKS 40u
#define IMAGE_SIZE (CHUNKS * CHUNK - 100u) /* the last chunk is short */
#define WINDOW 16u
#define MANY 300

/* ---- the rest of mqotad, stubbed ---- */

static struct {
    int chunks;      /* CHUNK messages published */
    char last[160];  /* topic of the last one */
    int offers;      /* non-empty OFFER messages published */
    char offer_topic[160];        /* topic of the last one */
    uint8_t offer[MQOTA_OFFER_MAX_LEN]; /* and its bytes */
    size_t offer_len;
    int clears;      /* empty retained OFFER messages (the offer cleared) */
} pub;

int mqtt__publish(mqotad_t *d, const char *topic, const void *payload, size_t len, int qos,
                  bool retain)
{
    (void)d, (void)payload, (void)len, (void)qos, (void)retain;
    if (strstr(topic, "/chunk")) {
        pub.chunks++;
        snprintf(pub.last, sizeof(pub.last), "%s", topic);
    }
    if (strstr(topic, "/offer") && len == 0) pub.clears++;
    if (strstr(topic, "/offer") && len > 0 && len <= sizeof(pub.offer)) {
        pub.offers++;
        snprintf(pub.offer_topic, sizeof(pub.offer_topic), "%s", topic);
        memcpy(pub.offer, payload, len);
        pub.offer_len = len;
    }
    return 0;
}

uint32_t mqtt__max_payload(mqotad_t *d, const char *topic)
{
    (void)d, (void)topic;
    return 1u << 20;
}

void command__device_ready(mqotad_t *d, const char *device_id)
{
    (void)d, (void)device_id;
}

/* ---- fixture: devices, one release, one unicast deployment to all of them ---- */

typedef struct {
    mqotad_t d;
    char dir[64], path[96];
    int64_t release_id, deployment_id;
} fx_t;

static fx_t *fx_new(int n_devices)
{
    fx_t *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/mqota-acktest.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/mqota.db", f->dir);
    assert_int_equal(db__open(&f->d.db, f->path), 0);
    f->d.mqtt_connected = true;
    f->d.chunk_size = CHUNK;
    f->d.window = WINDOW;
    f->d.multicast = false;
    assert_int_equal(transfer__init(&f->d), 0);
    assert_int_equal(deploy__init(&f->d), 0);

    db_release_t *r = calloc(1, sizeof(*r));
    assert_non_null(r);
    snprintf(r->path, sizeof(r->path), "%s/image.bin", f->dir);
    FILE *img = fopen(r->path, "wb");
    assert_non_null(img);
    for (uint32_t i = 0; i < IMAGE_SIZE; i++) fputc((int)(i * 7u), img);
    fclose(img);
    r->size = IMAGE_SIZE;
    snprintf(r->sha256, sizeof(r->sha256), "%064d", 7);
    snprintf(r->version, sizeof(r->version), "1.0");
    snprintf(r->project, sizeof(r->project), "ack");
    assert_int_equal(db__release_insert(f->d.db, r), 0);
    f->release_id = r->id;
    free(r);

    char **ids = calloc((size_t)n_devices, sizeof(*ids));
    assert_non_null(ids);
    for (int i = 0; i < n_devices; i++) {
        db_device_t dv = {0};
        snprintf(dv.id, sizeof(dv.id), "dev-%04d", i);
        dv.online = true;
        assert_int_equal(db__device_put(f->d.db, &dv), 0);
        ids[i] = strdup(dv.id);
    }
    db_deployment_t dep;
    char err[256];
    assert_int_equal(deploy__create(&f->d, f->release_id, (const char *const *)ids,
                                    (size_t)n_devices, false, &dep, err, sizeof(err)),
                     DEPLOY_OK);
    f->deployment_id = dep.id;
    for (int i = 0; i < n_devices; i++) free(ids[i]);
    free(ids);
    memset(&pub, 0, sizeof(pub));
    return f;
}

static void fx_free(fx_t *f)
{
    char cmd[96];
    transfer__cleanup(&f->d);
    db__close(f->d.db);
    devlog__free(&f->d);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
}

/* Publish an ACK from dev: chunks below base written, nothing else. */
static void ack(fx_t *f, const char *dev, int64_t release_id, uint32_t base, uint8_t flags)
{
    mqota_ack_t a = {.release_id = (uint32_t)release_id, .base = base, .sack_base = base,
                     .window = WINDOW, .flags = flags};
    uint8_t buf[64];
    size_t len = 0;
    assert_int_equal(mqota_ack_encode(&a, buf, sizeof(buf), &len), MQOTA_OK);
    handle__ack(&f->d, dev, buf, len);
}

/* The stored target of dev in f's deployment. */
static db_target_t target_of(fx_t *f, const char *dev)
{
    db_target_t t;
    memset(&t, 0, sizeof(t));
    assert_int_equal(db__target_running(f->d.db, dev, 0, &t), 0);
    return t;
}

/* ---- tests ---- */

/* The first ACK: policy finds the target (pending -> active), the engine builds the transfer
 * and sends the window; ACKs of other releases, release 0 and unknown devices build nothing. */
static void test_first_ack(void **state)
{
    (void)state;
    fx_t *f = fx_new(3);
    assert_int_equal(target_of(f, "dev-0000").state, TARGET_PENDING);
    ack(f, "dev-0000", f->release_id, 0, 0);
    assert_int_equal(target_of(f, "dev-0000").state, TARGET_ACTIVE);
    assert_non_null(transfer__find(&f->d, "dev-0000", f->release_id));
    assert_null(transfer__find(&f->d, "dev-0000", f->release_id + 1));
    assert_null(transfer__find(&f->d, "dev-0001", f->release_id));
    assert_int_equal(transfer__count(&f->d), 1);
    assert_int_equal(pub.chunks, (int)WINDOW);
    assert_string_equal(pub.last, MQOTAD_TOPIC_PREFIX "dev-0000/chunk");

    ack(f, "dev-0001", f->release_id + 1, 0, 0); /* no target for that release */
    ack(f, "dev-0001", 0, 0, 0);
    ack(f, "nobody", f->release_id, 0, 0);
    assert_int_equal(transfer__count(&f->d), 1);
    assert_int_equal(target_of(f, "dev-0001").state, TARGET_PENDING);
    assert_int_equal(pub.chunks, (int)WINDOW);

    /* COMPLETE on the first ACK: the target is active, but there is nothing to send */
    ack(f, "dev-0002", f->release_id, CHUNKS, MQOTA_ACK_FLAG_COMPLETE);
    assert_int_equal(target_of(f, "dev-0002").state, TARGET_ACTIVE);
    assert_null(transfer__find(&f->d, "dev-0002", f->release_id));
    assert_int_equal(transfer__count(&f->d), 1);
    fx_free(f);
}

/* Counters reach the database only through policy's events: none registered, none stored. */
static void test_counters_through_events(void **state)
{
    (void)state;
    fx_t *f = fx_new(2);
    ack(f, "dev-0000", f->release_id, 0, 0);
    ack(f, "dev-0000", f->release_id, 4, 0); /* 4 chunks written */
    transfer__set_events(&f->d, NULL);
    transfer__persist(&f->d, mqh_now_ms(), true);
    assert_int_equal(target_of(f, "dev-0000").progress, 0);
    deploy__init(&f->d);
    transfer__persist(&f->d, mqh_now_ms(), true);
    db_target_t t = target_of(f, "dev-0000");
    assert_int_equal(t.progress, 4 * CHUNK);
    assert_true(t.bytes_sent >= (int64_t)(WINDOW * CHUNK));
    assert_int_equal(t.state, TARGET_ACTIVE); /* the engine moves no state */

    /* every chunk written: the transfer goes, its counters stored first */
    ack(f, "dev-0000", f->release_id, CHUNKS, 0);
    assert_null(transfer__find(&f->d, "dev-0000", f->release_id));
    assert_int_equal(target_of(f, "dev-0000").progress, IMAGE_SIZE);
    fx_free(f);
}

/* MANY transfers, each found by its device; offline pauses only its own; dropping one device
 * leaves the others. */
static void test_many_by_device(void **state)
{
    (void)state;
    fx_t *f = fx_new(MANY);
    char id[16];
    for (int i = 0; i < MANY; i++) {
        snprintf(id, sizeof(id), "dev-%04d", i);
        ack(f, id, f->release_id, 0, 0);
    }
    assert_int_equal(transfer__count(&f->d), MANY);
    for (int i = 0; i < MANY; i++) {
        snprintf(id, sizeof(id), "dev-%04d", i);
        transfer_t *t = transfer__find(&f->d, id, f->release_id);
        assert_non_null(t);
        /* a second ACK reaches the same transfer: nothing new is built or sent */
        int before = pub.chunks;
        ack(f, id, f->release_id, 0, 0);
        assert_ptr_equal(transfer__find(&f->d, id, f->release_id), t);
        assert_int_equal(pub.chunks, before);
    }
    assert_int_equal(transfer__count(&f->d), MANY);
    assert_true(transfer__next_timeout_ms(&f->d, mqh_now_ms()) >= 0);

    handle__online(&f->d, "dev-0007", (const uint8_t *)"offline", 7);
    assert_int_equal(transfer__count(&f->d), MANY);
    transfer__drop_device(&f->d, "dev-0100");
    assert_null(transfer__find(&f->d, "dev-0100", f->release_id));
    assert_non_null(transfer__find(&f->d, "dev-0099", f->release_id));
    assert_non_null(transfer__find(&f->d, "dev-0101", f->release_id));
    assert_int_equal(transfer__count(&f->d), MANY - 1);
    /* its next ACK builds it again (its target still runs) */
    ack(f, "dev-0100", f->release_id, 0, 0);
    assert_non_null(transfer__find(&f->d, "dev-0100", f->release_id));
    assert_int_equal(transfer__count(&f->d), MANY);
    fx_free(f);
}

/* Offline pauses the device's transfer: no retransmission deadline is left. */
static void test_offline_pauses(void **state)
{
    (void)state;
    fx_t *f = fx_new(2);
    ack(f, "dev-0000", f->release_id, 0, 0);
    ack(f, "dev-0001", f->release_id, 0, 0);
    assert_true(transfer__next_timeout_ms(&f->d, mqh_now_ms()) >= 0);
    handle__online(&f->d, "dev-0000", (const uint8_t *)"offline", 7);
    assert_true(transfer__next_timeout_ms(&f->d, mqh_now_ms()) >= 0); /* dev-0001's */
    handle__online(&f->d, "dev-0001", (const uint8_t *)"offline", 7);
    assert_int_equal(transfer__next_timeout_ms(&f->d, mqh_now_ms()), -1);
    fx_free(f);
}

/* The flags of the last OFFER published on dev's topic (fails if the last one was another's). */
static uint32_t last_offer_flags(const char *dev)
{
    char topic[160];
    mqota_offer_t o;
    snprintf(topic, sizeof(topic), MQOTAD_TOPIC_PREFIX "%s/offer", dev);
    assert_string_equal(pub.offer_topic, topic);
    assert_int_equal(mqota_offer_decode(pub.offer, pub.offer_len, &o), MQOTA_OK);
    return o.flags;
}

/* A hold deployment (docs/PROTOCOL.md §5.2): a device announcing MQOTA_CAP_HOLD gets its offer
 * with the hold flag; one without the capability gets nothing until activation. A HELD STATE
 * makes the target ready (unfinished); activating only ready targets leaves the other alone;
 * activating all publishes both offers without the flag and clears it in the rows. */
static void test_hold_and_activate(void **state)
{
    (void)state;
    fx_t *f = fx_new(1);
    db_device_t yes = {0}, no = {0};
    snprintf(yes.id, sizeof(yes.id), "hold-yes");
    yes.caps = MQOTA_CAP_HOLD;
    yes.online = true;
    snprintf(no.id, sizeof(no.id), "hold-no");
    no.online = true;
    assert_int_equal(db__device_put(f->d.db, &yes), 0);
    assert_int_equal(db__device_put(f->d.db, &no), 0);
    const char *const ids[] = {"hold-no", "hold-yes"};
    db_deployment_t dep;
    char err[300];
    int n = -1;
    assert_int_equal(deploy__create_opts(&f->d, f->release_id, ids, 2, false, true, &dep, err,
                                         sizeof(err)),
                     DEPLOY_OK);
    assert_int_equal(pub.offers, 1); /* hold-no's is withheld */
    assert_int_equal(last_offer_flags("hold-yes"), MQOTA_OFFER_FLAG_HOLD);

    /* hold-yes reports held: its target is ready, the deployment still running */
    mqota_state_msg_t m = {0};
    m.state = MQOTA_STATE_HELD;
    m.target_release = (uint32_t)f->release_id;
    m.progress = m.image_size = IMAGE_SIZE;
    db_target_t done;
    assert_int_equal(deploy__on_state(&f->d, &yes, &yes, &m, &done), 0);
    assert_int_equal(target_of(f, "hold-yes").state, TARGET_READY);
    db_counts_t c;
    assert_int_equal(db__deployment_counts(f->d.db, dep.id, &c), 0);
    assert_int_equal(c.ready, 1);
    assert_int_equal(c.pending, 1);

    /* a maintenance window's activation: the ready target, and the withheld one (it cannot
     * hold: it downloads and reboots inside the window); not a held one still downloading */
    db_device_t late = {0};
    snprintf(late.id, sizeof(late.id), "hold-late");
    late.caps = MQOTA_CAP_HOLD;
    assert_int_equal(db__device_put(f->d.db, &late), 0);
    const char *const late_ids[] = {"hold-late"};
    db_deployment_t dep2;
    assert_int_equal(deploy__create_opts(&f->d, f->release_id, late_ids, 1, false, true, &dep2,
                                         err, sizeof(err)),
                     DEPLOY_OK);
    assert_int_equal(pub.offers, 2);
    assert_int_equal(deploy__activate(&f->d, dep2.id, NULL, 0, true, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 0); /* pending, not ready: not activated by a window */
    assert_int_equal(pub.offers, 2);
    assert_int_equal(deploy__activate(&f->d, dep.id, NULL, 0, true, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 2);
    assert_int_equal(pub.offers, 4);
    assert_int_equal(target_of(f, "hold-yes").offer_flags & MQOTA_OFFER_FLAG_HOLD, 0);
    assert_int_equal(target_of(f, "hold-no").offer_flags & MQOTA_OFFER_FLAG_HOLD, 0);
    assert_int_equal(last_offer_flags("hold-yes"), 0);

    /* naming hold-yes again: not held any more */
    const char *const again[] = {"hold-yes"};
    assert_int_equal(deploy__activate(&f->d, dep.id, again, 1, false, &n, err, sizeof(err)),
                     409);
    const char *const stranger[] = {"dev-0000"};
    assert_int_equal(deploy__activate(&f->d, dep.id, stranger, 1, false, &n, err, sizeof(err)),
                     404);
    assert_string_equal(err, "device 'dev-0000' is not a target of deployment 2");

    /* nothing left to activate; the operator's activation takes a target still downloading */
    assert_int_equal(deploy__activate(&f->d, dep.id, NULL, 0, false, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 0);
    assert_int_equal(pub.offers, 4);
    assert_int_equal(deploy__activate(&f->d, dep2.id, NULL, 0, false, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 1);
    assert_int_equal(pub.offers, 5);
    assert_int_equal(last_offer_flags("hold-late"), 0);
    assert_int_equal(deploy__activate(&f->d, 99, NULL, 0, false, &n, err, sizeof(err)), 404);

    /* a device holding a release it has no running target for is told to drop it (its offer
     * cleared again); not while it has a running target of another release */
    assert_int_equal(pub.clears, 0);
    m.target_release = 4242;
    assert_int_equal(deploy__on_state(&f->d, &yes, &yes, &m, &done), 0);
    assert_int_equal(pub.clears, 0); /* hold-yes still has its target of this deployment */
    db_device_t lone = {0};
    snprintf(lone.id, sizeof(lone.id), "lone");
    assert_int_equal(db__device_put(f->d.db, &lone), 0);
    assert_int_equal(deploy__on_state(&f->d, &lone, &lone, &m, &done), 0);
    assert_int_equal(pub.clears, 1);
    /* so does a download of it (its cleared offer missed while offline, docs/ROLLOUTS.md
     * "Cancelling"), but no report of another state */
    m.state = MQOTA_STATE_DOWNLOADING;
    assert_int_equal(deploy__on_state(&f->d, &lone, &lone, &m, &done), 0);
    assert_int_equal(pub.clears, 2);
    m.state = MQOTA_STATE_CONFIRMED;
    assert_int_equal(deploy__on_state(&f->d, &lone, &lone, &m, &done), 0);
    assert_int_equal(pub.clears, 2);
    fx_free(f);
}

int main(void)
{
    mqh_log_init("test_server_ack", MQH_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_ack),
        cmocka_unit_test(test_counters_through_events),
        cmocka_unit_test(test_many_by_device),
        cmocka_unit_test(test_offline_pauses),
        cmocka_unit_test(test_hold_and_activate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
