/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file efuse.h
 * @brief The eFuse block of one virtual ESP32: its chip identity and anti-rollback secure
 *        version, apart from its flash.
 *
 * A real ESP32 reads its base MAC and chip revision from eFuse, one-time-programmable bits
 * burnt at the factory; erasing the flash (esptool erase_flash, an erased NVS partition)
 * cannot touch them. The virtual device does the same: its identity lives in a small file
 * beside the flash file, `<flash>.efuse` (EFUSE_FILE_SUFFIX), written once when the device is
 * created (efuse_burn() refuses to overwrite it, and leaves it mode 0444); afterwards the only
 * change is efuse_raise_secure_version(), which sets bits of the secure version field and
 * never clears one, like burning an eFuse. A sibling file rather than a region of the flash file, so that nothing that
 * handles the flash file as the 4 MiB image of a NOR chip (vflash's erase and write, a copy or
 * snapshot of the flash file, dd) can reach the identity.
 *
 * The block, EFUSE_BLOCK_LEN bytes, every integer little-endian, encoded field by field:
 *   offset  0  u32  magic EFUSE_MAGIC ("MQEF")
 *   offset  4  u16  format version EFUSE_VERSION
 *   offset  6  u16  payload length EFUSE_PAYLOAD_LEN (the bytes from offset 8 to the crc)
 *   offset  8  u8[6] base MAC address (as esp_efuse_mac_get_default(): unicast, never all 0)
 *   offset 14  u16  chip id (ESP-IDF esp_chip_id_t, MQOTA_CHIP_*)
 *   offset 16  u16  chip revision, major * 100 + minor (as efuse_hal_chip_revision())
 *   offset 18  u32  secure version bits (format version 2 on): the anti-rollback field, as the
 *                   SECURE_VERSION eFuse field of an ESP32 with EFUSE_SECURE_VERSION_BITS
 *                   bits: the secure version is the number of bits set
 *                   (esp_efuse_read_secure_version()), and raising it to n sets bits 0..n-1
 *                   (esp_efuse_update_secure_version()); a bit once set is never cleared.
 *   offset 22  u32  crc32 (mqota_crc32, zlib's) of every byte before it
 * Format version 1 (EFUSE_V1_BLOCK_LEN bytes) has no secure version bits, its crc at offset 18;
 * it is still read, as secure version 0, and the first raise rewrites the file as version 2.
 * efuse_encode() / efuse_decode() are the pure codec; efuse_burn() / efuse_read() the file;
 * efuse_raise_secure_version() the one write allowed after the burn.
 */
#ifndef MQOTA_POSIX_EFUSE_H
#define MQOTA_POSIX_EFUSE_H

#include <stddef.h>
#include <stdint.h>

#include "mqota/mqota_status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EFUSE_MAGIC 0x4645514Du  /**< "MQEF" read as a little-endian u32 */
#define EFUSE_VERSION 2u         /**< Format version this build writes (it reads 1 and 2) */
#define EFUSE_PAYLOAD_LEN 14u    /**< MAC, chip id, revision and secure version bits */
#define EFUSE_BLOCK_LEN 26u      /**< Header, payload and crc */
#define EFUSE_V1_PAYLOAD_LEN 10u /**< Format version 1: MAC, chip id and revision */
#define EFUSE_V1_BLOCK_LEN 22u   /**< Format version 1: header, payload and crc */
/** Width of the secure version field, so its highest value: an ESP32 with
 *  CONFIG_BOOTLOADER_APP_SEC_VER_SIZE_EFUSE_FIELD at its maximum. */
#define EFUSE_SECURE_VERSION_BITS 32u
#define EFUSE_FILE_SUFFIX ".efuse" /**< The eFuse file is the flash file's path plus this */

/** What the eFuse block holds. */
typedef struct {
    uint8_t mac[6];    /**< Base MAC address */
    uint16_t chip_id;  /**< ESP-IDF chip id (MQOTA_CHIP_*) */
    uint16_t chip_rev; /**< Chip revision, major * 100 + minor */
    uint32_t secure_version_bits; /**< Anti-rollback field; efuse_secure_version() reads it */
} efuse_t;

/**
 * @brief The secure version the field holds: the number of bits set in
 *        secure_version_bits, as esp_efuse_read_secure_version() counts them.
 */
uint32_t efuse_secure_version(const efuse_t *in);

/**
 * @brief Encode *in into out, EFUSE_BLOCK_LEN bytes.
 * @return MQOTA_OK, MQOTA_ERR_ARG (NULL, or a multicast or all-zero MAC).
 */
mqota_status_t efuse_encode(const efuse_t *in, uint8_t out[EFUSE_BLOCK_LEN]);

/**
 * @brief Decode an eFuse block.
 * @param[in]  buf     The bytes read.
 * @param[in]  len     Their number (EFUSE_BLOCK_LEN, or EFUSE_V1_BLOCK_LEN for version 1).
 * @param[out] out     The identity, filled only on success.
 * @param[out] why     One phrase saying what is wrong, on failure (may be NULL).
 * @param[in]  why_len Size of why.
 * @return MQOTA_OK, MQOTA_ERR_ARG (NULL), MQOTA_ERR_TRUNCATED (len is neither block length),
 *         MQOTA_ERR_MALFORMED (bad magic, payload length or MAC, or a length that is not
 *         its version's), MQOTA_ERR_VERSION (a format version this build does not read),
 *         MQOTA_ERR_CRC (the crc does not match).
 */
mqota_status_t efuse_decode(const uint8_t *buf, size_t len, efuse_t *out, char *why,
                            size_t why_len);

/**
 * @brief Write path + EFUSE_FILE_SUFFIX into out.
 * @return 0, or -1 when it does not fit cap.
 */
int efuse_path(const char *flash_path, char *out, size_t cap);

/**
 * @brief Burn the eFuse file `path`: create it (it must not exist: an eFuse is programmed
 *        once), write the block, fsync, and make it read-only (0444).
 * @param[out] err One sentence on failure, naming the file (may be NULL).
 * @return MQOTA_OK, MQOTA_ERR_ARG, MQOTA_ERR_STATE (the file exists already),
 *         MQOTA_ERR_PLATFORM (I/O failed; nothing is left behind).
 */
mqota_status_t efuse_burn(const char *path, const efuse_t *in, char *err, size_t err_len);

/**
 * @brief Read and decode the eFuse file `path`.
 * @param[out] err One sentence on failure, naming the file and what is wrong (may be NULL).
 * @return MQOTA_OK, MQOTA_ERR_NOT_FOUND (no such file), MQOTA_ERR_PLATFORM (I/O failed),
 *         or efuse_decode()'s status.
 */
mqota_status_t efuse_read(const char *path, efuse_t *out, char *err, size_t err_len);

/**
 * @brief Raise the secure version in the eFuse file `path` to `to`, one way, like
 *        esp_efuse_update_secure_version(): bits 0..to-1 are set, none is cleared; a value at
 *        or below the current one changes nothing and succeeds. The new block (format version
 *        EFUSE_VERSION) is written to `<path>.tmp`, fsynced and renamed over `path`, so a
 *        power cut leaves the old or the new block, never a mix.
 * @param[out] now The secure version after the call (may be NULL).
 * @param[out] err One sentence on failure, naming the file (may be NULL).
 * @return MQOTA_OK, MQOTA_ERR_ARG, MQOTA_ERR_RANGE (to is above EFUSE_SECURE_VERSION_BITS;
 *         nothing written), efuse_read()'s status, MQOTA_ERR_PLATFORM (I/O failed; the old
 *         block stays).
 */
mqota_status_t efuse_raise_secure_version(const char *path, uint32_t to, uint32_t *now,
                                          char *err, size_t err_len);

#ifdef __cplusplus
}
#endif

#endif /* MQOTA_POSIX_EFUSE_H */
