/* SPDX-License-Identifier: Apache-2.0 */
/*
 * port_esp.c - virtual ESP32s that run the ESP-IDF port (`mqota-fleet --port esp-idf`): the
 * port's code (ports/esp-idf/src) on the host emulation of ESP-IDF (tests/emu/esp-idf), one
 * emulated chip per device, selected before any of the device's code runs.
 *
 * Two tasks on one thread. The fleet's loop is esp-mqtt's task: it connects the client's
 * libmosquitto handle and drives its socket; libmosquitto's callbacks become esp-mqtt events
 * that the port's handler (mqota_esp.c mqtt_event) turns into queued work. The agent's task
 * is run turn by turn by esp_dev_run(). When the MQTT side would block, waiting for the
 * agent's task to give the receive buffer back, the emulation calls block() below, which runs
 * the agent's turn there, as FreeRTOS would switch to that task.
 */
#define _GNU_SOURCE
#include "port_esp.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "esp_idf_emu.h"
#include "psa_emu.h"
#include "mqota_esp.h"
#include "mqota_esp_internal.h"
#include "mqota_posix/vdev.h"

/* Agent turns per esp_dev_run(): enough to read a whole slot back at the port's verify step
 * (MQOTA_VERIFY_STEP bytes per turn) in a few loop ticks, without starving other devices. */
#define TURNS_MAX 512

struct fleet_esp {
    esp_emu_t *chip;
    mqota_esp_t port;
    uint8_t *rx_buf; /* the port's receive buffer: a chunk and its header */
    size_t rx_cap;
    bool started;    /* mqota_esp_init() succeeded since the last power-on */
    bool in_turn;    /* the agent's task is running (nested turns are not) */
    char user[256], pass[256];
};

static uint8_t trust_point[65];
static bool have_trust_point;

int esp_fleet_load_trust_key(const char *pem_path)
{
    FILE *f = fopen(pem_path, "r");
    EVP_PKEY *pk = f ? PEM_read_PUBKEY(f, NULL, NULL, NULL) : NULL;
    size_t n = 0;
    if (f) fclose(f);
    int ok = pk != NULL &&
             EVP_PKEY_get_octet_string_param(pk, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, trust_point,
                                             sizeof(trust_point), &n) == 1 &&
             n == sizeof(trust_point) && trust_point[0] == 0x04;
    EVP_PKEY_free(pk);
    if (!ok) {
        mqh_log(MQH_ERROR, "--trust-key %s is not a P-256 public key in PEM the ESP-IDF port can "
                "import (uncompressed point)", pem_path);
        return -1;
    }
    have_trust_point = true;
    return 0;
}

/* Every emulated call from now on acts on d's chip, and PSA's keys are d's. */
static void select_chip(fleet_dev_t *d)
{
    esp_emu_select(d->esp->chip);
    psa_emu_set_owner(d);
}

/* ---- the port's application callbacks ---- */

static bool esp_self_test(void *ctx) { return dev_self_test(ctx); }

/* ---- esp-mqtt's side: the fleet's bookkeeping of the link ---- */

static bool obs_connected(void *ctx, int rc) { return dev_link_up(ctx, rc); }
static void obs_disconnected(void *ctx, int rc) { dev_link_down(ctx, rc); }

static bool obs_message(void *ctx, const struct mosquitto_message *msg)
{
    fleet_dev_t *d = ctx;
    if (d->reboot_due) return false; /* the chip is restarting: nothing runs any more */
    dev_message_seen(d, msg);
    d->process_due = true;
    return true;
}

static const esp_emu_mqtt_observer_t observer = {
    .connected = obs_connected,
    .disconnected = obs_disconnected,
    .message = obs_message,
};

/* ---- the agent's task ---- */

static void turns(fleet_dev_t *d)
{
    struct fleet_esp *x = d->esp;
    for (int k = 0; k < TURNS_MAX; k++) {
        mqota_esp__agent_turn(&x->port);
        if (mqota_agent_state(&x->port.agent) != MQOTA_STATE_VERIFYING &&
            uxQueueMessagesWaiting(x->port.events) == 0u)
            break;
    }
}

/* Run the agent's task now; esp_restart() (the port restarting the chip) comes back here
 * through the emulation's restart point. */
static void run_agent_task(fleet_dev_t *d)
{
    struct fleet_esp *x = d->esp;
    jmp_buf jb;
    if (x->in_turn || !x->started || d->reboot_due) return;
    select_chip(d);
    jmp_buf *was = esp_emu_set_restart_jump(&jb);
    x->in_turn = true;
    if (setjmp(jb) == 0) {
        turns(d);
    } else {
        d->reboot_due = true; /* esp_restart(): dev_after_io() reboots the device */
    }
    x->in_turn = false;
    esp_emu_set_restart_jump(was);
}

/* A task of this chip would block (esp_idf_emu.h). The MQTT side waiting for the receive
 * buffer: run the agent's task, which gives it back. The agent's task waiting (for an event,
 * or in vTaskDelay() for esp-mqtt's outbox to drain): the fleet's loop is what would run, and
 * it runs once this turn returns; nothing to do here. */
static void block(void *ctx, esp_emu_block_t what)
{
    fleet_dev_t *d = ctx;
    if (what == ESP_EMU_BLOCK_WAIT && !d->esp->in_turn) run_agent_task(d);
}

void esp_dev_run(fleet_dev_t *d)
{
    if (d->esp != NULL) run_agent_task(d);
}

/* ---- power ---- */

int esp_dev_start(fleet_dev_t *d, const boot_result_t *boot, const uint8_t *command_key,
                  bool first_boot)
{
    const fleet_opts_t *o = &d->fleet->opt;
    struct fleet_esp *x = d->esp;
    if (x == NULL) {
        x = d->esp = calloc(1, sizeof(*x));
        if (x == NULL || (x->chip = esp_emu_new()) == NULL) {
            mqh_log(MQH_ERROR, "%s: out of memory for its emulated ESP-IDF chip", d->id);
            return -1;
        }
        x->rx_cap = o->max_chunk + MQOTA_CHUNK_HEADER_LEN;
        x->rx_buf = malloc(x->rx_cap);
        if (x->rx_buf == NULL) return -1;
    }
    select_chip(d);
    esp_emu_set_log_prefix(d->id);
    esp_emu_set_block_hook(block, d);
    esp_emu_set_flip_offset(o->flip_offset);
    /* a restart is esp_restart()'s, unless the chip panicked (--crash-loop: the RTC says so) */
    esp_reset_reason_t why = first_boot ? ESP_RST_POWERON
                             : vdev_reset_reason(d->vdev) == MQOTA_RESET_PANIC ? ESP_RST_PANIC
                                                                                : ESP_RST_SW;
    if (esp_emu_attach(d->vdev, boot, why) != 0) {
        mqh_log(MQH_ERROR, "%s: its partition table has more entries than the ESP-IDF "
                "emulation keeps", d->id);
        return -1;
    }
    esp_emu_use_host_clock();

    mqota_esp_config_t cfg = {
        .device_id = d->id,
        .rx_buf = x->rx_buf,
        .rx_cap = x->rx_cap,
        .max_chunk = o->max_chunk,
        .max_window = o->max_window,
        .release_key = have_trust_point ? trust_point : NULL,
        .command_key = command_key,
        .require_signature = o->require_signature,
        .confirm_by_command = o->confirm_by_command && command_key != NULL,
        .confirm_timeout_ms = o->confirm_timeout_ms,
        .self_test = esp_self_test,
        .self_test_ctx = d,
        .diagnostics = dev_app_diagnostics,
        .diagnostics_ctx = d,
        .command_handler = dev_app_command,
        .command_ctx = d,
    };
    cfg.mqtt.session.protocol_ver = o->mqtt_version == 5 ? MQTT_PROTOCOL_V_5
                                                         : MQTT_PROTOCOL_V_3_1_1;
    cfg.mqtt.session.keepalive = o->keepalive_s;
    if (dev_read_login(d, x->user, sizeof(x->user), x->pass, sizeof(x->pass)) == 0) {
        cfg.mqtt.credentials.username = x->user;
        cfg.mqtt.credentials.authentication.password = x->pass[0] ? x->pass : NULL;
    }
    esp_err_t err = mqota_esp_init(&x->port, &cfg);
    memset(x->pass, 0, sizeof(x->pass)); /* libmosquitto keeps its own copy */
    if (err != ESP_OK) {
        mqh_log(MQH_ERROR, "%s: the ESP-IDF port did not start: mqota_esp_init() returned %s",
                d->id, esp_err_to_name(err));
        return -1;
    }
    x->started = true;
    d->mosq = esp_emu_mqtt_mosquitto(x->port.client);
    esp_emu_mqtt_observe(x->port.client, &observer, d);
    if (dev_client_tls(d) != 0) return -1;
    err = mqota_esp_start(&x->port);
    if (err != ESP_OK) {
        mqh_log(MQH_ERROR, "%s: mqota_esp_start() returned %s", d->id, esp_err_to_name(err));
        return -1;
    }
    return 0;
}

void esp_dev_power_off(fleet_dev_t *d)
{
    struct fleet_esp *x = d->esp;
    if (x == NULL || !x->started) return;
    select_chip(d);
    /* RAM does not survive a reset: PSA's key slots and hash state, esp-mqtt's client */
    psa_emu_forget(d);
    esp_emu_mqtt_power_off(x->port.client);
    x->port.client = NULL;
    d->mosq = NULL;
    esp_emu_detach();
    x->started = false;
}

void esp_dev_free(fleet_dev_t *d)
{
    struct fleet_esp *x = d->esp;
    if (x == NULL) return;
    esp_dev_power_off(d);
    esp_emu_free(x->chip);
    free(x->rx_buf);
    free(x);
    d->esp = NULL;
}

mqota_agent_t *esp_dev_agent(fleet_dev_t *d) { return &d->esp->port.agent; }
