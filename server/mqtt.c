/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mqtt.c - mqotad's MQTT client: connect, subscribe, reconnect with backoff, dispatch
 * incoming messages to their handlers. No threads: the main loop drives the socket with
 * mqtt__io() and mosquitto_loop_read/write/misc.
 *
 * Our client id is "mqotad-" and CLIENT_ID_RANDOM_BYTES from RAND_bytes in hex, so no other
 * client can guess it and take our session over (docs/SECURITY.md §7.2). If one does anyway
 * (an id read from a log, a broker that lets clients pick any id), the broker ends our session.
 * MQTT 5 may say so (reason 0x8E, session taken over); otherwise the broker only closes the
 * link (MQTT 3.1.1, and mosquitto 2.0.11 even with MQTT 5), so SHORT_SESSIONS_TAKEOVER
 * sessions in a row, each lost within SHORT_SESSION_MS of its start, count as a takeover too.
 * We log one warning and reconnect at once under a fresh random id; deployments carry on as
 * after any reconnect.
 */
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "handle.h"
#include "legacy.h"
#include "mqotad.h"
#include "telemetry.h"

#define KEEPALIVE_S 30
#define BACKOFF_MIN_MS 500u
#define BACKOFF_MAX_MS 10000u
#define MQTT_MAX_PACKET 268435455u /* the protocol's limit when the broker names none */
/* "mqotad-" + 16 hex digits = 23 characters, the longest id every MQTT 3.1.1 broker accepts */
#define CLIENT_ID_RANDOM_BYTES 8
#define SHORT_SESSION_MS 10000u
#define SHORT_SESSIONS_TAKEOVER 2

/* Schedule the next connection attempt: exponential backoff 0.5 s .. 10 s, plus jitter. */
static void schedule_reconnect(mqotad_t *d)
{
    uint32_t jitter = (uint32_t)(rand() % (int)(d->backoff_ms / 4 + 1));
    d->reconnect_at_ms = mqh_now_ms() + d->backoff_ms + jitter;
    d->backoff_ms = d->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : d->backoff_ms * 2;
}

static void on_connect(struct mosquitto *mosq, void *obj, int rc, int flags,
                       const mosquitto_property *props)
{
    mqotad_t *d = obj;
    (void)flags;
    if (rc != 0) {
        mqh_log(MQH_WARN, "broker %s refused the connection: %s", d->broker_url,
                d->mqtt_version == 5 ? mosquitto_reason_string(rc) : mosquitto_connack_string(rc));
        return;
    }
    uint32_t maxp = 0;
    d->max_packet = MQTT_MAX_PACKET;
    if (props && mosquitto_property_read_int32(props, MQTT_PROP_MAXIMUM_PACKET_SIZE, &maxp,
                                               false) && maxp > 0)
        d->max_packet = maxp;
    d->mqtt_connected = true;
    d->mqtt_connected_at_ms = mqh_now_ms();
    d->offers_due = true;
    d->backoff_ms = BACKOFF_MIN_MS;
    mosquitto_subscribe(mosq, NULL, MQOTAD_TOPIC_PREFIX "+/state", 1);
    mosquitto_subscribe(mosq, NULL, MQOTAD_TOPIC_PREFIX "+/online", 1);
    mosquitto_subscribe(mosq, NULL, MQOTAD_TOPIC_PREFIX "+/ack", 0);
    mosquitto_subscribe(mosq, NULL, MQOTAD_TOPIC_PREFIX "+/reply", 1);
    mosquitto_subscribe(mosq, NULL, MQOTAD_TOPIC_PREFIX "+/telemetry", 0);
    mosquitto_subscribe(mosq, NULL, MQOTAD_TOPIC_PREFIX "+/health", 1);
    legacy__on_connect(d); /* each legacy device's own topics (docs/LEGACY.md) */
    mqh_log(MQH_INFO, "connected to %s (MQTT %s, max packet %u bytes)", d->broker_url,
            d->mqtt_version == 5 ? "5" : "3.1.1", d->max_packet);
}

/*
 * Our session ended (reason: an MQTT 5 reason code from the broker's DISCONNECT, or a
 * libmosquitto error). Decides whether another client took it over (see the file comment): then
 * one warning, a fresh client id at the next connection attempt, and that attempt soon.
 */
static void session_lost(mqotad_t *d, int reason, const char *why)
{
    if (!d->mqtt_connected) return;
    d->mqtt_connected = false;
    bool short_session = mqh_now_ms() - d->mqtt_connected_at_ms < SHORT_SESSION_MS;
    d->mqtt_short_sessions = short_session ? d->mqtt_short_sessions + 1 : 0;
    bool taken_over = reason == MQTT_RC_SESSION_TAKEN_OVER ||
                      d->mqtt_short_sessions >= SHORT_SESSIONS_TAKEOVER;
    if (!taken_over) {
        mqh_log(MQH_WARN, "lost the broker %s (%s); reconnecting", d->broker_url, why);
        return;
    }
    if (reason == MQTT_RC_SESSION_TAKEN_OVER)
        mqh_log(MQH_WARN, "another client connected to %s with mqotad's client id and took its "
                "session over (MQTT reason 0x8E); reconnecting under a fresh random client id",
                d->broker_url);
    else
        mqh_log(MQH_WARN, "the broker %s ended mqotad's session %d times in a row within %u s "
                "of connecting, as when another client uses its client id; reconnecting under "
                "a fresh random client id", d->broker_url, d->mqtt_short_sessions,
                SHORT_SESSION_MS / 1000u);
    d->mqtt_short_sessions = 0;
    d->mqtt_new_id = true;
    d->backoff_ms = BACKOFF_MIN_MS;
}

static void on_disconnect(struct mosquitto *mosq, void *obj, int rc,
                          const mosquitto_property *props)
{
    mqotad_t *d = obj;
    (void)mosq;
    (void)props;
    /* libmosquitto passes the broker's reason code, or its own error for a lost link */
    const char *why = rc < MQTT_RC_UNSPECIFIED ? mosquitto_strerror(rc)
                                               : mosquitto_reason_string(rc);
    session_lost(d, rc, why);
}

/* What a device publishes, by the last level of its topic mqota/v1/dev/<id>/<kind>: one
 * handler per message type (handle.h). */
static const struct {
    const char *kind;
    void (*handle)(mqotad_t *d, const char *device_id, const uint8_t *payload, size_t len);
} handlers[] = {
    {"ack", handle__ack},
    {"state", handle__state},
    {"online", handle__online},
    {"reply", handle__reply},
    {"telemetry", handle__telemetry},
    {"health", handle__health},
};

/*
 * Route one message by topic: mqota/v1/dev/<id>/<kind> to the handler of its kind. Ids longer
 * than DB_ID_MAX and unknown kinds are ignored.
 */
static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *m)
{
    mqotad_t *d = obj;
    (void)mosq;
    const size_t plen = strlen(MQOTAD_TOPIC_PREFIX);
    if (strncmp(m->topic, MQOTAD_TOPIC_PREFIX, plen) != 0) { /* a legacy device's topic */
        handle__legacy(d, m->topic, m->payload, m->payloadlen > 0 ? (size_t)m->payloadlen : 0,
                       m->retain);
        return;
    }
    const char *id = m->topic + plen;
    const char *slash = strchr(id, '/');
    if (!slash || slash == id || (size_t)(slash - id) > DB_ID_MAX) {
        mqh_log(MQH_DEBUG, "ignoring message on topic %s", m->topic);
        return;
    }
    char dev[DB_ID_MAX + 1];
    memcpy(dev, id, (size_t)(slash - id));
    dev[slash - id] = '\0';
    const char *kind = slash + 1;
    const uint8_t *p = m->payload;
    size_t len = m->payloadlen > 0 ? (size_t)m->payloadlen : 0;
    for (size_t i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++) {
        if (strcmp(kind, handlers[i].kind) == 0) {
            handlers[i].handle(d, dev, p, len);
            return;
        }
    }
}

/* Make the first connection attempt; a failure only schedules a retry. */
static void connect_now(mqotad_t *d)
{
    int rc = d->mqtt_socket_open ? mosquitto_reconnect(d->mosq)
                                 : mosquitto_connect(d->mosq, d->url.host, d->url.port,
                                                     KEEPALIVE_S);
    if (rc == MOSQ_ERR_SUCCESS) {
        d->mqtt_socket_open = true;
        d->reconnect_at_ms = 0;
        return;
    }
    mqh_log(MQH_WARN, "cannot connect to the broker %s: %s", d->broker_url,
            mosquitto_strerror(rc));
    if (rc != MOSQ_ERR_INVAL) d->mqtt_socket_open = true; /* host/port stored: reconnect works */
    schedule_reconnect(d);
}

/* A fresh client id: "mqotad-" and CLIENT_ID_RANDOM_BYTES random bytes in hex. -1 (logged) if
 * OpenSSL has no randomness. */
static int new_client_id(mqotad_t *d)
{
    uint8_t raw[CLIENT_ID_RANDOM_BYTES];
    if (RAND_bytes(raw, sizeof(raw)) != 1) {
        mqh_log(MQH_ERROR, "cannot make a random MQTT client id: OpenSSL has no randomness");
        return -1;
    }
    int n = snprintf(d->mqtt_client_id, sizeof(d->mqtt_client_id), "mqotad-");
    for (size_t i = 0; i < sizeof(raw); i++)
        n += snprintf(d->mqtt_client_id + n, sizeof(d->mqtt_client_id) - (size_t)n, "%02x",
                      raw[i]);
    return 0;
}

/*
 * Create the client under d->mqtt_client_id (clean start, MQTT 5 or 3.1.1, our login and TLS
 * settings, callbacks). Returns 0, or -1 (logged) with d->mosq NULL.
 */
static int client_create(mqotad_t *d)
{
    d->mosq = mosquitto_new(d->mqtt_client_id, true, d);
    if (!d->mosq) {
        mqh_log(MQH_ERROR, "cannot create the MQTT client");
        return -1;
    }
    mosquitto_int_option(d->mosq, MOSQ_OPT_PROTOCOL_VERSION,
                         d->mqtt_version == 5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311);
    /* Small control messages (offers, clears) must not wait 40 ms for Nagle + delayed ACK. */
    mosquitto_int_option(d->mosq, MOSQ_OPT_TCP_NODELAY, 1);
    if (d->mqtt_user[0] &&
        mosquitto_username_pw_set(d->mosq, d->mqtt_user, d->mqtt_pass) != MOSQ_ERR_SUCCESS) {
        mqh_log(MQH_ERROR, "cannot set the MQTT username");
        goto err;
    }
    if (d->url.tls) {
        /* Trust only the given CA (not the OS store), verify the certificate chain and the
         * host name (libmosquitto checks it unless tls_insecure), TLS 1.2 or newer. */
        mosquitto_int_option(d->mosq, MOSQ_OPT_TLS_USE_OS_CERTS, 0);
        int rc = mosquitto_tls_set(d->mosq, d->ca_file, NULL, d->cert_file, d->key_file, NULL);
        if (rc == MOSQ_ERR_SUCCESS) rc = mosquitto_tls_opts_set(d->mosq, 1, "tlsv1.2", NULL);
        if (rc == MOSQ_ERR_SUCCESS) rc = mosquitto_tls_insecure_set(d->mosq, false);
        if (rc != MOSQ_ERR_SUCCESS) {
            mqh_log(MQH_ERROR, "cannot set up TLS to %s with CA %s%s%s: %s", d->broker_url,
                    d->ca_file, d->cert_file ? " and client certificate " : "",
                    d->cert_file ? d->cert_file : "", mosquitto_strerror(rc));
            goto err;
        }
    }
    mosquitto_connect_v5_callback_set(d->mosq, on_connect);
    mosquitto_disconnect_v5_callback_set(d->mosq, on_disconnect);
    mosquitto_message_callback_set(d->mosq, on_message);
    return 0;
err:
    mosquitto_destroy(d->mosq);
    d->mosq = NULL;
    return -1;
}

/*
 * Create the client (a random id, see the file comment) and make the first connection attempt.
 * Only a setup failure (allocation, randomness, TLS files) is fatal (-1); a broker that is not
 * there yet is retried by the main loop with backoff.
 */
int mqtt__init(mqotad_t *d)
{
    srand((unsigned)(getpid() ^ mqh_now_ms()));
    mosquitto_lib_init();
    if (new_client_id(d) != 0 || client_create(d) != 0) return -1;
    d->max_packet = MQTT_MAX_PACKET;
    d->backoff_ms = BACKOFF_MIN_MS;
    connect_now(d);
    return 0;
}

/* After a takeover: drop the old client and connect under a fresh id. On failure (logged) the
 * next reconnect tries again. */
static void renew_client(mqotad_t *d)
{
    mosquitto_destroy(d->mosq);
    d->mosq = NULL;
    d->mqtt_socket_open = false;
    if (new_client_id(d) != 0 || client_create(d) != 0) {
        schedule_reconnect(d);
        return;
    }
    d->mqtt_new_id = false;
    mqh_log(MQH_DEBUG, "MQTT client id is now %s", d->mqtt_client_id);
    connect_now(d);
}

void mqtt__cleanup(mqotad_t *d)
{
    if (!d->mosq) return;
    if (d->mqtt_connected) {
        d->mqtt_connected = false; /* a clean goodbye, not a lost link */
        mosquitto_disconnect(d->mosq);
        mosquitto_loop_write(d->mosq, 1);
    }
    mosquitto_destroy(d->mosq);
    d->mosq = NULL;
    mosquitto_lib_cleanup();
}

int mqtt__socket(mqotad_t *d)
{
    return d->mosq ? mosquitto_socket(d->mosq) : -1;
}

bool mqtt__want_write(mqotad_t *d)
{
    return d->mosq && mosquitto_want_write(d->mosq);
}

/* One turn of MQTT I/O; an error closes the link and schedules a reconnect. */
void mqtt__io(mqotad_t *d, bool readable, bool writable)
{
    if (!d->mosq || mosquitto_socket(d->mosq) < 0) return;
    int rc = MOSQ_ERR_SUCCESS;
    if (readable) rc = mosquitto_loop_read(d->mosq, 64);
    if (rc == MOSQ_ERR_SUCCESS && (writable || mosquitto_want_write(d->mosq)))
        rc = mosquitto_loop_write(d->mosq, 64);
    if (rc == MOSQ_ERR_SUCCESS) rc = mosquitto_loop_misc(d->mosq);
    if (rc != MOSQ_ERR_SUCCESS && d->reconnect_at_ms == 0) {
        session_lost(d, rc, mosquitto_strerror(rc));
        schedule_reconnect(d);
    }
}

/* Write what callbacks and timers queued this turn (publishes made inside a libmosquitto
 * callback are only queued). */
void mqtt__flush(mqotad_t *d)
{
    if (d->mosq && mosquitto_socket(d->mosq) >= 0 && mosquitto_want_write(d->mosq))
        mosquitto_loop_write(d->mosq, 64);
}

void mqtt__reconnect_if_due(mqotad_t *d, uint64_t now_ms)
{
    if (d->reconnect_at_ms == 0) {
        /* The socket closed without an I/O error reaching us (e.g. broker's DISCONNECT). */
        if (!d->mqtt_connected && (!d->mosq || mosquitto_socket(d->mosq) < 0))
            schedule_reconnect(d);
        return;
    }
    if (now_ms < d->reconnect_at_ms) return;
    if (d->mqtt_new_id) renew_client(d);
    else connect_now(d);
}

int mqtt__publish(mqotad_t *d, const char *topic, const void *payload, size_t len, int qos,
                  bool retain)
{
    if (!d->mqtt_connected) return -1;
    int rc = mosquitto_publish(d->mosq, NULL, topic, (int)len, payload, qos, retain);
    if (rc != MOSQ_ERR_SUCCESS) {
        mqh_log(MQH_DEBUG, "publish on %s failed: %s", topic, mosquitto_strerror(rc));
        return -1;
    }
    return 0;
}

static uint32_t varint_len(uint32_t v)
{
    return v < 128u ? 1u : v < 16384u ? 2u : v < 2097152u ? 3u : 4u;
}

/*
 * Largest QoS 0 payload whose whole PUBLISH packet fits the broker's Maximum Packet Size:
 * fixed header (1 + remaining-length varint) + topic (2 + len) + properties length (MQTT 5).
 */
uint32_t mqtt__max_payload(mqotad_t *d, const char *topic)
{
    uint32_t fixed = 2u + (uint32_t)strlen(topic) + (d->mqtt_version == 5 ? 1u : 0u);
    uint32_t maxp = d->max_packet;
    if (maxp <= fixed + 5u) return 0;
    uint32_t payload = maxp - 1u - 4u - fixed;
    while (payload > 0 && 1u + varint_len(fixed + payload) + fixed + payload > maxp) payload--;
    return payload;
}
