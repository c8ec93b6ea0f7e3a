/* SPDX-License-Identifier: Apache-2.0 */
/*
 * legacy_tcp.c - the adapter of legacy protocol 4 (docs/LEGACY.md §4): devices running the
 * MicroPython framework take commands on cmnd/<name>/OTA, answer on stat/<name>/Log and
 * announce their address on stat/<name>/OTA after `open`; the image goes over a TCP
 * connection to that address, as a header and SHA-1-chained 4096-byte blocks
 * (common/mqota_legacy_tcp.c).
 *
 * One attempt, per device, as a small state machine driven by MQTT messages, socket readiness
 * (one epoll instance for every device's socket, polled by the main loop) and timers:
 *
 *   start -> OPENING   `open` published; waiting for the announcement (LTCP_ANNOUNCE_TIMEOUT_MS)
 *         -> CONNECTING the announced address, only inside --legacy-tcp-net (else the attempt
 *                      fails with reason config: nothing is connected, nothing retried)
 *         -> HEADER    header sent, waiting for '1'
 *         -> BLOCKS    one block at a time, each answered '2' (LTCP_IO_TIMEOUT_MS each)
 *         -> DONE      after the last block, waiting for '3'; then the socket is closed,
 *                      `reboot` published and the framework told the image is handed over
 *         -> ASKING    `getversion` every LTCP_ASK_EVERY_MS until the device answers; the
 *                      release's version: `keepversion`, then CONFIRMING until it answers
 *                      "kept", which is the report that counts (without keepversion the
 *                      device rolls back at its next reboot); another version: reported as
 *                      it is (policy fails the target)
 *
 * A device that answers '0' (a block's SHA-1 did not match), closes the connection or stays
 * silent past a timeout fails the attempt; the framework retries it from `open`.
 */
#include "legacy_tcp.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "legacy.h"
#include "mqota_legacy_tcp.h"

#define MAX_EVENTS 64
#define LOG_LINE_MAX 128u /* longest stat/<name>/Log message read */

typedef struct legacy_tcp {
    int epfd;
} legacy_tcp_t;

typedef enum {
    ST_IDLE = 0,
    ST_OPENING,
    ST_CONNECTING,
    ST_HEADER,
    ST_BLOCKS,
    ST_DONE,
    ST_ASKING,
    ST_CONFIRMING,
} ltcp_state_t;

/* A protocol 4 device's session (ld->session). */
typedef struct {
    legacy_dev_t *ld;
    char name[LTCP_NAME_MAX + 1];
    char cmnd[LEGACY_TOPIC_MAX + 1], log[LEGACY_TOPIC_MAX + 1], ota[LEGACY_TOPIC_MAX + 1];
    ltcp_state_t st;
    int fd;
    uint16_t blocks, block;         /* the image's blocks; the one being sent or awaited */
    uint8_t prev[LTCP_HASH_LEN];    /* the chain's previous SHA-1 */
    uint8_t out[LTCP_BLOCK_LEN];    /* what is being written */
    size_t out_len, out_off;
    uint64_t deadline_ms;           /* the current step's timeout */
} ltcp_session_t;

int legacy_tcp__init(mqotad_t *d)
{
    d->ltcp = calloc(1, sizeof(*d->ltcp));
    if (!d->ltcp) return -1;
    d->ltcp->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (d->ltcp->epfd < 0) {
        mqh_log(MQH_ERROR, "legacy tcp: epoll_create1: %s", strerror(errno));
        free(d->ltcp);
        d->ltcp = NULL;
        return -1;
    }
    return 0;
}

void legacy_tcp__cleanup(mqotad_t *d)
{
    if (!d->ltcp) return;
    close(d->ltcp->epfd);
    free(d->ltcp);
    d->ltcp = NULL;
}

int legacy_tcp__fd(mqotad_t *d)
{
    return d->ltcp ? d->ltcp->epfd : -1;
}

/* A device name fits a topic level: 1..LTCP_NAME_MAX of [A-Za-z0-9_.-]. */
static bool name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > LTCP_NAME_MAX) return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '.' || *s == '-'))
            return false;
    return true;
}

static int check_params(mqotad_t *d, const char *device_id, cJSON *params, char *err,
                        size_t cap)
{
    (void)d;
    cJSON *it, *name = cJSON_GetObjectItemCaseSensitive(params, "name");
    cJSON_ArrayForEach(it, params) {
        if (strcmp(it->string, "name") != 0 && strcmp(it->string, "reboot_timeout_s") != 0 &&
            strcmp(it->string, "mqtt_user") != 0) { /* the broker login: auth.c judges it */
            snprintf(err, cap, "parameter \"%.40s\" is not one of the tcp protocol's (name, "
                     "reboot_timeout_s, mqtt_user, mqtt_password)", it->string);
            return -1;
        }
    }
    if (!name) { /* the device's own id by default */
        if (!name_ok(device_id) || !cJSON_AddStringToObject(params, "name", device_id)) {
            snprintf(err, cap, "parameter \"name\" is needed: the <name> of the device's "
                     "cmnd/<name>/OTA topic");
            return -1;
        }
        return 0;
    }
    if (!cJSON_IsString(name) || !name_ok(name->valuestring)) {
        snprintf(err, cap, "parameter \"name\" must be the <name> of the device's "
                 "cmnd/<name>/OTA topic: 1 to %u of A-Z a-z 0-9 _ . -", LTCP_NAME_MAX);
        return -1;
    }
    return 0;
}

static void close_socket(mqotad_t *d, ltcp_session_t *s)
{
    if (s->fd < 0) return;
    if (d->ltcp) epoll_ctl(d->ltcp->epfd, EPOLL_CTL_DEL, s->fd, NULL);
    close(s->fd);
    s->fd = -1;
}

static int attach(mqotad_t *d, legacy_dev_t *ld)
{
    cJSON *name = cJSON_GetObjectItemCaseSensitive(ld->params, "name");
    ltcp_session_t *s = calloc(1, sizeof(*s));
    if (!s || !cJSON_IsString(name) || !name_ok(name->valuestring)) {
        free(s);
        return -1;
    }
    s->ld = ld;
    s->fd = -1;
    snprintf(s->name, sizeof(s->name), "%s", name->valuestring);
    snprintf(s->cmnd, sizeof(s->cmnd), "cmnd/%s/OTA", s->name);
    snprintf(s->log, sizeof(s->log), "stat/%s/Log", s->name);
    snprintf(s->ota, sizeof(s->ota), "stat/%s/OTA", s->name);
    ld->session = s;
    if (legacy__listen(d, ld, s->log, 1) != 0 || legacy__listen(d, ld, s->ota, 1) != 0) {
        ld->session = NULL;
        free(s);
        return -1;
    }
    return 0;
}

static void detach(mqotad_t *d, legacy_dev_t *ld)
{
    ltcp_session_t *s = ld->session;
    if (!s) return;
    close_socket(d, s);
    free(s);
    ld->session = NULL;
}

/* Publish a command word on cmnd/<name>/OTA (QoS 1). */
static void command(mqotad_t *d, ltcp_session_t *s, const char *word)
{
    mqtt__publish(d, s->cmnd, word, strlen(word), 1, false);
}

/* Move to state st with a deadline (0: none); the framework ticks us at the deadline. */
static void go(ltcp_session_t *s, ltcp_state_t st, uint64_t deadline_ms)
{
    s->st = st;
    s->deadline_ms = deadline_ms;
    legacy__set_timer(s->ld, deadline_ms);
}

static int start(mqotad_t *d, legacy_dev_t *ld, uint64_t now_ms)
{
    ltcp_session_t *s = ld->session;
    uint32_t n = ltcp_blocks(ld->job->size);
    close_socket(d, s);
    if (n == 0) {
        legacy__attempt_failed(d, ld, LEGACY_REASON_SIZE, "the image is larger than 65535 "
                               "blocks of 4096 bytes", now_ms);
        return 0;
    }
    s->blocks = (uint16_t)n;
    s->block = 0;
    memset(s->prev, 0, sizeof(s->prev));
    command(d, s, "open");
    go(s, ST_OPENING, now_ms + LTCP_ANNOUNCE_TIMEOUT_MS);
    return 0;
}

static void abort_attempt(mqotad_t *d, legacy_dev_t *ld)
{
    ltcp_session_t *s = ld->session;
    close_socket(d, s);
    s->st = ST_IDLE;
    s->deadline_ms = 0;
}

/* The attempt failed: the framework aborts and retries (or fails the target). */
static void fail(mqotad_t *d, ltcp_session_t *s, legacy_reason_t why, const char *detail,
                 uint64_t now_ms)
{
    legacy__attempt_failed(d, s->ld, why, detail, now_ms);
}

/* Queue bytes to write (the whole of out) and ask for writability. */
static void queue_out(mqotad_t *d, ltcp_session_t *s, size_t len)
{
    s->out_len = len;
    s->out_off = 0;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = s};
    epoll_ctl(d->ltcp->epfd, EPOLL_CTL_MOD, s->fd, &ev);
}

/* Connect (non-blocking) to the announced address, when it lies inside --legacy-tcp-net. */
static void connect_to(mqotad_t *d, ltcp_session_t *s, uint32_t addr, uint16_t port,
                       uint64_t now_ms)
{
    char text[64], why[300];
    struct in_addr ia = {.s_addr = htonl(addr)};
    inet_ntop(AF_INET, &ia, text, sizeof(text));
    if (!d->ltcp_net_on || !ltcp_addr_in_net(addr, d->ltcp_net, d->ltcp_prefix)) {
        struct in_addr na = {.s_addr = htonl(d->ltcp_net)};
        char net[32];
        inet_ntop(AF_INET, &na, net, sizeof(net));
        if (d->ltcp_net_on)
            snprintf(why, sizeof(why), "the device announced %s, outside --legacy-tcp-net "
                     "%s/%u: nothing was connected", text, net, d->ltcp_prefix);
        else
            snprintf(why, sizeof(why), "the device announced %s but --legacy-tcp-net is none: "
                     "mqotad connects to no protocol 4 device until it names their network",
                     text);
        mqh_log(MQH_WARN, "legacy device %s: %s", s->ld->id, why);
        fail(d, s, LEGACY_REASON_CONFIG, why, now_ms);
        return;
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr = ia};
    s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->fd < 0) goto err;
    if (connect(s->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 && errno != EINPROGRESS)
        goto err;
    struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = s};
    if (epoll_ctl(d->ltcp->epfd, EPOLL_CTL_ADD, s->fd, &ev) != 0) goto err;
    mqh_log(MQH_DEBUG, "legacy device %s: connecting to %s:%u", s->ld->id, text, port);
    go(s, ST_CONNECTING, now_ms + LTCP_IO_TIMEOUT_MS);
    return;
err:
    snprintf(why, sizeof(why), "cannot connect to %s:%u: %s", text, port, strerror(errno));
    if (s->fd >= 0) close(s->fd);
    s->fd = -1;
    fail(d, s, LEGACY_REASON_TIMEOUT, why, now_ms);
}

/* Build and queue the block s->block. */
static void send_block(mqotad_t *d, ltcp_session_t *s, uint64_t now_ms)
{
    legacy_job_t *j = s->ld->job;
    uint8_t next[LTCP_HASH_LEN];
    if (ltcp_block_encode(j->image, j->size, s->block, s->prev, s->out, next) != LTCP_OK) {
        fail(d, s, LEGACY_REASON_DEVICE_ERROR, "cannot build a block (SHA-1)", now_ms);
        return;
    }
    memcpy(s->prev, next, sizeof(next));
    queue_out(d, s, LTCP_BLOCK_LEN);
    go(s, ST_BLOCKS, now_ms + LTCP_IO_TIMEOUT_MS);
}

/* One answer byte from the device. */
static void on_answer(mqotad_t *d, ltcp_session_t *s, uint8_t c, uint64_t now_ms)
{
    legacy_job_t *j = s->ld->job;
    char why[96];
    if (c == LTCP_ACK_HEADER && s->st == ST_HEADER) {
        legacy__started(d, s->ld);
        send_block(d, s, now_ms);
        return;
    }
    if (c == LTCP_ACK_BLOCK && s->st == ST_BLOCKS && s->out_off == s->out_len) {
        uint32_t acked = (uint32_t)(s->block + 1) * LTCP_BLOCK_DATA;
        legacy__progress(d, s->ld, acked > j->size ? j->size : acked, LTCP_BLOCK_DATA, 0);
        if (++s->block < s->blocks) send_block(d, s, now_ms);
        else go(s, ST_DONE, now_ms + LTCP_IO_TIMEOUT_MS);
        return;
    }
    if (c == LTCP_ACK_DONE && (s->st == ST_DONE || s->st == ST_BLOCKS) &&
        s->block + 1 >= s->blocks) {
        close_socket(d, s);
        command(d, s, "reboot");
        legacy__image_done(d, s->ld, now_ms);
        go(s, ST_ASKING, now_ms + LTCP_ASK_EVERY_MS);
        return;
    }
    if (c == '0')
        snprintf(why, sizeof(why), "the device refused block %u (its SHA-1 chain did not "
                 "match)", s->block);
    else
        snprintf(why, sizeof(why), "the device answered 0x%02x in step %d", c, (int)s->st);
    fail(d, s, c == '0' ? LEGACY_REASON_CHECKSUM : LEGACY_REASON_DEVICE_ERROR, why, now_ms);
}

/* Socket readiness for s. */
static void on_io(mqotad_t *d, ltcp_session_t *s, uint32_t events, uint64_t now_ms)
{
    char why[128];
    if (s->st == ST_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof(err);
        if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
            snprintf(why, sizeof(why), "cannot connect to the announced address: %s",
                     strerror(err ? err : errno));
            fail(d, s, LEGACY_REASON_TIMEOUT, why, now_ms);
            return;
        }
        ltcp_header_encode(s->blocks, s->out);
        queue_out(d, s, LTCP_HEADER_LEN);
        go(s, ST_HEADER, now_ms + LTCP_IO_TIMEOUT_MS);
        events |= EPOLLOUT;
    }
    if ((events & EPOLLOUT) && s->out_off < s->out_len) {
        ssize_t n = send(s->fd, s->out + s->out_off, s->out_len - s->out_off, MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            snprintf(why, sizeof(why), "the connection broke while sending: %s", strerror(errno));
            fail(d, s, LEGACY_REASON_TIMEOUT, why, now_ms);
            return;
        }
        if (n > 0) s->out_off += (size_t)n;
        if (s->out_off == s->out_len) { /* all out: wait for the answer only */
            struct epoll_event ev = {.events = EPOLLIN, .data.ptr = s};
            epoll_ctl(d->ltcp->epfd, EPOLL_CTL_MOD, s->fd, &ev);
        }
    }
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        uint8_t buf[16];
        ssize_t n = recv(s->fd, buf, sizeof(buf), 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
            snprintf(why, sizeof(why), "the device closed the connection at block %u of %u",
                     s->block, s->blocks);
            fail(d, s, LEGACY_REASON_TIMEOUT, why, now_ms);
            return;
        }
        for (ssize_t i = 0; i < n && s->fd >= 0; i++) on_answer(d, s, buf[i], now_ms);
    }
}

void legacy_tcp__io(mqotad_t *d, uint64_t now_ms)
{
    struct epoll_event ev[MAX_EVENTS];
    if (!d->ltcp) return;
    int n = epoll_wait(d->ltcp->epfd, ev, MAX_EVENTS, 0);
    for (int i = 0; i < n; i++) {
        ltcp_session_t *s = ev[i].data.ptr;
        /* a socket closed by an earlier event of this batch is gone from epoll, not from ev */
        if (s->fd >= 0 && s->st >= ST_CONNECTING && s->st <= ST_DONE)
            on_io(d, s, ev[i].events, now_ms);
    }
}

/* Whether payload is exactly word + " " + something; the something into out. */
static bool take_reply(const uint8_t *p, size_t len, const char *word, char *out, size_t cap)
{
    size_t w = strlen(word);
    if (len > LOG_LINE_MAX || len <= w + 1 || memcmp(p, word, w) != 0 || p[w] != ' ') return false;
    size_t n = len - w - 1;
    if (n > 0 && p[w + 1 + n - 1] == '\n') n--;
    if (n == 0 || n >= cap) return false;
    memcpy(out, p + w + 1, n);
    out[n] = '\0';
    return true;
}

static void on_message(mqotad_t *d, legacy_dev_t *ld, const char *topic, const uint8_t *payload,
                       size_t len, bool retained, uint64_t now_ms)
{
    ltcp_session_t *s = ld->session;
    char ver[33];
    if (retained) return; /* answers are live; a retained one is from an earlier session */
    if (strcmp(topic, s->ota) == 0) {
        uint32_t addr;
        uint16_t port;
        if (s->st != ST_OPENING || !ld->job) return;
        if (ltcp_announce_parse(payload, len, &addr, &port) != LTCP_OK) {
            fail(d, s, LEGACY_REASON_DEVICE_ERROR, "the device's address announcement is not "
                 "an IPv4 address", now_ms);
            return;
        }
        connect_to(d, s, addr, port, now_ms);
        return;
    }
    /* stat/<name>/Log: "version V" answers getversion, "kept V" answers keepversion */
    if (take_reply(payload, len, "version", ver, sizeof(ver))) {
        legacy_job_t *j = ld->job;
        if (s->st == ST_ASKING && j && strcmp(ver, j->version) == 0) {
            command(d, s, "keepversion");
            go(s, ST_CONFIRMING, now_ms + LTCP_ASK_EVERY_MS);
            return;
        }
        bool booted = s->st == ST_ASKING;
        if (booted) go(s, ST_IDLE, 0);
        legacy__reported(d, ld, &(legacy_report_t){.version = ver, .booted = booted});
        return;
    }
    if (take_reply(payload, len, "kept", ver, sizeof(ver)) && s->st == ST_CONFIRMING) {
        go(s, ST_IDLE, 0);
        legacy__reported(d, ld, &(legacy_report_t){.version = ver, .booted = true});
    }
}

/* Timers: a step's deadline, or the next getversion / keepversion. */
static void tick(mqotad_t *d, legacy_dev_t *ld, uint64_t now_ms)
{
    ltcp_session_t *s = ld->session;
    char why[96];
    switch (s->st) {
    case ST_ASKING:
        command(d, s, "getversion");
        go(s, ST_ASKING, now_ms + LTCP_ASK_EVERY_MS);
        return;
    case ST_CONFIRMING:
        command(d, s, "keepversion");
        go(s, ST_CONFIRMING, now_ms + LTCP_ASK_EVERY_MS);
        return;
    case ST_OPENING:
    case ST_CONNECTING:
    case ST_HEADER:
    case ST_BLOCKS:
    case ST_DONE:
        if (now_ms < s->deadline_ms) {
            legacy__set_timer(ld, s->deadline_ms);
            return;
        }
        snprintf(why, sizeof(why), "no answer %s within %u ms",
                 s->st == ST_OPENING ? "to open (no address announced)" : "on the connection",
                 s->st == ST_OPENING ? LTCP_ANNOUNCE_TIMEOUT_MS : LTCP_IO_TIMEOUT_MS);
        fail(d, s, LEGACY_REASON_TIMEOUT, why, now_ms);
        return;
    default:
        return;
    }
}

/* The device reads cmnd/<name>/OTA and writes stat/<name>/Log and stat/<name>/OTA. */
static int topics(const cJSON *params, legacy_topics_t *out)
{
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(params, "name");
    if (!cJSON_IsString(name) || !name_ok(name->valuestring)) return -1;
    snprintf(out->reads[0], sizeof(out->reads[0]), "cmnd/%s/OTA", name->valuestring);
    snprintf(out->writes[0], sizeof(out->writes[0]), "stat/%s/Log", name->valuestring);
    snprintf(out->writes[1], sizeof(out->writes[1]), "stat/%s/OTA", name->valuestring);
    out->n_reads = 1;
    out->n_writes = 2;
    return 0;
}

const legacy_adapter_t legacy_tcp_adapter = {
    .protocol = DB_PROTO_TCP,
    .check_params = check_params,
    .attach = attach,
    .detach = detach,
    .start = start,
    .on_message = on_message,
    .tick = tick,
    .abort = abort_attempt,
    .topics = topics,
};
