/* SPDX-License-Identifier: Apache-2.0 */
/*
 * posix_util.h - helpers shared by the virtual ESP32's files (internal to ports/posix): the
 * little-endian loads and stores of its on-flash formats (partition table, otadata, the
 * NVS-like store, the eFuse block), and say(), which writes one error sentence into a
 * caller's buffer (NULL or empty: nothing written).
 */
#ifndef MQOTA_POSIX_UTIL_H
#define MQOTA_POSIX_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

static inline void put_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static inline uint16_t get_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void say(char *buf, size_t buf_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static inline void say(char *buf, size_t buf_len, const char *fmt, ...)
{
    if (buf == NULL || buf_len == 0) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, buf_len, fmt, ap);
    va_end(ap);
}

#endif /* MQOTA_POSIX_UTIL_H */
