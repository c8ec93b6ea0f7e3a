/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mqota_noinline.h - NOINLINE keeps a static function out of line (internal to libmqota).
 *
 * gcc -Os inlines a static function that is called once or is small; inside a long caller the
 * inlined copy's early returns become far (4-byte) branches on the ESP32-C3, and a small
 * function inlined at many call sites is repeated. The functions marked with it are smaller
 * out of line, measured one by one with bench/footprint's compile: judge_offer() in
 * mqota_agent.c (68 bytes with hooks_present(), which since it is a loop over a table is
 * smaller inlined), bit_get() and bit_set() (22), put_header() in
 * mqota_proto.c (40), fail() in mqota_image.c (44), set_legacy() in mqota_record.c (12).
 *
 * Three more are kept out of line for the stack, not the flash: inlined, a function's locals
 * are in its caller's frame on every path through the caller. handle_offer() (its decoded
 * offer) in mqota_agent_on_message() and run_command() and diagnostics() (a STATE message) in
 * cmd__handle() sat under the deepest calls into ESP-IDF (an NVS write for a refused or
 * confirmed command); out of line they take the ESP-IDF port's worst case from 2,528 to
 * 2,224 bytes (bench/stack-usage, -Os; with judge_offer() building the manifest in the
 * agent's scratch buffer) for 149 bytes of code (docs/PERFORMANCE.md). In the third round
 * check_image() (an image descriptor) in finish_verify(), open_frame() and seal_reply() (a
 * nonce and an AAD) in cmd__handle() and send_reply() (one crypt_frame() since the fifth
 * round), and is_stream_topic() in mqota_agent_on_message(), with the offer decoded in the
 * scratch buffer, took it to 1,888. Other compilers decide for themselves.
 */
#ifndef MQOTA_NOINLINE_H
#define MQOTA_NOINLINE_H

#if defined(__GNUC__)
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE
#endif

#endif /* MQOTA_NOINLINE_H */
