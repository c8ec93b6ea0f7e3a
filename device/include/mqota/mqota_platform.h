/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file mqota_platform.h
 * @brief What a platform must provide to the device agent: transport, flash slots,
 *        persistent key-value store, clock, SHA-256, signature verification, reboot,
 *        anti-rollback secure version and self-test.
 *
 * The hooks are plain function pointers with one opaque context (`ctx`, passed back as the
 * first argument). The agent copies the struct at init; every hook marked "required" must be
 * non-NULL. Hooks should return quickly; the longest calls the agent makes are slot_begin
 * (which erases up to the image's size, as esp_ota_begin does), slot_end (which validates the
 * whole image, as esp_ota_end does) and slot_read of verify_bytes_per_process bytes.
 *
 * Every hook returns 0 on success and non-zero on failure, except where noted. The slot hooks
 * follow ESP-IDF's esp_ota_ops (esp_ota_begin / esp_ota_write_with_offset / esp_ota_end /
 * esp_ota_set_boot_partition / esp_ota_mark_app_valid_cancel_rollback /
 * esp_ota_mark_app_invalid_rollback_and_reboot).
 */
#ifndef MQOTA_PLATFORM_H
#define MQOTA_PLATFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mqota_health.h"
#include "mqota_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/** OTA state of a slot, as in esp_ota_img_states_t (same numbers as ESP-IDF's otadata, except
 *  UNDEFINED, which is 0xFFFFFFFF in otadata and 0xFF here). */
typedef enum {
    MQOTA_SLOT_NEW = 0,            /**< Written and selected, not yet booted */
    MQOTA_SLOT_PENDING_VERIFY = 1, /**< Booted once; must be confirmed or rolled back */
    MQOTA_SLOT_VALID = 2,          /**< Confirmed */
    MQOTA_SLOT_INVALID = 3,        /**< Marked invalid */
    MQOTA_SLOT_ABORTED = 4,        /**< Reset while pending verify; the bootloader rolled back */
    MQOTA_SLOT_UNDEFINED = 0xFF    /**< No otadata entry (factory-flashed image) */
} mqota_slot_state_t;

/** Description of the running image, from its esp_app_desc_t. Strings NUL-terminated. */
typedef struct {
    uint16_t chip_id;       /**< ESP-IDF chip id of this device */
    uint8_t running_slot;   /**< OTA slot index the image runs from (0 = ota_0, 1 = ota_1) */
    uint8_t slot_count;     /**< Number of OTA slots (2) */
    uint32_t boot_count;    /**< Boots since the flash was created, 0 if unknown */
    char project[32];       /**< esp_app_desc_t.project_name (cut to 31) */
    char version[32];       /**< esp_app_desc_t.version (cut to 31) */
    char idf_ver[32];       /**< esp_app_desc_t.idf_ver (cut to 31) */
} mqota_running_t;

/**
 * One chunk of a compressed transfer for the platform's inflate hook (docs/PROTOCOL.md §6.1).
 * The agent fills it and provides the two callbacks; the hook calls them, in its own call
 * only (nothing of the job may be kept after it returns).
 */
typedef struct mqota_inflate_job {
    uint8_t window_bits;  /**< The offer's deflate window, log2 bytes (9..15), never more than
                               the platform's inflate_window_bits */
    const uint8_t *in;    /**< The chunk's compressed bytes: raw deflate (RFC 1951) blocks */
    size_t in_len;        /**< Bytes of in */
    uint32_t hist_len;    /**< Bytes of history (the image bytes right before the chunk) the
                               decoder is primed with, 0..1 << window_bits */
    uint32_t out_len;     /**< Bytes the chunk decodes to */
    void *sink;           /**< The agent's, for the callbacks */
    /** Read history bytes [off, off + len) into buf (off 0 = the first of the hist_len bytes,
     *  read back from the slot). Returns 0 on success. */
    int (*read_history)(const struct mqota_inflate_job *job, uint32_t off, uint8_t *buf,
                        size_t len);
    /** Take the next len bytes of output, in order. Returns 0 on success. */
    int (*write)(const struct mqota_inflate_job *job, const uint8_t *data, size_t len);
} mqota_inflate_job_t;

typedef struct {
    void *ctx; /**< Passed back as the first argument of every hook. */

    /* ---- transport (required) ---- */
    /** Publish `len` bytes on `topic` with QoS 0 or 1. Non-blocking (queue and return). */
    int (*publish)(void *ctx, const char *topic, const uint8_t *payload, size_t len, int qos,
                   bool retain);
    /** Subscribe to `topic` with QoS 0 or 1. */
    int (*subscribe)(void *ctx, const char *topic, int qos);
    /** Unsubscribe from `topic` (optional: NULL leaves the subscription until the session
     *  ends; messages on it are then ignored). */
    int (*unsubscribe)(void *ctx, const char *topic);

    /* ---- running image (required) ---- */
    /** Describe the running image and slot. */
    int (*running)(void *ctx, mqota_running_t *out);

    /* ---- flash slots (required) ---- */
    /** Size of an OTA slot (partition) in bytes. */
    int (*slot_size)(void *ctx, uint8_t slot, uint32_t *bytes);
    /**
     * Prepare `slot` to receive an image of `image_size` bytes: erase the flash from byte
     * `erase_from` (a multiple of 4096) up to image_size rounded up to 4096. Bytes below
     * erase_from are kept (resume). Like esp_ota_begin / esp_ota_resume.
     */
    int (*slot_begin)(void *ctx, uint8_t slot, uint32_t image_size, uint32_t erase_from);
    /** Write `len` bytes at byte `offset` of the slot (the area was erased by slot_begin). */
    int (*slot_write)(void *ctx, uint8_t slot, uint32_t offset, const uint8_t *data, size_t len);
    /** Read `len` bytes at byte `offset` of the slot. */
    int (*slot_read)(void *ctx, uint8_t slot, uint32_t offset, uint8_t *data, size_t len);
    /**
     * Validate the written image like esp_ota_end (magic, segments, checksum, appended
     * SHA-256). Returns 0 if the image is bootable.
     */
    int (*slot_end)(void *ctx, uint8_t slot, uint32_t image_size);
    /** Select `slot` for the next boot; its state becomes MQOTA_SLOT_NEW. */
    int (*slot_set_boot)(void *ctx, uint8_t slot);
    /** OTA state of the running slot. */
    int (*slot_state)(void *ctx, mqota_slot_state_t *state);
    /** Mark the running image valid (cancel rollback). */
    int (*slot_mark_valid)(void *ctx);
    /** Mark the running image invalid and roll back to the other slot on the next boot. */
    int (*slot_mark_invalid)(void *ctx);
    /**
     * Restart the device. May return (the platform restarts later, e.g. after the pending
     * publishes went out); the agent does nothing more after calling it.
     */
    void (*reboot)(void *ctx);

    /* ---- persistent key-value store, like NVS (required) ---- */
    /**
     * Read the value of `key` (at most 15 characters) into buf. Returns 0 and sets *len, or
     * MQOTA_ERR_NOT_FOUND if absent, MQOTA_ERR_NO_SPACE if the value is longer than cap (then
     * *len is the size needed), or another non-zero value on failure.
     */
    int (*kv_get)(void *ctx, const char *key, void *buf, size_t cap, size_t *len);
    /** Store `len` bytes under `key`, atomically (old or new value survives a power cut). */
    int (*kv_set)(void *ctx, const char *key, const void *buf, size_t len);
    /** Remove `key`; removing an absent key succeeds. */
    int (*kv_erase)(void *ctx, const char *key);

    /* ---- clock (required) ---- */
    /** Monotonic milliseconds. */
    uint64_t (*now_ms)(void *ctx);

    /* ---- SHA-256 (required); one computation at a time ---- */
    int (*sha256_begin)(void *ctx);
    int (*sha256_update)(void *ctx, const uint8_t *data, size_t len);
    int (*sha256_finish)(void *ctx, uint8_t out[32]);

    /* ---- signature verification (optional; required with require_signature) ---- */
    /**
     * Verify an ECDSA P-256 signature over a SHA-256 digest with the device's trusted release
     * key (docs/SECURITY.md). `sig` is raw r || s, 64 bytes, each big-endian; `sig_len` is its
     * length (64 in this revision; anything else must be refused). Returns 0 only if the
     * signature is valid; any other value (bad signature, no key, crypto failure) refuses the
     * offer. Called once per accepted offer, before any flash is erased; may take tens of
     * milliseconds on a device without an ECC accelerator. NULL: the device holds no key and
     * treats every offer as unsigned.
     */
    int (*verify_signature)(void *ctx, const uint8_t digest[32], const uint8_t *sig,
                            size_t sig_len);

    /**
     * OTA state of any slot, like esp_ota_get_state_partition() (optional). Lets the agent tell
     * a boot slot switch that never took effect (power cut while otadata was written: the old
     * image runs and the update simply resumes) from a rollback by the bootloader (the other
     * slot is then ABORTED or INVALID). NULL: every boot back in the old slot after a recorded
     * attempt is reported as rolled back.
     */
    int (*slot_state_of)(void *ctx, uint8_t slot, mqota_slot_state_t *state);

    /* ---- sealed commands (optional; both or neither; docs/PROTOCOL.md §14) ---- */
    /* Both hooks get the tag right after the ciphertext, as in the sealed frame (tag == out +
     * len when sealing, tag == in + len when opening), so a port whose AEAD takes or gives
     * ciphertext || tag in one buffer (PSA Crypto) needs no buffer of its own; the agent
     * always calls them that way (mqota_agent_cmd.c). */
    /**
     * AES-256-GCM encryption with the device's 32-byte command key (which only the platform
     * holds): encrypt `len` bytes of `in` into `out` (out may equal in) and write the 16-byte
     * tag. nonce is 12 bytes, aad is `aad_len` bytes. psa_aead_encrypt() in the ESP-IDF port,
     * mbedtls_gcm_crypt_and_tag() in the Arduino library, EVP_aes_256_gcm() with OpenSSL in
     * the POSIX port. Returns 0 on success.
     */
    int (*aead_seal)(void *ctx, const uint8_t *nonce, const uint8_t *aad, size_t aad_len,
                     const uint8_t *in, size_t len, uint8_t *out, uint8_t *tag);
    /**
     * AES-256-GCM decryption and tag check with the device's command key: decrypt `len` bytes
     * of `in` into `out` (out may equal in). Returns 0 only if the 16-byte tag is valid
     * (psa_aead_decrypt() in the ESP-IDF port, mbedtls_gcm_auth_decrypt() in the Arduino
     * library); then out holds the plaintext. Any other value refuses the
     * frame (refused-forged). NULL (with aead_seal NULL): the device takes no commands.
     */
    int (*aead_open)(void *ctx, const uint8_t *nonce, const uint8_t *aad, size_t aad_len,
                     const uint8_t *in, size_t len, uint8_t *out, const uint8_t *tag);
    /**
     * Extra lines for the "diagnostics" command (optional): write `key=value\n` lines (ASCII)
     * into buf, at most cap bytes, and return the bytes written. E.g. free heap, RSSI.
     */
    size_t (*diagnostics)(void *ctx, char *buf, size_t cap);

    /* ---- anti-rollback secure version in hardware (optional; both or neither) ---- */
    /**
     * Read the device's minimum secure version: the lowest esp_app_desc_t.secure_version the
     * bootloader will still boot, a plain count (not a bit mask), as
     * esp_efuse_read_secure_version() returns it from the SECURE_VERSION eFuse field (the
     * ESP-IDF port, with CONFIG_BOOTLOADER_APP_ANTI_ROLLBACK). It must live where erasing the
     * flash cannot reach it. Returns 0 and sets *min, or non-zero if it cannot be read (then
     * mqota_agent_init() fails with MQOTA_ERR_PLATFORM). When both hooks are present the
     * agent's minimum is the higher of this value and the "mq.minsv" record, so an erase of the
     * key-value store cannot take it below this value (docs/SECURITY.md §4). NULL: the minimum
     * is "mq.minsv" alone, which an erase of the store resets to 0.
     */
    int (*secure_version_read)(void *ctx, uint32_t *min);
    /**
     * Raise the minimum secure version to `to`, one way, like esp_efuse_update_secure_version():
     * it can never be lowered again, and a value at or below the current one changes nothing
     * and returns 0. Called only after a new image was confirmed (slot_mark_valid returned 0),
     * and again at the next boot if it failed; never before, so a power cut cannot leave a
     * minimum above the image the bootloader falls back to. `to` is the offer's secure_version
     * but never more than the secure_version in the running image's own esp_app_desc_t (which
     * the bootloader compares with this value); also called at init to bring a lower value up
     * to an older agent's "mq.minsv", within the same bound. Returns 0 once the value is
     * stored, non-zero otherwise (e.g. `to` is wider than the field: the ESP-IDF field holds
     * CONFIG_BOOTLOADER_APP_SEC_VER_SIZE_EFUSE_FIELD versions at most, the POSIX eFuse 32).
     */
    int (*secure_version_raise)(void *ctx, uint32_t to);

    /* ---- application (optional) ---- */
    /** Self-test of a freshly booted image; true = healthy. NULL means always healthy. */
    bool (*self_test)(void *ctx);

    /* ---- device health (optional; docs/PROTOCOL.md §16) ---- */
    /**
     * Fill the port's part of a HEALTH report: reset_reason (esp_reset_reason() mapped to
     * mqota_reset_reason_t), crash (the last crash's reason, printable ASCII 0x20..0x7E, at
     * most MQOTA_HEALTH_CRASH_MAX bytes, "" if the port keeps none), min_free_heap
     * (esp_get_minimum_free_heap_size(), 0 if unknown) and rssi (dBm, 0 if unknown). The agent
     * fills uptime_s, boot_count and reconnects before the call; the hook may leave them.
     * Returns 0, or non-zero to send no report this time. NULL: the agent sends no HEALTH.
     */
    int (*health)(void *ctx, mqota_health_t *out);

    /* ---- decoder for compressed transfers (optional; both or neither; PROTOCOL.md §6.1) ---- */
    /** log2 of the largest deflate window the inflate hook decodes, MQOTA_WINDOW_BITS_MIN..MAX
     *  (9..15); its RAM is the port's decoder state plus 1 << inflate_window_bits bytes. 0 (or
     *  inflate NULL): the device takes no compressed transfer and does not announce
     *  MQOTA_CAP_DEFLATE. */
    uint8_t inflate_window_bits;
    /**
     * Inflate one chunk (optional): start a new raw deflate decoder with window
     * 1 << job->window_bits, prime its history with the job's hist_len bytes (read through
     * job->read_history), inflate job->in and hand the output to job->write in order. No state
     * is kept from one call to the next: the history comes from flash every time, so a reset
     * or a lost chunk needs nothing restored. The port owns the decoder's RAM (static: zlib's
     * inflate with a static arena on POSIX, the ROM's tinfl on ESP-IDF).
     * Returns 0 only if the whole input was consumed and exactly job->out_len bytes came out;
     * non-zero for anything else (bad deflate data, too much or too little output, a callback
     * that failed).
     */
    int (*inflate)(void *ctx, const mqota_inflate_job_t *job);
} mqota_platform_t;

#ifdef __cplusplus
}
#endif

#endif /* MQOTA_PLATFORM_H */
