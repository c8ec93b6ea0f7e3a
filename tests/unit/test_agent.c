/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of the device agent's state machine, with the platform hooks faked in RAM:
 * two OTA slots, a key-value table, a clock, and a log of what was published. The image is a
 * real ESP-IDF build from the shared fixtures.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fixtures.h"
#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "mqota/mqota.h"
#include "mqota/mqota_record.h"
#include "mqota_posix/aead.h"
#include "image_variant.h"

#define SLOT_BYTES (2u * 1024u * 1024u)
#define KV_MAX 16
#define PUB_MAX 4096

typedef struct {
    char key[16];
    uint8_t val[256];
    size_t len;
    int used;
} kv_entry_t;

typedef struct {
    char topic[128];
    uint8_t payload[1100];
    size_t len;
    int qos;
    bool retain;
} pub_t;

/* The fake device: survives "reboots" (re-init of the agent), like flash does. */
static struct {
    uint8_t slot[2][SLOT_BYTES];
    uint8_t running_slot;
    mqota_slot_state_t running_state;
    int boot_slot; /* set by slot_set_boot, -1 if not */
    kv_entry_t kv[KV_MAX];
    uint64_t now;
    EVP_MD_CTX *sha;
    pub_t pubs[PUB_MAX];
    int npub;
    int reboots;
    int mark_valid_calls;
    int mark_invalid_calls;
    bool self_test_ok;
    bool fail_writes;
    int kv_sets;
    int slot_begin_calls;
    int verify_calls;
    bool have_slot_state_of;    /* give the agent the slot_state_of hook */
    mqota_slot_state_t state_of[2]; /* what slot_state_of answers */
    bool fail_kv_set;           /* kv_set fails */
    bool have_efuse;            /* give the agent the secure_version hooks */
    uint32_t efuse_sv;          /* the eFuse secure version they keep (survives a kv wipe) */
    int efuse_raises;           /* secure_version_raise calls */
    bool fail_efuse_raise;      /* secure_version_raise fails */
    bool fail_efuse_read;       /* secure_version_read fails */
} dev;

static uint8_t *image;
static size_t image_len;
static uint8_t image_sha[32];
static char image_version[32]; /* the fixture's esp_app_desc_t.version */

/* Give the test image's esp_app_desc_t secure_version sv (mqota-image-variant's code), with
 * its own version kept, and recompute its SHA-256. */
static void image_sv(uint32_t sv)
{
    char err[128] = "";
    if (image_variant_apply(image, image_len, image_version, &sv, err, sizeof(err)) != 0) {
        fail_msg("image_variant_apply: %s", err);
    }
    SHA256(image, image_len, image_sha);
}

/* ---- fake hooks ---- */
static int f_publish(void *c, const char *t, const uint8_t *p, size_t l, int q, bool r)
{
    (void)c;
    assert_true(dev.npub < PUB_MAX);
    pub_t *e = &dev.pubs[dev.npub++];
    snprintf(e->topic, sizeof(e->topic), "%s", t);
    e->len = l < sizeof(e->payload) ? l : sizeof(e->payload);
    memcpy(e->payload, p, e->len);
    e->qos = q;
    e->retain = r;
    return 0;
}
static char subs[16][128];
static int nsubs;
static char unsubs[16][128];
static int nunsubs;
static int f_subscribe(void *c, const char *t, int q)
{
    (void)c;
    (void)q;
    if (nsubs < 16) snprintf(subs[nsubs++], sizeof(subs[0]), "%s", t);
    return 0;
}
static int f_unsubscribe(void *c, const char *t)
{
    (void)c;
    if (nunsubs < 16) snprintf(unsubs[nunsubs++], sizeof(unsubs[0]), "%s", t);
    return 0;
}
static int f_running(void *c, mqota_running_t *o)
{
    (void)c;
    memset(o, 0, sizeof(*o));
    o->chip_id = 0;
    o->running_slot = dev.running_slot;
    o->slot_count = 2;
    o->boot_count = 1;
    snprintf(o->project, sizeof(o->project), "hello_world");
    snprintf(o->version, sizeof(o->version), dev.running_slot ? "new" : "1");
    snprintf(o->idf_ver, sizeof(o->idf_ver), "v5.0");
    return 0;
}
static int f_slot_size(void *c, uint8_t s, uint32_t *b) { (void)c; (void)s; *b = SLOT_BYTES; return 0; }
static int f_slot_begin(void *c, uint8_t s, uint32_t size, uint32_t from)
{
    (void)c;
    assert_int_not_equal(s, dev.running_slot);
    assert_int_equal(from % 4096u, 0);
    dev.slot_begin_calls++;
    uint32_t end = (size + 4095u) / 4096u * 4096u;
    if (from > end) return -1; /* as the POSIX port and esp_ota_resume: nothing beyond the image */
    memset(dev.slot[s] + from, 0xFF, end - from);
    return 0;
}
static int f_slot_write(void *c, uint8_t s, uint32_t off, const uint8_t *d, size_t l)
{
    (void)c;
    if (dev.fail_writes) return -1;
    assert_int_not_equal(s, dev.running_slot);
    assert_true(off + l <= SLOT_BYTES);
    for (size_t i = 0; i < l; i++) dev.slot[s][off + i] &= d[i]; /* NOR */
    return 0;
}
static int f_slot_read(void *c, uint8_t s, uint32_t off, uint8_t *d, size_t l)
{
    (void)c;
    assert_true(off + l <= SLOT_BYTES);
    memcpy(d, dev.slot[s] + off, l);
    return 0;
}
static int f_slot_end(void *c, uint8_t s, uint32_t size) { (void)c; (void)s; (void)size; return 0; }
static int f_set_boot(void *c, uint8_t s) { (void)c; dev.boot_slot = s; return 0; }
static int f_slot_state(void *c, mqota_slot_state_t *st) { (void)c; *st = dev.running_state; return 0; }
static int f_mark_valid(void *c) { (void)c; dev.mark_valid_calls++; dev.running_state = MQOTA_SLOT_VALID; return 0; }
static int f_mark_invalid(void *c) { (void)c; dev.mark_invalid_calls++; dev.running_state = MQOTA_SLOT_INVALID; return 0; }
static void f_reboot(void *c) { (void)c; dev.reboots++; }
static kv_entry_t *kv_find(const char *k)
{
    for (int i = 0; i < KV_MAX; i++)
        if (dev.kv[i].used && strcmp(dev.kv[i].key, k) == 0) return &dev.kv[i];
    return NULL;
}
static int f_kv_get(void *c, const char *k, void *b, size_t cap, size_t *len)
{
    (void)c;
    kv_entry_t *e = kv_find(k);
    if (!e) return MQOTA_ERR_NOT_FOUND;
    if (e->len > cap) return -1;
    memcpy(b, e->val, e->len);
    *len = e->len;
    return 0;
}
static int f_kv_set(void *c, const char *k, const void *b, size_t len)
{
    if (dev.fail_kv_set) return -1;
    (void)c;
    assert_true(strlen(k) <= 15);
    assert_true(len <= sizeof(dev.kv[0].val));
    kv_entry_t *e = kv_find(k);
    for (int i = 0; !e && i < KV_MAX; i++)
        if (!dev.kv[i].used) e = &dev.kv[i];
    if (e == NULL) return -1; /* the fake store is full */
    snprintf(e->key, sizeof(e->key), "%s", k);
    memcpy(e->val, b, len);
    e->len = len;
    e->used = 1;
    dev.kv_sets++;
    return 0;
}
static int f_kv_erase(void *c, const char *k)
{
    (void)c;
    kv_entry_t *e = kv_find(k);
    if (e) e->used = 0;
    return 0;
}
static uint64_t f_now(void *c) { (void)c; return dev.now; }
static int f_sha_begin(void *c)
{
    (void)c;
    if (!dev.sha) dev.sha = EVP_MD_CTX_new();
    return EVP_DigestInit_ex(dev.sha, EVP_sha256(), NULL) == 1 ? 0 : -1;
}
static int f_sha_update(void *c, const uint8_t *d, size_t l)
{
    (void)c;
    return EVP_DigestUpdate(dev.sha, d, l) == 1 ? 0 : -1;
}
static int f_sha_finish(void *c, uint8_t o[32])
{
    (void)c;
    unsigned n = 0;
    return EVP_DigestFinal_ex(dev.sha, o, &n) == 1 && n == 32 ? 0 : -1;
}
static bool f_self_test(void *c) { (void)c; return dev.self_test_ok; }

/* The device's trusted release key (public half used by f_verify), and the signing keys. */
static EVP_PKEY *trusted_key, *other_key;

/* verify_signature: raw r || s to DER, then OpenSSL, like the POSIX port. */
static int f_verify(void *c, const uint8_t digest[32], const uint8_t *sig, size_t len)
{
    (void)c;
    dev.verify_calls++;
    if (len != 64) return -1;
    ECDSA_SIG *es = ECDSA_SIG_new();
    ECDSA_SIG_set0(es, BN_bin2bn(sig, 32, NULL), BN_bin2bn(sig + 32, 32, NULL));
    unsigned char *der = NULL;
    int der_len = i2d_ECDSA_SIG(es, &der);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(trusted_key, NULL);
    int ok = EVP_PKEY_verify_init(ctx) == 1 &&
             EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) == 1 &&
             EVP_PKEY_verify(ctx, der, (size_t)der_len, digest, 32) == 1;
    EVP_PKEY_CTX_free(ctx);
    OPENSSL_free(der);
    ECDSA_SIG_free(es);
    return ok ? 0 : -1;
}

static const mqota_platform_t plat = {
    .ctx = NULL, .publish = f_publish, .subscribe = f_subscribe, .unsubscribe = f_unsubscribe,
    .running = f_running,
    .slot_size = f_slot_size, .slot_begin = f_slot_begin, .slot_write = f_slot_write,
    .slot_read = f_slot_read, .slot_end = f_slot_end, .slot_set_boot = f_set_boot,
    .slot_state = f_slot_state, .slot_mark_valid = f_mark_valid,
    .slot_mark_invalid = f_mark_invalid, .reboot = f_reboot, .kv_get = f_kv_get,
    .kv_set = f_kv_set, .kv_erase = f_kv_erase, .now_ms = f_now, .sha256_begin = f_sha_begin,
    .sha256_update = f_sha_update, .sha256_finish = f_sha_finish, .self_test = f_self_test,
};

/* The eFuse secure version: one way, like esp_efuse_update_secure_version(). */
static int f_sv_read(void *c, uint32_t *min)
{
    (void)c;
    if (dev.fail_efuse_read) return -1;
    *min = dev.efuse_sv;
    return 0;
}
static int f_sv_raise(void *c, uint32_t to)
{
    (void)c;
    dev.efuse_raises++;
    if (dev.fail_efuse_raise) return -1;
    /* never before the running image is confirmed (power-safe order) */
    assert_int_equal(dev.running_state, MQOTA_SLOT_VALID);
    if (to > dev.efuse_sv) dev.efuse_sv = to;
    return 0;
}

static int f_slot_state_of(void *c, uint8_t slot, mqota_slot_state_t *st)
{
    (void)c;
    *st = dev.state_of[slot & 1u];
    return 0;
}

/* ---- sealed commands: AES-256-GCM with OpenSSL, as the POSIX port and mqotad do ---- */
static uint8_t dev_key[32];   /* the device's command key */
static uint8_t wrong_key[32]; /* someone else's */

/* enc: seal (tag written) or open (tag checked); 0 on success. The POSIX port's AES-256-GCM,
 * which test_aead checks against the GCM specification. */
static int gcm(const uint8_t *key, bool enc, const uint8_t *nonce, const uint8_t *aad,
               size_t aad_len, const uint8_t *in, size_t len, uint8_t *out, uint8_t *tag)
{
    return (enc ? aead_gcm_seal(key, nonce, aad, aad_len, in, len, out, tag)
                : aead_gcm_open(key, nonce, aad, aad_len, in, len, out, tag)) == MQOTA_OK ? 0 : -1;
}
static int f_seal(void *c, const uint8_t *nonce, const uint8_t *aad, size_t aad_len,
                  const uint8_t *in, size_t len, uint8_t *out, uint8_t *tag)
{
    (void)c;
    return gcm(dev_key, true, nonce, aad, aad_len, in, len, out, tag);
}
static int f_open(void *c, const uint8_t *nonce, const uint8_t *aad, size_t aad_len,
                  const uint8_t *in, size_t len, uint8_t *out, const uint8_t *tag)
{
    (void)c;
    return gcm(dev_key, false, nonce, aad, aad_len, in, len, out, (uint8_t *)tag);
}
static size_t f_diag(void *c, char *buf, size_t cap)
{
    (void)c;
    return (size_t)snprintf(buf, cap, "rssi=-67\n") < cap ? 9u : 0u;
}

/* The application's commands: "relay on|off". */
static int relay_calls;
static bool relay_on;
static mqota_cmd_result_t app_command(void *ctx, const char *name, const uint8_t *args,
                                      size_t args_len, uint8_t *reply, size_t cap, size_t *len)
{
    (void)ctx;
    if (strcmp(name, "relay") != 0) return MQOTA_CMD_UNKNOWN;
    relay_calls++;
    if (args_len == 2 && memcmp(args, "on", 2) == 0) relay_on = true;
    else if (args_len == 3 && memcmp(args, "off", 3) == 0) relay_on = false;
    else return MQOTA_CMD_FAILED;
    *len = (size_t)snprintf((char *)reply, cap, "relay=%s", relay_on ? "on" : "off");
    return MQOTA_CMD_OK;
}

static mqota_agent_t agent;
static bool with_commands;       /* boot() gives the agent the AEAD hooks and the app handler */
static bool with_health;         /* boot() gives the agent a health hook (f_health) */
static int health_calls;         /* f_health() calls */
static bool confirm_by_command;  /* boot() sets cfg.confirm_by_command */
static bool with_verify;  /* boot() gives the agent the verify_signature hook */
static bool require_sig;  /* boot() sets cfg.require_signature */
static bool auto_reboot_off; /* boot() clears cfg.auto_reboot: the application reboots */

static uint32_t CHUNK = 4096u; /* chunk size of the offers the tests send */
static uint32_t max_chunk_cfg = 4096u; /* the agent's max_chunk in boot() */
#define RELEASE 7u
#define DEPLOYMENT 3u

/* ---- helpers ---- */
/* The port's part of a HEALTH: a panic with its reason, 180000 bytes, -67 dBm. */
static int f_health(void *c, mqota_health_t *h)
{
    (void)c;
    health_calls++;
    h->reset_reason = MQOTA_RESET_PANIC;
    h->rssi = -67;
    h->min_free_heap = 180000;
    snprintf(h->crash, sizeof(h->crash), "LoadProhibited");
    return 0;
}

static void boot(uint8_t running_slot, mqota_slot_state_t st)
{
    dev.running_slot = running_slot;
    dev.running_state = st;
    dev.boot_slot = -1;
    dev.npub = 0;
    mqota_config_t cfg = {.device_id = "dev-1", .max_chunk = max_chunk_cfg, .max_window = 8,
                          .auto_reboot = !auto_reboot_off, .verify_bytes_per_process = 65536,
                          .require_signature = require_sig,
                          .confirm_by_command = confirm_by_command};
    mqota_platform_t p = plat;
    if (with_verify) p.verify_signature = f_verify;
    if (dev.have_slot_state_of) p.slot_state_of = f_slot_state_of;
    if (dev.have_efuse) {
        p.secure_version_read = f_sv_read;
        p.secure_version_raise = f_sv_raise;
    }
    if (with_health) {
        p.health = f_health;
        cfg.health_interval_s = 60;
    }
    if (with_commands) {
        p.aead_seal = f_seal;
        p.aead_open = f_open;
        p.diagnostics = f_diag;
        cfg.command_handler = app_command;
    }
    assert_int_equal(mqota_agent_init(&agent, &cfg, &p, dev.now), MQOTA_OK);
}

static uint32_t offer_flags;

static void offer_msg(uint8_t *buf, size_t *len, uint32_t release, uint32_t deployment,
                      const uint8_t sha[32], uint16_t chip)
{
    mqota_offer_t o;
    memset(&o, 0, sizeof(o));
    o.flags = offer_flags;
    o.release_id = release;
    o.deployment_id = deployment;
    o.image_size = (uint32_t)image_len;
    o.chunk_size = CHUNK;
    o.window = 16;
    o.chip_id = chip;
    memcpy(o.sha256, sha, 32);
    snprintf(o.version, sizeof(o.version), "v1.4.1-2-g0296947-dirty");
    snprintf(o.project, sizeof(o.project), "hello_world");
    assert_int_equal(mqota_offer_encode(&o, buf, MQOTA_OFFER_MAX_LEN, len), MQOTA_OK);
}

static mqota_status_t send_offer(uint32_t release, uint32_t deployment, const uint8_t sha[32],
                                 uint16_t chip)
{
    uint8_t buf[MQOTA_OFFER_MAX_LEN];
    size_t len;
    offer_msg(buf, &len, release, deployment, sha, chip);
    return mqota_agent_on_message(&agent, "mqota/v1/dev/dev-1/offer", buf, len);
}

static uint32_t chunk_count(void) { return (uint32_t)((image_len + CHUNK - 1) / CHUNK); }

static const char *chunk_topic = "mqota/v1/dev/dev-1/chunk";

static mqota_status_t send_chunk(uint32_t release, uint32_t index, int corrupt)
{
    static uint8_t buf[MQOTA_CHUNK_HEADER_LEN + 8192u];
    uint32_t off = index * CHUNK;
    if (off >= image_len) off = 0; /* an index past the image: any bytes, the agent refuses it */
    uint32_t len = (uint32_t)(image_len - off < CHUNK ? image_len - off : CHUNK);
    assert_int_equal(mqota_chunk_encode_header(release, index, image + off, len, buf, sizeof(buf)),
                     MQOTA_OK);
    memcpy(buf + MQOTA_CHUNK_HEADER_LEN, image + off, len);
    if (corrupt) buf[MQOTA_CHUNK_HEADER_LEN + 5] ^= 0x01;
    mqota_status_t st =
        mqota_agent_on_message(&agent, chunk_topic, buf, MQOTA_CHUNK_HEADER_LEN + len);
    return st;
}

static void run(int ticks)
{
    for (int i = 0; i < ticks; i++) {
        dev.now += 10;
        mqota_agent_process(&agent, dev.now);
    }
}

/* Last published message on a topic leaf, or NULL. */
static const pub_t *last_pub(const char *leaf)
{
    char t[128];
    snprintf(t, sizeof(t), "mqota/v1/dev/dev-1/%s", leaf);
    for (int i = dev.npub - 1; i >= 0; i--)
        if (strcmp(dev.pubs[i].topic, t) == 0) return &dev.pubs[i];
    return NULL;
}

static mqota_state_msg_t last_state(void)
{
    const pub_t *p = last_pub("state");
    assert_non_null(p);
    assert_true(p->retain);
    assert_int_equal(p->qos, 1);
    mqota_state_msg_t m;
    assert_int_equal(mqota_state_decode(p->payload, p->len, &m), MQOTA_OK);
    return m;
}

static mqota_ack_t last_ack(void)
{
    const pub_t *p = last_pub("ack");
    assert_non_null(p);
    mqota_ack_t a;
    assert_int_equal(mqota_ack_decode(p->payload, p->len, &a), MQOTA_OK);
    return a;
}

static int count_pubs(const char *leaf)
{
    char t[128];
    int n = 0;
    snprintf(t, sizeof(t), "mqota/v1/dev/dev-1/%s", leaf);
    for (int i = 0; i < dev.npub; i++) n += strcmp(dev.pubs[i].topic, t) == 0;
    return n;
}

static int setup(void **state)
{
    (void)state;
    EVP_MD_CTX *keep = dev.sha;
    memset(&dev, 0, sizeof(dev));
    dev.sha = keep;
    memset(dev.slot, 0xFF, sizeof(dev.slot));
    dev.self_test_ok = true;
    dev.now = 1000;
    nsubs = nunsubs = 0;
    with_verify = require_sig = false;
    with_commands = confirm_by_command = false;
    with_health = false;
    health_calls = 0;
    auto_reboot_off = false;
    offer_flags = 0;
    relay_calls = 0;
    relay_on = false;
    RAND_bytes(dev_key, sizeof(dev_key));
    RAND_bytes(wrong_key, sizeof(wrong_key));
    if (image != NULL) image_sv(0); /* the fixture's own secure_version */
    return 0;
}

static int load_image(void **state)
{
    (void)state;
    FILE *f = fopen(MQOTA_FIXTURES "/idf_hello_world_esp32_2024.bin", "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    image_len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    image = malloc(image_len);
    if (fread(image, 1, image_len, f) != image_len) return -1;
    fclose(f);
    SHA256(image, image_len, image_sha);
    mqota_image_info_t info;
    if (mqota_image_parse_head(image, image_len, &info) != MQOTA_OK) return -1;
    memcpy(image_version, info.version, sizeof(image_version) - 1);
    trusted_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    other_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    return trusted_key && other_key ? 0 : -1;
}

static int free_image(void **state)
{
    (void)state;
    free(image);
    EVP_PKEY_free(trusted_key);
    EVP_PKEY_free(other_key);
    return 0;
}

/* Feed every chunk of `release` in order and run until the agent asks for a reboot. */
static void transfer_release(uint32_t release)
{
    for (uint32_t i = 0; i < chunk_count(); i++) {
        mqota_status_t st = send_chunk(release, i, 0);
        assert_true(st == MQOTA_OK || st == MQOTA_DUPLICATE);
        run(1);
    }
    run(20);
}

static void transfer_all(void) { transfer_release(RELEASE); }

/* ---- tests ---- */

static void test_connect_announces(void **state)
{
    (void)state;
    boot(0, MQOTA_SLOT_UNDEFINED);
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_IDLE);
    assert_int_equal(mqota_agent_on_connect(&agent), MQOTA_OK);
    const pub_t *on = last_pub("online");
    assert_non_null(on);
    assert_true(on->retain);
    assert_memory_equal(on->payload, "online", 6);
    mqota_state_msg_t m = last_state();
    assert_int_equal(m.state, MQOTA_STATE_IDLE);
    assert_string_equal(m.project, "hello_world");
    assert_string_equal(m.version, "1");
    assert_int_equal(m.max_chunk, 4096);
    assert_int_equal(m.max_window, 8);
    char topic[128];
    assert_int_equal(mqota_agent_topic(&agent, MQOTA_TOPIC_ONLINE, topic, sizeof(topic)), MQOTA_OK);
    assert_string_equal(topic, "mqota/v1/dev/dev-1/online");
    assert_int_equal(mqota_agent_topic(&agent, MQOTA_TOPIC_ONLINE, topic, 10), MQOTA_ERR_NO_SPACE);
}

/* mqota_agent_publish_telemetry(): QoS 0, not retained, on the telemetry topic, stamped with the
 * ms since init; refused before a connection, with 0 or too many samples, a bad name, NaN. */
static void test_telemetry_publish(void **state)
{
    (void)state;
    boot(0, MQOTA_SLOT_UNDEFINED);
    const mqota_sample_t s[] = {{"temperature", 21.5}, {"uptime_s", 42.0}};
    assert_int_equal(mqota_agent_publish_telemetry(&agent, s, 2), MQOTA_ERR_STATE);
    assert_null(last_pub("telemetry"));
    assert_int_equal(mqota_agent_on_connect(&agent), MQOTA_OK);
    dev.now += 1234;
    assert_int_equal(mqota_agent_publish_telemetry(&agent, s, 2), MQOTA_OK);
    const pub_t *p = last_pub("telemetry");
    assert_non_null(p);
    assert_int_equal(p->qos, 0);
    assert_false(p->retain);
    mqota_telemetry_t m;
    assert_int_equal(mqota_telemetry_decode(p->payload, p->len, &m), MQOTA_OK);
    assert_int_equal(m.ts_ms, 1234);
    assert_int_equal(m.count, 2);
    assert_string_equal(m.samples[0].name, "temperature");
    assert_true(m.samples[0].value == 21.5);
    assert_string_equal(m.samples[1].name, "uptime_s");
    assert_true(m.samples[1].value == 42.0);
    char topic[128];
    assert_int_equal(mqota_agent_topic(&agent, MQOTA_TOPIC_TELEMETRY, topic, sizeof(topic)),
                     MQOTA_OK);
    assert_string_equal(topic, "mqota/v1/dev/dev-1/telemetry");

    int before = dev.npub;
    mqota_sample_t many[MQOTA_TELEMETRY_SAMPLES_MAX + 1];
    for (size_t i = 0; i < MQOTA_TELEMETRY_SAMPLES_MAX + 1; i++) many[i] = s[0];
    assert_int_equal(mqota_agent_publish_telemetry(&agent, many, MQOTA_TELEMETRY_SAMPLES_MAX),
                     MQOTA_OK);
    assert_int_equal(mqota_agent_publish_telemetry(&agent, many, MQOTA_TELEMETRY_SAMPLES_MAX + 1),
                     MQOTA_ERR_RANGE);
    assert_int_equal(mqota_agent_publish_telemetry(&agent, s, 0), MQOTA_ERR_RANGE);
    assert_int_equal(mqota_agent_publish_telemetry(&agent, NULL, 1), MQOTA_ERR_ARG);
    const mqota_sample_t bad_name[] = {{"Temperature", 1.0}};
    assert_int_equal(mqota_agent_publish_telemetry(&agent, bad_name, 1), MQOTA_ERR_ARG);
    const mqota_sample_t nan[] = {{"t", 0.0 / 0.0}};
    assert_int_equal(mqota_agent_publish_telemetry(&agent, nan, 1), MQOTA_ERR_ARG);
    assert_int_equal(dev.npub, before + 1);
}

/* HEALTH (docs/PROTOCOL.md §16): none before a connection, one at the first process() after
 * each connect (QoS 1, retained, the agent's uptime, boot count and reconnects with the hook's
 * reset reason, crash, heap and RSSI), then one per health_interval_s; none without the hook. */
static void test_health_publish(void **state)
{
    (void)state;
    mqota_health_t h;
    with_health = true;
    boot(0, MQOTA_SLOT_UNDEFINED);
    assert_int_equal(mqota_agent_process(&agent, dev.now), MQOTA_OK);
    assert_null(last_pub("health"));
    assert_int_equal(mqota_agent_on_connect(&agent), MQOTA_OK);
    assert_null(last_pub("health")); /* on_connect() publishes STATE only */
    dev.now += 12345;
    assert_int_equal(mqota_agent_process(&agent, dev.now), MQOTA_OK);
    const pub_t *p = last_pub("health");
    assert_non_null(p);
    assert_int_equal(p->qos, 1);
    assert_true(p->retain);
    assert_int_equal(mqota_health_decode(p->payload, p->len, &h), MQOTA_OK);
    assert_int_equal(h.reset_reason, MQOTA_RESET_PANIC);
    assert_string_equal(h.crash, "LoadProhibited");
    assert_int_equal(h.uptime_s, 12);
    assert_int_equal(h.boot_count, 1);
    assert_int_equal(h.min_free_heap, 180000);
    assert_int_equal(h.rssi, -67);
    assert_int_equal(h.reconnects, 0);
    char topic[128];
    assert_int_equal(mqota_agent_topic(&agent, MQOTA_TOPIC_HEALTH, topic, sizeof(topic)),
                     MQOTA_OK);
    assert_string_equal(topic, "mqota/v1/dev/dev-1/health");

    /* the interval: nothing before 60 s, one at 60 s */
    int before = dev.npub;
    dev.now += 59999;
    assert_int_equal(mqota_agent_process(&agent, dev.now), MQOTA_OK);
    assert_int_equal(dev.npub, before);
    dev.now += 1;
    assert_int_equal(mqota_agent_process(&agent, dev.now), MQOTA_OK);
    assert_int_equal(dev.npub, before + 1);
    assert_int_equal(health_calls, 2);

    /* a reconnect: counted, and reported at once */
    mqota_agent_on_disconnect(&agent);
    dev.now += 1000;
    assert_int_equal(mqota_agent_process(&agent, dev.now), MQOTA_OK);
    assert_int_equal(health_calls, 2);
    assert_int_equal(mqota_agent_on_connect(&agent), MQOTA_OK);
    assert_int_equal(mqota_agent_process(&agent, dev.now), MQOTA_OK);
    assert_int_equal(health_calls, 3);
    assert_int_equal(mqota_health_decode(last_pub("health")->payload, last_pub("health")->len,
                                         &h), MQOTA_OK);
    assert_int_equal(h.reconnects, 1);
    assert_int_equal(h.uptime_s, 73);

    /* without the hook, never */
    with_health = false;
    boot(0, MQOTA_SLOT_UNDEFINED);
    assert_int_equal(mqota_agent_on_connect(&agent), MQOTA_OK);
    dev.now += 3600000;
    assert_int_equal(mqota_agent_process(&agent, dev.now), MQOTA_OK);
    assert_null(last_pub("health"));
}

static void test_init_rejects_bad_config(void **state)
{
    (void)state;
    mqota_config_t cfg = {.device_id = "bad/id", .max_chunk = 4096, .max_window = 8};
    assert_int_equal(mqota_agent_init(&agent, &cfg, &plat, 0), MQOTA_ERR_ARG);
    cfg.device_id = "ok";
    cfg.max_chunk = 3000;
    assert_int_equal(mqota_agent_init(&agent, &cfg, &plat, 0), MQOTA_ERR_ARG);
    cfg.max_chunk = 4096;
    cfg.max_window = 65;
    assert_int_equal(mqota_agent_init(&agent, &cfg, &plat, 0), MQOTA_ERR_ARG);
    cfg.max_window = 8;
    /* each required hook missing (hooks_present()'s table); the optional ones may be */
#define WITHOUT(hook, want)                                                                  \
    do {                                                                                     \
        mqota_platform_t p2 = plat;                                                          \
        p2.hook = NULL;                                                                      \
        assert_int_equal(mqota_agent_init(&agent, &cfg, &p2, 0), (want));                    \
    } while (0)
    WITHOUT(publish, MQOTA_ERR_ARG);
    WITHOUT(subscribe, MQOTA_ERR_ARG);
    WITHOUT(running, MQOTA_ERR_ARG);
    WITHOUT(slot_size, MQOTA_ERR_ARG);
    WITHOUT(slot_begin, MQOTA_ERR_ARG);
    WITHOUT(slot_write, MQOTA_ERR_ARG);
    WITHOUT(slot_read, MQOTA_ERR_ARG);
    WITHOUT(slot_end, MQOTA_ERR_ARG);
    WITHOUT(slot_set_boot, MQOTA_ERR_ARG);
    WITHOUT(slot_state, MQOTA_ERR_ARG);
    WITHOUT(slot_mark_valid, MQOTA_ERR_ARG);
    WITHOUT(slot_mark_invalid, MQOTA_ERR_ARG);
    WITHOUT(reboot, MQOTA_ERR_ARG);
    WITHOUT(kv_get, MQOTA_ERR_ARG);
    WITHOUT(kv_set, MQOTA_ERR_ARG);
    WITHOUT(kv_erase, MQOTA_ERR_ARG);
    WITHOUT(now_ms, MQOTA_ERR_ARG);
    WITHOUT(sha256_begin, MQOTA_ERR_ARG);
    WITHOUT(sha256_update, MQOTA_ERR_ARG);
    WITHOUT(sha256_finish, MQOTA_ERR_ARG);
    WITHOUT(unsubscribe, MQOTA_OK);
    WITHOUT(slot_state_of, MQOTA_OK);
    WITHOUT(self_test, MQOTA_OK);
#undef WITHOUT
}

/* mqota_agent_init() compares the caller's size tunables with the library's: each one that
 * differs is refused with MQOTA_ERR_CONFIG before the agent is touched; all equal (what the
 * macro passes) is accepted. test_config_mismatch does the same from a separately configured
 * application. */
static void test_init_checks_build_config(void **state)
{
    (void)state;
    const mqota_config_t cfg = {.device_id = "ok", .max_chunk = 4096, .max_window = 8};
    const uint32_t v[4] = {MQOTA_MAX_CHUNKS, MQOTA_VERIFY_STEP, MQOTA_TOPIC_MAX,
                           MQOTA_DEVICE_ID_MAX};
    for (int field = 0; field < 5; field++) {
        uint32_t w[4] = {v[0], v[1], v[2], v[3]};
        size_t size = sizeof(mqota_agent_t);
        if (field == 4) {
            size += 8u;
        } else {
            w[field] += 64u;
        }
        memset(&agent, 0x5A, sizeof(agent));
        assert_int_equal(mqota_agent_init_checked(&agent, &cfg, &plat, 0, size, w[0], w[1], w[2],
                                                  w[3]),
                         MQOTA_ERR_CONFIG);
        for (size_t i = 0; i < sizeof(agent); i++) {
            assert_int_equal(((const uint8_t *)&agent)[i], 0x5A);
        }
    }
    assert_int_equal(mqota_agent_init_checked(&agent, &cfg, &plat, 0, sizeof(mqota_agent_t),
                                              v[0], v[1], v[2], v[3]),
                     MQOTA_OK);
    assert_int_equal(mqota_agent_init(&agent, &cfg, &plat, 0), MQOTA_OK);
}

static void test_full_update_and_confirm(void **state)
{
    (void)state;
    boot(0, MQOTA_SLOT_UNDEFINED);
    mqota_agent_on_connect(&agent);
    assert_int_equal(send_offer(RELEASE, DEPLOYMENT, image_sha, 0), MQOTA_OK);
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_OFFERED);
    run(1);
    mqota_ack_t a = last_ack();
    assert_int_equal(a.release_id, RELEASE);
    assert_int_equal(a.base, 0);
    assert_int_equal(a.window, 8); /* min(offer 16, device 8) */
    assert_int_equal(a.flags & MQOTA_ACK_FLAG_RESUMED, 0);

    transfer_all();
    assert_int_equal(memcmp(dev.slot[1], image, image_len), 0);
    assert_int_equal(dev.boot_slot, 1);
    assert_int_equal(dev.reboots, 1);
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_READY_TO_REBOOT);
    mqota_state_msg_t m = last_state();
    assert_int_equal(m.state, MQOTA_STATE_READY_TO_REBOOT);
    assert_int_equal(m.target_release, RELEASE);
    assert_int_equal(m.progress, image_len);
    /* an ACK with the COMPLETE flag went out */
    int complete = 0;
    for (int i = 0; i < dev.npub; i++)
        if (strstr(dev.pubs[i].topic, "/ack")) {
            mqota_ack_t x;
            mqota_ack_decode(dev.pubs[i].payload, dev.pubs[i].len, &x);
            complete |= (x.flags & MQOTA_ACK_FLAG_COMPLETE) != 0;
        }
    assert_true(complete);

    /* reboot into slot 1, pending verify */
    boot(1, MQOTA_SLOT_PENDING_VERIFY);
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_PENDING_VERIFY);
    mqota_agent_on_connect(&agent);
    assert_int_equal(dev.mark_valid_calls, 1);
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_CONFIRMED);
    m = last_state();
    assert_int_equal(m.state, MQOTA_STATE_CONFIRMED);
    assert_int_equal(m.running_release, RELEASE);
    assert_int_equal(m.running_slot, 1);
    assert_string_equal(m.release_version, "v1.4.1-2-g0296947-dirty");
    /* the retained offer comes again: already running it, no new transfer */
    int writes_before = dev.kv_sets;
    assert_int_equal(send_offer(RELEASE, DEPLOYMENT, image_sha, 0), MQOTA_OK);
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_CONFIRMED);
    assert_int_equal(dev.kv_sets, writes_before);
    /* a later boot reports idle, still running the release */
    boot(1, MQOTA_SLOT_VALID);
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_IDLE);
    mqota_agent_on_connect(&agent);
    assert_int_equal(last_state().running_release, RELEASE);
}

static void test_out_of_order_duplicates_and_bad_crc(void **state)
{
    (void)state;
    boot(0, MQOTA_SLOT_UNDEFINED);
    mqota_agent_on_connect(&agent);
    assert_int_equal(send_offer(RELEASE, DEPLOYMENT, image_sha, 0), MQOTA_OK);
    uint32_t n = chunk_count();
    assert_int_equal(send_chunk(RELEASE, 2, 0), MQOTA_OK);
    assert_int_equal(send_chunk(RELEASE, 4, 0), MQOTA_OK);
    assert_int_equal(send_chunk(RELEASE, 4, 0), MQOTA_DUPLICATE);
    assert_int_equal(send_chunk(RELEASE, 0, 1), MQOTA_ERR_CRC);
    assert_int_equal(send_chunk(RELEASE, n, 0) == MQOTA_OK, 0);
    assert_int_equal(send_chunk(RELEASE + 1, 0, 0), MQOTA_IGNORED);
    run(1);
    mqota_ack_t a = last_ack();
    assert_int_equal(a.base, 0);
    assert_int_equal(a.sack, (1u << 1) | (1u << 3)); /* chunks 2 and 4 */
    assert_int_equal(send_chunk(RELEASE, 0, 0), MQOTA_OK);
    run(1);
    a = last_ack();
    assert_int_equal(a.base, 1);
    assert_int_equal(a.sack, (1u << 0) | (1u << 2));
    for (uint32_t i = n; i-- > 0;) send_chunk(RELEASE, i, 0);
    run(20);
    assert_int_equal(memcmp(dev.slot[1], image, image_len), 0);
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_READY_TO_REBOOT);
}

static void test_resume_after_restart(void **state)
{
    (void)state;
    boot(0, MQOTA_SLOT_UNDEFINED);
    mqota_agent_on_connect(&agent);
    send_offer(RELEASE, DEPLOYMENT, image_sha, 0);
    uint32_t half = chunk_count() / 2;
    for (uint32_t i = 0; i < half; i++) send_chunk(RELEASE, i, 0);
    send_chunk(RELEASE, half + 3, 0); /* beyond base: lost on reset, sent again */
    run(1);
    /* power cut: the agent restarts from flash and the kv store only */
    boot(0, MQOTA_SLOT_UNDEFINED);
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_IDLE);
    mqota_agent_on_connect(&agent);
    assert_int_equal(send_offer(RELEASE, DEPLOYMENT, image_sha, 0), MQOTA_OK);
    run(1);
    mqota_ack_t a = last_ack();
    assert_true(a.flags & MQOTA_ACK_FLAG_RESUMED);
    assert_int_equal(a.base, half); /* 4 KiB chunks: every chunk is a whole sector */
    assert_int_equal(a.sack, 0);
    assert_int_equal(mqota_agent_progress(&agent), half * CHUNK);
    for (uint32_t i = half; i < chunk_count(); i++) send_chunk(RELEASE, i, 0);
    run(20);
    assert_int_equal(memcmp(dev.slot[1], image, image_len), 0);
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_READY_TO_REBOOT);
}

/* A reset while verifying, with chunks larger than a flash sector and an image that is not a
 * whole number of them: the persisted base is the chunk count, whose byte offset lies beyond
 * the image's last sector. The update resumes at the last chunk instead of failing (found by
 * reading the code for docs/PORTING.md: slot_begin was asked to erase from beyond the image). */
static void test_resume_while_verifying_large_chunks(void **state)
{
    (void)state;
    CHUNK = 8192u;
    max_chunk_cfg = 8192u;
    assert_true(image_len % CHUNK != 0u && image_len % CHUNK <= CHUNK - 4096u);
    boot(0, MQOTA_SLOT_UNDEFINED);
    mqota_agent_on_connect(&agent);
    assert_int_equal(send_offer(RELEASE, DEPLOYMENT, image_sha, 0), MQOTA_OK);
    for (uint32_t i = 0; i < chunk_count(); i++) send_chunk(RELEASE, i, 0);
    dev.now += 10;
    mqota_agent_process(&agent, dev.now); /* progress persisted at the chunk count, verifying */
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_VERIFYING);
    boot(0, MQOTA_SLOT_UNDEFINED); /* reset while verifying */
    mqota_agent_on_connect(&agent);
    assert_int_equal(send_offer(RELEASE, DEPLOYMENT, image_sha, 0), MQOTA_OK);
    run(1);
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_OFFERED); /* not FAILED (flash) */
    mqota_ack_t a = last_ack();
    assert_true(a.flags & MQOTA_ACK_FLAG_RESUMED);
    assert_int_equal(a.base, chunk_count() - 1u);
    send_chunk(RELEASE, chunk_count() - 1u, 0);
    run(20);
    assert_int_equal(memcmp(dev.slot[1], image, image_len), 0);
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_READY_TO_REBOOT);
    CHUNK = 4096u;
    max_chunk_cfg = 4096u;
}

static void test_resume_ignores_other_release(void **state)
{
    (void)state;
    boot(0, MQOTA_SLOT_UNDEFINED);
    mqota_agent_on_connect(&agent);
    send_offer(RELEASE, DEPLOYMENT, image_sha, 0);
    for (uint32_t i = 0; i < 5; i++) send_chunk(RELEASE, i, 0);
    boot(0, MQOTA_SLOT_UNDEFINED);
    mqota_agent_on_connect(&agent);
    send_offer(RELEASE + 1, DEPLOYMENT + 1, image_sha, 0);
    run(1);
    mqota_ack_t a = last_ack();
    assert_int_equal(a.release_id, RELEASE + 1);
    assert_int_equal(a.base, 0);
    assert_int_equal(a.flags & MQOTA_ACK_FLAG_RESUMED, 0);
}

static void test_hash_mismatch_keeps_boot_slot(void **state)
{
    (void)state;
    uint8_t wrong[32];
    memcpy(wrong, image_sha, 32);
    wrong[0] ^= 1;
    boot(0, MQOTA_SLOT_UNDEFINED);
    mqota_agent_on_connect(&agent);
    send_offer(RELEASE, DEPLOYMENT, wrong, 0);
    transfer_all();
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_FAILED);
    assert_int_equal(mqota_agent_reason(&agent), MQOTA_REASON_HASH_MISMATCH);
    assert_int_equal(dev.boot_slot, -1);
    assert_int_equal(dev.reboots, 0);
    mqota_state_msg_t m = last_state();
    assert_int_equal(m.state, MQOTA_STATE_FAILED);
    assert_int_equal(m.reason, MQOTA_REASON_HASH_MISMATCH);
    assert_int_equal(m.target_release, RELEASE);
    /* the same offer retained again is not retried */
    assert_int_equal(send_offer(RELEASE, DEPLOYMENT, wrong, 0), MQOTA_IGNORED);
}

static void test_flipped_byte_in_image_refused(void **state)
{
    (void)state;
    /* the image bytes change but the offer's hash is of the flipped bytes: the structure
     * check (segment checksum) must catch it */
    image[1000] ^= 0x40;
    uint8_t sha[32];
    SHA256(image, image_len, sha);
    boot(0, MQOTA_SLOT_UNDEFINED);
    mqota_agent_on_connect(&agent);
    send_offer(RELEASE, DEPLOYMENT, sha, 0);
    transfer_all();
    image[1000] ^= 0x40;
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_FAILED);
    assert_int_equal(mqota_agent_reason(&agent), MQOTA_REASON_INVALID_IMAGE);
    assert_int_equal(dev.boot_slot, -1);
}

static void test_chip_mismatch(void **state)
{
    (void)state;
    boot(0, MQOTA_SLOT_UNDEFINED);
    mqota_agent_on_connect(&agent);
    assert_int_equal(send_offer(RELEASE, DEPLOYMENT, image_sha, 9), MQOTA_ERR_STATE);
    assert_int_equal(mqota_agent_reason(&agent), MQOTA_REASON_CHIP_MISMATCH);
    run(1);
    assert_int_equal(last_state().reason, MQOTA_REASON_CHIP_MISMATCH);
    assert_int_equal(send_chunk(RELEASE, 0, 0), MQOTA_ERR_STATE);
}

/* A file release's offer (docs/PROTOCOL.md §17) is refused with file-release, even for the
 * device's own chip, before anything is erased: the C agent takes images only. */
static void test_file_release_refused(void **state)
{
    (void)state;
    boot(0, MQOTA_SLOT_UNDEFINED);
    mqota_agent_on_connect(&agent);
    run(1);
    assert_int_equal(last_state().caps & MQOTA_CAP_FILES, 0u);
    offer_flags = MQOTA_OFFER_FLAG_FILES;
    assert_int_equal(send_offer(RELEASE, DEPLOYMENT, image_sha, 0), MQOTA_ERR_STATE);
    offer_flags = 0;
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_FAILED);
    assert_int_equal(mqota_agent_reason(&agent), MQOTA_REASON_FILE_RELEASE);
    run(1);
    assert_int_equal(last_state().reason, MQOTA_REASON_FILE_RELEASE);
    assert_int_equal(send_chunk(RELEASE, 0, 0), MQOTA_ERR_STATE);
    for (size_t i = 0; i < sizeof(dev.slot[1]); i++)
        if (dev.slot[1][i] != 0xFF) fail_msg("slot 1 was written at byte %zu", i);
}

static void test_malformed_offer(void **state)
{
    (void)state;
    boot(0, MQOTA_SLOT_UNDEFINED);
    mqota_agent_on_connect(&agent);
    uint8_t junk[10] = {'M', 'Q', 1, 2, 0};
    assert_int_not_equal(mqota_agent_on_message(&agent, "mqota/v1/dev/dev-1/offer", junk, sizeof(junk)),
                         MQOTA_OK);
    run(1);
    assert_int_equal(last_state().reason, MQOTA_REASON_MALFORMED_OFFER);
    /* someone else's topic */
    assert_int_equal(mqota_agent_on_message(&agent, "mqota/v1/dev/dev-2/offer", junk, sizeof(junk)),
                     MQOTA_IGNORED);
}

static void test_flash_write_failure(void **state)
{
    (void)state;
    boot(0, MQOTA_SLOT_UNDEFINED);
    mqota_agent_on_connect(&agent);
    send_offer(RELEASE, DEPLOYMENT, image_sha, 0);
    dev.fail_writes = true;
    assert_int_equal(send_chunk(RELEASE, 0, 0), MQOTA_ERR_PLATFORM);
    assert_int_equal(mqota_agent_reason(&agent), MQOTA_REASON_FLASH);
}

static void test_self_test_failure_rolls_back(void **state)
{
    (void)state;
    boot(0, MQOTA_SLOT_UNDEFINED);
    mqota_agent_on_connect(&agent);
    send_offer(RELEASE, DEPLOYMENT, image_sha, 0);
    transfer_all();
    boot(1, MQOTA_SLOT_PENDING_VERIFY);
    dev.self_test_ok = false;
    mqota_agent_on_connect(&agent);
    run(1);
    assert_int_equal(dev.mark_invalid_calls, 1);
    assert_int_equal(dev.reboots, 2);
    assert_int_equal(last_state().state, MQOTA_STATE_ROLLED_BACK);
    /* the bootloader brings back slot 0 */
    boot(0, MQOTA_SLOT_UNDEFINED);
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_ROLLED_BACK);
    assert_int_equal(mqota_agent_reason(&agent), MQOTA_REASON_SELF_TEST);
    mqota_agent_on_connect(&agent);
    mqota_state_msg_t m = last_state();
    assert_int_equal(m.target_release, RELEASE);
    assert_int_equal(m.running_slot, 0);
    /* the retained offer is not taken up again */
    assert_int_equal(send_offer(RELEASE, DEPLOYMENT, image_sha, 0), MQOTA_IGNORED);
    /* a new deployment may try again */
    assert_int_equal(send_offer(RELEASE, DEPLOYMENT + 1, image_sha, 0), MQOTA_OK);
}

static void test_reset_before_confirm(void **state)
{
    (void)state;
    boot(0, MQOTA_SLOT_UNDEFINED);
    mqota_agent_on_connect(&agent);
    send_offer(RELEASE, DEPLOYMENT, image_sha, 0);
    transfer_all();
    /* new image resets before confirming; the bootloader marks it aborted, boots slot 0 */
    boot(0, MQOTA_SLOT_UNDEFINED);
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_ROLLED_BACK);
    assert_int_equal(mqota_agent_reason(&agent), MQOTA_REASON_RESET);
}

static void test_confirm_timeout(void **state)
{
    (void)state;
    boot(0, MQOTA_SLOT_UNDEFINED);
    mqota_agent_on_connect(&agent);
    send_offer(RELEASE, DEPLOYMENT, image_sha, 0);
    transfer_all();
    boot(1, MQOTA_SLOT_PENDING_VERIFY);
    dev.now += MQOTA_CONFIRM_TIMEOUT_MS - 100;
    run(1);
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_PENDING_VERIFY);
    dev.now += 200;
    run(1);
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_ROLLED_BACK);
    assert_int_equal(mqota_agent_reason(&agent), MQOTA_REASON_CONFIRM_TIMEOUT);
    assert_int_equal(dev.mark_invalid_calls, 1);
}

static void test_stall_sends_request(void **state)
{
    (void)state;
    boot(0, MQOTA_SLOT_UNDEFINED);
    mqota_agent_on_connect(&agent);
    send_offer(RELEASE, DEPLOYMENT, image_sha, 0);
    send_chunk(RELEASE, 0, 0);
    run(1);
    int acks = count_pubs("ack");
    assert_int_equal(last_ack().flags & MQOTA_ACK_FLAG_REQUEST, 0);
    dev.now += MQOTA_ACK_RETRY_MS;
    run(1);
    assert_int_equal(count_pubs("ack"), acks + 1);
    assert_true(last_ack().flags & MQOTA_ACK_FLAG_REQUEST);
    /* reconnect asks too */
    mqota_agent_on_disconnect(&agent);
    mqota_agent_on_connect(&agent);
    run(1);
    assert_true(last_ack().flags & MQOTA_ACK_FLAG_REQUEST);
}

static void test_empty_offer_cancels(void **state)
{
    (void)state;
    boot(0, MQOTA_SLOT_UNDEFINED);
    mqota_agent_on_connect(&agent);
    send_offer(RELEASE, DEPLOYMENT, image_sha, 0);
    send_chunk(RELEASE, 0, 0);
    assert_int_equal(mqota_agent_on_message(&agent, "mqota/v1/dev/dev-1/offer", NULL, 0), MQOTA_OK);
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_IDLE);
    assert_int_equal(send_chunk(RELEASE, 1, 0), MQOTA_ERR_STATE);
}

static void test_multicast_stream(void **state)
{
    (void)state;
    offer_flags = MQOTA_OFFER_FLAG_STREAM;
    CHUNK = 1024u; /* 122 chunks, enough to move sack_base */
    boot(0, MQOTA_SLOT_UNDEFINED);
    mqota_agent_on_connect(&agent);
    assert_int_equal(send_offer(RELEASE, DEPLOYMENT, image_sha, 0), MQOTA_OK);
    assert_string_equal(subs[nsubs - 1], "mqota/v1/stream/7");
    char t[128];
    assert_int_equal(mqota_agent_topic(&agent, MQOTA_TOPIC_STREAM, t, sizeof(t)), MQOTA_OK);
    assert_string_equal(t, "mqota/v1/stream/7");
    run(1);
    /* a stream for another release is not ours */
    chunk_topic = "mqota/v1/stream/8";
    assert_int_equal(send_chunk(RELEASE, 0, 0), MQOTA_IGNORED);
    /* joined late: the stream is at chunk 20 */
    chunk_topic = "mqota/v1/stream/7";
    int acks = count_pubs("ack");
    for (uint32_t i = 20; i < 27; i++) {
        assert_int_equal(send_chunk(RELEASE, i, 0), MQOTA_OK);
        run(1);
    }
    assert_int_equal(count_pubs("ack"), acks); /* 7 new chunks, 70 ms: batched */
    send_chunk(RELEASE, 27, 0);
    run(1);
    assert_int_equal(count_pubs("ack"), acks + 1);
    mqota_ack_t a = last_ack();
    assert_int_equal(a.base, 0);
    assert_int_equal(a.high, 28);
    assert_int_equal(a.sack_base, 0);
    assert_true(a.sack == (0xFFull << 19)); /* chunks 20..27 */
    for (uint32_t i = 28; i < 100; i++) send_chunk(RELEASE, i, 0);
    dev.now += MQOTA_STREAM_ACK_MS;
    run(1);
    a = last_ack();
    assert_int_equal(a.high, 100);
    assert_int_equal(a.sack_base, 100 - 65);
    assert_true(a.sack == ~0ull); /* the newest 64 chunks, all written */
    /* the rest: the stream wraps around, then unicast repairs of chunk 3 */
    chunk_topic = "mqota/v1/stream/7";
    for (uint32_t i = 100; i < chunk_count(); i++) send_chunk(RELEASE, i, 0);
    for (uint32_t i = 0; i < 20; i++)
        if (i != 3) send_chunk(RELEASE, i, 0);
    chunk_topic = "mqota/v1/dev/dev-1/chunk";
    assert_int_equal(send_chunk(RELEASE, 3, 0), MQOTA_OK);
    run(20);
    offer_flags = 0;
    CHUNK = 4096u;
    assert_int_equal(memcmp(dev.slot[1], image, image_len), 0);
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_READY_TO_REBOOT);
    assert_int_equal(nunsubs, 1);
    assert_string_equal(unsubs[0], "mqota/v1/stream/7");
}

/* ---- signed offers and anti-rollback ---- */

/* Sign o's manifest (its signed fields plus a release uid) with key into o->sig. */
static void sign_offer(mqota_offer_t *o, EVP_PKEY *key)
{
    mqota_sig_block_t blk;
    mqota_manifest_t m;
    uint8_t mb[MQOTA_MANIFEST_MAX_LEN], der[128];
    size_t mlen = 0, der_len = sizeof(der);
    for (int i = 0; i < 16; i++) blk.release_uid[i] = (uint8_t)(i * 7 + o->release_id);
    assert_int_equal(mqota_manifest_from_offer(o, blk.release_uid, &m), MQOTA_OK);
    assert_int_equal(mqota_manifest_encode(&m, mb, sizeof(mb), &mlen), MQOTA_OK);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key), 1);
    assert_int_equal(EVP_DigestSign(md, der, &der_len, mb, mlen), 1);
    EVP_MD_CTX_free(md);
    const unsigned char *p = der;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
    assert_non_null(es);
    BN_bn2binpad(ECDSA_SIG_get0_r(es), blk.signature, 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(es), blk.signature + 32, 32);
    ECDSA_SIG_free(es);
    assert_int_equal(mqota_sig_block_encode(&blk, o->sig, sizeof(o->sig)), MQOTA_OK);
    o->sig_len = MQOTA_SIG_BLOCK_LEN;
}

/* The fixture image's offer with secure_version sv, signed with key (NULL: unsigned). */
static mqota_offer_t make_offer(uint32_t release, uint32_t deployment, uint32_t sv, EVP_PKEY *key)
{
    mqota_offer_t o;
    memset(&o, 0, sizeof(o));
    o.release_id = release;
    o.deployment_id = deployment;
    o.image_size = (uint32_t)image_len;
    o.chunk_size = CHUNK;
    o.window = 16;
    o.chip_id = 0;
    o.secure_version = sv;
    memcpy(o.sha256, image_sha, 32);
    snprintf(o.version, sizeof(o.version), "v2.0.0");
    snprintf(o.project, sizeof(o.project), "hello_world");
    if (key) sign_offer(&o, key);
    return o;
}

static mqota_status_t send_offer_struct(const mqota_offer_t *o)
{
    uint8_t buf[MQOTA_OFFER_MAX_LEN];
    size_t len;
    assert_int_equal(mqota_offer_encode(o, buf, sizeof(buf), &len), MQOTA_OK);
    return mqota_agent_on_message(&agent, "mqota/v1/dev/dev-1/offer", buf, len);
}

/* Install release `release` with secure_version sv from slot 0 into slot 1 and confirm it. */
static void install_and_confirm(uint32_t release, uint32_t sv, EVP_PKEY *key)
{
    boot(0, MQOTA_SLOT_UNDEFINED);
    mqota_agent_on_connect(&agent);
    mqota_offer_t o = make_offer(release, DEPLOYMENT, sv, key);
    assert_int_equal(send_offer_struct(&o), MQOTA_OK);
    for (uint32_t i = 0; i < chunk_count(); i++) {
        assert_int_equal(send_chunk(release, i, 0), MQOTA_OK);
        run(1);
    }
    run(20);
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_READY_TO_REBOOT);
    boot(1, MQOTA_SLOT_PENDING_VERIFY);
    mqota_agent_on_connect(&agent);
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_CONFIRMED);
}

static void test_signed_offer_installs(void **state)
{
    (void)state;
    with_verify = require_sig = true;
    install_and_confirm(RELEASE, 3, trusted_key);
    assert_int_equal(dev.verify_calls, 1);
    assert_int_equal(dev.slot_begin_calls, 1);
    assert_int_equal(mqota_agent_min_secure_version(&agent), 3);
    assert_int_equal(last_state().running_release, RELEASE);
}

static void test_forged_signature_refused_before_erase(void **state)
{
    (void)state;
    with_verify = true;
    /* slot 1 holds a previous image, and the store says so */
    memset(dev.slot[1], 0x5A, 8192);
    uint8_t rec[44] = {0};
    f_kv_set(NULL, "mq.slot1", rec, sizeof(rec));
    boot(0, MQOTA_SLOT_UNDEFINED);
    mqota_agent_on_connect(&agent);

    mqota_offer_t o = make_offer(RELEASE, DEPLOYMENT, 0, other_key);
    assert_int_equal(send_offer_struct(&o), MQOTA_ERR_STATE);
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_FAILED);
    assert_int_equal(mqota_agent_reason(&agent), MQOTA_REASON_SIGNATURE);
    assert_int_equal(dev.verify_calls, 1);
    assert_int_equal(dev.slot_begin_calls, 0);
    for (int i = 0; i < 8192; i++) assert_int_equal(dev.slot[1][i], 0x5A);
    assert_non_null(kv_find("mq.slot1"));
    assert_null(kv_find("mq.prog"));
    run(1);
    mqota_state_msg_t m = last_state();
    assert_int_equal(m.state, MQOTA_STATE_FAILED);
    assert_int_equal(m.reason, 14);
    assert_int_equal(m.target_release, RELEASE);
    assert_string_equal(mqota_reason_name(MQOTA_REASON_SIGNATURE), "signature");
    /* its retained copy is not judged again */
    assert_int_equal(send_offer_struct(&o), MQOTA_IGNORED);
    assert_int_equal(dev.verify_calls, 1);
    /* a block of the wrong length, or of zeros, is no better */
    o = make_offer(RELEASE, DEPLOYMENT + 1, 0, trusted_key);
    o.sig_len = 64;
    assert_int_equal(send_offer_struct(&o), MQOTA_ERR_STATE);
    assert_int_equal(mqota_agent_reason(&agent), MQOTA_REASON_SIGNATURE);
    o = make_offer(RELEASE, DEPLOYMENT + 2, 0, NULL);
    o.sig_len = MQOTA_SIG_BLOCK_LEN;
    assert_int_equal(send_offer_struct(&o), MQOTA_ERR_STATE);
    assert_int_equal(mqota_agent_reason(&agent), MQOTA_REASON_SIGNATURE);
    assert_int_equal(dev.slot_begin_calls, 0);
    /* the genuine offer goes through */
    o = make_offer(RELEASE, DEPLOYMENT + 3, 0, trusted_key);
    assert_int_equal(send_offer_struct(&o), MQOTA_OK);
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_OFFERED);
    assert_int_equal(dev.slot_begin_calls, 1);
}

static void test_tampered_offer_field_refused(void **state)
{
    (void)state;
    with_verify = true;
    boot(0, MQOTA_SLOT_UNDEFINED);
    mqota_agent_on_connect(&agent);
    mqota_offer_t o = make_offer(RELEASE, DEPLOYMENT, 2, trusted_key), t;
    t = o;
    snprintf(t.version, sizeof(t.version), "v9.9.9");
    assert_int_equal(send_offer_struct(&t), MQOTA_ERR_STATE);
    assert_int_equal(mqota_agent_reason(&agent), MQOTA_REASON_SIGNATURE);
    t = o;
    t.deployment_id = DEPLOYMENT + 1;
    t.secure_version = 7;
    assert_int_equal(send_offer_struct(&t), MQOTA_ERR_STATE);
    assert_int_equal(mqota_agent_reason(&agent), MQOTA_REASON_SIGNATURE);
    t = o;
    t.deployment_id = DEPLOYMENT + 2;
    t.sha256[0] ^= 1;
    assert_int_equal(send_offer_struct(&t), MQOTA_ERR_STATE);
    assert_int_equal(mqota_agent_reason(&agent), MQOTA_REASON_SIGNATURE);
    assert_int_equal(dev.slot_begin_calls, 0);
    /* transport fields are the server's to choose per deployment */
    t = o;
    t.deployment_id = DEPLOYMENT + 3;
    t.window = 4;
    assert_int_equal(send_offer_struct(&t), MQOTA_OK);
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_OFFERED);
}

static void test_unsigned_refused_when_required(void **state)
{
    (void)state;
    /* requiring signatures without a way to check them is a configuration error */
    mqota_config_t cfg = {.device_id = "dev-1", .max_chunk = 4096, .max_window = 8,
                          .require_signature = true};
    assert_int_equal(mqota_agent_init(&agent, &cfg, &plat, 0), MQOTA_ERR_ARG);

    with_verify = require_sig = true;
    boot(0, MQOTA_SLOT_UNDEFINED);
    mqota_agent_on_connect(&agent);
    assert_int_equal(send_offer(RELEASE, DEPLOYMENT, image_sha, 0), MQOTA_ERR_STATE);
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_FAILED);
    assert_int_equal(mqota_agent_reason(&agent), MQOTA_REASON_UNSIGNED);
    run(1);
    assert_int_equal(last_state().reason, 15);
    assert_string_equal(mqota_reason_name(MQOTA_REASON_UNSIGNED), "unsigned");
    assert_int_equal(dev.slot_begin_calls, 0);
    assert_int_equal(dev.verify_calls, 0);

    /* not required: an unsigned offer is taken */
    require_sig = false;
    boot(0, MQOTA_SLOT_UNDEFINED);
    mqota_agent_on_connect(&agent);
    assert_int_equal(send_offer(RELEASE, DEPLOYMENT + 1, image_sha, 0), MQOTA_OK);
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_OFFERED);

    /* no key at all (no hook): a signature cannot be checked, the offer counts as unsigned */
    with_verify = false;
    boot(0, MQOTA_SLOT_UNDEFINED);
    mqota_agent_on_connect(&agent);
    mqota_offer_t o = make_offer(RELEASE + 1, DEPLOYMENT, 0, other_key);
    assert_int_equal(send_offer_struct(&o), MQOTA_OK);
    assert_int_equal(dev.verify_calls, 0);
}

static void test_forged_offer_does_not_cancel_transfer(void **state)
{
    (void)state;
    with_verify = true;
    boot(0, MQOTA_SLOT_UNDEFINED);
    mqota_agent_on_connect(&agent);
    mqota_offer_t o = make_offer(RELEASE, DEPLOYMENT, 0, trusted_key);
    assert_int_equal(send_offer_struct(&o), MQOTA_OK);
    assert_int_equal(send_chunk(RELEASE, 0, 0), MQOTA_OK);
    mqota_offer_t f = make_offer(RELEASE + 1, DEPLOYMENT + 1, 0, other_key);
    assert_int_equal(send_offer_struct(&f), MQOTA_ERR_STATE);
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_DOWNLOADING);
    assert_int_equal(dev.slot_begin_calls, 1);
    transfer_all();
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_READY_TO_REBOOT);
    assert_int_equal(dev.boot_slot, 1);
}

static void test_below_minimum_refused(void **state)
{
    (void)state;
    with_verify = true;
    install_and_confirm(RELEASE, 5, trusted_key);
    assert_int_equal(mqota_agent_min_secure_version(&agent), 5);
    boot(1, MQOTA_SLOT_VALID); /* the minimum survives a reset */
    assert_int_equal(mqota_agent_min_secure_version(&agent), 5);
    mqota_agent_on_connect(&agent);
    int begins = dev.slot_begin_calls;

    /* a properly signed release with a lower secure_version: refused, nothing erased */
    mqota_offer_t o = make_offer(RELEASE + 1, DEPLOYMENT + 1, 4, trusted_key);
    assert_int_equal(send_offer_struct(&o), MQOTA_ERR_STATE);
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_FAILED);
    assert_int_equal(mqota_agent_reason(&agent), MQOTA_REASON_SECURITY_VERSION);
    run(1);
    assert_int_equal(last_state().reason, 16);
    assert_string_equal(mqota_reason_name(MQOTA_REASON_SECURITY_VERSION), "security-version");
    assert_int_equal(dev.slot_begin_calls, begins);
    /* unsigned offers are held to the minimum too */
    o = make_offer(RELEASE + 2, DEPLOYMENT + 2, 0, NULL);
    assert_int_equal(send_offer_struct(&o), MQOTA_ERR_STATE);
    assert_int_equal(mqota_agent_reason(&agent), MQOTA_REASON_SECURITY_VERSION);
    /* an older build at the minimum is fine (a functional downgrade, not a security one) */
    o = make_offer(RELEASE + 3, DEPLOYMENT + 3, 5, trusted_key);
    snprintf(o.version, sizeof(o.version), "v1.9.0");
    sign_offer(&o, trusted_key);
    assert_int_equal(send_offer_struct(&o), MQOTA_OK);
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_OFFERED);
    assert_int_equal(dev.slot_begin_calls, begins + 1);
}

static void test_minimum_raised_only_after_confirm(void **state)
{
    (void)state;
    boot(0, MQOTA_SLOT_UNDEFINED);
    mqota_agent_on_connect(&agent);
    mqota_offer_t o = make_offer(RELEASE, DEPLOYMENT, 3, NULL);
    assert_int_equal(send_offer_struct(&o), MQOTA_OK);
    transfer_all();
    /* ready to reboot: not yet */
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_READY_TO_REBOOT);
    assert_int_equal(mqota_agent_min_secure_version(&agent), 0);
    assert_null(kv_find("mq.minsv"));
    const kv_entry_t *at = kv_find("mq.boot");
    assert_non_null(at);
    assert_int_equal(at->len, MQOTA_ATTEMPT_RECORD_LEN);
    assert_memory_equal(at->val, "MQBT\x01\x00\x1c\x00", 8); /* tag, version 1, 28 bytes */
    assert_int_equal(at->val[20], 3);
    /* booted, pending verify: not yet */
    boot(1, MQOTA_SLOT_PENDING_VERIFY);
    assert_int_equal(mqota_agent_min_secure_version(&agent), 0);
    assert_null(kv_find("mq.minsv"));
    /* confirmed: now */
    mqota_agent_on_connect(&agent);
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_CONFIRMED);
    assert_int_equal(mqota_agent_min_secure_version(&agent), 3);
    assert_non_null(kv_find("mq.minsv"));
    assert_null(kv_find("mq.boot"));
    boot(1, MQOTA_SLOT_VALID);
    assert_int_equal(mqota_agent_min_secure_version(&agent), 3);
}

static void test_minimum_raised_when_reset_after_mark_valid(void **state)
{
    (void)state;
    boot(0, MQOTA_SLOT_UNDEFINED);
    mqota_agent_on_connect(&agent);
    mqota_offer_t o = make_offer(RELEASE, DEPLOYMENT, 4, NULL);
    assert_int_equal(send_offer_struct(&o), MQOTA_OK);
    transfer_all();
    /* the slot was marked valid but the device reset before the records were updated */
    boot(1, MQOTA_SLOT_VALID);
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_CONFIRMED);
    assert_int_equal(mqota_agent_min_secure_version(&agent), 4);
    assert_null(kv_find("mq.boot"));
}

static void test_minimum_not_raised_after_rollback(void **state)
{
    (void)state;
    boot(0, MQOTA_SLOT_UNDEFINED);
    mqota_agent_on_connect(&agent);
    mqota_offer_t o = make_offer(RELEASE, DEPLOYMENT, 3, NULL);
    assert_int_equal(send_offer_struct(&o), MQOTA_OK);
    transfer_all();
    boot(1, MQOTA_SLOT_PENDING_VERIFY);
    dev.self_test_ok = false;
    mqota_agent_on_connect(&agent);
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_ROLLED_BACK);
    assert_int_equal(mqota_agent_min_secure_version(&agent), 0);
    boot(0, MQOTA_SLOT_UNDEFINED);
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_ROLLED_BACK);
    assert_int_equal(mqota_agent_min_secure_version(&agent), 0);
    assert_null(kv_find("mq.minsv"));

    /* nor after a reset before confirming */
    dev.self_test_ok = true;
    mqota_agent_on_connect(&agent);
    o = make_offer(RELEASE, DEPLOYMENT + 1, 3, NULL);
    assert_int_equal(send_offer_struct(&o), MQOTA_OK);
    transfer_all();
    boot(0, MQOTA_SLOT_UNDEFINED);
    assert_int_equal(mqota_agent_reason(&agent), MQOTA_REASON_RESET);
    assert_int_equal(mqota_agent_min_secure_version(&agent), 0);
    assert_null(kv_find("mq.minsv"));
}

/* Erase the whole key-value store (esptool erase_region of the NVS partition). */
static void wipe_kv(void)
{
    memset(dev.kv, 0, sizeof(dev.kv));
}

/* With the secure_version hooks the minimum is also in eFuse: raised there after confirm, so
 * erasing NVS does not lower it and a downgrade is still refused. */
static void test_efuse_minimum_survives_nvs_erase(void **state)
{
    (void)state;
    dev.have_efuse = true;
    with_verify = true;
    image_sv(5);
    install_and_confirm(RELEASE, 5, trusted_key);
    assert_int_equal(mqota_agent_min_secure_version(&agent), 5);
    assert_int_equal(dev.efuse_sv, 5u);
    assert_non_null(kv_find("mq.minsv"));
    assert_null(kv_find("mq.boot"));
    wipe_kv();
    boot(1, MQOTA_SLOT_VALID);
    assert_int_equal(mqota_agent_min_secure_version(&agent), 5);
    mqota_agent_on_connect(&agent);
    int begins = dev.slot_begin_calls;
    mqota_offer_t o = make_offer(RELEASE + 1, DEPLOYMENT + 1, 4, trusted_key);
    assert_int_equal(send_offer_struct(&o), MQOTA_ERR_STATE);
    assert_int_equal(mqota_agent_reason(&agent), MQOTA_REASON_SECURITY_VERSION);
    assert_int_equal(dev.slot_begin_calls, begins);
    o = make_offer(RELEASE + 2, DEPLOYMENT + 2, 5, trusted_key);
    assert_int_equal(send_offer_struct(&o), MQOTA_OK);
}

/* Without the hooks (today's behaviour, docs/SECURITY.md §4): the minimum is "mq.minsv", and
 * an NVS erase takes it back to 0. */
static void test_minimum_in_nvs_without_efuse_hooks(void **state)
{
    (void)state;
    install_and_confirm(RELEASE, 5, NULL);
    assert_non_null(kv_find("mq.minsv"));
    wipe_kv();
    boot(1, MQOTA_SLOT_VALID);
    assert_int_equal(mqota_agent_min_secure_version(&agent), 0);
    mqota_agent_on_connect(&agent);
    mqota_offer_t o = make_offer(RELEASE + 1, DEPLOYMENT + 1, 4, NULL);
    assert_int_equal(send_offer_struct(&o), MQOTA_OK);
}

/* The eFuse is raised only after confirm; a failed raise keeps the attempt record (the minimum
 * is in force from "mq.minsv" meanwhile), and the next boot raises it. */
static void test_efuse_raised_after_confirm_and_retried(void **state)
{
    (void)state;
    dev.have_efuse = true;
    image_sv(3);
    boot(0, MQOTA_SLOT_UNDEFINED);
    mqota_agent_on_connect(&agent);
    mqota_offer_t o = make_offer(RELEASE, DEPLOYMENT, 3, NULL);
    assert_int_equal(send_offer_struct(&o), MQOTA_OK);
    transfer_all();
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_READY_TO_REBOOT);
    boot(1, MQOTA_SLOT_PENDING_VERIFY);
    assert_int_equal(dev.efuse_raises, 0);
    dev.fail_efuse_raise = true;
    mqota_agent_on_connect(&agent);
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_CONFIRMED);
    assert_int_equal(dev.efuse_raises, 1);
    assert_int_equal(dev.efuse_sv, 0u);
    assert_int_equal(mqota_agent_min_secure_version(&agent), 3); /* from mq.minsv */
    assert_non_null(kv_find("mq.minsv"));
    assert_non_null(kv_find("mq.boot"));
    dev.fail_efuse_raise = false;
    boot(1, MQOTA_SLOT_VALID);
    assert_int_equal(dev.efuse_sv, 3u);
    assert_int_equal(mqota_agent_min_secure_version(&agent), 3);
    assert_null(kv_find("mq.boot"));
}

/* An offer's secure_version above its image's descriptor (a release made with a higher
 * --security-version): "mq.minsv" holds the offer's value, but the eFuse is not raised above
 * the descriptor of the image that runs, or the bootloader would refuse that very image. */
static void test_efuse_not_raised_above_running_descriptor(void **state)
{
    (void)state;
    dev.have_efuse = true;
    image_sv(2);
    install_and_confirm(RELEASE, 5, NULL);
    assert_int_equal(dev.efuse_sv, 2u);
    assert_int_equal(mqota_agent_min_secure_version(&agent), 5);
    mqota_agent_on_connect(&agent);
    mqota_offer_t o = make_offer(RELEASE + 1, DEPLOYMENT + 1, 4, NULL);
    assert_int_equal(send_offer_struct(&o), MQOTA_ERR_STATE);
    assert_int_equal(mqota_agent_reason(&agent), MQOTA_REASON_SECURITY_VERSION);
    /* a wipe of the store leaves what the eFuse holds */
    wipe_kv();
    boot(1, MQOTA_SLOT_VALID);
    assert_int_equal(mqota_agent_min_secure_version(&agent), 2);
    assert_int_equal(dev.efuse_sv, 2u);
}

/* A device moving to a build with the hooks: a higher "mq.minsv" an older agent left is raised
 * into eFuse (as far as the running image's descriptor allows), so a later store wipe does not
 * lower the minimum; the hooks must come as a pair, and an unreadable eFuse stops init. */
static void test_old_minsv_moved_into_efuse(void **state)
{
    (void)state;
    uint8_t rec[MQOTA_RECORD_MAX_LEN];
    size_t n = 0;
    assert_int_equal(mqota_minsv_encode(6, rec, sizeof(rec), &n), MQOTA_OK);
    assert_int_equal(f_kv_set(NULL, "mq.minsv", rec, n), 0);
    dev.have_efuse = true;
    dev.efuse_sv = 2;
    image_sv(6);
    memcpy(dev.slot[0], image, image_len); /* the running image, descriptor secure_version 6 */
    boot(0, MQOTA_SLOT_VALID);
    assert_int_equal(mqota_agent_min_secure_version(&agent), 6);
    assert_int_equal(dev.efuse_sv, 6u);
    wipe_kv();
    boot(0, MQOTA_SLOT_VALID);
    assert_int_equal(mqota_agent_min_secure_version(&agent), 6);

    mqota_config_t cfg = {.device_id = "dev-1", .max_chunk = 4096, .max_window = 8};
    mqota_platform_t p = plat;
    p.secure_version_read = f_sv_read;
    assert_int_equal(mqota_agent_init(&agent, &cfg, &p, dev.now), MQOTA_ERR_ARG);
    p.secure_version_read = NULL;
    p.secure_version_raise = f_sv_raise;
    assert_int_equal(mqota_agent_init(&agent, &cfg, &p, dev.now), MQOTA_ERR_ARG);
    p.secure_version_read = f_sv_read;
    dev.fail_efuse_read = true;
    assert_int_equal(mqota_agent_init(&agent, &cfg, &p, dev.now), MQOTA_ERR_PLATFORM);
}

static void test_old_attempt_record_is_read(void **state)
{
    (void)state;
    /* an "MQB1" boot-attempt record (20 bytes) left by an agent before secure_version */
    uint8_t rec[20] = {0x31, 0x42, 0x51, 0x4D, RELEASE, 0, 0, 0, DEPLOYMENT, 0, 0, 0, 0, 1, 0, 0};
    uint32_t crc = mqota_crc32(0, rec, 16);
    memcpy(rec + 16, &crc, 4);
    f_kv_set(NULL, "mq.boot", rec, sizeof(rec));
    boot(1, MQOTA_SLOT_PENDING_VERIFY);
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_PENDING_VERIFY);
    mqota_agent_on_connect(&agent);
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_CONFIRMED);
    assert_int_equal(last_state().target_release, RELEASE);
    assert_int_equal(mqota_agent_min_secure_version(&agent), 0);
    assert_null(kv_find("mq.boot"));
}

/* Records in the raw-struct layout of agents before the record codec (x86_64 GCC: little-endian,
 * no padding), as the old code wrote them: each is still read, then rewritten once in the
 * current form (docs/PROTOCOL.md §12). */
static void old_seal(uint8_t *rec, size_t len)
{
    uint32_t crc = mqota_crc32(0, rec, len - 4u);
    memcpy(rec + len - 4u, &crc, 4);
}

static void test_old_records_migrated(void **state)
{
    (void)state;
    /* slot 0 holds release 5 "1.0" (44 bytes, "MQS1"); minimum secure_version 2 (12, "MQV1") */
    uint8_t slot0[44] = {0x31, 0x53, 0x51, 0x4D, 5, 0, 0, 0, '1', '.', '0'};
    uint8_t minsv[12] = {0x31, 0x56, 0x51, 0x4D, 2, 0, 0, 0};
    old_seal(slot0, sizeof(slot0));
    old_seal(minsv, sizeof(minsv));
    f_kv_set(NULL, "mq.slot0", slot0, sizeof(slot0));
    f_kv_set(NULL, "mq.minsv", minsv, sizeof(minsv));

    /* an update half done by the old agent: its progress record, then a power cut */
    boot(0, MQOTA_SLOT_UNDEFINED);
    mqota_agent_on_connect(&agent);
    assert_int_equal(last_state().running_release, 5);
    assert_int_equal(mqota_agent_min_secure_version(&agent), 2);
    assert_int_equal(kv_find("mq.slot0")->len, MQOTA_SLOT_RECORD_LEN);
    assert_memory_equal(kv_find("mq.slot0")->val, "MQSL", 4);
    assert_int_equal(kv_find("mq.minsv")->len, MQOTA_MINSV_RECORD_LEN);
    assert_memory_equal(kv_find("mq.minsv")->val, "MQSV", 4);

    mqota_offer_t o = make_offer(RELEASE, DEPLOYMENT, 2, NULL);
    assert_int_equal(send_offer_struct(&o), MQOTA_OK);
    uint32_t half = chunk_count() / 2;
    for (uint32_t i = 0; i < half; i++) send_chunk(RELEASE, i, 0);
    run(1);
    mqota_progress_t p;
    const kv_entry_t *e = kv_find("mq.prog");
    assert_non_null(e);
    assert_int_equal(mqota_progress_decode(e->val, e->len, &p, NULL), MQOTA_OK);
    uint8_t prog[64] = {0x31, 0x50, 0x51, 0x4D};
    uint32_t f[5] = {p.release_id, p.deployment_id, p.image_size, p.chunk_size, p.base};
    memcpy(prog + 4, f, sizeof(f));
    prog[24] = p.slot;
    memcpy(prog + 28, p.sha256, 32);
    old_seal(prog, sizeof(prog));
    f_kv_set(NULL, "mq.prog", prog, sizeof(prog));

    boot(0, MQOTA_SLOT_UNDEFINED);
    mqota_agent_on_connect(&agent);
    assert_int_equal(send_offer_struct(&o), MQOTA_OK);
    run(1);
    mqota_ack_t a = last_ack();
    assert_true(a.flags & MQOTA_ACK_FLAG_RESUMED);
    assert_int_equal(a.base, half);
    e = kv_find("mq.prog");
    assert_int_equal(e->len, MQOTA_PROGRESS_RECORD_LEN);
    assert_memory_equal(e->val, "MQPR", 4);

    /* the boot attempt the old agent recorded (24 bytes, "MQB2"), read after the reboot */
    for (uint32_t i = half; i < chunk_count(); i++) send_chunk(RELEASE, i, 0);
    run(20);
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_READY_TO_REBOOT);
    uint8_t boot_rec[24] = {0x32, 0x42, 0x51, 0x4D, RELEASE, 0, 0, 0, DEPLOYMENT, 0, 0, 0,
                            0, 1, 0, 0, 4, 0, 0, 0};
    old_seal(boot_rec, sizeof(boot_rec));
    f_kv_set(NULL, "mq.boot", boot_rec, sizeof(boot_rec));
    boot(1, MQOTA_SLOT_PENDING_VERIFY);
    assert_int_equal(kv_find("mq.boot")->len, MQOTA_ATTEMPT_RECORD_LEN);
    mqota_agent_on_connect(&agent);
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_CONFIRMED);
    assert_int_equal(mqota_agent_min_secure_version(&agent), 4);
    assert_null(kv_find("mq.boot"));
    assert_int_equal(last_state().running_release, RELEASE);
}

/* ---- sealed commands (docs/PROTOCOL.md §14) ---- */

static const char *cmd_topic = "mqota/v1/dev/dev-1/cmd";

/* Seal a COMMAND as mqotad does; returns the frame length. */
static size_t seal_command(uint8_t *frame, uint64_t counter, uint32_t id, const char *name,
                           const char *args, const uint8_t *key, const char *device_id)
{
    mqota_command_t c = {.command_id = id, .args_len = (uint16_t)strlen(args),
                         .args = (const uint8_t *)args};
    snprintf(c.name, sizeof(c.name), "%s", name);
    uint8_t nonce[12], aad[MQOTA_AEAD_AAD_MAX];
    size_t n = 0, aad_len = 0;
    assert_int_equal(mqota_sealed_header(MQOTA_MSG_COMMAND, counter, frame), MQOTA_OK);
    assert_int_equal(mqota_command_encode(&c, frame + 16, MQOTA_SEALED_PLAIN_MAX, &n), MQOTA_OK);
    mqota_sealed_nonce(frame, nonce);
    assert_int_equal(mqota_sealed_aad(frame, device_id, aad, sizeof(aad), &aad_len), MQOTA_OK);
    assert_int_equal(gcm(key, true, nonce, aad, aad_len, frame + 16, n, frame + 16, frame + 16 + n), 0);
    return 32 + n;
}

/* Open the newest REPLY with the device key, as mqotad does; body copied to body (NUL-ended). */
static mqota_reply_t open_reply(uint64_t *counter, char *body, size_t cap)
{
    const pub_t *p = last_pub("reply");
    assert_non_null(p);
    assert_int_equal(p->qos, 1);
    assert_false(p->retain);
    mqota_sealed_t f;
    assert_int_equal(mqota_sealed_decode(p->payload, p->len, MQOTA_MSG_REPLY, &f), MQOTA_OK);
    uint8_t nonce[12], aad[MQOTA_AEAD_AAD_MAX], plain[1024];
    size_t aad_len = 0;
    mqota_sealed_nonce(f.header, nonce);
    assert_int_equal(mqota_sealed_aad(f.header, "dev-1", aad, sizeof(aad), &aad_len), MQOTA_OK);
    assert_int_equal(gcm(dev_key, false, nonce, aad, aad_len, f.ciphertext, f.ciphertext_len,
                         plain, (uint8_t *)f.tag), 0);
    static uint8_t keep[1024];
    memcpy(keep, plain, f.ciphertext_len);
    mqota_reply_t r;
    assert_int_equal(mqota_reply_decode(keep, f.ciphertext_len, &r), MQOTA_OK);
    if (counter) *counter = f.counter;
    if (body) {
        size_t n = r.body_len < cap - 1 ? r.body_len : cap - 1;
        memcpy(body, r.body, n);
        body[n] = '\0';
    }
    return r;
}

static mqota_status_t send_command(uint64_t counter, uint32_t id, const char *name, const char *args)
{
    uint8_t frame[1024];
    size_t len = seal_command(frame, counter, id, name, args, dev_key, "dev-1");
    return mqota_agent_on_message(&agent, cmd_topic, frame, len);
}

static void test_commands_builtin_and_app(void **state)
{
    (void)state;
    with_commands = true;
    boot(0, MQOTA_SLOT_UNDEFINED);
    assert_int_equal(mqota_agent_on_connect(&agent), MQOTA_OK);
    bool subscribed = false;
    for (int i = 0; i < nsubs; i++) subscribed |= strcmp(subs[i], cmd_topic) == 0;
    assert_true(subscribed);
    assert_true(last_state().caps & MQOTA_CAP_COMMANDS);

    char body[1024];
    uint64_t c1 = 0, c2 = 0;
    dev.now += 5000;
    assert_int_equal(send_command(100, 1, "diagnostics", ""), MQOTA_OK);
    mqota_reply_t r = open_reply(&c1, body, sizeof(body));
    assert_int_equal(r.command_id, 1);
    assert_int_equal(r.result, MQOTA_CMD_OK);
    assert_non_null(strstr(body, "uptime_ms=5000\n"));
    assert_non_null(strstr(body, "version=1\n"));
    assert_non_null(strstr(body, "slot=0\n"));
    assert_non_null(strstr(body, "state=idle\n"));
    assert_non_null(strstr(body, "commands_accepted=1\n"));
    assert_non_null(strstr(body, "rssi=-67\n")); /* the platform's lines come last */
    /* every key of docs/PROTOCOL.md §14.3, in its order, then the platform's */
    static const char *const keys[] = {
        "uptime_ms", "boot_count", "slot", "state", "reason", "project", "version",
        "release_version", "idf_ver", "running_release", "target_release", "progress",
        "image_size", "min_secure_version", "commands_accepted", "commands_refused", "rssi"};
    const char *line = body;
    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
        size_t n = strlen(keys[k]);
        assert_true(strncmp(line, keys[k], n) == 0 && line[n] == '=');
        line = strchr(line, '\n');
        assert_non_null(line);
        line++;
    }

    assert_int_equal(send_command(101, 2, "relay", "on"), MQOTA_OK);
    r = open_reply(&c2, body, sizeof(body));
    assert_int_equal(r.command_id, 2);
    assert_int_equal(r.result, MQOTA_CMD_OK);
    assert_string_equal(body, "relay=on");
    assert_true(relay_on);
    assert_true(c2 > c1); /* every reply has a new counter */

    assert_int_equal(send_command(102, 3, "relay", "sideways"), MQOTA_OK);
    assert_int_equal(open_reply(NULL, NULL, 0).result, MQOTA_CMD_FAILED);
    assert_int_equal(send_command(103, 4, "self-destruct", ""), MQOTA_OK);
    assert_int_equal(open_reply(NULL, NULL, 0).result, MQOTA_CMD_UNKNOWN);
    assert_int_equal(send_command(104, 5, "confirm", ""), MQOTA_OK);
    r = open_reply(NULL, body, sizeof(body));
    assert_int_equal(r.result, MQOTA_CMD_WRONG_STATE);
    assert_string_equal(body, "not pending-verify (state idle)");
    assert_int_equal(send_command(105, 6, "reboot", "now"), MQOTA_OK);
    assert_int_equal(open_reply(NULL, NULL, 0).result, MQOTA_CMD_FAILED);
    assert_int_equal(dev.reboots, 0);

    /* reboot: the reply goes out first, then the restart */
    assert_int_equal(send_command(106, 7, "reboot", ""), MQOTA_OK);
    assert_int_equal(open_reply(NULL, NULL, 0).result, MQOTA_CMD_OK);
    run(2);
    assert_int_equal(dev.reboots, 1);
}

static void test_command_replay_refused(void **state)
{
    (void)state;
    with_commands = true;
    boot(0, MQOTA_SLOT_UNDEFINED);
    mqota_agent_on_connect(&agent);
    uint8_t frame_on[1024], frame_off[1024];
    size_t on_len = seal_command(frame_on, 500, 1, "relay", "on", dev_key, "dev-1");
    size_t off_len = seal_command(frame_off, 501, 2, "relay", "off", dev_key, "dev-1");
    assert_int_equal(mqota_agent_on_message(&agent, cmd_topic, frame_on, on_len), MQOTA_OK);
    assert_int_equal(mqota_agent_on_message(&agent, cmd_topic, frame_off, off_len), MQOTA_OK);
    assert_false(relay_on);
    assert_int_equal(relay_calls, 2);

    /* the recorded "relay on" again: refused, not run, reported */
    assert_int_equal(mqota_agent_on_message(&agent, cmd_topic, frame_on, on_len), MQOTA_ERR_REPLAY);
    assert_false(relay_on);
    assert_int_equal(relay_calls, 2);
    mqota_reply_t r = open_reply(NULL, NULL, 0);
    assert_int_equal(r.command_id, 0);
    assert_int_equal(r.result, MQOTA_CMD_REFUSED_REPLAY);
    mqota_refusal_t ref;
    assert_int_equal(mqota_refusal_decode(r.body, r.body_len, &ref), MQOTA_OK);
    assert_int_equal(ref.refused_counter, 500);
    assert_int_equal(ref.highest_counter, 501);
    assert_int_equal(ref.refused_total, 1);

    /* a second refusal within MQOTA_REFUSAL_REPORT_MS is counted but not reported */
    int replies = count_pubs("reply");
    assert_int_equal(mqota_agent_on_message(&agent, cmd_topic, frame_off, off_len), MQOTA_ERR_REPLAY);
    assert_int_equal(count_pubs("reply"), replies);
    dev.now += MQOTA_REFUSAL_REPORT_MS;
    assert_int_equal(mqota_agent_on_message(&agent, cmd_topic, frame_off, off_len), MQOTA_ERR_REPLAY);
    assert_int_equal(count_pubs("reply"), replies + 1);
    assert_int_equal(mqota_refusal_decode(open_reply(NULL, NULL, 0).body, 24, &ref), MQOTA_OK);
    assert_int_equal(ref.refused_total, 3);

    /* the window: an unseen counter below the highest is accepted once, one 64 behind is not */
    assert_int_equal(send_command(499, 3, "relay", "on"), MQOTA_OK);
    assert_int_equal(send_command(499, 4, "relay", "on"), MQOTA_ERR_REPLAY);
    assert_int_equal(send_command(600, 5, "relay", "off"), MQOTA_OK);
    assert_int_equal(send_command(536, 6, "relay", "on"), MQOTA_ERR_REPLAY);
    assert_int_equal(send_command(537, 7, "relay", "on"), MQOTA_OK);
    assert_int_equal(relay_calls, 5);

    /* the window survives a restart: the recorded frames stay refused */
    uint64_t before = 0, after = 0;
    open_reply(&before, NULL, 0);
    boot(0, MQOTA_SLOT_UNDEFINED);
    mqota_agent_on_connect(&agent);
    dev.now += MQOTA_REFUSAL_REPORT_MS;
    assert_int_equal(mqota_agent_on_message(&agent, cmd_topic, frame_off, off_len), MQOTA_ERR_REPLAY);
    assert_int_equal(relay_calls, 5);
    open_reply(&after, NULL, 0);
    assert_true(after > before); /* reply counters continue after the restart: no nonce reuse */
    uint32_t acc = 0, refd = 0;
    mqota_agent_command_counts(&agent, &acc, &refd);
    assert_int_equal(acc, 0);
    assert_int_equal(refd, 1);
}

static void test_command_altered_refused(void **state)
{
    (void)state;
    with_commands = true;
    boot(0, MQOTA_SLOT_UNDEFINED);
    mqota_agent_on_connect(&agent);
    uint8_t frame[1024], bad[1024];
    size_t len = seal_command(frame, 7000, 9, "relay", "on", dev_key, "dev-1");
    /* every single-byte alteration, at every position of the frame, is refused and not run */
    for (size_t i = 0; i < len; i++) {
        memcpy(bad, frame, len);
        bad[i] ^= 0x01;
        dev.now += MQOTA_REFUSAL_REPORT_MS;
        mqota_status_t st = mqota_agent_on_message(&agent, cmd_topic, bad, len);
        assert_true(st == MQOTA_ERR_AUTH || st == MQOTA_ERR_MALFORMED || st == MQOTA_ERR_VERSION ||
                    st == MQOTA_ERR_TYPE);
        mqota_reply_t r = open_reply(NULL, NULL, 0);
        assert_int_equal(r.command_id, 0);
        assert_true(r.result == MQOTA_CMD_REFUSED_FORGED || r.result == MQOTA_CMD_REFUSED_MALFORMED);
        if (i >= 16) assert_int_equal(r.result, MQOTA_CMD_REFUSED_FORGED);
    }
    /* truncated by one byte, sealed with another key, sealed for another device */
    assert_int_equal(mqota_agent_on_message(&agent, cmd_topic, frame, len - 1), MQOTA_ERR_AUTH);
    len = seal_command(bad, 7001, 10, "relay", "on", wrong_key, "dev-1");
    assert_int_equal(mqota_agent_on_message(&agent, cmd_topic, bad, len), MQOTA_ERR_AUTH);
    len = seal_command(bad, 7002, 11, "relay", "on", dev_key, "dev-2");
    assert_int_equal(mqota_agent_on_message(&agent, cmd_topic, bad, len), MQOTA_ERR_AUTH);
    assert_int_equal(mqota_agent_on_message(&agent, cmd_topic, frame, 3), MQOTA_ERR_TRUNCATED);
    assert_int_equal(relay_calls, 0);
    /* the genuine frame still works: refusals spent no counter */
    assert_int_equal(mqota_agent_on_message(&agent, cmd_topic, frame, 32 + 7 + 5 + 2), MQOTA_OK);
    assert_int_equal(relay_calls, 1);
}

static void test_command_store_failure_not_run(void **state)
{
    (void)state;
    with_commands = true;
    boot(0, MQOTA_SLOT_UNDEFINED);
    mqota_agent_on_connect(&agent);
    dev.fail_kv_set = true;
    assert_int_equal(send_command(10, 1, "relay", "on"), MQOTA_ERR_PLATFORM);
    assert_int_equal(relay_calls, 0);
    assert_null(last_pub("reply")); /* no counter could be stored: nothing sealed */
    dev.fail_kv_set = false;
    assert_int_equal(send_command(10, 1, "relay", "on"), MQOTA_OK);
    assert_int_equal(relay_calls, 1);
}

/* A malformed offer (e.g. a newer protocol version) arriving while the new image waits in
 * pending-verify, or while the boot slot is switched and the reboot is the application's, used
 * to set the state to failed: the confirm command was then refused (wrong state), the confirm
 * timeout never fired, and the update ended as a bootloader rollback at the next reset. The
 * transition table allows failed only from states where an update can still fail. */
static void test_malformed_offer_does_not_end_pending_verify(void **state)
{
    (void)state;
    uint8_t junk[MQOTA_OFFER_MAX_LEN];
    size_t len;
    with_commands = confirm_by_command = true;
    boot(0, MQOTA_SLOT_UNDEFINED);
    mqota_agent_on_connect(&agent);
    send_offer(RELEASE, DEPLOYMENT, image_sha, 0);
    transfer_all();
    boot(1, MQOTA_SLOT_PENDING_VERIFY);
    mqota_agent_on_connect(&agent);
    run(5);
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_PENDING_VERIFY);
    offer_msg(junk, &len, RELEASE + 1, DEPLOYMENT + 1, image_sha, 0);
    junk[2] = 2; /* protocol version 2 */
    assert_int_equal(mqota_agent_on_message(&agent, "mqota/v1/dev/dev-1/offer", junk, len),
                     MQOTA_ERR_VERSION);
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_PENDING_VERIFY);
    assert_int_equal(mqota_agent_reason(&agent), MQOTA_REASON_NONE);
    assert_int_equal(send_command(1, 1, "confirm", ""), MQOTA_OK);
    assert_int_equal(open_reply(NULL, NULL, 0).result, MQOTA_CMD_OK);
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_CONFIRMED);

    /* ready to reboot, the reboot left to the application: the same junk changes nothing */
    auto_reboot_off = true;
    boot(1, MQOTA_SLOT_VALID);
    mqota_agent_on_connect(&agent);
    send_offer(RELEASE + 1, DEPLOYMENT + 1, image_sha, 0);
    transfer_release(RELEASE + 1);
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_READY_TO_REBOOT);
    assert_int_equal(mqota_agent_on_message(&agent, "mqota/v1/dev/dev-1/offer", junk, len),
                     MQOTA_ERR_VERSION);
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_READY_TO_REBOOT);
    /* idle, the same junk is reported as before */
    boot(0, MQOTA_SLOT_VALID);
    assert_int_equal(mqota_agent_on_message(&agent, "mqota/v1/dev/dev-1/offer", junk, len),
                     MQOTA_ERR_VERSION);
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_FAILED);
    assert_int_equal(mqota_agent_reason(&agent), MQOTA_REASON_MALFORMED_OFFER);
}

static void test_confirm_and_rollback_by_command(void **state)
{
    (void)state;
    with_commands = confirm_by_command = true;
    boot(0, MQOTA_SLOT_UNDEFINED);
    mqota_agent_on_connect(&agent);
    send_offer(RELEASE, DEPLOYMENT, image_sha, 0);
    transfer_all();
    /* the new image waits for the server after its self-test */
    boot(1, MQOTA_SLOT_PENDING_VERIFY);
    mqota_agent_on_connect(&agent);
    run(5);
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_PENDING_VERIFY);
    assert_int_equal(dev.mark_valid_calls, 0);
    assert_int_equal(send_command(1, 1, "confirm", ""), MQOTA_OK);
    assert_int_equal(open_reply(NULL, NULL, 0).result, MQOTA_CMD_OK);
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_CONFIRMED);
    assert_int_equal(dev.mark_valid_calls, 1);
    assert_int_equal(send_command(2, 2, "rollback", ""), MQOTA_OK);
    assert_int_equal(open_reply(NULL, NULL, 0).result, MQOTA_CMD_WRONG_STATE);
    /* diagnostics agree with the STATE: the confirmed image's size and progress */
    char body[1024], want[64];
    assert_int_equal(send_command(5, 5, "diagnostics", ""), MQOTA_OK);
    open_reply(NULL, body, sizeof(body));
    mqota_state_msg_t st = last_state();
    snprintf(want, sizeof(want), "\nprogress=%u\nimage_size=%u\n", (unsigned)st.progress,
             (unsigned)st.image_size);
    assert_non_null(strstr(body, want));
    assert_non_null(strstr(body, "state=confirmed\n"));

    /* again, and this time the server says roll back */
    send_offer(RELEASE + 1, DEPLOYMENT + 1, image_sha, 0);
    transfer_release(RELEASE + 1);
    assert_int_equal(dev.boot_slot, 0);
    boot(0, MQOTA_SLOT_PENDING_VERIFY);
    mqota_agent_on_connect(&agent);
    assert_int_equal(send_command(3, 3, "rollback", ""), MQOTA_OK);
    assert_int_equal(open_reply(NULL, NULL, 0).result, MQOTA_CMD_OK);
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_ROLLED_BACK);
    assert_int_equal(dev.mark_invalid_calls, 1);
    run(2);
    assert_int_equal(dev.reboots, 3);
    boot(1, MQOTA_SLOT_VALID); /* the bootloader went back to slot 1 */
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_ROLLED_BACK);
    assert_int_equal(mqota_agent_reason(&agent), MQOTA_REASON_COMMAND);

    /* no command at all within confirm_timeout_ms, though connected: rolled back */
    send_offer(RELEASE + 2, DEPLOYMENT + 2, image_sha, 0);
    transfer_release(RELEASE + 2);
    boot(0, MQOTA_SLOT_PENDING_VERIFY);
    mqota_agent_on_connect(&agent);
    dev.now += MQOTA_CONFIRM_TIMEOUT_MS + 10;
    run(1);
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_ROLLED_BACK);
    assert_int_equal(mqota_agent_reason(&agent), MQOTA_REASON_CONFIRM_TIMEOUT);
}

/* Power cut after "mq.boot" was written but before the otadata switch completed: the old image
 * runs, the new slot was never selected. With slot_state_of the agent does not call that a
 * rollback; the retained offer resumes the update. */
static void test_switch_never_took_effect(void **state)
{
    (void)state;
    dev.have_slot_state_of = true;
    boot(0, MQOTA_SLOT_UNDEFINED);
    mqota_agent_on_connect(&agent);
    send_offer(RELEASE, DEPLOYMENT, image_sha, 0);
    transfer_all();
    assert_int_equal(dev.boot_slot, 1);
    assert_non_null(kv_find("mq.boot"));
    /* the switch "did not happen": slot 1 has no otadata entry */
    dev.state_of[1] = MQOTA_SLOT_UNDEFINED;
    boot(0, MQOTA_SLOT_UNDEFINED);
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_IDLE);
    assert_null(kv_find("mq.boot"));
    mqota_agent_on_connect(&agent);
    assert_int_equal(send_offer(RELEASE, DEPLOYMENT, image_sha, 0), MQOTA_OK); /* not ignored */
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_OFFERED);

    /* the bootloader selected it and refused the image (still NEW): rolled back, invalid-image */
    transfer_all();
    dev.state_of[1] = MQOTA_SLOT_NEW;
    boot(0, MQOTA_SLOT_UNDEFINED);
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_ROLLED_BACK);
    assert_int_equal(mqota_agent_reason(&agent), MQOTA_REASON_INVALID_IMAGE);
    /* ... reset while pending verify (ABORTED): rolled back, reset */
    send_offer(RELEASE, DEPLOYMENT + 1, image_sha, 0);
    transfer_all();
    dev.state_of[1] = MQOTA_SLOT_ABORTED;
    boot(0, MQOTA_SLOT_UNDEFINED);
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_ROLLED_BACK);
    assert_int_equal(mqota_agent_reason(&agent), MQOTA_REASON_RESET);
}

/* ---- download now, activate later (docs/PROTOCOL.md §5.2) ---- */

/* An offer with the hold flag: downloaded, verified and held; the boot slot does not change and
 * nothing reboots. The same offer again keeps holding; without the flag it activates: the slot
 * is read back again, the boot slot switches, the device reboots and confirms as ever. */
static void test_hold_then_activate(void **state)
{
    (void)state;
    offer_flags = MQOTA_OFFER_FLAG_HOLD;
    boot(0, MQOTA_SLOT_UNDEFINED);
    mqota_agent_on_connect(&agent);
    assert_true(last_state().caps & MQOTA_CAP_HOLD);
    assert_int_equal(send_offer(RELEASE, DEPLOYMENT, image_sha, 0), MQOTA_OK);
    transfer_all();
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_HELD);
    assert_int_equal(memcmp(dev.slot[1], image, image_len), 0);
    assert_int_equal(dev.boot_slot, -1);
    assert_int_equal(dev.reboots, 0);
    mqota_state_msg_t m = last_state();
    assert_int_equal(m.state, MQOTA_STATE_HELD);
    assert_int_equal(m.target_release, RELEASE);
    assert_int_equal(m.progress, image_len);
    assert_int_equal(m.image_size, image_len);
    assert_non_null(kv_find("mq.held"));
    assert_null(kv_find("mq.prog"));
    assert_null(kv_find("mq.boot"));
    /* the retained offer again (a reconnect): still held, nothing read or written */
    int sets = dev.kv_sets, begins = dev.slot_begin_calls;
    assert_int_equal(send_offer(RELEASE, DEPLOYMENT, image_sha, 0), MQOTA_IGNORED);
    run(20);
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_HELD);
    assert_int_equal(dev.kv_sets, sets);
    assert_int_equal(dev.slot_begin_calls, begins);
    assert_int_equal(dev.reboots, 0);
    /* activation: the same offer without the flag */
    offer_flags = 0;
    assert_int_equal(send_offer(RELEASE, DEPLOYMENT, image_sha, 0), MQOTA_OK);
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_VERIFYING);
    run(20);
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_READY_TO_REBOOT);
    assert_int_equal(dev.boot_slot, 1);
    assert_int_equal(dev.reboots, 1);
    assert_int_equal(dev.slot_begin_calls, begins); /* nothing downloaded again */
    assert_null(kv_find("mq.held"));
    boot(1, MQOTA_SLOT_PENDING_VERIFY);
    mqota_agent_on_connect(&agent);
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_CONFIRMED);
    assert_int_equal(last_state().running_release, RELEASE);
}

/* A reset while held: the agent comes back held from "mq.held" alone, and the retained offer
 * (still with the flag) changes nothing. The held image is hashed again at activation: a slot
 * altered while held fails (hash-mismatch) with the boot slot unchanged and the record gone. */
static void test_hold_survives_reset_and_is_verified_again(void **state)
{
    (void)state;
    offer_flags = MQOTA_OFFER_FLAG_HOLD;
    boot(0, MQOTA_SLOT_UNDEFINED);
    mqota_agent_on_connect(&agent);
    send_offer(RELEASE, DEPLOYMENT, image_sha, 0);
    transfer_all();
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_HELD);
    boot(0, MQOTA_SLOT_VALID); /* power cut */
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_HELD);
    mqota_agent_on_connect(&agent);
    mqota_state_msg_t m = last_state();
    assert_int_equal(m.state, MQOTA_STATE_HELD);
    assert_int_equal(m.target_release, RELEASE);
    assert_int_equal(m.progress, image_len);
    assert_int_equal(send_offer(RELEASE, DEPLOYMENT, image_sha, 0), MQOTA_IGNORED);
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_HELD);
    dev.slot[1][image_len / 2] ^= 0x40; /* the slot changed while held */
    offer_flags = 0;
    assert_int_equal(send_offer(RELEASE, DEPLOYMENT, image_sha, 0), MQOTA_OK);
    run(20);
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_FAILED);
    assert_int_equal(mqota_agent_reason(&agent), MQOTA_REASON_HASH_MISMATCH);
    assert_int_equal(dev.boot_slot, -1);
    assert_int_equal(dev.reboots, 0);
    assert_null(kv_find("mq.held"));
    boot(0, MQOTA_SLOT_VALID);
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_IDLE);
}

/* A reset during the activation (reading the slot back): held again at boot; the retained
 * offer, now without the flag, activates it again. */
static void test_hold_reset_during_activation(void **state)
{
    (void)state;
    offer_flags = MQOTA_OFFER_FLAG_HOLD;
    boot(0, MQOTA_SLOT_UNDEFINED);
    mqota_agent_on_connect(&agent);
    send_offer(RELEASE, DEPLOYMENT, image_sha, 0);
    transfer_all();
    offer_flags = 0;
    assert_int_equal(send_offer(RELEASE, DEPLOYMENT, image_sha, 0), MQOTA_OK);
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_VERIFYING);
    boot(0, MQOTA_SLOT_VALID); /* reset before the read-back ended */
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_HELD);
    mqota_agent_on_connect(&agent);
    assert_int_equal(send_offer(RELEASE, DEPLOYMENT, image_sha, 0), MQOTA_OK);
    run(20);
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_READY_TO_REBOOT);
    assert_int_equal(dev.boot_slot, 1);
}

/* A newer offer replaces the held image (its slot is downloaded again and the record goes);
 * a cleared offer drops it; neither comes back after a reset. */
static void test_hold_replaced_or_cleared(void **state)
{
    (void)state;
    offer_flags = MQOTA_OFFER_FLAG_HOLD;
    boot(0, MQOTA_SLOT_UNDEFINED);
    mqota_agent_on_connect(&agent);
    send_offer(RELEASE, DEPLOYMENT, image_sha, 0);
    transfer_all();
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_HELD);
    offer_flags = 0;
    assert_int_equal(send_offer(RELEASE + 1, DEPLOYMENT + 1, image_sha, 0), MQOTA_OK);
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_OFFERED);
    assert_null(kv_find("mq.held"));
    boot(0, MQOTA_SLOT_VALID);
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_IDLE);
    mqota_agent_on_connect(&agent);
    /* held again, then the server clears the offer */
    offer_flags = MQOTA_OFFER_FLAG_HOLD;
    assert_int_equal(send_offer(RELEASE + 1, DEPLOYMENT + 2, image_sha, 0), MQOTA_OK);
    transfer_release(RELEASE + 1);
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_HELD);
    /* a malformed offer has no authority over it */
    uint8_t junk[8] = {'M', 'Q', 1, 2, 0, 0, 0, 0};
    assert_int_equal(mqota_agent_on_message(&agent, "mqota/v1/dev/dev-1/offer", junk,
                                            sizeof(junk)),
                     MQOTA_ERR_TRUNCATED);
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_HELD);
    assert_int_equal(mqota_agent_on_message(&agent, "mqota/v1/dev/dev-1/offer", NULL, 0),
                     MQOTA_OK);
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_IDLE);
    assert_null(kv_find("mq.held"));
    boot(0, MQOTA_SLOT_VALID);
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_IDLE);
    assert_int_equal(dev.boot_slot, -1);
    offer_flags = 0;
}

/* Activated while still downloading (the server cleared the flag early): no hold at the end. */
static void test_hold_activated_before_verified(void **state)
{
    (void)state;
    offer_flags = MQOTA_OFFER_FLAG_HOLD;
    boot(0, MQOTA_SLOT_UNDEFINED);
    mqota_agent_on_connect(&agent);
    send_offer(RELEASE, DEPLOYMENT, image_sha, 0);
    for (uint32_t i = 0; i < chunk_count() / 2; i++) send_chunk(RELEASE, i, 0);
    run(1);
    offer_flags = 0;
    assert_int_equal(send_offer(RELEASE, DEPLOYMENT, image_sha, 0), MQOTA_IGNORED);
    transfer_all();
    assert_int_equal(mqota_agent_state(&agent), MQOTA_STATE_READY_TO_REBOOT);
    assert_int_equal(dev.boot_slot, 1);
    assert_null(kv_find("mq.held"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_connect_announces, setup),
        cmocka_unit_test_setup(test_telemetry_publish, setup),
        cmocka_unit_test_setup(test_health_publish, setup),
        cmocka_unit_test_setup(test_init_rejects_bad_config, setup),
        cmocka_unit_test_setup(test_init_checks_build_config, setup),
        cmocka_unit_test_setup(test_full_update_and_confirm, setup),
        cmocka_unit_test_setup(test_out_of_order_duplicates_and_bad_crc, setup),
        cmocka_unit_test_setup(test_resume_after_restart, setup),
        cmocka_unit_test_setup(test_resume_while_verifying_large_chunks, setup),
        cmocka_unit_test_setup(test_resume_ignores_other_release, setup),
        cmocka_unit_test_setup(test_hash_mismatch_keeps_boot_slot, setup),
        cmocka_unit_test_setup(test_flipped_byte_in_image_refused, setup),
        cmocka_unit_test_setup(test_chip_mismatch, setup),
        cmocka_unit_test_setup(test_file_release_refused, setup),
        cmocka_unit_test_setup(test_malformed_offer, setup),
        cmocka_unit_test_setup(test_flash_write_failure, setup),
        cmocka_unit_test_setup(test_self_test_failure_rolls_back, setup),
        cmocka_unit_test_setup(test_reset_before_confirm, setup),
        cmocka_unit_test_setup(test_confirm_timeout, setup),
        cmocka_unit_test_setup(test_stall_sends_request, setup),
        cmocka_unit_test_setup(test_empty_offer_cancels, setup),
        cmocka_unit_test_setup(test_multicast_stream, setup),
        cmocka_unit_test_setup(test_signed_offer_installs, setup),
        cmocka_unit_test_setup(test_forged_signature_refused_before_erase, setup),
        cmocka_unit_test_setup(test_tampered_offer_field_refused, setup),
        cmocka_unit_test_setup(test_unsigned_refused_when_required, setup),
        cmocka_unit_test_setup(test_forged_offer_does_not_cancel_transfer, setup),
        cmocka_unit_test_setup(test_below_minimum_refused, setup),
        cmocka_unit_test_setup(test_minimum_raised_only_after_confirm, setup),
        cmocka_unit_test_setup(test_minimum_raised_when_reset_after_mark_valid, setup),
        cmocka_unit_test_setup(test_minimum_not_raised_after_rollback, setup),
        cmocka_unit_test_setup(test_efuse_minimum_survives_nvs_erase, setup),
        cmocka_unit_test_setup(test_minimum_in_nvs_without_efuse_hooks, setup),
        cmocka_unit_test_setup(test_efuse_raised_after_confirm_and_retried, setup),
        cmocka_unit_test_setup(test_efuse_not_raised_above_running_descriptor, setup),
        cmocka_unit_test_setup(test_old_minsv_moved_into_efuse, setup),
        cmocka_unit_test_setup(test_old_attempt_record_is_read, setup),
        cmocka_unit_test_setup(test_old_records_migrated, setup),
        cmocka_unit_test_setup(test_commands_builtin_and_app, setup),
        cmocka_unit_test_setup(test_command_replay_refused, setup),
        cmocka_unit_test_setup(test_command_altered_refused, setup),
        cmocka_unit_test_setup(test_command_store_failure_not_run, setup),
        cmocka_unit_test_setup(test_confirm_and_rollback_by_command, setup),
        cmocka_unit_test_setup(test_malformed_offer_does_not_end_pending_verify, setup),
        cmocka_unit_test_setup(test_switch_never_took_effect, setup),
        cmocka_unit_test_setup(test_hold_then_activate, setup),
        cmocka_unit_test_setup(test_hold_survives_reset_and_is_verified_again, setup),
        cmocka_unit_test_setup(test_hold_reset_during_activation, setup),
        cmocka_unit_test_setup(test_hold_replaced_or_cleared, setup),
        cmocka_unit_test_setup(test_hold_activated_before_verified, setup),
    };
    return mqota_fixtures_run_group("agent", tests, load_image, free_image);
}
