/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file io.h
 * @brief What the fleet's epoll loop dispatches to: every object registered with the loop's
 *        epoll instance (a virtual device, a link-emulator endpoint or listener) starts with a
 *        fleet_io_t, and `epoll_event.data.ptr` points at it.
 */
#ifndef MQOTA_FLEET_IO_H
#define MQOTA_FLEET_IO_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** First member of every object registered with the loop's epoll instance. */
typedef struct fleet_io {
    /** Socket readiness (EPOLLIN, EPOLLOUT, EPOLLHUP, EPOLLERR bits). Required. */
    void (*on_events)(struct fleet_io *self, uint32_t events);
    /** Called once per event, after every event of the batch was dispatched; NULL = none. */
    void (*after_events)(struct fleet_io *self);
} fleet_io_t;

#ifdef __cplusplus
}
#endif

#endif /* MQOTA_FLEET_IO_H */
