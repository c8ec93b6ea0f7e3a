/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file delta_form.h
 * @brief The delta form of a release as mqotad sends it (docs/PROTOCOL.md §18), cached on disk.
 */
#ifndef MQOTAD_DELTA_FORM_H
#define MQOTAD_DELTA_FORM_H

#include <stdint.h>

#include "mqotad.h"
#include "release.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * The delta of release r from release base, in encoding (MQOTA_ENCODING_DELTA_SYNC or _FULL)
 * with window_bits and chunk_size, as wire chunks in *out (release__form_free() frees it):
 * read from DIR/deltas if cached, else made from the two images (bsdiff through delta.c, then
 * deflated) and cached there. Logs what it made and the CPU it took.
 * @return 0; -1 on bad parameters or failure (logged).
 */
int delta__form(mqotad_t *d, const db_release_t *base, const db_release_t *r, uint8_t encoding,
                uint8_t window_bits, uint32_t chunk_size, release_form_t *out);

#ifdef __cplusplus
}
#endif

#endif /* MQOTAD_DELTA_FORM_H */
