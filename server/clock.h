/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file clock.h
 * @brief mqotad's wall clock for schedules (rollouts' scheduled starts and deadlines,
 *        maintenance windows): UTC seconds, shifted by a test-only offset so that tests
 *        reach an hour-away time in seconds.
 *
 * Everything that compares a stored UTC time with "now" for a schedule asks clock__now(),
 * never time() directly, so one offset moves every schedule together. The offset is for
 * tests only (docs/TESTING.md "The injectable clock"); production leaves it unset and
 * clock__now() is time(NULL).
 *
 * - MQOTA_TEST_CLOCK_OFFSET=SECONDS (signed decimal): read once by clock__init().
 * - MQOTA_TEST_CLOCK_FILE=PATH: a file holding the offset (signed decimal seconds), read
 *   again whenever its modification time or size changes, so a test moves time while
 *   mqotad runs. A missing or unreadable file keeps the offset last read (0 at first).
 *   When both are set the file's offset is added to the environment's.
 *
 * Monotonic intervals (ticks, retransmissions) stay on mqh_now_ms(): they are not schedules.
 */
#ifndef MQOTAD_CLOCK_H
#define MQOTAD_CLOCK_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Environment variable: a fixed offset added to the wall clock, seconds (tests only). */
#define CLOCK_OFFSET_ENV "MQOTA_TEST_CLOCK_OFFSET"
/** Environment variable: a file whose content is a further offset, seconds (tests only). */
#define CLOCK_FILE_ENV "MQOTA_TEST_CLOCK_FILE"
/** Largest offset accepted either way, seconds (100 years). */
#define CLOCK_OFFSET_MAX_S 3155760000LL

/**
 * Read the test offsets from the environment and log a warning when one is set.
 * @return 0; -1 when MQOTA_TEST_CLOCK_OFFSET is not a whole number of seconds within
 *         CLOCK_OFFSET_MAX_S (one sentence on stderr; the daemon should not start).
 * @note Without it clock__now() has no offset: unit tests need not call it.
 */
int clock__init(void);

/** The schedule clock: UTC seconds since 1970 plus the test offsets. */
int64_t clock__now(void);

/** The schedule clock in milliseconds (UTC ms since 1970 plus the test offsets). */
int64_t clock__now_ms(void);

/** The offset in force, seconds (0 in production). */
int64_t clock__offset_s(void);

#ifdef __cplusplus
}
#endif

#endif /* MQOTAD_CLOCK_H */
