/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the ESP32 image parser and the streaming structure checker. The input
 * is fed whole and again in pieces whose sizes come from the input itself: the verdicts must
 * agree, whatever the split.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mqota/mqota_image.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mqota_image_info_t info;
    mqota_image_check_t whole, split;
    uint32_t hl_whole = 0, hl_split = 0;

    (void)mqota_image_parse_head(data, size, &info);
    (void)mqota_chip_name(size >= 14 ? (uint16_t)(data[12] | data[13] << 8) : 0);

    mqota_image_check_init(&whole);
    (void)mqota_image_check_update(&whole, data, size);
    mqota_status_t a = mqota_image_check_finish(&whole, &hl_whole);
    (void)mqota_image_fault_str((mqota_image_fault_t)whole.fault);

    mqota_image_check_init(&split);
    size_t off = 0;
    unsigned step = size ? (unsigned)data[0] % 61u + 1u : 1u;
    while (off < size) {
        size_t n = size - off < step ? size - off : step;
        (void)mqota_image_check_update(&split, data + off, n);
        off += n;
        step = step * 7u % 97u + 1u;
    }
    mqota_status_t b = mqota_image_check_finish(&split, &hl_split);
    CHECK(a == b);
    CHECK(hl_whole == hl_split);
    CHECK(hl_whole <= size);
    return 0;
}
