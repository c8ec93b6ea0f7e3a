// SPDX-License-Identifier: Apache-2.0
// mqota over Wi-Fi: an ESP32 that takes its firmware updates from mqotad.
// Set the Wi-Fi network and the broker below; docs/ARDUINO.md says how to choose a partition
// scheme with two OTA slots, put the keys into NVS and use TLS (WiFiClientSecure + the CA).
#include <PubSubClient.h>
#include <WiFi.h>

#include <Mqota.h>

static const char WIFI_SSID[] = "my-network";
static const char WIFI_PASSWORD[] = "my-password";
static const char BROKER_HOST[] = "mqota.example.net";
static const uint16_t BROKER_PORT = 1883;
static const char MQTT_USER[] = "";     // username/password of `mqota device provision` (docs/CLI.md)
static const char MQTT_PASSWORD[] = "";
static const uint32_t WIFI_WAIT_MS = 30000;

static WiFiClient net;
static PubSubClient mqtt(net);
static Mqota mqota; // 8.4 KiB (2.0.17, default mqota_config.h): static storage, never the stack
static char deviceId[32];

// Self-test of a new image, run once after the update boots: healthy if Wi-Fi came up. The
// agent confirms the image (or rolls it back) after this returns.
static bool selfTest(void *)
{
    return WiFi.status() == WL_CONNECTED;
}

// The access point's signal strength for mqota's HEALTH report.
static int wifiRssi(void *, int8_t *dbm)
{
    if (WiFi.status() != WL_CONNECTED) return -1;
    *dbm = (int8_t)WiFi.RSSI();
    return 0;
}

void setup()
{
    Serial.begin(115200);
    WiFi.mode(WIFI_STA);
    WiFi.begin(WIFI_SSID, WIFI_PASSWORD);
    for (uint32_t t0 = millis(); WiFi.status() != WL_CONNECTED && millis() - t0 < WIFI_WAIT_MS;)
        delay(100);

    uint8_t mac[6];
    WiFi.macAddress(mac);
    snprintf(deviceId, sizeof(deviceId), "esp32-%02x%02x%02x%02x%02x%02x", mac[0], mac[1],
             mac[2], mac[3], mac[4], mac[5]);

    mqtt.setServer(BROKER_HOST, BROKER_PORT);
    MqotaConfig cfg;
    cfg.deviceId = deviceId;
    cfg.mqttUser = MQTT_USER[0] ? MQTT_USER : nullptr;
    cfg.mqttPassword = MQTT_PASSWORD[0] ? MQTT_PASSWORD : nullptr;
    cfg.selfTest = selfTest;
    cfg.rssi = wifiRssi;
    if (!mqota.begin(mqtt, cfg)) {
        Serial.print("mqota: ");
        Serial.println(mqota.lastError());
        return;
    }
    Serial.print("mqota: device ");
    Serial.println(deviceId);
}

void loop()
{
    mqota.loop(); // reconnects to the broker by itself; Wi-Fi reconnects by itself too
    delay(10);
}
