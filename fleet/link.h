/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file link.h
 * @brief Link emulation in user space: a TCP proxy between a device and the MQTT broker that
 *        adds one-way latency, jitter, a bandwidth limit and a bounded buffer per direction,
 *        and random connection cuts. See docs/LINKS.md for the model and the profiles.
 *
 * Event-driven and single-threaded: it registers its sockets with the caller's epoll
 * instance (data.ptr points at a fleet_io_t, see io.h) and never blocks. The owning loop
 *
 *   1. bounds its epoll_wait() timeout with link_next_deadline(),
 *   2. dispatches every event of the batch to `io->on_events(io, events)`,
 *   3. calls link_run_timers() once, after the batch.
 *
 * Step 3 also frees the connections closed during the batch, so a stale pointer later in the
 * same batch is never dereferenced after free. The module keeps one process-wide list of
 * listeners; it is not thread-safe (there are no threads in the fleet).
 *
 * Direction names: downlink = broker -> device, uplink = device -> broker.
 */
#ifndef MQOTA_FLEET_LINK_H
#define MQOTA_FLEET_LINK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** How an emulated link behaves. All fields apply per connection. */
typedef struct link_profile {
    const char *name;
    uint32_t latency_ms;   /**< one-way propagation delay, each direction */
    uint32_t jitter_ms;    /**< extra delay, uniform in [0, jitter_ms], order kept */
    uint64_t down_bps;     /**< broker -> device rate, bit/s; 0 = unlimited */
    uint64_t up_bps;       /**< device -> broker rate, bit/s; 0 = unlimited */
    uint32_t buffer_bytes; /**< per direction: stop reading from the sender while this many
                                bytes are read but not yet delivered; 0 = 64 KiB */
    double mtbc_s;         /**< mean time between cuts, seconds (exponential); 0 = never */
} link_profile_t;

/** Counters of one listener, over all its connections since link_listen(). */
typedef struct link_stats {
    uint64_t connections; /**< accepted device connections */
    uint64_t active;      /**< connections open now */
    uint64_t cuts;        /**< connections closed by an emulated cut */
    uint64_t down_bytes;  /**< bytes delivered to devices */
    uint64_t up_bytes;    /**< bytes delivered to the broker */
} link_stats_t;

typedef struct link_listener link_listener_t;

/**
 * @brief A named profile: "lan", "wifi", "lte", "gprs", "gprs-flaky".
 * @return The profile (static storage), or NULL if the name is unknown.
 * @note "lan" means no emulation: callers connect directly and create no listener
 *       (link_profile_is_direct()).
 */
const link_profile_t *link_profile_find(const char *name);

/** @brief The named profiles, for help texts. @param[out] count how many. */
const link_profile_t *link_profile_all(size_t *count);

/** @brief True if the profile emulates nothing (no delay, no limit, no cuts). */
int link_profile_is_direct(const link_profile_t *p);

/**
 * @brief Listen on 127.0.0.1:0 and proxy every accepted connection to the upstream broker
 *        through the emulated link p.
 *
 * @param[in] epfd          the owning loop's epoll instance
 * @param[in] p             the profile; copied, so it need not outlive the call
 * @param[in] upstream_host broker host (name or address), resolved once, here
 * @param[in] upstream_port broker port
 * @param[in] seed          random seed for jitter and cuts (runs are reproducible per seed)
 * @return The listener (its port: link_listener_port()), or NULL with errno set and a reason
 *         logged through mqh_log().
 *
 * @code
 * link_listener_t *l = link_listen(epfd, link_profile_find("lte"), "127.0.0.1", 1883, 1);
 * int port = link_listener_port(l);   // devices connect to 127.0.0.1:port
 * for (;;) {
 *     int n = epoll_wait(epfd, evs, 64, timeout_until(link_next_deadline()));
 *     for (int i = 0; i < n; i++) {
 *         fleet_io_t *io = evs[i].data.ptr;
 *         io->on_events(io, evs[i].events);
 *     }
 *     link_run_timers(mqh_now_ms());
 * }
 * @endcode
 */
link_listener_t *link_listen(int epfd, const link_profile_t *p, const char *upstream_host,
                             int upstream_port, uint64_t seed);

/** @brief As link_listen(), on 127.0.0.1:listen_port (0 = any free port). */
link_listener_t *link_listen_at(int epfd, const link_profile_t *p, int listen_port,
                                const char *upstream_host, int upstream_port, uint64_t seed);

/** @brief The port the listener is bound to on 127.0.0.1. */
int link_listener_port(const link_listener_t *l);

/** @brief The listener's profile (its own copy). */
const link_profile_t *link_listener_profile(const link_listener_t *l);

/** @brief Copy the listener's counters into out. */
void link_listener_stats(const link_listener_t *l, link_stats_t *out);

/** @brief Close the listener and every connection it carries (abruptly), and free it. */
void link_listener_close(link_listener_t *l);

/**
 * @brief When link_run_timers() next has work: the earliest segment delivery or cut over all
 *        listeners, on the mqh_now_ms() clock.
 * @return That time in ms, rounded up (possibly in the past), or UINT64_MAX if nothing is
 *         scheduled.
 */
uint64_t link_next_deadline(void);

/**
 * @brief Deliver the segments that are due, apply the cuts that are due, free connections
 *        closed since the last call. Call once per loop turn, after dispatching the batch.
 * @param[in] now_ms mqh_now_ms(); everything due by the start of that millisecond is done, so
 *                   a segment is never early and at most about 1 ms late.
 */
void link_run_timers(uint64_t now_ms);

#ifdef __cplusplus
}
#endif

#endif /* MQOTA_FLEET_LINK_H */
