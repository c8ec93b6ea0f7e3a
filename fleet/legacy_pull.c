/* SPDX-License-Identifier: Apache-2.0 */
/*
 * legacy_pull.c - the device side of legacy protocol 3 (docs/LEGACY.md §3), as an ESP-IDF
 * application calling esp_https_ota behaves: every --poll-every seconds
 * GET <pull-url>/devices/<id>?app_ver=<running version> with basic auth over TLS (the CA of
 * --pull-ca pinned); a 200's body names the file, GET <pull-url>/files/<name> is written to the
 * inactive slot as it arrives, checked (esp_ota_end: the image's structure and SHA-256) and
 * made the boot slot, and the device restarts. A fetch that stops (--cut-at closes it) keeps
 * what it wrote and the next fetch of the same name asks for the rest with a Range header, as
 * esp_https_ota's ota_resumption does. An image that fails its check is dropped; the device
 * polls again with its old version. --legacy-corrupt N damages the N-th piece written after a
 * boot (as a RAM or flash error after TLS would).
 *
 * libcurl's multi interface, one handle per device, driven from tick() without blocking.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleet.h"
#include "legacy.h"
#include "mqota_posix/vdev.h"

/* Longest body of a poll's answer kept (a file name is under 110 bytes). */
#define POLL_BODY_MAX 160u
/* Longest a request may take, s (a stalled server). */
#define REQUEST_TIMEOUT_S 60L

typedef enum { PULL_IDLE = 0, PULL_POLLING = 1, PULL_FETCHING = 2 } pull_phase_t;

typedef struct {
    mqota_running_t running;
    CURLM *multi;
    CURL *easy;
    pull_phase_t phase;
    uint64_t next_poll_ms;
    char body[POLL_BODY_MAX + 1];
    size_t body_len;
    char name[POLL_BODY_MAX + 1];   /* the file being fetched */
    uint8_t slot;
    uint32_t written, total;        /* bytes in the slot; the file's size (0: unknown) */
    bool begun;                     /* slot_begin done for name */
    bool cut;                       /* --cut-at stopped this fetch */
    uint32_t pieces;                /* pieces of file data written since the boot */
} pull_dev_t;

static int boot(fleet_dev_t *d)
{
    pull_dev_t *p = calloc(1, sizeof(*p));
    if (p == NULL) return -1;
    d->legacy = p;
    if (d->vplat.running(d->vplat.ctx, &p->running) != 0) return -1;
    if (!d->fleet->opt.pull_url) {
        mqh_log(MQH_ERROR, "%s: protocol pull needs --pull-url", d->id);
        return -1;
    }
    p->multi = curl_multi_init();
    if (p->multi == NULL) return -1;
    p->slot = (uint8_t)(p->running.running_slot == 0 ? 1 : 0);
    p->next_poll_ms = mqh_now_ms() + 200u; /* soon after the boot */
    mqh_log(MQH_INFO, "%s: protocol pull, running %s", d->id, p->running.version);
    return 0;
}

static size_t on_poll_body(char *ptr, size_t size, size_t n, void *ud)
{
    pull_dev_t *p = ud;
    size_t len = size * n, room = POLL_BODY_MAX - p->body_len;
    memcpy(p->body + p->body_len, ptr, len < room ? len : room);
    p->body_len += len < room ? len : room;
    return len;
}

static size_t on_file_body(char *ptr, size_t size, size_t n, void *ud)
{
    fleet_dev_t *d = ud;
    pull_dev_t *p = d->legacy;
    size_t len = size * n;
    if (p->total == 0) {
        curl_off_t cl = -1;
        curl_easy_getinfo(p->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
        p->total = cl > 0 ? (uint32_t)(p->written + (uint64_t)cl) : 0;
    }
    uint32_t cap = 0;
    if (!p->begun) { /* esp_ota_begin: erase the slot from where the data goes */
        if (d->vplat.slot_size(d->vplat.ctx, p->slot, &cap) != 0 || p->total > cap ||
            d->vplat.slot_begin(d->vplat.ctx, p->slot, p->total ? p->total : cap, p->written) != 0)
            return 0;
        p->begun = true;
    }
    /* --legacy-corrupt: this piece lands damaged, after TLS (the device's RAM or flash):
     * only the image's own SHA-256, checked when the download ends, can see it */
    uint8_t *bad = NULL;
    if (len > 0 && fleet_legacy_corrupt_now(d, ++p->pieces) && (bad = malloc(len)) != NULL) {
        memcpy(bad, ptr, len);
        bad[len / 2] ^= 1;
    }
    int rc = d->vplat.slot_write(d->vplat.ctx, p->slot, p->written,
                                 bad ? bad : (const uint8_t *)ptr, len);
    free(bad);
    if (rc != 0) return 0;
    p->written += (uint32_t)len;
    d->rx_chunk_bytes += len;
    const fleet_opts_t *o = &d->fleet->opt;
    if (p->total && d->cuts_done < o->cut_count &&
        (double)p->written / (double)p->total >= o->cut_at[d->cuts_done]) {
        d->cuts_done++;
        p->cut = true;
        mqh_log(MQH_INFO, "%s: fault: the fetch stops at %u of %u bytes", d->id,
                (unsigned)p->written, (unsigned)p->total);
        return 0; /* curl aborts the transfer: the connection closes */
    }
    return len;
}

/* Start a GET of path (after the pull URL); file: the image, else a poll. */
static void request(fleet_dev_t *d, const char *path, bool file)
{
    pull_dev_t *p = d->legacy;
    const fleet_opts_t *o = &d->fleet->opt;
    char url[512], range[48];
    snprintf(url, sizeof(url), "%s%s", o->pull_url, path);
    p->easy = curl_easy_init();
    if (p->easy == NULL) return;
    curl_easy_setopt(p->easy, CURLOPT_URL, url);
    curl_easy_setopt(p->easy, CURLOPT_PROTOCOLS_STR, "https");
    if (o->pull_ca) curl_easy_setopt(p->easy, CURLOPT_CAINFO, o->pull_ca);
    curl_easy_setopt(p->easy, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(p->easy, CURLOPT_USERNAME, o->pull_user ? o->pull_user : "");
    curl_easy_setopt(p->easy, CURLOPT_PASSWORD, o->pull_password ? o->pull_password : "");
    curl_easy_setopt(p->easy, CURLOPT_TIMEOUT, REQUEST_TIMEOUT_S);
    curl_easy_setopt(p->easy, CURLOPT_NOSIGNAL, 1L);
    if (file) {
        curl_easy_setopt(p->easy, CURLOPT_WRITEFUNCTION, on_file_body);
        curl_easy_setopt(p->easy, CURLOPT_WRITEDATA, d);
        if (p->written > 0) { /* ota_resumption: the rest */
            snprintf(range, sizeof(range), "%u-", (unsigned)p->written);
            curl_easy_setopt(p->easy, CURLOPT_RANGE, range);
        }
    } else {
        p->body_len = 0;
        curl_easy_setopt(p->easy, CURLOPT_WRITEFUNCTION, on_poll_body);
        curl_easy_setopt(p->easy, CURLOPT_WRITEDATA, p);
    }
    curl_multi_add_handle(p->multi, p->easy);
    p->phase = file ? PULL_FETCHING : PULL_POLLING;
}

static void end_request(pull_dev_t *p)
{
    curl_multi_remove_handle(p->multi, p->easy);
    curl_easy_cleanup(p->easy);
    p->easy = NULL;
    p->phase = PULL_IDLE;
}

/* A request finished (res: libcurl's result, code: the HTTP status). */
static void finished(fleet_dev_t *d, CURLcode res, long code)
{
    pull_dev_t *p = d->legacy;
    pull_phase_t was = p->phase;
    end_request(p);
    p->next_poll_ms = mqh_now_ms() + d->fleet->opt.poll_every_ms;
    if (was == PULL_POLLING) {
        if (res != CURLE_OK || code != 200) {
            if (res != CURLE_OK || code != 204)
                mqh_log(MQH_DEBUG, "%s: poll: %s, HTTP %ld", d->id, curl_easy_strerror(res), code);
            return;
        }
        p->body[p->body_len] = '\0';
        if (strcmp(p->body, p->name) != 0) { /* another file: from the start */
            snprintf(p->name, sizeof(p->name), "%s", p->body);
            p->written = p->total = 0;
            p->begun = false;
        }
        char path[POLL_BODY_MAX + 16];
        snprintf(path, sizeof(path), "/files/%s", p->name);
        mqh_log(MQH_INFO, "%s: update %s, fetching%s", d->id, p->name,
                p->written ? " the rest" : "");
        request(d, path, true);
        return;
    }
    if (res != CURLE_OK || (code != 200 && code != 206)) {
        mqh_log(MQH_INFO, "%s: the fetch stopped at %u bytes (%s, HTTP %ld)", d->id,
                (unsigned)p->written, curl_easy_strerror(res), code);
        if (!p->cut) p->written = p->total = 0, p->begun = false; /* start over */
        p->cut = false;
        return;
    }
    uint32_t size = p->written;
    p->written = p->total = 0;
    p->begun = false;
    p->name[0] = '\0';
    if (fleet_legacy_finish_image(d, p->slot, size) != 0) return; /* esp_ota_end refused it */
    mqh_log(MQH_INFO, "%s: %u bytes written and checked, restarting", d->id, (unsigned)size);
    fleet_legacy_restart(d);
}

static void tick(fleet_dev_t *d, uint64_t now_ms)
{
    pull_dev_t *p = d->legacy;
    char path[160];
    int running = 0, left = 0;
    if (p->phase == PULL_IDLE && now_ms >= p->next_poll_ms && !d->reboot_due) {
        snprintf(path, sizeof(path), "/devices/%s?app_ver=%s", d->id, p->running.version);
        request(d, path, false);
    }
    if (p->phase == PULL_IDLE) return;
    curl_multi_perform(p->multi, &running);
    CURLMsg *m;
    while ((m = curl_multi_info_read(p->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE) continue;
        long code = 0;
        curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &code);
        finished(d, m->data.result, code);
        break; /* the handle is gone */
    }
}

static void on_connect(fleet_dev_t *d)
{
    (void)d; /* an esp_https_ota device speaks no MQTT for its updates */
}

static void on_message(fleet_dev_t *d, const struct mosquitto_message *m)
{
    (void)d;
    (void)m;
}

static void power_off(fleet_dev_t *d)
{
    pull_dev_t *p = d->legacy;
    if (p) {
        if (p->easy) end_request(p);
        if (p->multi) curl_multi_cleanup(p->multi);
    }
    free(p);
    d->legacy = NULL;
}

const fleet_legacy_ops_t fleet_legacy_pull_ops = {
    .boot = boot,
    .on_connect = on_connect,
    .on_message = on_message,
    .tick = tick,
    .power_off = power_off,
};
