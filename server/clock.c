/* SPDX-License-Identifier: Apache-2.0 */
/*
 * clock.c - the schedule clock (clock.h): time(NULL) plus a test-only offset from the
 * environment and, optionally, from a file a test rewrites while mqotad runs.
 */
#include "clock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

#include "mqota_host.h"

static int64_t env_offset_s;     /* MQOTA_TEST_CLOCK_OFFSET */
static const char *offset_file;  /* MQOTA_TEST_CLOCK_FILE, or NULL */
static int64_t file_offset_s;    /* last offset read from it */
static struct timespec file_mtime;
static off_t file_size = -1;

/* A signed decimal within CLOCK_OFFSET_MAX_S, surrounding blanks allowed. 0, or -1. */
static int parse_offset(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    while (*end == ' ' || *end == '\n' || *end == '\t' || *end == '\r') end++;
    if (errno || end == s || *end || v > CLOCK_OFFSET_MAX_S || v < -CLOCK_OFFSET_MAX_S)
        return -1;
    *out = (int64_t)v;
    return 0;
}

int clock__init(void)
{
    const char *s = getenv(CLOCK_OFFSET_ENV);
    env_offset_s = 0;
    if (s && *s) {
        if (parse_offset(s, &env_offset_s) != 0) {
            fprintf(stderr, "mqotad: %s='%s' is not a whole number of seconds from -%lld to "
                    "%lld; unset it (it is for tests only).\n", CLOCK_OFFSET_ENV, s,
                    (long long)CLOCK_OFFSET_MAX_S, (long long)CLOCK_OFFSET_MAX_S);
            return -1;
        }
        mqh_log(MQH_WARN, "%s: schedules run on a clock shifted by %lld s (tests only)",
                CLOCK_OFFSET_ENV, (long long)env_offset_s);
    }
    s = getenv(CLOCK_FILE_ENV);
    offset_file = s && *s ? s : NULL;
    if (offset_file)
        mqh_log(MQH_WARN, "%s: schedules run on a clock shifted by the seconds in %s (tests "
                "only)", CLOCK_FILE_ENV, offset_file);
    return 0;
}

/* Read the offset file again when it changed (a stat per call: only while a test set it). */
static void refresh_file(void)
{
    struct stat st;
    if (!offset_file || stat(offset_file, &st) != 0) return;
    if (st.st_size == file_size && st.st_mtim.tv_sec == file_mtime.tv_sec &&
        st.st_mtim.tv_nsec == file_mtime.tv_nsec)
        return;
    FILE *f = fopen(offset_file, "r");
    if (!f) return;
    char buf[32];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    int64_t v;
    if (parse_offset(buf, &v) != 0) {
        mqh_log(MQH_WARN, "%s: '%s' is not a whole number of seconds; keeping %lld s",
                offset_file, buf, (long long)file_offset_s);
    } else if (v != file_offset_s) {
        mqh_log(MQH_INFO, "%s: schedule clock offset now %lld s", offset_file, (long long)v);
        file_offset_s = v;
    }
    file_size = st.st_size;
    file_mtime = st.st_mtim;
}

int64_t clock__offset_s(void)
{
    refresh_file();
    return env_offset_s + file_offset_s;
}

int64_t clock__now(void)
{
    return (int64_t)time(NULL) + clock__offset_s();
}

int64_t clock__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + clock__offset_s() * 1000;
}
