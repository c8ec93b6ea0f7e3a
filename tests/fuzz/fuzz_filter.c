/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for device target filters (server/filter.c: filter__parse, filter__sql; no
 * server or database). Whatever the bytes: no crash, leak or UB; a refusal is one sentence and
 * an empty filter; an accepted filter has 1..FILTER_TERMS_MAX terms of 1..FILTER_ALTS_MAX
 * values, fits FILTER_SQL_MAX and FILTER_PARAMS_MAX, and its SQL condition is made of the
 * fixed fragments only (no byte of the input: no quote, semicolon, comment or digit), with one
 * bound parameter per placeholder, each text parameter pointing into the parsed filter.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "filter.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

static filter_t f;
static char sql[FILTER_SQL_MAX];
static filter_param_t params[FILTER_PARAMS_MAX];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[700] = "";
    char *text = malloc(size + 1);
    size_t n = 0, marks = 0;
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0'; /* a NUL inside ends the filter, as in a C string from the query */
    if (filter__parse(text, &f, err, sizeof(err)) != 0) {
        CHECK(err[0] != '\0' && f.n_terms == 0);
        free(text);
        return 0;
    }
    CHECK(f.n_terms >= 1 && f.n_terms <= FILTER_TERMS_MAX);
    for (int i = 0; i < f.n_terms; i++) {
        CHECK(f.terms[i].key < FILTER_KEY_COUNT);
        CHECK(f.terms[i].n_values >= 1 && f.terms[i].n_values <= FILTER_ALTS_MAX);
    }
    CHECK(filter__sql(&f, 1800000000, sql, sizeof(sql), params, FILTER_PARAMS_MAX, &n) == 0);
    for (const char *p = sql; *p; p++) {
        CHECK(strchr("abcdefghijklmnopqrstuvwxyz_ ()?,=<>ANDINOTSELCFRMWHE", *p) != NULL);
        marks += *p == '?';
    }
    CHECK(marks == n && n >= 1 && n <= FILTER_PARAMS_MAX);
    for (size_t i = 0; i < n; i++)
        if (params[i].is_text)
            CHECK((const char *)params[i].text >= (const char *)&f &&
                  (const char *)params[i].text + params[i].text_len <= (const char *)(&f + 1));
    free(text);
    return 0;
}
