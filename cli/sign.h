/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file sign.h
 * @brief Release signing shared by `mqota release sign` (writes FILE.mqsig) and
 *        `mqota release add --sign-key` (signs locally, uploads the .mqsig with the image or
 *        the file bundle).
 *        docs/SECURITY.md describes the manifest and the .mqsig file.
 */
#ifndef MQOTA_CLI_SIGN_H
#define MQOTA_CLI_SIGN_H

#include <stddef.h>
#include <stdint.h>

#include "keys.h"
#include "mqota/mqota_manifest.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A signed release manifest and its .mqsig text. */
typedef struct {
    mqota_manifest_t manifest;    /**< What was signed */
    char key_id[CLI_KEY_ID_HEX];  /**< Key id of the signing key */
    char *mqsig;                  /**< The .mqsig JSON, newline-terminated; free() it */
} cli_signed_t;

/**
 * @brief Check an image, build its manifest (version: given or the descriptor's; security
 *        version: *secver or the descriptor's), sign it with the P-256 key at key_path, verify
 *        the signature, and render the .mqsig JSON. The private key is only read locally.
 * @param[in]  file     Image path, for messages.
 * @param[in]  img,len  The image bytes.
 * @param[in]  key_path Private key PEM (`mqota key generate`).
 * @param[in]  version  Release version, or NULL for the descriptor's.
 * @param[in]  secver   Security version, or NULL for the descriptor's secure_version.
 * @param[out] out      Manifest, key id and .mqsig text (out->mqsig is the caller's to free).
 * @return CLI_OK, or CLI_FAILED after printing one sentence naming the file or key.
 */
int cli_sign_image(const char *file, const unsigned char *img, size_t len, const char *key_path,
                   const char *version, const uint32_t *secver, cli_signed_t *out);

/**
 * @brief Sign a file bundle (docs/PROTOCOL.md §17) as a file release's manifest ("MQF1",
 *        §5.1: its SHA-256 and size, chip any, security version 0, project "files", version)
 *        with the P-256 key at key_path, and render the .mqsig JSON.
 * @param[in]  dir        The directory the bundle was built from, for messages.
 * @param[in]  bundle,len The bundle (cli_build_bundle()).
 * @param[in]  key_path   Private key PEM (`mqota key generate`).
 * @param[in]  version    Release version (required for a file release).
 * @param[out] out        Manifest, key id and .mqsig text (out->mqsig is the caller's to free).
 * @return CLI_OK, or CLI_FAILED after printing one sentence naming the directory or key.
 */
int cli_sign_bundle(const char *dir, const unsigned char *bundle, size_t len,
                    const char *key_path, const char *version, cli_signed_t *out);

/** @brief Parse a whole number 0..4294967295. @return 0, or -1. */
int cli_parse_u32(const char *text, uint32_t *out);

#ifdef __cplusplus
}
#endif

#endif /* MQOTA_CLI_SIGN_H */
