/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of the signed-manifest codec (mqota_manifest.c) and of the POSIX port's P-256
 * verifier (ports/posix sigverify.c). Signatures are made here with OpenSSL, so the device-side
 * rebuild of the manifest is checked against an independent signer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include "mqota/mqota_manifest.h"
#include "mqota_posix/sigverify.h"

/* ---- OpenSSL helpers ---- */

static EVP_PKEY *keygen(const char *curve)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", curve);
    assert_non_null(k);
    return k;
}

/* ECDSA over SHA-256(msg) with OpenSSL, returned as raw r || s. */
static void sign_raw(EVP_PKEY *k, const uint8_t *msg, size_t len, uint8_t rs[64])
{
    uint8_t der[128];
    size_t der_len = sizeof(der);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k), 1);
    assert_int_equal(EVP_DigestSign(md, der, &der_len, msg, len), 1);
    EVP_MD_CTX_free(md);
    const unsigned char *p = der;
    ECDSA_SIG *s = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
    assert_non_null(s);
    assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_r(s), rs, 32), 32);
    assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_s(s), rs + 32, 32), 32);
    ECDSA_SIG_free(s);
}

/* OpenSSL's own verification of raw r || s over msg: 1 valid, 0 not. */
static int verify_raw(EVP_PKEY *k, const uint8_t *msg, size_t len, const uint8_t rs[64])
{
    ECDSA_SIG *s = ECDSA_SIG_new();
    ECDSA_SIG_set0(s, BN_bin2bn(rs, 32, NULL), BN_bin2bn(rs + 32, 32, NULL));
    unsigned char *der = NULL;
    int der_len = i2d_ECDSA_SIG(s, &der);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, k), 1);
    int rc = EVP_DigestVerify(md, der, (size_t)der_len, msg, len);
    EVP_MD_CTX_free(md);
    OPENSSL_free(der);
    ECDSA_SIG_free(s);
    return rc == 1;
}

/* Write k's public half as PEM to a temporary file; returns its path (static buffer). */
static const char *write_pub_pem(EVP_PKEY *k, const char *tag)
{
    static char path[2][64];
    static int which;
    char *p = path[which++ & 1];
    snprintf(p, 64, "/tmp/mqota_test_%s_%d.pem", tag, (int)getpid());
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_PUBKEY(f, k), 1);
    fclose(f);
    return p;
}

/* ---- a known manifest ---- */

static mqota_manifest_t sample(void)
{
    mqota_manifest_t m;
    memset(&m, 0, sizeof(m));
    for (int i = 0; i < 32; i++) m.sha256[i] = (uint8_t)(0xA0 + i);
    m.image_size = 0x00030201u;
    m.chip_id = 9;
    m.secure_version = 0x01020304u;
    for (int i = 0; i < 16; i++) m.release_uid[i] = (uint8_t)(0x10 + i);
    snprintf(m.project, sizeof(m.project), "hello");
    snprintf(m.version, sizeof(m.version), "v1.2");
    return m;
}

static void test_encode_layout(void **state)
{
    (void)state;
    mqota_manifest_t m = sample();
    uint8_t buf[MQOTA_MANIFEST_MAX_LEN];
    size_t len = 0;
    assert_int_equal(mqota_manifest_encode(&m, buf, sizeof(buf), &len), MQOTA_OK);
    assert_int_equal(len, 62 + 1 + 5 + 1 + 4);

    uint8_t want[73];
    memcpy(want, "MQM1", 4);
    for (int i = 0; i < 32; i++) want[4 + i] = (uint8_t)(0xA0 + i);
    const uint8_t fixed[] = {0x01, 0x02, 0x03, 0x00,        /* image_size LE */
                             0x09, 0x00,                    /* chip_id LE */
                             0x04, 0x03, 0x02, 0x01};       /* secure_version LE */
    memcpy(want + 36, fixed, sizeof(fixed));
    for (int i = 0; i < 16; i++) want[46 + i] = (uint8_t)(0x10 + i);
    memcpy(want + 62, "\x05hello\x04v1.2", 11);
    assert_memory_equal(buf, want, sizeof(want));

    /* exactly big enough, one byte short */
    assert_int_equal(mqota_manifest_encode(&m, buf, len, &len), MQOTA_OK);
    assert_int_equal(mqota_manifest_encode(&m, buf, len - 1, &len), MQOTA_ERR_NO_SPACE);
}

static void test_encode_limits(void **state)
{
    (void)state;
    mqota_manifest_t m = sample();
    uint8_t buf[MQOTA_MANIFEST_MAX_LEN];
    size_t len = 0;
    memset(m.project, 'p', 31);
    m.project[31] = '\0';
    memset(m.version, 'v', 31);
    m.version[31] = '\0';
    assert_int_equal(mqota_manifest_encode(&m, buf, sizeof(buf), &len), MQOTA_OK);
    assert_int_equal(len, MQOTA_MANIFEST_MAX_LEN);
    m.version[31] = 'v'; /* unterminated: refused rather than cut */
    assert_int_equal(mqota_manifest_encode(&m, buf, sizeof(buf), &len), MQOTA_ERR_ARG);
    m = sample();
    m.project[0] = '\0';
    m.version[0] = '\0';
    assert_int_equal(mqota_manifest_encode(&m, buf, sizeof(buf), &len), MQOTA_OK);
    assert_int_equal(len, MQOTA_MANIFEST_MIN_LEN);
    assert_int_equal(mqota_manifest_encode(NULL, buf, sizeof(buf), &len), MQOTA_ERR_ARG);
    assert_int_equal(mqota_manifest_encode(&m, NULL, sizeof(buf), &len), MQOTA_ERR_ARG);
    assert_int_equal(mqota_manifest_encode(&m, buf, sizeof(buf), NULL), MQOTA_ERR_ARG);
}

static void test_decode_round_trip_and_errors(void **state)
{
    (void)state;
    mqota_manifest_t m = sample(), d;
    uint8_t buf[MQOTA_MANIFEST_MAX_LEN + 1], again[MQOTA_MANIFEST_MAX_LEN];
    size_t len = 0, len2 = 0;
    assert_int_equal(mqota_manifest_encode(&m, buf, sizeof(buf), &len), MQOTA_OK);
    assert_int_equal(mqota_manifest_decode(buf, len, &d), MQOTA_OK);
    assert_memory_equal(&d, &m, sizeof(m));
    assert_int_equal(mqota_manifest_encode(&d, again, sizeof(again), &len2), MQOTA_OK);
    assert_int_equal(len2, len);
    assert_memory_equal(again, buf, len);

    /* every shorter prefix fails, and leaves the output alone */
    for (size_t n = 0; n < len; n++) {
        memset(&d, 0x5A, sizeof(d));
        mqota_status_t st = mqota_manifest_decode(buf, n, &d);
        assert_true(st == MQOTA_ERR_TRUNCATED || st == MQOTA_ERR_MALFORMED);
        assert_int_equal(((uint8_t *)&d)[0], 0x5A);
    }
    /* trailing byte */
    buf[len] = 0;
    assert_int_equal(mqota_manifest_decode(buf, len + 1, &d), MQOTA_ERR_MALFORMED);
    /* bad magic */
    buf[3] = '2';
    assert_int_equal(mqota_manifest_decode(buf, len, &d), MQOTA_ERR_MALFORMED);
    buf[3] = '1';
    /* NUL inside a string */
    buf[63] = 0;
    assert_int_equal(mqota_manifest_decode(buf, len, &d), MQOTA_ERR_MALFORMED);
    buf[63] = 'h';
    /* string length above 31 */
    uint8_t big[MQOTA_MANIFEST_MAX_LEN + 8];
    memcpy(big, buf, 62);
    big[62] = 32;
    memset(big + 63, 'x', 32);
    big[95] = 0;
    assert_int_equal(mqota_manifest_decode(big, 96, &d), MQOTA_ERR_MALFORMED);
    assert_int_equal(mqota_manifest_decode(NULL, len, &d), MQOTA_ERR_ARG);
    assert_int_equal(mqota_manifest_decode(buf, len, NULL), MQOTA_ERR_ARG);
}

/* A poor man's fuzzer: random and mutated inputs never crash, and whatever decodes encodes
 * back to the same bytes (the encoding is canonical). */
static void test_decode_random(void **state)
{
    (void)state;
    mqota_manifest_t m = sample(), d;
    uint8_t base[MQOTA_MANIFEST_MAX_LEN], buf[MQOTA_MANIFEST_MAX_LEN + 4],
        again[MQOTA_MANIFEST_MAX_LEN];
    size_t blen = 0;
    unsigned seed = 12345;
    assert_int_equal(mqota_manifest_encode(&m, base, sizeof(base), &blen), MQOTA_OK);
    int ok = 0;
    for (int i = 0; i < 200000; i++) {
        size_t len;
        seed = seed * 1103515245u + 12345u;
        if (i & 1) {
            len = (seed >> 8) % sizeof(buf);
            for (size_t k = 0; k < len; k++) {
                seed = seed * 1103515245u + 12345u;
                buf[k] = (uint8_t)(seed >> 16);
            }
            if (len >= 4) memcpy(buf, "MQM1", 4);
        } else {
            memcpy(buf, base, blen);
            len = blen;
            buf[(seed >> 8) % blen] ^= (uint8_t)(1u << ((seed >> 4) & 7u));
        }
        if (mqota_manifest_decode(buf, len, &d) == MQOTA_OK) {
            size_t l2 = 0;
            ok++;
            assert_int_equal(mqota_manifest_encode(&d, again, sizeof(again), &l2), MQOTA_OK);
            assert_int_equal(l2, len);
            assert_memory_equal(again, buf, len);
        }
    }
    assert_true(ok > 0);
}

/* Known answer: the signed manifest of PROTOCOL.md §17.1's example bundle (73 bytes), version
 * app-2, uid 00..0f, as §5.1 writes it byte by byte; and the refusals that keep an image's
 * manifest and a bundle's apart. */
static void test_files_manifest_known_answer(void **state)
{
    (void)state;
    static const char want_hex[] =
        "4d514631"                                                         /* "MQF1" */
        "5da597b7ec396d9b03a7c5c485d3f1a116fcea142f7e1b595eee9387a54e4ee9" /* bundle sha256 */
        "49000000" "ffff" "04000000" "00000000"  /* size 73, chip ANY, flags FILES, secver 0 */
        "000102030405060708090a0b0c0d0e0f"       /* release uid */
        "0566696c6573" "056170702d32";           /* "files", "app-2" */
    uint8_t want[78], buf[MQOTA_FILES_MANIFEST_MAX_LEN];
    for (size_t i = 0; i < sizeof(want); i++) {
        unsigned v = 0;
        assert_int_equal(sscanf(want_hex + 2 * i, "%2x", &v), 1);
        want[i] = (uint8_t)v;
    }
    mqota_manifest_t m, back;
    memset(&m, 0, sizeof(m));
    memcpy(m.sha256, want + 4, 32);
    m.image_size = 73;
    m.chip_id = MQOTA_CHIP_ANY;
    for (int i = 0; i < 16; i++) m.release_uid[i] = (uint8_t)i;
    snprintf(m.project, sizeof(m.project), "files");
    snprintf(m.version, sizeof(m.version), "app-2");
    size_t len = 0;
    assert_int_equal(mqota_files_manifest_encode(&m, buf, sizeof(buf), &len), MQOTA_OK);
    assert_int_equal(len, sizeof(want));
    assert_memory_equal(buf, want, sizeof(want));
    assert_int_equal(mqota_files_manifest_encode(&m, buf, len - 1, &len), MQOTA_ERR_NO_SPACE);
    uint8_t digest[32];
    static const uint8_t want_digest[32] = {
        0x5f, 0xcf, 0x7e, 0x3b, 0x58, 0x0b, 0xa9, 0xe2, 0x14, 0xd6, 0x85, 0x89, 0xad, 0xf5, 0x36, 0x3a,
        0xb4, 0xde, 0xe9, 0x67, 0xe5, 0xb7, 0xb1, 0x4f, 0x8d, 0x1c, 0x8b, 0x2f, 0x79, 0x80, 0x61, 0xbc};
    SHA256(want, sizeof(want), digest);
    assert_memory_equal(digest, want_digest, 32);

    memset(&back, 0, sizeof(back));
    assert_int_equal(mqota_files_manifest_decode(want, sizeof(want), &back), MQOTA_OK);
    assert_memory_equal(&back, &m, sizeof(m));
    /* one manifest, one byte string: a trailing byte, a short buffer */
    uint8_t longer[sizeof(want) + 1];
    memcpy(longer, want, sizeof(want));
    longer[sizeof(want)] = 0;
    assert_int_equal(mqota_files_manifest_decode(longer, sizeof(longer), &back), MQOTA_ERR_MALFORMED);
    assert_int_equal(mqota_files_manifest_decode(want, sizeof(want) - 1, &back), MQOTA_ERR_TRUNCATED);
    /* flags other than the files flag alone */
    uint8_t t[sizeof(want)];
    memcpy(t, want, sizeof(t));
    t[42] = 0x05;
    assert_int_equal(mqota_files_manifest_decode(t, sizeof(t), &back), MQOTA_ERR_MALFORMED);
    t[42] = 0x00;
    assert_int_equal(mqota_files_manifest_decode(t, sizeof(t), &back), MQOTA_ERR_MALFORMED);
    /* neither decoder takes the other kind's bytes */
    assert_int_equal(mqota_manifest_decode(want, sizeof(want), &back), MQOTA_ERR_MALFORMED);
    uint8_t img[MQOTA_MANIFEST_MAX_LEN];
    assert_int_equal(mqota_manifest_encode(&m, img, sizeof(img), &len), MQOTA_OK);
    assert_int_equal(mqota_files_manifest_decode(img, len, &back), MQOTA_ERR_MALFORMED);
}

static void test_sig_block(void **state)
{
    (void)state;
    mqota_sig_block_t b, d;
    uint8_t buf[MQOTA_SIG_BLOCK_LEN];
    for (int i = 0; i < 16; i++) b.release_uid[i] = (uint8_t)i;
    for (int i = 0; i < 64; i++) b.signature[i] = (uint8_t)(100 + i);
    assert_int_equal(mqota_sig_block_encode(&b, buf, sizeof(buf)), MQOTA_OK);
    assert_memory_equal(buf, b.release_uid, 16);
    assert_memory_equal(buf + 16, b.signature, 64);
    assert_int_equal(mqota_sig_block_encode(&b, buf, 79), MQOTA_ERR_NO_SPACE);
    assert_int_equal(mqota_sig_block_decode(buf, 80, &d), MQOTA_OK);
    assert_memory_equal(&d, &b, sizeof(b));
    assert_int_equal(mqota_sig_block_decode(buf, 0, &d), MQOTA_ERR_NOT_FOUND);
    assert_int_equal(mqota_sig_block_decode(NULL, 0, &d), MQOTA_ERR_NOT_FOUND);
    assert_int_equal(mqota_sig_block_decode(buf, 79, &d), MQOTA_ERR_MALFORMED);
    assert_int_equal(mqota_sig_block_decode(buf, 64, &d), MQOTA_ERR_MALFORMED);
    assert_int_equal(mqota_sig_block_decode(NULL, 80, &d), MQOTA_ERR_ARG);
}

/* An OFFER carrying the block for a manifest signed by OpenSSL, through the wire. */
static void make_signed_offer(EVP_PKEY *k, const mqota_manifest_t *m, mqota_offer_t *out)
{
    uint8_t mb[MQOTA_MANIFEST_MAX_LEN], wire[MQOTA_OFFER_MAX_LEN];
    size_t mlen = 0, wlen = 0;
    mqota_sig_block_t blk;
    mqota_offer_t o;
    assert_int_equal(mqota_manifest_encode(m, mb, sizeof(mb), &mlen), MQOTA_OK);
    memcpy(blk.release_uid, m->release_uid, 16);
    sign_raw(k, mb, mlen, blk.signature);
    memset(&o, 0, sizeof(o));
    o.release_id = 5;
    o.deployment_id = 6;
    o.image_size = m->image_size;
    o.chunk_size = 4096;
    o.window = 8;
    o.chip_id = m->chip_id;
    o.secure_version = m->secure_version;
    memcpy(o.sha256, m->sha256, 32);
    snprintf(o.project, sizeof(o.project), "%s", m->project);
    snprintf(o.version, sizeof(o.version), "%s", m->version);
    o.sig_len = MQOTA_SIG_BLOCK_LEN;
    assert_int_equal(mqota_sig_block_encode(&blk, o.sig, sizeof(o.sig)), MQOTA_OK);
    assert_int_equal(mqota_offer_encode(&o, wire, sizeof(wire), &wlen), MQOTA_OK);
    assert_int_equal(mqota_offer_decode(wire, wlen, out), MQOTA_OK);
}

/* Rebuild the manifest from the offer and check it with OpenSSL. */
static int offer_verifies(EVP_PKEY *k, const mqota_offer_t *o)
{
    uint8_t mb[MQOTA_MANIFEST_MAX_LEN];
    size_t mlen = 0;
    mqota_sig_block_t blk;
    assert_int_equal(mqota_offer_manifest(o, mb, sizeof(mb), &mlen), MQOTA_OK);
    assert_int_equal(mqota_sig_block_decode(o->sig, o->sig_len, &blk), MQOTA_OK);
    return verify_raw(k, mb, mlen, blk.signature);
}

static void test_offer_manifest_with_openssl(void **state)
{
    (void)state;
    EVP_PKEY *k = keygen("P-256");
    mqota_manifest_t m = sample();
    mqota_offer_t o, t;
    make_signed_offer(k, &m, &o);

    /* the rebuilt bytes are the signed bytes */
    uint8_t a[MQOTA_MANIFEST_MAX_LEN], b[MQOTA_MANIFEST_MAX_LEN];
    size_t al = 0, bl = 0;
    assert_int_equal(mqota_offer_manifest(&o, a, sizeof(a), &al), MQOTA_OK);
    assert_int_equal(mqota_manifest_encode(&m, b, sizeof(b), &bl), MQOTA_OK);
    assert_int_equal(al, bl);
    assert_memory_equal(a, b, al);
    assert_true(offer_verifies(k, &o));

    /* every signed field is bound */
    t = o; snprintf(t.version, sizeof(t.version), "v1.3"); assert_false(offer_verifies(k, &t));
    t = o; snprintf(t.project, sizeof(t.project), "hellp"); assert_false(offer_verifies(k, &t));
    t = o; t.sha256[31] ^= 1; assert_false(offer_verifies(k, &t));
    t = o; t.image_size++; assert_false(offer_verifies(k, &t));
    t = o; t.chip_id = 0; assert_false(offer_verifies(k, &t));
    t = o; t.secure_version--; assert_false(offer_verifies(k, &t));
    t = o; t.sig[0] ^= 1; assert_false(offer_verifies(k, &t)); /* release uid */
    t = o; t.sig[40] ^= 1; assert_false(offer_verifies(k, &t)); /* r */
    /* transport fields are not: the server chooses them per deployment */
    t = o; t.release_id = 99; t.deployment_id = 98; t.chunk_size = 1024; t.window = 1;
    t.flags = MQOTA_OFFER_FLAG_STREAM;
    assert_true(offer_verifies(k, &t));

    /* another key does not verify it */
    EVP_PKEY *k2 = keygen("P-256");
    assert_false(offer_verifies(k2, &o));

    /* unsigned and odd-length blocks */
    size_t len = 0;
    t = o; t.sig_len = 0;
    assert_int_equal(mqota_offer_manifest(&t, a, sizeof(a), &len), MQOTA_ERR_NOT_FOUND);
    t.sig_len = 64;
    assert_int_equal(mqota_offer_manifest(&t, a, sizeof(a), &len), MQOTA_ERR_MALFORMED);
    t.sig_len = 200;
    assert_int_equal(mqota_offer_manifest(&t, a, sizeof(a), &len), MQOTA_ERR_MALFORMED);
    assert_int_equal(mqota_offer_manifest(&o, a, 10, &len), MQOTA_ERR_NO_SPACE);
    assert_int_equal(mqota_offer_manifest(NULL, a, sizeof(a), &len), MQOTA_ERR_ARG);
    EVP_PKEY_free(k);
    EVP_PKEY_free(k2);
}

/* ---- ports/posix sigverify ---- */

static void test_posix_sigverify(void **state)
{
    (void)state;
    EVP_PKEY *k = keygen("P-256");
    char err[512];
    sigverify_key_t *key = NULL;
    const char *path = write_pub_pem(k, "p256");
    assert_int_equal(sigverify_key_load(path, &key, err, sizeof(err)), MQOTA_OK);

    uint8_t msg[] = "manifest bytes", digest[32], rs[64];
    SHA256(msg, sizeof(msg), digest);
    sign_raw(k, msg, sizeof(msg), rs);
    assert_int_equal(sigverify_digest(key, digest, rs, 64), 0);
    assert_int_equal(sigverify_digest(key, digest, rs, 63), MQOTA_ERR_ARG);
    uint8_t bad[64];
    memcpy(bad, rs, 64);
    bad[63] ^= 1;
    assert_int_not_equal(sigverify_digest(key, digest, bad, 64), 0);
    memset(bad, 0, 64); /* r = s = 0 */
    assert_int_not_equal(sigverify_digest(key, digest, bad, 64), 0);
    memset(bad, 0xFF, 64); /* above the group order */
    assert_int_not_equal(sigverify_digest(key, digest, bad, 64), 0);
    digest[0] ^= 1;
    assert_int_not_equal(sigverify_digest(key, digest, rs, 64), 0);

    /* key id = first 8 bytes of SHA-256(SubjectPublicKeyInfo DER) */
    uint8_t id[8], want[32];
    unsigned char *der = NULL;
    int n = i2d_PUBKEY(k, &der);
    SHA256(der, (size_t)n, want);
    OPENSSL_free(der);
    assert_int_equal(sigverify_key_id(key, id), MQOTA_OK);
    assert_memory_equal(id, want, 8);
    sigverify_key_free(key);
    unlink(path);

    /* a P-384 key, a missing file and a non-PEM file are refused with a sentence */
    EVP_PKEY *k384 = keygen("P-384");
    path = write_pub_pem(k384, "p384");
    assert_int_equal(sigverify_key_load(path, &key, err, sizeof(err)), MQOTA_ERR_MALFORMED);
    assert_non_null(strstr(err, "P-256"));
    unlink(path);
    assert_int_equal(sigverify_key_load("/nonexistent/k.pem", &key, err, sizeof(err)),
                     MQOTA_ERR_PLATFORM);
    assert_non_null(strstr(err, "/nonexistent/k.pem"));
    FILE *f = fopen(path, "w");
    fputs("not a key\n", f);
    fclose(f);
    assert_int_equal(sigverify_key_load(path, &key, err, sizeof(err)), MQOTA_ERR_MALFORMED);
    unlink(path);
    sigverify_key_free(NULL);
    EVP_PKEY_free(k);
    EVP_PKEY_free(k384);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_layout),
        cmocka_unit_test(test_encode_limits),
        cmocka_unit_test(test_decode_round_trip_and_errors),
        cmocka_unit_test(test_decode_random),
        cmocka_unit_test(test_files_manifest_known_answer),
        cmocka_unit_test(test_sig_block),
        cmocka_unit_test(test_offer_manifest_with_openssl),
        cmocka_unit_test(test_posix_sigverify),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
