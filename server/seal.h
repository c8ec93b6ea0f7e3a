/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file seal.h
 * @brief Sealed COMMAND and REPLY frames on the server: AES-256-GCM with OpenSSL EVP around
 *        libmqota's frame codec (docs/PROTOCOL.md §14.1, §14.2). No I/O, no database.
 */
#ifndef MQOTAD_SEAL_H
#define MQOTAD_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "mqota/mqota_command.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @brief Seal a plaintext into a frame: header (type, counter), ciphertext, 16-byte tag. The
 *        nonce is header bytes 0..3 and the counter; the additional data the header and
 *        device_id (mqota_sealed_nonce / mqota_sealed_aad).
 * @param[in]  key       The device's 32-byte command key.
 * @param[in]  type      MQOTA_MSG_COMMAND or MQOTA_MSG_REPLY.
 * @param[in]  counter   Frame counter, >= 1; never reuse one under the same key and type.
 * @param[in]  device_id The device the frame is for (from it, for a REPLY), 1..48 bytes.
 * @param[in]  plain     Plaintext (mqota_command_encode / mqota_reply_encode output).
 * @param[in]  plain_len Bytes of plain, at most MQOTA_SEALED_PLAIN_MAX (992).
 * @param[out] out       The frame; cap must be at least plain_len + MQOTA_SEALED_OVERHEAD.
 * @param[in]  cap       Bytes of out.
 * @param[out] out_len   Bytes written: plain_len + 32.
 * @return 0, or -1 (bad argument, too long, or an OpenSSL failure; nothing usable in out).
 */
int seal__frame(const uint8_t key[MQOTA_AEAD_KEY_LEN], uint8_t type, uint64_t counter,
                const char *device_id, const uint8_t *plain, size_t plain_len, uint8_t *out,
                size_t cap, size_t *out_len);

/**
 * @brief Authenticate and decrypt a frame split by mqota_sealed_decode().
 * @param[in]  key       The device's 32-byte command key.
 * @param[in]  frame     The frame's parts.
 * @param[in]  device_id The device the frame claims to come from or be for.
 * @param[out] plain     frame->ciphertext_len bytes of plaintext on success; on failure it is
 *                       wiped (an unauthenticated plaintext is never handed out).
 * @return 0 when the tag verifies, -1 otherwise (altered, truncated, another key or device).
 */
int seal__open(const uint8_t key[MQOTA_AEAD_KEY_LEN], const mqota_sealed_t *frame,
               const char *device_id, uint8_t *plain);

#ifdef __cplusplus
}
#endif

#endif /* MQOTAD_SEAL_H */
