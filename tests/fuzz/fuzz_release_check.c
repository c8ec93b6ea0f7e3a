/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the parse step of a release upload (release__check: the image body,
 * the X-Mqota-Signature header and the version and notes query arguments), with one trusted
 * release key (keys/api.pub.pem; the signed seeds are signed with its private key, which is
 * not kept). Input (fuzz_fields.h): flags (bit 0: --require-signed), version, notes,
 * signature header, then the image. No database or disk is touched.
 *
 * Checked on every input: no crash, leak or UB; RELEASE_ERROR never happens (only OpenSSL
 * failing to hash); a refusal has one sentence; an accepted upload describes exactly these
 * bytes (size, SHA-256), has a printable version of at most 31 bytes that is the given one
 * unless signed, the given notes, and a signature only if one was sent, verified by the
 * trusted key.
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_fields.h"
#include "mqota_host.h"
#include "release.h"
#include "signature.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

static mqotad_t *d;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    static mqotad_t daemon;
    d = &daemon;
    mqh_log_init("fuzz_release_check", MQH_ERROR);
    d->trusted_key_paths[0] = FUZZ_SOURCE_DIR "/keys/api.pub.pem";
    d->n_trusted_keys = 1;
    if (signature__load_keys(d) != 0) {
        fprintf(stderr, "fuzz_release_check: cannot load %s\n", d->trusted_key_paths[0]);
        exit(1);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_fields_t f;
    db_release_t *r = malloc(sizeof(*r));
    char err[768] = "";
    CHECK(r != NULL);
    CHECK(fuzz_fields_split(data, size, 3, &f) == 0);
    const char *version = fuzz_opt(f.field[0]), *notes = fuzz_opt(f.field[1]);
    const char *sig = fuzz_opt(f.field[2]);
    d->require_signed = f.flags & 1;

    release_result_t rc = release__check(d, f.rest, f.rest_len, version, notes, sig, r, err,
                                         sizeof(err));
    CHECK(rc == RELEASE_OK || rc == RELEASE_INVALID);
    if (rc != RELEASE_OK) {
        CHECK(err[0] != '\0');
    } else {
        uint8_t digest[32];
        unsigned int n = 0;
        char hex[65];
        CHECK(EVP_Digest(f.rest, f.rest_len, digest, &n, EVP_sha256(), NULL) == 1);
        mqh_hex(digest, 32, hex);
        CHECK(strcmp(hex, r->sha256) == 0);
        CHECK(r->size == f.rest_len && r->size > 0);
        size_t vl = strlen(r->version);
        CHECK(vl > 0 || !version);
        CHECK(vl <= 31);
        for (size_t i = 0; i < vl; i++)
            CHECK((unsigned char)r->version[i] >= 0x20 && r->version[i] != 0x7f);
        if (version && !r->has_sig) CHECK(strcmp(r->version, version) == 0);
        CHECK(strcmp(r->notes, notes ? notes : "") == 0);
        CHECK(!r->has_sig || sig);
        CHECK(!d->require_signed || r->has_sig);
        if (r->has_sig) CHECK(strcmp(r->key_id, d->trusted_keys[0].key_id) == 0);
        CHECK(r->id == 0 && r->path[0] == '\0' && r->created_at == 0);
        CHECK((r->kind == DB_RELEASE_FILES) == (r->manifest != NULL));
        CHECK(r->kind != DB_RELEASE_FILES ||
              (r->file_count > 0 && r->chip_id == MQOTA_CHIP_ANY && r->secure_version == 0));
    }
    free(r->manifest);
    fuzz_fields_free(&f);
    free(r);
    return 0;
}
