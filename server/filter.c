/* SPDX-License-Identifier: Apache-2.0 */
/*
 * filter.c - device target filters: the parser (text in, filter_t or one sentence out) and the
 * SQL condition they select with. The SQL text is made of fixed fragments only; every value
 * the user wrote is a bound parameter, so no filter can change the statement's shape.
 */
#include "filter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mqota/mqota_image.h"
#include "mqota/mqota_status.h"
#include "mqota_utf8.h"

static const char *const key_names[FILTER_KEY_COUNT] = {
    [FILTER_CHIP] = "chip",       [FILTER_PROJECT] = "project", [FILTER_VERSION] = "version",
    [FILTER_RELEASE] = "release", [FILTER_GROUP] = "group",     [FILTER_TAG] = "tag",
    [FILTER_ONLINE] = "online",   [FILTER_STATE] = "state",     [FILTER_LAST_SEEN] = "last_seen",
    [FILTER_PROTOCOL] = "protocol",
};

/* The chips mqota_chip_name() knows, in the order the sentences list them. */
static const uint16_t chips[] = {MQOTA_CHIP_ESP32,   MQOTA_CHIP_ESP32S2, MQOTA_CHIP_ESP32C3,
                                 MQOTA_CHIP_ESP32S3, MQOTA_CHIP_ESP32C2, MQOTA_CHIP_ESP32C6,
                                 MQOTA_CHIP_ESP32H2, MQOTA_CHIP_ESP32P4};
#define N_CHIPS (sizeof(chips) / sizeof(chips[0]))
#define N_STATES (MQOTA_STATE_HELD + 1)

const char *filter__key_name(filter_key_t key)
{
    return key < FILTER_KEY_COUNT ? key_names[key] : "?";
}

/* s[0..n) for a sentence: printable ASCII kept, anything else '?', cut to 40 bytes with "...". */
static const char *shown(const char *s, size_t n, char *buf, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 4 < cap && o < 40; i++)
        buf[o++] = s[i] >= 0x20 && s[i] <= 0x7e ? s[i] : '?';
    if (o < n && o + 3 < cap) memcpy(buf + o, "...", 3), o += 3;
    buf[o] = '\0';
    return buf;
}

static bool name_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '.' || c == '-';
}

bool filter__group_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > GROUP_NAME_MAX) return false;
    for (size_t i = 0; i < n; i++)
        if (!name_char(name[i])) return false;
    return true;
}

/* Whether the code point of the UTF-8 sequence at s (len bytes) is a C0 or C1 control or DEL. */
static bool is_control(const unsigned char *s, size_t len)
{
    if (len == 1) return s[0] < 0x20 || s[0] == 0x7f;
    return len == 2 && s[0] == 0xc2 && s[1] < 0xa0; /* U+0080..U+009F */
}

bool filter__tag_check(const char *tag, size_t *key_len, char *err, size_t err_cap)
{
    char b[64];
    size_t n = strlen(tag), k = 0;
    char dummy[1];
    if (!err) err = dummy, err_cap = sizeof(dummy);
    while (k < n && tag[k] != '=') k++;
    if (k == 0 || k > TAG_KEY_MAX) {
        snprintf(err, err_cap, "tag '%s' has %s key; a tag is key or key=value with a key of 1 "
                 "to %d letters, digits, '.', '_' or '-'", shown(tag, n, b, sizeof(b)),
                 k == 0 ? "an empty" : "too long a", TAG_KEY_MAX);
        return false;
    }
    for (size_t i = 0; i < k; i++) {
        if (!name_char(tag[i])) {
            snprintf(err, err_cap, "tag '%s': its key may hold only letters, digits, '.', '_' "
                     "and '-' (byte %zu is not one)", shown(tag, n, b, sizeof(b)), i + 1);
            return false;
        }
    }
    if (key_len) *key_len = k;
    if (k == n) return true;
    const unsigned char *v = (const unsigned char *)tag + k + 1;
    size_t vn = n - k - 1;
    if (vn == 0 || vn > TAG_VALUE_MAX) {
        snprintf(err, err_cap, "tag '%s' has %s value; give key alone or key=value with a "
                 "value of 1 to %d bytes", shown(tag, n, b, sizeof(b)),
                 vn == 0 ? "an empty" : "too long a", TAG_VALUE_MAX);
        return false;
    }
    for (size_t i = 0; i < vn;) {
        size_t len = mqh_utf8_seq(v + i, vn - i);
        if (len == 0) {
            snprintf(err, err_cap, "tag '%s': its value is not valid UTF-8 (byte %zu)",
                     shown(tag, n, b, sizeof(b)), k + 2 + i);
            return false;
        }
        if (is_control(v + i, len) || v[i] == ' ' || v[i] == ',' || v[i] == '|' ||
            v[i] == '=') {
            snprintf(err, err_cap, "tag '%s': its value may not hold a control character, a "
                     "space, ',', '|' or '=' (byte %zu)", shown(tag, n, b, sizeof(b)),
                     k + 2 + i);
            return false;
        }
        i += len;
    }
    return true;
}

/* A chip name the way people write it: lower case, no '-' ("ESP32-S3", "esp32s3" -> esp32s3). */
static void chip_norm(const char *in, char *out, size_t cap)
{
    size_t o = 0;
    for (; *in && o + 1 < cap; in++)
        if (*in != '-') out[o++] = (char)(*in >= 'A' && *in <= 'Z' ? *in - 'A' + 'a' : *in);
    out[o] = '\0';
}

static int chip_by_name(const char *v)
{
    char want[FILTER_VALUE_MAX + 1], have[32];
    chip_norm(v, want, sizeof(want));
    for (size_t i = 0; i < N_CHIPS; i++) {
        chip_norm(mqota_chip_name(chips[i]), have, sizeof(have));
        if (strcmp(want, have) == 0) return chips[i];
    }
    return -1;
}

/* "N", "Ns", "Nm", "Nh" or "Nd" as seconds, at most FILTER_DURATION_MAX; -1 if it is not. */
static int64_t parse_duration(const char *v)
{
    int64_t n = 0;
    size_t i = 0;
    for (; v[i] >= '0' && v[i] <= '9'; i++) {
        n = n * 10 + (v[i] - '0');
        if (n > FILTER_DURATION_MAX) return -1;
    }
    if (i == 0) return -1;
    int64_t unit = 1;
    if (v[i]) {
        switch (v[i]) {
        case 's': unit = 1; break;
        case 'm': unit = 60; break;
        case 'h': unit = 3600; break;
        case 'd': unit = 86400; break;
        default: return -1;
        }
        if (v[i + 1]) return -1;
    }
    return n * unit > FILTER_DURATION_MAX ? -1 : n * unit;
}

/*
 * Judge one value of a term and fill its number. term_text is the whole term for the sentence.
 * Returns 0, or -1 with err set.
 */
static int parse_value(filter_term_t *t, int i, const char *term_text, char *err, size_t cap)
{
    const char *v = t->values[i];
    size_t n = strlen(v);
    char b[64], b2[64];
    const char *term = shown(term_text, strlen(term_text), b2, sizeof(b2));
    switch (t->key) {
    case FILTER_CHIP: {
        int c = chip_by_name(v);
        if (c < 0) {
            snprintf(err, cap, "filter term '%s': '%s' is not a chip mqotad knows; use esp32, "
                     "esp32-s2, esp32-c3, esp32-s3, esp32-c2, esp32-c6, esp32-h2 or esp32-p4",
                     term, shown(v, n, b, sizeof(b)));
            return -1;
        }
        t->numbers[i] = c;
        return 0;
    }
    case FILTER_PROJECT:
    case FILTER_VERSION:
        if (n > FILTER_TEXT_FIELD_MAX) {
            snprintf(err, cap, "filter term '%s': a %s is at most %d bytes, so '%s' matches no "
                     "device", term, key_names[t->key], FILTER_TEXT_FIELD_MAX,
                     shown(v, n, b, sizeof(b)));
            return -1;
        }
        return 0;
    case FILTER_RELEASE: {
        int64_t id = 0;
        size_t k = 0;
        for (; v[k] >= '0' && v[k] <= '9' && id <= 0xffffffffLL; k++) id = id * 10 + (v[k] - '0');
        if (k == 0 || v[k] || id < 1 || id > 0xffffffffLL) {
            snprintf(err, cap, "filter term '%s': '%s' is not a release id (a whole number "
                     "from 1 to 4294967295, as 'mqota release list' shows)", term,
                     shown(v, n, b, sizeof(b)));
            return -1;
        }
        t->numbers[i] = id;
        return 0;
    }
    case FILTER_GROUP:
        if (!filter__group_name_ok(v)) {
            snprintf(err, cap, "filter term '%s': '%s' is not a group name (1 to %d letters, "
                     "digits, '.', '_' or '-')", term, shown(v, n, b, sizeof(b)),
                     GROUP_NAME_MAX);
            return -1;
        }
        return 0;
    case FILTER_TAG: {
        char why[300];
        if (!filter__tag_check(v, &t->tag_key_len[i], why, sizeof(why))) {
            snprintf(err, cap, "filter term '%s': %s", term, why);
            return -1;
        }
        return 0;
    }
    case FILTER_ONLINE:
        if (strcmp(v, "true") != 0 && strcmp(v, "false") != 0) {
            snprintf(err, cap, "filter term '%s': online is true or false, not '%s'", term,
                     shown(v, n, b, sizeof(b)));
            return -1;
        }
        t->numbers[i] = strcmp(v, "true") == 0;
        return 0;
    case FILTER_STATE:
        for (int s = 0; s < N_STATES; s++) {
            if (strcmp(v, mqota_state_name((mqota_update_state_t)s)) == 0) {
                t->numbers[i] = s;
                return 0;
            }
        }
        snprintf(err, cap, "filter term '%s': '%s' is not an update state; use idle, offered, "
                 "downloading, verifying, ready-to-reboot, pending-verify, confirmed, failed, "
                 "rolled-back or held", term, shown(v, n, b, sizeof(b)));
        return -1;
    case FILTER_PROTOCOL: {
        db_protocol_t p;
        if (db__protocol_parse(v, &p) != 0) {
            char names[64] = "";
            for (int k = 0; k < DB_PROTO_COUNT; k++) /* "mqota, b64, ..., pull or tcp" */
                snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
                         k == 0 ? "" : k + 1 == DB_PROTO_COUNT ? " or " : ", ",
                         db__protocol_name((db_protocol_t)k));
            snprintf(err, cap, "filter term '%s': '%s' is not an update protocol; use %s "
                     "(mqota: the native agent; the others: docs/LEGACY.md)", term,
                     shown(v, n, b, sizeof(b)), names);
            return -1;
        }
        t->numbers[i] = p;
        return 0;
    }
    case FILTER_LAST_SEEN:
        t->numbers[i] = parse_duration(v);
        if (t->numbers[i] < 0) {
            snprintf(err, cap, "filter term '%s': '%s' is not a duration; write a whole number "
                     "with s, m, h or d (90s, 15m, 2h, 7d), at most ten years", term,
                     shown(v, n, b, sizeof(b)));
            return -1;
        }
        return 0;
    default:
        return -1;
    }
}

/*
 * Parse one term, s[0..n) (no separators inside), into t. Returns 0, or -1 with err set.
 */
static int parse_term(const char *s, size_t n, filter_term_t *t, char *err, size_t cap)
{
    char term[FILTER_TEXT_MAX + 1], b[64];
    memcpy(term, s, n);
    term[n] = '\0';
    const char *shown_term = shown(term, n, b, sizeof(b));
    size_t k = strcspn(term, "!=<>");
    if (k == n) {
        snprintf(err, cap, "filter term '%s' has no operator; write KEY=VALUE (also !=, and < "
                 "or > for last_seen), such as chip=esp32", shown_term);
        return -1;
    }
    int key = -1;
    for (int i = 0; i < FILTER_KEY_COUNT; i++)
        if (strlen(key_names[i]) == k && memcmp(term, key_names[i], k) == 0) key = i;
    if (key < 0) {
        char kb[64];
        snprintf(err, cap, "unknown filter key '%s' in '%s'; the keys are chip, project, "
                 "version, release, group, tag, online, state, last_seen and protocol",
                 shown(term, k, kb, sizeof(kb)), shown_term);
        return -1;
    }
    t->key = (filter_key_t)key;
    const char *op = term + k, *v;
    if (strncmp(op, "!=", 2) == 0) t->op = FILTER_NE, v = op + 2;
    else if (*op == '=') t->op = FILTER_EQ, v = op + 1;
    else if (*op == '<') t->op = FILTER_LT, v = op + 1;
    else if (*op == '>') t->op = FILTER_GT, v = op + 1;
    else {
        snprintf(err, cap, "filter term '%s': '!' must be followed by '=' (write %s!=VALUE)",
                 shown_term, key_names[key]);
        return -1;
    }
    bool ordered = t->op == FILTER_LT || t->op == FILTER_GT;
    if (ordered != (key == FILTER_LAST_SEEN)) {
        snprintf(err, cap, key == FILTER_LAST_SEEN ?
                 "filter term '%s': last_seen takes < or > and a duration (last_seen<1h: seen "
                 "within the last hour; last_seen>1d: not seen for a day)" :
                 "filter term '%s': %s takes = or != (only last_seen takes < and >)",
                 shown_term, key_names[key]);
        return -1;
    }
    /* The operator is one of these characters only: "<=" or "=>" is a typo, not a value. */
    if (key != FILTER_TAG && strpbrk(v, "!<>=")) {
        snprintf(err, cap, "filter term '%s' holds more than one operator; write one KEY=VALUE "
                 "per term", shown_term);
        return -1;
    }
    if (key == FILTER_TAG && strpbrk(v, "!<>")) {
        snprintf(err, cap, "filter term '%s' holds more than one operator; write tag=KEY or "
                 "tag=KEY=VALUE", shown_term);
        return -1;
    }
    for (const char *p = v;;) {
        size_t vn = strcspn(p, "|");
        if (vn == 0) {
            snprintf(err, cap, "filter term '%s' has an empty value; give a value after the "
                     "operator and between any '|'", shown_term);
            return -1;
        }
        if (t->n_values == FILTER_ALTS_MAX) {
            snprintf(err, cap, "filter term '%s' has more than %d alternatives", shown_term,
                     FILTER_ALTS_MAX);
            return -1;
        }
        if (vn > FILTER_VALUE_MAX) {
            snprintf(err, cap, "filter term '%s' has a value longer than %d bytes", shown_term,
                     FILTER_VALUE_MAX);
            return -1;
        }
        if (key == FILTER_LAST_SEEN && p[vn] == '|') {
            snprintf(err, cap, "filter term '%s': last_seen takes one duration, not "
                     "alternatives", shown_term);
            return -1;
        }
        memcpy(t->values[t->n_values], p, vn);
        t->values[t->n_values][vn] = '\0';
        if (parse_value(t, t->n_values, term, err, cap) != 0) return -1;
        t->n_values++;
        if (!p[vn]) break;
        p += vn + 1;
    }
    return 0;
}

static int parse(const char *text, filter_t *out, char *err, size_t err_cap);

int filter__parse(const char *text, filter_t *out, char *err, size_t err_cap)
{
    memset(out, 0, sizeof(*out));
    if (parse(text, out, err, err_cap) == 0) return 0;
    memset(out, 0, sizeof(*out)); /* nothing half-parsed is left for a careless caller */
    return -1;
}

/* filter__parse() without the clean-up on failure. */
static int parse(const char *text, filter_t *out, char *err, size_t err_cap)
{
    size_t n = strnlen(text, FILTER_TEXT_MAX + 1);
    if (n > FILTER_TEXT_MAX) {
        snprintf(err, err_cap, "the filter is longer than %d bytes; select with fewer terms or "
                 "put the devices in a group", FILTER_TEXT_MAX);
        return -1;
    }
    for (size_t i = 0; i < n;) {
        size_t len = mqh_utf8_seq(text + i, n - i);
        if (len == 0) {
            snprintf(err, err_cap, "the filter is not valid UTF-8 (byte %zu); send it as UTF-8 "
                     "text", i + 1);
            return -1;
        }
        if (is_control((const unsigned char *)text + i, len) && text[i] != ' ' &&
            text[i] != '\t') {
            snprintf(err, err_cap, "the filter holds a control character (byte %zu); separate "
                     "terms with spaces or commas", i + 1);
            return -1;
        }
        i += len;
    }
    bool seen[FILTER_KEY_COUNT] = {false};
    for (size_t i = 0; i < n;) {
        while (i < n && (text[i] == ' ' || text[i] == '\t' || text[i] == ',')) i++;
        if (i == n) break;
        size_t start = i;
        while (i < n && text[i] != ' ' && text[i] != '\t' && text[i] != ',') i++;
        if (out->n_terms == FILTER_TERMS_MAX) {
            snprintf(err, err_cap, "the filter has more than %d terms; select with fewer terms "
                     "or put the devices in a group", FILTER_TERMS_MAX);
            return -1;
        }
        filter_term_t *t = &out->terms[out->n_terms];
        if (parse_term(text + start, i - start, t, err, err_cap) != 0) return -1;
        if (seen[t->key] && t->key != FILTER_GROUP && t->key != FILTER_TAG) {
            snprintf(err, err_cap, "filter key '%s' is given twice; give alternatives in one "
                     "term, as %s=A|B (only group and tag may repeat)", key_names[t->key],
                     key_names[t->key]);
            return -1;
        }
        seen[t->key] = true;
        out->n_terms++;
    }
    if (out->n_terms == 0) {
        snprintf(err, err_cap, "the filter is empty; give at least one term such as chip=esp32 "
                 "or group=lab");
        return -1;
    }
    return 0;
}

/* ---- SQL ---- */

typedef struct {
    char *sql;
    size_t cap, len;
    filter_param_t *params;
    size_t params_cap, n;
    bool overflow;
} sql_buf_t;

static void put(sql_buf_t *b, const char *s)
{
    size_t n = strlen(s);
    if (b->len + n + 1 > b->cap) {
        b->overflow = true;
        return;
    }
    memcpy(b->sql + b->len, s, n + 1);
    b->len += n;
}

static void bind_text(sql_buf_t *b, const char *s, size_t n)
{
    put(b, "?");
    if (b->n == b->params_cap) {
        b->overflow = true;
        return;
    }
    b->params[b->n++] = (filter_param_t){.is_text = true, .text = s, .text_len = n};
}

static void bind_int(sql_buf_t *b, int64_t v)
{
    put(b, "?");
    if (b->n == b->params_cap) {
        b->overflow = true;
        return;
    }
    b->params[b->n++] = (filter_param_t){.is_text = false, .number = v};
}

/* "(?,?,...)" of the term's values, as text or as their numbers. */
static void value_list(sql_buf_t *b, const filter_term_t *t, bool text)
{
    put(b, "(");
    for (int i = 0; i < t->n_values; i++) {
        if (i) put(b, ",");
        if (text) bind_text(b, t->values[i], strlen(t->values[i]));
        else bind_int(b, t->numbers[i]);
    }
    put(b, ")");
}

int filter__sql(const filter_t *f, int64_t now, char *sql, size_t sql_cap,
                filter_param_t *params, size_t params_cap, size_t *n_params)
{
    static const char *const column[FILTER_KEY_COUNT] = {
        [FILTER_CHIP] = "chip_id",          [FILTER_PROJECT] = "project",
        [FILTER_VERSION] = "version",       [FILTER_RELEASE] = "running_release",
        [FILTER_ONLINE] = "online",         [FILTER_STATE] = "state",
        [FILTER_PROTOCOL] = "protocol",
    };
    sql_buf_t b = {sql, sql_cap, 0, params, params_cap, 0, false};
    *n_params = 0;
    if (sql_cap == 0) return -1;
    sql[0] = '\0';
    if (f->n_terms == 0) put(&b, "1");
    for (int i = 0; i < f->n_terms; i++) {
        const filter_term_t *t = &f->terms[i];
        const char *in = t->op == FILTER_NE ? " NOT IN " : " IN ";
        if (i) put(&b, " AND ");
        put(&b, "(");
        switch (t->key) {
        case FILTER_CHIP:
        case FILTER_RELEASE:
        case FILTER_ONLINE:
        case FILTER_STATE:
            put(&b, column[t->key]);
            put(&b, in);
            value_list(&b, t, false);
            break;
        case FILTER_PROJECT:
        case FILTER_VERSION:
        case FILTER_PROTOCOL: /* stored by name; the values are the names db__protocol_parse() took */
            put(&b, column[t->key]);
            put(&b, in);
            value_list(&b, t, true);
            break;
        case FILTER_GROUP:
            put(&b, "id");
            put(&b, in);
            put(&b, "(SELECT device_id FROM device_group_members WHERE group_name IN ");
            value_list(&b, t, true);
            put(&b, ")");
            break;
        case FILTER_TAG:
            put(&b, "id");
            put(&b, in);
            put(&b, "(SELECT device_id FROM device_tags WHERE ");
            for (int k = 0; k < t->n_values; k++) {
                const char *v = t->values[k];
                size_t kl = t->tag_key_len[k];
                if (k) put(&b, " OR ");
                put(&b, "(tag_key = ");
                bind_text(&b, v, kl);
                if (v[kl] == '=') {
                    put(&b, " AND tag_value = ");
                    bind_text(&b, v + kl + 1, strlen(v + kl + 1));
                }
                put(&b, ")");
            }
            put(&b, ")");
            break;
        case FILTER_LAST_SEEN:
            /* <D: seen at or after now - D; >D: last seen before now - D (or never: 0) */
            put(&b, t->op == FILTER_LT ? "last_seen >= " : "last_seen < ");
            bind_int(&b, now - t->numbers[0]);
            break;
        default:
            b.overflow = true;
            break;
        }
        put(&b, ")");
    }
    if (b.overflow) {
        sql[0] = '\0';
        return -1;
    }
    *n_params = b.n;
    return 0;
}
