/* SPDX-License-Identifier: Apache-2.0 */
/*
 * broker.c - the embedded mosquitto broker, run as a child process when no --broker is given.
 *
 * The broker keeps its own persistence in DIR/broker/ so retained offers and device states
 * survive restarts, and we reuse the previous port (from DIR/broker.url) when it is free so
 * devices reconnect to the same address.
 *
 * Secure by default: anonymous clients are refused; every client logs in with a user of
 * DIR/auth/passwd and reaches only the topics DIR/auth/acl gives it (auth.c). --open-broker
 * turns both off. With --broker-tls the devices' listener speaks TLS (tls.c makes the
 * certificates); without it the listener is plain TCP on 127.0.0.1 only.
 *
 * Two listeners (docs/SECURITY.md §7.2): on the devices' TCP listener mosquitto replaces every
 * client id with the client's username (use_username_as_clientid), so a device can only ever
 * take over its own session, never mqotad's or another device's. mqotad itself connects over
 * a Unix socket in DIR/broker/ (BROKER_SOCKET_NAME), which no device on the network can
 * reach; there it keeps its random client id (mqtt.c), and tools that log in as mqotad's user
 * may open several connections at once.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mqotad.h"

#define BROKER_START_TRIES 5
#define BROKER_READY_MS 10000
#define BROKER_SOCKET_NAME "mqotad.sock"

/* True if 127.0.0.1:port can be bound right now. */
static bool port_free(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return false;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(fd);
    return ok;
}

/* True if something accepts TCP connections on 127.0.0.1:port. */
static bool port_accepts(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return false;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(fd);
    return ok;
}

/* The port of the broker we ran last time, if DIR/broker.url names a loopback one. */
static int previous_port(mqotad_t *d)
{
    char path[PATH_MAX + 32], line[300] = "", err[200];
    snprintf(path, sizeof(path), "%s/broker.url", d->data_dir);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    if (!fgets(line, sizeof(line), f)) line[0] = '\0';
    fclose(f);
    line[strcspn(line, "\r\n")] = '\0';
    mqh_url_t u;
    if (mqh_parse_broker_url(line, &u, err, sizeof(err)) != 0) return -1;
    if (strcmp(u.host, "127.0.0.1") != 0 && strcmp(u.host, "localhost") != 0) return -1;
    return u.port;
}

static int write_config(mqotad_t *d, int port, char *conf, size_t cap)
{
    char dir[PATH_MAX + 16];
    snprintf(dir, sizeof(dir), "%s/broker", d->data_dir);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        mqh_log(MQH_ERROR, "cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    snprintf(conf, cap, "%s/mosquitto.conf", dir);
    FILE *f = fopen(conf, "w");
    if (!f) {
        mqh_log(MQH_ERROR, "cannot write %s: %s", conf, strerror(errno));
        return -1;
    }
    /* mosquitto started as root drops to user "mosquitto", who cannot write our directory:
     * name ourselves (the setting has no effect when we are not root). */
    struct passwd *pw = getpwuid(getuid());
    fprintf(f,
            "# Written by mqotad at every start; edits are overwritten.\n"
            "user %s\n"
            "# the devices' listener\n"
            "listener %d 127.0.0.1\n",
            pw ? pw->pw_name : "root", port);
    if (d->broker_tls)
        /* TLS only on this listener; no tls_version: mosquitto 2.0 allows TLS 1.2 and 1.3 */
        fprintf(f, "cafile %s\ncertfile %s\nkeyfile %s\nrequire_certificate false\n",
                d->tls_ca, d->tls_cert, d->tls_key);
    /* A client id is the username here: no device can take over another client's session.
     * Not on the open broker, whose anonymous clients it would refuse. */
    if (!d->open_broker) fprintf(f, "use_username_as_clientid true\n");
    fprintf(f, "# mqotad's own listener, reachable only on this host\nlistener 0 %s\n",
            d->broker_socket);
    if (d->open_broker) {
        fprintf(f, "allow_anonymous true\n");
    } else {
        char passwd[PATH_MAX], acl[PATH_MAX];
        auth__broker_paths(d, passwd, acl, sizeof(passwd));
        fprintf(f, "allow_anonymous false\npassword_file %s\nacl_file %s\n", passwd, acl);
    }
    fprintf(f,
            "persistence true\n"
            "persistence_location %s/\n"
            "autosave_interval 5\n"
            "max_queued_messages 100000\n"
            "log_dest file %s/mosquitto.log\n",
            dir, dir);
    if (fclose(f) != 0) return -1;
    return 0;
}

/*
 * Choose the path of mqotad's own Unix-socket listener: DIR/broker/BROKER_SOCKET_NAME, or, if
 * DIR is too long for a socket address, the same name in a fresh private (0700) directory under
 * /tmp; kept across restarts. An old socket file is removed. Returns 0, or -1 (logged).
 */
static int choose_socket(mqotad_t *d)
{
    struct sockaddr_un sun;
    int n = 0;
    if (!d->broker_socket[0]) /* a restart keeps the address we chose */
        n = snprintf(d->broker_socket, sizeof(d->broker_socket), "%s/broker/%s", d->data_dir,
                     BROKER_SOCKET_NAME);
    if (n < 0 || (size_t)n >= sizeof(d->broker_socket) || (size_t)n >= sizeof(sun.sun_path)) {
        char dir[] = "/tmp/mqotad-XXXXXX";
        if (!mkdtemp(dir)) {
            mqh_log(MQH_ERROR, "cannot create a directory for the broker's socket: %s",
                    strerror(errno));
            return -1;
        }
        snprintf(d->broker_socket, sizeof(d->broker_socket), "%s/%s", dir, BROKER_SOCKET_NAME);
    }
    if (unlink(d->broker_socket) != 0 && errno != ENOENT) {
        mqh_log(MQH_ERROR, "cannot remove the old broker socket %s: %s", d->broker_socket,
                strerror(errno));
        return -1;
    }
    return 0;
}

/* Fork and exec mosquitto; the child dies with us (PR_SET_PDEATHSIG) even on kill -9. */
static pid_t spawn(const char *conf)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid != 0) return pid;
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    /* One descriptor per client: a fleet of hundreds of devices needs more than the usual
     * soft limit of 1024, so the broker gets the hard limit. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (getppid() != parent) _exit(127);
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
        dup2(null, STDIN_FILENO);
        dup2(null, STDOUT_FILENO);
        if (null > STDERR_FILENO) close(null);
    }
    execlp("mosquitto", "mosquitto", "-c", conf, (char *)NULL);
    execl("/usr/sbin/mosquitto", "mosquitto", "-c", conf, (char *)NULL);
    fprintf(stderr, "mqotad: cannot run mosquitto: %s\n", strerror(errno));
    _exit(127);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/*
 * Start the embedded broker and wait (at most 10 s) until it accepts connections. Tries the
 * previous port first, then fresh free ports if mosquitto exits at once (a port race).
 * Sets d->broker_pid, d->broker_port, d->broker_socket, d->url (our own listener) and
 * d->broker_url (the devices'). Returns 0 or -1 (logged).
 */
int broker__start(mqotad_t *d)
{
    char conf[PATH_MAX + 64];
    int port = previous_port(d);
    if (port <= 0 || !port_free(port)) port = mqh_free_port();

    for (int attempt = 0; attempt < BROKER_START_TRIES; attempt++) {
        if (port <= 0) port = mqh_free_port();
        if (choose_socket(d) != 0) return -1;
        if (port <= 0 || write_config(d, port, conf, sizeof(conf)) != 0) return -1;
        pid_t pid = spawn(conf);
        if (pid < 0) {
            mqh_log(MQH_ERROR, "cannot fork the broker: %s", strerror(errno));
            return -1;
        }
        uint64_t deadline = mqh_now_ms() + BROKER_READY_MS;
        bool exited = false;
        while (mqh_now_ms() < deadline) {
            int status;
            if (waitpid(pid, &status, WNOHANG) == pid) {
                exited = true;
                break;
            }
            if (port_accepts(port) && access(d->broker_socket, F_OK) == 0) {
                d->broker_pid = pid;
                d->broker_port = port;
                snprintf(d->broker_url, sizeof(d->broker_url), "%s://127.0.0.1:%d",
                         d->broker_tls ? "mqtts" : "mqtt", port);
                /* we connect over our own listener: port 0 names a Unix socket to libmosquitto */
                snprintf(d->url.host, sizeof(d->url.host), "%s", d->broker_socket);
                d->url.port = 0;
                d->url.tls = false;
                if (d->broker_tls) d->ca_file = d->tls_ca;
                mqh_log(MQH_INFO, "embedded broker (pid %d) listening on %s (devices) and %s "
                        "(mqotad)", (int)pid, d->broker_url, d->broker_socket);
                return 0;
            }
            sleep_ms(20);
        }
        if (!exited) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            mqh_log(MQH_ERROR, "embedded broker did not accept connections on port %d "
                    "within %d s; see %s/broker/mosquitto.log", port, BROKER_READY_MS / 1000,
                    d->data_dir);
            return -1;
        }
        mqh_log(MQH_WARN, "embedded broker exited at once on port %d; trying another port",
                port);
        port = -1;
    }
    mqh_log(MQH_ERROR, "embedded broker would not start after %d tries; see "
            "%s/broker/mosquitto.log", BROKER_START_TRIES, d->data_dir);
    return -1;
}

/*
 * The embedded broker is ours to keep alive: if it died (crash, OOM kill, an operator's
 * kill), reap it and start it again on the same port, so that devices and our own client
 * reconnect to the address they know; its persistence file brings the retained offers and
 * states back. At most one restart a second. Returns 0, or -1 if it could not be restarted
 * (tried again on the next call).
 */
int broker__supervise(mqotad_t *d)
{
    static uint64_t last_restart_ms;
    int status;
    if (d->broker_pid <= 0) {
        if (!d->embedded_broker || d->broker_port <= 0) return 0;
    } else if (waitpid(d->broker_pid, &status, WNOHANG) != d->broker_pid) {
        return 0;
    } else {
        mqh_log(MQH_WARN, "embedded broker (pid %d) %s %d; restarting it on port %d",
                (int)d->broker_pid, WIFSIGNALED(status) ? "was killed by signal" : "exited with",
                WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status), d->broker_port);
        d->broker_pid = 0;
    }
    uint64_t now = mqh_now_ms();
    if (now - last_restart_ms < 1000u) return -1;
    last_restart_ms = now;
    return broker__start(d);
}

/* mosquitto rereads password_file and acl_file on SIGHUP (a new device was provisioned). */
void broker__reload(mqotad_t *d)
{
    if (d->broker_pid <= 0) return;
    if (kill(d->broker_pid, SIGHUP) == 0)
        mqh_log(MQH_INFO, "embedded broker reloads its password and ACL files");
}

/* SIGTERM the broker, wait up to 5 s, then SIGKILL; remove a socket directory under /tmp. */
void broker__stop(mqotad_t *d)
{
    if (d->broker_pid <= 0) return;
    kill(d->broker_pid, SIGTERM);
    uint64_t deadline = mqh_now_ms() + 5000;
    for (;;) {
        pid_t r = waitpid(d->broker_pid, NULL, WNOHANG);
        if (r == d->broker_pid || (r < 0 && errno != EINTR)) break;
        if (mqh_now_ms() >= deadline) {
            mqh_log(MQH_WARN, "embedded broker ignored SIGTERM for 5 s; killing it");
            kill(d->broker_pid, SIGKILL);
            waitpid(d->broker_pid, NULL, 0);
            break;
        }
        sleep_ms(20);
    }
    d->broker_pid = 0;
    /* a socket choose_socket() put under /tmp goes with its private directory */
    size_t dl = strlen(d->data_dir);
    if (d->broker_socket[0] && strncmp(d->broker_socket, d->data_dir, dl) != 0) {
        unlink(d->broker_socket);
        char *slash = strrchr(d->broker_socket, '/');
        if (slash) {
            *slash = '\0';
            rmdir(d->broker_socket);
        }
        d->broker_socket[0] = '\0';
    }
}
