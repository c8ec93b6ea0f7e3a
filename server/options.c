/* SPDX-License-Identifier: Apache-2.0 */
/*
 * options.c - mqotad's command line.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "command.h"
#include "mqotad.h"
#include "telemetry.h"

static const char usage[] =
    "usage: mqotad --data DIR [--broker URL [--ca CA.pem [--cert CRT --key KEY]]]\n"
    "              [--broker-tls] [--open-broker] [--http ADDR:PORT]\n"
    "              [--mqtt-version 5|311] [--chunk-size BYTES] [--window N]\n"
    "              [--multicast auto|off] [--stream-window N]\n"
    "              [--trusted-key PUB.pem]... [--require-signed]\n"
    "              [--api-host NAME[:PORT]]... [--open-api]\n"
    "              [--command-timeout SECONDS]\n"
    "              [--telemetry-retention AGE] [--telemetry-points N] [--telemetry-rate N]\n"
    "              [--log-level error|warn|info|debug] [--help]\n"
    "\n"
    "  --data DIR          directory for the database, release files and state (required)\n"
    "  --broker URL        MQTT broker to use, mqtt://host:port or mqtts://host:port;\n"
    "                      without it mqotad runs its own mosquitto\n"
    "  --ca FILE           CA certificate(s) the mqtts:// broker's certificate must chain to\n"
    "                      (required with mqtts://; the host name is checked)\n"
    "  --cert FILE         client certificate for the broker (PEM), with --key FILE\n"
    "  --broker-tls        the embedded broker listens with TLS only; its private CA is\n"
    "                      DIR/tls/ca.crt (created on the first start)\n"
    "  --open-broker       the embedded broker accepts anonymous clients on every topic\n"
    "                      (no device identities or ACLs: for benchmarks only)\n"
    "  --http ADDR:PORT    HTTP API address (default 127.0.0.1:8080; port 0 picks a free one)\n"
    "  --mqtt-version V    5 (default) or 311\n"
    "  --chunk-size BYTES  largest chunk offered to devices (default 4096)\n"
    "  --window N          most chunks in flight per device (default 16)\n"
    "  --multicast M       auto (default): a deployment of a release to 2 or more devices\n"
    "                      publishes each chunk once on the release's stream; off: unicast only\n"
    "  --stream-window N   most unconfirmed chunks on a stream (default 32, at most 64)\n"
    "  --trusted-key PEM   release public key (NAME.pub.pem from 'mqota key generate');\n"
    "                      repeatable; uploads with a .mqsig must verify under one of them\n"
    "  --require-signed    refuse uploads without a .mqsig (needs --trusted-key)\n"
    "  --api-host NAME     a Host name the HTTP API answers to besides the loopback names\n"
    "                      and the address it listens on (a DNS name or proxy in front of\n"
    "                      it); repeatable; NAME:PORT allows that port only\n"
    "  --open-api          DANGEROUS: the HTTP API answers without a bearer token (anyone\n"
    "                      who can reach it drives the fleet); the default needs one and\n"
    "                      writes DIR/api.token for the CLI on this machine\n"
    "  --require-token     accepted for old scripts: a token is always required now\n"
    "  --command-timeout S a command sent to a device with no reply after S seconds becomes\n"
    "                      timeout (default 30; it is never sent again)\n"
    "  --telemetry-retention AGE  devices' telemetry samples older than AGE (90s, 15m, 1h,\n"
    "                      7d) are deleted (default 7d)\n"
    "  --telemetry-points N  samples kept per device and name, the newest (default 10000)\n"
    "  --telemetry-rate N  samples per device per second kept, the rest dropped (default 20)\n"
    "  --log-level L       error, warn, info (default) or debug\n"
    "\n"
    "       mqotad --data DIR token create NAME | token list | token revoke NAME\n"
    "       mqotad --data DIR device provision [--out-dir DIR] ID... | device revoke ID\n"
    "       mqotad --data DIR broker-files OUTDIR\n"
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
    "\n"
    "mqotad writes DIR/http.url, DIR/broker.url and DIR/mqotad.pid when it is ready, and\n"
    "DIR/api.token (mode 0600, an API token the CLI finds by itself) when it is absent.\n";

/* Parse an unsigned decimal in [lo, hi]; -1 when it is not one. */
static long parse_num(const char *s, long lo, long hi)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end != '\0' || v < lo || v > hi) return -1;
    return v;
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

/* Split ADDR:PORT; the address may be an IPv4 literal or "localhost". */
static int parse_http(mqotad_t *d, const char *s)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s || (size_t)(colon - s) >= sizeof(d->http_addr)) return -1;
    long port = parse_num(colon + 1, 0, 65535);
    if (port < 0) return -1;
    memcpy(d->http_addr, s, (size_t)(colon - s));
    d->http_addr[colon - s] = '\0';
    if (strcmp(d->http_addr, "localhost") == 0) strcpy(d->http_addr, "127.0.0.1");
    struct in_addr a;
    if (inet_pton(AF_INET, d->http_addr, &a) != 1) return -1;
    d->http_port = (int)port;
    return 0;
}

/*
 * Fill d's options from argv. Prints one sentence naming the bad flag on error (returns 2),
 * the usage text for --help (returns 1), nothing on success (returns 0).
 */
int options__parse(mqotad_t *d, int argc, char **argv)
{
    strcpy(d->http_addr, "127.0.0.1");
    d->http_port = 8080;
    d->mqtt_version = 5;
    d->chunk_size = 4096;
    d->window = 16;
    d->multicast = true;
    d->stream_window = 32;
    d->log_level = MQH_INFO;
    d->command_timeout_s = COMMAND_TIMEOUT_DEFAULT_S;
    d->telemetry_retention_s = TELEMETRY_RETENTION_DEFAULT_S;
    d->telemetry_points = TELEMETRY_POINTS_DEFAULT;
    d->telemetry_rate = TELEMETRY_RATE_DEFAULT;
    d->embedded_broker = true;
    d->data_dir[0] = '\0';

    for (int i = 1; i < argc; i++) {
        const char *flag = argv[i];
        if (strcmp(flag, "--help") == 0 || strcmp(flag, "-h") == 0) {
            fputs(usage, stdout);
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
        if (strcmp(flag, "--require-signed") == 0) {
            d->require_signed = true;
            continue;
        }
        if (strcmp(flag, "--require-token") == 0) /* the default now; kept for old scripts */
            continue;
        if (strcmp(flag, "--open-api") == 0) {
            d->open_api = true;
            continue;
        }
        if (strcmp(flag, "--broker-tls") == 0) {
            d->broker_tls = true;
            continue;
        }
        if (strcmp(flag, "--open-broker") == 0) {
            d->open_broker = true;
            continue;
        }
        const char *val = NULL;
        char name[32];
        const char *eq = strchr(flag, '=');
        if (eq) {
            snprintf(name, sizeof(name), "%.*s", (int)(eq - flag), flag);
            val = eq + 1;
        } else {
            snprintf(name, sizeof(name), "%s", flag);
            if (i + 1 < argc) val = argv[++i];
        }
        if (strcmp(name, "--data") && strcmp(name, "--broker") && strcmp(name, "--http") &&
            strcmp(name, "--mqtt-version") && strcmp(name, "--chunk-size") &&
            strcmp(name, "--window") && strcmp(name, "--log-level") &&
            strcmp(name, "--multicast") && strcmp(name, "--stream-window") &&
            strcmp(name, "--trusted-key") && strcmp(name, "--ca") && strcmp(name, "--cert") &&
            strcmp(name, "--key") && strcmp(name, "--command-timeout") &&
            strcmp(name, "--api-host") && strcmp(name, "--telemetry-retention") &&
            strcmp(name, "--telemetry-points") && strcmp(name, "--telemetry-rate")) {
            fprintf(stderr, "mqotad: unknown option '%s'; see mqotad --help.\n", name);
            return 2;
        }
        if (!val) {
            fprintf(stderr, "mqotad: option %s needs a value.\n", name);
            return 2;
        }
        if (strcmp(name, "--data") == 0) {
            if (!*val || strlen(val) >= sizeof(d->data_dir) - 64) {
                fprintf(stderr, "mqotad: --data needs a directory path.\n");
                return 2;
            }
            snprintf(d->data_dir, sizeof(d->data_dir), "%s", val);
        } else if (strcmp(name, "--broker") == 0) {
            char err[300];
            if (mqh_parse_broker_url(val, &d->url, err, sizeof(err)) != 0) {
                fprintf(stderr, "mqotad: --broker: %s.\n", err);
                return 2;
            }
            snprintf(d->broker_url, sizeof(d->broker_url), "%s", val);
            d->embedded_broker = false;
        } else if (strcmp(name, "--ca") == 0 || strcmp(name, "--cert") == 0 ||
                   strcmp(name, "--key") == 0) {
            if (!*val || access(val, R_OK) != 0) {
                fprintf(stderr, "mqotad: %s '%s': cannot read the file: %s.\n", name, val,
                        *val ? strerror(errno) : "empty path");
                return 2;
            }
            if (strcmp(name, "--ca") == 0) d->ca_file = val;
            else if (strcmp(name, "--cert") == 0) d->cert_file = val;
            else d->key_file = val;
        } else if (strcmp(name, "--http") == 0) {
            if (parse_http(d, val) != 0) {
                fprintf(stderr, "mqotad: --http '%s' is not ADDR:PORT with an IPv4 address "
                        "(e.g. 127.0.0.1:8080, port 0-65535).\n", val);
                return 2;
            }
        } else if (strcmp(name, "--mqtt-version") == 0) {
            if (strcmp(val, "5") == 0) {
                d->mqtt_version = 5;
            } else if (strcmp(val, "311") == 0 || strcmp(val, "3.1.1") == 0) {
                d->mqtt_version = 311;
            } else {
                fprintf(stderr, "mqotad: --mqtt-version '%s' must be 5 or 311.\n", val);
                return 2;
            }
        } else if (strcmp(name, "--chunk-size") == 0) {
            long v = parse_num(val, 256, 65536);
            if (v < 0 || (v & (v - 1)) != 0) {
                fprintf(stderr, "mqotad: --chunk-size '%s' must be a power of two from 256 "
                        "to 65536.\n", val);
                return 2;
            }
            d->chunk_size = (uint32_t)v;
        } else if (strcmp(name, "--window") == 0) {
            long v = parse_num(val, 1, 64);
            if (v < 0) {
                fprintf(stderr, "mqotad: --window '%s' must be a whole number from 1 to 64 (the protocol's largest window).\n",
                        val);
                return 2;
            }
            d->window = (uint32_t)v;
        } else if (strcmp(name, "--multicast") == 0) {
            if (strcmp(val, "auto") == 0) {
                d->multicast = true;
            } else if (strcmp(val, "off") == 0) {
                d->multicast = false;
            } else {
                fprintf(stderr, "mqotad: --multicast '%s' must be auto or off.\n", val);
                return 2;
            }
        } else if (strcmp(name, "--stream-window") == 0) {
            long v = parse_num(val, 1, 64);
            if (v < 0) {
                fprintf(stderr, "mqotad: --stream-window '%s' must be a whole number from 1 "
                        "to 64.\n", val);
                return 2;
            }
            d->stream_window = (uint32_t)v;
        } else if (strcmp(name, "--command-timeout") == 0) {
            long v = parse_num(val, 1, 3600);
            if (v < 0) {
                fprintf(stderr, "mqotad: --command-timeout '%s' must be a whole number of "
                        "seconds from 1 to 3600.\n", val);
                return 2;
            }
            d->command_timeout_s = (uint32_t)v;
        } else if (strcmp(name, "--telemetry-retention") == 0) {
            int64_t ms;
            if (telemetry__parse_duration(val, &ms) != 0 || ms < 1000) {
                fprintf(stderr, "mqotad: --telemetry-retention '%.100s' must be a whole number "
                        "followed by s, m, h or d (e.g. 7d), from 1s to 10 years.\n", val);
                return 2;
            }
            d->telemetry_retention_s = (uint32_t)(ms / 1000);
        } else if (strcmp(name, "--telemetry-points") == 0 ||
                   strcmp(name, "--telemetry-rate") == 0) {
            bool points = strcmp(name, "--telemetry-points") == 0;
            long v = parse_num(val, 1, points ? 10000000 : 1000);
            if (v < 0) {
                fprintf(stderr, "mqotad: %s '%.100s' must be a whole number from 1 to %s.\n",
                        name, val, points ? "10000000" : "1000");
                return 2;
            }
            if (points) d->telemetry_points = (uint32_t)v;
            else d->telemetry_rate = (uint32_t)v;
        } else if (strcmp(name, "--trusted-key") == 0) {
            if (!*val || d->n_trusted_keys == MQOTAD_MAX_TRUSTED_KEYS) {
                fprintf(stderr, "mqotad: --trusted-key needs a public key file (at most %d "
                        "keys).\n", MQOTAD_MAX_TRUSTED_KEYS);
                return 2;
            }
            d->trusted_key_paths[d->n_trusted_keys++] = val;
        } else if (strcmp(name, "--api-host") == 0) {
            if (!valid_api_host(val) || d->n_api_hosts == MQOTAD_MAX_API_HOSTS) {
                fprintf(stderr, "mqotad: --api-host '%.100s' must be a host name or address "
                        "(letters, digits, '.', '-', '[', ']' and ':'), optionally with :PORT; "
                        "at most %d.\n", val, MQOTAD_MAX_API_HOSTS);
                return 2;
            }
            d->api_hosts[d->n_api_hosts++] = val;
        } else if (strcmp(name, "--log-level") == 0) {
            static const char *const levels[] = {"error", "warn", "info", "debug"};
            int lv = -1;
            for (int k = 0; k < 4; k++)
                if (strcmp(val, levels[k]) == 0) lv = k;
            if (lv < 0) {
                fprintf(stderr, "mqotad: --log-level '%s' must be error, warn, info or "
                        "debug.\n", val);
                return 2;
            }
            d->log_level = lv;
        }
    }
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
