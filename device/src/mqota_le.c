/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mqota_le.c - little-endian loads and stores for the codecs (mqota_le.h says why they are not
 * inline).
 */
#include "mqota_le.h"

void le__put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

void le__put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

void le__put_u64(uint8_t *p, uint64_t v)
{
    le__put_u32(p, (uint32_t)v);
    le__put_u32(p + 4, (uint32_t)(v >> 32));
}

uint16_t le__get_u16(const uint8_t *p)
{
    return (uint16_t)((uint16_t)p[0] | (uint16_t)((uint16_t)p[1] << 8));
}

uint32_t le__get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

uint64_t le__get_u64(const uint8_t *p)
{
    return (uint64_t)le__get_u32(p) | ((uint64_t)le__get_u32(p + 4) << 32);
}
