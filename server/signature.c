/* SPDX-License-Identifier: Apache-2.0 */
/*
 * signature.c - signed releases on the server: load the --trusted-key public keys and verify
 * an uploaded .mqsig against the image or file bundle it claims to sign (docs/SECURITY.md §3,
 * steps 1-5; a bundle's manifest is docs/PROTOCOL.md §5.1's "MQF1").
 *
 * The manifest bytes are decoded with libmqota's codecs (mqota_manifest_decode() and
 * mqota_files_manifest_decode(), canonical:
 * one manifest, one byte string), so the server judges exactly the bytes a device rebuilds
 * from the OFFER. The signature is checked with OpenSSL EVP against each trusted key.
 */
#include "signature.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_parse.h"

#define MQSIG_FORMAT "mqota-manifest-v1"

/* Key id: first 8 bytes of SHA-256 over the SubjectPublicKeyInfo DER, in hex. */
static int key_id_of(EVP_PKEY *pkey, char out[MQOTAD_KEY_ID_HEX])
{
    unsigned char *der = NULL, md[32];
    unsigned int mdlen = 0;
    int n = i2d_PUBKEY(pkey, &der);
    int ok = n > 0 && EVP_Digest(der, (size_t)n, md, &mdlen, EVP_sha256(), NULL) == 1;
    OPENSSL_free(der);
    if (!ok) return -1;
    mqh_hex(md, 8, out);
    return 0;
}

static bool is_p256(EVP_PKEY *pkey)
{
    char group[64];
    size_t glen = 0;
    return EVP_PKEY_base_id(pkey) == EVP_PKEY_EC &&
           EVP_PKEY_get_utf8_string_param(pkey, "group", group, sizeof(group), &glen) == 1 &&
           (strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0);
}

int signature__load_keys(mqotad_t *d)
{
    for (int i = 0; i < d->n_trusted_keys; i++) {
        const char *path = d->trusted_key_paths[i];
        FILE *f = fopen(path, "r");
        if (!f) {
            mqh_log(MQH_ERROR, "--trusted-key %s: cannot read it: %s", path, strerror(errno));
            return -1;
        }
        EVP_PKEY *k = PEM_read_PUBKEY(f, NULL, NULL, NULL);
        fclose(f);
        if (!k || !is_p256(k)) {
            mqh_log(MQH_ERROR, "--trusted-key %s: not a P-256 public key in PEM; give the "
                    "NAME.pub.pem that 'mqota key generate' wrote (never the private key)",
                    path);
            EVP_PKEY_free(k);
            return -1;
        }
        d->trusted_keys[i].pkey = k;
        if (key_id_of(k, d->trusted_keys[i].key_id) != 0) {
            mqh_log(MQH_ERROR, "--trusted-key %s: cannot compute its key id", path);
            return -1;
        }
        mqh_log(MQH_INFO, "trusting release key %s (%s)", d->trusted_keys[i].key_id, path);
    }
    return 0;
}

void signature__free_keys(mqotad_t *d)
{
    for (int i = 0; i < MQOTAD_MAX_TRUSTED_KEYS; i++) {
        EVP_PKEY_free(d->trusted_keys[i].pkey);
        d->trusted_keys[i].pkey = NULL;
    }
}

uint8_t *signature__base64_decode(const char *text, size_t *out_len)
{
    size_t n = strlen(text);
    if (n == 0 || n % 4 != 0 || n > (1u << 20)) return NULL;
    for (size_t i = 0; i < n; i++) {
        char c = text[i];
        bool pad_ok = c == '=' && i >= n - 2 && (i == n - 1 || text[n - 1] == '=');
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/' || pad_ok))
            return NULL;
    }
    uint8_t *out = malloc(n / 4 * 3 + 1);
    if (!out) return NULL;
    int got = EVP_DecodeBlock(out, (const unsigned char *)text, (int)n);
    if (got < 0) {
        free(out);
        return NULL;
    }
    size_t pad = (text[n - 1] == '=') + (text[n - 2] == '=');
    *out_len = (size_t)got - pad;
    return out;
}

/* Verify raw r || s over SHA-256(msg) with key (converted to DER for OpenSSL). */
static bool verify_rs(EVP_PKEY *key, const uint8_t *msg, size_t len, const uint8_t rs[64])
{
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(rs, 32, NULL), *s = BN_bin2bn(rs + 32, 32, NULL);
    unsigned char *der = NULL;
    bool ok = false;
    if (!es || !r || !s || ECDSA_SIG_set0(es, r, s) != 1) {
        BN_free(r);
        BN_free(s);
        ECDSA_SIG_free(es);
        return false;
    }
    int n = i2d_ECDSA_SIG(es, &der);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    ok = n > 0 && md && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
         EVP_DigestVerify(md, der, (size_t)n, msg, len) == 1;
    EVP_MD_CTX_free(md);
    OPENSSL_free(der);
    ECDSA_SIG_free(es);
    return ok;
}

/* A string member of the .mqsig, or NULL. */
static const char *member(const cJSON *j, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/*
 * Check that the manifest describes this image (step 5). The project is compared as an OFFER
 * carries it: the descriptor's name cut to 31 bytes.
 */
static int check_binding(const mqota_manifest_t *m, const uint8_t sha256[32], uint32_t size,
                         const mqota_image_info_t *info, char *err, size_t cap)
{
    char project[MQOTA_STR_MAX + 1];
    snprintf(project, sizeof(project), "%.31s", info->project_name);
    if (memcmp(m->sha256, sha256, 32) != 0) {
        char want[65], got[65];
        mqh_hex(m->sha256, 32, want);
        mqh_hex(sha256, 32, got);
        snprintf(err, cap, "the signature is for another image: its manifest names SHA-256 "
                 "%.12s..., the uploaded image is %.12s...", want, got);
        return -1;
    }
    if (m->image_size != size) {
        snprintf(err, cap, "the signature is for another image: its manifest says %u bytes, "
                 "the upload is %u", (unsigned)m->image_size, (unsigned)size);
        return -1;
    }
    if (m->chip_id != info->chip_id) {
        snprintf(err, cap, "the signature's manifest names chip %s, the image is built for %s",
                 mqota_chip_name(m->chip_id), mqota_chip_name(info->chip_id));
        return -1;
    }
    if (strcmp(m->project, project) != 0) {
        snprintf(err, cap, "the signature's manifest names project '%s', the image's "
                 "descriptor says '%s'", m->project, project);
        return -1;
    }
    return 0;
}

/*
 * Steps 1-4 of docs/SECURITY.md §3 for either kind of release: the .mqsig parsed, its manifest
 * decoded as the kind the upload is (an image's "MQM1" or a bundle's "MQF1", §5.1; the other
 * kind's manifest is refused by name), its block matching the manifest's uid, and the
 * signature verified under a trusted key. 0 with out filled, or -1 with one sentence in err.
 */
static int verify_mqsig(mqotad_t *d, const char *mqsig, size_t len, bool files,
                        signature_t *out, char *err, size_t cap)
{
    int rc = -1;
    uint8_t *mb = NULL, *blk = NULL;
    size_t mlen = 0, blen = 0;
    static const char shape[] = "the signature is not a .mqsig file: it needs a JSON object "
                                "with \"format\", \"manifest\" and \"signature\" (write one "
                                "with 'mqota release sign')";
    cJSON *j = NULL;
    memset(out, 0, sizeof(*out));
    /* the same strict parse as every request body (nothing after the object, no \u0000) */
    char why[300];
    if (api_parse__json((const uint8_t *)mqsig, len, shape, &j, why, sizeof(why)) != 0) {
        snprintf(err, cap, strcmp(why, shape) == 0 ? "%s" : "the .mqsig file is not valid: %s",
                 why);
        goto out;
    }
    const char *format = member(j, "format");
    const char *m64 = member(j, "manifest");
    const char *s64 = member(j, "signature");
    const char *kid = member(j, "key_id");
    if (!format || !m64 || !s64) {
        snprintf(err, cap, "%s", shape);
        goto out;
    }
    if (strcmp(format, MQSIG_FORMAT) != 0) {
        snprintf(err, cap, "the .mqsig format is '%.40s'; this mqotad reads " MQSIG_FORMAT,
                 format);
        goto out;
    }
    mb = signature__base64_decode(m64, &mlen);
    mqota_status_t st = !mb ? MQOTA_ERR_MALFORMED
                        : files ? mqota_files_manifest_decode(mb, mlen, &out->manifest)
                                : mqota_manifest_decode(mb, mlen, &out->manifest);
    if (st != MQOTA_OK) {
        mqota_manifest_t other;
        if (mb && (files ? mqota_manifest_decode(mb, mlen, &other)
                         : mqota_files_manifest_decode(mb, mlen, &other)) == MQOTA_OK)
            snprintf(err, cap, files ? "the .mqsig signs an image, not a file bundle; sign the "
                                       "bundle (mqota release add --files DIR --sign-key KEY)"
                                     : "the .mqsig signs a file bundle, not an image; sign the "
                                       "image (mqota release sign FILE)");
        else
            snprintf(err, cap, "the .mqsig manifest is not a canonical mqota manifest (bad "
                     "base64, magic, length or strings)");
        goto out;
    }
    blk = signature__base64_decode(s64, &blen);
    if (!blk || blen != MQOTA_SIG_BLOCK_LEN) {
        snprintf(err, cap, "the .mqsig signature must be %u bytes of base64 (release uid, r, "
                 "s), not %zu", MQOTA_SIG_BLOCK_LEN, blk ? blen : (size_t)0);
        goto out;
    }
    if (memcmp(blk, out->manifest.release_uid, MQOTA_RELEASE_UID_LEN) != 0) {
        snprintf(err, cap, "the .mqsig signature block's release uid differs from its "
                 "manifest's; the file was altered");
        goto out;
    }
    if (d->n_trusted_keys == 0) {
        snprintf(err, cap, "this mqotad trusts no release keys, so it cannot verify the "
                 "signature; start it with --trusted-key NAME.pub.pem");
        goto out;
    }
    /* key_id picks the key to try first; the signature decides. */
    int hit = -1;
    bool named_known = false;
    for (int pass = 0; pass < 2 && hit < 0; pass++) {
        for (int i = 0; i < d->n_trusted_keys && hit < 0; i++) {
            bool named = kid && strcmp(kid, d->trusted_keys[i].key_id) == 0;
            if (named) named_known = true;
            if ((pass == 0) != named) continue;
            if (verify_rs(d->trusted_keys[i].pkey, mb, mlen, blk + MQOTA_RELEASE_UID_LEN))
                hit = i;
        }
    }
    if (hit < 0) {
        if (named_known)
            snprintf(err, cap, "the signature does not verify under trusted key %s: the "
                     "manifest or signature was altered", kid);
        else
            snprintf(err, cap, "the signature was not made by any trusted key (the .mqsig "
                     "names key %.16s); give mqotad its public key with --trusted-key",
                     kid ? kid : "-");
        goto out;
    }
    memcpy(out->block, blk, MQOTA_SIG_BLOCK_LEN);
    snprintf(out->key_id, sizeof(out->key_id), "%s", d->trusted_keys[hit].key_id);
    rc = 0;
out:
    free(mb);
    free(blk);
    cJSON_Delete(j);
    return rc;
}

int signature__verify(mqotad_t *d, const char *mqsig, size_t len, const uint8_t sha256[32],
                      uint32_t size, const mqota_image_info_t *info, signature_t *out,
                      char *err, size_t cap)
{
    if (verify_mqsig(d, mqsig, len, false, out, err, cap) != 0) return -1;
    return check_binding(&out->manifest, sha256, size, info, err, cap);
}

/*
 * Step 5 for a file bundle: the manifest names this bundle (hash, size) as a file release
 * (chip ANY, project "files", security version 0: what its OFFER carries, §17).
 */
int signature__verify_files(mqotad_t *d, const char *mqsig, size_t len,
                            const uint8_t sha256[32], uint32_t size, signature_t *out,
                            char *err, size_t cap)
{
    if (verify_mqsig(d, mqsig, len, true, out, err, cap) != 0) return -1;
    const mqota_manifest_t *m = &out->manifest;
    if (memcmp(m->sha256, sha256, 32) != 0 || m->image_size != size) {
        char want[65], got[65];
        mqh_hex(m->sha256, 32, want);
        mqh_hex(sha256, 32, got);
        snprintf(err, cap, "the signature is for another bundle: its manifest names SHA-256 "
                 "%.12s... (%u bytes), the uploaded bundle is %.12s... (%u bytes)", want,
                 (unsigned)m->image_size, got, (unsigned)size);
        return -1;
    }
    if (m->chip_id != MQOTA_CHIP_ANY || strcmp(m->project, "files") != 0 ||
        m->secure_version != 0) {
        snprintf(err, cap, "the signature's manifest names chip %u, project '%s' and security "
                 "version %u; a file release's are any chip (65535), 'files' and 0",
                 (unsigned)m->chip_id, m->project, (unsigned)m->secure_version);
        return -1;
    }
    return 0;
}
