/* SPDX-License-Identifier: Apache-2.0 */
/* vdev: one virtual ESP32's flash, bootloader and platform hooks (vdev.h). */
#include "mqota_posix/vdev.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "mqota_posix/otadata.h"
#include "mqota_posix/aead.h"
#include "mqota_posix/sigverify.h"
#include "mqota_posix/inflate.h"
#include "posix_util.h"

struct vdev {
    vflash_t *fl;
    partition_table_t pt;
    const partition_t *otadata;
    const partition_t *slot[2];
    kv_t *kv;
    efuse_t efuse; /* the chip identity, read from <flash>.efuse at open */
    char efuse_file[1024]; /* <flash>.efuse; its secure version is raised there */
    uint16_t chip_id;
    char notice[1536]; /* what vdev_open repaired, for the owner's log; "" if nothing */
    bool booted;
    boot_result_t boot;
    EVP_MD_CTX *sha;
    uint8_t reset_reason;  /* mqota_reset_reason_t of this boot, from <flash>.rtc */
    char last_crash[MQOTA_HEALTH_CRASH_MAX + 1]; /* the last simulated panic's reason */
    const sigverify_key_t *trust; /* not owned; NULL = no release key */
    uint8_t command_key[32];      /* sealed commands (docs/PROTOCOL.md §14) */
    bool have_command_key;
    void *user;
};

/* Find the partitions vdev needs in dev->pt. */
static mqota_status_t find_parts(vdev_t *dev, const partition_t **nvs)
{
    dev->otadata = partition_find(&dev->pt, PARTITION_TYPE_DATA, PARTITION_SUBTYPE_DATA_OTA);
    dev->slot[0] = partition_find(&dev->pt, PARTITION_TYPE_APP, PARTITION_SUBTYPE_APP_OTA_0);
    dev->slot[1] = partition_find(&dev->pt, PARTITION_TYPE_APP, PARTITION_SUBTYPE_APP_OTA_1);
    *nvs = partition_find(&dev->pt, PARTITION_TYPE_DATA, PARTITION_SUBTYPE_DATA_NVS);
    return dev->otadata && dev->slot[0] && dev->slot[1] && *nvs ? MQOTA_OK : MQOTA_ERR_MALFORMED;
}

/* Copy the image file into flash at addr; *size gets its length. */
static mqota_status_t copy_image(vflash_t *fl, const char *image_path, uint32_t addr,
                                 uint32_t max, uint32_t *size, char *err, size_t err_len)
{
    int fd = open(image_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        say(err, err_len, "cannot open image '%s': %s", image_path, strerror(errno));
        return MQOTA_ERR_PLATFORM;
    }
    mqota_status_t st = MQOTA_OK;
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        say(err, err_len, "image '%s' is not a regular file", image_path);
        st = MQOTA_ERR_ARG;
        goto out;
    }
    if (sb.st_size == 0) {
        say(err, err_len, "'%s' is not a valid ESP32 application image: the file is empty",
            image_path);
        st = MQOTA_ERR_IMAGE;
        goto out;
    }
    if (sb.st_size > (off_t)max) {
        say(err, err_len, "image '%s' is %lld bytes, larger than the %u-byte ota_0 slot",
            image_path, (long long)sb.st_size, (unsigned)max);
        st = MQOTA_ERR_RANGE;
        goto out;
    }
    uint8_t buf[4096];
    uint32_t off = 0;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            say(err, err_len, "reading image '%s' failed: %s", image_path, strerror(errno));
            st = MQOTA_ERR_PLATFORM;
            goto out;
        }
        if (n == 0) {
            break;
        }
        if (off + (uint32_t)n > max || vflash_write(fl, addr + off, buf, (size_t)n) != 0) {
            say(err, err_len, "writing image '%s' to flash failed", image_path);
            st = MQOTA_ERR_PLATFORM;
            goto out;
        }
        off += (uint32_t)n;
    }
    *size = off;
out:
    close(fd);
    return st;
}

mqota_status_t vdev_flash_create(const char *path, uint16_t chip_id,
                                 const char *initial_image_path, char *err, size_t err_len)
{
    efuse_t ef;
    memset(&ef, 0, sizeof(ef));
    ef.chip_id = chip_id;
    ef.chip_rev = VDEV_DEFAULT_CHIP_REV;
    if (vdev_random_mac(ef.mac) != MQOTA_OK) {
        say(err, err_len, "cannot draw a base MAC address: the system's random source failed");
        return MQOTA_ERR_PLATFORM;
    }
    return vdev_flash_create_efuse(path, &ef, initial_image_path, err, err_len);
}

mqota_status_t vdev_random_mac(uint8_t mac[6])
{
    /* Espressif's OUI, and three random bytes as the factory's serial part. */
    mac[0] = 0x24;
    mac[1] = 0x0A;
    mac[2] = 0xC4;
    return RAND_bytes(mac + 3, 3) == 1 ? MQOTA_OK : MQOTA_ERR_PLATFORM;
}

/*
 * A new device: the flash file with its partition table, a formatted (empty) NVS partition and
 * the image in ota_0, and the eFuse file beside it. An eFuse file left by an earlier device at
 * this path belongs to another chip and is replaced. On failure neither file is left.
 */
mqota_status_t vdev_flash_create_efuse(const char *path, const efuse_t *efuse,
                                       const char *initial_image_path, char *err, size_t err_len)
{
    if (path == NULL || initial_image_path == NULL || efuse == NULL) {
        say(err, err_len, "flash path, eFuse identity and initial image path are required");
        return MQOTA_ERR_ARG;
    }
    char efuse_file[1024];
    if (efuse_path(path, efuse_file, sizeof(efuse_file)) != 0) {
        say(err, err_len, "flash path '%s' is too long", path);
        return MQOTA_ERR_ARG;
    }
    vdev_t dev;
    memset(&dev, 0, sizeof(dev));
    const partition_t *nvs = NULL;
    char why[160];
    uint32_t size = 0;
    mqota_status_t st;
    int rc = vflash_create(path, &dev.fl);
    if (rc != 0) {
        say(err, err_len, "cannot create flash file '%s': %s", path, strerror(-rc));
        return MQOTA_ERR_PLATFORM;
    }
    st = partition_table_write_default(dev.fl);
    if (st == MQOTA_OK) {
        st = partition_table_read(dev.fl, &dev.pt);
    }
    if (st == MQOTA_OK) {
        st = find_parts(&dev, &nvs);
    }
    if (st != MQOTA_OK) {
        say(err, err_len, "writing the partition table to '%s' failed (%s)", path,
            mqota_strerror(st));
        goto err;
    }
    st = copy_image(dev.fl, initial_image_path, dev.slot[0]->offset, dev.slot[0]->size, &size,
                    err, err_len);
    if (st != MQOTA_OK) {
        goto err;
    }
    st = boot_verify_image(dev.fl, dev.slot[0]->offset, dev.slot[0]->size, size, NULL, NULL,
                           why, sizeof(why));
    if (st != MQOTA_OK) {
        say(err, err_len, "'%s' is not a valid ESP32 application image: %s", initial_image_path,
            why);
        goto err;
    }
    st = kv_open(dev.fl, nvs->offset, nvs->size, &dev.kv);
    if (st != MQOTA_OK) {
        say(err, err_len, "initialising the NVS partition of '%s' failed (%s)", path,
            mqota_strerror(st));
        goto err;
    }
    if (unlink(efuse_file) != 0 && errno != ENOENT) {
        say(err, err_len, "cannot replace the eFuse file '%s' of an earlier device: %s",
            efuse_file, strerror(errno));
        st = MQOTA_ERR_PLATFORM;
        goto err;
    }
    st = efuse_burn(efuse_file, efuse, err, err_len);
    if (st != MQOTA_OK) {
        goto err;
    }
    kv_close(dev.kv);
    vflash_close(dev.fl);
    return MQOTA_OK;
err:
    kv_close(dev.kv);
    vflash_close(dev.fl);
    unlink(path);
    return st;
}

/*
 * A flash file made before the eFuse file existed keeps the chip id in NVS (VDEV_LEGACY_CHIP_KEY,
 * u16 LE). Move it once: burn an eFuse file with it and a fresh base MAC, then drop the NVS
 * record. Returns MQOTA_OK, or fails with a sentence in err.
 */
static mqota_status_t migrate_legacy_chip(vdev_t *dev, const char *path, const char *efuse_file,
                                          char *err, size_t err_len)
{
    uint8_t b[2];
    size_t n = 0;
    if (dev->kv == NULL || kv_get(dev->kv, VDEV_LEGACY_CHIP_KEY, b, sizeof(b), &n) != MQOTA_OK ||
        n != sizeof(b)) {
        say(err, err_len, "flash file '%s' has no eFuse file '%s' (the device's chip identity), "
            "and its NVS partition holds no chip id of an older build to move there; delete "
            "'%s' and create the device again (mqota-fleet --image)", path, efuse_file, path);
        return MQOTA_ERR_NOT_FOUND;
    }
    efuse_t ef;
    memset(&ef, 0, sizeof(ef));
    ef.chip_id = (uint16_t)(b[0] | b[1] << 8);
    ef.chip_rev = VDEV_DEFAULT_CHIP_REV;
    if (vdev_random_mac(ef.mac) != MQOTA_OK) {
        say(err, err_len, "cannot draw a base MAC address: the system's random source failed");
        return MQOTA_ERR_PLATFORM;
    }
    mqota_status_t st = efuse_burn(efuse_file, &ef, err, err_len);
    if (st != MQOTA_OK) {
        return st;
    }
    (void)kv_erase(dev->kv, VDEV_LEGACY_CHIP_KEY); /* the eFuse file is the identity now */
    snprintf(dev->notice, sizeof(dev->notice),
             "flash file '%s' was made by an older build with the chip id in NVS: moved chip "
             "id 0x%04x to the new eFuse file '%s'", path, (unsigned)ef.chip_id, efuse_file);
    return MQOTA_OK;
}

/*
 * Open the NVS partition as an ESP-IDF application does: nvs_flash_init(), and when that
 * answers ESP_ERR_NVS_NO_FREE_PAGES or ESP_ERR_NVS_NEW_VERSION_FOUND (here: kv_open()'s
 * MQOTA_ERR_MALFORMED), nvs_flash_erase() and nvs_flash_init() again. A blank partition is
 * formatted by kv_open() itself (vdev_flash_create() leaves it formatted, so a blank one was
 * erased since). Either way the records in it are gone, and dev->notice says so. Fails only
 * when the flash itself fails.
 */
static mqota_status_t open_nvs(vdev_t *dev, const partition_t *nvs, const char *path,
                               char *err, size_t err_len)
{
    mqota_status_t st = kv_open(dev->fl, nvs->offset, nvs->size, &dev->kv);
    if (st == MQOTA_ERR_MALFORMED) {
        if (vflash_erase(dev->fl, nvs->offset, nvs->size) != 0) {
            say(err, err_len, "the NVS partition of flash file '%s' is corrupt and erasing it "
                "failed", path);
            return MQOTA_ERR_PLATFORM;
        }
        st = kv_open(dev->fl, nvs->offset, nvs->size, &dev->kv);
        if (st == MQOTA_OK) {
            snprintf(dev->notice, sizeof(dev->notice),
                     "NVS partition '%s' (0x%x, %u bytes) of flash file '%s' was corrupt or of a "
                     "newer format: erased and initialised it again; the agent's records are "
                     "gone and it starts fresh", nvs->label, (unsigned)nvs->offset,
                     (unsigned)nvs->size, path);
        }
    } else if (st == MQOTA_OK) {
        kv_info_t info;
        kv_info(dev->kv, &info);
        if (info.formatted) {
            snprintf(dev->notice, sizeof(dev->notice),
                     "NVS partition '%s' (0x%x, %u bytes) of flash file '%s' was erased: "
                     "initialised it; the agent's records are gone and it starts fresh",
                     nvs->label, (unsigned)nvs->offset, (unsigned)nvs->size, path);
        }
    }
    if (st != MQOTA_OK) {
        say(err, err_len, "cannot open the NVS partition of flash file '%s' (%s)", path,
            mqota_strerror(st));
    }
    return st;
}

mqota_status_t vdev_open(const char *path, vdev_t **out, char *err, size_t err_len)
{
    if (out == NULL || path == NULL) {
        say(err, err_len, "flash path and output pointer are required");
        return MQOTA_ERR_ARG;
    }
    *out = NULL;
    vdev_t *dev = calloc(1, sizeof(*dev));
    if (dev == NULL) {
        say(err, err_len, "out of memory");
        return MQOTA_ERR_PLATFORM;
    }
    const partition_t *nvs = NULL;
    mqota_status_t st = MQOTA_ERR_PLATFORM;
    int rc = vflash_open(path, &dev->fl);
    if (rc != 0) {
        say(err, err_len, "cannot open flash file '%s': %s", path,
            rc == -EINVAL ? "not a 4 MiB flash file" : strerror(-rc));
        goto err;
    }
    st = partition_table_read(dev->fl, &dev->pt);
    if (st == MQOTA_OK) {
        st = find_parts(dev, &nvs);
    }
    if (st != MQOTA_OK) {
        say(err, err_len, "flash file '%s' has no valid two-slot OTA partition table (%s)", path,
            mqota_strerror(st));
        goto err;
    }
    char efuse_file[1024];
    if (efuse_path(path, efuse_file, sizeof(efuse_file)) != 0) {
        say(err, err_len, "flash path '%s' is too long", path);
        st = MQOTA_ERR_ARG;
        goto err;
    }
    st = efuse_read(efuse_file, &dev->efuse, err, err_len);
    if (st != MQOTA_OK && st != MQOTA_ERR_NOT_FOUND) {
        size_t k = strlen(err != NULL ? err : "");
        say(err != NULL ? err + k : NULL, err_len > k ? err_len - k : 0,
            "; the device's chip identity is lost: delete '%s' and '%s' and create the device "
            "again (mqota-fleet --image)", path, efuse_file);
        goto err;
    }
    if (st == MQOTA_ERR_NOT_FOUND) {
        /* An older build's flash: its chip id is in NVS, which must be read before any repair. */
        st = kv_open(dev->fl, nvs->offset, nvs->size, &dev->kv);
        if (st == MQOTA_OK) {
            st = migrate_legacy_chip(dev, path, efuse_file, err, err_len);
        } else {
            say(err, err_len, "flash file '%s' has no eFuse file '%s' (the device's chip "
                "identity), and its NVS partition, where an older build kept the chip id, cannot "
                "be read (%s); delete '%s' and create the device again (mqota-fleet --image)",
                path, efuse_file, mqota_strerror(st), path);
        }
        if (st != MQOTA_OK) {
            goto err;
        }
        st = efuse_read(efuse_file, &dev->efuse, err, err_len);
    } else {
        st = open_nvs(dev, nvs, path, err, err_len);
    }
    if (st != MQOTA_OK) {
        goto err;
    }
    dev->chip_id = dev->efuse.chip_id;
    snprintf(dev->efuse_file, sizeof(dev->efuse_file), "%s", efuse_file);
    *out = dev;
    return MQOTA_OK;
err:
    vdev_close(dev);
    return st;
}

void vdev_close(vdev_t *dev)
{
    if (dev == NULL) {
        return;
    }
    EVP_MD_CTX_free(dev->sha);
    kv_close(dev->kv);
    vflash_close(dev->fl);
    free(dev);
}

/*
 * The reset reason, as the chip's RTC registers would tell it, kept in <flash>.rtc: byte 0 is
 * how the device last stopped (an mqota_reset_reason_t written by vdev_set_reset_reason(), or
 * RTC_RUNNING while it runs), byte 1 the length of the last crash text, then the text. A boot
 * reads it and writes RTC_RUNNING back (or removes it: rtc_running()), so a device that is
 * killed, or powered off without saying why, boots next as power-on; so does a new device (no
 * file).
 */
#define RTC_RUNNING 0xFFu

static int rtc_path(const vdev_t *dev, char *out, size_t cap)
{
    size_t n = strlen(dev->efuse_file); /* <flash>.efuse */
    if (n < 6 || n - 6 + 5 >= cap) return -1;
    snprintf(out, cap, "%.*s.rtc", (int)(n - 6), dev->efuse_file);
    return 0;
}

/* Write the RTC file: byte 0 reason, then the last crash text. 0 or -1. */
static int rtc_write(const vdev_t *dev, uint8_t reason)
{
    char path[1040];
    uint8_t b[2 + MQOTA_HEALTH_CRASH_MAX];
    size_t n = strnlen(dev->last_crash, MQOTA_HEALTH_CRASH_MAX);
    if (rtc_path(dev, path, sizeof(path)) != 0) return -1;
    FILE *f = fopen(path, "wb");
    if (f == NULL) return -1;
    b[0] = reason;
    b[1] = (uint8_t)n;
    memcpy(b + 2, dev->last_crash, n);
    int rc = fwrite(b, 1, 2 + n, f) == 2 + n ? 0 : -1;
    return fclose(f) == 0 ? rc : -1;
}

/* Read how the device last stopped into dev->reset_reason and dev->last_crash. */
static void rtc_read(vdev_t *dev)
{
    char path[1040];
    uint8_t b[2 + MQOTA_HEALTH_CRASH_MAX];
    size_t n = 0;
    dev->reset_reason = MQOTA_RESET_POWER_ON;
    dev->last_crash[0] = '\0';
    if (rtc_path(dev, path, sizeof(path)) != 0) return;
    FILE *f = fopen(path, "rb");
    if (f == NULL) return;
    n = fread(b, 1, sizeof(b), f);
    fclose(f);
    if (n < 2 || b[1] > MQOTA_HEALTH_CRASH_MAX || n != 2u + b[1]) return;
    if (b[0] <= MQOTA_RESET_MAX) dev->reset_reason = b[0];
    for (size_t i = 0; i < b[1]; i++) {
        if (b[2 + i] < 0x20 || b[2 + i] > 0x7E) return; /* not the text we wrote */
    }
    memcpy(dev->last_crash, b + 2, b[1]);
    dev->last_crash[b[1]] = '\0';
}

/* After a boot read the file: the device runs. With a last crash to keep, the file says
 * RTC_RUNNING; without one it is removed (a device that never panicked and never announced a
 * restart, as in the unit tests, leaves no file). Either way the next boot says power-on unless
 * vdev_set_reset_reason() is called first. */
static void rtc_running(const vdev_t *dev)
{
    char path[1040];
    if (dev->last_crash[0] != '\0') {
        (void)rtc_write(dev, RTC_RUNNING); /* unwritable: the next boot says power-on */
    } else if (rtc_path(dev, path, sizeof(path)) == 0) {
        (void)unlink(path);
    }
}

mqota_status_t vdev_set_reset_reason(vdev_t *dev, uint8_t reason, const char *crash)
{
    if (dev == NULL || reason > MQOTA_RESET_MAX) {
        return MQOTA_ERR_ARG;
    }
    if (crash != NULL) {
        size_t n = 0;
        for (; crash[n] != '\0' && n < MQOTA_HEALTH_CRASH_MAX; n++) {
            dev->last_crash[n] = crash[n] >= 0x20 && crash[n] <= 0x7E ? crash[n] : '?';
        }
        dev->last_crash[n] = '\0';
    }
    return rtc_write(dev, reason) == 0 ? MQOTA_OK : MQOTA_ERR_PLATFORM;
}

uint8_t vdev_reset_reason(const vdev_t *dev)
{
    return dev != NULL ? dev->reset_reason : MQOTA_RESET_UNKNOWN;
}

const char *vdev_last_crash(const vdev_t *dev)
{
    return dev != NULL ? dev->last_crash : "";
}

/* The port's part of a HEALTH (mqota_platform_t.health): the reset reason and last crash from
 * the RTC file; a virtual device has no heap minimum or RSSI of its own (0: unknown). */
static int hook_health(void *ctx, mqota_health_t *out)
{
    vdev_t *dev = ctx;
    out->reset_reason = dev->reset_reason;
    memcpy(out->crash, dev->last_crash, sizeof(out->crash));
    return 0;
}

mqota_status_t vdev_boot(vdev_t *dev, boot_result_t *out)
{
    if (dev == NULL || out == NULL) {
        return MQOTA_ERR_ARG;
    }
    dev->booted = false;
    EVP_MD_CTX_free(dev->sha); /* a reset drops any computation in progress */
    dev->sha = NULL;
    mqota_status_t st = boot_run(dev->fl, &dev->pt, dev->kv, efuse_secure_version(&dev->efuse), out);
    if (st == MQOTA_OK) {
        dev->boot = *out;
        dev->booted = true;
        rtc_read(dev);
        rtc_running(dev);
    }
    return st;
}

void vdev_set_user(vdev_t *dev, void *user)
{
    if (dev != NULL) {
        dev->user = user;
    }
}

void *vdev_user(const vdev_t *dev)
{
    return dev != NULL ? dev->user : NULL;
}

vflash_t *vdev_flash(vdev_t *dev)
{
    return dev != NULL ? dev->fl : NULL;
}

kv_t *vdev_kv(vdev_t *dev)
{
    return dev != NULL ? dev->kv : NULL;
}

const partition_table_t *vdev_partitions(const vdev_t *dev)
{
    return dev != NULL ? &dev->pt : NULL;
}

uint16_t vdev_chip_id(const vdev_t *dev)
{
    return dev != NULL ? dev->chip_id : 0;
}

const efuse_t *vdev_efuse(const vdev_t *dev)
{
    return dev != NULL ? &dev->efuse : NULL;
}

const char *vdev_notice(const vdev_t *dev)
{
    return dev != NULL && dev->notice[0] != '\0' ? dev->notice : NULL;
}

/* Like `esptool.py erase_region` over the nvs partition: the flash file alone, no device. */
mqota_status_t vdev_flash_erase_nvs(const char *path, char *err, size_t err_len)
{
    if (path == NULL) {
        say(err, err_len, "a flash file path is required");
        return MQOTA_ERR_ARG;
    }
    vdev_t dev;
    memset(&dev, 0, sizeof(dev));
    const partition_t *nvs = NULL;
    int rc = vflash_open(path, &dev.fl);
    if (rc != 0) {
        say(err, err_len, "cannot open flash file '%s': %s", path,
            rc == -EINVAL ? "not a 4 MiB flash file" : strerror(-rc));
        return MQOTA_ERR_PLATFORM;
    }
    mqota_status_t st = partition_table_read(dev.fl, &dev.pt);
    if (st == MQOTA_OK) {
        st = find_parts(&dev, &nvs);
    }
    if (st != MQOTA_OK) {
        say(err, err_len, "flash file '%s' has no valid two-slot OTA partition table (%s)", path,
            mqota_strerror(st));
    } else if (vflash_erase(dev.fl, nvs->offset, nvs->size) != 0) {
        say(err, err_len, "erasing the NVS partition of flash file '%s' failed", path);
        st = MQOTA_ERR_PLATFORM;
    }
    vflash_close(dev.fl);
    return st;
}

/* ---- platform hooks; ctx is the vdev_t ---- */

/* Copy src into dst, cut to cap - 1 characters (mqota_running_t strings are cut to 31). */
static void copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = strnlen(src, cap - 1u);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static int hook_running(void *ctx, mqota_running_t *out)
{
    vdev_t *dev = ctx;
    if (dev == NULL || out == NULL) {
        return MQOTA_ERR_ARG;
    }
    if (!dev->booted) {
        return MQOTA_ERR_STATE;
    }
    memset(out, 0, sizeof(*out));
    out->chip_id = dev->chip_id;
    out->running_slot = dev->boot.slot;
    out->slot_count = 2;
    out->boot_count = dev->boot.boot_count;
    copy_str(out->project, sizeof(out->project), dev->boot.image.project_name);
    copy_str(out->version, sizeof(out->version), dev->boot.image.version);
    copy_str(out->idf_ver, sizeof(out->idf_ver), dev->boot.image.idf_ver);
    return MQOTA_OK;
}

static int hook_slot_size(void *ctx, uint8_t slot, uint32_t *bytes)
{
    vdev_t *dev = ctx;
    if (dev == NULL || bytes == NULL || slot > 1) {
        return MQOTA_ERR_ARG;
    }
    *bytes = dev->slot[slot]->size;
    return MQOTA_OK;
}

/* Common checks of the writing hooks: valid slot, booted, not the running slot. */
static mqota_status_t writable(const vdev_t *dev, uint8_t slot)
{
    if (dev == NULL || slot > 1) {
        return MQOTA_ERR_ARG;
    }
    if (!dev->booted || dev->boot.slot == slot) {
        return MQOTA_ERR_STATE;
    }
    return MQOTA_OK;
}

static int hook_slot_begin(void *ctx, uint8_t slot, uint32_t image_size, uint32_t erase_from)
{
    vdev_t *dev = ctx;
    mqota_status_t st = writable(dev, slot);
    if (st != MQOTA_OK) {
        return st;
    }
    uint32_t size = dev->slot[slot]->size;
    if (image_size == 0 || erase_from % VFLASH_SECTOR != 0) {
        return MQOTA_ERR_ARG;
    }
    if (image_size > size) {
        return MQOTA_ERR_RANGE;
    }
    uint32_t end = (uint32_t)(((uint64_t)image_size + VFLASH_SECTOR - 1) / VFLASH_SECTOR *
                              VFLASH_SECTOR);
    if (erase_from > end) {
        return MQOTA_ERR_RANGE;
    }
    if (vflash_erase(dev->fl, dev->slot[slot]->offset + erase_from, end - erase_from) != 0) {
        return MQOTA_ERR_PLATFORM;
    }
    return MQOTA_OK;
}

static bool in_slot(const vdev_t *dev, uint8_t slot, uint32_t offset, size_t len)
{
    uint32_t size = dev->slot[slot]->size;
    return offset <= size && len <= (size_t)(size - offset);
}

static int hook_slot_write(void *ctx, uint8_t slot, uint32_t offset, const uint8_t *data,
                           size_t len)
{
    vdev_t *dev = ctx;
    mqota_status_t st = writable(dev, slot);
    if (st != MQOTA_OK) {
        return st;
    }
    if (data == NULL && len > 0) {
        return MQOTA_ERR_ARG;
    }
    if (!in_slot(dev, slot, offset, len)) {
        return MQOTA_ERR_RANGE;
    }
    return vflash_write(dev->fl, dev->slot[slot]->offset + offset, data, len) == 0
               ? MQOTA_OK
               : MQOTA_ERR_PLATFORM;
}

static int hook_slot_read(void *ctx, uint8_t slot, uint32_t offset, uint8_t *data, size_t len)
{
    vdev_t *dev = ctx;
    if (dev == NULL || slot > 1 || (data == NULL && len > 0)) {
        return MQOTA_ERR_ARG;
    }
    if (!in_slot(dev, slot, offset, len)) {
        return MQOTA_ERR_RANGE;
    }
    return vflash_read(dev->fl, dev->slot[slot]->offset + offset, data, len) == 0
               ? MQOTA_OK
               : MQOTA_ERR_PLATFORM;
}

static int hook_slot_end(void *ctx, uint8_t slot, uint32_t image_size)
{
    vdev_t *dev = ctx;
    if (dev == NULL || slot > 1 || image_size == 0) {
        return MQOTA_ERR_ARG;
    }
    return boot_verify_image(dev->fl, dev->slot[slot]->offset, dev->slot[slot]->size, image_size,
                             NULL, NULL, NULL, 0);
}

static int hook_slot_set_boot(void *ctx, uint8_t slot)
{
    vdev_t *dev = ctx;
    if (dev == NULL || slot > 1) {
        return MQOTA_ERR_ARG;
    }
    /* esp_ota_set_boot_partition verifies the image before selecting it. */
    mqota_status_t st = boot_verify_image(dev->fl, dev->slot[slot]->offset, dev->slot[slot]->size,
                                          0, NULL, NULL, NULL, 0);
    if (st != MQOTA_OK) {
        return st;
    }
    st = otadata_set_boot(dev->fl, dev->otadata->offset, slot);
    return st == MQOTA_OK ? MQOTA_OK : MQOTA_ERR_PLATFORM;
}

/* Sector of the otadata entry of the running slot, or -1; fills *od. */
static mqota_status_t running_entry(vdev_t *dev, otadata_t *od, int *sector)
{
    if (dev == NULL) {
        return MQOTA_ERR_ARG;
    }
    if (!dev->booted) {
        return MQOTA_ERR_STATE;
    }
    if (otadata_read(dev->fl, dev->otadata->offset, od) != MQOTA_OK) {
        return MQOTA_ERR_PLATFORM;
    }
    *sector = otadata_find_slot(od, dev->boot.slot);
    return MQOTA_OK;
}

static int hook_slot_state(void *ctx, mqota_slot_state_t *state)
{
    otadata_t od;
    int sec;
    if (state == NULL) {
        return MQOTA_ERR_ARG;
    }
    mqota_status_t st = running_entry(ctx, &od, &sec);
    if (st != MQOTA_OK) {
        return st;
    }
    uint32_t raw = sec >= 0 ? od.entry[sec].state : OTADATA_STATE_UNDEFINED;
    /* mqota_slot_state_t uses ESP-IDF's numbers except UNDEFINED (0xFF, not 0xFFFFFFFF). */
    *state = raw <= OTADATA_STATE_ABORTED ? (mqota_slot_state_t)raw : MQOTA_SLOT_UNDEFINED;
    return MQOTA_OK;
}

/* Like esp_ota_get_state_partition(): the otadata state of the entry that selects `slot`. */
static int hook_slot_state_of(void *ctx, uint8_t slot, mqota_slot_state_t *state)
{
    vdev_t *dev = ctx;
    otadata_t od;
    if (state == NULL || slot > 1u) {
        return MQOTA_ERR_ARG;
    }
    if (otadata_read(dev->fl, dev->otadata->offset, &od) != MQOTA_OK) {
        return MQOTA_ERR_PLATFORM;
    }
    int sec = otadata_find_slot(&od, slot);
    uint32_t raw = sec >= 0 ? od.entry[sec].state : OTADATA_STATE_UNDEFINED;
    *state = raw <= OTADATA_STATE_ABORTED ? (mqota_slot_state_t)raw : MQOTA_SLOT_UNDEFINED;
    return MQOTA_OK;
}

static int hook_slot_mark_valid(void *ctx)
{
    vdev_t *dev = ctx;
    otadata_t od;
    int sec;
    mqota_status_t st = running_entry(dev, &od, &sec);
    if (st != MQOTA_OK) {
        return st;
    }
    if (sec < 0 || od.entry[sec].state == OTADATA_STATE_VALID) {
        return MQOTA_OK; /* factory-flashed image or already confirmed */
    }
    st = otadata_set_state(dev->fl, dev->otadata->offset, sec, OTADATA_STATE_VALID);
    return st == MQOTA_OK ? MQOTA_OK : MQOTA_ERR_PLATFORM;
}

static int hook_slot_mark_invalid(void *ctx)
{
    vdev_t *dev = ctx;
    otadata_t od;
    int sec;
    mqota_status_t st = running_entry(dev, &od, &sec);
    if (st != MQOTA_OK) {
        return st;
    }
    if (sec < 0) {
        return MQOTA_ERR_STATE;
    }
    /* Like esp_ota_mark_app_invalid_rollback_and_reboot: only if the other slot can boot. */
    uint8_t other = (uint8_t)(1u - dev->boot.slot);
    st = boot_verify_image(dev->fl, dev->slot[other]->offset, dev->slot[other]->size, 0, NULL,
                           NULL, NULL, 0);
    if (st != MQOTA_OK) {
        return st;
    }
    st = otadata_set_state(dev->fl, dev->otadata->offset, sec, OTADATA_STATE_INVALID);
    return st == MQOTA_OK ? MQOTA_OK : MQOTA_ERR_PLATFORM;
}

static int hook_kv_get(void *ctx, const char *key, void *buf, size_t cap, size_t *len)
{
    vdev_t *dev = ctx;
    return dev != NULL ? kv_get(dev->kv, key, buf, cap, len) : MQOTA_ERR_ARG;
}

static int hook_kv_set(void *ctx, const char *key, const void *buf, size_t len)
{
    vdev_t *dev = ctx;
    return dev != NULL ? kv_set(dev->kv, key, buf, len) : MQOTA_ERR_ARG;
}

static int hook_kv_erase(void *ctx, const char *key)
{
    vdev_t *dev = ctx;
    return dev != NULL ? kv_erase(dev->kv, key) : MQOTA_ERR_ARG;
}

static int hook_sha256_begin(void *ctx)
{
    vdev_t *dev = ctx;
    if (dev == NULL) {
        return MQOTA_ERR_ARG;
    }
    if (dev->sha == NULL && (dev->sha = EVP_MD_CTX_new()) == NULL) {
        return MQOTA_ERR_PLATFORM;
    }
    return EVP_DigestInit_ex(dev->sha, EVP_sha256(), NULL) == 1 ? MQOTA_OK : MQOTA_ERR_PLATFORM;
}

static int hook_sha256_update(void *ctx, const uint8_t *data, size_t len)
{
    vdev_t *dev = ctx;
    if (dev == NULL || (data == NULL && len > 0)) {
        return MQOTA_ERR_ARG;
    }
    if (dev->sha == NULL) {
        return MQOTA_ERR_STATE;
    }
    return EVP_DigestUpdate(dev->sha, data, len) == 1 ? MQOTA_OK : MQOTA_ERR_PLATFORM;
}

static int hook_sha256_finish(void *ctx, uint8_t out[32])
{
    vdev_t *dev = ctx;
    if (dev == NULL || out == NULL) {
        return MQOTA_ERR_ARG;
    }
    if (dev->sha == NULL) {
        return MQOTA_ERR_STATE;
    }
    int ok = EVP_DigestFinal_ex(dev->sha, out, NULL) == 1;
    EVP_MD_CTX_free(dev->sha);
    dev->sha = NULL;
    return ok ? MQOTA_OK : MQOTA_ERR_PLATFORM;
}

static int hook_verify_signature(void *ctx, const uint8_t digest[32], const uint8_t *sig,
                                 size_t sig_len)
{
    vdev_t *dev = ctx;
    if (dev == NULL || dev->trust == NULL) {
        return MQOTA_ERR_STATE;
    }
    return sigverify_digest(dev->trust, digest, sig, sig_len);
}

static int hook_aead_seal(void *ctx, const uint8_t *nonce, const uint8_t *aad, size_t aad_len,
                          const uint8_t *in, size_t len, uint8_t *out, uint8_t *tag)
{
    vdev_t *dev = ctx;
    return aead_gcm_seal(dev->command_key, nonce, aad, aad_len, in, len, out, tag);
}

static int hook_aead_open(void *ctx, const uint8_t *nonce, const uint8_t *aad, size_t aad_len,
                          const uint8_t *in, size_t len, uint8_t *out, const uint8_t *tag)
{
    vdev_t *dev = ctx;
    return aead_gcm_open(dev->command_key, nonce, aad, aad_len, in, len, out, tag);
}

void vdev_set_command_key(vdev_t *dev, const uint8_t *key)
{
    if (dev == NULL) {
        return;
    }
    dev->have_command_key = key != NULL;
    if (key != NULL) {
        memcpy(dev->command_key, key, sizeof(dev->command_key));
    } else {
        OPENSSL_cleanse(dev->command_key, sizeof(dev->command_key));
    }
}

/* The eFuse secure version (esp_efuse_read_secure_version()), as read at open or last raised. */
static int hook_secure_version_read(void *ctx, uint32_t *min)
{
    vdev_t *dev = ctx;
    if (dev == NULL || min == NULL) {
        return MQOTA_ERR_ARG;
    }
    *min = efuse_secure_version(&dev->efuse);
    return MQOTA_OK;
}

/* Raise the eFuse secure version to `to` (esp_efuse_update_secure_version()): one way, in the
 * eFuse file; the copy in memory follows only once the file holds it. */
static int hook_secure_version_raise(void *ctx, uint32_t to)
{
    vdev_t *dev = ctx;
    if (dev == NULL) {
        return MQOTA_ERR_ARG;
    }
    mqota_status_t st = efuse_raise_secure_version(dev->efuse_file, to, NULL, NULL, 0);
    if (st != MQOTA_OK) {
        return st;
    }
    return efuse_read(dev->efuse_file, &dev->efuse, NULL, 0);
}

void vdev_set_trust_key(vdev_t *dev, const sigverify_key_t *key)
{
    if (dev != NULL) {
        dev->trust = key;
    }
}

void vdev_platform_fill(vdev_t *dev, mqota_platform_t *plat)
{
    if (dev == NULL || plat == NULL) {
        return;
    }
    plat->ctx = dev;
    plat->running = hook_running;
    plat->slot_size = hook_slot_size;
    plat->slot_begin = hook_slot_begin;
    plat->slot_write = hook_slot_write;
    plat->slot_read = hook_slot_read;
    plat->slot_end = hook_slot_end;
    plat->slot_set_boot = hook_slot_set_boot;
    plat->slot_state = hook_slot_state;
    plat->slot_state_of = hook_slot_state_of;
    plat->slot_mark_valid = hook_slot_mark_valid;
    plat->slot_mark_invalid = hook_slot_mark_invalid;
    plat->kv_get = hook_kv_get;
    plat->kv_set = hook_kv_set;
    plat->kv_erase = hook_kv_erase;
    plat->secure_version_read = hook_secure_version_read;
    plat->secure_version_raise = hook_secure_version_raise;
    plat->sha256_begin = hook_sha256_begin;
    plat->sha256_update = hook_sha256_update;
    plat->sha256_finish = hook_sha256_finish;
    plat->verify_signature = dev->trust != NULL ? hook_verify_signature : NULL;
    plat->aead_seal = dev->have_command_key ? hook_aead_seal : NULL;
    plat->aead_open = dev->have_command_key ? hook_aead_open : NULL;
    plat->health = hook_health;
    plat->inflate_window_bits = POSIX_INFLATE_WINDOW_BITS;
    plat->inflate = posix_inflate;
}
