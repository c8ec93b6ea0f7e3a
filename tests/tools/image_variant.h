/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file image_variant.h
 * @brief Test tool: make a distinct, valid variant of a real ESP32 application image by
 *        rewriting esp_app_desc_t.version (and optionally secure_version) and recomputing what
 *        the ESP-IDF app image format requires: the one-byte checksum over the segment data
 *        and, when hash_appended is set, the appended SHA-256. mqotad refuses an image it
 *        already stores (same SHA-256), so tests that need many releases make them with this.
 *        Host-only (uses OpenSSL); not part of the device library.
 */
#ifndef MQOTA_IMAGE_VARIANT_H
#define MQOTA_IMAGE_VARIANT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @brief Rewrite the version (and secure_version) of the image in img[0, len) in place.
 *
 * The input must be a valid application image (structure, checksum, appended SHA-256 if
 * any, app descriptor inside the first segment); the result is checked again the same way
 * before the function returns. Bytes after the appended hash (a signature block, padding)
 * are kept as they are.
 *
 * @param[in,out] img            The image; changed only on success.
 * @param[in]     len            Bytes in img.
 * @param[in]     version        New esp_app_desc_t.version: 1 to 31 printable ASCII bytes
 *                               (the field is 32 bytes, NUL-padded; the wire carries 31).
 * @param[in]     secure_version New esp_app_desc_t.secure_version, or NULL to keep it.
 * @param[out]    err            On failure one sentence saying what is wrong with which input.
 * @param[in]     err_cap        Size of err in bytes.
 * @return 0 on success; -1 if the version is empty, too long or not printable, if img is not
 *         a valid ESP32 application image (err says why: magic, segments, checksum, appended
 *         SHA-256, descriptor), if the descriptor is not inside the first segment, or if
 *         OpenSSL fails. On -1, img is unchanged.
 */
int image_variant_apply(uint8_t *img, size_t len, const char *version,
                        const uint32_t *secure_version, char *err, size_t err_cap);

/**
 * @brief image_variant_apply() that also sets esp_app_desc_t.project_name to project (1 to
 *        31 printable ASCII bytes): the fleet's virtual devices speak the legacy protocol a
 *        project name like "legacy-md5" names (docs/LEGACY.md).
 * @return As image_variant_apply(); -1 also for a bad project name.
 */
int image_variant_apply_project(uint8_t *img, size_t len, const char *version,
                                const char *project, const uint32_t *secure_version, char *err,
                                size_t err_cap);

#ifdef __cplusplus
}
#endif

#endif /* MQOTA_IMAGE_VARIANT_H */
