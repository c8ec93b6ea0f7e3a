/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file format.h
 * @brief Output formatting for the mqota CLI: durations, sizes, progress bars and tables.
 *
 * Pure functions with no I/O except fmt_table_print(), which writes to the FILE it is given,
 * so all of it can be unit-tested (tests/unit/test_cli_format.c).
 */
#ifndef MQOTA_CLI_FORMAT_H
#define MQOTA_CLI_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @brief Human-readable byte count: "512 B", "121.5 KiB", "1.9 MiB", "2.0 GiB".
 * @param[in] bytes Size in bytes.
 * @param[out] out Buffer for the text; always NUL-terminated when cap > 0.
 * @param[in] cap Size of out.
 * @return out.
 */
char *fmt_size(uint64_t bytes, char *out, size_t cap);

/**
 * @brief How long ago a Unix time was, for "last seen" columns: "3s ago", "5m ago", "2h ago",
 *        "4d ago". A time in the future (clock skew) reads "0s ago"; then <= 0 reads "never".
 * @param[in] now Current Unix time (seconds).
 * @param[in] then The past Unix time (seconds).
 * @return out.
 */
char *fmt_ago(int64_t now, int64_t then, char *out, size_t cap);

/**
 * @brief Elapsed time for progress summaries: "0.4s", "12.3s", "1m05s", "1h02m".
 * @param[in] ms Elapsed milliseconds.
 * @return out.
 */
char *fmt_elapsed(uint64_t ms, char *out, size_t cap);

/**
 * @brief Local date and time of a Unix time as "YYYY-MM-DD HH:MM"; "-" when t <= 0.
 * @return out.
 */
char *fmt_date(int64_t t, char *out, size_t cap);

/**
 * @brief Whole percent of done over total, clamped to 0..100; 0 when total is 0.
 */
int fmt_percent(uint64_t done, uint64_t total);

/**
 * @brief Render a progress bar of exactly width cells between brackets, e.g. "[####......]".
 *
 * With unicode the filled cells are U+2588 and the empty ones U+2591 (3 bytes each in UTF-8),
 * otherwise '#' and '.'. A bar that does not fit in cap is cut short but stays NUL-terminated.
 *
 * @param[out] out Buffer; needs width * 3 + 3 bytes for a unicode bar, width + 3 for ASCII.
 * @param[in] cap Size of out.
 * @param[in] width Number of cells inside the brackets.
 * @param[in] done Bytes done.
 * @param[in] total Bytes in all; 0 draws an empty bar.
 * @param[in] unicode Use block characters instead of ASCII.
 * @return out.
 */
char *fmt_bar(char *out, size_t cap, int width, uint64_t done, uint64_t total, bool unicode);

/**
 * @brief Make text from mqotad (a device's STATE, an upload's names, an error, a command's
 *        reply) safe to print on a terminal: C0 controls, DEL and bytes that are not valid
 *        UTF-8 become "\xNN" (ESC is "\x1b"), C1 controls U+0080..U+009F become "\u0080"..
 *        "\u009f"; everything else is copied. So such text can neither move the cursor, set
 *        the window title nor forge a line of output.
 * @param[in] s The text; NULL reads as "".
 * @param[in] keep_newlines Copy '\n' as it is (multi-line text such as a command's reply).
 * @return A malloc'd string (free()), or NULL when out of memory.
 */
char *fmt_safe(const char *s, bool keep_newlines);

/**
 * @brief Make JSON text (cJSON's output for --json) safe for a terminal and still the same
 *        JSON: inside its strings DEL and the C1 controls U+0080..U+009F, which cJSON copies
 *        raw, become the escapes "\u007f" and "\u0080".."\u009f", and bytes that are not
 *        valid UTF-8 become "\ufffd". Control characters below 0x20 are escaped by cJSON
 *        already; outside strings JSON text is ASCII.
 * @param[in] json JSON text.
 * @return A malloc'd string (free()), or NULL when out of memory.
 */
char *fmt_json_safe(const char *json);

/**
 * @brief Display width of a UTF-8 string: the number of code points (every code point is
 *        taken as one column, which holds for the text mqotad sends).
 */
size_t fmt_display_width(const char *s);

/**
 * @brief Render "key=value" lines (a device's diagnostics reply) as "key: value" lines with the
 *        keys padded to the widest, so the values line up. Lines without '=' are copied as
 *        they are; empty lines are dropped; every output line ends in '\n'.
 * @param[in] text The lines, '\n'-separated (a trailing '\r' of a line is dropped).
 * @param[out] out Buffer; cut short (at a line end when possible) but always NUL-terminated.
 * @param[in] cap Size of out.
 * @return out.
 */
char *fmt_kv_lines(const char *text, char *out, size_t cap);

/** A text table with a header row; columns are as wide as their widest cell. */
typedef struct fmt_table fmt_table_t;

/**
 * @brief Create a table with ncols columns named by headers (copied through fmt_safe()).
 * @return The table, or NULL when out of memory.
 */
fmt_table_t *fmt_table_new(size_t ncols, const char *const *headers);

/** @brief Align column col to the right (numbers); columns are left-aligned by default. */
void fmt_table_align_right(fmt_table_t *t, size_t col);

/**
 * @brief Append a row of ncols cells (copied through fmt_safe(); NULL reads as "-").
 * @return 0, or -1 when out of memory.
 */
int fmt_table_add_row(fmt_table_t *t, const char *const *cells);

/** @brief Number of rows added (the header not counted). */
size_t fmt_table_rows(const fmt_table_t *t);

/** @brief Display width of column col: the widest of its header and cells. */
size_t fmt_table_width(const fmt_table_t *t, size_t col);

/**
 * @brief Print the header and rows, columns separated by two spaces; the last column is not
 *        padded, so lines carry no trailing blanks.
 */
void fmt_table_print(const fmt_table_t *t, FILE *f);

/** @brief Free the table and every cell. NULL is allowed. */
void fmt_table_free(fmt_table_t *t);

#ifdef __cplusplus
}
#endif

#endif /* MQOTA_CLI_FORMAT_H */
