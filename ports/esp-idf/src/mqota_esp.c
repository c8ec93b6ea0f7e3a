/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ESP-IDF port's two tasks and its MQTT transport on esp-mqtt.
 *
 * esp-mqtt calls mqtt_event() in its own task. A message longer than esp-mqtt's buffer
 * arrives as several MQTT_EVENT_DATA events: the first carries the topic, each carries
 * current_data_offset and total_data_len. mqtt_event() copies the pieces into the caller's
 * receive buffer and, once the message is whole, queues one event for the agent's task. It
 * never calls the agent, so no flash erase, flash write or NVS write runs in esp-mqtt's task
 * (a 4 KiB sector erase takes tens of milliseconds and would stall the keepalive).
 *
 * The receive buffer has one owner at a time, handed over by the rx_free semaphore: the MQTT
 * task takes it for a new message (waiting at most CONFIG_MQOTA_RX_WAIT_MS), the agent's task
 * gives it back once mqota_agent_on_message() returned. A message that finds the buffer busy,
 * or does not fit, is dropped and counted (rx_dropped in diagnostics): a dropped chunk is sent
 * again after the agent's next ACK, a dropped offer or command is repeated by the server.
 *
 * agent_task() is the agent's loop, one mqota_esp__agent_turn() after another: wait for an
 * event at most CONFIG_MQOTA_PROCESS_MS, hand it to the agent, run the agent's timers, restart
 * when the agent asked for it.
 */
#include <string.h>

#include "esp_log.h"
#include "esp_timer.h"
#include "mqota_esp.h"
#include "mqota_esp_internal.h"

enum { EV_LINK = 1, EV_MESSAGE = 2 };

/* Where a sealed frame's header keeps its u64 counter (mqota_command.h, docs/PROTOCOL.md §14) */
#define SEALED_COUNTER_AT 8u

static const char *TAG = "mqota";

/* The out buffer (MQOTA_ESP_MQTT_OUT_MIN) takes a SUBSCRIBE of the longest topic (fixed
 * header, packet id, topic, QoS byte), an ACK whole, and the CONNECT of the longest device id
 * with the last will and no credentials (variable header MQTT_3_1_1_VARIABLE_HEADER_SIZE, 10
 * bytes, in esp-mqtt's mqtt_msg.c) */
#define MQTT_CONNECT_HEAD (MQOTA_ESP_MQTT_FIXED_HEADER + 10u)
_Static_assert(MQOTA_ESP_MQTT_FIXED_HEADER + 2u + 2u + (MQOTA_TOPIC_MAX - 1u) + 1u <=
                   MQOTA_ESP_MQTT_OUT_MIN,
               "a SUBSCRIBE fits esp-mqtt's out buffer");
_Static_assert(MQOTA_ESP_MQTT_PUBLISH_HEAD + MQOTA_ACK_LEN <= MQOTA_ESP_MQTT_OUT_MIN,
               "an ACK goes out in one write");
_Static_assert(MQTT_CONNECT_HEAD + 2u + MQOTA_DEVICE_ID_MAX + 2u + (MQOTA_TOPIC_MAX - 1u) + 2u +
                       sizeof(MQOTA_OFFLINE_PAYLOAD) - 1u <=
                   MQOTA_ESP_MQTT_OUT_MIN,
               "a CONNECT without credentials fits esp-mqtt's out buffer");

/* The out buffer for this client: MQOTA_ESP_MQTT_OUT_MIN, or the length esp-mqtt needs to
 * build its CONNECT (client id, last will, username, password, each a 2-byte length and its
 * bytes; MQTT 5 adds the lengths of the CONNECT's and the will's property lists, empty unless
 * the application sets properties, mqtt5_msg.c mqtt5_msg_connect()) when that is more. */
static int mqtt_out_size(const esp_mqtt_client_config_t *mc)
{
    size_t n = MQTT_CONNECT_HEAD + 2u + strlen(mc->credentials.client_id) + 2u +
               strlen(mc->session.last_will.topic) + 2u + (size_t)mc->session.last_will.msg_len;
    if (mc->credentials.username != NULL) n += 2u + strlen(mc->credentials.username);
    if (mc->credentials.authentication.password != NULL)
        n += 2u + strlen(mc->credentials.authentication.password);
    if (mc->session.protocol_ver == MQTT_PROTOCOL_V_5) n += 2u;
    return (int)(n > MQOTA_ESP_MQTT_OUT_MIN ? n : MQOTA_ESP_MQTT_OUT_MIN);
}

/* ---- transport hooks (agent's task) --------------------------------------------------- */

/* Queue a publish in esp-mqtt's outbox and return (the hook must not block). esp-mqtt takes
 * a length of 0 as "strlen(data)", so an empty payload is passed as NULL. */
int mqota_esp__publish(void *ctx, const char *topic, const uint8_t *payload, size_t len, int qos,
                       bool retain)
{
    mqota_esp_t *e = ctx;
    if (len > INT32_MAX) return -1;
    return esp_mqtt_client_enqueue(e->client, topic, len ? (const char *)payload : NULL,
                                   (int)len, qos, retain ? 1 : 0, true) < 0
               ? -1
               : 0;
}

int mqota_esp__subscribe(void *ctx, const char *topic, int qos)
{
    mqota_esp_t *e = ctx;
    return esp_mqtt_client_subscribe_single(e->client, topic, qos) < 0 ? -1 : 0;
}

int mqota_esp__unsubscribe(void *ctx, const char *topic)
{
    mqota_esp_t *e = ctx;
    return esp_mqtt_client_unsubscribe(e->client, topic) < 0 ? -1 : 0;
}

/* ---- MQTT task ------------------------------------------------------------------------- */

static void post(mqota_esp_t *e, uint8_t kind, size_t len)
{
    mqota_esp_event_t ev = {.kind = kind, .len = (uint16_t)len};
    if (xQueueSend(e->events, &ev, 0) != pdTRUE && kind == EV_MESSAGE) {
        e->glue.rx_dropped++;
        xSemaphoreGive(e->rx_free);
    }
}

/* One piece of a received message: join it into the receive buffer (see the file comment). */
static void on_data(mqota_esp_t *e, const esp_mqtt_event_t *ev)
{
    if (ev->current_data_offset == 0) { /* first piece: the topic is here only */
        if (e->rx_owned) { /* the last message never completed: esp-mqtt dropped the link */
            e->rx_owned = false;
            xSemaphoreGive(e->rx_free);
        }
        e->rx_dropping = true;
        if (ev->total_data_len < 0 || (size_t)ev->total_data_len > e->rx_cap ||
            ev->topic_len <= 0 || (size_t)ev->topic_len >= sizeof(e->rx_topic) ||
            xSemaphoreTake(e->rx_free, pdMS_TO_TICKS(CONFIG_MQOTA_RX_WAIT_MS)) != pdTRUE) {
            e->glue.rx_dropped++;
            return;
        }
        e->rx_owned = true;
        e->rx_dropping = false;
        memcpy(e->rx_topic, ev->topic, (size_t)ev->topic_len);
        e->rx_topic[ev->topic_len] = '\0';
        e->rx_len = (size_t)ev->total_data_len;
    }
    if (e->rx_dropping || !e->rx_owned) return;
    if (ev->current_data_offset < 0 || ev->data_len < 0 ||
        (size_t)ev->current_data_offset + (size_t)ev->data_len > e->rx_len) {
        e->rx_owned = false; /* pieces that do not add up: drop the message */
        e->rx_dropping = true;
        e->glue.rx_dropped++;
        xSemaphoreGive(e->rx_free);
        return;
    }
    if (ev->data_len > 0) /* an empty message may come with no data pointer */
        memcpy(e->rx_buf + ev->current_data_offset, ev->data, (size_t)ev->data_len);
    if ((size_t)ev->current_data_offset + (size_t)ev->data_len == e->rx_len) {
        e->rx_owned = false; /* the agent's task owns it now, until it gives rx_free back */
        post(e, EV_MESSAGE, e->rx_len);
    }
}

static void mqtt_event(void *arg, esp_event_base_t base, int32_t id, void *data)
{
    mqota_esp_t *e = arg;
    const esp_mqtt_event_t *ev = data;
    (void)base;
    switch ((esp_mqtt_event_id_t)id) {
    case MQTT_EVENT_CONNECTED:
    case MQTT_EVENT_DISCONNECTED:
        /* a level, not an edge: a full queue (the agent's task busy erasing while the link
         * flaps) loses the wake-up, never the state, which the agent's task reads each turn */
        __atomic_store_n(&e->link_up, id == MQTT_EVENT_CONNECTED, __ATOMIC_RELEASE);
        __atomic_fetch_add(&e->link_gen, 1u, __ATOMIC_RELEASE);
        post(e, EV_LINK, 0);
        break;
    case MQTT_EVENT_DATA: on_data(e, ev); break;
    default: break;
    }
}

/* ---- agent's task ---------------------------------------------------------------------- */

/* Restart once esp-mqtt's outbox is empty (the STATE saying why went out), waiting at most
 * CONFIG_MQOTA_REBOOT_FLUSH_MS. */
static void restart_when_sent(mqota_esp_t *e)
{
    for (int waited = 0; waited < CONFIG_MQOTA_REBOOT_FLUSH_MS; waited += 50) {
        if (esp_mqtt_client_get_outbox_size(e->client) <= 0) break;
        vTaskDelay(pdMS_TO_TICKS(50));
    }
    (void)esp_mqtt_client_stop(e->client);
    mqota_esp_glue_restart(&e->glue);
}

/* Tell the agent about link changes since its last turn: a disconnect if it thought itself
 * connected, then a connect if the link is up (a clean session each time: the agent subscribes
 * again and republishes). */
static void follow_link(mqota_esp_t *e)
{
    uint32_t gen = __atomic_load_n(&e->link_gen, __ATOMIC_ACQUIRE);
    if (gen == e->seen_gen) return;
    e->seen_gen = gen;
    bool up = __atomic_load_n(&e->link_up, __ATOMIC_ACQUIRE);
    if (e->agent_connected) {
        mqota_agent_on_disconnect(&e->agent);
        e->agent_connected = false;
    }
    if (up) {
        e->agent_connected = true;
        if (mqota_agent_on_connect(&e->agent) != MQOTA_OK)
            ESP_LOGW(TAG, "could not subscribe or publish after connecting");
    }
}

static bool is_command_topic(const char *topic)
{
    size_t n = strlen(topic);
    return n > 4 && strcmp(topic + n - 4, "/cmd") == 0;
}

/* A sealed command the agent refused (the agent reports it to the server, docs/PROTOCOL.md
 * §14.4): one console line with the refusal and the counter in the frame's header (little-endian
 * at byte SEALED_COUNTER_AT; unauthenticated, as received). */
static void log_refusal(const mqota_esp_t *e, mqota_status_t st, size_t len)
{
    uint64_t counter = 0;
    for (int i = 7; len >= SEALED_COUNTER_AT + 8u && i >= 0; i--)
        counter = counter << 8 | e->rx_buf[SEALED_COUNTER_AT + (unsigned)i];
    ESP_LOGW(TAG, "command refused: %s (counter %llu)",
             mqota_cmd_result_name(st == MQOTA_ERR_AUTH     ? MQOTA_CMD_REFUSED_FORGED
                                   : st == MQOTA_ERR_REPLAY ? MQOTA_CMD_REFUSED_REPLAY
                                                            : MQOTA_CMD_REFUSED_MALFORMED),
             (unsigned long long)counter);
}

/* One turn of the agent's task: wait for an event at most CONFIG_MQOTA_PROCESS_MS (not at all
 * while verifying: the slot is read back step after step), follow the link, hand a message to
 * the agent and give the receive buffer back, run the agent's timers, restart when the agent
 * asked for it. The host emulation of ESP-IDF runs the port's task turn by turn through this
 * (tests/emu/esp-idf/README.md); on a chip agent_task() loops over it. */
void mqota_esp__agent_turn(mqota_esp_t *e)
{
    mqota_esp_event_t ev;
    TickType_t wait = mqota_agent_state(&e->agent) == MQOTA_STATE_VERIFYING
                          ? 0
                          : pdMS_TO_TICKS(CONFIG_MQOTA_PROCESS_MS);
    bool got = xQueueReceive(e->events, &ev, wait) == pdTRUE;
    follow_link(e);
    if (got && ev.kind == EV_MESSAGE) {
        mqota_status_t st = mqota_agent_on_message(&e->agent, e->rx_topic, e->rx_buf, ev.len);
        /* MQOTA_ERR_PLATFORM: authentic, not run (the store failed); not a refusal */
        if (st != MQOTA_OK && st != MQOTA_ERR_PLATFORM && is_command_topic(e->rx_topic))
            log_refusal(e, st, ev.len);
        xSemaphoreGive(e->rx_free);
    }
    (void)mqota_agent_process(&e->agent, (uint64_t)esp_timer_get_time() / 1000u);
    if (e->glue.reboot_due) restart_when_sent(e);
}

static void agent_task(void *arg)
{
    for (;;) mqota_esp__agent_turn(arg);
}

/* ---- init ------------------------------------------------------------------------------ */

/* Import the key given in cfg, or else the one stored in NVS under nvs_key. No key at all
 * leaves *id null; a stored key of another length is refused with a sentence. */
static esp_err_t load_key(mqota_esp_t *e, const uint8_t *given, const char *nvs_key, size_t len,
                          psa_key_id_t *id, psa_key_type_t type, psa_key_usage_t usage,
                          psa_algorithm_t alg)
{
    uint8_t buf[65];
    size_t n = 0;
    *id = PSA_KEY_ID_NULL;
    if (given == NULL) {
        esp_err_t err = nvs_get_blob(e->glue.nvs, nvs_key, NULL, &n);
        if (err == ESP_ERR_NVS_NOT_FOUND) return ESP_OK;
        if (err != ESP_OK) return err;
        if (n != len || n > sizeof(buf)) {
            ESP_LOGE(TAG, "NVS key %s in namespace %s holds %u bytes; it must hold %u",
                     nvs_key, CONFIG_MQOTA_NVS_NAMESPACE, (unsigned)n, (unsigned)len);
            return ESP_ERR_INVALID_SIZE;
        }
        err = nvs_get_blob(e->glue.nvs, nvs_key, buf, &n);
        if (err != ESP_OK) return err;
        given = buf;
    }
    int rc = mqota_esp__import_key(id, type, 256, usage, alg, given, len);
    memset(buf, 0, sizeof(buf));
    if (rc != 0) ESP_LOGE(TAG, "the key for %s was refused by PSA Crypto (not a valid %s)",
                          nvs_key, len == 32 ? "AES-256 key" : "uncompressed P-256 public key");
    return rc == 0 ? ESP_OK : ESP_ERR_INVALID_ARG;
}

/* Undo what mqota_esp_init() set up, so that a failed init leaves nothing behind. */
static void undo_init(mqota_esp_t *e)
{
    if (e->client != NULL) (void)esp_mqtt_client_destroy(e->client);
    if (e->command_key != PSA_KEY_ID_NULL) (void)psa_destroy_key(e->command_key);
    if (e->release_key != PSA_KEY_ID_NULL) (void)psa_destroy_key(e->release_key);
    if (e->nvs_open) nvs_close(e->glue.nvs);
    memset(e, 0, sizeof(*e));
}

esp_err_t mqota_esp_init(mqota_esp_t *e, const mqota_esp_config_t *cfg)
{
    if (e == NULL || cfg == NULL || cfg->rx_buf == NULL) return ESP_ERR_INVALID_ARG;
    uint32_t max_chunk = cfg->max_chunk ? cfg->max_chunk : 4096u;
    if (cfg->rx_cap < max_chunk + MQOTA_CHUNK_HEADER_LEN || cfg->rx_cap > UINT16_MAX) {
        ESP_LOGE(TAG, "receive buffer of %u bytes: it must hold a %u-byte chunk and its header "
                      "and be at most 65535 bytes",
                 (unsigned)cfg->rx_cap, (unsigned)max_chunk);
        return ESP_ERR_INVALID_ARG;
    }
    memset(e, 0, sizeof(*e));
    e->rx_buf = cfg->rx_buf;
    e->rx_cap = cfg->rx_cap;
    e->glue.self_test = cfg->self_test;
    e->glue.self_test_ctx = cfg->self_test_ctx;
    e->glue.diagnostics = cfg->diagnostics;
    e->glue.diagnostics_ctx = cfg->diagnostics_ctx;
    e->glue.rssi = cfg->rssi;
    e->glue.rssi_ctx = cfg->rssi_ctx;
    e->sha = psa_hash_operation_init();

    esp_err_t err = nvs_open(CONFIG_MQOTA_NVS_NAMESPACE, NVS_READWRITE, &e->glue.nvs);
    if (err != ESP_OK) {
        ESP_LOGE(TAG, "cannot open NVS namespace %s (%s); call nvs_flash_init() first",
                 CONFIG_MQOTA_NVS_NAMESPACE, esp_err_to_name(err));
        return err;
    }
    e->nvs_open = true;
    mqota_esp_glue_count_boot(&e->glue);
    if (psa_crypto_init() != PSA_SUCCESS) {
        err = ESP_FAIL;
        goto fail;
    }
    err = load_key(e, cfg->release_key, MQOTA_ESP_NVS_RELEASE_KEY, 65, &e->release_key,
                   PSA_KEY_TYPE_ECC_PUBLIC_KEY(PSA_ECC_FAMILY_SECP_R1), PSA_KEY_USAGE_VERIFY_HASH,
                   PSA_ALG_ECDSA(PSA_ALG_SHA_256));
    if (err != ESP_OK) goto fail;
    err = load_key(e, cfg->command_key, MQOTA_ESP_NVS_COMMAND_KEY, 32, &e->command_key,
                   PSA_KEY_TYPE_AES, PSA_KEY_USAGE_ENCRYPT | PSA_KEY_USAGE_DECRYPT, PSA_ALG_GCM);
    if (err != ESP_OK) goto fail;

    mqota_platform_t plat;
    mqota_esp_platform(e, &plat);
    mqota_config_t acfg = {
        .device_id = cfg->device_id,
        .topic_prefix = cfg->topic_prefix,
        .max_chunk = max_chunk,
        .max_window = cfg->max_window ? cfg->max_window : 4u,
        .auto_reboot = true,
        .require_signature = cfg->require_signature,
        .confirm_by_command = cfg->confirm_by_command,
        .command_handler = cfg->command_handler,
        .command_ctx = cfg->command_ctx,
        .confirm_timeout_ms = cfg->confirm_timeout_ms,
    };
    mqota_status_t st = mqota_agent_init(&e->agent, &acfg, &plat, plat.now_ms(e));
    if (st != MQOTA_OK) {
        ESP_LOGE(TAG, "the agent refused its configuration: %s (status %d)", mqota_strerror(st),
                 (int)st);
        err = ESP_ERR_INVALID_STATE;
        goto fail;
    }

    /* the last will marks the device offline when the link dies without a DISCONNECT; esp-mqtt
     * keeps its own copy of the topic (mqtt_client.c esp_mqtt_set_if_config(): strdup()) */
    char will_topic[MQOTA_TOPIC_MAX];
    if (mqota_agent_topic(&e->agent, MQOTA_TOPIC_ONLINE, will_topic, sizeof(will_topic)) !=
        MQOTA_OK) {
        err = ESP_ERR_INVALID_STATE;
        goto fail;
    }
    esp_mqtt_client_config_t mc = cfg->mqtt;
    mc.credentials.client_id = e->agent.device_id;
    mc.session.last_will.topic = will_topic;
    mc.session.last_will.msg = MQOTA_OFFLINE_PAYLOAD;
    mc.session.last_will.msg_len = (int)strlen(MQOTA_OFFLINE_PAYLOAD);
    mc.session.last_will.qos = 1;
    mc.session.last_will.retain = 1;
    mc.buffer.size = CONFIG_MQOTA_MQTT_BUFFER_SIZE;
    if (mc.buffer.out_size <= 0) mc.buffer.out_size = mqtt_out_size(&mc);
    e->client = esp_mqtt_client_init(&mc);
    if (e->client == NULL) {
        err = ESP_ERR_NO_MEM;
        goto fail;
    }
    err = esp_mqtt_client_register_event(e->client, MQTT_EVENT_ANY, mqtt_event, e);
    if (err != ESP_OK) goto fail;
    return ESP_OK;

fail:
    undo_init(e);
    return err;
}

esp_err_t mqota_esp_start(mqota_esp_t *e)
{
    e->events = xQueueCreateStatic(MQOTA_ESP_QUEUE_LEN, sizeof(mqota_esp_event_t),
                                   e->events_storage, &e->events_q);
    e->rx_free = xSemaphoreCreateBinaryStatic(&e->rx_free_sem);
    if (e->events == NULL || e->rx_free == NULL) return ESP_FAIL;
    xSemaphoreGive(e->rx_free); /* the buffer starts free */
    e->task = xTaskCreateStatic(agent_task, "mqota", sizeof(e->stack) / sizeof(e->stack[0]),
                                e, CONFIG_MQOTA_TASK_PRIORITY, e->stack, &e->task_tcb);
    if (e->task == NULL) return ESP_FAIL;
    return esp_mqtt_client_start(e->client);
}
