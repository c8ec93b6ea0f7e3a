/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mqota_image_host.c - texts for the image checker of device/src/mqota_image.c: a fault's
 * sentence and a chip's name, for mqotad's and the CLI's messages and the virtual ESP32's
 * bootloader. The agent reports a fault by its number (mqota_image_check_t.fault) and never
 * prints these, so they are not in libmqota. Library mqota_codec_host.
 */
#include <stdint.h>

#include "mqota/mqota_image.h"
#include "mqota_names.h"

/* Indexed by mqota_image_fault_t (mqota_names.h). */
#define FAULT_COUNT 9u
static const char fault_texts[] =
    "no fault\0"                                              /* MQOTA_IMAGE_FAULT_NONE */
    "bad image magic (byte 0 is not 0xE9)\0"                  /* MQOTA_IMAGE_FAULT_MAGIC */
    "segment count is 0 or more than 16\0"                    /* MQOTA_IMAGE_FAULT_SEGMENT_COUNT */
    "segment length not a multiple of 4 or 16 MiB or more\0"  /* MQOTA_IMAGE_FAULT_SEGMENT_SIZE */
    "image is truncated\0"                                    /* MQOTA_IMAGE_FAULT_TRUNCATED */
    "checksum mismatch\0"                                     /* MQOTA_IMAGE_FAULT_CHECKSUM */
    "bad app descriptor magic\0"                              /* MQOTA_IMAGE_FAULT_DESC_MAGIC */
    "unknown chip id\0"                                       /* MQOTA_IMAGE_FAULT_CHIP */
    "unexpected bytes after the image's end";                 /* MQOTA_IMAGE_FAULT_TRAILING */

/* Indexed by chip id, up to MQOTA_CHIP_ESP32P4; an empty name is an id with no chip. */
#define CHIP_COUNT 19u
static const char chip_names[] =
    "ESP32\0"     /* MQOTA_CHIP_ESP32, 0 */
    "\0"
    "ESP32-S2\0"  /* MQOTA_CHIP_ESP32S2, 2 */
    "\0\0"
    "ESP32-C3\0"  /* MQOTA_CHIP_ESP32C3, 5 */
    "\0\0\0"
    "ESP32-S3\0"  /* MQOTA_CHIP_ESP32S3, 9 */
    "\0\0"
    "ESP32-C2\0"  /* MQOTA_CHIP_ESP32C2, 12 */
    "ESP32-C6\0"  /* MQOTA_CHIP_ESP32C6, 13 */
    "\0\0"
    "ESP32-H2\0"  /* MQOTA_CHIP_ESP32H2, 16 */
    "\0"
    "ESP32-P4";   /* MQOTA_CHIP_ESP32P4, 18 */

const char *mqota_image_fault_str(mqota_image_fault_t fault)
{
    return status__name_at(fault_texts, FAULT_COUNT, (unsigned)fault, "unknown fault");
}

const char *mqota_chip_name(uint16_t chip_id)
{
    const char *name = status__name_at(chip_names, CHIP_COUNT, chip_id, "");
    return name[0] != '\0' ? name : "unknown";
}

