/* SPDX-License-Identifier: Apache-2.0 */
/*
 * link.c - link emulation in user space (see link.h and docs/LINKS.md).
 *
 * Every accepted device connection gets a non-blocking connection to the broker; the two
 * sockets are piped both ways. A direction ("pipe") reads the sender in pieces of at most one
 * TCP segment, stamps each piece with the time it reaches the other end, queues it, and
 * writes it out when that time comes:
 *
 *   departure = max(read time, link free) + bytes * 8 / bps;  link free = departure
 *   delivery  = max(departure + latency + U[0, jitter], previous delivery)
 *
 * A pipe reads only while fewer than buffer_bytes are queued, so a full link stops reading
 * and TCP flow control pushes back to the sender, as a modem's buffer does. Times are kept
 * in microseconds (CLOCK_MONOTONIC, the clock of mqh_now_ms()): a 1460-byte segment takes
 * 584 us at 20 Mbit/s.
 *
 * Timers (segment deliveries and cuts) live in one binary min-heap shared by all listeners.
 * Closed connections are unlinked at once and freed at the next link_run_timers(), so an
 * event later in the same epoll batch never touches freed memory.
 */
#define _GNU_SOURCE
#include "link.h"

#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "io.h"
#include "mqota_host.h"

#define SEG_MAX 1460u                    /* one TCP segment's payload at MTU 1500 */
#define READS_PER_EVENT 64               /* bound on reads per readiness event */
#define ACCEPTS_PER_EVENT 64             /* bound on accepts per readiness event */
#define TIMERS_PER_RUN 100000            /* bound on timer firings per link_run_timers() */
#define DEFAULT_BUFFER (64u * 1024u)
/* Kernel receive buffer of the proxy's sockets (the kernel doubles it). Kept small so that
 * the emulated buffer, not the kernel's, is what holds the sender's excess. */
#define SOCK_RCVBUF (8 * 1024)

/* ---- the named profiles (sources and reasoning: docs/LINKS.md) ---- */

static const link_profile_t profiles[] = {
    {"lan", 0, 0, 0, 0, 0, 0.0},
    {"wifi", 5, 2, 20000000u, 10000000u, 128u * 1024u, 0.0},
    {"lte", 150, 10, 1000000u, 500000u, 64u * 1024u, 0.0},
    {"gprs", 300, 30, 85000u, 42000u, 16u * 1024u, 0.0},
    {"gprs-flaky", 300, 30, 85000u, 42000u, 16u * 1024u, 90.0},
};

const link_profile_t *link_profile_find(const char *name)
{
    for (size_t i = 0; name && i < sizeof(profiles) / sizeof(profiles[0]); i++)
        if (strcmp(profiles[i].name, name) == 0) return &profiles[i];
    return NULL;
}

const link_profile_t *link_profile_all(size_t *count)
{
    *count = sizeof(profiles) / sizeof(profiles[0]);
    return profiles;
}

int link_profile_is_direct(const link_profile_t *p)
{
    return p->latency_ms == 0 && p->jitter_ms == 0 && p->down_bps == 0 && p->up_bps == 0 &&
           p->mtbc_s <= 0.0;
}

/* ---- clock and randomness ---- */

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* splitmix64: small, fast, good enough for jitter and cut times. */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static double rng_unit(uint64_t *s) { return (double)(rng_next(s) >> 11) * 0x1.0p-53; }

/* ---- timers: one min-heap over every listener's connections ---- */

typedef struct ltimer {
    uint64_t at_us;
    size_t idx; /* position in the heap, NOT_ARMED if not in it */
    void (*fire)(struct ltimer *t, uint64_t now_us);
} ltimer_t;

#define NOT_ARMED ((size_t)-1)

static ltimer_t **heap;
static size_t heap_len, heap_cap;

static void heap_set(size_t i, ltimer_t *t)
{
    heap[i] = t;
    t->idx = i;
}

static void heap_up(size_t i)
{
    ltimer_t *t = heap[i];
    while (i > 0 && heap[(i - 1) / 2]->at_us > t->at_us) {
        heap_set(i, heap[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    heap_set(i, t);
}

static void heap_down(size_t i)
{
    ltimer_t *t = heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= heap_len) break;
        if (c + 1 < heap_len && heap[c + 1]->at_us < heap[c]->at_us) c++;
        if (heap[c]->at_us >= t->at_us) break;
        heap_set(i, heap[c]);
        i = c;
    }
    heap_set(i, t);
}

static void timer_disarm(ltimer_t *t)
{
    if (t->idx == NOT_ARMED) return;
    size_t i = t->idx;
    t->idx = NOT_ARMED;
    heap_len--;
    if (i == heap_len) return;
    heap_set(i, heap[heap_len]);
    heap_up(i);
    heap_down(heap[i]->idx);
}

/* Arm (or move) t to at_us. Returns 0, or -1 if out of memory (t stays disarmed). */
static int timer_arm(ltimer_t *t, uint64_t at_us)
{
    if (t->idx != NOT_ARMED) {
        t->at_us = at_us;
        heap_up(t->idx);
        heap_down(t->idx);
        return 0;
    }
    if (heap_len == heap_cap) {
        size_t cap = heap_cap ? heap_cap * 2 : 256;
        ltimer_t **h = realloc(heap, cap * sizeof(*h));
        if (h == NULL) return -1;
        heap = h;
        heap_cap = cap;
    }
    t->at_us = at_us;
    heap_set(heap_len, t);
    heap_len++;
    heap_up(t->idx);
    return 0;
}

/* ---- connections ---- */

typedef struct seg {
    struct seg *next;
    uint64_t due_us; /* delivery time */
    uint32_t len, off;
    uint8_t data[];
} seg_t;

struct link_conn;

/* One socket of a connection, registered with epoll. */
typedef struct endpoint {
    fleet_io_t io; /* first: epoll data.ptr points here */
    struct link_conn *conn;
    int fd;
    uint32_t ev_mask;
} endpoint_t;

/* One direction of a connection. */
typedef struct lpipe {
    ltimer_t timer; /* delivery of the head segment */
    struct link_conn *conn;
    endpoint_t *src, *dst;
    uint64_t bps;
    uint64_t free_at_us;  /* the serializer is busy until then */
    uint64_t last_due_us; /* delivery time of the last queued segment: order is kept */
    seg_t *head, *tail;
    uint32_t queued;      /* bytes read and not yet written */
    bool eof;             /* the sender closed its side */
    bool blocked;         /* dst's socket buffer is full: waiting for EPOLLOUT */
    uint64_t *delivered;  /* the listener's down_bytes or up_bytes */
} lpipe_t;

typedef struct link_conn {
    endpoint_t dev, up;   /* device side (accepted), broker side (connected by us) */
    lpipe_t down, upl;    /* down: up -> dev; upl: dev -> up */
    ltimer_t cut;
    struct link_listener *l;
    struct link_conn *prev, *next;
    uint64_t rng;
    bool connecting;      /* the broker connection is in progress */
    bool dead;
} link_conn_t;

struct link_listener {
    fleet_io_t io; /* first: epoll data.ptr points here */
    link_profile_t prof;
    char name[32];
    int epfd, fd, port;
    struct sockaddr_storage upstream;
    socklen_t upstream_len;
    uint64_t rng;
    link_stats_t st;
    link_conn_t *conns;
    struct link_listener *next;
};

static link_listener_t *listeners;
static link_conn_t *graveyard; /* closed, freed at the next link_run_timers() */

static uint32_t buffer_of(const link_conn_t *c)
{
    return c->l->prof.buffer_bytes ? c->l->prof.buffer_bytes : DEFAULT_BUFFER;
}

/* Close both sockets and drop everything queued. abrupt: reset (RST) instead of FIN, as the
 * peers of a dead radio link see it sooner or later; here they see it at once. */
static void conn_close(link_conn_t *c, bool abrupt)
{
    if (c->dead) return;
    c->dead = true;
    endpoint_t *eps[2] = {&c->dev, &c->up};
    for (int i = 0; i < 2; i++) {
        if (eps[i]->fd < 0) continue;
        epoll_ctl(c->l->epfd, EPOLL_CTL_DEL, eps[i]->fd, NULL);
        if (abrupt) {
            struct linger lg = {.l_onoff = 1, .l_linger = 0};
            setsockopt(eps[i]->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        }
        close(eps[i]->fd);
        eps[i]->fd = -1;
    }
    lpipe_t *pipes[2] = {&c->down, &c->upl};
    for (int i = 0; i < 2; i++) {
        timer_disarm(&pipes[i]->timer);
        for (seg_t *s = pipes[i]->head, *n; s; s = n) {
            n = s->next;
            free(s);
        }
        pipes[i]->head = pipes[i]->tail = NULL;
        pipes[i]->queued = 0;
    }
    timer_disarm(&c->cut);
    if (c->prev) c->prev->next = c->next;
    else c->l->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    c->l->st.active--;
    c->next = graveyard;
    graveyard = c;
}

/* Register or update the epoll interest of e: read while its outgoing pipe has room, write
 * while a pipe toward it is blocked or the broker connection is in progress. */
static void update_interest(endpoint_t *e)
{
    link_conn_t *c = e->conn;
    if (c->dead || e->fd < 0) return;
    lpipe_t *in = e == &c->dev ? &c->upl : &c->down;  /* reads from e */
    lpipe_t *out = e == &c->dev ? &c->down : &c->upl; /* writes to e */
    uint32_t want = 0;
    if (!c->connecting && !in->eof && in->queued < buffer_of(c)) want |= EPOLLIN;
    if (out->blocked || (e == &c->up && c->connecting)) want |= EPOLLOUT;
    if (want == e->ev_mask) return;
    struct epoll_event ev = {.events = want, .data.ptr = &e->io};
    epoll_ctl(c->l->epfd, EPOLL_CTL_MOD, e->fd, &ev);
    e->ev_mask = want;
}

/* Write out the segments of p that are due by now_us. Arms p's timer for the next one, waits
 * for EPOLLOUT if the receiver is full, closes the pair when a closed sender's data is all
 * delivered or on a write error. */
static void pipe_flush(lpipe_t *p, uint64_t now)
{
    link_conn_t *c = p->conn;
    p->blocked = false;
    while (p->head && p->head->due_us <= now) {
        seg_t *s = p->head;
        ssize_t n = send(p->dst->fd, s->data + s->off, s->len - s->off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
                p->blocked = true;
                break;
            }
            conn_close(c, true);
            return;
        }
        s->off += (uint32_t)n;
        p->queued -= (uint32_t)n;
        *p->delivered += (uint64_t)n;
        if (s->off < s->len) {
            p->blocked = true;
            break;
        }
        p->head = s->next;
        if (p->head == NULL) p->tail = NULL;
        free(s);
    }
    if (p->blocked || p->head == NULL) timer_disarm(&p->timer);
    else if (timer_arm(&p->timer, p->head->due_us) != 0) {
        conn_close(c, true);
        return;
    }
    if (p->eof && p->head == NULL) conn_close(c, false);
}

/* Queue n bytes just read from p's sender, stamped with their delivery time. */
static int pipe_enqueue(lpipe_t *p, const uint8_t *data, uint32_t n)
{
    link_conn_t *c = p->conn;
    const link_profile_t *pr = &c->l->prof;
    seg_t *s = malloc(sizeof(*s) + n);
    if (s == NULL) return -1;
    uint64_t now = now_us();
    uint64_t start = p->free_at_us > now ? p->free_at_us : now;
    uint64_t departure = start + (p->bps ? ((uint64_t)n * 8000000u + p->bps / 2) / p->bps : 0);
    p->free_at_us = departure;
    uint64_t due = departure + (uint64_t)pr->latency_ms * 1000u;
    if (pr->jitter_ms) due += rng_next(&c->rng) % ((uint64_t)pr->jitter_ms * 1000u + 1u);
    if (due < p->last_due_us) due = p->last_due_us;
    p->last_due_us = due;
    memcpy(s->data, data, n);
    s->next = NULL;
    s->due_us = due;
    s->len = n;
    s->off = 0;
    if (p->tail) p->tail->next = s;
    else p->head = s;
    p->tail = s;
    p->queued += n;
    if (p->head == s && !p->blocked && timer_arm(&p->timer, due) != 0) return -1;
    return 0;
}

/* Read what the sender of p has, in segments, while the link buffer has room. */
static void pipe_read(lpipe_t *p)
{
    link_conn_t *c = p->conn;
    uint8_t buf[SEG_MAX];
    uint32_t cap = buffer_of(c);
    for (int i = 0; i < READS_PER_EVENT && !c->dead && !p->eof && p->queued < cap; i++) {
        ssize_t n = recv(p->src->fd, buf, sizeof(buf), 0);
        if (n > 0) {
            if (pipe_enqueue(p, buf, (uint32_t)n) != 0) conn_close(c, true);
            continue;
        }
        if (n == 0) {
            p->eof = true; /* delivered in order, then the pair closes (pipe_flush) */
            if (p->head == NULL) conn_close(c, false);
            return;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        if (errno == EINTR) continue;
        conn_close(c, true);
        return;
    }
}

static void pipe_timer_fire(ltimer_t *t, uint64_t now)
{
    lpipe_t *p = (lpipe_t *)t; /* timer is p's first member */
    link_conn_t *c = p->conn;
    pipe_flush(p, now);
    update_interest(&c->dev);
    update_interest(&c->up);
}

static void cut_timer_fire(ltimer_t *t, uint64_t now)
{
    link_conn_t *c = (link_conn_t *)((char *)t - offsetof(link_conn_t, cut));
    (void)now;
    c->l->st.cuts++;
    mqh_log(MQH_DEBUG, "link %s: cutting a connection", c->l->name);
    conn_close(c, true);
}

static void endpoint_on_events(fleet_io_t *io, uint32_t events)
{
    endpoint_t *e = (endpoint_t *)io;
    link_conn_t *c = e->conn;
    if (c->dead) return; /* closed earlier in this batch */
    if (e == &c->up && c->connecting) {
        int err = 0;
        socklen_t len = sizeof(err);
        if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
        if (getsockopt(e->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
            mqh_log(MQH_DEBUG, "link %s: broker connection failed: %s", c->l->name,
                    strerror(err ? err : errno));
            conn_close(c, true);
            return;
        }
        c->connecting = false;
    } else {
        lpipe_t *in = e == &c->dev ? &c->upl : &c->down;
        lpipe_t *out = e == &c->dev ? &c->down : &c->upl;
        if (events & EPOLLERR) {
            conn_close(c, true);
            return;
        }
        if (events & EPOLLOUT) pipe_flush(out, now_us());
        if (!c->dead && (events & (EPOLLIN | EPOLLHUP))) pipe_read(in);
        /* hung up and nothing more to read: the peer is gone for good */
        if (!c->dead && (events & EPOLLHUP) && (in->eof || in->queued >= buffer_of(c))) {
            conn_close(c, true);
            return;
        }
    }
    update_interest(&c->dev);
    update_interest(&c->up);
}

static void endpoint_init(link_conn_t *c, endpoint_t *e, int fd)
{
    e->io.on_events = endpoint_on_events;
    e->io.after_events = NULL;
    e->conn = c;
    e->fd = fd;
    e->ev_mask = 0;
}

static void pipe_init(link_conn_t *c, lpipe_t *p, endpoint_t *src, endpoint_t *dst, uint64_t bps,
                      uint64_t *delivered)
{
    memset(p, 0, sizeof(*p));
    p->timer.idx = NOT_ARMED;
    p->timer.fire = pipe_timer_fire;
    p->conn = c;
    p->src = src;
    p->dst = dst;
    p->bps = bps;
    p->delivered = delivered;
}

static void socket_tune(int fd)
{
    int one = 1, rcv = SOCK_RCVBUF;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)); /* the link delays, not Nagle */
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
}

/* A device connected: open the broker side and start piping. On failure the device's
 * socket is closed, which it sees as a refused link. */
static void accept_one(link_listener_t *l, int dfd)
{
    link_conn_t *c = calloc(1, sizeof(*c));
    int ufd = socket(l->upstream.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c == NULL || ufd < 0) goto err;
    socket_tune(dfd);
    socket_tune(ufd);
    if (connect(ufd, (struct sockaddr *)&l->upstream, l->upstream_len) != 0 &&
        errno != EINPROGRESS)
        goto err;
    c->l = l;
    c->rng = rng_next(&l->rng);
    c->connecting = true;
    endpoint_init(c, &c->dev, dfd);
    endpoint_init(c, &c->up, ufd);
    pipe_init(c, &c->down, &c->up, &c->dev, l->prof.down_bps, &l->st.down_bytes);
    pipe_init(c, &c->upl, &c->dev, &c->up, l->prof.up_bps, &l->st.up_bytes);
    c->cut.idx = NOT_ARMED;
    c->cut.fire = cut_timer_fire;

    struct epoll_event ev = {.events = 0, .data.ptr = &c->dev.io};
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, dfd, &ev) != 0) goto err;
    ev.events = EPOLLOUT;
    ev.data.ptr = &c->up.io;
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, ufd, &ev) != 0) {
        epoll_ctl(l->epfd, EPOLL_CTL_DEL, dfd, NULL);
        goto err;
    }
    c->up.ev_mask = EPOLLOUT;
    c->next = l->conns;
    if (l->conns) l->conns->prev = c;
    l->conns = c;
    l->st.connections++;
    l->st.active++;
    if (l->prof.mtbc_s > 0.0) {
        double s = -log(1.0 - rng_unit(&c->rng)) * l->prof.mtbc_s;
        if (timer_arm(&c->cut, now_us() + (uint64_t)(s * 1e6)) != 0) conn_close(c, true);
    }
    return;
err:
    mqh_log(MQH_WARN, "link %s: cannot open the broker side: %s", l->name, strerror(errno));
    if (ufd >= 0) close(ufd);
    close(dfd);
    free(c);
}

static void listener_on_events(fleet_io_t *io, uint32_t events)
{
    link_listener_t *l = (link_listener_t *)io;
    (void)events;
    for (int i = 0; i < ACCEPTS_PER_EVENT; i++) {
        int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
                errno != ECONNABORTED)
                mqh_log(MQH_WARN, "link %s: accept: %s", l->name, strerror(errno));
            return;
        }
        accept_one(l, fd);
    }
}

link_listener_t *link_listen_at(int epfd, const link_profile_t *p, int listen_port,
                                const char *upstream_host, int upstream_port, uint64_t seed)
{
    char port_s[16];
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
    link_listener_t *l = calloc(1, sizeof(*l));
    if (l == NULL) return NULL;
    l->fd = -1;
    l->epfd = epfd;
    l->prof = *p;
    snprintf(l->name, sizeof(l->name), "%s", p->name ? p->name : "custom");
    l->prof.name = l->name;
    l->rng = seed;

    snprintf(port_s, sizeof(port_s), "%d", upstream_port);
    int rc = getaddrinfo(upstream_host, port_s, &hints, &ai);
    if (rc != 0 || ai == NULL) {
        mqh_log(MQH_ERROR, "link %s: cannot resolve broker host '%s': %s", l->name, upstream_host,
                gai_strerror(rc));
        errno = EINVAL;
        goto err;
    }
    memcpy(&l->upstream, ai->ai_addr, ai->ai_addrlen);
    l->upstream_len = ai->ai_addrlen;
    freeaddrinfo(ai);

    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)listen_port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    int one = 1, rcv = SOCK_RCVBUF;
    l->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (l->fd < 0) goto err_sys;
    setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    setsockopt(l->fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv)); /* inherited by accepted */
    if (bind(l->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(l->fd, 512) != 0 ||
        getsockname(l->fd, (struct sockaddr *)&sa, &len) != 0)
        goto err_sys;
    l->port = ntohs(sa.sin_port);
    l->io.on_events = listener_on_events;
    l->io.after_events = NULL;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &l->io};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, l->fd, &ev) != 0) goto err_sys;
    l->next = listeners;
    listeners = l;
    return l;
err_sys:
    mqh_log(MQH_ERROR, "link %s: cannot listen on 127.0.0.1:%d: %s", l->name, listen_port,
            strerror(errno));
err:
    if (l->fd >= 0) {
        int e = errno;
        close(l->fd);
        errno = e;
    }
    free(l);
    return NULL;
}

link_listener_t *link_listen(int epfd, const link_profile_t *p, const char *upstream_host,
                             int upstream_port, uint64_t seed)
{
    return link_listen_at(epfd, p, 0, upstream_host, upstream_port, seed);
}

int link_listener_port(const link_listener_t *l) { return l->port; }

const link_profile_t *link_listener_profile(const link_listener_t *l) { return &l->prof; }

void link_listener_stats(const link_listener_t *l, link_stats_t *out) { *out = l->st; }

static void free_graveyard(void)
{
    while (graveyard) {
        link_conn_t *c = graveyard;
        graveyard = c->next;
        free(c);
    }
}

void link_listener_close(link_listener_t *l)
{
    if (l == NULL) return;
    while (l->conns) conn_close(l->conns, true);
    free_graveyard();
    epoll_ctl(l->epfd, EPOLL_CTL_DEL, l->fd, NULL);
    close(l->fd);
    for (link_listener_t **pp = &listeners; *pp; pp = &(*pp)->next) {
        if (*pp == l) {
            *pp = l->next;
            break;
        }
    }
    free(l);
    if (listeners == NULL) {
        free(heap);
        heap = NULL;
        heap_len = heap_cap = 0;
    }
}

uint64_t link_next_deadline(void)
{
    return heap_len ? (heap[0]->at_us + 999u) / 1000u : UINT64_MAX; /* rounded up: never early */
}

void link_run_timers(uint64_t now_ms)
{
    uint64_t now = now_ms * 1000u; /* the start of that millisecond: nothing is early */
    free_graveyard();
    for (int i = 0; i < TIMERS_PER_RUN && heap_len && heap[0]->at_us <= now; i++) {
        ltimer_t *t = heap[0];
        timer_disarm(t);
        t->fire(t, now);
    }
}
