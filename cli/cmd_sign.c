/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mqota release sign: check an ESP32 image, build its release manifest (mqota_manifest.h),
 * sign it with a P-256 key, and write FILE.mqsig (docs/SECURITY.md "The .mqsig file").
 * Local only: nothing is sent to mqotad.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "cli.h"
#include "keys.h"
#include "mqota/mqota_image.h"
#include "mqota/mqota_manifest.h"
#include "sign.h"

#define MQSIG_FORMAT "mqota-manifest-v1"

static const char usage_sign[] =
    "Usage: mqota release sign FILE --key KEY.key.pem [--version V] [--security-version N]\n"
    "                          [--output PATH] [--json]\n"
    "       mqota release sign --files DIR --version V --key KEY.key.pem [--output PATH]\n"
    "\n"
    "Sign an ESP32 application image (.bin): check it, build its release manifest (SHA-256,\n"
    "size, chip, security version, project, version and a fresh random release uid), sign it\n"
    "with the ECDSA P-256 key, and write FILE.mqsig next to it. Nothing is uploaded.\n"
    "Devices given the public key (mqota-fleet --trust-key) refuse offers whose signature\n"
    "does not match; see docs/SECURITY.md.\n"
    "With --files, sign the bundle 'mqota release add --files DIR' builds from DIR (the same\n"
    "files give the same bundle) as a file release, and write DIR.mqsig; upload it with\n"
    "'mqota release add --files DIR --signature DIR.mqsig' before the files change.\n"
    "\n"
    "Options:\n"
    "  --key KEY.key.pem       private key from 'mqota key generate' (required)\n"
    "  --version V             release version (default: the image descriptor's version;\n"
    "                          Arduino builds carry the Arduino core's version, so give one);\n"
    "                          give the same version to 'mqota release add'\n"
    "  --security-version N    anti-rollback security version, 0..4294967295 (default: the\n"
    "                          descriptor's secure_version); devices that confirmed N refuse\n"
    "                          anything lower\n"
    "  --files DIR             sign the file release of the files under DIR\n"
    "  --output PATH           where to write the signature (default: FILE.mqsig or\n"
    "                          DIR.mqsig; replaced)\n"
    "  --json                  print what was signed as JSON\n"
    "\n"
    "Example:\n"
    "  mqota release sign build/app.bin --key keys/release.key.pem --version v1.2.0 \\\n"
    "      --security-version 3\n";

/* Refuse anything that is not a whole, valid application image, with one sentence. Fills info
 * on success. */
static int check_image(const char *path, const unsigned char *img, size_t len,
                       mqota_image_info_t *info)
{
    static const char advice[] = "give the application .bin from your build (build/<project>.bin)";
    mqota_image_check_t chk;
    uint32_t hashed_len = 0;
    mqota_status_t st = mqota_image_parse_head(img, len, info);

    if (st == MQOTA_ERR_TRUNCATED) {
        cli_error("'%s' is not an ESP32 application image: it is %zu bytes, shorter than an "
                  "image header and app descriptor (%u bytes); %s.", path, len,
                  MQOTA_IMAGE_HEAD_LEN, advice);
        return CLI_FAILED;
    }
    if (st != MQOTA_OK) {
        if (img[0] != MQOTA_IMAGE_MAGIC)
            cli_error("'%s' is not an ESP32 application image: byte 0 is 0x%02x, not the image "
                      "magic 0xE9; %s.", path, img[0], advice);
        else
            cli_error("'%s' is not an ESP32 application image: no valid segment count or app "
                      "descriptor (magic 0xABCD5432) at the start; a bootloader or partition "
                      "table is not an application; %s.", path, advice);
        return CLI_FAILED;
    }
    mqota_image_check_init(&chk);
    (void)mqota_image_check_update(&chk, img, len);
    if (mqota_image_check_finish(&chk, &hashed_len) != MQOTA_OK) {
        cli_error("'%s' is not a valid ESP32 application image: %s at byte %u; %s.", path,
                  mqota_image_fault_str((mqota_image_fault_t)chk.fault),
                  (unsigned)chk.fault_offset, advice);
        return CLI_FAILED;
    }
    if (hashed_len > 0) {
        unsigned char md[32];
        if (hashed_len > len || EVP_Digest(img, hashed_len, md, NULL, EVP_sha256(), NULL) != 1 ||
            memcmp(md, chk.appended_hash, 32) != 0) {
            cli_error("'%s' is not a valid ESP32 application image: its appended SHA-256 does "
                      "not match its bytes (the file is damaged); %s.", path, advice);
            return CLI_FAILED;
        }
    }
    if (strcmp(mqota_chip_name(info->chip_id), "unknown") == 0) {
        cli_error("'%s' is built for chip id %u, which is not an ESP32-family chip mqota knows.",
                  path, (unsigned)info->chip_id);
        return CLI_FAILED;
    }
    return CLI_OK;
}

static bool printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return false;
    return true;
}

/* Parse --security-version: a whole number 0..UINT32_MAX. Declared in sign.h. */
int cli_parse_u32(const char *text, uint32_t *out)
{
    char *end;
    errno = 0;
    if (*text < '0' || *text > '9')
        return -1;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0' || v > 0xFFFFFFFFull)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

/* ECDSA P-256 over SHA-256(msg), as raw r || s. Returns 0 or -1. */
static int sign_raw(EVP_PKEY *key, const uint8_t *msg, size_t len, uint8_t rs[64])
{
    unsigned char der[80];
    size_t der_len = sizeof der;
    const unsigned char *p = der;
    ECDSA_SIG *es = NULL;
    int rc = -1;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (md == NULL || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
        EVP_DigestSign(md, der, &der_len, msg, len) != 1)
        goto out;
    es = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
    if (es != NULL && BN_bn2binpad(ECDSA_SIG_get0_r(es), rs, 32) == 32 &&
        BN_bn2binpad(ECDSA_SIG_get0_s(es), rs + 32, 32) == 32)
        rc = 0;
out:
    ECDSA_SIG_free(es);
    EVP_MD_CTX_free(md);
    return rc;
}

/* Check our own signature with the key's public half before writing it anywhere. */
static int verify_raw(EVP_PKEY *key, const uint8_t *msg, size_t len, const uint8_t rs[64])
{
    ECDSA_SIG *es = ECDSA_SIG_new();
    unsigned char *der = NULL;
    int ok = 0;
    if (es != NULL &&
        ECDSA_SIG_set0(es, BN_bin2bn(rs, 32, NULL), BN_bin2bn(rs + 32, 32, NULL)) == 1) {
        int n = i2d_ECDSA_SIG(es, &der);
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        ok = n > 0 && md != NULL && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
             EVP_DigestVerify(md, der, (size_t)n, msg, len) == 1;
        EVP_MD_CTX_free(md);
    }
    OPENSSL_free(der);
    ECDSA_SIG_free(es);
    return ok ? 0 : -1;
}

static char *base64(const uint8_t *data, size_t len)
{
    char *out = malloc(4 * ((len + 2) / 3) + 1);
    if (out != NULL)
        EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    return out;
}

static void hex(const uint8_t *data, size_t len, char *out)
{
    for (size_t i = 0; i < len; i++)
        snprintf(out + 2 * i, 3, "%02x", data[i]);
}

/* Write text to path through path.tmp and rename, so a reader never sees half a file. */
static int write_file(const char *path, const char *text)
{
    size_t n = strlen(path) + sizeof ".tmp";
    char *tmp = malloc(n);
    if (tmp == NULL)
        return -1;
    snprintf(tmp, n, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    int ok = f != NULL && fputs(text, f) >= 0;
    ok = f != NULL && fclose(f) == 0 && ok;
    if (ok && rename(tmp, path) != 0)
        ok = 0;
    if (!ok) {
        cli_error("cannot write '%s': %s.", path, strerror(errno));
        unlink(tmp);
    }
    free(tmp);
    return ok ? 0 : -1;
}

/*
 * Sign the manifest m (its uid drawn here) with the key at key_path, check the signature, and
 * render the .mqsig into out (files: a bundle's manifest, "MQF1"; else an image's). CLI_OK or
 * CLI_FAILED after one sentence naming what (the file or directory) was being signed.
 */
static int sign_manifest(const char *what, const char *key_path, bool files, cli_signed_t *out)
{
    EVP_PKEY *key = NULL;
    char *b64m = NULL, *b64s = NULL, *text = NULL;
    cJSON *doc = NULL;
    mqota_manifest_t *m = &out->manifest;
    uint8_t mb[MQOTA_FILES_MANIFEST_MAX_LEN], block[MQOTA_SIG_BLOCK_LEN];
    mqota_sig_block_t blk;
    size_t mlen = 0;
    int rc = CLI_FAILED;

    key = cli_key_load_private(key_path);
    if (key == NULL || cli_key_id(key, out->key_id) != 0)
        goto out;
    if (RAND_bytes(m->release_uid, MQOTA_RELEASE_UID_LEN) != 1) {
        cli_error("OpenSSL could not produce random bytes for the release uid.");
        goto out;
    }
    memcpy(blk.release_uid, m->release_uid, MQOTA_RELEASE_UID_LEN);
    mqota_status_t st = files ? mqota_files_manifest_encode(m, mb, sizeof mb, &mlen)
                              : mqota_manifest_encode(m, mb, sizeof mb, &mlen);
    if (st != MQOTA_OK || sign_raw(key, mb, mlen, blk.signature) != 0 ||
        verify_raw(key, mb, mlen, blk.signature) != 0 ||
        mqota_sig_block_encode(&blk, block, sizeof block) != MQOTA_OK) {
        cli_error("signing '%s' with '%s' failed inside OpenSSL.", what, key_path);
        goto out;
    }

    b64m = base64(mb, mlen);
    b64s = base64(block, sizeof block);
    doc = cJSON_CreateObject();
    if (b64m == NULL || b64s == NULL || doc == NULL) {
        cli_error("out of memory while signing '%s'.", what);
        goto out;
    }
    cJSON_AddStringToObject(doc, "format", MQSIG_FORMAT);
    cJSON_AddStringToObject(doc, "manifest", b64m);
    cJSON_AddStringToObject(doc, "signature", b64s);
    cJSON_AddStringToObject(doc, "key_id", out->key_id);
    text = cJSON_Print(doc);
    size_t tl = text != NULL ? strlen(text) : 0;
    char *nl = text != NULL ? realloc(text, tl + 2) : NULL;
    if (nl == NULL) {
        cli_error("out of memory while signing '%s'.", what);
        goto out;
    }
    text = nl;
    memcpy(text + tl, "\n", 2);
    out->mqsig = text;
    text = NULL;
    rc = CLI_OK;
out:
    cJSON_Delete(doc);
    free(text);
    free(b64m);
    free(b64s);
    EVP_PKEY_free(key);
    return rc;
}

int cli_sign_image(const char *file, const unsigned char *img, size_t len, const char *key_path,
                   const char *version, const uint32_t *secver, cli_signed_t *out)
{
    mqota_image_info_t info;
    mqota_manifest_t *m = &out->manifest;

    memset(out, 0, sizeof *out);
    if (check_image(file, img, len, &info) != CLI_OK)
        return CLI_FAILED;
    if (version == NULL && strcmp(info.project_name, "arduino-lib-builder") == 0) {
        cli_error("'%s' is an Arduino build: its descriptor carries the Arduino core's version "
                  "(%s), not the application's; give the release version with --version.",
                  file, info.version);
        return CLI_FAILED;
    }
    if (version == NULL)
        version = info.version;
    if (strlen(version) > MQOTA_STR_MAX || !printable(version)) {
        cli_error("version '%.40s' of '%s' must be printable text of at most %u bytes (what an "
                  "offer carries); give one with --version.", version, file, MQOTA_STR_MAX);
        return CLI_FAILED;
    }
    /* The manifest: what the OFFER will carry (project cut to 31 bytes as on the wire). */
    if (EVP_Digest(img, len, m->sha256, NULL, EVP_sha256(), NULL) != 1) {
        cli_error("cannot compute the SHA-256 of '%s'.", file);
        return CLI_FAILED;
    }
    m->image_size = (uint32_t)len;
    m->chip_id = info.chip_id;
    m->secure_version = secver != NULL ? *secver : info.secure_version;
    snprintf(m->project, sizeof m->project, "%.31s", info.project_name);
    snprintf(m->version, sizeof m->version, "%.31s", version);
    return sign_manifest(file, key_path, false, out);
}

/* Declared in sign.h. */
int cli_sign_bundle(const char *dir, const unsigned char *bundle, size_t len,
                    const char *key_path, const char *version, cli_signed_t *out)
{
    mqota_manifest_t *m = &out->manifest;

    memset(out, 0, sizeof *out);
    if (strlen(version) > MQOTA_STR_MAX || !printable(version)) {
        cli_error("version '%.40s' of '%s' must be printable text of at most %u bytes (what an "
                  "offer carries).", version, dir, MQOTA_STR_MAX);
        return CLI_FAILED;
    }
    /* What a file release's OFFER carries (docs/PROTOCOL.md §17), which the device rebuilds. */
    if (EVP_Digest(bundle, len, m->sha256, NULL, EVP_sha256(), NULL) != 1) {
        cli_error("cannot compute the SHA-256 of the bundle of '%s'.", dir);
        return CLI_FAILED;
    }
    m->image_size = (uint32_t)len;
    m->chip_id = MQOTA_CHIP_ANY;
    m->secure_version = 0;
    snprintf(m->project, sizeof m->project, "files");
    snprintf(m->version, sizeof m->version, "%s", version);
    return sign_manifest(dir, key_path, true, out);
}

int cmd_release_sign(cli_ctx_t *ctx, int argc, char **argv)
{
    static const char cmd[] = "release sign";
    const char *key_path = NULL, *version = NULL, *secver = NULL, *output = NULL;
    const char *files_dir = NULL;
    const cli_opt_t opts[] = { { "--key", &key_path, NULL }, { "--version", &version, NULL },
                               { "--security-version", &secver, NULL },
                               { "--output", &output, NULL }, { "--files", &files_dir, NULL } };
    char *pos[1];
    int npos;
    int rc = cli_parse(ctx, cmd, usage_sign, argc, argv, opts, 5, pos, &npos, 1);
    if (rc != CLI_OK)
        return rc;
    if (files_dir != NULL) {
        if (npos != 0)
            return cli_usage_error(cmd, "give either an image FILE or --files DIR, not both");
        if (*files_dir == '\0')
            return cli_usage_error(cmd, "'--files' is empty; give the directory of the "
                                        "application's files");
        if (version == NULL)
            return cli_usage_error(cmd, "a file release needs --version V (a bundle has no "
                                        "descriptor to take one from)");
        if (secver != NULL)
            return cli_usage_error(cmd, "a file release has no security version: leave out "
                                        "--security-version");
    } else if (npos != 1)
        return cli_usage_error(cmd, "'%s' needs the image FILE to sign", cmd);
    if (key_path == NULL || *key_path == '\0')
        return cli_usage_error(cmd, "'%s' needs --key KEY.key.pem (make one with 'mqota key "
                                    "generate NAME')", cmd);
    if (version != NULL && *version == '\0')
        return cli_usage_error(cmd, "'--version' is empty; give a version such as v1.2.0");
    uint32_t sv = 0;
    if (secver != NULL && cli_parse_u32(secver, &sv) != 0)
        return cli_usage_error(cmd, "'--security-version %s' is not a whole number in "
                                    "0..4294967295", secver);

    const char *file = files_dir != NULL ? files_dir : pos[0];
    unsigned char *img = NULL;
    size_t len = 0, n_files = 0;
    char *out_path = NULL;
    cli_signed_t sg = { 0 };
    const mqota_manifest_t *m = &sg.manifest;
    char uid_hex[2 * MQOTA_RELEASE_UID_LEN + 1], sha_hex[65];

    rc = files_dir != NULL ? cli_build_bundle(files_dir, &img, &len, &n_files)
                           : cli_read_image(file, &img, &len);
    if (rc != CLI_OK)
        return rc;
    rc = files_dir != NULL
             ? cli_sign_bundle(file, img, len, key_path, version, &sg)
             : cli_sign_image(file, img, len, key_path, version, secver != NULL ? &sv : NULL,
                              &sg);
    if (rc != CLI_OK)
        goto out;
    rc = CLI_FAILED;
    if (output == NULL) {
        size_t fl = strlen(file); /* DIR/ signs into DIR.mqsig, not DIR/.mqsig */
        while (files_dir != NULL && fl > 1 && file[fl - 1] == '/')
            fl--;
        size_t n = fl + sizeof ".mqsig";
        out_path = malloc(n);
        if (out_path != NULL)
            snprintf(out_path, n, "%.*s.mqsig", (int)fl, file);
    } else {
        out_path = strdup(output);
    }
    if (out_path == NULL) {
        cli_error("out of memory while signing '%s'.", file);
        goto out;
    }
    if (write_file(out_path, sg.mqsig) != 0)
        goto out;

    hex(m->release_uid, MQOTA_RELEASE_UID_LEN, uid_hex);
    hex(m->sha256, 32, sha_hex);
    const char *chip = files_dir != NULL ? "any" : mqota_chip_name(m->chip_id);
    if (ctx->json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "file", out_path);
        cJSON_AddStringToObject(j, files_dir != NULL ? "files" : "image", file);
        if (files_dir != NULL)
            cJSON_AddNumberToObject(j, "file_count", (double)n_files);
        cJSON_AddStringToObject(j, "project", m->project);
        cJSON_AddStringToObject(j, "version", m->version);
        cJSON_AddStringToObject(j, "chip", chip);
        cJSON_AddNumberToObject(j, "chip_id", m->chip_id);
        cJSON_AddNumberToObject(j, "size", m->image_size);
        cJSON_AddNumberToObject(j, "secure_version", m->secure_version);
        cJSON_AddStringToObject(j, "sha256", sha_hex);
        cJSON_AddStringToObject(j, "release_uid", uid_hex);
        cJSON_AddStringToObject(j, "key_id", sg.key_id);
        cli_print_json(j);
        cJSON_Delete(j);
    } else {
        printf("signed %s -> %s\n", file, out_path);
        if (files_dir != NULL)
            printf("  files             %zu (file release)\n", n_files);
        printf("  project           %s\n", m->project);
        printf("  version           %s\n", m->version);
        printf("  chip              %s\n", chip);
        printf("  size              %u bytes\n", (unsigned)m->image_size);
        printf("  secure_version    %u\n", (unsigned)m->secure_version);
        printf("  sha256            %s\n", sha_hex);
        printf("  release uid       %s\n", uid_hex);
        printf("  key id            %s\n", sg.key_id);
    }
    rc = CLI_OK;
out:
    free(sg.mqsig);
    free(out_path);
    free(img);
    return rc;
}
