/* SPDX-License-Identifier: Apache-2.0 */
/* ESP-IDF otadata: decode, select the active entry, rewrite (otadata.h). */
#include "mqota_posix/otadata.h"
#include "posix_util.h"

#include <string.h>

#include "mqota/mqota_proto.h" /* mqota_crc32 */

uint32_t otadata_crc(uint32_t seq)
{
    uint8_t b[4];
    put_le32(b, seq);
    return mqota_crc32(0xFFFFFFFFu, b, sizeof(b));
}

uint8_t otadata_slot_of(const otadata_entry_t *e)
{
    return (uint8_t)((e->seq - 1u) % OTADATA_SLOTS);
}

mqota_status_t otadata_read(vflash_t *fl, uint32_t offset, otadata_t *out)
{
    if (fl == NULL || out == NULL) {
        return MQOTA_ERR_ARG;
    }
    memset(out, 0, sizeof(*out));
    out->active = -1;
    for (int i = 0; i < 2; i++) {
        uint8_t b[OTADATA_ENTRY_LEN];
        if (vflash_read(fl, offset + (uint32_t)i * VFLASH_SECTOR, b, sizeof(b)) != 0) {
            return MQOTA_ERR_PLATFORM;
        }
        otadata_entry_t *e = &out->entry[i];
        e->seq = get_le32(b);
        memcpy(e->seq_label, b + 4, sizeof(e->seq_label));
        e->state = get_le32(b + 24);
        e->crc = get_le32(b + 28);
        out->valid[i] = e->seq != 0xFFFFFFFFu && e->crc == otadata_crc(e->seq);
    }
    if (out->valid[0] && out->valid[1]) {
        out->active = out->entry[0].seq >= out->entry[1].seq ? 0 : 1;
    } else if (out->valid[0]) {
        out->active = 0;
    } else if (out->valid[1]) {
        out->active = 1;
    }
    return MQOTA_OK;
}

int otadata_find_slot(const otadata_t *od, uint8_t slot)
{
    int best = -1;
    for (int i = 0; i < 2; i++) {
        if (od->valid[i] && otadata_slot_of(&od->entry[i]) == slot &&
            (best < 0 || od->entry[i].seq > od->entry[best].seq)) {
            best = i;
        }
    }
    return best;
}

static mqota_status_t write_entry(vflash_t *fl, uint32_t offset, int sector,
                                  const otadata_entry_t *e)
{
    uint8_t b[OTADATA_ENTRY_LEN];
    put_le32(b, e->seq);
    memcpy(b + 4, e->seq_label, sizeof(e->seq_label));
    put_le32(b + 24, e->state);
    put_le32(b + 28, e->crc);
    uint32_t addr = offset + (uint32_t)sector * VFLASH_SECTOR;
    if (vflash_erase(fl, addr, VFLASH_SECTOR) != 0 || vflash_write(fl, addr, b, sizeof(b)) != 0) {
        return MQOTA_ERR_PLATFORM;
    }
    return MQOTA_OK;
}

mqota_status_t otadata_set_boot(vflash_t *fl, uint32_t offset, uint8_t slot)
{
    if (fl == NULL || slot >= OTADATA_SLOTS) {
        return MQOTA_ERR_ARG;
    }
    otadata_t od;
    mqota_status_t st = otadata_read(fl, offset, &od);
    if (st != MQOTA_OK) {
        return st;
    }
    uint32_t max = od.active >= 0 ? od.entry[od.active].seq : 0;
    uint32_t seq = max + 1u;
    if ((seq - 1u) % OTADATA_SLOTS != slot) {
        seq++;
    }
    otadata_entry_t e;
    e.seq = seq;
    memset(e.seq_label, 0xFF, sizeof(e.seq_label));
    e.state = OTADATA_STATE_NEW;
    e.crc = otadata_crc(seq);
    return write_entry(fl, offset, od.active == 0 ? 1 : 0, &e);
}

mqota_status_t otadata_set_state(vflash_t *fl, uint32_t offset, int sector, uint32_t state)
{
    if (fl == NULL || (sector != 0 && sector != 1)) {
        return MQOTA_ERR_ARG;
    }
    otadata_t od;
    mqota_status_t st = otadata_read(fl, offset, &od);
    if (st != MQOTA_OK) {
        return st;
    }
    if (!od.valid[sector]) {
        return MQOTA_ERR_STATE;
    }
    otadata_entry_t e = od.entry[sector];
    e.state = state;
    return write_entry(fl, offset, sector, &e);
}
