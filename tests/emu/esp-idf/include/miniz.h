/* SPDX-License-Identifier: Apache-2.0 */
/* Host emulation of ESP-IDF (README.md): the part of esp_rom's miniz.h the ESP-IDF port uses
 * (ports/esp-idf/src/mqota_esp_inflate.c), the ROM's tinfl inflater. Names, flags and status
 * values as in ESP-IDF's components/esp_rom/include/miniz.h (miniz 1.x); the state struct is
 * an opaque stand-in of the same role. miniz_emu.c runs tinfl_decompress() on zlib. */
#ifndef MQOTA_EMU_MINIZ_H
#define MQOTA_EMU_MINIZ_H

#include <stddef.h>
#include <stdint.h>

typedef unsigned char mz_uint8;
typedef unsigned int mz_uint32;

enum {
    TINFL_FLAG_PARSE_ZLIB_HEADER = 1,
    TINFL_FLAG_HAS_MORE_INPUT = 2,
    TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF = 4,
    TINFL_FLAG_COMPUTE_ADLER32 = 8
};

#define TINFL_LZ_DICT_SIZE 32768

typedef enum {
    TINFL_STATUS_BAD_PARAM = -3,
    TINFL_STATUS_ADLER32_MISMATCH = -2,
    TINFL_STATUS_FAILED = -1,
    TINFL_STATUS_DONE = 0,
    TINFL_STATUS_NEEDS_MORE_INPUT = 1,
    TINFL_STATUS_HAS_MORE_OUTPUT = 2
} tinfl_status;

/* m_state 0 (tinfl_init): the next tinfl_decompress() starts a new stream. */
typedef struct tinfl_decompressor_tag {
    mz_uint32 m_state;
    void *m_emu; /* the emulation's zlib stream */
} tinfl_decompressor;

#define tinfl_init(r) do { (r)->m_state = 0; } while (0)

tinfl_status tinfl_decompress(tinfl_decompressor *r, const mz_uint8 *pIn_buf_next,
                              size_t *pIn_buf_size, mz_uint8 *pOut_buf_start,
                              mz_uint8 *pOut_buf_next, size_t *pOut_buf_size,
                              const mz_uint32 decomp_flags);

#endif /* MQOTA_EMU_MINIZ_H */
