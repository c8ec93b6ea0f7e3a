/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mqota_record_host.c - the public per-record functions of mqota_record.h (docs/PROTOCOL.md
 * §12), for the tests, the fuzz target and tools that read or plant a device's records. Not in
 * libmqota: the agent's store calls the codec by kind (record__encode(), record__decode() in
 * device/src/mqota_record.c), which these only fill in. Library mqota_codec_host.
 */
#include "mqota/mqota_record.h"
#include "mqota_proto_internal.h"

mqota_status_t mqota_progress_encode(const mqota_progress_t *p, uint8_t *buf, size_t cap,
                                     size_t *out_len)
{
    return record__encode(REC_PROGRESS, p, buf, cap, out_len);
}

mqota_status_t mqota_progress_decode(const uint8_t *buf, size_t len, mqota_progress_t *p,
                                     bool *legacy)
{
    return record__decode(REC_PROGRESS, buf, len, p, legacy);
}

mqota_status_t mqota_slot_record_encode(const mqota_slot_record_t *s, uint8_t *buf, size_t cap,
                                        size_t *out_len)
{
    return record__encode(REC_SLOT, s, buf, cap, out_len);
}

mqota_status_t mqota_slot_record_decode(const uint8_t *buf, size_t len, mqota_slot_record_t *s,
                                        bool *legacy)
{
    return record__decode(REC_SLOT, buf, len, s, legacy);
}

mqota_status_t mqota_attempt_encode(const mqota_attempt_t *at, uint8_t *buf, size_t cap,
                                    size_t *out_len)
{
    return record__encode(REC_ATTEMPT, at, buf, cap, out_len);
}

mqota_status_t mqota_attempt_decode(const uint8_t *buf, size_t len, mqota_attempt_t *at,
                                    bool *legacy)
{
    return record__decode(REC_ATTEMPT, buf, len, at, legacy);
}

mqota_status_t mqota_minsv_encode(uint32_t min_secure_version, uint8_t *buf, size_t cap,
                                  size_t *out_len)
{
    return record__encode(REC_MINSV, &min_secure_version, buf, cap, out_len);
}

mqota_status_t mqota_minsv_decode(const uint8_t *buf, size_t len, uint32_t *min_secure_version,
                                  bool *legacy)
{
    return record__decode(REC_MINSV, buf, len, min_secure_version, legacy);
}

mqota_status_t mqota_held_encode(const mqota_held_t *h, uint8_t *buf, size_t cap,
                                 size_t *out_len)
{
    return record__encode(REC_HELD, h, buf, cap, out_len);
}

mqota_status_t mqota_held_decode(const uint8_t *buf, size_t len, mqota_held_t *h)
{
    return record__decode(REC_HELD, buf, len, h, NULL);
}
