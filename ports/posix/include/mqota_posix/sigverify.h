/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file sigverify.h
 * @brief The virtual ESP32's release-signature check: an ECDSA P-256 public key loaded from a
 *        PEM file, and the verify_signature hook's work (OpenSSL EVP). docs/SECURITY.md.
 *
 * @code
 *   char err[256];
 *   sigverify_key_t *key;
 *   if (sigverify_key_load("release.pub.pem", &key, err, sizeof(err)) != MQOTA_OK) {
 *       fprintf(stderr, "%s\n", err);
 *   }
 *   vdev_set_trust_key(dev, key);  // before vdev_platform_fill(); one key may serve many devices
 *   ...
 *   sigverify_key_free(key);       // after the last device using it is closed
 * @endcode
 */
#ifndef MQOTA_POSIX_SIGVERIFY_H
#define MQOTA_POSIX_SIGVERIFY_H

#include <stddef.h>
#include <stdint.h>

#include "mqota/mqota_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Opaque trusted public key (an OpenSSL EVP_PKEY holding a P-256 key). */
typedef struct sigverify_key sigverify_key_t;

/**
 * @brief Load a P-256 public key from a PEM file (SubjectPublicKeyInfo, "BEGIN PUBLIC KEY",
 *        as written by `mqota key generate`).
 * @param[in]  path    PEM file.
 * @param[out] out     The key; free with sigverify_key_free().
 * @param[out] err     One sentence naming the file and what is wrong (may be NULL).
 * @param[in]  err_len Size of err.
 * @return MQOTA_OK, MQOTA_ERR_ARG, MQOTA_ERR_PLATFORM (cannot read the file),
 *         MQOTA_ERR_MALFORMED (not a PEM public key, or not an EC P-256 key).
 */
mqota_status_t sigverify_key_load(const char *path, sigverify_key_t **out, char *err,
                                  size_t err_len);

/** @brief Free a key; NULL is allowed. */
void sigverify_key_free(sigverify_key_t *key);

/**
 * @brief Verify raw r || s (64 bytes, big-endian each) over a SHA-256 digest.
 * @return 0 if valid; MQOTA_ERR_ARG (NULL, sig_len not 64), MQOTA_ERR_HASH (the signature
 *         does not verify, or r/s are out of range).
 */
int sigverify_digest(const sigverify_key_t *key, const uint8_t digest[32], const uint8_t *sig,
                     size_t sig_len);

/**
 * @brief Key id: the first 8 bytes of SHA-256 over the key's SubjectPublicKeyInfo DER (the
 *        "key_id" of a .mqsig file, hex-encoded there).
 * @return MQOTA_OK, MQOTA_ERR_ARG, MQOTA_ERR_PLATFORM.
 */
mqota_status_t sigverify_key_id(const sigverify_key_t *key, uint8_t id[8]);

#ifdef __cplusplus
}
#endif

#endif /* MQOTA_POSIX_SIGVERIFY_H */
