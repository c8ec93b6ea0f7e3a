/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The virtual ESP32's AES-256-GCM (ports/posix/src/aead.c), which seals and opens commands:
 * a known-answer test from the GCM specification (McGrew & Viega, "The Galois/Counter Mode of
 * Operation", test case 16: AES-256, 96-bit IV, with AAD), in-place use, tag and tamper checks,
 * and the credentials file's hex key.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mqota_posix/aead.h"

static size_t unhex(const char *h, uint8_t *out)
{
    size_t n = 0;
    for (; h[0] && h[1]; h += 2) {
        unsigned v = 0;
        for (int i = 0; i < 2; i++) {
            char c = h[i];
            v = v << 4 | (unsigned)(c <= '9' ? c - '0' : c - 'a' + 10);
        }
        out[n++] = (uint8_t)v;
    }
    return n;
}

static void test_gcm_spec_case_16(void **state)
{
    (void)state;
    uint8_t key[32], iv[12], aad[20], pt[60], ct[60], tag[16], out[60], got_tag[16];
    unhex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308", key);
    unhex("cafebabefacedbaddecaf888", iv);
    unhex("feedfacedeadbeeffeedfacedeadbeefabaddad2", aad);
    size_t n = unhex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
                     "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39", pt);
    unhex("522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
          "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662", ct);
    unhex("76fc6ece0f4e1768cddf8853bb2d551b", tag);
    assert_int_equal(n, 60);
    assert_int_equal(aead_gcm_seal(key, iv, aad, sizeof(aad), pt, n, out, got_tag), MQOTA_OK);
    assert_memory_equal(out, ct, n);
    assert_memory_equal(got_tag, tag, 16);
    assert_int_equal(aead_gcm_open(key, iv, aad, sizeof(aad), ct, n, out, tag), MQOTA_OK);
    assert_memory_equal(out, pt, n);
    /* in place, as the agent seals its replies */
    memcpy(out, pt, n);
    assert_int_equal(aead_gcm_seal(key, iv, aad, sizeof(aad), out, n, out, got_tag), MQOTA_OK);
    assert_memory_equal(out, ct, n);
}

static void test_gcm_refuses_alterations(void **state)
{
    (void)state;
    uint8_t key[32] = {1}, iv[12] = {2}, aad[8] = {3}, pt[40] = {4}, ct[40], tag[16], out[40];
    assert_int_equal(aead_gcm_seal(key, iv, aad, sizeof(aad), pt, sizeof(pt), ct, tag), MQOTA_OK);
    for (size_t i = 0; i < sizeof(ct); i++) {
        ct[i] ^= 0x80;
        assert_int_equal(aead_gcm_open(key, iv, aad, sizeof(aad), ct, sizeof(ct), out, tag),
                         MQOTA_ERR_AUTH);
        ct[i] ^= 0x80;
    }
    tag[15] ^= 1;
    assert_int_equal(aead_gcm_open(key, iv, aad, sizeof(aad), ct, sizeof(ct), out, tag), MQOTA_ERR_AUTH);
    tag[15] ^= 1;
    aad[0] ^= 1;
    assert_int_equal(aead_gcm_open(key, iv, aad, sizeof(aad), ct, sizeof(ct), out, tag), MQOTA_ERR_AUTH);
    aad[0] ^= 1;
    iv[11] ^= 1;
    assert_int_equal(aead_gcm_open(key, iv, aad, sizeof(aad), ct, sizeof(ct), out, tag), MQOTA_ERR_AUTH);
    iv[11] ^= 1;
    key[31] ^= 1;
    assert_int_equal(aead_gcm_open(key, iv, aad, sizeof(aad), ct, sizeof(ct), out, tag), MQOTA_ERR_AUTH);
    key[31] ^= 1;
    assert_int_equal(aead_gcm_open(key, iv, aad, sizeof(aad), ct, sizeof(ct), out, tag), MQOTA_OK);
    assert_memory_equal(out, pt, sizeof(pt));
    assert_int_equal(aead_gcm_open(NULL, iv, aad, sizeof(aad), ct, sizeof(ct), out, tag), MQOTA_ERR_ARG);
}

static void test_key_from_hex(void **state)
{
    (void)state;
    uint8_t key[32];
    const char *good = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1F";
    assert_int_equal(aead_key_from_hex(good, key), MQOTA_OK);
    assert_int_equal(key[0], 0);
    assert_int_equal(key[10], 10);
    assert_int_equal(key[31], 0x1f);
    assert_int_equal(aead_key_from_hex("0001", key), MQOTA_ERR_MALFORMED);
    assert_int_equal(aead_key_from_hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f00", key),
                     MQOTA_ERR_MALFORMED);
    assert_int_equal(aead_key_from_hex("g00102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1", key),
                     MQOTA_ERR_MALFORMED);
    assert_int_equal(aead_key_from_hex(NULL, key), MQOTA_ERR_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gcm_spec_case_16),
        cmocka_unit_test(test_gcm_refuses_alterations),
        cmocka_unit_test(test_key_from_hex),
    };
    return cmocka_run_group_tests_name("aead", tests, NULL, NULL);
}
