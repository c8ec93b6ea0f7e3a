/* SPDX-License-Identifier: Apache-2.0 */
/*
 * options.c - mqotad's options: one table (options[] below) gives each option its name, which
 * is both the command-line flag (--NAME) and the configuration file's key (NAME = VALUE,
 * config.c), its default, whether SIGHUP reloads it, its help and the function that checks and
 * stores its value. The usage text, --print-config and docs/OPERATIONS.md's reference come
 * from it, so the command line and the file cannot drift apart.
 *
 * Order: defaults, then the file of --config, then the command line (the command line wins).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "command.h"
#include "mqota_legacy_tcp.h"
#include "mqotad.h"
#include "telemetry.h"

#define STR_(x) #x
#define STR(x) STR_(x)

typedef enum {
    OPT_VALUE,  /**< --name VALUE / name = VALUE */
    OPT_FLAG,   /**< --name / name = true|false */
    OPT_REPEAT, /**< --name VALUE, repeatable / name = VALUE on several lines */
} opt_kind_t;

/* Checks val and stores it in d; on error writes what is wrong (after "NAME ") into err. */
typedef int (*opt_set_t)(mqotad_t *d, const char *val, char *err, size_t cap);

typedef struct {
    const char *name;   /* flag without "--", and the file's key */
    const char *arg;    /* the value's placeholder in the usage text; NULL for a flag */
    opt_kind_t kind;
    const char *def;    /* default, applied before the file (NULL: none) */
    bool reloadable;    /* SIGHUP applies a changed value; else it needs a restart */
    opt_set_t set;
    const char *help;   /* lines of help, '\n' between them */
} option_t;

/* What options__parse() remembers for options__reload(): the text each option was last given
 * (defaults included; a repeatable option's values joined by '\n') and the strings read from
 * the file, which d keeps pointers to. */
struct options_state {
    char *text[64];
    bool from_cli[64];
    char **owned;
    size_t n_owned, cap_owned;
};

/* Parse a decimal in [lo, hi]; -1 when it is not one. */
static long parse_num(const char *s, long lo, long hi)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end != '\0' || v < lo || v > hi) return -1;
    return v;
}

/* A flag's value in the file: true/false, yes/no, on/off, 1/0. -1 for anything else. */
static int parse_bool(const char *s)
{
    static const char *const yes[] = {"true", "yes", "on", "1"}, *const no[] = {"false", "no",
                                                                             "off", "0"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) return 1;
        if (strcasecmp(s, no[i]) == 0) return 0;
    }
    return -1;
}

/* An --api-host value: 1..253 characters of a host name, an IPv4 or [IPv6] address and an
 * optional :PORT; no spaces or controls, so it compares cleanly with Host headers. */
static bool valid_api_host(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 253) return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '.' || *s == '-' || *s == '[' || *s == ']' || *s == ':'))
            return false;
    return true;
}

/* ---- one setter per option ---- */

static int set_data(mqotad_t *d, const char *v, char *err, size_t cap)
{
    if (!*v || strlen(v) >= sizeof(d->data_dir) - 64) {
        snprintf(err, cap, "needs a directory path");
        return -1;
    }
    snprintf(d->data_dir, sizeof(d->data_dir), "%s", v);
    return 0;
}

static int set_broker(mqotad_t *d, const char *v, char *err, size_t cap)
{
    char why[300];
    if (mqh_parse_broker_url(v, &d->url, why, sizeof(why)) != 0) {
        snprintf(err, cap, "'%.100s': %s", v, why);
        return -1;
    }
    snprintf(d->broker_url, sizeof(d->broker_url), "%s", v);
    d->embedded_broker = false;
    return 0;
}

static int readable(const char *v, char *err, size_t cap)
{
    if (*v && access(v, R_OK) == 0) return 0;
    snprintf(err, cap, "'%.200s': cannot read the file: %s", v, *v ? strerror(errno) : "empty path");
    return -1;
}

static int set_ca(mqotad_t *d, const char *v, char *err, size_t cap)
{
    if (readable(v, err, cap)) return -1;
    d->ca_file = v;
    return 0;
}

static int set_cert(mqotad_t *d, const char *v, char *err, size_t cap)
{
    if (readable(v, err, cap)) return -1;
    d->cert_file = v;
    return 0;
}

static int set_key(mqotad_t *d, const char *v, char *err, size_t cap)
{
    if (readable(v, err, cap)) return -1;
    d->key_file = v;
    return 0;
}

/* A flag's setter: value "true"/"false" (the command line passes "true"). */
#define FLAG_SETTER(fn, field)                                                      \
    static int fn(mqotad_t *d, const char *v, char *err, size_t cap)               \
    {                                                                               \
        int b = parse_bool(v);                                                      \
        if (b < 0) {                                                                \
            snprintf(err, cap, "'%.100s' must be true or false", v);                \
            return -1;                                                              \
        }                                                                           \
        d->field = b != 0;                                                          \
        return 0;                                                                   \
    }
FLAG_SETTER(set_broker_tls, broker_tls)
FLAG_SETTER(set_open_broker, open_broker)
FLAG_SETTER(set_require_signed, require_signed)
FLAG_SETTER(set_open_api, open_api)
FLAG_SETTER(set_metrics_loopback, metrics_loopback)

static int set_require_token(mqotad_t *d, const char *v, char *err, size_t cap)
{
    (void)d; /* the default now; kept for old scripts */
    if (parse_bool(v) >= 0) return 0;
    snprintf(err, cap, "'%.100s' must be true or false", v);
    return -1;
}

/* ADDR:PORT; the address an IPv4 literal or "localhost". */
static int set_http(mqotad_t *d, const char *v, char *err, size_t cap)
{
    const char *colon = strrchr(v, ':');
    long port = colon ? parse_num(colon + 1, 0, 65535) : -1;
    char addr[sizeof(d->http_addr)];
    struct in_addr a;
    if (!colon || colon == v || (size_t)(colon - v) >= sizeof(addr) || port < 0) goto bad;
    memcpy(addr, v, (size_t)(colon - v));
    addr[colon - v] = '\0';
    if (strcmp(addr, "localhost") == 0) strcpy(addr, "127.0.0.1");
    if (inet_pton(AF_INET, addr, &a) != 1) goto bad;
    strcpy(d->http_addr, addr);
    d->http_port = (int)port;
    return 0;
bad:
    snprintf(err, cap, "'%.100s' is not ADDR:PORT with an IPv4 address (e.g. 127.0.0.1:8080, "
             "port 0-65535)", v);
    return -1;
}

/* --pull-https: "off", or ADDR:PORT as --http takes it (legacy protocol 3's listener). */
static int set_pull_https(mqotad_t *d, const char *v, char *err, size_t cap)
{
    if (strcmp(v, "off") == 0) {
        d->pull_on = false;
        return 0;
    }
    char addr[sizeof(d->http_addr)];
    int port = d->http_port;
    memcpy(addr, d->http_addr, sizeof(addr));
    int rc = set_http(d, v, err, cap); /* parse through --http's setter, then put it back */
    if (rc == 0) {
        memcpy(d->pull_addr, d->http_addr, sizeof(d->pull_addr));
        d->pull_port = d->http_port;
        d->pull_on = true;
    }
    memcpy(d->http_addr, addr, sizeof(addr));
    d->http_port = port;
    return rc;
}

static int set_pull_cert(mqotad_t *d, const char *v, char *err, size_t cap)
{
    if (readable(v, err, cap)) return -1;
    d->pull_cert_file = v;
    return 0;
}

static int set_pull_key(mqotad_t *d, const char *v, char *err, size_t cap)
{
    if (readable(v, err, cap)) return -1;
    d->pull_key_file = v;
    return 0;
}

/* --legacy-tcp-net: "none" or a CIDR; legacy protocol 4 connects only inside it. */
static int set_legacy_tcp_net(mqotad_t *d, const char *v, char *err, size_t cap)
{
    if (strcmp(v, "none") == 0) {
        d->ltcp_net_on = false;
        return 0;
    }
    if (ltcp_net_parse(v, &d->ltcp_net, &d->ltcp_prefix) != 0) {
        snprintf(err, cap, "'%.100s' must be none or an IPv4 network A.B.C.D/N (N 0-32, the "
                 "host bits zero), e.g. 192.168.10.0/24", v);
        return -1;
    }
    d->ltcp_net_on = true;
    return 0;
}

static int set_mqtt_version(mqotad_t *d, const char *v, char *err, size_t cap)
{
    if (strcmp(v, "5") == 0) d->mqtt_version = 5;
    else if (strcmp(v, "311") == 0 || strcmp(v, "3.1.1") == 0) d->mqtt_version = 311;
    else {
        snprintf(err, cap, "'%.100s' must be 5 or 311", v);
        return -1;
    }
    return 0;
}

static int set_chunk_size(mqotad_t *d, const char *v, char *err, size_t cap)
{
    long n = parse_num(v, 256, 65536);
    if (n < 0 || (n & (n - 1)) != 0) {
        snprintf(err, cap, "'%.100s' must be a power of two from 256 to 65536", v);
        return -1;
    }
    d->chunk_size = (uint32_t)n;
    return 0;
}

static int set_window(mqotad_t *d, const char *v, char *err, size_t cap)
{
    long n = parse_num(v, 1, 64);
    if (n < 0) {
        snprintf(err, cap, "'%.100s' must be a whole number from 1 to 64 (the protocol's "
                 "largest window)", v);
        return -1;
    }
    d->window = (uint32_t)n;
    return 0;
}

static int set_multicast(mqotad_t *d, const char *v, char *err, size_t cap)
{
    if (strcmp(v, "auto") == 0) d->multicast = true;
    else if (strcmp(v, "off") == 0) d->multicast = false;
    else {
        snprintf(err, cap, "'%.100s' must be auto or off", v);
        return -1;
    }
    return 0;
}

static int set_stream_window(mqotad_t *d, const char *v, char *err, size_t cap)
{
    long n = parse_num(v, 1, 64);
    if (n < 0) {
        snprintf(err, cap, "'%.100s' must be a whole number from 1 to 64", v);
        return -1;
    }
    d->stream_window = (uint32_t)n;
    return 0;
}

static int set_trusted_key(mqotad_t *d, const char *v, char *err, size_t cap)
{
    if (!*v || d->n_trusted_keys == MQOTAD_MAX_TRUSTED_KEYS) {
        snprintf(err, cap, "needs a public key file (at most %d keys)", MQOTAD_MAX_TRUSTED_KEYS);
        return -1;
    }
    d->trusted_key_paths[d->n_trusted_keys++] = v;
    return 0;
}

static int set_api_host(mqotad_t *d, const char *v, char *err, size_t cap)
{
    if (!valid_api_host(v) || d->n_api_hosts == MQOTAD_MAX_API_HOSTS) {
        snprintf(err, cap, "'%.100s' must be a host name or address (letters, digits, '.', "
                 "'-', '[', ']' and ':'), optionally with :PORT; at most %d", v,
                 MQOTAD_MAX_API_HOSTS);
        return -1;
    }
    d->api_hosts[d->n_api_hosts++] = v;
    return 0;
}

static int set_command_timeout(mqotad_t *d, const char *v, char *err, size_t cap)
{
    long n = parse_num(v, 1, 3600);
    if (n < 0) {
        snprintf(err, cap, "'%.100s' must be a whole number of seconds from 1 to 3600", v);
        return -1;
    }
    d->command_timeout_s = (uint32_t)n;
    return 0;
}

static int set_telemetry_retention(mqotad_t *d, const char *v, char *err, size_t cap)
{
    int64_t ms;
    if (telemetry__parse_duration(v, &ms) != 0 || ms < 1000) {
        snprintf(err, cap, "'%.100s' must be a whole number followed by s, m, h or d (e.g. 7d), "
                 "from 1s to 10 years", v);
        return -1;
    }
    d->telemetry_retention_s = (uint32_t)(ms / 1000);
    return 0;
}

static int set_telemetry_points(mqotad_t *d, const char *v, char *err, size_t cap)
{
    long n = parse_num(v, 1, 10000000);
    if (n < 0) {
        snprintf(err, cap, "'%.100s' must be a whole number from 1 to 10000000", v);
        return -1;
    }
    d->telemetry_points = (uint32_t)n;
    return 0;
}

static int set_telemetry_rate(mqotad_t *d, const char *v, char *err, size_t cap)
{
    long n = parse_num(v, 1, 1000);
    if (n < 0) {
        snprintf(err, cap, "'%.100s' must be a whole number from 1 to 1000", v);
        return -1;
    }
    d->telemetry_rate = (uint32_t)n;
    return 0;
}

static int set_log_level(mqotad_t *d, const char *v, char *err, size_t cap)
{
    static const char *const levels[] = {"error", "warn", "info", "debug"};
    for (int k = 0; k < 4; k++)
        if (strcmp(v, levels[k]) == 0) {
            d->log_level = k;
            return 0;
        }
    snprintf(err, cap, "'%.100s' must be error, warn, info or debug", v);
    return -1;
}

/* ---- the table ---- */

static const option_t options[] = {
    {"data", "DIR", OPT_VALUE, NULL, false, set_data,
     "directory for the database, release files and state (required)"},
    {"broker", "URL", OPT_VALUE, NULL, false, set_broker,
     "MQTT broker to use, mqtt://host:port or mqtts://host:port;\n"
     "without it mqotad runs its own mosquitto"},
    {"ca", "FILE", OPT_VALUE, NULL, false, set_ca,
     "CA certificate(s) the mqtts:// broker's certificate must chain to\n"
     "(required with mqtts://; the host name is checked)"},
    {"cert", "FILE", OPT_VALUE, NULL, false, set_cert,
     "client certificate for the broker (PEM), with --key FILE"},
    {"key", "FILE", OPT_VALUE, NULL, false, set_key,
     "the client certificate's private key (PEM)"},
    {"broker-tls", NULL, OPT_FLAG, "false", false, set_broker_tls,
     "the embedded broker listens with TLS only; its private CA is\n"
     "DIR/tls/ca.crt (created on the first start)"},
    {"open-broker", NULL, OPT_FLAG, "false", false, set_open_broker,
     "the embedded broker accepts anonymous clients on every topic\n"
     "(no device identities or ACLs: for benchmarks only)"},
    {"http", "ADDR:PORT", OPT_VALUE, "127.0.0.1:8080", false, set_http,
     "HTTP API address (port 0 picks a free one)"},
    {"pull-https", "ADDR:PORT", OPT_VALUE, "off", false, set_pull_https,
     "legacy protocol 3's pull listener (HTTPS, docs/LEGACY.md): off, or\n"
     "the address esp_https_ota devices poll (port 0 picks a free one)"},
    {"pull-cert", "FILE", OPT_VALUE, NULL, false, set_pull_cert,
     "the pull listener's certificate chain (PEM), with --pull-key;\n"
     "without them mqotad's own (DIR/tls/server.crt, CA DIR/tls/ca.crt)"},
    {"pull-key", "FILE", OPT_VALUE, NULL, false, set_pull_key,
     "the pull listener's private key (PEM)"},
    {"legacy-tcp-net", "CIDR", OPT_VALUE, "none", true, set_legacy_tcp_net,
     "legacy protocol 4 connects only to announced addresses inside\n"
     "this IPv4 network (e.g. 192.168.10.0/24); none: refuses them all"},
    {"mqtt-version", "V", OPT_VALUE, "5", false, set_mqtt_version, "5 or 311"},
    {"chunk-size", "BYTES", OPT_VALUE, "4096", true, set_chunk_size,
     "largest chunk offered to devices"},
    {"window", "N", OPT_VALUE, "16", true, set_window, "most chunks in flight per device"},
    {"multicast", "M", OPT_VALUE, "auto", true, set_multicast,
     "auto: a deployment of a release to 2 or more devices publishes\n"
     "each chunk once on the release's stream; off: unicast only"},
    {"stream-window", "N", OPT_VALUE, "32", true, set_stream_window,
     "most unconfirmed chunks on a stream (at most 64)"},
    {"trusted-key", "PEM", OPT_REPEAT, NULL, false, set_trusted_key,
     "release public key (NAME.pub.pem from 'mqota key generate');\n"
     "repeatable; uploads with a .mqsig must verify under one of them"},
    {"require-signed", NULL, OPT_FLAG, "false", false, set_require_signed,
     "refuse uploads without a .mqsig (needs --trusted-key)"},
    {"api-host", "NAME", OPT_REPEAT, NULL, false, set_api_host,
     "a Host name the HTTP API answers to besides the loopback names\n"
     "and the address it listens on (a DNS name or proxy in front of\n"
     "it); repeatable; NAME:PORT allows that port only"},
    {"open-api", NULL, OPT_FLAG, "false", false, set_open_api,
     "DANGEROUS: the HTTP API answers without a bearer token (anyone\n"
     "who can reach it drives the fleet); the default needs one and\n"
     "writes DIR/api.token for the CLI on this machine"},
    {"require-token", NULL, OPT_FLAG, "false", false, set_require_token,
     "accepted for old scripts: a token is always required now"},
    {"metrics-loopback", NULL, OPT_FLAG, "false", true, set_metrics_loopback,
     "GET /metrics answers clients on a loopback address without a\n"
     "token (other clients and every other route still need one)"},
    {"command-timeout", "S", OPT_VALUE, STR(COMMAND_TIMEOUT_DEFAULT_S), true,
     set_command_timeout,
     "a command sent to a device with no reply after S seconds becomes\n"
     "timeout (it is never sent again)"},
    {"telemetry-retention", "AGE", OPT_VALUE, "7d", true, set_telemetry_retention,
     "devices' telemetry samples older than AGE (90s, 15m, 1h, 7d)\n"
     "are deleted"},
    {"telemetry-points", "N", OPT_VALUE, STR(TELEMETRY_POINTS_DEFAULT), true,
     set_telemetry_points, "samples kept per device and name, the newest"},
    {"telemetry-rate", "N", OPT_VALUE, STR(TELEMETRY_RATE_DEFAULT), true, set_telemetry_rate,
     "samples per device per second kept, the rest dropped"},
    {"log-level", "L", OPT_VALUE, "info", true, set_log_level, "error, warn, info or debug"},
};
#define N_OPTIONS (int)(sizeof(options) / sizeof(options[0]))
_Static_assert(N_OPTIONS <= 64, "struct options_state holds 64 options");

static const char usage_tail[] =
    "\n"
    "       mqotad [--config FILE] --data DIR token create NAME | token list |\n"
    "              token revoke NAME\n"
    "       mqotad --data DIR device provision [--out-dir DIR] ID... | device revoke ID\n"
    "       mqotad --data DIR broker-files OUTDIR\n"
    "       mqotad --print-config\n"
    "\n"
    "  token create NAME   make an HTTP API token, print it once (only its SHA-256 is kept)\n"
    "  token list          names and creation times of the tokens\n"
    "  token revoke NAME   delete a token; requests with it get 401 at once\n"
    "  device provision ID a broker user for the device with a random password and a new\n"
    "                      command key: prints its credentials once (with --out-dir: writes\n"
    "                      DIR/<id>.cred, 0600); again for the same id: new password and key\n"
    "  device revoke ID    delete the device's broker user and command key\n"
    "  broker-files OUTDIR password file, ACL file and mosquitto.conf lines for an external\n"
    "                      mosquitto\n"
    "  --print-config      a configuration file with every key, its default and its help\n"
    "\n"
    "mqotad writes DIR/http.url, DIR/broker.url and DIR/mqotad.pid when it is ready, and\n"
    "DIR/api.token (mode 0600, an API token the CLI finds by itself) when it is absent.\n"
    "SIGHUP rereads the configuration file (docs/OPERATIONS.md).\n";

/* The usage text: the options from the table, then the subcommands. */
static void print_usage(FILE *f)
{
    fputs("usage: mqotad [--config FILE] --data DIR [OPTION]...\n\n"
          "  --config FILE       read options from FILE (NAME = VALUE lines, NAME an option\n"
          "                      below without its \"--\"); options given here win\n", f);
    for (int i = 0; i < N_OPTIONS; i++) {
        const option_t *o = &options[i];
        char head[64];
        snprintf(head, sizeof(head), "  --%s%s%s", o->name, o->arg ? " " : "",
                 o->arg ? o->arg : "");
        const char *h = o->help;
        bool first = true;
        while (*h) {
            size_t n = strcspn(h, "\n");
            if (first && strlen(head) < 22)
                fprintf(f, "%-22s%.*s", head, (int)n, h);
            else if (first)
                fprintf(f, "%s\n%22s%.*s", head, "", (int)n, h);
            else
                fprintf(f, "%22s%.*s", "", (int)n, h);
            h += n;
            if (*h == '\n') h++;
            if (!*h && o->def && o->kind != OPT_FLAG) { /* the default ends the help */
                if (22 + n + 11 + strlen(o->def) > 92) fprintf(f, "\n%22s", "");
                else fputc(' ', f);
                fprintf(f, "(default %s)", o->def);
            }
            fputc('\n', f);
            first = false;
        }
    }
    fputs(usage_tail, f);
}

void options__print_config(FILE *f)
{
    fprintf(f, "# mqotad configuration file: mqotad --config FILE (docs/OPERATIONS.md).\n"
               "# Every key is a command-line option without its \"--\"; an option given on\n"
               "# the command line wins over the file. Flags take true or false. Keys marked\n"
               "# [reload] take effect on SIGHUP (systemctl reload mqotad), the others at\n"
               "# the next start. Lines starting with '#' or ';' are comments.\n");
    for (int i = 0; i < N_OPTIONS; i++) {
        const option_t *o = &options[i];
        if (strcmp(o->name, "require-token") == 0) continue; /* a no-op kept for old scripts */
        fprintf(f, "\n");
        const char *h = o->help;
        while (*h) {
            size_t n = strcspn(h, "\n");
            fprintf(f, "# %.*s\n", (int)n, h);
            h += n;
            if (*h == '\n') h++;
        }
        fprintf(f, "# [%s]%s\n", o->reloadable ? "reload" : "restart",
                o->kind == OPT_REPEAT ? " (one line per value)" : "");
        fprintf(f, "#%s = %s\n", o->name, o->def ? o->def : o->arg);
    }
}

static const option_t *find(const char *name)
{
    for (int i = 0; i < N_OPTIONS; i++)
        if (strcmp(options[i].name, name) == 0) return &options[i];
    return NULL;
}

/* Remember the text an option was given: a repeatable one's values add up, unless the
 * command line starts a new list (it replaces the file's). */
static int note_text(struct options_state *st, int k, const char *val, bool cli)
{
    char *old = st->text[k], *t;
    bool append = options[k].kind == OPT_REPEAT && old && st->from_cli[k] == cli;
    size_t n = (append ? strlen(old) + 1 : 0) + strlen(val) + 1;
    if (!(t = malloc(n))) return -1;
    snprintf(t, n, "%s%s%s", append ? old : "", append ? "\n" : "", val);
    free(old);
    st->text[k] = t;
    st->from_cli[k] = cli;
    return 0;
}

int options__set(mqotad_t *d, const char *name, const char *val, bool cli, char *err, size_t cap)
{
    const option_t *o = find(name);
    int k = o ? (int)(o - options) : -1;
    if (!o) {
        snprintf(err, cap, "is not an option; see mqotad --help");
        return -1;
    }
    if (!cli) { /* d keeps pointers to some values: the file's text must outlive the parse */
        struct options_state *st = d->opts;
        if (st->n_owned == st->cap_owned) {
            size_t c = st->cap_owned ? 2 * st->cap_owned : 16;
            char **p = realloc(st->owned, c * sizeof(*p));
            if (!p) goto oom;
            st->owned = p;
            st->cap_owned = c;
        }
        char *copy = strdup(val);
        if (!copy) goto oom;
        st->owned[st->n_owned++] = copy;
        val = copy;
    }
    /* A repeatable option's first value on the command line replaces the file's list. */
    if (o->kind == OPT_REPEAT && cli && !d->opts->from_cli[k]) {
        if (o->set == set_trusted_key) d->n_trusted_keys = 0;
        else d->n_api_hosts = 0;
    }
    if (o->set(d, val, err, cap) != 0) return -1;
    if (note_text(d->opts, k, val, cli) != 0) goto oom;
    return 0;
oom:
    snprintf(err, cap, "cannot be stored: out of memory");
    return -1;
}

/* Whether name is a flag (takes no value on the command line). */
static bool is_flag(const char *name)
{
    const option_t *o = find(name);
    return o && o->kind == OPT_FLAG;
}

/*
 * One walk over argv. Pass 0 finds --help, --print-config and --config; pass 1 applies the
 * other options (after the file). Returns 0, 1 (help or config printed) or 2 (message printed).
 */
static int walk_argv(mqotad_t *d, int argc, char **argv, int pass)
{
    char err[600];
    for (int i = 1; i < argc; i++) {
        const char *flag = argv[i];
        if (strcmp(flag, "--help") == 0 || strcmp(flag, "-h") == 0) {
            if (pass == 0) print_usage(stdout);
            return 1;
        }
        if (strcmp(flag, "--print-config") == 0) {
            if (pass == 0) options__print_config(stdout);
            return 1;
        }
        if (strcmp(flag, "token") == 0 || strcmp(flag, "device") == 0 ||
            strcmp(flag, "broker-files") == 0) { /* the rest belongs to the subcommand */
            d->cmd_name = flag;
            d->cmd_argc = argc - i - 1;
            d->cmd_argv = argv + i + 1;
            break;
        }
        if (flag[0] != '-' || flag[1] != '-') {
            fprintf(stderr, "mqotad: unexpected argument '%s'; see mqotad --help.\n", flag);
            return 2;
        }
        char name[48];
        const char *val = NULL, *eq = strchr(flag, '=');
        snprintf(name, sizeof(name), "%.*s", eq ? (int)(eq - flag - 2) : (int)strlen(flag + 2),
                 flag + 2);
        if (eq) val = eq + 1;
        if (strcmp(name, "config") != 0 && !find(name)) {
            fprintf(stderr, "mqotad: unknown option '--%s'; see mqotad --help.\n", name);
            return 2;
        }
        if (is_flag(name)) {
            if (pass == 1 && options__set(d, name, val ? val : "true", true, err, sizeof(err))) {
                fprintf(stderr, "mqotad: --%s %s.\n", name, err);
                return 2;
            }
            continue;
        }
        if (!val && i + 1 < argc) val = argv[++i];
        if (!val) {
            fprintf(stderr, "mqotad: option --%s needs a value.\n", name);
            return 2;
        }
        if (strcmp(name, "config") == 0) {
            if (pass == 0) d->config_file = val;
            continue;
        }
        if (pass == 1 && options__set(d, name, val, true, err, sizeof(err)) != 0) {
            fprintf(stderr, "mqotad: --%s %s.\n", name, err);
            return 2;
        }
    }
    return 0;
}

/* The checks between options, once the file and the command line are in. */
static int check_combinations(mqotad_t *d)
{
    if (d->require_signed && d->n_trusted_keys == 0) {
        fprintf(stderr, "mqotad: --require-signed needs at least one --trusted-key PUB.pem to "
                "verify uploads with.\n");
        return 2;
    }
    if (!d->embedded_broker && d->url.tls && !d->ca_file) {
        fprintf(stderr, "mqotad: --broker %s needs --ca CA.pem: the CA that signed the broker's "
                "certificate (the system's CA store is not used).\n", d->broker_url);
        return 2;
    }
    if ((d->ca_file || d->cert_file || d->key_file) && (d->embedded_broker || !d->url.tls)) {
        fprintf(stderr, "mqotad: --ca, --cert and --key are for an mqtts:// --broker; the "
                "embedded broker uses --broker-tls.\n");
        return 2;
    }
    if (!d->cert_file != !d->key_file) {
        fprintf(stderr, "mqotad: --cert and --key go together (the client certificate and its "
                "private key).\n");
        return 2;
    }
    if ((d->broker_tls || d->open_broker) && !d->embedded_broker) {
        fprintf(stderr, "mqotad: --broker-tls and --open-broker configure the embedded broker; "
                "they do not go with --broker.\n");
        return 2;
    }
    if (!d->data_dir[0]) {
        fprintf(stderr, "mqotad: --data DIR is required (where the database and releases "
                "live).\n");
        return 2;
    }
    return 0;
}

/*
 * Fill d's options: the table's defaults, the --config file, the command line. Prints one
 * sentence naming the bad flag or file:line and key on error (returns 2), the usage text for
 * --help or the sample file for --print-config (returns 1), nothing on success (returns 0).
 */
int options__parse(mqotad_t *d, int argc, char **argv)
{
    char err[600];
    if (!d->opts && !(d->opts = calloc(1, sizeof(*d->opts)))) return 2;
    d->embedded_broker = true;
    d->data_dir[0] = '\0';
    d->argc = argc;
    d->argv = argv;
    for (int i = 0; i < N_OPTIONS; i++)
        if (options[i].def && options__set(d, options[i].name, options[i].def, true, err,
                                           sizeof(err)) != 0) {
            fprintf(stderr, "mqotad: default of --%s %s.\n", options[i].name, err);
            return 2;
        }
    memset(d->opts->from_cli, 0, sizeof(d->opts->from_cli)); /* defaults are no one's */
    int rc = walk_argv(d, argc, argv, 0);
    if (rc != 0) return rc;
    d->cmd_name = NULL;
    if (d->config_file && config__load(d, d->config_file) != 0) return 2;
    if ((rc = walk_argv(d, argc, argv, 1)) != 0) return rc;
    return check_combinations(d);
}

void options__free(mqotad_t *d)
{
    struct options_state *st = d->opts;
    if (!st) return;
    for (int i = 0; i < N_OPTIONS; i++) free(st->text[i]);
    for (size_t i = 0; i < st->n_owned; i++) free(st->owned[i]);
    free(st->owned);
    free(st);
    d->opts = NULL;
}

/*
 * SIGHUP: read the configuration again (defaults, the file, the command line) into a scratch
 * context. If it has an error, keep everything as it is. Otherwise apply each reloadable key
 * whose value changed and name the changed keys that need a restart.
 * @return 0 applied (or nothing changed), -1 the new configuration was refused.
 */
int options__reload(mqotad_t *d)
{
    mqotad_t *tmp = calloc(1, sizeof(*tmp));
    char err[600], changed[1024] = "";
    size_t used = 0;
    int rc = -1, applied = 0;
    if (!tmp) return -1;
    if (options__parse(tmp, d->argc, d->argv) != 0) {
        mqh_log(MQH_ERROR, "reload: the configuration has an error (above); nothing changed");
        goto out;
    }
    for (int k = 0; k < N_OPTIONS; k++) {
        const char *now = d->opts->text[k] ? d->opts->text[k] : "";
        const char *next = tmp->opts->text[k] ? tmp->opts->text[k] : "";
        if (strcmp(now, next) == 0) continue;
        if (!options[k].reloadable) {
            mqh_log(MQH_WARN, "reload: %s changed; it takes effect at the next start",
                    options[k].name);
            continue;
        }
        if (options__set(d, options[k].name, next, false, err, sizeof(err)) != 0) {
            mqh_log(MQH_ERROR, "reload: %s %s", options[k].name, err);
            continue;
        }
        applied++;
        if (used < sizeof(changed))
            used += (size_t)snprintf(changed + used, sizeof(changed) - used, "%s%s = %.100s",
                                     used ? ", " : "", options[k].name, next);
    }
    /* The new level first, so that the line saying what changed is logged at it. */
    mqh_log_init("mqotad", d->log_level);
    mqh_log(MQH_INFO, "reload: configuration read again%s%s, %d key%s changed%s%s",
            d->config_file ? " from " : " (no --config file)", d->config_file ? d->config_file : "",
            applied, applied == 1 ? "" : "s", applied ? ": " : "", changed);
    rc = 0;
out:
    options__free(tmp);
    free(tmp);
    return rc;
}
