/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mqota deployment watch: poll one deployment every 500 ms until it finishes. On a terminal
 * the display is redrawn in place; otherwise it is a log of state changes and periodic
 * summaries, fit for CI output.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "format.h"
#include "http.h"
#include "mqota_host.h"

#define POLL_MS 500u
#define SUMMARY_EVERY_MS 5000u

/* What was last seen of one target, to log only changes. */
typedef struct {
    char *device;
    char state[32];
    char device_state[32];
} seen_t;

typedef struct {
    cli_ctx_t *ctx;
    long long id;
    uint64_t start_ms;
    uint64_t base_ms;         /* how long the deployment had run when the watch began */
    int lines_drawn;          /* terminal lines of the previous frame */
    uint64_t last_summary_ms; /* non-terminal: when the last summary line was printed */
    seen_t *seen;
    size_t nseen;
    bool colour;
    bool unicode;
} watch_t;

static uint64_t elapsed_ms(const watch_t *w)
{
    return w->base_ms + (mqh_now_ms() - w->start_ms);
}

static void sleep_ms(uint64_t ms)
{
    struct timespec ts = { (time_t)(ms / 1000u), (long)(ms % 1000u) * 1000000L };
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* Colour of a target state on a terminal (ANSI SGR), "" when colour is off. */
static const char *state_colour(const watch_t *w, const char *state)
{
    if (!w->colour)
        return "";
    if (strcmp(state, "succeeded") == 0)
        return "\033[32m";
    if (strcmp(state, "failed") == 0)
        return "\033[31m";
    if (strcmp(state, "active") == 0)
        return "\033[36m";
    if (strcmp(state, "superseded") == 0)
        return "\033[35m";
    return "\033[2m";
}

/*
 * Print s as one terminal line of at most cols - 1 columns, so it never wraps (a wrapped line
 * would break the cursor arithmetic of the redraw). ANSI escape sequences take no columns.
 */
static void put_line(const char *s, int cols)
{
    int w = 0;

    fputs("\033[2K", stdout);
    while (*s != '\0') {
        if (*s == '\033') { /* copy "ESC [ ... final-byte" whole */
            const char *e = s + 1;
            if (*e == '[')
                e++;
            while (*e != '\0' && !(*e >= '@' && *e <= '~'))
                e++;
            if (*e != '\0')
                e++;
            fwrite(s, 1, (size_t)(e - s), stdout);
            s = e;
            continue;
        }
        if (((unsigned char)*s & 0xC0) != 0x80) {
            if (w >= cols - 1)
                break;
            w++;
        }
        fputc(*s++, stdout);
    }
    if (w >= cols - 1)
        while (*s != '\0' && ((unsigned char)*s & 0xC0) == 0x80) /* finish a cut code point */
            fputc(*s++, stdout);
    fputs("\033[0m\n", stdout); /* never let a cut line leak its colour */
}

static void terminal_size(int *cols, int *rows)
{
    struct winsize ws;

    *cols = 80;
    *rows = 24;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0) {
        *cols = ws.ws_col;
        *rows = ws.ws_row;
    }
}

/* Display order when not every target fits: what needs attention first. */
static int state_rank(const char *s)
{
    if (strcmp(s, "active") == 0)
        return 0;
    if (strcmp(s, "failed") == 0)
        return 1;
    if (strcmp(s, "pending") == 0)
        return 2;
    if (strcmp(s, "superseded") == 0)
        return 3;
    return 4;
}

static void summary_text(const cJSON *d, const watch_t *w, char *out, size_t cap)
{
    char el[32], sup[48] = "", ready[48] = "";
    long long superseded = cli_json_int(d, "superseded", 0);
    long long held = cli_json_int(d, "ready", 0);
    if (superseded > 0) /* mqotad sends this count although API.md does not list it */
        snprintf(sup, sizeof sup, ", %lld superseded", superseded);
    if (held > 0) /* holding the release until 'mqota deployment activate' */
        snprintf(ready, sizeof ready, ", %lld ready", held);
    long long cancelled = cli_json_int(d, "cancelled", 0);
    if (cancelled > 0) /* 'mqota deployment cancel' withdrew their offers */
        snprintf(sup + strlen(sup), sizeof sup - strlen(sup), ", %lld cancelled", cancelled);
    snprintf(out, cap, "%lld succeeded, %lld failed, %lld active, %lld pending%s%s of %lld; %s",
             cli_json_int(d, "succeeded", 0), cli_json_int(d, "failed", 0),
             cli_json_int(d, "active", 0), cli_json_int(d, "pending", 0), ready, sup,
             cli_json_int(d, "total", 0), fmt_elapsed(elapsed_ms(w), el, sizeof el));
}

/* Redraw the terminal frame: one bar per target (as many as fit) and the summary line. */
static void draw_frame(watch_t *w, const cJSON *d)
{
    const cJSON *targets = cJSON_GetObjectItemCaseSensitive(d, "targets");
    int n = cJSON_GetArraySize(targets);
    uint64_t image = (uint64_t)cli_json_int(d, "image_size", 0);
    int cols, rows;
    terminal_size(&cols, &rows);

    const cJSON **order = calloc((size_t)n + 1, sizeof *order);
    if (order == NULL)
        return;
    int i = 0, idw = 6;
    const cJSON *t;
    cJSON_ArrayForEach(t, targets) {
        order[i++] = t;
        int l = (int)fmt_display_width(cli_json_str(t, "device", "?"));
        if (l > idw)
            idw = l;
    }
    if (idw > 24)
        idw = 24;
    int room = rows - 3; /* keep the summary and a spare line on screen */
    if (room < 1)
        room = 1;
    bool overflow = n > room;
    if (overflow) { /* stable insertion sort by rank keeps server order within a rank */
        for (int a = 1; a < n; a++) {
            const cJSON *x = order[a];
            int r = state_rank(cli_json_str(x, "state", ""));
            int b = a - 1;
            while (b >= 0 && state_rank(cli_json_str(order[b], "state", "")) > r) {
                order[b + 1] = order[b];
                b--;
            }
            order[b + 1] = x;
        }
    }
    int shown = overflow ? room - 1 : n;
    int barw = cols - idw - 42;
    if (barw > 40)
        barw = 40;
    if (barw < 10)
        barw = 10;

    if (w->lines_drawn > 0)
        printf("\033[%dA", w->lines_drawn);
    int lines = 0;
    char line[1024], bar[40 * 3 + 8], sum[160];
    for (i = 0; i < shown; i++) {
        t = order[i];
        const char *st = cli_json_str(t, "state", "?");
        const char *ds = cli_json_str(t, "device_state", "?");
        const char *reason = cli_json_str(t, "reason", "none");
        char shown_st[48];
        uint64_t p = (uint64_t)cli_json_int(t, "progress", 0);
        /* A succeeded target shows a full bar even if the last chunk report was not counted. */
        if (strcmp(st, "succeeded") == 0)
            p = image;
        fmt_bar(bar, sizeof bar, barw, p, image, w->unicode);
        int n2 = snprintf(line, sizeof line, "%-*.*s %s %3d%%  %s%-10s%s %s", idw, idw,
                          cli_json_str(t, "device", "?"), bar, fmt_percent(p, image),
                          state_colour(w, st), cli_target_state(t, shown_st, sizeof shown_st),
                          w->colour ? "\033[0m" : "", ds);
        if (strcmp(st, "failed") == 0 && strcmp(reason, "none") != 0 && n2 > 0 &&
            (size_t)n2 < sizeof line)
            snprintf(line + n2, sizeof line - (size_t)n2, ": %s", reason);
        put_line(line, cols);
        lines++;
    }
    if (overflow) {
        int succeeded_hidden = 0;
        for (i = shown; i < n; i++)
            if (strcmp(cli_json_str(order[i], "state", ""), "succeeded") == 0)
                succeeded_hidden++;
        snprintf(line, sizeof line, "... and %d more (%d of them succeeded)", n - shown,
                 succeeded_hidden);
        put_line(line, cols);
        lines++;
    }
    summary_text(d, w, sum, sizeof sum);
    snprintf(line, sizeof line, "%sdeployment %lld%s: %s", w->colour ? "\033[1m" : "", w->id,
             w->colour ? "\033[0m" : "", sum);
    put_line(line, cols);
    lines++;
    fputs("\033[J", stdout); /* clear what a longer previous frame left below */
    fflush(stdout);
    w->lines_drawn = lines;
    free(order);
}

/* Find or add the remembered state of device; NULL when out of memory. */
static seen_t *seen_for(watch_t *w, const char *device)
{
    for (size_t i = 0; i < w->nseen; i++)
        if (strcmp(w->seen[i].device, device) == 0)
            return &w->seen[i];
    seen_t *s = realloc(w->seen, (w->nseen + 1) * sizeof *s);
    if (s == NULL)
        return NULL;
    w->seen = s;
    s = &w->seen[w->nseen];
    memset(s, 0, sizeof *s);
    if ((s->device = strdup(device)) == NULL)
        return NULL;
    w->nseen++;
    return s;
}

/* Non-terminal output: a line per target state change, a summary at most every 5 s. */
static void log_changes(watch_t *w, const cJSON *d)
{
    uint64_t image = (uint64_t)cli_json_int(d, "image_size", 0);
    char el[32], sum[160];
    const cJSON *t;

    fmt_elapsed(elapsed_ms(w), el, sizeof el);
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(d, "targets")) {
        const char *dev = cli_json_str(t, "device", "?");
        char shown_st[48];
        const char *st = cli_target_state(t, shown_st, sizeof shown_st);
        const char *ds = cli_json_str(t, "device_state", "?");
        seen_t *s = seen_for(w, dev);
        if (s == NULL || (strcmp(s->state, st) == 0 && strcmp(s->device_state, ds) == 0))
            continue;
        snprintf(s->state, sizeof s->state, "%s", st);
        snprintf(s->device_state, sizeof s->device_state, "%s", ds);
        const char *reason = cli_json_str(t, "reason", "none");
        uint64_t p = (uint64_t)cli_json_int(t, "progress", 0);
        if (strcmp(st, "failed") == 0 && strcmp(reason, "none") != 0)
            printf("[%7s] %s: %s (%s: %s)\n", el, dev, st, ds, reason);
        else
            printf("[%7s] %s: %s (%s, %d%%)\n", el, dev, st, ds,
                   strcmp(st, "succeeded") == 0 ? 100 : fmt_percent(p, image));
    }
    uint64_t now = mqh_now_ms();
    if (w->last_summary_ms == 0 || now - w->last_summary_ms >= SUMMARY_EVERY_MS) {
        summary_text(d, w, sum, sizeof sum);
        printf("[%7s] deployment %lld: %s\n", el, w->id, sum);
        w->last_summary_ms = now;
    }
    fflush(stdout);
}

/*
 * The watch is over: say how it ended. Every target succeeded: exit 0. Any failed or
 * superseded: name them with their reasons on stderr and exit 1.
 */
static int report_end(watch_t *w, const cJSON *d)
{
    const cJSON *t;
    long long bad = 0, total = cli_json_int(d, "total", 0);
    char el[32];

    if (w->ctx->json)
        cli_print_json(d);
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(d, "targets")) {
        const char *st = cli_json_str(t, "state", "");
        if (strcmp(st, "succeeded") != 0)
            bad++;
    }
    fmt_elapsed(elapsed_ms(w), el, sizeof el);
    if (bad == 0) {
        if (!w->ctx->json)
            printf("deployment %lld finished: all %lld target%s succeeded (%s).\n", w->id, total,
                   total == 1 ? "" : "s", el);
        return CLI_OK;
    }
    fflush(stdout);
    fprintf(stderr, "mqota: deployment %lld finished with %lld of %lld target%s not updated:\n",
            w->id, bad, total, total == 1 ? "" : "s");
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(d, "targets")) {
        const char *st = cli_json_str(t, "state", "");
        if (strcmp(st, "succeeded") == 0)
            continue;
        const char *reason = cli_json_str(t, "reason", "none");
        if (strcmp(st, "superseded") == 0)
            fprintf(stderr, "  %s: superseded by a newer deployment\n",
                    cli_json_str(t, "device", "?"));
        else if (strcmp(st, "cancelled") == 0)
            fprintf(stderr, "  %s: cancelled, its offer withdrawn (device %s)\n",
                    cli_json_str(t, "device", "?"), cli_json_str(t, "device_state", "?"));
        else
            fprintf(stderr, "  %s: %s (device %s, reason: %s)\n", cli_json_str(t, "device", "?"),
                    st, cli_json_str(t, "device_state", "?"), reason);
    }
    return CLI_FAILED;
}

int cli_watch(cli_ctx_t *ctx, long long id, double timeout_s)
{
    watch_t w = { 0 };
    char path[64];
    int rc = CLI_OK;
    bool first = true;

    w.ctx = ctx;
    w.id = id;
    w.start_ms = mqh_now_ms();
    w.colour = ctx->tty && getenv("NO_COLOR") == NULL;
    w.unicode = cli_utf8();
    snprintf(path, sizeof path, "/api/v1/deployments/%lld", id);

    for (;;) {
        uint64_t poll_at = mqh_now_ms();
        cJSON *d = NULL;
        rc = http_get(ctx, path, &d);
        if (rc != CLI_OK) {
            cJSON_Delete(d);
            break;
        }
        const char *state = cli_json_str(d, "state", "");
        if (first) {
            long long created = cli_json_int(d, "created_at", 0);
            int64_t ran = mqh_unix_now() - created;
            if (strcmp(state, "finished") != 0 && created > 0 && ran > 0)
                w.base_ms = (uint64_t)ran * 1000u;
            first = false;
        }
        if (!ctx->json) {
            if (ctx->tty)
                draw_frame(&w, d);
            else
                log_changes(&w, d);
        }
        if (strcmp(state, "finished") == 0) {
            rc = report_end(&w, d);
            cJSON_Delete(d);
            break;
        }
        if (timeout_s > 0 && (double)(mqh_now_ms() - w.start_ms) >= timeout_s * 1000.0) {
            char sum[160];
            summary_text(d, &w, sum, sizeof sum);
            if (ctx->json)
                cli_print_json(d);
            cli_error("deployment %lld still running after the %g s timeout (%s); it goes on in "
                      "mqotad: run 'mqota deployment watch %lld' to follow it again.",
                      id, timeout_s, sum, id);
            cJSON_Delete(d);
            rc = CLI_TIMEOUT;
            break;
        }
        cJSON_Delete(d);
        uint64_t spent = mqh_now_ms() - poll_at;
        if (spent < POLL_MS)
            sleep_ms(POLL_MS - spent);
    }
    for (size_t i = 0; i < w.nseen; i++)
        free(w.seen[i].device);
    free(w.seen);
    return rc;
}
