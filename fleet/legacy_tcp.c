/* SPDX-License-Identifier: Apache-2.0 */
/*
 * legacy_tcp.c - the device side of legacy protocol 4 (docs/LEGACY.md §4), as boards running
 * the MicroPython framework behave: commands on cmnd/<id>/OTA, answers as text on
 * stat/<id>/Log ("version V" to getversion, "kept V" to keepversion, a line for the others),
 * and after `open` a TCP listener whose address goes out on stat/<id>/OTA ("127.0.0.1:PORT";
 * --tcp-announce replaces it, a fault). On the connection: the header (answered '1'), then the
 * SHA-1-chained blocks (each checked, written to the inactive slot and answered '2'; a broken
 * chain is answered '0' and the connection closed); after the last block the image is checked
 * and made the boot slot, answered '3'. `reboot` restarts through the virtual bootloader; the
 * new image runs pending-verify and rolls back at the next reset unless `keepversion` marks it
 * valid first (the framework's quirk).
 *
 * The sockets are non-blocking and served from tick() (the fleet's TICK_MS): a tick drains
 * what has arrived and waits for more at most its share of TCP_TICK_BUDGET_MS, so one tick
 * takes many blocks on loopback when the fleet is small, one block per device when it is large.
 */
#define _GNU_SOURCE /* accept4 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fleet.h"
#include "legacy.h"
#include "mqota_legacy_tcp.h"
#include "mqota_posix/vdev.h"

/* Longest the fleet's devices together wait on their connections in one tick, ms: each
 * device waits its share (none when there are more than that many devices). */
#define TCP_TICK_BUDGET_MS 30

typedef struct {
    char cmnd[MQOTA_TOPIC_MAX], log[MQOTA_TOPIC_MAX], ota[MQOTA_TOPIC_MAX];
    mqota_running_t running;
    int lfd, cfd;                   /* listener after `open`; the accepted connection */
    bool got_header;
    uint16_t blocks, next;
    uint8_t prev[LTCP_HASH_LEN];
    uint8_t buf[LTCP_BLOCK_LEN];
    size_t have;
    uint8_t slot;
    bool image_done;
} tcp_dev_t;

static void log_line(fleet_dev_t *d, const char *fmt, const char *arg)
{
    tcp_dev_t *t = d->legacy;
    char line[160];
    snprintf(line, sizeof(line), fmt, arg);
    fleet_legacy_publish(d, t->log, line, strlen(line), 1, false);
}

static void close_conn(tcp_dev_t *t)
{
    if (t->cfd >= 0) close(t->cfd);
    t->cfd = -1;
    t->have = 0;
    t->got_header = false;
}

static void close_all(tcp_dev_t *t)
{
    close_conn(t);
    if (t->lfd >= 0) close(t->lfd);
    t->lfd = -1;
}

static int boot(fleet_dev_t *d)
{
    tcp_dev_t *t = calloc(1, sizeof(*t));
    if (t == NULL) return -1;
    d->legacy = t;
    t->lfd = t->cfd = -1;
    snprintf(t->cmnd, sizeof(t->cmnd), "cmnd/%s/OTA", d->id);
    snprintf(t->log, sizeof(t->log), "stat/%s/Log", d->id);
    snprintf(t->ota, sizeof(t->ota), "stat/%s/OTA", d->id);
    if (d->vplat.running(d->vplat.ctx, &t->running) != 0) return -1;
    mqh_log(MQH_INFO, "%s: protocol tcp, running %s", d->id, t->running.version);
    return 0;
}

static void on_connect(fleet_dev_t *d)
{
    tcp_dev_t *t = d->legacy;
    mosquitto_subscribe(d->mosq, NULL, t->cmnd, 1);
    log_line(d, "boot %s", t->running.version);
}

/* `open`: a listener on a free loopback port, announced on stat/<id>/OTA. */
static void open_listener(fleet_dev_t *d)
{
    tcp_dev_t *t = d->legacy;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    char text[64];
    close_all(t);
    t->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (t->lfd < 0 || bind(t->lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        listen(t->lfd, 1) != 0 || getsockname(t->lfd, (struct sockaddr *)&sa, &len) != 0) {
        log_line(d, "open failed: %s", strerror(errno));
        close_all(t);
        return;
    }
    const char *ann = d->fleet->opt.tcp_announce;
    if (ann) snprintf(text, sizeof(text), "%s", ann);
    else snprintf(text, sizeof(text), "127.0.0.1:%u", (unsigned)ntohs(sa.sin_port));
    fleet_legacy_publish(d, t->ota, text, strlen(text), 1, false);
}

static void answer(tcp_dev_t *t, char c)
{
    if (t->cfd >= 0) (void)send(t->cfd, &c, 1, MSG_NOSIGNAL);
}

/* A whole header or block is in t->buf. false: the connection is closed. */
static bool take(fleet_dev_t *d)
{
    tcp_dev_t *t = d->legacy;
    const uint8_t *data = NULL;
    uint32_t cap = 0;
    if (!t->got_header) {
        ltcp_status_t s = ltcp_header_decode(t->buf, LTCP_HEADER_LEN, &t->blocks);
        t->slot = (uint8_t)(t->running.running_slot == 0 ? 1 : 0);
        uint32_t size = (uint32_t)t->blocks * LTCP_BLOCK_DATA;
        if (s != LTCP_OK || d->vplat.slot_size(d->vplat.ctx, t->slot, &cap) != 0 || size > cap ||
            d->vplat.slot_begin(d->vplat.ctx, t->slot, size, 0) != 0) {
            mqh_log(MQH_INFO, "%s: header refused: %s", d->id, ltcp_strerror(s));
            answer(t, '0');
            close_conn(t);
            return false;
        }
        t->got_header = true;
        t->next = 0;
        memset(t->prev, 0, sizeof(t->prev));
        t->have = 0;
        answer(t, LTCP_ACK_HEADER);
        return true;
    }
    /* the wire's damage lands before the device checks anything */
    if (fleet_legacy_corrupt_now(d, (uint32_t)t->next + 1u))
        t->buf[LTCP_HASH_LEN + 2 + LTCP_BLOCK_DATA / 2] ^= 1;
    ltcp_status_t s = ltcp_block_decode(t->buf, LTCP_BLOCK_LEN, t->next, t->prev, &data);
    t->have = 0;
    if (s != LTCP_OK) {
        mqh_log(MQH_INFO, "%s: block %u refused: %s", d->id, (unsigned)t->next, ltcp_strerror(s));
        answer(t, '0');
        close_conn(t);
        return false;
    }
    if (d->vplat.slot_write(d->vplat.ctx, t->slot, (uint32_t)t->next * LTCP_BLOCK_DATA, data,
                            LTCP_BLOCK_DATA) != 0) {
        answer(t, '0');
        close_conn(t);
        return false;
    }
    d->rx_chunk_bytes += LTCP_BLOCK_DATA;
    t->next++;
    answer(t, LTCP_ACK_BLOCK);
    uint32_t total = (uint32_t)t->blocks * LTCP_BLOCK_DATA;
    if (t->next < t->blocks) {
        /* --cut-at: the board stops mid-transfer (the socket closes under it) */
        const fleet_opts_t *o = &d->fleet->opt;
        if (d->cuts_done < o->cut_count &&
            (double)t->next * LTCP_BLOCK_DATA / (double)total >= o->cut_at[d->cuts_done]) {
            d->cuts_done++;
            mqh_log(MQH_INFO, "%s: fault: closing the connection at block %u of %u", d->id,
                    (unsigned)t->next, (unsigned)t->blocks);
            close_conn(t);
            return false;
        }
        return true;
    }
    if (fleet_legacy_finish_image(d, t->slot, total) != 0) {
        answer(t, '0');
        close_conn(t);
        return false;
    }
    mqh_log(MQH_INFO, "%s: %u blocks written and checked; waiting for reboot", d->id,
            (unsigned)t->blocks);
    t->image_done = true;
    answer(t, LTCP_ACK_DONE);
    close_all(t);
    return false;
}

/* Read what the connection has; false when nothing more is to be read now. */
static bool serve(fleet_dev_t *d)
{
    tcp_dev_t *t = d->legacy;
    if (t->cfd < 0 && t->lfd >= 0) {
        t->cfd = accept4(t->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (t->cfd < 0) return false;
        t->have = 0;
        t->got_header = false;
    }
    if (t->cfd < 0) return false;
    size_t want = t->got_header ? LTCP_BLOCK_LEN : LTCP_HEADER_LEN;
    ssize_t n = recv(t->cfd, t->buf + t->have, want - t->have, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
        mqh_log(MQH_INFO, "%s: the server closed the connection", d->id);
        close_conn(t);
        return false;
    }
    if (n < 0) return false;
    t->have += (size_t)n;
    if (t->have == want) return take(d);
    return true;
}

static void tick(fleet_dev_t *d, uint64_t now_ms)
{
    tcp_dev_t *t = d->legacy;
    (void)now_ms;
    uint64_t until = mqh_now_ms() + TCP_TICK_BUDGET_MS / (uint64_t)d->fleet->opt.count;
    while (t->lfd >= 0 || t->cfd >= 0) {
        if (serve(d)) continue;
        uint64_t now = mqh_now_ms();
        if (now >= until || (t->lfd < 0 && t->cfd < 0)) break;
        struct pollfd p = {.fd = t->cfd >= 0 ? t->cfd : t->lfd, .events = POLLIN};
        if (poll(&p, 1, (int)(until - now)) <= 0) break;
    }
}

static void on_message(fleet_dev_t *d, const struct mosquitto_message *msg)
{
    tcp_dev_t *t = d->legacy;
    char cmd[32];
    size_t len = msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0;
    if (strcmp(msg->topic, t->cmnd) != 0 || len == 0 || len >= sizeof(cmd)) return;
    memcpy(cmd, msg->payload, len);
    cmd[len] = '\0';
    if (strcmp(cmd, "getversion") == 0) {
        log_line(d, "version %s", t->running.version);
    } else if (strcmp(cmd, "open") == 0) {
        open_listener(d);
    } else if (strcmp(cmd, "reboot") == 0) {
        log_line(d, "%s", "rebooting");
        fleet_legacy_restart(d);
    } else if (strcmp(cmd, "keepversion") == 0) {
        mqota_slot_state_t st;
        if (d->vplat.slot_state(d->vplat.ctx, &st) == 0 && st == MQOTA_SLOT_PENDING_VERIFY)
            (void)d->vplat.slot_mark_valid(d->vplat.ctx);
        log_line(d, "kept %s", t->running.version);
    } else if (strcmp(cmd, "partitions") == 0 || strcmp(cmd, "stats") == 0 ||
               strcmp(cmd, "msg_reboot") == 0 || strcmp(cmd, "msg_exception") == 0 ||
               strcmp(cmd, "msg_rm") == 0) {
        log_line(d, "%s: nothing to report", cmd);
    } else {
        log_line(d, "unknown command %.20s", cmd);
    }
}

static void power_off(fleet_dev_t *d)
{
    tcp_dev_t *t = d->legacy;
    if (t) close_all(t);
    free(t);
    d->legacy = NULL;
}

const fleet_legacy_ops_t fleet_legacy_tcp_ops = {
    .boot = boot,
    .on_connect = on_connect,
    .on_message = on_message,
    .tick = tick,
    .power_off = power_off,
};
