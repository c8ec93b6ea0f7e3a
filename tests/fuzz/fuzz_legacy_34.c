/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer targets for legacy protocols 3 and 4 (docs/LEGACY.md §3, §4).
 *
 * FUZZ_LEGACY_PULL: a pull request's parts as the HTTP layer hands them over (server/
 * legacy_pull_req.c): fields path, app_ver, Range; the rest's first 8 bytes a file size. An
 * accepted path names a valid id (and, for a file, 32 lower-case hex digits) that round-trips
 * through pull_req__file_name(); a satisfiable range lies inside the file.
 *
 * FUZZ_LEGACY_TCP: protocol 4's decoders (common/mqota_legacy_tcp.c) on the bytes: header,
 * block (with the flags byte's bit 0 choosing a zero or an all-0xFF previous hash) and the
 * address announcement. An accepted header re-encodes to the same bytes; an accepted block
 * re-encodes from its data to the same bytes; an accepted announcement prints back as a
 * dotted quad that parses to the same address.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_fields.h"
#include "legacy_pull_req.h"
#include "mqota_legacy_tcp.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

#ifdef FUZZ_LEGACY_PULL
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_fields_t f;
    if (fuzz_fields_split(data, size, 3, &f) != 0) goto out;
    pull_route_t r;
    pull_req__route(f.field[0], &r);
    if (r.kind != PULL_ROUTE_NONE) {
        CHECK(pull_req__id_ok(r.device_id));
        if (r.kind == PULL_ROUTE_FILE) {
            char name[PULL_NAME_MAX + 1], path[PULL_PATH_MAX + 2];
            CHECK(strlen(r.hash_hex) == PULL_NAME_HASH_HEX);
            CHECK(pull_req__file_name(r.hash_hex, r.device_id, name, sizeof(name)) == 0);
            snprintf(path, sizeof(path), "/files/%s", name);
            CHECK(strcmp(path, f.field[0]) == 0);
        } else {
            CHECK(strcmp(f.field[0] + strlen("/devices/"), r.device_id) == 0);
        }
    } else {
        CHECK(r.device_id[0] == '\0');
    }
    if (pull_req__version_ok(f.field[1])) CHECK(strlen(f.field[1]) <= PULL_VERSION_MAX);
    uint64_t fsize = 0, first = 0, last = 0;
    for (size_t i = 0; i < 8 && i < f.rest_len; i++) fsize = fsize << 8 | f.rest[i];
    pull_range_t rg = pull_req__range(fuzz_opt(f.field[2]), fsize, &first, &last);
    if (rg == PULL_RANGE_OK) CHECK(first <= last && last < fsize);
out:
    fuzz_fields_free(&f);
    return 0;
}
#endif

#ifdef FUZZ_LEGACY_TCP
static uint8_t again[LTCP_BLOCK_LEN];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint16_t n = 0, port = 0;
    uint32_t addr = 0;
    uint8_t h[LTCP_HEADER_LEN];
    if (size == 0) return 0;
    uint8_t flags = data[0];
    data++;
    size--;
    if (ltcp_header_decode(data, size, &n) == LTCP_OK) {
        ltcp_header_encode(n, h);
        CHECK(memcmp(h, data, LTCP_HEADER_LEN) == 0);
    }
    uint8_t prev[LTCP_HASH_LEN], prev0[LTCP_HASH_LEN], next[LTCP_HASH_LEN];
    memset(prev, flags & 1 ? 0xFF : 0, sizeof(prev));
    memcpy(prev0, prev, sizeof(prev));
    uint16_t expect = size >= LTCP_HASH_LEN + 2
                          ? (uint16_t)(data[LTCP_HASH_LEN] << 8 | data[LTCP_HASH_LEN + 1]) : 0;
    const uint8_t *blk = NULL;
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) return 0;
    memcpy(copy, data, size);
    if (ltcp_block_decode(copy, size, expect, prev, &blk) == LTCP_OK) {
        CHECK(blk == copy + LTCP_HASH_LEN + 2);
        /* the data as an image of one block's worth at the block's place re-encodes alike */
        uint8_t *img = malloc((size_t)(expect + 1) * LTCP_BLOCK_DATA);
        if (img) {
            memcpy(img + (size_t)expect * LTCP_BLOCK_DATA, blk, LTCP_BLOCK_DATA);
            CHECK(ltcp_block_encode(img, (size_t)(expect + 1) * LTCP_BLOCK_DATA, expect, prev0,
                                    again, next) == LTCP_OK);
            CHECK(memcmp(again, copy, LTCP_BLOCK_LEN) == 0 && memcmp(next, prev, 20) == 0);
            free(img);
        }
    } else {
        CHECK(memcmp(prev, prev0, sizeof(prev)) == 0);
    }
    free(copy);
    if (ltcp_announce_parse(data, size, &addr, &port) == LTCP_OK) {
        char text[32];
        uint32_t a2 = 0;
        uint16_t p2 = 0;
        snprintf(text, sizeof(text), "%u.%u.%u.%u:%u", addr >> 24, addr >> 16 & 255,
                 addr >> 8 & 255, addr & 255, port);
        CHECK(port != 0);
        CHECK(ltcp_announce_parse((const uint8_t *)text, strlen(text), &a2, &p2) == LTCP_OK);
        CHECK(a2 == addr && p2 == port);
    }
    return 0;
}
#endif
