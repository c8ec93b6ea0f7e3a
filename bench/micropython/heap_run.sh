#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/micropython/heap_run.sh BUILD_DIR: the MicroPython agent's heap during an update, on
# the unix port, with the agent, umqtt.simple and the esp32/machine stand-ins precompiled by
# mpy-cross (as a board holds them: compiling .py source on the board needs far more RAM than
# running it). Two runs of integration.micropython_update (the 124,416-byte hello_world update
# to confirmed, telemetry every second):
#   1. default heap, MQOTA_UPY_HEAP=1: the live heap (gc.mem_alloc() after gc.collect(), after
#      every poll) before the agent is imported (base), connected and idle (idle), and its
#      peak through download, verification and reset (peak)
#   2. -X heapsize = idle + one chunk buffer (4,116 bytes) + 16 KiB: the update must still
#      reach confirmed in that heap (transients inside a poll, which step 1 cannot see, must
#      fit too)
#   3., 4. the same two runs for a file update (test_micropython_files.sh update, 200 KiB more)
set -euo pipefail
BUILD=$(cd "${1:?usage: heap_run.sh BUILD_DIR}" && pwd)
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
FIX=$ROOT/../shared/fixtures/firmware
MPYC=$BUILD/micropython/mpy-cross
[ -x "$MPYC" ] || { echo "no $MPYC: run ctest -L micropython first (it builds MicroPython)" >&2; exit 1; }
tmp=$(mktemp -d); trap '[ -n "${MQOTA_KEEP_BENCH:-}" ] || rm -rf "$tmp"' EXIT
mkdir -p "$tmp/mpy/mqota" "$tmp/mpy/umqtt"
for f in "$ROOT"/ports/micropython/mqota/*.py; do
  "$MPYC" -o "$tmp/mpy/mqota/$(basename "${f%.py}").mpy" "$f"
done
for f in "$ROOT"/../shared/sdk/micropython/pylib/umqtt/*.py; do
  [ "$(basename "$f")" = __init__.py ] && continue
  "$MPYC" -o "$tmp/mpy/umqtt/$(basename "${f%.py}").mpy" "$f"
done
touch "$tmp/mpy/umqtt/__init__.py"
for f in esp32 machine; do "$MPYC" -o "$tmp/mpy/$f.mpy" "$ROOT/tests/emu/micropython/$f.py"; done

# run LABEL: integration.micropython_update with the environment given; sets LOG to its device log
run() {
  local out=$tmp/$1.out rc=0 d
  MQOTA_UPY_MPY_DIR=$tmp/mpy MQOTA_KEEP_TEST_DIR=1 timeout 120 \
    bash "$ROOT/tests/integration/test_micropython.sh" "$BUILD" "$FIX" update >"$out" 2>&1 || rc=$?
  d=$(sed -n 's/^test directory kept: //p' "$out")
  LOG=$tmp/$1.device.log
  [ -n "$d" ] && cp "$d/device.log" "$LOG" && rm -rf "$d"
  return $rc
}
MQOTA_UPY_HEAP=1 run default || { echo "the update failed with the default heap" >&2; cat "$tmp/default.out" >&2; exit 1; }
# the first boot's lines only (the download, verification and reset; the second boot only confirms)
first_boot=$(awk '/^boot:/ {b++} b == 1 && /^heap:/' "$LOG" | tail -n 1)
base=${first_boot#*base=}; base=${base%% *}
idle=${first_boot#*idle=}; idle=${idle%% *}
peak=${first_boot#*peak=}
echo "live heap, first boot (download, verify, reset): base=$base idle=$idle peak=$peak" \
     "-> the update adds $((peak - idle)) bytes over idle; the agent idle: $((idle - base)) bytes"
hs=$((idle + 4116 + 16384))
if MQOTA_UPY_HEAPSIZE=$hs run small; then
  echo "update confirmed with -X heapsize=$hs (idle + 4116 + 16384)"
else
  echo "update FAILED with -X heapsize=$hs (idle + 4116 + 16384): $(grep -m1 MemoryError "$LOG" || true)"
  exit 1
fi

# 3. and 4.: the same for a file update (integration.micropython_files_update with a 200 KiB
# lib/blob.bin beside the five application files): the live heap through the bundle's
# download, its check into new/, the swap and the reset, then the update in idle + 4,116 +
# 16 KiB of heap
runf() {
  local out=$tmp/$1.out rc=0 d
  MQOTA_UPY_MPY_DIR=$tmp/mpy MQOTA_KEEP_TEST_DIR=1 MQOTA_FILES_BLOB_BYTES=204800 timeout 120 \
    bash "$ROOT/tests/integration/test_micropython_files.sh" "$BUILD" "$FIX" update >"$out" 2>&1 || rc=$?
  d=$(sed -n 's/^test directory kept: //p' "$out")
  LOG=$tmp/$1.device.log
  [ -n "$d" ] && cp "$d/device.log" "$LOG" && rm -rf "$d"
  return $rc
}
MQOTA_UPY_HEAP=1 runf files || { echo "the file update failed with the default heap" >&2; cat "$tmp/files.out" >&2; exit 1; }
first_boot=$(awk '/^boot:/ {b++} b == 1 && /^heap:/' "$LOG" | tail -n 1)
base=${first_boot#*base=}; base=${base%% *}
fidle=${first_boot#*idle=}; fidle=${fidle%% *}
fpeak=${first_boot#*peak=}
echo "file update, live heap, first boot (download, check, swap, reset): base=$base idle=$fidle" \
     "peak=$fpeak -> the file update adds $((fpeak - fidle)) bytes over idle"
hs=$((fidle + 4116 + 16384))
if MQOTA_UPY_HEAPSIZE=$hs runf files-small; then
  echo "file update confirmed with -X heapsize=$hs (idle + 4116 + 16384)"
else
  echo "file update FAILED with -X heapsize=$hs (idle + 4116 + 16384): $(grep -m1 MemoryError "$LOG" || true)"
  exit 1
fi
