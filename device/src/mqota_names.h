/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mqota_names.h - packed name lists (internal to libmqota): the names of an enum in one string,
 * each NUL-terminated, in enum order ("idle\0offered\0..."). On the ESP32-C3 a table of
 * pointers costs 4 bytes of flash per name and a switch over sparse values a jump table; the
 * names are looked up once per STATE, reply or log line.
 */
#ifndef MQOTA_NAMES_H
#define MQOTA_NAMES_H

/* The i-th of the `count` names in `list`, or `unknown` if i >= count. An empty name is a gap
 * in the enum: the caller turns it into `unknown`. Defined in mqota_status.c. */
const char *status__name_at(const char *list, unsigned count, unsigned i, const char *unknown);

#endif /* MQOTA_NAMES_H */
