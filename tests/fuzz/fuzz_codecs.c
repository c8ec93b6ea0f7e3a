/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the protocol decoders. Built once per decoder with -DFUZZ_<NAME>, so
 * each target has its own corpus and coverage. Every decoded message is re-encoded and decoded
 * again: the two decodes must agree (a codec that accepts what it cannot reproduce is a bug).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mqota/mqota_command.h"
#include "mqota/mqota_health.h"
#include "mqota/mqota_manifest.h"
#include "mqota/mqota_proto.h"
#include "mqota/mqota_telemetry.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t buf[MQOTA_CHUNK_HEADER_LEN + MQOTA_CHUNK_MAX + 64];
    size_t n = 0;
    mqota_msg_type_t type;
    (void)mqota_msg_type(data, size, &type);
#if defined(FUZZ_STATE)
    mqota_state_msg_t a, b;
    if (mqota_state_decode(data, size, &a) == MQOTA_OK) {
        CHECK(mqota_state_encode(&a, buf, sizeof(buf), &n) == MQOTA_OK);
        CHECK(mqota_state_decode(buf, n, &b) == MQOTA_OK);
        CHECK(n == size && memcmp(buf + 4, data + 4, 36) == 0);
        CHECK(a.state == b.state && a.progress == b.progress && a.boot_count == b.boot_count);
        CHECK(strcmp(a.project, b.project) == 0 && strcmp(a.version, b.version) == 0 &&
              strcmp(a.idf_ver, b.idf_ver) == 0 &&
              strcmp(a.release_version, b.release_version) == 0);
    }
#elif defined(FUZZ_OFFER)
    mqota_offer_t a, b;
    if (mqota_offer_decode(data, size, &a) == MQOTA_OK) {
        CHECK(mqota_offer_encode(&a, buf, sizeof(buf), &n) == MQOTA_OK);
        CHECK(mqota_offer_decode(buf, n, &b) == MQOTA_OK);
        CHECK(n == size && memcmp(buf + 4, data + 4, 24) == 0);
        CHECK(a.sig_len == b.sig_len && memcmp(a.sig, b.sig, a.sig_len) == 0);
    }
#elif defined(FUZZ_CHUNK)
    mqota_chunk_t c;
    if (mqota_chunk_decode(data, size, &c) == MQOTA_OK) {
        CHECK(c.len == size - MQOTA_CHUNK_HEADER_LEN);
        CHECK(c.crc32 == mqota_crc32(0, c.data, c.len));
        CHECK(mqota_chunk_encode_header(c.release_id, c.index, c.data, c.len, buf, sizeof(buf)) ==
              MQOTA_OK);
        CHECK(memcmp(buf, data, MQOTA_CHUNK_HEADER_LEN) == 0);
    }
#elif defined(FUZZ_ACK)
    mqota_ack_t a, b;
    if (mqota_ack_decode(data, size, &a) == MQOTA_OK) {
        CHECK(mqota_ack_encode(&a, buf, sizeof(buf), &n) == MQOTA_OK);
        CHECK(mqota_ack_decode(buf, n, &b) == MQOTA_OK);
        CHECK(a.base == b.base && a.sack == b.sack && a.sack_base == b.sack_base &&
              a.high == b.high && a.window == b.window && a.flags == b.flags);
    }
#elif defined(FUZZ_COMMAND)
    /* sealed COMMAND / REPLY frames (header split) and their plaintexts (after the AEAD) */
    mqota_sealed_t f;
    if (mqota_sealed_decode(data, size, MQOTA_MSG_COMMAND, &f) == MQOTA_OK) {
        CHECK(f.counter != 0 && f.ciphertext_len + MQOTA_SEALED_OVERHEAD == size);
        CHECK(f.tag + MQOTA_SEALED_TAG_LEN == data + size);
        CHECK(mqota_sealed_header(f.type, f.counter, buf) == MQOTA_OK);
        CHECK(memcmp(buf, data, MQOTA_SEALED_HEADER_LEN) == 0);
    }
    (void)mqota_sealed_decode(data, size, MQOTA_MSG_REPLY, &f);
    mqota_command_t c, c2;
    if (mqota_command_decode(data, size, &c) == MQOTA_OK) {
        CHECK(c.args + c.args_len == data + size);
        if (mqota_command_encode(&c, buf, sizeof(buf), &n) == MQOTA_OK) {
            CHECK(n == size && memcmp(buf, data, n) == 0);
            CHECK(mqota_command_decode(buf, n, &c2) == MQOTA_OK && strcmp(c.name, c2.name) == 0);
        } else {
            CHECK(size > MQOTA_SEALED_PLAIN_MAX); /* decodes, but too long to seal */
        }
    }
    mqota_reply_t r;
    if (mqota_reply_decode(data, size, &r) == MQOTA_OK) {
        if (mqota_reply_encode(&r, buf, sizeof(buf), &n) == MQOTA_OK)
            CHECK(n == size && memcmp(buf, data, n) == 0);
        else
            CHECK(size > MQOTA_SEALED_PLAIN_MAX);
    }
    mqota_refusal_t rf;
    if (mqota_refusal_decode(data, size, &rf) == MQOTA_OK) {
        mqota_refusal_encode(&rf, buf);
        CHECK(memcmp(buf, data, 20) == 0);
    }
#elif defined(FUZZ_MANIFEST)
    /* canonical: what decodes encodes to the same bytes, and an OFFER carrying the decoded
     * fields and uid rebuilds them too (what the device verifies) */
    mqota_manifest_t m;
    if (mqota_manifest_decode(data, size, &m) == MQOTA_OK) {
        mqota_offer_t o;
        mqota_sig_block_t blk;
        CHECK(mqota_manifest_encode(&m, buf, sizeof(buf), &n) == MQOTA_OK);
        CHECK(n == size && memcmp(buf, data, size) == 0);
        memset(&o, 0, sizeof(o));
        memcpy(o.sha256, m.sha256, sizeof(o.sha256));
        o.image_size = m.image_size;
        o.chip_id = m.chip_id;
        o.secure_version = m.secure_version;
        memcpy(o.project, m.project, sizeof(o.project));
        memcpy(o.version, m.version, sizeof(o.version));
        memcpy(blk.release_uid, m.release_uid, sizeof(blk.release_uid));
        memset(blk.signature, 0, sizeof(blk.signature));
        CHECK(mqota_sig_block_encode(&blk, o.sig, sizeof(o.sig)) == MQOTA_OK);
        o.sig_len = MQOTA_SIG_BLOCK_LEN;
        CHECK(mqota_offer_manifest(&o, buf, sizeof(buf), &n) == MQOTA_OK);
        CHECK(n == size && memcmp(buf, data, size) == 0);
    }
    (void)mqota_sig_block_decode(data, size, &(mqota_sig_block_t){0});
#elif defined(FUZZ_TELEMETRY)
    /* canonical: what decodes re-encodes to the same bytes, every name valid, every value
     * finite (the encoder refuses the rest) */
    mqota_telemetry_t t;
    if (mqota_telemetry_decode(data, size, &t) == MQOTA_OK) {
        mqota_sample_t s[MQOTA_TELEMETRY_SAMPLES];
        CHECK(t.count >= 1 && t.count <= MQOTA_TELEMETRY_SAMPLES && size <= MQOTA_TELEMETRY_MAX_LEN);
        for (unsigned i = 0; i < t.count; i++) {
            CHECK(mqota_telemetry_name_valid(t.samples[i].name));
            s[i].name = t.samples[i].name;
            s[i].value = t.samples[i].value;
        }
        CHECK(mqota_telemetry_encode(t.ts_ms, s, t.count, buf, sizeof(buf), &n) == MQOTA_OK);
        CHECK(n == size && memcmp(buf, data, size) == 0);
    }
#elif defined(FUZZ_HEALTH)
    /* canonical but for the reserved byte 7: what decodes re-encodes to the same bytes, the
     * crash text printable ASCII within its bound, the reset reason named */
    mqota_health_t h, h2;
    if (mqota_health_decode(data, size, &h) == MQOTA_OK) {
        size_t k = strlen(h.crash);
        CHECK(size == MQOTA_HEALTH_FIXED_LEN + k && k <= MQOTA_HEALTH_CRASH_MAX);
        for (size_t i = 0; i < k; i++) CHECK(h.crash[i] >= 0x20 && h.crash[i] <= 0x7E);
        CHECK(h.reset_reason <= MQOTA_RESET_MAX);
        CHECK(strcmp(mqota_reset_reason_name(h.reset_reason), "unknown") != 0 ||
              h.reset_reason == MQOTA_RESET_UNKNOWN);
        CHECK(mqota_health_encode(&h, buf, sizeof(buf), &n) == MQOTA_OK);
        CHECK(n == size && memcmp(buf, data, 7) == 0 && memcmp(buf + 8, data + 8, n - 8) == 0);
        CHECK(mqota_health_decode(buf, n, &h2) == MQOTA_OK && memcmp(&h, &h2, sizeof(h)) == 0);
    }
#else
#error "define one of FUZZ_STATE, FUZZ_OFFER, FUZZ_CHUNK, FUZZ_ACK, FUZZ_MANIFEST, FUZZ_TELEMETRY, FUZZ_HEALTH"
#endif
    return 0;
}
