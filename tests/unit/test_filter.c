/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_filter.c - device target filters (server/filter.c): the parser with every refusal and
 * its sentence, hostile input (overlong, invalid UTF-8, controls, SQL metacharacters), the SQL
 * condition it writes, and that condition run by the real db.c on a real SQLite file with
 * devices, groups and tags, so what a filter selects is checked end to end below the API.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "filter.h"
#include "mqota/mqota_image.h"
#include "mqota/mqota_status.h"

#define NOW 1800000000LL

static filter_t *f;

static int setup(void **state)
{
    (void)state;
    f = malloc(sizeof(*f));
    return f ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    free(f);
    return 0;
}

/* text is refused with exactly sentence. */
static void refused(const char *text, const char *sentence)
{
    char err[700] = "";
    if (filter__parse(text, f, err, sizeof(err)) != -1)
        fail_msg("accepted: %s", text);
    assert_string_equal(err, sentence);
    assert_int_equal(f->n_terms, 0);
}

static void test_accepts_every_key(void **state)
{
    char err[700] = "";
    (void)state;
    assert_int_equal(filter__parse("chip=esp32 version=1.2.0 group=lab tag=site=berlin "
                                   "online=true state=idle|failed last_seen<1h release=5 "
                                   "project=hello_world", f, err, sizeof(err)), 0);
    assert_int_equal(f->n_terms, 9);
    assert_int_equal(f->terms[0].key, FILTER_CHIP);
    assert_int_equal(f->terms[0].numbers[0], MQOTA_CHIP_ESP32);
    assert_int_equal(f->terms[1].key, FILTER_VERSION);
    assert_string_equal(f->terms[1].values[0], "1.2.0");
    assert_int_equal(f->terms[2].key, FILTER_GROUP);
    assert_int_equal(f->terms[3].key, FILTER_TAG);
    assert_string_equal(f->terms[3].values[0], "site=berlin");
    assert_int_equal(f->terms[3].tag_key_len[0], 4);
    assert_int_equal(f->terms[4].numbers[0], 1);
    assert_int_equal(f->terms[5].n_values, 2);
    assert_int_equal(f->terms[5].numbers[0], MQOTA_STATE_IDLE);
    assert_int_equal(f->terms[5].numbers[1], MQOTA_STATE_FAILED);
    assert_int_equal(f->terms[6].op, FILTER_LT);
    assert_int_equal(f->terms[6].numbers[0], 3600);
    assert_int_equal(f->terms[7].numbers[0], 5);
    assert_string_equal(f->terms[8].values[0], "hello_world");

    /* commas and tabs separate too; chips in any case, with or without '-' */
    assert_int_equal(filter__parse(",chip!=ESP32-S3|esp32c3,\tlast_seen>7d,,", f, err,
                                   sizeof(err)), 0);
    assert_int_equal(f->n_terms, 2);
    assert_int_equal(f->terms[0].op, FILTER_NE);
    assert_int_equal(f->terms[0].numbers[0], MQOTA_CHIP_ESP32S3);
    assert_int_equal(f->terms[0].numbers[1], MQOTA_CHIP_ESP32C3);
    assert_int_equal(f->terms[1].op, FILTER_GT);
    assert_int_equal(f->terms[1].numbers[0], 7 * 86400);

    /* group and tag may repeat (all must hold); a UTF-8 tag value */
    assert_int_equal(filter__parse("group=lab group=berlin tag=beta tag=city=Z\xc3\xbcrich", f,
                                   err, sizeof(err)), 0);
    assert_int_equal(f->n_terms, 4);
    assert_int_equal(f->terms[2].tag_key_len[0], 4);
    assert_string_equal(f->terms[2].values[0], "beta");

    /* durations: bare seconds and each unit; the ten-year ceiling itself */
    assert_int_equal(filter__parse("last_seen<90", f, err, sizeof(err)), 0);
    assert_int_equal(f->terms[0].numbers[0], 90);
    assert_int_equal(filter__parse("last_seen<15m", f, err, sizeof(err)), 0);
    assert_int_equal(f->terms[0].numbers[0], 900);
    assert_int_equal(filter__parse("last_seen>3660d", f, err, sizeof(err)), 0);
    assert_int_equal(f->terms[0].numbers[0], 3660LL * 86400);

    /* the update protocol by its stored name */
    assert_int_equal(filter__parse("protocol=md5|mqota", f, err, sizeof(err)), 0);
    assert_int_equal(f->terms[0].key, FILTER_PROTOCOL);
    assert_int_equal(f->terms[0].numbers[0], DB_PROTO_MD5);
    assert_int_equal(f->terms[0].numbers[1], DB_PROTO_MQOTA);
}

static void test_refusals(void **state)
{
    (void)state;
    refused("", "the filter is empty; give at least one term such as chip=esp32 or group=lab");
    refused(" ,, \t", "the filter is empty; give at least one term such as chip=esp32 or "
            "group=lab");
    refused("colour=red", "unknown filter key 'colour' in 'colour=red'; the keys are chip, "
            "project, version, release, group, tag, online, state, last_seen and protocol");
    refused("CHIP=esp32", "unknown filter key 'CHIP' in 'CHIP=esp32'; the keys are chip, "
            "project, version, release, group, tag, online, state, last_seen and protocol");
    refused("protocol=ota", "filter term 'protocol=ota': 'ota' is not an update protocol; use "
            "mqota, b64, md5, pull or tcp (mqota: the native agent; the others: "
            "docs/LEGACY.md)");
    refused("esp32", "filter term 'esp32' has no operator; write KEY=VALUE (also !=, and < or > "
            "for last_seen), such as chip=esp32");
    refused("chip=esp32 chip=esp32-s3", "filter key 'chip' is given twice; give alternatives "
            "in one term, as chip=A|B (only group and tag may repeat)");
    refused("state=idle online=true state=failed", "filter key 'state' is given twice; give "
            "alternatives in one term, as state=A|B (only group and tag may repeat)");
    refused("chip=", "filter term 'chip=' has an empty value; give a value after the operator "
            "and between any '|'");
    refused("state=idle||failed", "filter term 'state=idle||failed' has an empty value; give a "
            "value after the operator and between any '|'");
    refused("chip=esp8266", "filter term 'chip=esp8266': 'esp8266' is not a chip mqotad knows; "
            "use esp32, esp32-s2, esp32-c3, esp32-s3, esp32-c2, esp32-c6, esp32-h2 or esp32-p4");
    refused("state=sleeping", "filter term 'state=sleeping': 'sleeping' is not an update state; "
            "use idle, offered, downloading, verifying, ready-to-reboot, pending-verify, "
            "confirmed, failed, rolled-back or held");
    refused("online=yes", "filter term 'online=yes': online is true or false, not 'yes'");
    refused("release=0", "filter term 'release=0': '0' is not a release id (a whole number from "
            "1 to 4294967295, as 'mqota release list' shows)");
    refused("release=4294967296", "filter term 'release=4294967296': '4294967296' is not a "
            "release id (a whole number from 1 to 4294967295, as 'mqota release list' shows)");
    refused("release=-1", "filter term 'release=-1': '-1' is not a release id (a whole number "
            "from 1 to 4294967295, as 'mqota release list' shows)");
    refused("last_seen=1h", "filter term 'last_seen=1h': last_seen takes < or > and a duration "
            "(last_seen<1h: seen within the last hour; last_seen>1d: not seen for a day)");
    refused("chip<esp32", "filter term 'chip<esp32': chip takes = or != (only last_seen takes < "
            "and >)");
    refused("last_seen<1w", "filter term 'last_seen<1w': '1w' is not a duration; write a whole "
            "number with s, m, h or d (90s, 15m, 2h, 7d), at most ten years");
    refused("last_seen<3661d", "filter term 'last_seen<3661d': '3661d' is not a duration; write "
            "a whole number with s, m, h or d (90s, 15m, 2h, 7d), at most ten years");
    refused("last_seen<1h|2h", "filter term 'last_seen<1h|2h': last_seen takes one duration, "
            "not alternatives");
    refused("chip<=esp32", "filter term 'chip<=esp32': chip takes = or != (only last_seen takes "
            "< and >)");
    refused("last_seen<=1h", "filter term 'last_seen<=1h' holds more than one operator; write "
            "one KEY=VALUE per term");
    refused("chip!esp32", "filter term 'chip!esp32': '!' must be followed by '=' (write "
            "chip!=VALUE)");
    refused("group=lab/2", "filter term 'group=lab/2': 'lab/2' is not a group name (1 to 64 "
            "letters, digits, '.', '_' or '-')");
    refused("tag==x", "filter term 'tag==x': tag '=x' has an empty key; a tag is key or "
            "key=value with a key of 1 to 32 letters, digits, '.', '_' or '-'");
    refused("tag=site=", "filter term 'tag=site=': tag 'site=' has an empty value; give key "
            "alone or key=value with a value of 1 to 64 bytes");
    refused("tag=a=b=c", "filter term 'tag=a=b=c': tag 'a=b=c': its value may not hold a "
            "control character, a space, ',', '|' or '=' (byte 4)");
    refused("project=abcdefghijklmnopqrstuvwxyz0123456789", "filter term "
            "'project=abcdefghijklmnopqrstuvwxyz012345...': a project is at most 32 bytes, so "
            "'abcdefghijklmnopqrstuvwxyz0123456789' matches no device");
}

/* Overlong, too many terms or alternatives, bytes that are not UTF-8, control characters. */
static void test_hostile(void **state)
{
    char big[FILTER_TEXT_MAX + 64];
    (void)state;
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    refused(big, "the filter is longer than 1024 bytes; select with fewer terms or put the "
            "devices in a group");
    /* exactly FILTER_TEXT_MAX bytes is judged on its terms, not its length */
    memcpy(big, "project=", 8);
    big[FILTER_TEXT_MAX] = '\0';
    refused(big, "filter term 'project=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...' has a value longer "
            "than 100 bytes");
    big[0] = '\0';
    for (int i = 0; i <= FILTER_TERMS_MAX; i++) strcat(big, "group=g ");
    refused(big, "the filter has more than 32 terms; select with fewer terms or put the devices "
            "in a group");
    strcpy(big, "state=idle");
    for (int i = 0; i < FILTER_ALTS_MAX; i++) strcat(big, "|idle");
    refused(big, "filter term 'state=idle|idle|idle|idle|idle|idle|idle...' has more than 16 "
            "alternatives");
    refused("chip=esp32 project=\xc3\x28", "the filter is not valid UTF-8 (byte 20); send it as "
            "UTF-8 text");
    refused("project=\xed\xa0\x80", "the filter is not valid UTF-8 (byte 9); send it as UTF-8 "
            "text"); /* a surrogate */
    refused("project=\xc0\xaf", "the filter is not valid UTF-8 (byte 9); send it as UTF-8 text");
    refused("chip=esp32\nstate=idle", "the filter holds a control character (byte 11); separate "
            "terms with spaces or commas");
    refused("project=a\x1b[2J", "the filter holds a control character (byte 10); separate terms "
            "with spaces or commas");
    refused("project=a\xc2\x9b" "2J", "the filter holds a control character (byte 10); separate "
            "terms with spaces or commas");
    /* a sentence shows only printable ASCII of what was sent */
    refused("st\xc3\xa4te=idle", "unknown filter key 'st??te' in 'st??te=idle'; the keys are "
            "chip, project, version, release, group, tag, online, state, last_seen and protocol");
}

/* SQL metacharacters are values like any other: they go out as bound parameters only. */
static void test_sql_metacharacters_are_bound(void **state)
{
    char err[700], sql[FILTER_SQL_MAX];
    filter_param_t params[FILTER_PARAMS_MAX];
    size_t n = 0;
    (void)state;
    assert_int_equal(filter__parse("project=x');DROP_TABLE_devices;-- version=\"'|'\" "
                                   "tag=k=v'--", f, err, sizeof(err)), 0);
    assert_int_equal(filter__sql(f, NOW, sql, sizeof(sql), params, FILTER_PARAMS_MAX, &n), 0);
    assert_string_equal(sql, "(project IN (?)) AND (version IN (?,?)) AND (id IN (SELECT "
                        "device_id FROM device_tags WHERE (tag_key = ? AND tag_value = ?)))");
    assert_int_equal(n, 5);
    assert_true(params[0].is_text);
    assert_string_equal(params[0].text, "x');DROP_TABLE_devices;--");
    assert_string_equal(params[1].text, "\"'");
    assert_string_equal(params[2].text, "'\"");
    assert_int_equal(params[3].text_len, 1);
    assert_memory_equal(params[3].text, "k", 1);
    assert_string_equal(params[4].text, "v'--");
    assert_null(strchr(sql, '\''));
    assert_null(strchr(sql, ';'));
}

static void test_sql_shape(void **state)
{
    char err[700], sql[FILTER_SQL_MAX];
    filter_param_t params[FILTER_PARAMS_MAX];
    size_t n = 0;
    (void)state;
    assert_int_equal(filter__parse("chip=esp32|esp32-s3 group!=lab|old tag=beta|site=berlin "
                                   "online=false last_seen<1h last_seen", f, err, sizeof(err)),
                     -1);
    assert_int_equal(filter__parse("chip=esp32|esp32-s3 group!=lab|old tag=beta|site=berlin "
                                   "online=false last_seen>1h state!=idle release=7", f, err,
                                   sizeof(err)), 0);
    assert_int_equal(filter__sql(f, NOW, sql, sizeof(sql), params, FILTER_PARAMS_MAX, &n), 0);
    assert_string_equal(sql,
        "(chip_id IN (?,?)) AND "
        "(id NOT IN (SELECT device_id FROM device_group_members WHERE group_name IN (?,?))) AND "
        "(id IN (SELECT device_id FROM device_tags WHERE (tag_key = ?) OR "
        "(tag_key = ? AND tag_value = ?))) AND "
        "(online IN (?)) AND (last_seen < ?) AND (state NOT IN (?)) AND "
        "(running_release IN (?))");
    assert_int_equal(n, 11);
    assert_int_equal(params[0].number, MQOTA_CHIP_ESP32);
    assert_int_equal(params[1].number, MQOTA_CHIP_ESP32S3);
    assert_string_equal(params[2].text, "lab");
    assert_string_equal(params[3].text, "old");
    assert_int_equal(params[4].text_len, 4);
    assert_int_equal(params[5].text_len, 4);
    assert_string_equal(params[6].text, "berlin");
    assert_false(params[7].is_text);
    assert_int_equal(params[7].number, 0);
    assert_int_equal(params[8].number, NOW - 3600);
    assert_int_equal(params[9].number, MQOTA_STATE_IDLE);
    assert_int_equal(params[10].number, 7);
    /* too small a buffer is refused, never cut */
    assert_int_equal(filter__sql(f, NOW, sql, 40, params, FILTER_PARAMS_MAX, &n), -1);
    assert_int_equal(filter__sql(f, NOW, sql, sizeof(sql), params, 3, &n), -1);
}

static void test_tag_check(void **state)
{
    char err[300];
    size_t kl = 0;
    (void)state;
    assert_true(filter__tag_check("beta", &kl, err, sizeof(err)));
    assert_int_equal(kl, 4);
    assert_true(filter__tag_check("site=berlin", &kl, err, sizeof(err)));
    assert_int_equal(kl, 4);
    assert_true(filter__tag_check("city=Z\xc3\xbcrich", NULL, NULL, 0));
    assert_false(filter__tag_check("a b", NULL, err, sizeof(err)));
    assert_string_equal(err, "tag 'a b': its key may hold only letters, digits, '.', '_' and "
                        "'-' (byte 2 is not one)");
    assert_false(filter__tag_check("k=a b", NULL, err, sizeof(err)));
    assert_false(filter__tag_check("k=a|b", NULL, err, sizeof(err)));
    assert_false(filter__tag_check("k=a,b", NULL, err, sizeof(err)));
    assert_false(filter__tag_check("k=\x7f", NULL, err, sizeof(err)));
    assert_false(filter__tag_check("k=\xff", NULL, err, sizeof(err)));
    assert_string_equal(err, "tag 'k=?': its value is not valid UTF-8 (byte 3)");
    assert_false(filter__tag_check("abcdefghijklmnopqrstuvwxyz0123456", NULL, err, sizeof(err)));
    assert_string_equal(err, "tag 'abcdefghijklmnopqrstuvwxyz0123456' has too long a key; a tag "
                        "is key or key=value with a key of 1 to 32 letters, digits, '.', '_' or "
                        "'-'");
    char v[80] = "k=";
    memset(v + 2, 'v', 65);
    v[67] = '\0';
    assert_false(filter__tag_check(v, NULL, err, sizeof(err)));
    v[66] = '\0';
    assert_true(filter__tag_check(v, NULL, err, sizeof(err)));
    assert_true(filter__group_name_ok("lab_2.old-x"));
    assert_false(filter__group_name_ok(""));
    assert_false(filter__group_name_ok("a b"));
    assert_false(filter__group_name_ok("l\xc3\xa4" "b"));
    memset(v, 'g', 65);
    v[65] = '\0';
    assert_false(filter__group_name_ok(v));
    v[64] = '\0';
    assert_true(filter__group_name_ok(v));
}

/* ---- the condition on a real SQLite file (db.c) ---- */

typedef struct {
    char ids[512];
} ids_t;

static int collect(void *ctx, const db_device_t *d)
{
    ids_t *c = ctx;
    if (c->ids[0]) strcat(c->ids, " ");
    strcat(c->ids, d->id);
    return 0;
}

/* The ids the filter text selects in db, space-separated. */
static const char *select_ids(db_t *db, const char *text, ids_t *out)
{
    char err[700], sql[FILTER_SQL_MAX];
    filter_param_t params[FILTER_PARAMS_MAX];
    size_t n = 0;
    out->ids[0] = '\0';
    if (filter__parse(text, f, err, sizeof(err)) != 0) fail_msg("%s: %s", text, err);
    assert_int_equal(filter__sql(f, NOW, sql, sizeof(sql), params, FILTER_PARAMS_MAX, &n), 0);
    assert_int_equal(db__device_select(db, sql, params, n, collect, out), 0);
    return out->ids;
}

static void put_device(db_t *db, const char *id, uint16_t chip, const char *project,
                       const char *version, uint32_t release, int state, bool online,
                       int64_t last_seen)
{
    db_device_t d;
    memset(&d, 0, sizeof(d));
    snprintf(d.id, sizeof(d.id), "%s", id);
    d.chip_id = chip;
    snprintf(d.project, sizeof(d.project), "%s", project);
    snprintf(d.version, sizeof(d.version), "%s", version);
    d.running_release = release;
    d.state = state;
    d.online = online;
    d.first_seen = 1;
    d.last_seen = last_seen;
    assert_int_equal(db__device_put(db, &d), 0);
}

static void test_selects_on_sqlite(void **state)
{
    char dir[] = "/tmp/mqota-filter.XXXXXX", path[64];
    db_t *db = NULL;
    ids_t ids;
    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/mqota.db", dir);
    assert_int_equal(db__open(&db, path), 0);
    put_device(db, "a", MQOTA_CHIP_ESP32, "hello_world", "1.0", 1, MQOTA_STATE_IDLE, true,
               NOW - 10);
    put_device(db, "b", MQOTA_CHIP_ESP32, "hello_world", "1.1", 2, MQOTA_STATE_FAILED, true,
               NOW - 100);
    put_device(db, "c", MQOTA_CHIP_ESP32S3, "sensor", "1.1", 2, MQOTA_STATE_CONFIRMED, false,
               NOW - 7200);
    put_device(db, "d", MQOTA_CHIP_ESP32, "x');DROP TABLE devices;--", "2.0", 0,
               MQOTA_STATE_IDLE, false, 0);
    assert_int_equal(db__group_insert(db, "lab", NOW), 0);
    assert_int_equal(db__group_insert(db, "lab", NOW), 1);
    assert_int_equal(db__group_insert(db, "berlin", NOW), 0);
    assert_int_equal(db__group_add(db, "lab", "a", NOW), 0);
    assert_int_equal(db__group_add(db, "lab", "a", NOW), 1); /* idempotent */
    assert_int_equal(db__group_add(db, "lab", "c", NOW), 0);
    assert_int_equal(db__group_add(db, "berlin", "c", NOW), 0);
    assert_int_equal(db__tag_put(db, "a", "site", "berlin"), 0);
    assert_int_equal(db__tag_put(db, "b", "site", "paris"), 0);
    assert_int_equal(db__tag_put(db, "b", "beta", NULL), 0);
    assert_int_equal(db__tag_put(db, "c", "site", "berlin"), 0);
    assert_int_equal(db__tag_put(db, "c", "site", "paris"), 0); /* one value per key */

    assert_string_equal(select_ids(db, "chip=esp32", &ids), "a b d");
    assert_string_equal(select_ids(db, "chip!=esp32", &ids), "c");
    assert_string_equal(select_ids(db, "project=hello_world", &ids), "a b");
    assert_string_equal(select_ids(db, "project=x');DROP", &ids), "");
    assert_string_equal(select_ids(db, "version=1.1", &ids), "b c");
    assert_string_equal(select_ids(db, "release=2|1", &ids), "a b c");
    assert_string_equal(select_ids(db, "group=lab", &ids), "a c");
    assert_string_equal(select_ids(db, "group=lab group=berlin", &ids), "c");
    assert_string_equal(select_ids(db, "group!=lab", &ids), "b d");
    assert_string_equal(select_ids(db, "tag=site", &ids), "a b c");
    assert_string_equal(select_ids(db, "tag=site=paris", &ids), "b c");
    assert_string_equal(select_ids(db, "tag=site=paris tag=beta", &ids), "b");
    assert_string_equal(select_ids(db, "tag!=site=paris|beta", &ids), "a d");
    assert_string_equal(select_ids(db, "online=true", &ids), "a b");
    assert_string_equal(select_ids(db, "online=false", &ids), "c d");
    assert_string_equal(select_ids(db, "state=idle|failed", &ids), "a b d");
    assert_string_equal(select_ids(db, "state!=idle", &ids), "b c");
    assert_string_equal(select_ids(db, "last_seen<1m", &ids), "a");
    assert_string_equal(select_ids(db, "last_seen<2h", &ids), "a b c");
    assert_string_equal(select_ids(db, "last_seen>1h", &ids), "c d");
    assert_string_equal(select_ids(db, "chip=esp32,online=true,tag=site=berlin", &ids), "a");
    /* d speaks legacy protocol 2, the others the native one */
    db_device_t dd;
    assert_int_equal(db__device_get(db, "d", &dd), 0);
    dd.protocol = DB_PROTO_MD5;
    assert_int_equal(db__device_put(db, &dd), 0);
    assert_string_equal(select_ids(db, "protocol=md5", &ids), "d");
    assert_string_equal(select_ids(db, "protocol=mqota", &ids), "a b c");
    assert_string_equal(select_ids(db, "protocol!=mqota chip=esp32", &ids), "d");
    assert_string_equal(select_ids(db, "protocol=b64|pull|tcp", &ids), "");
    assert_string_equal(select_ids(db, "group=nosuch", &ids), "");
    /* the hostile project name is still a row, the table still there */
    assert_string_equal(select_ids(db, "version=2.0", &ids), "d");

    /* a deleted group takes its memberships with it; tags are removed by key or key=value */
    assert_int_equal(db__group_delete(db, "lab"), 0);
    assert_int_equal(db__group_delete(db, "lab"), 1);
    assert_string_equal(select_ids(db, "group=berlin", &ids), "c");
    assert_int_equal(db__group_remove(db, "berlin", "c"), 0);
    assert_int_equal(db__group_remove(db, "berlin", "c"), 1);
    assert_int_equal(db__tag_delete(db, "b", "site", "berlin"), 1);
    assert_int_equal(db__tag_delete(db, "b", "site", "paris"), 0);
    assert_int_equal(db__tag_delete(db, "b", "beta", NULL), 0);
    int64_t count = -1;
    assert_int_equal(db__tag_count(db, "b", &count), 0);
    assert_int_equal(count, 0);
    assert_string_equal(select_ids(db, "tag=site", &ids), "a c");
    db__close(db);
    static const char *const suffix[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s/mqota.db%s", dir, suffix[i]);
        unlink(path);
    }
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepts_every_key),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_sql_metacharacters_are_bound),
        cmocka_unit_test(test_sql_shape),
        cmocka_unit_test(test_tag_check),
        cmocka_unit_test(test_selects_on_sqlite),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
