/* SPDX-License-Identifier: Apache-2.0 */
/*
 * image_variant.c - rewrite esp_app_desc_t.version / secure_version in an ESP32 application
 * image and make the image valid again (format summary: device/include/mqota/mqota_image.h).
 *
 * The descriptor lives in the first segment's data, so changing it changes the checksum byte
 * (0xEF XOR every segment data byte) and, with hash_appended, the SHA-256 of bytes
 * [0, checksum byte]. XOR is its own inverse, so the new checksum is the old one XOR the old
 * descriptor bytes XOR the new ones; the offsets of the checksum byte and the hash come from
 * the device library's own checker, so this tool and the bootloader agree on them.
 */
#include "image_variant.h"

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "mqota/mqota_image.h"

#define DESC_SECURE_VERSION_AT (MQOTA_APP_DESC_OFFSET + 4u)  /* esp_app_desc_t.secure_version */
#define DESC_VERSION_AT (MQOTA_APP_DESC_OFFSET + 16u)        /* esp_app_desc_t.version[32] */
#define DESC_VERSION_LEN 32u
#define SEG0_LEN_AT (MQOTA_IMAGE_HEADER_LEN + 4u)            /* first segment's data_len */
#define HASH_LEN 32u

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int sha256(const uint8_t *data, size_t len, uint8_t out[HASH_LEN])
{
    unsigned int n = 0;
    return EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) == 1 && n == HASH_LEN ? 0 : -1;
}

/* Check img like the bootloader does (structure, checksum, appended SHA-256, descriptor in
 * the first segment). Returns 0 with the checksum byte's offset and the hashed length (0 if
 * no hash is appended), or -1 with err filled; what names the image in the message. */
static int check_valid(const uint8_t *img, size_t len, const char *what, uint32_t *checksum_at,
                       uint32_t *hashed_len, char *err, size_t cap)
{
    mqota_image_check_t chk;
    mqota_image_info_t info;
    uint8_t digest[HASH_LEN];

    if (len < MQOTA_IMAGE_HEAD_LEN || len > UINT32_MAX) {
        snprintf(err, cap, "%s is %zu bytes, not an ESP32 application image (at least %u bytes "
                 "of header and app descriptor)", what, len, MQOTA_IMAGE_HEAD_LEN);
        return -1;
    }
    mqota_image_check_init(&chk);
    mqota_status_t st = mqota_image_check_update(&chk, img, len);
    if (st == MQOTA_OK) st = mqota_image_check_finish(&chk, hashed_len);
    if (st != MQOTA_OK) {
        snprintf(err, cap, "%s is not a valid ESP32 application image: %s at byte %u", what,
                 mqota_image_fault_str((mqota_image_fault_t)chk.fault), chk.fault_offset);
        return -1;
    }
    if (mqota_image_parse_head(img, len, &info) != MQOTA_OK) {
        snprintf(err, cap, "%s has no application descriptor at byte %u (magic is not "
                 "0xABCD5432); is it a bootloader or partition table?", what,
                 MQOTA_APP_DESC_OFFSET);
        return -1;
    }
    if (le32(img + SEG0_LEN_AT) < MQOTA_APP_DESC_LEN) {
        snprintf(err, cap, "%s: the first segment (%u bytes) does not hold the %u-byte app "
                 "descriptor", what, le32(img + SEG0_LEN_AT), MQOTA_APP_DESC_LEN);
        return -1;
    }
    if (*hashed_len > 0) {
        if (sha256(img, *hashed_len, digest) != 0) {
            snprintf(err, cap, "%s: cannot compute a SHA-256 (OpenSSL failed)", what);
            return -1;
        }
        if (memcmp(digest, chk.appended_hash, HASH_LEN) != 0) {
            snprintf(err, cap, "%s is not a valid ESP32 application image: the appended SHA-256 "
                     "does not match bytes 0..%u", what, *hashed_len - 1u);
            return -1;
        }
    }
    *checksum_at = chk.checksum_at;
    return 0;
}

static int version_ok(const char *v, char *err, size_t cap)
{
    size_t n = v ? strlen(v) : 0;
    if (n == 0 || n >= DESC_VERSION_LEN) {
        snprintf(err, cap, "version '%s' must be 1 to %u bytes", v ? v : "",
                 DESC_VERSION_LEN - 1u);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)v[i] < 0x20 || (unsigned char)v[i] > 0x7e) {
            snprintf(err, cap, "version '%s' must be printable ASCII (byte %zu is 0x%02x)", v, i,
                     (unsigned char)v[i]);
            return -1;
        }
    }
    return 0;
}

#define DESC_PROJECT_AT (MQOTA_APP_DESC_OFFSET + 48u) /* esp_app_desc_t.project_name[32] */

static int apply_desc(uint8_t *img, size_t len, const char *version, const char *project,
                      const uint32_t *secure_version, char *err, size_t err_cap);

int image_variant_apply(uint8_t *img, size_t len, const char *version,
                        const uint32_t *secure_version, char *err, size_t err_cap)
{
    return apply_desc(img, len, version, NULL, secure_version, err, err_cap);
}

int image_variant_apply_project(uint8_t *img, size_t len, const char *version,
                                const char *project, const uint32_t *secure_version, char *err,
                                size_t err_cap)
{
    if (project == NULL || version_ok(project, err, err_cap) != 0) {
        if (project == NULL) snprintf(err, err_cap, "no project name given");
        else snprintf(err, err_cap, "project '%s' must be 1 to 31 printable bytes", project);
        return -1;
    }
    return apply_desc(img, len, version, project, secure_version, err, err_cap);
}

/* Rewrite version, and project unless NULL, and secure_version unless NULL (see
 * image_variant_apply()). */
static int apply_desc(uint8_t *img, size_t len, const char *version, const char *project,
                      const uint32_t *secure_version, char *err, size_t err_cap)
{
    uint32_t checksum_at = 0, hashed_len = 0;
    uint8_t desc[MQOTA_APP_DESC_LEN];
    uint8_t delta = 0;

    if (img == NULL || err == NULL || err_cap == 0) return -1;
    if (version_ok(version, err, err_cap) != 0) return -1;
    if (check_valid(img, len, "the input", &checksum_at, &hashed_len, err, err_cap) != 0)
        return -1;

    /* The new descriptor, built aside so that img stays untouched until it is complete. */
    memcpy(desc, img + MQOTA_APP_DESC_OFFSET, sizeof(desc));
    uint8_t *ver = desc + (DESC_VERSION_AT - MQOTA_APP_DESC_OFFSET);
    memset(ver, 0, DESC_VERSION_LEN);
    memcpy(ver, version, strlen(version));
    if (project != NULL) {
        uint8_t *pj = desc + (DESC_PROJECT_AT - MQOTA_APP_DESC_OFFSET);
        memset(pj, 0, DESC_VERSION_LEN);
        memcpy(pj, project, strlen(project));
    }
    if (secure_version != NULL) {
        uint8_t *sv = desc + (DESC_SECURE_VERSION_AT - MQOTA_APP_DESC_OFFSET);
        for (unsigned i = 0; i < 4u; i++) sv[i] = (uint8_t)(*secure_version >> (8u * i));
    }
    for (size_t i = 0; i < sizeof(desc); i++)
        delta ^= (uint8_t)(img[MQOTA_APP_DESC_OFFSET + i] ^ desc[i]);

    uint8_t hash[HASH_LEN];
    uint8_t old_desc[MQOTA_APP_DESC_LEN], old_sum = img[checksum_at], old_hash[HASH_LEN];
    memcpy(old_desc, img + MQOTA_APP_DESC_OFFSET, sizeof(old_desc));
    if (hashed_len > 0) memcpy(old_hash, img + hashed_len, HASH_LEN);

    memcpy(img + MQOTA_APP_DESC_OFFSET, desc, sizeof(desc));
    img[checksum_at] ^= delta;
    if (hashed_len > 0) {
        if (sha256(img, hashed_len, hash) != 0) {
            snprintf(err, err_cap, "cannot compute the new SHA-256 (OpenSSL failed)");
            goto undo;
        }
        memcpy(img + hashed_len, hash, HASH_LEN);
    }
    /* The result must pass the same check as the input did. */
    uint32_t c2 = 0, h2 = 0;
    if (check_valid(img, len, "the rewritten image", &c2, &h2, err, err_cap) != 0) goto undo;
    if (c2 != checksum_at || h2 != hashed_len) {
        snprintf(err, err_cap, "the rewritten image changed its layout (internal error)");
        goto undo;
    }
    return 0;
undo:
    memcpy(img + MQOTA_APP_DESC_OFFSET, old_desc, sizeof(old_desc));
    img[checksum_at] = old_sum;
    if (hashed_len > 0) memcpy(img + hashed_len, old_hash, HASH_LEN);
    return -1;
}
