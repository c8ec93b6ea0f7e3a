/* SPDX-License-Identifier: Apache-2.0 */
/* The virtual ESP32's eFuse block: codec and the once-written file beside the flash (efuse.h). */
#include "mqota_posix/efuse.h"
#include "posix_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mqota/mqota_proto.h" /* mqota_crc32 */

#define HDR_LEN 8u
#define CRC_AT (EFUSE_BLOCK_LEN - 4u)
#define V1_CRC_AT (EFUSE_V1_BLOCK_LEN - 4u)
#define SV_AT 18u

/* A base MAC is unicast (bit 0 of the first byte clear) and not all zero, as the factory
 * burns it. */
static bool mac_ok(const uint8_t mac[6])
{
    static const uint8_t zero[6];
    return (mac[0] & 1u) == 0 && memcmp(mac, zero, sizeof(zero)) != 0;
}

mqota_status_t efuse_encode(const efuse_t *in, uint8_t out[EFUSE_BLOCK_LEN])
{
    if (in == NULL || out == NULL || !mac_ok(in->mac)) {
        return MQOTA_ERR_ARG;
    }
    put_le32(out, EFUSE_MAGIC);
    put_le16(out + 4, EFUSE_VERSION);
    put_le16(out + 6, EFUSE_PAYLOAD_LEN);
    memcpy(out + HDR_LEN, in->mac, sizeof(in->mac));
    put_le16(out + 14, in->chip_id);
    put_le16(out + 16, in->chip_rev);
    put_le32(out + SV_AT, in->secure_version_bits);
    put_le32(out + CRC_AT, mqota_crc32(0, out, CRC_AT));
    return MQOTA_OK;
}

uint32_t efuse_secure_version(const efuse_t *in)
{
    uint32_t n = 0;
    for (uint32_t bits = in != NULL ? in->secure_version_bits : 0u; bits != 0u; bits &= bits - 1u) {
        n++;
    }
    return n;
}

mqota_status_t efuse_decode(const uint8_t *buf, size_t len, efuse_t *out, char *why,
                            size_t why_len)
{
    if (buf == NULL || out == NULL) {
        say(why, why_len, "no block given");
        return MQOTA_ERR_ARG;
    }
    if (len != EFUSE_BLOCK_LEN && len != EFUSE_V1_BLOCK_LEN) {
        say(why, why_len, "it is %zu bytes long; an eFuse block is %u (or %u in format version 1)",
            len, (unsigned)EFUSE_BLOCK_LEN, (unsigned)EFUSE_V1_BLOCK_LEN);
        return MQOTA_ERR_TRUNCATED;
    }
    if (get_le32(buf) != EFUSE_MAGIC) {
        say(why, why_len, "it does not start with the eFuse magic \"MQEF\"");
        return MQOTA_ERR_MALFORMED;
    }
    uint16_t version = get_le16(buf + 4);
    if (version != EFUSE_VERSION && version != 1u) {
        say(why, why_len, "its format version is %u; this build reads versions 1 and %u",
            (unsigned)version, (unsigned)EFUSE_VERSION);
        return MQOTA_ERR_VERSION;
    }
    size_t want_len = version == 1u ? EFUSE_V1_BLOCK_LEN : EFUSE_BLOCK_LEN;
    unsigned payload = version == 1u ? EFUSE_V1_PAYLOAD_LEN : EFUSE_PAYLOAD_LEN;
    if (len != want_len) {
        say(why, why_len, "it is %zu bytes long; a format version %u block is %zu", len,
            (unsigned)version, want_len);
        return MQOTA_ERR_MALFORMED;
    }
    if (get_le16(buf + 6) != payload) {
        say(why, why_len, "its payload length is %u; version %u has %u",
            (unsigned)get_le16(buf + 6), (unsigned)version, payload);
        return MQOTA_ERR_MALFORMED;
    }
    size_t crc_at = want_len - 4u;
    uint32_t crc = mqota_crc32(0, buf, crc_at);
    if (crc != get_le32(buf + crc_at)) {
        say(why, why_len, "its CRC-32 does not match (stored 0x%08x, computed 0x%08x)",
            (unsigned)get_le32(buf + crc_at), (unsigned)crc);
        return MQOTA_ERR_CRC;
    }
    if (!mac_ok(buf + HDR_LEN)) {
        say(why, why_len, "its base MAC is multicast or all zero");
        return MQOTA_ERR_MALFORMED;
    }
    memcpy(out->mac, buf + HDR_LEN, sizeof(out->mac));
    out->chip_id = get_le16(buf + 14);
    out->chip_rev = get_le16(buf + 16);
    out->secure_version_bits = version == 1u ? 0u : get_le32(buf + SV_AT);
    return MQOTA_OK;
}

int efuse_path(const char *flash_path, char *out, size_t cap)
{
    if (flash_path == NULL || out == NULL) {
        return -1;
    }
    int n = snprintf(out, cap, "%s%s", flash_path, EFUSE_FILE_SUFFIX);
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

/* Write all of buf to fd, retrying short writes. Returns 0 or -1 with errno set. */
static int write_all(int fd, const uint8_t *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Write block to a new file `tmp` (mode 0444) and fsync it. Returns 0 or an errno value;
 * on failure tmp is removed. */
static int write_tmp(const char *tmp, const uint8_t block[EFUSE_BLOCK_LEN])
{
    (void)unlink(tmp); /* left by a crash during an earlier write */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
    if (fd < 0) {
        return errno;
    }
    int rc = write_all(fd, block, EFUSE_BLOCK_LEN) == 0 && fsync(fd) == 0 ? 0 : errno;
    if (close(fd) != 0 && rc == 0) {
        rc = errno;
    }
    if (rc != 0) {
        (void)unlink(tmp);
    }
    return rc;
}

/*
 * Burn the block: it is written to `<path>.tmp` and fsynced, then link()ed to `path`, which
 * fails if `path` exists; so the eFuse file appears whole or not at all, and never twice.
 */
mqota_status_t efuse_burn(const char *path, const efuse_t *in, char *err, size_t err_len)
{
    uint8_t block[EFUSE_BLOCK_LEN];
    char tmp[4096];
    if (path == NULL || efuse_encode(in, block) != MQOTA_OK) {
        say(err, err_len, "an eFuse file path and an identity with a unicast base MAC are "
            "required");
        return MQOTA_ERR_ARG;
    }
    int n = snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        say(err, err_len, "eFuse file path '%s' is too long", path);
        return MQOTA_ERR_ARG;
    }
    if (access(path, F_OK) == 0) {
        say(err, err_len, "eFuse file '%s' exists already: an eFuse is programmed once", path);
        return MQOTA_ERR_STATE;
    }
    int rc = write_tmp(tmp, block);
    if (rc != 0) {
        say(err, err_len, "cannot write eFuse file '%s': %s", tmp, strerror(rc));
        return MQOTA_ERR_PLATFORM;
    }
    if (link(tmp, path) != 0) {
        rc = errno;
    }
    (void)unlink(tmp);
    if (rc == EEXIST) {
        say(err, err_len, "eFuse file '%s' exists already: an eFuse is programmed once", path);
        return MQOTA_ERR_STATE;
    }
    if (rc != 0) {
        say(err, err_len, "cannot write eFuse file '%s': %s", path, strerror(rc));
        return MQOTA_ERR_PLATFORM;
    }
    return MQOTA_OK;
}

mqota_status_t efuse_read(const char *path, efuse_t *out, char *err, size_t err_len)
{
    if (path == NULL || out == NULL) {
        say(err, err_len, "an eFuse file path is required");
        return MQOTA_ERR_ARG;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        say(err, err_len, "cannot open eFuse file '%s': %s", path, strerror(e));
        return e == ENOENT ? MQOTA_ERR_NOT_FOUND : MQOTA_ERR_PLATFORM;
    }
    uint8_t buf[EFUSE_BLOCK_LEN];
    size_t got = 0;
    mqota_status_t st = MQOTA_OK;
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        say(err, err_len, "reading eFuse file '%s' failed: %s", path, strerror(errno));
        close(fd);
        return MQOTA_ERR_PLATFORM;
    }
    while (got < sizeof(buf)) {
        ssize_t n = read(fd, buf + got, sizeof(buf) - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            say(err, err_len, "reading eFuse file '%s' failed: %s", path, strerror(errno));
            st = MQOTA_ERR_PLATFORM;
            break;
        }
        if (n == 0) {
            break;
        }
        got += (size_t)n;
    }
    close(fd);
    if (st != MQOTA_OK) {
        return st;
    }
    char why[128];
    /* A longer file is not a block either: its size, not the bytes read, is what decode checks. */
    size_t len = sb.st_size != (off_t)got ? (size_t)sb.st_size : got;
    st = efuse_decode(buf, len, out, why, sizeof(why));
    if (st != MQOTA_OK) {
        say(err, err_len, "eFuse file '%s' is not a valid eFuse block: %s", path, why);
    }
    return st;
}

/*
 * Raise the secure version one way: read the block, OR in bits 0..to-1 (bits already set stay
 * set; none is ever cleared, as with a real eFuse), write the whole block to `<path>.tmp`,
 * fsync and rename() it over `path`. A power cut leaves the old block or the new one.
 */
mqota_status_t efuse_raise_secure_version(const char *path, uint32_t to, uint32_t *now,
                                          char *err, size_t err_len)
{
    if (path == NULL) {
        say(err, err_len, "an eFuse file path is required");
        return MQOTA_ERR_ARG;
    }
    if (to > EFUSE_SECURE_VERSION_BITS) {
        say(err, err_len, "secure version %u does not fit the eFuse field of '%s' (%u bits)",
            (unsigned)to, path, (unsigned)EFUSE_SECURE_VERSION_BITS);
        return MQOTA_ERR_RANGE;
    }
    efuse_t ef;
    mqota_status_t st = efuse_read(path, &ef, err, err_len);
    if (st != MQOTA_OK) {
        return st;
    }
    if (to <= efuse_secure_version(&ef)) {
        if (now != NULL) {
            *now = efuse_secure_version(&ef);
        }
        return MQOTA_OK;
    }
    ef.secure_version_bits |= (uint32_t)((1ull << to) - 1u);
    uint8_t block[EFUSE_BLOCK_LEN];
    char tmp[4096];
    int n = snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    if (n < 0 || (size_t)n >= sizeof(tmp) || efuse_encode(&ef, block) != MQOTA_OK) {
        say(err, err_len, "eFuse file path '%s' is too long", path);
        return MQOTA_ERR_ARG;
    }
    int rc = write_tmp(tmp, block);
    if (rc == 0 && rename(tmp, path) != 0) {
        rc = errno;
        (void)unlink(tmp);
    }
    if (rc != 0) {
        say(err, err_len, "cannot raise the secure version in eFuse file '%s': %s", path,
            strerror(rc));
        return MQOTA_ERR_PLATFORM;
    }
    if (now != NULL) {
        *now = efuse_secure_version(&ef);
    }
    return MQOTA_OK;
}
