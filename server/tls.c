/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tls.c - the embedded broker's private certificate authority (mqotad --broker-tls).
 *
 * On the first start with --broker-tls mqotad makes, in DIR/tls/:
 *   ca.key, ca.crt          a private CA (ECDSA P-256, self-signed, 10 years)
 *   server.key, server.crt  the broker's certificate (P-256, signed by the CA, 10 years) for
 *                           IP 127.0.0.1 and DNS localhost (subjectAltName), serverAuth only
 * Keys are written with mode 0600. Later starts reuse the files. Everything is OpenSSL: key
 * generation (EVP), certificates and extensions (X509/X509V3), random serials (RAND_bytes).
 * Clients trust DIR/tls/ca.crt; nothing else is trusted (no OS certificate store).
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mqotad.h"

#define CERT_DAYS 3650L

static void log_openssl(const char *what)
{
    char buf[256];
    unsigned long e = ERR_get_error();
    ERR_error_string_n(e, buf, sizeof(buf));
    mqh_log(MQH_ERROR, "%s: %s", what, e ? buf : "unknown OpenSSL error");
    ERR_clear_error();
}

/* A fresh P-256 key, or NULL. */
static EVP_PKEY *new_key(void)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    if (!k) log_openssl("cannot generate a P-256 key");
    return k;
}

/* Add one X509v3 extension given in OpenSSL's config syntax. */
static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!ext) return -1;
    int ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok ? 0 : -1;
}

/*
 * Make a certificate for key with common name cn, signed by issuer_key (issuer NULL: self-
 * signed CA). Returns the certificate or NULL (logged).
 */
static X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key)
{
    X509 *c = X509_new();
    uint8_t serial[16];
    BIGNUM *bn = NULL;
    if (!c || RAND_bytes(serial, sizeof(serial)) != 1) goto err;
    serial[0] &= 0x7f; /* positive, at most 20 bytes (RFC 5280 4.1.2.2) */
    bn = BN_bin2bn(serial, sizeof(serial), NULL);
    if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(c))) goto err;
    if (!X509_set_version(c, 2) || !X509_gmtime_adj(X509_getm_notBefore(c), -3600) ||
        !X509_gmtime_adj(X509_getm_notAfter(c), 60L * 60 * 24 * CERT_DAYS) ||
        !X509_set_pubkey(c, key))
        goto err;
    X509_NAME *name = X509_get_subject_name(c);
    if (!X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"mqotad", -1,
                                    -1, 0) ||
        !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1,
                                    0))
        goto err;
    X509 *signer = issuer ? issuer : c;
    if (!X509_set_issuer_name(c, X509_get_subject_name(signer))) goto err;
    if (add_ext(c, signer, NID_subject_key_identifier, "hash") != 0) goto err;
    if (issuer) {
        if (add_ext(c, signer, NID_authority_key_identifier, "keyid:always") != 0 ||
            add_ext(c, signer, NID_basic_constraints, "critical,CA:FALSE") != 0 ||
            add_ext(c, signer, NID_key_usage, "critical,digitalSignature") != 0 ||
            add_ext(c, signer, NID_ext_key_usage, "serverAuth") != 0 ||
            add_ext(c, signer, NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost") != 0)
            goto err;
    } else {
        if (add_ext(c, signer, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") != 0 ||
            add_ext(c, signer, NID_key_usage, "critical,keyCertSign,cRLSign") != 0)
            goto err;
    }
    if (!X509_sign(c, issuer_key, EVP_sha256())) goto err;
    BN_free(bn);
    return c;
err:
    log_openssl("cannot make the broker's certificate");
    BN_free(bn);
    X509_free(c);
    return NULL;
}

/* Write a PEM file via a temporary name; keys get mode 0600, certificates 0644. */
static int write_pem(const char *path, EVP_PKEY *key, X509 *cert)
{
    char tmp[PATH_MAX + 16];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, key ? 0600 : 0644);
    if (fd < 0) goto err;
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        goto err;
    }
    int ok = key ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL)
                 : PEM_write_X509(f, cert);
    if (fclose(f) != 0 || !ok || rename(tmp, path) != 0) goto err;
    return 0;
err:
    mqh_log(MQH_ERROR, "cannot write %s: %s", path, strerror(errno));
    unlink(tmp);
    return -1;
}

/*
 * Make sure DIR/tls/ holds the CA and the broker's certificate, creating them on the first
 * start. Sets d->tls_ca, d->tls_cert, d->tls_key to their paths. Returns 0 or -1 (logged).
 */
int tls__ensure_broker_certs(mqotad_t *d)
{
    char dir[PATH_MAX], ca_key[PATH_MAX + 16];
    snprintf(dir, sizeof(dir), "%.*s/tls", PATH_MAX - 16, d->data_dir);
    snprintf(ca_key, sizeof(ca_key), "%s/ca.key", dir);
    snprintf(d->tls_ca, sizeof(d->tls_ca), "%s/ca.crt", dir);
    snprintf(d->tls_cert, sizeof(d->tls_cert), "%s/server.crt", dir);
    snprintf(d->tls_key, sizeof(d->tls_key), "%s/server.key", dir);
    if (access(ca_key, R_OK) == 0 && access(d->tls_ca, R_OK) == 0 &&
        access(d->tls_cert, R_OK) == 0 && access(d->tls_key, R_OK) == 0)
        return 0;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        mqh_log(MQH_ERROR, "cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    int rc = -1;
    EVP_PKEY *cak = new_key(), *srvk = new_key();
    X509 *ca = NULL, *srv = NULL;
    if (!cak || !srvk) goto out;
    if (!(ca = make_cert(cak, "mqotad private broker CA", NULL, cak))) goto out;
    if (!(srv = make_cert(srvk, "localhost", ca, cak))) goto out;
    /* the keys first: a crash in between leaves no certificate without its key */
    if (write_pem(ca_key, cak, NULL) || write_pem(d->tls_key, srvk, NULL) ||
        write_pem(d->tls_cert, NULL, srv) || write_pem(d->tls_ca, NULL, ca))
        goto out;
    mqh_log(MQH_INFO, "created the broker's private CA %s and certificate %s (127.0.0.1, "
            "localhost)", d->tls_ca, d->tls_cert);
    rc = 0;
out:
    X509_free(ca);
    X509_free(srv);
    EVP_PKEY_free(cak);
    EVP_PKEY_free(srvk);
    return rc;
}
