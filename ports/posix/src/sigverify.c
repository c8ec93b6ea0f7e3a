/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sigverify: ECDSA P-256 verification for the virtual ESP32 (sigverify.h). All crypto is
 * OpenSSL's; this file only converts the wire's raw r || s into the DER ECDSA-Sig-Value that
 * EVP_PKEY_verify() takes, and checks that the key is the curve the protocol names.
 */
#include "mqota_posix/sigverify.h"
#include "posix_util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

struct sigverify_key {
    EVP_PKEY *pkey;
};

/* True if pkey is an EC key on P-256 (prime256v1). */
static int is_p256(EVP_PKEY *pkey)
{
    char group[64];
    size_t n = 0;
    return EVP_PKEY_base_id(pkey) == EVP_PKEY_EC &&
           EVP_PKEY_get_utf8_string_param(pkey, "group", group, sizeof(group), &n) == 1 &&
           strcmp(group, SN_X9_62_prime256v1) == 0;
}

mqota_status_t sigverify_key_load(const char *path, sigverify_key_t **out, char *err,
                                  size_t err_len)
{
    if (path == NULL || out == NULL) {
        return MQOTA_ERR_ARG;
    }
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        say(err, err_len, "cannot read trust key '%s': %s", path, strerror(errno));
        return MQOTA_ERR_PLATFORM;
    }
    EVP_PKEY *pkey = PEM_read_PUBKEY(f, NULL, NULL, NULL);
    fclose(f);
    if (pkey == NULL) {
        say(err, err_len, "trust key '%s' is not a PEM public key (BEGIN PUBLIC KEY); give the "
                          "NAME.pub.pem written by 'mqota key generate'", path);
        return MQOTA_ERR_MALFORMED;
    }
    if (!is_p256(pkey)) {
        say(err, err_len, "trust key '%s' is not an ECDSA P-256 key; mqota signs with P-256 "
                          "only", path);
        EVP_PKEY_free(pkey);
        return MQOTA_ERR_MALFORMED;
    }
    sigverify_key_t *k = calloc(1, sizeof(*k));
    if (k == NULL) {
        EVP_PKEY_free(pkey);
        say(err, err_len, "out of memory loading trust key '%s'", path);
        return MQOTA_ERR_PLATFORM;
    }
    k->pkey = pkey;
    *out = k;
    return MQOTA_OK;
}

void sigverify_key_free(sigverify_key_t *key)
{
    if (key != NULL) {
        EVP_PKEY_free(key->pkey);
        free(key);
    }
}

int sigverify_digest(const sigverify_key_t *key, const uint8_t digest[32], const uint8_t *sig,
                     size_t sig_len)
{
    int rc = MQOTA_ERR_HASH;
    ECDSA_SIG *es = NULL;
    BIGNUM *r = NULL, *s = NULL;
    unsigned char *der = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    int der_len;

    if (key == NULL || digest == NULL || sig == NULL || sig_len != 64u) {
        return MQOTA_ERR_ARG;
    }
    es = ECDSA_SIG_new();
    r = BN_bin2bn(sig, 32, NULL);
    s = BN_bin2bn(sig + 32, 32, NULL);
    if (es == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(es, r, s) != 1) {
        BN_free(r);
        BN_free(s);
        goto out;
    }
    r = s = NULL; /* owned by es now */
    der_len = i2d_ECDSA_SIG(es, &der);
    if (der_len <= 0) {
        goto out;
    }
    ctx = EVP_PKEY_CTX_new(key->pkey, NULL);
    if (ctx == NULL || EVP_PKEY_verify_init(ctx) != 1 ||
        EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) != 1) {
        goto out;
    }
    /* 1 = valid; 0 = bad signature; < 0 = error (e.g. r or s zero or above the order). */
    if (EVP_PKEY_verify(ctx, der, (size_t)der_len, digest, 32) == 1) {
        rc = 0;
    }
out:
    EVP_PKEY_CTX_free(ctx);
    OPENSSL_free(der);
    ECDSA_SIG_free(es);
    return rc;
}

mqota_status_t sigverify_key_id(const sigverify_key_t *key, uint8_t id[8])
{
    unsigned char *der = NULL;
    unsigned char md[32];
    unsigned int mdlen = 0;
    if (key == NULL || id == NULL) {
        return MQOTA_ERR_ARG;
    }
    int n = i2d_PUBKEY(key->pkey, &der);
    int ok = n > 0 && EVP_Digest(der, (size_t)n, md, &mdlen, EVP_sha256(), NULL) == 1;
    OPENSSL_free(der);
    if (!ok) {
        return MQOTA_ERR_PLATFORM;
    }
    memcpy(id, md, 8);
    return MQOTA_OK;
}
