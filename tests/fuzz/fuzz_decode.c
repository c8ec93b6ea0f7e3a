/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the decode stage of compressed transfers (docs/PROTOCOL.md §6.1): the
 * POSIX port's inflate hook (ports/posix/src/inflate.c, zlib from a static arena) run as the
 * agent runs it (device/src/mqota_decode.c's callbacks), on arbitrary chunk data, window,
 * history length and output length. It must never read history outside the hist_len bytes
 * before the chunk, never hand out more than out_len bytes, and say 0
 * only when exactly out_len bytes came out.
 *
 * Input: [window_bits u8][hist_len u16 LE][out_len u16 LE][chunk data...]; window_bits is
 * taken modulo 16 (values below 9 must be refused), hist_len up to 65535 (more than the window
 * must be refused).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mqota/mqota_platform.h"
#include "mqota_posix/inflate.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

static uint8_t history[65536];
static uint32_t produced;

static int read_history(const mqota_inflate_job_t *job, uint32_t off, uint8_t *buf, size_t len)
{
    CHECK(job->sink == history);
    CHECK(off <= job->hist_len && len <= job->hist_len - off);
    memcpy(buf, history + off, len);
    return 0;
}

static int write_out(const mqota_inflate_job_t *job, const uint8_t *data, size_t len)
{
    CHECK(data != NULL || len == 0);
    if (len > job->out_len - produced) {
        return -1; /* as the agent's sink: never beyond the chunk */
    }
    produced += (uint32_t)len;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 5) {
        return 0;
    }
    mqota_inflate_job_t job;
    memset(&job, 0, sizeof(job));
    job.window_bits = (uint8_t)(data[0] % 16u);
    job.hist_len = (uint32_t)data[1] | (uint32_t)data[2] << 8;
    job.out_len = (uint32_t)data[3] | (uint32_t)data[4] << 8;
    job.in = data + 5;
    job.in_len = size - 5;
    job.sink = history;
    job.read_history = read_history;
    job.write = write_out;
    for (uint32_t i = 0; i < job.hist_len; i++) {
        history[i] = (uint8_t)(i * 31u);
    }
    produced = 0;
    int rc = posix_inflate(NULL, &job);
    CHECK(produced <= job.out_len);
    if (job.window_bits < 9u || job.hist_len > (1u << job.window_bits)) {
        CHECK(rc != 0 && produced == 0);
    }
    if (rc == 0) {
        CHECK(produced == job.out_len);
    }
    return 0;
}
