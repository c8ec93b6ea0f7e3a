/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mqota_manifest.c - canonical bytes of a signed release manifest and the OFFER's signature
 * block (mqota_manifest.h, docs/PROTOCOL.md §5.1).
 *
 * Pure functions: bytes in, struct out. No heap, no I/O, no crypto: the agent hashes the bytes
 * with its sha256 hook and hands the digest to the platform's verify_signature hook. The
 * encoding is canonical (one manifest, one byte string), which is what makes it signable:
 * decoders refuse anything an encoder would not have produced.
 */
#include "mqota/mqota_manifest.h"
#include "mqota_le.h"

#include <string.h>

#define OFF_SHA256 4u
#define OFF_IMAGE_SIZE 36u
#define OFF_CHIP_ID 40u
#define OFF_SECURE_VERSION 42u
#define OFF_UID 46u

/* Length of a NUL-terminated string held in a MQOTA_STR_MAX + 1 byte field, or -1 if the field
 * has no NUL (a string that would be cut: refusing it keeps signing exact). */
static int field_len(const char *s)
{
    for (int n = 0; n <= (int)MQOTA_STR_MAX; n++) {
        if (s[n] == '\0') {
            return n;
        }
    }
    return -1;
}

/* Read one length-prefixed string at buf[*pos] into out (MQOTA_STR_MAX + 1 bytes). */
static mqota_status_t read_str(const uint8_t *buf, size_t len, size_t *pos, char *out)
{
    size_t n;
    if (*pos >= len) {
        return MQOTA_ERR_TRUNCATED;
    }
    n = buf[*pos];
    if (n > MQOTA_STR_MAX) {
        return MQOTA_ERR_MALFORMED;
    }
    if (len - *pos - 1u < n) {
        return MQOTA_ERR_TRUNCATED;
    }
    if (memchr(buf + *pos + 1u, 0, n) != NULL) {
        return MQOTA_ERR_MALFORMED;
    }
    memcpy(out, buf + *pos + 1u, n);
    out[n] = '\0';
    *pos += 1u + n;
    return MQOTA_OK;
}

mqota_status_t mqota_manifest_encode(const mqota_manifest_t *m, uint8_t *buf, size_t cap,
                                     size_t *out_len)
{
    int pl, vl;
    size_t need;
    if (m == NULL || buf == NULL || out_len == NULL) {
        return MQOTA_ERR_ARG;
    }
    pl = field_len(m->project);
    vl = field_len(m->version);
    if (pl < 0 || vl < 0) {
        return MQOTA_ERR_ARG;
    }
    need = MQOTA_MANIFEST_FIXED_LEN + 2u + (size_t)pl + (size_t)vl;
    if (cap < need) {
        return MQOTA_ERR_NO_SPACE;
    }
    buf[0] = MQOTA_MANIFEST_MAGIC0;
    buf[1] = MQOTA_MANIFEST_MAGIC1;
    buf[2] = MQOTA_MANIFEST_MAGIC2;
    buf[3] = MQOTA_MANIFEST_MAGIC3;
    memcpy(buf + OFF_SHA256, m->sha256, MQOTA_SHA256_LEN);
    le__put_u32(buf + OFF_IMAGE_SIZE, m->image_size);
    le__put_u16(buf + OFF_CHIP_ID, m->chip_id);
    le__put_u32(buf + OFF_SECURE_VERSION, m->secure_version);
    memcpy(buf + OFF_UID, m->release_uid, MQOTA_RELEASE_UID_LEN);
    buf[MQOTA_MANIFEST_FIXED_LEN] = (uint8_t)pl;
    memcpy(buf + MQOTA_MANIFEST_FIXED_LEN + 1u, m->project, (size_t)pl);
    buf[MQOTA_MANIFEST_FIXED_LEN + 1u + (size_t)pl] = (uint8_t)vl;
    memcpy(buf + MQOTA_MANIFEST_FIXED_LEN + 2u + (size_t)pl, m->version, (size_t)vl);
    *out_len = need;
    return MQOTA_OK;
}

mqota_status_t mqota_manifest_decode(const uint8_t *buf, size_t len, mqota_manifest_t *m)
{
    mqota_manifest_t t;
    size_t pos = MQOTA_MANIFEST_FIXED_LEN;
    mqota_status_t st;
    if (buf == NULL || m == NULL) {
        return MQOTA_ERR_ARG;
    }
    if (len < 4u) {
        return MQOTA_ERR_TRUNCATED;
    }
    if (buf[0] != MQOTA_MANIFEST_MAGIC0 || buf[1] != MQOTA_MANIFEST_MAGIC1 ||
        buf[2] != MQOTA_MANIFEST_MAGIC2 || buf[3] != MQOTA_MANIFEST_MAGIC3) {
        return MQOTA_ERR_MALFORMED;
    }
    if (len < MQOTA_MANIFEST_FIXED_LEN) {
        return MQOTA_ERR_TRUNCATED;
    }
    memset(&t, 0, sizeof(t));
    memcpy(t.sha256, buf + OFF_SHA256, MQOTA_SHA256_LEN);
    t.image_size = le__get_u32(buf + OFF_IMAGE_SIZE);
    t.chip_id = le__get_u16(buf + OFF_CHIP_ID);
    t.secure_version = le__get_u32(buf + OFF_SECURE_VERSION);
    memcpy(t.release_uid, buf + OFF_UID, MQOTA_RELEASE_UID_LEN);
    st = read_str(buf, len, &pos, t.project);
    if (st == MQOTA_OK) {
        st = read_str(buf, len, &pos, t.version);
    }
    if (st == MQOTA_OK && pos != len) {
        st = MQOTA_ERR_MALFORMED; /* trailing bytes: not canonical */
    }
    if (st == MQOTA_OK) {
        memcpy(m, &t, sizeof(t));
    }
    return st;
}

mqota_status_t mqota_sig_block_encode(const mqota_sig_block_t *blk, uint8_t *buf, size_t cap)
{
    if (blk == NULL || buf == NULL) {
        return MQOTA_ERR_ARG;
    }
    if (cap < MQOTA_SIG_BLOCK_LEN) {
        return MQOTA_ERR_NO_SPACE;
    }
    memcpy(buf, blk->release_uid, MQOTA_RELEASE_UID_LEN);
    memcpy(buf + MQOTA_RELEASE_UID_LEN, blk->signature, MQOTA_ECDSA_P256_SIG_LEN);
    return MQOTA_OK;
}

mqota_status_t mqota_sig_block_decode(const uint8_t *sig, size_t sig_len, mqota_sig_block_t *blk)
{
    if (blk == NULL || (sig == NULL && sig_len != 0u)) {
        return MQOTA_ERR_ARG;
    }
    if (sig_len == 0u) {
        return MQOTA_ERR_NOT_FOUND;
    }
    if (sig_len != MQOTA_SIG_BLOCK_LEN) {
        return MQOTA_ERR_MALFORMED;
    }
    memcpy(blk->release_uid, sig, MQOTA_RELEASE_UID_LEN);
    memcpy(blk->signature, sig + MQOTA_RELEASE_UID_LEN, MQOTA_ECDSA_P256_SIG_LEN);
    return MQOTA_OK;
}

mqota_status_t mqota_manifest_from_offer(const mqota_offer_t *offer,
                                         const uint8_t uid[MQOTA_RELEASE_UID_LEN],
                                         mqota_manifest_t *m)
{
    if (offer == NULL || uid == NULL || m == NULL) {
        return MQOTA_ERR_ARG;
    }
    memset(m, 0, sizeof(*m));
    memcpy(m->sha256, offer->sha256, MQOTA_SHA256_LEN);
    m->image_size = offer->image_size;
    m->chip_id = offer->chip_id;
    m->secure_version = offer->secure_version;
    memcpy(m->release_uid, uid, MQOTA_RELEASE_UID_LEN);
    /* mqota_offer_t strings are NUL-terminated within MQOTA_STR_MAX + 1 bytes when decoded;
     * copy at most MQOTA_STR_MAX so a hand-built offer cannot overrun. */
    for (size_t i = 0; i < MQOTA_STR_MAX && offer->project[i] != '\0'; i++) {
        m->project[i] = offer->project[i];
    }
    for (size_t i = 0; i < MQOTA_STR_MAX && offer->version[i] != '\0'; i++) {
        m->version[i] = offer->version[i];
    }
    return MQOTA_OK;
}

mqota_status_t mqota_offer_manifest(const mqota_offer_t *offer, uint8_t *buf, size_t cap,
                                    size_t *len)
{
    mqota_sig_block_t blk;
    mqota_manifest_t m;
    mqota_status_t st;
    if (offer == NULL || buf == NULL || len == NULL) {
        return MQOTA_ERR_ARG;
    }
    if (offer->sig_len > MQOTA_SIG_MAX) {
        return MQOTA_ERR_MALFORMED;
    }
    st = mqota_sig_block_decode(offer->sig, offer->sig_len, &blk);
    if (st != MQOTA_OK) {
        return st;
    }
    (void)mqota_manifest_from_offer(offer, blk.release_uid, &m);
    return mqota_manifest_encode(&m, buf, cap, len);
}
