#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# mqotad killed with SIGKILL in the middle of a fleet transfer, then started again on the same
# data directory: the embedded broker comes back on the same port (it died with mqotad), the
# devices reconnect, the transfers are rebuilt from their ACKs and every device succeeds,
# exactly once (boot counts, fleet reboots, one target each), and SQLite's integrity_check
# passes on the database mqotad was killed over.
#
# usage: test_server_restart.sh BUILD_DIR FIXTURES_DIR
. "$(dirname "$0")/lib.sh" "$1" "$2"
COUNT=50

# connected: mqotad (lib.sh's start_mqotad, data in $T/server) is connected to its broker.
connected() {
  wait_for 20 sh -c "curl -sf '$HTTP_URL/api/v1/health' | jq -e '.mqtt_connected == true'" ||
    fail "mqotad at $HTTP_URL is not connected to its broker"
}
online() { curl -sf -H "$API_AUTH" "$HTTP_URL/api/v1/devices" | jq -e --argjson n "$COUNT" '[.[] | select(.online == true)] | length == $n'; }

start_mqotad
connected
BROKER=$BROKER_URL
# start_fleet provisions the devices: the embedded broker refuses anonymous clients
start_fleet --count $COUNT --status-interval 1 --image "$FIX/idf_hello_world_esp32_2023.bin"
wait_for 60 online || fail "devices did not come online"
curl -sf -H "$API_AUTH" -H 'Content-Type: application/octet-stream' --data-binary @"$FIX/arduino_nerdminer_esp32_v1.6.3.bin" "$HTTP_URL/api/v1/releases?version=v1.6.3" >/dev/null ||
  fail "upload refused"
curl -sf -H "$API_AUTH" -H 'Content-Type: application/json' -d '{"release": 1, "all": true}' "$HTTP_URL/api/v1/deployments" >/dev/null || fail "deployment refused"
wait_for 30 sh -c "curl -sf -H '$API_AUTH' '$HTTP_URL/api/v1/deployments/1' | jq -e '.active > 0'" || fail "no target became active"
sleep 0.3
bpid=$(pgrep -f "mosquitto -c $T/server/broker/mosquitto.conf") || fail "no embedded broker running"
kill -KILL "$MQOTAD_PID"
wait "$MQOTAD_PID" 2>/dev/null || true
MQOTAD_PID=""
log "mqotad killed mid-transfer: $(curl -s "$HTTP_URL/api/v1/health" || echo 'no answer, as expected')"
broker_gone() { ! kill -0 "$bpid" 2>/dev/null; }
wait_for 10 broker_gone || fail "the embedded broker (pid $bpid) outlived mqotad"

start_mqotad
connected
[ "$(cat "$T/server/broker.url")" = "$BROKER" ] || fail "broker moved to $(cat "$T/server/broker.url") from $BROKER"
log "mqotad restarted on $HTTP_URL, broker $BROKER"
wait_for 120 sh -c "curl -sf -H '$API_AUTH' '$HTTP_URL/api/v1/deployments/1' | jq -e '.state == \"finished\"'" ||
  fail "deployment did not finish after the restart: $(curl -s -H "$API_AUTH" "$HTTP_URL/api/v1/deployments/1")"
d=$(curl -sf -H "$API_AUTH" "$HTTP_URL/api/v1/deployments/1") || fail "GET /api/v1/deployments/1 failed"
echo "$d" | jq -e --argjson n "$COUNT" '.succeeded == $n and .failed == 0' >/dev/null ||
  fail "not every device succeeded: $d"
curl -s -H "$API_AUTH" "$HTTP_URL/api/v1/devices" | jq -e 'all(.[]; .version == "v1.6.3" and .running_release == 1)' >/dev/null ||
  fail "devices do not all run v1.6.3"
# No device updated twice: each rebooted exactly once (one boot slot switch), so every
# device's boot count is 2 (factory boot + the new image) and the fleet counts COUNT reboots.
curl -s -H "$API_AUTH" "$HTTP_URL/api/v1/devices" | jq -e 'all(.[]; .boot_count == 2 and .slot == 1)' >/dev/null ||
  fail "a device booted other than twice (updated twice, or not at all): $(curl -s -H "$API_AUTH" "$HTTP_URL/api/v1/devices" | jq -c '[.[] | {id, boot_count, slot}]')"
wait_for 10 sh -c "jq -e --argjson n $COUNT '.reboots == \$n' '$T/fleet/fleet-status.json'" ||
  fail "fleet reboots are not $COUNT: $(cat "$T/fleet/fleet-status.json")"
# None forgotten, none doubled: one target per device in the deployment.
echo "$d" | jq -e --argjson n "$COUNT" '(.targets | length) == $n and ([.targets[].device] | unique | length) == $n' >/dev/null ||
  fail "the deployment's targets are not exactly the $COUNT devices: $d"
pass "every device updated once after the SIGKILL (boot counts, fleet reboots, one target each)"
# No corrupted database: SQLite's own check, on the file mqotad was killed over.
ic=$(sqlite3 "file:$T/server/mqota.db?mode=ro" 'PRAGMA integrity_check;' 2>&1) || fail "sqlite3 could not open the database: $ic"
[ "$ic" = "ok" ] || fail "database integrity_check after the SIGKILL: $ic"
pass "all $COUNT devices updated once across a SIGKILL of mqotad; database integrity ok"
passed
