/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ESP-IDF component's platform hooks (mqota_platform.h): the shared ESP32 glue of
 * mqota_esp_glue.c (flash slots on esp_ota_ops, NVS, esp_timer, restart, diagnostics), plus
 * SHA-256, ECDSA P-256 and AES-256-GCM through PSA Crypto (ESP-IDF 6: Mbed TLS 4 /
 * TF-PSA-Crypto), which ESP-IDF routes to the chip's SHA and AES accelerators (and ECC, where
 * the chip has one), and the esp-mqtt transport of mqota_esp.c.
 *
 * Every hook runs in the agent's task (mqota_esp.c), never in esp-mqtt's.
 */
#include <string.h>

#include "mqota_esp.h"
#include "mqota_esp_internal.h"

/* ---- crypto (PSA) --------------------------------------------------------------------- */

static int h_sha256_begin(void *ctx)
{
    mqota_esp_t *e = ctx;
    (void)psa_hash_abort(&e->sha);
    e->sha = psa_hash_operation_init();
    return psa_hash_setup(&e->sha, PSA_ALG_SHA_256) == PSA_SUCCESS ? 0 : -1;
}

static int h_sha256_update(void *ctx, const uint8_t *data, size_t len)
{
    mqota_esp_t *e = ctx;
    return psa_hash_update(&e->sha, data, len) == PSA_SUCCESS ? 0 : -1;
}

static int h_sha256_finish(void *ctx, uint8_t out[32])
{
    mqota_esp_t *e = ctx;
    size_t n = 0;
    if (psa_hash_finish(&e->sha, out, 32, &n) != PSA_SUCCESS || n != 32) return -1;
    return 0;
}

/* PSA's ECDSA signature format is raw r || s, as the agent passes it. */
static int h_verify_signature(void *ctx, const uint8_t digest[32], const uint8_t *sig,
                              size_t sig_len)
{
    mqota_esp_t *e = ctx;
    if (sig_len != 64) return -1;
    return psa_verify_hash(e->release_key, PSA_ALG_ECDSA(PSA_ALG_SHA_256), digest, 32, sig,
                           sig_len) == PSA_SUCCESS
               ? 0
               : -1;
}

/* psa_aead_encrypt() writes ciphertext || tag into one buffer, which is where the agent wants
 * them: the tag right after the ciphertext (mqota_platform.h). In place when out is in: PSA
 * Crypto allows any overlap of input and output buffers (its "Overlap between parameters";
 * TF-PSA-Crypto copies the caller's buffers by default, MBEDTLS_PSA_COPY_CALLER_BUFFERS). */
static int h_aead_seal(void *ctx, const uint8_t *nonce, const uint8_t *aad, size_t aad_len,
                       const uint8_t *in, size_t len, uint8_t *out, uint8_t *tag)
{
    mqota_esp_t *e = ctx;
    size_t n = 0;
    if (tag != out + len) return -1;
    if (psa_aead_encrypt(e->command_key, PSA_ALG_GCM, nonce, 12, aad, aad_len, in, len, out,
                         len + MQOTA_SEALED_TAG_LEN, &n) != PSA_SUCCESS ||
        n != len + MQOTA_SEALED_TAG_LEN)
        return -1;
    return 0;
}

/* psa_aead_decrypt() reads ciphertext || tag from one buffer: the frame's own layout, which
 * the agent passes as it received it (the tag right after the ciphertext). */
static int h_aead_open(void *ctx, const uint8_t *nonce, const uint8_t *aad, size_t aad_len,
                       const uint8_t *in, size_t len, uint8_t *out, const uint8_t *tag)
{
    mqota_esp_t *e = ctx;
    size_t n = 0;
    if (tag != in + len) return -1;
    if (psa_aead_decrypt(e->command_key, PSA_ALG_GCM, nonce, 12, aad, aad_len, in,
                         len + MQOTA_SEALED_TAG_LEN, out, len, &n) != PSA_SUCCESS ||
        n != len)
        return -1;
    return 0;
}

/* Import `key` for `alg`; 0 on success. */
int mqota_esp__import_key(psa_key_id_t *id, psa_key_type_t type, size_t bits,
                          psa_key_usage_t usage, psa_algorithm_t alg, const uint8_t *key,
                          size_t len)
{
    psa_key_attributes_t attr = psa_key_attributes_init();
    psa_set_key_type(&attr, type);
    psa_set_key_bits(&attr, bits);
    psa_set_key_usage_flags(&attr, usage);
    psa_set_key_algorithm(&attr, alg);
    psa_status_t st = psa_import_key(&attr, key, len, id);
    psa_reset_key_attributes(&attr);
    return st == PSA_SUCCESS ? 0 : -1;
}

void mqota_esp_platform(mqota_esp_t *e, mqota_platform_t *plat)
{
    memset(plat, 0, sizeof(*plat));
    mqota_esp_glue_hooks(plat);
    plat->ctx = e; /* its first member is the glue's state (mqota_esp.h) */
    plat->publish = mqota_esp__publish;
    plat->subscribe = mqota_esp__subscribe;
    plat->unsubscribe = mqota_esp__unsubscribe;
    plat->sha256_begin = h_sha256_begin;
    plat->sha256_update = h_sha256_update;
    plat->sha256_finish = h_sha256_finish;
    if (e->release_key != PSA_KEY_ID_NULL) plat->verify_signature = h_verify_signature;
    if (e->command_key != PSA_KEY_ID_NULL) {
        plat->aead_seal = h_aead_seal;
        plat->aead_open = h_aead_open;
    }
    mqota_esp__inflate_hook(plat); /* compressed transfers: the ROM's tinfl */
}
