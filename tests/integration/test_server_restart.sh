#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# mqotad killed with SIGKILL in the middle of a fleet transfer, then started again on the same
# data directory: the embedded broker comes back on the same port (it died with mqotad), the
# devices reconnect, the transfers are rebuilt from their ACKs and every device succeeds,
# exactly once (boot counts, fleet reboots, one target each), and SQLite's integrity_check
# passes on the database mqotad was killed over.
#
# usage: test_server_restart.sh MQOTAD MQOTA_FLEET FIXTURES_DIR
set -euo pipefail
MQOTAD=$1
FLEET=$2
FIX=$3
COUNT=50
T=$(mktemp -d /tmp/mqotad-restart.XXXXXX)
MP=""
FP=""

log() { echo "[$(date +%H:%M:%S)] $*"; }
fail() {
  echo "FAIL: $*"
  for f in "$T"/*.log; do echo "----- $f -----"; tail -n 30 "$f"; done
  exit 1
}
cleanup() {
  local rc=$?
  for p in $FP $MP; do kill -TERM "$p" 2>/dev/null || true; done
  for p in $FP $MP; do timeout 10 tail --pid="$p" -f /dev/null 2>/dev/null || kill -KILL "$p" 2>/dev/null || true; done
  if [ "$rc" -eq 0 ]; then rm -rf "$T"; else echo "test directory kept: $T"; fi
}
trap cleanup EXIT
wait_for() { # SECONDS CMD...
  local end=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$end" ] || return 1
    sleep 0.1
  done
}
start_mqotad() {
  rm -f "$T/data/http.url"
  "$MQOTAD" --data "$T/data" --http 127.0.0.1:0 >>"$T/mqotad.log" 2>&1 &
  MP=$!
  wait_for 20 test -s "$T/data/http.url" || fail "mqotad wrote no http.url"
  URL=$(cat "$T/data/http.url")
  API_AUTH="Authorization: Bearer $(cat "$T/data/api.token")" # the API needs mqotad's token
  wait_for 20 sh -c "curl -sf '$URL/api/v1/health' | jq -e .mqtt_connected" || fail "mqotad not connected"
}
online() { curl -sf -H "$API_AUTH" "$URL/api/v1/devices" | jq -e --argjson n "$COUNT" '[.[] | select(.online)] | length == $n'; }

start_mqotad
BROKER=$(cat "$T/data/broker.url")
# the embedded broker refuses anonymous clients: each device gets a broker identity
"$MQOTAD" --data "$T/data" device provision --out-dir "$T/creds" $(seq -f 'vdev-%04g' 1 $COUNT) \
  2>>"$T/mqotad.log" || fail "device provision failed"
"$FLEET" --broker "$BROKER" --data "$T/fleet" --count $COUNT --status-interval 1 --credentials-dir "$T/creds" \
  --image "$FIX/idf_hello_world_esp32_2023.bin" >>"$T/fleet.log" 2>&1 &
FP=$!
wait_for 60 online || fail "devices did not come online"
curl -sf -H "$API_AUTH" -H 'Content-Type: application/octet-stream' --data-binary @"$FIX/arduino_nerdminer_esp32_v1.6.3.bin" "$URL/api/v1/releases?version=v1.6.3" >/dev/null ||
  fail "upload refused"
curl -sf -H "$API_AUTH" -H 'Content-Type: application/json' -d '{"release": 1, "all": true}' "$URL/api/v1/deployments" >/dev/null || fail "deployment refused"
wait_for 30 sh -c "curl -sf -H '$API_AUTH' '$URL/api/v1/deployments/1' | jq -e '.active > 0'" || fail "no target became active"
sleep 0.3
bpid=$(pgrep -f "mosquitto -c $T/data/broker/mosquitto.conf") || fail "no embedded broker running"
kill -KILL "$MP"
wait "$MP" 2>/dev/null || true
log "mqotad killed mid-transfer: $(curl -s "$URL/api/v1/health" || echo 'no answer, as expected')"
broker_gone() { ! kill -0 "$bpid" 2>/dev/null; }
wait_for 10 broker_gone || fail "the embedded broker (pid $bpid) outlived mqotad"

start_mqotad
[ "$(cat "$T/data/broker.url")" = "$BROKER" ] || fail "broker moved to $(cat "$T/data/broker.url") from $BROKER"
log "mqotad restarted on $URL, broker $BROKER"
wait_for 120 sh -c "curl -sf -H '$API_AUTH' '$URL/api/v1/deployments/1' | jq -e '.state == \"finished\"'" ||
  fail "deployment did not finish after the restart: $(curl -s -H "$API_AUTH" "$URL/api/v1/deployments/1")"
d=$(curl -s -H "$API_AUTH" "$URL/api/v1/deployments/1")
echo "$d" | jq -e --argjson n "$COUNT" '.succeeded == $n and .failed == 0' >/dev/null ||
  fail "not every device succeeded: $d"
curl -s -H "$API_AUTH" "$URL/api/v1/devices" | jq -e 'all(.[]; .version == "v1.6.3" and .running_release == 1)' >/dev/null ||
  fail "devices do not all run v1.6.3"
# No device updated twice: each rebooted exactly once (one boot slot switch), so every
# device's boot count is 2 (factory boot + the new image) and the fleet counts COUNT reboots.
curl -s -H "$API_AUTH" "$URL/api/v1/devices" | jq -e 'all(.[]; .boot_count == 2 and .slot == 1)' >/dev/null ||
  fail "a device booted other than twice (updated twice, or not at all): $(curl -s -H "$API_AUTH" "$URL/api/v1/devices" | jq -c '[.[] | {id, boot_count, slot}]')"
wait_for 10 sh -c "jq -e --argjson n $COUNT '.reboots == \$n' '$T/fleet/fleet-status.json'" ||
  fail "fleet reboots are not $COUNT: $(cat "$T/fleet/fleet-status.json")"
# None forgotten, none doubled: one target per device in the deployment.
echo "$d" | jq -e --argjson n "$COUNT" '(.targets | length) == $n and ([.targets[].device] | unique | length) == $n' >/dev/null ||
  fail "the deployment's targets are not exactly the $COUNT devices: $d"
# No corrupted database: SQLite's own check, on the file mqotad was killed over.
ic=$(sqlite3 "file:$T/data/mqota.db?mode=ro" 'PRAGMA integrity_check;' 2>&1) || fail "sqlite3 could not open the database: $ic"
[ "$ic" = "ok" ] || fail "database integrity_check after the SIGKILL: $ic"
log "all $COUNT devices updated once across a SIGKILL of mqotad; database integrity ok"
echo PASSED
