/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the device agent's state machine: arbitrary sequences of offers,
 * chunks (device and stream topics), connects, disconnects, reboots and clock steps against a
 * RAM platform. The agent must never crash, read or write out of bounds, or write the slot it
 * runs from. The platform has the POSIX port's inflate hook, so offers with an encoding
 * (docs/PROTOCOL.md §6.1) run chunks through the decode stage.
 *
 * Input: records of [kind u8][len u16 LE][payload len bytes]; kind % 7: 0 offer, 1 chunk,
 * 2 stream chunk, 3 connect / disconnect, 4 time step (payload[0] * 50 ms), 5 reboot,
 * 6 sealed command. The AEAD hooks are a stand-in that the fuzzer can satisfy (identity
 * cipher, all-zero tag), so the paths after authentication (replay window, plaintext decoder,
 * built-in commands, confirm/rollback) are reached; the real cipher is tested in test_aead.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "mqota/mqota.h"
#include "mqota_posix/inflate.h"

#define SLOT_BYTES (64u * 1024u)
#define KV_MAX 8
#define CHECK(c) do { if (!(c)) abort(); } while (0)

static struct {
    uint8_t slot[2][SLOT_BYTES];
    uint8_t running;
    mqota_slot_state_t state;
    struct { char key[16]; uint8_t val[128]; size_t len; int used; } kv[KV_MAX];
    uint64_t now;
    SHA256_CTX sha;
    int booted_new;
} dev;

static int f_publish(void *c, const char *t, const uint8_t *p, size_t l, int q, bool r)
{
    (void)c; (void)q; (void)r;
    CHECK(t != NULL && (p != NULL || l == 0));
    return 0;
}
static int f_sub(void *c, const char *t, int q) { (void)c; (void)q; CHECK(t); return 0; }
static int f_unsub(void *c, const char *t) { (void)c; CHECK(t); return 0; }
static int f_running(void *c, mqota_running_t *o)
{
    (void)c;
    memset(o, 0, sizeof(*o));
    o->running_slot = dev.running;
    o->slot_count = 2;
    strcpy(o->project, "fuzz");
    strcpy(o->version, "1");
    return 0;
}
static int f_slot_size(void *c, uint8_t s, uint32_t *b) { (void)c; (void)s; *b = SLOT_BYTES; return 0; }
static int f_begin(void *c, uint8_t s, uint32_t size, uint32_t from)
{
    (void)c;
    CHECK(s < 2 && s != dev.running && size <= SLOT_BYTES && from % 4096u == 0);
    uint32_t end = (size + 4095u) / 4096u * 4096u;
    CHECK(from <= end && end <= SLOT_BYTES);
    memset(dev.slot[s] + from, 0xFF, end - from);
    return 0;
}
static int f_write(void *c, uint8_t s, uint32_t off, const uint8_t *d, size_t l)
{
    (void)c;
    CHECK(s < 2 && s != dev.running && off <= SLOT_BYTES && l <= SLOT_BYTES - off);
    for (size_t i = 0; i < l; i++) dev.slot[s][off + i] &= d[i];
    return 0;
}
static int f_read(void *c, uint8_t s, uint32_t off, uint8_t *d, size_t l)
{
    (void)c;
    CHECK(s < 2 && off <= SLOT_BYTES && l <= SLOT_BYTES - off);
    memcpy(d, dev.slot[s] + off, l);
    return 0;
}
static int f_end(void *c, uint8_t s, uint32_t n) { (void)c; (void)s; (void)n; return 0; }
static int f_set_boot(void *c, uint8_t s) { (void)c; CHECK(s < 2); dev.booted_new = 1; return 0; }
static int f_state(void *c, mqota_slot_state_t *st) { (void)c; *st = dev.state; return 0; }
static int f_valid(void *c) { (void)c; dev.state = MQOTA_SLOT_VALID; return 0; }
static int f_invalid(void *c) { (void)c; dev.state = MQOTA_SLOT_INVALID; return 0; }
static void f_reboot(void *c) { (void)c; }
static int kv_find(const char *k)
{
    for (int i = 0; i < KV_MAX; i++)
        if (dev.kv[i].used && strcmp(dev.kv[i].key, k) == 0) return i;
    return -1;
}
static int f_kv_get(void *c, const char *k, void *b, size_t cap, size_t *len)
{
    (void)c;
    int i = kv_find(k);
    if (i < 0) return MQOTA_ERR_NOT_FOUND;
    if (dev.kv[i].len > cap) return MQOTA_ERR_NO_SPACE;
    memcpy(b, dev.kv[i].val, dev.kv[i].len);
    *len = dev.kv[i].len;
    return 0;
}
static int f_kv_set(void *c, const char *k, const void *b, size_t len)
{
    (void)c;
    CHECK(strlen(k) <= 15 && len <= sizeof(dev.kv[0].val));
    int i = kv_find(k);
    for (int j = 0; i < 0 && j < KV_MAX; j++)
        if (!dev.kv[j].used) i = j;
    if (i < 0) return -1;
    snprintf(dev.kv[i].key, sizeof(dev.kv[i].key), "%s", k);
    memcpy(dev.kv[i].val, b, len);
    dev.kv[i].len = len;
    dev.kv[i].used = 1;
    return 0;
}
static int f_kv_erase(void *c, const char *k)
{
    (void)c;
    int i = kv_find(k);
    if (i >= 0) dev.kv[i].used = 0;
    return 0;
}
static uint64_t f_now(void *c) { (void)c; return dev.now; }
static int f_sha_begin(void *c) { (void)c; return SHA256_Init(&dev.sha) == 1 ? 0 : -1; }
static int f_sha_update(void *c, const uint8_t *d, size_t l) { (void)c; return SHA256_Update(&dev.sha, d, l) == 1 ? 0 : -1; }
static int f_sha_finish(void *c, uint8_t o[32]) { (void)c; return SHA256_Final(o, &dev.sha) == 1 ? 0 : -1; }

/* Stand-in AEAD: identity "cipher", a tag of 16 zero bytes is valid. */
static int f_seal(void *c, const uint8_t *nonce, const uint8_t *aad, size_t aad_len,
                  const uint8_t *in, size_t len, uint8_t *out, uint8_t *tag)
{
    (void)c; (void)nonce;
    CHECK(aad != NULL && aad_len >= 16 && aad_len <= MQOTA_AEAD_AAD_MAX);
    CHECK(len <= MQOTA_SEALED_PLAIN_MAX);
    memmove(out, in, len);
    memset(tag, 0, 16);
    return 0;
}
static int f_open(void *c, const uint8_t *nonce, const uint8_t *aad, size_t aad_len,
                  const uint8_t *in, size_t len, uint8_t *out, const uint8_t *tag)
{
    (void)c; (void)nonce;
    CHECK(aad != NULL && aad_len >= 16 && aad_len <= MQOTA_AEAD_AAD_MAX);
    for (int i = 0; i < 16; i++)
        if (tag[i] != 0) return -1;
    memmove(out, in, len);
    return 0;
}

static mqota_cmd_result_t f_app(void *ctx, const char *name, const uint8_t *args, size_t args_len,
                                uint8_t *reply, size_t cap, size_t *reply_len)
{
    (void)ctx;
    CHECK(name != NULL && strlen(name) >= 1 && strlen(name) <= 31);
    CHECK(args != NULL || args_len == 0);
    CHECK(cap == MQOTA_REPLY_BODY_MAX);
    if (args_len > 0) (void)args[args_len - 1];
    /* write the whole reply buffer: the agent must have given us that much */
    memset(reply, 'x', cap);
    *reply_len = name[0] == 'b' ? cap + 10 : args_len % cap; /* an over-long length is clamped */
    return (mqota_cmd_result_t)(args_len % 5);
}

static const mqota_platform_t plat = {
    .publish = f_publish, .subscribe = f_sub, .unsubscribe = f_unsub, .running = f_running,
    .slot_size = f_slot_size, .slot_begin = f_begin, .slot_write = f_write, .slot_read = f_read,
    .slot_end = f_end, .slot_set_boot = f_set_boot, .slot_state = f_state,
    .slot_mark_valid = f_valid, .slot_mark_invalid = f_invalid, .reboot = f_reboot,
    .kv_get = f_kv_get, .kv_set = f_kv_set, .kv_erase = f_kv_erase, .now_ms = f_now,
    .sha256_begin = f_sha_begin, .sha256_update = f_sha_update, .sha256_finish = f_sha_finish,
    .aead_seal = f_seal, .aead_open = f_open,
    /* the POSIX port's decoder: offers with an encoding reach the decode stage */
    .inflate_window_bits = POSIX_INFLATE_WINDOW_BITS, .inflate = posix_inflate,
};

static void boot(mqota_agent_t *a)
{
    mqota_config_t cfg = {.device_id = "fz", .max_chunk = 4096, .max_window = 16,
                          .auto_reboot = true, .confirm_by_command = dev.running == 1,
                          .command_handler = f_app};
    CHECK(mqota_agent_init(a, &cfg, &plat, dev.now) == MQOTA_OK);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static mqota_agent_t agent;
    bool connected = false;
    memset(&dev, 0, sizeof(dev));
    dev.state = MQOTA_SLOT_UNDEFINED;
    dev.now = 1000;
    boot(&agent);
    size_t off = 0;
    while (off + 3 <= size) {
        uint8_t kind = data[off] % 7u;
        size_t len = (size_t)(data[off + 1] | data[off + 2] << 8);
        off += 3;
        if (len > size - off) len = size - off;
        const uint8_t *p = data + off;
        off += len;
        switch (kind) {
        case 0: (void)mqota_agent_on_message(&agent, "mqota/v1/dev/fz/offer", p, len); break;
        case 1: (void)mqota_agent_on_message(&agent, "mqota/v1/dev/fz/chunk", p, len); break;
        case 2: {
            char t[MQOTA_TOPIC_MAX];
            if (mqota_agent_topic(&agent, MQOTA_TOPIC_STREAM, t, sizeof(t)) == MQOTA_OK)
                (void)mqota_agent_on_message(&agent, t, p, len);
            break;
        }
        case 3:
            if (connected) mqota_agent_on_disconnect(&agent);
            else (void)mqota_agent_on_connect(&agent);
            connected = !connected;
            break;
        case 4: dev.now += (len ? p[0] : 1) * 50u; break;
        case 6: (void)mqota_agent_on_message(&agent, "mqota/v1/dev/fz/cmd", p, len); break;
        case 5:
            /* reset; a switched boot slot boots the new image in pending-verify */
            if (dev.booted_new) {
                dev.running ^= 1u;
                dev.state = MQOTA_SLOT_PENDING_VERIFY;
                dev.booted_new = 0;
            }
            boot(&agent);
            connected = false;
            break;
        }
        (void)mqota_agent_process(&agent, dev.now);
        mqota_update_state_t st = mqota_agent_state(&agent);
        if (st == MQOTA_STATE_OFFERED || st == MQOTA_STATE_DOWNLOADING ||
            st == MQOTA_STATE_VERIFYING)
            CHECK(mqota_agent_progress(&agent) <= SLOT_BYTES); /* within the accepted image */
    }
    return 0;
}
