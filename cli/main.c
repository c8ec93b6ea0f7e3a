/* SPDX-License-Identifier: Apache-2.0 */
/* mqota: command-line client of mqotad. Global options, then a command; see docs/CLI.md. */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "cli.h"
#include "http.h"
#include "token.h"

#define DEFAULT_SERVER "http://127.0.0.1:8080"

static const char usage_main[] =
    "Usage: mqota [--server URL] [--token TOKEN] [--data DIR] [--json] COMMAND [ARGS...]\n"
    "\n"
    "Update ESP32 fleets through mqotad.\n"
    "\n"
    "Global options:\n"
    "  --server URL   mqotad's HTTP address (default: $MQOTA_SERVER, else DIR/http.url of\n"
    "                 --data DIR, else " DEFAULT_SERVER ")\n"
    "  --token TOKEN  API bearer token (default: $MQOTA_TOKEN, else DIR/api.token of --data\n"
    "                 DIR, else the token file of an mqotad on this machine run by this user)\n"
    "  --data DIR     mqotad's data directory on this machine (default: $MQOTA_DATA)\n"
    "  --json         print the server's JSON instead of tables\n"
    "  --help         show this help\n"
    "\n"
    "Commands:\n"
    "  release add FILE [--version V] [--notes TEXT]   upload a firmware image\n"
    "  release list                                    list releases\n"
    "  release sign FILE --key KEY [--version V] [--security-version N]\n"
    "                                                  sign an image: writes FILE.mqsig\n"
    "  key generate NAME                               make a release signing key pair\n"
    "  device list [--filter EXPR]                     list devices (those a filter selects)\n"
    "  device show ID                                  show one device\n"
    "  device telemetry ID [--name N] [--since 1h]     a device's telemetry series or samples\n"
    "  device tag ID TAG... / device untag ID TAG...   give a device tags, take them away\n"
    "  device command ID NAME [--arg TEXT]             send a sealed command, print the reply\n"
    "  device commands ID                              list a device's commands\n"
    "  device provision [--out-dir DIR] ID...          create device identities and keys\n"
    "  device add ID --protocol P --chip C [K=V...]    register a legacy device (b64, md5)\n"
    "  deploy RELEASE_ID (--all | --filter EXPR | DEVICE...) [--hold] [--watch]\n"
    "                                                  roll a release out\n"
    "  deployment list                                 list deployments\n"
    "  deployment show ID                              show one deployment and its targets\n"
    "  deployment watch ID [--timeout SECONDS]         follow a deployment until it finishes\n"
    "  deployment activate ID [DEVICE...]              reboot held targets into the release\n"
    "  group create|list|show|delete NAME              named groups of devices\n"
    "  group add|remove NAME DEVICE...                 change a group's devices\n"
    "  rollout create RELEASE_ID --filter EXPR --canary SIZE --waves SIZE,...\n"
    "                                                  roll a release out in waves\n"
    "  rollout list / rollout show ID                  follow rollouts, waves and history\n"
    "  rollout pause|resume|abort|approve|retry ID     steer a rollout\n"
    "  status                                          check mqotad and its broker\n"
    "\n"
    "Run 'mqota COMMAND --help' for a command's options.\n"
    "Exit codes: 0 ok, 1 operation failed, 2 usage error, 3 timeout, 4 cannot reach mqotad.\n"
    "\n"
    "Example:\n"
    "  mqota --server http://10.0.0.5:8080 device list\n";

typedef int (*cmd_fn)(cli_ctx_t *, int, char **);

/* Command table: group word (or NULL for one-word commands), verb, handler. */
static const struct {
    const char *group;
    const char *verb;
    cmd_fn fn;
} commands[] = {
    { "release", "add", cmd_release_add },
    { "release", "list", cmd_release_list },
    { "release", "sign", cmd_release_sign },
    { "key", "generate", cmd_key_generate },
    { "device", "list", cmd_device_list },
    { "device", "show", cmd_device_show },
    { "device", "telemetry", cmd_device_telemetry },
    { "device", "reset-failures", cmd_device_reset_failures },
    { "device", "command", cmd_device_command },
    { "device", "commands", cmd_device_commands },
    { "device", "provision", cmd_device_provision },
    { "device", "add", cmd_device_add },
    { "device", "tag", cmd_device_tag },
    { "device", "untag", cmd_device_untag },
    { "group", "create", cmd_group_create },
    { "group", "list", cmd_group_list },
    { "group", "show", cmd_group_show },
    { "group", "delete", cmd_group_delete },
    { "group", "add", cmd_group_add },
    { "group", "remove", cmd_group_remove },
    { "deployment", "list", cmd_deployment_list },
    { "deployment", "show", cmd_deployment_show },
    { "deployment", "watch", cmd_deployment_watch },
    { "deployment", "activate", cmd_deployment_activate },
    { "rollout", "create", cmd_rollout_create },
    { "rollout", "list", cmd_rollout_list },
    { "rollout", "show", cmd_rollout_show },
    { "rollout", "watch", cmd_rollout_watch },
    { "rollout", "pause", cmd_rollout_pause },
    { "rollout", "resume", cmd_rollout_resume },
    { "rollout", "abort", cmd_rollout_abort },
    { "rollout", "approve", cmd_rollout_approve },
    { "rollout", "retry", cmd_rollout_retry },
    { NULL, "deploy", cmd_deploy },
    { NULL, "status", cmd_status },
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

/* Help for a group word alone ("mqota release"): list its verbs. */
static void print_group_help(const char *group)
{
    printf("Usage: mqota %s VERB [ARGS...]\n\nVerbs:\n", group);
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (commands[i].group != NULL && strcmp(commands[i].group, group) == 0)
            printf("  %s %s\n", group, commands[i].verb);
    printf("\nRun 'mqota %s VERB --help' for a verb's options.\n", group);
}

static bool is_group(const char *word)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (commands[i].group != NULL && strcmp(commands[i].group, word) == 0)
            return true;
    return false;
}

/*
 * Turn the --server value (or MQOTA_SERVER, or the default) into a base URL: "http://" is
 * added when no scheme is given and trailing slashes are dropped. The result is malloc'd.
 */
static char *normalise_server(const char *s)
{
    size_t n = strlen(s);
    while (n > 0 && s[n - 1] == '/')
        n--;
    bool has_scheme = strstr(s, "://") != NULL;
    char *url = malloc(n + sizeof "http://");
    if (url != NULL)
        snprintf(url, n + sizeof "http://", "%s%.*s", has_scheme ? "" : "http://", (int)n, s);
    return url;
}

/* Dispatch the command in argv[0..]; returns the exit code. */
static int dispatch(cli_ctx_t *ctx, int argc, char **argv)
{
    const char *word = argv[0];

    if (is_group(word)) {
        if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
            if (argc < 2) {
                print_group_help(word);
                fflush(stdout);
                return cli_usage_error(word, "'%s' needs a verb", word);
            }
            print_group_help(word);
            return CLI_OK;
        }
        for (size_t i = 0; i < NCOMMANDS; i++)
            if (commands[i].group != NULL && strcmp(commands[i].group, word) == 0 &&
                strcmp(commands[i].verb, argv[1]) == 0)
                return commands[i].fn(ctx, argc - 2, argv + 2);
        return cli_usage_error(word, "unknown verb '%s' for '%s'", argv[1], word);
    }
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (commands[i].group == NULL && strcmp(commands[i].verb, word) == 0)
            return commands[i].fn(ctx, argc - 1, argv + 1);
    return cli_usage_error(NULL, "unknown command '%s'", word);
}

int main(int argc, char **argv)
{
    cli_ctx_t ctx = { 0 };
    const char *server = NULL, *data_dir = NULL;
    char dir_server[1024] = "", dir_token[CLI_TOKEN_MAX + 2] = "", why[4200];
    int i = 1;

    /* Global options come before the command. */
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage_main, stdout);
            return CLI_OK;
        } else if (strcmp(a, "--json") == 0) {
            ctx.json = true;
        } else if (strcmp(a, "--server") == 0) {
            if (i + 1 >= argc)
                return cli_usage_error(NULL, "option '--server' needs a URL");
            server = argv[++i];
        } else if (strncmp(a, "--server=", 9) == 0) {
            server = a + 9;
        } else if (strcmp(a, "--token") == 0) {
            if (i + 1 >= argc)
                return cli_usage_error(NULL, "option '--token' needs the token");
            ctx.token = argv[++i];
        } else if (strncmp(a, "--token=", 8) == 0) {
            ctx.token = a + 8;
        } else if (strcmp(a, "--data") == 0) {
            if (i + 1 >= argc)
                return cli_usage_error(NULL, "option '--data' needs mqotad's data directory");
            data_dir = argv[++i];
        } else if (strncmp(a, "--data=", 7) == 0) {
            data_dir = a + 7;
        } else {
            return cli_usage_error(NULL, "unknown global option '%s'", a);
        }
    }
    if (i >= argc) {
        fputs(usage_main, stderr);
        return CLI_USAGE;
    }
    if (data_dir == NULL || *data_dir == '\0')
        data_dir = getenv("MQOTA_DATA");
    if (data_dir != NULL && *data_dir == '\0')
        data_dir = NULL;
    if (server == NULL || *server == '\0')
        server = getenv("MQOTA_SERVER");
    if ((server == NULL || *server == '\0') && data_dir != NULL &&
        cli_server_from_dir(data_dir, dir_server, sizeof dir_server) == 0)
        server = dir_server;
    if (server == NULL || *server == '\0')
        server = DEFAULT_SERVER;

    if (ctx.token == NULL || *ctx.token == '\0')
        ctx.token = getenv("MQOTA_TOKEN");
    if (ctx.token != NULL && *ctx.token == '\0')
        ctx.token = NULL;
    if (ctx.token == NULL && data_dir != NULL) {
        if (cli_token_from_dir(data_dir, dir_token, sizeof dir_token, why, sizeof why) != 0) {
            cli_error("--data %s: %s; run mqota as the user that runs mqotad, or give --token",
                      data_dir, why);
            return CLI_FAILED;
        }
        ctx.token = dir_token;
    }
    if (ctx.token != NULL && strpbrk(ctx.token, "\r\n") != NULL)
        return cli_usage_error(NULL, "the token holds a line break; give it as mqotad printed "
                                     "it");

    char *url = normalise_server(server);
    if (url == NULL || http_global_init() != 0) {
        cli_error("cannot start: out of memory or libcurl failed to initialise.");
        free(url);
        return CLI_FAILED;
    }
    ctx.server = url;
    ctx.tty = isatty(STDOUT_FILENO) == 1;

    int rc = dispatch(&ctx, argc - i, argv + i);

    http_global_cleanup();
    OPENSSL_cleanse(dir_token, sizeof dir_token);
    free(url);
    return rc == CLI_HELP ? CLI_OK : rc;
}
