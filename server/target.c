/* SPDX-License-Identifier: Apache-2.0 */
/*
 * target.c - the devices a target filter selects: filter.c parses the expression and writes
 * the SQL condition, this file checks what the parser cannot (the groups it names exist) and
 * runs the selection through db.c. No HTTP here: the routes (http_group.c, http_api.c) and,
 * later, rollouts call it.
 */
#include "target.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filter.h"
#include "mqota/mqota_image.h"
#include "mqota/mqota_proto.h"

int target__select(mqotad_t *d, const char *filter, int (*cb)(void *ctx, const db_device_t *dv),
                   void *ctx, char *err, size_t err_cap)
{
    filter_t *f = malloc(sizeof(*f));
    char *sql = malloc(FILTER_SQL_MAX);
    filter_param_t *params = malloc(FILTER_PARAMS_MAX * sizeof(*params));
    size_t n = 0;
    int ret = 500;
    if (!f || !sql || !params) {
        snprintf(err, err_cap, "out of memory while selecting devices by a filter");
        goto out;
    }
    if (filter__parse(filter, f, err, err_cap) != 0) {
        ret = 400;
        goto out;
    }
    /* A group the filter names must exist: a typo would otherwise select nobody (or, with
     * !=, everybody) without a word. */
    for (int i = 0; i < f->n_terms; i++) {
        const filter_term_t *t = &f->terms[i];
        for (int k = 0; t->key == FILTER_GROUP && k < t->n_values; k++) {
            db_group_t g;
            int rc = db__group_get(d->db, t->values[k], &g);
            if (rc < 0) {
                snprintf(err, err_cap, "database error while reading the filter's groups");
                goto out;
            }
            if (rc == 1) {
                snprintf(err, err_cap, "filter term 'group%s%s' names group '%s', which does "
                         "not exist; see GET /api/v1/groups ('mqota group list')",
                         t->op == FILTER_NE ? "!=" : "=", t->values[k], t->values[k]);
                ret = 400;
                goto out;
            }
        }
    }
    if (filter__sql(f, mqh_unix_now(), sql, FILTER_SQL_MAX, params, FILTER_PARAMS_MAX, &n) != 0) {
        snprintf(err, err_cap, "the filter did not fit its SQL buffer");
        goto out;
    }
    if (db__device_select(d->db, sql, params, n, cb, ctx) != 0) {
        snprintf(err, err_cap, "database error while selecting devices by the filter");
        goto out;
    }
    ret = 0;
out:
    free(params);
    free(sql);
    free(f);
    return ret;
}

typedef struct {
    uint16_t chip_id;
    bool files; /* a file release: devices with MQOTA_CAP_FILES, whatever their chip */
    target_ids_t *t;
    size_t cap;
    bool oom;
} of_chip_ctx_t;

static int collect(void *ctx, const db_device_t *dv)
{
    of_chip_ctx_t *c = ctx;
    target_ids_t *t = c->t;
    if (c->files ? !(dv->caps & MQOTA_CAP_FILES) : dv->chip_id != c->chip_id) {
        t->other_chip++;
        return 0;
    }
    if (t->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 64;
        char **p = realloc(t->ids, cap * sizeof(*p));
        if (!p) {
            c->oom = true;
            return 1;
        }
        t->ids = p;
        c->cap = cap;
    }
    if (!(t->ids[t->n] = strdup(dv->id))) {
        c->oom = true;
        return 1;
    }
    t->n++;
    return 0;
}

/* filter, cut for a sentence: printable ASCII only (anything else '?'), at most 80 bytes. */
static void shown(const char *in, char *out, size_t cap)
{
    size_t n = 0;
    for (; in[n] && n + 4 < cap && n < 80; n++)
        out[n] = in[n] >= 0x20 && in[n] <= 0x7e ? in[n] : '?';
    if (in[n]) memcpy(out + n, "...", 3), n += 3;
    out[n] = '\0';
}

int target__for_release(mqotad_t *d, const char *filter, int64_t release_id, target_ids_t *out,
                        char *err, size_t err_cap)
{
    char text[100];
    db_release_t *r = malloc(sizeof(*r));
    memset(out, 0, sizeof(*out));
    int rc = r ? db__release_get(d->db, release_id, r) : -1;
    if (rc != 0) {
        snprintf(err, err_cap, rc == 1 ? "unknown release %lld" :
                 "database error while reading release %lld", (long long)release_id);
        free(r);
        return rc == 1 ? 404 : 500;
    }
    of_chip_ctx_t c = {r->chip_id, r->kind == DB_RELEASE_FILES, out, 0, false};
    free(r);
    rc = target__select(d, filter, collect, &c, err, err_cap);
    if (rc != 0) return rc;
    if (c.oom) {
        snprintf(err, err_cap, "out of memory while selecting the filter's devices");
        return 500;
    }
    if (out->n == 0 && c.files) {
        shown(filter, text, sizeof(text));
        snprintf(err, err_cap, "no device that takes file releases (MQOTA_CAP_FILES, the "
                 "MicroPython agent) matches the filter '%s' (%zu that take images only do), "
                 "and release %lld is a file release", text, out->other_chip,
                 (long long)release_id);
        return 400;
    }
    if (out->n == 0) {
        shown(filter, text, sizeof(text));
        snprintf(err, err_cap, "no device of chip %s, the chip of release %lld, matches the "
                 "filter '%s' (%zu of other chips do); see 'mqota device list --filter'",
                 mqota_chip_name(c.chip_id), (long long)release_id, text, out->other_chip);
        return 400;
    }
    return 0;
}

void target__ids_free(target_ids_t *t)
{
    for (size_t i = 0; i < t->n; i++) free(t->ids[i]);
    free(t->ids);
    memset(t, 0, sizeof(*t));
}
