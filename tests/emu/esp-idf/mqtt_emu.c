/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Host emulation of the esp-mqtt client API (include/mqtt_client.h) over libmosquitto, for
 * the ESP-IDF port's transport (ports/esp-idf/src/mqota_esp.c). The behaviour follows
 * esp-mqtt's documentation in its header (espressif/esp-mqtt include/mqtt_client.h, as
 * shipped in ../shared/sdk/esp-idf components/mqtt/include); where the header is silent,
 * esp-mqtt's mqtt_client.c was read (cited as such). Written from those; no esp-mqtt code.
 *
 * esp-mqtt's task (connect, reconnect, keepalive, socket I/O) is the harness's loop
 * (esp_idf_emu.h): the harness connects the mosquitto handle after esp_mqtt_client_start()
 * and drives its socket; the callbacks below turn what libmosquitto reports into esp-mqtt
 * events, dispatched to the one registered handler, in the order esp-mqtt dispatches them.
 *
 * What the port relies on, and this emulation does as esp-mqtt does:
 *  - A message longer than the receive buffer (buffer.size) arrives as several
 *    MQTT_EVENT_DATA events: the first carries the topic and what the buffer holds after the
 *    PUBLISH packet's fixed header, topic and packet id; the others carry data only, with
 *    current_data_offset and total_data_len (mqtt_client.c deliver_publish()).
 *  - Every packet the client sends is built in its out buffer (buffer.out_size, else
 *    buffer.size; mqtt_client.c esp_mqtt_set_config()), after 5 bytes kept for the fixed
 *    header (mqtt_msg.c MQTT_MAX_FIXED_HEADER_SIZE): a CONNECT that does not fit is never
 *    sent ("Connect message cannot be created", mqtt_client.c esp_mqtt_connect(): the client
 *    never connects); a PUBLISH or SUBSCRIBE whose head (topic, packet id) does not fit fails
 *    with -1 ("Publish message cannot be created"); a payload that does not fit is sent in
 *    pieces (mqtt_msg_publish(), "fragmented"), which changes nothing the broker sees.
 *  - esp_mqtt_client_enqueue() while disconnected keeps QoS 1/2 messages (and QoS 0 with
 *    store) in the outbox and sends them after the next CONNACK, after MQTT_EVENT_CONNECTED;
 *    subscribe and unsubscribe need a connected client (-1 otherwise).
 *  - esp_mqtt_client_stop() sends DISCONNECT when connected (mqtt_client.c), so the broker
 *    does not publish the last will.
 * Not emulated: TLS from in-memory PEM (the harness sets TLS on the mosquitto handle), MQTT 5
 * properties, the outbox's expiry (OUTBOX_EXPIRED_TIMEOUT_MS) and MQTT_EVENT_DELETED,
 * MQTT_EVENT_PUBLISHED / SUBSCRIBED, esp-mqtt's event loop (the handler runs in the caller).
 */
#define _POSIX_C_SOURCE 200809L /* strdup() */
#include <mosquitto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "esp_idf_emu.h"
#include "mqtt_client.h"

#define BUFFER_SIZE_DEFAULT 1024 /* esp-mqtt's CONFIG_MQTT_BUFFER_SIZE default */
#define FIXED_HEADER_KEPT 5       /* mqtt_msg.c MQTT_MAX_FIXED_HEADER_SIZE */
#define CONNECT_VAR_HEADER 10     /* mqtt_msg.c MQTT_3_1_1_VARIABLE_HEADER_SIZE */
#define KEEPALIVE_DEFAULT_S 120  /* esp-mqtt's MQTT_KEEPALIVE_TICK default */
#define OUTBOX_MAX 64u           /* messages kept while disconnected; then -2 (outbox full) */

typedef struct queued {
    struct queued *next;
    char *topic;
    void *data;
    int len, qos, retain;
} queued_t;

struct esp_mqtt_client {
    struct mosquitto *mosq;
    esp_event_handler_t handler;
    void *handler_arg;
    int buffer_size;
    int out_size;      /* the out buffer: each packet is built in it */
    bool connect_fits; /* the CONNECT could be built in the out buffer */
    esp_mqtt_protocol_ver_t protocol;
    bool started;
    bool connected;
    queued_t *head, **tail; /* the outbox while disconnected, oldest first */
    unsigned queued;
    int queued_bytes;
    int next_mid; /* ids given to queued messages */
    const esp_emu_mqtt_observer_t *obs;
    void *obs_ctx;
};

static const char MQTT_EVENTS[] = "MQTT_EVENTS"; /* esp-mqtt's event base */

static void dispatch(esp_mqtt_client_handle_t c, esp_mqtt_event_t *ev)
{
    ev->client = c;
    ev->protocol_ver = c->protocol;
    if (c->handler != NULL) c->handler(c->handler_arg, MQTT_EVENTS, ev->event_id, ev);
}

static void drop_outbox(esp_mqtt_client_handle_t c)
{
    while (c->head != NULL) {
        queued_t *q = c->head;
        c->head = q->next;
        free(q->topic);
        free(q->data);
        free(q);
    }
    c->tail = &c->head;
    c->queued = 0;
    c->queued_bytes = 0;
}

/* ---- libmosquitto callbacks -------------------------------------------------------------- */

/* CONNACK: MQTT_EVENT_CONNECTED, then what the outbox kept (mqtt_client.c: the outbox is
 * resent from the task loop once connected). A refusal is an MQTT_EVENT_ERROR. */
static void on_connect(struct mosquitto *m, void *ud, int rc)
{
    esp_mqtt_client_handle_t c = ud;
    if (!c->connect_fits) {
        /* esp-mqtt would not have sent a CONNECT at all: no session, no events */
        fprintf(stderr, "esp-mqtt (emulated): Connect message cannot be created (out buffer "
                        "%d bytes)\n", c->out_size);
        (void)mosquitto_disconnect(m);
        return;
    }
    if (c->obs != NULL && c->obs->connected != NULL && !c->obs->connected(c->obs_ctx, rc))
        return;
    if (rc != 0) {
        esp_mqtt_event_t ev = {.event_id = MQTT_EVENT_ERROR};
        dispatch(c, &ev);
        return;
    }
    c->connected = true;
    esp_mqtt_event_t ev = {.event_id = MQTT_EVENT_CONNECTED};
    dispatch(c, &ev);
    while (c->connected && c->head != NULL) {
        queued_t *q = c->head;
        if (mosquitto_publish(c->mosq, NULL, q->topic, q->len, q->data, q->qos, q->retain) !=
            MOSQ_ERR_SUCCESS)
            break;
        c->head = q->next;
        if (c->head == NULL) c->tail = &c->head;
        c->queued--;
        c->queued_bytes -= q->len;
        free(q->topic);
        free(q->data);
        free(q);
    }
}

/* The link is gone: MQTT_EVENT_DISCONNECTED (esp_mqtt_abort_connection() dispatches it for
 * every connection that ends, including an attempt that failed). */
static void on_disconnect(struct mosquitto *m, void *ud, int rc)
{
    esp_mqtt_client_handle_t c = ud;
    (void)m;
    c->connected = false;
    if (c->obs != NULL && c->obs->disconnected != NULL) c->obs->disconnected(c->obs_ctx, rc);
    esp_mqtt_event_t ev = {.event_id = MQTT_EVENT_DISCONNECTED};
    dispatch(c, &ev);
}

/* Bytes of a PUBLISH packet before its payload: fixed header (type byte and the Remaining
 * Length varint, MQTT 3.1.1 §2.2), topic with its 2-byte length, packet id for QoS > 0. */
static int publish_header_len(int topic_len, int payload_len, int qos)
{
    int rest = 2 + topic_len + (qos > 0 ? 2 : 0);
    int remaining = rest + payload_len;
    int varint = remaining < 128 ? 1 : remaining < 16384 ? 2 : remaining < 2097152 ? 3 : 4;
    return 1 + varint + rest;
}

/* A PUBLISH: one MQTT_EVENT_DATA per buffer's worth (see the file comment). */
static void on_message(struct mosquitto *m, void *ud, const struct mosquitto_message *msg)
{
    esp_mqtt_client_handle_t c = ud;
    (void)m;
    if (c->obs != NULL && c->obs->message != NULL && !c->obs->message(c->obs_ctx, msg)) return;
    int total = msg->payloadlen;
    int topic_len = (int)strlen(msg->topic);
    int room = c->buffer_size - publish_header_len(topic_len, total, msg->qos);
    if (room < 0) room = 0;
    int off = 0;
    do {
        int n = total - off < room ? total - off : room;
        esp_mqtt_event_t ev = {
            .event_id = MQTT_EVENT_DATA,
            .data = (char *)msg->payload + off,
            .data_len = n,
            .total_data_len = total,
            .current_data_offset = off,
            .topic = off == 0 ? msg->topic : NULL,
            .topic_len = off == 0 ? topic_len : 0,
            .msg_id = msg->mid,
            .retain = msg->retain,
            .qos = msg->qos,
        };
        dispatch(c, &ev);
        off += n;
        room = c->buffer_size; /* later reads fill the whole buffer with payload */
    } while (off < total && room > 0);
}

/* ---- the API ------------------------------------------------------------------------------ */

/* mqtt_client.h esp_mqtt_client_init(): the handle, or NULL on error. A NULL client_id takes
 * esp-mqtt's default "ESP32_%CHIPID%" (the emulation has no MAC: a counter stands in). */
esp_mqtt_client_handle_t esp_mqtt_client_init(const esp_mqtt_client_config_t *cfg)
{
    static unsigned anonymous;
    char id[32];
    if (cfg == NULL) return NULL;
    esp_mqtt_client_handle_t c = calloc(1, sizeof(*c));
    if (c == NULL) return NULL;
    c->tail = &c->head;
    c->buffer_size = cfg->buffer.size > 0 ? cfg->buffer.size : BUFFER_SIZE_DEFAULT;
    c->out_size = cfg->buffer.out_size > 0 ? cfg->buffer.out_size : c->buffer_size;
    c->protocol = cfg->session.protocol_ver != MQTT_PROTOCOL_UNDEFINED ? cfg->session.protocol_ver
                                                                        : MQTT_PROTOCOL_V_3_1_1;
    const char *cid = cfg->credentials.client_id;
    if (cid == NULL) {
        snprintf(id, sizeof(id), "ESP32_%06X", ++anonymous & 0xffffffu);
        cid = id;
    }
    c->mosq = mosquitto_new(cid, !cfg->session.disable_clean_session, c);
    if (c->mosq == NULL) goto fail;
    mosquitto_int_option(c->mosq, MOSQ_OPT_PROTOCOL_VERSION,
                         c->protocol == MQTT_PROTOCOL_V_5 ? MQTT_PROTOCOL_V5
                         : c->protocol == MQTT_PROTOCOL_V_3_1 ? MQTT_PROTOCOL_V31
                                                               : MQTT_PROTOCOL_V311);
    mosquitto_connect_callback_set(c->mosq, on_connect);
    mosquitto_disconnect_callback_set(c->mosq, on_disconnect);
    mosquitto_message_callback_set(c->mosq, on_message);
    const struct last_will_t *w = &cfg->session.last_will;
    if (w->topic != NULL) {
        int len = w->msg_len > 0 ? w->msg_len : w->msg != NULL ? (int)strlen(w->msg) : 0;
        if (mosquitto_will_set(c->mosq, w->topic, len, w->msg, w->qos, w->retain != 0) !=
            MOSQ_ERR_SUCCESS)
            goto fail;
    }
    if (cfg->credentials.username != NULL &&
        mosquitto_username_pw_set(c->mosq, cfg->credentials.username,
                                  cfg->credentials.authentication.password) != MOSQ_ERR_SUCCESS)
        goto fail;
    /* mqtt_msg.c mqtt_msg_connect(): the variable header, then each field a 2-byte length and
     * its bytes (the will's message by its length); MQTT 5 (mqtt5_msg.c mqtt5_msg_connect())
     * adds the one-byte lengths of the CONNECT's and the will's property lists, which the
     * emulation keeps empty */
    size_t connect = FIXED_HEADER_KEPT + CONNECT_VAR_HEADER + 2 + strlen(cid);
    if (w->topic != NULL)
        connect += 2 + strlen(w->topic) + 2 +
                   (size_t)(w->msg_len > 0 ? w->msg_len : w->msg != NULL ? (int)strlen(w->msg) : 0);
    if (cfg->credentials.username != NULL) connect += 2 + strlen(cfg->credentials.username);
    if (cfg->credentials.authentication.password != NULL)
        connect += 2 + strlen(cfg->credentials.authentication.password);
    if (c->protocol == MQTT_PROTOCOL_V_5) connect += 1 + (w->topic != NULL ? 1 : 0);
    c->connect_fits = connect <= (size_t)c->out_size;
    return c;
fail:
    if (c->mosq != NULL) mosquitto_destroy(c->mosq);
    free(c);
    return NULL;
}

/* mqtt_client.h esp_mqtt_client_register_event(): ESP_ERR_INVALID_ARG without a client. The
 * emulation keeps one handler, for every event id (the port registers MQTT_EVENT_ANY). */
esp_err_t esp_mqtt_client_register_event(esp_mqtt_client_handle_t c, esp_mqtt_event_id_t event,
                                         esp_event_handler_t handler, void *arg)
{
    if (c == NULL || event != MQTT_EVENT_ANY) return ESP_ERR_INVALID_ARG;
    c->handler = handler;
    c->handler_arg = arg;
    return ESP_OK;
}

/* mqtt_client.h esp_mqtt_client_start(): ESP_ERR_INVALID_ARG without a client, ESP_FAIL when
 * already started (mqtt_client.c: "Client has started"). */
esp_err_t esp_mqtt_client_start(esp_mqtt_client_handle_t c)
{
    if (c == NULL) return ESP_ERR_INVALID_ARG;
    if (c->started) return ESP_FAIL;
    c->started = true;
    return ESP_OK;
}

/* mqtt_client.h esp_mqtt_client_stop(): ESP_FAIL when not started; a connected client sends
 * DISCONNECT first (mqtt_client.c). */
esp_err_t esp_mqtt_client_stop(esp_mqtt_client_handle_t c)
{
    if (c == NULL) return ESP_ERR_INVALID_ARG;
    if (!c->started) return ESP_FAIL;
    if (c->connected) (void)mosquitto_disconnect(c->mosq);
    c->started = false;
    return ESP_OK;
}

/* mqtt_client.h esp_mqtt_client_destroy(): stops a started client, frees everything. */
esp_err_t esp_mqtt_client_destroy(esp_mqtt_client_handle_t c)
{
    if (c == NULL) return ESP_ERR_INVALID_ARG;
    if (c->started) (void)esp_mqtt_client_stop(c);
    esp_emu_mqtt_power_off(c);
    return ESP_OK;
}

/* mqtt_client.h esp_mqtt_client_subscribe_single(): "Client must be connected to send
 * subscribe message": the message id, or -1. */
int esp_mqtt_client_subscribe_single(esp_mqtt_client_handle_t c, const char *topic, int qos)
{
    int mid = 0;
    if (c == NULL || topic == NULL || !c->connected) return -1;
    /* mqtt_msg_subscribe(): packet id, topic, QoS byte */
    if (FIXED_HEADER_KEPT + 2 + 2 + (int)strlen(topic) + 1 > c->out_size) return -1;
    return mosquitto_subscribe(c->mosq, &mid, topic, qos) == MOSQ_ERR_SUCCESS ? mid : -1;
}

/* mqtt_client.h esp_mqtt_client_unsubscribe(): as subscribe. */
int esp_mqtt_client_unsubscribe(esp_mqtt_client_handle_t c, const char *topic)
{
    int mid = 0;
    if (c == NULL || topic == NULL || !c->connected) return -1;
    return mosquitto_unsubscribe(c->mosq, &mid, topic) == MOSQ_ERR_SUCCESS ? mid : -1;
}

/* mqtt_client.h esp_mqtt_client_enqueue(): len 0 means strlen(data); connected, the message is
 * handed to libmosquitto (whose own queue stands for esp-mqtt's outbox); disconnected, QoS 1/2
 * (and QoS 0 with store) wait in the outbox for the next connection. The message id (0 for
 * QoS 0), -1 on failure, -2 when the outbox is full. */
int esp_mqtt_client_enqueue(esp_mqtt_client_handle_t c, const char *topic, const char *data,
                            int len, int qos, int retain, bool store)
{
    int mid = 0;
    if (c == NULL || topic == NULL || len < 0) return -1;
    if (len == 0 && data != NULL) len = (int)strlen(data);
    /* mqtt_msg_publish(): the topic and packet id must fit, the payload may follow in pieces */
    if (FIXED_HEADER_KEPT + 2 + (int)strlen(topic) + (qos > 0 ? 2 : 0) > c->out_size) return -1;
    if (c->connected) {
        if (mosquitto_publish(c->mosq, &mid, topic, len, data, qos, retain != 0) !=
            MOSQ_ERR_SUCCESS)
            return -1;
        return qos > 0 ? mid : 0;
    }
    if (qos == 0 && !store) return -1;
    if (c->queued >= OUTBOX_MAX) return -2;
    queued_t *q = calloc(1, sizeof(*q));
    if (q == NULL || (q->topic = strdup(topic)) == NULL ||
        (len > 0 && (q->data = malloc((size_t)len)) == NULL)) {
        if (q != NULL) free(q->topic);
        free(q);
        return -1;
    }
    if (len > 0) memcpy(q->data, data, (size_t)len);
    q->len = len;
    q->qos = qos;
    q->retain = retain;
    *c->tail = q;
    c->tail = &q->next;
    c->queued++;
    c->queued_bytes += len;
    c->next_mid = c->next_mid % 0xffff + 1;
    return qos > 0 ? c->next_mid : 0;
}

/* mqtt_client.h esp_mqtt_client_get_outbox_size(): bytes not yet sent, 0 for a NULL client.
 * libmosquitto tells only whether it still holds bytes to write, counted as 1. */
int esp_mqtt_client_get_outbox_size(esp_mqtt_client_handle_t c)
{
    if (c == NULL) return 0;
    return c->queued_bytes + (c->connected && mosquitto_want_write(c->mosq) ? 1 : 0);
}

/* ---- the harness's side (esp_idf_emu.h) ------------------------------------------------ */

void esp_emu_mqtt_observe(esp_mqtt_client_handle_t c, const esp_emu_mqtt_observer_t *obs,
                          void *ctx)
{
    if (c == NULL) return;
    c->obs = obs;
    c->obs_ctx = ctx;
}

struct mosquitto *esp_emu_mqtt_mosquitto(esp_mqtt_client_handle_t c)
{
    return c != NULL ? c->mosq : NULL;
}

bool esp_emu_mqtt_started(esp_mqtt_client_handle_t c) { return c != NULL && c->started; }

int esp_emu_mqtt_out_size(esp_mqtt_client_handle_t c) { return c != NULL ? c->out_size : 0; }

bool esp_emu_mqtt_connect_fits(esp_mqtt_client_handle_t c) { return c != NULL && c->connect_fits; }

void esp_emu_mqtt_power_off(esp_mqtt_client_handle_t c)
{
    if (c == NULL) return;
    drop_outbox(c);
    mosquitto_destroy(c->mosq); /* closes the socket; sends nothing, calls nothing back */
    free(c);
}
