/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file fleet.h
 * @brief The virtual fleet: many virtual ESP32 devices in one process, on one event loop.
 *
 * Each device is a file-backed flash (ports/posix: partition table, otadata, ota_0/ota_1,
 * nvs), booted by the virtual bootloader, running the real device agent (libmqota) over its
 * own libmosquitto connection. All sockets are multiplexed with one epoll instance; there is
 * no thread per device and no per-device loop.
 */
#ifndef MQOTA_FLEET_H
#define MQOTA_FLEET_H

#include <mosquitto.h>
#include <stdbool.h>
#include <stdint.h>

#include "io.h"
#include "link.h"
#include "mqota/mqota.h"
#include "mqota_host.h"

#ifdef __cplusplus
extern "C" {
#endif

struct vdev;
struct sigverify_key;

/** Options of one fleet run (see `mqota-fleet --help`). */
typedef struct {
    const char *broker_url;   /**< mqtt://host:port */
    mqh_url_t broker;         /**< parsed broker_url */
    int count;                /**< devices */
    const char *prefix;       /**< device id prefix; ids are prefix + 4-digit index */
    const char *image;        /**< initial image flashed into ota_0 of new devices */
    const char *data_dir;     /**< one flash file per device lives here */
    uint16_t chip_id;         /**< chip the virtual devices are */
    const char *erase_nvs;    /**< --erase-nvs: erase this device's NVS partition before it
                                   powers on (esptool erase_region); NULL = none */
    uint32_t max_chunk;       /**< agent max chunk, bytes */
    uint16_t max_window;      /**< agent max window, chunks */
    int mqtt_version;         /**< 5 or 311 */
    int keepalive_s;          /**< MQTT keepalive, seconds */
    double cut_at[8];         /**< fault: drop the link once at each of these progress fractions */
    int cut_count;
    const char *fail_self_test; /**< fault: self-test fails when running this version */
    const char *reset_before_confirm; /**< fault: a boot of this version in pending-verify
                                           resets on its first CONNACK, before the confirm */
    const char *offline_after_reboot; /**< fault: a boot of this version in pending-verify
                                           never connects (the confirm timeout fires) */
    uint32_t confirm_timeout_ms; /**< agent's confirm_timeout_ms; 0 = the agent's default */
    const char *crash_loop;   /**< fault: a device running this version after confirming it
                                   resets by panic crash_every_s after each connection */
    int crash_every_s;        /**< --crash-every: seconds from connect to --crash-loop's panic */
    int health_interval_s;    /**< --health-interval: agent's health_interval_s; 0 = default */
    double crash_at;          /**< fault: the whole process dies (SIGKILL) when any device's
                                   download passes this fraction; 0 = off */
    uint8_t deflate_window;   /**< --deflate-window: largest window the agents inflate (log2);
                                   0 = no decoder */
    long flip_offset;         /**< fault: flash writes covering this image offset store one
                                   flipped bit there (a flash bit error); -1 = off */
    int status_interval_s;    /**< print a status line this often; 0 = never */
    int telemetry_interval_s; /**< --telemetry-interval: posix devices publish telemetry this
                                   often (temperature, uptime_s); 0 = never */
    int exit_after_s;         /**< stop after this many seconds; 0 = run until signalled */
    uint32_t boot_delay_ms;   /**< simulated reset time */
    const char *link_spec;    /**< --link: "lte" or "lte:30,gprs:70"; NULL = direct */
    const char *trust_key;    /**< --trust-key: release public key (PEM); NULL = none */
    bool require_signature;   /**< --require-signature: refuse unsigned offers */
    const char *ca_file;      /**< --ca: CA of the mqtts:// broker's certificate; NULL = none */
    const char *cert_dir;     /**< --cert-dir: DIR/<id>.crt + DIR/<id>.key client certificates */
    const char *credentials_dir; /**< --credentials-dir: DIR/<id>.cred username and password,
                                      and the command key (docs/PROTOCOL.md §14) */
    int port;                 /**< --port: FLEET_PORT_POSIX or FLEET_PORT_ESP_IDF */
    bool confirm_by_command;  /**< --confirm-by-command: a new image waits in pending-verify for
                                   the server's confirm / rollback command */
    int protocol;             /**< --protocol: fleet_proto_t a "legacy" image speaks (legacy.h) */
    const char *b64_key;      /**< --b64-key: protocol 1's command key file ("key=", "iv=") */
    long legacy_corrupt;      /**< --legacy-corrupt N: chunk N of a legacy download arrives with
                                   a flipped bit, once per boot; 0 = off */
    const char *pull_url;     /**< --pull-url: protocol 3's server, https://host:port */
    const char *pull_ca;      /**< --pull-ca: the CA its certificate must chain to */
    const char *pull_user;    /**< --pull-user / --pull-password: basic-auth login */
    const char *pull_password;
    uint32_t poll_every_ms;   /**< --poll-every: protocol 3's poll interval (default 30 s) */
    const char *tcp_announce; /**< --tcp-announce: fault: protocol 4 devices announce this
                                   address instead of the one they listen on */
} fleet_opts_t;

/** Which agent code the devices run (--port). */
enum {
    FLEET_PORT_POSIX = 0,   /**< the agent on the POSIX port's hooks (ports/posix) */
    FLEET_PORT_ESP_IDF = 1  /**< the ESP-IDF port itself on the ESP-IDF emulation (port_esp.h) */
};

/** Most profiles one --link mix may name. */
#define FLEET_LINK_MAX 8

/** Connection state of one virtual device. */
typedef enum {
    DEV_OFF = 0,        /**< powered off / not yet booted */
    DEV_CONNECTING = 1, /**< TCP + CONNECT in progress */
    DEV_CONNECTED = 2,  /**< CONNACK received, agent running */
    DEV_BACKOFF = 3,    /**< waiting before the next connection attempt */
    DEV_BRICKED = 4     /**< bootloader found no bootable image */
} dev_conn_t;

/** One virtual ESP32. */
typedef struct fleet_dev {
    fleet_io_t io;            /**< first: the epoll loop dispatches through it */
    struct fleet *fleet;
    int index;
    char id[MQOTA_DEVICE_ID_MAX + 1];
    char flash_path[512];
    struct vdev *vdev;
    mqota_platform_t vplat;   /**< flash/kv/sha/running hooks from the POSIX port */
    mqota_agent_t agent;      /**< the agent of a POSIX-port device (dev_agent() for any) */
    struct fleet_esp *esp;    /**< an ESP-IDF port device's chip and port (port_esp.c); NULL
                                   for POSIX-port devices */
    bool restarting;          /**< dev_power_on() after a restart, not a power-on */
    struct mosquitto *mosq;
    dev_conn_t conn;
    int fd;                   /**< socket registered with epoll, -1 if none */
    uint32_t ev_mask;         /**< events registered */
    uint64_t next_attempt_ms; /**< DEV_BACKOFF / DEV_OFF: when to act */
    uint32_t backoff_ms;
    bool process_due;         /**< agent_process() after this loop turn */
    bool reboot_due;          /**< the agent asked for a restart */
    bool relay_on;            /**< the virtual application's output ("relay" command); off
                                   after every boot, like a GPIO */
    int cuts_done;            /**< --cut-at points passed in the download of cut_release */
    uint32_t cut_release;     /**< release whose download cuts_done counts */
    int logged_state;         /**< update state last logged, -1 before the first */
    int link_port;            /**< emulated link's listener on 127.0.0.1; 0 = the broker */
    uint64_t booted_ms;       /**< when the bootloader last ran */
    uint64_t connected_ms;    /**< when the last CONNACK came (--crash-loop counts from it) */
    uint64_t telemetry_ms;    /**< last telemetry published (--telemetry-interval) */
    bool fault_reset_due;     /**< this boot resets on its first CONNACK (--reset-before-confirm) */
    bool fault_offline;       /**< this boot never connects (--offline-after-reboot) */
    /* statistics */
    uint32_t connects;
    uint32_t drops;
    uint32_t reboots;
    uint64_t rx_chunk_bytes;  /**< chunk payload bytes received (including duplicates) */
    uint64_t wire_rx_done;    /**< TCP bytes received on connections already closed */
    uint64_t wire_tx_done;    /**< TCP bytes sent (and acked) on connections already closed */
    uint64_t wire_rx_cur;     /**< last sample of the current connection's received bytes */
    uint64_t wire_tx_cur;     /**< last sample of the current connection's sent bytes */
    uint32_t dup_chunks;
    uint32_t fault_resets;    /**< resets before the confirm (--reset-before-confirm) */
    uint32_t fault_offline_boots; /**< boots kept offline (--offline-after-reboot) */
    uint32_t fault_panics;    /**< simulated panics (--crash-loop) */
    /* a legacy device (fleet/legacy.h): the protocol of the image it booted, NULL = the agent */
    const struct fleet_legacy_ops *lops;
    void *legacy;             /**< the protocol's device state (its own struct) */
    bool corrupted;           /**< --legacy-corrupt done in this boot */
} fleet_dev_t;

/** The fleet. */
typedef struct fleet {
    fleet_opts_t opt;
    fleet_dev_t *devs;
    int epfd;
    uint64_t started_ms;
    uint64_t now_ms;
    link_listener_t *links[FLEET_LINK_MAX]; /**< one emulated link per profile in --link */
    int link_count;
    struct sigverify_key *trust_key; /**< loaded from opt.trust_key, shared by every device */
} fleet_t;

/* device.c */
/** Create (or reopen) the device's flash, boot it and start its agent. @return 0 or -1. */
int dev_power_on(fleet_dev_t *d);
/** Simulate a reset: the link drops without DISCONNECT (the last will fires), then boot. */
void dev_reboot(fleet_dev_t *d);
/** Start a connection attempt now. */
void dev_connect(fleet_dev_t *d);
/** Handle socket readiness for the device. */
void dev_handle_io(fleet_dev_t *d, uint32_t events);
/** Timers: reconnects, keepalive, agent ticks, fault injection. */
void dev_tick(fleet_dev_t *d);
/** Run the agent's periodic work if due, then apply a pending reboot. */
void dev_after_io(fleet_dev_t *d);
/** Clean shutdown: "offline", DISCONNECT, close. */
void dev_shutdown(fleet_dev_t *d);
/** TCP payload bytes received and sent by the device since the fleet started (TCP_INFO). */
void dev_wire_bytes(const fleet_dev_t *d, uint64_t *rx, uint64_t *tx);

/* device.c, shared with port_esp.c: what every device does whichever port runs its agent */
/** The link came up (rc 0) or was refused (libmosquitto's rc); whether the agent hears of it. */
bool dev_link_up(fleet_dev_t *d, int rc);
/** The link is gone: out of epoll, counted, a reconnect scheduled. */
void dev_link_down(fleet_dev_t *d, int rc);
/** Count a received message (chunk bytes). */
void dev_message_seen(fleet_dev_t *d, const struct mosquitto_message *msg);
/** The virtual application's self-test (fails for --fail-self-test's version). */
bool dev_self_test(fleet_dev_t *d);
/** The virtual application's commands ("relay on|off"), a mqota_command_fn. */
mqota_cmd_result_t dev_app_command(void *ctx, const char *name, const uint8_t *args,
                                   size_t args_len, uint8_t *reply, size_t cap,
                                   size_t *reply_len);
/** The virtual application's diagnostics lines ("relay=on|off\n"); bytes written. */
size_t dev_app_diagnostics(void *ctx, char *buf, size_t cap);
/** The broker login from DIR/<id>.cred: 0 with user and pass ("" without a password), -1 without
 *  --credentials-dir or a file for the device. */
int dev_read_login(const fleet_dev_t *d, char *user, size_t ucap, char *pass, size_t pcap);
/** TLS on d->mosq for an mqtts:// broker (--ca, --cert-dir); 0, or -1 logged. */
int dev_client_tls(fleet_dev_t *d);
/** The agent of an ESP-IDF port device (port_esp.c). */
mqota_agent_t *esp_dev_agent(fleet_dev_t *d);
/** The device's agent, whichever port runs it. */
static inline mqota_agent_t *dev_agent(const fleet_dev_t *d)
{
    fleet_dev_t *m = (fleet_dev_t *)d; /* the agent is the device's; const is the caller's */
    return m->esp != NULL ? esp_dev_agent(m) : &m->agent;
}

#ifdef __cplusplus
}
#endif

#endif /* MQOTA_FLEET_H */
