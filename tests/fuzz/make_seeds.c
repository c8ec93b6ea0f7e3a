/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Writes the seed corpora of the fuzz targets (tests/fuzz/corpus/<target>/) from real
 * messages: encoded STATE/OFFER/CHUNK/ACK messages, the heads of the real firmware images,
 * a minimal valid ESP32 image, and one complete agent session that updates to that image.
 *
 *   make_seeds FIXTURES_DIR OUT_DIR
 */
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mqota/mqota.h"
#include "mqota/mqota_record.h"

static const char *out_dir;

static void put(const char *target, const char *name, const uint8_t *d, size_t n)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", out_dir, target);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/%s/%s", out_dir, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(d, 1, n, f) != n) {
        perror(path);
        exit(1);
    }
    fclose(f);
}

/* A minimal valid application image: one 256-byte segment holding an esp_app_desc_t. */
static size_t tiny_image(uint8_t *img, uint8_t sha_out[32])
{
    memset(img, 0, 512);
    img[0] = 0xE9; img[1] = 1; img[2] = 2; img[3] = 0x20;
    img[4] = 0x00; img[5] = 0x00; img[6] = 0x08; img[7] = 0x40; /* entry 0x40080000 */
    img[8] = 0xEE; img[23] = 1;                                 /* hash appended */
    img[24] = 0x20; img[25] = 0x00; img[26] = 0x40; img[27] = 0x3F; /* load 0x3F400020 */
    img[28] = 0x00; img[29] = 0x01;                             /* 256 bytes */
    uint8_t *desc = img + 32;
    desc[0] = 0x32; desc[1] = 0x54; desc[2] = 0xCD; desc[3] = 0xAB;
    strcpy((char *)desc + 16, "fuzz-2");
    strcpy((char *)desc + 48, "fuzz");
    strcpy((char *)desc + 112, "v5.1");
    uint8_t ck = 0xEF;
    for (int i = 0; i < 256; i++) ck ^= desc[i];
    size_t at = 32 + 256;
    while (at % 16 != 15) at++;
    img[at] = ck;
    SHA256(img, at + 1, img + at + 1);
    size_t len = at + 1 + 32;
    SHA256(img, len, sha_out);
    return len;
}

static void rec(uint8_t *buf, size_t *n, uint8_t kind, const uint8_t *p, size_t len)
{
    buf[(*n)++] = kind;
    buf[(*n)++] = (uint8_t)len;
    buf[(*n)++] = (uint8_t)(len >> 8);
    memcpy(buf + *n, p, len);
    *n += len;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: make_seeds FIXTURES_DIR OUT_DIR\n");
        return 2;
    }
    out_dir = argv[2];
    mkdir(out_dir, 0755);
    uint8_t buf[8192];
    size_t n;

    mqota_state_msg_t st = {.state = MQOTA_STATE_DOWNLOADING, .chip_id = 0, .max_window = 16,
                            .max_chunk = 4096, .caps = 7, .target_release = 3, .progress = 8192,
                            .image_size = 124416, .boot_count = 2};
    strcpy(st.project, "hello_world");
    strcpy(st.version, "1");
    strcpy(st.idf_ver, "v5.1-dirty");
    mqota_state_encode(&st, buf, sizeof(buf), &n);
    put("state", "downloading", buf, n);
    st.state = MQOTA_STATE_FAILED;
    st.reason = MQOTA_REASON_HASH_MISMATCH;
    strcpy(st.release_version, "v1.6.3");
    mqota_state_encode(&st, buf, sizeof(buf), &n);
    put("state", "failed", buf, n);

    uint8_t img[512], sha[32];
    size_t img_len = tiny_image(img, sha);
    put("image", "tiny-valid", img, img_len);
    mqota_offer_t of = {.release_id = 5, .deployment_id = 2, .image_size = (uint32_t)img_len,
                        .chunk_size = 256, .window = 16, .chip_id = 0};
    memcpy(of.sha256, sha, 32);
    strcpy(of.version, "fuzz-2");
    strcpy(of.project, "fuzz");
    mqota_offer_encode(&of, buf, sizeof(buf), &n);
    put("offer", "plain", buf, n);
    of.flags = MQOTA_OFFER_FLAG_STREAM;
    of.sig_len = 80;
    memset(of.sig, 0xA5, 80);
    mqota_offer_encode(&of, buf, sizeof(buf), &n);
    put("offer", "stream-signed", buf, n);

    mqota_ack_t ack = {.release_id = 5, .base = 1, .sack = 5, .window = 16, .sack_base = 1,
                       .high = 4};
    mqota_ack_encode(&ack, buf, sizeof(buf), &n);
    put("ack", "sack", buf, n);
    ack.flags = MQOTA_ACK_FLAG_RESUMED | MQOTA_ACK_FLAG_REQUEST;
    ack.sack_base = 30;
    ack.high = 95;
    mqota_ack_encode(&ack, buf, sizeof(buf), &n);
    put("ack", "stream", buf, n);

    /* TELEMETRY (docs/PROTOCOL.md §15): §15's example, the shortest, the longest, and the
     * reserved health names */
    static const mqota_sample_t tm_ex[] = {{"temperature", 21.5}, {"humidity", 48.25}};
    static const mqota_sample_t tm_one[] = {{"x", 0.0}};
    static const mqota_sample_t tm_sys[] = {
        {"sys.uptime_s", 5.0}, {"sys.boot_count", 3.0}, {"sys.reconnects", 0.0}};
    char tm_names[MQOTA_TELEMETRY_SAMPLES][16];
    mqota_sample_t tm_max[MQOTA_TELEMETRY_SAMPLES];
    for (unsigned i = 0; i < MQOTA_TELEMETRY_SAMPLES; i++) {
        snprintf(tm_names[i], sizeof(tm_names[i]), "%cbcdefghij.._09", 'a' + i);
        tm_max[i] = (mqota_sample_t){tm_names[i], -273.15 * i};
    }
    mqota_telemetry_encode(1000, tm_ex, 2, buf, sizeof(buf), &n);
    put("telemetry", "example", buf, n);
    mqota_telemetry_encode(0, tm_one, 1, buf, sizeof(buf), &n);
    put("telemetry", "one", buf, n);
    mqota_telemetry_encode(UINT64_MAX, tm_max, MQOTA_TELEMETRY_SAMPLES, buf, sizeof(buf), &n);
    put("telemetry", "max", buf, n);
    mqota_telemetry_encode(5000, tm_sys, 3, buf, sizeof(buf), &n);
    put("telemetry", "sys", buf, n);

    /* HEALTH (docs/PROTOCOL.md §16): §16's example, all zero, the longest crash text */
    mqota_health_t hl = {.reset_reason = MQOTA_RESET_PANIC, .rssi = -67, .uptime_s = 12,
                         .boot_count = 7, .min_free_heap = 180000, .reconnects = 1,
                         .crash = "LoadProhibited"};
    mqota_health_encode(&hl, buf, sizeof(buf), &n);
    put("health", "example", buf, n);
    memset(&hl, 0, sizeof(hl));
    mqota_health_encode(&hl, buf, sizeof(buf), &n);
    put("health", "zero", buf, n);
    hl = (mqota_health_t){.reset_reason = MQOTA_RESET_CPU_LOCKUP, .rssi = -128,
                          .uptime_s = UINT32_MAX, .boot_count = UINT32_MAX,
                          .min_free_heap = UINT32_MAX, .reconnects = UINT32_MAX};
    memset(hl.crash, '~', MQOTA_HEALTH_CRASH_MAX);
    mqota_health_encode(&hl, buf, sizeof(buf), &n);
    put("health", "max", buf, n);

    /* chunks and image heads from the real firmware */
    static const char *const fixtures[] = {"idf_hello_world_esp32_2023.bin",
                                           "idf_hello_world_esp32_2024.bin",
                                           "idf_blink_esp32s2.bin",
                                           "arduino_nerdminer_esp32_v1.6.3.bin"};
    for (size_t i = 0; i < sizeof(fixtures) / sizeof(fixtures[0]); i++) {
        char path[1024];
        uint8_t head[4096];
        snprintf(path, sizeof(path), "%s/%s", argv[1], fixtures[i]);
        FILE *f = fopen(path, "rb");
        if (!f || fread(head, 1, sizeof(head), f) != sizeof(head)) {
            perror(path);
            return 1;
        }
        fclose(f);
        put("image", fixtures[i], head, sizeof(head));
        mqota_chunk_encode_header(9, (uint32_t)i, head, 512, buf, sizeof(buf));
        memcpy(buf + MQOTA_CHUNK_HEADER_LEN, head, 512);
        put("chunk", fixtures[i], buf, MQOTA_CHUNK_HEADER_LEN + 512);
    }

    /* one whole agent session: connect, offer, every chunk, reboot, confirm */
    uint8_t s[8192];
    size_t sn = 0;
    rec(s, &sn, 3, NULL, 0);
    of.flags = 0;
    of.sig_len = 0;
    mqota_offer_encode(&of, buf, sizeof(buf), &n);
    rec(s, &sn, 0, buf, n);
    for (uint32_t i = 0; i * 256u < img_len; i++) {
        uint32_t len = img_len - i * 256u < 256u ? (uint32_t)(img_len - i * 256u) : 256u;
        mqota_chunk_encode_header(5, i, img + i * 256u, len, buf, sizeof(buf));
        memcpy(buf + MQOTA_CHUNK_HEADER_LEN, img + i * 256u, len);
        rec(s, &sn, (uint8_t)(i % 2 ? 2 : 1), buf, MQOTA_CHUNK_HEADER_LEN + len);
    }
    uint8_t step = 10;
    rec(s, &sn, 4, &step, 1);
    rec(s, &sn, 5, NULL, 0);
    rec(s, &sn, 3, NULL, 0);
    rec(s, &sn, 4, &step, 1);
    put("agent", "update-session", s, sn);

    /* the persisted records, current form, and the raw-struct form of older agents */
    mqota_progress_t pr = {.release_id = 5, .deployment_id = 2, .image_size = 124416,
                           .chunk_size = 1024, .base = 40, .slot = 1};
    memcpy(pr.sha256, sha, 32);
    mqota_progress_encode(&pr, buf, sizeof(buf), &n);
    put("record", "progress", buf, n);
    mqota_slot_record_t sl = {.release_id = 5};
    strcpy(sl.version, "2024.1.0");
    mqota_slot_record_encode(&sl, buf, sizeof(buf), &n);
    put("record", "slot", buf, n);
    mqota_attempt_t at = {.release_id = 5, .deployment_id = 2, .to_slot = 1, .secure_version = 3};
    mqota_attempt_encode(&at, buf, sizeof(buf), &n);
    put("record", "attempt", buf, n);
    mqota_minsv_encode(3, buf, sizeof(buf), &n);
    put("record", "minsv", buf, n);
    mqota_held_t hd = {.release_id = 5, .deployment_id = 2, .image_size = 124416, .slot = 1};
    memcpy(hd.sha256, sha, 32);
    mqota_held_encode(&hd, buf, sizeof(buf), &n);
    put("record", "held", buf, n);
    static const struct {
        const char *name;
        uint32_t magic;
        size_t len;
    } legacy[] = {{"legacy-progress", 0x4D515031u, 64}, {"legacy-slot", 0x4D515331u, 44},
                  {"legacy-attempt", 0x4D514232u, 24}, {"legacy-attempt-v1", 0x4D514231u, 20},
                  {"legacy-minsv", 0x4D515631u, 12}};
    for (size_t i = 0; i < sizeof(legacy) / sizeof(legacy[0]); i++) {
        uint32_t crc;
        memset(buf, 0, legacy[i].len);
        for (int b = 0; b < 4; b++) {
            buf[b] = (uint8_t)(legacy[i].magic >> (8 * b));
        }
        buf[4] = 5;
        crc = mqota_crc32(0, buf, legacy[i].len - 4u);
        for (int b = 0; b < 4; b++) {
            buf[legacy[i].len - 4u + (size_t)b] = (uint8_t)(crc >> (8 * b));
        }
        put("record", legacy[i].name, buf, legacy[i].len);
    }
    return 0;
}
