/* SPDX-License-Identifier: Apache-2.0 */
/* mqota release add / release list. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>

#include "cli.h"
#include "format.h"
#include "http.h"
#include "sign.h"

/* Refuse files larger than this locally; mqotad's own limit (the OTA slot) is far smaller. */
#define MAX_IMAGE_BYTES (64u * 1024u * 1024u)
/* A .mqsig is a few hundred bytes; anything this large is not one. */
#define MAX_MQSIG_BYTES 16384u

static const char usage_add[] =
    "Usage: mqota release add FILE [--version V] [--notes TEXT]\n"
    "                         [--signature FILE.mqsig | --sign-key KEY.key.pem\n"
    "                          [--security-version N]]\n"
    "       mqota release add --files DIR --version V [--notes TEXT]\n"
    "                         [--signature DIR.mqsig | --sign-key KEY.key.pem]\n"
    "\n"
    "Upload an ESP32 application image (.bin) to mqotad, which checks it and stores it as a\n"
    "release. The release's chip, project and size come from the image itself.\n"
    "With --files, upload a file release instead: every file under DIR (main.py, lib/..., \n"
    "config.txt), paths relative to DIR, as one bundle (docs/PROTOCOL.md §17) for devices\n"
    "that take file releases (the MicroPython agent, docs/MICROPYTHON.md). At most 64 files\n"
    "and 1 MiB; a version is required; --sign-key or --signature sign it as images are.\n"
    "A signed release carries its .mqsig (docs/SECURITY.md): mqotad verifies it against its\n"
    "--trusted-key keys and the image, and its offers carry the signature, the signed\n"
    "version and the signed security version.\n"
    "\n"
    "Options:\n"
    "  --version V             release version (default: the image descriptor's version, or\n"
    "                          the signed one; Arduino builds carry the Arduino core's\n"
    "                          version, so give one)\n"
    "  --notes TEXT            free text stored with the release\n"
    "  --signature FILE.mqsig  upload this signature (from 'mqota release sign') with the image\n"
    "  --sign-key KEY.key.pem  sign here first (as 'mqota release sign'), then upload; the\n"
    "                          private key never leaves this machine\n"
    "  --security-version N    with --sign-key: anti-rollback security version (default: the\n"
    "                          descriptor's secure_version)\n"
    "  --files DIR             upload the files under DIR as a file release\n"
    "  --json                  print the stored release as JSON\n"
    "\n"
    "Examples:\n"
    "  mqota release add build/app.bin --version v1.2.0 --notes 'fixes the watchdog reset'\n"
    "  mqota release add --files app/ --version app-7\n"
    "  mqota release add build/app.bin --sign-key keys/release.key.pem --security-version 3\n"
    "  mqota release add build/app.bin --signature build/app.bin.mqsig\n";

static const char usage_list[] =
    "Usage: mqota release list [--json]\n"
    "\n"
    "List releases, newest first: ID KIND VERSION PROJECT CHIP SIZE SHA256 CREATED (KIND is\n"
    "image, or files N for a file release of N files).\n"
    "\n"
    "Example:\n"
    "  mqota release list\n";

/* Declared in cli.h: release sign reads images the same way. */
int cli_read_image(const char *path, unsigned char **data, size_t *len)
{
    struct stat st;
    FILE *f = NULL;
    unsigned char *buf = NULL;

    if (stat(path, &st) != 0) {
        cli_error("cannot read '%s': %s; check the path.", path, strerror(errno));
        return CLI_FAILED;
    }
    if (S_ISDIR(st.st_mode)) {
        cli_error("'%s' is a directory; give the path of the image file (.bin).", path);
        return CLI_FAILED;
    }
    if (st.st_size == 0) {
        cli_error("'%s' is empty; give the path of a built ESP32 application image.", path);
        return CLI_FAILED;
    }
    if ((unsigned long long)st.st_size > MAX_IMAGE_BYTES) {
        cli_error("'%s' is %lld bytes, too big for an ESP32 application image; check that it "
                  "is the app .bin and not a full flash dump.", path, (long long)st.st_size);
        return CLI_FAILED;
    }
    f = fopen(path, "rb");
    if (f == NULL) {
        cli_error("cannot read '%s': %s; check the path and its permissions.", path,
                  strerror(errno));
        return CLI_FAILED;
    }
    buf = malloc((size_t)st.st_size);
    size_t got = buf != NULL ? fread(buf, 1, (size_t)st.st_size, f) : 0;
    if (buf == NULL || got != (size_t)st.st_size) {
        cli_error("cannot read '%s': %s.", path, buf == NULL ? "out of memory"
                                                             : "the file changed while reading");
        fclose(f);
        free(buf);
        return CLI_FAILED;
    }
    fclose(f);
    *data = buf;
    *len = got;
    return CLI_OK;
}

/* Print a release object as aligned "key  value" lines under a title. */
static void print_release(const cJSON *r, const char *title)
{
    char size[32], date[32];
    long long bytes = cli_json_int(r, "size", 0);

    bool files = strcmp(cli_json_str(r, "kind", "image"), "files") == 0;
    printf("%s %lld\n", title, cli_json_int(r, "id", 0));
    printf("  kind      %s\n", files ? "files" : "image");
    printf("  version   %s\n", cli_json_str(r, "version", "-"));
    printf("  project   %s\n", cli_json_str(r, "project", "-"));
    printf("  chip      %s\n", cli_json_str(r, "chip", "-"));
    printf("  size      %s (%lld bytes)\n", fmt_size((uint64_t)bytes, size, sizeof size), bytes);
    printf("  sha256    %s\n", cli_json_str(r, "sha256", "-"));
    if (!files)
        printf("  idf       %s\n", cli_json_str(r, "idf_version", "-"));
    printf("  created   %s\n", fmt_date(cli_json_int(r, "created_at", 0), date, sizeof date));
    if (cli_json_bool(r, "signed", false))
        printf("  signed    yes, key %s, secure_version %lld\n", cli_json_str(r, "key_id", "-"),
               cli_json_int(r, "secure_version", 0));
    else
        printf("  signed    no\n");
    const char *notes = cli_json_str(r, "notes", "");
    if (*notes != '\0')
        printf("  notes     %s\n", notes);
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(r, "files"), *f;
    if (files)
        printf("  files     %lld\n", cli_json_int(r, "file_count", 0));
    cJSON_ArrayForEach(f, list) {
        printf("    %-40s %8lld  %.12s\n", cli_json_str(f, "path", "?"),
               cli_json_int(f, "size", 0), cli_json_str(f, "sha256", "?"));
    }
}

/* Read a .mqsig file (small JSON text) into a NUL-terminated malloc'd string. */
static int read_mqsig(const char *path, char **out)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        cli_error("cannot read the signature '%s': %s; give the FILE.mqsig that 'mqota release "
                  "sign' wrote.", path, strerror(errno));
        return CLI_FAILED;
    }
    char *buf = malloc(MAX_MQSIG_BYTES + 1);
    size_t n = buf != NULL ? fread(buf, 1, MAX_MQSIG_BYTES + 1, f) : 0;
    fclose(f);
    if (buf == NULL || n == 0 || n > MAX_MQSIG_BYTES) {
        cli_error("'%s' is %s, not a .mqsig file; give the FILE.mqsig that 'mqota release "
                  "sign' wrote.", path, buf == NULL ? "unreadable (out of memory)"
                                                    : n == 0 ? "empty" : "too large");
        free(buf);
        return CLI_FAILED;
    }
    buf[n] = '\0';
    *out = buf;
    return CLI_OK;
}

/* "X-Mqota-Signature: <base64 of the whole .mqsig>" (docs/API.md), malloc'd. */
static char *signature_header(const char *mqsig)
{
    static const char name[] = "X-Mqota-Signature: ";
    size_t n = strlen(mqsig);
    char *h = malloc(sizeof name + 4 * ((n + 2) / 3) + 1);
    if (h != NULL) {
        memcpy(h, name, sizeof name - 1);
        EVP_EncodeBlock((unsigned char *)h + sizeof name - 1, (const unsigned char *)mqsig,
                        (int)n);
    }
    return h;
}

int cmd_release_add(cli_ctx_t *ctx, int argc, char **argv)
{
    static const char cmd[] = "release add";
    const char *version = NULL, *notes = NULL, *sig_path = NULL, *key_path = NULL;
    const char *secver = NULL, *files_dir = NULL;
    const cli_opt_t opts[] = { { "--version", &version, NULL }, { "--notes", &notes, NULL },
                               { "--signature", &sig_path, NULL },
                               { "--sign-key", &key_path, NULL },
                               { "--security-version", &secver, NULL },
                               { "--files", &files_dir, NULL } };
    char *pos[1];
    int npos, rc;
    uint32_t sv = 0;
    size_t n_files = 0;

    rc = cli_parse(ctx, cmd, usage_add, argc, argv, opts, 6, pos, &npos, 1);
    if (rc != CLI_OK)
        return rc;
    if (files_dir != NULL) {
        if (npos != 0)
            return cli_usage_error(cmd, "give either an image FILE or --files DIR, not both");
        if (*files_dir == '\0')
            return cli_usage_error(cmd, "'--files' is empty; give the directory of the "
                                        "application's files");
        if (secver != NULL)
            return cli_usage_error(cmd, "a file release has no security version: leave out "
                                        "--security-version");
        if (version == NULL)
            return cli_usage_error(cmd, "a file release needs --version V (a bundle has no "
                                        "descriptor to take one from)");
        pos[0] = (char *)files_dir;
    } else if (npos != 1)
        return cli_usage_error(cmd, "'%s' needs the image FILE to upload", cmd);
    if (version != NULL && *version == '\0')
        return cli_usage_error(cmd, "'--version' is empty; give a version such as v1.2.0");
    if (sig_path != NULL && key_path != NULL)
        return cli_usage_error(cmd, "give either --signature FILE.mqsig or --sign-key "
                                    "KEY.key.pem, not both");
    if ((sig_path != NULL && *sig_path == '\0') || (key_path != NULL && *key_path == '\0'))
        return cli_usage_error(cmd, "'%s' is empty; give a file", sig_path ? "--signature"
                                                                          : "--sign-key");
    if (secver != NULL && key_path == NULL)
        return cli_usage_error(cmd, "--security-version is signed, so it needs --sign-key "
                                    "KEY.key.pem (a .mqsig already carries its own)");
    if (secver != NULL && cli_parse_u32(secver, &sv) != 0)
        return cli_usage_error(cmd, "'--security-version %s' is not a whole number in "
                                    "0..4294967295", secver);

    unsigned char *data = NULL;
    size_t len = 0;
    char *mqsig = NULL, *sig_hdr = NULL, *ev = NULL, *en = NULL, *path = NULL;
    cJSON *resp = NULL;
    rc = files_dir != NULL ? cli_build_bundle(files_dir, &data, &len, &n_files)
                           : cli_read_image(pos[0], &data, &len);
    if (rc != CLI_OK)
        return rc;

    if (key_path != NULL) {
        cli_signed_t sg;
        rc = files_dir != NULL
                 ? cli_sign_bundle(files_dir, data, len, key_path, version, &sg)
                 : cli_sign_image(pos[0], data, len, key_path, version, secver ? &sv : NULL,
                                  &sg);
        if (rc != CLI_OK)
            goto out;
        mqsig = sg.mqsig;
        version = NULL; /* the signed manifest carries it */
    } else if (sig_path != NULL) {
        rc = read_mqsig(sig_path, &mqsig);
        if (rc != CLI_OK)
            goto out;
    }
    if (mqsig != NULL && (sig_hdr = signature_header(mqsig)) == NULL) {
        cli_error("out of memory while preparing the upload of '%s'.", pos[0]);
        rc = CLI_FAILED;
        goto out;
    }

    /* Build /api/v1/releases?version=..&notes=.. with escaped values. */
    ev = version ? http_escape(version) : NULL;
    en = notes ? http_escape(notes) : NULL;
    size_t plen = 64 + (ev ? strlen(ev) : 0) + (en ? strlen(en) : 0);
    path = malloc(plen);
    if (path == NULL || (version && !ev) || (notes && !en)) {
        cli_error("out of memory while preparing the upload of '%s'.", pos[0]);
        rc = CLI_FAILED;
        goto out;
    }
    snprintf(path, plen, "/api/v1/releases%s%s%s%s%s", (ev || en) ? "?" : "",
             ev ? "version=" : "", ev ? ev : "", (ev && en) ? "&" : "", en ? "notes=" : "");
    if (en)
        strcat(path, en);

    rc = http_json_hdr(ctx, "POST", path, "application/octet-stream", data, len, sig_hdr, &resp,
                       NULL);
    if (rc == CLI_OK) {
        if (ctx->json)
            cli_print_json(resp);
        else
            print_release(resp, "stored release");
    } else if (rc == CLI_FAILED && resp != NULL) {
        /* The server speaks HTTP; translate its advice into this command's options. */
        const char *err = cli_json_str(resp, "error", "");
        long long id = cli_json_int(resp, "id", 0);
        char idtext[32];
        snprintf(idtext, sizeof idtext, "release %lld", id);
        if (id > 0 && strstr(err, idtext) == NULL)
            cli_error("the existing release is %lld; see 'mqota release list'.", id);
        if (version == NULL && files_dir == NULL && strstr(err, "version=") != NULL)
            cli_error("give the version with --version, e.g. 'mqota release add %s --version "
                      "v1.0.0'.", pos[0]);
    }
out:
    cJSON_Delete(resp);
    free(mqsig);
    free(sig_hdr);
    free(path);
    free(ev);
    free(en);
    free(data);
    return rc;
}

int cmd_release_list(cli_ctx_t *ctx, int argc, char **argv)
{
    static const char cmd[] = "release list";
    static const char *const head[] = { "ID", "KIND", "VERSION", "PROJECT", "CHIP", "SIZE",
                                        "SHA256", "CREATED" };
    cJSON *arr = NULL;
    int rc = cli_list_fetch(ctx, cmd, usage_list, argc, argv, "/api/v1/releases", &arr);
    if (rc != CLI_OK || arr == NULL)
        return rc;

    fmt_table_t *t = fmt_table_new(8, head);
    if (t == NULL) {
        cJSON_Delete(arr);
        cli_error("out of memory while printing the release list.");
        return CLI_FAILED;
    }
    fmt_table_align_right(t, 0);
    fmt_table_align_right(t, 5);
    const cJSON *r;
    cJSON_ArrayForEach(r, arr) {
        char id[24], size[32], sha[16], date[32], kind[24];
        snprintf(id, sizeof id, "%lld", cli_json_int(r, "id", 0));
        if (strcmp(cli_json_str(r, "kind", "image"), "files") == 0)
            snprintf(kind, sizeof kind, "files %lld", cli_json_int(r, "file_count", 0));
        else
            snprintf(kind, sizeof kind, "image");
        fmt_size((uint64_t)cli_json_int(r, "size", 0), size, sizeof size);
        snprintf(sha, sizeof sha, "%.12s", cli_json_str(r, "sha256", "-"));
        fmt_date(cli_json_int(r, "created_at", 0), date, sizeof date);
        const char *row[] = { id, kind, cli_json_str(r, "version", "-"),
                              cli_json_str(r, "project", "-"),
                              cli_json_str(r, "chip", "-"), size, sha, date };
        fmt_table_add_row(t, row);
    }
    if (fmt_table_rows(t) == 0)
        printf("No releases yet; add one with 'mqota release add FILE'.\n");
    else
        fmt_table_print(t, stdout);
    fmt_table_free(t);
    cJSON_Delete(arr);
    return CLI_OK;
}

static const char usage_show[] =
    "Usage: mqota release show ID [--json]\n"
    "\n"
    "Show one release: its kind, version, project, chip, size, SHA-256, signature and notes,\n"
    "and for a file release every file with its size and SHA-256.\n"
    "\n"
    "Example:\n"
    "  mqota release show 7\n";

int cmd_release_show(cli_ctx_t *ctx, int argc, char **argv)
{
    static const char cmd[] = "release show";
    char *pos[1], path[64];
    int npos;
    long long id;
    cJSON *r = NULL;
    int rc = cli_parse(ctx, cmd, usage_show, argc, argv, NULL, 0, pos, &npos, 1);
    if (rc != CLI_OK)
        return rc;
    if (npos != 1)
        return cli_usage_error(cmd, "'%s' needs the release ID (see 'mqota release list')", cmd);
    if ((rc = cli_parse_id(cmd, "release id", pos[0], &id)) != 0)
        return rc;
    snprintf(path, sizeof path, "/api/v1/releases/%lld", id);
    rc = http_get(ctx, path, &r);
    if (rc == CLI_OK) {
        if (ctx->json) {
            cli_print_json(r);
        } else {
            cli_json_make_safe(r);
            print_release(r, "release");
        }
    }
    cJSON_Delete(r);
    return rc;
}
