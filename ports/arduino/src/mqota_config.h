/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file mqota_config.h
 * @brief libmqota's configuration header for the Arduino library: the one header the agent's
 *        sources and the sketch both see (mqota_config_defaults.h includes it), so they agree
 *        on the size of mqota_agent_t.
 *
 * The Arduino IDE passes no -D to a library: change a value here, in the assembled library's
 * src/ folder, and the library and every sketch are rebuilt with it.
 */
#ifndef MQOTA_CONFIG_H
#define MQOTA_CONFIG_H

#define MQOTA_MAX_CHUNKS 2048u    /* an 8 MiB image in 4 KiB chunks, 2 MiB in 1 KiB */
#define MQOTA_DEVICE_ID_MAX 48u
#define MQOTA_TOPIC_MAX 128u
#define MQOTA_VERIFY_STEP 1024u
/* The library installs no inflate hook (the ESP-IDF component's ROM-inflate hook is not part
 * of it): the decode stage of compressed and delta transfers is left out (mqota_config_defaults.h). */
#define MQOTA_CFG_DECODE 0

/** Largest chunk the device accepts, bytes (a power of two); sizes the receive buffer and
 *  PubSubClient's buffer (Mqota.h). */
#define MQOTA_ARDUINO_MAX_CHUNK 4096u
/** Chunks in flight the device accepts by default. */
#define MQOTA_ARDUINO_MAX_WINDOW 4u
/** NVS namespace of the agent's records and keys (the ESP-IDF component's default too). */
#define MQOTA_ARDUINO_NVS_NAMESPACE "mqota"
/** Pause between two attempts to connect to the broker, milliseconds. */
#define MQOTA_ARDUINO_RECONNECT_MS 5000u
/** Pause between closing the MQTT session and the restart an update asks for, milliseconds:
 *  time for the Client to send the last STATE. */
#define MQOTA_ARDUINO_REBOOT_FLUSH_MS 100u

#endif /* MQOTA_CONFIG_H */
