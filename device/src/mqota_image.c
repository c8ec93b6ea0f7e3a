/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mqota_image.c - ESP32 application image: head parser and streaming structure checker.
 *
 * The format is ESP-IDF's "App Image Format" (summary in mqota_image.h). The checker follows
 * what the second-stage bootloader does in esp_image_format.c, minus everything that needs the
 * chip (load addresses, chip revision, secure boot):
 *   - byte 0 is 0xE9, segment count is 1..16 (ESP_IMAGE_MAX_SEGMENTS);
 *   - every segment length is a multiple of 4 and below 16 MiB (verify_segment_header());
 *   - 0xEF XOR every segment data byte equals the checksum byte, which sits on the last byte
 *     of a 16-byte block after the segments (process_checksum());
 *   - if hash_appended, the next 32 bytes are a SHA-256 of everything up to and including the
 *     checksum byte. The checker only collects them; the caller owns the SHA-256 engine.
 * Like the bootloader it does not look at the padding before the checksum byte.
 *
 * After the image's end (image_len) an upload may carry only what ESP-IDF's own tools put
 * there (verify_secure_boot_signature() in esp_image_format.c, espsecure.py):
 *   - 0xFF padding up to the next 4 KiB flash sector boundary (Secure Boot v2 signs the image
 *     padded to a sector), then optionally one 4 KiB signature sector whose first byte is the
 *     Secure Boot v2 signature block magic 0xE7 (ets_secure_boot_signature_t);
 *   - or a Secure Boot v1 / ECDSA signature block directly at the end: 68 bytes, its u32
 *     version 0 first (esp_secure_boot_sig_block_t).
 * Anything else (random bytes, a second image, a whole flash slot read back) is refused as
 * MQOTA_IMAGE_FAULT_TRAILING at the offset where the unexpected bytes start.
 *
 * The texts of the faults and the names of the chips, which only the server, the CLI and the
 * virtual bootloader print, are common/mqota_image_host.c, outside libmqota.
 *
 * The XOR is done byte by byte; ESP-IDF folds 32-bit words, which gives the same result
 * because every segment length is a multiple of 4.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mqota/mqota_image.h"
#include "mqota_le.h"
#include "mqota_noinline.h"

#define SEGMENT_LEN_LIMIT 0x1000000u /* 16 MiB: ESP-IDF's SIXTEEN_MB, lengths must be below */
#define CHECKSUM_ALIGN 16u
#define HASH_LEN 32u                  /* appended SHA-256 */
#define SECTOR_LEN 4096u              /* ESP-IDF FLASH_SECTOR_SIZE: padding and SBv2 sector */
#define SBV2_SIG_MAGIC 0xE7u          /* ets_secure_boot_sig_block_t.magic_byte */
#define SBV1_SIG_LEN 68u              /* esp_secure_boot_sig_block_t: u32 version, 64 bytes */
#define SBV1_VERSION_LEN 4u           /* its version field, 0 */
#define PAD_BYTE 0xFFu                /* erased flash */

/* Byte offsets in esp_image_header_t and esp_app_desc_t (file offsets). */
#define HDR_SEGMENT_COUNT 1u
#define HDR_ENTRY_ADDR 4u
#define HDR_CHIP_ID 12u
#define HDR_HASH_APPENDED 23u
#define DESC_MAGIC_AT 32u
#define DESC_SECURE_VERSION_AT 36u
#define DESC_VERSION_AT 48u
#define DESC_PROJECT_AT 80u
#define DESC_TIME_AT 112u
#define DESC_DATE_AT 128u
#define DESC_IDF_VER_AT 144u
#define DESC_ELF_SHA_AT 176u

/* Checker phases (mqota_image_check_t.phase). */
enum {
    PH_HEADER = 0,   /* collecting the 24-byte image header */
    PH_SEG_HDR = 1,  /* collecting an 8-byte segment header */
    PH_SEG_DATA = 2, /* inside a segment's data */
    PH_CHECKSUM = 3, /* skipping padding, then reading the checksum byte */
    PH_HASH = 4,     /* collecting the appended SHA-256 */
    PH_DONE = 5,     /* image complete; the next byte decides what trailer follows */
    PH_PAD = 6,      /* 0xFF padding up to the sector boundary */
    PH_SIG_V2 = 7,   /* the Secure Boot v2 signature sector (to tail_end) */
    PH_SIG_V1 = 8,   /* the Secure Boot v1 signature block (to tail_end) */
    PH_END = 9       /* trailer complete: any further byte is a fault */
};

static bool segment_count_ok(uint8_t count)
{
    return count >= 1u && count <= MQOTA_IMAGE_MAX_SEGMENTS;
}

/* Copy a NUL-padded fixed-size field of n bytes into dst[n + 1]: stop at the first NUL, zero
 * the rest, always terminate (a field may use all n bytes). */
static void copy_field(char *dst, const uint8_t *src, size_t n)
{
    size_t i = 0;

    while (i < n && src[i] != 0u) {
        dst[i] = (char)src[i];
        i++;
    }
    memset(dst + i, 0, n + 1u - i);
}

/* The descriptor's NUL-padded strings: file offset, bytes, member of mqota_image_info_t (one
 * byte longer, for the NUL). */
#define DESC_STRING(at, member) {at, sizeof(((mqota_image_info_t *)0)->member) - 1u, \
                                 offsetof(mqota_image_info_t, member)}
static const struct {
    uint8_t at;
    uint8_t len;
    uint8_t member;
} desc_strings[] = {
    DESC_STRING(DESC_VERSION_AT, version),   DESC_STRING(DESC_PROJECT_AT, project_name),
    DESC_STRING(DESC_TIME_AT, time),         DESC_STRING(DESC_DATE_AT, date),
    DESC_STRING(DESC_IDF_VER_AT, idf_ver),
};
_Static_assert(offsetof(mqota_image_info_t, idf_ver) <= UINT8_MAX && DESC_IDF_VER_AT <= UINT8_MAX,
               "desc_strings[] holds bytes");

mqota_status_t mqota_image_parse_head(const uint8_t *buf, size_t len, mqota_image_info_t *info)
{
    if (buf == NULL || info == NULL) {
        return MQOTA_ERR_ARG;
    }
    if (len < MQOTA_IMAGE_HEAD_LEN) {
        return MQOTA_ERR_TRUNCATED;
    }
    if (buf[0] != MQOTA_IMAGE_MAGIC || !segment_count_ok(buf[HDR_SEGMENT_COUNT]) ||
        le__get_u32(buf + DESC_MAGIC_AT) != MQOTA_APP_DESC_MAGIC) {
        return MQOTA_ERR_IMAGE;
    }
    memset(info, 0, sizeof(*info));
    info->segment_count = buf[HDR_SEGMENT_COUNT];
    info->chip_id = le__get_u16(buf + HDR_CHIP_ID);
    info->hash_appended = buf[HDR_HASH_APPENDED] != 0u ? 1u : 0u;
    info->entry_addr = le__get_u32(buf + HDR_ENTRY_ADDR);
    info->secure_version = le__get_u32(buf + DESC_SECURE_VERSION_AT);
    for (size_t i = 0; i < sizeof(desc_strings) / sizeof(desc_strings[0]); i++) {
        copy_field((char *)info + desc_strings[i].member, buf + desc_strings[i].at,
                   desc_strings[i].len);
    }
    memcpy(info->app_elf_sha256, buf + DESC_ELF_SHA_AT, sizeof(info->app_elf_sha256));
    return MQOTA_OK;
}

void mqota_image_check_init(mqota_image_check_t *chk)
{
    if (chk == NULL) {
        return;
    }
    memset(chk, 0, sizeof(*chk));
    chk->phase = PH_HEADER;
    chk->checksum = MQOTA_CHECKSUM_SEED;
}

/* Record the first fault; the checker refuses everything after it. */
NOINLINE static mqota_status_t fail(mqota_image_check_t *chk, mqota_image_fault_t fault,
                                    uint8_t segment, uint32_t offset)
{
    chk->failed = 1u;
    chk->fault = (uint8_t)fault;
    chk->fault_segment = segment;
    chk->fault_offset = offset;
    return fault == MQOTA_IMAGE_FAULT_TRUNCATED ? MQOTA_ERR_TRUNCATED : MQOTA_ERR_IMAGE;
}

/* A segment's data is complete: go to the next segment header or, after the last segment,
 * to the checksum byte on the last byte of the current 16-byte block. */
static void end_segment(mqota_image_check_t *chk)
{
    if (chk->seg_index < chk->segment_count) {
        chk->phase = PH_SEG_HDR;
        chk->hdr_fill = 0u;
        return;
    }
    chk->checksum_at = chk->offset | (CHECKSUM_ALIGN - 1u);
    chk->image_len = chk->checksum_at + 1u + (chk->hash_appended ? HASH_LEN : 0u);
    chk->phase = PH_CHECKSUM;
}

/* Copy up to `want - hdr_fill` bytes into hdr; returns the bytes taken. */
static size_t fill_hdr(mqota_image_check_t *chk, const uint8_t *data, size_t len, size_t want)
{
    size_t n = want - chk->hdr_fill;

    if (n > len) {
        n = len;
    }
    memcpy(chk->hdr + chk->hdr_fill, data, n);
    chk->hdr_fill = (uint8_t)(chk->hdr_fill + n);
    return n;
}

/*
 * Feed bytes. Each pass of the loop consumes as much as the current phase can take, so a
 * whole-file call runs the XOR over segment data in one tight loop, and a 1-byte call costs a
 * few comparisons. Structural faults are found as soon as the bytes that show them arrive.
 */
mqota_status_t mqota_image_check_update(mqota_image_check_t *chk, const uint8_t *data, size_t len)
{
    size_t n;
    size_t i;
    uint32_t seg_len;

    if (chk == NULL || (data == NULL && len > 0u)) {
        return MQOTA_ERR_ARG;
    }
    if (chk->failed) {
        return chk->fault == MQOTA_IMAGE_FAULT_TRUNCATED ? MQOTA_ERR_TRUNCATED : MQOTA_ERR_IMAGE;
    }
    while (len > 0u) {
        switch (chk->phase) {
        case PH_HEADER:
            n = fill_hdr(chk, data, len, MQOTA_IMAGE_HEADER_LEN);
            if (chk->hdr[0] != MQOTA_IMAGE_MAGIC) {
                return fail(chk, MQOTA_IMAGE_FAULT_MAGIC, 0u, 0u);
            }
            if (chk->hdr_fill > HDR_SEGMENT_COUNT && !segment_count_ok(chk->hdr[HDR_SEGMENT_COUNT])) {
                return fail(chk, MQOTA_IMAGE_FAULT_SEGMENT_COUNT, 0u, HDR_SEGMENT_COUNT);
            }
            if (chk->hdr_fill == MQOTA_IMAGE_HEADER_LEN) {
                chk->segment_count = chk->hdr[HDR_SEGMENT_COUNT];
                chk->hash_appended = chk->hdr[HDR_HASH_APPENDED] != 0u ? 1u : 0u;
                chk->next_hdr_at = MQOTA_IMAGE_HEADER_LEN;
                chk->hdr_fill = 0u;
                chk->phase = PH_SEG_HDR;
            }
            break;

        case PH_SEG_HDR:
            n = fill_hdr(chk, data, len, MQOTA_SEGMENT_HEADER_LEN);
            if (chk->hdr_fill == MQOTA_SEGMENT_HEADER_LEN) {
                seg_len = le__get_u32(chk->hdr + 4);
                if (seg_len >= SEGMENT_LEN_LIMIT || (seg_len & 3u) != 0u) {
                    return fail(chk, MQOTA_IMAGE_FAULT_SEGMENT_SIZE, chk->seg_index,
                                chk->next_hdr_at);
                }
                chk->seg_index++;
                chk->seg_left = seg_len; /* 0: the segment ends below, after the header */
                chk->next_hdr_at = chk->offset + (uint32_t)n + seg_len;
                chk->phase = PH_SEG_DATA;
            }
            break;

        case PH_SEG_DATA:
            n = len < chk->seg_left ? len : chk->seg_left;
            for (i = 0; i < n; i++) {
                chk->checksum ^= data[i];
            }
            chk->seg_left -= (uint32_t)n;
            break;

        case PH_CHECKSUM:
            if (chk->offset < chk->checksum_at) {
                n = chk->checksum_at - chk->offset; /* padding, not inspected */
                if (n > len) {
                    n = len;
                }
            } else {
                n = 1u;
                chk->expect_checksum = data[0];
                chk->phase = chk->hash_appended ? PH_HASH : PH_DONE;
            }
            break;

        case PH_HASH:
            n = HASH_LEN - chk->hash_fill;
            if (n > len) {
                n = len;
            }
            memcpy(chk->appended_hash + chk->hash_fill, data, n);
            chk->hash_fill = (uint8_t)(chk->hash_fill + n);
            if (chk->hash_fill == HASH_LEN) {
                chk->phase = PH_DONE;
            }
            break;

        case PH_DONE:
            n = 0u; /* decide only; the byte is consumed by the phase chosen */
            if (data[0] == PAD_BYTE && (chk->offset % SECTOR_LEN) != 0u) {
                chk->phase = PH_PAD;
            } else if (data[0] == SBV2_SIG_MAGIC && (chk->offset % SECTOR_LEN) == 0u) {
                chk->phase = PH_SIG_V2;
                chk->tail_end = chk->offset + SECTOR_LEN;
            } else if (data[0] == 0u && chk->offset == chk->image_len) {
                chk->phase = PH_SIG_V1;
                chk->tail_end = chk->offset + SBV1_SIG_LEN;
            } else {
                return fail(chk, MQOTA_IMAGE_FAULT_TRAILING, 0u, chk->offset);
            }
            break;

        case PH_PAD:
            n = SECTOR_LEN - (chk->offset % SECTOR_LEN);
            if (n > len) {
                n = len;
            }
            for (i = 0; i < n; i++) {
                if (data[i] != PAD_BYTE) {
                    return fail(chk, MQOTA_IMAGE_FAULT_TRAILING, 0u, chk->offset + (uint32_t)i);
                }
            }
            if (((chk->offset + (uint32_t)n) % SECTOR_LEN) == 0u) {
                chk->phase = PH_DONE; /* at the boundary: a signature sector or nothing */
            }
            break;

        case PH_SIG_V1:
        case PH_SIG_V2: /* to tail_end; of a v1 block, its version must be 0 */
            n = chk->tail_end - chk->offset;
            if (n > len) {
                n = len;
            }
            for (i = 0; chk->phase == PH_SIG_V1 && i < n; i++) {
                if (chk->offset + (uint32_t)i < chk->tail_end - SBV1_SIG_LEN + SBV1_VERSION_LEN &&
                    data[i] != 0u) {
                    return fail(chk, MQOTA_IMAGE_FAULT_TRAILING, 0u,
                                chk->tail_end - SBV1_SIG_LEN);
                }
            }
            if (chk->offset + (uint32_t)n == chk->tail_end) {
                chk->phase = PH_END;
            }
            break;

        default: /* PH_END */
            return fail(chk, MQOTA_IMAGE_FAULT_TRAILING, 0u, chk->offset);
        }
        chk->offset += (uint32_t)n;
        data += n;
        len -= n;
        if (chk->phase == PH_SEG_DATA && chk->seg_left == 0u) {
            end_segment(chk); /* it reads the offset, so after the bytes are counted */
        }
    }
    return MQOTA_OK;
}

/*
 * The image ended. It is complete once the checksum byte and (if announced) the 32-byte hash
 * were read; then the checksum decides. A truncation is recorded as a fault with the offset
 * where the input stopped and, when it stopped in a segment or its header, that segment.
 */
mqota_status_t mqota_image_check_finish(mqota_image_check_t *chk, uint32_t *hashed_len)
{
    uint8_t segment;

    if (chk == NULL || hashed_len == NULL) {
        return MQOTA_ERR_ARG;
    }
    *hashed_len = 0u;
    if (chk->failed) {
        return chk->fault == MQOTA_IMAGE_FAULT_TRUNCATED ? MQOTA_ERR_TRUNCATED : MQOTA_ERR_IMAGE;
    }
    if (chk->phase == PH_SIG_V1 || chk->phase == PH_SIG_V2) {
        /* a signature block cut short is not one: unexpected bytes from its start */
        return fail(chk, MQOTA_IMAGE_FAULT_TRAILING, 0u,
                    chk->tail_end - (chk->phase == PH_SIG_V1 ? SBV1_SIG_LEN : SECTOR_LEN));
    }
    if (chk->phase < PH_DONE) {
        segment = chk->phase == PH_SEG_DATA ? (uint8_t)(chk->seg_index - 1u) : chk->seg_index;
        return fail(chk, MQOTA_IMAGE_FAULT_TRUNCATED, segment, chk->offset);
    }
    if (chk->expect_checksum != chk->checksum) {
        chk->computed_checksum = chk->checksum;
        return fail(chk, MQOTA_IMAGE_FAULT_CHECKSUM, 0u, chk->checksum_at);
    }
    if (chk->hash_appended) {
        *hashed_len = chk->checksum_at + 1u;
    }
    return MQOTA_OK;
}
