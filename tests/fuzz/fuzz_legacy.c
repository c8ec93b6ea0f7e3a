/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the codecs of legacy protocols 1 and 2 (server/legacy_codec.c, used by
 * mqotad's adapters and the fleet's virtual legacy devices; docs/LEGACY.md). The first byte
 * picks the decoder, the rest is a message as it arrives from the broker:
 *   0: protocol 1's update-topic message (lb64_decode_update: the device's side)
 *   1: protocol 1's status message (lb64_parse_status: mqotad's side)
 *   2: protocol 1's sealed command (lb64_cmd_open under a fixed key)
 *   3: protocol 2's chunk message (lmd5_decode_chunk: the device's side)
 *   4: protocol 2's feedback word (lmd5_parse_feedback: mqotad's side)
 * Whatever the bytes: no crash, leak or UB, and what is accepted is within its bounds and
 * encodes back to the same message (round trip).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "legacy_codec.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

static const uint8_t key[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
static const uint8_t iv[16] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6};

static lb64_msg_t msg;

static void update(const char *t, size_t n)
{
    char again[LB64_TEXT_MAX + 1];
    size_t m = 0;
    if (lb64_decode_update(t, n, &msg) != 0) return;
    switch (msg.kind) {
    case LB64_MSG_BEGIN: m = lb64_encode_begin(msg.size, again, sizeof(again)); break;
    case LB64_MSG_END: m = lb64_encode_end(again, sizeof(again)); break;
    case LB64_MSG_DATA:
        CHECK(msg.chunk >= 1 && msg.data_len >= 1 && msg.data_len <= LB64_DATA_MAX);
        m = lb64_encode_data(msg.chunk, msg.data, msg.data_len, again, sizeof(again));
        break;
    default: abort();
    }
    /* the canonical text decodes to the same message (a BEGIN's size may have had zeros) */
    lb64_msg_t back;
    CHECK(m > 0 && lb64_decode_update(again, m, &back) == 0 && back.kind == msg.kind &&
          back.size == msg.size && back.chunk == msg.chunk && back.data_len == msg.data_len &&
          memcmp(back.data, msg.data, msg.data_len) == 0);
}

static void status(const char *t, size_t n)
{
    lb64_status_t st;
    if (lb64_parse_status(t, n, &st) != 0) return;
    CHECK(st.kind >= LB64_ST_STARTED && st.kind <= LB64_ST_OTHER);
    CHECK(memchr(st.text, '\0', sizeof(st.text)) != NULL);
    if (st.kind == LB64_ST_PROGRESS) CHECK(st.bytes <= st.total);
    if (st.kind == LB64_ST_REQUEST) CHECK(st.chunk >= 1);
}

static void command(const char *t, size_t n)
{
    char out[LB64_CMD_MAX + 1], sealed[LB64_SEALED_MAX + 1], back[LB64_CMD_MAX + 1];
    int m = lb64_cmd_open(key, iv, t, n, out, sizeof(out));
    if (m < 0) return;
    CHECK((size_t)m <= LB64_CMD_MAX && out[m] == '\0');
    if (strlen(out) != (size_t)m) return; /* a NUL inside: not a command mqotad could seal */
    size_t s = lb64_cmd_seal(key, iv, out, sealed, sizeof(sealed));
    CHECK(s > 0 && lb64_cmd_open(key, iv, sealed, s, back, sizeof(back)) == m &&
          strcmp(back, out) == 0);
}

static void chunk(const uint8_t *p, size_t n)
{
    lmd5_chunk_t c;
    uint8_t again[LMD5_CHUNK_MAX + LMD5_OVERHEAD];
    if (lmd5_decode_chunk(p, n, &c) != 0) return;
    CHECK(c.len >= 1 && c.len + LMD5_OVERHEAD == n && c.data == p + 2);
    if (c.len > LMD5_CHUNK_MAX) return;
    size_t m = lmd5_encode_chunk(c.data, c.len, c.remaining, again, sizeof(again));
    CHECK(m == n);
    CHECK((memcmp(again, p, n) == 0) == c.md5_ok);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    switch (data[0] % 5) {
    case 0: update((const char *)p, n); break;
    case 1: status((const char *)p, n); break;
    case 2: command((const char *)p, n); break;
    case 3: chunk(p, n); break;
    default: {
        lmd5_feedback_t f = lmd5_parse_feedback(p, n);
        const char *w = lmd5_feedback_name(f);
        CHECK(f == LMD5_FB_OTHER || (strlen(w) == n && memcmp(w, p, n) == 0));
        break;
    }
    }
    return 0;
}
