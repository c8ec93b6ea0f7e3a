/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hello_mqota: a Wi-Fi station that takes its firmware updates from mqotad.
 *
 * Settings come from menuconfig ("hello_mqota"); the command key and the release public key
 * from NVS (docs/ESP-IDF.md, step 4). The self-test keeps a new image only if the station got
 * an address and enough heap is free; the application command "heap" answers with the heap
 * figures. Everything else (download, verification, rollback) is the mqota component's.
 */
#include <stdio.h>
#include <string.h>

#include "esp_event.h"
#include "esp_log.h"
#include "esp_mac.h"
#include "esp_netif.h"
#include "esp_system.h"
#include "esp_wifi.h"
#include "freertos/FreeRTOS.h"
#include "freertos/event_groups.h"
#include "mqota_esp.h"
#include "nvs_flash.h"
#include "sdkconfig.h"

#define GOT_IP_BIT BIT0
#define WIFI_WAIT_MS 30000 /* after this the agent starts anyway; esp-mqtt keeps retrying */

static const char *TAG = "hello_mqota";
static EventGroupHandle_t s_wifi;
static StaticEventGroup_t s_wifi_group;
static mqota_esp_t s_ota;
static uint8_t s_rx[CONFIG_MQOTA_RX_BUFFER_SIZE];
static char s_device_id[MQOTA_DEVICE_ID_MAX + 1];

#if CONFIG_HELLO_BROKER_TLS
extern const char broker_ca_pem_start[] asm("_binary_broker_ca_pem_start");
#endif

static void on_wifi(void *arg, esp_event_base_t base, int32_t id, void *data)
{
    (void)arg;
    (void)data;
    if (base == WIFI_EVENT && (id == WIFI_EVENT_STA_START || id == WIFI_EVENT_STA_DISCONNECTED)) {
        xEventGroupClearBits(s_wifi, GOT_IP_BIT);
        (void)esp_wifi_connect(); /* the driver paces its own retries */
    } else if (base == IP_EVENT && id == IP_EVENT_STA_GOT_IP) {
        xEventGroupSetBits(s_wifi, GOT_IP_BIT);
    }
}

static esp_err_t wifi_start(void)
{
    wifi_init_config_t init = WIFI_INIT_CONFIG_DEFAULT();
    wifi_config_t sta = {0};
    s_wifi = xEventGroupCreateStatic(&s_wifi_group);
    ESP_ERROR_CHECK(esp_netif_init());
    ESP_ERROR_CHECK(esp_event_loop_create_default());
    if (esp_netif_create_default_wifi_sta() == NULL) return ESP_FAIL;
    ESP_ERROR_CHECK(esp_wifi_init(&init));
    ESP_ERROR_CHECK(esp_event_handler_register(WIFI_EVENT, ESP_EVENT_ANY_ID, on_wifi, NULL));
    ESP_ERROR_CHECK(esp_event_handler_register(IP_EVENT, IP_EVENT_STA_GOT_IP, on_wifi, NULL));
    strlcpy((char *)sta.sta.ssid, CONFIG_HELLO_WIFI_SSID, sizeof(sta.sta.ssid));
    strlcpy((char *)sta.sta.password, CONFIG_HELLO_WIFI_PASSWORD, sizeof(sta.sta.password));
    ESP_ERROR_CHECK(esp_wifi_set_mode(WIFI_MODE_STA));
    ESP_ERROR_CHECK(esp_wifi_set_config(WIFI_IF_STA, &sta));
    return esp_wifi_start();
}

/* The device id from menuconfig, or esp32-<the station's MAC in hex>. */
static void device_id(char *out, size_t cap)
{
    uint8_t mac[6] = {0};
    if (CONFIG_HELLO_DEVICE_ID[0] != '\0') {
        strlcpy(out, CONFIG_HELLO_DEVICE_ID, cap);
        return;
    }
    (void)esp_read_mac(mac, ESP_MAC_WIFI_STA);
    snprintf(out, cap, "esp32-%02x%02x%02x%02x%02x%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
             mac[5]);
}

/* A new image is kept only if it reached the network and has room to work. */
static bool self_test(void *ctx)
{
    (void)ctx;
    bool ip = (xEventGroupGetBits(s_wifi) & GOT_IP_BIT) != 0;
    uint32_t heap = esp_get_free_heap_size();
    ESP_LOGI(TAG, "self-test: address %s, free heap %lu", ip ? "yes" : "no", (unsigned long)heap);
    return ip && heap >= (uint32_t)CONFIG_HELLO_MIN_FREE_HEAP;
}

/* The access point's signal strength for mqota's HEALTH report; -1 while not associated. */
static int wifi_rssi(void *ctx, int8_t *dbm)
{
    wifi_ap_record_t ap;
    (void)ctx;
    if (esp_wifi_sta_get_ap_info(&ap) != ESP_OK) return -1;
    *dbm = ap.rssi;
    return 0;
}

/* Application command "heap": the free heap now and its low-water mark. */
static mqota_cmd_result_t on_command(void *ctx, const char *name, const uint8_t *args,
                                     size_t args_len, uint8_t *reply, size_t reply_cap,
                                     size_t *reply_len)
{
    (void)ctx;
    (void)args;
    (void)args_len;
    *reply_len = 0;
    if (strcmp(name, "heap") != 0) return MQOTA_CMD_UNKNOWN;
    int n = snprintf((char *)reply, reply_cap, "free_heap=%lu min_free_heap=%lu",
                     (unsigned long)esp_get_free_heap_size(),
                     (unsigned long)esp_get_minimum_free_heap_size());
    if (n < 0) return MQOTA_CMD_FAILED;
    *reply_len = (size_t)n < reply_cap ? (size_t)n : reply_cap;
    return MQOTA_CMD_OK;
}

void app_main(void)
{
    esp_err_t err = nvs_flash_init();
    if (err == ESP_ERR_NVS_NO_FREE_PAGES || err == ESP_ERR_NVS_NEW_VERSION_FOUND) {
        /* NVS holds the agent's records and keys: say so rather than erase them */
        ESP_LOGE(TAG, "NVS partition cannot be used as it is (%s); erase it with "
                      "idf.py erase-flash and provision the keys again",
                 esp_err_to_name(err));
        return;
    }
    ESP_ERROR_CHECK(err);
    ESP_ERROR_CHECK(wifi_start());
    if ((xEventGroupWaitBits(s_wifi, GOT_IP_BIT, pdFALSE, pdTRUE, pdMS_TO_TICKS(WIFI_WAIT_MS)) &
         GOT_IP_BIT) == 0)
        ESP_LOGW(TAG, "no address after %d ms; starting the agent anyway", WIFI_WAIT_MS);

    device_id(s_device_id, sizeof(s_device_id));
    mqota_esp_config_t cfg = {
        .device_id = s_device_id,
        .mqtt = {.broker.address.uri = CONFIG_HELLO_BROKER_URI,
                 .credentials.username = CONFIG_HELLO_BROKER_USERNAME[0] != '\0'
                                             ? CONFIG_HELLO_BROKER_USERNAME
                                             : s_device_id,
                 .credentials.authentication.password = CONFIG_HELLO_BROKER_PASSWORD},
        .rx_buf = s_rx,
        .rx_cap = sizeof(s_rx),
        .self_test = self_test,
        .rssi = wifi_rssi,
        .command_handler = on_command,
    };
#if CONFIG_HELLO_BROKER_TLS
    cfg.mqtt.broker.verification.certificate = broker_ca_pem_start;
#endif
    ESP_LOGI(TAG, "device %s, broker %s", s_device_id, CONFIG_HELLO_BROKER_URI);
    ESP_ERROR_CHECK(mqota_esp_init(&s_ota, &cfg));
    ESP_ERROR_CHECK(mqota_esp_start(&s_ota));
}
