/* SPDX-License-Identifier: Apache-2.0 */
/*
 * legacy_pull_req.c - the pure checks of a pull request (legacy protocol 3, docs/LEGACY.md
 * §3): its path, its app_ver, its Range header, and the file names handed out. Every byte of
 * a request comes from the network: each part is bounded and checked character by character
 * before it names anything in the store.
 */
#define _POSIX_C_SOURCE 200809L /* strnlen */
#include "legacy_pull_req.h"

#include <stdio.h>
#include <string.h>

#define DEVICES_PREFIX "/devices/"
#define FILES_PREFIX "/files/"
#define FILE_SUFFIX ".bin"

static bool id_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '.' || c == '-';
}

/* Whether the n bytes at s are a device id. */
static bool id_ok_n(const char *s, size_t n)
{
    if (n == 0 || n > PULL_ID_MAX) return false;
    if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.')) return false;
    for (size_t i = 0; i < n; i++)
        if (!id_char(s[i])) return false;
    return true;
}

bool pull_req__id_ok(const char *s)
{
    size_t n = strnlen(s, PULL_ID_MAX + 1);
    return id_ok_n(s, n);
}

static bool hex_lower(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

void pull_req__route(const char *path, pull_route_t *out)
{
    memset(out, 0, sizeof(*out));
    size_t len = strnlen(path, PULL_PATH_MAX + 1);
    if (len > PULL_PATH_MAX) return;
    if (strncmp(path, DEVICES_PREFIX, strlen(DEVICES_PREFIX)) == 0) {
        const char *id = path + strlen(DEVICES_PREFIX);
        size_t n = len - strlen(DEVICES_PREFIX);
        if (!id_ok_n(id, n)) return;
        memcpy(out->device_id, id, n);
        out->kind = PULL_ROUTE_DEVICE;
        return;
    }
    if (strncmp(path, FILES_PREFIX, strlen(FILES_PREFIX)) != 0) return;
    const char *name = path + strlen(FILES_PREFIX);
    size_t n = len - strlen(FILES_PREFIX), sfx = strlen(FILE_SUFFIX);
    if (n < PULL_NAME_HASH_HEX + 1 + 1 + sfx) return;
    for (size_t i = 0; i < PULL_NAME_HASH_HEX; i++)
        if (!hex_lower(name[i])) return;
    if (name[PULL_NAME_HASH_HEX] != '-' || memcmp(name + n - sfx, FILE_SUFFIX, sfx) != 0) return;
    const char *id = name + PULL_NAME_HASH_HEX + 1;
    size_t id_len = n - PULL_NAME_HASH_HEX - 1 - sfx;
    if (!id_ok_n(id, id_len)) return;
    memcpy(out->hash_hex, name, PULL_NAME_HASH_HEX);
    memcpy(out->device_id, id, id_len);
    out->kind = PULL_ROUTE_FILE;
}

bool pull_req__version_ok(const char *v)
{
    size_t n = strnlen(v, PULL_VERSION_MAX + 1);
    if (n == 0 || n > PULL_VERSION_MAX) return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v[i] < 0x21 || (unsigned char)v[i] > 0x7E) return false;
    return true;
}

/* A decimal of at most 19 digits at *p (advanced); -1 when there is none or it is longer. */
static long long take_u63(const char **p)
{
    long long v = 0;
    int digits = 0;
    while (**p >= '0' && **p <= '9') {
        if (++digits > 18) return -1; /* below 2^63: no overflow */
        v = v * 10 + (**p - '0');
        (*p)++;
    }
    return digits ? v : -1;
}

pull_range_t pull_req__range(const char *hdr, uint64_t size, uint64_t *first, uint64_t *last)
{
    if (!hdr || strncmp(hdr, "bytes=", 6) != 0) return PULL_RANGE_NONE;
    const char *p = hdr + 6;
    while (*p == ' ') p++;
    long long f = -1, l = -1;
    if (*p == '-') { /* suffix: the last N bytes */
        p++;
        long long n = take_u63(&p);
        while (*p == ' ') p++;
        if (n < 0 || *p != '\0') return PULL_RANGE_NONE;
        if (n == 0 || size == 0) return PULL_RANGE_UNSATISFIABLE;
        *first = (uint64_t)n >= size ? 0 : size - (uint64_t)n;
        *last = size - 1;
        return PULL_RANGE_OK;
    }
    f = take_u63(&p);
    if (f < 0 || *p != '-') return PULL_RANGE_NONE;
    p++;
    if (*p >= '0' && *p <= '9') {
        l = take_u63(&p);
        if (l < 0 || l < f) return PULL_RANGE_NONE; /* invalid: ignored */
    }
    while (*p == ' ') p++;
    if (*p != '\0') return PULL_RANGE_NONE; /* several ranges or junk: the whole file */
    if ((uint64_t)f >= size) return PULL_RANGE_UNSATISFIABLE;
    *first = (uint64_t)f;
    *last = l < 0 || (uint64_t)l >= size ? size - 1 : (uint64_t)l;
    return PULL_RANGE_OK;
}

int pull_req__file_name(const char *sha256_hex, const char *device_id, char *out, size_t cap)
{
    if (strnlen(sha256_hex, PULL_NAME_HASH_HEX) < PULL_NAME_HASH_HEX ||
        !pull_req__id_ok(device_id))
        return -1;
    for (size_t i = 0; i < PULL_NAME_HASH_HEX; i++)
        if (!hex_lower(sha256_hex[i])) return -1;
    int n = snprintf(out, cap, "%.*s-%s%s", (int)PULL_NAME_HASH_HEX, sha256_hex, device_id,
                     FILE_SUFFIX);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}
