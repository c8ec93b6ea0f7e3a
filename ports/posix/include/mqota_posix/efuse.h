/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file efuse.h
 * @brief The eFuse block of one virtual ESP32: its chip identity, apart from its flash.
 *
 * A real ESP32 reads its base MAC and chip revision from eFuse, one-time-programmable bits
 * burnt at the factory; erasing the flash (esptool erase_flash, an erased NVS partition)
 * cannot touch them. The virtual device does the same: its identity lives in a small file
 * beside the flash file, `<flash>.efuse` (EFUSE_FILE_SUFFIX), written once when the device is
 * created (efuse_burn() refuses to overwrite it, and leaves it mode 0444) and only read
 * afterwards. A sibling file rather than a region of the flash file, so that nothing that
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
 *   offset 18  u32  crc32 (mqota_crc32, zlib's) of bytes 0..17
 * efuse_encode() / efuse_decode() are the pure codec; efuse_burn() / efuse_read() the file.
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
#define EFUSE_VERSION 1u         /**< Format version this build writes and reads */
#define EFUSE_PAYLOAD_LEN 10u    /**< MAC, chip id and revision */
#define EFUSE_BLOCK_LEN 22u      /**< Header, payload and crc */
#define EFUSE_FILE_SUFFIX ".efuse" /**< The eFuse file is the flash file's path plus this */

/** What the eFuse block holds. */
typedef struct {
    uint8_t mac[6];    /**< Base MAC address */
    uint16_t chip_id;  /**< ESP-IDF chip id (MQOTA_CHIP_*) */
    uint16_t chip_rev; /**< Chip revision, major * 100 + minor */
} efuse_t;

/**
 * @brief Encode *in into out, EFUSE_BLOCK_LEN bytes.
 * @return MQOTA_OK, MQOTA_ERR_ARG (NULL, or a multicast or all-zero MAC).
 */
mqota_status_t efuse_encode(const efuse_t *in, uint8_t out[EFUSE_BLOCK_LEN]);

/**
 * @brief Decode an eFuse block.
 * @param[in]  buf     The bytes read.
 * @param[in]  len     Their number (must be EFUSE_BLOCK_LEN).
 * @param[out] out     The identity, filled only on success.
 * @param[out] why     One phrase saying what is wrong, on failure (may be NULL).
 * @param[in]  why_len Size of why.
 * @return MQOTA_OK, MQOTA_ERR_ARG (NULL), MQOTA_ERR_TRUNCATED (len is not EFUSE_BLOCK_LEN),
 *         MQOTA_ERR_MALFORMED (bad magic, payload length or MAC), MQOTA_ERR_VERSION (a format
 *         version this build does not read), MQOTA_ERR_CRC (the crc does not match).
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

#ifdef __cplusplus
}
#endif

#endif /* MQOTA_POSIX_EFUSE_H */
