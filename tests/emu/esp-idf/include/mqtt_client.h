/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Host emulation of ESP-IDF (tests/emu/esp-idf/README.md): the esp-mqtt client API
 * (espressif/esp-mqtt include/mqtt_client.h, as shipped in ../shared/sdk/esp-idf
 * components/mqtt/include), only what the ESP-IDF port and the fleet call, over libmosquitto
 * (mqtt_emu.c). Types, field names and enum values as esp-mqtt defines them; configuration
 * fields the emulation does not act on are left out.
 */
#ifndef MQOTA_EMU_MQTT_CLIENT_H
#define MQOTA_EMU_MQTT_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "esp_err.h"
#include "esp_event.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct esp_mqtt_client *esp_mqtt_client_handle_t;

typedef enum esp_mqtt_event_id_t {
    MQTT_EVENT_ANY = -1,
    MQTT_EVENT_ERROR = 0,
    MQTT_EVENT_CONNECTED,
    MQTT_EVENT_DISCONNECTED,
    MQTT_EVENT_SUBSCRIBED,
    MQTT_EVENT_UNSUBSCRIBED,
    MQTT_EVENT_PUBLISHED,
    MQTT_EVENT_DATA,
    MQTT_EVENT_BEFORE_CONNECT,
    MQTT_EVENT_DELETED,
    MQTT_USER_EVENT,
} esp_mqtt_event_id_t;

typedef enum esp_mqtt_protocol_ver_t {
    MQTT_PROTOCOL_UNDEFINED = 0,
    MQTT_PROTOCOL_V_3_1,
    MQTT_PROTOCOL_V_3_1_1,
    MQTT_PROTOCOL_V_5,
} esp_mqtt_protocol_ver_t;

typedef struct esp_mqtt_event_t {
    esp_mqtt_event_id_t event_id;
    esp_mqtt_client_handle_t client;
    char *data;              /* this event's part of the payload */
    int data_len;            /* its length */
    int total_data_len;      /* the whole payload's length */
    int current_data_offset; /* where this part starts in the payload */
    char *topic;             /* first event of a message only; NULL after */
    int topic_len;           /* 0 after the first event */
    int msg_id;
    int session_present;
    bool retain;
    int qos;
    bool dup;
    esp_mqtt_protocol_ver_t protocol_ver;
} esp_mqtt_event_t;

typedef esp_mqtt_event_t *esp_mqtt_event_handle_t;

typedef struct esp_mqtt_client_config_t {
    struct broker_t {
        struct address_t {
            const char *uri;
        } address;
        struct verification_t {
            const char *certificate; /* PEM; not acted on here (the harness sets TLS) */
            size_t certificate_len;
        } verification;
    } broker;
    struct credentials_t {
        const char *username;
        const char *client_id;
        struct authentication_t {
            const char *password;
        } authentication;
    } credentials;
    struct session_t {
        struct last_will_t {
            const char *topic;
            const char *msg;
            int msg_len; /* 0: strlen(msg) */
            int qos;
            int retain;
        } last_will;
        bool disable_clean_session;
        int keepalive; /* seconds; 0: the default, 120 */
        esp_mqtt_protocol_ver_t protocol_ver;
    } session;
    struct buffer_t {
        int size;     /* receive buffer, bytes; 0: the default, 1024 */
        int out_size; /* 0: size */
    } buffer;
} esp_mqtt_client_config_t;

esp_mqtt_client_handle_t esp_mqtt_client_init(const esp_mqtt_client_config_t *config);
esp_err_t esp_mqtt_client_start(esp_mqtt_client_handle_t client);
esp_err_t esp_mqtt_client_stop(esp_mqtt_client_handle_t client);
esp_err_t esp_mqtt_client_destroy(esp_mqtt_client_handle_t client);
esp_err_t esp_mqtt_client_register_event(esp_mqtt_client_handle_t client,
                                         esp_mqtt_event_id_t event,
                                         esp_event_handler_t event_handler,
                                         void *event_handler_arg);
int esp_mqtt_client_subscribe_single(esp_mqtt_client_handle_t client, const char *topic,
                                     int qos);
int esp_mqtt_client_unsubscribe(esp_mqtt_client_handle_t client, const char *topic);
int esp_mqtt_client_enqueue(esp_mqtt_client_handle_t client, const char *topic,
                            const char *data, int len, int qos, int retain, bool store);
int esp_mqtt_client_get_outbox_size(esp_mqtt_client_handle_t client);

#ifdef __cplusplus
}
#endif

#endif /* MQOTA_EMU_MQTT_CLIENT_H */
