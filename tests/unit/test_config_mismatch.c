/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_config_mismatch.c - an application compiled with another configuration header than
 * libmqota (config_mismatch.h: a smaller MQOTA_MAX_CHUNKS, so a smaller mqota_agent_t) calls
 * mqota_agent_init() with a platform whose every hook works: init refuses with
 * MQOTA_ERR_CONFIG and writes nothing, not even within the application's own struct. Before the
 * guard, init succeeded and cleared the library's larger struct over the memory after it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mqota/mqota.h"

#define CANARY 0xA5u
#define GUARD_BYTES 4096u

static int ok(void) { return 0; }
static int f_publish(void *c, const char *t, const uint8_t *p, size_t l, int q, bool r)
{
    (void)c, (void)t, (void)p, (void)l, (void)q, (void)r;
    return ok();
}
static int f_subscribe(void *c, const char *t, int q) { (void)c, (void)t, (void)q; return ok(); }
static int f_running(void *c, mqota_running_t *out)
{
    (void)c;
    memset(out, 0, sizeof(*out));
    out->slot_count = 2;
    return 0;
}
static int f_slot_size(void *c, uint8_t s, uint32_t *b) { (void)c, (void)s; *b = 1u << 20; return 0; }
static int f_slot_begin(void *c, uint8_t s, uint32_t n, uint32_t e) { (void)c, (void)s, (void)n, (void)e; return 0; }
static int f_slot_write(void *c, uint8_t s, uint32_t o, const uint8_t *d, size_t l) { (void)c, (void)s, (void)o, (void)d, (void)l; return 0; }
static int f_slot_read(void *c, uint8_t s, uint32_t o, uint8_t *d, size_t l) { (void)c, (void)s, (void)o; memset(d, 0, l); return 0; }
static int f_slot_end(void *c, uint8_t s, uint32_t n) { (void)c, (void)s, (void)n; return 0; }
static int f_slot_set_boot(void *c, uint8_t s) { (void)c, (void)s; return 0; }
static int f_slot_state(void *c, mqota_slot_state_t *st) { (void)c; *st = MQOTA_SLOT_VALID; return 0; }
static int f_ctx_only(void *c) { (void)c; return 0; }
static void f_reboot(void *c) { (void)c; }
static int f_kv_get(void *c, const char *k, void *b, size_t cap, size_t *len) { (void)c, (void)k, (void)b, (void)cap, (void)len; return MQOTA_ERR_NOT_FOUND; }
static int f_kv_set(void *c, const char *k, const void *b, size_t l) { (void)c, (void)k, (void)b, (void)l; return 0; }
static int f_kv_erase(void *c, const char *k) { (void)c, (void)k; return 0; }
static uint64_t f_now(void *c) { (void)c; return 0; }
static int f_sha_update(void *c, const uint8_t *d, size_t l) { (void)c, (void)d, (void)l; return 0; }
static int f_sha_finish(void *c, uint8_t out[32]) { (void)c; memset(out, 0, 32); return 0; }

static struct {
    mqota_agent_t agent;         /* as this application sees it: MQOTA_MAX_CHUNKS 64 */
    uint8_t after[GUARD_BYTES];  /* what lies after it in the application's memory */
} mem;

static void test_init_refuses_other_config(void **state)
{
    (void)state;
    const mqota_platform_t plat = {
        .publish = f_publish, .subscribe = f_subscribe, .running = f_running,
        .slot_size = f_slot_size, .slot_begin = f_slot_begin, .slot_write = f_slot_write,
        .slot_read = f_slot_read, .slot_end = f_slot_end, .slot_set_boot = f_slot_set_boot,
        .slot_state = f_slot_state, .slot_mark_valid = f_ctx_only,
        .slot_mark_invalid = f_ctx_only, .reboot = f_reboot, .kv_get = f_kv_get,
        .kv_set = f_kv_set, .kv_erase = f_kv_erase, .now_ms = f_now,
        .sha256_begin = f_ctx_only, .sha256_update = f_sha_update,
        .sha256_finish = f_sha_finish};
    const mqota_config_t cfg = {.device_id = "dev-1", .max_chunk = 4096, .max_window = 8};
    assert_int_equal(MQOTA_MAX_CHUNKS, 64);
    memset(&mem, CANARY, sizeof(mem));
    assert_int_equal(mqota_agent_init(&mem.agent, &cfg, &plat, 0), MQOTA_ERR_CONFIG);
    for (size_t i = 0; i < sizeof(mem); i++) {
        assert_int_equal(((const uint8_t *)&mem)[i], CANARY);
    }
    assert_string_equal(mqota_strerror(MQOTA_ERR_CONFIG),
                        "application and libmqota built with different MQOTA_* sizes");
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_init_refuses_other_config)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
