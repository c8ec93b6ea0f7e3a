/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The mqota CLI's key generate / release sign (of an image, and of a file release's bundle with
 * --files), run as a process (argv[1] is the mqota binary).
 * The .mqsig it writes is checked the way a server would: with only the public key, the
 * manifest decoder, and OpenSSL (through the POSIX port's verifier).
 */
#define _XOPEN_SOURCE 700 /* realpath */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixtures.h"
#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "mqota/mqota_manifest.h"
#include "mqota_posix/sigverify.h"

static const char *mqota_bin;
static char dir[64];
#define IMAGE MQOTA_FIXTURES "/idf_hello_world_esp32_2024.bin"

/* Run "mqota ARGS" in dir; stdout to out.txt, stderr to err.txt; returns the exit code. */
static int run(const char *fmt, ...)
{
    char args[1024], cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof(cmd), "cd %s && %s %s >out.txt 2>err.txt", dir, mqota_bin, args);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* Whole file dir/name as a malloc'd NUL-terminated string (NULL if absent). */
static char *slurp(const char *name, size_t *len)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    b[n] = '\0';
    fclose(f);
    if (len) *len = (size_t)n;
    return b;
}

static size_t unbase64(const char *in, uint8_t *out, size_t cap)
{
    size_t n = strlen(in);
    assert_true(n % 4 == 0 && n / 4 * 3 <= cap);
    int got = EVP_DecodeBlock(out, (const unsigned char *)in, (int)n);
    assert_true(got >= 0);
    size_t pad = (n > 0 && in[n - 1] == '=') + (n > 1 && in[n - 2] == '=');
    return (size_t)got - pad;
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/mqota_cli_sign_%d", (int)getpid());
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "rm -rf %s && mkdir -p %s", dir, dir);
    return system(cmd) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_key_generate(void **state)
{
    (void)state;
    assert_int_equal(run("key generate --help"), 0);
    assert_int_equal(run("key generate"), 2);
    assert_int_equal(run("--json key generate rel"), 0);
    char path[256];
    struct stat st;
    snprintf(path, sizeof(path), "%s/rel.key.pem", dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    char *out = slurp("out.txt", NULL);
    cJSON *j = cJSON_Parse(out);
    assert_non_null(j);
    const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(j, "key_id"));
    assert_non_null(id);

    /* the public key is what a device or server loads; its id matches */
    sigverify_key_t *key;
    char err[256];
    snprintf(path, sizeof(path), "%s/rel.pub.pem", dir);
    assert_int_equal(sigverify_key_load(path, &key, err, sizeof(err)), MQOTA_OK);
    uint8_t kid[8];
    char hex[17];
    assert_int_equal(sigverify_key_id(key, kid), MQOTA_OK);
    for (int i = 0; i < 8; i++) snprintf(hex + 2 * i, 3, "%02x", kid[i]);
    assert_string_equal(hex, id);
    sigverify_key_free(key);
    cJSON_Delete(j);
    free(out);

    /* never overwritten */
    char *before = slurp("rel.key.pem", NULL);
    assert_int_equal(run("key generate rel"), 1);
    char *errtxt = slurp("err.txt", NULL);
    assert_non_null(strstr(errtxt, "rel.key.pem"));
    assert_non_null(strstr(errtxt, "already exists"));
    char *after = slurp("rel.key.pem", NULL);
    assert_string_equal(before, after);
    free(before);
    free(after);
    free(errtxt);
}

/* Verify dir/name.mqsig like a server would, with only rel.pub.pem; fills m and the block. */
static void verify_mqsig_kind(const char *name, bool files, mqota_manifest_t *m,
                              uint8_t block[80], uint8_t *manifest, size_t *mlen)
{
    char *txt = slurp(name, NULL);
    assert_non_null(txt);
    cJSON *j = cJSON_Parse(txt);
    assert_non_null(j);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(j, "format")),
                        "mqota-manifest-v1");
    *mlen = unbase64(cJSON_GetStringValue(cJSON_GetObjectItem(j, "manifest")), manifest,
                     (files ? MQOTA_FILES_MANIFEST_MAX_LEN : MQOTA_MANIFEST_MAX_LEN) + 3);
    uint8_t sig[84];
    assert_int_equal(unbase64(cJSON_GetStringValue(cJSON_GetObjectItem(j, "signature")), sig,
                              sizeof(sig)), 80);
    memcpy(block, sig, 80);
    assert_int_equal(files ? mqota_files_manifest_decode(manifest, *mlen, m)
                           : mqota_manifest_decode(manifest, *mlen, m), MQOTA_OK);
    mqota_sig_block_t blk;
    assert_int_equal(mqota_sig_block_decode(block, 80, &blk), MQOTA_OK);
    assert_memory_equal(blk.release_uid, m->release_uid, 16);

    sigverify_key_t *key;
    char err[256], path[256];
    snprintf(path, sizeof(path), "%s/rel.pub.pem", dir);
    assert_int_equal(sigverify_key_load(path, &key, err, sizeof(err)), MQOTA_OK);
    uint8_t digest[32], kid[8];
    char hex[17];
    SHA256(manifest, *mlen, digest);
    assert_int_equal(sigverify_digest(key, digest, blk.signature, 64), 0);
    assert_int_equal(sigverify_key_id(key, kid), MQOTA_OK);
    for (int i = 0; i < 8; i++) snprintf(hex + 2 * i, 3, "%02x", kid[i]);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(j, "key_id")), hex);
    sigverify_key_free(key);
    cJSON_Delete(j);
    free(txt);
}

static void verify_mqsig(const char *name, mqota_manifest_t *m, uint8_t block[80],
                         uint8_t manifest[MQOTA_MANIFEST_MAX_LEN], size_t *mlen)
{
    verify_mqsig_kind(name, false, m, block, manifest, mlen);
}

/* release sign --files: the bundle of PROTOCOL.md §17.1's example (one main.py, 73 bytes),
 * signed as a file release's manifest ("MQF1") into DIR.mqsig; its usage errors. */
static void test_release_sign_files(void **state)
{
    (void)state;
    assert_int_equal(run("key generate rel"), 0);
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "mkdir -p %s/app && printf 'VERSION = 2\\n' > %s/app/main.py", dir,
             dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(run("release sign --files app/ --key rel.key.pem"), 2);  /* no --version */
    assert_int_equal(run("release sign --files app --version a --key rel.key.pem "
                         "--security-version 1"), 2);
    assert_int_equal(run("release sign x.bin --files app --version a --key rel.key.pem"), 2);
    assert_int_equal(run("--json release sign --files app/ --version app-2 --key rel.key.pem"), 0);

    mqota_manifest_t m;
    uint8_t block[80], mb[MQOTA_FILES_MANIFEST_MAX_LEN + 3];
    size_t mlen = 0;
    verify_mqsig_kind("app.mqsig", true, &m, block, mb, &mlen);
    static const uint8_t example_sha[32] = {
        0x5d, 0xa5, 0x97, 0xb7, 0xec, 0x39, 0x6d, 0x9b, 0x03, 0xa7, 0xc5, 0xc4, 0x85, 0xd3, 0xf1, 0xa1,
        0x16, 0xfc, 0xea, 0x14, 0x2f, 0x7e, 0x1b, 0x59, 0x5e, 0xee, 0x93, 0x87, 0xa5, 0x4e, 0x4e, 0xe9};
    assert_memory_equal(m.sha256, example_sha, 32);
    assert_int_equal(m.image_size, 73);
    assert_int_equal(m.chip_id, MQOTA_CHIP_ANY);
    assert_int_equal(m.secure_version, 0);
    assert_string_equal(m.project, "files");
    assert_string_equal(m.version, "app-2");
    assert_int_equal(mb[2], 'F'); /* never an image's manifest */
    mqota_manifest_t img;
    assert_int_equal(mqota_manifest_decode(mb, mlen, &img), MQOTA_ERR_MALFORMED);
    char *out = slurp("out.txt", NULL);
    cJSON *j = cJSON_Parse(out);
    assert_non_null(j);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(j, "chip")), "any");
    assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(j, "file_count")), 1);
    cJSON_Delete(j);
    free(out);
}

static void test_release_sign(void **state)
{
    MQOTA_SKIP_WITHOUT_FIXTURES();
    (void)state;
    assert_int_equal(run("release sign --help"), 0);
    assert_int_equal(run("key generate rel"), 0);
    assert_int_equal(run("release sign app.bin"), 2); /* no --key */
    char cp[512];
    snprintf(cp, sizeof(cp), "cp %s %s/app.bin", IMAGE, dir);
    assert_int_equal(system(cp), 0);
    assert_int_equal(run("release sign app.bin --key rel.key.pem --version v9.0 "
                         "--security-version 7"), 0);

    mqota_manifest_t m;
    uint8_t block[80], mb[MQOTA_MANIFEST_MAX_LEN + 3];
    size_t mlen = 0, ilen = 0;
    verify_mqsig("app.bin.mqsig", &m, block, mb, &mlen);
    char *img = slurp("app.bin", &ilen);
    uint8_t sha[32];
    SHA256((const uint8_t *)img, ilen, sha);
    free(img);
    assert_memory_equal(m.sha256, sha, 32);
    assert_int_equal(m.image_size, ilen);
    assert_int_equal(m.chip_id, 0);
    assert_int_equal(m.secure_version, 7);
    assert_string_equal(m.version, "v9.0");
    assert_string_equal(m.project, "hello_world");

    /* the device rebuilds the same bytes from an OFFER carrying these fields and the block */
    mqota_offer_t o;
    memset(&o, 0, sizeof(o));
    memcpy(o.sha256, m.sha256, 32);
    o.image_size = m.image_size;
    o.chip_id = m.chip_id;
    o.secure_version = m.secure_version;
    snprintf(o.project, sizeof(o.project), "%s", m.project);
    snprintf(o.version, sizeof(o.version), "%s", m.version);
    o.sig_len = 80;
    memcpy(o.sig, block, 80);
    uint8_t rebuilt[MQOTA_MANIFEST_MAX_LEN];
    size_t rlen = 0;
    assert_int_equal(mqota_offer_manifest(&o, rebuilt, sizeof(rebuilt), &rlen), MQOTA_OK);
    assert_int_equal(rlen, mlen);
    assert_memory_equal(rebuilt, mb, mlen);

    /* defaults from the descriptor; a fresh uid every time */
    mqota_manifest_t m2;
    assert_int_equal(run("release sign app.bin --key rel.key.pem --output again.mqsig --json"), 0);
    verify_mqsig("again.mqsig", &m2, block, mb, &mlen);
    assert_string_equal(m2.version, "v1.4.1-2-g0296947-dirty");
    assert_int_equal(m2.secure_version, 0);
    assert_memory_not_equal(m2.release_uid, m.release_uid, 16);
    char *out = slurp("out.txt", NULL);
    cJSON *j = cJSON_Parse(out);
    assert_non_null(j);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(j, "file")), "again.mqsig");
    cJSON_Delete(j);
    free(out);
}

static void test_release_sign_refuses(void **state)
{
    MQOTA_SKIP_WITHOUT_FIXTURES();
    (void)state;
    assert_int_equal(run("key generate rel"), 0);
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "head -c 5000 /dev/urandom > %s/junk.bin", dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(run("release sign junk.bin --key rel.key.pem"), 1);
    char *e = slurp("err.txt", NULL);
    assert_non_null(strstr(e, "'junk.bin' is not an ESP32 application image"));
    free(e);
    assert_null(slurp("junk.bin.mqsig", NULL));

    snprintf(cmd, sizeof(cmd), "head -c 60000 %s > %s/cut.bin", IMAGE, dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(run("release sign cut.bin --key rel.key.pem"), 1);
    e = slurp("err.txt", NULL);
    assert_non_null(strstr(e, "'cut.bin' is not a valid ESP32 application image"));
    free(e);

    assert_int_equal(run("release sign missing.bin --key rel.key.pem"), 1);
    e = slurp("err.txt", NULL);
    assert_non_null(strstr(e, "missing.bin"));
    free(e);

    snprintf(cmd, sizeof(cmd), "cp %s %s/app.bin", IMAGE, dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(run("release sign app.bin --key rel.pub.pem"), 1);
    e = slurp("err.txt", NULL);
    assert_non_null(strstr(e, "'rel.pub.pem' is not a PEM private key"));
    free(e);
    assert_int_equal(run("release sign app.bin --key rel.key.pem --security-version x"), 2);
    assert_int_equal(run("release sign app.bin --key rel.key.pem --version "
                         "abcdefghijklmnopqrstuvwxyz0123456789"), 1);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_cli_sign PATH/TO/mqota\n");
        return 2;
    }
    static char abs_bin[4096];
    if (realpath(argv[1], abs_bin) == NULL) { /* the commands run in a temporary directory */
        fprintf(stderr, "test_cli_sign: no mqota binary at '%s'\n", argv[1]);
        return 2;
    }
    mqota_bin = abs_bin;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_key_generate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_release_sign, setup, teardown),
        cmocka_unit_test_setup_teardown(test_release_sign_refuses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_release_sign_files, setup, teardown),
    };
    return mqota_fixtures_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
