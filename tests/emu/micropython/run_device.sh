#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# One virtual ESP32 running the MicroPython agent: boot the flash with mqota-vboot, run
# device_main.py on the MicroPython unix port with the esp32/machine stand-ins, and when it
# exits with machine.RESET_EXIT_CODE (a machine.reset()) boot again and start it again; at
# most MQOTA_UPY_MAX_BOOTS boots (default 20). Any other exit ends the script with its status.
#   run_device.sh BUILD_DIR FLASH DEVICE_DIR     (MQOTA_UPY_CRED, _HOST, _PORT in the environment)
# Each boot's line ("boot: slot=N state=S rolled_back=R version=V project=P") goes to stdout.
# The running interpreter's pid is in DEVICE_DIR/upy.pid (a test kills it to cut the power);
# SIGTERM to this script stops the interpreter too. MQOTA_UPY_HEAPSIZE=N runs the interpreter
# with an N-byte heap (-X heapsize=N) instead of its default 2 MiB; MQOTA_UPY_MPY_DIR=D puts D
# (precompiled .mpy modules, as a board would hold them) first on the module path.
set -uo pipefail
BUILD=$1 FLASH=$2 DIR=$3
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
UPY=$BUILD/micropython/micropython
RESET_EXIT_CODE=42
mkdir -p "$DIR"
child=""
trap '[ -z "$child" ] || kill -TERM "$child" 2>/dev/null; exit 143' TERM INT
for _ in $(seq 1 "${MQOTA_UPY_MAX_BOOTS:-20}"); do
  line=$("$BUILD/tests/emu/micropython/mqota-vboot" boot "$FLASH") || exit 1
  echo "boot: $line"
  slot=${line#slot=}; slot=${slot%% *}
  rc=0
  MQOTA_UPY_FLASH=$FLASH MQOTA_UPY_SLOT=$slot MQOTA_UPY_DIR=$DIR \
    MICROPYPATH="${MQOTA_UPY_MPY_DIR:+$MQOTA_UPY_MPY_DIR:}$HERE:$ROOT/ports/micropython:$ROOT/../shared/sdk/micropython/pylib:.frozen" \
    "$UPY" ${MQOTA_UPY_HEAPSIZE:+-X "heapsize=$MQOTA_UPY_HEAPSIZE"} "$HERE/device_main.py" &
  child=$!
  echo "$child" >"$DIR/upy.pid"
  wait "$child" || rc=$?
  child=""
  [ "$rc" -eq "$RESET_EXIT_CODE" ] || exit "$rc"
done
echo "run_device.sh: more than ${MQOTA_UPY_MAX_BOOTS:-20} boots" >&2
exit 1
