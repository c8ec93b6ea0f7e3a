/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mqota_noinline.h - NOINLINE keeps a static function out of line (internal to libmqota).
 *
 * gcc -Os inlines a static function that is called once or is small; inside a long caller the
 * inlined copy's early returns become far (4-byte) branches on the ESP32-C3, and a small
 * function inlined at many call sites is repeated. The functions marked with it are smaller
 * out of line, measured one by one with bench/footprint's compile: hooks_present() and
 * judge_offer() in mqota_agent.c (68 bytes), bit_get() and bit_set() (22), put_header() in
 * mqota_proto.c (40), fail() in mqota_image.c (44), set_legacy() in mqota_record.c (12).
 * Other compilers decide for themselves.
 */
#ifndef MQOTA_NOINLINE_H
#define MQOTA_NOINLINE_H

#if defined(__GNUC__)
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE
#endif

#endif /* MQOTA_NOINLINE_H */
