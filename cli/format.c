/* SPDX-License-Identifier: Apache-2.0 */
/* Output formatting for the mqota CLI. See format.h. */
#define _POSIX_C_SOURCE 200809L

#include "format.h"
#include "mqota_utf8.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

char *fmt_size(uint64_t bytes, char *out, size_t cap)
{
    static const char *const units[] = { "KiB", "MiB", "GiB", "TiB" };

    if (bytes < 1024) {
        snprintf(out, cap, "%" PRIu64 " B", bytes);
        return out;
    }
    double v = (double)bytes / 1024.0;
    size_t u = 0;
    /* Switch unit before the one-decimal rendering would print "1024.0". */
    while (v >= 1023.95 && u + 1 < sizeof units / sizeof units[0]) {
        v /= 1024.0;
        u++;
    }
    snprintf(out, cap, "%.1f %s", v, units[u]);
    return out;
}

char *fmt_ago(int64_t now, int64_t then, char *out, size_t cap)
{
    if (then <= 0) {
        snprintf(out, cap, "never");
        return out;
    }
    int64_t d = now - then;
    if (d < 0)
        d = 0;
    if (d < 60)
        snprintf(out, cap, "%" PRId64 "s ago", d);
    else if (d < 3600)
        snprintf(out, cap, "%" PRId64 "m ago", d / 60);
    else if (d < 86400)
        snprintf(out, cap, "%" PRId64 "h ago", d / 3600);
    else
        snprintf(out, cap, "%" PRId64 "d ago", d / 86400);
    return out;
}

char *fmt_elapsed(uint64_t ms, char *out, size_t cap)
{
    if (ms < 60000) {
        snprintf(out, cap, "%" PRIu64 ".%" PRIu64 "s", ms / 1000, (ms % 1000) / 100);
    } else if (ms < 3600000) {
        uint64_t s = ms / 1000;
        snprintf(out, cap, "%" PRIu64 "m%02" PRIu64 "s", s / 60, s % 60);
    } else {
        uint64_t m = ms / 60000;
        snprintf(out, cap, "%" PRIu64 "h%02" PRIu64 "m", m / 60, m % 60);
    }
    return out;
}

char *fmt_date(int64_t t, char *out, size_t cap)
{
    struct tm tm;
    time_t tt = (time_t)t;

    if (t <= 0 || localtime_r(&tt, &tm) == NULL || strftime(out, cap, "%Y-%m-%d %H:%M", &tm) == 0)
        snprintf(out, cap, "-");
    return out;
}

int fmt_percent(uint64_t done, uint64_t total)
{
    if (total == 0)
        return 0;
    if (done >= total)
        return 100;
    return (int)((done * 100) / total);
}

char *fmt_bar(char *out, size_t cap, int width, uint64_t done, uint64_t total, bool unicode)
{
    static const char full[] = "\xe2\x96\x88";  /* U+2588 FULL BLOCK */
    static const char light[] = "\xe2\x96\x91"; /* U+2591 LIGHT SHADE */
    size_t n = 0;

    if (cap == 0)
        return out;
    if (width < 0)
        width = 0;
    int filled = 0;
    if (total > 0)
        filled = done >= total ? width : (int)((done * (uint64_t)width) / total);

    /* Append s if it fits with room for the NUL; otherwise stop writing. */
#define BAR_PUT(s, len)                          \
    do {                                         \
        if (n + (len) < cap) {                   \
            memcpy(out + n, (s), (len));         \
            n += (len);                          \
        }                                        \
    } while (0)

    BAR_PUT("[", 1);
    for (int i = 0; i < width; i++) {
        if (unicode)
            BAR_PUT(i < filled ? full : light, 3);
        else
            BAR_PUT(i < filled ? "#" : ".", 1);
    }
    BAR_PUT("]", 1);
#undef BAR_PUT
    out[n] = '\0';
    return out;
}

/* How fmt_safe() and fmt_json_safe() rewrite a string. */
typedef enum { SAFE_TERMINAL, SAFE_TERMINAL_NEWLINES, SAFE_JSON } safe_mode_t;

/*
 * What one UTF-8 sequence (k bytes at p; k == 0: a byte that starts none) becomes: the
 * length of its escape, written into esc, or 0 when it is copied as it is. For a terminal:
 * C0 controls (but a newline with SAFE_TERMINAL_NEWLINES), DEL and invalid bytes as \xNN, C1
 * controls as \u0080..\u009f. For JSON: DEL and C1 as \u escapes, invalid bytes as \ufffd.
 */
static size_t escape_seq(const unsigned char *p, size_t k, safe_mode_t mode, char esc[8])
{
    bool c1 = k == 2 && p[0] == 0xC2 && p[1] <= 0x9F;
    if (mode == SAFE_JSON) {
        if (k == 0) {
            memcpy(esc, "\\ufffd", 7);
            return 6;
        }
        if ((k == 1 && p[0] == 0x7f) || c1) {
            snprintf(esc, 8, "\\u%04x", k == 1 ? 0x7f : p[1]);
            return 6;
        }
        return 0;
    }
    if (k == 0 || (k == 1 && (p[0] < 0x20 || p[0] == 0x7f) &&
                   !(mode == SAFE_TERMINAL_NEWLINES && p[0] == '\n'))) {
        snprintf(esc, 8, "\\x%02x", p[0]);
        return 4;
    }
    if (c1) {
        snprintf(esc, 8, "\\u%04x", p[1]);
        return 6;
    }
    return 0;
}

/*
 * Two passes: measure, then write. Every sequence that is not copied is written as a 4- or
 * 6-byte escape, so the second pass cannot overrun what the first measured. NULL when out of
 * memory.
 */
static char *rewrite(const char *s, safe_mode_t mode)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    char *out = NULL;
    size_t o = 0;

    for (int pass = 0; pass < 2; pass++) {
        o = 0;
        for (size_t i = 0; i < n;) {
            size_t k = mqh_utf8_seq(p + i, n - i);
            char esc[8];
            size_t len = escape_seq(p + i, k, mode, esc);
            const char *src = len != 0 ? esc : (const char *)p + i;
            if (k == 0)
                k = 1;
            if (len == 0)
                len = k;
            if (out != NULL)
                memcpy(out + o, src, len);
            o += len;
            i += k;
        }
        if (out == NULL && (out = malloc(o + 1)) == NULL)
            return NULL;
    }
    out[o] = '\0';
    return out;
}

char *fmt_safe(const char *s, bool keep_newlines)
{
    return rewrite(s != NULL ? s : "", keep_newlines ? SAFE_TERMINAL_NEWLINES : SAFE_TERMINAL);
}

char *fmt_json_safe(const char *json)
{
    return rewrite(json, SAFE_JSON);
}

size_t fmt_display_width(const char *s)
{
    size_t w = 0;

    for (; s != NULL && *s != '\0'; s++)
        if (((unsigned char)*s & 0xC0) != 0x80) /* count all but UTF-8 continuation bytes */
            w++;
    return w;
}

struct fmt_table {
    size_t ncols;
    size_t nrows;     /* rows of cells, header included */
    size_t cap_rows;
    char **cells;     /* nrows * ncols */
    size_t *widths;
    bool *right;
};

/* Append one row of copied cells and widen the columns; 0, or -1 when out of memory. */
static int table_append(fmt_table_t *t, const char *const *cells)
{
    if (t->nrows == t->cap_rows) {
        size_t cap = t->cap_rows ? t->cap_rows * 2 : 16;
        char **c = realloc(t->cells, cap * t->ncols * sizeof *c);
        if (c == NULL)
            return -1;
        t->cells = c;
        t->cap_rows = cap;
    }
    char **row = t->cells + t->nrows * t->ncols;
    for (size_t i = 0; i < t->ncols; i++) {
        row[i] = fmt_safe(cells[i] != NULL ? cells[i] : "-", false);
        if (row[i] == NULL) {
            while (i-- > 0)
                free(row[i]);
            return -1;
        }
        size_t w = fmt_display_width(row[i]);
        if (w > t->widths[i])
            t->widths[i] = w;
    }
    t->nrows++;
    return 0;
}

fmt_table_t *fmt_table_new(size_t ncols, const char *const *headers)
{
    fmt_table_t *t = calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    t->ncols = ncols;
    t->widths = calloc(ncols ? ncols : 1, sizeof *t->widths);
    t->right = calloc(ncols ? ncols : 1, sizeof *t->right);
    if (t->widths == NULL || t->right == NULL || table_append(t, headers) != 0) {
        fmt_table_free(t);
        return NULL;
    }
    return t;
}

void fmt_table_align_right(fmt_table_t *t, size_t col)
{
    if (col < t->ncols)
        t->right[col] = true;
}

int fmt_table_add_row(fmt_table_t *t, const char *const *cells)
{
    return table_append(t, cells);
}

size_t fmt_table_rows(const fmt_table_t *t)
{
    return t->nrows - 1;
}

size_t fmt_table_width(const fmt_table_t *t, size_t col)
{
    return col < t->ncols ? t->widths[col] : 0;
}

void fmt_table_print(const fmt_table_t *t, FILE *f)
{
    for (size_t r = 0; r < t->nrows; r++) {
        char *const *row = t->cells + r * t->ncols;
        /* Empty trailing cells are not printed, so no line ends in blanks. */
        size_t end = t->ncols;
        while (end > 1 && row[end - 1][0] == '\0')
            end--;
        for (size_t c = 0; c < end; c++) {
            bool last = c + 1 == end;
            size_t pad = t->widths[c] - fmt_display_width(row[c]);
            if (c > 0)
                fputs("  ", f);
            if (t->right[c])
                fprintf(f, "%*s%s", (int)pad, "", row[c]);
            else
                fprintf(f, "%s%*s", row[c], last ? 0 : (int)pad, "");
        }
        fputc('\n', f);
    }
}

void fmt_table_free(fmt_table_t *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t->widths);
    free(t->right);
    free(t);
}

/* The next line of text at *p: its start and length without '\n' or a trailing '\r'. */
static bool next_line(const char **p, const char **line, size_t *len)
{
    if (**p == '\0')
        return false;
    *line = *p;
    const char *nl = strchr(*p, '\n');
    size_t n = nl ? (size_t)(nl - *p) : strlen(*p);
    *p += n + (nl ? 1 : 0);
    if (n > 0 && (*line)[n - 1] == '\r')
        n--;
    *len = n;
    return true;
}

char *fmt_kv_lines(const char *text, char *out, size_t cap)
{
    const char *p = text, *line;
    size_t len, width = 0, o = 0;

    if (cap == 0)
        return out;
    out[0] = '\0';
    while (next_line(&p, &line, &len)) {
        const char *eq = memchr(line, '=', len);
        if (eq != NULL && (size_t)(eq - line) > width)
            width = (size_t)(eq - line);
    }
    p = text;
    while (next_line(&p, &line, &len)) {
        if (len == 0)
            continue;
        const char *eq = memchr(line, '=', len);
        int n;
        if (eq != NULL) {
            int k = (int)(eq - line);
            n = snprintf(out + o, cap - o, "%.*s:%*s %.*s\n", k, line, (int)width - k, "",
                         (int)(len - (size_t)k - 1), eq + 1);
        } else {
            n = snprintf(out + o, cap - o, "%.*s\n", (int)len, line);
        }
        if (n < 0 || (size_t)n >= cap - o) {
            out[o] = '\0'; /* keep whole lines only */
            break;
        }
        o += (size_t)n;
    }
    return out;
}
