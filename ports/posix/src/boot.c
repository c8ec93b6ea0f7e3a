/* SPDX-License-Identifier: Apache-2.0 */
/* The virtual second-stage bootloader: slot choice with rollback, image verification (boot.h). */
#include "mqota_posix/boot.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "mqota_posix/otadata.h"
#include "posix_util.h"

#define READ_CHUNK 4096u

/* Describe the checker's fault in one phrase, with where it was found. */
static void say_fault(char *why, size_t why_len, const mqota_image_check_t *chk)
{
    if (chk->fault == MQOTA_IMAGE_FAULT_CHECKSUM) {
        say(why, why_len, "checksum mismatch (computed 0x%02x, image says 0x%02x)",
            chk->computed_checksum, chk->expect_checksum);
    } else {
        say(why, why_len, "%s (segment %u, offset 0x%x)",
            mqota_image_fault_str((mqota_image_fault_t)chk->fault), (unsigned)chk->fault_segment,
            (unsigned)chk->fault_offset);
    }
}

/* SHA-256 of flash [addr, addr + len). Returns 0 on success. */
static int sha256_flash(vflash_t *fl, uint32_t addr, uint32_t len, uint8_t out[32])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int rc = -1;
    uint8_t buf[READ_CHUNK];
    if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        goto out;
    }
    for (uint32_t done = 0; done < len;) {
        uint32_t n = len - done < READ_CHUNK ? len - done : READ_CHUNK;
        if (vflash_read(fl, addr + done, buf, n) != 0 || EVP_DigestUpdate(ctx, buf, n) != 1) {
            goto out;
        }
        done += n;
    }
    rc = EVP_DigestFinal_ex(ctx, out, NULL) == 1 ? 0 : -1;
out:
    EVP_MD_CTX_free(ctx);
    return rc;
}

mqota_status_t boot_verify_image(vflash_t *fl, uint32_t slot_off, uint32_t slot_size,
                                 uint32_t image_size, mqota_image_info_t *info,
                                 uint32_t *image_len, char *why, size_t why_len)
{
    if (fl == NULL) {
        return MQOTA_ERR_ARG;
    }
    if (image_size > slot_size) {
        say(why, why_len, "image size %u is larger than the slot (%u bytes)", (unsigned)image_size,
            (unsigned)slot_size);
        return MQOTA_ERR_RANGE;
    }
    uint8_t head[MQOTA_IMAGE_HEAD_LEN];
    if (slot_size < sizeof(head) || vflash_read(fl, slot_off, head, sizeof(head)) != 0) {
        say(why, why_len, "flash read failed");
        return MQOTA_ERR_PLATFORM;
    }
    if (head[0] != MQOTA_IMAGE_MAGIC) {
        size_t ff = 0;
        while (ff < sizeof(head) && head[ff] == 0xFF) {
            ff++;
        }
        if (ff == sizeof(head)) {
            say(why, why_len, "slot is empty (erased flash)");
        } else {
            say(why, why_len, "byte 0 is 0x%02x, not the ESP32 image magic 0xE9", head[0]);
        }
        return MQOTA_ERR_IMAGE;
    }
    if (image_size != 0 && image_size < sizeof(head)) {
        say(why, why_len, "image of %u bytes is too short for a header and esp_app_desc_t",
            (unsigned)image_size);
        return MQOTA_ERR_TRUNCATED;
    }
    mqota_image_info_t inf;
    mqota_status_t st = mqota_image_parse_head(head, sizeof(head), &inf);
    if (st != MQOTA_OK) {
        say(why, why_len, "image header or esp_app_desc_t is invalid (%s)", mqota_strerror(st));
        return MQOTA_ERR_IMAGE;
    }

    /* Stream the slot through the checker. Without a known size, ask a copy of the checker
     * after each chunk whether the image is complete; the first "yes" gives its end. */
    mqota_image_check_t chk;
    mqota_image_check_init(&chk);
    uint32_t limit = image_size != 0 ? image_size : slot_size;
    uint32_t hashed = 0;
    int done = 0;
    uint8_t buf[READ_CHUNK];
    for (uint32_t off = 0; off < limit && !done;) {
        uint32_t n = limit - off < READ_CHUNK ? limit - off : READ_CHUNK;
        if (vflash_read(fl, slot_off + off, buf, n) != 0) {
            say(why, why_len, "flash read failed");
            return MQOTA_ERR_PLATFORM;
        }
        st = mqota_image_check_update(&chk, buf, n);
        if (st != MQOTA_OK) {
            say_fault(why, why_len, &chk);
            return st == MQOTA_ERR_ARG ? MQOTA_ERR_ARG : MQOTA_ERR_IMAGE;
        }
        off += n;
        if (image_size == 0) {
            mqota_image_check_t probe = chk;
            st = mqota_image_check_finish(&probe, &hashed);
            if (st == MQOTA_OK) {
                chk = probe;
                done = 1;
            } else if (st != MQOTA_ERR_TRUNCATED) {
                say_fault(why, why_len, &probe);
                return st;
            }
        }
    }
    if (image_size != 0) {
        st = mqota_image_check_finish(&chk, &hashed);
        if (st != MQOTA_OK) {
            say_fault(why, why_len, &chk);
            return st;
        }
    } else if (!done) {
        say(why, why_len, "image does not end inside the slot (truncated or corrupt)");
        return MQOTA_ERR_TRUNCATED;
    }
    if (hashed != 0) {
        uint8_t digest[32];
        if (sha256_flash(fl, slot_off, hashed, digest) != 0) {
            say(why, why_len, "flash read or SHA-256 failed");
            return MQOTA_ERR_PLATFORM;
        }
        if (memcmp(digest, chk.appended_hash, sizeof(digest)) != 0) {
            say(why, why_len, "appended SHA-256 does not match the image");
            return MQOTA_ERR_HASH;
        }
    }
    if (info != NULL) {
        *info = inf;
    }
    if (image_len != NULL) {
        *image_len = chk.image_len != 0 ? chk.image_len
                     : hashed != 0      ? hashed + 32u
                                        : chk.checksum_at + 1u;
    }
    return MQOTA_OK;
}

static const char *rollback_text(boot_rollback_t why)
{
    switch (why) {
    case BOOT_ROLLBACK_ABORTED:
        return "it was reset before the new image was confirmed";
    case BOOT_ROLLBACK_INVALID:
        return "it is marked invalid";
    case BOOT_ROLLBACK_BAD_IMAGE:
        return "its image is not bootable";
    case BOOT_ROLLBACK_NONE:
        break;
    }
    return "no reason";
}

static mqota_status_t count_boot(kv_t *kv, uint32_t *count)
{
    uint8_t b[4] = {0, 0, 0, 0};
    size_t n = 0;
    mqota_status_t st = kv_get(kv, BOOT_COUNT_KEY, b, sizeof(b), &n);
    uint32_t c = 0;
    if (st == MQOTA_OK && n == 4) {
        c = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    } else if (st != MQOTA_OK && st != MQOTA_ERR_NOT_FOUND && st != MQOTA_ERR_NO_SPACE) {
        return st;
    }
    c++;
    for (int i = 0; i < 4; i++) {
        b[i] = (uint8_t)(c >> (8 * i));
    }
    st = kv_set(kv, BOOT_COUNT_KEY, b, sizeof(b));
    if (st == MQOTA_OK) {
        *count = c;
    }
    return st;
}

mqota_status_t boot_run(vflash_t *fl, const partition_table_t *pt, kv_t *kv,
                        uint32_t min_secure_version, boot_result_t *out)
{
    if (fl == NULL || pt == NULL || kv == NULL || out == NULL) {
        return MQOTA_ERR_ARG;
    }
    memset(out, 0, sizeof(*out));
    const partition_t *ota = partition_find(pt, PARTITION_TYPE_DATA, PARTITION_SUBTYPE_DATA_OTA);
    const partition_t *slot[2] = {
        partition_find(pt, PARTITION_TYPE_APP, PARTITION_SUBTYPE_APP_OTA_0),
        partition_find(pt, PARTITION_TYPE_APP, PARTITION_SUBTYPE_APP_OTA_1),
    };
    if (ota == NULL || slot[0] == NULL || slot[1] == NULL) {
        say(out->message, sizeof(out->message),
            "partition table has no otadata, ota_0 or ota_1 partition");
        return MQOTA_ERR_MALFORMED;
    }

    otadata_t od;
    if (otadata_read(fl, ota->offset, &od) != MQOTA_OK) {
        say(out->message, sizeof(out->message), "reading otadata failed");
        return MQOTA_ERR_PLATFORM;
    }
    uint8_t selected = 0;
    uint32_t state = OTADATA_STATE_UNDEFINED;
    if (od.active >= 0) {
        selected = otadata_slot_of(&od.entry[od.active]);
        state = od.entry[od.active].state;
    }
    uint8_t preferred = selected;
    boot_rollback_t why = BOOT_ROLLBACK_NONE;
    if (state == OTADATA_STATE_PENDING_VERIFY) {
        if (otadata_set_state(fl, ota->offset, od.active, OTADATA_STATE_ABORTED) != MQOTA_OK) {
            say(out->message, sizeof(out->message), "writing otadata failed");
            return MQOTA_ERR_PLATFORM;
        }
        preferred = (uint8_t)(1u - selected);
        why = BOOT_ROLLBACK_ABORTED;
    } else if (state == OTADATA_STATE_INVALID || state == OTADATA_STATE_ABORTED) {
        preferred = (uint8_t)(1u - selected);
        why = BOOT_ROLLBACK_INVALID;
    }

    /* Try the preferred slot, then the other one. */
    char fail[2][96] = {"", ""};
    int booted = -1;
    const uint8_t order[2] = {preferred, (uint8_t)(1u - preferred)};
    for (int i = 0; i < 2 && booted < 0; i++) {
        uint8_t s = order[i];
        if (boot_verify_image(fl, slot[s]->offset, slot[s]->size, 0, &out->image, &out->image_len,
                              fail[s], sizeof(fail[s])) != MQOTA_OK) {
            continue;
        }
        /* Anti-rollback, as the ESP-IDF bootloader with CONFIG_BOOTLOADER_APP_ANTI_ROLLBACK:
         * an image below the eFuse secure version is not booted. */
        if (out->image.secure_version < min_secure_version) {
            say(fail[s], sizeof(fail[s]), "its secure_version %u is below the eFuse secure "
                "version %u", (unsigned)out->image.secure_version, (unsigned)min_secure_version);
            continue;
        }
        booted = s;
    }
    if (booted < 0) {
        say(out->message, sizeof(out->message),
            "device is bricked: neither OTA slot holds a bootable image (ota_0: %s; ota_1: %s)",
            fail[0], fail[1]);
        return MQOTA_ERR_IMAGE;
    }
    out->slot = (uint8_t)booted;
    out->slot_offset = slot[booted]->offset;
    if (booted == selected && state == OTADATA_STATE_NEW) {
        if (otadata_set_state(fl, ota->offset, od.active, OTADATA_STATE_PENDING_VERIFY) !=
            MQOTA_OK) {
            say(out->message, sizeof(out->message), "writing otadata failed");
            return MQOTA_ERR_PLATFORM;
        }
    }
    if (booted != selected) {
        out->rolled_back = true;
        out->rollback_from = selected;
        out->rollback_why = why != BOOT_ROLLBACK_NONE ? why : BOOT_ROLLBACK_BAD_IMAGE;
    }

    if (otadata_read(fl, ota->offset, &od) != MQOTA_OK) {
        say(out->message, sizeof(out->message), "reading otadata failed");
        return MQOTA_ERR_PLATFORM;
    }
    int sec = otadata_find_slot(&od, out->slot);
    out->state = sec >= 0 ? od.entry[sec].state : OTADATA_STATE_UNDEFINED;

    mqota_status_t st = count_boot(kv, &out->boot_count);
    if (st != MQOTA_OK) {
        say(out->message, sizeof(out->message), "updating the boot counter failed (%s)",
            mqota_strerror(st));
        return MQOTA_ERR_PLATFORM;
    }
    if (out->rolled_back) {
        say(out->message, sizeof(out->message),
            "booted ota_%u (%s %s) instead of ota_%u: %s%s%s", (unsigned)out->slot,
            out->image.project_name, out->image.version, (unsigned)selected,
            rollback_text(out->rollback_why),
            out->rollback_why == BOOT_ROLLBACK_BAD_IMAGE ? " - " : "",
            out->rollback_why == BOOT_ROLLBACK_BAD_IMAGE ? fail[selected] : "");
    } else {
        say(out->message, sizeof(out->message), "booted ota_%u (%s %s)", (unsigned)out->slot,
            out->image.project_name, out->image.version);
    }
    return MQOTA_OK;
}
