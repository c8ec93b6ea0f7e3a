/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file vdev.h
 * @brief The flash side of one virtual ESP32: its flash file, partition table, key-value
 *        store and bootloader, and the platform hooks of mqota_platform.h that touch them.
 *
 * Life of a virtual device:
 * @code
 *   char err[256];
 *   vdev_t *dev;
 *   if (vdev_flash_create("dev1.flash", MQOTA_CHIP_ESP32, "hello.bin", err, sizeof(err)) != MQOTA_OK ||
 *       vdev_open("dev1.flash", &dev, err, sizeof(err)) != MQOTA_OK) {
 *       fprintf(stderr, "%s\n", err);
 *   }
 *   boot_result_t boot;
 *   vdev_boot(dev, &boot);          // after every (virtual) reset
 *   mqota_platform_t plat = {0};
 *   vdev_platform_fill(dev, &plat); // then fill publish/subscribe/now_ms/reboot/self_test
 *   ...
 *   vdev_close(dev);
 * @endcode
 * The device's persistent state is its flash file and, beside it, its eFuse file
 * (`<flash>.efuse`, efuse.h): the chip identity (base MAC, chip id, revision), written once by
 * vdev_flash_create() and only read afterwards, and the anti-rollback secure version, only
 * ever raised (the secure_version_raise hook); so erasing flash (all of it, or the NVS
 * partition) leaves the chip what it was and its anti-rollback minimum where it was, as on an
 * ESP32. vdev_boot() refuses an image below that secure version (boot.h). One file descriptor is held open per
 * device. Not thread-safe (one device, one thread).
 */
#ifndef MQOTA_POSIX_VDEV_H
#define MQOTA_POSIX_VDEV_H

#include <stddef.h>
#include <stdint.h>

#include "mqota/mqota_platform.h"
#include "mqota/mqota_status.h"
#include "mqota_posix/boot.h"
#include "mqota_posix/efuse.h"
#include "mqota_posix/kv.h"
#include "mqota_posix/partition.h"
#include "mqota_posix/sigverify.h"
#include "mqota_posix/vflash.h"

#ifdef __cplusplus
extern "C" {
#endif

/** NVS key where flash files of builds before the eFuse file kept the chip id (u16 LE); read
 *  once by vdev_open() to move it to the eFuse file, never written. */
#define VDEV_LEGACY_CHIP_KEY "chip"
/** Chip revision burnt by vdev_flash_create(): v0.0 (major * 100 + minor). */
#define VDEV_DEFAULT_CHIP_REV 0u

/** Opaque virtual device. */
typedef struct vdev vdev_t;

/**
 * @brief Create a new device: a fresh flash file (partition table, an empty formatted NVS
 *        partition, the image from `initial_image_path` in ota_0; otadata stays blank, so ota_0
 *        boots) and its eFuse file `<path>.efuse` with chip id `chip_id`, revision
 *        VDEV_DEFAULT_CHIP_REV and a random base MAC under Espressif's OUI.
 * @param[in]  path               Flash file to create (replaced if it exists, and so is an
 *                                eFuse file beside it: a new device is a new chip).
 * @param[in]  chip_id            ESP-IDF chip id of the device (reported by the running hook);
 *                                it need not match the image's.
 * @param[in]  initial_image_path An ESP32 application image (.bin).
 * @param[out] err                One sentence on failure (may be NULL).
 * @param[in]  err_len            Size of err.
 * @return MQOTA_OK, MQOTA_ERR_ARG, MQOTA_ERR_PLATFORM (file or flash I/O failed),
 *         MQOTA_ERR_RANGE (image larger than ota_0), MQOTA_ERR_IMAGE / MQOTA_ERR_TRUNCATED /
 *         MQOTA_ERR_HASH (the file is not a valid ESP32 application image; err says why).
 *         On failure the flash file is removed.
 */
mqota_status_t vdev_flash_create(const char *path, uint16_t chip_id,
                                 const char *initial_image_path, char *err, size_t err_len);

/** @brief vdev_flash_create() with the whole eFuse identity given (its MAC must be unicast). */
mqota_status_t vdev_flash_create_efuse(const char *path, const efuse_t *efuse,
                                       const char *initial_image_path, char *err, size_t err_len);

/** @brief A base MAC as vdev_flash_create() draws it: Espressif's OUI 24:0A:C4, 3 random bytes.
 *  @return MQOTA_OK, MQOTA_ERR_PLATFORM (the random source failed). */
mqota_status_t vdev_random_mac(uint8_t mac[6]);

/**
 * @brief Open a device made by vdev_flash_create(): read the partition table, the eFuse file
 *        and open the NVS partition. Does not boot.
 *
 * The NVS partition is recovered as an ESP-IDF application recovers it: blank (erased) is
 * formatted; corrupt or of a newer format is erased and formatted. The agent's records are
 * then gone and it starts fresh; vdev_notice() says what was done. A flash file of an older
 * build (chip id in NVS under VDEV_LEGACY_CHIP_KEY, no eFuse file) is migrated once: its
 * eFuse file is burnt from that record.
 * @return MQOTA_OK, MQOTA_ERR_ARG, MQOTA_ERR_PLATFORM (file missing or I/O failed),
 *         MQOTA_ERR_MALFORMED / MQOTA_ERR_HASH (no valid partition table or layout),
 *         MQOTA_ERR_NOT_FOUND (no eFuse file and no chip id of an older build to make it from),
 *         efuse_read()'s status (the eFuse file is damaged). err names the file, what is wrong
 *         and what to do.
 */
mqota_status_t vdev_open(const char *path, vdev_t **out, char *err, size_t err_len);

/** @brief One sentence on what vdev_open() repaired (NVS recovered, eFuse file migrated), for
 *         the owner's log; NULL when nothing was. */
const char *vdev_notice(const vdev_t *dev);

/**
 * @brief Erase the NVS partition of the flash file `path`, as `esptool.py erase_region` over
 *        it would (the device must not be open). The eFuse file is untouched.
 * @return MQOTA_OK, MQOTA_ERR_ARG, MQOTA_ERR_PLATFORM, MQOTA_ERR_MALFORMED (no partition table).
 */
mqota_status_t vdev_flash_erase_nvs(const char *path, char *err, size_t err_len);

/** @brief Close the flash file and free the device. NULL is allowed. */
void vdev_close(vdev_t *dev);

/**
 * @brief Reset the device: run the bootloader (boot.h). Until the next successful boot the
 *        running hook fails.
 * @return As boot_run(); out->message says what happened (MQOTA_ERR_IMAGE: bricked).
 */
mqota_status_t vdev_boot(vdev_t *dev, boot_result_t *out);

/**
 * @brief Fill the hooks this module owns: ctx (= dev), running, health, slot_size, slot_begin,
 *        slot_write, slot_read, slot_end, slot_set_boot, slot_state, slot_mark_valid,
 *        slot_mark_invalid, kv_get, kv_set, kv_erase, sha256_begin/update/finish, and
 *        slot_state_of, verify_signature when a trust key is set (vdev_set_trust_key(), NULL
 *        otherwise), aead_seal / aead_open when a command key is set (vdev_set_command_key()),
 *        secure_version_read / secure_version_raise on the eFuse file. The caller
 *        fills publish, subscribe, now_ms, reboot and self_test; since ctx is the vdev, the
 *        caller's hooks find their own state with vdev_set_user() / vdev_user().
 *
 * Hook behaviour beyond mqota_platform.h: slot hooks return MQOTA_ERR_ARG for a slot other
 * than 0/1, MQOTA_ERR_RANGE outside the slot, MQOTA_ERR_STATE for slot_begin/slot_write on
 * the running slot or before a boot, MQOTA_ERR_PLATFORM for flash failures; slot_end and
 * slot_set_boot return the boot_verify_image() status for an unbootable image
 * (slot_set_boot verifies like esp_ota_set_boot_partition). slot_mark_invalid fails with
 * MQOTA_ERR_STATE when the running slot has no otadata entry (nothing to roll back from).
 */
void vdev_platform_fill(vdev_t *dev, mqota_platform_t *plat);

/**
 * @brief Give the device a trusted release key (sigverify.h): the verify_signature hook then
 *        checks offers' signatures with it. Call before vdev_platform_fill(). The key is not
 *        copied or freed: it must outlive the device; one key may serve a whole fleet.
 */
void vdev_set_trust_key(vdev_t *dev, const sigverify_key_t *key);

/**
 * @brief Give the device its 32-byte command key (docs/PROTOCOL.md §14; the `command_key` of
 *        its credentials file): the aead_seal / aead_open hooks then seal and open commands
 *        with AES-256-GCM (aead.h). The key is copied. NULL removes it (hooks NULL: the agent
 *        takes no commands). Call before vdev_platform_fill().
 */
void vdev_set_command_key(vdev_t *dev, const uint8_t *key);

/**
 * @brief Say how the device is about to stop, as the chip's RTC registers would remember it:
 *        the next vdev_boot() reports `reason` (the health hook's reset_reason, docs/PROTOCOL.md
 *        §16). Kept in <flash>.rtc; a device stopped without this call (killed, powered off)
 *        boots next as power-on. Call before vdev_close() of a restart.
 * @param[in] dev    The device.
 * @param[in] reason An mqota_reset_reason_t: MQOTA_RESET_SOFTWARE for a restart the device
 *                   asked for, MQOTA_RESET_PANIC for a simulated panic, ...
 * @param[in] crash  The crash's reason for the last-crash record (printable ASCII, cut to
 *                   MQOTA_HEALTH_CRASH_MAX bytes), or NULL to keep the last one.
 * @return MQOTA_OK, MQOTA_ERR_ARG (dev NULL, reason above MQOTA_RESET_MAX), MQOTA_ERR_PLATFORM
 *         (the file could not be written).
 */
mqota_status_t vdev_set_reset_reason(vdev_t *dev, uint8_t reason, const char *crash);

/** @brief The reset reason of the last vdev_boot() (mqota_reset_reason_t). */
uint8_t vdev_reset_reason(const vdev_t *dev);

/** @brief The last crash's reason as vdev_set_reset_reason() kept it ("" if the device never
 *         crashed; valid until the next vdev_set_reset_reason() or vdev_close()). */
const char *vdev_last_crash(const vdev_t *dev);

/** @brief Attach the caller's pointer (for its own hooks). */
void vdev_set_user(vdev_t *dev, void *user);
/** @brief The pointer given to vdev_set_user(), or NULL. */
void *vdev_user(const vdev_t *dev);

/** @brief The device's flash (for power-cut tests and statistics). */
vflash_t *vdev_flash(vdev_t *dev);
/** @brief The device's key-value store. */
kv_t *vdev_kv(vdev_t *dev);
/** @brief The device's partition table. */
const partition_table_t *vdev_partitions(const vdev_t *dev);
/** @brief Chip id, from the eFuse file. */
uint16_t vdev_chip_id(const vdev_t *dev);
/** @brief The eFuse identity read at open (base MAC, chip id, revision). */
const efuse_t *vdev_efuse(const vdev_t *dev);

#ifdef __cplusplus
}
#endif

#endif /* MQOTA_POSIX_VDEV_H */
