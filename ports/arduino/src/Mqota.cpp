// SPDX-License-Identifier: Apache-2.0
//
// The Arduino library's transport (PubSubClient), crypto (Mbed TLS: 2.28 in Arduino-ESP32 2.x,
// 3.x in Arduino-ESP32 3.x) and loop. The flash/NVS/clock hooks are the ESP-IDF component's own
// (mqota_esp_glue.c, copied into the library by assemble.sh, never into git).
//
// PubSubClient keeps one buffer for what it receives and what it sends: an ACK the agent
// publishes while it reads a CHUNK would overwrite the chunk. The callback therefore copies the
// message into the library's receive buffer, and loop() hands it to the agent after
// PubSubClient::loop() returned (one message per turn, as PubSubClient reads one per turn).
#include "Mqota.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "esp_system.h"
#include "esp_timer.h"
#include "mbedtls/ecdsa.h"
#include "mbedtls/version.h"
#include "mqota/mqota_manifest.h"
#include "nvs.h"

/* An uncompressed P-256 public key: 0x04 || X || Y (SEC1), as the ESP-IDF component reads it. */
#define RELEASE_KEY_LEN 65u
/* Each half (r, s) of a raw ECDSA P-256 signature. */
#define SIG_HALF_LEN (MQOTA_ECDSA_P256_SIG_LEN / 2u)

static_assert(offsetof(MqotaState, glue) == 0,
              "the glue's hooks read the platform ctx as a mqota_esp_glue_t");
static_assert(MQOTA_ARDUINO_MQTT_BUFFER <= UINT16_MAX, "PubSubClient's buffer size is 16-bit");

// The Arduino core (esp32-hal-misc.c, initArduino()) marks a pending-verify image valid before
// setup() unless this returns true; its own definition is weak and returns false. Defined here,
// in the file that defines Mqota::begin(), so that it is linked whenever the sketch uses the
// library, also where libraries are linked as archives (PlatformIO). The agent confirms or
// rolls back the image after its self-test (docs/ARDUINO.md, "Rollback").
extern "C" bool verifyRollbackLater(void)
{
    return true;
}

// ---- transport hooks (PubSubClient: publishes at QoS 0 only) ------------------------------

static int h_publish(void *ctx, const char *topic, const uint8_t *payload, size_t len, int qos,
                     bool retain)
{
    MqotaState *s = static_cast<MqotaState *>(ctx);
    (void)qos; // PubSubClient sends every PUBLISH at QoS 0 (docs/ARDUINO.md)
    if (len > UINT16_MAX) return -1;
    return s->mqtt->publish(topic, payload, (unsigned int)len, retain) ? 0 : -1;
}

static int h_subscribe(void *ctx, const char *topic, int qos)
{
    MqotaState *s = static_cast<MqotaState *>(ctx);
    return s->mqtt->subscribe(topic, (uint8_t)(qos > 1 ? 1 : qos)) ? 0 : -1;
}

static int h_unsubscribe(void *ctx, const char *topic)
{
    MqotaState *s = static_cast<MqotaState *>(ctx);
    return s->mqtt->unsubscribe(topic) ? 0 : -1;
}

// ---- crypto (Mbed TLS; the _ret names of 2.x became the plain names in 3.0) ---------------

#if MBEDTLS_VERSION_NUMBER < 0x03000000
#define MQOTA_SHA256_STARTS mbedtls_sha256_starts_ret
#define MQOTA_SHA256_UPDATE mbedtls_sha256_update_ret
#define MQOTA_SHA256_FINISH mbedtls_sha256_finish_ret
#else
#define MQOTA_SHA256_STARTS mbedtls_sha256_starts
#define MQOTA_SHA256_UPDATE mbedtls_sha256_update
#define MQOTA_SHA256_FINISH mbedtls_sha256_finish
#endif

static int h_sha256_begin(void *ctx)
{
    MqotaState *s = static_cast<MqotaState *>(ctx);
    mbedtls_sha256_free(&s->sha);
    mbedtls_sha256_init(&s->sha);
    return MQOTA_SHA256_STARTS(&s->sha, 0) == 0 ? 0 : -1;
}

static int h_sha256_update(void *ctx, const uint8_t *data, size_t len)
{
    MqotaState *s = static_cast<MqotaState *>(ctx);
    return MQOTA_SHA256_UPDATE(&s->sha, data, len) == 0 ? 0 : -1;
}

static int h_sha256_finish(void *ctx, uint8_t out[32])
{
    MqotaState *s = static_cast<MqotaState *>(ctx);
    return MQOTA_SHA256_FINISH(&s->sha, out) == 0 ? 0 : -1;
}

// The agent passes the signature as raw r || s (SIG_HALF_LEN bytes each).
static int h_verify_signature(void *ctx, const uint8_t digest[32], const uint8_t *sig,
                              size_t sig_len)
{
    MqotaState *s = static_cast<MqotaState *>(ctx);
    if (sig_len != MQOTA_ECDSA_P256_SIG_LEN) return -1;
    mbedtls_mpi r, t;
    mbedtls_mpi_init(&r);
    mbedtls_mpi_init(&t);
    int rc = mbedtls_mpi_read_binary(&r, sig, SIG_HALF_LEN);
    if (rc == 0) rc = mbedtls_mpi_read_binary(&t, sig + SIG_HALF_LEN, SIG_HALF_LEN);
    if (rc == 0)
        rc = mbedtls_ecdsa_verify(&s->grp, digest, MQOTA_SHA256_LEN, &s->releaseKey, &r, &t);
    mbedtls_mpi_free(&r);
    mbedtls_mpi_free(&t);
    return rc == 0 ? 0 : -1;
}

static int h_aead_seal(void *ctx, const uint8_t *nonce, const uint8_t *aad, size_t aad_len,
                       const uint8_t *in, size_t len, uint8_t *out, uint8_t *tag)
{
    MqotaState *s = static_cast<MqotaState *>(ctx);
    return mbedtls_gcm_crypt_and_tag(&s->gcm, MBEDTLS_GCM_ENCRYPT, len, nonce,
                                     MQOTA_AEAD_NONCE_LEN, aad, aad_len, in, out,
                                     MQOTA_SEALED_TAG_LEN, tag) == 0
               ? 0
               : -1;
}

static int h_aead_open(void *ctx, const uint8_t *nonce, const uint8_t *aad, size_t aad_len,
                       const uint8_t *in, size_t len, uint8_t *out, const uint8_t *tag)
{
    MqotaState *s = static_cast<MqotaState *>(ctx);
    return mbedtls_gcm_auth_decrypt(&s->gcm, len, nonce, MQOTA_AEAD_NONCE_LEN, aad, aad_len, tag,
                                    MQOTA_SEALED_TAG_LEN, in, out) == 0
               ? 0
               : -1;
}

// ---- Mqota ----------------------------------------------------------------------------------

static uint64_t now_ms(void)
{
    return (uint64_t)esp_timer_get_time() / 1000u;
}

bool Mqota::fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err_, sizeof(err_), fmt, ap);
    va_end(ap);
    release();
    return false;
}

// Undo what begin() set up, so that a failed begin() leaves nothing behind.
void Mqota::release()
{
    mbedtls_sha256_free(&st_.sha);
    mbedtls_ecp_point_free(&st_.releaseKey);
    mbedtls_ecp_group_free(&st_.grp);
    mbedtls_gcm_free(&st_.gcm);
    if (nvsOpen_) nvs_close(st_.glue.nvs);
    nvsOpen_ = false;
    st_.hasReleaseKey = false;
    st_.hasCommandKey = false;
}

// The key given by the sketch, or else the one stored in NVS under nvsKey: *found false when
// there is none; false (with a sentence) when the stored one has another length.
bool Mqota::loadKey(const uint8_t *given, const char *nvsKey, size_t len, uint8_t *out,
                    bool *found)
{
    *found = false;
    if (given != nullptr) {
        memcpy(out, given, len);
        *found = true;
        return true;
    }
    size_t n = 0;
    esp_err_t err = nvs_get_blob(st_.glue.nvs, nvsKey, nullptr, &n);
    if (err == ESP_ERR_NVS_NOT_FOUND) return true;
    if (err == ESP_OK && n != len)
        return fail("NVS key %s in namespace %s holds %u bytes; it must hold %u", nvsKey,
                    MQOTA_ARDUINO_NVS_NAMESPACE, (unsigned)n, (unsigned)len);
    if (err == ESP_OK) err = nvs_get_blob(st_.glue.nvs, nvsKey, out, &n);
    if (err != ESP_OK)
        return fail("cannot read NVS key %s (%s)", nvsKey, esp_err_to_name(err));
    *found = true;
    return true;
}

bool Mqota::begin(PubSubClient &mqtt, const MqotaConfig &cfg)
{
    if (begun_) { // the running agent keeps its keys, NVS handle and buffers
        snprintf(err_, sizeof(err_), "Mqota::begin() was called twice");
        return false;
    }
    err_[0] = '\0';
    mqtt_ = &mqtt;
    st_.mqtt = &mqtt;
    user_ = cfg.mqttUser;
    password_ = cfg.mqttPassword;
    st_.glue.self_test = cfg.selfTest;
    st_.glue.self_test_ctx = cfg.selfTestCtx;
    st_.glue.rssi = cfg.rssi;
    st_.glue.rssi_ctx = cfg.rssiCtx;
    mbedtls_sha256_init(&st_.sha);
    mbedtls_ecp_group_init(&st_.grp);
    mbedtls_ecp_point_init(&st_.releaseKey);
    mbedtls_gcm_init(&st_.gcm);

    // the Arduino core ran nvs_flash_init() before setup()
    esp_err_t err = nvs_open(MQOTA_ARDUINO_NVS_NAMESPACE, NVS_READWRITE, &st_.glue.nvs);
    if (err != ESP_OK)
        return fail("cannot open NVS namespace %s (%s)", MQOTA_ARDUINO_NVS_NAMESPACE,
                    esp_err_to_name(err));
    nvsOpen_ = true;
    mqota_esp_glue_count_boot(&st_.glue);

    uint8_t key[RELEASE_KEY_LEN]; // the longer of the two keys
    bool found = false;
    if (!loadKey(cfg.releaseKey, MQOTA_ESP_NVS_RELEASE_KEY, RELEASE_KEY_LEN, key, &found))
        return false;
    if (found) {
        if (mbedtls_ecp_group_load(&st_.grp, MBEDTLS_ECP_DP_SECP256R1) != 0 ||
            mbedtls_ecp_point_read_binary(&st_.grp, &st_.releaseKey, key, RELEASE_KEY_LEN) != 0 ||
            mbedtls_ecp_check_pubkey(&st_.grp, &st_.releaseKey) != 0) {
            memset(key, 0, sizeof(key));
            return fail("the release key (%s) is not an uncompressed P-256 public key",
                        MQOTA_ESP_NVS_RELEASE_KEY);
        }
        st_.hasReleaseKey = true;
    }
    if (!loadKey(cfg.commandKey, MQOTA_ESP_NVS_COMMAND_KEY, MQOTA_AEAD_KEY_LEN, key, &found))
        return false;
    if (found) {
        int rc = mbedtls_gcm_setkey(&st_.gcm, MBEDTLS_CIPHER_ID_AES, key, 8u * MQOTA_AEAD_KEY_LEN);
        memset(key, 0, sizeof(key));
        if (rc != 0)
            return fail("the command key (%s) was refused by Mbed TLS", MQOTA_ESP_NVS_COMMAND_KEY);
        st_.hasCommandKey = true;
    }

    mqota_platform_t plat;
    memset(&plat, 0, sizeof(plat));
    mqota_esp_glue_hooks(&plat);
    plat.ctx = &st_; // its first member is the glue's state
    plat.publish = h_publish;
    plat.subscribe = h_subscribe;
    plat.unsubscribe = h_unsubscribe;
    plat.sha256_begin = h_sha256_begin;
    plat.sha256_update = h_sha256_update;
    plat.sha256_finish = h_sha256_finish;
    if (st_.hasReleaseKey) plat.verify_signature = h_verify_signature;
    if (st_.hasCommandKey) {
        plat.aead_seal = h_aead_seal;
        plat.aead_open = h_aead_open;
    }

    mqota_config_t acfg;
    memset(&acfg, 0, sizeof(acfg));
    acfg.device_id = cfg.deviceId;
    acfg.topic_prefix = cfg.topicPrefix;
    acfg.max_chunk = MQOTA_ARDUINO_MAX_CHUNK;
    acfg.max_window = cfg.maxWindow;
    acfg.auto_reboot = true;
    acfg.require_signature = cfg.requireSignature;
    acfg.confirm_by_command = cfg.confirmByCommand;
    acfg.command_handler = cfg.commandHandler;
    acfg.command_ctx = cfg.commandCtx;
    mqota_status_t st = mqota_agent_init(&agent_, &acfg, &plat, now_ms());
    if (st != MQOTA_OK) return fail("the agent refused its configuration: %s", mqota_strerror(st));
    if (mqota_agent_topic(&agent_, MQOTA_TOPIC_ONLINE, willTopic_, sizeof(willTopic_)) != MQOTA_OK)
        return fail("the device's online topic does not fit in %u bytes",
                    (unsigned)MQOTA_TOPIC_MAX);

    if (!mqtt.setBufferSize(MQOTA_ARDUINO_MQTT_BUFFER))
        return fail("PubSubClient could not allocate its %u-byte buffer",
                    (unsigned)MQOTA_ARDUINO_MQTT_BUFFER);
    mqtt.setCallback([this](char *topic, uint8_t *payload, unsigned int len) {
        onMessage(topic, payload, len);
    });
    begun_ = true;
    return true;
}

// PubSubClient's callback: copy the message out of PubSubClient's buffer (see the file
// comment); one that does not fit, or finds the last one not yet handed over, is dropped and
// counted (rx_dropped in diagnostics): the server sends a dropped chunk again.
void Mqota::onMessage(const char *topic, const uint8_t *payload, unsigned int len)
{
    size_t tlen = strlen(topic);
    if (rxPending_ || len > sizeof(rx_) || tlen >= sizeof(rxTopic_)) {
        st_.glue.rx_dropped++;
        return;
    }
    memcpy(rxTopic_, topic, tlen + 1);
    memcpy(rx_, payload, len);
    rxLen_ = len;
    rxPending_ = true;
}

// Tell the agent about the link: a disconnect when PubSubClient lost it, a connect (clean
// session: the agent subscribes again and republishes STATE) after a new CONNECT succeeded.
void Mqota::followLink(uint32_t now)
{
    if (mqtt_->connected()) return;
    if (agentConnected_) {
        mqota_agent_on_disconnect(&agent_);
        agentConnected_ = false;
    }
    if (tried_ && now - lastTry_ < MQOTA_ARDUINO_RECONNECT_MS) return;
    tried_ = true;
    lastTry_ = now;
    // bounded by the Client's connect timeout and PubSubClient's MQTT_SOCKET_TIMEOUT
    if (!mqtt_->connect(agent_.device_id, user_, password_, willTopic_, 1, true,
                        MQOTA_OFFLINE_PAYLOAD, true))
        return;
    agentConnected_ = true;
    (void)mqota_agent_on_connect(&agent_);
}

void Mqota::loop()
{
    if (!begun_) return;
    followLink(millis());
    if (agentConnected_) (void)mqtt_->loop();
    if (rxPending_) {
        (void)mqota_agent_on_message(&agent_, rxTopic_, rx_, rxLen_);
        rxPending_ = false;
    }
    // while verifying, the agent reads the slot back MQOTA_VERIFY_STEP bytes per call
    (void)mqota_agent_process(&agent_, now_ms());
    if (st_.glue.reboot_due) {
        // PubSubClient wrote every publish to the Client before returning: close the session,
        // give the Client MQOTA_ARDUINO_REBOOT_FLUSH_MS to send, restart (rolling back first
        // if the agent asked for that)
        mqtt_->disconnect();
        delay(MQOTA_ARDUINO_REBOOT_FLUSH_MS);
        mqota_esp_glue_restart(&st_.glue);
    }
}
