/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Host emulation of ESP-IDF (README.md): the ROM's tinfl_decompress() (esp_rom's miniz.h), on
 * Debian's zlib, for raw deflate into a wrapping output buffer, the way the ESP-IDF port calls
 * it (ports/esp-idf/src/mqota_esp_inflate.c). Debian has no miniz package, so the emulation
 * follows miniz's documented contract (miniz.h, "tinfl_decompress"; miniz 1.15's tinfl.c for
 * the wrapping buffer) rather than its code:
 *  - without TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF the output buffer is the dictionary:
 *    (pOut_buf_next - pOut_buf_start) + *pOut_buf_size must be a power of two (else
 *    TINFL_STATUS_BAD_PARAM), back-references read it circularly, so what the caller left in it
 *    before the first call is the history. The emulation gives zlib the whole buffer, in
 *    circular order ending at pOut_buf_next, as the dictionary of a new raw inflate.
 *  - *pIn_buf_size and *pOut_buf_size come back as the bytes consumed and written;
 *    TINFL_STATUS_DONE at the end of the final block, TINFL_STATUS_NEEDS_MORE_INPUT when the
 *    input ran out (with TINFL_FLAG_HAS_MORE_INPUT), TINFL_STATUS_HAS_MORE_OUTPUT when the
 *    buffer is full, TINFL_STATUS_FAILED on bad data.
 * Only raw deflate and the wrapping buffer are emulated (the port uses nothing else): other
 * flags answer TINFL_STATUS_BAD_PARAM. One stream at a time per decompressor; a new one starts
 * when tinfl_init() set m_state to 0.
 */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "miniz.h"

tinfl_status tinfl_decompress(tinfl_decompressor *r, const mz_uint8 *pIn_buf_next,
                              size_t *pIn_buf_size, mz_uint8 *pOut_buf_start,
                              mz_uint8 *pOut_buf_next, size_t *pOut_buf_size,
                              const mz_uint32 decomp_flags)
{
    if (r == NULL || pIn_buf_size == NULL || pOut_buf_size == NULL || pOut_buf_next < pOut_buf_start ||
        (decomp_flags & ~(mz_uint32)TINFL_FLAG_HAS_MORE_INPUT) != 0u) {
        return TINFL_STATUS_BAD_PARAM;
    }
    size_t ofs = (size_t)(pOut_buf_next - pOut_buf_start);
    size_t size = ofs + *pOut_buf_size;
    if (size == 0u || (size & (size - 1u)) != 0u || size > TINFL_LZ_DICT_SIZE) {
        *pIn_buf_size = *pOut_buf_size = 0;
        return TINFL_STATUS_BAD_PARAM;
    }
    z_stream *zs = r->m_emu;
    if (r->m_state == 0u) {
        /* a new stream: its history is the buffer as the caller left it */
        if (zs == NULL && (zs = r->m_emu = calloc(1, sizeof(*zs))) == NULL) {
            return TINFL_STATUS_FAILED;
        }
        inflateEnd(zs);
        memset(zs, 0, sizeof(*zs));
        if (inflateInit2(zs, -15) != Z_OK ||
            inflateSetDictionary(zs, pOut_buf_next, (uInt)(size - ofs)) != Z_OK ||
            inflateSetDictionary(zs, pOut_buf_start, (uInt)ofs) != Z_OK) {
            return TINFL_STATUS_FAILED;
        }
        r->m_state = 1u;
    }
    zs->next_in = (z_const Bytef *)pIn_buf_next;
    zs->avail_in = (uInt)*pIn_buf_size;
    zs->next_out = pOut_buf_next;
    zs->avail_out = (uInt)*pOut_buf_size;
    int rc = inflate(zs, Z_SYNC_FLUSH);
    *pIn_buf_size -= zs->avail_in;
    *pOut_buf_size -= zs->avail_out;
    if (rc == Z_STREAM_END) {
        return TINFL_STATUS_DONE;
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
        return TINFL_STATUS_FAILED;
    }
    if (zs->avail_out == 0u) {
        return TINFL_STATUS_HAS_MORE_OUTPUT;
    }
    return (decomp_flags & TINFL_FLAG_HAS_MORE_INPUT) != 0u ? TINFL_STATUS_NEEDS_MORE_INPUT
                                                            : TINFL_STATUS_FAILED;
}
