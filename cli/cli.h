/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file cli.h
 * @brief Shared pieces of the mqota command-line client: exit codes, the run context,
 *        option parsing, JSON field access and the command entry points.
 */
#ifndef MQOTA_CLI_H
#define MQOTA_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Process exit codes; documented in docs/CLI.md, never renumbered. */
enum {
    CLI_OK = 0,          /**< Success. */
    CLI_FAILED = 1,      /**< The operation failed: mqotad said no, or a deployment had failures. */
    CLI_USAGE = 2,       /**< Bad command line. */
    CLI_TIMEOUT = 3,     /**< --timeout ran out. */
    CLI_UNREACHABLE = 4, /**< mqotad could not be reached. */
    CLI_HELP = -1        /**< Internal: --help was given and usage printed; exit 0. */
};

/** What every command gets: where mqotad is and how to print. */
typedef struct {
    const char *server; /**< Base URL without trailing slash, e.g. "http://127.0.0.1:8080". */
    bool json;          /**< Print the server's JSON instead of tables. */
    bool tty;           /**< stdout is a terminal. */
    const char *token;  /**< API bearer token (--token or MQOTA_TOKEN), or NULL. */
} cli_ctx_t;

/** One option a command accepts. */
typedef struct {
    const char *name;   /**< Long name with dashes, e.g. "--version". */
    const char **value; /**< Receives the argument when the option takes one, else NULL. */
    bool *flag;         /**< Set true when the option is a flag, else NULL. */
} cli_opt_t;

/**
 * @brief Parse a command's arguments: options anywhere (--name VALUE or --name=VALUE, "--" ends
 *        options), everything else positional. "--json" is accepted everywhere and sets ctx->json.
 *
 * On a bad option prints "mqota: unknown option '--foo' for 'release add'; see 'mqota release
 * add --help'" to stderr. On "--help" prints usage to stdout.
 *
 * @param[in,out] ctx Run context (json flag).
 * @param[in] cmd Command name for messages, e.g. "release add".
 * @param[in] usage Full help text printed for --help.
 * @param[in] argc, argv The arguments after the command name.
 * @param[in] opts, nopts The accepted options.
 * @param[out] pos Receives positional arguments (pointers into argv).
 * @param[out] npos Number of positional arguments.
 * @param[in] max_pos Capacity of pos; more positionals are a usage error.
 * @return CLI_OK, CLI_HELP, or CLI_USAGE.
 */
int cli_parse(cli_ctx_t *ctx, const char *cmd, const char *usage, int argc, char **argv,
              const cli_opt_t *opts, size_t nopts, char **pos, int *npos, int max_pos);

/**
 * @brief Print "mqota: <message>; see 'mqota <cmd> --help'" to stderr.
 * @return CLI_USAGE.
 */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/** @brief Print "mqota: <message>" to stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/**
 * @brief Parse a positive integer id given as what (e.g. "release id").
 * @return 0, or CLI_USAGE after printing why.
 */
int cli_parse_id(const char *cmd, const char *what, const char *text, long long *out);

/** @brief Integer member key of obj, or def when missing or not a number. */
long long cli_json_int(const cJSON *obj, const char *key, long long def);

/** @brief String member key of obj, or def when missing or not a string. */
const char *cli_json_str(const cJSON *obj, const char *key, const char *def);

/** @brief Boolean member key of obj, or def when missing or not a boolean. */
bool cli_json_bool(const cJSON *obj, const char *key, bool def);

/**
 * @brief A deployment target's state as shown to a person: its "state", followed by
 *        " (device offline)" while it is pending or active and its "online" is false.
 * @return buf.
 */
const char *cli_target_state(const cJSON *target, char *buf, size_t cap);

/**
 * @brief Make every string in the tree v terminal-safe with fmt_safe(), in place: done once to
 *        each answer from mqotad that is printed for a person (not for --json), so no command
 *        prints a device's or an upload's control bytes. Newlines are kept only in a member
 *        named "reply" (a command's multi-line answer). Strings that cannot be rewritten
 *        (out of memory) are emptied.
 */
void cli_json_make_safe(cJSON *v);

/** @brief Pretty-print a JSON value to stdout followed by a newline. */
void cli_print_json(const cJSON *v);

/**
 * @brief The common start of a list command: parse its arguments (no options besides the
 *        global ones), GET path, and with --json print the answer as it came.
 * @param[out] out The answer to render as a table (caller frees it), or NULL when it was
 *                 printed as JSON already (the command is done).
 * @return CLI_OK, or the code of the usage or HTTP error (already reported).
 */
int cli_list_fetch(cli_ctx_t *ctx, const char *cmd, const char *usage, int argc, char **argv,
                   const char *path, cJSON **out);

/** @brief Whether block characters may be printed (the locale says UTF-8). */
bool cli_utf8(void);

/**
 * @brief Read the whole image file at path into a malloc'd buffer (refusing directories,
 *        empty files and files over 64 MiB). On failure prints one sentence naming the file.
 * @return CLI_OK or CLI_FAILED.
 */
int cli_read_image(const char *path, unsigned char **data, size_t *len);

/* Command entry points: argc/argv start after the command word(s). Each returns an exit code. */
int cmd_release_add(cli_ctx_t *ctx, int argc, char **argv);
int cmd_release_list(cli_ctx_t *ctx, int argc, char **argv);
int cmd_release_sign(cli_ctx_t *ctx, int argc, char **argv);
int cmd_key_generate(cli_ctx_t *ctx, int argc, char **argv);
int cmd_device_list(cli_ctx_t *ctx, int argc, char **argv);
int cmd_device_show(cli_ctx_t *ctx, int argc, char **argv);
int cmd_device_telemetry(cli_ctx_t *ctx, int argc, char **argv);
int cmd_device_command(cli_ctx_t *ctx, int argc, char **argv);
int cmd_device_commands(cli_ctx_t *ctx, int argc, char **argv);
int cmd_device_provision(cli_ctx_t *ctx, int argc, char **argv);
int cmd_device_add(cli_ctx_t *ctx, int argc, char **argv);
int cmd_device_tag(cli_ctx_t *ctx, int argc, char **argv);
int cmd_device_untag(cli_ctx_t *ctx, int argc, char **argv);
int cmd_group_create(cli_ctx_t *ctx, int argc, char **argv);
int cmd_rollout_create(cli_ctx_t *ctx, int argc, char **argv);
int cmd_rollout_list(cli_ctx_t *ctx, int argc, char **argv);
int cmd_rollout_show(cli_ctx_t *ctx, int argc, char **argv);
int cmd_rollout_pause(cli_ctx_t *ctx, int argc, char **argv);
int cmd_rollout_resume(cli_ctx_t *ctx, int argc, char **argv);
int cmd_rollout_abort(cli_ctx_t *ctx, int argc, char **argv);
int cmd_device_reset_failures(cli_ctx_t *ctx, int argc, char **argv);
int cmd_rollout_watch(cli_ctx_t *ctx, int argc, char **argv);
int cmd_rollout_approve(cli_ctx_t *ctx, int argc, char **argv);
int cmd_rollout_retry(cli_ctx_t *ctx, int argc, char **argv);
int cmd_group_list(cli_ctx_t *ctx, int argc, char **argv);
int cmd_group_show(cli_ctx_t *ctx, int argc, char **argv);
int cmd_group_delete(cli_ctx_t *ctx, int argc, char **argv);
int cmd_group_add(cli_ctx_t *ctx, int argc, char **argv);
int cmd_group_remove(cli_ctx_t *ctx, int argc, char **argv);
/** @brief Print a device object's "groups" and "tags" as two "  label   a, b" lines. */
void cli_print_groups_tags(const cJSON *device);
int cmd_deploy(cli_ctx_t *ctx, int argc, char **argv);
int cmd_deployment_list(cli_ctx_t *ctx, int argc, char **argv);
int cmd_deployment_show(cli_ctx_t *ctx, int argc, char **argv);
int cmd_deployment_watch(cli_ctx_t *ctx, int argc, char **argv);
int cmd_deployment_activate(cli_ctx_t *ctx, int argc, char **argv);
int cmd_status(cli_ctx_t *ctx, int argc, char **argv);

/**
 * @brief Follow deployment id until it finishes or timeout_s (0: none) runs out.
 * @return CLI_OK, CLI_FAILED, CLI_TIMEOUT or CLI_UNREACHABLE.
 */
int cli_watch(cli_ctx_t *ctx, long long id, double timeout_s);

#ifdef __cplusplus
}
#endif

#endif /* MQOTA_CLI_H */
