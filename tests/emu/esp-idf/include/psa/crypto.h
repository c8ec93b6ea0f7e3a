/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file psa/crypto.h
 * @brief Host emulation of ESP-IDF (tests/emu/esp-idf/README.md): the part of the PSA Certified
 *        Crypto API that ports/esp-idf/src/mqota_esp.c and mqota_esp_platform.c call, run on
 *        OpenSSL by psa_emu.c. Test code only; the port never includes this.
 *
 * Written by us from the specification, "PSA Certified Crypto API" 1.1 (Arm IHI 0086; the
 * section is named beside each item, "Appendix B" is its algorithm and key type encoding).
 * The values are the specification's, which ESP-IDF's TF-PSA-Crypto uses too
 * (../shared/sdk/esp-idf/components/mbedtls/mbedtls/tf-psa-crypto/include/psa/crypto_values.h
 * was compared); no code is copied. A few values the port does not use (other hashes, key
 * pairs, CCM) are here so that the tests can ask for them and check the refusal.
 */
#ifndef MQOTA_EMU_PSA_CRYPTO_H
#define MQOTA_EMU_PSA_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status codes (§8.1 PSA status codes) ---------------------------------------------- */

typedef int32_t psa_status_t; /* §8.1.1 */

#define PSA_SUCCESS ((psa_status_t)0) /* §8.1.2 */
/* §8.1.3 Error codes */
#define PSA_ERROR_GENERIC_ERROR ((psa_status_t)-132)
#define PSA_ERROR_NOT_PERMITTED ((psa_status_t)-133)
#define PSA_ERROR_NOT_SUPPORTED ((psa_status_t)-134)
#define PSA_ERROR_INVALID_ARGUMENT ((psa_status_t)-135)
#define PSA_ERROR_INVALID_HANDLE ((psa_status_t)-136)
#define PSA_ERROR_BAD_STATE ((psa_status_t)-137)
#define PSA_ERROR_BUFFER_TOO_SMALL ((psa_status_t)-138)
#define PSA_ERROR_ALREADY_EXISTS ((psa_status_t)-139)
#define PSA_ERROR_DOES_NOT_EXIST ((psa_status_t)-140)
#define PSA_ERROR_INSUFFICIENT_MEMORY ((psa_status_t)-141)
#define PSA_ERROR_INSUFFICIENT_STORAGE ((psa_status_t)-142)
#define PSA_ERROR_INSUFFICIENT_DATA ((psa_status_t)-143)
#define PSA_ERROR_COMMUNICATION_FAILURE ((psa_status_t)-145)
#define PSA_ERROR_STORAGE_FAILURE ((psa_status_t)-146)
#define PSA_ERROR_HARDWARE_FAILURE ((psa_status_t)-147)
#define PSA_ERROR_INSUFFICIENT_ENTROPY ((psa_status_t)-148)
#define PSA_ERROR_INVALID_SIGNATURE ((psa_status_t)-149)
#define PSA_ERROR_INVALID_PADDING ((psa_status_t)-150)
#define PSA_ERROR_CORRUPTION_DETECTED ((psa_status_t)-151)
#define PSA_ERROR_DATA_CORRUPT ((psa_status_t)-152)
#define PSA_ERROR_DATA_INVALID ((psa_status_t)-153)

/* ---- algorithms (§10.1 Algorithms; encoding: Appendix B.1) ------------------------------ */

typedef uint32_t psa_algorithm_t; /* §10.1.1 */

#define PSA_ALG_NONE ((psa_algorithm_t)0)
/* The category is bits 24..30; a hash algorithm's low byte names it inside other algorithms
 * (B.1). */
#define PSA_ALG_CATEGORY_MASK ((psa_algorithm_t)0x7f000000)
#define PSA_ALG_CATEGORY_HASH ((psa_algorithm_t)0x02000000)
#define PSA_ALG_CATEGORY_AEAD ((psa_algorithm_t)0x05000000)
#define PSA_ALG_CATEGORY_SIGN ((psa_algorithm_t)0x06000000)
#define PSA_ALG_HASH_MASK ((psa_algorithm_t)0x000000ff)
#define PSA_ALG_IS_HASH(alg) (((alg) & PSA_ALG_CATEGORY_MASK) == PSA_ALG_CATEGORY_HASH)
#define PSA_ALG_IS_AEAD(alg) (((alg) & PSA_ALG_CATEGORY_MASK) == PSA_ALG_CATEGORY_AEAD)
#define PSA_ALG_IS_SIGN(alg) (((alg) & PSA_ALG_CATEGORY_MASK) == PSA_ALG_CATEGORY_SIGN)

/* §10.2.1 Hash algorithms */
#define PSA_ALG_SHA_224 ((psa_algorithm_t)0x02000008)
#define PSA_ALG_SHA_256 ((psa_algorithm_t)0x02000009)
#define PSA_ALG_SHA_384 ((psa_algorithm_t)0x0200000a)
#define PSA_ALG_SHA_512 ((psa_algorithm_t)0x0200000b)
/* A key policy's wildcard for the hash of a signature algorithm (§10.2.1, §9.5.1). */
#define PSA_ALG_ANY_HASH ((psa_algorithm_t)0x020000ff)
/* §10.2.4: the length of a hash algorithm's output, in bytes (0: not one of these). */
#define PSA_HASH_LENGTH(alg)                                                                   \
    ((alg) == PSA_ALG_SHA_224   ? 28u                                                          \
     : (alg) == PSA_ALG_SHA_256 ? 32u                                                          \
     : (alg) == PSA_ALG_SHA_384 ? 48u                                                          \
     : (alg) == PSA_ALG_SHA_512 ? 64u                                                          \
                                : 0u)

/* §10.5.1 AEAD algorithms: GCM with its default 16-byte tag; CCM only to be refused. */
#define PSA_ALG_CCM ((psa_algorithm_t)0x05500100)
#define PSA_ALG_GCM ((psa_algorithm_t)0x05500200)

/* §10.7.1 Asymmetric signature algorithms: randomized ECDSA over the hash `hash_alg`
 * (SEC 1 §4.1); the signature is r || s, each as big as the curve's order. */
#define PSA_ALG_ECDSA_BASE ((psa_algorithm_t)0x06000600)
#define PSA_ALG_ECDSA(hash_alg) (PSA_ALG_ECDSA_BASE | ((hash_alg) & PSA_ALG_HASH_MASK))
#define PSA_ALG_IS_ECDSA(alg) (((alg) & ~PSA_ALG_HASH_MASK) == PSA_ALG_ECDSA_BASE)

/* ---- key types (§9.2 Key types; encoding: Appendix B.2) ---------------------------------- */

typedef uint16_t psa_key_type_t; /* §9.2.1 */
typedef uint8_t psa_ecc_family_t; /* §9.2.5 */

#define PSA_KEY_TYPE_NONE ((psa_key_type_t)0x0000)
/* §9.2.3 Symmetric keys */
#define PSA_KEY_TYPE_RAW_DATA ((psa_key_type_t)0x1001)
#define PSA_KEY_TYPE_AES ((psa_key_type_t)0x2400)
/* §9.2.5 Elliptic Curve keys: the family is the low byte of the key type. */
#define PSA_KEY_TYPE_ECC_PUBLIC_KEY_BASE ((psa_key_type_t)0x4100)
#define PSA_KEY_TYPE_ECC_KEY_PAIR_BASE ((psa_key_type_t)0x7100)
#define PSA_KEY_TYPE_ECC_CURVE_MASK ((psa_key_type_t)0x00ff)
#define PSA_KEY_TYPE_ECC_PUBLIC_KEY(curve)                                                     \
    ((psa_key_type_t)(PSA_KEY_TYPE_ECC_PUBLIC_KEY_BASE | (curve)))
#define PSA_KEY_TYPE_ECC_KEY_PAIR(curve)                                                       \
    ((psa_key_type_t)(PSA_KEY_TYPE_ECC_KEY_PAIR_BASE | (curve)))
#define PSA_ECC_FAMILY_SECP_K1 ((psa_ecc_family_t)0x17)
#define PSA_ECC_FAMILY_SECP_R1 ((psa_ecc_family_t)0x12) /* P-192 .. P-521; P-256 = 256 bits */

/* ---- key identifiers (§9.4) and policies (§9.5) -------------------------------------------- */

typedef uint32_t psa_key_id_t; /* §9.4 */
#define PSA_KEY_ID_NULL ((psa_key_id_t)0)
#define PSA_KEY_ID_USER_MIN ((psa_key_id_t)0x00000001)
#define PSA_KEY_ID_USER_MAX ((psa_key_id_t)0x3fffffff)
#define PSA_KEY_ID_VENDOR_MIN ((psa_key_id_t)0x40000000)
#define PSA_KEY_ID_VENDOR_MAX ((psa_key_id_t)0x7fffffff)

typedef uint32_t psa_key_usage_t; /* §9.5.2 Key usage flags */
#define PSA_KEY_USAGE_EXPORT ((psa_key_usage_t)0x00000001)
#define PSA_KEY_USAGE_COPY ((psa_key_usage_t)0x00000002)
#define PSA_KEY_USAGE_CACHE ((psa_key_usage_t)0x00000004)
#define PSA_KEY_USAGE_ENCRYPT ((psa_key_usage_t)0x00000100)
#define PSA_KEY_USAGE_DECRYPT ((psa_key_usage_t)0x00000200)
#define PSA_KEY_USAGE_SIGN_MESSAGE ((psa_key_usage_t)0x00000400)
#define PSA_KEY_USAGE_VERIFY_MESSAGE ((psa_key_usage_t)0x00000800)
#define PSA_KEY_USAGE_SIGN_HASH ((psa_key_usage_t)0x00001000)
#define PSA_KEY_USAGE_VERIFY_HASH ((psa_key_usage_t)0x00002000)
#define PSA_KEY_USAGE_DERIVE ((psa_key_usage_t)0x00004000)
#define PSA_KEY_USAGE_VERIFY_DERIVATION ((psa_key_usage_t)0x00008000)

/* ---- key attributes (§9.1) ---------------------------------------------------------------- */

/**
 * @brief A key's attributes before it is created (§9.1): type, size in bits (0: taken from
 *        the key data), usage flags and the one permitted algorithm. Every key here is
 *        volatile (§9.3): it lives until psa_destroy_key() or the emulated chip's reset.
 *        Fields are the emulation's own; use the functions below.
 */
typedef struct {
    psa_key_type_t type;
    size_t bits;
    psa_key_usage_t usage;
    psa_algorithm_t alg;
} psa_key_attributes_t;

#define PSA_KEY_ATTRIBUTES_INIT {0, 0, 0, 0}

/** @brief A key attributes object with no type, size 0, no usage, PSA_ALG_NONE (§9.1). */
psa_key_attributes_t psa_key_attributes_init(void);
/** @brief Set the key type (§9.2.7). */
void psa_set_key_type(psa_key_attributes_t *attributes, psa_key_type_t type);
/** @brief Set the key size in bits; 0 takes it from the key data (§9.2.7). */
void psa_set_key_bits(psa_key_attributes_t *attributes, size_t bits);
/** @brief Set the usage flags, replacing earlier ones (§9.5.2). */
void psa_set_key_usage_flags(psa_key_attributes_t *attributes, psa_key_usage_t usage_flags);
/** @brief Set the one algorithm the key may be used with (§9.5.1). */
void psa_set_key_algorithm(psa_key_attributes_t *attributes, psa_algorithm_t alg);
/** @brief Return the object to its initial value (§9.1). */
void psa_reset_key_attributes(psa_key_attributes_t *attributes);

/* ---- library, keys, operations ----------------------------------------------------------- */

/**
 * @brief Start the library (§8.2.2). Every other function here except the attribute functions
 *        and psa_hash_abort() answers PSA_ERROR_BAD_STATE before it. May be called again.
 * @return PSA_SUCCESS.
 */
psa_status_t psa_crypto_init(void);

/**
 * @brief Import a key (§9.6.1) in the format of §9.6.3: AES 16, 24 or 32 raw bytes; an
 *        ECC SECP_R1 256-bit public key as the 65-byte uncompressed point 0x04 || X || Y on the
 *        curve.
 * @param[in]  attributes  Type, size (0 or the data's), usage, algorithm.
 * @param[in]  data        The key data.
 * @param[in]  data_length Its length in bytes.
 * @param[out] key         On success the new key's identifier, else PSA_KEY_ID_NULL.
 * @return PSA_SUCCESS; PSA_ERROR_BAD_STATE (no psa_crypto_init()); PSA_ERROR_INVALID_ARGUMENT
 *         (no type, unknown usage flags, malformed data, a point not on the curve, a size
 *         other than the data's, a NULL pointer); PSA_ERROR_NOT_SUPPORTED (another type or
 *         curve size); PSA_ERROR_INSUFFICIENT_MEMORY.
 */
psa_status_t psa_import_key(const psa_key_attributes_t *attributes, const uint8_t *data,
                            size_t data_length, psa_key_id_t *key);

/**
 * @brief Destroy a key and wipe its material (§9.6.2). Its identifier is not given again soon.
 * @param[in] key The key; PSA_KEY_ID_NULL does nothing.
 * @return PSA_SUCCESS; PSA_ERROR_BAD_STATE; PSA_ERROR_INVALID_HANDLE (no such key).
 */
psa_status_t psa_destroy_key(psa_key_id_t key);

/**
 * @brief A hash operation (§10.2.3), kept by value by its user. Inactive when initialised,
 *        active after psa_hash_setup(), in an error state after a failed update or finish
 *        until psa_hash_abort(). Fields are the emulation's own.
 */
struct evp_md_ctx_st; /* OpenSSL's EVP_MD_CTX, named without including OpenSSL */

typedef struct {
    psa_algorithm_t alg; /* PSA_ALG_NONE: inactive */
    uint32_t state;      /* 0 inactive, 1 active, 2 error */
    uint32_t slot;       /* where psa_emu.c registered ctx */
    uint32_t serial;     /* that registration's number: a stale copy is told apart */
    struct evp_md_ctx_st *ctx; /* EVP_MD_CTX *, NULL when inactive */
} psa_hash_operation_t;

#define PSA_HASH_OPERATION_INIT {0, 0, 0, 0, NULL}

/** @brief An inactive hash operation (§10.2.3). */
psa_hash_operation_t psa_hash_operation_init(void);

/**
 * @brief Start a multi-part hash (§10.2.3).
 * @param[in,out] operation Inactive.
 * @param[in]     alg       PSA_ALG_SHA_256.
 * @return PSA_SUCCESS; PSA_ERROR_BAD_STATE (not inactive, or no psa_crypto_init());
 *         PSA_ERROR_INVALID_ARGUMENT (not a hash); PSA_ERROR_NOT_SUPPORTED (another hash);
 *         PSA_ERROR_INSUFFICIENT_MEMORY.
 */
psa_status_t psa_hash_setup(psa_hash_operation_t *operation, psa_algorithm_t alg);

/**
 * @brief Add input to an active hash (§10.2.3).
 * @param[in,out] operation   Active.
 * @param[in]     input       The bytes (may be NULL when input_length is 0).
 * @param[in]     input_length Their count.
 * @return PSA_SUCCESS; PSA_ERROR_BAD_STATE (not active); PSA_ERROR_INVALID_ARGUMENT.
 */
psa_status_t psa_hash_update(psa_hash_operation_t *operation, const uint8_t *input,
                             size_t input_length);

/**
 * @brief Finish an active hash (§10.2.3); the operation becomes inactive on success and
 *        enters the error state on any other answer.
 * @param[in,out] operation   Active.
 * @param[out]    hash        The digest.
 * @param[in]     hash_size   Room in hash, in bytes.
 * @param[out]    hash_length The digest's length, in bytes.
 * @return PSA_SUCCESS; PSA_ERROR_BAD_STATE; PSA_ERROR_BUFFER_TOO_SMALL (hash_size below
 *         PSA_HASH_LENGTH(alg)); PSA_ERROR_INVALID_ARGUMENT.
 */
psa_status_t psa_hash_finish(psa_hash_operation_t *operation, uint8_t *hash, size_t hash_size,
                             size_t *hash_length);

/**
 * @brief Abort a hash operation in any state (§10.2.3); it becomes inactive.
 * @param[in,out] operation Initialised.
 * @return PSA_SUCCESS; PSA_ERROR_INVALID_ARGUMENT (NULL).
 */
psa_status_t psa_hash_abort(psa_hash_operation_t *operation);

/**
 * @brief Verify an ECDSA signature of a hash (§10.7.2).
 * @param[in] key              A public key with PSA_KEY_USAGE_VERIFY_HASH for alg.
 * @param[in] alg              PSA_ALG_ECDSA(PSA_ALG_SHA_256).
 * @param[in] hash             The digest; hash_length must be the hash algorithm's length.
 * @param[in] hash_length      Its length, in bytes.
 * @param[in] signature        r || s, big-endian, 32 bytes each for P-256.
 * @param[in] signature_length Its length, in bytes.
 * @return PSA_SUCCESS; PSA_ERROR_INVALID_SIGNATURE (not a signature of this hash by this key,
 *         or not 64 bytes); PSA_ERROR_BAD_STATE; PSA_ERROR_INVALID_HANDLE;
 *         PSA_ERROR_NOT_PERMITTED (usage or algorithm outside the key's policy);
 *         PSA_ERROR_INVALID_ARGUMENT (not a signature algorithm, key not a public key, wrong
 *         hash length); PSA_ERROR_NOT_SUPPORTED (another hash).
 */
psa_status_t psa_verify_hash(psa_key_id_t key, psa_algorithm_t alg, const uint8_t *hash,
                             size_t hash_length, const uint8_t *signature,
                             size_t signature_length);

/**
 * @brief Authenticated encryption in one call (§10.5.2): ciphertext || 16-byte tag.
 * @param[in]  key                    An AES key with PSA_KEY_USAGE_ENCRYPT for alg.
 * @param[in]  alg                    PSA_ALG_GCM.
 * @param[in]  nonce                  The nonce (IV); 12 bytes is GCM's usual length.
 * @param[in]  nonce_length           Its length, at least 1.
 * @param[in]  additional_data        Authenticated, not encrypted.
 * @param[in]  additional_data_length Its length.
 * @param[in]  plaintext              The message.
 * @param[in]  plaintext_length       Its length.
 * @param[out] ciphertext             Room for plaintext_length + 16 bytes.
 * @param[in]  ciphertext_size        That room, in bytes.
 * @param[out] ciphertext_length      Bytes written (0 on failure).
 * @return PSA_SUCCESS; PSA_ERROR_BUFFER_TOO_SMALL; PSA_ERROR_BAD_STATE;
 *         PSA_ERROR_INVALID_HANDLE; PSA_ERROR_NOT_PERMITTED; PSA_ERROR_INVALID_ARGUMENT (not an
 *         AEAD algorithm, not an AES key, empty nonce); PSA_ERROR_NOT_SUPPORTED (another AEAD).
 */
psa_status_t psa_aead_encrypt(psa_key_id_t key, psa_algorithm_t alg, const uint8_t *nonce,
                              size_t nonce_length, const uint8_t *additional_data,
                              size_t additional_data_length, const uint8_t *plaintext,
                              size_t plaintext_length, uint8_t *ciphertext,
                              size_t ciphertext_size, size_t *ciphertext_length);

/**
 * @brief Authenticated decryption in one call (§10.5.2) of ciphertext || 16-byte tag.
 * @param[in]  key                    An AES key with PSA_KEY_USAGE_DECRYPT for alg.
 * @param[in]  alg                    PSA_ALG_GCM.
 * @param[in]  nonce                  The nonce it was sealed with.
 * @param[in]  nonce_length           Its length, at least 1.
 * @param[in]  additional_data        As sealed.
 * @param[in]  additional_data_length Its length.
 * @param[in]  ciphertext             Ciphertext followed by the tag.
 * @param[in]  ciphertext_length      Its length, at least 16.
 * @param[out] plaintext              Room for ciphertext_length - 16 bytes; wiped on failure.
 * @param[in]  plaintext_size         That room, in bytes.
 * @param[out] plaintext_length       Bytes written (0 on failure).
 * @return PSA_SUCCESS; PSA_ERROR_INVALID_SIGNATURE (not authentic: tag, ciphertext, data,
 *         nonce or key differ); PSA_ERROR_BUFFER_TOO_SMALL; PSA_ERROR_BAD_STATE;
 *         PSA_ERROR_INVALID_HANDLE; PSA_ERROR_NOT_PERMITTED; PSA_ERROR_INVALID_ARGUMENT
 *         (shorter than the tag, as for encrypt); PSA_ERROR_NOT_SUPPORTED.
 */
psa_status_t psa_aead_decrypt(psa_key_id_t key, psa_algorithm_t alg, const uint8_t *nonce,
                              size_t nonce_length, const uint8_t *additional_data,
                              size_t additional_data_length, const uint8_t *ciphertext,
                              size_t ciphertext_length, uint8_t *plaintext,
                              size_t plaintext_size, size_t *plaintext_length);

#ifdef __cplusplus
}
#endif

#endif /* MQOTA_EMU_PSA_CRYPTO_H */
