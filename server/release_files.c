/* SPDX-License-Identifier: Apache-2.0 */
/*
 * release_files.c - the file bundle of a file release (docs/PROTOCOL.md §17): a pure parser
 * that checks every byte of the header, every entry and every path before anything is stored,
 * the files' hashes, and the manifest as JSON for the API.
 *
 * The bundle is what the device receives, byte for byte: the server never rebuilds it, so the
 * SHA-256 in the OFFER is the hash of the uploaded bytes. The rules here are the device's
 * too (ports/micropython/mqota/files.py): a bundle this parser accepts, the device accepts.
 */
#include "release_files.h"

#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqota_host.h"
#include "mqota_utf8.h"

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

bool release_files__is_bundle(const uint8_t *b, size_t len)
{
    return len >= 4 && memcmp(b, RELEASE_FILES_MAGIC, 4) == 0;
}

int release_files__check_path(const char *p, size_t n, char *why, size_t cap)
{
    if (n == 0 || n > RELEASE_FILES_PATH_MAX) {
        snprintf(why, cap, "it is %zu bytes long, not 1 to %u", n, RELEASE_FILES_PATH_MAX);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == 0) {
            snprintf(why, cap, "it holds a NUL byte at byte %zu", i);
            return -1;
        }
        if (c < 0x20 || c == 0x7f) {
            snprintf(why, cap, "it holds the control byte 0x%02x at byte %zu", c, i);
            return -1;
        }
        if (c == '\\') {
            snprintf(why, cap, "it holds a backslash at byte %zu; separate directories with "
                     "'/'", i);
            return -1;
        }
    }
    if (!mqh_utf8_valid(p, n)) {
        snprintf(why, cap, "it is not valid UTF-8");
        return -1;
    }
    if (p[0] == '/') {
        snprintf(why, cap, "it starts with '/': paths are relative to the application's "
                 "directory");
        return -1;
    }
    if (p[n - 1] == '/') {
        snprintf(why, cap, "it ends with '/': name a file, not a directory");
        return -1;
    }
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && p[i] != '/') continue;
        size_t len = i - start;
        if (len == 0) {
            snprintf(why, cap, "it has an empty component ('//') at byte %zu", i);
            return -1;
        }
        if ((len == 1 && p[start] == '.') || (len == 2 && p[start] == '.' && p[start + 1] == '.')) {
            snprintf(why, cap, "it has a '%.*s' component: every path stays inside the "
                     "application's directory", (int)len, p + start);
            return -1;
        }
        if (start == 0 && i < n && len == 5 && memcmp(p, "mqota", 5) == 0) {
            snprintf(why, cap, "it is under 'mqota/', the agent's records directory");
            return -1;
        }
        start = i + 1;
    }
    return 0;
}

/* Whether a and b are equal ignoring ASCII case (as FAT compares names). */
static bool same_name_fat(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = *a >= 'A' && *a <= 'Z' ? (char)(*a + 32) : *a;
        char y = *b >= 'A' && *b <= 'Z' ? (char)(*b + 32) : *b;
        if (x != y) return false;
    }
    return *a == *b;
}

/* Whether dir (a file's path) is a directory of path: path starts with "dir/". */
static bool is_dir_of(const char *dir, const char *path)
{
    size_t n = strlen(dir);
    return strncmp(dir, path, n) == 0 && path[n] == '/';
}

int release_files__parse(const uint8_t *b, size_t len, release_files_t *out, char *err,
                         size_t cap)
{
    memset(out, 0, sizeof(*out));
    if (len < RELEASE_FILES_HEADER_LEN || !release_files__is_bundle(b, len)) {
        snprintf(err, cap, "file bundle rejected: it does not start with the %u-byte header "
                 "(magic \"MQFB\"); build it with 'mqota release add --files DIR'",
                 RELEASE_FILES_HEADER_LEN);
        return -1;
    }
    if (len > RELEASE_FILES_BUNDLE_MAX) {
        snprintf(err, cap, "file bundle rejected: %zu bytes is larger than the largest bundle "
                 "(%u bytes)", len, RELEASE_FILES_BUNDLE_MAX);
        return -1;
    }
    if (b[4] != RELEASE_FILES_VERSION) {
        snprintf(err, cap, "file bundle rejected: format version %u, this mqotad reads "
                 "version %u", b[4], RELEASE_FILES_VERSION);
        return -1;
    }
    uint16_t count = rd16(b + 6);
    uint32_t total = rd32(b + 8);
    if (b[5] != 0 || rd32(b + 12) != 0) {
        snprintf(err, cap, "file bundle rejected: its reserved header bytes (5, 12..15) are "
                 "not 0");
        return -1;
    }
    if (count == 0 || count > RELEASE_FILES_MAX) {
        snprintf(err, cap, "file bundle rejected: it holds %u files, not 1 to %u", count,
                 RELEASE_FILES_MAX);
        return -1;
    }
    if (total != len) {
        snprintf(err, cap, "file bundle rejected: its header says %u bytes but %zu came; was "
                 "the upload cut short?", total, len);
        return -1;
    }
    size_t off = RELEASE_FILES_HEADER_LEN;
    uint64_t data = 0;
    char why[160];
    for (uint16_t i = 0; i < count; i++) {
        release_file_t *f = &out->files[i];
        if (len - off < RELEASE_FILES_ENTRY_LEN) {
            snprintf(err, cap, "file bundle rejected: it ends inside the entry of file %u", i + 1);
            return -1;
        }
        f->size = rd32(b + off);
        memcpy(f->sha256, b + off + 4, 32);
        size_t pl = b[off + 36];
        if (b[off + 37] != 0) {
            snprintf(err, cap, "file bundle rejected: the reserved byte of file %u's entry is "
                     "not 0", i + 1);
            return -1;
        }
        off += RELEASE_FILES_ENTRY_LEN;
        if (len - off < pl) {
            snprintf(err, cap, "file bundle rejected: it ends inside the path of file %u", i + 1);
            return -1;
        }
        if (release_files__check_path((const char *)b + off, pl, why, sizeof(why)) != 0) {
            char shown[RELEASE_FILES_PATH_MAX + 1];
            size_t k = pl < RELEASE_FILES_PATH_MAX ? pl : RELEASE_FILES_PATH_MAX;
            for (size_t j = 0; j < k; j++)
                shown[j] = b[off + j] >= 0x20 && b[off + j] < 0x7f ? (char)b[off + j] : '?';
            shown[k] = '\0';
            snprintf(err, cap, "file bundle rejected: the path of file %u ('%s') is refused: "
                     "%s", i + 1, shown, why);
            return -1;
        }
        memcpy(f->path, b + off, pl);
        f->path[pl] = '\0';
        off += pl;
        data += f->size;
        for (uint16_t j = 0; j < i; j++) {
            const char *o = out->files[j].path;
            if (strcmp(o, f->path) == 0) {
                snprintf(err, cap, "file bundle rejected: '%s' is listed twice (files %u and "
                         "%u)", f->path, j + 1, i + 1);
                return -1;
            }
            if (same_name_fat(o, f->path)) {
                snprintf(err, cap, "file bundle rejected: '%s' and '%s' differ only in case, "
                         "which a FAT filesystem takes as one file", o, f->path);
                return -1;
            }
            if (is_dir_of(o, f->path) || is_dir_of(f->path, o)) {
                bool od = is_dir_of(o, f->path);
                snprintf(err, cap, "file bundle rejected: '%s' is a file and also a directory "
                         "of '%s'", od ? o : f->path, od ? f->path : o);
                return -1;
            }
        }
    }
    if (data != len - off) {
        snprintf(err, cap, "file bundle rejected: its entries announce %llu bytes of file "
                 "data but %zu follow them", (unsigned long long)data, len - off);
        return -1;
    }
    for (uint16_t i = 0; i < count; i++) {
        out->files[i].offset = (uint32_t)off;
        off += out->files[i].size;
    }
    out->count = count;
    return 0;
}

int release_files__verify(const uint8_t *b, const release_files_t *m, char *err, size_t cap)
{
    for (uint16_t i = 0; i < m->count; i++) {
        const release_file_t *f = &m->files[i];
        uint8_t d[32];
        unsigned int n = 0;
        if (EVP_Digest(b + f->offset, f->size, d, &n, EVP_sha256(), NULL) != 1 || n != 32) {
            snprintf(err, cap, "cannot compute the SHA-256 of '%s'", f->path);
            return -2;
        }
        if (memcmp(d, f->sha256, 32) != 0) {
            char hex[65];
            mqh_hex(d, 32, hex);
            snprintf(err, cap, "file bundle rejected: the bytes of '%s' hash to %.12s..., not "
                     "to the SHA-256 its entry gives", f->path, hex);
            return -1;
        }
    }
    return 0;
}

char *release_files__manifest_json(const release_files_t *m)
{
    cJSON *a = cJSON_CreateArray();
    for (uint16_t i = 0; a && i < m->count; i++) {
        char hex[65];
        cJSON *j = cJSON_CreateObject();
        if (!j) break;
        mqh_hex(m->files[i].sha256, 32, hex);
        cJSON_AddStringToObject(j, "path", m->files[i].path);
        cJSON_AddNumberToObject(j, "size", m->files[i].size);
        cJSON_AddStringToObject(j, "sha256", hex);
        cJSON_AddItemToArray(a, j);
    }
    char *text = a && cJSON_GetArraySize(a) == m->count ? cJSON_PrintUnformatted(a) : NULL;
    cJSON_Delete(a);
    return text;
}
