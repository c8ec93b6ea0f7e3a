/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mqota_manifest_host.c - the signing side of device/src/mqota_manifest.c (docs/PROTOCOL.md
 * §5.1): the manifest decoder mqotad uses to check an uploaded signature, and the OFFER's
 * signature block as `mqota sign` writes it. Not in libmqota: a device encodes the manifest
 * from the OFFER it received and decodes the signature block, nothing more. Library
 * mqota_codec_host; the manifest's field table is the device's (mqota_proto_internal.h).
 */
#include <string.h>

#include "mqota/mqota_manifest.h"
#include "mqota_proto_internal.h"

static const uint8_t manifest_magic[4] = {MQOTA_MANIFEST_MAGIC0, MQOTA_MANIFEST_MAGIC1,
                                          MQOTA_MANIFEST_MAGIC2, MQOTA_MANIFEST_MAGIC3};

/* Checks in wire order: the magic (TRUNCATED before it is complete), the fixed fields, the
 * strings (MALFORMED for one longer than MQOTA_STR_MAX or holding a NUL), trailing bytes. */
mqota_status_t mqota_manifest_decode(const uint8_t *buf, size_t len, mqota_manifest_t *m)
{
    mqota_manifest_t t;
    reader_t r = {buf, len, 0u, MQOTA_OK};
    const uint8_t *magic;
    mqota_status_t st;
    if (buf == NULL || m == NULL) {
        return MQOTA_ERR_ARG;
    }
    magic = proto__take(&r, sizeof(manifest_magic));
    if (magic == NULL) {
        return MQOTA_ERR_TRUNCATED;
    }
    if (memcmp(magic, manifest_magic, sizeof(manifest_magic)) != 0) {
        return MQOTA_ERR_MALFORMED;
    }
    memset(&t, 0, sizeof(t));
    proto__get_fields(&r, &t, manifest__fields, COUNT_OF(manifest__fields));
    st = proto__reader_end(&r); /* trailing bytes: not canonical */
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

