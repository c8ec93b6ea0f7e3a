/* SPDX-License-Identifier: Apache-2.0 */
/* ESP-IDF partition table: encode the default layout, decode and validate (partition.h). */
#include "mqota_posix/partition.h"
#include "posix_util.h"

#include <string.h>

#include <openssl/evp.h>

static const partition_t default_layout[] = {
    {PARTITION_TYPE_DATA, PARTITION_SUBTYPE_DATA_NVS, 0x9000u, 0x4000u, "nvs", 0},
    {PARTITION_TYPE_DATA, PARTITION_SUBTYPE_DATA_OTA, 0xD000u, 0x2000u, "otadata", 0},
    {PARTITION_TYPE_DATA, PARTITION_SUBTYPE_DATA_PHY, 0xF000u, 0x1000u, "phy_init", 0},
    {PARTITION_TYPE_APP, PARTITION_SUBTYPE_APP_OTA_0, 0x10000u, 0x1E0000u, "ota_0", 0},
    {PARTITION_TYPE_APP, PARTITION_SUBTYPE_APP_OTA_1, 0x1F0000u, 0x1E0000u, "ota_1", 0},
};
#define DEFAULT_COUNT (sizeof(default_layout) / sizeof(default_layout[0]))

static int md5(const uint8_t *data, size_t len, uint8_t out[16])
{
    unsigned int n = 0;
    return EVP_Digest(data, len, out, &n, EVP_md5(), NULL) == 1 && n == 16 ? 0 : -1;
}

mqota_status_t partition_table_write_default(vflash_t *fl)
{
    if (fl == NULL) {
        return MQOTA_ERR_ARG;
    }
    uint8_t buf[PARTITION_TABLE_MAX_LEN];
    memset(buf, 0xFF, sizeof(buf));
    size_t off = 0;
    for (size_t i = 0; i < DEFAULT_COUNT; i++, off += PARTITION_ENTRY_LEN) {
        const partition_t *p = &default_layout[i];
        uint8_t *e = buf + off;
        put_le16(e, PARTITION_MAGIC);
        e[2] = p->type;
        e[3] = p->subtype;
        put_le32(e + 4, p->offset);
        put_le32(e + 8, p->size);
        memset(e + 12, 0, 16);
        memcpy(e + 12, p->label, strlen(p->label));
        put_le32(e + 28, p->flags);
    }
    put_le16(buf + off, PARTITION_MAGIC_MD5); /* bytes 2..15 stay 0xFF */
    if (md5(buf, off, buf + off + 16) != 0) {
        return MQOTA_ERR_PLATFORM;
    }
    if (vflash_erase(fl, PARTITION_TABLE_OFFSET, VFLASH_SECTOR) != 0 ||
        vflash_write(fl, PARTITION_TABLE_OFFSET, buf, sizeof(buf)) != 0) {
        return MQOTA_ERR_PLATFORM;
    }
    return MQOTA_OK;
}

mqota_status_t partition_table_read(vflash_t *fl, partition_table_t *out)
{
    if (fl == NULL || out == NULL) {
        return MQOTA_ERR_ARG;
    }
    memset(out, 0, sizeof(*out));
    uint8_t buf[PARTITION_TABLE_MAX_LEN];
    if (vflash_read(fl, PARTITION_TABLE_OFFSET, buf, sizeof(buf)) != 0) {
        return MQOTA_ERR_PLATFORM;
    }
    for (size_t off = 0; off + PARTITION_ENTRY_LEN <= sizeof(buf); off += PARTITION_ENTRY_LEN) {
        const uint8_t *e = buf + off;
        uint16_t magic = (uint16_t)(e[0] | e[1] << 8);
        if (magic == PARTITION_MAGIC) {
            if (out->count == PARTITION_MAX) {
                return MQOTA_ERR_MALFORMED;
            }
            partition_t *p = &out->part[out->count++];
            p->type = e[2];
            p->subtype = e[3];
            p->offset = get_le32(e + 4);
            p->size = get_le32(e + 8);
            memcpy(p->label, e + 12, 16);
            p->label[16] = '\0';
            p->flags = get_le32(e + 28);
        } else if (magic == PARTITION_MAGIC_MD5) {
            uint8_t digest[16];
            if (out->count == 0) {
                return MQOTA_ERR_MALFORMED;
            }
            if (md5(buf, off, digest) != 0) {
                return MQOTA_ERR_PLATFORM;
            }
            return memcmp(digest, e + 16, 16) == 0 ? MQOTA_OK : MQOTA_ERR_HASH;
        } else {
            /* 0xFFFF (end of table) before the MD5 entry, or garbage. */
            return MQOTA_ERR_MALFORMED;
        }
    }
    return MQOTA_ERR_MALFORMED;
}

const partition_t *partition_find(const partition_table_t *pt, uint8_t type, uint8_t subtype)
{
    if (pt == NULL) {
        return NULL;
    }
    for (unsigned i = 0; i < pt->count; i++) {
        if (pt->part[i].type == type && pt->part[i].subtype == subtype) {
            return &pt->part[i];
        }
    }
    return NULL;
}
