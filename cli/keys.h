/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file keys.h
 * @brief Release signing keys of the mqota CLI: ECDSA P-256 (OpenSSL), PEM files, key ids.
 *        docs/SECURITY.md describes the keys and the .mqsig file.
 */
#ifndef MQOTA_CLI_KEYS_H
#define MQOTA_CLI_KEYS_H

#include <stdbool.h>

#include <openssl/evp.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Hex digits of a key id plus NUL: 8 bytes of SHA-256(SubjectPublicKeyInfo DER). */
#define CLI_KEY_ID_HEX 17

/** @brief True if pkey is an EC key on P-256 (prime256v1). */
bool cli_key_is_p256(EVP_PKEY *pkey);

/**
 * @brief Key id of pkey (its public half): the first 8 bytes of SHA-256 over its
 *        SubjectPublicKeyInfo DER, as 16 lower-case hex digits.
 * @return 0, or -1 if OpenSSL failed.
 */
int cli_key_id(EVP_PKEY *pkey, char out[CLI_KEY_ID_HEX]);

/**
 * @brief Load a P-256 private key from a PEM file (as written by `mqota key generate`).
 *        On failure prints one sentence naming the file and returns NULL.
 */
EVP_PKEY *cli_key_load_private(const char *path);

#ifdef __cplusplus
}
#endif

#endif /* MQOTA_CLI_KEYS_H */
