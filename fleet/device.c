/* SPDX-License-Identifier: Apache-2.0 */
/*
 * device.c - one virtual ESP32 of the fleet: power-on (flash + bootloader + agent), its
 * libmosquitto connection (non-blocking, driven by the fleet's epoll loop), reconnects with
 * exponential backoff and jitter, simulated resets, and fault injection.
 */
#define _GNU_SOURCE
#include "fleet.h"

#include <errno.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <netinet/in.h>
#include <linux/tcp.h> /* struct tcp_info with tcpi_bytes_received (glibc's lacks it) */
#include <sys/socket.h>
#include <unistd.h>

#include "legacy.h"
#include "mqota_posix/aead.h"
#include "mqota_posix/vdev.h"
#include "port_esp.h"

#define BACKOFF_MIN_MS 250u
#define BACKOFF_MAX_MS 30000u

/* ---- platform hooks: transport, clock, reboot, self-test are ours; flash, store, SHA-256 and
 * the running image come from the POSIX port and are forwarded to it. ---- */

static int p_publish(void *ctx, const char *topic, const uint8_t *payload, size_t len, int qos,
                     bool retain)
{
    fleet_dev_t *d = ctx;
    if (d->mosq == NULL || d->conn != DEV_CONNECTED) return -1;
    int rc = mosquitto_publish(d->mosq, NULL, topic, (int)len, payload, qos, retain);
    return rc == MOSQ_ERR_SUCCESS ? 0 : -1;
}

static int p_unsubscribe(void *ctx, const char *topic)
{
    fleet_dev_t *d = ctx;
    if (d->mosq == NULL) return -1;
    return mosquitto_unsubscribe(d->mosq, NULL, topic) == MOSQ_ERR_SUCCESS ? 0 : -1;
}

static int p_subscribe(void *ctx, const char *topic, int qos)
{
    fleet_dev_t *d = ctx;
    if (d->mosq == NULL) return -1;
    return mosquitto_subscribe(d->mosq, NULL, topic, qos) == MOSQ_ERR_SUCCESS ? 0 : -1;
}

static uint64_t p_now(void *ctx)
{
    (void)ctx;
    return mqh_now_ms();
}

static void p_reboot(void *ctx)
{
    fleet_dev_t *d = ctx;
    d->reboot_due = true;
    /* esp_restart(): the next boot's reset reason is software (docs/PROTOCOL.md §16) */
    if (d->vdev != NULL) (void)vdev_set_reset_reason(d->vdev, MQOTA_RESET_SOFTWARE, NULL);
}


bool dev_self_test(fleet_dev_t *d)
{
    const char *bad = d->fleet->opt.fail_self_test;
    return bad == NULL || strcmp(dev_agent(d)->running.version, bad) != 0;
}

static bool p_self_test(void *ctx) { return dev_self_test(ctx); }

#define FWD(d) (((fleet_dev_t *)(d))->vplat)
static int p_running(void *c, mqota_running_t *o) { return FWD(c).running(FWD(c).ctx, o); }
static int p_health(void *c, mqota_health_t *h) { return FWD(c).health(FWD(c).ctx, h); }
static int p_slot_size(void *c, uint8_t s, uint32_t *b) { return FWD(c).slot_size(FWD(c).ctx, s, b); }
static int p_slot_begin(void *c, uint8_t s, uint32_t n, uint32_t from)
{
    return FWD(c).slot_begin(FWD(c).ctx, s, n, from);
}
static int p_slot_write(void *c, uint8_t s, uint32_t off, const uint8_t *p, size_t n)
{
    long flip = ((fleet_dev_t *)c)->fleet->opt.flip_offset;
    if (flip >= 0 && (uint64_t)flip >= off && (uint64_t)flip < (uint64_t)off + n) {
        /* fault: a bit error in flash; the chunk passed its CRC, the stored byte is wrong */
        uint8_t buf[MQOTA_CHUNK_MAX];
        memcpy(buf, p, n);
        buf[flip - (long)off] ^= 0x10;
        return FWD(c).slot_write(FWD(c).ctx, s, off, buf, n);
    }
    return FWD(c).slot_write(FWD(c).ctx, s, off, p, n);
}
static int p_slot_read(void *c, uint8_t s, uint32_t off, uint8_t *p, size_t n)
{
    return FWD(c).slot_read(FWD(c).ctx, s, off, p, n);
}
static int p_slot_end(void *c, uint8_t s, uint32_t n) { return FWD(c).slot_end(FWD(c).ctx, s, n); }
static int p_set_boot(void *c, uint8_t s) { return FWD(c).slot_set_boot(FWD(c).ctx, s); }
static int p_slot_state(void *c, mqota_slot_state_t *st) { return FWD(c).slot_state(FWD(c).ctx, st); }
static int p_mark_valid(void *c) { return FWD(c).slot_mark_valid(FWD(c).ctx); }
static int p_mark_invalid(void *c) { return FWD(c).slot_mark_invalid(FWD(c).ctx); }
static int p_kv_get(void *c, const char *k, void *b, size_t cap, size_t *len)
{
    return FWD(c).kv_get(FWD(c).ctx, k, b, cap, len);
}
static int p_kv_set(void *c, const char *k, const void *b, size_t len)
{
    return FWD(c).kv_set(FWD(c).ctx, k, b, len);
}
static int p_kv_erase(void *c, const char *k) { return FWD(c).kv_erase(FWD(c).ctx, k); }
static int p_sha_begin(void *c) { return FWD(c).sha256_begin(FWD(c).ctx); }
static int p_sha_update(void *c, const uint8_t *p, size_t n)
{
    return FWD(c).sha256_update(FWD(c).ctx, p, n);
}
static int p_sha_finish(void *c, uint8_t out[32]) { return FWD(c).sha256_finish(FWD(c).ctx, out); }

static int p_verify_signature(void *c, const uint8_t digest[32], const uint8_t *sig, size_t n)
{
    return FWD(c).verify_signature(FWD(c).ctx, digest, sig, n);
}
static int p_inflate(void *c, const mqota_inflate_job_t *job)
{
    return FWD(c).inflate(FWD(c).ctx, job);
}
static int p_slot_state_of(void *c, uint8_t s, mqota_slot_state_t *st)
{
    return FWD(c).slot_state_of(FWD(c).ctx, s, st);
}
static int p_sv_read(void *c, uint32_t *min)
{
    return FWD(c).secure_version_read(FWD(c).ctx, min);
}
static int p_sv_raise(void *c, uint32_t to) { return FWD(c).secure_version_raise(FWD(c).ctx, to); }
static int p_aead_seal(void *c, const uint8_t *nonce, const uint8_t *aad, size_t aad_len,
                       const uint8_t *in, size_t len, uint8_t *out, uint8_t *tag)
{
    return FWD(c).aead_seal(FWD(c).ctx, nonce, aad, aad_len, in, len, out, tag);
}
static int p_aead_open(void *c, const uint8_t *nonce, const uint8_t *aad, size_t aad_len,
                       const uint8_t *in, size_t len, uint8_t *out, const uint8_t *tag)
{
    return FWD(c).aead_open(FWD(c).ctx, nonce, aad, aad_len, in, len, out, tag);
}

/* ---- the virtual application: one output, "relay", switched by a sealed command ---- */

size_t dev_app_diagnostics(void *ctx, char *buf, size_t cap)
{
    const fleet_dev_t *d = ctx;
    int n = snprintf(buf, cap, "relay=%s\n", d->relay_on ? "on" : "off");
    return n > 0 && (size_t)n < cap ? (size_t)n : 0u;
}

/* mqota_command_fn: "relay on" / "relay off". */
mqota_cmd_result_t dev_app_command(void *ctx, const char *name, const uint8_t *args,
                                      size_t args_len, uint8_t *reply, size_t cap,
                                      size_t *reply_len)
{
    fleet_dev_t *d = ctx;
    int n;
    if (strcmp(name, "relay") != 0) return MQOTA_CMD_UNKNOWN;
    if (args_len == 2 && memcmp(args, "on", 2) == 0) {
        d->relay_on = true;
    } else if (args_len == 3 && memcmp(args, "off", 3) == 0) {
        d->relay_on = false;
    } else {
        n = snprintf((char *)reply, cap, "relay takes 'on' or 'off'");
        *reply_len = n > 0 && (size_t)n < cap ? (size_t)n : 0u;
        return MQOTA_CMD_FAILED;
    }
    mqh_log(MQH_INFO, "%s: relay %s", d->id, d->relay_on ? "on" : "off");
    n = snprintf((char *)reply, cap, "relay=%s", d->relay_on ? "on" : "off");
    *reply_len = n > 0 && (size_t)n < cap ? (size_t)n : 0u;
    return MQOTA_CMD_OK;
}

static void fill_platform(fleet_dev_t *d, mqota_platform_t *p)
{
    memset(p, 0, sizeof(*p));
    p->ctx = d;
    p->publish = p_publish;
    p->subscribe = p_subscribe;
    p->unsubscribe = p_unsubscribe;
    p->running = p_running;
    p->slot_size = p_slot_size;
    p->slot_begin = p_slot_begin;
    p->slot_write = p_slot_write;
    p->slot_read = p_slot_read;
    p->slot_end = p_slot_end;
    p->slot_set_boot = p_set_boot;
    p->slot_state = p_slot_state;
    p->slot_mark_valid = p_mark_valid;
    p->slot_mark_invalid = p_mark_invalid;
    p->reboot = p_reboot;
    p->kv_get = p_kv_get;
    p->kv_set = p_kv_set;
    p->kv_erase = p_kv_erase;
    p->now_ms = p_now;
    p->sha256_begin = p_sha_begin;
    p->sha256_update = p_sha_update;
    p->sha256_finish = p_sha_finish;
    p->verify_signature = d->vplat.verify_signature != NULL ? p_verify_signature : NULL;
    p->slot_state_of = p_slot_state_of;
    p->aead_seal = d->vplat.aead_seal != NULL ? p_aead_seal : NULL;
    p->aead_open = d->vplat.aead_open != NULL ? p_aead_open : NULL;
    p->diagnostics = dev_app_diagnostics;
    p->self_test = p_self_test;
    p->health = d->vplat.health != NULL ? p_health : NULL;
    /* the anti-rollback minimum in the device's eFuse file (docs/SECURITY.md §4) */
    p->secure_version_read = d->vplat.secure_version_read != NULL ? p_sv_read : NULL;
    p->secure_version_raise = d->vplat.secure_version_raise != NULL ? p_sv_raise : NULL;
    /* the decoder of compressed transfers (--deflate-window 0: none) */
    p->inflate_window_bits = d->fleet->opt.deflate_window;
    p->inflate = d->vplat.inflate != NULL && p->inflate_window_bits != 0u ? p_inflate : NULL;
}

/* ---- epoll registration ---- */

/* epoll dispatch (io.h): socket I/O for each event, the agent after the whole batch */
static void dev_on_events(fleet_io_t *io, uint32_t events)
{
    dev_handle_io((fleet_dev_t *)io, events);
}
static void dev_after_events(fleet_io_t *io) { dev_after_io((fleet_dev_t *)io); }

/* Keep the epoll registration in line with the socket and with whether libmosquitto has
 * bytes queued to write. */
static void sync_events(fleet_dev_t *d)
{
    int fd = d->mosq ? mosquitto_socket(d->mosq) : -1;
    if (fd != d->fd && d->fd >= 0) {
        epoll_ctl(d->fleet->epfd, EPOLL_CTL_DEL, d->fd, NULL);
        d->fd = -1;
    }
    if (fd < 0) return;
    uint32_t want = EPOLLIN | (mosquitto_want_write(d->mosq) ? EPOLLOUT : 0u);
    struct epoll_event ev = {.events = want, .data.ptr = &d->io};
    if (d->fd < 0) {
        if (epoll_ctl(d->fleet->epfd, EPOLL_CTL_ADD, fd, &ev) == 0) {
            d->fd = fd;
            d->ev_mask = want;
        }
    } else if (want != d->ev_mask) {
        epoll_ctl(d->fleet->epfd, EPOLL_CTL_MOD, fd, &ev);
        d->ev_mask = want;
    }
}

/* Bytes received and sent on the socket fd, as the kernel counts them (TCP payload: every
 * MQTT byte, headers included). */
static void socket_bytes(int fd, uint64_t *rx, uint64_t *tx)
{
    struct tcp_info ti;
    socklen_t len = sizeof(ti);
    *rx = *tx = 0;
    if (fd >= 0 && getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 &&
        len >= offsetof(struct tcp_info, tcpi_bytes_received) + sizeof(ti.tcpi_bytes_received)) {
        *rx = ti.tcpi_bytes_received;
        *tx = ti.tcpi_bytes_acked;
    }
}

/* Refresh the counts of the current socket. libmosquitto 2.0.11 closes a broken socket
 * before it calls the disconnect callback, so the counts are sampled on every readiness
 * event (the kernel has counted every byte by the time the end of the stream is seen). */
static void sample_wire(fleet_dev_t *d)
{
    uint64_t r, t;
    socket_bytes(d->fd, &r, &t);
    if (r > d->wire_rx_cur) d->wire_rx_cur = r;
    if (t > d->wire_tx_cur) d->wire_tx_cur = t;
}

void dev_wire_bytes(const fleet_dev_t *d, uint64_t *rx, uint64_t *tx)
{
    uint64_t r, t;
    socket_bytes(d->fd, &r, &t);
    *rx = d->wire_rx_done + (r > d->wire_rx_cur ? r : d->wire_rx_cur);
    *tx = d->wire_tx_done + (t > d->wire_tx_cur ? t : d->wire_tx_cur);
}

static void unregister(fleet_dev_t *d)
{
    if (d->fd >= 0) {
        sample_wire(d); /* the socket is about to close (or closed): keep its counts */
        d->wire_rx_done += d->wire_rx_cur;
        d->wire_tx_done += d->wire_tx_cur;
        d->wire_rx_cur = d->wire_tx_cur = 0;
        epoll_ctl(d->fleet->epfd, EPOLL_CTL_DEL, d->fd, NULL);
        d->fd = -1;
    }
}

static void schedule_reconnect(fleet_dev_t *d)
{
    uint32_t b = d->backoff_ms ? d->backoff_ms : BACKOFF_MIN_MS;
    /* full jitter in [b/2, b]: thousands of devices must not reconnect in lockstep */
    uint32_t delay = b / 2u + (uint32_t)(rand() % (int)(b / 2u + 1u));
    d->backoff_ms = b * 2u > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : b * 2u;
    d->conn = DEV_BACKOFF;
    d->next_attempt_ms = mqh_now_ms() + delay;
}

/* ---- libmosquitto callbacks (called from inside loop_read / loop_write) ---- */

/* The link came up (rc 0) or was refused: the fleet's bookkeeping, and the
 * --reset-before-confirm fault. Returns whether the agent may hear of it. */
bool dev_link_up(fleet_dev_t *d, int rc)
{
    if (rc != 0) {
        mqh_log(MQH_WARN, "%s: broker refused the connection: %s", d->id,
                d->fleet->opt.mqtt_version == 5 ? mosquitto_reason_string(rc)
                                                : mosquitto_connack_string(rc));
        return false; /* the disconnect callback follows and schedules a retry */
    }
    if (d->fault_reset_due) {
        /* fault: a watchdog or brown-out reset right after the link came up, before the agent
         * ran its self-test and confirm. The reset itself happens in dev_after_io(), outside
         * libmosquitto's callback; the broker sees the link die and sends the last will. */
        d->fault_reset_due = false;
        d->fault_resets++;
        d->reboot_due = true;
        mqh_log(MQH_INFO, "%s: fault: resets before confirming %s (pending-verify, "
                "--reset-before-confirm); fault reset %u of this device", d->id,
                dev_agent(d)->running.version, (unsigned)d->fault_resets);
        return false;
    }
    d->conn = DEV_CONNECTED;
    d->connected_ms = mqh_now_ms(); /* both ports: --crash-loop counts from here */
    d->backoff_ms = 0;
    d->connects++;
    d->process_due = true;
    return true;
}

static void on_connect(struct mosquitto *m, void *ud, int rc)
{
    fleet_dev_t *d = ud;
    (void)m;
    if (!dev_link_up(d, rc)) return;
    if (d->lops != NULL) { /* a legacy device: its protocol's side (legacy.h) */
        d->lops->on_connect(d);
        return;
    }
    if (mqota_agent_on_connect(&d->agent) != MQOTA_OK)
        mqh_log(MQH_WARN, "%s: agent could not subscribe or publish after connect", d->id);
}

/* The link is gone: the fleet's bookkeeping (the socket leaves epoll before libmosquitto
 * closes it: the fd number may be reused) and a reconnect with backoff. */
void dev_link_down(fleet_dev_t *d, int rc)
{
    unregister(d);
    if (d->conn == DEV_CONNECTED) d->drops++;
    if (rc != 0) mqh_log(MQH_DEBUG, "%s: link lost (%s)", d->id, mosquitto_strerror(rc));
    schedule_reconnect(d);
}

static void on_disconnect(struct mosquitto *m, void *ud, int rc)
{
    fleet_dev_t *d = ud;
    (void)m;
    if (d->lops == NULL) mqota_agent_on_disconnect(&d->agent);
    dev_link_down(d, rc);
}

void dev_message_seen(fleet_dev_t *d, const struct mosquitto_message *msg)
{
    if (strstr(msg->topic, "/chunk") != NULL) d->rx_chunk_bytes += (uint64_t)msg->payloadlen;
}

static void on_message(struct mosquitto *m, void *ud, const struct mosquitto_message *msg)
{
    fleet_dev_t *d = ud;
    (void)m;
    if (d->lops != NULL) {
        d->lops->on_message(d, msg);
        return;
    }
    mqota_status_t st =
        mqota_agent_on_message(&d->agent, msg->topic, msg->payload, (size_t)msg->payloadlen);
    dev_message_seen(d, msg);
    if (strstr(msg->topic, "/chunk") != NULL && st == MQOTA_DUPLICATE) d->dup_chunks++;
    size_t tl = strlen(msg->topic);
    if (tl > 4 && strcmp(msg->topic + tl - 4, "/cmd") == 0 && st != MQOTA_OK) {
        /* a refused command (docs/PROTOCOL.md §14.4); the agent reported it to the server */
        const uint8_t *p = msg->payload;
        unsigned long long counter = 0;
        for (int i = 7; msg->payloadlen >= 16 && i >= 0; i--) counter = counter << 8 | p[8 + i];
        mqh_log(MQH_WARN, "%s: command refused: %s (counter %llu)", d->id,
                st == MQOTA_ERR_AUTH     ? "refused-forged"
                : st == MQOTA_ERR_REPLAY ? "refused-replay"
                : st == MQOTA_ERR_PLATFORM ? "not run: the store failed"
                                           : "refused-malformed",
                counter);
    } else if (st != MQOTA_OK && st != MQOTA_IGNORED && st != MQOTA_DUPLICATE) {
        mqh_log(MQH_DEBUG, "%s: message on %s: %s", d->id, msg->topic, mqota_strerror(st));
    }
    d->process_due = true;
}

/* ---- lifecycle ---- */

/* Read DIR/<id>.cred (lines "username=...", "password=..." and "command_key=...") into user,
 * pass and key_hex (each "" when absent; the path goes to path). Returns 0, or -1 when there
 * is no such file or it lacks a username. */
static int read_credentials(const fleet_dev_t *d, char *user, size_t ucap, char *pass,
                            size_t pcap, char *key_hex, size_t kcap, char *path, size_t pathcap)
{
    char line[512];
    snprintf(path, pathcap, "%s/%s.cred", d->fleet->opt.credentials_dir, d->id);
    user[0] = pass[0] = key_hex[0] = '\0';
    FILE *f = fopen(path, "r");
    if (f == NULL) return -1;
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (strncmp(line, "username=", 9) == 0) snprintf(user, ucap, "%s", line + 9);
        else if (strncmp(line, "password=", 9) == 0) snprintf(pass, pcap, "%s", line + 9);
        else if (strncmp(line, "command_key=", 12) == 0) snprintf(key_hex, kcap, "%s", line + 12);
    }
    fclose(f);
    memset(line, 0, sizeof(line));
    return user[0] ? 0 : -1;
}

/* The command key from DIR/<id>.cred ("command_key=<64 hex>"), if there is one. Returns 1 with
 * the key, 0 without one, -1 for a malformed line (logged). */
static int read_command_key(const fleet_dev_t *d, uint8_t key[32])
{
    char user[512], pass[512], hex[512], path[600];
    int found = 0;
    if (d->fleet->opt.credentials_dir == NULL) return 0;
    (void)read_credentials(d, user, sizeof(user), pass, sizeof(pass), hex, sizeof(hex), path,
                           sizeof(path));
    if (hex[0] != '\0') {
        found = aead_key_from_hex(hex, key) == MQOTA_OK ? 1 : -1;
        if (found < 0)
            mqh_log(MQH_ERROR, "%s: %s: command_key is not 64 hex digits; commands are off",
                    d->id, path);
    }
    memset(pass, 0, sizeof(pass));
    memset(hex, 0, sizeof(hex));
    return found;
}

/* TLS (--ca, optional DIR/<id>.crt/.key) on d->mosq. */
int dev_client_tls(fleet_dev_t *d)
{
    const fleet_opts_t *o = &d->fleet->opt;
    if (!o->broker.tls) return 0;
    char crt[600], key[600];
    const char *c = NULL, *k = NULL;
    if (o->cert_dir) {
        snprintf(crt, sizeof(crt), "%s/%s.crt", o->cert_dir, d->id);
        snprintf(key, sizeof(key), "%s/%s.key", o->cert_dir, d->id);
        if (access(crt, R_OK) == 0 && access(key, R_OK) == 0) c = crt, k = key;
    }
    /* only the given CA is trusted; chain and host name are verified; TLS 1.2+ */
    mosquitto_int_option(d->mosq, MOSQ_OPT_TLS_USE_OS_CERTS, 0);
    int rc = mosquitto_tls_set(d->mosq, o->ca_file, NULL, c, k, NULL);
    if (rc == MOSQ_ERR_SUCCESS) rc = mosquitto_tls_opts_set(d->mosq, 1, "tlsv1.2", NULL);
    if (rc != MOSQ_ERR_SUCCESS) {
        mqh_log(MQH_ERROR, "%s: cannot set up TLS with CA %s%s%s: %s", d->id, o->ca_file,
                c ? " and certificate " : "", c ? c : "", mosquitto_strerror(rc));
        return -1;
    }
    return 0;
}

int dev_read_login(const fleet_dev_t *d, char *user, size_t ucap, char *pass, size_t pcap)
{
    char hex[512], path[600];
    if (d->fleet->opt.credentials_dir == NULL) return -1;
    int got = read_credentials(d, user, ucap, pass, pcap, hex, sizeof(hex), path, sizeof(path));
    memset(hex, 0, sizeof(hex));
    if (got != 0) {
        mqh_log(MQH_DEBUG, "%s: no %s; connecting anonymously", d->id, path);
        memset(pass, 0, pcap);
    }
    return got;
}

/* TLS and the broker login (--credentials-dir) of a POSIX-port device's client. */
static int client_security(fleet_dev_t *d)
{
    char user[512], pass[512];
    if (dev_client_tls(d) != 0) return -1;
    if (dev_read_login(d, user, sizeof(user), pass, sizeof(pass)) == 0) {
        int rc = mosquitto_username_pw_set(d->mosq, user, pass[0] ? pass : NULL);
        memset(pass, 0, sizeof(pass));
        if (rc != MOSQ_ERR_SUCCESS) return -1;
    }
    return 0;
}

static int new_client(fleet_dev_t *d)
{
    const fleet_opts_t *o = &d->fleet->opt;
    char topic[MQOTA_TOPIC_MAX];
    d->mosq = mosquitto_new(d->id, true, d);
    if (d->mosq == NULL) return -1;
    mosquitto_int_option(d->mosq, MOSQ_OPT_PROTOCOL_VERSION,
                         o->mqtt_version == 5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311);
    mosquitto_connect_callback_set(d->mosq, on_connect);
    mosquitto_disconnect_callback_set(d->mosq, on_disconnect);
    mosquitto_message_callback_set(d->mosq, on_message);
    if (d->lops != NULL) { /* a legacy sketch sets no last will */
        /* its stop-and-wait answers must not wait for Nagle and a delayed ACK (40 ms each) */
        mosquitto_int_option(d->mosq, MOSQ_OPT_TCP_NODELAY, 1);
        return client_security(d);
    }
    /* the last will marks the device offline when the link dies without a DISCONNECT */
    mqota_agent_topic(&d->agent, MQOTA_TOPIC_ONLINE, topic, sizeof(topic));
    mosquitto_will_set(d->mosq, topic, (int)strlen(MQOTA_OFFLINE_PAYLOAD), MQOTA_OFFLINE_PAYLOAD, 1,
                       true);
    return client_security(d);
}

/* True if the agent has just booted an image of version `ver` that awaits its confirm. */
static bool pending_verify_of(const fleet_dev_t *d, const char *ver)
{
    return ver != NULL && mqota_agent_state(dev_agent(d)) == MQOTA_STATE_PENDING_VERIFY &&
           strcmp(dev_agent(d)->running.version, ver) == 0;
}

/* Faults that hold for one boot of a new image in pending-verify. Both leave the agent's own
 * logic alone: --reset-before-confirm resets the device before mqota_agent_on_connect() (so
 * the bootloader finds the slot still pending-verify and aborts it), --offline-after-reboot
 * keeps the broker out of reach so that the agent's confirm timeout fires. */
static void arm_boot_faults(fleet_dev_t *d)
{
    const fleet_opts_t *o = &d->fleet->opt;
    d->fault_reset_due = pending_verify_of(d, o->reset_before_confirm);
    d->fault_offline = pending_verify_of(d, o->offline_after_reboot);
    if (d->fault_offline) {
        d->fault_offline_boots++;
        mqh_log(MQH_INFO, "%s: fault: %s is pending-verify and cannot reach the broker "
                "(--offline-after-reboot); the agent's confirm timeout (%u ms) decides", d->id,
                dev_agent(d)->running.version, (unsigned)dev_agent(d)->confirm_timeout_ms);
    }
}

/*
 * After the bootloader: does the running image speak a legacy protocol (its project name,
 * legacy.h)? Then d->lops is its device side, booted here on the POSIX port's flash hooks;
 * else d->lops stays NULL and the agent runs. 0, or -1 (logged).
 */
static int boot_legacy(fleet_dev_t *d)
{
    mqota_platform_t plat;
    mqota_running_t run;
    vdev_platform_fill(d->vdev, &plat);
    d->lops = NULL;
    if (plat.running(plat.ctx, &run) != 0) return 0;
    fleet_proto_t p = fleet_legacy_of_project(run.project, (fleet_proto_t)d->fleet->opt.protocol);
    const fleet_legacy_ops_t *ops = fleet_legacy_ops(p);
    if (ops == NULL) {
        if (p != FLEET_PROTO_NATIVE)
            mqh_log(MQH_WARN, "%s: image project '%s' names a protocol this fleet lacks; the "
                    "agent runs", d->id, run.project);
        return 0;
    }
    mqota_slot_state_t st;
    /* a legacy sketch cancels the rollback at boot (esp_ota_mark_app_valid_cancel_rollback);
     * protocol 4's framework waits for keepversion instead (fleet/legacy_tcp.c) */
    if (p != FLEET_PROTO_TCP && plat.slot_state(plat.ctx, &st) == 0 &&
        st == MQOTA_SLOT_PENDING_VERIFY)
        (void)plat.slot_mark_valid(plat.ctx);
    d->vplat = plat;
    d->lops = ops;
    d->corrupted = false;
    d->cuts_done = 0;
    if (ops->boot(d) != 0) {
        mqh_log(MQH_ERROR, "%s: the legacy protocol of image '%s' did not start", d->id,
                run.project);
        return -1;
    }
    return 0;
}

int dev_power_on(fleet_dev_t *d)
{
    const fleet_opts_t *o = &d->fleet->opt;
    char err[1024];
    mqota_platform_t plat;

    boot_result_t boot;

    d->io.on_events = dev_on_events;
    d->io.after_events = dev_after_events;

    if (access(d->flash_path, F_OK) != 0 &&
        vdev_flash_create(d->flash_path, o->chip_id, o->image, err, sizeof(err)) != MQOTA_OK) {
        mqh_log(MQH_ERROR, "%s: cannot be created: %s", d->id, err); /* err names the file */
        return -1;
    }
    if (vdev_open(d->flash_path, &d->vdev, err, sizeof(err)) != MQOTA_OK) {
        mqh_log(MQH_ERROR, "%s: does not start: %s", d->id, err);
        d->vdev = NULL;
        return -1;
    }
    if (vdev_notice(d->vdev) != NULL) {
        mqh_log(MQH_WARN, "%s: %s", d->id, vdev_notice(d->vdev));
    }
    if (vdev_boot(d->vdev, &boot) != MQOTA_OK) {
        mqh_log(MQH_ERROR, "%s: BRICKED, does not boot: %s", d->id, boot.message);
        d->conn = DEV_BRICKED;
        return -1;
    }
    d->booted_ms = mqh_now_ms();
    if (boot_legacy(d) != 0) return -1;
    if (d->lops != NULL) { /* the image is a legacy sketch's (legacy.h): no agent */
        if (new_client(d) != 0) return -1;
        d->conn = DEV_OFF;
        d->next_attempt_ms = mqh_now_ms();
        return 0;
    }
    uint8_t command_key[32];
    bool have_key = read_command_key(d, command_key) == 1;
    d->relay_on = false;
    if (o->port == FLEET_PORT_ESP_IDF) {
        /* the ESP-IDF port's own code on the emulated chip (port_esp.c) */
        int rc = esp_dev_start(d, &boot, have_key ? command_key : NULL, !d->restarting);
        memset(command_key, 0, sizeof(command_key));
        if (rc != 0) return -1;
    } else {
        vdev_set_trust_key(d->vdev, d->fleet->trust_key);
        if (have_key) vdev_set_command_key(d->vdev, command_key);
        memset(command_key, 0, sizeof(command_key));
        vdev_platform_fill(d->vdev, &d->vplat);
        fill_platform(d, &plat);
        mqota_config_t cfg = {
            .device_id = d->id,
            .max_chunk = o->max_chunk,
            .max_window = o->max_window,
            .auto_reboot = true,
            .verify_bytes_per_process = 256u * 1024u,
            .require_signature = o->require_signature,
            .confirm_by_command = o->confirm_by_command && d->vplat.aead_open != NULL,
            .command_handler = dev_app_command,
            .command_ctx = d,
            .confirm_timeout_ms = o->confirm_timeout_ms,
            .health_interval_s = (uint32_t)o->health_interval_s,
        };
        mqota_status_t st = mqota_agent_init(&d->agent, &cfg, &plat, mqh_now_ms());
        if (st != MQOTA_OK) {
            mqh_log(MQH_ERROR, "%s: agent init failed: %s", d->id, mqota_strerror(st));
            return -1;
        }
    }
    /* The bootloader reports "rolled back" on every boot while the aborted or invalid slot
     * stays the active otadata entry; only the boot the agent reports as its rollback is news. */
    mqh_log(boot.rolled_back && mqota_agent_state(dev_agent(d)) == MQOTA_STATE_ROLLED_BACK &&
                    o->count <= 50 ? MQH_INFO : MQH_DEBUG,
            "%s: bootloader: %s", d->id, boot.message);
    arm_boot_faults(d);
    if (o->port != FLEET_PORT_ESP_IDF && new_client(d) != 0) return -1;
    d->conn = DEV_OFF;
    d->next_attempt_ms = mqh_now_ms();
    return 0;
}

void dev_connect(fleet_dev_t *d)
{
    const fleet_opts_t *o = &d->fleet->opt;
    int rc;
    /* with an emulated link the device talks to the link's proxy, which talks to the broker */
    const char *host = d->link_port ? "127.0.0.1" : o->broker.host;
    int port = d->link_port ? d->link_port : o->broker.port;
    if (d->connects == 0 && d->drops == 0 && d->conn == DEV_OFF)
        rc = mosquitto_connect_async(d->mosq, host, port, o->keepalive_s);
    else
        rc = mosquitto_reconnect_async(d->mosq);
    if (rc != MOSQ_ERR_SUCCESS) {
        mqh_log(MQH_DEBUG, "%s: connect to %s failed: %s", d->id, o->broker_url,
                rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
        schedule_reconnect(d);
        return;
    }
    d->conn = DEV_CONNECTING;
    sync_events(d);
}

/* Power the device off abruptly: queued publishes are flushed (the STATE saying why we
 * reboot), then the socket is closed without DISCONNECT so that the broker sends the will. */
static void power_off(fleet_dev_t *d)
{
    if (d->mosq) {
        for (int i = 0; i < 50 && d->conn == DEV_CONNECTED && mosquitto_want_write(d->mosq); i++) {
            if (mosquitto_loop_write(d->mosq, 1) != MOSQ_ERR_SUCCESS) break;
        }
        unregister(d);
        if (d->esp == NULL) mosquitto_destroy(d->mosq); /* closes the socket; no DISCONNECT */
        d->mosq = NULL;
    }
    esp_dev_power_off(d); /* an ESP-IDF port device: its chip's RAM, esp-mqtt's client too */
    if (d->lops != NULL) d->lops->power_off(d);
    d->lops = NULL;
    if (d->vdev) {
        vdev_close(d->vdev);
        d->vdev = NULL;
    }
    d->conn = DEV_OFF;
}

void dev_reboot(fleet_dev_t *d)
{
    d->reboot_due = false;
    d->reboots++;
    power_off(d);
    d->restarting = true;
    int rc = dev_power_on(d);
    d->restarting = false;
    if (rc == 0) {
        d->next_attempt_ms = mqh_now_ms() + d->fleet->opt.boot_delay_ms;
        d->connects = 0;
        d->drops = 0;
    }
}

void dev_handle_io(fleet_dev_t *d, uint32_t events)
{
    if (d->mosq == NULL) return;
    sample_wire(d);
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) mosquitto_loop_read(d->mosq, 1);
    if (d->mosq && (events & EPOLLOUT)) mosquitto_loop_write(d->mosq, 1);
    if (d->mosq) sync_events(d);
}

/* Fault injection: drop the link (as a modem losing its carrier does) once the agent's
 * progress crosses each configured fraction, in every release the device downloads. */
static void maybe_cut(fleet_dev_t *d)
{
    const fleet_opts_t *o = &d->fleet->opt;
    mqota_state_msg_t m;
    mqota_agent_state_msg(dev_agent(d), &m);
    if (m.state != MQOTA_STATE_DOWNLOADING || m.image_size == 0) return;
    if (o->crash_at > 0 && (double)m.progress / (double)m.image_size >= o->crash_at) {
        /* fault: the process dies at once, mid-write, as on a power cut */
        fprintf(stderr, "mqota-fleet: fault: %s crashes the fleet at %u of %u bytes\n", d->id,
                (unsigned)m.progress, (unsigned)m.image_size);
        raise(SIGKILL);
    }
    if (m.target_release != d->cut_release) {
        /* a download of another release: its cut points are armed again (a resumed download
         * of the same release keeps the cuts already done) */
        d->cut_release = m.target_release;
        d->cuts_done = 0;
    }
    if (d->cuts_done >= o->cut_count || d->conn != DEV_CONNECTED) return;
    if ((double)m.progress / (double)m.image_size >= o->cut_at[d->cuts_done]) {
        d->cuts_done++;
        mqh_log(MQH_INFO, "%s: fault: cutting the link at %u of %u bytes", d->id,
                (unsigned)m.progress, (unsigned)m.image_size);
        shutdown(mosquitto_socket(d->mosq), SHUT_RDWR);
    }
}

/* Log every update-state change with a millisecond timestamp: benchmarks time transfers from
 * these lines (INFO for small fleets, DEBUG for large ones). */
static void log_state_change(fleet_dev_t *d)
{
    mqota_update_state_t st = mqota_agent_state(dev_agent(d));
    if ((int)st == d->logged_state) return;
    d->logged_state = (int)st;
    if (d->fault_offline && st == MQOTA_STATE_ROLLED_BACK)
        mqh_log(MQH_INFO, "%s: fault: the agent gave up confirming %s after %llu ms offline",
                d->id, dev_agent(d)->running.version,
                (unsigned long long)(mqh_now_ms() - d->booted_ms));
    mqh_log(d->fleet->opt.count <= 50 ? MQH_INFO : MQH_DEBUG, "%s: state %s%s%s (%u bytes)",
            d->id, mqota_state_name(st), mqota_agent_reason(dev_agent(d)) ? " reason " : "",
            mqota_agent_reason(dev_agent(d)) ? mqota_reason_name(mqota_agent_reason(dev_agent(d))) : "",
            (unsigned)mqota_agent_progress(dev_agent(d)));
}

void dev_after_io(fleet_dev_t *d)
{
    if (d->conn == DEV_BRICKED || d->mosq == NULL) return;
    if (d->lops != NULL) { /* a legacy device: its protocol's side ran in the callbacks */
        d->process_due = false;
        sync_events(d);
        if (d->reboot_due) dev_reboot(d);
        return;
    }
    if (d->process_due) {
        d->process_due = false;
        if (d->esp != NULL) {
            esp_dev_run(d); /* the ESP-IDF port's agent task */
        } else {
            mqota_agent_process(&d->agent, mqh_now_ms());
            /* A virtual device has CPU to spare: finish reading the slot back now rather than
             * one step per timer tick (a real device calls process() from its own task). */
            for (int k = 0; k < 64 && mqota_agent_state(&d->agent) == MQOTA_STATE_VERIFYING;
                 k++)
                mqota_agent_process(&d->agent, mqh_now_ms());
        }
        log_state_change(d);
        maybe_cut(d);
        if (d->mosq) sync_events(d);
    }
    if (d->reboot_due) dev_reboot(d);
}

/*
 * The virtual application's readings, every --telemetry-interval seconds while connected
 * (POSIX-port devices): `temperature` from a deterministic pseudo-sensor, 20 + (index % 5) °C
 * plus a triangle wave of 0..3 °C over one minute of uptime, and `uptime_s`.
 */
static void publish_telemetry(fleet_dev_t *d, uint64_t now)
{
    uint64_t every = (uint64_t)d->fleet->opt.telemetry_interval_s * 1000u;
    if (every == 0 || d->esp != NULL || d->conn != DEV_CONNECTED ||
        now - d->telemetry_ms < every)
        return;
    d->telemetry_ms = now;
    uint64_t up_s = (now - d->booted_ms) / 1000u, phase = up_s % 60u;
    double wave = (double)(phase < 30u ? phase : 60u - phase) / 10.0;
    const mqota_sample_t s[] = {{"temperature", 20.0 + (double)(d->index % 5) + wave},
                                {"uptime_s", (double)up_s}};
    mqota_status_t st = mqota_agent_publish_telemetry(&d->agent, s, 2);
    if (st != MQOTA_OK)
        mqh_log(MQH_DEBUG, "%s: telemetry not sent: %s", d->id, mqota_strerror(st));
}

/*
 * Fault --crash-loop VER: a device running VER that has confirmed it (no longer
 * pending-verify) panics --crash-every seconds after each connection: the RTC file says panic
 * with a crash reason, and the device resets. The bootloader boots the confirmed VER again, so
 * it loops; each boot's health report says panic. On the ESP-IDF port the chip boots with
 * esp_reset_reason() ESP_RST_PANIC and the crash reason is its core dump's panic reason
 * (tests/emu/esp-idf: esp_core_dump_get_panic_reason()).
 */
static void maybe_panic(fleet_dev_t *d, uint64_t now)
{
    const fleet_opts_t *o = &d->fleet->opt;
    const mqota_agent_t *a = dev_agent(d);
    uint64_t after = (uint64_t)(o->crash_every_s > 0 ? o->crash_every_s : 3) * 1000u;
    if (o->crash_loop == NULL || d->conn != DEV_CONNECTED ||
        now - d->connected_ms < after || strcmp(a->running.version, o->crash_loop) != 0 ||
        mqota_agent_state(a) == MQOTA_STATE_PENDING_VERIFY)
        return;
    d->fault_panics++;
    mqh_log(MQH_INFO, "%s: fault: %s panics (--crash-loop), boot %u", d->id,
            a->running.version, (unsigned)a->running.boot_count);
    (void)vdev_set_reset_reason(d->vdev, MQOTA_RESET_PANIC,
                                "LoadProhibited (mqota-fleet --crash-loop)");
    dev_reboot(d);
}

void dev_tick(fleet_dev_t *d)
{
    uint64_t now = mqh_now_ms();
    if (d->conn == DEV_BRICKED || d->mosq == NULL) return;
    if ((d->conn == DEV_OFF || d->conn == DEV_BACKOFF) && now >= d->next_attempt_ms &&
        !d->fault_offline) {
        dev_connect(d);
    }
    if (d->conn == DEV_CONNECTED || d->conn == DEV_CONNECTING) {
        mosquitto_loop_misc(d->mosq); /* keepalive */
    }
    if (d->lops != NULL) {
        d->lops->tick(d, now);
        dev_after_io(d);
        return;
    }
    publish_telemetry(d, now);
    maybe_panic(d, now);
    if (d->mosq == NULL) return;
    d->process_due = true; /* agent timers: ack retry, verify steps, confirm timeout */
    dev_after_io(d);
}

void dev_shutdown(fleet_dev_t *d)
{
    if (d->mosq && d->conn == DEV_CONNECTED && d->lops != NULL) {
        mosquitto_disconnect(d->mosq);
        for (int i = 0; i < 20 && mosquitto_want_write(d->mosq); i++)
            if (mosquitto_loop_write(d->mosq, 1) != MOSQ_ERR_SUCCESS) break;
    } else if (d->mosq && d->conn == DEV_CONNECTED) {
        char topic[MQOTA_TOPIC_MAX];
        mqota_agent_topic(dev_agent(d), MQOTA_TOPIC_ONLINE, topic, sizeof(topic));
        mosquitto_publish(d->mosq, NULL, topic, (int)strlen(MQOTA_OFFLINE_PAYLOAD),
                          MQOTA_OFFLINE_PAYLOAD, 1, true);
        mosquitto_disconnect(d->mosq);
        for (int i = 0; i < 20 && mosquitto_want_write(d->mosq); i++)
            if (mosquitto_loop_write(d->mosq, 1) != MOSQ_ERR_SUCCESS) break;
    }
    if (d->mosq) {
        unregister(d);
        if (d->esp == NULL) mosquitto_destroy(d->mosq);
        d->mosq = NULL;
    }
    esp_dev_free(d);
    if (d->lops != NULL) d->lops->power_off(d);
    d->lops = NULL;
    if (d->vdev) {
        vdev_close(d->vdev);
        d->vdev = NULL;
    }
}
