/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mqota-vboot: the virtual ESP32's flash file and bootloader (ports/posix vdev) as a command,
 * for the MicroPython tests: the harness makes the device's flash, and after every reset of
 * the MicroPython process boots it, so the bootloader judges exactly what the agent wrote
 * through the esp32 module stand-in (tests/emu/micropython/esp32.py).
 *
 *   mqota-vboot create FLASH CHIP_ID IMAGE   new flash: partition table, NVS, IMAGE in ota_0
 *   mqota-vboot boot FLASH                   run the bootloader; print one line:
 *       slot=N state=S rolled_back=0|1 version=V project=P
 * Exit status: 0, 1 on any failure (a bricked device included), with one sentence on stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqota_posix/vdev.h"

int main(int argc, char **argv)
{
    char err[256] = "";

    if (argc == 5 && strcmp(argv[1], "create") == 0) {
        unsigned long chip = strtoul(argv[3], NULL, 0);
        if (vdev_flash_create(argv[2], (uint16_t)chip, argv[4], err, sizeof(err)) != MQOTA_OK) {
            fprintf(stderr, "mqota-vboot: %s\n", err);
            return 1;
        }
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "boot") == 0) {
        vdev_t *dev = NULL;
        boot_result_t b;
        if (vdev_open(argv[2], &dev, err, sizeof(err)) != MQOTA_OK) {
            fprintf(stderr, "mqota-vboot: %s\n", err);
            return 1;
        }
        mqota_status_t rc = vdev_boot(dev, &b);
        vdev_close(dev);
        if (rc != MQOTA_OK) {
            fprintf(stderr, "mqota-vboot: %s\n", b.message);
            return 1;
        }
        printf("slot=%u state=%u rolled_back=%d version=%s project=%s\n", (unsigned)b.slot,
               (unsigned)b.state, b.rolled_back ? 1 : 0, b.image.version, b.image.project_name);
        fprintf(stderr, "mqota-vboot: %s\n", b.message);
        return 0;
    }
    fprintf(stderr, "usage: mqota-vboot create FLASH CHIP_ID IMAGE | mqota-vboot boot FLASH\n");
    return 1;
}
