// SPDX-License-Identifier: Apache-2.0
// mqota over cellular: an ESP32 with a SIM7600 modem (TinyGSM) that takes its firmware
// updates from mqotad. Set the APN, the modem's pins and the broker below; docs/ARDUINO.md
// ("Cellular") says what a slow or metered link changes.
#define TINY_GSM_MODEM_SIM7600
#define TINY_GSM_RX_BUFFER 1024 // a 4 KiB chunk arrives in pieces; a larger buffer needs fewer

#include <PubSubClient.h>
#include <TinyGsmClient.h>

#include <Mqota.h>

static const char APN[] = "internet";
static const char APN_USER[] = "";
static const char APN_PASSWORD[] = "";
static const char BROKER_HOST[] = "mqota.example.net";
static const uint16_t BROKER_PORT = 1883;
static const char MQTT_USER[] = "";     // username/password of `mqota device provision` (docs/CLI.md)
static const char MQTT_PASSWORD[] = "";
static const int MODEM_RX_PIN = 20;     // ESP32 pin wired to the modem's TX
static const int MODEM_TX_PIN = 21;     // ESP32 pin wired to the modem's RX
static const uint32_t MODEM_BAUD = 115200;
static const uint32_t NETWORK_WAIT_MS = 60000;
static const uint32_t GPRS_RETRY_MS = 30000;

static TinyGsm modem(Serial1);
static TinyGsmClient net(modem);
static PubSubClient mqtt(net);
static Mqota mqota; // 8.4 KiB (2.0.17, default mqota_config.h): static storage, never the stack
static char deviceId[32];
static uint32_t lastGprsTry;

// Self-test of a new image: healthy if the modem answers and has a data connection.
static bool selfTest(void *)
{
    return modem.testAT() && modem.isGprsConnected();
}

// The cell's signal strength for mqota's HEALTH report: the modem's CSQ (0..31, 99 unknown)
// in dBm, -113 + 2 * CSQ (3GPP TS 27.007, +CSQ).
static int cellRssi(void *, int8_t *dbm)
{
    int16_t csq = modem.getSignalQuality();
    if (csq < 0 || csq > 31) return -1;
    *dbm = (int8_t)(-113 + 2 * csq);
    return 0;
}

static void connectData()
{
    lastGprsTry = millis();
    if (!modem.waitForNetwork(NETWORK_WAIT_MS)) return;
    (void)modem.gprsConnect(APN, APN_USER, APN_PASSWORD);
}

void setup()
{
    Serial.begin(115200);
    Serial1.begin(MODEM_BAUD, SERIAL_8N1, MODEM_RX_PIN, MODEM_TX_PIN);
    modem.restart();
    connectData();

    // the IMEI names the device: stable across updates and SIM swaps
    String imei = modem.getIMEI();
    snprintf(deviceId, sizeof(deviceId), "sim7600-%s", imei.c_str());

    mqtt.setServer(BROKER_HOST, BROKER_PORT);
    MqotaConfig cfg;
    cfg.deviceId = deviceId;
    cfg.mqttUser = MQTT_USER[0] ? MQTT_USER : nullptr;
    cfg.mqttPassword = MQTT_PASSWORD[0] ? MQTT_PASSWORD : nullptr;
    cfg.selfTest = selfTest;
    cfg.rssi = cellRssi;
    cfg.maxWindow = 2; // fewer chunks in flight: less to resend when the cell drops a few
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
    if (!modem.isGprsConnected() && millis() - lastGprsTry >= GPRS_RETRY_MS) connectData();
    mqota.loop();
    delay(10);
}
