/* SPDX-License-Identifier: Apache-2.0 */
/*
 * aead.c - AES-256-GCM seal/open with OpenSSL EVP for the virtual ESP32's command hooks.
 */
#include "mqota_posix/aead.h"

#include <limits.h>
#include <openssl/evp.h>

#define TAG_LEN 16

static mqota_status_t gcm(int enc, const uint8_t *key, const uint8_t *nonce, const uint8_t *aad,
                          size_t aad_len, const uint8_t *in, size_t len, uint8_t *out,
                          uint8_t *tag)
{
    if (key == NULL || nonce == NULL || (aad == NULL && aad_len > 0) ||
        (len > 0 && (in == NULL || out == NULL)) || tag == NULL || len > INT_MAX ||
        aad_len > INT_MAX) {
        return MQOTA_ERR_ARG;
    }
    EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
    if (x == NULL) {
        return MQOTA_ERR_PLATFORM;
    }
    mqota_status_t st = MQOTA_ERR_PLATFORM;
    int n = 0;
    if (EVP_CipherInit_ex(x, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) != 1 ||
        EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_SET_IVLEN, 12, NULL) != 1 ||
        EVP_CipherInit_ex(x, NULL, NULL, key, nonce, enc) != 1 ||
        (aad_len > 0 && EVP_CipherUpdate(x, NULL, &n, aad, (int)aad_len) != 1) ||
        (len > 0 && EVP_CipherUpdate(x, out, &n, in, (int)len) != 1)) {
        goto out;
    }
    if (!enc && EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag) != 1) {
        goto out;
    }
    if (EVP_CipherFinal_ex(x, out + (len > 0 ? (size_t)n : 0u), &n) != 1) {
        st = enc ? MQOTA_ERR_PLATFORM : MQOTA_ERR_AUTH;
        goto out;
    }
    if (enc && EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_GET_TAG, TAG_LEN, tag) != 1) {
        goto out;
    }
    st = MQOTA_OK;
out:
    EVP_CIPHER_CTX_free(x);
    return st;
}

mqota_status_t aead_gcm_seal(const uint8_t *key, const uint8_t *nonce, const uint8_t *aad,
                             size_t aad_len, const uint8_t *in, size_t len, uint8_t *out,
                             uint8_t *tag)
{
    return gcm(1, key, nonce, aad, aad_len, in, len, out, tag);
}

mqota_status_t aead_gcm_open(const uint8_t *key, const uint8_t *nonce, const uint8_t *aad,
                             size_t aad_len, const uint8_t *in, size_t len, uint8_t *out,
                             const uint8_t *tag)
{
    /* EVP wants a writable tag buffer for SET_TAG; it only reads it. */
    uint8_t t[TAG_LEN];
    if (tag == NULL) {
        return MQOTA_ERR_ARG;
    }
    for (int i = 0; i < TAG_LEN; i++) {
        t[i] = tag[i];
    }
    return gcm(0, key, nonce, aad, aad_len, in, len, out, t);
}

static int hex_val(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

mqota_status_t aead_key_from_hex(const char *hex, uint8_t key[32])
{
    if (hex == NULL || key == NULL) {
        return MQOTA_ERR_ARG;
    }
    for (int i = 0; i < 32; i++) {
        int hi = hex_val(hex[2 * i]), lo = hi < 0 ? -1 : hex_val(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            return MQOTA_ERR_MALFORMED;
        }
        key[i] = (uint8_t)(hi << 4 | lo);
    }
    return hex[64] == '\0' ? MQOTA_OK : MQOTA_ERR_MALFORMED;
}
