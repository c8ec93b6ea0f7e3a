/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mqota_legacy_tcp.c - legacy protocol 4's wire format (docs/LEGACY.md §4): the header, the
 * SHA-1 chain of 4096-byte blocks, the address announcement. Pure: no I/O, no allocation.
 *
 * The chain proves only that the bytes arrived as sent: anyone on the path can rebuild it for
 * other bytes (SHA-1 with no key is no authentication, and SHA-1 itself is broken for
 * collisions). mqotad checks the image before it is sent; the device checks the chain.
 */
#include "mqota_legacy_tcp.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

const char *ltcp_strerror(ltcp_status_t s)
{
    switch (s) {
    case LTCP_OK: return "ok";
    case LTCP_ERR_LENGTH: return "the message has the wrong number of bytes";
    case LTCP_ERR_MAGIC: return "the header does not start with 5, 101";
    case LTCP_ERR_XOR: return "the header's check byte is not the XOR of the four before it";
    case LTCP_ERR_COUNT: return "the header names no blocks";
    case LTCP_ERR_CHAIN: return "the block's previous hash is not the previous block's SHA-1";
    case LTCP_ERR_NUMBER: return "the block's number is not the one expected";
    case LTCP_ERR_HASH: return "the block's SHA-1 does not match its bytes";
    case LTCP_ERR_CRYPTO: return "OpenSSL could not compute a SHA-1";
    case LTCP_ERR_ADDRESS: return "the announcement is not an IPv4 address with an optional :PORT";
    }
    return "unknown status";
}

uint32_t ltcp_blocks(uint64_t size)
{
    uint64_t n = (size + LTCP_BLOCK_DATA - 1) / LTCP_BLOCK_DATA;
    return n == 0 || n > LTCP_MAX_BLOCKS ? 0 : (uint32_t)n;
}

void ltcp_header_encode(uint16_t n, uint8_t out[LTCP_HEADER_LEN])
{
    out[0] = LTCP_MAGIC0;
    out[1] = LTCP_MAGIC1;
    out[2] = (uint8_t)(n >> 8);
    out[3] = (uint8_t)n;
    out[4] = (uint8_t)(out[0] ^ out[1] ^ out[2] ^ out[3]);
}

ltcp_status_t ltcp_header_decode(const uint8_t *in, size_t len, uint16_t *n)
{
    if (len != LTCP_HEADER_LEN) return LTCP_ERR_LENGTH;
    if (in[0] != LTCP_MAGIC0 || in[1] != LTCP_MAGIC1) return LTCP_ERR_MAGIC;
    if ((uint8_t)(in[0] ^ in[1] ^ in[2] ^ in[3]) != in[4]) return LTCP_ERR_XOR;
    uint16_t v = (uint16_t)((in[2] << 8) | in[3]);
    if (v == 0) return LTCP_ERR_COUNT;
    *n = v;
    return LTCP_OK;
}

/* SHA-1 of the block's first LTCP_BLOCK_LEN - LTCP_HASH_LEN bytes into md. */
static ltcp_status_t block_sha1(const uint8_t *block, uint8_t md[LTCP_HASH_LEN])
{
    unsigned int n = 0;
    if (EVP_Digest(block, LTCP_BLOCK_LEN - LTCP_HASH_LEN, md, &n, EVP_sha1(), NULL) != 1 ||
        n != LTCP_HASH_LEN)
        return LTCP_ERR_CRYPTO;
    return LTCP_OK;
}

ltcp_status_t ltcp_block_encode(const uint8_t *image, size_t size, uint16_t num,
                                const uint8_t prev[LTCP_HASH_LEN], uint8_t out[LTCP_BLOCK_LEN],
                                uint8_t next_prev[LTCP_HASH_LEN])
{
    if (num >= ltcp_blocks(size)) return LTCP_ERR_NUMBER;
    size_t off = (size_t)num * LTCP_BLOCK_DATA;
    size_t n = size - off < LTCP_BLOCK_DATA ? size - off : LTCP_BLOCK_DATA;
    memcpy(out, prev, LTCP_HASH_LEN);
    out[LTCP_HASH_LEN] = (uint8_t)(num >> 8);
    out[LTCP_HASH_LEN + 1] = (uint8_t)num;
    uint8_t *data = out + LTCP_HASH_LEN + 2;
    memcpy(data, image + off, n);
    memset(data + n, 0xFF, LTCP_BLOCK_DATA - n); /* the erased flash's value */
    ltcp_status_t s = block_sha1(out, out + LTCP_BLOCK_LEN - LTCP_HASH_LEN);
    if (s != LTCP_OK) return s;
    memcpy(next_prev, out + LTCP_BLOCK_LEN - LTCP_HASH_LEN, LTCP_HASH_LEN);
    return LTCP_OK;
}

ltcp_status_t ltcp_block_decode(const uint8_t *in, size_t len, uint16_t expect,
                                uint8_t prev[LTCP_HASH_LEN], const uint8_t **data)
{
    uint8_t md[LTCP_HASH_LEN];
    if (len != LTCP_BLOCK_LEN) return LTCP_ERR_LENGTH;
    if (CRYPTO_memcmp(in, prev, LTCP_HASH_LEN) != 0) return LTCP_ERR_CHAIN;
    if (((in[LTCP_HASH_LEN] << 8) | in[LTCP_HASH_LEN + 1]) != expect) return LTCP_ERR_NUMBER;
    ltcp_status_t s = block_sha1(in, md);
    if (s != LTCP_OK) return s;
    if (CRYPTO_memcmp(md, in + LTCP_BLOCK_LEN - LTCP_HASH_LEN, LTCP_HASH_LEN) != 0)
        return LTCP_ERR_HASH;
    memcpy(prev, md, LTCP_HASH_LEN);
    *data = in + LTCP_HASH_LEN + 2;
    return LTCP_OK;
}

/* A decimal of 1..max_digits digits no greater than max at *p; advances *p. -1 if none. */
static long take_decimal(const char **p, const char *end, int max_digits, long max)
{
    long v = 0;
    int digits = 0;
    while (*p < end && **p >= '0' && **p <= '9') {
        if (++digits > max_digits) return -1;
        v = v * 10 + (**p - '0');
        (*p)++;
    }
    return digits == 0 || v > max ? -1 : v;
}

/* Dotted-decimal IPv4 from *p (advanced past it) into addr (host order); 0 or -1. */
static int take_ipv4(const char **p, const char *end, uint32_t *addr)
{
    uint32_t a = 0;
    for (int i = 0; i < 4; i++) {
        if (i > 0) {
            if (*p >= end || **p != '.') return -1;
            (*p)++;
        }
        if (*p + 1 < end && (*p)[0] == '0' && (*p)[1] >= '0' && (*p)[1] <= '9')
            return -1; /* no leading zeros: "010" is octal to inet_aton, decimal here */
        long v = take_decimal(p, end, 3, 255);
        if (v < 0) return -1;
        a = (a << 8) | (uint32_t)v;
    }
    *addr = a;
    return 0;
}

ltcp_status_t ltcp_announce_parse(const uint8_t *in, size_t len, uint32_t *addr,
                                  uint16_t *port)
{
    if (len == 0 || len > LTCP_ANNOUNCE_MAX) return LTCP_ERR_ADDRESS;
    const char *p = (const char *)in, *end = p + len;
    if (end[-1] == '\n') end--;
    while (p < end && *p == ' ') p++;
    while (end > p && end[-1] == ' ') end--;
    uint32_t a;
    long pt = LTCP_DEFAULT_PORT;
    if (take_ipv4(&p, end, &a) != 0) return LTCP_ERR_ADDRESS;
    if (p < end && *p == ':') {
        p++;
        pt = take_decimal(&p, end, 5, 65535);
        if (pt < 1) return LTCP_ERR_ADDRESS;
    }
    if (p != end) return LTCP_ERR_ADDRESS;
    *addr = a;
    *port = (uint16_t)pt;
    return LTCP_OK;
}

bool ltcp_addr_in_net(uint32_t addr, uint32_t net, unsigned prefix)
{
    if (prefix > 32) return false;
    uint32_t mask = prefix == 0 ? 0 : 0xFFFFFFFFu << (32 - prefix);
    return (addr & mask) == (net & mask);
}

int ltcp_net_parse(const char *text, uint32_t *net, unsigned *prefix)
{
    const char *p = text, *end = text + strlen(text);
    uint32_t a;
    if (take_ipv4(&p, end, &a) != 0 || p >= end || *p != '/') return -1;
    p++;
    long n = take_decimal(&p, end, 2, 32);
    if (n < 0 || p != end) return -1;
    uint32_t mask = n == 0 ? 0 : 0xFFFFFFFFu << (32 - n);
    if ((a & ~mask) != 0) return -1;
    *net = a;
    *prefix = (unsigned)n;
    return 0;
}
