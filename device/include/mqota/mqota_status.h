/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file mqota_status.h
 * @brief Status codes, update states and failure reasons shared by every part of libmqota.
 *
 * Numbers are assigned by hand and never renumbered: update states and failure reasons travel
 * on the wire (docs/PROTOCOL.md) and are stored in the server's database.
 */
#ifndef MQOTA_STATUS_H
#define MQOTA_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @brief Result of every libmqota function.
 *
 * MQOTA_OK is 0. Codes 1..99 are errors; codes from 100 up are "keep going" results that are
 * not failures (a message that was not for us, a duplicate chunk).
 */
typedef enum {
    MQOTA_OK = 0,                /**< Success. */
    MQOTA_ERR_ARG = 1,           /**< A NULL pointer or out-of-range argument. */
    MQOTA_ERR_MALFORMED = 2,     /**< A message is shorter than its header says, or has a bad field. */
    MQOTA_ERR_VERSION = 3,       /**< Magic is right but the protocol version is not 1. */
    MQOTA_ERR_TYPE = 4,          /**< The message type byte is not the one expected. */
    MQOTA_ERR_NO_SPACE = 5,      /**< The output buffer is too small. */
    MQOTA_ERR_CRC = 6,           /**< A CRC-32 does not match the data it covers. */
    MQOTA_ERR_STATE = 7,         /**< The call is not allowed in the agent's current state. */
    MQOTA_ERR_PLATFORM = 8,      /**< A platform hook (flash, store, transport) reported failure. */
    MQOTA_ERR_RANGE = 9,         /**< An offset, index or size lies outside what is allowed. */
    MQOTA_ERR_IMAGE = 10,        /**< Bytes are not a valid ESP32 application image. */
    MQOTA_ERR_NOT_FOUND = 11,    /**< A key is absent from the persistent store. */
    MQOTA_ERR_TRUNCATED = 12,    /**< Input ended before a complete structure was read. */
    MQOTA_ERR_HASH = 13,         /**< A SHA-256 digest does not match. */
    MQOTA_ERR_AUTH = 14,         /**< A sealed frame did not authenticate (forged, altered, wrong key). */
    MQOTA_ERR_REPLAY = 15,       /**< An authentic sealed frame whose counter was used before. */
    MQOTA_ERR_CONFIG = 16,       /**< The application was compiled with other size tunables
                                      (MQOTA_MAX_CHUNKS, MQOTA_VERIFY_STEP, MQOTA_TOPIC_MAX,
                                      MQOTA_DEVICE_ID_MAX) than libmqota: mqota_config_defaults.h. */

    MQOTA_IGNORED = 100,         /**< Not an error: the message was not for this agent or is stale. */
    MQOTA_DUPLICATE = 101,       /**< Not an error: the chunk was already written. */
    MQOTA_MORE = 102             /**< Not an error: more input is needed to finish. */
} mqota_status_t;

/**
 * @brief Update state of a device, as reported in its state message (one byte on the wire).
 */
typedef enum {
    MQOTA_STATE_IDLE = 0,            /**< Running an image, no update in progress. */
    MQOTA_STATE_OFFERED = 1,         /**< An offer was accepted; waiting for the first chunk. */
    MQOTA_STATE_DOWNLOADING = 2,     /**< Chunks are being written to the inactive slot. */
    MQOTA_STATE_VERIFYING = 3,       /**< All chunks written; reading the slot back to verify. */
    MQOTA_STATE_READY_TO_REBOOT = 4, /**< Boot slot switched; restart pending. */
    MQOTA_STATE_PENDING_VERIFY = 5,  /**< Booted into the new image; self-test not yet passed. */
    MQOTA_STATE_CONFIRMED = 6,       /**< New image passed its self-test and is marked valid. */
    MQOTA_STATE_FAILED = 7,          /**< The update was refused or failed; see the reason. */
    MQOTA_STATE_ROLLED_BACK = 8,     /**< The new image failed after reboot; previous slot runs. */
    MQOTA_STATE_HELD = 9             /**< Verified image held in the inactive slot, boot slot
                                          not switched: the offer asked to hold it until it is
                                          activated (docs/PROTOCOL.md §5.2). */
} mqota_update_state_t;

/**
 * @brief Why an update failed or rolled back (one byte on the wire).
 */
typedef enum {
    MQOTA_REASON_NONE = 0,             /**< No failure. */
    MQOTA_REASON_CHIP_MISMATCH = 1,    /**< Offer is for another chip than this device. */
    MQOTA_REASON_TOO_LARGE = 2,        /**< Image does not fit the inactive slot. */
    MQOTA_REASON_BAD_CHUNK_SIZE = 3,   /**< Chunk size is not a power of two within the limits. */
    MQOTA_REASON_FLASH = 4,            /**< Erasing or writing the slot failed. */
    MQOTA_REASON_HASH_MISMATCH = 5,    /**< SHA-256 of the written image differs from the offer. */
    MQOTA_REASON_INVALID_IMAGE = 6,    /**< Image structure is invalid (magic, segments, checksum). */
    MQOTA_REASON_SET_BOOT = 7,         /**< Switching the boot slot failed. */
    MQOTA_REASON_SELF_TEST = 8,        /**< The new image failed its self-test. */
    MQOTA_REASON_CONFIRM_TIMEOUT = 9,  /**< The new image did not reach the broker in time. */
    MQOTA_REASON_RESET = 10,           /**< The device reset before the new image was confirmed. */
    MQOTA_REASON_TOO_MANY_CHUNKS = 11, /**< image_size / chunk_size exceeds the agent's bitmap. */
    MQOTA_REASON_STORE = 12,           /**< The persistent key-value store failed. */
    MQOTA_REASON_MALFORMED_OFFER = 13, /**< The offer could not be decoded. */
    MQOTA_REASON_SIGNATURE = 14,       /**< The offer's signature block is malformed or does not
                                            verify against the device's trusted key. */
    MQOTA_REASON_UNSIGNED = 15,        /**< The offer is unsigned and the device requires a
                                            signature. */
    MQOTA_REASON_SECURITY_VERSION = 16, /**< The offer's secure_version is below the device's
                                            minimum (anti-rollback). */
    MQOTA_REASON_COMMAND = 17,         /**< The server rolled the pending image back with the
                                            "rollback" command (docs/PROTOCOL.md §14). */
    MQOTA_REASON_FILE_RELEASE = 18,    /**< The offer is a file release (MQOTA_OFFER_FLAG_FILES)
                                            and this device takes images only; nothing was
                                            erased (docs/PROTOCOL.md §17). */
    MQOTA_REASON_DECODE = 19,          /**< A compressed chunk passed its CRC but did not decode
                                            to its image bytes (docs/PROTOCOL.md §6.1). */
    MQOTA_REASON_BAD_ENCODING = 20,    /**< The offer's encoding or window is one this device
                                            cannot decode; nothing was erased. */
    MQOTA_REASON_BASE_MISMATCH = 21    /**< A delta offer's base (size, SHA-256) is not the
                                            running image; nothing was erased
                                            (docs/PROTOCOL.md §18). */
} mqota_reason_t;

/**
 * @brief Text for a status code.
 * @param[in] status Any value, also one that came as a plain integer.
 * @return "invalid argument", ...; "unknown status" for other values. Static, never NULL.
 *         Built with MQOTA_CFG_STATUS_TEXT 0 (mqota_config_defaults.h), the texts are left out
 *         and every value gives "mqota status (texts left out: MQOTA_CFG_STATUS_TEXT)": print
 *         the number beside it.
 */
const char *mqota_strerror(mqota_status_t status);

/**
 * @brief Short lower-case name of an update state (as the server and CLI print it).
 * @param[in] state Any value, also one read from the wire.
 * @return "downloading", ...; "unknown" for other values. Static, never NULL.
 */
const char *mqota_state_name(mqota_update_state_t state);

/**
 * @brief Short lower-case name of a failure reason (as the server and CLI print it).
 * @param[in] reason Any value, also one read from the wire.
 * @return "hash-mismatch", ...; "unknown" for other values. Static, never NULL.
 */
const char *mqota_reason_name(mqota_reason_t reason);

#ifdef __cplusplus
}
#endif

#endif /* MQOTA_STATUS_H */
