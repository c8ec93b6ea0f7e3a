/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_server_command.c - mqotad's command module (server/command.c, seal.c, db.c) against a
 * real SQLite file, with mqtt__publish() replaced by a recorder (mosquitto's habit: the real
 * module, stubs around it).
 *
 * The crypto is checked against an independent implementation: known-answer frames made with
 * Python's `cryptography` AESGCM (commands below), and frames the test seals and opens itself
 * with plain OpenSSL EVP calls, building nonce and additional data from the bytes of
 * docs/PROTOCOL.md §14.1 rather than the codec's helpers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "command.h"
#include "db.h"
#include "devlog.h"
#include "mqota/mqota_command.h"
#include "mqota/mqota_proto.h"
#include "mqotad.h"
#include "seal.h"

#define DEV "vdev-0001"
#define DEV2 "vdev-0002"

/*
 * Known answers, from Python 3 with cryptography 48 (AESGCM), key = bytes(range(32)):
 *   hdr = bytes([0x4d,0x51,1,typ,0,0,0,0]) + struct.pack('<Q', counter)
 *   frame = hdr + AESGCM(key).encrypt(hdr[:4] + hdr[8:16], plain, hdr + b"vdev-0001")
 * COMMAND: counter 1795000000123456, plain = struct.pack('<IB',7,5) + b"relay" +
 *          struct.pack('<H',2) + b"on"
 * REPLY:   counter 42, plain = struct.pack('<IBBH',7,0,0,8) + b"relay=on"
 */
static const char kat_command_hex[] =
    "4d51010500000000401261018b600600cad728add5b856f61fbffeb1be7266396c80be654622c67c65ce74cf8c65";
static const char kat_reply_hex[] =
    "4d510106000000002a000000000000007cbcfa164d1ca9232445938b250abb51f5e2ecdc14072a227f70ceb9d5c2ab63";

/* ---- the rest of mqotad, stubbed ---- */

static struct {
    char topic[160];
    uint8_t payload[2048];
    size_t len;
    int qos;
    bool retain;
    int count;
    bool fail;
} pub;

int mqtt__publish(mqotad_t *d, const char *topic, const void *payload, size_t len, int qos,
                  bool retain)
{
    (void)d;
    if (pub.fail) return -1;
    snprintf(pub.topic, sizeof(pub.topic), "%s", topic);
    assert_true(len <= sizeof(pub.payload));
    memcpy(pub.payload, payload, len);
    pub.len = len;
    pub.qos = qos;
    pub.retain = retain;
    pub.count++;
    return 0;
}

/* ---- an independent AES-256-GCM (plain EVP, nonce and AAD from the spec's bytes) ---- */

static uint8_t key1[32], key2[32];

static size_t unhex(const char *h, uint8_t *out)
{
    size_t n = strlen(h) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(h + 2 * i, "%2x", &v);
        out[i] = (uint8_t)v;
    }
    return n;
}

static void le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* Seal plain as a frame of type for device dev. Returns the frame length. */
static size_t ref_seal(const uint8_t *key, uint8_t type, uint64_t counter, const char *dev,
                       const uint8_t *plain, size_t n, uint8_t *out)
{
    uint8_t nonce[12], aad[16 + 64];
    int len;
    const uint8_t hdr[8] = {0x4d, 0x51, 0x01, type, 0, 0, 0, 0};
    memcpy(out, hdr, 8);
    le64(out + 8, counter);
    memcpy(nonce, out, 4);
    memcpy(nonce + 4, out + 8, 8);
    memcpy(aad, out, 16);
    memcpy(aad + 16, dev, strlen(dev));
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    assert_int_equal(EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, nonce), 1);
    assert_int_equal(EVP_EncryptUpdate(c, NULL, &len, aad, (int)(16 + strlen(dev))), 1);
    assert_int_equal(EVP_EncryptUpdate(c, out + 16, &len, plain, (int)n), 1);
    assert_int_equal(EVP_EncryptFinal_ex(c, out + 16 + n, &len), 1);
    assert_int_equal(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, out + 16 + n), 1);
    EVP_CIPHER_CTX_free(c);
    return n + 32;
}

/* Open a frame for device dev; 0 when it authenticates. */
static int ref_open(const uint8_t *key, const uint8_t *f, size_t flen, const char *dev,
                    uint8_t *plain)
{
    uint8_t nonce[12], aad[16 + 64], tag[16];
    int len, ok;
    size_t n = flen - 32;
    memcpy(nonce, f, 4);
    memcpy(nonce + 4, f + 8, 8);
    memcpy(aad, f, 16);
    memcpy(aad + 16, dev, strlen(dev));
    memcpy(tag, f + 16 + n, 16);
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, nonce);
    EVP_DecryptUpdate(c, NULL, &len, aad, (int)(16 + strlen(dev)));
    EVP_DecryptUpdate(c, plain, &len, f + 16, (int)n);
    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, tag);
    ok = EVP_DecryptFinal_ex(c, plain + n, &len);
    EVP_CIPHER_CTX_free(c);
    return ok == 1 ? 0 : -1;
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

/* A REPLY plaintext (§14.3) built from bytes, for device replies. */
static size_t reply_plain(uint32_t id, uint8_t result, const void *body, uint16_t n, uint8_t *out)
{
    out[0] = (uint8_t)id;
    out[1] = (uint8_t)(id >> 8);
    out[2] = (uint8_t)(id >> 16);
    out[3] = (uint8_t)(id >> 24);
    out[4] = result;
    out[5] = 0;
    out[6] = (uint8_t)n;
    out[7] = (uint8_t)(n >> 8);
    memcpy(out + 8, body, n);
    return 8u + n;
}

/* A sealed REPLY from device dev. */
static size_t device_reply(const uint8_t *key, const char *dev, uint64_t counter, uint32_t id,
                           uint8_t result, const void *body, uint16_t n, uint8_t *frame)
{
    uint8_t plain[1024];
    size_t pn = reply_plain(id, result, body, n, plain);
    return ref_seal(key, MQOTA_MSG_REPLY, counter, dev, plain, pn, frame);
}

/* A sealed refusal report from dev. */
static size_t device_refusal(const uint8_t *key, const char *dev, uint64_t counter,
                             uint8_t result, uint64_t refused, uint64_t highest, uint32_t total,
                             uint8_t *frame)
{
    uint8_t body[24] = {0};
    le64(body, refused);
    le64(body + 8, highest);
    body[16] = (uint8_t)total;
    body[17] = (uint8_t)(total >> 8);
    return device_reply(key, dev, counter, 0, result, body, 24, frame);
}

/* ---- fixture: a daemon context over a fresh database with two provisioned devices ---- */

typedef struct {
    mqotad_t d;
    char dir[64];
    char path[128];
} fx_t;

static void put_device(db_t *db, const char *id, bool online, uint32_t caps)
{
    db_device_t dv;
    memset(&dv, 0, sizeof(dv));
    snprintf(dv.id, sizeof(dv.id), "%s", id);
    dv.online = online;
    dv.caps = caps;
    dv.first_seen = dv.last_seen = mqh_unix_now();
    assert_int_equal(db__device_put(db, &dv), 0);
}

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/mqota-cmdtest.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/mqota.db", f->dir);
    assert_int_equal(db__open(&f->d.db, f->path), 0);
    f->d.mqtt_connected = true;
    f->d.command_timeout_s = 30;
    for (int i = 0; i < 32; i++) {
        key1[i] = (uint8_t)i;
        key2[i] = (uint8_t)(0xA0 + i);
    }
    put_device(f->d.db, DEV, true, MQOTA_CAP_COMMANDS | MQOTA_CAP_RESUME);
    put_device(f->d.db, DEV2, true, MQOTA_CAP_COMMANDS);
    assert_int_equal(db__key_put(f->d.db, DEV, key1, mqh_unix_now()), 0);
    assert_int_equal(db__key_put(f->d.db, DEV2, key2, mqh_unix_now()), 0);
    memset(&pub, 0, sizeof(pub));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    char cmd[160];
    db__close(f->d.db);
    devlog__free(&f->d); /* the per-device warning counts (server/devlog.c) */
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static db_command_t *queue(fx_t *f, const char *dev, const char *name, const char *args,
                           command_result_t expect)
{
    static db_command_t c;
    char err[512] = "";
    command_result_t rc = command__queue(&f->d, dev, name, (const uint8_t *)args, strlen(args),
                                         COMMAND_TTL_DEFAULT_S, &c, err, sizeof(err));
    if (rc != expect) fail_msg("queue %s %s: %d (%s), expected %d", name, args, rc, err, expect);
    return &c;
}

static db_command_t get(fx_t *f, int64_t id)
{
    db_command_t c;
    assert_int_equal(db__command_get(f->d.db, id, &c), 0);
    return c;
}

/* ---- tests ---- */

static void test_seal_known_answers(void **state)
{
    (void)state;
    uint8_t kat[128], plain[64], frame[128];
    size_t n = unhex(kat_command_hex, kat), plen, flen;
    for (int i = 0; i < 32; i++) key1[i] = (uint8_t)i;
    mqota_command_t cmd = {.command_id = 7, .name = "relay", .args_len = 2,
                           .args = (const uint8_t *)"on"};
    assert_int_equal(mqota_command_encode(&cmd, plain, sizeof(plain), &plen), MQOTA_OK);
    assert_int_equal(seal__frame(key1, MQOTA_MSG_COMMAND, 1795000000123456ull, DEV, plain, plen,
                                 frame, sizeof(frame), &flen), 0);
    assert_int_equal(flen, n);
    assert_memory_equal(frame, kat, n);

    /* the REPLY known answer opens and decodes */
    mqota_sealed_t s;
    mqota_reply_t r;
    n = unhex(kat_reply_hex, kat);
    assert_int_equal(mqota_sealed_decode(kat, n, MQOTA_MSG_REPLY, &s), MQOTA_OK);
    assert_int_equal(s.counter, 42);
    assert_int_equal(seal__open(key1, &s, DEV, plain), 0);
    assert_int_equal(mqota_reply_decode(plain, s.ciphertext_len, &r), MQOTA_OK);
    assert_int_equal(r.command_id, 7);
    assert_int_equal(r.result, MQOTA_CMD_OK);
    assert_int_equal(r.body_len, 8);
    assert_memory_equal(r.body, "relay=on", 8);
    /* and our own seal of the same plaintext is byte-identical */
    assert_int_equal(seal__frame(key1, MQOTA_MSG_REPLY, 42, DEV, plain, s.ciphertext_len, frame,
                                 sizeof(frame), &flen), 0);
    assert_memory_equal(frame, kat, n);
}

/* Every single-byte change of a sealed reply, another device id and another key: refused. */
static void test_open_refuses_any_change(void **state)
{
    (void)state;
    uint8_t kat[128], f[128], plain[128];
    size_t n = unhex(kat_reply_hex, kat);
    mqota_sealed_t s;
    for (int i = 0; i < 32; i++) key1[i] = (uint8_t)i;
    for (size_t i = 0; i < n; i++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(f, kat, n);
            f[i] ^= (uint8_t)(1u << bit);
            if (mqota_sealed_decode(f, n, MQOTA_MSG_REPLY, &s) != MQOTA_OK) continue;
            if (seal__open(key1, &s, DEV, plain) == 0) fail_msg("byte %zu bit %d opened", i, bit);
        }
    }
    assert_int_equal(mqota_sealed_decode(kat, n, MQOTA_MSG_REPLY, &s), MQOTA_OK);
    assert_int_not_equal(seal__open(key1, &s, DEV2, plain), 0);
    key1[31] ^= 1;
    assert_int_not_equal(seal__open(key1, &s, DEV, plain), 0);
    key1[31] ^= 1;
    assert_int_equal(mqota_sealed_decode(kat, n - 1, MQOTA_MSG_REPLY, &s), MQOTA_OK);
    assert_int_not_equal(seal__open(key1, &s, DEV, plain), 0); /* truncated tag */
}

/* Queued for an online device that takes commands: published at once, QoS 1, not retained,
 * opens with the device's key, counter stored before, from the wall clock in microseconds. */
static void test_queue_sends_sealed_command(void **state)
{
    fx_t *f = *state;
    uint8_t plain[1024];
    uint64_t before = command__unix_us();
    db_command_t *c = queue(f, DEV, "relay", "on", COMMAND_OK);
    uint64_t after = command__unix_us();
    assert_string_equal(c->state, "sent");
    assert_int_equal(pub.count, 1);
    assert_string_equal(pub.topic, "mqota/v1/dev/" DEV "/cmd");
    assert_int_equal(pub.qos, 1);
    assert_false(pub.retain);
    assert_int_equal(pub.len, 32 + 7 + 5 + 2);
    assert_int_equal(ref_open(key1, pub.payload, pub.len, DEV, plain), 0);
    assert_int_not_equal(ref_open(key2, pub.payload, pub.len, DEV, plain), 0);
    assert_int_not_equal(ref_open(key1, pub.payload, pub.len, DEV2, plain), 0);
    assert_int_equal(ref_open(key1, pub.payload, pub.len, DEV, plain), 0);
    mqota_command_t cmd;
    assert_int_equal(mqota_command_decode(plain, pub.len - 32, &cmd), MQOTA_OK);
    assert_int_equal(cmd.command_id, (uint32_t)c->id);
    assert_string_equal(cmd.name, "relay");
    assert_int_equal(cmd.args_len, 2);
    assert_memory_equal(cmd.args, "on", 2);
    assert_int_equal(pub.payload[3], MQOTA_MSG_COMMAND);
    uint64_t counter = get64(pub.payload + 8);
    assert_int_equal(counter, c->counter);
    assert_true(counter >= before && counter <= after);
    db_key_t k;
    assert_int_equal(db__key_get(f->d.db, DEV, &k), 0);
    assert_int_equal(k.command_counter, counter);
    assert_int_equal(k.reply_counter, 0);
}

/* max(last + 1, now in us): a stored counter ahead of the clock still rises by one. */
static void test_counter_strictly_rises(void **state)
{
    fx_t *f = *state;
    uint64_t ahead = command__unix_us() + 1000000000000ull; /* 11.6 days ahead */
    assert_int_equal(db__key_set_command_counter(f->d.db, DEV, ahead), 0);
    db_command_t *c = queue(f, DEV, "diagnostics", "", COMMAND_OK);
    assert_int_equal(c->counter, ahead + 1);
    c = queue(f, DEV, "diagnostics", "", COMMAND_OK);
    assert_int_equal(c->counter, ahead + 2);
    assert_int_equal(get64(pub.payload + 8), ahead + 2);
    /* a device's counters are its own */
    c = queue(f, DEV2, "diagnostics", "", COMMAND_OK);
    assert_true(c->counter < ahead);
}

/* Offline, or no MQOTA_CAP_COMMANDS, or mqotad not connected: queued; sent when ready. */
static void test_waits_until_device_ready(void **state)
{
    fx_t *f = *state;
    db__device_set_online(f->d.db, DEV, false, mqh_unix_now());
    db_command_t *c = queue(f, DEV, "reboot", "", COMMAND_OK);
    int64_t id = c->id;
    assert_string_equal(c->state, "queued");
    assert_int_equal(c->counter, 0);
    assert_int_equal(pub.count, 0);
    put_device(f->d.db, DEV, true, MQOTA_CAP_RESUME); /* online, but no commands cap */
    command__device_ready(&f->d, DEV);
    assert_int_equal(pub.count, 0);
    put_device(f->d.db, DEV, true, MQOTA_CAP_COMMANDS);
    f->d.mqtt_connected = false;
    command__device_ready(&f->d, DEV);
    assert_int_equal(pub.count, 0);
    f->d.mqtt_connected = true;
    command__device_ready(&f->d, DEV);
    assert_int_equal(pub.count, 1);
    assert_string_equal(get(f, id).state, "sent");
    command__device_ready(&f->d, DEV); /* never sent twice */
    assert_int_equal(pub.count, 1);
}

/* A publish that fails at once leaves the command queued; the next try uses a new counter. */
static void test_failed_publish_requeues(void **state)
{
    fx_t *f = *state;
    pub.fail = true;
    db_command_t *c = queue(f, DEV, "relay", "off", COMMAND_OK);
    int64_t id = c->id;
    assert_string_equal(c->state, "queued");
    db_key_t k;
    assert_int_equal(db__key_get(f->d.db, DEV, &k), 0);
    uint64_t burnt = k.command_counter;
    assert_true(burnt > 0);
    pub.fail = false;
    command__device_ready(&f->d, DEV);
    assert_int_equal(pub.count, 1);
    db_command_t s = get(f, id);
    assert_string_equal(s.state, "sent");
    assert_true(s.counter > burnt);
}

/* A genuine reply finishes the command; the same frame again, an older counter, a changed
 * byte, another device's key: each dropped and counted, nothing changes. */
static void test_reply_done_then_replays_dropped(void **state)
{
    fx_t *f = *state;
    uint8_t fr[1100], bad[1100];
    db_command_t *c = queue(f, DEV, "relay", "on", COMMAND_OK);
    int64_t id = c->id;
    size_t n = device_reply(key1, DEV, 5, (uint32_t)id, MQOTA_CMD_OK, "relay=on", 8, fr);
    command__handle_reply(&f->d, DEV, fr, n);
    db_command_t s = get(f, id);
    assert_string_equal(s.state, "done");
    assert_string_equal(s.result, "ok");
    assert_int_equal(s.reply_len, 8);
    assert_memory_equal(s.reply, "relay=on", 8);
    assert_true(s.finished_at > 0);
    assert_int_equal(f->d.cmd_replies_dropped, 0);
    db_key_t k;
    assert_int_equal(db__key_get(f->d.db, DEV, &k), 0);
    assert_int_equal(k.reply_counter, 5);

    command__handle_reply(&f->d, DEV, fr, n); /* replay */
    assert_int_equal(f->d.cmd_replies_dropped, 1);
    db_command_t *c2 = queue(f, DEV, "relay", "off", COMMAND_OK);
    int64_t id2 = c2->id;
    n = device_reply(key1, DEV, 4, (uint32_t)id2, MQOTA_CMD_OK, "relay=off", 9, fr); /* older */
    command__handle_reply(&f->d, DEV, fr, n);
    assert_int_equal(f->d.cmd_replies_dropped, 2);
    assert_string_equal(get(f, id2).state, "sent");
    n = device_reply(key1, DEV, 6, (uint32_t)id2, MQOTA_CMD_OK, "relay=off", 9, fr);
    memcpy(bad, fr, n);
    bad[20] ^= 0x01; /* ciphertext */
    command__handle_reply(&f->d, DEV, bad, n);
    memcpy(bad, fr, n);
    bad[8] ^= 0x01;  /* counter in the header */
    command__handle_reply(&f->d, DEV, bad, n);
    command__handle_reply(&f->d, DEV2, fr, n); /* on another device's topic */
    size_t m = device_reply(key2, DEV, 7, (uint32_t)id2, MQOTA_CMD_OK, "relay=off", 9, bad);
    command__handle_reply(&f->d, DEV, bad, m); /* sealed with another key */
    command__handle_reply(&f->d, DEV, (const uint8_t *)"hello", 5); /* not a frame */
    assert_int_equal(f->d.cmd_replies_dropped, 7);
    assert_string_equal(get(f, id2).state, "sent");
    assert_int_equal(db__key_get(f->d.db, DEV, &k), 0);
    assert_int_equal(k.reply_counter, 5);
    command__handle_reply(&f->d, DEV, fr, n); /* the genuine one still works */
    assert_string_equal(get(f, id2).state, "done");
    assert_int_equal(f->d.cmd_replies_dropped, 7);
}

/* Any result but ok is "failed", with the result's name and the body. */
static void test_reply_failed(void **state)
{
    fx_t *f = *state;
    uint8_t fr[1100];
    static const struct { uint8_t result; const char *name; } cases[] = {
        {MQOTA_CMD_UNKNOWN, "unknown-command"}, {MQOTA_CMD_FAILED, "failed"},
        {MQOTA_CMD_WRONG_STATE, "wrong-state"}};
    for (size_t i = 0; i < 3; i++) {
        int64_t id = queue(f, DEV, "confirm", "", COMMAND_OK)->id;
        size_t n = device_reply(key1, DEV, 10 + i, (uint32_t)id, cases[i].result, "why", 3, fr);
        command__handle_reply(&f->d, DEV, fr, n);
        db_command_t s = get(f, id);
        assert_string_equal(s.state, "failed");
        assert_string_equal(s.result, cases[i].name);
        assert_memory_equal(s.reply, "why", 3);
    }
    /* a reply naming another device's command changes nothing */
    int64_t other = queue(f, DEV2, "diagnostics", "", COMMAND_OK)->id;
    size_t n = device_reply(key1, DEV, 20, (uint32_t)other, MQOTA_CMD_OK, "", 0, fr);
    command__handle_reply(&f->d, DEV, fr, n);
    assert_string_equal(get(f, other).state, "sent");
}

typedef struct {
    db_refusal_t r[8];
    int n;
} refusals_t;

static int collect(void *ctx, const db_refusal_t *r)
{
    refusals_t *c = ctx;
    if (c->n < 8) c->r[c->n++] = *r;
    return 0;
}

/* Refusal reports are stored; one that names the counter of a command in flight marks it
 * refused (a command altered on its way); an answered command keeps its state. */
static void test_refusal_reports(void **state)
{
    fx_t *f = *state;
    uint8_t fr[1100];
    db_command_t *c = queue(f, DEV, "relay", "on", COMMAND_OK);
    int64_t id = c->id;
    uint64_t ctr = c->counter;
    size_t n = device_refusal(key1, DEV, 1, MQOTA_CMD_REFUSED_FORGED, ctr, 0, 1, fr);
    command__handle_reply(&f->d, DEV, fr, n);
    db_command_t s = get(f, id);
    assert_string_equal(s.state, "refused");
    assert_string_equal(s.result, "refused-forged");

    int64_t id2 = queue(f, DEV, "relay", "off", COMMAND_OK)->id;
    uint64_t ctr2 = get(f, id2).counter;
    n = device_reply(key1, DEV, 2, (uint32_t)id2, MQOTA_CMD_OK, "relay=off", 9, fr);
    command__handle_reply(&f->d, DEV, fr, n);
    n = device_refusal(key1, DEV, 3, MQOTA_CMD_REFUSED_REPLAY, ctr2, ctr2, 2, fr);
    command__handle_reply(&f->d, DEV, fr, n);
    assert_string_equal(get(f, id2).state, "done");
    n = device_refusal(key1, DEV, 4, MQOTA_CMD_REFUSED_MALFORMED, 0, ctr2, 3, fr);
    command__handle_reply(&f->d, DEV, fr, n);
    n = device_reply(key1, DEV, 5, 0, MQOTA_CMD_OK, "x", 1, fr); /* not a refusal */
    command__handle_reply(&f->d, DEV, fr, n);
    assert_int_equal(f->d.cmd_replies_dropped, 1);

    refusals_t got = {0};
    int64_t total = 0;
    assert_int_equal(db__refusal_list(f->d.db, DEV, 8, collect, &got, &total), 0);
    assert_int_equal(total, 3);
    assert_int_equal(got.n, 3);
    assert_string_equal(got.r[0].result, "refused-malformed"); /* newest first */
    assert_int_equal(got.r[0].command_id, 0);
    assert_int_equal(got.r[0].refused_total, 3);
    assert_string_equal(got.r[1].result, "refused-replay");
    assert_int_equal(got.r[1].command_id, id2);
    assert_int_equal(got.r[1].refused_counter, ctr2);
    assert_int_equal(got.r[1].highest_counter, ctr2);
    assert_string_equal(got.r[2].result, "refused-forged");
    assert_int_equal(got.r[2].command_id, id);
    assert_int_equal(db__refusal_list(f->d.db, DEV2, 8, collect, &got, &total), 0);
    assert_int_equal(total, 0);
}

/* Sent without a reply for --command-timeout: timeout (a late reply changes nothing);
 * queued past its ttl: expired. */
static void test_timeout_and_expiry(void **state)
{
    fx_t *f = *state;
    uint8_t fr[1100];
    int64_t now = mqh_unix_now();
    int64_t sent = queue(f, DEV, "diagnostics", "", COMMAND_OK)->id;
    db__device_set_online(f->d.db, DEV2, false, now);
    char err[256];
    db_command_t q;
    assert_int_equal(command__queue(&f->d, DEV2, "reboot", NULL, 0, 5, &q, err, sizeof(err)),
                     COMMAND_OK);
    command__check_times(&f->d, now + 4);
    assert_string_equal(get(f, sent).state, "sent");
    assert_string_equal(get(f, q.id).state, "queued");
    command__check_times(&f->d, now + 6);
    assert_string_equal(get(f, q.id).state, "expired");
    assert_string_equal(get(f, sent).state, "sent");
    command__check_times(&f->d, now + 31);
    assert_string_equal(get(f, sent).state, "timeout");
    size_t n = device_reply(key1, DEV, 9, (uint32_t)sent, MQOTA_CMD_OK, "late", 4, fr);
    command__handle_reply(&f->d, DEV, fr, n);
    db_command_t s = get(f, sent);
    assert_string_equal(s.state, "timeout");
    assert_int_equal(s.reply_len, 0);
    /* an expired command is never sent */
    put_device(f->d.db, DEV2, true, MQOTA_CAP_COMMANDS);
    int before = pub.count;
    command__device_ready(&f->d, DEV2);
    assert_int_equal(pub.count, before);
}

/* mqotad restarts: the database carries the sent command (timed out once its time is up)
 * and the counters. */
static void test_state_survives_restart(void **state)
{
    fx_t *f = *state;
    int64_t id = queue(f, DEV, "reboot", "", COMMAND_OK)->id;
    uint64_t ctr = get(f, id).counter;
    db__close(f->d.db);
    assert_int_equal(db__open(&f->d.db, f->path), 0);
    memset(&pub, 0, sizeof(pub));
    command__device_ready(&f->d, DEV);
    assert_int_equal(pub.count, 0); /* not sent again */
    command__check_times(&f->d, mqh_unix_now() + 31);
    assert_string_equal(get(f, id).state, "timeout");
    db_command_t *c = queue(f, DEV, "diagnostics", "", COMMAND_OK);
    assert_true(c->counter > ctr);
}

/* Bad names, args that would make the frame longer than 1024 bytes, bad ttl, unknown device,
 * device without a key: refused with a sentence; nothing stored. */
static void test_validation(void **state)
{
    fx_t *f = *state;
    char err[512], args[1100];
    db_command_t c;
    static const char *const bad_names[] = {"", "Relay", "relay on", "r/x", "relay\xc3\xa9",
                                            "abcdefghijklmnopqrstuvwxyz012345"};
    for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
        err[0] = '\0';
        assert_int_equal(command__queue(&f->d, DEV, bad_names[i], NULL, 0, 60, &c, err,
                                        sizeof(err)), COMMAND_INVALID);
        assert_non_null(strstr(err, "command name"));
    }
    queue(f, DEV, "abcdefghijklmnopqrstuvwxyz01234", "", COMMAND_OK); /* 31 bytes */
    memset(args, 'x', sizeof(args));
    args[980] = '\0'; /* 32 + 7 + 5 + 980 = 1024 */
    db_command_t *ok = queue(f, DEV, "relay", args, COMMAND_OK);
    assert_int_equal(pub.len, 1024);
    assert_int_equal(ok->args_len, 980);
    args[980] = 'x';
    args[981] = '\0';
    assert_int_equal(command__queue(&f->d, DEV, "relay", (const uint8_t *)args, 981, 60, &c, err,
                                    sizeof(err)), COMMAND_INVALID);
    assert_non_null(strstr(err, "at most 980 bytes"));
    assert_int_equal(command__queue(&f->d, DEV, "relay", NULL, 0, 0, &c, err, sizeof(err)),
                     COMMAND_INVALID);
    assert_int_equal(command__queue(&f->d, DEV, "relay", NULL, 0, COMMAND_TTL_MAX_S + 1, &c, err,
                                    sizeof(err)), COMMAND_INVALID);
    assert_int_equal(command__queue(&f->d, "nobody", "relay", NULL, 0, 60, &c, err, sizeof(err)),
                     COMMAND_UNKNOWN_DEVICE);
    assert_string_equal(err, "unknown device 'nobody'");
    put_device(f->d.db, "keyless", true, MQOTA_CAP_COMMANDS);
    assert_int_equal(command__queue(&f->d, "keyless", "relay", NULL, 0, 60, &c, err,
                                    sizeof(err)), COMMAND_NO_KEY);
    assert_non_null(strstr(err, "device provision --replace keyless"));
    /* provisioned but never seen: accepted, waits */
    assert_int_equal(db__key_put(f->d.db, "new-dev", key2, mqh_unix_now()), 0);
    assert_int_equal(command__queue(&f->d, "new-dev", "relay", NULL, 0, 60, &c, err,
                                    sizeof(err)), COMMAND_OK);
    assert_string_equal(c.state, "queued");
}

/* Re-provisioning replaces the key and resets both counters; revoking deletes it and a
 * command still queued for the device expires instead of being sealed. */
static void test_rotation_and_revocation(void **state)
{
    fx_t *f = *state;
    uint8_t fr[1100], plain[1024];
    queue(f, DEV, "diagnostics", "", COMMAND_OK);
    size_t n = device_reply(key1, DEV, 50, 1, MQOTA_CMD_OK, "", 0, fr);
    command__handle_reply(&f->d, DEV, fr, n);
    assert_int_equal(db__key_put(f->d.db, DEV, key2, mqh_unix_now()), 0); /* rotation */
    db_key_t k;
    assert_int_equal(db__key_get(f->d.db, DEV, &k), 0);
    assert_int_equal(k.command_counter, 0);
    assert_int_equal(k.reply_counter, 0);
    assert_memory_equal(k.key, key2, 32);
    queue(f, DEV, "diagnostics", "", COMMAND_OK);
    assert_int_equal(ref_open(key2, pub.payload, pub.len, DEV, plain), 0);
    assert_int_not_equal(ref_open(key1, pub.payload, pub.len, DEV, plain), 0);

    db__device_set_online(f->d.db, DEV, false, mqh_unix_now());
    int64_t id = queue(f, DEV, "reboot", "", COMMAND_OK)->id;
    assert_int_equal(db__key_delete(f->d.db, DEV), 0);
    put_device(f->d.db, DEV, true, MQOTA_CAP_COMMANDS);
    int before = pub.count;
    command__device_ready(&f->d, DEV);
    assert_int_equal(pub.count, before);
    assert_string_equal(get(f, id).state, "expired");
    char err[256];
    db_command_t c;
    assert_int_equal(command__queue(&f->d, DEV, "reboot", NULL, 0, 60, &c, err, sizeof(err)),
                     COMMAND_NO_KEY);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seal_known_answers),
        cmocka_unit_test(test_open_refuses_any_change),
        cmocka_unit_test_setup_teardown(test_queue_sends_sealed_command, setup, teardown),
        cmocka_unit_test_setup_teardown(test_counter_strictly_rises, setup, teardown),
        cmocka_unit_test_setup_teardown(test_waits_until_device_ready, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_publish_requeues, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reply_done_then_replays_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reply_failed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusal_reports, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout_and_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_survives_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_validation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotation_and_revocation, setup, teardown),
    };
    mqh_log_init("test_server_command", MQH_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
