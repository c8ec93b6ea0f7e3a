/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Functional tests of the link emulator (fleet/link.c): a TCP source and sink on 127.0.0.1
 * talk through a listener with a custom profile, on one epoll loop run by the test. Checks
 * latency, bandwidth, cuts, order and completeness, and closing. Every wait is bounded.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../fleet/io.h"
#include "../../fleet/link.h"
#include "mqota_host.h"

typedef struct {
    int epfd;
    int broker;          /* the "broker": a listening socket the link connects to */
    link_listener_t *l;
    int dev;             /* the device's end (client of the link) */
    int srv;             /* the broker's end of the accepted connection */
} fixture_t;

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* One turn of the owner's loop: wait (at most 1 ms, or until the next link deadline),
 * dispatch, run the link's timers. */
static void pump(fixture_t *f)
{
    struct epoll_event evs[32];
    uint64_t now = mqh_now_ms(), wake = link_next_deadline();
    int timeout = wake <= now ? 0 : 1;
    int n = epoll_wait(f->epfd, evs, 32, timeout);
    for (int i = 0; i < n; i++) {
        fleet_io_t *io = evs[i].data.ptr;
        io->on_events(io, evs[i].events);
    }
    link_run_timers(mqh_now_ms());
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    f->dev = f->srv = -1;
    f->epfd = epoll_create1(0);
    f->broker = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (f->epfd < 0 || f->broker < 0 || bind(f->broker, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        listen(f->broker, 8) != 0 || getsockname(f->broker, (struct sockaddr *)&sa, &len) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    if (f->dev >= 0) close(f->dev);
    if (f->srv >= 0) close(f->srv);
    link_listener_close(f->l);
    close(f->broker);
    close(f->epfd);
    free(f);
    return 0;
}

static int broker_port(const fixture_t *f)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    getsockname(f->broker, (struct sockaddr *)&sa, &len);
    return ntohs(sa.sin_port);
}

/* Connect a device through the link and accept its broker side; 0 when both ends are up. */
static int connect_pair(fixture_t *f)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                             .sin_port = htons((uint16_t)link_listener_port(f->l))};
    f->dev = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (connect(f->dev, (struct sockaddr *)&sa, sizeof(sa)) != 0 && errno != EINPROGRESS)
        return -1;
    for (uint64_t end = mqh_now_ms() + 2000; mqh_now_ms() < end;) {
        pump(f);
        f->srv = accept4(f->broker, NULL, NULL, SOCK_NONBLOCK);
        if (f->srv >= 0) return 0;
    }
    return -1;
}

static void start(fixture_t *f, const link_profile_t *p)
{
    f->l = link_listen(f->epfd, p, "127.0.0.1", broker_port(f), 42);
    assert_non_null(f->l);
    assert_int_equal(connect_pair(f), 0);
}

/* Receive exactly n bytes on fd within timeout_ms, pumping the loop; returns bytes got. */
static size_t recv_all(fixture_t *f, int fd, uint8_t *buf, size_t n, int timeout_ms)
{
    size_t got = 0;
    for (uint64_t end = mqh_now_ms() + (uint64_t)timeout_ms; got < n && mqh_now_ms() < end;) {
        pump(f);
        ssize_t r = recv(fd, buf + got, n - got, 0);
        if (r > 0) got += (size_t)r;
        else if (r == 0) break;
    }
    return got;
}

static void profiles_are_named(void **state)
{
    (void)state;
    const link_profile_t *p = link_profile_find("lte");
    assert_non_null(p);
    assert_int_equal(p->latency_ms, 150);
    assert_int_equal(p->down_bps, 1000000);
    assert_non_null(link_profile_find("gprs-flaky"));
    assert_true(link_profile_find("gprs-flaky")->mtbc_s > 0);
    assert_true(link_profile_is_direct(link_profile_find("lan")));
    assert_false(link_profile_is_direct(link_profile_find("wifi")));
    assert_null(link_profile_find("5g"));
}

/* (a) a small message there and back takes 2 x latency, plus little. */
static void round_trip_is_twice_the_latency(void **state)
{
    fixture_t *f = *state;
    link_profile_t p = {.name = "test", .latency_ms = 100, .buffer_bytes = 16384};
    uint8_t msg[16] = "ping-0123456789", back[16];
    start(f, &p);
    for (int round = 0; round < 3; round++) {
        uint64_t t0 = now_us();
        assert_int_equal(send(f->dev, msg, sizeof(msg), 0), sizeof(msg));
        assert_int_equal(recv_all(f, f->srv, back, sizeof(back), 2000), sizeof(back));
        uint64_t t1 = now_us();
        assert_int_equal(send(f->srv, back, sizeof(back), 0), sizeof(back));
        assert_int_equal(recv_all(f, f->dev, back, sizeof(back), 2000), sizeof(back));
        uint64_t rtt = now_us() - t0;
        assert_memory_equal(msg, back, sizeof(msg));
        printf("# round trip %.1f ms (one way up %.1f ms)\n", rtt / 1000.0, (t1 - t0) / 1000.0);
        assert_true(rtt >= 200000u);
        assert_true(rtt < 250000u);
    }
}

/* Send n pseudo-random bytes from `from` to `to` as fast as the link takes them; returns the
 * time from the first send to the last byte received, in seconds, or -1 on a timeout or a
 * byte out of place. */
static double transfer(fixture_t *f, int from, int to, size_t n, int timeout_ms)
{
    uint8_t *tx = malloc(n), *rx = malloc(n);
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        tx[i] = (uint8_t)x;
    }
    size_t sent = 0, got = 0;
    uint64_t t0 = now_us(), end = mqh_now_ms() + (uint64_t)timeout_ms;
    while (got < n && mqh_now_ms() < end) {
        if (sent < n) {
            ssize_t w = send(from, tx + sent, n - sent, MSG_NOSIGNAL);
            if (w > 0) sent += (size_t)w;
        }
        pump(f);
        ssize_t r = recv(to, rx + got, n - got, 0);
        if (r > 0) got += (size_t)r;
        else if (r == 0) break;
    }
    double secs = (now_us() - t0) / 1e6;
    bool same = got == n && memcmp(tx, rx, n) == 0;
    free(tx);
    free(rx);
    return same ? secs : -1.0;
}

/* (b) bulk transfer runs at the configured rate, each direction its own. */
static void bulk_transfer_runs_at_the_bandwidth(void **state)
{
    fixture_t *f = *state;
    link_profile_t p = {.name = "test", .latency_ms = 10, .down_bps = 400000, .up_bps = 800000,
                        .buffer_bytes = 16384};
    start(f, &p);
    const size_t n = 100000;
    double down = transfer(f, f->srv, f->dev, n, 5000);
    double want_down = n * 8.0 / 400000.0;
    printf("# downlink %zu bytes in %.3f s (%.3f s at the rate)\n", n, down, want_down);
    assert_true(down > want_down * 0.85 && down < want_down * 1.15);
    double up = transfer(f, f->dev, f->srv, n, 5000);
    double want_up = n * 8.0 / 800000.0;
    printf("# uplink %zu bytes in %.3f s (%.3f s at the rate)\n", n, up, want_up);
    assert_true(up > want_up * 0.85 && up < want_up * 1.15);
    link_stats_t st;
    link_listener_stats(f->l, &st);
    assert_int_equal(st.down_bytes, n);
    assert_int_equal(st.up_bytes, n);
}

/* Wait until fd reports end of stream or an error (the connection is gone); bounded. */
static bool sees_close(fixture_t *f, int fd, int timeout_ms)
{
    uint8_t buf[256];
    for (uint64_t end = mqh_now_ms() + (uint64_t)timeout_ms; mqh_now_ms() < end;) {
        pump(f);
        ssize_t r = recv(fd, buf, sizeof(buf), 0);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) return true;
    }
    return false;
}

/* (c) a profile with cuts closes the connection, both sides, and a new one gets its own. */
static void cuts_close_both_sides(void **state)
{
    fixture_t *f = *state;
    link_profile_t p = {.name = "test", .latency_ms = 5, .mtbc_s = 0.2};
    start(f, &p);
    assert_true(sees_close(f, f->dev, 4000));
    assert_true(sees_close(f, f->srv, 1000));
    close(f->dev);
    close(f->srv);
    f->dev = f->srv = -1;
    assert_int_equal(connect_pair(f), 0);
    assert_true(sees_close(f, f->dev, 4000));
    link_stats_t st;
    link_listener_stats(f->l, &st);
    assert_int_equal(st.connections, 2);
    assert_int_equal(st.cuts, 2);
    assert_int_equal(st.active, 0);
}

/* (d) with jitter larger than the gap between segments and a small buffer, data still
 * arrives complete and in order, both ways. */
static void data_arrives_complete_and_in_order(void **state)
{
    fixture_t *f = *state;
    link_profile_t p = {.name = "test", .latency_ms = 5, .jitter_ms = 20, .down_bps = 4000000,
                        .up_bps = 2000000, .buffer_bytes = 4096};
    start(f, &p);
    assert_true(transfer(f, f->srv, f->dev, 150000, 5000) > 0);
    assert_true(transfer(f, f->dev, f->srv, 100000, 5000) > 0);
}

/* A sender's close reaches the other side after the data it sent, then the pair closes. */
static void close_follows_the_data(void **state)
{
    fixture_t *f = *state;
    link_profile_t p = {.name = "test", .latency_ms = 50};
    uint8_t msg[10] = "goodbye!!", got[10];
    start(f, &p);
    assert_int_equal(send(f->dev, msg, sizeof(msg), 0), sizeof(msg));
    close(f->dev);
    f->dev = -1;
    uint64_t t0 = now_us();
    assert_int_equal(recv_all(f, f->srv, got, sizeof(got), 2000), sizeof(got));
    assert_true(now_us() - t0 >= 49000u);
    assert_memory_equal(msg, got, sizeof(msg));
    assert_true(sees_close(f, f->srv, 1000));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(profiles_are_named),
        cmocka_unit_test_setup_teardown(round_trip_is_twice_the_latency, setup, teardown),
        cmocka_unit_test_setup_teardown(bulk_transfer_runs_at_the_bandwidth, setup, teardown),
        cmocka_unit_test_setup_teardown(cuts_close_both_sides, setup, teardown),
        cmocka_unit_test_setup_teardown(data_arrives_complete_and_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(close_follows_the_data, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
