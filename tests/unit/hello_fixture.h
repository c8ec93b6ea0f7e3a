/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The device the decode-stage tests update (test_decode.c, test_delta_agent.c): a virtual
 * ESP32 (vdev, the POSIX port's hooks and zlib inflate hook) running the 2023 hello_world, its
 * agent connected, and the server of update_harness.h serving it the 2024 image (release 5,
 * deployment 3, 4 KiB chunks, a window of HELLO_WINDOW). Every test starts from the same
 * pre-update device: hello_power_on() puts the snapshot of its files back.
 *
 * Test code: it asserts with cmocka (include <cmocka.h> before this header).
 */
#ifndef MQOTA_TEST_HELLO_FIXTURE_H
#define MQOTA_TEST_HELLO_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fixtures.h"
#include "update_harness.h"

#include "mqota/mqota.h"
#include "mqota_posix/vdev.h"

#define HELLO_IMG_2023 MQOTA_FIXTURES "/idf_hello_world_esp32_2023.bin"
#define HELLO_IMG_2024 MQOTA_FIXTURES "/idf_hello_world_esp32_2024.bin"
#define HELLO_DEV_ID "dev-1"
#define HELLO_CHUNK 4096u /* bytes per chunk of the offer, and the agent's max_chunk */
#define HELLO_WINDOW 8u   /* chunks in flight */

typedef struct {
    vdev_t *dev;          /* the device powered on now, or NULL */
    mqota_agent_t agent;
    mqota_platform_t plat;
    boot_result_t boot;
    uint64_t now;         /* the agent's clock, ms */
    harness_server_t srv;
    uint32_t requests;    /* ACKs with REQUEST seen since power on */
    uint32_t erases;      /* slot_begin calls since power on */
    uint8_t *image;       /* the 2024 image the server serves, malloc'd */
    size_t image_len;
    char dir[64];         /* the group's temporary directory */
    char flash_path[96];
    harness_snapshot_t snapshot;
} hello_t;

/* The one device of the test program. */
extern hello_t H;

/* Group setup: load the 2024 image, make the temporary directory /tmp/<name>.XXXXXX, create
 * the device's flash with the 2023 image, fill the server (the offer's SHA-256 from the
 * device's own hook) and take the snapshot. Returns 0, or -1 having said why. */
int hello_setup(const char *name);

/* Group teardown: the server's compressed forms, the device's files, the directory, the
 * snapshot and the image. */
void hello_teardown(void);

/* A fresh pre-update device with the agent initialised and connected; with_inflate false: a
 * port without the decoder (no inflate hook). */
void hello_power_on(bool with_inflate);

/* Boot the device as its files are (after hello_power_off(): a reset, flash and records kept)
 * and initialise and connect its agent; the counters and the clock go on. */
void hello_boot(bool with_inflate);

/* Close the device (its files stay for the next hello_power_on()). */
void hello_power_off(void);

/* Run the agent and serve its ACKs until it leaves the transfer (verified and switched, or
 * failed), at most a bounded number of steps. Returns the state it ends in. */
mqota_update_state_t hello_drive(void);

/* Assert that the update slot holds exactly the 2024 image. */
void hello_check_slot(void);

/* Send the server's (compressed) CHUNK `index` with its data damaged: after its CRC was
 * computed (crc_after: damaged on the way, the CRC catches it) or before (wrong data with its
 * own good CRC). */
void hello_send_damaged(uint32_t index, bool crc_after);

#endif /* MQOTA_TEST_HELLO_FIXTURE_H */
