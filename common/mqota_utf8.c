/* SPDX-License-Identifier: Apache-2.0 */
/* UTF-8 validation, repair and log escaping for the host programs. See mqota_utf8.h. */
#include "mqota_utf8.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/*
 * The RFC 3629 table: the lead byte gives the length and the allowed range of the second byte
 * (which is where overlongs, surrogates and code points above U+10FFFF are excluded); every
 * further byte is a plain continuation byte 0x80..0xBF.
 */
size_t mqh_utf8_seq(const void *s, size_t n)
{
    const uint8_t *p = s;
    size_t len;
    uint8_t lo = 0x80, hi = 0xBF;

    if (n == 0)
        return 0;
    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xC2 && p[0] <= 0xDF) {
        len = 2;
    } else if (p[0] >= 0xE0 && p[0] <= 0xEF) {
        len = 3;
        if (p[0] == 0xE0)
            lo = 0xA0; /* below is an overlong 3-byte form */
        else if (p[0] == 0xED)
            hi = 0x9F; /* above are the surrogates U+D800..U+DFFF */
    } else if (p[0] >= 0xF0 && p[0] <= 0xF4) {
        len = 4;
        if (p[0] == 0xF0)
            lo = 0x90; /* below is an overlong 4-byte form */
        else if (p[0] == 0xF4)
            hi = 0x8F; /* above is beyond U+10FFFF */
    } else {
        return 0; /* continuation byte, C0/C1 (overlong 2-byte) or F5..FF */
    }
    if (n < len || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (p[i] < 0x80 || p[i] > 0xBF)
            return 0;
    return len;
}

bool mqh_utf8_valid(const void *s, size_t n)
{
    const uint8_t *p = s;
    size_t i = 0;

    while (i < n) {
        size_t k = mqh_utf8_seq(p + i, n - i);
        if (k == 0)
            return false;
        i += k;
    }
    return true;
}

size_t mqh_utf8_repair(const void *in, size_t n, char *out, size_t cap)
{
    const uint8_t *p = in;
    size_t i = 0, o = 0, replaced = 0;

    if (cap == 0)
        return 0;
    while (i < n && p[i] != 0) {
        size_t k = mqh_utf8_seq(p + i, n - i);
        const void *src = p + i;
        size_t len = k;
        if (k == 0) {
            src = MQH_UTF8_REPLACEMENT;
            len = sizeof MQH_UTF8_REPLACEMENT - 1;
        }
        if (o + len >= cap)
            break;
        memcpy(out + o, src, len);
        o += len;
        i += k ? k : 1;
        replaced += k == 0;
    }
    out[o] = '\0';
    return replaced;
}

char *mqh_log_escape(const void *in, size_t n, char *out, size_t cap)
{
    const uint8_t *p = in;
    size_t o = 0;

    if (cap == 0)
        return out;
    for (size_t i = 0; i < n; i++) {
        char e[5];
        size_t len;
        if (p[i] == '\\') {
            memcpy(e, "\\\\", 3);
            len = 2;
        } else if (p[i] >= 0x20 && p[i] <= 0x7e) {
            e[0] = (char)p[i];
            len = 1;
        } else {
            snprintf(e, sizeof e, "\\x%02x", p[i]);
            len = 4;
        }
        if (o + len >= cap)
            break;
        memcpy(out + o, e, len);
        o += len;
    }
    out[o] = '\0';
    return out;
}
