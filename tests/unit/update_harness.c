/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The server, the device's files and the power cut shared by the unit tests that run a whole
 * update on a virtual ESP32 (update_harness.h).
 */
#define _POSIX_C_SOURCE 200809L /* pwrite */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>

#include "update_harness.h"

/* ---- the server ---- */

/* The server harness_publish_hook() hands messages to. */
static harness_server_t *current;

void harness_server_init(harness_server_t *s, const char *device_id)
{
    memset(s, 0, sizeof(*s));
    current = s;
    snprintf(s->topic_offer, sizeof(s->topic_offer), "mqota/v1/dev/%s/offer", device_id);
    snprintf(s->topic_chunk, sizeof(s->topic_chunk), "mqota/v1/dev/%s/chunk", device_id);
    snprintf(s->topic_ack, sizeof(s->topic_ack), "mqota/v1/dev/%s/ack", device_id);
}

void harness_server_published(harness_server_t *s, const char *topic, const uint8_t *payload,
                              size_t len)
{
    if (strcmp(topic, s->topic_ack) == 0) {
        assert_int_equal(mqota_ack_decode(payload, len, &s->ack), MQOTA_OK);
        s->have_ack = true;
    }
}

void harness_send_offer(harness_server_t *s)
{
    mqota_offer_t o;
    uint8_t buf[MQOTA_OFFER_MAX_LEN];
    size_t len = 0;
    memset(&o, 0, sizeof(o));
    o.release_id = s->release_id;
    o.deployment_id = s->deployment_id;
    o.image_size = (uint32_t)s->image_len;
    o.chunk_size = s->chunk_size;
    o.window = s->window;
    o.chip_id = MQOTA_CHIP_ESP32;
    o.secure_version = s->secure_version;
    o.flags = s->offer_flags;
    o.encoding = s->encoding;
    o.window_bits = s->window_bits;
    memcpy(o.sha256, s->sha256, 32);
    o.base_size = s->base_size;
    memcpy(o.base_sha256, s->base_sha256, 32);
    snprintf(o.version, sizeof(o.version), "%s", s->version);
    snprintf(o.project, sizeof(o.project), "%s", s->project);
    assert_int_equal(mqota_offer_encode(&o, buf, sizeof(buf), &len), MQOTA_OK);
    (void)mqota_agent_on_message(s->agent, s->topic_offer, buf, len);
}

uint32_t harness_chunk_count(const harness_server_t *s)
{
    return (uint32_t)((s->image_len + s->chunk_size - 1u) / s->chunk_size);
}

void harness_send_chunk(harness_server_t *s, uint32_t index)
{
    static uint8_t buf[MQOTA_CHUNK_HEADER_LEN + MQOTA_CHUNK_MAX];
    uint32_t off = index * s->chunk_size;
    uint32_t len = (uint32_t)(s->image_len - off < s->chunk_size ? s->image_len - off
                                                                    : s->chunk_size);
    const uint8_t *data = s->image + off;
    if (s->encoding != MQOTA_ENCODING_NONE) {
        data = s->wire + s->wire_off[index];
        len = s->wire_off[index + 1u] - s->wire_off[index];
    }
    assert_true(len <= sizeof(buf) - MQOTA_CHUNK_HEADER_LEN);
    assert_int_equal(mqota_chunk_encode_header(s->release_id, index, data, len, buf,
                                               sizeof(buf)),
                     MQOTA_OK);
    memcpy(buf + MQOTA_CHUNK_HEADER_LEN, data, len);
    (void)mqota_agent_on_message(s->agent, s->topic_chunk, buf, MQOTA_CHUNK_HEADER_LEN + len);
    s->chunks_sent++;
}

size_t harness_compress(harness_server_t *s, uint8_t encoding, uint8_t window_bits)
{
    uint32_t count = harness_chunk_count(s);
    z_stream zs;
    harness_uncompress(s);
    memset(&zs, 0, sizeof(zs));
    assert_int_equal(deflateInit2(&zs, 9, Z_DEFLATED, -(int)window_bits, 9, Z_DEFAULT_STRATEGY),
                     Z_OK);
    size_t cap = deflateBound(&zs, (uLong)s->image_len) + 16u * count;
    s->wire = malloc(cap);
    s->wire_off = calloc(count + 1u, sizeof(uint32_t));
    assert_non_null(s->wire);
    assert_non_null(s->wire_off);
    size_t pos = 0;
    for (uint32_t i = 0; i < count; i++) {
        uint32_t off = i * s->chunk_size;
        uint32_t len = (uint32_t)(s->image_len - off < s->chunk_size ? s->image_len - off
                                                                        : s->chunk_size);
        int flush = i + 1u == count ? Z_FINISH
                    : encoding == MQOTA_ENCODING_DEFLATE_SYNC ? Z_SYNC_FLUSH : Z_FULL_FLUSH;
        s->wire_off[i] = (uint32_t)pos;
        zs.next_in = (Bytef *)(s->image + off);
        zs.avail_in = len;
        zs.next_out = s->wire + pos;
        zs.avail_out = (uInt)(cap - pos);
        int rc = deflate(&zs, flush);
        assert_int_equal(rc, flush == Z_FINISH ? Z_STREAM_END : Z_OK);
        pos = (size_t)(zs.next_out - s->wire);
    }
    s->wire_off[count] = (uint32_t)pos;
    deflateEnd(&zs);
    s->encoding = encoding;
    s->window_bits = window_bits;
    return pos;
}

void harness_uncompress(harness_server_t *s)
{
    free(s->wire);
    free(s->wire_off);
    s->wire = NULL;
    s->wire_off = NULL;
    s->encoding = MQOTA_ENCODING_NONE;
    s->window_bits = 0;
}

/* What the last ACK asks for: every chunk of the window from its base that its selective-ack
 * bits do not show written (a chunk past the sack's reach is sent again), in order. */
void harness_serve_ack(harness_server_t *s, uint32_t budget, bool (*stop)(void))
{
    mqota_ack_t a = s->ack;
    s->have_ack = false;
    if (a.release_id != s->release_id || (a.flags & MQOTA_ACK_FLAG_COMPLETE) != 0u) {
        return;
    }
    for (uint32_t i = a.base; i < a.base + a.window && i < harness_chunk_count(s); i++) {
        if (i > a.sack_base && i <= a.sack_base + MQOTA_SACK_BITS &&
            (a.sack >> (i - a.sack_base - 1u) & 1u) != 0u) {
            continue;
        }
        if (s->chunks_sent >= budget) {
            return;
        }
        harness_send_chunk(s, i);
        if (stop != NULL && stop()) {
            return;
        }
    }
}

/* ---- the device's files ---- */

uint8_t *harness_load_file(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) {
        return NULL;
    }
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    uint8_t *buf = n >= 0 ? malloc(n > 0 ? (size_t)n : 1u) : NULL;
    if (buf == NULL || fread(buf, 1, (size_t)n, fp) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(fp);
    *len = n >= 0 ? (size_t)n : 0u;
    return buf;
}

/* Both files whole into memory: the flash file is 4 MiB (mostly holes on disk), the eFuse
 * file EFUSE_BLOCK_LEN bytes. On failure nothing stays allocated. */
int harness_snapshot_take(harness_snapshot_t *snap, const char *flash_path)
{
    memset(snap, 0, sizeof(*snap));
    if (snprintf(snap->flash_path, sizeof(snap->flash_path), "%s", flash_path) >=
            (int)sizeof(snap->flash_path) ||
        efuse_path(flash_path, snap->efuse_path, sizeof(snap->efuse_path)) != 0) {
        return -1;
    }
    size_t n = 0;
    snap->flash = harness_load_file(flash_path, &n);
    if (snap->flash == NULL || n != VFLASH_SIZE) {
        harness_snapshot_free(snap);
        return -1;
    }
    uint8_t *ef = harness_load_file(snap->efuse_path, &n);
    if (ef == NULL || n != sizeof(snap->efuse)) {
        free(ef);
        harness_snapshot_free(snap);
        return -1;
    }
    memcpy(snap->efuse, ef, n);
    free(ef);
    return 0;
}

/* The flash file is written sector by sector, skipping all-zero file sectors (erased flash,
 * stored inverted), so that it stays as sparse as the copy. */
void harness_snapshot_restore(const harness_snapshot_t *snap)
{
    int fd = open(snap->flash_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, VFLASH_SIZE), 0);
    static const uint8_t zero[VFLASH_SECTOR];
    for (uint32_t off = 0; off < VFLASH_SIZE; off += VFLASH_SECTOR) {
        if (memcmp(snap->flash + off, zero, VFLASH_SECTOR) != 0) {
            assert_int_equal(pwrite(fd, snap->flash + off, VFLASH_SECTOR, off), VFLASH_SECTOR);
        }
    }
    assert_int_equal(close(fd), 0);
    assert_true(unlink(snap->efuse_path) == 0);
    fd = open(snap->efuse_path, O_WRONLY | O_CREAT | O_EXCL, 0444);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, snap->efuse, sizeof(snap->efuse)), sizeof(snap->efuse));
    assert_int_equal(close(fd), 0);
}

void harness_snapshot_free(harness_snapshot_t *snap)
{
    free(snap->flash);
    snap->flash = NULL;
}

/* ---- the power cut ---- */

static uint64_t ops(vflash_t *fl)
{
    vflash_stats_t st;
    vflash_stats(fl, &st);
    return st.erases + st.writes;
}

void harness_cut_reset(harness_cut_t *c)
{
    c->closed = 0;
    c->cut_at = 0;
    c->armed = false;
}

/* The cut counts from harness_cut_start() across handles: on a new handle, what is left of
 * it is the cut operation minus the operations already made on the closed ones. */
void harness_cut_power_on(harness_cut_t *c, vflash_t *fl)
{
    c->fl = fl;
    if (c->armed) {
        uint64_t used = harness_cut_ops(c);
        assert_true(c->cut_at > used);
        vflash_set_cut(fl, (uint32_t)(c->cut_at - used));
    }
}

void harness_cut_power_off(harness_cut_t *c)
{
    if (c->fl != NULL) {
        c->closed += ops(c->fl);
        vflash_clear_cut(c->fl);
    }
    c->fl = NULL;
}

void harness_cut_start(harness_cut_t *c, uint32_t cut_at)
{
    assert_non_null(c->fl);
    vflash_stats_reset(c->fl);
    c->closed = 0;
    c->cut_at = 0;
    c->armed = false;
    if (cut_at != 0u) {
        c->cut_at = cut_at;
        c->armed = true;
        vflash_set_cut(c->fl, cut_at);
    }
}

uint64_t harness_cut_ops(const harness_cut_t *c)
{
    return c->closed + (c->fl != NULL ? ops(c->fl) : 0u);
}

bool harness_cut_fired(const harness_cut_t *c)
{
    return c->fl != NULL && vflash_cut_happened(c->fl);
}

uint32_t harness_cut_point(uint32_t i, uint32_t n, uint64_t total)
{
    return (uint32_t)(1u + (uint64_t)i * (total - 1u) / (n - 1u));
}

int harness_publish_hook(void *ctx, const char *topic, const uint8_t *payload, size_t len,
                         int qos, bool retain)
{
    (void)ctx;
    (void)qos;
    (void)retain;
    assert_non_null(current);
    harness_server_published(current, topic, payload, len);
    return 0;
}

int harness_subscribe_hook(void *ctx, const char *topic, int qos)
{
    (void)ctx;
    (void)topic;
    (void)qos;
    return 0;
}

double harness_now_s(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the checks after a power cut ---- */

bool harness_coherent_after_boot(const mqota_agent_t *agent, const char *booted_version,
                                 const char *new_version, uint32_t release, uint32_t k,
                                 bool *is_new)
{
    mqota_state_msg_t m;
    mqota_agent_state_msg(agent, &m);
    *is_new = strcmp(booted_version, new_version) == 0;
    if (strcmp(m.version, booted_version) != 0) {
        print_error("cut %u: agent reports version %s, booted %s\n", k, m.version,
                    booted_version);
        return false;
    }
    if (*is_new) {
        /* New image: confirmed on connect (or confirmed before the cut). */
        if (m.state != MQOTA_STATE_CONFIRMED && m.state != MQOTA_STATE_IDLE) {
            print_error("cut %u: new image booted, state %s\n", k,
                        mqota_state_name((mqota_update_state_t)m.state));
            return false;
        }
        if (m.state == MQOTA_STATE_IDLE && m.running_release != release) {
            print_error("cut %u: new image booted, idle, running release %u\n", k,
                        m.running_release);
            return false;
        }
    } else if (m.state != MQOTA_STATE_IDLE && m.state != MQOTA_STATE_ROLLED_BACK) {
        print_error("cut %u: old image booted, state %s\n", k,
                    mqota_state_name((mqota_update_state_t)m.state));
        return false;
    }
    return true;
}

bool harness_resume_trusts_only_written(const mqota_agent_t *agent, const uint8_t *image,
                                        size_t image_len,
                                        int (*read_slot)(void *ctx, uint32_t off, uint8_t *buf,
                                                         size_t len),
                                        void *ctx, uint32_t k)
{
    static uint8_t buf[2 * 1024 * 1024]; /* the largest OTA slot of the virtual ESP32 */
    mqota_update_state_t st = mqota_agent_state(agent);
    if (st != MQOTA_STATE_OFFERED && st != MQOTA_STATE_DOWNLOADING) return true;
    uint32_t claimed = mqota_agent_progress(agent);
    if (claimed > image_len || claimed > sizeof(buf) || read_slot(ctx, 0, buf, claimed) != 0 ||
        memcmp(buf, image, claimed) != 0) {
        print_error("cut %u: resumed at %u bytes but the update slot does not hold them\n", k,
                    claimed);
        return false;
    }
    return true;
}
