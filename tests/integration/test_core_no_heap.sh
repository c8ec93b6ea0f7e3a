#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The device core (libmqota) must not use the heap or any OS/libc service beyond a few
# freestanding string functions. Every undefined symbol of its objects (nm) must be either
# defined by the core itself or one of LIBC_ALLOWED; compiler instrumentation (stack
# protector, sanitizers) is allowed by its exact prefixes. Anything else fails, the heap
# functions with their own sentence.
# Before the real library, the rule is tried on throwaway archives compiled here: three that
# must be refused (one calls malloc, one printf, one an mqota_* function it does not define)
# and a clean one that must pass, or the check proves nothing.
#
# usage: test_core_no_heap.sh LIBMQOTA_CORE.a CC
set -euo pipefail
lib="$1"
CC="${2:-cc}"
# The libc functions the core may call: freestanding, no state, no allocation.
LIBC_ALLOWED="memcpy memset memcmp memmove memchr strlen strcmp strncmp"
HEAP='^(malloc|calloc|realloc|reallocarray|free|aligned_alloc|posix_memalign|memalign|valloc|pvalloc|strdup|strndup|asprintf|vasprintf)$'
INSTRUMENTATION='^(__stack_chk_fail|__stack_chk_guard|_GLOBAL_OFFSET_TABLE_|__asan_.*|__ubsan_.*|__sanitizer_.*|__tsan_.*|__msan_.*)$'

# check_core ARCHIVE: prints what is wrong and returns 1, or returns 0 when the rule holds.
check_core() {
  local a=$1 undefined defined sym heap="" other=""
  undefined=$(nm -A --undefined-only "$a" | awk '{print $NF}' | sort -u)
  defined=$(nm --defined-only "$a" | awk 'NF == 3 && $2 ~ /^[A-Z]$/ {print $3}' | sort -u)
  for sym in $undefined; do
    grep -qxF "$sym" <<<"$defined" && continue
    [[ " $LIBC_ALLOWED " == *" $sym "* ]] && continue
    [[ $sym =~ $INSTRUMENTATION ]] && continue
    if [[ $sym =~ $HEAP ]]; then heap+=" $sym"; else other+=" $sym"; fi
  done
  if [ -n "$heap" ]; then
    echo "the device core uses the heap:$heap"
    nm -A --undefined-only "$a" | grep -E " U ($(echo $heap | tr ' ' '|'))$" || true
  fi
  if [ -n "$other" ]; then
    echo "the device core calls what it does not define and is not allowed:$other"
    nm -A --undefined-only "$a" | grep -E " [Uw] ($(echo $other | tr ' ' '|'))$" || true
  fi
  [ -z "$heap$other" ]
}

[ -f "$lib" ] || { echo "FAIL: no library at $lib"; exit 1; }
T=$(mktemp -d /tmp/mqota-noheap.XXXXXX)
trap 'rm -rf "$T"' EXIT

# ---- negative controls: the check refuses what it must ----
control() { # NAME C_SOURCE EXPECTED_TEXT
  printf '%s\n' "$2" >"$T/$1.c"
  "$CC" -c -O0 -o "$T/$1.o" "$T/$1.c" || { echo "FAIL: cannot compile the control $1 with $CC"; exit 1; }
  ar rcs "$T/lib$1.a" "$T/$1.o"
  if check_core "$T/lib$1.a" >"$T/$1.out"; then
    echo "FAIL: the check accepted $1, an archive that $3: $(cat "$T/$1.out")"
    exit 1
  fi
  grep -q "$3" "$T/$1.out" || { echo "FAIL: control $1: expected '$3' in: $(cat "$T/$1.out")"; exit 1; }
  echo "control $1 refused: $(head -n 1 "$T/$1.out")"
}
control heap '#include <stdlib.h>
void *mqota_grab(unsigned n) { return malloc(n); }' "uses the heap: malloc"
control foreign 'int mqota_not_in_the_core(int);
int mqota_call(int x) { return mqota_not_in_the_core(x); }' "does not define and is not allowed: mqota_not_in_the_core"
control printf '#include <stdio.h>
int mqota_say(int x) { return printf("%d", x); }' "does not define and is not allowed: printf"
# and a clean one passes (memcpy allowed, its own mqota_* call defined beside it)
printf '%s\n' '#include <string.h>' 'int mqota_helper(int x) { return x + 1; }' \
  'int mqota_copy(char *d, const char *s, unsigned n) { memcpy(d, s, n); return mqota_helper((int)n); }' \
  >"$T/clean.c"
"$CC" -c -O0 -fno-builtin -o "$T/clean.o" "$T/clean.c" && ar rcs "$T/libclean.a" "$T/clean.o"
check_core "$T/libclean.a" >"$T/clean.out" || { echo "FAIL: the check refused a clean archive: $(cat "$T/clean.out")"; exit 1; }

# ---- the real device core ----
undefined=$(nm -A --undefined-only "$lib" | awk '{print $NF}' | sort -u)
echo "undefined symbols of $(basename "$lib"):" $undefined
check_core "$lib" >"$T/core.out" || { echo "FAIL: $(cat "$T/core.out")"; exit 1; }
n=$(grep -c . <<<"$undefined")
echo "$n undefined symbols: each defined by the core or in: $LIBC_ALLOWED"
echo "1 passed, 0 failed"
