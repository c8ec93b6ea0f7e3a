#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/micropython/durations.sh BUILD_DIR: how long an update takes the MicroPython agent next
# to the C agent on the same emulated link, in one run. Per link profile (lan, wifi, lte;
# docs/LINKS.md) one deployment of the 968,768-byte nerdminer image goes to two devices that
# run hello_world 2023: upy-<profile>, the MicroPython agent (tests/emu/micropython, through
# mqota-linkemu with that profile), and c-<profile>-0001, a POSIX virtual ESP32 of mqota-fleet
# (--link <profile>). Each device's time is when 'mqota deployment watch' saw its target
# succeed (confirmed after the reboot), from the deployment's creation, to 0.5 s; mqotad runs
# with --multicast off, so each device is served by unicast at its own pace.
# Prints "profile upy_s c_s ratio" per profile. Needs the interpreter (ctest -L micropython).
set -euo pipefail
exec 3>&1 1>&2   # the result on fd 3; every message (lib.sh's FAIL and logs) on stderr
cd "$(dirname "$0")/../.."
BUILD=$(cd "${1:?usage: durations.sh BUILD_DIR}" && pwd)
. tests/integration/lib.sh "$BUILD" "$PWD/../shared/fixtures/firmware"
ROOT=$PWD
[ -x "$BUILD/micropython/micropython" ] || fail "no $BUILD/micropython/micropython: run ctest -L micropython first"
PIDS=()
trap 'rc=$?; for p in "${PIDS[@]}"; do stop_pid "$p"; done; cleanup $rc' EXIT
start_mqotad --multicast off   # each device at its own pace, by unicast
NEW="$FIX/arduino_nerdminer_esp32_v1.6.3.bin"
add_release "$NEW" --version v1.6.3; rel=$RELEASE_ID
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# succeeded_at DEVICE: seconds (watch's clock) at which DEVICE's target succeeded
succeeded_at() { sed -n "s/^\[ *\([0-9.]*\)s\] $1: succeeded.*/\1/p" "$T/watch-$2.log" | head -n 1; }
printf '%-6s %8s %8s %7s\n' profile upy_s c_s ratio >&3
for prof in lan wifi lte; do
  upy=upy-$prof
  fleet_provision --count 1 --prefix "$upy"  # makes upy-<prof>0001; the cred below
  id=$(fleet_ids --count 1 --prefix "$upy")
  port=$(free_port)
  "$BUILD/fleet/mqota-linkemu" --upstream "$BROKER_URL" --profile "$prof" --listen-port "$port" \
    >>"$T/linkemu-$prof.log" 2>&1 &
  PIDS+=($!)
  "$BUILD/tests/emu/micropython/mqota-vboot" create "$T/$prof.flash" 0 "$FIX/idf_hello_world_esp32_2023.bin" ||
    fail "mqota-vboot create failed"
  MQOTA_UPY_CRED=$T/creds/$id.cred MQOTA_UPY_HOST=127.0.0.1 MQOTA_UPY_PORT=$port \
    "$ROOT/tests/emu/micropython/run_device.sh" "$BUILD" "$T/$prof.flash" "$T/dev-$prof" \
    >>"$T/device-$prof.log" 2>&1 &
  PIDS+=($!)
  fleet_provision --count 1 --prefix "c-$prof-"
  "$FLEET" --broker "$BROKER_URL" --data "$T/fleet-$prof" --credentials-dir "$T/creds" --count 1 \
    --prefix "c-$prof-" --link "$prof" --image "$FIX/idf_hello_world_esp32_2023.bin" \
    >>"$T/fleet-$prof.log" 2>&1 &
  PIDS+=($!)
  online2() { mq --json device list | jq -e --arg a "$id" --arg b "c-$prof-0001" \
    '[.[] | select((.id == $a or .id == $b) and .online == true and .version == "1")] | length == 2'; }
  wait_for 60 online2 || fail "the two $prof devices are not online: $(mq --json device list)"
  out=$(mq --json deploy "$rel" "$id" "c-$prof-0001" 2>&1) || fail "deploy failed: $out"
  json_get dep "$out" '.id | numbers'
  mq deployment watch "$dep" --timeout 300 >"$T/watch-$prof.log" 2>&1 ||
    fail "deployment $dep on $prof did not succeed: $(tail -n 5 "$T/watch-$prof.log")"
  u=$(succeeded_at "$id" "$prof"); c=$(succeeded_at "c-$prof-0001" "$prof")
  [ -n "$u" ] && [ -n "$c" ] || fail "no success times in $T/watch-$prof.log"
  pass "$prof: MicroPython $u s, C $c s"
  printf '%-6s %8s %8s %7s\n' "$prof" "$u" "$c" "$(echo "$u $c" | awk '{printf "%.2fx", $1 / $2}')" >&3
done
passed
