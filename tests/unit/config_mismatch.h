/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config_mismatch.h - a configuration header (mqota_config_defaults.h) that differs from the one
 * libmqota was built with: test_config_mismatch is compiled with it, the library is not.
 */
#ifndef CONFIG_MISMATCH_H
#define CONFIG_MISMATCH_H

#define MQOTA_MAX_CHUNKS 64u /* the library's is larger: this agent struct is smaller */

#endif /* CONFIG_MISMATCH_H */
