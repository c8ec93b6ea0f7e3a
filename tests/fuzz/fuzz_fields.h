/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_fields.h - split a fuzz input into a flags byte, NUL-terminated text fields and a
 * binary rest, the way the HTTP layer hands mqotad its request: query arguments and headers
 * are C strings (libmicrohttpd stops them at NUL), the body is bytes.
 *
 *   input = flags, field_1 NUL, field_2 NUL, ..., field_n NUL, rest (any bytes)
 *
 * A field missing at the end of the input is "". The fields are copied, so each is its own
 * heap block and AddressSanitizer sees any read past its NUL.
 */
#ifndef MQOTA_FUZZ_FIELDS_H
#define MQOTA_FUZZ_FIELDS_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_MAX_FIELDS 8

typedef struct {
    uint8_t flags;
    char *field[FUZZ_MAX_FIELDS];
    uint8_t *rest;   /* its own heap block of rest_len bytes (1 byte when empty) */
    size_t rest_len;
} fuzz_fields_t;

/* Split data into n (<= FUZZ_MAX_FIELDS) fields and the rest; 0, or -1 out of memory. */
static inline int fuzz_fields_split(const uint8_t *data, size_t size, int n, fuzz_fields_t *f)
{
    size_t at = 0;
    memset(f, 0, sizeof(*f));
    if (size > 0) f->flags = data[at++];
    for (int i = 0; i < n; i++) {
        const uint8_t *nul = at < size ? memchr(data + at, 0, size - at) : NULL;
        size_t len = nul ? (size_t)(nul - (data + at)) : size - at;
        f->field[i] = malloc(len + 1);
        if (!f->field[i]) return -1;
        if (len) memcpy(f->field[i], data + at, len);
        f->field[i][len] = '\0';
        at += len + (nul ? 1 : 0);
    }
    f->rest_len = size - at;
    f->rest = malloc(f->rest_len ? f->rest_len : 1);
    if (!f->rest) return -1;
    if (f->rest_len) memcpy(f->rest, data + at, f->rest_len);
    return 0;
}

static inline void fuzz_fields_free(fuzz_fields_t *f)
{
    for (int i = 0; i < FUZZ_MAX_FIELDS; i++) free(f->field[i]);
    free(f->rest);
    memset(f, 0, sizeof(*f));
}

/* A field as an optional argument: NULL when empty (absent), else the text. */
static inline const char *fuzz_opt(const char *s) { return s && *s ? s : NULL; }

#endif /* MQOTA_FUZZ_FIELDS_H */
