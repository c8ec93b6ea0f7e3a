/* SPDX-License-Identifier: Apache-2.0 */
/* mqota group create / list / show / delete / add / remove, device tag / untag (docs/CLI.md
 * "Groups and tags"). Every string from mqotad is printed through the table or fmt_safe()
 * (http.c made the answer safe before it got here). */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "format.h"
#include "http.h"

static const char usage_create[] =
    "Usage: mqota group create NAME [--json]\n"
    "\n"
    "Create a named group of devices (1 to 64 letters, digits, '.', '_' or '-'). A device may\n"
    "be in several groups; select them with 'mqota device list --filter group=NAME'.\n"
    "\n"
    "Example:\n"
    "  mqota group create lab\n";

static const char usage_list[] =
    "Usage: mqota group list [--json]\n"
    "\n"
    "List the groups by name: NAME DEVICES CREATED.\n"
    "\n"
    "Example:\n"
    "  mqota group list\n";

static const char usage_show[] =
    "Usage: mqota group show NAME [--json]\n"
    "\n"
    "Show a group and its devices.\n"
    "\n"
    "Example:\n"
    "  mqota group show lab\n";

static const char usage_delete[] =
    "Usage: mqota group delete NAME [--json]\n"
    "\n"
    "Delete a group; its devices stay, only the membership goes.\n"
    "\n"
    "Example:\n"
    "  mqota group delete lab\n";

static const char usage_add[] =
    "Usage: mqota group add NAME DEVICE... [--json]\n"
    "\n"
    "Put devices in a group (a device already in it stays, once). Every device must be known\n"
    "to mqotad; if one is not, nothing changes.\n"
    "\n"
    "Example:\n"
    "  mqota group add lab vdev-0001 vdev-0002\n";

static const char usage_remove[] =
    "Usage: mqota group remove NAME DEVICE... [--json]\n"
    "\n"
    "Take devices out of a group (a device not in it is fine).\n"
    "\n"
    "Example:\n"
    "  mqota group remove lab vdev-0002\n";

static const char usage_tag[] =
    "Usage: mqota device tag ID TAG... [--json]\n"
    "\n"
    "Give a device tags: KEY or KEY=VALUE (KEY 1 to 32 letters, digits, '.', '_' or '-';\n"
    "VALUE 1 to 64 bytes of UTF-8 without spaces, ',', '|' or '='). A key has one value:\n"
    "site=paris replaces site=berlin. At most 32 tags per device.\n"
    "\n"
    "Example:\n"
    "  mqota device tag vdev-0001 site=berlin beta\n";

static const char usage_untag[] =
    "Usage: mqota device untag ID TAG... [--json]\n"
    "\n"
    "Remove tags from a device: KEY removes the key whatever its value, KEY=VALUE only when\n"
    "the device has that value.\n"
    "\n"
    "Example:\n"
    "  mqota device untag vdev-0001 beta\n";

/* "/api/v1/<prefix>/<escaped seg><suffix>", malloc'd; NULL (reported) when out of memory. */
static char *item_path(const char *prefix, const char *seg, const char *suffix)
{
    char *e = http_escape(seg);
    size_t n = e ? strlen(prefix) + strlen(e) + strlen(suffix) + 16 : 0;
    char *p = e ? malloc(n) : NULL;
    if (p)
        snprintf(p, n, "/api/v1/%s/%s%s", prefix, e, suffix);
    else
        cli_error("out of memory.");
    free(e);
    return p;
}

/* Print "LABEL  a, b, c" for an array of strings ("-" when empty). */
static void print_list(const char *label, const cJSON *arr)
{
    const cJSON *it;
    int n = 0;
    printf("  %-17s ", label);
    cJSON_ArrayForEach(it, arr) {
        if (cJSON_IsString(it))
            printf("%s%s", n++ ? ", " : "", it->valuestring);
    }
    printf("%s\n", n ? "" : "-");
}

/* A group object as "group NAME: N devices" and its members, one per line. */
static void print_group(const cJSON *g)
{
    long long size = cli_json_int(g, "size", 0);
    char date[32];
    printf("group %s: %lld device%s (created %s)\n", cli_json_str(g, "name", "?"), size,
           size == 1 ? "" : "s", fmt_date(cli_json_int(g, "created_at", 0), date, sizeof date));
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(g, "devices")) {
        if (cJSON_IsString(it))
            printf("  %s\n", it->valuestring);
    }
}

/* Parse "CMD NAME" (one positional) into *name. */
static int one_name(cli_ctx_t *ctx, const char *cmd, const char *usage, int argc, char **argv,
                    const char **name)
{
    char *pos[1];
    int npos = 0;
    int rc = cli_parse(ctx, cmd, usage, argc, argv, NULL, 0, pos, &npos, 1);
    if (rc != CLI_OK)
        return rc;
    if (npos != 1)
        return cli_usage_error(cmd, "'%s' needs a group NAME", cmd);
    *name = pos[0];
    return CLI_OK;
}

/* Print the answer as JSON (--json) or with print, then free it. */
static int finish(cli_ctx_t *ctx, cJSON *resp, void (*print)(const cJSON *))
{
    if (ctx->json)
        cli_print_json(resp);
    else
        print(resp);
    cJSON_Delete(resp);
    return CLI_OK;
}

int cmd_group_create(cli_ctx_t *ctx, int argc, char **argv)
{
    static const char cmd[] = "group create";
    const char *name;
    cJSON *body = NULL, *resp = NULL;
    int rc = one_name(ctx, cmd, usage_create, argc, argv, &name);
    if (rc != CLI_OK)
        return rc;
    body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "name", name);
    char *text = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    if (text == NULL) {
        cli_error("out of memory.");
        return CLI_FAILED;
    }
    rc = http_json(ctx, "POST", "/api/v1/groups", "application/json", text, strlen(text), &resp,
                   NULL);
    free(text);
    if (rc != CLI_OK) {
        cJSON_Delete(resp);
        return rc;
    }
    return finish(ctx, resp, print_group);
}

int cmd_group_list(cli_ctx_t *ctx, int argc, char **argv)
{
    static const char cmd[] = "group list";
    static const char *const head[] = { "NAME", "DEVICES", "CREATED" };
    cJSON *arr = NULL;
    int rc = cli_list_fetch(ctx, cmd, usage_list, argc, argv, "/api/v1/groups", &arr);
    if (rc != CLI_OK || arr == NULL)
        return rc;
    fmt_table_t *t = fmt_table_new(3, head);
    if (t == NULL) {
        cJSON_Delete(arr);
        cli_error("out of memory while printing the group list.");
        return CLI_FAILED;
    }
    fmt_table_align_right(t, 1);
    const cJSON *g;
    cJSON_ArrayForEach(g, arr) {
        char size[24], date[32];
        snprintf(size, sizeof size, "%lld", cli_json_int(g, "size", 0));
        fmt_date(cli_json_int(g, "created_at", 0), date, sizeof date);
        const char *row[] = { cli_json_str(g, "name", "-"), size, date };
        fmt_table_add_row(t, row);
    }
    if (fmt_table_rows(t) == 0)
        printf("No groups yet; make one with 'mqota group create NAME'.\n");
    else
        fmt_table_print(t, stdout);
    fmt_table_free(t);
    cJSON_Delete(arr);
    return CLI_OK;
}

/* GET or DELETE /api/v1/groups/NAME and print the answer. */
static int group_item(cli_ctx_t *ctx, const char *cmd, const char *usage, const char *method,
                      int argc, char **argv, void (*print)(const cJSON *))
{
    const char *name;
    cJSON *resp = NULL;
    int rc = one_name(ctx, cmd, usage, argc, argv, &name);
    if (rc != CLI_OK)
        return rc;
    char *path = item_path("groups", name, "");
    if (path == NULL)
        return CLI_FAILED;
    rc = http_json(ctx, method, path, NULL, NULL, 0, &resp, NULL);
    free(path);
    if (rc != CLI_OK) {
        cJSON_Delete(resp);
        return rc;
    }
    return finish(ctx, resp, print);
}

static void print_deleted(const cJSON *j)
{
    printf("group %s deleted\n", cli_json_str(j, "deleted", "?"));
}

int cmd_group_show(cli_ctx_t *ctx, int argc, char **argv)
{
    return group_item(ctx, "group show", usage_show, "GET", argc, argv, print_group);
}

int cmd_group_delete(cli_ctx_t *ctx, int argc, char **argv)
{
    return group_item(ctx, "group delete", usage_delete, "DELETE", argc, argv, print_deleted);
}

/*
 * POST {member: [strings...]} to path built from the first positional: the group and tag
 * changes. need names what the other positionals are, for the usage error.
 */
static int post_batch(cli_ctx_t *ctx, const char *cmd, const char *usage, int argc, char **argv,
                      const char *prefix, const char *suffix, const char *member,
                      const char *first, const char *need, void (*print)(const cJSON *))
{
    char **pos = calloc((size_t)argc + 1, sizeof *pos);
    int npos = 0, rc;
    cJSON *resp = NULL;
    char *path = NULL, *text = NULL;
    if (pos == NULL) {
        cli_error("out of memory.");
        return CLI_FAILED;
    }
    rc = cli_parse(ctx, cmd, usage, argc, argv, NULL, 0, pos, &npos, argc);
    if (rc != CLI_OK)
        goto out;
    if (npos < 2) {
        rc = cli_usage_error(cmd, "'%s' needs %s and at least one %s", cmd, first, need);
        goto out;
    }
    cJSON *body = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(body, member);
    for (int i = 1; i < npos; i++)
        cJSON_AddItemToArray(arr, cJSON_CreateString(pos[i]));
    text = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    path = item_path(prefix, pos[0], suffix);
    if (text == NULL || path == NULL) {
        cli_error("out of memory.");
        rc = CLI_FAILED;
        goto out;
    }
    rc = http_json(ctx, "POST", path, "application/json", text, strlen(text), &resp, NULL);
    if (rc == CLI_OK) {
        rc = finish(ctx, resp, print);
        resp = NULL;
    }
out:
    cJSON_Delete(resp);
    free(text);
    free(path);
    free(pos);
    return rc;
}

static void print_changed(const cJSON *g)
{
    long long added = cli_json_int(g, "added", -1), removed = cli_json_int(g, "removed", -1);
    if (added >= 0)
        printf("%lld device%s added to group %s", added, added == 1 ? "" : "s",
               cli_json_str(g, "name", "?"));
    else
        printf("%lld device%s removed from group %s", removed, removed == 1 ? "" : "s",
               cli_json_str(g, "name", "?"));
    printf(" (now %lld)\n", cli_json_int(g, "size", 0));
}

int cmd_group_add(cli_ctx_t *ctx, int argc, char **argv)
{
    return post_batch(ctx, "group add", usage_add, argc, argv, "groups", "/devices", "add",
                      "a group NAME", "DEVICE", print_changed);
}

int cmd_group_remove(cli_ctx_t *ctx, int argc, char **argv)
{
    return post_batch(ctx, "group remove", usage_remove, argc, argv, "groups", "/devices",
                      "remove", "a group NAME", "DEVICE", print_changed);
}

static void print_tags(const cJSON *j)
{
    printf("device %s\n", cli_json_str(j, "device", "?"));
    print_list("tags", cJSON_GetObjectItemCaseSensitive(j, "tags"));
    print_list("groups", cJSON_GetObjectItemCaseSensitive(j, "groups"));
}

int cmd_device_tag(cli_ctx_t *ctx, int argc, char **argv)
{
    return post_batch(ctx, "device tag", usage_tag, argc, argv, "devices", "/tags", "add",
                      "a device ID", "TAG", print_tags);
}

int cmd_device_untag(cli_ctx_t *ctx, int argc, char **argv)
{
    return post_batch(ctx, "device untag", usage_untag, argc, argv, "devices", "/tags", "remove",
                      "a device ID", "TAG", print_tags);
}

void cli_print_groups_tags(const cJSON *device)
{
    print_list("groups", cJSON_GetObjectItemCaseSensitive(device, "groups"));
    print_list("tags", cJSON_GetObjectItemCaseSensitive(device, "tags"));
}
