#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/micropython/files_durations.sh BUILD_DIR: how long a file update (docs/PROTOCOL.md §17)
# takes the MicroPython agent next to a firmware update of the same size, on the same device and
# emulated link, in one run. Per link profile (lan, lte; docs/LINKS.md) one MicroPython device
# (tests/emu/micropython, through mqota-linkemu) on hello_world 2023 takes, one after the
# other: hello_world 2024 (124,416 bytes) to confirmed, then a file release of 24 files making a
# bundle of about the same size (124,416 bytes of file data) to confirmed. Each time is the
# deployment's, from mqotad's log (creation to the target's success: confirmed after the reboot).
# Prints "profile image_s files_s ratio bundle_bytes". Needs the interpreter (ctest -L micropython).
set -euo pipefail
exec 3>&1 1>&2   # the result on fd 3; every message (lib.sh's FAIL and logs) on stderr
cd "$(dirname "$0")/../.."
BUILD=$(cd "${1:?usage: files_durations.sh BUILD_DIR}" && pwd)
. tests/integration/lib.sh "$BUILD" "$PWD/../shared/fixtures/firmware"
ROOT=$PWD
[ -x "$BUILD/micropython/micropython" ] || fail "no $BUILD/micropython/micropython: run ctest -L micropython first"
PIDS=()
trap 'rc=$?; for p in "${PIDS[@]}"; do stop_pid "$p"; done; cleanup $rc' EXIT
start_mqotad --multicast off
add_release "$FIX/idf_hello_world_esp32_2024.bin"; img=$RELEASE_ID
# 24 files of 5,184 bytes (124,416 in all): an application with its libraries
mkdir -p "$T/app/lib"
for i in $(seq 1 24); do head -c 5184 /dev/urandom >"$T/app/lib/m$i.py"; done
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
add_release --files "$T/app" --version app-files; frel=$RELEASE_ID
size=$(mq --json release show "$frel" | jq -e '.size') || fail "release show failed"
# took DEPLOYMENT: seconds from the deployment's creation to its target's success, from the
# millisecond timestamps of mqotad's log
took() {
  awk -v d="$1" '
    function t(s) { split(substr(s, 12, 12), a, ":"); return a[1] * 3600 + a[2] * 60 + a[3] }
    $0 ~ "info: deployment " d ": release" { t0 = t($1) }
    $0 ~ "deployment " d " target succeeded" { printf "%.2f", t($1) - t0; exit }' "$T/mqotad.log"
}
printf '%-6s %8s %8s %7s %12s\n' profile image_s files_s ratio bundle_bytes >&3
for prof in lan lte; do
  id=$(fleet_ids --count 1 --prefix "upy-$prof")
  fleet_provision --count 1 --prefix "upy-$prof"
  port=$(free_port)
  "$BUILD/fleet/mqota-linkemu" --upstream "$BROKER_URL" --profile "$prof" --listen-port "$port" \
    >>"$T/linkemu-$prof.log" 2>&1 &
  PIDS+=($!)
  "$BUILD/tests/emu/micropython/mqota-vboot" create "$T/$prof.flash" 0 "$FIX/idf_hello_world_esp32_2023.bin" ||
    fail "mqota-vboot create failed"
  mkdir -p "$T/dev-$prof"
  MQOTA_UPY_CRED=$T/creds/$id.cred MQOTA_UPY_HOST=127.0.0.1 MQOTA_UPY_PORT=$port \
    "$ROOT/tests/emu/micropython/run_device.sh" "$BUILD" "$T/$prof.flash" "$T/dev-$prof" \
    >>"$T/device-$prof.log" 2>&1 &
  PIDS+=($!)
  idle() { mq --json device show "$id" | jq -e '.online == true and (.state == "idle" or .state == "confirmed")'; }
  wait_for 60 idle || fail "$id is not online"
  out=$(mq --json deploy "$img" "$id" 2>&1) || fail "deploy failed: $out"
  json_get dep "$out" '.id | numbers'
  mq deployment watch "$dep" --timeout 300 >"$T/watch-$prof-$dep.log" 2>&1 || fail "image on $prof failed"
  ti=$(took "$dep")
  wait_for 30 idle || fail "$id did not come back after the image"
  sleep 1
  out=$(mq --json deploy "$frel" "$id" 2>&1) || fail "deploy failed: $out"
  json_get dep "$out" '.id | numbers'
  mq deployment watch "$dep" --timeout 300 >"$T/watch-$prof-$dep.log" 2>&1 || fail "files on $prof failed"
  tf=$(took "$dep")
  [ -n "$ti" ] && [ -n "$tf" ] || fail "no durations in $T/watch-$prof-*.log"
  pass "$prof: image $ti s, files $tf s"
  printf '%-6s %8s %8s %7s %12s\n' "$prof" "$ti" "$tf" "$(echo "$tf $ti" | awk '{printf "%.2fx", $1 / $2}')" "$size" >&3
done
passed
