/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file port_esp.h
 * @brief Devices of `mqota-fleet --port esp-idf`: the ESP-IDF port's own code
 *        (ports/esp-idf/src: mqota_esp.c, mqota_esp_glue.c, mqota_esp_platform.c) on the host
 *        emulation of ESP-IDF (tests/emu/esp-idf), one emulated chip per virtual ESP32.
 *
 * The fleet's loop plays esp-mqtt's task (it connects and drives the client's socket, with
 * the same link emulation, reconnect backoff and faults as POSIX devices) and runs the agent's
 * task turn by turn (mqota_esp__agent_turn()); everything between the socket and the flash
 * (joining message pieces, the receive-buffer handover, every agent call, esp_ota_*, NVS,
 * PSA) is the port's code.
 */
#ifndef MQOTA_FLEET_PORT_ESP_H
#define MQOTA_FLEET_PORT_ESP_H

#include "fleet.h"
#include "mqota_posix/boot.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @brief Start the ESP-IDF port on device d, whose flash is open and just booted into `boot`:
 *        attach its emulated chip, mqota_esp_init() and mqota_esp_start(). d->mosq becomes the
 *        esp-mqtt client's libmosquitto handle, not yet connected.
 * @param[in,out] d           The device; d->vdev open and booted.
 * @param[in]     boot        What its bootloader did.
 * @param[in]     command_key 32-byte command key, or NULL (no sealed commands).
 * @param[in]     first_boot  Power-on (true) or a restart the port asked for (false): what
 *                            esp_reset_reason() says.
 * @return 0, or -1 with one sentence logged (the port's own ESP_LOGE line comes first).
 */
int esp_dev_start(fleet_dev_t *d, const boot_result_t *boot, const uint8_t *command_key,
                  bool first_boot);

/**
 * @brief The agent's task: turns until it has nothing left to do now (bounded), run after the
 *        device's socket I/O and on every tick. Sets d->reboot_due when the port restarted.
 * @param[in,out] d A device started by esp_dev_start().
 */
void esp_dev_run(fleet_dev_t *d);

/**
 * @brief Power loss: drop the chip's RAM (esp-mqtt client without DISCONNECT, PSA keys and
 *        hash, open OTA handles). d->mosq is gone afterwards; the flash stays open.
 * @param[in,out] d A device started by esp_dev_start(), or one never started (no-op).
 */
void esp_dev_power_off(fleet_dev_t *d);

/** @brief Free what esp_dev_start() allocated for d, at the fleet's exit. */
void esp_dev_free(fleet_dev_t *d);

/**
 * @brief Load the release public key (PEM) the ESP-IDF port is given, as the 65-byte
 *        uncompressed P-256 point PSA imports. Once per fleet, before any device starts.
 * @param[in] pem_path The --trust-key file.
 * @return 0, or -1 with one sentence naming the file logged.
 */
int esp_fleet_load_trust_key(const char *pem_path);

#ifdef __cplusplus
}
#endif

#endif /* MQOTA_FLEET_PORT_ESP_H */
