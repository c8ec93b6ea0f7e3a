/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ESP-IDF port's esp-mqtt out buffer (buffer.out_size, ports/esp-idf/src/mqota_esp.c):
 * mqota_esp_init() on the ESP-IDF emulation (tests/emu/esp-idf), with the real port and a
 * virtual ESP32 made from the 2023 fixture image.
 *
 * esp-mqtt builds every packet it sends in that buffer; a CONNECT that does not fit is never
 * sent and the device never connects (the emulation does as esp-mqtt does, mqtt_emu.c). The
 * port gives MQOTA_ESP_MQTT_OUT_MIN (a STATE after the longest PUBLISH head) and more only for
 * a CONNECT that needs it: long credentials. The last case is the control: the application's
 * own out_size is kept, and when it is too small the emulation says the CONNECT cannot be
 * built.
 */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "esp_idf_emu.h"
#include "mqota_esp.h"
#include "mqota_posix/efuse.h"
#include "mqota_posix/vdev.h"
#include "psa_emu.h"

#define IMG_2023 MQOTA_FIXTURES "/idf_hello_world_esp32_2023.bin"
#define DEV_ID "dev-out-size"

static char dir[64];
static char flash_path[96];
static uint8_t rx[4096 + MQOTA_CHUNK_HEADER_LEN];

/* A port started on a freshly booted device: *dev and *e stay set until stop_port(). */
static void start_port(vdev_t **dev, mqota_esp_t *e, const mqota_esp_config_t *cfg)
{
    char err[256] = "";
    boot_result_t boot;
    assert_int_equal(vdev_open(flash_path, dev, err, sizeof(err)), MQOTA_OK);
    assert_int_equal(vdev_boot(*dev, &boot), MQOTA_OK);
    assert_int_equal(esp_emu_attach(*dev, &boot, ESP_RST_POWERON), 0);
    memset(e, 0, sizeof(*e));
    assert_int_equal(mqota_esp_init(e, cfg), ESP_OK);
}

static void stop_port(vdev_t *dev, mqota_esp_t *e)
{
    esp_emu_mqtt_power_off(e->client);
    psa_emu_forget(NULL);
    esp_emu_detach();
    vdev_close(dev);
}

static mqota_esp_config_t config(void)
{
    mqota_esp_config_t cfg = {.device_id = DEV_ID, .rx_buf = rx, .rx_cap = sizeof(rx)};
    return cfg;
}

/* The CONNECT esp-mqtt builds for the port's client (mqtt_msg.c mqtt_msg_connect(), MQTT 3.1.1):
 * 5 bytes kept for the fixed header, the 10-byte variable header, then the client id, the last
 * will's topic and message, the username and the password, each with a 2-byte length. */
static size_t connect_len(mqota_esp_t *e, const char *user, const char *pass, bool v5)
{
    char will[MQOTA_TOPIC_MAX];
    assert_int_equal(mqota_agent_topic(&e->agent, MQOTA_TOPIC_ONLINE, will, sizeof(will)),
                     MQOTA_OK);
    return 5u + 10u + 2u + strlen(DEV_ID) + 2u + strlen(will) + 2u +
           strlen(MQOTA_OFFLINE_PAYLOAD) + 2u + strlen(user) + 2u + strlen(pass) +
           (v5 ? 2u : 0u); /* MQTT 5: the CONNECT's and the will's empty property lists */
}

/* No credentials: MQOTA_ESP_MQTT_OUT_MIN, and the CONNECT fits. */
static void test_default_out_size(void **state)
{
    (void)state;
    vdev_t *dev;
    static mqota_esp_t e;
    mqota_esp_config_t cfg = config();
    start_port(&dev, &e, &cfg);
    assert_int_equal(esp_emu_mqtt_out_size(e.client), MQOTA_ESP_MQTT_OUT_MIN);
    assert_true(esp_emu_mqtt_connect_fits(e.client));
    stop_port(dev, &e);
}

/* Credentials longer than the default leaves room for: the out buffer is the CONNECT's length
 * exactly, and it fits; with MQTT 3.1.1 and with MQTT 5. */
static void test_long_credentials_raise_it(void **state)
{
    (void)state;
    char user[65], pass[257];
    vdev_t *dev;
    static mqota_esp_t e;
    memset(user, 'u', sizeof(user) - 1);
    user[sizeof(user) - 1] = '\0';
    memset(pass, 'p', sizeof(pass) - 1);
    pass[sizeof(pass) - 1] = '\0';
    for (int v5 = 0; v5 <= 1; v5++) {
        mqota_esp_config_t cfg = config();
        cfg.mqtt.credentials.username = user;
        cfg.mqtt.credentials.authentication.password = pass;
        cfg.mqtt.session.protocol_ver = v5 ? MQTT_PROTOCOL_V_5 : MQTT_PROTOCOL_V_3_1_1;
        start_port(&dev, &e, &cfg);
        size_t need = connect_len(&e, user, pass, v5 != 0);
        assert_true(need > MQOTA_ESP_MQTT_OUT_MIN);
        assert_int_equal(esp_emu_mqtt_out_size(e.client), (int)need);
        assert_true(esp_emu_mqtt_connect_fits(e.client));
        stop_port(dev, &e);
    }
}

/* The application's own out_size is kept; one byte short of the CONNECT, esp-mqtt could not
 * build it (the control: the emulation's check bites). */
static void test_application_out_size_kept(void **state)
{
    (void)state;
    char pass[257];
    vdev_t *dev;
    static mqota_esp_t e;
    memset(pass, 'p', sizeof(pass) - 1);
    pass[sizeof(pass) - 1] = '\0';
    mqota_esp_config_t cfg = config();
    cfg.mqtt.credentials.username = "user";
    cfg.mqtt.credentials.authentication.password = pass;
    cfg.mqtt.buffer.out_size = 1; /* replaced below by the CONNECT's length - 1 */
    start_port(&dev, &e, &cfg);
    int need = (int)connect_len(&e, "user", pass, false);
    stop_port(dev, &e);

    cfg.mqtt.buffer.out_size = need - 1;
    start_port(&dev, &e, &cfg);
    assert_int_equal(esp_emu_mqtt_out_size(e.client), need - 1);
    assert_false(esp_emu_mqtt_connect_fits(e.client));
    stop_port(dev, &e);

    cfg.mqtt.buffer.out_size = need;
    start_port(&dev, &e, &cfg);
    assert_true(esp_emu_mqtt_connect_fits(e.client));
    stop_port(dev, &e);
}

static int group_setup(void **state)
{
    char err[256] = "";
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/test_esp_mqtt_out.XXXXXX");
    if (mkdtemp(dir) == NULL) return -1;
    snprintf(flash_path, sizeof(flash_path), "%s/dev.flash", dir);
    if (vdev_flash_create(flash_path, MQOTA_CHIP_ESP32, IMG_2023, err, sizeof(err)) != MQOTA_OK) {
        fprintf(stderr, "cannot make the device: %s\n", err);
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    unlink(flash_path);
    char ef[sizeof(flash_path) + sizeof(EFUSE_FILE_SUFFIX)];
    if (efuse_path(flash_path, ef, sizeof(ef)) == 0) unlink(ef);
    rmdir(dir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_out_size),
        cmocka_unit_test(test_long_credentials_raise_it),
        cmocka_unit_test(test_application_out_size_kept),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
