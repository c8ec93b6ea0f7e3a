/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file mqota_legacy_tcp.h
 * @brief Legacy protocol 4 (the MicroPython framework's TCP side channel, docs/LEGACY.md §4):
 *        the pure codec of its header, its SHA-1-chained 4096-byte blocks and the address a
 *        device announces on stat/<name>/OTA. Bytes in, bytes or a struct out; no I/O.
 *
 * Used by mqotad's adapter (server/legacy_tcp.c, the sender) and by the virtual device
 * (fleet/legacy_tcp.c, the receiver). SHA-1 is OpenSSL's (EVP).
 */
#ifndef MQOTA_LEGACY_TCP_H
#define MQOTA_LEGACY_TCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The device's listening port when its announcement names none. */
#define LTCP_DEFAULT_PORT 1337u
/** Header bytes: [5][101][blocks hi][blocks lo][xor of the four]. */
#define LTCP_HEADER_LEN 5u
/** First two header bytes (the framework's magic). */
#define LTCP_MAGIC0 5u
#define LTCP_MAGIC1 101u
/** Image bytes per block; the last block is padded with 0xFF. */
#define LTCP_BLOCK_DATA 4096u
/** SHA-1 digest bytes. */
#define LTCP_HASH_LEN 20u
/** One block on the wire: prev-hash(20) + number(2, big-endian) + data(4096) + SHA-1(20). */
#define LTCP_BLOCK_LEN (LTCP_HASH_LEN + 2u + LTCP_BLOCK_DATA + LTCP_HASH_LEN)
/** Most blocks the 16-bit count can name. */
#define LTCP_MAX_BLOCKS 65535u
/** The device's answers, one ASCII byte each: header accepted, block written, image done. */
#define LTCP_ACK_HEADER '1'
#define LTCP_ACK_BLOCK '2'
#define LTCP_ACK_DONE '3'
/** Longest stat/<name>/OTA announcement accepted ("255.255.255.255:65535" and slack). */
#define LTCP_ANNOUNCE_MAX 64u

/** Results of the decoders. */
typedef enum {
    LTCP_OK = 0,          /**< decoded and checked */
    LTCP_ERR_LENGTH = 1,  /**< wrong number of bytes */
    LTCP_ERR_MAGIC = 2,   /**< header's first two bytes are not 5, 101 */
    LTCP_ERR_XOR = 3,     /**< header's check byte is not the XOR of the four before it */
    LTCP_ERR_COUNT = 4,   /**< header names zero blocks */
    LTCP_ERR_CHAIN = 5,   /**< block's prev-hash is not the previous block's SHA-1 */
    LTCP_ERR_NUMBER = 6,  /**< block's number is not the one expected */
    LTCP_ERR_HASH = 7,    /**< block's SHA-1 does not match its bytes */
    LTCP_ERR_CRYPTO = 8,  /**< OpenSSL could not compute SHA-1 */
    LTCP_ERR_ADDRESS = 9, /**< announcement is not A.B.C.D or A.B.C.D:PORT */
} ltcp_status_t;

/** @brief One sentence naming s. */
const char *ltcp_strerror(ltcp_status_t s);

/** @brief Blocks an image of size bytes takes (ceil(size / LTCP_BLOCK_DATA)); 0 when size is 0
 *         or the count would pass LTCP_MAX_BLOCKS. */
uint32_t ltcp_blocks(uint64_t size);

/** @brief The header for n blocks (1..LTCP_MAX_BLOCKS) into out[LTCP_HEADER_LEN]. */
void ltcp_header_encode(uint16_t n, uint8_t out[LTCP_HEADER_LEN]);

/**
 * @brief Check a header and take its block count.
 * @param[in]  in   the bytes received
 * @param[in]  len  their number (must be LTCP_HEADER_LEN)
 * @param[out] n    the block count
 * @return LTCP_OK, LTCP_ERR_LENGTH, LTCP_ERR_MAGIC, LTCP_ERR_XOR or LTCP_ERR_COUNT.
 */
ltcp_status_t ltcp_header_decode(const uint8_t *in, size_t len, uint16_t *n);

/**
 * @brief Build block number num of image into out[LTCP_BLOCK_LEN]: prev, the number, the
 *        block's data (the image's bytes from num * LTCP_BLOCK_DATA, 0xFF past its end) and the
 *        SHA-1 of the three; that SHA-1 is copied to next_prev for the following block.
 * @param[in]  image      the whole image
 * @param[in]  size       its bytes
 * @param[in]  num        block number, 0-based, below ltcp_blocks(size)
 * @param[in]  prev       the previous block's SHA-1 (20 zero bytes for block 0)
 * @param[out] out        the block as sent
 * @param[out] next_prev  this block's SHA-1
 * @return LTCP_OK, LTCP_ERR_NUMBER (num out of range) or LTCP_ERR_CRYPTO.
 */
ltcp_status_t ltcp_block_encode(const uint8_t *image, size_t size, uint16_t num,
                                const uint8_t prev[LTCP_HASH_LEN], uint8_t out[LTCP_BLOCK_LEN],
                                uint8_t next_prev[LTCP_HASH_LEN]);

/**
 * @brief Check a received block against the chain: its prev-hash must equal prev, its number
 *        expect, its SHA-1 the digest of its first LTCP_BLOCK_LEN - LTCP_HASH_LEN bytes. On
 *        LTCP_OK, data points at its 4096 data bytes inside in and prev is advanced to its
 *        SHA-1. prev is untouched otherwise.
 * @return LTCP_OK, LTCP_ERR_LENGTH, LTCP_ERR_CHAIN, LTCP_ERR_NUMBER, LTCP_ERR_HASH or
 *         LTCP_ERR_CRYPTO.
 */
ltcp_status_t ltcp_block_decode(const uint8_t *in, size_t len, uint16_t expect,
                                uint8_t prev[LTCP_HASH_LEN], const uint8_t **data);

/**
 * @brief Parse a device's address announcement (stat/<name>/OTA after `open`): an IPv4
 *        address in dotted decimal, optionally ":PORT" (1..65535; LTCP_DEFAULT_PORT without
 *        it), surrounding spaces and one trailing newline allowed, nothing else.
 * @param[in]  in    payload bytes (not NUL-terminated)
 * @param[in]  len   their number
 * @param[out] addr  the address, host byte order
 * @param[out] port  the port
 * @return LTCP_OK or LTCP_ERR_ADDRESS.
 */
ltcp_status_t ltcp_announce_parse(const uint8_t *in, size_t len, uint32_t *addr,
                                  uint16_t *port);

/** @brief Whether addr (host order) lies in net/prefix (prefix 0..32). */
bool ltcp_addr_in_net(uint32_t addr, uint32_t net, unsigned prefix);

/**
 * @brief Parse a CIDR "A.B.C.D/N" (N 0..32; the host bits must be zero).
 * @return 0, or -1 when text is not one.
 */
int ltcp_net_parse(const char *text, uint32_t *net, unsigned *prefix);

#ifdef __cplusplus
}
#endif

#endif /* MQOTA_LEGACY_TCP_H */
