/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file aead.h
 * @brief AES-256-GCM for sealed commands on the virtual ESP32 (docs/PROTOCOL.md §14.1): what
 *        the aead_seal / aead_open hooks do, with OpenSSL's EVP_aes_256_gcm. On a real ESP32 the
 *        same two calls are mbedtls_gcm_crypt_and_tag() / mbedtls_gcm_auth_decrypt().
 */
#ifndef MQOTA_POSIX_AEAD_H
#define MQOTA_POSIX_AEAD_H

#include <stddef.h>
#include <stdint.h>

#include "mqota/mqota_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @brief Encrypt `len` bytes of `in` into `out` (may equal in) and write the 16-byte tag.
 * @param key   32 bytes (AES-256). @param nonce 12 bytes. @param aad aad_len bytes.
 * @return MQOTA_OK, MQOTA_ERR_ARG (NULL, len over INT_MAX), MQOTA_ERR_PLATFORM (OpenSSL failed).
 */
mqota_status_t aead_gcm_seal(const uint8_t *key, const uint8_t *nonce, const uint8_t *aad,
                             size_t aad_len, const uint8_t *in, size_t len, uint8_t *out,
                             uint8_t *tag);

/**
 * @brief Decrypt `len` bytes of `in` into `out` (may equal in) and check the 16-byte tag.
 * @return MQOTA_OK only if the tag is valid; MQOTA_ERR_ARG, MQOTA_ERR_AUTH (the tag does not
 *         match: altered, wrong key, wrong nonce or aad), MQOTA_ERR_PLATFORM. On failure out
 *         must not be used.
 */
mqota_status_t aead_gcm_open(const uint8_t *key, const uint8_t *nonce, const uint8_t *aad,
                             size_t aad_len, const uint8_t *in, size_t len, uint8_t *out,
                             const uint8_t *tag);

/**
 * @brief Parse a command key written as 64 hex digits (the `command_key=` line of a device's
 *        credentials file, `mqotad device provision`).
 * @return MQOTA_OK, MQOTA_ERR_ARG (NULL), MQOTA_ERR_MALFORMED (not exactly 64 hex digits).
 */
mqota_status_t aead_key_from_hex(const char *hex, uint8_t key[32]);

#ifdef __cplusplus
}
#endif

#endif /* MQOTA_POSIX_AEAD_H */
