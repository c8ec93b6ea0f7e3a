/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file psa_emu.h
 * @brief Control of the host emulation of PSA Crypto (psa_emu.c, tests/emu/esp-idf/README.md):
 *        which emulated chip owns the keys and hash operations a thread creates, the reset of
 *        one chip or of all, and counts for leak checks. Test code only; the port never
 *        includes this.
 *
 * One process runs many virtual ESP32s, and each real one has its own PSA key store that a
 * reset empties. Keys and hash operations belong to the owner set by the thread that created
 * them; another owner's key is PSA_ERROR_INVALID_HANDLE, as on another chip.
 */
#ifndef MQOTA_EMU_PSA_EMU_H
#define MQOTA_EMU_PSA_EMU_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @brief The chip the calling thread acts for from now on (any pointer that names it, e.g. the
 *        device's struct; NULL, the default, is a chip too). Thread-local.
 * @param[in] owner The chip; not dereferenced.
 */
void psa_emu_set_owner(const void *owner);

/**
 * @brief A reset of chip `owner`: its keys are destroyed (material wiped) and its hash
 *        operations freed. A psa_hash_operation_t of it still held somewhere is then refused
 *        with PSA_ERROR_BAD_STATE (never freed twice). psa_crypto_init() stays done: it is one
 *        for the whole process.
 * @param[in] owner The chip.
 */
void psa_emu_forget(const void *owner);

/**
 * @brief Every chip reset, the store's memory freed, and psa_crypto_init() needed again
 *        (to test the refusals before it).
 */
void psa_emu_reset(void);

/** @brief Keys alive, of every owner. */
size_t psa_emu_key_count(void);

/** @brief Hash operations set up and neither finished nor aborted, of every owner. */
size_t psa_emu_hash_count(void);

#ifdef __cplusplus
}
#endif

#endif /* MQOTA_EMU_PSA_EMU_H */
