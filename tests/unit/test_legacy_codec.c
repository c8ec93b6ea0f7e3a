/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_legacy_codec.c - the pure codecs of legacy protocols 1 and 2 (server/legacy_codec.c,
 * docs/LEGACY.md): exact bytes of every message both ways (base64 and AES-256-CBC vectors
 * made with Python's base64 and the openssl command), every refusal, protocol 2's chunk layout
 * with its MD5 (RFC 1321's "abc"), the chipId of a MAC, the feedback words.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <string.h>

#include "legacy_codec.h"

static const uint8_t key[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                                17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
static const uint8_t iv[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

static void test_b64_encode(void **state)
{
    char t[LB64_TEXT_MAX + 1];
    (void)state;
    assert_int_equal(lb64_encode_begin(133392, t, sizeof(t)), 24);
    assert_string_equal(t, "T1RBOkJFR0lOOjEzMzM5Mg=="); /* OTA:BEGIN:133392 */
    assert_int_equal(lb64_encode_end(t, sizeof(t)), 12);
    assert_string_equal(t, "T1RBOkVORA=="); /* OTA:END */
    assert_int_equal(lb64_encode_data(1, (const uint8_t *)"abc", 3, t, sizeof(t)), 12);
    assert_string_equal(t, "AAAAAWFiYw=="); /* 00 00 00 01 'a' 'b' 'c' */
    uint8_t big[LB64_DATA_MAX + 1] = {0};
    assert_int_equal(lb64_encode_data(7, big, LB64_DATA_MAX, t, sizeof(t)), LB64_TEXT_MAX);
    assert_int_equal(lb64_encode_data(7, big, LB64_DATA_MAX + 1, t, sizeof(t)), 0);
    assert_int_equal(lb64_encode_data(0, big, 1, t, sizeof(t)), 0);
    assert_int_equal(lb64_encode_data(1, big, 0, t, sizeof(t)), 0);
    assert_int_equal(lb64_encode_end(t, 12), 0); /* no room for the NUL */
}

static void test_b64_decode(void **state)
{
    lb64_msg_t m;
    (void)state;
    assert_int_equal(lb64_decode_update("T1RBOkJFR0lOOjEzMzM5Mg==", 24, &m), 0);
    assert_int_equal(m.kind, LB64_MSG_BEGIN);
    assert_int_equal(m.size, 133392);
    assert_int_equal(lb64_decode_update("T1RBOkVORA==", 12, &m), 0);
    assert_int_equal(m.kind, LB64_MSG_END);
    assert_int_equal(lb64_decode_update("AAAAAWFiYw==", 12, &m), 0);
    assert_int_equal(m.kind, LB64_MSG_DATA);
    assert_int_equal(m.chunk, 1);
    assert_int_equal(m.data_len, 3);
    assert_memory_equal(m.data, "abc", 3);
    /* refused: chunk 0, no data, not whole quads, a bad character, padding inside, a BEGIN
     * without digits or with a letter, more than 508 bytes */
    assert_int_equal(lb64_decode_update("AAAAAGFiYw==", 12, &m), -1);
    assert_int_equal(lb64_decode_update("AAAAAQ==", 8, &m), -1);
    assert_int_equal(lb64_decode_update("AAAAAWFiYw", 10, &m), -1);
    assert_int_equal(lb64_decode_update("AAAA!WFiYw==", 12, &m), -1);
    assert_int_equal(lb64_decode_update("AA==AWFiYw==", 12, &m), -1);
    assert_int_equal(lb64_decode_update("T1RBOkJFR0lOOg==", 16, &m), -1);  /* OTA:BEGIN: */
    assert_int_equal(lb64_decode_update("T1RBOkJFR0lOOjF4", 16, &m), -1);  /* OTA:BEGIN:1x */
    assert_int_equal(lb64_decode_update("", 0, &m), -1);
    /* 4 + 509 bytes: one more than a data message holds */
    uint8_t raw[4 + LB64_DATA_MAX + 1] = {0, 0, 0, 1};
    char t[LB64_TEXT_MAX + 8];
    int n = EVP_EncodeBlock((unsigned char *)t, raw, (int)sizeof(raw));
    assert_int_equal(lb64_decode_update(t, (size_t)n, &m), -1);
    n = EVP_EncodeBlock((unsigned char *)t, raw, (int)sizeof(raw) - 1);
    assert_int_equal(lb64_decode_update(t, (size_t)n, &m), 0);
    assert_int_equal(m.data_len, LB64_DATA_MAX);
}

static void test_b64_status(void **state)
{
    lb64_status_t st;
    (void)state;
#define P(s) lb64_parse_status(s, strlen(s), &st)
    assert_int_equal(P("OTA:STARTED"), 0);
    assert_int_equal(st.kind, LB64_ST_STARTED);
    assert_int_equal(P("OTA:PROGRESS:3556/133392:CHUNK:7"), 0);
    assert_int_equal(st.kind, LB64_ST_PROGRESS);
    assert_int_equal(st.bytes, 3556);
    assert_int_equal(st.total, 133392);
    assert_int_equal(st.chunk, 7);
    assert_int_equal(P("OTA:REQUEST:12"), 0);
    assert_int_equal(st.kind, LB64_ST_REQUEST);
    assert_int_equal(st.chunk, 12);
    assert_int_equal(P("OTA:SUCCESS"), 0);
    assert_int_equal(st.kind, LB64_ST_SUCCESS);
    assert_int_equal(P("OTA:ERROR:write\x1b"), 0);
    assert_int_equal(st.kind, LB64_ST_ERROR);
    assert_string_equal(st.text, "write?"); /* a control byte shown as '?' */
    assert_int_equal(P("VERSION:b64-2"), 0);
    assert_int_equal(st.kind, LB64_ST_VERSION);
    assert_string_equal(st.text, "b64-2");
    assert_int_equal(P("RESTARTING"), 0);
    assert_int_equal(st.kind, LB64_ST_OTHER);
    /* malformed OTA: messages and versions are refused */
    assert_int_equal(P("OTA:PROGRESS:5/4:CHUNK:1"), -1);  /* more bytes than the total */
    assert_int_equal(P("OTA:PROGRESS:1/2:CHUNK:"), -1);
    assert_int_equal(P("OTA:PROGRESS:1/2:CHUNKS:1"), -1);
    assert_int_equal(P("OTA:PROGRESS:1/99999999999:CHUNK:1"), -1); /* above 2^32 - 1 */
    assert_int_equal(P("OTA:PROGRESS:-1/2:CHUNK:1"), -1);
    assert_int_equal(P("OTA:REQUEST:0"), -1);
    assert_int_equal(P("OTA:REQUEST:"), -1);
    assert_int_equal(P("OTA:STARTED "), -1);
    assert_int_equal(P("VERSION:"), -1);
    assert_int_equal(P("VERSION:0123456789012345678901234567890123"), -1); /* 34 bytes */
#undef P
}

static void test_b64_command(void **state)
{
    char t[LB64_SEALED_MAX + 1], out[LB64_CMD_MAX + 1];
    uint8_t other[32];
    (void)state;
    /* openssl enc -aes-256-cbc -K 0102..20 -iv 0001..0f -base64 -A <<< -n VERSION */
    assert_int_equal(lb64_cmd_seal(key, iv, "VERSION", t, sizeof(t)), 24);
    assert_string_equal(t, "R1PQdtS81bVNWks9p34LRg==");
    assert_int_equal(lb64_cmd_open(key, iv, t, strlen(t), out, sizeof(out)), 7);
    assert_string_equal(out, "VERSION");
    /* another key: the padding does not check out (for this vector) */
    memcpy(other, key, sizeof(other));
    other[0] ^= 0x80;
    assert_int_equal(lb64_cmd_open(other, iv, t, strlen(t), out, sizeof(out)), -1);
    /* not whole blocks, not base64, empty */
    assert_int_equal(lb64_cmd_open(key, iv, "AAAA", 4, out, sizeof(out)), -1);
    assert_int_equal(lb64_cmd_open(key, iv, "R1PQdtS81bVNWks9p34LRg", 22, out, sizeof(out)), -1);
    assert_int_equal(lb64_cmd_open(key, iv, "", 0, out, sizeof(out)), -1);
    /* a command longer than LB64_CMD_MAX is not sealed */
    char longcmd[LB64_CMD_MAX + 2];
    memset(longcmd, 'A', sizeof(longcmd) - 1);
    longcmd[sizeof(longcmd) - 1] = '\0';
    assert_int_equal(lb64_cmd_seal(key, iv, longcmd, t, sizeof(t)), 0);
    longcmd[LB64_CMD_MAX] = '\0';
    size_t n = lb64_cmd_seal(key, iv, longcmd, t, sizeof(t));
    assert_true(n > 0);
    assert_int_equal(lb64_cmd_open(key, iv, t, n, out, sizeof(out)), LB64_CMD_MAX);
}

static void test_md5_chunk(void **state)
{
    uint8_t buf[64], want[3 + 20] = {0x00, 0x03, 'a', 'b', 'c'};
    /* RFC 1321 A.5: MD5("abc") = 900150983cd24fb0d6963f7d28e17f72 */
    static const uint8_t md5abc[16] = {0x90, 0x01, 0x50, 0x98, 0x3c, 0xd2, 0x4f, 0xb0,
                                       0xd6, 0x96, 0x3f, 0x7d, 0x28, 0xe1, 0x7f, 0x72};
    lmd5_chunk_t c;
    (void)state;
    memcpy(want + 5, md5abc, 16);
    want[21] = 0x01;
    want[22] = 0x02; /* 258 chunks remain */
    assert_int_equal(lmd5_encode_chunk((const uint8_t *)"abc", 3, 258, buf, sizeof(buf)), 23);
    assert_memory_equal(buf, want, 23);
    assert_int_equal(lmd5_decode_chunk(buf, 23, &c), 0);
    assert_true(c.md5_ok);
    assert_int_equal(c.len, 3);
    assert_int_equal(c.remaining, 258);
    assert_ptr_equal(c.data, buf + 2);
    buf[3] ^= 0x01; /* a damaged data byte: decoded, its MD5 fails */
    assert_int_equal(lmd5_decode_chunk(buf, 23, &c), 0);
    assert_false(c.md5_ok);
    /* len-fail: one byte short or long, a zero length, shorter than the header */
    assert_int_equal(lmd5_decode_chunk(buf, 22, &c), -1);
    assert_int_equal(lmd5_decode_chunk(buf, 24, &c), -1);
    buf[0] = buf[1] = 0;
    assert_int_equal(lmd5_decode_chunk(buf, 20, &c), -1);
    assert_int_equal(lmd5_decode_chunk(buf, 5, &c), -1);
    assert_int_equal(lmd5_encode_chunk(buf, 0, 0, buf, sizeof(buf)), 0);
    assert_int_equal(lmd5_encode_chunk(buf, 3, 0, buf + 30, 22), 0); /* no room */
    uint8_t size[4];
    lmd5_encode_size(133392, size);
    assert_memory_equal(size, "\x00\x02\x09\x10", 4);
}

static void test_md5_chip_and_feedback(void **state)
{
    static const uint8_t mac[6] = {0x24, 0x0a, 0xc4, 0x12, 0x34, 0xab};
    char id[13];
    (void)state;
    lmd5_chip_id(mac, id);
    assert_string_equal(id, "esp32-1234ab");
    assert_true(lmd5_chip_id_valid(id));
    assert_false(lmd5_chip_id_valid("esp32-1234AB"));
    assert_false(lmd5_chip_id_valid("esp32-1234a"));
    assert_false(lmd5_chip_id_valid("esp32-1234abc"));
    assert_false(lmd5_chip_id_valid("esp8266-1234ab"));
    static const char *const words[] = {"ready", "ok", "success", "begin-fail", "len-fail",
                                        "size-mismatch", "md5-fail", "write-fail", "end-fail"};
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        lmd5_feedback_t f = lmd5_parse_feedback((const uint8_t *)words[i], strlen(words[i]));
        assert_int_equal(f, (lmd5_feedback_t)(i + 1));
        assert_string_equal(lmd5_feedback_name(f), words[i]);
    }
    assert_int_equal(lmd5_parse_feedback((const uint8_t *)"OK", 2), LMD5_FB_OTHER);
    assert_int_equal(lmd5_parse_feedback((const uint8_t *)"ok ", 3), LMD5_FB_OTHER);
    assert_int_equal(lmd5_parse_feedback((const uint8_t *)"", 0), LMD5_FB_OTHER);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_b64_encode),
        cmocka_unit_test(test_b64_decode),
        cmocka_unit_test(test_b64_status),
        cmocka_unit_test(test_b64_command),
        cmocka_unit_test(test_md5_chunk),
        cmocka_unit_test(test_md5_chip_and_feedback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
