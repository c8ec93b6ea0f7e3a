/* SPDX-License-Identifier: Apache-2.0 */
/* Host emulation of ESP-IDF (tests/emu/esp-idf/README.md): the configuration of the emulated
 * device. The virtual ESP32 runs ESP32 images (chip id 0, esp_app_format.h ESP_CHIP_ID_ESP32)
 * and its bootloader keeps a new image pending-verify, as with rollback enabled; a panic leaves
 * a core dump in flash (its panic reason: the virtual ESP32's last-crash record). */
#ifndef MQOTA_EMU_SDKCONFIG_H
#define MQOTA_EMU_SDKCONFIG_H

#define CONFIG_IDF_FIRMWARE_CHIP_ID 0x0000
#define CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE 1
#define CONFIG_ESP_COREDUMP_ENABLE_TO_FLASH 1

#endif /* MQOTA_EMU_SDKCONFIG_H */
