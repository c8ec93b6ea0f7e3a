/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_legacy_pull_tcp.c - the pure codecs of legacy protocols 3 and 4 (docs/LEGACY.md §3, §4):
 * the pull request's path, app_ver and Range (server/legacy_pull_req.c), and the TCP side
 * channel's header, SHA-1 chain and address announcement (common/mqota_legacy_tcp.c), each with
 * the inputs it must refuse. The chain is checked against SHA-1 computed here independently
 * (OpenSSL's one-shot SHA1 over the fields laid out by hand).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "legacy_pull_req.h"
#include "mqota_legacy_tcp.h"

static void test_pull_route(void **state)
{
    (void)state;
    pull_route_t r;
    pull_req__route("/devices/pull-0001", &r);
    assert_int_equal(r.kind, PULL_ROUTE_DEVICE);
    assert_string_equal(r.device_id, "pull-0001");
    pull_req__route("/files/0123456789abcdef0123456789abcdef-pull-0001.bin", &r);
    assert_int_equal(r.kind, PULL_ROUTE_FILE);
    assert_string_equal(r.device_id, "pull-0001");
    assert_string_equal(r.hash_hex, "0123456789abcdef0123456789abcdef");
    static const char *const bad[] = {
        "/devices/", "/devices/a/b", "/devices/..", "/devices/.", "/devices/a%2fb",
        "/devices/a b", "/devices/a/", "/device/a", "/", "", "/files/x.bin",
        "/files/0123456789ABCDEF0123456789abcdef-a.bin", /* upper-case hex */
        "/files/0123456789abcdef0123456789abcdef-.bin",
        "/files/0123456789abcdef0123456789abcdef-a.bin/",
        "/files/0123456789abcdef0123456789abcdef_a.bin",
        "/files/0123456789abcdef0123456789abcdef-a/b.bin",
        "/files/0123456789abcdef0123456789abcdef-a.img",
        "/devices/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", /* 65 */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        pull_req__route(bad[i], &r);
        if (r.kind != PULL_ROUTE_NONE) fail_msg("accepted '%s'", bad[i]);
        assert_string_equal(r.device_id, "");
    }
    char name[PULL_NAME_MAX + 1];
    assert_int_equal(pull_req__file_name("0123456789abcdef0123456789abcdefffff", "d-1", name,
                                         sizeof(name)), 0);
    assert_string_equal(name, "0123456789abcdef0123456789abcdef-d-1.bin");
    char path[PULL_PATH_MAX + 1];
    snprintf(path, sizeof(path), "/files/%s", name);
    pull_req__route(path, &r); /* what mqotad hands out, it takes back */
    assert_int_equal(r.kind, PULL_ROUTE_FILE);
    assert_int_equal(pull_req__file_name("0123", "d-1", name, sizeof(name)), -1);
    assert_int_equal(pull_req__file_name("0123456789abcdef0123456789abcdef", "a/b", name,
                                         sizeof(name)), -1);
    assert_int_equal(pull_req__file_name("0123456789abcdef0123456789abcdef", "d", name, 10), -1);
}

static void test_pull_version(void **state)
{
    (void)state;
    assert_true(pull_req__version_ok("1.0.0"));
    assert_true(pull_req__version_ok("v2.3-rc1+g1234567"));
    assert_true(pull_req__version_ok("0123456789012345678901234567890")); /* 31 */
    assert_false(pull_req__version_ok("01234567890123456789012345678901")); /* 32 */
    assert_false(pull_req__version_ok(""));
    assert_false(pull_req__version_ok("1.0 0"));
    assert_false(pull_req__version_ok("1.0\n"));
    assert_false(pull_req__version_ok("\xc3\xa9"));
}

static void test_pull_range(void **state)
{
    (void)state;
    uint64_t f = 99, l = 99;
    assert_int_equal(pull_req__range(NULL, 1000, &f, &l), PULL_RANGE_NONE);
    assert_int_equal(pull_req__range("bytes=0-499", 1000, &f, &l), PULL_RANGE_OK);
    assert_true(f == 0 && l == 499);
    assert_int_equal(pull_req__range("bytes=500-", 1000, &f, &l), PULL_RANGE_OK);
    assert_true(f == 500 && l == 999);
    assert_int_equal(pull_req__range("bytes=900-5000", 1000, &f, &l), PULL_RANGE_OK);
    assert_true(f == 900 && l == 999);
    assert_int_equal(pull_req__range("bytes=-100", 1000, &f, &l), PULL_RANGE_OK);
    assert_true(f == 900 && l == 999);
    assert_int_equal(pull_req__range("bytes=-5000", 1000, &f, &l), PULL_RANGE_OK);
    assert_true(f == 0 && l == 999);
    assert_int_equal(pull_req__range("bytes=1000-", 1000, &f, &l), PULL_RANGE_UNSATISFIABLE);
    assert_int_equal(pull_req__range("bytes=-0", 1000, &f, &l), PULL_RANGE_UNSATISFIABLE);
    static const char *const ignored[] = {
        "bytes=5-1", "bytes=0-1,5-9", "items=0-1", "bytes=", "bytes=-", "bytes=a-b",
        "bytes=0-1x", "bytes=99999999999999999999-", "bytes=0--1",
    };
    for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
        if (pull_req__range(ignored[i], 1000, &f, &l) != PULL_RANGE_NONE)
            fail_msg("'%s' not ignored", ignored[i]);
}

static void test_tcp_header(void **state)
{
    (void)state;
    uint8_t h[LTCP_HEADER_LEN];
    uint16_t n = 0;
    ltcp_header_encode(0x0102, h);
    const uint8_t want[] = {5, 101, 1, 2, 5 ^ 101 ^ 1 ^ 2};
    assert_memory_equal(h, want, sizeof(want));
    assert_int_equal(ltcp_header_decode(h, sizeof(h), &n), LTCP_OK);
    assert_int_equal(n, 0x0102);
    assert_int_equal(ltcp_header_decode(h, 4, &n), LTCP_ERR_LENGTH);
    h[4] ^= 1;
    assert_int_equal(ltcp_header_decode(h, sizeof(h), &n), LTCP_ERR_XOR);
    h[4] ^= 1;
    h[0] = 6;
    assert_int_equal(ltcp_header_decode(h, sizeof(h), &n), LTCP_ERR_MAGIC);
    ltcp_header_encode(0, h);
    assert_int_equal(ltcp_header_decode(h, sizeof(h), &n), LTCP_ERR_COUNT);
    assert_int_equal(ltcp_blocks(0), 0);
    assert_int_equal(ltcp_blocks(1), 1);
    assert_int_equal(ltcp_blocks(4096), 1);
    assert_int_equal(ltcp_blocks(4097), 2);
    assert_int_equal(ltcp_blocks(65535ull * 4096), 65535);
    assert_int_equal(ltcp_blocks(65535ull * 4096 + 1), 0);
}

/* SHA-1 of prev || number || data, computed here field by field. */
static void ref_sha1(const uint8_t *prev, uint16_t num, const uint8_t *data, uint8_t *md)
{
    uint8_t nb[2] = {(uint8_t)(num >> 8), (uint8_t)num};
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    assert_non_null(c);
    assert_int_equal(EVP_DigestInit_ex(c, EVP_sha1(), NULL), 1);
    EVP_DigestUpdate(c, prev, LTCP_HASH_LEN);
    EVP_DigestUpdate(c, nb, 2);
    EVP_DigestUpdate(c, data, LTCP_BLOCK_DATA);
    assert_int_equal(EVP_DigestFinal_ex(c, md, NULL), 1);
    EVP_MD_CTX_free(c);
}

static void test_tcp_chain(void **state)
{
    (void)state;
    size_t size = 2 * LTCP_BLOCK_DATA + 100;
    uint8_t *img = malloc(size), *blk = malloc(LTCP_BLOCK_LEN), *padded = malloc(LTCP_BLOCK_DATA);
    assert_true(img && blk && padded);
    for (size_t i = 0; i < size; i++) img[i] = (uint8_t)(i * 7 + 3);
    uint8_t tx_prev[LTCP_HASH_LEN] = {0}, rx_prev[LTCP_HASH_LEN] = {0}, ref_prev[LTCP_HASH_LEN] = {0};
    uint8_t md[LTCP_HASH_LEN];
    for (uint16_t b = 0; b < 3; b++) {
        assert_int_equal(ltcp_block_encode(img, size, b, tx_prev, blk, tx_prev), LTCP_OK);
        assert_memory_equal(blk, ref_prev, LTCP_HASH_LEN);
        assert_int_equal(blk[LTCP_HASH_LEN], 0);
        assert_int_equal(blk[LTCP_HASH_LEN + 1], b);
        size_t n = b < 2 ? LTCP_BLOCK_DATA : 100;
        memset(padded, 0xFF, LTCP_BLOCK_DATA);
        memcpy(padded, img + (size_t)b * LTCP_BLOCK_DATA, n);
        assert_memory_equal(blk + LTCP_HASH_LEN + 2, padded, LTCP_BLOCK_DATA);
        ref_sha1(ref_prev, b, padded, md);
        assert_memory_equal(blk + LTCP_BLOCK_LEN - LTCP_HASH_LEN, md, LTCP_HASH_LEN);
        memcpy(ref_prev, md, LTCP_HASH_LEN);
        /* the receiver: a flipped data bit, a wrong number, a broken chain are caught */
        const uint8_t *data = NULL;
        uint8_t keep[LTCP_HASH_LEN];
        memcpy(keep, rx_prev, LTCP_HASH_LEN);
        blk[LTCP_HASH_LEN + 2 + 17] ^= 0x10;
        assert_int_equal(ltcp_block_decode(blk, LTCP_BLOCK_LEN, b, rx_prev, &data), LTCP_ERR_HASH);
        blk[LTCP_HASH_LEN + 2 + 17] ^= 0x10;
        assert_memory_equal(rx_prev, keep, LTCP_HASH_LEN);
        assert_int_equal(ltcp_block_decode(blk, LTCP_BLOCK_LEN, (uint16_t)(b + 1), rx_prev, &data),
                         LTCP_ERR_NUMBER);
        blk[3] ^= 1;
        assert_int_equal(ltcp_block_decode(blk, LTCP_BLOCK_LEN, b, rx_prev, &data), LTCP_ERR_CHAIN);
        blk[3] ^= 1;
        assert_int_equal(ltcp_block_decode(blk, LTCP_BLOCK_LEN - 1, b, rx_prev, &data),
                         LTCP_ERR_LENGTH);
        assert_int_equal(ltcp_block_decode(blk, LTCP_BLOCK_LEN, b, rx_prev, &data), LTCP_OK);
        assert_ptr_equal(data, blk + LTCP_HASH_LEN + 2);
        assert_memory_equal(rx_prev, md, LTCP_HASH_LEN);
    }
    assert_int_equal(ltcp_block_encode(img, size, 3, tx_prev, blk, tx_prev), LTCP_ERR_NUMBER);
    free(img);
    free(blk);
    free(padded);
}

static void test_tcp_announce(void **state)
{
    (void)state;
    uint32_t a = 0, net = 0;
    uint16_t p = 0;
    unsigned prefix = 99;
#define ANN(s) ltcp_announce_parse((const uint8_t *)(s), strlen(s), &a, &p)
    assert_int_equal(ANN("192.168.1.23"), LTCP_OK);
    assert_true(a == 0xC0A80117u && p == LTCP_DEFAULT_PORT);
    assert_int_equal(ANN(" 127.0.0.1:40000\n"), LTCP_OK);
    assert_true(a == 0x7F000001u && p == 40000);
    static const char *const bad[] = {
        "", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.4:", "1.2.3.4:0", "1.2.3.4:65536",
        "01.2.3.4", "1.2.3.4 x", "::1", "host.example", "1.2.3.4:80:80", "1.2.3.-4",
        "1.2.3.4\n\n", "1.2.3.4:1234567",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (ANN(bad[i]) != LTCP_ERR_ADDRESS) fail_msg("accepted '%s'", bad[i]);
    assert_int_equal(ltcp_net_parse("127.0.0.0/8", &net, &prefix), 0);
    assert_true(net == 0x7F000000u && prefix == 8);
    assert_true(ltcp_addr_in_net(0x7F010203u, net, prefix));
    assert_false(ltcp_addr_in_net(0x0A000001u, net, prefix));
    assert_int_equal(ltcp_net_parse("0.0.0.0/0", &net, &prefix), 0);
    assert_true(ltcp_addr_in_net(0x0A000001u, net, prefix));
    assert_int_equal(ltcp_net_parse("10.0.0.1/8", &net, &prefix), -1); /* host bits set */
    assert_int_equal(ltcp_net_parse("10.0.0.0/33", &net, &prefix), -1);
    assert_int_equal(ltcp_net_parse("10.0.0.0", &net, &prefix), -1);
    assert_int_equal(ltcp_net_parse("10.0.0.0/8x", &net, &prefix), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pull_route),   cmocka_unit_test(test_pull_version),
        cmocka_unit_test(test_pull_range),   cmocka_unit_test(test_tcp_header),
        cmocka_unit_test(test_tcp_chain),    cmocka_unit_test(test_tcp_announce),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
