/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of the virtual ESP32's eFuse block (efuse.h): the encoding byte by byte, every
 * refusal with its sentence, the file that is written once, format version 1 still read, and
 * the secure version field that is only ever raised. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "mqota/mqota_image.h"
#include "mqota/mqota_proto.h"
#include "mqota_posix/efuse.h"

static const efuse_t ID = {{0x24, 0x0A, 0xC4, 0x12, 0x34, 0x56}, MQOTA_CHIP_ESP32S3, 2, 0x7};

/* The block, written out by hand from the layout in efuse.h (secure version bits 0x7). */
static void expected_block(uint8_t b[EFUSE_BLOCK_LEN])
{
    const uint8_t head[22] = {'M', 'Q', 'E', 'F', 2, 0, 14, 0, 0x24, 0x0A, 0xC4, 0x12, 0x34,
                              0x56, MQOTA_CHIP_ESP32S3, 0, 2, 0, 0x07, 0, 0, 0};
    memcpy(b, head, sizeof(head));
    uint32_t crc = mqota_crc32(0, head, sizeof(head));
    for (int i = 0; i < 4; i++) {
        b[22 + i] = (uint8_t)(crc >> (8 * i));
    }
}

/* A format version 1 block (no secure version), as the builds before it burnt. */
static void v1_block(uint8_t b[EFUSE_V1_BLOCK_LEN])
{
    const uint8_t head[18] = {'M', 'Q', 'E', 'F', 1, 0, 10, 0, 0x24, 0x0A, 0xC4, 0x12, 0x34,
                              0x56, MQOTA_CHIP_ESP32S3, 0, 2, 0};
    memcpy(b, head, sizeof(head));
    uint32_t crc = mqota_crc32(0, head, sizeof(head));
    for (int i = 0; i < 4; i++) {
        b[18 + i] = (uint8_t)(crc >> (8 * i));
    }
}

static void test_encode_layout(void **state)
{
    (void)state;
    uint8_t got[EFUSE_BLOCK_LEN], want[EFUSE_BLOCK_LEN];
    expected_block(want);
    assert_int_equal(efuse_encode(&ID, got), MQOTA_OK);
    assert_memory_equal(got, want, EFUSE_BLOCK_LEN);
    efuse_t back;
    char why[128] = "";
    assert_int_equal(efuse_decode(got, sizeof(got), &back, why, sizeof(why)), MQOTA_OK);
    assert_memory_equal(back.mac, ID.mac, 6);
    assert_int_equal(back.chip_id, ID.chip_id);
    assert_int_equal(back.chip_rev, ID.chip_rev);
    assert_int_equal(back.secure_version_bits, 0x7u);
    assert_int_equal(efuse_secure_version(&back), 3u);
    /* A multicast or all-zero base MAC is not what a factory burns. */
    efuse_t bad = ID;
    bad.mac[0] |= 1u;
    assert_int_equal(efuse_encode(&bad, got), MQOTA_ERR_ARG);
    memset(bad.mac, 0, sizeof(bad.mac));
    assert_int_equal(efuse_encode(&bad, got), MQOTA_ERR_ARG);
}

/* Decode b (len bytes) and expect status st with a phrase containing `phrase`. */
static void refused(const uint8_t *b, size_t len, mqota_status_t st, const char *phrase)
{
    efuse_t out;
    char why[160] = "";
    assert_int_equal(efuse_decode(b, len, &out, why, sizeof(why)), st);
    if (strstr(why, phrase) == NULL) {
        fail_msg("'%s' does not say '%s'", why, phrase);
    }
}

static void test_decode_refuses_damage(void **state)
{
    (void)state;
    uint8_t b[EFUSE_BLOCK_LEN + 1];
    expected_block(b);
    refused(b, EFUSE_BLOCK_LEN - 1, MQOTA_ERR_TRUNCATED, "25 bytes long");
    refused(b, EFUSE_BLOCK_LEN + 1, MQOTA_ERR_TRUNCATED, "27 bytes long");
    /* A version 2 block cut to the length of a version 1 block. */
    refused(b, EFUSE_V1_BLOCK_LEN, MQOTA_ERR_MALFORMED, "a format version 2 block is 26");
    /* Every single bit flipped in the block is refused. */
    for (size_t i = 0; i < EFUSE_BLOCK_LEN * 8; i++) {
        uint8_t c[EFUSE_BLOCK_LEN];
        efuse_t out;
        memcpy(c, b, sizeof(c));
        c[i / 8] ^= (uint8_t)(1u << (i % 8));
        assert_int_not_equal(efuse_decode(c, sizeof(c), &out, NULL, 0), MQOTA_OK);
    }
    uint8_t c[EFUSE_BLOCK_LEN];
    memcpy(c, b, sizeof(c));
    c[10] ^= 0x01; /* a MAC bit: only the crc sees it */
    refused(c, sizeof(c), MQOTA_ERR_CRC, "CRC-32 does not match");
    memcpy(c, b, sizeof(c));
    c[0] = 'X';
    refused(c, sizeof(c), MQOTA_ERR_MALFORMED, "eFuse magic");
    /* A newer format version, with a valid crc: named, not misread. */
    memcpy(c, b, sizeof(c));
    c[4] = 3;
    uint32_t crc = mqota_crc32(0, c, 22);
    for (int i = 0; i < 4; i++) {
        c[22 + i] = (uint8_t)(crc >> (8 * i));
    }
    refused(c, sizeof(c), MQOTA_ERR_VERSION,
            "format version is 3; this build reads versions 1 and 2");
}

/* A format version 1 block (older eFuse files) reads as secure version 0; damage is refused. */
static void test_v1_block_read(void **state)
{
    (void)state;
    uint8_t b[EFUSE_V1_BLOCK_LEN];
    v1_block(b);
    efuse_t out;
    memset(&out, 0xAA, sizeof(out));
    char why[160] = "";
    assert_int_equal(efuse_decode(b, sizeof(b), &out, why, sizeof(why)), MQOTA_OK);
    assert_memory_equal(out.mac, ID.mac, 6);
    assert_int_equal(out.chip_id, ID.chip_id);
    assert_int_equal(out.secure_version_bits, 0u);
    assert_int_equal(efuse_secure_version(&out), 0u);
    b[10] ^= 1u;
    refused(b, sizeof(b), MQOTA_ERR_CRC, "CRC-32 does not match");
}

/* The secure version field is one way: raised by setting bits, never lowered; a raise survives
 * in the file, a value wider than the field is refused without writing, and a version 1 file
 * is rewritten as version 2 by its first raise with its identity kept. */
static void test_secure_version_one_way(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_efuse.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[160], err[512] = "";
    snprintf(path, sizeof(path), "%s/dev.flash.efuse", dir);
    efuse_t id = ID, got;
    id.secure_version_bits = 0;
    assert_int_equal(efuse_burn(path, &id, err, sizeof(err)), MQOTA_OK);
    assert_int_equal(efuse_read(path, &got, err, sizeof(err)), MQOTA_OK);
    assert_int_equal(efuse_secure_version(&got), 0u);

    uint32_t now = 99;
    assert_int_equal(efuse_raise_secure_version(path, 5, &now, err, sizeof(err)), MQOTA_OK);
    assert_int_equal(now, 5u);
    assert_int_equal(efuse_read(path, &got, err, sizeof(err)), MQOTA_OK);
    assert_int_equal(got.secure_version_bits, 0x1Fu);
    assert_int_equal(efuse_secure_version(&got), 5u);
    assert_memory_equal(got.mac, ID.mac, 6);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0444);
    /* Lowering is not possible: it succeeds and changes nothing, as on the chip. */
    assert_int_equal(efuse_raise_secure_version(path, 2, &now, err, sizeof(err)), MQOTA_OK);
    assert_int_equal(now, 5u);
    assert_int_equal(efuse_read(path, &got, err, sizeof(err)), MQOTA_OK);
    assert_int_equal(got.secure_version_bits, 0x1Fu);
    /* The field's width is its limit. */
    assert_int_equal(efuse_raise_secure_version(path, EFUSE_SECURE_VERSION_BITS + 1, &now, err,
                                                sizeof(err)),
                     MQOTA_ERR_RANGE);
    assert_non_null(strstr(err, "does not fit the eFuse field"));
    assert_non_null(strstr(err, path));
    assert_int_equal(efuse_raise_secure_version(path, EFUSE_SECURE_VERSION_BITS, &now, err,
                                                sizeof(err)),
                     MQOTA_OK);
    assert_int_equal(now, EFUSE_SECURE_VERSION_BITS);
    assert_int_equal(efuse_read(path, &got, err, sizeof(err)), MQOTA_OK);
    assert_int_equal(got.secure_version_bits, 0xFFFFFFFFu);
    unlink(path);

    /* A version 1 file from an older build: read as 0, rewritten as version 2 by a raise. */
    uint8_t b[EFUSE_V1_BLOCK_LEN];
    v1_block(b);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0444);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, b, sizeof(b)), (ssize_t)sizeof(b));
    assert_int_equal(close(fd), 0);
    assert_int_equal(efuse_read(path, &got, err, sizeof(err)), MQOTA_OK);
    assert_int_equal(efuse_secure_version(&got), 0u);
    assert_int_equal(efuse_raise_secure_version(path, 1, &now, err, sizeof(err)), MQOTA_OK);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_size, EFUSE_BLOCK_LEN);
    assert_int_equal(efuse_read(path, &got, err, sizeof(err)), MQOTA_OK);
    assert_int_equal(efuse_secure_version(&got), 1u);
    assert_memory_equal(got.mac, ID.mac, 6);
    assert_int_equal(got.chip_rev, ID.chip_rev);
    /* A damaged file is not raised. */
    assert_int_equal(chmod(path, 0644), 0);
    fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, "\x00", 1, 18), 1);
    assert_int_equal(close(fd), 0);
    assert_int_equal(efuse_raise_secure_version(path, 3, &now, err, sizeof(err)), MQOTA_ERR_CRC);
    unlink(path);
    rmdir(dir);
}

static void test_file_written_once(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_efuse.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char flash[128], path[160], err[512] = "";
    snprintf(flash, sizeof(flash), "%s/dev.flash", dir);
    assert_int_equal(efuse_path(flash, path, sizeof(path)), 0);
    assert_non_null(strstr(path, "/dev.flash.efuse"));
    assert_int_equal(efuse_path(flash, path, 10), -1);
    assert_int_equal(efuse_path(flash, path, sizeof(path)), 0);

    efuse_t got;
    assert_int_equal(efuse_read(path, &got, err, sizeof(err)), MQOTA_ERR_NOT_FOUND);
    assert_non_null(strstr(err, path));
    assert_int_equal(efuse_burn(path, &ID, err, sizeof(err)), MQOTA_OK);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_size, EFUSE_BLOCK_LEN);
    assert_int_equal(sb.st_mode & 0777, 0444); /* read-only */
    assert_int_equal(efuse_read(path, &got, err, sizeof(err)), MQOTA_OK);
    assert_memory_equal(got.mac, ID.mac, 6);
    assert_int_equal(got.chip_id, ID.chip_id);
    /* Programmed once: a second burn is refused and changes nothing. */
    efuse_t other = ID;
    other.chip_id = MQOTA_CHIP_ESP32;
    assert_int_equal(efuse_burn(path, &other, err, sizeof(err)), MQOTA_ERR_STATE);
    assert_non_null(strstr(err, "programmed once"));
    assert_int_equal(efuse_read(path, &got, err, sizeof(err)), MQOTA_OK);
    assert_int_equal(got.chip_id, ID.chip_id);

    /* A damaged file: one sentence naming the file and the fault. */
    assert_int_equal(chmod(path, 0644), 0);
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, "\x00", 1, 12), 1);
    assert_int_equal(close(fd), 0);
    assert_int_equal(efuse_read(path, &got, err, sizeof(err)), MQOTA_ERR_CRC);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "is not a valid eFuse block: its CRC-32 does not match"));
    assert_null(strchr(err, '\n'));
    fd = open(path, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "xxxx", 4), 4);
    assert_int_equal(close(fd), 0);
    assert_int_equal(efuse_read(path, &got, err, sizeof(err)), MQOTA_ERR_TRUNCATED);
    assert_non_null(strstr(err, "30 bytes long"));
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_layout),
        cmocka_unit_test(test_decode_refuses_damage),
        cmocka_unit_test(test_file_written_once),
        cmocka_unit_test(test_v1_block_read),
        cmocka_unit_test(test_secure_version_one_way),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
