/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file boot.h
 * @brief The virtual ESP32's second-stage bootloader, with app rollback
 *        (CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE), and the image verifier it shares with
 *        esp_ota_end-like checks.
 *
 * Slot choice, from the active otadata entry (otadata.h):
 *   no valid entry            -> ota_0
 *   NEW                       -> that slot; the entry becomes PENDING_VERIFY once it boots
 *   PENDING_VERIFY            -> the app reset before confirming: the entry becomes ABORTED
 *                                and the other slot boots (a rollback)
 *   INVALID or ABORTED        -> the other slot (a rollback)
 *   VALID, UNDEFINED, other   -> that slot
 * The chosen slot's image is verified before it boots; if it is not bootable the other slot is
 * tried (also a rollback). If neither slot holds a bootable image the device is bricked and
 * boot_run() fails with MQOTA_ERR_IMAGE and a message saying so.
 *
 * Anti-rollback (CONFIG_BOOTLOADER_APP_ANTI_ROLLBACK): an image whose esp_app_desc_t
 * secure_version is below the eFuse secure version (boot_run()'s min_secure_version, from
 * efuse.h) is treated as not bootable, as the ESP-IDF bootloader refuses it; the other slot is
 * tried.
 *
 * Every successful boot increments the u32 (little-endian) counter "boot.count" in the
 * key-value store.
 */
#ifndef MQOTA_POSIX_BOOT_H
#define MQOTA_POSIX_BOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mqota/mqota_image.h"
#include "mqota/mqota_status.h"
#include "mqota_posix/kv.h"
#include "mqota_posix/partition.h"
#include "mqota_posix/vflash.h"

#ifdef __cplusplus
extern "C" {
#endif

#define BOOT_COUNT_KEY "boot.count" /**< kv key of the boot counter (u32 LE) */

/** Why the booted slot is not the one otadata selected. */
typedef enum {
    BOOT_ROLLBACK_NONE = 0,      /**< No rollback: the selected slot booted */
    BOOT_ROLLBACK_ABORTED = 1,   /**< The selected slot was PENDING_VERIFY at boot (reset
                                      before confirm); it is now ABORTED */
    BOOT_ROLLBACK_INVALID = 2,   /**< The selected slot is marked INVALID or ABORTED */
    BOOT_ROLLBACK_BAD_IMAGE = 3  /**< The selected slot's image failed verification */
} boot_rollback_t;

/** What a boot did. */
typedef struct {
    uint8_t slot;                 /**< Slot that booted (0 = ota_0, 1 = ota_1) */
    uint32_t slot_offset;         /**< Flash address of that slot */
    uint32_t image_len;           /**< Image bytes, checksum and appended hash included */
    mqota_image_info_t image;     /**< Header and esp_app_desc_t of the booted image */
    uint32_t state;               /**< otadata state of the booted slot after boot
                                       (OTADATA_STATE_*, OTADATA_STATE_UNDEFINED if no entry) */
    bool rolled_back;             /**< The booted slot is not the one otadata selected */
    uint8_t rollback_from;        /**< Slot that was selected, if rolled_back */
    boot_rollback_t rollback_why; /**< Why, if rolled_back */
    uint32_t boot_count;          /**< Value of "boot.count" after this boot */
    char message[256];            /**< What happened, one or two sentences; on failure, why */
} boot_result_t;

/**
 * @brief Verify the image in a slot like the ESP-IDF bootloader / esp_image_verify: header
 *        magic 0xE9, segment structure and checksum (mqota_image_check_*), appended SHA-256
 *        when hash_appended, and the esp_app_desc_t (mqota_image_parse_head).
 * @param[in]  fl        Flash.
 * @param[in]  slot_off  Flash address of the slot.
 * @param[in]  slot_size Slot size in bytes.
 * @param[in]  image_size 0: find the image's end with the checker (bootloader); otherwise
 *                       exactly this many bytes are the image (esp_ota_end).
 * @param[out] info      Parsed descriptor (may be NULL).
 * @param[out] image_len Image length found (may be NULL).
 * @param[out] why       On failure, one sentence saying what is wrong (may be NULL).
 * @param[in]  why_len   Size of why.
 * @return MQOTA_OK, MQOTA_ERR_ARG, MQOTA_ERR_PLATFORM (flash read), MQOTA_ERR_RANGE
 *         (image_size larger than the slot), MQOTA_ERR_IMAGE (bad structure, checksum,
 *         descriptor, or the slot is empty), MQOTA_ERR_TRUNCATED (the image ends early),
 *         MQOTA_ERR_HASH (appended SHA-256 mismatch).
 */
mqota_status_t boot_verify_image(vflash_t *fl, uint32_t slot_off, uint32_t slot_size,
                                 uint32_t image_size, mqota_image_info_t *info,
                                 uint32_t *image_len, char *why, size_t why_len);

/**
 * @brief Run the bootloader: choose a slot (see the file comment), update otadata, verify,
 *        count the boot.
 * @param[in]  fl  Flash.
 * @param[in]  pt  Partition table (needs otadata, ota_0, ota_1).
 * @param[in]  kv  Store for the boot counter.
 * @param[in]  min_secure_version The eFuse secure version: a slot whose image has a lower
 *                 secure_version does not boot (0 boots any).
 * @param[out] out What happened; out->message explains a failure.
 * @return MQOTA_OK, MQOTA_ERR_ARG, MQOTA_ERR_MALFORMED (partition table lacks otadata or an
 *         OTA slot), MQOTA_ERR_PLATFORM (flash or store failed), MQOTA_ERR_IMAGE (bricked:
 *         neither slot holds a bootable image).
 */
mqota_status_t boot_run(vflash_t *fl, const partition_table_t *pt, kv_t *kv,
                        uint32_t min_secure_version, boot_result_t *out);

#ifdef __cplusplus
}
#endif

#endif /* MQOTA_POSIX_BOOT_H */
