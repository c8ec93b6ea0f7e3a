/* SPDX-License-Identifier: Apache-2.0 */
/* Option parsing, error printing and JSON field access shared by the commands. See cli.h. */
#define _POSIX_C_SOURCE 200809L

#include "cli.h"
#include "format.h"
#include "http.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

void cli_error(const char *fmt, ...)
{
    va_list ap;

    fflush(stdout);
    fputs("mqota: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;

    fflush(stdout);
    fputs("mqota: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    if (cmd != NULL)
        fprintf(stderr, "; see 'mqota %s --help'\n", cmd);
    else
        fputs("; see 'mqota --help'\n", stderr);
    return CLI_USAGE;
}

/* Find the option called name (length n) in opts; NULL when the command has none such. */
static const cli_opt_t *find_opt(const cli_opt_t *opts, size_t nopts, const char *name, size_t n)
{
    for (size_t i = 0; i < nopts; i++)
        if (strlen(opts[i].name) == n && strncmp(opts[i].name, name, n) == 0)
            return &opts[i];
    return NULL;
}

int cli_parse(cli_ctx_t *ctx, const char *cmd, const char *usage, int argc, char **argv,
              const cli_opt_t *opts, size_t nopts, char **pos, int *npos, int max_pos)
{
    bool only_pos = false;

    *npos = 0;
    for (int i = 0; i < argc; i++) {
        char *a = argv[i];
        bool is_opt = !only_pos && a[0] == '-' && a[1] != '\0';

        if (!is_opt) {
            if (*npos >= max_pos)
                return cli_usage_error(cmd, "unexpected argument '%s' for '%s'", a, cmd);
            pos[(*npos)++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_pos = true;
            continue;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            return CLI_HELP;
        }
        if (strcmp(a, "--json") == 0) {
            ctx->json = true;
            continue;
        }
        const char *eq = strchr(a, '=');
        size_t n = eq != NULL ? (size_t)(eq - a) : strlen(a);
        const cli_opt_t *o = find_opt(opts, nopts, a, n);
        if (o == NULL)
            return cli_usage_error(cmd, "unknown option '%.*s' for '%s'", (int)n, a, cmd);
        if (o->flag != NULL) {
            if (eq != NULL)
                return cli_usage_error(cmd, "option '%s' for '%s' takes no value", o->name, cmd);
            *o->flag = true;
        } else if (eq != NULL) {
            *o->value = eq + 1;
        } else {
            if (i + 1 >= argc)
                return cli_usage_error(cmd, "option '%s' for '%s' needs a value", o->name, cmd);
            *o->value = argv[++i];
        }
    }
    return CLI_OK;
}

int cli_parse_id(const char *cmd, const char *what, const char *text, long long *out)
{
    char *end = NULL;

    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v <= 0)
        return cli_usage_error(cmd, "%s '%s' is not a positive whole number", what, text);
    *out = v;
    return CLI_OK;
}

long long cli_json_int(const cJSON *obj, const char *key, long long def)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsNumber(v) ? (long long)v->valuedouble : def;
}

const char *cli_json_str(const cJSON *obj, const char *key, const char *def)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(v) && v->valuestring != NULL ? v->valuestring : def;
}

void cli_json_make_safe(cJSON *v)
{
    for (; v != NULL; v = v->next) {
        if (cJSON_IsString(v) && v->valuestring != NULL) {
            bool multi_line = v->string != NULL && strcmp(v->string, "reply") == 0;
            char *safe = fmt_safe(v->valuestring, multi_line);
            if (safe == NULL) {
                v->valuestring[0] = '\0';
            } else {
                /* an answer may hold secrets: leave no copy in freed memory */
                OPENSSL_cleanse(v->valuestring, strlen(v->valuestring));
                cJSON_free(v->valuestring); /* cJSON's default hooks: malloc/free */
                v->valuestring = safe;
            }
        } else {
            cli_json_make_safe(v->child);
        }
    }
}

bool cli_json_bool(const cJSON *obj, const char *key, bool def)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsBool(v) ? cJSON_IsTrue(v) : def;
}

/*
 * cJSON_Print indents with tabs and writes "key":<tab>value. Raw tabs never occur inside its
 * strings (they are escaped as \t), so every tab is layout: indent by two spaces instead, and
 * write "key": value. DEL, C1 controls and invalid UTF-8, which cJSON copies raw, are escaped
 * first (fmt_json_safe()): the same JSON, inert on a terminal.
 */
void cli_print_json(const cJSON *v)
{
    char *raw = cJSON_Print(v);
    char *s = raw != NULL ? fmt_json_safe(raw) : NULL;
    free(raw);
    if (s == NULL)
        return;
    for (const char *p = s; *p != '\0'; p++) {
        if (*p != '\t')
            fputc(*p, stdout);
        else if (p > s && p[-1] == ':')
            fputc(' ', stdout);
        else
            fputs("  ", stdout);
    }
    fputc('\n', stdout);
    free(s);
}

bool cli_utf8(void)
{
    static const char *const vars[] = { "LC_ALL", "LC_CTYPE", "LANG" };

    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v != NULL && *v != '\0')
            return strstr(v, "UTF-8") != NULL || strstr(v, "utf8") != NULL ||
                   strstr(v, "utf-8") != NULL || strstr(v, "UTF8") != NULL;
    }
    return false;
}

int cli_list_fetch(cli_ctx_t *ctx, const char *cmd, const char *usage, int argc, char **argv,
                   const char *path, cJSON **out)
{
    char *pos[1];
    int npos;
    cJSON *arr = NULL;

    *out = NULL;
    int rc = cli_parse(ctx, cmd, usage, argc, argv, NULL, 0, pos, &npos, 0);
    if (rc != CLI_OK)
        return rc;
    rc = http_get(ctx, path, &arr);
    if (rc != CLI_OK) {
        cJSON_Delete(arr);
        return rc;
    }
    if (ctx->json) {
        cli_print_json(arr);
        cJSON_Delete(arr);
        return CLI_OK;
    }
    *out = arr;
    return CLI_OK;
}
