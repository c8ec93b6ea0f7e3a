/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench.c - the shared half of the baseline transfers (see bench.h): command line, virtual
 * flash, two libmosquitto clients on one poll loop with reconnects, TCP_INFO byte counters,
 * the JSON report.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <linux/tcp.h> /* struct tcp_info with tcpi_bytes_received (glibc's lacks it) */
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#define KEEPALIVE_S 60
#define POLL_MS 20           /* loop turn when idle: bounds timer lateness */
#define RECONNECT_DELAY_MS 1000

static void usage(FILE *out, const char *prog, const char *extra)
{
    fprintf(out,
            "usage: %s --broker URL --image FILE --flash DIR [options]\n"
            "\n%s\n"
            "options:\n"
            "  --broker URL            the sender's broker, mqtt://host:port (direct)\n"
            "  --device-broker URL     the device's way to the same broker, normally an\n"
            "                          mqota-linkemu port (default: --broker)\n"
            "  --image FILE            the ESP32 image to transfer\n"
            "  --flash DIR             where the device's 4 MiB flash file goes\n"
            "  --give-up-after S       stop S seconds after the start and report how far it\n"
            "                          got (default 3600)\n"
            "  --connect-timeout S     give up if the clients are not ready after S (default 30)\n"
            "  --help                  this text\n"
            "\n"
            "Prints one JSON line: protocol, image_bytes, completed, bytes_done, seconds,\n"
            "wire_bytes_down (TCP bytes the device's sockets received), wire_bytes_up,\n"
            "bytes_resent, reconnects, verified.\n",
            prog, extra);
}

static double parse_seconds(const char *prog, const char *flag, const char *s)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v > 0) || v > 86400) {
        fprintf(stderr, "%s: %s '%s' is not a number of seconds in (0, 86400].\n", prog, flag, s);
        exit(2);
    }
    return v;
}

static int load_file(const char *path, uint8_t **out, uint32_t *size)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) return -1;
    uint8_t *buf = NULL;
    long n = -1;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && n < (16L << 20) &&
        fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n)) != NULL &&
        fread(buf, 1, (size_t)n, f) == (size_t)n) {
        fclose(f);
        *out = buf;
        *size = (uint32_t)n;
        return 0;
    }
    free(buf);
    fclose(f);
    return -1;
}

int bench_setup(bench_t *b, int argc, char **argv, const char *prog, const char *extra_usage)
{
    enum { O_BROKER = 1, O_DEV_BROKER, O_IMAGE, O_FLASH, O_GIVE_UP, O_CONNECT, O_HELP };
    static const struct option longopts[] = {
        {"broker", required_argument, 0, O_BROKER},
        {"device-broker", required_argument, 0, O_DEV_BROKER},
        {"image", required_argument, 0, O_IMAGE},
        {"flash", required_argument, 0, O_FLASH},
        {"give-up-after", required_argument, 0, O_GIVE_UP},
        {"connect-timeout", required_argument, 0, O_CONNECT},
        {"help", no_argument, 0, O_HELP},
        {0, 0, 0, 0},
    };
    b->opt.give_up_s = 3600;
    b->opt.connect_s = 30;
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case O_BROKER: b->opt.broker = optarg; break;
        case O_DEV_BROKER: b->opt.device_broker = optarg; break;
        case O_IMAGE: b->opt.image = optarg; break;
        case O_FLASH: b->opt.flash_dir = optarg; break;
        case O_GIVE_UP: b->opt.give_up_s = parse_seconds(prog, "--give-up-after", optarg); break;
        case O_CONNECT: b->opt.connect_s = parse_seconds(prog, "--connect-timeout", optarg); break;
        case O_HELP: usage(stdout, prog, extra_usage); exit(0);
        default: usage(stderr, prog, extra_usage); exit(2);
        }
    }
    if (optind < argc || !b->opt.broker || !b->opt.image || !b->opt.flash_dir) {
        fprintf(stderr, "%s: --broker, --image and --flash are required; see --help.\n", prog);
        exit(2);
    }
    if (!b->opt.device_broker) b->opt.device_broker = b->opt.broker;

    if (load_file(b->opt.image, &b->image, &b->image_size) != 0) {
        fprintf(stderr, "%s: --image '%s' cannot be read (or is empty or over 16 MiB).\n", prog,
                b->opt.image);
        return 1;
    }
    if (mkdir(b->opt.flash_dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "%s: --flash: cannot create '%s': %s.\n", prog, b->opt.flash_dir,
                strerror(errno));
        return 1;
    }
    char path[4096], err[256];
    snprintf(path, sizeof(path), "%s/device.flash", b->opt.flash_dir);
    boot_result_t boot;
    if (vdev_flash_create(path, MQOTA_CHIP_ESP32, b->opt.image, err, sizeof(err)) != MQOTA_OK ||
        vdev_open(path, &b->dev, err, sizeof(err)) != MQOTA_OK) {
        fprintf(stderr, "%s: the device flash '%s' could not be made: %s\n", prog, path, err);
        return 1;
    }
    if (vdev_boot(b->dev, &boot) != MQOTA_OK) {
        fprintf(stderr, "%s: the virtual device did not boot: %s\n", prog, boot.message);
        return 1;
    }
    vdev_platform_fill(b->dev, &b->plat);
    int rc = b->plat.slot_begin(b->plat.ctx, 1, b->image_size, 0);
    if (rc != 0) {
        fprintf(stderr, "%s: slot_begin on ota_1 failed (status %d).\n", prog, rc);
        return 1;
    }
    mosquitto_lib_init();
    return 0;
}

/* ---- clients ---- */

static void cb_connect(struct mosquitto *m, void *ud, int rc)
{
    bench_client_t *c = ud;
    (void)m;
    if (rc != 0) {
        mqh_log(MQH_WARN, "%s: broker refused the connection: %s", c->role,
                mosquitto_connack_string(rc));
        return;
    }
    c->connected = true;
    if (c->on_connect) c->on_connect(c);
}

static void cb_disconnect(struct mosquitto *m, void *ud, int rc)
{
    bench_client_t *c = ud;
    (void)m;
    if (c->connected) mqh_log(MQH_INFO, "%s: connection lost (%s)", c->role, mosquitto_strerror(rc));
    c->connected = false;
}

static void cb_subscribe(struct mosquitto *m, void *ud, int mid, int n, const int *granted)
{
    bench_client_t *c = ud;
    (void)m;
    (void)mid;
    if (n > 0 && granted[0] <= 2) c->subscribed = true;
}

static void cb_message(struct mosquitto *m, void *ud, const struct mosquitto_message *msg)
{
    bench_client_t *c = ud;
    (void)m;
    if (c->on_message) c->on_message(c, msg);
}

int bench_client_open(bench_t *b, bench_client_t *c, const char *role, const char *client_id,
                      const char *url)
{
    char err[300];
    c->b = b;
    c->role = role;
    c->fd = -1;
    if (mqh_parse_broker_url(url, &c->url, err, sizeof(err)) != 0 || c->url.tls) {
        fprintf(stderr, "bench: %s broker '%s': %s\n", role, url,
                c->url.tls ? "mqtts:// is not supported" : err);
        return 1;
    }
    c->mosq = mosquitto_new(client_id, true, c);
    if (c->mosq == NULL) {
        fprintf(stderr, "bench: out of memory for the %s client.\n", role);
        return 1;
    }
    mosquitto_int_option(c->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    /* A broker with logins (mqotad's embedded one by default): MQOTA_BENCH_USER and the
     * password in the file MQOTA_BENCH_PASSWORD_FILE. */
    const char *user = getenv("MQOTA_BENCH_USER"), *pwfile = getenv("MQOTA_BENCH_PASSWORD_FILE");
    if (user != NULL && pwfile != NULL) {
        char pw[256] = "";
        FILE *f = fopen(pwfile, "r");
        if (f == NULL || fgets(pw, sizeof(pw), f) == NULL) {
            fprintf(stderr, "bench: cannot read the password file '%s'\n", pwfile);
            if (f) fclose(f);
            return 1;
        }
        fclose(f);
        pw[strcspn(pw, "\r\n")] = '\0';
        mosquitto_username_pw_set(c->mosq, user, pw);
    }
    /* As mqotad and the fleet do: without it Nagle and the peer's delayed ACK add up to 40 ms
     * to every small message on Linux loopback, which would be measured as protocol time. */
    mosquitto_int_option(c->mosq, MOSQ_OPT_TCP_NODELAY, 1);
    mosquitto_connect_callback_set(c->mosq, cb_connect);
    mosquitto_disconnect_callback_set(c->mosq, cb_disconnect);
    mosquitto_subscribe_callback_set(c->mosq, cb_subscribe);
    mosquitto_message_callback_set(c->mosq, cb_message);
    /* Logged in as mqotad on its embedded broker: its own listener, a Unix socket (port 0 to
     * libmosquitto), where two logins of one user coexist; on the devices' listener the client
     * id is the username and our two clients would replace each other (docs/SECURITY.md §7.2). */
    const char *sock = getenv("MQOTA_BENCH_SOCKET");
    int rc = sock && *sock ? mosquitto_connect(c->mosq, sock, 0, KEEPALIVE_S)
                           : mosquitto_connect(c->mosq, c->url.host, c->url.port, KEEPALIVE_S);
    if (rc != MOSQ_ERR_SUCCESS) {
        fprintf(stderr, "bench: the %s could not connect to %s: %s\n", role, url,
                mosquitto_strerror(rc));
        return 1;
    }
    return 0;
}

/* Bytes received / sent on fd as the kernel counts them (every MQTT byte, headers included),
 * the way fleet/device.c socket_bytes() does. */
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

/* Sample the client's socket counters. A socket that went away (or was replaced) keeps its
 * last sample; bytes that arrived after that sample and before the close are not counted
 * (at most one read's worth per connection cut). */
static void sample_wire(bench_client_t *c)
{
    int fd = mosquitto_socket(c->mosq);
    uint64_t rx = 0, tx = 0;
    if (fd >= 0) socket_bytes(fd, &rx, &tx);
    if (fd != c->fd || rx < c->rx_cur) {
        c->rx_done += c->rx_cur;
        c->tx_done += c->tx_cur;
        c->rx_cur = c->tx_cur = 0;
        c->fd = fd;
    }
    if (fd >= 0) {
        c->rx_cur = rx;
        c->tx_cur = tx;
    }
}

uint64_t bench_client_rx(bench_client_t *c)
{
    sample_wire(c);
    return c->rx_done + c->rx_cur;
}

/* One client's share of a loop turn after poll(): read, write, keepalive. A lost connection
 * schedules a reconnect. */
static void client_io(bench_client_t *c, short revents, uint64_t now)
{
    sample_wire(c);
    int rc = MOSQ_ERR_SUCCESS;
    if (revents & (POLLIN | POLLERR | POLLHUP)) rc = mosquitto_loop_read(c->mosq, 1);
    if (rc == MOSQ_ERR_SUCCESS && (revents & POLLOUT)) rc = mosquitto_loop_write(c->mosq, 1);
    if (rc == MOSQ_ERR_SUCCESS) rc = mosquitto_loop_misc(c->mosq);
    if (rc != MOSQ_ERR_SUCCESS || mosquitto_socket(c->mosq) < 0) {
        sample_wire(c);
        c->connected = false;
        if (c->reconnect_at_ms == 0) c->reconnect_at_ms = now + RECONNECT_DELAY_MS;
    }
}

static void client_maybe_reconnect(bench_client_t *c, uint64_t now)
{
    if (mosquitto_socket(c->mosq) >= 0) return;
    if (c->reconnect_at_ms == 0) c->reconnect_at_ms = now + RECONNECT_DELAY_MS;
    if (now < c->reconnect_at_ms) return;
    c->reconnects++;
    int rc = mosquitto_reconnect(c->mosq);
    c->reconnect_at_ms = rc == MOSQ_ERR_SUCCESS ? 0 : now + RECONNECT_DELAY_MS;
    if (rc != MOSQ_ERR_SUCCESS)
        mqh_log(MQH_INFO, "%s: reconnect failed: %s", c->role, mosquitto_strerror(rc));
}

int bench_run(bench_t *b)
{
    bench_client_t *cl[2] = {&b->sender, &b->device};
    uint64_t connect_deadline = mqh_now_ms() + (uint64_t)(b->opt.connect_s * 1000.0);
    while (!b->finished) {
        uint64_t now = mqh_now_ms();
        if (!b->started && now >= connect_deadline) {
            fprintf(stderr, "bench: the clients were not connected and subscribed after %.0f s.\n",
                    b->opt.connect_s);
            return 1;
        }
        if (b->started && now - b->t0_ms >= (uint64_t)(b->opt.give_up_s * 1000.0)) {
            bench_finish(b, false);
            break;
        }
        struct pollfd p[2];
        for (int i = 0; i < 2; i++) {
            client_maybe_reconnect(cl[i], now);
            p[i].fd = mosquitto_socket(cl[i]->mosq);
            p[i].events = (short)(POLLIN | (mosquitto_want_write(cl[i]->mosq) ? POLLOUT : 0));
            p[i].revents = 0;
        }
        if (poll(p, 2, POLL_MS) < 0 && errno != EINTR) {
            perror("bench: poll");
            return 1;
        }
        now = mqh_now_ms();
        for (int i = 0; i < 2; i++)
            if (p[i].fd >= 0) client_io(cl[i], p[i].revents, now);
        if (!b->started && b->sender.subscribed && b->device.subscribed) {
            b->started = true;
            b->t0_ms = mqh_now_ms();
            b->start(b);
        } else if (b->started && !b->finished && b->tick) {
            b->tick(b, mqh_now_ms()); /* callbacks above may have stamped times after now */
        }
    }
    return 0;
}

/* ---- device work and the report ---- */

int bench_slot_write(bench_t *b, uint32_t offset, const uint8_t *data, size_t len)
{
    return b->plat.slot_write(b->plat.ctx, 1, offset, data, len);
}

void bench_finish(bench_t *b, bool completed)
{
    if (b->finished) return;
    b->t_end_ms = mqh_now_ms();
    b->finished = true;
    b->completed = completed;
    /* esp_ota_end: the device checks what it wrote (magic, segments, checksum, SHA-256) */
    if (completed && b->dev) b->verified = b->plat.slot_end(b->plat.ctx, 1, b->image_size) == 0;
}

void bench_report(const bench_t *b)
{
    bench_client_t *dev = (bench_client_t *)&b->device;
    uint64_t rx = bench_client_rx(dev);
    uint64_t tx = dev->tx_done + dev->tx_cur;
    uint64_t end = b->finished ? b->t_end_ms : mqh_now_ms();
    double secs = b->started ? (double)(end - b->t0_ms) / 1000.0 : 0.0;
    printf("{\"protocol\": \"%s\", \"image_bytes\": %u, \"completed\": %s, \"bytes_done\": %llu, "
           "\"seconds\": %.3f, \"wire_bytes_down\": %llu, \"wire_bytes_up\": %llu, "
           "\"bytes_resent\": %llu, \"reconnects\": %u, \"verified\": %s}\n",
           b->protocol, b->image_size, b->completed ? "true" : "false",
           (unsigned long long)b->bytes_done, secs, (unsigned long long)rx,
           (unsigned long long)tx, (unsigned long long)b->bytes_resent, dev->reconnects,
           b->verified ? "true" : "false");
    fflush(stdout);
}

void bench_close(bench_t *b)
{
    bench_client_t *cl[2] = {&b->sender, &b->device};
    for (int i = 0; i < 2; i++) {
        if (cl[i]->mosq == NULL) continue;
        mosquitto_disconnect(cl[i]->mosq);
        mosquitto_destroy(cl[i]->mosq);
        cl[i]->mosq = NULL;
    }
    vdev_close(b->dev);
    b->dev = NULL;
    free(b->image);
    b->image = NULL;
    mosquitto_lib_cleanup();
}
