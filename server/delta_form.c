/* SPDX-License-Identifier: Apache-2.0 */
/*
 * delta_form.c - the delta form of a release, as mqotad sends it (docs/PROTOCOL.md §18).
 *
 * Two caches under DIR/deltas, both files of delta.c's versioned format with a CRC-32:
 *   <base sha256>-<target sha256>-<chunk size>.mqdl          the delta chunks (bsdiff's output
 *                                                             re-cut: the expensive part, made
 *                                                             once per pair and chunk size)
 *   <base sha256>-<target sha256>-<chunk size>.e<E>w<W>.mqdl  their wire form for encoding E
 *                                                             and window W (deflated)
 * The wire form is what transfer.c sends and deploy.c sizes; it is built from the first file
 * when missing, and both from the two release images when neither is there.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "delta.h"
#include "mqota/mqota_proto.h"
#include "mqota_host.h"
#include "delta_form.h"
#include "release.h"

/* Reads a release's image file (r->size bytes) into a new buffer; NULL on failure (logged). */
static uint8_t *read_release(const db_release_t *r)
{
    FILE *f = fopen(r->path, "rb");
    uint8_t *p = malloc(r->size ? r->size : 1);
    if (!f || !p || fread(p, 1, r->size, f) != r->size) {
        mqh_log(MQH_ERROR, "cannot read release %lld from %s to make a delta", (long long)r->id,
                r->path);
        free(p);
        p = NULL;
    }
    if (f) fclose(f);
    return p;
}

/* Moves the wire form in w (offsets and data) into out, one allocation that
 * release__form_free() releases: the offsets first, then the data. 0 or -1 (no memory). */
static int to_form(const delta_t *w, release_form_t *out)
{
    size_t table = ((size_t)w->chunk_count + 1u) * sizeof(uint32_t);
    uint8_t *buf = malloc(table + w->data_len + 1u);
    if (!buf) return -1;
    memcpy(buf, w->offsets, table);
    memcpy(buf + table, w->data, w->data_len);
    memset(out, 0, sizeof(*out));
    out->file = buf;
    out->file_len = table + w->data_len;
    out->off = (uint32_t *)(void *)buf;
    out->data = buf + table;
    out->chunk_count = w->chunk_count;
    out->wire_size = w->offsets[w->chunk_count];
    for (uint32_t i = 0; i < w->chunk_count; i++)
        if (w->offsets[i + 1] - w->offsets[i] > out->max_chunk)
            out->max_chunk = w->offsets[i + 1] - w->offsets[i];
    return 0;
}

/* Name of a delta encoding for the log. */
static const char *encoding_name(uint8_t encoding)
{
    return encoding == MQOTA_ENCODING_DELTA_SYNC ? "delta-sync" : "delta-full";
}

int delta__form(mqotad_t *d, const db_release_t *base, const db_release_t *r, uint8_t encoding,
                uint8_t window_bits, uint32_t chunk_size, release_form_t *out)
{
    char dir[PATH_MAX], path[PATH_MAX + 256], err[256] = "";
    delta_t recs = {0}, w = {0};
    uint8_t *bimg = NULL, *timg = NULL;
    int ret = -1;
    memset(out, 0, sizeof(*out));
    if (!MQOTA_ENCODING_IS_DELTA(encoding) || window_bits < MQOTA_WINDOW_BITS_MIN ||
        window_bits > MQOTA_WINDOW_BITS_MAX || chunk_size < MQOTA_CHUNK_MIN ||
        chunk_size > MQOTA_CHUNK_MAX || r->size == 0 || base->size == 0)
        return -1;
    snprintf(dir, sizeof(dir), "%s/deltas", d->data_dir);
    snprintf(path, sizeof(path), "%s/%s-%s-%u.e%uw%u.mqdl", dir, base->sha256, r->sha256,
             chunk_size, encoding, window_bits);
    int rc = delta__load(path, &w, err, sizeof(err));
    if (rc == 0 && w.chunk_size == chunk_size && w.target_size == r->size &&
        w.base_size == base->size) {
        ret = to_form(&w, out);
        goto out;
    }
    if (rc < 0) mqh_log(MQH_WARN, "%s; it is made again", err);
    delta__free(&w);
    if (!(bimg = read_release(base)) || !(timg = read_release(r))) goto out;
    if (delta__prepare(dir, bimg, base->size, timg, r->size, chunk_size, &recs, err,
                       sizeof(err)) != 0) {
        mqh_log(MQH_ERROR, "no delta of release %lld from release %lld: %s", (long long)r->id,
                (long long)base->id, err);
        goto out;
    }
    uint64_t t0 = mqh_now_ms();
    size_t wire_len = 0;
    w = recs;
    w.offsets = NULL;
    w.data = NULL;
    if (delta__wire(&recs, timg, encoding, window_bits, &w.data, &w.offsets, &wire_len, err,
                    sizeof(err)) != 0) {
        mqh_log(MQH_ERROR, "no delta of release %lld from release %lld: %s", (long long)r->id,
                (long long)base->id, err);
        goto out;
    }
    w.data_len = wire_len;
    mqh_log(MQH_INFO, "delta of release %lld from release %lld (%s, window %u, chunks of %u "
            "bytes): %zu of %u bytes; bsdiff and the re-cut took %.3f s of CPU%s, deflate "
            "%llu ms", (long long)r->id, (long long)base->id, encoding_name(encoding),
            window_bits, chunk_size, wire_len, r->size, recs.prepare_seconds,
            recs.prepare_seconds == 0 ? " (cached)" : "",
            (unsigned long long)(mqh_now_ms() - t0));
    if (delta__save(&w, path, err, sizeof(err)) != 0)
        mqh_log(MQH_WARN, "%s (it is made again next time)", err);
    ret = to_form(&w, out);
out:
    delta__free(&recs);
    delta__free(&w);
    free(bimg);
    free(timg);
    return ret;
}
