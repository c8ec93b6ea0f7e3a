/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file mqota_esp.h
 * @brief mqota on ESP-IDF: the agent, its platform hooks on esp_ota_ops / NVS / PSA Crypto /
 *        esp_timer, and its MQTT transport on esp-mqtt, in one caller-owned struct.
 *
 * Two tasks share the work (docs/ESP-IDF.md, "Two tasks"): esp-mqtt's task receives
 * messages, joins the pieces of a long one into the receive buffer and hands it over through
 * a FreeRTOS queue; the agent's own task runs every agent call, and with them every flash
 * erase, flash write and NVS write, so none runs inside the MQTT event task.
 *
 * The port allocates nothing itself: the queue, the semaphore and the task are created from
 * storage inside mqota_esp_t, and the receive buffer is the caller's. ESP-IDF allocates on
 * its side (esp_mqtt_client_init, esp_ota_begin / esp_ota_resume, nvs_open, PSA key slots).
 */
#ifndef MQOTA_ESP_H
#define MQOTA_ESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "esp_err.h"
#include "esp_ota_ops.h"
#include "freertos/FreeRTOS.h"
#include "freertos/queue.h"
#include "freertos/semphr.h"
#include "freertos/task.h"
#include "mqota_esp_glue.h" /* and through it the core's mqota.h */
#include "mqtt_client.h"
#include "nvs.h"
#include "psa/crypto.h"
#include "mqota_esp_kconfig.h" /* sdkconfig.h, with the Kconfig defaults it may lack */

#ifdef __cplusplus
extern "C" {
#endif

/* MQOTA_ESP_NVS_RELEASE_KEY, MQOTA_ESP_NVS_COMMAND_KEY: mqota_esp_glue.h (the Arduino library
 * reads the same keys). */
/**
 * esp-mqtt builds each packet it sends in its out buffer (buffer.out_size): a CONNECT must fit
 * whole, a PUBLISH its header and topic, and a payload that does not fit follows in further
 * writes from the caller's data (esp-mqtt's mqtt_msg.c, mqtt_msg_publish(): "fragmented").
 * esp-mqtt reserves 5 bytes for the fixed header of every packet (MQTT_MAX_FIXED_HEADER_SIZE).
 */
#define MQOTA_ESP_MQTT_FIXED_HEADER 5u
/** A PUBLISH of the longest topic at QoS 1 before its payload: fixed header, topic, packet id */
#define MQOTA_ESP_MQTT_PUBLISH_HEAD (MQOTA_ESP_MQTT_FIXED_HEADER + 2u + (MQOTA_TOPIC_MAX - 1u) + 2u)
/**
 * The out buffer the port gives esp-mqtt, before the CONNECT is counted: room for a whole
 * STATE (MQOTA_STATE_MAX_LEN, the longest message the agent publishes often; an ACK is
 * shorter) after the longest PUBLISH head. The agent's longer messages, a REPLY (up to
 * MQOTA_SEALED_MAX_LEN) and a TELEMETRY, go out in pieces. mqota_esp_init() raises it to the
 * CONNECT's length when the device id, last will and credentials need more.
 */
#define MQOTA_ESP_MQTT_OUT_MIN (MQOTA_ESP_MQTT_PUBLISH_HEAD + MQOTA_STATE_MAX_LEN)

/** Events queued from the MQTT task to the agent's task (link changes, one message). */
#define MQOTA_ESP_QUEUE_LEN 4u

/** What the application gives mqota_esp_init(). Pointers must stay valid while it runs. */
typedef struct {
    const char *device_id;    /**< [A-Za-z0-9_.-], 1..MQOTA_DEVICE_ID_MAX bytes; also the
                                   MQTT client id */
    const char *topic_prefix; /**< NULL for MQOTA_TOPIC_PREFIX_DEFAULT */
    /** Broker URI, CA, credentials: copied; the port sets client_id, the last will,
     *  buffer.size (CONFIG_MQOTA_MQTT_BUFFER_SIZE) and, unless set here, buffer.out_size
     *  (MQOTA_ESP_MQTT_OUT_MIN or the CONNECT's length; MQTT 5 CONNECT properties that you
     *  set later, esp_mqtt5_client_set_connect_property(), are not counted: then set
     *  out_size yourself) itself. */
    esp_mqtt_client_config_t mqtt;
    uint8_t *rx_buf;  /**< Receive buffer (caller-owned), CONFIG_MQOTA_RX_BUFFER_SIZE bytes */
    size_t rx_cap;    /**< Its size, bytes */
    uint32_t max_chunk; /**< Largest chunk accepted, bytes; power of two; must fit rx_cap
                             with the chunk header (0: 4096) */
    uint16_t max_window; /**< Chunks in flight the device accepts (0: 4) */
    const uint8_t *release_key; /**< 65-byte P-256 public key, or NULL: NVS, else unsigned */
    const uint8_t *command_key; /**< 32-byte command key, or NULL: NVS, else no commands */
    bool require_signature;   /**< Refuse unsigned offers */
    bool confirm_by_command;  /**< Wait for the server's confirm (needs the command key) */
    uint32_t confirm_timeout_ms; /**< Pending-verify: roll back when the server's confirm (or
                                      the broker) is not reached in this many milliseconds
                                      (0: MQOTA_CONFIRM_TIMEOUT_MS) */
    bool (*self_test)(void *ctx); /**< Self-test of a new image; NULL: always healthy */
    void *self_test_ctx;          /**< Passed to self_test */
    /** The application's lines in the "diagnostics" command's reply, after the port's:
     *  "key=value\n" lines written into buf (cap bytes, in the agent's task); returns the bytes
     *  written (less than cap). NULL: none. */
    size_t (*diagnostics)(void *ctx, char *buf, size_t cap);
    void *diagnostics_ctx;        /**< Passed to diagnostics */
    /** The link's signal strength in dBm for the HEALTH report (docs/PROTOCOL.md §16), e.g.
     *  esp_wifi_sta_get_ap_info()'s rssi: 0 with *dbm set, -1 when unknown (no AP). Called in
     *  the agent's task. NULL: HEALTH says unknown. */
    int (*rssi)(void *ctx, int8_t *dbm);
    void *rssi_ctx;               /**< Passed to rssi */
    mqota_command_fn command_handler; /**< Application commands; NULL: none */
    void *command_ctx;                /**< Passed to command_handler */
} mqota_esp_config_t;

/** One event from the MQTT task to the agent's task. */
typedef struct {
    uint8_t kind; /**< link changed or message (mqota_esp.c) */
    uint16_t len; /**< message: payload bytes in the receive buffer */
} mqota_esp_event_t;

/** The port's state. Caller-owned (static storage), one per device; do not touch its fields. */
typedef struct {
    /* flash, NVS, clock, diagnostics, self-test: the glue shared with ports/arduino; FIRST,
     * because its hooks read the platform ctx as a mqota_esp_glue_t (mqota_esp_glue.h) */
    mqota_esp_glue_t glue;
    mqota_agent_t agent;
    esp_mqtt_client_handle_t client;
    /* crypto */
    psa_hash_operation_t sha;
    psa_key_id_t release_key;
    psa_key_id_t command_key;
    /* receive path (MQTT task -> agent task) */
    uint8_t *rx_buf;
    size_t rx_cap;
    size_t rx_len;
    bool rx_owned;                  /* the MQTT task holds the buffer for a message */
    bool rx_dropping;               /* rest of a message that does not fit / was dropped */
    bool nvs_open;                  /* (the flags side by side: no padding between them) */
    /* link state: written by the MQTT task (up first, then the generation), read by the
     * agent's task, which calls on_connect/on_disconnect when the generation moved */
    uint32_t link_gen;
    bool link_up;
    bool agent_connected;           /* the agent's task's own */
    uint32_t seen_gen;
    char rx_topic[MQOTA_TOPIC_MAX];
    QueueHandle_t events;
    StaticQueue_t events_q;
    uint8_t events_storage[MQOTA_ESP_QUEUE_LEN * sizeof(mqota_esp_event_t)];
    SemaphoreHandle_t rx_free;
    StaticSemaphore_t rx_free_sem;
    TaskHandle_t task;
    StaticTask_t task_tcb;
    StackType_t stack[CONFIG_MQOTA_TASK_STACK / sizeof(StackType_t)];
} mqota_esp_t;

/**
 * @brief Set up the agent and its MQTT client; nothing runs until mqota_esp_start().
 *
 * Opens the NVS namespace (nvs_flash_init() must have run), starts PSA Crypto and imports the
 * keys, reads the running image and the agent's records, creates the esp-mqtt client with the
 * last will "offline" (retained, QoS 1) on the device's online topic.
 *
 * @param[out] e   The port's state, caller-owned; lives as long as the device runs.
 * @param[in]  cfg What the application sets; read during the call, its pointers kept.
 * @return ESP_OK; ESP_ERR_INVALID_ARG (NULL, receive buffer smaller than a chunk plus its
 *         header, a key PSA Crypto refuses); ESP_ERR_INVALID_SIZE (a key in NVS of the wrong
 *         length); ESP_ERR_INVALID_STATE (the agent refused its configuration, e.g. a bad
 *         device id); or the error of the ESP-IDF call that failed. Each failure logs one
 *         sentence (tag "mqota") and undoes what was set up: NVS handle, keys, MQTT client.
 */
esp_err_t mqota_esp_init(mqota_esp_t *e, const mqota_esp_config_t *cfg);

/**
 * @brief Start the agent's task and the MQTT client.
 * @param[in,out] e The port's state, after mqota_esp_init() returned ESP_OK.
 * @return ESP_OK, or the error of esp_mqtt_client_start() (ESP_FAIL if the task could not be
 *         created).
 */
esp_err_t mqota_esp_start(mqota_esp_t *e);

/**
 * @brief Fill in the platform hooks on ESP-IDF (mqota_esp_glue.c and mqota_esp_platform.c);
 *        mqota_esp_init() uses
 *        it, and it is public for an application that brings its own transport.
 * @param[in,out] e    The port's state, the ctx of every hook; its keys decide whether the
 *                     signature and AEAD hooks are set.
 * @param[out]    plat Filled in; the transport hooks are the port's esp-mqtt ones.
 */
void mqota_esp_platform(mqota_esp_t *e, mqota_platform_t *plat);

#ifdef __cplusplus
}
#endif

#endif /* MQOTA_ESP_H */
