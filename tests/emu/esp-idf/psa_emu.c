/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Host emulation of exactly the PSA Crypto functions the ESP-IDF port calls
 * (ports/esp-idf/src/mqota_esp.c and mqota_esp_platform.c), on OpenSSL's libcrypto 3 (EVP):
 * SHA-256 as a multi-part hash, ECDSA P-256 verification of a hash, AES-GCM in one call, and
 * the volatile key store those need.
 *
 * Each function does what the PSA Certified Crypto API 1.1 (Arm IHI 0086) specifies for it:
 * what it refuses and with which psa_status_t, cited by section beside it. Where the
 * specification lets an implementation choose (the order of checks, what an error leaves in an
 * output buffer, the identifier a volatile key gets) the choice is said beside the code. No
 * cryptography is written here: OpenSSL does every computation.
 *
 * The key store is a table of slots, one per key, grown as needed (the fleet runs thousands of
 * devices in one process, each importing up to two keys). A key's identifier is its slot plus
 * a generation in the vendor range (§9.4), and freed slots are reused oldest first, so a
 * destroyed identifier comes back only after many more imports. Hash operations live in the
 * user's psa_hash_operation_t (by value, as the port keeps one in its state) and point to an
 * EVP_MD_CTX that is also registered here with its owner, so that a chip's reset
 * (psa_emu_forget()) frees it and a stale copy is refused instead of used after free.
 *
 * Not emulated: persistent keys and lifetimes (every key is volatile), key export, copy and
 * generation, private keys, the multi-part AEAD and signature-of-message functions, hash
 * clone/verify/compute, PSA_ALG_DETERMINISTIC_ECDSA, AEAD with a shortened tag, and every
 * other algorithm the port does not use (refused with PSA_ERROR_NOT_SUPPORTED).
 */
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "psa/crypto.h"
#include "psa_emu.h"

#define SLOT_BITS 20u                      /* slots a key identifier can name (over 10^6 keys) */
#define SLOT_MASK ((1u << SLOT_BITS) - 1u)
#define GEN_MASK ((PSA_KEY_ID_VENDOR_MAX - PSA_KEY_ID_VENDOR_MIN) >> SLOT_BITS) /* 10 bits */
#define NO_SLOT UINT32_MAX                 /* end of a free list */
#define GCM_TAG_LEN 16u                    /* PSA_ALG_GCM's default tag (§10.5.1) */
#define P256_BYTES 32u                     /* a P-256 coordinate, r or s */
#define P256_POINT_LEN (1u + 2u * P256_BYTES) /* 0x04 || X || Y (§9.6.3, SEC 1 §2.3.3) */
#define USAGE_KNOWN                                                                            \
    (PSA_KEY_USAGE_EXPORT | PSA_KEY_USAGE_COPY | PSA_KEY_USAGE_CACHE | PSA_KEY_USAGE_ENCRYPT | \
     PSA_KEY_USAGE_DECRYPT | PSA_KEY_USAGE_SIGN_MESSAGE | PSA_KEY_USAGE_VERIFY_MESSAGE |       \
     PSA_KEY_USAGE_SIGN_HASH | PSA_KEY_USAGE_VERIFY_HASH | PSA_KEY_USAGE_DERIVE |              \
     PSA_KEY_USAGE_VERIFY_DERIVATION)

enum { OP_INACTIVE = 0, OP_ACTIVE = 1, OP_ERROR = 2 }; /* psa_hash_operation_t.state */

typedef struct {
    psa_key_id_t id; /* PSA_KEY_ID_NULL: the slot is free */
    uint32_t gen;    /* generation of the slot's next or current key */
    uint32_t next_free;
    const void *owner;
    psa_key_type_t type;
    size_t bits;
    psa_key_usage_t usage;
    psa_algorithm_t alg;
    uint8_t aes[32]; /* AES key material */
    EVP_PKEY *pub;   /* P-256 public key */
} emu_key_t;

typedef struct {
    EVP_MD_CTX *ctx; /* NULL: free */
    uint32_t serial;
    uint32_t next_free;
    const void *owner;
} emu_hash_t;

typedef struct {
    void *v;             /* the entries */
    uint32_t n, cap;     /* entries made, room */
    uint32_t head, tail; /* free list, oldest first */
    size_t live;         /* entries in use */
} table_t;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static bool initialised;
static table_t keys = {NULL, 0, 0, NO_SLOT, NO_SLOT, 0};
static table_t hashes = {NULL, 0, 0, NO_SLOT, NO_SLOT, 0};
static uint32_t next_serial = 1;
static _Thread_local const void *owner;

/* ---- tables ------------------------------------------------------------------------------- */

/* Entry i of each table; tables are generic below, and reach an entry's next_free through
 * key_next() or hash_next(). */
static emu_key_t *key_at(uint32_t i) { return (emu_key_t *)keys.v + i; }
static emu_hash_t *hash_at(uint32_t i) { return (emu_hash_t *)hashes.v + i; }

/* A free entry of `t`: the oldest freed one, or a new one at the end (the table doubled when
 * full). Returns its index, or NO_SLOT when memory or the identifier space (SLOT_BITS) runs
 * out. `next_of` gives an entry's next_free field. Called with the lock held. */
static uint32_t table_take(table_t *t, size_t size, uint32_t *(*next_of)(uint32_t))
{
    if (t->head != NO_SLOT) {
        uint32_t i = t->head;
        t->head = *next_of(i);
        if (t->head == NO_SLOT) t->tail = NO_SLOT;
        t->live++;
        return i;
    }
    if (t->n == t->cap) {
        uint32_t cap = t->cap ? t->cap * 2u : 64u;
        if (cap > SLOT_MASK + 1u) return NO_SLOT;
        void *v = realloc(t->v, (size_t)cap * size);
        if (v == NULL) return NO_SLOT;
        t->v = v;
        t->cap = cap;
    }
    memset((char *)t->v + (size_t)t->n * size, 0, size);
    t->live++;
    return t->n++;
}

/* Put entry i at the end of the free list of `t`. Called with the lock held. */
static void table_give(table_t *t, uint32_t i, uint32_t *(*next_of)(uint32_t))
{
    *next_of(i) = NO_SLOT;
    if (t->tail == NO_SLOT) t->head = i;
    else *next_of(t->tail) = i;
    t->tail = i;
    t->live--;
}

static uint32_t *key_next(uint32_t i) { return &key_at(i)->next_free; }
static uint32_t *hash_next(uint32_t i) { return &hash_at(i)->next_free; }

static void table_free(table_t *t)
{
    free(t->v);
    memset(t, 0, sizeof(*t));
    t->head = t->tail = NO_SLOT;
}

/* Wipe and free key slot i's material and give the slot back. Called with the lock held. */
static void key_drop(uint32_t i)
{
    emu_key_t *k = key_at(i);
    OPENSSL_cleanse(k->aes, sizeof(k->aes));
    EVP_PKEY_free(k->pub);
    k->pub = NULL;
    k->id = PSA_KEY_ID_NULL;
    k->owner = NULL;
    k->gen = (k->gen + 1u) & GEN_MASK;
    table_give(&keys, i, key_next);
}

/* Free hash slot i's EVP_MD_CTX and give the slot back. Called with the lock held. */
static void hash_drop(uint32_t i)
{
    emu_hash_t *h = hash_at(i);
    EVP_MD_CTX_free(h->ctx);
    h->ctx = NULL;
    h->owner = NULL;
    table_give(&hashes, i, hash_next);
}

/* The calling thread's key `id`, or NULL if there is none of its owner (another chip's key
 * does not exist on this one). Called with the lock held. */
static emu_key_t *key_find(psa_key_id_t id)
{
    if (id < PSA_KEY_ID_VENDOR_MIN || id > PSA_KEY_ID_VENDOR_MAX) return NULL;
    uint32_t i = (id - PSA_KEY_ID_VENDOR_MIN) & SLOT_MASK;
    if (i >= keys.n) return NULL;
    emu_key_t *k = key_at(i);
    return k->id == id && k->owner == owner ? k : NULL;
}

/* ---- control (psa_emu.h) ------------------------------------------------------------------ */

void psa_emu_set_owner(const void *o) { owner = o; }

void psa_emu_forget(const void *o)
{
    pthread_mutex_lock(&lock);
    for (uint32_t i = 0; i < keys.n; i++)
        if (key_at(i)->id != PSA_KEY_ID_NULL && key_at(i)->owner == o) key_drop(i);
    for (uint32_t i = 0; i < hashes.n; i++)
        if (hash_at(i)->ctx != NULL && hash_at(i)->owner == o) hash_drop(i);
    pthread_mutex_unlock(&lock);
}

void psa_emu_reset(void)
{
    pthread_mutex_lock(&lock);
    for (uint32_t i = 0; i < keys.n; i++)
        if (key_at(i)->id != PSA_KEY_ID_NULL) key_drop(i);
    for (uint32_t i = 0; i < hashes.n; i++)
        if (hash_at(i)->ctx != NULL) hash_drop(i);
    table_free(&keys);
    table_free(&hashes);
    initialised = false;
    pthread_mutex_unlock(&lock);
}

size_t psa_emu_key_count(void)
{
    pthread_mutex_lock(&lock);
    size_t n = keys.live;
    pthread_mutex_unlock(&lock);
    return n;
}

size_t psa_emu_hash_count(void)
{
    pthread_mutex_lock(&lock);
    size_t n = hashes.live;
    pthread_mutex_unlock(&lock);
    return n;
}

/* ---- library (§8.2) ----------------------------------------------------------------------- */

/* §8.2.2 psa_crypto_init(): may be called more than once; once it has succeeded, later calls
 * succeed. Before it, the specification leaves other calls undefined and encourages
 * PSA_ERROR_BAD_STATE, which every function below answers (except the attribute functions,
 * which touch no state, and psa_hash_abort(), which must always be able to clean up). */
psa_status_t psa_crypto_init(void)
{
    pthread_mutex_lock(&lock);
    initialised = true;
    pthread_mutex_unlock(&lock);
    return PSA_SUCCESS;
}

static bool is_initialised(void)
{
    pthread_mutex_lock(&lock);
    bool r = initialised;
    pthread_mutex_unlock(&lock);
    return r;
}

/* ---- key attributes (§9.1, §9.2.7, §9.5) ------------------------------------------------ */

psa_key_attributes_t psa_key_attributes_init(void)
{
    psa_key_attributes_t a = PSA_KEY_ATTRIBUTES_INIT;
    return a;
}

void psa_set_key_type(psa_key_attributes_t *a, psa_key_type_t type) { a->type = type; }
void psa_set_key_bits(psa_key_attributes_t *a, size_t bits) { a->bits = bits; }
void psa_set_key_usage_flags(psa_key_attributes_t *a, psa_key_usage_t u) { a->usage = u; }
void psa_set_key_algorithm(psa_key_attributes_t *a, psa_algorithm_t alg) { a->alg = alg; }

/* §9.1 psa_reset_key_attributes(): back to the initial value (nothing here is allocated). */
void psa_reset_key_attributes(psa_key_attributes_t *a) { *a = psa_key_attributes_init(); }

/* ---- key creation and destruction (§9.6) ------------------------------------------------ */

/* AES key data (§9.2.3 PSA_KEY_TYPE_AES, §9.6.3): the raw key, 16, 24 or 32 bytes. Another
 * length is key data "not correctly formatted": PSA_ERROR_INVALID_ARGUMENT. */
static psa_status_t import_aes(emu_key_t *k, const uint8_t *data, size_t len)
{
    if (len != 16 && len != 24 && len != 32) return PSA_ERROR_INVALID_ARGUMENT;
    memcpy(k->aes, data, len);
    k->bits = len * 8u;
    return PSA_SUCCESS;
}

/* A SECP_R1 public key (§9.2.5, its format in §9.6.3): the uncompressed point 0x04 || X || Y
 * of SEC 1 §2.3.3, each coordinate as long as the curve's field. Only P-256 is emulated: the
 * lengths of the family's other curves (P-192, P-224, P-384, P-521) are a supported format of
 * an unsupported size, PSA_ERROR_NOT_SUPPORTED; any other length, another first byte or a
 * point that is not on P-256 (OpenSSL's EVP_PKEY_public_check) is PSA_ERROR_INVALID_ARGUMENT. */
static psa_status_t import_p256(emu_key_t *k, const uint8_t *data, size_t len)
{
    if (len == 0 || data[0] != 0x04) return PSA_ERROR_INVALID_ARGUMENT;
    if (len == 49 || len == 57 || len == 97 || len == 133) return PSA_ERROR_NOT_SUPPORTED;
    if (len != P256_POINT_LEN) return PSA_ERROR_INVALID_ARGUMENT;

    unsigned char point[P256_POINT_LEN];
    char group[] = "prime256v1";
    memcpy(point, data, sizeof(point));
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point)),
        OSSL_PARAM_construct_end(),
    };
    psa_status_t st = PSA_ERROR_INVALID_ARGUMENT;
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *check = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (ctx == NULL) return PSA_ERROR_INSUFFICIENT_MEMORY;
    if (EVP_PKEY_fromdata_init(ctx) != 1) {
        st = PSA_ERROR_GENERIC_ERROR;
        goto out;
    }
    if (EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) goto out;
    check = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    if (check == NULL) {
        st = PSA_ERROR_INSUFFICIENT_MEMORY;
        goto out;
    }
    if (EVP_PKEY_public_check(check) != 1) goto out;
    k->pub = pkey;
    pkey = NULL;
    k->bits = 256;
    st = PSA_SUCCESS;
out:
    EVP_PKEY_CTX_free(check);
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(pkey);
    return st;
}

/* §9.6.1 psa_import_key(). The key type decides how the data is read; the size is the data's,
 * and a nonzero size in the attributes must equal it (else PSA_ERROR_INVALID_ARGUMENT). No
 * type, or usage flags the specification does not define, are invalid attributes
 * (PSA_ERROR_INVALID_ARGUMENT); a type the emulation does not implement (key pairs, other
 * curve families, RSA, raw data...) is PSA_ERROR_NOT_SUPPORTED. The algorithm policy is only
 * stored: the specification checks it when the key is used (§9.5.1). The new key is volatile
 * and gets an identifier in the vendor range (§9.4); on failure *key is PSA_KEY_ID_NULL. */
psa_status_t psa_import_key(const psa_key_attributes_t *attributes, const uint8_t *data,
                            size_t data_length, psa_key_id_t *key)
{
    if (key != NULL) *key = PSA_KEY_ID_NULL;
    if (!is_initialised()) return PSA_ERROR_BAD_STATE;
    if (attributes == NULL || key == NULL || (data == NULL && data_length > 0))
        return PSA_ERROR_INVALID_ARGUMENT;
    if (attributes->type == PSA_KEY_TYPE_NONE || (attributes->usage & ~USAGE_KNOWN) != 0)
        return PSA_ERROR_INVALID_ARGUMENT;

    emu_key_t k;
    memset(&k, 0, sizeof(k));
    psa_status_t st;
    if (attributes->type == PSA_KEY_TYPE_AES)
        st = import_aes(&k, data, data_length);
    else if (attributes->type == PSA_KEY_TYPE_ECC_PUBLIC_KEY(PSA_ECC_FAMILY_SECP_R1))
        st = import_p256(&k, data, data_length);
    else
        return PSA_ERROR_NOT_SUPPORTED;
    if (st == PSA_SUCCESS && attributes->bits != 0 && attributes->bits != k.bits)
        st = PSA_ERROR_INVALID_ARGUMENT;
    if (st != PSA_SUCCESS) {
        OPENSSL_cleanse(k.aes, sizeof(k.aes));
        EVP_PKEY_free(k.pub);
        return st;
    }

    pthread_mutex_lock(&lock);
    uint32_t i = table_take(&keys, sizeof(emu_key_t), key_next);
    if (i == NO_SLOT) {
        pthread_mutex_unlock(&lock);
        OPENSSL_cleanse(k.aes, sizeof(k.aes));
        EVP_PKEY_free(k.pub);
        return PSA_ERROR_INSUFFICIENT_MEMORY;
    }
    emu_key_t *slot = key_at(i);
    k.gen = slot->gen;
    k.id = PSA_KEY_ID_VENDOR_MIN + ((k.gen << SLOT_BITS) | i);
    k.owner = owner;
    k.type = attributes->type;
    k.usage = attributes->usage;
    k.alg = attributes->alg;
    *slot = k;
    *key = k.id;
    pthread_mutex_unlock(&lock);
    OPENSSL_cleanse(k.aes, sizeof(k.aes));
    return PSA_SUCCESS;
}

/* §9.6.2 psa_destroy_key(): PSA_KEY_ID_NULL does nothing and succeeds; an identifier that
 * names no key (never given, destroyed, or another chip's) is PSA_ERROR_INVALID_HANDLE. The
 * material is wiped (OPENSSL_cleanse) before the slot is reused. */
psa_status_t psa_destroy_key(psa_key_id_t key)
{
    pthread_mutex_lock(&lock);
    psa_status_t st = PSA_SUCCESS;
    if (!initialised) {
        st = PSA_ERROR_BAD_STATE;
    } else if (key != PSA_KEY_ID_NULL) {
        emu_key_t *k = key_find(key);
        if (k == NULL) st = PSA_ERROR_INVALID_HANDLE;
        else key_drop((uint32_t)(k - key_at(0)));
    }
    pthread_mutex_unlock(&lock);
    return st;
}

/* Whether the key's permitted algorithm `policy` allows `alg` (§9.5.1): the same value, or a
 * signature policy built with PSA_ALG_ANY_HASH and `alg` the same scheme with a real hash.
 * PSA_ALG_NONE allows nothing. */
static bool policy_permits(psa_algorithm_t policy, psa_algorithm_t alg)
{
    if (policy == PSA_ALG_NONE || alg == PSA_ALG_NONE) return false;
    if (policy == alg) return true;
    return PSA_ALG_IS_SIGN(policy) && (policy & PSA_ALG_HASH_MASK) == 0xffu &&
           (alg & ~PSA_ALG_HASH_MASK) == (policy & ~PSA_ALG_HASH_MASK) &&
           (alg & PSA_ALG_HASH_MASK) != 0u && (alg & PSA_ALG_HASH_MASK) != 0xffu;
}

/* Look up the calling chip's key `id` for an operation that needs `usage` with `alg`; the
 * checks every keyed function starts with, in this order: library started
 * (PSA_ERROR_BAD_STATE), key exists (PSA_ERROR_INVALID_HANDLE), usage flag and permitted
 * algorithm (PSA_ERROR_NOT_PERMITTED). On success the lock is held and *out is the key. */
static psa_status_t key_use(psa_key_id_t id, psa_key_usage_t usage, psa_algorithm_t alg,
                            emu_key_t **out)
{
    pthread_mutex_lock(&lock);
    psa_status_t st = PSA_SUCCESS;
    emu_key_t *k = NULL;
    if (!initialised) st = PSA_ERROR_BAD_STATE;
    else if ((k = key_find(id)) == NULL) st = PSA_ERROR_INVALID_HANDLE;
    else if ((k->usage & usage) != usage || !policy_permits(k->alg, alg))
        st = PSA_ERROR_NOT_PERMITTED;
    if (st != PSA_SUCCESS) pthread_mutex_unlock(&lock);
    *out = k;
    return st;
}

/* ---- message digests (§10.2) -------------------------------------------------------------- */

psa_hash_operation_t psa_hash_operation_init(void)
{
    psa_hash_operation_t op = PSA_HASH_OPERATION_INIT;
    return op;
}

/* OpenSSL's digest for a PSA hash algorithm (§10.2.1), or NULL if not emulated. */
static const EVP_MD *hash_md(psa_algorithm_t alg)
{
    switch (alg) {
    case PSA_ALG_SHA_224: return EVP_sha224();
    case PSA_ALG_SHA_256: return EVP_sha256();
    case PSA_ALG_SHA_384: return EVP_sha384();
    case PSA_ALG_SHA_512: return EVP_sha512();
    default: return NULL;
    }
}

/* Whether op's EVP_MD_CTX is still the one registered for it (not freed by a chip's reset).
 * Called with the lock held. */
static bool hash_registered(const psa_hash_operation_t *op)
{
    return op->ctx != NULL && op->slot < hashes.n && hash_at(op->slot)->ctx == op->ctx &&
           hash_at(op->slot)->serial == op->serial;
}

/* Every multi-part function that fails puts the operation in its error state, where only
 * psa_hash_abort() is accepted (§10.2.3 for each function, §3.3.2 Multi-part operations). */
static psa_status_t hash_fail(psa_hash_operation_t *op, psa_status_t st)
{
    op->state = OP_ERROR;
    return st;
}

/* §10.2.3 psa_hash_setup(): the operation must be inactive (else PSA_ERROR_BAD_STATE); `alg`
 * must be a hash (PSA_ERROR_INVALID_ARGUMENT) that is emulated (PSA_ERROR_NOT_SUPPORTED:
 * SHA-224/256/384/512 are). The EVP_MD_CTX is registered with the calling chip. */
psa_status_t psa_hash_setup(psa_hash_operation_t *operation, psa_algorithm_t alg)
{
    if (operation == NULL) return PSA_ERROR_INVALID_ARGUMENT;
    if (!is_initialised() || operation->state != OP_INACTIVE)
        return hash_fail(operation, PSA_ERROR_BAD_STATE);
    if (!PSA_ALG_IS_HASH(alg)) return hash_fail(operation, PSA_ERROR_INVALID_ARGUMENT);
    const EVP_MD *md = hash_md(alg);
    if (md == NULL) return hash_fail(operation, PSA_ERROR_NOT_SUPPORTED);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL) return hash_fail(operation, PSA_ERROR_INSUFFICIENT_MEMORY);
    if (EVP_DigestInit_ex(ctx, md, NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        return hash_fail(operation, PSA_ERROR_GENERIC_ERROR);
    }
    pthread_mutex_lock(&lock);
    uint32_t i = table_take(&hashes, sizeof(emu_hash_t), hash_next);
    if (i != NO_SLOT) {
        emu_hash_t *h = hash_at(i);
        h->ctx = ctx;
        h->serial = next_serial++;
        if (next_serial == 0) next_serial = 1;
        h->owner = owner;
        operation->slot = i;
        operation->serial = h->serial;
    }
    pthread_mutex_unlock(&lock);
    if (i == NO_SLOT) {
        EVP_MD_CTX_free(ctx);
        return hash_fail(operation, PSA_ERROR_INSUFFICIENT_MEMORY);
    }
    operation->alg = alg;
    operation->ctx = ctx;
    operation->state = OP_ACTIVE;
    return PSA_SUCCESS;
}

/* Whether op is active and its context still registered (not freed by psa_emu_forget()). */
static bool hash_usable(const psa_hash_operation_t *op)
{
    if (op->state != OP_ACTIVE) return false;
    pthread_mutex_lock(&lock);
    bool ok = initialised && hash_registered(op);
    pthread_mutex_unlock(&lock);
    return ok;
}

/* §10.2.3 psa_hash_update(): only on an active operation (PSA_ERROR_BAD_STATE otherwise). The
 * hashing itself runs outside the lock: an operation is its user's alone. */
psa_status_t psa_hash_update(psa_hash_operation_t *operation, const uint8_t *input,
                             size_t input_length)
{
    if (operation == NULL) return PSA_ERROR_INVALID_ARGUMENT;
    if (!hash_usable(operation)) return hash_fail(operation, PSA_ERROR_BAD_STATE);
    if (input == NULL && input_length > 0) return hash_fail(operation, PSA_ERROR_INVALID_ARGUMENT);
    if (input_length > 0 && EVP_DigestUpdate(operation->ctx, input, input_length) != 1)
        return hash_fail(operation, PSA_ERROR_GENERIC_ERROR);
    return PSA_SUCCESS;
}

/* Free op's registered context (if it still is registered) and make op inactive. */
static void hash_release(psa_hash_operation_t *op)
{
    pthread_mutex_lock(&lock);
    if (hash_registered(op)) hash_drop(op->slot);
    pthread_mutex_unlock(&lock);
    *op = psa_hash_operation_init();
}

/* §10.2.3 psa_hash_finish(): on an active operation, into a buffer of at least
 * PSA_HASH_LENGTH(alg) bytes (PSA_ERROR_BUFFER_TOO_SMALL, with the operation then in its error
 * state, not finished). Success makes the operation inactive. *hash_length is 0 on failure. */
psa_status_t psa_hash_finish(psa_hash_operation_t *operation, uint8_t *hash, size_t hash_size,
                             size_t *hash_length)
{
    if (hash_length != NULL) *hash_length = 0;
    if (operation == NULL) return PSA_ERROR_INVALID_ARGUMENT;
    if (!hash_usable(operation)) return hash_fail(operation, PSA_ERROR_BAD_STATE);
    if (hash == NULL || hash_length == NULL)
        return hash_fail(operation, PSA_ERROR_INVALID_ARGUMENT);
    size_t need = PSA_HASH_LENGTH(operation->alg);
    if (hash_size < need) return hash_fail(operation, PSA_ERROR_BUFFER_TOO_SMALL);
    unsigned int n = 0;
    if (EVP_DigestFinal_ex(operation->ctx, hash, &n) != 1 || n != need)
        return hash_fail(operation, PSA_ERROR_GENERIC_ERROR);
    *hash_length = n;
    hash_release(operation);
    return PSA_SUCCESS;
}

/* §10.2.3 psa_hash_abort(): allowed in every state, also on an inactive operation (nothing to
 * do) and before psa_crypto_init(); a second call is harmless. A context a chip's reset
 * already freed is not freed again. */
psa_status_t psa_hash_abort(psa_hash_operation_t *operation)
{
    if (operation == NULL) return PSA_ERROR_INVALID_ARGUMENT;
    hash_release(operation);
    return PSA_SUCCESS;
}

/* ---- asymmetric signature (§10.7) --------------------------------------------------------- */

/* r || s (each P256_BYTES, big-endian) as the DER ECDSA-Sig-Value OpenSSL verifies; its length,
 * or 0 if it cannot be encoded. *der is OPENSSL_free()d by the caller. */
static int sig_to_der(const uint8_t *sig, unsigned char **der)
{
    ECDSA_SIG *s = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, P256_BYTES, NULL);
    BIGNUM *t = BN_bin2bn(sig + P256_BYTES, P256_BYTES, NULL);
    int len = 0;
    if (s != NULL && r != NULL && t != NULL && ECDSA_SIG_set0(s, r, t) == 1) {
        r = t = NULL; /* owned by s now */
        *der = NULL;
        len = i2d_ECDSA_SIG(s, der);
        if (len < 0) len = 0;
    }
    BN_free(r);
    BN_free(t);
    ECDSA_SIG_free(s);
    return len;
}

/* §10.7.2 psa_verify_hash(), for PSA_ALG_ECDSA(hash) (§10.7.1) with a P-256 public key. After
 * the key checks (key_use()): `alg` must be a signature algorithm and the key a public key
 * (PSA_ERROR_INVALID_ARGUMENT), ECDSA over an emulated hash (PSA_ERROR_NOT_SUPPORTED; a
 * wildcard PSA_ALG_ANY_HASH belongs in policies only: PSA_ERROR_INVALID_ARGUMENT) and
 * hash_length that hash's length (PSA_ERROR_INVALID_ARGUMENT). A signature that is not
 * 2 x 32 bytes cannot be valid: PSA_ERROR_INVALID_SIGNATURE, as a wrong one. PSA's raw r || s
 * is given to OpenSSL as DER. */
psa_status_t psa_verify_hash(psa_key_id_t key, psa_algorithm_t alg, const uint8_t *hash,
                             size_t hash_length, const uint8_t *signature,
                             size_t signature_length)
{
    emu_key_t *k;
    psa_status_t st = key_use(key, PSA_KEY_USAGE_VERIFY_HASH, alg, &k);
    if (st != PSA_SUCCESS) return st;
    psa_algorithm_t hash_alg = PSA_ALG_CATEGORY_HASH | (alg & PSA_ALG_HASH_MASK);
    unsigned char *der = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    if (!PSA_ALG_IS_SIGN(alg) || k->pub == NULL || hash_alg == PSA_ALG_ANY_HASH)
        st = PSA_ERROR_INVALID_ARGUMENT;
    else if (!PSA_ALG_IS_ECDSA(alg) || hash_md(hash_alg) == NULL)
        st = PSA_ERROR_NOT_SUPPORTED;
    else if (hash == NULL || hash_length != PSA_HASH_LENGTH(hash_alg))
        st = PSA_ERROR_INVALID_ARGUMENT;
    else if (signature == NULL || signature_length != 2u * P256_BYTES)
        st = PSA_ERROR_INVALID_SIGNATURE;
    if (st != PSA_SUCCESS) goto out;

    int der_len = sig_to_der(signature, &der);
    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, k->pub, NULL);
    if (der_len == 0 || ctx == NULL) {
        st = PSA_ERROR_INSUFFICIENT_MEMORY;
        goto out;
    }
    if (EVP_PKEY_verify_init(ctx) != 1) {
        st = PSA_ERROR_GENERIC_ERROR;
        goto out;
    }
    /* 1: valid; 0 or a negative answer (r or s zero or not below the order): not valid. */
    st = EVP_PKEY_verify(ctx, der, (size_t)der_len, hash, hash_length) == 1
             ? PSA_SUCCESS
             : PSA_ERROR_INVALID_SIGNATURE;
out:
    EVP_PKEY_CTX_free(ctx);
    OPENSSL_free(der);
    pthread_mutex_unlock(&lock);
    return st;
}

/* ---- authenticated encryption (§10.5) ----------------------------------------------------- */

/* The checks psa_aead_encrypt() and psa_aead_decrypt() share, after key_use(): `alg` an AEAD
 * algorithm (PSA_ERROR_INVALID_ARGUMENT) that is emulated, PSA_ALG_GCM with its default tag
 * (PSA_ERROR_NOT_SUPPORTED), the key an AES key (PSA_ERROR_INVALID_ARGUMENT: not compatible
 * with alg), a nonce of at least one byte (GCM, NIST SP 800-38D §5.2.1.1), lengths OpenSSL
 * takes (int) and no NULL buffer with a nonzero length (PSA_ERROR_INVALID_ARGUMENT). */
static psa_status_t aead_check(const emu_key_t *k, psa_algorithm_t alg, const uint8_t *nonce,
                               size_t nonce_length, const uint8_t *ad, size_t ad_length,
                               const uint8_t *in, size_t in_length)
{
    if (!PSA_ALG_IS_AEAD(alg)) return PSA_ERROR_INVALID_ARGUMENT;
    if (alg != PSA_ALG_GCM) return PSA_ERROR_NOT_SUPPORTED;
    if (k->type != PSA_KEY_TYPE_AES) return PSA_ERROR_INVALID_ARGUMENT;
    if (nonce == NULL || nonce_length == 0 || nonce_length > INT_MAX)
        return PSA_ERROR_INVALID_ARGUMENT;
    if ((ad == NULL && ad_length > 0) || ad_length > INT_MAX) return PSA_ERROR_INVALID_ARGUMENT;
    if ((in == NULL && in_length > 0) || in_length > INT_MAX - GCM_TAG_LEN)
        return PSA_ERROR_INVALID_ARGUMENT;
    return PSA_SUCCESS;
}

/* An EVP cipher context for AES-GCM with k's key and the nonce, for encryption (enc = 1) or
 * decryption (0), with the additional data already given; NULL on failure. */
static EVP_CIPHER_CTX *gcm_start(const emu_key_t *k, int enc, const uint8_t *nonce,
                                 size_t nonce_length, const uint8_t *ad, size_t ad_length)
{
    const EVP_CIPHER *c = k->bits == 128   ? EVP_aes_128_gcm()
                          : k->bits == 192 ? EVP_aes_192_gcm()
                                           : EVP_aes_256_gcm();
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n = 0;
    if (ctx == NULL || EVP_CipherInit_ex(ctx, c, NULL, NULL, NULL, enc) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, (int)nonce_length, NULL) != 1 ||
        EVP_CipherInit_ex(ctx, NULL, NULL, k->aes, nonce, enc) != 1 ||
        (ad_length > 0 && EVP_CipherUpdate(ctx, NULL, &n, ad, (int)ad_length) != 1)) {
        EVP_CIPHER_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

/* §10.5.2 psa_aead_encrypt(): the output is the ciphertext followed by the tag (GCM's
 * ciphertext and tag are separate outputs, which PSA joins in that order); ciphertext_size
 * below plaintext_length + 16 is PSA_ERROR_BUFFER_TOO_SMALL. The plaintext may be the
 * ciphertext buffer (in place). */
psa_status_t psa_aead_encrypt(psa_key_id_t key, psa_algorithm_t alg, const uint8_t *nonce,
                              size_t nonce_length, const uint8_t *additional_data,
                              size_t additional_data_length, const uint8_t *plaintext,
                              size_t plaintext_length, uint8_t *ciphertext,
                              size_t ciphertext_size, size_t *ciphertext_length)
{
    if (ciphertext_length != NULL) *ciphertext_length = 0;
    emu_key_t *k;
    psa_status_t st = key_use(key, PSA_KEY_USAGE_ENCRYPT, alg, &k);
    if (st != PSA_SUCCESS) return st;
    EVP_CIPHER_CTX *ctx = NULL;
    st = aead_check(k, alg, nonce, nonce_length, additional_data, additional_data_length,
                    plaintext, plaintext_length);
    if (st == PSA_SUCCESS && (ciphertext == NULL || ciphertext_length == NULL))
        st = PSA_ERROR_INVALID_ARGUMENT;
    if (st == PSA_SUCCESS && ciphertext_size < plaintext_length + GCM_TAG_LEN)
        st = PSA_ERROR_BUFFER_TOO_SMALL;
    if (st != PSA_SUCCESS) goto out;

    int n = 0, fin = 0;
    ctx = gcm_start(k, 1, nonce, nonce_length, additional_data, additional_data_length);
    if (ctx == NULL ||
        (plaintext_length > 0 &&
         EVP_EncryptUpdate(ctx, ciphertext, &n, plaintext, (int)plaintext_length) != 1) ||
        EVP_EncryptFinal_ex(ctx, ciphertext + n, &fin) != 1 ||
        (size_t)(n + fin) != plaintext_length ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, GCM_TAG_LEN,
                            ciphertext + plaintext_length) != 1) {
        st = PSA_ERROR_GENERIC_ERROR;
        goto out;
    }
    *ciphertext_length = plaintext_length + GCM_TAG_LEN;
out:
    EVP_CIPHER_CTX_free(ctx);
    pthread_mutex_unlock(&lock);
    return st;
}

/* §10.5.2 psa_aead_decrypt(): the input is the ciphertext followed by the 16-byte tag; shorter
 * than the tag is PSA_ERROR_INVALID_ARGUMENT, plaintext_size below ciphertext_length - 16 is
 * PSA_ERROR_BUFFER_TOO_SMALL, and a message that is not authentic (tag, ciphertext, additional
 * data, nonce or key altered) PSA_ERROR_INVALID_SIGNATURE. OpenSSL writes plaintext before it
 * checks the tag; on any failure the plaintext buffer is wiped, so nothing unauthenticated is
 * left in it. */
psa_status_t psa_aead_decrypt(psa_key_id_t key, psa_algorithm_t alg, const uint8_t *nonce,
                              size_t nonce_length, const uint8_t *additional_data,
                              size_t additional_data_length, const uint8_t *ciphertext,
                              size_t ciphertext_length, uint8_t *plaintext,
                              size_t plaintext_size, size_t *plaintext_length)
{
    if (plaintext_length != NULL) *plaintext_length = 0;
    emu_key_t *k;
    psa_status_t st = key_use(key, PSA_KEY_USAGE_DECRYPT, alg, &k);
    if (st != PSA_SUCCESS) return st;
    EVP_CIPHER_CTX *ctx = NULL;
    size_t len = 0;
    st = aead_check(k, alg, nonce, nonce_length, additional_data, additional_data_length,
                    ciphertext, ciphertext_length);
    if (st == PSA_SUCCESS &&
        (plaintext_length == NULL || ciphertext_length < GCM_TAG_LEN ||
         (plaintext == NULL && ciphertext_length > GCM_TAG_LEN)))
        st = PSA_ERROR_INVALID_ARGUMENT;
    if (st != PSA_SUCCESS) goto out;
    len = ciphertext_length - GCM_TAG_LEN;
    if (plaintext_size < len) {
        st = PSA_ERROR_BUFFER_TOO_SMALL;
        len = 0;
        goto out;
    }

    uint8_t tag[GCM_TAG_LEN], none[1];
    uint8_t *dst = len > 0 ? plaintext : none; /* GCM's final step writes nothing */
    memcpy(tag, ciphertext + len, sizeof(tag)); /* before an in-place plaintext overwrites */
    int n = 0, fin = 0;
    ctx = gcm_start(k, 0, nonce, nonce_length, additional_data, additional_data_length);
    if (ctx == NULL ||
        (len > 0 && EVP_DecryptUpdate(ctx, dst, &n, ciphertext, (int)len) != 1) ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, GCM_TAG_LEN, tag) != 1) {
        st = PSA_ERROR_GENERIC_ERROR;
        goto out;
    }
    if (EVP_DecryptFinal_ex(ctx, dst + n, &fin) != 1 || (size_t)(n + fin) != len) {
        st = PSA_ERROR_INVALID_SIGNATURE;
        goto out;
    }
    *plaintext_length = len;
out:
    if (st != PSA_SUCCESS && len > 0) OPENSSL_cleanse(plaintext, len);
    EVP_CIPHER_CTX_free(ctx);
    pthread_mutex_unlock(&lock);
    return st;
}
