/* SPDX-License-Identifier: Apache-2.0 */
/*
 * legacy_codec.c - the pure codecs of legacy protocols 1 and 2 (legacy_codec.h,
 * docs/LEGACY.md): base64 messages of protocol 1 and its sealed commands, the size and chunk
 * messages of protocol 2 and its feedback words. No I/O; OpenSSL for base64, MD5 and AES.
 */
#include "legacy_codec.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- base64, strict: whole quads, the standard alphabet, '=' only as the last one or two ---- */

static bool b64_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '+' || c == '/';
}

/* Decode text[0, len) into out (cap bytes). @return bytes, or -1 if not strict base64 or too
 * long for out. */
static int b64_decode(const char *text, size_t len, uint8_t *out, size_t cap)
{
    if (len == 0 || len % 4 != 0 || len / 4 * 3 > cap + 2 || len > 65536) return -1;
    size_t pad = 0;
    if (text[len - 1] == '=') pad++;
    if (len >= 2 && text[len - 2] == '=') pad++;
    for (size_t i = 0; i < len - pad; i++)
        if (!b64_char((unsigned char)text[i])) return -1;
    size_t n = len / 4 * 3 - pad;
    if (n > cap) return -1;
    uint8_t tmp[LB64_TEXT_MAX + LB64_SEALED_MAX];
    uint8_t *buf = len / 4 * 3 <= sizeof(tmp) ? tmp : malloc(len / 4 * 3);
    if (!buf) return -1;
    int got = EVP_DecodeBlock(buf, (const unsigned char *)text, (int)len);
    if (got < 0 || (size_t)got != len / 4 * 3) {
        if (buf != tmp) free(buf);
        return -1;
    }
    memcpy(out, buf, n);
    if (buf != tmp) free(buf);
    return (int)n;
}

/* base64 of in[0, n) into out (NUL-terminated). @return its length, 0 if cap is too small. */
static size_t b64_encode(const uint8_t *in, size_t n, char *out, size_t cap)
{
    size_t need = 4 * ((n + 2) / 3) + 1;
    if (need > cap || n > 65536) return 0;
    return (size_t)EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

/* A decimal number of 1..10 digits in s[0, n), at most UINT32_MAX. */
static int parse_u32(const char *s, size_t n, uint32_t *out)
{
    uint64_t v = 0;
    if (n == 0 || n > 10) return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10u + (uint64_t)(s[i] - '0');
    }
    if (v > UINT32_MAX) return -1;
    *out = (uint32_t)v;
    return 0;
}

/* ---- protocol 1 ---- */

size_t lb64_encode_begin(uint32_t size, char *out, size_t cap)
{
    char plain[32];
    int n = snprintf(plain, sizeof(plain), "OTA:BEGIN:%u", (unsigned)size);
    return b64_encode((const uint8_t *)plain, (size_t)n, out, cap);
}

size_t lb64_encode_end(char *out, size_t cap)
{
    return b64_encode((const uint8_t *)"OTA:END", 7, out, cap);
}

size_t lb64_encode_data(uint32_t chunk, const uint8_t *data, size_t len, char *out, size_t cap)
{
    uint8_t raw[4 + LB64_DATA_MAX];
    if (chunk == 0 || len == 0 || len > LB64_DATA_MAX) return 0;
    raw[0] = (uint8_t)(chunk >> 24);
    raw[1] = (uint8_t)(chunk >> 16);
    raw[2] = (uint8_t)(chunk >> 8);
    raw[3] = (uint8_t)chunk;
    memcpy(raw + 4, data, len);
    return b64_encode(raw, 4 + len, out, cap);
}

int lb64_decode_update(const char *text, size_t len, lb64_msg_t *out)
{
    uint8_t raw[4 + LB64_DATA_MAX];
    int n = b64_decode(text, len, raw, sizeof(raw));
    if (n < 0) return -1;
    memset(out, 0, sizeof(*out));
    if (n == 7 && memcmp(raw, "OTA:END", 7) == 0) {
        out->kind = LB64_MSG_END;
        return 0;
    }
    if (n > 10 && memcmp(raw, "OTA:BEGIN:", 10) == 0) {
        if (parse_u32((const char *)raw + 10, (size_t)n - 10, &out->size) != 0) return -1;
        out->kind = LB64_MSG_BEGIN;
        return 0;
    }
    /* A data message whose chunk number spells "OTA:" (chunk 1,330,921,786: no image has it)
     * would be a control message the protocol cannot tell apart (docs/LEGACY.md, protocol 1's
     * limits): any message that starts so and is neither is refused. */
    if (n < 5 || memcmp(raw, "OTA:", 4) == 0) return -1;
    out->chunk = (uint32_t)raw[0] << 24 | (uint32_t)raw[1] << 16 | (uint32_t)raw[2] << 8 | raw[3];
    if (out->chunk == 0) return -1;
    out->kind = LB64_MSG_DATA;
    out->data_len = (size_t)n - 4;
    memcpy(out->data, raw + 4, out->data_len);
    return 0;
}

/* Copy printable ASCII of s[0, n) into out (cap bytes), '?' for anything else. */
static void printable_copy(const char *s, size_t n, char *out, size_t cap)
{
    size_t i = 0;
    for (; i < n && i + 1 < cap; i++) out[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
    out[i] = '\0';
}

int lb64_parse_status(const char *t, size_t len, lb64_status_t *out)
{
    memset(out, 0, sizeof(*out));
    out->kind = LB64_ST_OTHER;
#define IS(lit) (len == sizeof(lit) - 1 && memcmp(t, lit, sizeof(lit) - 1) == 0)
#define STARTS(lit) (len >= sizeof(lit) - 1 && memcmp(t, lit, sizeof(lit) - 1) == 0)
    if (IS("OTA:STARTED")) {
        out->kind = LB64_ST_STARTED;
    } else if (IS("OTA:SUCCESS")) {
        out->kind = LB64_ST_SUCCESS;
    } else if (STARTS("OTA:ERROR:")) {
        out->kind = LB64_ST_ERROR;
        printable_copy(t + 10, len - 10, out->text, sizeof(out->text));
    } else if (STARTS("VERSION:")) {
        if (len == 8 || len - 8 > 31) return -1;
        out->kind = LB64_ST_VERSION;
        printable_copy(t + 8, len - 8, out->text, sizeof(out->text));
    } else if (STARTS("OTA:REQUEST:")) {
        if (parse_u32(t + 12, len - 12, &out->chunk) != 0 || out->chunk == 0) return -1;
        out->kind = LB64_ST_REQUEST;
    } else if (STARTS("OTA:PROGRESS:")) {
        /* <bytes>/<total>:CHUNK:<n> */
        const char *p = t + 13, *end = t + len;
        const char *slash = memchr(p, '/', (size_t)(end - p));
        if (!slash || parse_u32(p, (size_t)(slash - p), &out->bytes) != 0) return -1;
        const char *colon = memchr(slash + 1, ':', (size_t)(end - slash - 1));
        if (!colon || parse_u32(slash + 1, (size_t)(colon - slash - 1), &out->total) != 0)
            return -1;
        if ((size_t)(end - colon) < 7 || memcmp(colon, ":CHUNK:", 7) != 0 ||
            parse_u32(colon + 7, (size_t)(end - colon - 7), &out->chunk) != 0)
            return -1;
        if (out->bytes > out->total) return -1;
        out->kind = LB64_ST_PROGRESS;
    } else if (STARTS("OTA:")) {
        return -1;
    }
#undef IS
#undef STARTS
    return 0;
}

size_t lb64_cmd_seal(const uint8_t key[32], const uint8_t iv[16], const char *cmd, char *out,
                     size_t cap)
{
    size_t n = strlen(cmd);
    uint8_t ct[LB64_CMD_MAX + 16];
    int l1 = 0, l2 = 0;
    if (n > LB64_CMD_MAX) return 0;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    if (!c) return 0;
    bool ok = EVP_EncryptInit_ex(c, EVP_aes_256_cbc(), NULL, key, iv) == 1 && /* PKCS#7 */
              EVP_EncryptUpdate(c, ct, &l1, (const uint8_t *)cmd, (int)n) == 1 &&
              EVP_EncryptFinal_ex(c, ct + l1, &l2) == 1;
    EVP_CIPHER_CTX_free(c);
    return ok ? b64_encode(ct, (size_t)(l1 + l2), out, cap) : 0;
}

int lb64_cmd_open(const uint8_t key[32], const uint8_t iv[16], const char *text, size_t len,
                  char *out, size_t cap)
{
    uint8_t ct[LB64_CMD_MAX + 16], pt[LB64_CMD_MAX + 32];
    int n = b64_decode(text, len, ct, sizeof(ct)), l1 = 0, l2 = 0;
    if (n <= 0 || n % 16 != 0) return -1;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    if (!c) return -1;
    bool ok = EVP_DecryptInit_ex(c, EVP_aes_256_cbc(), NULL, key, iv) == 1 &&
              EVP_DecryptUpdate(c, pt, &l1, ct, n) == 1 &&
              EVP_DecryptFinal_ex(c, pt + l1, &l2) == 1; /* checks the PKCS#7 padding */
    EVP_CIPHER_CTX_free(c);
    if (!ok || (size_t)(l1 + l2) + 1 > cap) return -1;
    memcpy(out, pt, (size_t)(l1 + l2));
    out[l1 + l2] = '\0';
    return l1 + l2;
}

/* ---- protocol 2 ---- */

void lmd5_chip_id(const uint8_t mac[6], char out[13])
{
    snprintf(out, 13, "esp32-%02x%02x%02x", mac[3], mac[4], mac[5]);
}

bool lmd5_chip_id_valid(const char *s)
{
    if (strlen(s) != 12 || strncmp(s, "esp32-", 6) != 0) return false;
    for (int i = 6; i < 12; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
    return true;
}

void lmd5_encode_size(uint32_t size, uint8_t out[4])
{
    out[0] = (uint8_t)(size >> 24);
    out[1] = (uint8_t)(size >> 16);
    out[2] = (uint8_t)(size >> 8);
    out[3] = (uint8_t)size;
}

/* MD5 of data[0, n) into md (16 bytes). 0 or -1. */
static int md5(const uint8_t *data, size_t n, uint8_t md[16])
{
    unsigned int len = 0;
    return EVP_Digest(data, n, md, &len, EVP_md5(), NULL) == 1 && len == 16 ? 0 : -1;
}

size_t lmd5_encode_chunk(const uint8_t *data, size_t n, uint16_t remaining, uint8_t *out,
                         size_t cap)
{
    if (n == 0 || n > LMD5_CHUNK_MAX || cap < n + LMD5_OVERHEAD) return 0;
    out[0] = (uint8_t)(n >> 8);
    out[1] = (uint8_t)n;
    memcpy(out + 2, data, n);
    if (md5(data, n, out + 2 + n) != 0) return 0;
    out[2 + n + 16] = (uint8_t)(remaining >> 8);
    out[2 + n + 17] = (uint8_t)remaining;
    return n + LMD5_OVERHEAD;
}

int lmd5_decode_chunk(const uint8_t *buf, size_t len, lmd5_chunk_t *out)
{
    uint8_t md[16];
    memset(out, 0, sizeof(*out));
    if (len < LMD5_OVERHEAD + 1) return -1;
    size_t n = (size_t)buf[0] << 8 | buf[1];
    if (n == 0 || n + LMD5_OVERHEAD != len) return -1;
    out->data = buf + 2;
    out->len = n;
    out->remaining = (uint16_t)(buf[2 + n + 16] << 8 | buf[2 + n + 17]);
    out->md5_ok = md5(buf + 2, n, md) == 0 && memcmp(md, buf + 2 + n, 16) == 0;
    return 0;
}

static const char *const fb_names[] = {
    [LMD5_FB_OTHER] = "?", [LMD5_FB_READY] = "ready", [LMD5_FB_OK] = "ok",
    [LMD5_FB_SUCCESS] = "success", [LMD5_FB_BEGIN_FAIL] = "begin-fail",
    [LMD5_FB_LEN_FAIL] = "len-fail", [LMD5_FB_SIZE_MISMATCH] = "size-mismatch",
    [LMD5_FB_MD5_FAIL] = "md5-fail", [LMD5_FB_WRITE_FAIL] = "write-fail",
    [LMD5_FB_END_FAIL] = "end-fail",
};

lmd5_feedback_t lmd5_parse_feedback(const uint8_t *text, size_t len)
{
    for (size_t i = 1; i < sizeof(fb_names) / sizeof(fb_names[0]); i++)
        if (strlen(fb_names[i]) == len && memcmp(fb_names[i], text, len) == 0)
            return (lmd5_feedback_t)i;
    return LMD5_FB_OTHER;
}

const char *lmd5_feedback_name(lmd5_feedback_t f)
{
    return (unsigned)f < sizeof(fb_names) / sizeof(fb_names[0]) ? fb_names[f] : "?";
}
