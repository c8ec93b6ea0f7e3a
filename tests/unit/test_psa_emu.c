/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The host emulation of PSA Crypto (tests/emu/esp-idf/psa_emu.c) that the ESP-IDF port's
 * crypto hooks run on in the virtual fleet: SHA-256 against the FIPS 180-2 examples, in one
 * part and split at every point; ECDSA P-256 against RFC 6979 A.2.5 and against signatures
 * OpenSSL makes here with a fresh key, every flipped bit refused; AES-256-GCM against test
 * case 16 of the GCM specification (McGrew & Viega) both ways and in place, every altered
 * byte refused with the plaintext wiped; a sealed COMMAND from the agent's codec opened and a
 * REPLY sealed, against the virtual ESP32's own AEAD; and each refusal the emulation makes,
 * with the exact status the PSA Certified Crypto API 1.1 gives it, beside an accepted call.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include "mqota/mqota_command.h"
#include "mqota_posix/aead.h"
#include "psa/crypto.h"
#include "psa_emu.h"

#define ECDSA_SHA256 PSA_ALG_ECDSA(PSA_ALG_SHA_256)
#define P256_PUB PSA_KEY_TYPE_ECC_PUBLIC_KEY(PSA_ECC_FAMILY_SECP_R1)
#define ENC_DEC (PSA_KEY_USAGE_ENCRYPT | PSA_KEY_USAGE_DECRYPT)

static size_t unhex(const char *h, uint8_t *out)
{
    size_t n = 0;
    for (; h[0] && h[1]; h += 2) {
        unsigned v = 0;
        for (int i = 0; i < 2; i++) {
            char c = h[i];
            v = v << 4 | (unsigned)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
        }
        out[n++] = (uint8_t)v;
    }
    return n;
}

/* Import `len` bytes as a key of `type` with `usage` for `alg`, size from the data. */
static psa_status_t import(psa_key_type_t type, size_t bits, psa_key_usage_t usage,
                           psa_algorithm_t alg, const uint8_t *data, size_t len,
                           psa_key_id_t *id)
{
    psa_key_attributes_t a = psa_key_attributes_init();
    psa_set_key_type(&a, type);
    psa_set_key_bits(&a, bits);
    psa_set_key_usage_flags(&a, usage);
    psa_set_key_algorithm(&a, alg);
    psa_status_t st = psa_import_key(&a, data, len, id);
    psa_reset_key_attributes(&a);
    return st;
}

/* SHA-256 of msg through setup, update per `step` bytes (0: one update), finish. */
static void sha256(const uint8_t *msg, size_t len, size_t step, uint8_t out[32])
{
    psa_hash_operation_t op = psa_hash_operation_init();
    size_t n = 0;
    assert_int_equal(psa_hash_setup(&op, PSA_ALG_SHA_256), PSA_SUCCESS);
    for (size_t at = 0; at < len;) {
        size_t k = step == 0 || len - at < step ? len - at : step;
        assert_int_equal(psa_hash_update(&op, msg + at, k), PSA_SUCCESS);
        at += k;
    }
    assert_int_equal(psa_hash_finish(&op, out, 32, &n), PSA_SUCCESS);
    assert_int_equal(n, 32);
}

/* Each test starts with an empty store, psa_crypto_init() done, owner NULL. */
static int setup(void **state)
{
    (void)state;
    psa_emu_reset();
    psa_emu_set_owner(NULL);
    return psa_crypto_init() == PSA_SUCCESS ? 0 : -1;
}

/* ...and leaves no key or hash operation behind. */
static int teardown(void **state)
{
    (void)state;
    size_t keys = psa_emu_key_count(), hashes = psa_emu_hash_count();
    psa_emu_reset();
    return keys == 0 && hashes == 0 ? 0 : -1;
}

/* RFC 6979 A.2.5: the P-256 public key, and its SHA-256 signatures of "sample" and "test". */
static const char *RFC6979_UX = "60fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6";
static const char *RFC6979_UY = "7903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299";
static const char *RFC6979_SAMPLE =
    "efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716"
    "f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8";
static const char *RFC6979_TEST =
    "f1abb023518351cd71d881567b1ea663ed3efcf6c5132b354f28d3b0b7d38367"
    "019f4113742a2b14bd25926b49c649155f267e60d3814b4c0cc84250e46f0083";

static void rfc6979_key(uint8_t pub[65])
{
    pub[0] = 0x04;
    unhex(RFC6979_UX, pub + 1);
    unhex(RFC6979_UY, pub + 33);
}

/* ---- library --------------------------------------------------------------------------- */

static void test_before_init(void **state)
{
    (void)state;
    psa_emu_reset();
    uint8_t key[32] = {1}, nonce[12] = {0}, buf[64], sig[64] = {0}, digest[32] = {0};
    psa_key_id_t id = 123;
    size_t n = 99;
    psa_hash_operation_t op = psa_hash_operation_init();
    assert_int_equal(import(PSA_KEY_TYPE_AES, 0, ENC_DEC, PSA_ALG_GCM, key, 32, &id),
                     PSA_ERROR_BAD_STATE);
    assert_int_equal(id, PSA_KEY_ID_NULL);
    assert_int_equal(psa_destroy_key(0x40000000), PSA_ERROR_BAD_STATE);
    assert_int_equal(psa_hash_setup(&op, PSA_ALG_SHA_256), PSA_ERROR_BAD_STATE);
    assert_int_equal(psa_hash_abort(&op), PSA_SUCCESS); /* always allowed */
    assert_int_equal(psa_verify_hash(0x40000000, ECDSA_SHA256, digest, 32, sig, 64),
                     PSA_ERROR_BAD_STATE);
    assert_int_equal(psa_aead_encrypt(0x40000000, PSA_ALG_GCM, nonce, 12, NULL, 0, buf, 8, buf,
                                      sizeof(buf), &n),
                     PSA_ERROR_BAD_STATE);
    assert_int_equal(n, 0);
    assert_int_equal(psa_aead_decrypt(0x40000000, PSA_ALG_GCM, nonce, 12, NULL, 0, buf, 24, buf,
                                      sizeof(buf), &n),
                     PSA_ERROR_BAD_STATE);
    /* positive control: after psa_crypto_init() (twice: allowed) the same import works */
    assert_int_equal(psa_crypto_init(), PSA_SUCCESS);
    assert_int_equal(psa_crypto_init(), PSA_SUCCESS);
    assert_int_equal(import(PSA_KEY_TYPE_AES, 0, ENC_DEC, PSA_ALG_GCM, key, 32, &id), PSA_SUCCESS);
    assert_true(id >= PSA_KEY_ID_VENDOR_MIN && id <= PSA_KEY_ID_VENDOR_MAX);
    assert_int_equal(psa_destroy_key(id), PSA_SUCCESS);
}

/* ---- hashes ---------------------------------------------------------------------------- */

static void test_sha256_fips180_2(void **state)
{
    (void)state;
    uint8_t want[32], got[32];
    /* FIPS 180-2 Appendix B.1: "abc" */
    unhex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", want);
    sha256((const uint8_t *)"abc", 3, 0, got);
    assert_memory_equal(got, want, 32);
    /* B.2: the two-block message, in one part and split in two at every point */
    const char *m2 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    size_t len = strlen(m2);
    unhex("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1", want);
    for (size_t step = 0; step <= len; step++) {
        memset(got, 0, sizeof(got));
        sha256((const uint8_t *)m2, len, step, got);
        assert_memory_equal(got, want, 32);
    }
    /* B.3: one million 'a', in one update and in 1000-byte and odd 997-byte parts */
    uint8_t *a = malloc(1000000);
    assert_non_null(a);
    memset(a, 'a', 1000000);
    unhex("cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0", want);
    const size_t steps[] = {0, 1000, 997};
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        memset(got, 0, sizeof(got));
        sha256(a, 1000000, steps[i], got);
        assert_memory_equal(got, want, 32);
    }
    free(a);
    /* the empty message, and empty updates changing nothing */
    psa_hash_operation_t op = psa_hash_operation_init();
    size_t n = 0;
    unhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", want);
    assert_int_equal(psa_hash_setup(&op, PSA_ALG_SHA_256), PSA_SUCCESS);
    assert_int_equal(psa_hash_update(&op, NULL, 0), PSA_SUCCESS);
    assert_int_equal(psa_hash_finish(&op, got, sizeof(got), &n), PSA_SUCCESS);
    assert_memory_equal(got, want, 32);
}

static void test_hash_states(void **state)
{
    (void)state;
    uint8_t out[64], want[32];
    size_t n = 7;
    psa_hash_operation_t op = psa_hash_operation_init();
    unhex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", want);

    /* update or finish before setup: BAD_STATE, then the error state until abort */
    assert_int_equal(psa_hash_update(&op, (const uint8_t *)"abc", 3), PSA_ERROR_BAD_STATE);
    assert_int_equal(psa_hash_setup(&op, PSA_ALG_SHA_256), PSA_ERROR_BAD_STATE);
    assert_int_equal(psa_hash_abort(&op), PSA_SUCCESS);
    assert_int_equal(psa_hash_finish(&op, out, sizeof(out), &n), PSA_ERROR_BAD_STATE);
    assert_int_equal(n, 0);
    assert_int_equal(psa_hash_abort(&op), PSA_SUCCESS);

    /* abort: on an inactive operation, twice, and on an active one (which it frees) */
    psa_hash_operation_t fresh = PSA_HASH_OPERATION_INIT;
    assert_int_equal(psa_hash_abort(&fresh), PSA_SUCCESS);
    assert_int_equal(psa_hash_abort(&fresh), PSA_SUCCESS);
    assert_int_equal(psa_hash_setup(&op, PSA_ALG_SHA_256), PSA_SUCCESS);
    assert_int_equal(psa_emu_hash_count(), 1);
    assert_int_equal(psa_hash_abort(&op), PSA_SUCCESS);
    assert_int_equal(psa_emu_hash_count(), 0);
    assert_int_equal(psa_hash_update(&op, (const uint8_t *)"abc", 3), PSA_ERROR_BAD_STATE);
    assert_int_equal(psa_hash_abort(&op), PSA_SUCCESS);

    /* setup on an active operation */
    assert_int_equal(psa_hash_setup(&op, PSA_ALG_SHA_256), PSA_SUCCESS);
    assert_int_equal(psa_hash_setup(&op, PSA_ALG_SHA_256), PSA_ERROR_BAD_STATE);
    assert_int_equal(psa_hash_abort(&op), PSA_SUCCESS);
    assert_int_equal(psa_emu_hash_count(), 0);

    /* finish into 31 bytes: BUFFER_TOO_SMALL, nothing finished, error state until abort */
    assert_int_equal(psa_hash_setup(&op, PSA_ALG_SHA_256), PSA_SUCCESS);
    assert_int_equal(psa_hash_update(&op, (const uint8_t *)"abc", 3), PSA_SUCCESS);
    n = 7;
    assert_int_equal(psa_hash_finish(&op, out, 31, &n), PSA_ERROR_BUFFER_TOO_SMALL);
    assert_int_equal(n, 0);
    assert_int_equal(psa_hash_finish(&op, out, sizeof(out), &n), PSA_ERROR_BAD_STATE);
    assert_int_equal(psa_hash_update(&op, (const uint8_t *)"abc", 3), PSA_ERROR_BAD_STATE);
    assert_int_equal(psa_hash_abort(&op), PSA_SUCCESS);
    assert_int_equal(psa_emu_hash_count(), 0);
    /* positive control: 32 bytes (a larger buffer too) finish, and the operation is inactive */
    assert_int_equal(psa_hash_setup(&op, PSA_ALG_SHA_256), PSA_SUCCESS);
    assert_int_equal(psa_hash_update(&op, (const uint8_t *)"abc", 3), PSA_SUCCESS);
    assert_int_equal(psa_hash_finish(&op, out, sizeof(out), &n), PSA_SUCCESS);
    assert_int_equal(n, 32);
    assert_memory_equal(out, want, 32);
    assert_int_equal(psa_emu_hash_count(), 0);
    assert_int_equal(psa_hash_update(&op, (const uint8_t *)"abc", 3), PSA_ERROR_BAD_STATE);
    assert_int_equal(psa_hash_abort(&op), PSA_SUCCESS);

    /* algorithms: not a hash, a wildcard, MD5, all refused; the operation still usable */
    assert_int_equal(psa_hash_setup(&op, PSA_ALG_GCM), PSA_ERROR_INVALID_ARGUMENT);
    assert_int_equal(psa_hash_abort(&op), PSA_SUCCESS);
    assert_int_equal(psa_hash_setup(&op, PSA_ALG_ANY_HASH), PSA_ERROR_NOT_SUPPORTED);
    assert_int_equal(psa_hash_abort(&op), PSA_SUCCESS);
    assert_int_equal(psa_hash_setup(&op, (psa_algorithm_t)0x02000003), PSA_ERROR_NOT_SUPPORTED);
    assert_int_equal(psa_hash_abort(&op), PSA_SUCCESS);
    assert_int_equal(psa_hash_setup(&op, PSA_ALG_SHA_256), PSA_SUCCESS);
    assert_int_equal(psa_hash_abort(&op), PSA_SUCCESS);

    /* the port's begin: abort whatever was there, initialise, set up (twice in a row) */
    for (int i = 0; i < 2; i++) {
        (void)psa_hash_abort(&op);
        op = psa_hash_operation_init();
        assert_int_equal(psa_hash_setup(&op, PSA_ALG_SHA_256), PSA_SUCCESS);
    }
    assert_int_equal(psa_emu_hash_count(), 1);
    assert_int_equal(psa_hash_abort(&op), PSA_SUCCESS);
}

/* A chip's reset frees its hash operations; a copy still held is refused, never used or freed
 * again (the sanitizer or valgrind would see it), and another chip's operation goes on. */
static void test_hash_after_reset(void **state)
{
    (void)state;
    int chip_a, chip_b;
    uint8_t out[32], want[32];
    size_t n = 0;
    psa_hash_operation_t a = psa_hash_operation_init(), b = psa_hash_operation_init();
    unhex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", want);
    psa_emu_set_owner(&chip_a);
    assert_int_equal(psa_hash_setup(&a, PSA_ALG_SHA_256), PSA_SUCCESS);
    psa_emu_set_owner(&chip_b);
    assert_int_equal(psa_hash_setup(&b, PSA_ALG_SHA_256), PSA_SUCCESS);
    assert_int_equal(psa_hash_update(&b, (const uint8_t *)"ab", 2), PSA_SUCCESS);
    assert_int_equal(psa_emu_hash_count(), 2);
    psa_emu_forget(&chip_a);
    assert_int_equal(psa_emu_hash_count(), 1);
    assert_int_equal(psa_hash_update(&a, (const uint8_t *)"abc", 3), PSA_ERROR_BAD_STATE);
    assert_int_equal(psa_hash_abort(&a), PSA_SUCCESS);
    assert_int_equal(psa_hash_update(&b, (const uint8_t *)"c", 1), PSA_SUCCESS);
    assert_int_equal(psa_hash_finish(&b, out, sizeof(out), &n), PSA_SUCCESS);
    assert_memory_equal(out, want, 32);
    psa_emu_set_owner(NULL);
}

/* ---- ECDSA ------------------------------------------------------------------------------ */

static void test_ecdsa_rfc6979(void **state)
{
    (void)state;
    uint8_t pub[65], h_sample[32], h_test[32], s_sample[64], s_test[64];
    psa_key_id_t id;
    rfc6979_key(pub);
    unhex(RFC6979_SAMPLE, s_sample);
    unhex(RFC6979_TEST, s_test);
    sha256((const uint8_t *)"sample", 6, 0, h_sample);
    sha256((const uint8_t *)"test", 4, 0, h_test);
    assert_int_equal(import(P256_PUB, 256, PSA_KEY_USAGE_VERIFY_HASH, ECDSA_SHA256, pub, 65, &id),
                     PSA_SUCCESS);
    assert_int_equal(psa_verify_hash(id, ECDSA_SHA256, h_sample, 32, s_sample, 64), PSA_SUCCESS);
    assert_int_equal(psa_verify_hash(id, ECDSA_SHA256, h_test, 32, s_test, 64), PSA_SUCCESS);
    /* each signature against the other message */
    assert_int_equal(psa_verify_hash(id, ECDSA_SHA256, h_sample, 32, s_test, 64),
                     PSA_ERROR_INVALID_SIGNATURE);
    assert_int_equal(psa_verify_hash(id, ECDSA_SHA256, h_test, 32, s_sample, 64),
                     PSA_ERROR_INVALID_SIGNATURE);
    /* every bit of the signature and of the hash flipped */
    for (size_t bit = 0; bit < 64 * 8; bit++) {
        s_sample[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_int_equal(psa_verify_hash(id, ECDSA_SHA256, h_sample, 32, s_sample, 64),
                         PSA_ERROR_INVALID_SIGNATURE);
        s_sample[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    for (size_t bit = 0; bit < 32 * 8; bit++) {
        h_sample[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_int_equal(psa_verify_hash(id, ECDSA_SHA256, h_sample, 32, s_sample, 64),
                         PSA_ERROR_INVALID_SIGNATURE);
        h_sample[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    assert_int_equal(psa_verify_hash(id, ECDSA_SHA256, h_sample, 32, s_sample, 64), PSA_SUCCESS);
    assert_int_equal(psa_destroy_key(id), PSA_SUCCESS);
}

/* Sign `digest` with OpenSSL and write PSA's r || s. */
static void openssl_sign(EVP_PKEY *pkey, const uint8_t digest[32], uint8_t sig[64])
{
    unsigned char der[80];
    size_t der_len = sizeof(der);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    assert_non_null(ctx);
    assert_int_equal(EVP_PKEY_sign_init(ctx), 1);
    assert_int_equal(EVP_PKEY_sign(ctx, der, &der_len, digest, 32), 1);
    EVP_PKEY_CTX_free(ctx);
    const unsigned char *p = der;
    ECDSA_SIG *s = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
    assert_non_null(s);
    assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_r(s), sig, 32), 32);
    assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_s(s), sig + 32, 32), 32);
    ECDSA_SIG_free(s);
}

static EVP_PKEY *openssl_key(uint8_t pub[65])
{
    size_t len = 0;
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    assert_non_null(pkey);
    assert_int_equal(EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_PUB_KEY, pub, 65, &len),
                     1);
    assert_int_equal(len, 65);
    assert_int_equal(pub[0], 0x04);
    return pkey;
}

static void test_ecdsa_openssl_signatures(void **state)
{
    (void)state;
    uint8_t pub[65], other_pub[65], digest[32], sig[64];
    psa_key_id_t id, wild;
    EVP_PKEY *pkey = openssl_key(pub), *other = openssl_key(other_pub);
    assert_int_equal(import(P256_PUB, 0, PSA_KEY_USAGE_VERIFY_HASH, ECDSA_SHA256, pub, 65, &id),
                     PSA_SUCCESS);
    /* a policy for ECDSA with any hash permits ECDSA with SHA-256 (§9.5.1) */
    assert_int_equal(import(P256_PUB, 0, PSA_KEY_USAGE_VERIFY_HASH,
                            PSA_ALG_ECDSA(PSA_ALG_ANY_HASH), pub, 65, &wild),
                     PSA_SUCCESS);
    for (int i = 0; i < 8; i++) {
        char msg[32];
        int len = snprintf(msg, sizeof(msg), "release %d", i);
        sha256((const uint8_t *)msg, (size_t)len, 0, digest);
        openssl_sign(pkey, digest, sig);
        assert_int_equal(psa_verify_hash(id, ECDSA_SHA256, digest, 32, sig, 64), PSA_SUCCESS);
        assert_int_equal(psa_verify_hash(wild, ECDSA_SHA256, digest, 32, sig, 64), PSA_SUCCESS);
        sig[i * 8] ^= 0x10;
        assert_int_equal(psa_verify_hash(id, ECDSA_SHA256, digest, 32, sig, 64),
                         PSA_ERROR_INVALID_SIGNATURE);
        /* signed by another key */
        openssl_sign(other, digest, sig);
        assert_int_equal(psa_verify_hash(id, ECDSA_SHA256, digest, 32, sig, 64),
                         PSA_ERROR_INVALID_SIGNATURE);
    }
    EVP_PKEY_free(pkey);
    EVP_PKEY_free(other);
    assert_int_equal(psa_destroy_key(id), PSA_SUCCESS);
    assert_int_equal(psa_destroy_key(wild), PSA_SUCCESS);
}

static void test_verify_refusals(void **state)
{
    (void)state;
    uint8_t pub[65], h[32], sig[64], sig65[65], aes[32] = {7};
    psa_key_id_t id, msg_only, sha384, aes_key;
    int other_chip;
    rfc6979_key(pub);
    unhex(RFC6979_SAMPLE, sig);
    sha256((const uint8_t *)"sample", 6, 0, h);
    assert_int_equal(import(P256_PUB, 0, PSA_KEY_USAGE_VERIFY_HASH, ECDSA_SHA256, pub, 65, &id),
                     PSA_SUCCESS);
    assert_int_equal(psa_verify_hash(id, ECDSA_SHA256, h, 32, sig, 64), PSA_SUCCESS);

    /* the key's policy: usage flag, permitted algorithm */
    assert_int_equal(import(P256_PUB, 0, PSA_KEY_USAGE_VERIFY_MESSAGE, ECDSA_SHA256, pub, 65,
                            &msg_only),
                     PSA_SUCCESS);
    assert_int_equal(psa_verify_hash(msg_only, ECDSA_SHA256, h, 32, sig, 64),
                     PSA_ERROR_NOT_PERMITTED);
    assert_int_equal(import(P256_PUB, 0, PSA_KEY_USAGE_VERIFY_HASH, PSA_ALG_ECDSA(PSA_ALG_SHA_384),
                            pub, 65, &sha384),
                     PSA_SUCCESS);
    assert_int_equal(psa_verify_hash(sha384, ECDSA_SHA256, h, 32, sig, 64),
                     PSA_ERROR_NOT_PERMITTED);
    assert_int_equal(psa_verify_hash(id, PSA_ALG_ECDSA(PSA_ALG_SHA_384), h, 32, sig, 64),
                     PSA_ERROR_NOT_PERMITTED);
    assert_int_equal(psa_verify_hash(id, PSA_ALG_GCM, h, 32, sig, 64), PSA_ERROR_NOT_PERMITTED);
    /* an AES key whose policy claims ECDSA is not a public key */
    assert_int_equal(import(PSA_KEY_TYPE_AES, 0, PSA_KEY_USAGE_VERIFY_HASH, ECDSA_SHA256, aes, 32,
                            &aes_key),
                     PSA_SUCCESS);
    assert_int_equal(psa_verify_hash(aes_key, ECDSA_SHA256, h, 32, sig, 64),
                     PSA_ERROR_INVALID_ARGUMENT);

    /* hash and signature lengths */
    assert_int_equal(psa_verify_hash(id, ECDSA_SHA256, h, 31, sig, 64), PSA_ERROR_INVALID_ARGUMENT);
    assert_int_equal(psa_verify_hash(id, ECDSA_SHA256, h, 33, sig, 64), PSA_ERROR_INVALID_ARGUMENT);
    memcpy(sig65, sig, 64);
    sig65[64] = 0;
    assert_int_equal(psa_verify_hash(id, ECDSA_SHA256, h, 32, sig, 63),
                     PSA_ERROR_INVALID_SIGNATURE);
    assert_int_equal(psa_verify_hash(id, ECDSA_SHA256, h, 32, sig65, 65),
                     PSA_ERROR_INVALID_SIGNATURE);
    assert_int_equal(psa_verify_hash(id, ECDSA_SHA256, h, 32, sig, 0), PSA_ERROR_INVALID_SIGNATURE);
    /* r = s = 0, and r = the group order n: never valid */
    uint8_t zero[64] = {0}, big[64];
    memcpy(big, sig, 64);
    unhex("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551", big);
    assert_int_equal(psa_verify_hash(id, ECDSA_SHA256, h, 32, zero, 64),
                     PSA_ERROR_INVALID_SIGNATURE);
    assert_int_equal(psa_verify_hash(id, ECDSA_SHA256, h, 32, big, 64),
                     PSA_ERROR_INVALID_SIGNATURE);

    /* identifiers: none, never given, another chip's, destroyed */
    assert_int_equal(psa_verify_hash(PSA_KEY_ID_NULL, ECDSA_SHA256, h, 32, sig, 64),
                     PSA_ERROR_INVALID_HANDLE);
    assert_int_equal(psa_verify_hash(id + 1000, ECDSA_SHA256, h, 32, sig, 64),
                     PSA_ERROR_INVALID_HANDLE);
    assert_int_equal(psa_verify_hash(1, ECDSA_SHA256, h, 32, sig, 64), PSA_ERROR_INVALID_HANDLE);
    psa_emu_set_owner(&other_chip);
    assert_int_equal(psa_verify_hash(id, ECDSA_SHA256, h, 32, sig, 64), PSA_ERROR_INVALID_HANDLE);
    assert_int_equal(psa_destroy_key(id), PSA_ERROR_INVALID_HANDLE);
    psa_emu_set_owner(NULL);
    assert_int_equal(psa_verify_hash(id, ECDSA_SHA256, h, 32, sig, 64), PSA_SUCCESS);
    assert_int_equal(psa_destroy_key(id), PSA_SUCCESS);
    assert_int_equal(psa_verify_hash(id, ECDSA_SHA256, h, 32, sig, 64), PSA_ERROR_INVALID_HANDLE);
    assert_int_equal(psa_destroy_key(msg_only), PSA_SUCCESS);
    assert_int_equal(psa_destroy_key(sha384), PSA_SUCCESS);
    assert_int_equal(psa_destroy_key(aes_key), PSA_SUCCESS);
}

/* ---- keys -------------------------------------------------------------------------------- */

/* Each refused import leaves *id null and the store unchanged. */
static void refused(psa_key_type_t type, size_t bits, psa_key_usage_t usage, const uint8_t *data,
                    size_t len, psa_status_t want)
{
    psa_key_id_t id = 77;
    size_t before = psa_emu_key_count();
    assert_int_equal(import(type, bits, usage, ECDSA_SHA256, data, len, &id), want);
    assert_int_equal(id, PSA_KEY_ID_NULL);
    assert_int_equal(psa_emu_key_count(), before);
}

static void test_import_refusals(void **state)
{
    (void)state;
    uint8_t pub[133], aes[33] = {1};
    psa_key_id_t id;
    const psa_key_usage_t v = PSA_KEY_USAGE_VERIFY_HASH;
    rfc6979_key(pub);

    /* P-256 public keys: off the curve, not uncompressed, other lengths and sizes */
    pub[64] ^= 1;
    refused(P256_PUB, 0, v, pub, 65, PSA_ERROR_INVALID_ARGUMENT);
    pub[64] ^= 1;
    pub[0] = 0x02;
    refused(P256_PUB, 0, v, pub, 65, PSA_ERROR_INVALID_ARGUMENT);
    refused(P256_PUB, 0, v, pub, 33, PSA_ERROR_INVALID_ARGUMENT); /* compressed */
    pub[0] = 0x04;
    refused(P256_PUB, 0, v, pub + 1, 64, PSA_ERROR_INVALID_ARGUMENT); /* X || Y without 0x04 */
    refused(P256_PUB, 0, v, pub, 64, PSA_ERROR_INVALID_ARGUMENT);
    refused(P256_PUB, 0, v, pub, 66, PSA_ERROR_INVALID_ARGUMENT);
    refused(P256_PUB, 0, v, pub, 0, PSA_ERROR_INVALID_ARGUMENT);
    refused(P256_PUB, 0, v, pub, 1, PSA_ERROR_INVALID_ARGUMENT); /* the point at infinity form */
    refused(P256_PUB, 0, v, pub, 97, PSA_ERROR_NOT_SUPPORTED);  /* a P-384 length */
    refused(P256_PUB, 0, v, pub, 133, PSA_ERROR_NOT_SUPPORTED); /* a P-521 length */
    refused(P256_PUB, 384, v, pub, 65, PSA_ERROR_INVALID_ARGUMENT); /* size not the data's */
    /* types: none, other curves, key pairs, raw data */
    refused(PSA_KEY_TYPE_NONE, 0, v, pub, 65, PSA_ERROR_INVALID_ARGUMENT);
    refused(PSA_KEY_TYPE_ECC_PUBLIC_KEY(PSA_ECC_FAMILY_SECP_K1), 0, v, pub, 65,
            PSA_ERROR_NOT_SUPPORTED);
    refused(PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1), 0, v, pub + 1, 32,
            PSA_ERROR_NOT_SUPPORTED);
    refused(PSA_KEY_TYPE_RAW_DATA, 0, v, aes, 32, PSA_ERROR_NOT_SUPPORTED);
    /* usage flags the specification does not define */
    refused(P256_PUB, 0, v | 0x00010000u, pub, 65, PSA_ERROR_INVALID_ARGUMENT);
    /* AES: 16, 24 or 32 bytes, the size the data's */
    refused(PSA_KEY_TYPE_AES, 0, ENC_DEC, aes, 31, PSA_ERROR_INVALID_ARGUMENT);
    refused(PSA_KEY_TYPE_AES, 0, ENC_DEC, aes, 33, PSA_ERROR_INVALID_ARGUMENT);
    refused(PSA_KEY_TYPE_AES, 0, ENC_DEC, aes, 0, PSA_ERROR_INVALID_ARGUMENT);
    refused(PSA_KEY_TYPE_AES, 0, ENC_DEC, NULL, 0, PSA_ERROR_INVALID_ARGUMENT);
    refused(PSA_KEY_TYPE_AES, 128, ENC_DEC, aes, 32, PSA_ERROR_INVALID_ARGUMENT);
    psa_key_attributes_t a = psa_key_attributes_init();
    psa_set_key_type(&a, PSA_KEY_TYPE_AES);
    assert_int_equal(psa_import_key(&a, aes, 32, NULL), PSA_ERROR_INVALID_ARGUMENT);
    assert_int_equal(psa_import_key(NULL, aes, 32, &id), PSA_ERROR_INVALID_ARGUMENT);
    assert_int_equal(psa_emu_key_count(), 0);

    /* positive controls: the same data accepted where the refusals above changed one thing */
    assert_int_equal(import(P256_PUB, 256, v, ECDSA_SHA256, pub, 65, &id), PSA_SUCCESS);
    assert_int_equal(psa_destroy_key(id), PSA_SUCCESS);
    const size_t ok_len[] = {16, 24, 32};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(import(PSA_KEY_TYPE_AES, ok_len[i] * 8, ENC_DEC, PSA_ALG_GCM, aes,
                                ok_len[i], &id),
                         PSA_SUCCESS);
        assert_int_equal(psa_destroy_key(id), PSA_SUCCESS);
    }
}

/* Identifiers are unique among live keys and a destroyed one is not given again at once; a
 * fleet's worth of chips with two keys each; a chip's reset destroys only its own keys. */
static void test_key_ids(void **state)
{
    (void)state;
    enum { CHIPS = 3000 };
    static psa_key_id_t ids[CHIPS * 2];
    static char chip[CHIPS];
    uint8_t pub[65], aes[32] = {9};
    rfc6979_key(pub);
    for (size_t c = 0; c < CHIPS; c++) {
        psa_emu_set_owner(&chip[c]);
        assert_int_equal(import(P256_PUB, 0, PSA_KEY_USAGE_VERIFY_HASH, ECDSA_SHA256, pub, 65,
                                &ids[2 * c]),
                         PSA_SUCCESS);
        assert_int_equal(
            import(PSA_KEY_TYPE_AES, 0, ENC_DEC, PSA_ALG_GCM, aes, 32, &ids[2 * c + 1]),
            PSA_SUCCESS);
    }
    assert_int_equal(psa_emu_key_count(), 2 * CHIPS);
    for (size_t i = 0; i < 2 * CHIPS; i++) {
        assert_true(ids[i] >= PSA_KEY_ID_VENDOR_MIN && ids[i] <= PSA_KEY_ID_VENDOR_MAX);
        if (i > 0) assert_true(ids[i] != ids[i - 1]);
    }
    /* sorted, no two equal */
    static psa_key_id_t sorted[CHIPS * 2];
    memcpy(sorted, ids, sizeof(ids));
    for (size_t i = 1; i < 2 * CHIPS; i++) /* insertion sort: ids come out nearly sorted */
        for (size_t j = i; j > 0 && sorted[j - 1] > sorted[j]; j--) {
            psa_key_id_t t = sorted[j];
            sorted[j] = sorted[j - 1];
            sorted[j - 1] = t;
        }
    for (size_t i = 1; i < 2 * CHIPS; i++) assert_true(sorted[i] != sorted[i - 1]);

    /* every other chip resets: its keys are gone, the others' stay */
    for (size_t c = 0; c < CHIPS; c += 2) psa_emu_forget(&chip[c]);
    assert_int_equal(psa_emu_key_count(), CHIPS);
    psa_emu_set_owner(&chip[0]);
    assert_int_equal(psa_destroy_key(ids[0]), PSA_ERROR_INVALID_HANDLE);
    psa_emu_set_owner(&chip[1]);
    assert_int_equal(psa_destroy_key(ids[2]), PSA_SUCCESS);
    assert_int_equal(psa_destroy_key(ids[2]), PSA_ERROR_INVALID_HANDLE);
    assert_int_equal(psa_destroy_key(PSA_KEY_ID_NULL), PSA_SUCCESS);

    /* new imports (the reset chips booting again) never get an identifier given before */
    psa_emu_set_owner(&chip[0]);
    for (size_t i = 0; i < CHIPS; i++) {
        psa_key_id_t id;
        assert_int_equal(import(PSA_KEY_TYPE_AES, 0, ENC_DEC, PSA_ALG_GCM, aes, 32, &id),
                         PSA_SUCCESS);
        for (size_t j = 0; j < 2 * CHIPS; j++) assert_true(id != ids[j]);
    }
    psa_emu_reset(); /* teardown's count check: the keys are deliberately left to the reset */
    assert_int_equal(psa_emu_key_count(), 0);
    assert_int_equal(psa_crypto_init(), PSA_SUCCESS);
    psa_emu_set_owner(NULL);
}

/* ---- AES-GCM ---------------------------------------------------------------------------- */

/* GCM specification (McGrew & Viega), test case 16: AES-256, 96-bit IV, 20 bytes of AAD. */
static uint8_t k16[32], iv16[12], aad16[20], pt16[60], ct16[76];

static void load_case_16(void)
{
    unhex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308", k16);
    unhex("cafebabefacedbaddecaf888", iv16);
    unhex("feedfacedeadbeeffeedfacedeadbeefabaddad2", aad16);
    unhex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
          "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
          pt16);
    unhex("522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
          "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662"
          "76fc6ece0f4e1768cddf8853bb2d551b",
          ct16);
}

static void test_gcm_case_16(void **state)
{
    (void)state;
    uint8_t out[76], back[60];
    size_t n = 0;
    psa_key_id_t id;
    load_case_16();
    assert_int_equal(import(PSA_KEY_TYPE_AES, 256, ENC_DEC, PSA_ALG_GCM, k16, 32, &id),
                     PSA_SUCCESS);
    assert_int_equal(psa_aead_encrypt(id, PSA_ALG_GCM, iv16, 12, aad16, 20, pt16, 60, out,
                                      sizeof(out), &n),
                     PSA_SUCCESS);
    assert_int_equal(n, 76);
    assert_memory_equal(out, ct16, 76);
    assert_int_equal(psa_aead_decrypt(id, PSA_ALG_GCM, iv16, 12, aad16, 20, ct16, 76, back,
                                      sizeof(back), &n),
                     PSA_SUCCESS);
    assert_int_equal(n, 60);
    assert_memory_equal(back, pt16, 60);
    /* in place, both ways */
    memcpy(out, pt16, 60);
    assert_int_equal(psa_aead_encrypt(id, PSA_ALG_GCM, iv16, 12, aad16, 20, out, 60, out,
                                      sizeof(out), &n),
                     PSA_SUCCESS);
    assert_memory_equal(out, ct16, 76);
    assert_int_equal(psa_aead_decrypt(id, PSA_ALG_GCM, iv16, 12, aad16, 20, out, 76, out,
                                      sizeof(out), &n),
                     PSA_SUCCESS);
    assert_memory_equal(out, pt16, 60);
    /* nothing to encrypt: the tag alone authenticates the AAD */
    assert_int_equal(psa_aead_encrypt(id, PSA_ALG_GCM, iv16, 12, aad16, 20, NULL, 0, out, 16, &n),
                     PSA_SUCCESS);
    assert_int_equal(n, 16);
    assert_int_equal(psa_aead_decrypt(id, PSA_ALG_GCM, iv16, 12, aad16, 20, out, 16, NULL, 0, &n),
                     PSA_SUCCESS);
    assert_int_equal(n, 0);
    out[3] ^= 1;
    assert_int_equal(psa_aead_decrypt(id, PSA_ALG_GCM, iv16, 12, aad16, 20, out, 16, NULL, 0, &n),
                     PSA_ERROR_INVALID_SIGNATURE);
    assert_int_equal(psa_destroy_key(id), PSA_SUCCESS);
}

/* Decrypting ct16 altered must fail with INVALID_SIGNATURE and leave no plaintext. */
static void gcm_refused(psa_key_id_t id, const uint8_t *iv, const uint8_t *aad, const uint8_t *ct)
{
    uint8_t back[60];
    size_t n = 99;
    memset(back, 0xa5, sizeof(back));
    assert_int_equal(psa_aead_decrypt(id, PSA_ALG_GCM, iv, 12, aad, 20, ct, 76, back,
                                      sizeof(back), &n),
                     PSA_ERROR_INVALID_SIGNATURE);
    assert_int_equal(n, 0);
    for (size_t i = 0; i < sizeof(back); i++) assert_int_equal(back[i], 0);
}

static void test_gcm_refusals(void **state)
{
    (void)state;
    uint8_t out[80], back[60], other_key[32];
    size_t n;
    psa_key_id_t id, enc_only, dec_only, ccm, other, ecc, sha;
    load_case_16();
    assert_int_equal(import(PSA_KEY_TYPE_AES, 0, ENC_DEC, PSA_ALG_GCM, k16, 32, &id), PSA_SUCCESS);

    /* not authentic: every byte of ciphertext and tag, of the AAD and of the nonce, the key */
    for (size_t i = 0; i < 76; i++) {
        ct16[i] ^= 0x01;
        gcm_refused(id, iv16, aad16, ct16);
        ct16[i] ^= 0x01;
    }
    for (size_t i = 0; i < 20; i++) {
        aad16[i] ^= 0x80;
        gcm_refused(id, iv16, aad16, ct16);
        aad16[i] ^= 0x80;
    }
    for (size_t i = 0; i < 12; i++) {
        iv16[i] ^= 0x40;
        gcm_refused(id, iv16, aad16, ct16);
        iv16[i] ^= 0x40;
    }
    memcpy(other_key, k16, 32);
    other_key[31] ^= 1;
    assert_int_equal(import(PSA_KEY_TYPE_AES, 0, ENC_DEC, PSA_ALG_GCM, other_key, 32, &other),
                     PSA_SUCCESS);
    gcm_refused(other, iv16, aad16, ct16);
    /* positive control: unaltered, it opens */
    assert_int_equal(psa_aead_decrypt(id, PSA_ALG_GCM, iv16, 12, aad16, 20, ct16, 76, back,
                                      sizeof(back), &n),
                     PSA_SUCCESS);

    /* buffers: one byte short each way; shorter than the tag */
    n = 5;
    assert_int_equal(psa_aead_encrypt(id, PSA_ALG_GCM, iv16, 12, aad16, 20, pt16, 60, out, 75, &n),
                     PSA_ERROR_BUFFER_TOO_SMALL);
    assert_int_equal(n, 0);
    assert_int_equal(psa_aead_decrypt(id, PSA_ALG_GCM, iv16, 12, aad16, 20, ct16, 76, back, 59,
                                      &n),
                     PSA_ERROR_BUFFER_TOO_SMALL);
    assert_int_equal(psa_aead_decrypt(id, PSA_ALG_GCM, iv16, 12, aad16, 20, ct16, 15, back,
                                      sizeof(back), &n),
                     PSA_ERROR_INVALID_ARGUMENT);
    assert_int_equal(psa_aead_encrypt(id, PSA_ALG_GCM, iv16, 0, aad16, 20, pt16, 60, out,
                                      sizeof(out), &n),
                     PSA_ERROR_INVALID_ARGUMENT);

    /* policy: usage flag each way, permitted algorithm */
    assert_int_equal(import(PSA_KEY_TYPE_AES, 0, PSA_KEY_USAGE_ENCRYPT, PSA_ALG_GCM, k16, 32,
                            &enc_only),
                     PSA_SUCCESS);
    assert_int_equal(import(PSA_KEY_TYPE_AES, 0, PSA_KEY_USAGE_DECRYPT, PSA_ALG_GCM, k16, 32,
                            &dec_only),
                     PSA_SUCCESS);
    assert_int_equal(psa_aead_decrypt(enc_only, PSA_ALG_GCM, iv16, 12, aad16, 20, ct16, 76, back,
                                      sizeof(back), &n),
                     PSA_ERROR_NOT_PERMITTED);
    assert_int_equal(psa_aead_encrypt(dec_only, PSA_ALG_GCM, iv16, 12, aad16, 20, pt16, 60, out,
                                      sizeof(out), &n),
                     PSA_ERROR_NOT_PERMITTED);
    assert_int_equal(psa_aead_encrypt(enc_only, PSA_ALG_GCM, iv16, 12, aad16, 20, pt16, 60, out,
                                      sizeof(out), &n),
                     PSA_SUCCESS);
    assert_int_equal(psa_aead_decrypt(dec_only, PSA_ALG_GCM, iv16, 12, aad16, 20, ct16, 76, back,
                                      sizeof(back), &n),
                     PSA_SUCCESS);
    assert_int_equal(import(PSA_KEY_TYPE_AES, 0, ENC_DEC, PSA_ALG_CCM, k16, 32, &ccm), PSA_SUCCESS);
    assert_int_equal(psa_aead_encrypt(ccm, PSA_ALG_GCM, iv16, 12, aad16, 20, pt16, 60, out,
                                      sizeof(out), &n),
                     PSA_ERROR_NOT_PERMITTED);
    assert_int_equal(psa_aead_encrypt(id, PSA_ALG_CCM, iv16, 12, aad16, 20, pt16, 60, out,
                                      sizeof(out), &n),
                     PSA_ERROR_NOT_PERMITTED);
    /* permitted but not emulated (CCM), not an AEAD algorithm, not an AES key */
    assert_int_equal(psa_aead_encrypt(ccm, PSA_ALG_CCM, iv16, 12, aad16, 20, pt16, 60, out,
                                      sizeof(out), &n),
                     PSA_ERROR_NOT_SUPPORTED);
    assert_int_equal(import(PSA_KEY_TYPE_AES, 0, ENC_DEC, PSA_ALG_SHA_256, k16, 32, &sha),
                     PSA_SUCCESS);
    assert_int_equal(psa_aead_encrypt(sha, PSA_ALG_SHA_256, iv16, 12, aad16, 20, pt16, 60, out,
                                      sizeof(out), &n),
                     PSA_ERROR_INVALID_ARGUMENT);
    uint8_t pub[65];
    rfc6979_key(pub);
    assert_int_equal(import(P256_PUB, 0, ENC_DEC, PSA_ALG_GCM, pub, 65, &ecc), PSA_SUCCESS);
    assert_int_equal(psa_aead_encrypt(ecc, PSA_ALG_GCM, iv16, 12, aad16, 20, pt16, 60, out,
                                      sizeof(out), &n),
                     PSA_ERROR_INVALID_ARGUMENT);
    assert_int_equal(psa_aead_encrypt(PSA_KEY_ID_NULL, PSA_ALG_GCM, iv16, 12, aad16, 20, pt16, 60,
                                      out, sizeof(out), &n),
                     PSA_ERROR_INVALID_HANDLE);

    const psa_key_id_t all[] = {id, enc_only, dec_only, ccm, other, ecc, sha};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        assert_int_equal(psa_destroy_key(all[i]), PSA_SUCCESS);
}

/* A COMMAND as the agent's codec frames it, sealed with the virtual ESP32's AEAD (what the
 * server's OpenSSL and the POSIX port do), opened through psa_aead_decrypt() on the joined
 * ciphertext || tag as the ESP-IDF port's aead_open hook passes it; and a REPLY sealed by
 * psa_aead_encrypt() opened by the virtual ESP32's AEAD. */
static void test_sealed_command_round_trip(void **state)
{
    (void)state;
    uint8_t key[MQOTA_AEAD_KEY_LEN], header[MQOTA_SEALED_HEADER_LEN], nonce[MQOTA_AEAD_NONCE_LEN];
    uint8_t aad[MQOTA_AEAD_AAD_MAX], plain[128], frame[256], back[128];
    size_t aad_len = 0, plain_len = 0, n = 0;
    psa_key_id_t id;
    for (size_t i = 0; i < sizeof(key); i++) key[i] = (uint8_t)(0x30 + i);
    assert_int_equal(import(PSA_KEY_TYPE_AES, 256, ENC_DEC, PSA_ALG_GCM, key, 32, &id),
                     PSA_SUCCESS);

    const uint8_t args[] = {1, 2, 3, 4, 5};
    mqota_command_t cmd = {.command_id = 42, .args_len = sizeof(args), .args = args};
    strcpy(cmd.name, "reboot");
    assert_int_equal(mqota_command_encode(&cmd, plain, sizeof(plain), &plain_len), MQOTA_OK);
    assert_int_equal(mqota_sealed_header(MQOTA_MSG_COMMAND, 7, header), MQOTA_OK);
    mqota_sealed_nonce(header, nonce);
    assert_int_equal(mqota_sealed_aad(header, "esp32-0001", aad, sizeof(aad), &aad_len), MQOTA_OK);
    memcpy(frame, header, sizeof(header));
    uint8_t *ct = frame + MQOTA_SEALED_HEADER_LEN;
    assert_int_equal(aead_gcm_seal(key, nonce, aad, aad_len, plain, plain_len, ct, ct + plain_len),
                     MQOTA_OK);
    size_t frame_len = MQOTA_SEALED_OVERHEAD + plain_len;

    mqota_sealed_t s;
    assert_int_equal(mqota_sealed_decode(frame, frame_len, MQOTA_MSG_COMMAND, &s), MQOTA_OK);
    assert_int_equal(psa_aead_decrypt(id, PSA_ALG_GCM, nonce, sizeof(nonce), aad, aad_len,
                                      s.ciphertext, s.ciphertext_len + MQOTA_SEALED_TAG_LEN, back,
                                      sizeof(back), &n),
                     PSA_SUCCESS);
    assert_int_equal(n, plain_len);
    mqota_command_t got;
    assert_int_equal(mqota_command_decode(back, n, &got), MQOTA_OK);
    assert_int_equal(got.command_id, 42);
    assert_string_equal(got.name, "reboot");
    assert_int_equal(got.args_len, sizeof(args));
    assert_memory_equal(got.args, args, sizeof(args));
    /* for another device (other AAD) it is not authentic */
    assert_int_equal(mqota_sealed_aad(header, "esp32-0002", aad, sizeof(aad), &aad_len), MQOTA_OK);
    assert_int_equal(psa_aead_decrypt(id, PSA_ALG_GCM, nonce, sizeof(nonce), aad, aad_len,
                                      s.ciphertext, s.ciphertext_len + MQOTA_SEALED_TAG_LEN, back,
                                      sizeof(back), &n),
                     PSA_ERROR_INVALID_SIGNATURE);

    /* the REPLY, sealed by PSA, opened by the virtual ESP32's AEAD */
    const uint8_t body[] = {'d', 'o', 'n', 'e'};
    mqota_reply_t reply = {.command_id = 42, .result = MQOTA_CMD_OK, .body_len = 4, .body = body};
    assert_int_equal(mqota_reply_encode(&reply, plain, sizeof(plain), &plain_len), MQOTA_OK);
    assert_int_equal(mqota_sealed_header(MQOTA_MSG_REPLY, 8, header), MQOTA_OK);
    mqota_sealed_nonce(header, nonce);
    assert_int_equal(mqota_sealed_aad(header, "esp32-0001", aad, sizeof(aad), &aad_len), MQOTA_OK);
    assert_int_equal(psa_aead_encrypt(id, PSA_ALG_GCM, nonce, sizeof(nonce), aad, aad_len, plain,
                                      plain_len, frame, sizeof(frame), &n),
                     PSA_SUCCESS);
    assert_int_equal(n, plain_len + MQOTA_SEALED_TAG_LEN);
    assert_int_equal(aead_gcm_open(key, nonce, aad, aad_len, frame, plain_len, back,
                                   frame + plain_len),
                     MQOTA_OK);
    mqota_reply_t got_reply;
    assert_int_equal(mqota_reply_decode(back, plain_len, &got_reply), MQOTA_OK);
    assert_int_equal(got_reply.command_id, 42);
    assert_int_equal(got_reply.result, MQOTA_CMD_OK);
    assert_memory_equal(got_reply.body, body, 4);
    assert_int_equal(psa_destroy_key(id), PSA_SUCCESS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_before_init, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sha256_fips180_2, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hash_states, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hash_after_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ecdsa_rfc6979, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ecdsa_openssl_signatures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gcm_case_16, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gcm_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sealed_command_round_trip, setup, teardown),
    };
    return cmocka_run_group_tests_name("psa_emu", tests, NULL, NULL);
}
