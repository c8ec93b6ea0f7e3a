/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file mqota_utf8.h
 * @brief The one UTF-8 validator of the host programs, and the text escaping built on it:
 *        repair for JSON (invalid sequences become U+FFFD) and escaping for log lines.
 *
 * Valid UTF-8 is RFC 3629: no overlong forms, no surrogates (U+D800..U+DFFF), nothing above
 * U+10FFFF, no truncated sequence, no stray continuation byte. Not part of the device library.
 */
#ifndef MQOTA_UTF8_H
#define MQOTA_UTF8_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The replacement character U+FFFD in UTF-8 (3 bytes). */
#define MQH_UTF8_REPLACEMENT "\xef\xbf\xbd"

/**
 * @brief Length of the valid UTF-8 sequence that starts at s.
 * @param[in] s Bytes.
 * @param[in] n Bytes available at s.
 * @return 1..4, or 0 when the bytes at s do not start a valid sequence (or n is 0).
 */
size_t mqh_utf8_seq(const void *s, size_t n);

/** @brief Whether the n bytes at s are valid UTF-8 (NUL bytes are valid, like U+0000). */
bool mqh_utf8_valid(const void *s, size_t n);

/**
 * @brief Copy the n bytes at in to out as valid UTF-8: each byte that does not start a valid
 *        sequence becomes U+FFFD. Stops at a NUL byte. A sequence is never cut: when out is
 *        full the copy ends before the sequence that does not fit.
 * @param[out] out Buffer; always NUL-terminated when cap > 0. 3 * n + 1 bytes always suffice.
 * @param[in] cap Size of out.
 * @return The number of bytes replaced by U+FFFD.
 */
size_t mqh_utf8_repair(const void *in, size_t n, char *out, size_t cap);

/**
 * @brief Escape text for one log line: every byte outside printable ASCII (0x20..0x7e) and the
 *        backslash are written as \\xNN (\\ as "\\\\"), so a device's payload can neither end the
 *        line nor forge another one, nor send a terminal that shows the log escape sequences.
 * @param[out] out Buffer; cut short at a whole escape, always NUL-terminated when cap > 0.
 *                 4 * n + 1 bytes always suffice.
 * @return out.
 */
char *mqh_log_escape(const void *in, size_t n, char *out, size_t cap);

#ifdef __cplusplus
}
#endif

#endif /* MQOTA_UTF8_H */
