/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file legacy_codec.h
 * @brief Pure codecs of legacy protocols 1 and 2 (docs/LEGACY.md): bytes in, struct out, no
 *        I/O. Both sides use them: mqotad's adapters (legacy_b64.c, legacy_md5.c) and the
 *        fleet's virtual legacy devices (fleet/legacy_b64.c, fleet/legacy_md5.c); fuzzed by
 *        tests/fuzz/fuzz_legacy.c.
 *
 * Base64 is OpenSSL's (EVP_EncodeBlock / EVP_DecodeBlock), MD5 and AES-256-CBC are OpenSSL
 * EVP's. Every decoder bounds-checks its input and never reads past len.
 */
#ifndef MQOTAD_LEGACY_CODEC_H
#define MQOTAD_LEGACY_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- protocol 1: base64 chunks over one topic ---- */

/** Most image bytes in one data message. */
#define LB64_DATA_MAX 508u
/** Longest base64 text of one message on the update topic (4 + 508 raw bytes). */
#define LB64_TEXT_MAX (4u * ((4u + LB64_DATA_MAX + 2u) / 3u))
/** Longest command (plain text) mqotad seals. */
#define LB64_CMD_MAX 128u
/** Longest sealed command (base64 of the ciphertext, PKCS#7-padded). */
#define LB64_SEALED_MAX (4u * ((LB64_CMD_MAX + 16u + 2u) / 3u))

/** A message on the update topic, decoded. */
typedef enum {
    LB64_MSG_BEGIN = 1, /**< OTA:BEGIN:<size> */
    LB64_MSG_END = 2,   /**< OTA:END */
    LB64_MSG_DATA = 3   /**< chunk number (1-based) + 1..LB64_DATA_MAX bytes */
} lb64_msg_kind_t;

typedef struct {
    lb64_msg_kind_t kind;
    uint32_t size;        /**< BEGIN */
    uint32_t chunk;       /**< DATA: 1-based */
    uint8_t data[LB64_DATA_MAX];
    size_t data_len;      /**< DATA: 1..LB64_DATA_MAX */
} lb64_msg_t;

/** base64("OTA:BEGIN:<size>") into out (NUL-terminated). @return its length, 0 if cap is small. */
size_t lb64_encode_begin(uint32_t size, char *out, size_t cap);
/** base64("OTA:END"). @return its length, 0 if cap is small. */
size_t lb64_encode_end(char *out, size_t cap);
/** base64(chunk BE32 || data), len 1..LB64_DATA_MAX. @return its length, 0 on a bad argument. */
size_t lb64_encode_data(uint32_t chunk, const uint8_t *data, size_t len, char *out, size_t cap);
/** Decode one update-topic message (the device's side). @return 0, or -1 (not base64, not one
 *  of the three forms, size not decimal, chunk 0, data empty or too long). */
int lb64_decode_update(const char *text, size_t len, lb64_msg_t *out);

/** What a device says on its status topic. */
typedef enum {
    LB64_ST_STARTED = 1,  /**< OTA:STARTED */
    LB64_ST_PROGRESS = 2, /**< OTA:PROGRESS:<bytes>/<total>:CHUNK:<n> */
    LB64_ST_REQUEST = 3,  /**< OTA:REQUEST:<n> */
    LB64_ST_SUCCESS = 4,  /**< OTA:SUCCESS */
    LB64_ST_ERROR = 5,    /**< OTA:ERROR:<reason> */
    LB64_ST_VERSION = 6,  /**< VERSION:<version> (the reply to the VERSION command) */
    LB64_ST_OTHER = 7     /**< anything else (other command replies): ignored */
} lb64_status_kind_t;

typedef struct {
    lb64_status_kind_t kind;
    uint32_t bytes, total, chunk; /**< PROGRESS; chunk also REQUEST */
    char text[64];                /**< ERROR's reason, VERSION's version (printable, cut) */
} lb64_status_t;

/** Decode a status message (mqotad's side). @return 0, or -1 (an OTA: message malformed). */
int lb64_parse_status(const char *text, size_t len, lb64_status_t *out);

/** Seal a command: base64(AES-256-CBC(key, iv, PKCS#7(cmd))). @return the text's length (NUL
 *  added), 0 on failure (cmd longer than LB64_CMD_MAX, cap too small, OpenSSL failed). */
size_t lb64_cmd_seal(const uint8_t key[32], const uint8_t iv[16], const char *cmd, char *out,
                     size_t cap);
/** Open a sealed command (the device's side) into out (NUL-terminated). @return its length,
 *  or -1 (not base64, not whole blocks, bad padding: a wrong key or IV mostly shows here). */
int lb64_cmd_open(const uint8_t key[32], const uint8_t iv[16], const char *text, size_t len,
                  char *out, size_t cap);

/* ---- protocol 2: per-chip topics with MD5 chunks ---- */

/** Default image bytes per chunk. */
#define LMD5_CHUNK_DEFAULT 200u
/** Most image bytes per chunk mqotad sends (the 2-byte length could say more). */
#define LMD5_CHUNK_MAX 4096u
/** Bytes of a chunk message around its data: length (2), MD5 (16), remaining (2). */
#define LMD5_OVERHEAD 20u

/** The device's chipId: "esp32-" + 6 lowercase hex digits, the low 24 bits of its MAC read as a
 *  48-bit number (24:0a:c4:12:34:56 -> "esp32-123456"). out holds at least 13 bytes. */
void lmd5_chip_id(const uint8_t mac[6], char out[13]);
/** Whether s is such a chipId. */
bool lmd5_chip_id_valid(const char *s);

/** The size message: 4 bytes big-endian. */
void lmd5_encode_size(uint32_t size, uint8_t out[4]);
/** One chunk: n (BE16), data, MD5(data), remaining (BE16). @return bytes written, 0 on a bad
 *  argument (n 0 or above LMD5_CHUNK_MAX, cap too small). */
size_t lmd5_encode_chunk(const uint8_t *data, size_t n, uint16_t remaining, uint8_t *out,
                         size_t cap);

typedef struct {
    const uint8_t *data;  /**< inside the decoded buffer */
    size_t len;
    uint16_t remaining;
    bool md5_ok;          /**< the MD5 matches the data */
} lmd5_chunk_t;

/** Decode one chunk message (the device's side). @return 0 (md5_ok says whether it checks
 *  out), or -1 (len-fail: shorter than its header, or its length disagrees with len). */
int lmd5_decode_chunk(const uint8_t *buf, size_t len, lmd5_chunk_t *out);

/** The device's feedback words. */
typedef enum {
    LMD5_FB_OTHER = 0,
    LMD5_FB_READY, LMD5_FB_OK, LMD5_FB_SUCCESS, LMD5_FB_BEGIN_FAIL, LMD5_FB_LEN_FAIL,
    LMD5_FB_SIZE_MISMATCH, LMD5_FB_MD5_FAIL, LMD5_FB_WRITE_FAIL, LMD5_FB_END_FAIL
} lmd5_feedback_t;

/** The feedback word in text[0, len) (exact match). */
lmd5_feedback_t lmd5_parse_feedback(const uint8_t *text, size_t len);
/** The word of f ("ready", "ok", ...; "?" for OTHER). */
const char *lmd5_feedback_name(lmd5_feedback_t f);

#ifdef __cplusplus
}
#endif

#endif /* MQOTAD_LEGACY_CODEC_H */
