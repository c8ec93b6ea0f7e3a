/* SPDX-License-Identifier: Apache-2.0 */
/* mqota key generate: a release signing key pair (ECDSA P-256) in two PEM files. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/ec.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "cli.h"
#include "keys.h"

static const char usage_generate[] =
    "Usage: mqota key generate NAME [--json]\n"
    "\n"
    "Create a release signing key pair (ECDSA P-256) in two PEM files:\n"
    "  NAME.key.pem   the private key (PKCS#8, mode 0600): signs releases; keep it offline\n"
    "  NAME.pub.pem   the public key: give it to the devices (mqota-fleet --trust-key) and\n"
    "                 to whoever verifies .mqsig files\n"
    "Existing files are never overwritten. NAME may include a directory.\n"
    "\n"
    "Options:\n"
    "  --json         print the file names and the key id as JSON\n"
    "\n"
    "Example:\n"
    "  mqota key generate keys/release-2026\n"
    "  mqota release sign build/app.bin --key keys/release-2026.key.pem\n";

bool cli_key_is_p256(EVP_PKEY *pkey)
{
    char group[64];
    size_t n = 0;
    return EVP_PKEY_base_id(pkey) == EVP_PKEY_EC &&
           EVP_PKEY_get_utf8_string_param(pkey, "group", group, sizeof group, &n) == 1 &&
           strcmp(group, SN_X9_62_prime256v1) == 0;
}

int cli_key_id(EVP_PKEY *pkey, char out[CLI_KEY_ID_HEX])
{
    unsigned char *der = NULL, md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    int n = i2d_PUBKEY(pkey, &der);
    int ok = n > 0 && EVP_Digest(der, (size_t)n, md, &mdlen, EVP_sha256(), NULL) == 1;
    OPENSSL_free(der);
    if (!ok)
        return -1;
    for (int i = 0; i < 8; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    return 0;
}

EVP_PKEY *cli_key_load_private(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        cli_error("cannot read key '%s': %s; give the NAME.key.pem written by 'mqota key "
                  "generate'.", path, strerror(errno));
        return NULL;
    }
    EVP_PKEY *pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    if (pkey == NULL) {
        cli_error("'%s' is not a PEM private key; give the NAME.key.pem written by 'mqota key "
                  "generate' (not the .pub.pem).", path);
        return NULL;
    }
    if (!cli_key_is_p256(pkey)) {
        cli_error("key '%s' is not an ECDSA P-256 key; mqota signs with P-256 only (make one "
                  "with 'mqota key generate').", path);
        EVP_PKEY_free(pkey);
        return NULL;
    }
    return pkey;
}

/* Write pkey's private half to a new file at path, mode 0600; refuse to replace a file. */
static int write_private(const char *path, EVP_PKEY *pkey)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        cli_error("cannot create '%s': %s.", path, strerror(errno));
        return -1;
    }
    FILE *f = fdopen(fd, "w");
    if (f == NULL) {
        close(fd);
        unlink(path);
        cli_error("cannot write '%s': %s.", path, strerror(errno));
        return -1;
    }
    /* umask may have narrowed the mode, never widened it; make it exactly 0600 anyway */
    int ok = fchmod(fd, 0600) == 0 &&
             PEM_write_PKCS8PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL) == 1;
    ok = fclose(f) == 0 && ok;
    if (!ok) {
        unlink(path);
        cli_error("cannot write the private key to '%s'; is the disk full?", path);
        return -1;
    }
    return 0;
}

static int write_public(const char *path, EVP_PKEY *pkey)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (f == NULL) {
        cli_error("cannot create '%s': %s.", path, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(path);
        }
        return -1;
    }
    int ok = PEM_write_PUBKEY(f, pkey) == 1;
    ok = fclose(f) == 0 && ok;
    if (!ok) {
        unlink(path);
        cli_error("cannot write the public key to '%s'; is the disk full?", path);
        return -1;
    }
    return 0;
}

int cmd_key_generate(cli_ctx_t *ctx, int argc, char **argv)
{
    static const char cmd[] = "key generate";
    char *pos[1];
    int npos;
    int rc = cli_parse(ctx, cmd, usage_generate, argc, argv, NULL, 0, pos, &npos, 1);
    if (rc != CLI_OK)
        return rc;
    if (npos != 1 || *pos[0] == '\0')
        return cli_usage_error(cmd, "'%s' needs the key NAME, e.g. 'mqota key generate release'",
                               cmd);

    const char *name = pos[0];
    size_t n = strlen(name) + sizeof ".key.pem";
    char *priv = malloc(n), *pub = malloc(n);
    EVP_PKEY *pkey = NULL;
    char id[CLI_KEY_ID_HEX];
    struct stat st;
    rc = CLI_FAILED;
    if (priv == NULL || pub == NULL) {
        cli_error("out of memory.");
        goto out;
    }
    snprintf(priv, n, "%s.key.pem", name);
    snprintf(pub, n, "%s.pub.pem", name);
    if (lstat(priv, &st) == 0 || lstat(pub, &st) == 0) {
        cli_error("'%s' already exists; mqota never overwrites a key. Choose another NAME or "
                  "remove the old files first.", lstat(priv, &st) == 0 ? priv : pub);
        goto out;
    }
    pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    if (pkey == NULL || cli_key_id(pkey, id) != 0) {
        cli_error("OpenSSL could not generate a P-256 key.");
        goto out;
    }
    if (write_private(priv, pkey) != 0)
        goto out;
    if (write_public(pub, pkey) != 0) {
        unlink(priv); /* no half pairs */
        goto out;
    }
    if (ctx->json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "private_key", priv);
        cJSON_AddStringToObject(j, "public_key", pub);
        cJSON_AddStringToObject(j, "algorithm", "ECDSA P-256");
        cJSON_AddStringToObject(j, "key_id", id);
        cli_print_json(j);
        cJSON_Delete(j);
    } else {
        printf("wrote %s (private key, mode 0600: keep it secret and offline)\n", priv);
        printf("wrote %s (public key: give it to devices and verifiers)\n", pub);
        printf("key id %s\n", id);
    }
    rc = CLI_OK;
out:
    EVP_PKEY_free(pkey);
    free(priv);
    free(pub);
    return rc;
}
