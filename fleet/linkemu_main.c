/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mqota-linkemu: the fleet's link emulator as a standalone TCP proxy, so that programs other
 * than mqota-fleet (baseline protocols in benchmarks) see the same emulated links.
 *
 *   mqota-linkemu --upstream mqtt://127.0.0.1:1883 --profile lte --port-file /tmp/lte.port
 *
 * The main loop: epoll_wait bounded by the next link deadline, dispatch, link timers,
 * status line; until SIGINT or SIGTERM.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "io.h"
#include "link.h"
#include "mqota_host.h"

#define MAX_EVENTS 256
#define MAX_WAIT_MS 1000

static volatile sig_atomic_t run = 1;

static void on_signal(int sig)
{
    (void)sig;
    run = 0;
}

static void usage(FILE *out)
{
    size_t n;
    const link_profile_t *all = link_profile_all(&n);
    fprintf(out,
            "usage: mqota-linkemu --upstream URL [options]\n"
            "\n"
            "A TCP proxy on 127.0.0.1 that emulates a device's link to URL: one-way latency,\n"
            "jitter, downlink (toward the client) and uplink (toward URL) bandwidth, a bounded\n"
            "buffer per direction, random connection cuts. Prints the port it listens on, then\n"
            "runs until SIGINT or SIGTERM. See docs/LINKS.md.\n"
            "\n"
            "options:\n"
            "  --upstream URL        where connections go: mqtt://host:port or tcp://host:port\n"
            "  --profile NAME        link profile (default lte); one of:\n");
    for (size_t i = 0; i < n; i++) {
        if (link_profile_is_direct(&all[i])) {
            fprintf(out, "                          %-10s no emulation\n", all[i].name);
            continue;
        }
        fprintf(out, "                          %-10s %3u+%2u ms, %5llu/%5llu kbit/s, %3u KiB%s\n",
                all[i].name, all[i].latency_ms, all[i].jitter_ms,
                (unsigned long long)(all[i].down_bps / 1000u),
                (unsigned long long)(all[i].up_bps / 1000u), all[i].buffer_bytes / 1024u,
                all[i].mtbc_s > 0 ? ", cuts" : "");
    }
    fprintf(out, "                        (one-way latency+jitter, down/up rate, buffer)\n");
    fprintf(out,
            "  --latency-ms MS       override the one-way latency\n"
            "  --jitter-ms MS        override the jitter\n"
            "  --down-bps BPS        override the downlink rate, bit/s (0 = unlimited)\n"
            "  --up-bps BPS          override the uplink rate, bit/s (0 = unlimited)\n"
            "  --buffer-bytes N      override the per-direction buffer\n"
            "  --mtbc S              override the mean time between cuts, seconds (0 = never)\n"
            "  --listen-port P       listen on 127.0.0.1:P (default: a free port)\n"
            "  --port-file FILE      also write the port to FILE (atomically)\n"
            "  --seed N              random seed for jitter and cuts (default 1)\n"
            "  --status-interval S   log the counters every S seconds (default 0 = only at exit)\n"
            "  --log-level L         error, warn, info, debug (default info)\n"
            "  --help                this text\n"
            "\n"
            "example:\n"
            "  mqota-linkemu --upstream mqtt://127.0.0.1:1883 --profile gprs \\\n"
            "      --port-file gprs.port\n");
}

static int parse_u64(const char *flag, const char *s, uint64_t hi, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end != '\0' || s[0] == '-' || v > hi) {
        fprintf(stderr, "mqota-linkemu: %s '%s' is not a whole number in 0..%llu\n", flag, s,
                (unsigned long long)hi);
        return -1;
    }
    *out = v;
    return 0;
}

static void log_stats(const link_listener_t *l)
{
    link_stats_t st;
    link_listener_stats(l, &st);
    mqh_log(MQH_INFO, "connections %llu (open %llu), cuts %llu, down %llu bytes, up %llu bytes",
            (unsigned long long)st.connections, (unsigned long long)st.active,
            (unsigned long long)st.cuts, (unsigned long long)st.down_bytes,
            (unsigned long long)st.up_bytes);
}

static int write_port_file(const char *path, int port)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (f == NULL) return -1;
    fprintf(f, "%d\n", port);
    if (fclose(f) != 0) return -1;
    return rename(tmp, path);
}

int main(int argc, char **argv)
{
    enum { O_UP = 1, O_PROF, O_LAT, O_JIT, O_DOWN, O_UPBPS, O_BUF, O_MTBC, O_PORT, O_PFILE,
           O_SEED, O_STATUS, O_LOG, O_HELP };
    static const struct option opts[] = {
        {"upstream", required_argument, 0, O_UP},      {"profile", required_argument, 0, O_PROF},
        {"latency-ms", required_argument, 0, O_LAT},   {"jitter-ms", required_argument, 0, O_JIT},
        {"down-bps", required_argument, 0, O_DOWN},    {"up-bps", required_argument, 0, O_UPBPS},
        {"buffer-bytes", required_argument, 0, O_BUF}, {"mtbc", required_argument, 0, O_MTBC},
        {"listen-port", required_argument, 0, O_PORT}, {"port-file", required_argument, 0, O_PFILE},
        {"seed", required_argument, 0, O_SEED}, {"status-interval", required_argument, 0, O_STATUS},
        {"log-level", required_argument, 0, O_LOG},    {"help", no_argument, 0, O_HELP},
        {0, 0, 0, 0},
    };
    const char *upstream = NULL, *port_file = NULL;
    const link_profile_t *base = link_profile_find("lte");
    link_profile_t prof;
    /* overrides, applied after --profile whatever the order */
    uint64_t v, lat = UINT64_MAX, jit = UINT64_MAX, down = UINT64_MAX, up = UINT64_MAX,
             buf = UINT64_MAX, port = 0, seed = 1, status_s = 0;
    double mtbc = -1.0;
    int level = MQH_INFO, c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case O_UP: upstream = optarg; break;
        case O_PROF:
            if ((base = link_profile_find(optarg)) == NULL) {
                fprintf(stderr, "mqota-linkemu: --profile '%s' is not a profile; see "
                                "'mqota-linkemu --help'\n", optarg);
                return 2;
            }
            break;
        case O_LAT: if (parse_u64("--latency-ms", optarg, 60000, &lat)) return 2; break;
        case O_JIT: if (parse_u64("--jitter-ms", optarg, 60000, &jit)) return 2; break;
        case O_DOWN: if (parse_u64("--down-bps", optarg, 100000000000ull, &down)) return 2; break;
        case O_UPBPS: if (parse_u64("--up-bps", optarg, 100000000000ull, &up)) return 2; break;
        case O_BUF: if (parse_u64("--buffer-bytes", optarg, 1u << 30, &buf)) return 2; break;
        case O_MTBC:
            if (parse_u64("--mtbc", optarg, 86400 * 365, &v)) return 2;
            mtbc = (double)v;
            break;
        case O_PORT: if (parse_u64("--listen-port", optarg, 65535, &port)) return 2; break;
        case O_PFILE: port_file = optarg; break;
        case O_SEED: if (parse_u64("--seed", optarg, UINT64_MAX, &seed)) return 2; break;
        case O_STATUS: if (parse_u64("--status-interval", optarg, 3600, &status_s)) return 2; break;
        case O_LOG:
            if (!strcmp(optarg, "error")) level = MQH_ERROR;
            else if (!strcmp(optarg, "warn")) level = MQH_WARN;
            else if (!strcmp(optarg, "info")) level = MQH_INFO;
            else if (!strcmp(optarg, "debug")) level = MQH_DEBUG;
            else {
                fprintf(stderr, "mqota-linkemu: --log-level '%s' must be error, warn, info or "
                                "debug\n", optarg);
                return 2;
            }
            break;
        case O_HELP: usage(stdout); return 0;
        default:
            fprintf(stderr, "mqota-linkemu: unknown option or missing value '%s'; see "
                            "'mqota-linkemu --help'\n", argv[optind - 1]);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "mqota-linkemu: unexpected argument '%s'; see 'mqota-linkemu --help'\n",
                argv[optind]);
        return 2;
    }
    mqh_log_init("mqota-linkemu", level);
    if (upstream == NULL) {
        fprintf(stderr, "mqota-linkemu: --upstream is required; see 'mqota-linkemu --help'\n");
        return 2;
    }
    /* tcp://host:port is accepted too: the proxy does not care what the protocol is */
    char url[512], err[256];
    if (strncmp(upstream, "tcp://", 6) == 0) snprintf(url, sizeof(url), "mqtt://%s", upstream + 6);
    else snprintf(url, sizeof(url), "%s", upstream);
    mqh_url_t target;
    if (mqh_parse_broker_url(url, &target, err, sizeof(err)) != 0 || target.tls) {
        fprintf(stderr, "mqota-linkemu: --upstream '%s': %s\n", upstream,
                target.tls ? "TLS URLs are not proxied; use mqtt:// or tcp://" : err);
        return 2;
    }

    prof = *base;
    if (lat != UINT64_MAX) prof.latency_ms = (uint32_t)lat;
    if (jit != UINT64_MAX) prof.jitter_ms = (uint32_t)jit;
    if (down != UINT64_MAX) prof.down_bps = down;
    if (up != UINT64_MAX) prof.up_bps = up;
    if (buf != UINT64_MAX) prof.buffer_bytes = (uint32_t)buf;
    if (mtbc >= 0) prof.mtbc_s = mtbc;

    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);
    int epfd = epoll_create1(EPOLL_CLOEXEC);
    link_listener_t *l = epfd < 0 ? NULL
                                  : link_listen_at(epfd, &prof, (int)port, target.host, target.port,
                                                   seed);
    if (l == NULL) {
        fprintf(stderr, "mqota-linkemu: cannot listen on 127.0.0.1:%llu: %s\n",
                (unsigned long long)port, strerror(errno));
        return 1;
    }
    int lport = link_listener_port(l);
    printf("%d\n", lport);
    fflush(stdout);
    if (port_file && write_port_file(port_file, lport) != 0) {
        fprintf(stderr, "mqota-linkemu: --port-file: cannot write '%s': %s\n", port_file,
                strerror(errno));
        link_listener_close(l);
        return 1;
    }
    mqh_log(MQH_INFO, "profile %s: %u ms one way +%u ms jitter, down %llu bit/s, up %llu bit/s, "
                      "buffer %u bytes, mtbc %.0f s; 127.0.0.1:%d -> %s:%d",
            prof.name, prof.latency_ms, prof.jitter_ms, (unsigned long long)prof.down_bps,
            (unsigned long long)prof.up_bps, prof.buffer_bytes, prof.mtbc_s, lport, target.host,
            target.port);

    struct epoll_event evs[MAX_EVENTS];
    uint64_t next_status = mqh_now_ms() + status_s * 1000u;
    while (run) {
        uint64_t now = mqh_now_ms(), wake = link_next_deadline();
        if (wake > now + MAX_WAIT_MS) wake = now + MAX_WAIT_MS;
        int n = epoll_wait(epfd, evs, MAX_EVENTS, wake > now ? (int)(wake - now) : 0);
        if (n < 0 && errno != EINTR) break;
        for (int i = 0; i < n; i++) { /* socket I/O */
            fleet_io_t *io = evs[i].data.ptr;
            io->on_events(io, evs[i].events);
        }
        now = mqh_now_ms();
        link_run_timers(now); /* deliveries and cuts */
        if (status_s && now >= next_status) { /* status line */
            next_status = now + status_s * 1000u;
            log_stats(l);
        }
    }
    log_stats(l);
    link_listener_close(l);
    close(epfd);
    if (port_file) unlink(port_file);
    return 0;
}
