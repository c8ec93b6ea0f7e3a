#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The device core (libmqota) must not use the heap or any OS/libc service beyond a few
# freestanding string functions. Checks the undefined symbols of its objects with nm.
set -euo pipefail
lib="$1"
[ -f "$lib" ] || { echo "FAIL: no library at $lib"; exit 1; }
undefined=$(nm -A --undefined-only "$lib" | awk '{print $NF}' | sort -u)
echo "undefined symbols of $(basename "$lib"):" $undefined
heap=$(printf '%s\n' $undefined | grep -E '^(malloc|calloc|realloc|free|aligned_alloc|posix_memalign|strdup|strndup)$' || true)
if [ -n "$heap" ]; then
  echo "FAIL: the device core uses the heap: $heap"
  nm -A --undefined-only "$lib" | grep -E " U ($(echo $heap | tr ' ' '|'))$"
  exit 1
fi
allowed='^(memcpy|memset|memcmp|memmove|memchr|strlen|strcmp|strncmp|__stack_chk_fail|__asan_.*|__ubsan_.*|__sanitizer_.*|__tsan_.*|_GLOBAL_OFFSET_TABLE_)$'
other=$(printf '%s\n' $undefined | grep -v -E "$allowed" | grep -v -E '^mqota_' || true)
if [ -n "$other" ]; then
  echo "FAIL: the device core calls outside itself: $other"
  exit 1
fi
echo "1 passed, 0 failed"
