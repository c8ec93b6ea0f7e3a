/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mqota_manifest_host.c - the signing side of device/src/mqota_manifest.c (docs/PROTOCOL.md
 * §5.1): the manifest decoder mqotad uses to check an uploaded signature, and the OFFER's
 * signature block as `mqota sign` writes it, and the whole codec of a file release's manifest
 * ("MQF1", §17), which no C device takes. Not in libmqota: a device encodes the manifest
 * from the OFFER it received and decodes the signature block, nothing more. Library
 * mqota_codec_host; the manifest's field table is the device's (mqota_proto_internal.h).
 */
#include <stddef.h>
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


/* A file release's manifest on the wire (docs/PROTOCOL.md §5.1, §17): the image manifest's
 * fields with the OFFER's kind flag after chip_id. */
typedef struct {
    mqota_manifest_t m;
    uint32_t flags;
} files_manifest_wire_t;

static const field_t files_manifest_fields[] = {
    FIELD(F_SHA256, files_manifest_wire_t, m.sha256),
    FIELD(F_U32, files_manifest_wire_t, m.image_size),
    FIELD(F_U16, files_manifest_wire_t, m.chip_id),
    FIELD(F_U32, files_manifest_wire_t, flags),
    FIELD(F_U32, files_manifest_wire_t, m.secure_version),
    FIELD(F_UID, files_manifest_wire_t, m.release_uid),
    FIELD(F_STR, files_manifest_wire_t, m.project),
    FIELD(F_STR, files_manifest_wire_t, m.version),
};
_Static_assert(offsetof(files_manifest_wire_t, flags) <= UINT8_MAX, "field_t.offset is a byte");

static const uint8_t files_magic[4] = {MQOTA_MANIFEST_MAGIC0, MQOTA_MANIFEST_MAGIC1,
                                       MQOTA_FILES_MANIFEST_MAGIC2, MQOTA_MANIFEST_MAGIC3};

mqota_status_t mqota_files_manifest_encode(const mqota_manifest_t *m, uint8_t *buf, size_t cap,
                                           size_t *out_len)
{
    files_manifest_wire_t w;
    size_t need;
    if (m == NULL || buf == NULL || out_len == NULL) {
        return MQOTA_ERR_ARG;
    }
    /* a string with no NUL in its field would be cut: refusing it keeps signing exact */
    if (memchr(m->project, '\0', sizeof(m->project)) == NULL ||
        memchr(m->version, '\0', sizeof(m->version)) == NULL) {
        return MQOTA_ERR_ARG;
    }
    memcpy(&w.m, m, sizeof(w.m));
    w.flags = MQOTA_OFFER_FLAG_FILES;
    need = proto__put_fields(NULL, sizeof(files_magic), &w, files_manifest_fields,
                             COUNT_OF(files_manifest_fields));
    if (cap < need) {
        return MQOTA_ERR_NO_SPACE;
    }
    memcpy(buf, files_magic, sizeof(files_magic));
    *out_len = proto__put_fields(buf, sizeof(files_magic), &w, files_manifest_fields,
                                 COUNT_OF(files_manifest_fields));
    return MQOTA_OK;
}

/* As mqota_manifest_decode(), plus the flags: anything but the files flag is not canonical. */
mqota_status_t mqota_files_manifest_decode(const uint8_t *buf, size_t len, mqota_manifest_t *m)
{
    files_manifest_wire_t w;
    reader_t r = {buf, len, 0u, MQOTA_OK};
    const uint8_t *magic;
    mqota_status_t st;
    if (buf == NULL || m == NULL) {
        return MQOTA_ERR_ARG;
    }
    magic = proto__take(&r, sizeof(files_magic));
    if (magic == NULL) {
        return MQOTA_ERR_TRUNCATED;
    }
    if (memcmp(magic, files_magic, sizeof(files_magic)) != 0) {
        return MQOTA_ERR_MALFORMED;
    }
    memset(&w, 0, sizeof(w));
    proto__get_fields(&r, &w, files_manifest_fields, COUNT_OF(files_manifest_fields));
    st = proto__reader_end(&r);
    if (st == MQOTA_OK && w.flags != MQOTA_OFFER_FLAG_FILES) {
        st = MQOTA_ERR_MALFORMED;
    }
    if (st == MQOTA_OK) {
        memcpy(m, &w.m, sizeof(w.m));
    }
    return st;
}
