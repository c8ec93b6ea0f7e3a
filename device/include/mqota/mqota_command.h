/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file mqota_command.h
 * @brief Sealed commands and replies (docs/PROTOCOL.md §14): frame layout, plaintext codecs,
 *        nonce and additional-data builders, and the anti-replay window. Pure functions: no
 *        I/O, no heap, no crypto (the AEAD itself is the platform's aead_seal / aead_open hook
 *        on the device and OpenSSL on the server).
 *
 * A sealed frame is: 16-byte header ('M' 'Q' 1 type, key_slot, 3 reserved, u64 counter), the
 * ciphertext, and a 16-byte AES-256-GCM tag. The nonce is header bytes 0..3 followed by the
 * counter; the additional authenticated data is the 16-byte header followed by the device id.
 */
#ifndef MQOTA_COMMAND_H
#define MQOTA_COMMAND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mqota_proto.h"
#include "mqota_status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MQOTA_MSG_COMMAND 5u          /**< Header type byte of a COMMAND (server -> device) */
#define MQOTA_MSG_REPLY 6u            /**< Header type byte of a REPLY (device -> server) */

#define MQOTA_SEALED_HEADER_LEN 16u   /**< Bytes before the ciphertext */
#define MQOTA_SEALED_TAG_LEN 16u      /**< Bytes of the GCM tag after the ciphertext */
#define MQOTA_SEALED_OVERHEAD (MQOTA_SEALED_HEADER_LEN + MQOTA_SEALED_TAG_LEN)
#define MQOTA_SEALED_MAX_LEN 1024u    /**< Longest sealed frame, bytes */
#define MQOTA_SEALED_PLAIN_MAX (MQOTA_SEALED_MAX_LEN - MQOTA_SEALED_OVERHEAD) /**< 992 */
#define MQOTA_AEAD_NONCE_LEN 12u      /**< Bytes of the AES-GCM nonce */
#define MQOTA_AEAD_KEY_LEN 32u        /**< Bytes of a device command key (AES-256) */
/** Bytes of the additional authenticated data at most: header + longest device id (48). */
#define MQOTA_AEAD_AAD_MAX (MQOTA_SEALED_HEADER_LEN + 48u)

#define MQOTA_COMMAND_FIXED_LEN 7u    /**< command_id + name length byte + args_len */
#define MQOTA_REPLY_FIXED_LEN 8u      /**< command_id + result + reserved + body_len */
#define MQOTA_REFUSAL_BODY_LEN 24u    /**< Body of a refusal report */
#define MQOTA_REPLAY_WINDOW 64u       /**< Counters below the highest that may still arrive */

/** Result of a command (REPLY plaintext byte 4); docs/PROTOCOL.md §14.5. */
typedef enum {
    MQOTA_CMD_OK = 0,                 /**< The command ran. */
    MQOTA_CMD_UNKNOWN = 1,            /**< No built-in and no application command of that name. */
    MQOTA_CMD_FAILED = 2,             /**< The command ran and failed (body says why). */
    MQOTA_CMD_WRONG_STATE = 3,        /**< Not possible in the device's current state. */
    MQOTA_CMD_REFUSED_FORGED = 16,    /**< Did not authenticate (altered, wrong key/device). */
    MQOTA_CMD_REFUSED_REPLAY = 17,    /**< Authentic, but its counter was already used or too old. */
    MQOTA_CMD_REFUSED_MALFORMED = 18  /**< Header or decrypted plaintext is malformed. */
} mqota_cmd_result_t;

/** A sealed frame as received: pointers into the caller's buffer. */
typedef struct {
    uint8_t type;               /**< MQOTA_MSG_COMMAND or MQOTA_MSG_REPLY */
    uint64_t counter;           /**< Sender's frame counter, >= 1 */
    const uint8_t *header;      /**< The 16 header bytes (part of the AAD) */
    const uint8_t *ciphertext;  /**< ciphertext_len bytes */
    size_t ciphertext_len;      /**< = plaintext length */
    const uint8_t *tag;         /**< MQOTA_SEALED_TAG_LEN bytes */
} mqota_sealed_t;

/** COMMAND plaintext. `args` points into the decoded buffer. */
typedef struct {
    uint32_t command_id;              /**< Server's id, >= 1 */
    char name[MQOTA_STR_MAX + 1];     /**< 1..31 bytes, NUL-terminated */
    uint16_t args_len;                /**< Bytes of args */
    const uint8_t *args;              /**< Argument bytes (NULL if args_len is 0 on encode) */
} mqota_command_t;

/** REPLY plaintext. `body` points into the decoded buffer. */
typedef struct {
    uint32_t command_id;  /**< Command answered; 0 for a refusal report */
    uint8_t result;       /**< mqota_cmd_result_t */
    uint16_t body_len;    /**< Bytes of body */
    const uint8_t *body;  /**< Body bytes */
} mqota_reply_t;

/** Body of a refusal report (REPLY with command_id 0 and a MQOTA_CMD_REFUSED_* result). */
typedef struct {
    uint64_t refused_counter; /**< Counter of the refused frame as received (unauthenticated) */
    uint64_t highest_counter; /**< Highest command counter the device accepted */
    uint32_t refused_total;   /**< Refusals since boot, this one included */
} mqota_refusal_t;

/** Anti-replay window (RFC 4303 §3.4.3): highest counter accepted and the 64 below it. */
typedef struct {
    uint64_t highest; /**< Highest counter accepted, 0 if none */
    uint64_t bitmap;  /**< Bit i set: counter highest - i was accepted */
} mqota_replay_window_t;

/**
 * @brief Write the 16-byte header of a sealed frame (key_slot 0).
 * @param[in]  type    MQOTA_MSG_COMMAND or MQOTA_MSG_REPLY.
 * @param[in]  counter Frame counter, >= 1.
 * @param[out] out     MQOTA_SEALED_HEADER_LEN bytes.
 * @return MQOTA_OK, MQOTA_ERR_ARG (NULL, other type, counter 0).
 */
mqota_status_t mqota_sealed_header(uint8_t type, uint64_t counter, uint8_t *out);

/**
 * @brief Check a sealed frame's header and split it.
 * @param[in]  buf         Frame bytes.
 * @param[in]  len         Bytes in buf.
 * @param[in]  expect_type MQOTA_MSG_COMMAND or MQOTA_MSG_REPLY.
 * @param[out] out         Parts (pointers into buf) on MQOTA_OK; untouched otherwise.
 * @return MQOTA_OK, MQOTA_ERR_ARG, MQOTA_ERR_TRUNCATED (< 32 bytes), MQOTA_ERR_MALFORMED (bad
 *         magic, key_slot or reserved not 0, counter 0, longer than MQOTA_SEALED_MAX_LEN),
 *         MQOTA_ERR_VERSION, MQOTA_ERR_TYPE.
 */
mqota_status_t mqota_sealed_decode(const uint8_t *buf, size_t len, uint8_t expect_type,
                                   mqota_sealed_t *out);

/**
 * @brief Build the AES-GCM nonce of a frame: header bytes 0..3 then the counter (u64 LE).
 * @param[in]  header The frame's 16-byte header.
 * @param[out] nonce  MQOTA_AEAD_NONCE_LEN bytes.
 */
void mqota_sealed_nonce(const uint8_t *header, uint8_t *nonce);

/**
 * @brief Build the additional authenticated data: the 16-byte header then the device id.
 * @param[in]  header    The frame's 16-byte header.
 * @param[in]  device_id NUL-terminated device id (1..48 bytes).
 * @param[out] aad       Output, at least MQOTA_AEAD_AAD_MAX bytes.
 * @param[in]  cap       Capacity of aad.
 * @param[out] aad_len   Bytes written.
 * @return MQOTA_OK, MQOTA_ERR_ARG (NULL, empty or longer id), MQOTA_ERR_NO_SPACE.
 */
mqota_status_t mqota_sealed_aad(const uint8_t *header, const char *device_id, uint8_t *aad,
                                size_t cap, size_t *aad_len);

/**
 * @brief Encode a COMMAND plaintext.
 * @param[in]  cmd     Command; its args are read during the call only.
 * @param[out] buf     Where the plaintext goes.
 * @param[in]  cap     Bytes available at buf.
 * @param[out] out_len Bytes written on MQOTA_OK.
 * @return MQOTA_OK, MQOTA_ERR_ARG (NULL, command_id 0, empty name, args NULL with args_len),
 *         MQOTA_ERR_NO_SPACE (cap too small or longer than MQOTA_SEALED_PLAIN_MAX).
 * @note Server side: defined in common/mqota_command_host.c (CMake target mqota_codec_host),
 *       not in libmqota; a device does not link it.
 */
mqota_status_t mqota_command_encode(const mqota_command_t *cmd, uint8_t *buf, size_t cap,
                                    size_t *out_len);

/**
 * @brief Decode a COMMAND plaintext (after the frame was opened).
 * @param[in]  buf Plaintext bytes.
 * @param[in]  len Bytes in buf.
 * @param[out] cmd The command on MQOTA_OK; cmd->args points into buf, so buf must outlive
 *                 every use of it.
 * @return MQOTA_OK, MQOTA_ERR_ARG, MQOTA_ERR_TRUNCATED, MQOTA_ERR_MALFORMED (command_id 0,
 *         empty name, name longer than 31 bytes or with a NUL, trailing bytes).
 */
mqota_status_t mqota_command_decode(const uint8_t *buf, size_t len, mqota_command_t *cmd);

/**
 * @brief Encode a REPLY plaintext.
 * @param[in]  reply   Reply; its body is read during the call only.
 * @param[out] buf     Where the plaintext goes.
 * @param[in]  cap     Bytes available at buf.
 * @param[out] out_len Bytes written on MQOTA_OK.
 * @return MQOTA_OK, MQOTA_ERR_ARG, MQOTA_ERR_NO_SPACE (as for commands).
 */
mqota_status_t mqota_reply_encode(const mqota_reply_t *reply, uint8_t *buf, size_t cap,
                                  size_t *out_len);

/**
 * @brief Decode a REPLY plaintext.
 * @param[in]  buf   Plaintext bytes.
 * @param[in]  len   Bytes in buf.
 * @param[out] reply The reply on MQOTA_OK; reply->body points into buf, so buf must outlive
 *                   every use of it.
 * @return MQOTA_OK, MQOTA_ERR_ARG, MQOTA_ERR_TRUNCATED, MQOTA_ERR_MALFORMED (reserved byte
 *         not 0, trailing bytes).
 * @note Server side: defined in common/mqota_command_host.c (CMake target mqota_codec_host),
 *       not in libmqota; a device does not link it.
 */
mqota_status_t mqota_reply_decode(const uint8_t *buf, size_t len, mqota_reply_t *reply);

/**
 * @brief Write a refusal report body into out.
 * @param[in]  r   Report; not NULL.
 * @param[out] out MQOTA_REFUSAL_BODY_LEN bytes; not NULL.
 */
void mqota_refusal_encode(const mqota_refusal_t *r, uint8_t *out);

/**
 * @brief Read a refusal report body.
 * @param[in]  buf Body bytes.
 * @param[in]  len Bytes in buf (MQOTA_REFUSAL_BODY_LEN).
 * @param[out] r   The report on MQOTA_OK.
 * @return MQOTA_OK, MQOTA_ERR_ARG, MQOTA_ERR_TRUNCATED / MQOTA_ERR_MALFORMED (not 24 bytes).
 * @note Server side: defined in common/mqota_command_host.c (CMake target mqota_codec_host),
 *       not in libmqota; a device does not link it.
 */
mqota_status_t mqota_refusal_decode(const uint8_t *buf, size_t len, mqota_refusal_t *r);

/**
 * @brief Would the window accept this counter? (above the highest, or within
 *        MQOTA_REPLAY_WINDOW below it and not yet seen). Counter 0 is never accepted.
 * @param[in] w       Window; not NULL. Not changed.
 * @param[in] counter Frame counter to judge.
 * @return true if the window would accept counter, false if it is 0, was seen, or lies more
 *         than MQOTA_REPLAY_WINDOW below the highest.
 */
bool mqota_replay_check(const mqota_replay_window_t *w, uint64_t counter);

/**
 * @brief Record an accepted counter (call only after mqota_replay_check() said yes, and only
 *        once the window is stored, docs/PROTOCOL.md §14.4).
 * @param[in,out] w       Window; not NULL.
 * @param[in]     counter Counter to record.
 */
void mqota_replay_accept(mqota_replay_window_t *w, uint64_t counter);

/**
 * @brief Name of a command result.
 * @param[in] result A mqota_cmd_result_t value (one byte on the wire).
 * @return "ok", "refused-replay", ...; "unknown" for other values. Static, never NULL.
 */
const char *mqota_cmd_result_name(uint8_t result);

#ifdef __cplusplus
}
#endif

#endif /* MQOTA_COMMAND_H */
