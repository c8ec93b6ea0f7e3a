/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mqota-image-variant: copy an ESP32 application image with another esp_app_desc_t.version
 * (and optionally secure_version), its checksum byte and appended SHA-256 recomputed, so that
 * mqotad, the agent and the virtual bootloader accept it as a new, distinct release.
 *
 *   mqota-image-variant --version soak-03 [--secure-version 3] [--project P] IN.bin OUT.bin
 *
 * Prints one line: OUT, project, version, secure_version, size and SHA-256 of the file.
 * Exit status: 0 written; 1 the input cannot be read or is not a valid image, or OUT cannot be
 * written (nothing is left at OUT); 2 usage error.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "image_variant.h"
#include "mqota/mqota_image.h"

#define MAX_IMAGE (16u * 1024u * 1024u) /* no ESP32 OTA slot is larger */

static void usage(FILE *out)
{
    fprintf(out,
            "usage: mqota-image-variant --version V [--secure-version N] [--project P] IN OUT\n"
            "\n"
            "Copies the ESP32 application image IN to OUT with esp_app_desc_t.version set to V\n"
            "(1 to 31 printable bytes) and, with --secure-version, secure_version set to N\n"
            "(0..4294967295); the checksum byte and the appended SHA-256 are recomputed so the\n"
            "bootloader and mqotad accept OUT. IN must be a valid image. For tests that need\n"
            "many distinct releases of one real image. --project P sets\n"
            "esp_app_desc_t.project_name too (1 to 31 printable bytes): the fleet's devices\n"
            "speak the legacy protocol of an image of project legacy-b64 or legacy-md5\n"
            "(docs/LEGACY.md).\n");
}

/* Read the whole file into a new buffer; NULL with a message on stderr. */
static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t n = 0;
    if (f == NULL) {
        fprintf(stderr, "mqota-image-variant: cannot open '%s': %s\n", path, strerror(errno));
        return NULL;
    }
    buf = malloc(MAX_IMAGE + 1u);
    if (buf == NULL) {
        fprintf(stderr, "mqota-image-variant: out of memory reading '%s'\n", path);
        fclose(f);
        return NULL;
    }
    n = fread(buf, 1, MAX_IMAGE + 1u, f);
    if (ferror(f) || n > MAX_IMAGE) {
        fprintf(stderr, "mqota-image-variant: '%s' %s\n", path,
                ferror(f) ? "cannot be read" : "is larger than 16 MiB, no ESP32 OTA slot holds it");
        fclose(f);
        free(buf);
        return NULL;
    }
    fclose(f);
    *len = n;
    return buf;
}

/* Write buf to path through path.tmp and rename(); 0, or -1 with a message and no file left. */
static int write_file(const char *path, const uint8_t *buf, size_t len)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
        fprintf(stderr, "mqota-image-variant: output path '%s' is too long\n", path);
        return -1;
    }
    FILE *f = fopen(tmp, "wb");
    if (f == NULL) {
        fprintf(stderr, "mqota-image-variant: cannot create '%s': %s\n", tmp, strerror(errno));
        return -1;
    }
    int ok = fwrite(buf, 1, len, f) == len;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        fprintf(stderr, "mqota-image-variant: cannot write '%s': %s\n", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    enum { O_VERSION = 1, O_SECURE, O_HELP, O_PROJECT };
    static const struct option opts[] = {
        {"version", required_argument, 0, O_VERSION},
        {"secure-version", required_argument, 0, O_SECURE},
        {"project", required_argument, 0, O_PROJECT},
        {"help", no_argument, 0, O_HELP}, {0, 0, 0, 0},
    };
    const char *version = NULL, *project = NULL;
    uint32_t sv = 0;
    int have_sv = 0, c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case O_VERSION: version = optarg; break;
        case O_PROJECT: project = optarg; break;
        case O_SECURE: {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(optarg, &end, 10);
            if (errno || end == optarg || *end || optarg[0] == '-' || v > UINT32_MAX) {
                fprintf(stderr, "mqota-image-variant: --secure-version '%s' is not a whole "
                                "number in 0..4294967295\n", optarg);
                return 2;
            }
            sv = (uint32_t)v;
            have_sv = 1;
            break;
        }
        case O_HELP: usage(stdout); return 0;
        default:
            fprintf(stderr, "mqota-image-variant: unknown option or missing value '%s'; see "
                            "'mqota-image-variant --help'\n", argv[optind - 1]);
            return 2;
        }
    }
    if (version == NULL || argc - optind != 2) {
        fprintf(stderr, "mqota-image-variant: give --version V, an input and an output file; "
                        "see 'mqota-image-variant --help'\n");
        return 2;
    }
    const char *in = argv[optind], *out = argv[optind + 1];
    size_t len = 0;
    uint8_t *img = read_file(in, &len);
    if (img == NULL) return 1;
    char err[512];
    if ((project ? image_variant_apply_project(img, len, version, project, have_sv ? &sv : NULL,
                                               err, sizeof(err))
                 : image_variant_apply(img, len, version, have_sv ? &sv : NULL, err,
                                       sizeof(err))) != 0) {
        fprintf(stderr, "mqota-image-variant: %s: %s\n", in, err);
        free(img);
        return 1;
    }
    if (write_file(out, img, len) != 0) {
        free(img);
        return 1;
    }
    mqota_image_info_t info;
    uint8_t digest[32];
    unsigned int dn = 0;
    char hex[65];
    mqota_image_parse_head(img, len, &info); /* cannot fail: image_variant_apply checked it */
    EVP_Digest(img, len, digest, &dn, EVP_sha256(), NULL);
    for (unsigned i = 0; i < 32u; i++) snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    printf("%s: %s %s, secure_version %u, %zu bytes, sha256 %s\n", out, info.project_name,
           info.version, (unsigned)info.secure_version, len, hex);
    free(img);
    return 0;
}
