/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config.c - mqotad's configuration file (--config FILE), read with inih (Debian's
 * libinih): NAME = VALUE lines, NAME an option of options.c's table without its "--", '#' or
 * ';' comments, optionally under one [mqotad] section. Each value goes through the same
 * setter as the command line's. The first bad line stops the start (or a reload) with one
 * sentence naming FILE:LINE and the key.
 */
#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <string.h>

#include "mqotad.h"

/* What the reader and the handler share while one file is read. */
typedef struct {
    mqotad_t *d;
    FILE *f;
    const char *path;
    int line;          /* of the line inih is handling: the reader counts the lines it gives */
    char msg[900];     /* the first error's sentence; empty: none */
} config_read_t;

/* inih's reader: one line per call, like fgets, counting them (the Debian build of inih
 * does not pass line numbers to the handler). */
static char *read_line(char *buf, int size, void *stream)
{
    config_read_t *c = stream;
    char *s = fgets(buf, size, c->f);
    if (!s) return NULL;
    c->line++;
    if (!strchr(s, '\n') && !feof(c->f)) { /* inih would take the rest for another line */
        if (!c->msg[0])
            snprintf(c->msg, sizeof(c->msg), "%s:%d: the line is longer than %d bytes, the "
                     "longest inih reads", c->path, c->line, size - 2);
        return NULL;
    }
    return s;
}

/* inih's handler: one NAME = VALUE. Returns 1 to go on, 0 on an error (kept in c->msg). */
static int on_value(void *user, const char *section, const char *name, const char *value)
{
    config_read_t *c = user;
    char err[600];
    if (c->msg[0]) return 0; /* report the first error only */
    if (section[0] && strcmp(section, "mqotad") != 0) {
        snprintf(c->msg, sizeof(c->msg), "%s:%d: section [%.60s] is not known; write the keys "
                 "at the top of the file or under [mqotad]", c->path, c->line, section);
        return 0;
    }
    if (strcmp(name, "config") == 0) {
        snprintf(c->msg, sizeof(c->msg), "%s:%d: key config: a configuration file cannot "
                 "name another one", c->path, c->line);
        return 0;
    }
    if (options__set(c->d, name, value, false, err, sizeof(err)) != 0) {
        snprintf(c->msg, sizeof(c->msg), "%s:%d: key %.60s %s", c->path, c->line, name, err);
        return 0;
    }
    return 1;
}

int config__load(mqotad_t *d, const char *path)
{
    config_read_t c = {.d = d, .path = path};
    c.f = fopen(path, "r");
    if (!c.f) {
        fprintf(stderr, "mqotad: --config %s: cannot read the file: %s.\n", path,
                strerror(errno));
        return -1;
    }
    int rc = ini_parse_stream(read_line, &c, on_value, &c);
    fclose(c.f);
    if (c.msg[0]) {
        fprintf(stderr, "mqotad: %s.\n", c.msg);
        return -1;
    }
    if (rc > 0) {
        fprintf(stderr, "mqotad: %s:%d: not a 'key = value' line, a comment or a [section].\n",
                path, rc);
        return -1;
    }
    if (rc != 0) {
        fprintf(stderr, "mqotad: --config %s: cannot read the file (out of memory).\n", path);
        return -1;
    }
    return 0;
}
