/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mqota_manifest.c - canonical bytes of a signed release manifest and the OFFER's signature
 * block (mqota_manifest.h, docs/PROTOCOL.md §5.1), as a device needs them: the manifest encoded
 * from an OFFER and the signature block decoded. The manifest decoder and the signature
 * block's encoder, which only mqotad and `mqota sign` call, are common/mqota_manifest_host.c.
 *
 * Pure functions: bytes in, struct out. No heap, no I/O, no crypto: the agent hashes the bytes
 * with its sha256 hook and hands the digest to the platform's verify_signature hook. The
 * encoding is canonical (one manifest, one byte string), which is what makes it signable:
 * decoders refuse anything an encoder would not have produced.
 */
#include "mqota/mqota_manifest.h"
#include "mqota_proto_internal.h"

#include <string.h>

_Static_assert(F_UID_LEN == MQOTA_RELEASE_UID_LEN, "the field codec's uid length");

/* docs/PROTOCOL.md §5.1, after the 4-byte magic. */
const field_t manifest__fields[] = {
    FIELD(F_SHA256, mqota_manifest_t, sha256),
    FIELD(F_U32, mqota_manifest_t, image_size),
    FIELD(F_U16, mqota_manifest_t, chip_id),
    FIELD(F_U32, mqota_manifest_t, secure_version),
    FIELD(F_UID, mqota_manifest_t, release_uid),
    FIELD(F_STR, mqota_manifest_t, project),
    FIELD(F_STR, mqota_manifest_t, version),
};
_Static_assert(offsetof(mqota_manifest_t, version) <= UINT8_MAX, "field_t.offset is a byte");

static const uint8_t manifest_magic[4] = {MQOTA_MANIFEST_MAGIC0, MQOTA_MANIFEST_MAGIC1,
                                          MQOTA_MANIFEST_MAGIC2, MQOTA_MANIFEST_MAGIC3};

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

mqota_status_t mqota_manifest_encode(const mqota_manifest_t *m, uint8_t *buf, size_t cap,
                                     size_t *out_len)
{
    if (m == NULL || buf == NULL || out_len == NULL) {
        return MQOTA_ERR_ARG;
    }
    if (field_len(m->project) < 0 || field_len(m->version) < 0) {
        return MQOTA_ERR_ARG;
    }
    if (cap < proto__put_fields(NULL, sizeof(manifest_magic), m, manifest__fields,
                                COUNT_OF(manifest__fields))) {
        return MQOTA_ERR_NO_SPACE;
    }
    memcpy(buf, manifest_magic, sizeof(manifest_magic));
    *out_len = proto__put_fields(buf, sizeof(manifest_magic), m, manifest__fields,
                                 COUNT_OF(manifest__fields));
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
