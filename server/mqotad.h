/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file mqotad.h
 * @brief The daemon's context, shared by every module of mqotad, and the module interfaces.
 *
 * One mqotad_t exists per process; every module takes it as its first argument. Internal
 * functions shared between files are named module__verb() (mosquitto's convention).
 */
#ifndef MQOTAD_H
#define MQOTAD_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "db.h"
#include "mqota_host.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifndef MQOTAD_VERSION
#define MQOTAD_VERSION "0.1.0" /* CMake passes the project version */
#endif
#define MQOTAD_TOPIC_PREFIX "mqota/v1/dev/"
#define MQOTAD_STREAM_PREFIX "mqota/v1/stream/" /**< + decimal release id */
/** Largest image accepted (the largest OTA slot of the default partition tables). */
#define MQOTAD_MAX_IMAGE 1966080u
/** Most chunks a device's bitmap can track. */
#define MQOTAD_MAX_CHUNKS 4096u
/** Most --trusted-key options. */
#define MQOTAD_MAX_TRUSTED_KEYS 16
/** Hex digits of a key id plus NUL (8 bytes of SHA-256 over the SubjectPublicKeyInfo DER). */
#define MQOTAD_KEY_ID_HEX 17
/** Most --api-host options. */
#define MQOTAD_MAX_API_HOSTS 16
/** mqotad's own username on the broker (auth.c); no device may take it. */
#define MQOTAD_BROKER_USER "mqotad"

struct mosquitto;
struct MHD_Daemon;
struct transfers;
struct streams;
struct evp_pkey_st;
struct metrics;
struct options_state;
struct legacy;
struct legacy_tcp;

/** A release public key mqotad trusts (--trusted-key), loaded by signature.c. */
typedef struct {
    struct evp_pkey_st *pkey;
    char key_id[MQOTAD_KEY_ID_HEX];
} mqotad_key_t;

typedef struct mqotad {
    /* ---- options (options.c) ---- */
    char data_dir[PATH_MAX];
    char broker_url[300];      /**< Broker in use (given, or the embedded one's) */
    bool embedded_broker;      /**< No --broker: we run mosquitto ourselves */
    char http_addr[64];
    int http_port;             /**< 0: pick a free port */
    int mqtt_version;          /**< 5 or 311 */
    uint32_t chunk_size;
    uint32_t window;
    bool multicast;            /**< --multicast auto: offers of a release to >= 2 devices stream */
    uint32_t stream_window;    /**< --stream-window: unconfirmed stream sends, 1..64 */
    int log_level;
    const char *trusted_key_paths[MQOTAD_MAX_TRUSTED_KEYS]; /**< --trusted-key (argv) */
    int n_trusted_keys;
    bool require_signed;       /**< --require-signed: refuse unsigned uploads */
    bool open_api;             /**< --open-api: no bearer token needed (loud; off by default) */
    const char *api_hosts[MQOTAD_MAX_API_HOSTS]; /**< --api-host: more Host names served (argv) */
    int n_api_hosts;
    const char *cmd_name;      /**< subcommand: "token", "device", "broker-files"; NULL: daemon */
    int cmd_argc;              /**< words after the subcommand's name */
    char **cmd_argv;
    const char *ca_file;       /**< --ca: CA the broker's certificate must chain to (mqtts://) */
    const char *cert_file;     /**< --cert: client certificate for the broker (optional) */
    const char *key_file;      /**< --key: its private key */
    bool broker_tls;           /**< --broker-tls: the embedded broker listens with TLS only */
    bool open_broker;          /**< --open-broker: embedded broker without users or ACLs */
    uint32_t command_timeout_s; /**< --command-timeout: a sent command's reply deadline */
    uint32_t telemetry_retention_s; /**< --telemetry-retention: samples older are deleted */
    uint32_t telemetry_points; /**< --telemetry-points: samples kept per device and name */
    uint32_t telemetry_rate;   /**< --telemetry-rate: samples per device per second kept */

    bool pull_on;              /**< --pull-https given (legacy protocol 3's listener) */
    char pull_addr[64];        /**< its address */
    int pull_port;             /**< its port; 0: pick a free one */
    const char *pull_cert_file; /**< --pull-cert, or NULL: DIR/tls/server.crt */
    const char *pull_key_file;  /**< --pull-key */
    bool ltcp_net_on;          /**< --legacy-tcp-net given: protocol 4 may connect inside it */
    uint32_t ltcp_net;         /**< its network, host order */
    unsigned ltcp_prefix;      /**< and prefix length */

    /* ---- embedded broker (broker.c) ---- */
    pid_t broker_pid;
    int broker_port;
    char tls_ca[PATH_MAX];     /**< --broker-tls: DIR/tls/ca.crt, server.crt, server.key */
    char tls_cert[PATH_MAX];
    char tls_key[PATH_MAX];
    char broker_socket[108];   /**< Unix socket of mqotad's own listener (sun_path's size) */

    /* ---- MQTT client (mqtt.c) ---- */
    struct mosquitto *mosq;
    mqh_url_t url;
    bool mqtt_connected;
    bool mqtt_socket_open;     /**< A connection (maybe not yet acknowledged) exists */
    uint32_t max_packet;       /**< Broker's Maximum Packet Size (MQTT 5), else 268435455 */
    char mqtt_user[64];        /**< our broker identity (auth.c); empty: anonymous */
    char mqtt_pass[64];
    uint64_t reconnect_at_ms;  /**< When to try again after a drop (0: not scheduled) */
    uint32_t backoff_ms;
    bool offers_due;           /**< (Re)connected: publish pending offers again */
    char mqtt_client_id[32];   /**< mqotad-<16 random hex digits>, fresh after a takeover */
    uint64_t mqtt_connected_at_ms; /**< When the broker last accepted us */
    int mqtt_short_sessions;   /**< Consecutive sessions dropped soon after they began */
    bool mqtt_new_id;          /**< Session taken over: reconnect under a fresh client id */

    /* ---- HTTP (http.c) ---- */
    struct MHD_Daemon *mhd;
    int http_bound_port;
    char token_file[PATH_MAX + 16]; /**< absolute path of DIR/api.token (token.c) */

    /* ---- legacy protocol 3's pull listener (http_pull.c) ---- */
    struct MHD_Daemon *pull_mhd;
    int pull_bound_port;
    /* ---- legacy protocol 4's TCP side channels (legacy_tcp.c) ---- */
    struct legacy_tcp *ltcp;      /**< their epoll instance; NULL before legacy_tcp__init() */

    /* ---- release keys (signature.c) ---- */
    mqotad_key_t trusted_keys[MQOTAD_MAX_TRUSTED_KEYS];

    /* ---- store and engine ---- */
    db_t *db;
    struct transfers *xfers;
    struct streams *streams;

    /* ---- commands (command.c) ---- */
    uint64_t cmd_check_ms;        /**< Last run of the command timers (monotonic ms) */
    uint64_t cmd_replies_dropped; /**< Replies that did not open, replayed or malformed */

    /* ---- warnings caused by devices, rate-limited per device (devlog.c) ---- */
    struct devlog *devlog;

    /* ---- device health (health.c) ---- */
    struct health_held *health_held; /**< reports held to the next second, hashed on the id */
    /* ---- application telemetry (telemetry.c) ---- */
    struct telemetry *telemetry;  /**< per-device rate counters, hashed on the id */
    uint64_t telemetry_tick_ms;   /**< last age prune (monotonic ms) */
    uint64_t telemetry_dropped;   /**< samples dropped by the rate and name limits */
    uint64_t telemetry_refused;   /**< messages undecodable or from unknown devices */

    /* ---- configuration file and reload (options.c, config.c) ---- */
    const char *config_file;      /**< --config FILE, or NULL */
    int argc;                     /**< the command line, applied over the file again on SIGHUP */
    char **argv;
    struct options_state *opts;   /**< each option's text, the file's strings (options.c) */
    bool metrics_loopback;        /**< --metrics-loopback: /metrics open to loopback clients */

    /* ---- counters for GET /metrics (metrics.c) ---- */
    struct metrics *metrics;
    /* ---- the console's event tickets and streams (http_console.c, http_events.c) ---- */
    struct console *console;      /**< NULL until the first ticket or stream */
    /* ---- legacy devices and their adapters (legacy.c, docs/LEGACY.md) ---- */
    struct legacy *legacy;        /**< registered legacy devices, their jobs and topics */
} mqotad_t;

/* options.c: 0 run, 1 --help or --print-config printed (exit 0), 2 bad usage (message
 * printed, exit 2). Defaults, then the --config file, then the command line. */
int options__parse(mqotad_t *d, int argc, char **argv);
/**
 * Check and store one option's value (name without "--"). cli: from the command line (argv
 * outlives d); else from the file (the value is copied and kept until options__free()).
 * @return 0; -1 with what is wrong in err, to follow the option's name ("'0' must be ...").
 */
int options__set(mqotad_t *d, const char *name, const char *val, bool cli, char *err,
                 size_t cap);
/** SIGHUP: read the file again, apply the reloadable keys that changed, name the others.
 *  @return 0, or -1 when the new configuration has an error (nothing changed). */
int options__reload(mqotad_t *d);
/** Free what options__parse() kept. */
void options__free(mqotad_t *d);
/** A configuration file with every key commented out at its default (--print-config). */
void options__print_config(FILE *f);

/* config.c: apply the NAME = VALUE lines of path through options__set(). @return 0, or -1
 * with one sentence naming path:line and the key printed on stderr. */
int config__load(mqotad_t *d, const char *path);

/* broker.c: start/stop the embedded mosquitto. */
int broker__start(mqotad_t *d);
void broker__stop(mqotad_t *d);
/** Restart the embedded broker on its port if it died. @return 0, or -1 (retried later). */
int broker__supervise(mqotad_t *d);
/** SIGHUP the embedded broker: it rereads its password and ACL files. */
void broker__reload(mqotad_t *d);

/* tls.c: the embedded broker's private CA and certificate in DIR/tls/ (--broker-tls). */
int tls__ensure_broker_certs(mqotad_t *d);

/* auth.c: broker identities and ACLs (docs/SECURITY.md §6). */
/** `device provision|revoke ...` and `broker-files OUTDIR`; returns the exit code. */
int auth__command(mqotad_t *d);
/** Create mqotad's own broker user on first use, write the ACL, load the password. */
int auth__ensure_server_identity(mqotad_t *d);

/** auth__provision(): a device exists and replace was not given (nothing changed). */
#define AUTH_PROVISION_EXISTS (-2)
/** Most devices one auth__provision() call (one API request) takes. */
#define AUTH_PROVISION_MAX 1000

/**
 * Provision n devices (docs/SECURITY.md §7, §9): for each a random broker password (its hash
 * goes into DIR/auth/passwd) and a random 32-byte command key (into the database, replacing an
 * old one), and the ACL file rewritten. texts[i] gets the device's credentials file text
 * (username, password, command_key, broker, ca; malloc'd, the caller frees and should cleanse
 * it). The caller reloads the broker. Nothing is logged here.
 * A device that already has a broker user is provisioned again only with replace: its new
 * password and key lock the real device out until it gets the new credentials file.
 * @return 0; -1 with one sentence in err (bad or repeated id, more than AUTH_PROVISION_MAX,
 *         store or file failure); AUTH_PROVISION_EXISTS when a device exists and replace is
 *         false (err names it). texts[] are then all NULL and nothing changed.
 */
int auth__provision(mqotad_t *d, char *const *ids, int n, bool replace, char **texts,
                    char *err, size_t err_len);
/** The mosquitto acl_file text (patterns with %u, and user mqotad). */
const char *auth__acl_text(void);

/** Longest legacy device's broker password (params.mqtt_password), in bytes. */
#define AUTH_LEGACY_PASSWORD_MAX 63
struct cJSON;
/**
 * Judge a legacy registration's broker identity before anything changes: the device's topics
 * may reach the ACL file; user and password (the firmware's login, both or neither) are valid,
 * the protocol speaks MQTT, and user is no other device's identity or id.
 * @param[in] old_user the device's identity so far (re-registration), or NULL.
 * @return 0, or -1 with one sentence in err (a 400).
 */
int auth__legacy_check(mqotad_t *d, const char *device_id, db_protocol_t p,
                       const struct cJSON *params, const char *user, const char *password,
                       const char *old_user, char *err, size_t err_len);
/**
 * Give a registered legacy device its broker identity: old_user's password line goes (if it
 * changed or is dropped), user's hash is set (mosquitto_passwd), the ACL file is rewritten
 * from the registry. The caller reloads the broker. user/password NULL: no identity.
 * @return 0, or -1 (printed).
 */
int auth__legacy_identity(mqotad_t *d, const char *user, const char *password,
                          const char *old_user);
/** DIR/auth/passwd and DIR/auth/acl. */
void auth__broker_paths(mqotad_t *d, char *passwd, char *acl, size_t cap);

/* mqtt.c */
int mqtt__init(mqotad_t *d);
void mqtt__cleanup(mqotad_t *d);
int mqtt__socket(mqotad_t *d);
bool mqtt__want_write(mqotad_t *d);
void mqtt__io(mqotad_t *d, bool readable, bool writable);
void mqtt__flush(mqotad_t *d);
void mqtt__reconnect_if_due(mqotad_t *d, uint64_t now_ms);
int mqtt__publish(mqotad_t *d, const char *topic, const void *payload, size_t len, int qos,
                  bool retain);
/** Largest payload of one PUBLISH on topic (QoS 0) under the broker's packet limit. */
uint32_t mqtt__max_payload(mqotad_t *d, const char *topic);

/* http.c */
int http__start(mqotad_t *d);
void http__stop(mqotad_t *d);
int http__fd(mqotad_t *d);
void http__run(mqotad_t *d);
int http__timeout_ms(mqotad_t *d);

#ifdef __cplusplus
}
#endif

#endif /* MQOTAD_H */
