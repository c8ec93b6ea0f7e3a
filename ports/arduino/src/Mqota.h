/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file Mqota.h
 * @brief mqota for Arduino-ESP32: the device agent on esp_ota_ops / NVS (the glue shared with
 *        the ESP-IDF component, mqota_esp_glue.c), Mbed TLS crypto and a PubSubClient
 *        transport over any Arduino Client (WiFiClient, TinyGsmClient, ...).
 *
 * Everything runs in the sketch's loop(): Mqota::loop() reconnects (one attempt every
 * MQOTA_ARDUINO_RECONNECT_MS), runs PubSubClient, hands a received message to the agent and
 * runs the agent's timers. PubSubClient publishes at QoS 0 only (docs/ARDUINO.md says what that
 * changes). The library also defines verifyRollbackLater() (Mqota.cpp), so that the core leaves
 * a new image pending-verify until the agent's self-test has run.
 *
 * Compile-checked against Arduino-ESP32 2.0.17 (ESP-IDF 4.4.7) only; never run on a board.
 */
#ifndef MQOTA_ARDUINO_H
#define MQOTA_ARDUINO_H

#include <Arduino.h>
#include <PubSubClient.h>

#include "mbedtls/ecp.h"
#include "mbedtls/gcm.h"
#include "mbedtls/sha256.h"
#include "mqota/mqota.h"
#include "mqota_config.h"
#include "mqota_esp_glue.h"

/** Bytes of PubSubClient's buffer: the largest packet either way, a CHUNK of
 *  MQOTA_ARDUINO_MAX_CHUNK bytes with its header, topic, topic length and MQTT fixed header. */
#define MQOTA_ARDUINO_MQTT_BUFFER \
    (5u + 2u + MQOTA_TOPIC_MAX + MQOTA_CHUNK_HEADER_LEN + MQOTA_ARDUINO_MAX_CHUNK)
/** Bytes of the receive buffer a message is copied into before the agent reads it. */
#define MQOTA_ARDUINO_RX_BUFFER (MQOTA_CHUNK_HEADER_LEN + MQOTA_ARDUINO_MAX_CHUNK)

static_assert(MQOTA_ARDUINO_RX_BUFFER >= MQOTA_SEALED_MAX_LEN,
              "the receive buffer must hold a sealed command");

/** What the sketch gives Mqota::begin(). Pointers must stay valid while the agent runs. */
struct MqotaConfig {
    const char *deviceId = nullptr;    /**< [A-Za-z0-9_.-], 1..MQOTA_DEVICE_ID_MAX bytes; also
                                            the MQTT client id */
    const char *topicPrefix = nullptr; /**< nullptr for MQOTA_TOPIC_PREFIX_DEFAULT */
    const char *mqttUser = nullptr;    /**< Broker user name, or nullptr */
    const char *mqttPassword = nullptr; /**< Broker password, or nullptr */
    const uint8_t *releaseKey = nullptr; /**< 65-byte P-256 public key, or nullptr: NVS key
                                              MQOTA_ESP_NVS_RELEASE_KEY, else unsigned */
    const uint8_t *commandKey = nullptr; /**< 32-byte command key, or nullptr: NVS key
                                              MQOTA_ESP_NVS_COMMAND_KEY, else no commands */
    bool requireSignature = false;     /**< Refuse unsigned offers */
    bool confirmByCommand = false;     /**< Wait for the server's confirm (needs commandKey) */
    uint16_t maxWindow = MQOTA_ARDUINO_MAX_WINDOW; /**< Chunks in flight, 1..64 */
    bool (*selfTest)(void *ctx) = nullptr; /**< Self-test of a new image; nullptr: healthy */
    void *selfTestCtx = nullptr;       /**< Passed to selfTest */
    /** The link's signal strength in dBm for the HEALTH report (WiFi.RSSI(), or a modem's
     *  signal quality): 0 with *dbm set, -1 when unknown. nullptr: HEALTH says unknown. */
    int (*rssi)(void *ctx, int8_t *dbm) = nullptr;
    void *rssiCtx = nullptr;           /**< Passed to rssi */
    mqota_command_fn commandHandler = nullptr; /**< Application commands; nullptr: none */
    void *commandCtx = nullptr;        /**< Passed to commandHandler */
};

/** The hooks' state; the glue's state first (mqota_esp_glue.h). Not for the sketch. */
struct MqotaState {
    mqota_esp_glue_t glue;
    mbedtls_sha256_context sha;
    mbedtls_ecp_group grp;
    mbedtls_ecp_point releaseKey;
    bool hasReleaseKey;
    mbedtls_gcm_context gcm;
    bool hasCommandKey;
    PubSubClient *mqtt;
};

/** The agent on Arduino. One per device, in static storage (it holds the agent's state and
 *  the receive buffer: 8,592 bytes with the default mqota_config.h on 2.0.17, plus the
 *  MQOTA_ARDUINO_MQTT_BUFFER bytes PubSubClient allocates): `static Mqota mqota;`. */
class Mqota {
public:
    /**
     * @brief Set up the agent: open NVS, load the keys, read the running image and the
     *        agent's records, size PubSubClient's buffer and take its callback.
     * @param[in,out] mqtt PubSubClient with server and Client set (setServer, setClient);
     *                     Mqota connects it (last will "offline", retained, QoS 1).
     * @param[in]     cfg  Copied; its pointers are kept.
     * @return true; false with a sentence in lastError() (nothing is left set up).
     */
    bool begin(PubSubClient &mqtt, const MqotaConfig &cfg);

    /** @brief Run the agent one turn; call it from loop() every 10-100 ms. Restarts the chip
     *         when an update (or a rollback) asks for it. */
    void loop();

    /** @brief Why begin() failed, one sentence; "" after success. */
    const char *lastError() const { return err_; }

    /** @brief The agent, for mqota_agent_state() and the other read-only calls of mqota.h. */
    const mqota_agent_t &agent() const { return agent_; }

private:
    bool fail(const char *fmt, ...);
    bool loadKey(const uint8_t *given, const char *nvsKey, size_t len, uint8_t *out, bool *found);
    void release();
    void followLink(uint32_t now);
    void onMessage(const char *topic, const uint8_t *payload, unsigned int len);

    MqotaState st_ = {};
    mqota_agent_t agent_ = {};
    PubSubClient *mqtt_ = nullptr;
    const char *user_ = nullptr;
    const char *password_ = nullptr;
    bool begun_ = false;
    bool nvsOpen_ = false;
    bool agentConnected_ = false;
    bool tried_ = false;
    uint32_t lastTry_ = 0;
    bool rxPending_ = false;
    size_t rxLen_ = 0;
    char willTopic_[MQOTA_TOPIC_MAX] = {};
    char rxTopic_[MQOTA_TOPIC_MAX] = {};
    uint8_t rx_[MQOTA_ARDUINO_RX_BUFFER] = {};
    char err_[160] = {};
};

#endif /* MQOTA_ARDUINO_H */
