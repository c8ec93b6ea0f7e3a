/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mqota_le.h - little-endian loads and stores for the codecs (internal to libmqota, so le__*
 * names). Explicit byte shifts: no struct casts, no unaligned access, the same on any CPU.
 *
 * Functions in mqota_le.c rather than inline: the codecs make some eighty of these accesses,
 * and on the ESP32-C3 (no compressed byte loads or stores) an inlined u32 load or store costs
 * about twice the flash of a call; none of them sits in a loop over a chunk's bytes.
 */
#ifndef MQOTA_LE_H
#define MQOTA_LE_H

#include <stdint.h>

void le__put_u16(uint8_t *p, uint16_t v);
void le__put_u32(uint8_t *p, uint32_t v);
void le__put_u64(uint8_t *p, uint64_t v);
uint16_t le__get_u16(const uint8_t *p);
uint32_t le__get_u32(const uint8_t *p);
uint64_t le__get_u64(const uint8_t *p);

#endif /* MQOTA_LE_H */
