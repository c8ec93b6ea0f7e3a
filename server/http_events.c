/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http_events.c - GET /api/v1/events: a server-sent event stream (text/event-stream) that
 * tells the console when to fetch again, instead of the console polling everything.
 *
 * mqotad's only writer to SQLite is itself, so a change of db__change_count() (rows inserted,
 * updated or deleted) is a change of something the API shows; so is the broker link going up
 * or down. http_events__tick() looks every EVENTS_CHECK_MS and, if something changed, sends
 * every stream a "change" event, at most one per EVENTS_MIN_GAP_MS (a download in progress
 * writes every second; a burst of changes is one event). With nothing changed a "beat" event
 * goes out every EVENTS_BEAT_MS, so a page that hears nothing for a few beats knows mqotad is
 * gone even where no connection error reaches it.
 *
 * Each stream is a libmicrohttpd response from a callback: the callback hands out what is
 * queued and, with nothing queued, suspends the connection; queuing resumes it. An event that
 * finds the previous one still unsent is merged into it (the page fetches once either way).
 * Who may open a stream is judged before (api__check_request: a ticket or the bearer token).
 */
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_console.h"

#define EVENTS_CHECK_MS 250     /* how often the store's change count is looked at */
#define EVENTS_MIN_GAP_MS 500   /* least time between two "change" events */
#define EVENTS_BEAT_MS 5000     /* a "beat" event after this long without an event */
#define EVENTS_BUF 512          /* bytes queued for one stream */

struct console_stream {
    struct MHD_Connection *conn;
    mqotad_t *d;
    bool suspended;
    bool closing;                /* mqotad stops: end the stream */
    char buf[EVENTS_BUF];
    size_t len, off;             /* queued bytes, and how many of them were handed out */
    struct console_stream *next;
};

/* libmicrohttpd asks for more of the stream: what is queued, or suspend until there is. */
static ssize_t read_stream(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct console_stream *s = cls;
    (void)pos;
    if (s->closing) return MHD_CONTENT_READER_END_OF_STREAM;
    if (s->off == s->len) {
        s->off = s->len = 0;
        s->suspended = true;
        MHD_suspend_connection(s->conn);
        return 0;
    }
    size_t n = s->len - s->off < max ? s->len - s->off : max;
    memcpy(buf, s->buf + s->off, n);
    s->off += n;
    return (ssize_t)n;
}

/* The stream's connection ended (client gone, mqotad stopping): forget it. */
static void free_stream(void *cls)
{
    struct console_stream *s = cls;
    struct console *c = s->d->console;
    for (struct console_stream **p = c ? &c->streams : NULL; p && *p; p = &(*p)->next) {
        if (*p == s) {
            *p = s->next;
            c->n_streams--;
            break;
        }
    }
    free(s);
}

/* Queue text on a stream (merged with what is still unsent) and wake its connection. */
static void push(struct console_stream *s, const char *text)
{
    size_t n = strlen(text);
    if (s->off == s->len) s->off = s->len = 0;
    if (s->len + n <= sizeof(s->buf)) {
        memcpy(s->buf + s->len, text, n);
        s->len += n;
    } /* else: the unsent events already tell the page to fetch */
    if (s->suspended) {
        s->suspended = false;
        MHD_resume_connection(s->conn);
    }
}

int http_events__open(mqotad_t *d, struct MHD_Connection *conn)
{
    struct console *c = http_console__state(d);
    static const char busy[] = "{\"error\": \"too many event streams are open; close a console "
                               "tab or wait for one to go\"}";
    const char *ticket = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "ticket");
    struct MHD_Response *r;
    unsigned status = MHD_HTTP_OK;
    struct console_stream *s = NULL;
    if (ticket) http_console__ticket_ok(d, ticket, true); /* one stream per ticket */
    if (c && c->n_streams < CONSOLE_STREAMS_MAX) s = calloc(1, sizeof(*s));
    if (s) {
        s->conn = conn;
        s->d = d;
        r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, EVENTS_BUF, read_stream, s,
                                              free_stream);
        if (!r) {
            free(s);
            return MHD_NO;
        }
        /* The first event at once: the page knows it is live and fetches. */
        snprintf(s->buf, sizeof(s->buf), "retry: 2000\nevent: change\ndata: {\"seq\": %llu, "
                 "\"mqtt_connected\": %s}\n\n", (unsigned long long)c->seq,
                 d->mqtt_connected ? "true" : "false");
        s->len = strlen(s->buf);
        s->next = c->streams;
        c->streams = s;
        c->n_streams++;
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    } else {
        r = MHD_create_response_from_buffer(sizeof(busy) - 1, (void *)busy,
                                            MHD_RESPMEM_PERSISTENT);
        if (!r) return MHD_NO;
        status = MHD_HTTP_SERVICE_UNAVAILABLE;
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    for (const char *const *h = http_console_security_headers; h[0]; h += 2)
        MHD_add_response_header(r, h[0], h[1]);
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

void http_events__tick(mqotad_t *d, uint64_t now_ms)
{
    struct console *c = d->console;
    char text[128];
    if (!c || !c->streams || now_ms - c->check_ms < EVENTS_CHECK_MS) return;
    c->check_ms = now_ms;
    long long changes = db__change_count(d->db);
    bool changed = changes != c->changes || d->mqtt_connected != c->mqtt_connected;
    if (changed && now_ms - c->event_ms >= EVENTS_MIN_GAP_MS) {
        c->changes = changes;
        c->mqtt_connected = d->mqtt_connected;
        c->seq++;
        snprintf(text, sizeof(text), "event: change\ndata: {\"seq\": %llu, \"mqtt_connected\": "
                 "%s}\n\n", (unsigned long long)c->seq, d->mqtt_connected ? "true" : "false");
    } else if (now_ms - c->event_ms >= EVENTS_BEAT_MS) {
        snprintf(text, sizeof(text), "event: beat\ndata: {\"seq\": %llu}\n\n",
                 (unsigned long long)c->seq);
    } else {
        return;
    }
    c->event_ms = c->beat_ms = now_ms;
    for (struct console_stream *s = c->streams; s; s = s->next) push(s, text);
}

/* libmicrohttpd refuses to stop (it aborts the process) while a connection is suspended: wake
 * every stream and let it end before http__stop() stops the daemon. */
void http_events__close_all(mqotad_t *d)
{
    struct console *c = d->console;
    for (struct console_stream *s = c ? c->streams : NULL; s; s = s->next) {
        s->closing = true;
        if (s->suspended) {
            s->suspended = false;
            MHD_resume_connection(s->conn);
        }
    }
}
