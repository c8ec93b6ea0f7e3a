/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the file bundle of a file release (server/release_files.c,
 * docs/PROTOCOL.md §17): release_files__parse() on any bytes, then release_files__verify() and
 * release_files__manifest_json() on what it accepts. No database or disk is touched.
 *
 * Checked on every input: no crash, leak or UB; a refusal has one sentence; an accepted bundle
 * has 1..RELEASE_FILES_MAX files whose paths pass release_files__check_path() again, no path
 * twice, offsets that tile the data section exactly up to the end of the input, and a
 * manifest JSON that reads back with the same count, paths and sizes.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "release_files.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    release_files_t *m = malloc(sizeof(*m));
    char err[512] = "", why[160];
    CHECK(m != NULL);
    if (release_files__parse(data, size, m, err, sizeof(err)) != 0) {
        CHECK(err[0] != '\0');
        free(m);
        return 0;
    }
    CHECK(m->count >= 1 && m->count <= RELEASE_FILES_MAX);
    CHECK(size <= RELEASE_FILES_BUNDLE_MAX);
    uint64_t end = m->files[0].offset;
    for (uint16_t i = 0; i < m->count; i++) {
        const release_file_t *f = &m->files[i];
        CHECK(release_files__check_path(f->path, strlen(f->path), why, sizeof(why)) == 0);
        CHECK(f->offset == end);
        end += f->size;
        for (uint16_t j = 0; j < i; j++) CHECK(strcmp(m->files[j].path, f->path) != 0);
    }
    CHECK(end == size);
    int v = release_files__verify(data, m, err, sizeof(err));
    CHECK(v == 0 || (v == -1 && err[0] != '\0'));
    char *json = release_files__manifest_json(m);
    CHECK(json != NULL);
    cJSON *a = cJSON_Parse(json);
    CHECK(a != NULL && cJSON_GetArraySize(a) == m->count);
    for (uint16_t i = 0; i < m->count; i++) {
        cJSON *e = cJSON_GetArrayItem(a, i);
        CHECK(strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(e, "path")), m->files[i].path) == 0);
        CHECK((uint32_t)cJSON_GetNumberValue(cJSON_GetObjectItem(e, "size")) == m->files[i].size);
    }
    cJSON_Delete(a);
    free(json);
    free(m);
    return 0;
}
