/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mqota_esp_inflate.c - the ESP-IDF port's decoder for compressed transfers (docs/PROTOCOL.md
 * §6.1): the inflate in the chip's ROM, miniz's tinfl_decompress() (esp_rom's miniz.h, in the
 * ROM of the ESP32, -S2, -S3, -C3 and later chips; the ESP32 ROM is what esptool's flasher
 * stub uses to inflate compressed flash writes). No code of ours decodes deflate, and the ROM
 * costs no flash.
 *
 * tinfl with a wrapping output buffer (no TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF) keeps its
 * whole history in that buffer: 1 << window_bits bytes, a power of two. The chunk's history
 * (the image bytes before it, read back from the slot) is put at the end of the buffer and
 * the output starts at its beginning, so a back-reference of distance d lands d bytes before,
 * around the wrap, as in the image. The output is handed to the agent (the slot) each time
 * tinfl fills the rest of the buffer or stops for input.
 *
 * RAM, static (.bss, no heap): the tinfl_decompressor (10,992 bytes on the 32-bit chips: three
 * Huffman tables, bit buffer, state) and the buffer, 1 << CONFIG_MQOTA_INFLATE_WINDOW_BITS
 * bytes (32,768 with 15). CONFIG_MQOTA_INFLATE_WINDOW_BITS 0, the default, leaves the decoder
 * out: the device announces no MQOTA_CAP_DEFLATE nor MQOTA_CAP_DELTA and gets full images.
 */
#include "mqota_esp_internal.h"

#if CONFIG_MQOTA_INFLATE_WINDOW_BITS > 0

#include <string.h>

#include "miniz.h"

#if CONFIG_MQOTA_INFLATE_WINDOW_BITS < 9 || CONFIG_MQOTA_INFLATE_WINDOW_BITS > 15
#error "CONFIG_MQOTA_INFLATE_WINDOW_BITS must be 0 or 9..15"
#endif

#define DICT_MAX (1u << CONFIG_MQOTA_INFLATE_WINDOW_BITS)

static tinfl_decompressor s_inflator;
static uint8_t s_dict[DICT_MAX];

/* mqota_platform_t.inflate (mqota_platform.h): one chunk, from a fresh decoder. */
static int h_inflate(void *ctx, const mqota_inflate_job_t *job)
{
    (void)ctx;
    if (job->window_bits < 9u || job->window_bits > CONFIG_MQOTA_INFLATE_WINDOW_BITS) {
        return -1;
    }
    size_t dict = (size_t)1u << job->window_bits;
    if (job->hist_len > dict) {
        return -1;
    }
    /* the history ends where the buffer wraps to its first byte, the first output byte */
    if (job->hist_len > 0u &&
        job->read_history(job, 0, s_dict + dict - job->hist_len, job->hist_len) != 0) {
        return -1;
    }
    tinfl_init(&s_inflator);
    const uint8_t *in = job->in;
    size_t in_left = job->in_len;
    size_t ofs = 0;
    uint32_t total = 0;
    for (;;) {
        size_t in_n = in_left;
        size_t out_n = dict - ofs;
        tinfl_status st = tinfl_decompress(&s_inflator, in, &in_n, s_dict, s_dict + ofs, &out_n,
                                           TINFL_FLAG_HAS_MORE_INPUT);
        if (in_n == 0u && out_n == 0u && st != TINFL_STATUS_DONE) {
            return -1; /* no progress: never loop on it */
        }
        in += in_n;
        in_left -= in_n;
        if (out_n > 0u) {
            /* the sink refuses more than the chunk's bytes: a stream that never ends stops */
            if (job->write(job, s_dict + ofs, out_n) != 0) {
                return -1;
            }
            total += (uint32_t)out_n;
            ofs = (ofs + out_n) & (dict - 1u);
        }
        if (st == TINFL_STATUS_DONE) {
            break; /* the image's last chunk: the final block */
        }
        if (st == TINFL_STATUS_NEEDS_MORE_INPUT) {
            if (in_left == 0u) {
                break; /* the chunk's input ends at its flush point */
            }
            continue;
        }
        if (st != TINFL_STATUS_HAS_MORE_OUTPUT) {
            return -1; /* bad data */
        }
    }
    return in_left == 0u && total == job->out_len ? 0 : -1;
}

void mqota_esp__inflate_hook(mqota_platform_t *plat)
{
    plat->inflate_window_bits = CONFIG_MQOTA_INFLATE_WINDOW_BITS;
    plat->inflate = h_inflate;
}

#else

void mqota_esp__inflate_hook(mqota_platform_t *plat)
{
    (void)plat; /* no decoder: full images only */
}

#endif
