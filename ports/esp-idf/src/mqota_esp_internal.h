/* SPDX-License-Identifier: Apache-2.0 */
/* Names shared by the ESP-IDF port's two files; not part of its API. */
#ifndef MQOTA_ESP_INTERNAL_H
#define MQOTA_ESP_INTERNAL_H

#include "mqota_esp.h"

/* transport hooks (mqota_esp.c) */
int mqota_esp__publish(void *ctx, const char *topic, const uint8_t *payload, size_t len, int qos,
                       bool retain);
int mqota_esp__subscribe(void *ctx, const char *topic, int qos);
int mqota_esp__unsubscribe(void *ctx, const char *topic);
/* mqota_esp_inflate.c: the ROM inflate as the platform's inflate hook (docs/PROTOCOL.md
 * §6.1), or nothing with CONFIG_MQOTA_INFLATE_WINDOW_BITS 0. */
void mqota_esp__inflate_hook(mqota_platform_t *plat);

/* One turn of the agent's task (mqota_esp.c); agent_task() loops over it. */
void mqota_esp__agent_turn(mqota_esp_t *e);

/* mqota_esp_platform.c */
int mqota_esp__import_key(psa_key_id_t *id, psa_key_type_t type, size_t bits,
                          psa_key_usage_t usage, psa_algorithm_t alg, const uint8_t *key,
                          size_t len);

#endif /* MQOTA_ESP_INTERNAL_H */
