/* SPDX-License-Identifier: Apache-2.0 */
/*
 * auth.c - broker identities and topic ACLs (docs/SECURITY.md §6).
 *
 * Every device has its own broker user (username = device id) with a random password; mqotad
 * has the user "mqotad". The broker keeps only password hashes, in mosquitto's password file
 * format, written by Debian's mosquitto_passwd (-U converts a 0600 temporary file of
 * "user:password" lines, so no password ever appears on a command line). The ACL file gives a
 * device its own topics only (auth__acl_text). Files, in DIR/auth/ (mode 0700):
 *
 *   passwd        user:$7$... lines (PBKDF2-SHA512), the broker's password_file
 *   acl           the broker's acl_file
 *   mqotad.pass   mqotad's own password (mode 0600): it must present it, so it is kept
 *   .lock         flock()ed while the files change (provisioning may run beside mqotad)
 *
 * Device passwords are printed once (a credentials file, below) and not kept anywhere.
 *
 * Provisioning also makes each device's 32-byte command key (docs/PROTOCOL.md §14.1,
 * docs/SECURITY.md §9): RAND_bytes, stored in DIR/mqota.db (table device_keys, both counters
 * reset) and written into the credentials file as command_key=<64 hex digits>. mqotad needs
 * the key to seal commands, so it keeps it (the database is mode 0600); revoke deletes it.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "legacy.h"
#include "mqotad.h"

#define PASSWORD_BYTES 24 /* 32 base64url characters, 192 bits */
#define COMMAND_KEY_BYTES 32 /* AES-256 */
#define LINE_MAX_LEN 512
#define MAX_USERS 100000

/* A random password: PASSWORD_BYTES from RAND_bytes in base64url without padding. */
static int random_password(char out[64])
{
    uint8_t raw[PASSWORD_BYTES];
    if (RAND_bytes(raw, sizeof(raw)) != 1) return -1;
    EVP_EncodeBlock((unsigned char *)out, raw, sizeof(raw)); /* 32 chars, no '=' for 24 B */
    OPENSSL_cleanse(raw, sizeof(raw));
    for (char *p = out; *p; p++) {
        if (*p == '+') *p = '-';
        else if (*p == '/') *p = '_';
    }
    return 0;
}

/* A broker username we accept: a device id (1..48 of [A-Za-z0-9_.-]); never the wildcards or
 * '/' that would change what an ACL pattern with %u matches. */
static bool valid_user(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 48) return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '.' || *s == '_' || *s == '-'))
            return false;
    return true;
}

static void auth_path(mqotad_t *d, const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%.*s/auth/%s", PATH_MAX - 40, d->data_dir, name);
}

const char *auth__acl_text(void)
{
    return "# mqota topic ACL (mosquitto acl_file). Written by mqotad; edits are overwritten.\n"
           "# A device's username is its device id; it reaches only its own topics and the\n"
           "# release streams (docs/SECURITY.md). Its last will is a write to its online topic.\n"
           "# It reads its sealed commands and writes its sealed replies; only mqotad may\n"
           "# publish a command (docs/SECURITY.md §9).\n"
           "pattern write mqota/v1/dev/%u/state\n"
           "pattern write mqota/v1/dev/%u/online\n"
           "pattern write mqota/v1/dev/%u/ack\n"
           "pattern write mqota/v1/dev/%u/reply\n"
           "pattern write mqota/v1/dev/%u/telemetry\n"
           "pattern write mqota/v1/dev/%u/health\n"
           "pattern read mqota/v1/dev/%u/offer\n"
           "pattern read mqota/v1/dev/%u/chunk\n"
           "pattern read mqota/v1/dev/%u/cmd\n"
           "pattern read mqota/v1/stream/#\n"
           "\n"
           "# the update server\n"
           "user " MQOTAD_BROKER_USER "\n"
           "topic readwrite mqota/v1/#\n";
}

/* Write text to path via a temporary file (mode) and rename. */
static int write_file(const char *path, const char *text, size_t len, mode_t mode)
{
    char tmp[PATH_MAX + 16];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) goto err;
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            close(fd);
            goto err;
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0 || rename(tmp, path) != 0) goto err;
    return 0;
err:
    fprintf(stderr, "mqotad: cannot write %s: %s.\n", path, strerror(errno));
    unlink(tmp);
    return -1;
}

/* Read a whole small file into a NUL-terminated heap buffer; NULL if absent or unreadable. */
static char *read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0) break;
        if (len + 1 == cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf) buf[len] = '\0';
    return buf;
}

/* Run mosquitto_passwd -U on a file of plain "user:password" lines (hashes them in place). */
static int hash_plain_file(const char *path)
{
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) {
            dup2(null, STDIN_FILENO);
            dup2(null, STDOUT_FILENO);
        }
        execlp("mosquitto_passwd", "mosquitto_passwd", "-U", path, (char *)NULL);
        execl("/usr/bin/mosquitto_passwd", "mosquitto_passwd", "-U", path, (char *)NULL);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return -1;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
        fprintf(stderr, "mqotad: cannot run mosquitto_passwd (package mosquitto); it writes the "
                "broker's password hashes.\n");
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/*
 * Set the passwords of n users: hash "user:password" with mosquitto_passwd into a temporary
 * file, then rewrite DIR/auth/passwd with every other user's line kept and these replaced.
 * The caller holds the lock. Returns 0 or -1 (one sentence on stderr).
 */
static int set_passwords(mqotad_t *d, char *const *users, char (*pw)[64], int n)
{
    char path[PATH_MAX], tmp[PATH_MAX + 16];
    auth_path(d, "passwd", path, sizeof(path));
    snprintf(tmp, sizeof(tmp), "%s.plain", path);
    int rc = -1;
    char *old = NULL, *hashed = NULL, *out = NULL;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        if (fd >= 0) close(fd);
        fprintf(stderr, "mqotad: cannot write %s: %s.\n", tmp, strerror(errno));
        return -1;
    }
    for (int i = 0; i < n; i++) fprintf(f, "%s:%s\n", users[i], pw[i]);
    if (fclose(f) != 0 || hash_plain_file(tmp) != 0) {
        fprintf(stderr, "mqotad: mosquitto_passwd could not hash the new passwords.\n");
        goto out;
    }
    hashed = read_file(tmp);
    old = read_file(path);
    if (!hashed) goto out;
    size_t cap = strlen(hashed) + (old ? strlen(old) : 0) + 2, len = 0;
    out = malloc(cap);
    if (!out) goto out;
    /* keep the lines of users not being set */
    for (char *save = NULL, *line = old ? strtok_r(old, "\n", &save) : NULL; line;
         line = strtok_r(NULL, "\n", &save)) {
        const char *colon = strchr(line, ':');
        bool replaced = false;
        for (int i = 0; colon && i < n; i++)
            if (strlen(users[i]) == (size_t)(colon - line) &&
                strncmp(line, users[i], (size_t)(colon - line)) == 0)
                replaced = true;
        if (!replaced && colon) len += (size_t)snprintf(out + len, cap - len, "%s\n", line);
    }
    int got = 0;
    for (char *save = NULL, *line = strtok_r(hashed, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        if (strstr(line, ":$7$") == NULL) continue;
        len += (size_t)snprintf(out + len, cap - len, "%s\n", line);
        got++;
    }
    if (got != n) {
        fprintf(stderr, "mqotad: mosquitto_passwd returned %d hashes for %d users.\n", got, n);
        goto out;
    }
    rc = write_file(path, out, len, 0600);
out:
    unlink(tmp);
    if (hashed) OPENSSL_cleanse(hashed, strlen(hashed));
    free(hashed);
    free(old);
    free(out);
    return rc;
}

/* True if DIR/auth/passwd has a line for user. */
static bool has_user(mqotad_t *d, const char *user)
{
    char path[PATH_MAX];
    auth_path(d, "passwd", path, sizeof(path));
    char *text = read_file(path);
    if (!text) return false;
    bool found = false;
    size_t n = strlen(user);
    for (char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (strncmp(p, user, n) == 0 && p[n] == ':') found = true;
    free(text);
    return found;
}

/* The first of ids[0..n) that has a line in DIR/auth/passwd (read once), or NULL. */
static const char *first_provisioned(mqotad_t *d, char *const *ids, int n)
{
    char path[PATH_MAX];
    auth_path(d, "passwd", path, sizeof(path));
    char *text = read_file(path);
    const char *found = NULL;
    for (char *p = text; p && *p && !found; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        const char *colon = strchr(p, ':');
        if (!colon) continue;
        size_t len = (size_t)(colon - p);
        for (int i = 0; i < n && !found; i++)
            if (strlen(ids[i]) == len && strncmp(p, ids[i], len) == 0) found = ids[i];
    }
    free(text);
    return found;
}

/* mkdir DIR/auth, take its lock. Returns the lock's descriptor or -1. */
static int lock_auth(mqotad_t *d)
{
    char dir[PATH_MAX], lock[PATH_MAX];
    snprintf(dir, sizeof(dir), "%.*s/auth", PATH_MAX - 16, d->data_dir);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "mqotad: cannot create %s: %s.\n", dir, strerror(errno));
        return -1;
    }
    auth_path(d, ".lock", lock, sizeof(lock));
    int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0 || flock(fd, LOCK_EX) != 0) {
        fprintf(stderr, "mqotad: cannot lock %s: %s.\n", lock, strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    return fd;
}

/* A topic that may reach the ACL file: 1..LEGACY_TOPIC_MAX printable bytes, no space, no
 * wildcard (a '+' or '#' would widen the line; a newline would add lines). */
static bool acl_topic_ok(const char *t)
{
    size_t n = strlen(t);
    if (n == 0 || n > LEGACY_TOPIC_MAX) return false;
    for (; *t; t++)
        if (*t <= 0x20 || *t >= 0x7f || *t == '+' || *t == '#') return false;
    return true;
}

/* True if every topic of tp may reach the ACL file. */
static bool acl_topics_ok(const legacy_topics_t *tp)
{
    for (int i = 0; i < tp->n_reads; i++)
        if (!acl_topic_ok(tp->reads[i])) return false;
    for (int i = 0; i < tp->n_writes; i++)
        if (!acl_topic_ok(tp->writes[i])) return false;
    return true;
}

/* A growing text: the ACL's lines for legacy devices. */
typedef struct {
    char *server;  /* mqotad's lines on the devices' topics */
    char *devices; /* one user block per legacy device with a broker identity */
    size_t slen, dlen, scap, dcap;
    bool oom;
} legacy_acl_t;

static void acl_add(legacy_acl_t *a, bool server, const char *verb, const char *topic)
{
    char **buf = server ? &a->server : &a->devices;
    size_t *len = server ? &a->slen : &a->dlen, *cap = server ? &a->scap : &a->dcap;
    size_t need = strlen(verb) + strlen(topic) + 4;
    if (a->oom) return;
    if (*len + need >= *cap) {
        size_t nc = (*cap ? *cap * 2 : 1024) + need;
        char *nb = realloc(*buf, nc);
        if (!nb) {
            a->oom = true;
            return;
        }
        *buf = nb;
        *cap = nc;
    }
    *len += (size_t)snprintf(*buf + *len, *cap - *len, "%s %s\n", verb, topic);
}

/* db__legacy_list()'s callback: one legacy device's lines. mqotad writes what the device
 * reads and reads what it writes; a device with params.mqtt_user gets a user block with its
 * own topics only. A device whose parameters give no topic that may reach the file is left
 * out (logged): registration refuses those. */
static int legacy_acl_one(void *ctx, const char *id, db_protocol_t p, const char *params)
{
    legacy_acl_t *a = ctx;
    const legacy_adapter_t *ad = p == DB_PROTO_MQOTA ? NULL : legacy__adapter(p);
    legacy_topics_t tp = {0};
    if (!ad || !ad->topics) return 0; /* migrated, or not an MQTT protocol */
    cJSON *j = cJSON_Parse(params);
    const cJSON *user = cJSON_GetObjectItemCaseSensitive(j, "mqtt_user");
    if (!j || ad->topics(j, &tp) != 0 || !acl_topics_ok(&tp)) {
        mqh_log(MQH_WARN, "legacy device %s: its topics are left out of the broker's ACL (its "
                "parameters give none that may be written there)", id);
        cJSON_Delete(j);
        return 0;
    }
    for (int i = 0; i < tp.n_reads; i++) acl_add(a, true, "topic write", tp.reads[i]);
    for (int i = 0; i < tp.n_writes; i++) acl_add(a, true, "topic read", tp.writes[i]);
    if (cJSON_IsString(user) && valid_user(user->valuestring) &&
        strcmp(user->valuestring, MQOTAD_BROKER_USER) != 0) {
        acl_add(a, false, "\n# legacy device", id);
        acl_add(a, false, "user", user->valuestring);
        for (int i = 0; i < tp.n_reads; i++) acl_add(a, false, "topic read", tp.reads[i]);
        for (int i = 0; i < tp.n_writes; i++) acl_add(a, false, "topic write", tp.writes[i]);
    }
    cJSON_Delete(j);
    return 0;
}

/*
 * The whole ACL file: auth__acl_text(), mqotad's lines on every registered legacy device's
 * topics (they follow its "user" line), then one user block per legacy device with a broker
 * identity (docs/SECURITY.md §7). The legacy devices come from the database (d->db, or
 * DIR/mqota.db opened here by the subcommands). A malloc'd string, or NULL (printed).
 */
static char *acl_full_text(mqotad_t *d)
{
    legacy_acl_t a = {0};
    db_t *db = d->db;
    if (!db) {
        char path[PATH_MAX + 32];
        snprintf(path, sizeof(path), "%s/mqota.db", d->data_dir);
        if (db__open(&db, path) != 0) {
            fprintf(stderr, "mqotad: cannot open %s for the legacy devices' ACL lines.\n", path);
            return NULL;
        }
    }
    int rc = db__legacy_list(db, legacy_acl_one, &a);
    if (db != d->db) db__close(db);
    const char *base = auth__acl_text();
    size_t n = strlen(base) + a.slen + a.dlen + 128;
    char *out = rc == 0 && !a.oom ? malloc(n) : NULL;
    if (out)
        snprintf(out, n, "%s%s%s%s", base, a.server ? a.server : "",
                 a.devices ? "\n# legacy devices (docs/LEGACY.md): each its own topics only\n"
                           : "",
                 a.devices ? a.devices : "");
    else
        fprintf(stderr, "mqotad: cannot list the legacy devices for the broker's ACL.\n");
    free(a.server);
    free(a.devices);
    return out;
}

static int write_acl(mqotad_t *d)
{
    char path[PATH_MAX];
    auth_path(d, "acl", path, sizeof(path));
    char *text = acl_full_text(d);
    int rc = text ? write_file(path, text, strlen(text), 0600) : -1;
    free(text);
    return rc;
}

/* Drop user's line from DIR/auth/passwd (absent: nothing to do). The caller holds the lock. */
static int remove_user(mqotad_t *d, const char *user)
{
    char path[PATH_MAX];
    auth_path(d, "passwd", path, sizeof(path));
    char *text = read_file(path);
    if (!text) return 0;
    char *out = malloc(strlen(text) + 2); /* + a newline the last line may lack, + NUL */
    size_t len = 0, ul = strlen(user);
    int rc = -1;
    if (out) {
        for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
             line = strtok_r(NULL, "\n", &save))
            if (!(strncmp(line, user, ul) == 0 && line[ul] == ':'))
                len += (size_t)sprintf(out + len, "%s\n", line);
        rc = write_file(path, out, len, 0600);
    }
    free(text);
    free(out);
    return rc;
}

int auth__legacy_check(mqotad_t *d, const char *device_id, db_protocol_t p,
                       const cJSON *params, const char *user, const char *password,
                       const char *old_user, char *err, size_t err_len)
{
    const legacy_adapter_t *ad = legacy__adapter(p);
    legacy_topics_t tp = {0};
    if (ad && ad->topics && ad->topics(params, &tp) == 0 && !acl_topics_ok(&tp)) {
        snprintf(err, err_len, "the device's topics reach the broker's ACL file, so each must be "
                 "1 to %d printable bytes without spaces, '+' or '#'", LEGACY_TOPIC_MAX);
        return -1;
    }
    if (!user && !password) return 0;
    if (!ad || !ad->topics) {
        snprintf(err, err_len, "protocol %s does not speak MQTT: params.mqtt_user and "
                 "params.mqtt_password are for b64, md5 and tcp devices", db__protocol_name(p));
        return -1;
    }
    if (!user || !password) {
        snprintf(err, err_len, "params.mqtt_user and params.mqtt_password go together: the "
                 "broker login the device's firmware presents");
        return -1;
    }
    if (!valid_user(user) || strcmp(user, MQOTAD_BROKER_USER) == 0) {
        snprintf(err, err_len, "params.mqtt_user must be 1 to 48 letters, digits, '.', '_' or "
                 "'-', and not '%s'", MQOTAD_BROKER_USER);
        return -1;
    }
    size_t n = strlen(password);
    bool printable = n >= 1 && n <= AUTH_LEGACY_PASSWORD_MAX;
    for (size_t i = 0; printable && i < n; i++)
        if (password[i] < 0x20 || password[i] > 0x7e) printable = false;
    if (!printable) {
        snprintf(err, err_len, "params.mqtt_password must be 1 to %d printable ASCII characters",
                 AUTH_LEGACY_PASSWORD_MAX);
        return -1;
    }
    db_device_t other;
    /* its own: the identity it has, or the native one provisioned under its device id */
    bool own = (old_user && strcmp(old_user, user) == 0) || strcmp(user, device_id) == 0;
    if ((!own && has_user(d, user)) ||
        (strcmp(user, device_id) != 0 && d->db && db__device_get(d->db, user, &other) == 0)) {
        snprintf(err, err_len, "params.mqtt_user '%s' is another device's broker identity or "
                 "device id; a legacy device acts only as itself", user);
        return -1;
    }
    return 0;
}

int auth__legacy_identity(mqotad_t *d, const char *user, const char *password,
                          const char *old_user)
{
    int lock = lock_auth(d);
    if (lock < 0) return -1;
    int rc = 0;
    if (old_user && (!user || strcmp(old_user, user) != 0)) rc = remove_user(d, old_user);
    if (rc == 0 && user && password) {
        char *users[1] = {(char *)user};
        char pw[1][64];
        snprintf(pw[0], sizeof(pw[0]), "%s", password);
        rc = set_passwords(d, users, pw, 1);
        OPENSSL_cleanse(pw, sizeof(pw));
    }
    if (rc == 0) rc = write_acl(d);
    close(lock);
    return rc;
}

/*
 * Make sure mqotad's own broker identity exists (user "mqotad", password in
 * DIR/auth/mqotad.pass, mode 0600) and the ACL file is current; load the password into
 * d->mqtt_pass. Returns 0 or -1 (printed).
 */
int auth__ensure_server_identity(mqotad_t *d)
{
    char passfile[PATH_MAX];
    int lock = lock_auth(d);
    if (lock < 0) return -1;
    int rc = -1;
    auth_path(d, "mqotad.pass", passfile, sizeof(passfile));
    char *text = read_file(passfile);
    if (text) text[strcspn(text, "\r\n")] = '\0';
    if (!text || !*text || !has_user(d, MQOTAD_BROKER_USER)) {
        char pw[1][64];
        char *users[1] = {MQOTAD_BROKER_USER};
        if (random_password(pw[0]) != 0) goto out;
        char line[80];
        int n = snprintf(line, sizeof(line), "%s\n", pw[0]);
        if (write_file(passfile, line, (size_t)n, 0600) != 0 ||
            set_passwords(d, users, pw, 1) != 0)
            goto out;
        snprintf(d->mqtt_pass, sizeof(d->mqtt_pass), "%s", pw[0]);
        OPENSSL_cleanse(pw, sizeof(pw));
        OPENSSL_cleanse(line, sizeof(line));
        mqh_log(MQH_INFO, "created mqotad's broker identity (user %s, password in %s)",
                MQOTAD_BROKER_USER, passfile);
    } else {
        snprintf(d->mqtt_pass, sizeof(d->mqtt_pass), "%s", text);
    }
    snprintf(d->mqtt_user, sizeof(d->mqtt_user), "%s", MQOTAD_BROKER_USER);
    rc = write_acl(d);
out:
    if (text) OPENSSL_cleanse(text, strlen(text));
    free(text);
    close(lock);
    return rc;
}

/* Ask a running mqotad (DIR/mqotad.pid) to make its embedded broker reload the files. */
static void signal_running_mqotad(mqotad_t *d)
{
    char path[PATH_MAX + 32], comm[64] = "";
    snprintf(path, sizeof(path), "%s/mqotad.pid", d->data_dir);
    FILE *f = fopen(path, "r");
    int pid = 0;
    if (!f) return;
    if (fscanf(f, "%d", &pid) != 1) pid = 0;
    fclose(f);
    if (pid <= 1) return;
    snprintf(path, sizeof(path), "/proc/%d/comm", pid);
    f = fopen(path, "r");
    if (!f) return; /* not running */
    if (!fgets(comm, sizeof(comm), f)) comm[0] = '\0';
    fclose(f);
    comm[strcspn(comm, "\n")] = '\0';
    if (strcmp(comm, "mqotad") != 0) return; /* a stale pid file, reused by another process */
    if (kill(pid, SIGHUP) == 0)
        fprintf(stderr, "mqotad: asked the running mqotad (pid %d) to reload the broker's "
                "password and ACL files.\n", pid);
}

/* The broker URL (DIR/broker.url) and, with --broker-tls, the CA path, for credentials. */
static void broker_info(mqotad_t *d, char *url, size_t ucap, char *ca, size_t ccap)
{
    char path[PATH_MAX + 32];
    url[0] = ca[0] = '\0';
    snprintf(path, sizeof(path), "%s/broker.url", d->data_dir);
    char *text = read_file(path);
    if (text) {
        text[strcspn(text, "\r\n")] = '\0';
        snprintf(url, ucap, "%s", text);
        free(text);
    }
    snprintf(path, sizeof(path), "%s/tls/ca.crt", d->data_dir);
    if (access(path, R_OK) == 0) {
        char *abs = realpath(path, NULL);
        snprintf(ca, ccap, "%s", abs ? abs : path);
        free(abs);
    }
}

/* The text of a device's credentials file into text (cap bytes); its length, or -1. */
static int format_credentials(char *text, size_t cap, const char *user, const char *pw,
                              const uint8_t key[COMMAND_KEY_BYTES], const char *url,
                              const char *ca)
{
    char key_hex[2 * COMMAND_KEY_BYTES + 1];
    mqh_hex(key, COMMAND_KEY_BYTES, key_hex);
    int n = snprintf(text, cap,
                     "# mqota credentials of device %s (mqotad device provision).\n"
                     "# Secret: shown only now. mqotad keeps the password's hash and the\n"
                     "# command key (it seals the device's commands with it).\n"
                     "username=%s\npassword=%s\ncommand_key=%s\n%s%s%s%s%s%s",
                     user, user, pw, key_hex, url[0] ? "broker=" : "", url, url[0] ? "\n" : "",
                     ca[0] ? "ca=" : "", ca, ca[0] ? "\n" : "");
    OPENSSL_cleanse(key_hex, sizeof(key_hex));
    return n < 0 || (size_t)n >= cap ? -1 : n;
}

/* DIR/mqota.db, where the command keys live (the daemon may have it open: SQLite WAL). */
static int open_db(mqotad_t *d, db_t **db)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/mqota.db", d->data_dir);
    if (db__open(db, path) != 0) {
        fprintf(stderr, "mqotad: cannot open the database %s to store the command keys.\n",
                path);
        return -1;
    }
    return 0;
}

/* Store n new command keys in one transaction (replacing old ones, counters reset). */
static int store_keys(mqotad_t *d, char *const *ids, uint8_t (*keys)[COMMAND_KEY_BYTES], int n)
{
    db_t *db = NULL;
    if (open_db(d, &db) != 0) return -1;
    int64_t now = mqh_unix_now();
    int rc = db__begin(db);
    for (int i = 0; rc == 0 && i < n; i++) rc = db__key_put(db, ids[i], keys[i], now);
    if (rc == 0) rc = db__commit(db);
    if (rc != 0) {
        db__rollback(db);
        fprintf(stderr, "mqotad: cannot store the command keys in %s/mqota.db.\n", d->data_dir);
    }
    db__close(db);
    return rc;
}

int auth__provision(mqotad_t *d, char *const *ids, int n, bool replace, char **texts,
                    char *err, size_t err_len)
{
    int rc = -1, lock = -1;
    char (*pw)[64] = NULL;
    uint8_t (*keys)[COMMAND_KEY_BYTES] = NULL;
    for (int i = 0; i < n; i++) texts[i] = NULL;
    if (n < 1 || n > AUTH_PROVISION_MAX) {
        snprintf(err, err_len, "give 1 to %d device ids to provision", AUTH_PROVISION_MAX);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        if (!valid_user(ids[i]) || strcmp(ids[i], MQOTAD_BROKER_USER) == 0) {
            snprintf(err, err_len, "device id '%.80s' must be 1 to 48 letters, digits, '.', '_' "
                     "or '-', and not '%s'", ids[i], MQOTAD_BROKER_USER);
            return -1;
        }
        for (int k = 0; k < i; k++)
            if (strcmp(ids[k], ids[i]) == 0) {
                snprintf(err, err_len, "device id '%.80s' is given twice", ids[i]);
                return -1;
            }
    }
    pw = calloc((size_t)n, sizeof(*pw));
    keys = calloc((size_t)n, sizeof(*keys));
    if (!pw || !keys) {
        snprintf(err, err_len, "out of memory");
        goto out;
    }
    if ((lock = lock_auth(d)) < 0) {
        snprintf(err, err_len, "cannot lock %s/auth (another provisioning?)", d->data_dir);
        goto out;
    }
    const char *exists = replace ? NULL : first_provisioned(d, ids, n);
    if (exists) {
        snprintf(err, err_len, "device '%s' is already provisioned; provisioning it again "
                 "replaces its password and command key, which locks the real device out until "
                 "it gets the new credentials file: confirm with --replace (API: \"replace\": "
                 "true)", exists);
        rc = AUTH_PROVISION_EXISTS;
        goto out;
    }
    for (int i = 0; i < n; i++)
        if (random_password(pw[i]) != 0 || RAND_bytes(keys[i], COMMAND_KEY_BYTES) != 1) {
            snprintf(err, err_len, "the random number generator failed");
            goto out;
        }
    if (store_keys(d, ids, keys, n) != 0) {
        snprintf(err, err_len, "cannot store the command keys in %s/mqota.db", d->data_dir);
        goto out;
    }
    if (set_passwords(d, ids, pw, n) != 0 || write_acl(d) != 0) {
        snprintf(err, err_len, "cannot write the broker's password and ACL files in %s/auth",
                 d->data_dir);
        goto out;
    }
    char url[300], ca[PATH_MAX];
    broker_info(d, url, sizeof(url), ca, sizeof(ca));
    for (int i = 0; i < n; i++) {
        char text[PATH_MAX + 1024];
        int len = format_credentials(text, sizeof(text), ids[i], pw[i], keys[i], url, ca);
        texts[i] = len < 0 ? NULL : strdup(text);
        OPENSSL_cleanse(text, sizeof(text));
        if (!texts[i]) {
            snprintf(err, err_len, "out of memory");
            goto out;
        }
    }
    rc = 0;
out:
    if (rc != 0)
        for (int i = 0; i < n; i++) {
            if (texts[i]) OPENSSL_cleanse(texts[i], strlen(texts[i]));
            free(texts[i]);
            texts[i] = NULL;
        }
    if (pw) OPENSSL_cleanse(pw, (size_t)n * sizeof(*pw));
    if (keys) OPENSSL_cleanse(keys, (size_t)n * sizeof(*keys));
    free(pw);
    free(keys);
    if (lock >= 0) close(lock);
    return rc;
}

/* device provision [--out-dir DIR] ID... */
static int cmd_provision(mqotad_t *d, int argc, char **argv)
{
    const char *out_dir = NULL;
    bool replace = false;
    char **ids = calloc((size_t)argc + 1, sizeof(*ids));
    char **texts = calloc((size_t)argc + 1, sizeof(*texts));
    char err[300];
    int n = 0, rc = 1;
    if (!ids || !texts) goto out;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--out-dir") == 0 && i + 1 < argc) {
            out_dir = argv[++i];
        } else if (strcmp(argv[i], "--replace") == 0) {
            replace = true;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "mqotad: device provision: unknown option '%s'; usage: mqotad --data "
                    "DIR device provision [--replace] [--out-dir DIR] ID...\n", argv[i]);
            rc = 2;
            goto out;
        } else {
            ids[n++] = argv[i];
        }
    }
    if (n == 0 || (n > 1 && !out_dir)) {
        fprintf(stderr, "mqotad: usage: mqotad --data DIR device provision ID (prints its "
                "credentials) | device provision --out-dir DIR ID... (writes DIR/<id>.cred).\n");
        rc = 2;
        goto out;
    }
    if (out_dir && mkdir(out_dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "mqotad: --out-dir %s: cannot create the directory: %s.\n", out_dir,
                strerror(errno));
        goto out;
    }
    int prc = auth__provision(d, ids, n, replace, texts, err, sizeof(err));
    if (prc != 0) {
        fprintf(stderr, "mqotad: device provision: %s.\n", err);
        rc = prc != AUTH_PROVISION_EXISTS &&
             (strncmp(err, "device id", 9) == 0 || strncmp(err, "give ", 5) == 0) ? 2 : 1;
        goto out;
    }
    for (int i = 0; i < n; i++) {
        if (!out_dir) {
            fputs(texts[i], stdout);
            continue;
        }
        char path[PATH_MAX + 64];
        snprintf(path, sizeof(path), "%s/%s.cred", out_dir, ids[i]);
        if (write_file(path, texts[i], strlen(texts[i]), 0600) != 0) {
            fprintf(stderr, "mqotad: cannot write %s: %s.\n", path, strerror(errno));
            goto out;
        }
    }
    fprintf(stderr, "mqotad: provisioned %d device%s%s%s; the password%s shown only now.\n", n,
            n == 1 ? "" : "s", out_dir ? ", credentials in " : "", out_dir ? out_dir : "",
            n == 1 ? " is" : "s are");
    signal_running_mqotad(d);
    rc = 0;
out:
    for (int i = 0; texts && i < n; i++) {
        if (texts[i]) OPENSSL_cleanse(texts[i], strlen(texts[i]));
        free(texts[i]);
    }
    free(texts);
    free(ids);
    return rc;
}

static int cmd_revoke(mqotad_t *d, const char *id)
{
    char path[PATH_MAX];
    int lock = lock_auth(d);
    if (lock < 0) return 1;
    auth_path(d, "passwd", path, sizeof(path));
    char *text = read_file(path);
    int rc = 1;
    bool found = false;
    size_t len = 0, idl = strlen(id);
    char *out = malloc(text ? strlen(text) + 1 : 1);
    if (!out) goto out;
    for (char *save = NULL, *line = text ? strtok_r(text, "\n", &save) : NULL; line;
         line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, id, idl) == 0 && line[idl] == ':') {
            found = true;
            continue;
        }
        len += (size_t)sprintf(out + len, "%s\n", line);
    }
    if (!found || strcmp(id, MQOTAD_BROKER_USER) == 0) {
        fprintf(stderr, "mqotad: there is no provisioned device '%.80s'.\n", id);
        goto out;
    }
    if (write_file(path, out, len, 0600) != 0) goto out;
    db_t *db = NULL;
    int expired = 0;
    if (open_db(d, &db) != 0 || db__key_delete(db, id) < 0 ||
        db__command_expire_device(db, id, mqh_unix_now(), &expired) != 0) {
        fprintf(stderr, "mqotad: revoked the broker identity of '%s' but could not delete its "
                "command key; run 'device revoke %s' again.\n", id, id);
        db__close(db);
        goto out;
    }
    db__close(db);
    printf("revoked the broker identity and command key of device '%s'%s\n", id,
           expired ? " (its queued commands expired)" : "");
    signal_running_mqotad(d);
    rc = 0;
out:
    free(text);
    free(out);
    close(lock);
    return rc;
}

/* broker-files OUTDIR: passwd, acl and a mosquitto.conf fragment for an external broker. */
static int cmd_broker_files(mqotad_t *d, const char *dir)
{
    char src[PATH_MAX], path[PATH_MAX + 64];
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "mqotad: broker-files %s: cannot create the directory: %s.\n", dir,
                strerror(errno));
        return 1;
    }
    if (auth__ensure_server_identity(d) != 0) return 1;
    auth_path(d, "passwd", src, sizeof(src));
    char *text = read_file(src);
    if (!text) return 1;
    snprintf(path, sizeof(path), "%s/passwd", dir);
    int rc = write_file(path, text, strlen(text), 0600);
    free(text);
    snprintf(path, sizeof(path), "%s/acl", dir);
    char *acl = rc == 0 ? acl_full_text(d) : NULL;
    if (rc == 0) rc = acl ? write_file(path, acl, strlen(acl), 0644) : -1;
    free(acl);
    char conf[PATH_MAX * 2 + 512];
    char *abs = realpath(dir, NULL);
    int n = snprintf(conf, sizeof(conf),
                     "# mqota: include in mosquitto.conf (mosquitto 2.0), then reload\n"
                     "# the broker (SIGHUP) after every 'mqotad device provision'.\n"
                     "allow_anonymous false\n"
                     "password_file %s/passwd\n"
                     "acl_file %s/acl\n",
                     abs ? abs : dir, abs ? abs : dir);
    free(abs);
    snprintf(path, sizeof(path), "%s/mosquitto-mqota.conf", dir);
    if (rc == 0) rc = write_file(path, conf, (size_t)n, 0644);
    if (rc != 0) return 1;
    printf("wrote %s/passwd, %s/acl and %s/mosquitto-mqota.conf; mqotad connects as user '%s' "
           "with the password in %s/auth/mqotad.pass\n", dir, dir, dir, MQOTAD_BROKER_USER,
           d->data_dir);
    return 0;
}

int auth__command(mqotad_t *d)
{
    int argc = d->cmd_argc;
    char **argv = d->cmd_argv;
    if (strcmp(d->cmd_name, "broker-files") == 0) {
        if (argc != 1) {
            fprintf(stderr, "mqotad: usage: mqotad --data DIR broker-files OUTDIR\n");
            return 2;
        }
        return cmd_broker_files(d, argv[0]);
    }
    const char *verb = argc > 0 ? argv[0] : "";
    if (strcmp(verb, "provision") == 0) return cmd_provision(d, argc - 1, argv + 1);
    if (strcmp(verb, "revoke") == 0 && argc == 2) return cmd_revoke(d, argv[1]);
    fprintf(stderr, "mqotad: usage: mqotad --data DIR device provision [--replace] [--out-dir DIR] ID... | "
            "device revoke ID\n");
    return 2;
}

/* Paths of the files the embedded broker reads. */
void auth__broker_paths(mqotad_t *d, char *passwd, char *acl, size_t cap)
{
    auth_path(d, "passwd", passwd, cap);
    auth_path(d, "acl", acl, cap);
}
