/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include "mqota_host.h"
#include "mqota_utf8.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

int mqh_parse_broker_url(const char *url, mqh_url_t *out, char *err, size_t err_cap)
{
    const char *p;
    memset(out, 0, sizeof(*out));
    if (strncmp(url, "mqtt://", 7) == 0) {
        p = url + 7;
        out->port = 1883;
    } else if (strncmp(url, "mqtts://", 8) == 0) {
        p = url + 8;
        out->port = 8883;
        out->tls = true;
    } else {
        snprintf(err, err_cap, "broker URL '%s' must start with mqtt:// or mqtts://", url);
        return -1;
    }
    const char *host_end;
    const char *port_at = NULL;
    if (*p == '[') {
        host_end = strchr(p, ']');
        if (!host_end) {
            snprintf(err, err_cap, "broker URL '%s' has an unclosed '['", url);
            return -1;
        }
        p++;
        if (host_end[1] == ':')
            port_at = host_end + 2;
        else if (host_end[1] != '\0' && host_end[1] != '/') {
            snprintf(err, err_cap, "broker URL '%s' has junk after ']'", url);
            return -1;
        }
    } else {
        host_end = p + strcspn(p, ":/");
        if (*host_end == ':')
            port_at = host_end + 1;
    }
    size_t hl = (size_t)(host_end - p);
    if (hl == 0 || hl >= sizeof(out->host)) {
        snprintf(err, err_cap, "broker URL '%s' has no host", url);
        return -1;
    }
    memcpy(out->host, p, hl);
    out->host[hl] = '\0';
    if (port_at) {
        char *end;
        long v = strtol(port_at, &end, 10);
        if (end == port_at || (*end != '\0' && *end != '/') || v < 1 || v > 65535) {
            snprintf(err, err_cap, "broker URL '%s' has an invalid port (1-65535)", url);
            return -1;
        }
        out->port = (int)v;
    }
    return 0;
}

void mqh_hex(const uint8_t *data, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[data[i] >> 4];
        out[2 * i + 1] = digits[data[i] & 15];
    }
    out[2 * len] = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int mqh_unhex(const char *hex, uint8_t *out, size_t len)
{
    if (strlen(hex) != 2 * len) return -1;
    for (size_t i = 0; i < len; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

uint64_t mqh_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int64_t mqh_unix_now(void)
{
    return (int64_t)time(NULL);
}

int mqh_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof(sa);
    int port = -1;
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &sl) == 0)
        port = ntohs(sa.sin_port);
    close(fd);
    return port;
}

static const char *log_prog = "mqota";
static int log_level = MQH_INFO;

void mqh_log_init(const char *prog, int level)
{
    log_prog = prog;
    log_level = level;
}

void mqh_log(int level, const char *fmt, ...)
{
    static const char *names[] = {"error", "warn", "info", "debug"};
    if (level > log_level) return;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char ts[32];
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    char line[1024];
    char safe[4 * sizeof(line)];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    if ((size_t)n >= sizeof(line)) n = (int)sizeof(line) - 1;
    /* Every line is escaped, whoever supplied its text: a device's payload cannot end it,
     * forge another, or reach the terminal that shows the log with escape sequences. */
    mqh_log_escape(line, (size_t)n, safe, sizeof(safe));
    fprintf(stderr, "%s.%03dZ %s %s: %s\n", ts, (int)(tv.tv_usec / 1000), log_prog,
            names[level < 0 ? 0 : level > 3 ? 3 : level], safe);
}
