/* SPDX-License-Identifier: Apache-2.0 */
/*
 * main.c - mqotad: start-up, the main loop, shutdown.
 *
 * One thread. Each turn of the loop waits (at most 50 ms) for the MQTT socket or the HTTP
 * server, then runs its named steps in order. Nothing blocks except that wait.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "command.h"
#include "deploy.h"
#include "metrics.h"
#include "devlog.h"
#include "http_console.h"
#include "telemetry.h"
#include "health.h"
#include "legacy.h"
#include "legacy_pull.h"
#include "legacy_tcp.h"
#include "mqotad.h"
#include "release.h"
#include "clock.h"
#include "rollout.h"
#include "signature.h"
#include "token.h"
#include "transfer.h"

#define LOOP_WAIT_MAX_MS 50

static volatile sig_atomic_t run = 1;
static volatile sig_atomic_t reload = 0;

static void on_signal(int sig)
{
    if (sig == SIGHUP) reload = 1;
    else run = 0;
}

/* Write text to DIR/name via a temp file and rename, so readers never see half a file. */
static int write_state_file(mqotad_t *d, const char *name, const char *text)
{
    char path[PATH_MAX + 64], tmp[PATH_MAX + 80];
    snprintf(path, sizeof(path), "%s/%s", d->data_dir, name);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) goto err;
    fprintf(f, "%s\n", text);
    if (fclose(f) != 0 || rename(tmp, path) != 0) goto err;
    return 0;
err:
    mqh_log(MQH_ERROR, "cannot write %s: %s", path, strerror(errno));
    unlink(tmp);
    return -1;
}

/* Block until something is readable/writable or the nearest timer is due. */
static void wait_for_io(mqotad_t *d, bool *mqtt_in, bool *mqtt_out)
{
    struct pollfd fds[4];
    int n = 0, mq = -1;
    int sock = mqtt__socket(d);
    if (sock >= 0) {
        fds[n].fd = sock;
        fds[n].events = POLLIN | (mqtt__want_write(d) ? POLLOUT : 0);
        fds[n].revents = 0;
        mq = n++;
    }
    fds[n].fd = http__fd(d);
    fds[n].events = POLLIN;
    fds[n].revents = 0;
    n++;
    /* legacy protocols 3 and 4: the pull listener's and the TCP side channels' epoll fds */
    int legacy_fds[2] = {http_pull__fd(d), legacy_tcp__fd(d)};
    for (int i = 0; i < 2; i++)
        if (legacy_fds[i] >= 0) fds[n++] = (struct pollfd){.fd = legacy_fds[i], .events = POLLIN};

    uint64_t now = mqh_now_ms();
    int timeout = LOOP_WAIT_MAX_MS;
    int t = http__timeout_ms(d);
    if (t >= 0 && t < timeout) timeout = t;
    t = http_pull__timeout_ms(d); /* 0 while TLS holds decrypted bytes not yet handled */
    if (t >= 0 && t < timeout) timeout = t;
    t = transfer__next_timeout_ms(d, now);
    if (t >= 0 && t < timeout) timeout = t;
    t = legacy__next_timeout_ms(d, now);
    if (t >= 0 && t < timeout) timeout = t;

    *mqtt_in = *mqtt_out = false;
    if (poll(fds, (nfds_t)n, timeout) > 0 && mq >= 0) {
        *mqtt_in = (fds[mq].revents & (POLLIN | POLLHUP | POLLERR)) != 0;
        *mqtt_out = (fds[mq].revents & POLLOUT) != 0;
    }
}

static int prepare_data_dir(mqotad_t *d)
{
    if (mkdir(d->data_dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "mqotad: --data %s: cannot create the directory: %s.\n", d->data_dir,
                strerror(errno));
        return -1;
    }
    char path[PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/releases", d->data_dir);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "mqotad: cannot create %s: %s.\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static mqotad_t d;
    int rc = options__parse(&d, argc, argv);
    if (rc != 0) options__free(&d);
    if (rc == 1) return 0;
    if (rc != 0) return 2;
    mqh_log_init("mqotad", d.log_level);
    if (clock__init() != 0) { /* the test-only clock offset, when set */
        options__free(&d);
        return 2;
    }
    if (prepare_data_dir(&d) != 0) {
        options__free(&d);
        return 1;
    }
    if (d.cmd_name && strcmp(d.cmd_name, "token") != 0) { /* device ..., broker-files ... */
        rc = auth__command(&d);
        options__free(&d);
        return rc;
    }
    if (d.cmd_name) { /* mqotad --data DIR token ...: on the database, no daemon */
        char dbpath[PATH_MAX + 32];
        snprintf(dbpath, sizeof(dbpath), "%s/mqota.db", d.data_dir);
        rc = db__open(&d.db, dbpath) != 0 ? 1 : token__command(&d);
        db__close(d.db);
        options__free(&d);
        return rc;
    }

    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL); /* the configuration file and the broker's identities */
    signal(SIGPIPE, SIG_IGN);

    int exit_code = 1;
    char path[PATH_MAX + 32], text[64];
    snprintf(path, sizeof(path), "%s/mqota.db", d.data_dir);
    if (metrics__init(&d) != 0) goto out;
    if (signature__load_keys(&d) != 0) goto out;
    if (db__open(&d.db, path) != 0) goto out;
    if (release__sweep(&d) < 0) goto out;
    if (token__ensure_file(&d) != 0) goto out;
    if (d.open_api)
        mqh_log(MQH_WARN, "--open-api: the HTTP API answers WITHOUT a bearer token; anyone who "
                "can reach http://%s:%d can upload releases, deploy them and provision devices",
                d.http_addr, d.http_port);
    if (transfer__init(&d) != 0 || deploy__init(&d) != 0) goto out;
    if (legacy__init(&d) != 0 || deploy__legacy_init(&d) != 0) goto out;
    if (http__start(&d) != 0) goto out; /* first: a busy port fails before a broker starts */
    if (http_pull__start(&d) != 0) goto out; /* --pull-https (legacy protocol 3) */
    if (legacy_tcp__init(&d) != 0) goto out;  /* legacy protocol 4's side channels */
    if (auth__ensure_server_identity(&d) != 0) goto out;
    if (d.broker_tls && tls__ensure_broker_certs(&d) != 0) goto out;
    if (d.embedded_broker && broker__start(&d) != 0) goto out;
    if (mqtt__init(&d) != 0) goto out;

    snprintf(text, sizeof(text), "%d", (int)getpid());
    if (write_state_file(&d, "mqotad.pid", text) != 0) goto out;
    if (write_state_file(&d, "broker.url", d.broker_url) != 0) goto out;
    snprintf(text, sizeof(text), "http://%s:%d",
             strcmp(d.http_addr, "0.0.0.0") == 0 ? "127.0.0.1" : d.http_addr,
             d.http_bound_port);
    if (write_state_file(&d, "http.url", text) != 0) goto out;
    if (d.pull_mhd) { /* DIR/pull.url: where esp_https_ota devices poll */
        char pull_url[96];
        snprintf(pull_url, sizeof(pull_url), "https://%s:%d",
                 strcmp(d.pull_addr, "0.0.0.0") == 0 ? "127.0.0.1" : d.pull_addr,
                 d.pull_bound_port);
        if (write_state_file(&d, "pull.url", pull_url) != 0) goto out;
    }
    mqh_log(MQH_INFO, "mqotad %s ready (data %s, broker %s, http %s)", MQOTAD_VERSION,
            d.data_dir, d.broker_url, text);

    while (run) {
        bool mqtt_in, mqtt_out;
        wait_for_io(&d, &mqtt_in, &mqtt_out);
        uint64_t now = mqh_now_ms();

        mqtt__io(&d, mqtt_in, mqtt_out);          /* read ACK/STATE/online, flush chunks */
        http__run(&d);                            /* answer API requests */
        http_pull__run(&d);                       /* answer pull devices (legacy protocol 3) */
        legacy_tcp__io(&d, now);                  /* legacy protocol 4's TCP side channels */
        if (d.offers_due && d.mqtt_connected) {   /* after (re)connect: offers again */
            d.offers_due = false;
            deploy__republish_offers(&d);
        }
        transfer__tick(&d, now);                  /* retransmit timed-out chunks */
        legacy__tick(&d, now);                    /* legacy devices: retries, timeouts */
        transfer__persist(&d, now, false);        /* batched progress, once a second */
        command__tick(&d, now);                   /* expire / time out commands */
        rollout__tick(&d, now);                   /* judge rollouts' waves, start the next */
        devlog__tick(&d, now);                    /* report devices' suppressed warnings */
        telemetry__tick(&d, now);                 /* telemetry older than its retention */
        health__tick(&d);                         /* health reports held to the next second */
        http_events__tick(&d, now);               /* tell the consoles what changed */
        mqtt__flush(&d);                          /* send what the steps above queued */
        mqtt__reconnect_if_due(&d, now);          /* backoff-driven reconnect */
        if (d.embedded_broker) broker__supervise(&d); /* restart our mosquitto if it died */
        if (reload) {                             /* SIGHUP (docs/OPERATIONS.md "Reload"): */
            reload = 0;
            options__reload(&d);                  /* the config file's reloadable keys */
            token__ensure_file(&d);               /* DIR/api.token again if it was deleted */
            broker__reload(&d);                   /* the broker rereads passwords and ACLs */
        }
    }
    mqh_log(MQH_INFO, "shutting down");
    exit_code = 0;
out:
    if (d.xfers) transfer__cleanup(&d);
    legacy__cleanup(&d);
    mqtt__cleanup(&d);
    http__stop(&d);
    http_pull__stop(&d);
    legacy_tcp__cleanup(&d);
    http_console__cleanup(&d);
    broker__stop(&d);
    db__close(d.db);
    signature__free_keys(&d);
    devlog__free(&d);
    telemetry__free(&d);
    health__free(&d);
    metrics__free(&d);
    options__free(&d);
    if (exit_code == 0) {
        snprintf(path, sizeof(path), "%s/mqotad.pid", d.data_dir);
        unlink(path);
    }
    return exit_code;
}
