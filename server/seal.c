/* SPDX-License-Identifier: Apache-2.0 */
/*
 * seal.c - AES-256-GCM (OpenSSL EVP) for sealed commands and replies. The frame layout,
 * nonce and additional data come from libmqota's codec (mqota_command.c), so the server and
 * the device build them from the same code; only the cipher differs (OpenSSL here, the
 * platform's aead hooks on the device).
 */
#include "seal.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <string.h>

int seal__frame(const uint8_t key[MQOTA_AEAD_KEY_LEN], uint8_t type, uint64_t counter,
                const char *device_id, const uint8_t *plain, size_t plain_len, uint8_t *out,
                size_t cap, size_t *out_len)
{
    uint8_t nonce[MQOTA_AEAD_NONCE_LEN], aad[MQOTA_AEAD_AAD_MAX];
    size_t aad_len;
    int n = 0, rc = -1;
    EVP_CIPHER_CTX *ctx = NULL;

    if (!key || !out || !out_len || (plain_len && !plain) || plain_len > MQOTA_SEALED_PLAIN_MAX ||
        cap < plain_len + MQOTA_SEALED_OVERHEAD)
        return -1;
    if (mqota_sealed_header(type, counter, out) != MQOTA_OK ||
        mqota_sealed_aad(out, device_id, aad, sizeof(aad), &aad_len) != MQOTA_OK)
        return -1;
    mqota_sealed_nonce(out, nonce);
    ctx = EVP_CIPHER_CTX_new();
    if (!ctx || EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, (int)sizeof(nonce), NULL) != 1 ||
        EVP_EncryptInit_ex(ctx, NULL, NULL, key, nonce) != 1 ||
        EVP_EncryptUpdate(ctx, NULL, &n, aad, (int)aad_len) != 1)
        goto out;
    if (plain_len && EVP_EncryptUpdate(ctx, out + MQOTA_SEALED_HEADER_LEN, &n, plain,
                                       (int)plain_len) != 1)
        goto out;
    if (EVP_EncryptFinal_ex(ctx, out + MQOTA_SEALED_HEADER_LEN + plain_len, &n) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, MQOTA_SEALED_TAG_LEN,
                            out + MQOTA_SEALED_HEADER_LEN + plain_len) != 1)
        goto out;
    *out_len = plain_len + MQOTA_SEALED_OVERHEAD;
    rc = 0;
out:
    EVP_CIPHER_CTX_free(ctx);
    if (rc != 0) OPENSSL_cleanse(out, cap < MQOTA_SEALED_MAX_LEN ? cap : MQOTA_SEALED_MAX_LEN);
    return rc;
}

int seal__open(const uint8_t key[MQOTA_AEAD_KEY_LEN], const mqota_sealed_t *frame,
               const char *device_id, uint8_t *plain)
{
    uint8_t nonce[MQOTA_AEAD_NONCE_LEN], aad[MQOTA_AEAD_AAD_MAX], tag[MQOTA_SEALED_TAG_LEN];
    size_t aad_len;
    int n = 0, rc = -1;
    EVP_CIPHER_CTX *ctx = NULL;

    if (!key || !frame || !plain || frame->ciphertext_len > MQOTA_SEALED_PLAIN_MAX ||
        mqota_sealed_aad(frame->header, device_id, aad, sizeof(aad), &aad_len) != MQOTA_OK)
        return -1;
    mqota_sealed_nonce(frame->header, nonce);
    memcpy(tag, frame->tag, sizeof(tag)); /* EVP_CTRL_GCM_SET_TAG takes a non-const pointer */
    ctx = EVP_CIPHER_CTX_new();
    if (!ctx || EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, (int)sizeof(nonce), NULL) != 1 ||
        EVP_DecryptInit_ex(ctx, NULL, NULL, key, nonce) != 1 ||
        EVP_DecryptUpdate(ctx, NULL, &n, aad, (int)aad_len) != 1)
        goto out;
    if (frame->ciphertext_len &&
        EVP_DecryptUpdate(ctx, plain, &n, frame->ciphertext, (int)frame->ciphertext_len) != 1)
        goto out;
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, (int)sizeof(tag), tag) != 1 ||
        EVP_DecryptFinal_ex(ctx, plain + frame->ciphertext_len, &n) != 1)
        goto out;
    rc = 0;
out:
    EVP_CIPHER_CTX_free(ctx);
    if (rc != 0 && frame->ciphertext_len) OPENSSL_cleanse(plain, frame->ciphertext_len);
    return rc;
}
