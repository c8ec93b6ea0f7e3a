/* SPDX-License-Identifier: Apache-2.0 */
/*
 * release_bundle.c - build the file bundle of a file release (docs/PROTOCOL.md §17) from a
 * directory, for 'mqota release add --files DIR'. Every regular file under DIR becomes one
 * entry, its path relative to DIR, in byte order of the paths, so the same directory always
 * gives the same bundle (and the same SHA-256). mqotad checks the paths again (the one judge);
 * here only what would make the bundle impossible to build is refused.
 */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>

#include "cli.h"

#define BUNDLE_HEADER_LEN 16u
#define BUNDLE_ENTRY_LEN 38u
#define BUNDLE_MAX_FILES 64u
#define BUNDLE_PATH_MAX 96u
#define BUNDLE_MAX_BYTES 1048576u

typedef struct {
    char rel[BUNDLE_PATH_MAX + 1];
    unsigned char *data;
    size_t size;
} bundle_file_t;

typedef struct {
    bundle_file_t files[BUNDLE_MAX_FILES];
    size_t n;
    size_t data_bytes;
} bundle_t;

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

/* Read one regular file into the bundle; CLI_OK or CLI_FAILED after one sentence. */
static int add_file(bundle_t *b, const char *dir, const char *path, const char *rel, off_t size)
{
    if (b->n == BUNDLE_MAX_FILES) {
        cli_error("'%s' holds more than %u files, the most a file release carries; leave "
                  "out what the device does not need.", dir, BUNDLE_MAX_FILES);
        return CLI_FAILED;
    }
    if (strlen(rel) > BUNDLE_PATH_MAX) {
        cli_error("the path '%s' is longer than %u bytes, the longest a file release "
                  "carries; shorten it.", rel, BUNDLE_PATH_MAX);
        return CLI_FAILED;
    }
    if ((unsigned long long)size > BUNDLE_MAX_BYTES ||
        b->data_bytes + (size_t)size > BUNDLE_MAX_BYTES) {
        cli_error("the files under '%s' make more than %u bytes, the largest file release; "
                  "leave out what the device does not need.", dir, BUNDLE_MAX_BYTES);
        return CLI_FAILED;
    }
    bundle_file_t *f = &b->files[b->n];
    FILE *fp = fopen(path, "rb");
    f->data = malloc(size > 0 ? (size_t)size : 1);
    size_t got = fp && f->data ? fread(f->data, 1, (size_t)size, fp) : 0;
    if (fp) fclose(fp);
    if (!fp || !f->data || got != (size_t)size) {
        cli_error("cannot read '%s': %s.", path, !fp ? strerror(errno) : !f->data
                  ? "out of memory" : "the file changed while reading");
        free(f->data);
        f->data = NULL;
        return CLI_FAILED;
    }
    snprintf(f->rel, sizeof f->rel, "%s", rel);
    f->size = (size_t)size;
    b->data_bytes += f->size;
    b->n++;
    return CLI_OK;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

/* Walk dir/rel (rel "" at the top) depth first, in byte order of the names. */
static int walk(bundle_t *b, const char *top, const char *rel, int depth)
{
    char dir[4096], path[4096], sub[4096];
    struct dirent **names = NULL;
    int rc = CLI_OK;
    if ((size_t)snprintf(dir, sizeof dir, "%s%s%s", top, *rel ? "/" : "", rel) >= sizeof dir) {
        cli_error("the path of '%s' under '%s' is too long.", rel, top);
        return CLI_FAILED;
    }
    if (depth > 16) {
        cli_error("'%s' is nested more than 16 directories deep; is there a symlink loop?", dir);
        return CLI_FAILED;
    }
    int n = scandir(dir, &names, NULL, by_name);
    if (n < 0) {
        cli_error("cannot read the directory '%s': %s; give the directory that holds the "
                  "application's files.", dir, strerror(errno));
        return CLI_FAILED;
    }
    for (int i = 0; i < n; i++) {
        const char *name = names[i]->d_name;
        struct stat st;
        if (rc != CLI_OK || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) continue;
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path ||
            (size_t)snprintf(sub, sizeof sub, "%s%s%s", rel, *rel ? "/" : "", name) >= sizeof sub) {
            cli_error("the path of '%s' under '%s' is too long.", name, dir);
            rc = CLI_FAILED;
        } else if (stat(path, &st) != 0) {
            cli_error("cannot read '%s': %s.", path, strerror(errno));
            rc = CLI_FAILED;
        } else if (S_ISDIR(st.st_mode)) {
            rc = walk(b, top, sub, depth + 1);
        } else if (S_ISREG(st.st_mode)) {
            rc = add_file(b, top, path, sub, st.st_size);
        } else {
            cli_error("'%s' is neither a file nor a directory; a file release carries files "
                      "only.", path);
            rc = CLI_FAILED;
        }
    }
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
    return rc;
}

int cli_build_bundle(const char *dir, unsigned char **out, size_t *out_len, size_t *n_files)
{
    bundle_t *b = calloc(1, sizeof(*b));
    unsigned char *buf = NULL;
    int rc = CLI_FAILED;
    if (!b) {
        cli_error("out of memory while reading '%s'.", dir);
        return CLI_FAILED;
    }
    if (walk(b, dir, "", 0) != CLI_OK) goto out;
    if (b->n == 0) {
        cli_error("'%s' holds no file; give the directory that holds the application's files "
                  "(main.py, lib/...).", dir);
        goto out;
    }
    size_t len = BUNDLE_HEADER_LEN + b->data_bytes;
    for (size_t i = 0; i < b->n; i++) len += BUNDLE_ENTRY_LEN + strlen(b->files[i].rel);
    if (len > BUNDLE_MAX_BYTES) {
        cli_error("the files under '%s' make a %zu-byte bundle, more than %u bytes, the largest "
                  "file release; leave out what the device does not need.", dir, len,
                  BUNDLE_MAX_BYTES);
        goto out;
    }
    if (!(buf = calloc(1, len))) {
        cli_error("out of memory while building the bundle of '%s'.", dir);
        goto out;
    }
    memcpy(buf, "MQFB", 4);
    buf[4] = 1; /* format version */
    buf[6] = (unsigned char)b->n;
    buf[7] = (unsigned char)(b->n >> 8);
    put32(buf + 8, (uint32_t)len);
    size_t off = BUNDLE_HEADER_LEN;
    for (size_t i = 0; i < b->n; i++) {
        const bundle_file_t *f = &b->files[i];
        size_t pl = strlen(f->rel);
        unsigned int dn = 0;
        put32(buf + off, (uint32_t)f->size);
        if (EVP_Digest(f->data, f->size, buf + off + 4, &dn, EVP_sha256(), NULL) != 1) {
            cli_error("cannot compute the SHA-256 of '%s'.", f->rel);
            goto out;
        }
        buf[off + 36] = (unsigned char)pl;
        memcpy(buf + off + BUNDLE_ENTRY_LEN, f->rel, pl);
        off += BUNDLE_ENTRY_LEN + pl;
    }
    for (size_t i = 0; i < b->n; i++) {
        if (b->files[i].size) memcpy(buf + off, b->files[i].data, b->files[i].size);
        off += b->files[i].size;
    }
    *out = buf;
    *out_len = len;
    *n_files = b->n;
    buf = NULL;
    rc = CLI_OK;
out:
    for (size_t i = 0; i < b->n; i++) free(b->files[i].data);
    free(b);
    free(buf);
    return rc;
}
