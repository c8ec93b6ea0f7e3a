#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Legacy protocol 4, command topics with a TCP side channel (the MicroPython framework,
# docs/LEGACY.md §4), end to end: two virtual boards booting a "legacy-tcp" image take a new
# one from mqotad over a real mosquitto and a TCP connection to the address they announce:
#  - both close the connection at 40 % and get block 3 damaged on the wire (the device's SHA-1
#    chain check answers '0'); the adapter starts over from `open` each time and both succeed,
#    only after they rebooted, answered getversion with the new version and kept it
#    (keepversion: without it the board rolls back at its next reset);
#  - a device registered as an ESP32-S3 is refused the ESP32 release before anything is sent;
#  - a board that announces an address outside --legacy-tcp-net (127.0.0.0/8) is refused with
#    a sentence and nothing is connected (its target fails, reason config);
#  - a rollout of tcp-3 over both boards (group tcp): a canary of 1, then wave 1, which starts
#    only once the canary reported tcp-3; it finishes with both confirmed on tcp-3;
#  - 'mqota device list' names the protocol in the STATE cell ("legacy tcp");
#  - one board takes an image that carries the mqota agent and comes back native under the
#    same registry entry.
# The embedded broker runs with identities (no --open-broker): each board is registered with
# its firmware's login (params mqtt_user, mqtt_password: its .cred file's), its own topics only.
. "$(dirname "$0")/lib.sh" "$1" "$2"
VARIANT="$BUILD/tests/tools/mqota-image-variant"
SRC="$FIX/idf_hello_world_esp32_2023.bin"
for v in 1 2 3; do
  "$VARIANT" --project legacy-tcp --version "tcp-$v" "$SRC" "$T/tcp-$v.bin" >>"$T/variant.log" 2>&1 ||
    fail "mqota-image-variant could not make tcp-$v: $(tail -n 1 "$T/variant.log")"
done
OUT_PID=""
trap 'rc=$?; stop_pid "$OUT_PID"; cleanup $rc' EXIT

start_mqotad --legacy-tcp-net 127.0.0.0/8
start_fleet --count 2 --image "$T/tcp-1.bin" --cut-at 40 --legacy-corrupt 3
fleet_provision --count 1 --prefix out-
"$FLEET" --broker "$BROKER_URL" --data "$T/fleet-out" --count 1 --prefix out- --credentials-dir "$T/creds" \
  --image "$T/tcp-1.bin" --tcp-announce 10.9.8.7 --status-interval 0 >>"$T/fleet-out.log" 2>&1 &
OUT_PID=$!
wait_for 20 sh -c "[ \$(cat '$T/fleet.log' '$T/fleet-out.log' | grep -c 'protocol tcp, running') -ge 3 ]" ||
  fail "the virtual devices did not boot into protocol tcp"
# a command published before a board subscribed is lost (QoS 1, not retained): wait for them
wait_for 20 sh -c "[ \$(grep -cE 'New client connected .* as (vdev-000[12]|out-0001) ' \
  '$T/server/broker/mosquitto.log') -ge 3 ]" || fail "the virtual boards did not connect"

# register ID CHIP: POST /api/v1/legacy-devices (the topics' name defaults to the id); REG
register() {
  local login=""
  [ -f "$T/creds/$1.cred" ] && login=", \"params\": {\"mqtt_user\": \"$1\", \"mqtt_password\":
    \"$(sed -n 's/^password=//p' "$T/creds/$1.cred")\"}"
  REG=$(curl -s -H "$API_AUTH" -H 'Content-Type: application/json' -X POST \
    -d "{\"id\": \"$1\", \"protocol\": \"tcp\", \"chip\": \"$2\", \"version\": \"tcp-1\"$login}" \
    "$HTTP_URL/api/v1/legacy-devices") || fail "POST /api/v1/legacy-devices for $1 failed"
}
for id in vdev-0001 vdev-0002 out-0001; do
  register "$id" esp32
  check_json "$id registered" "$REG" '.protocol == "tcp" and .params.name == $id' --arg id "$id"
done
register vdev-s3 esp32s3
register 'bad/name' esp32
check_json "an id that cannot be a topic level is refused" "$REG" '.error | type == "string"'

add_release "$T/tcp-2.bin"; rel=$RELEASE_ID
out=$(mq --json deploy "$rel" vdev-s3 2>&1) && fail "an ESP32 release was deployed to an ESP32-S3: $out"
pass "wrong chip refused before sending: $(head -c 160 <<<"$out")"

out=$(mq --json deploy "$rel" out-0001 2>&1) || fail "deploy to out-0001 failed: $out"
json_get dep_out "$out" '.id | numbers'
out=$(mq --json deploy "$rel" vdev-0001 vdev-0002 2>&1) || fail "deploy failed: $out"
json_get dep "$out" '.id | numbers'
watch "$dep" 120 || fail "deployment $dep did not succeed on both devices (see watch.log)"
d=$(mq --json deployment show "$dep") || fail "deployment show failed"
check_json "both tcp devices succeeded" "$d" '.state == "finished" and .succeeded == 2 and .failed == 0'
grep -qE "vdev-0001: attempt [0-9] failed \(checksum: the device refused block 2 " "$T/mqotad.log" ||
  fail "no attempt failed on the damaged block's SHA-1 chain"
grep -q "failed (timeout: the device closed the connection at block" "$T/mqotad.log" ||
  fail "no attempt failed on the closed connection"
grep -q "vdev-0001 has the .* bytes of tcp-2 and restarts" "$T/mqotad.log" || fail "no image handed over"
grep -q "vdev-0002: rebooting\|vdev-0002: protocol tcp, running tcp-2" "$T/fleet.log" ||
  fail "vdev-0002 never ran tcp-2"
pass "a damaged block and a closed connection were retried; success after the reboot"
list=$(mq --json device list) || fail "device list failed"
check_json "the registry shows both on tcp-2, protocol tcp" "$list" \
  '[.[] | select(.protocol == "tcp" and .version == "tcp-2" and .state == "confirmed")] | length == 2'

# keepversion made tcp-2 valid: a reset now boots it again (without keepversion the board's
# pending-verify image would roll back to tcp-1 here)
# (as mqotad's user: only it may write a board's command topic)
mosquitto_pub --unix "$T/server/broker/mqotad.sock" -u mqotad -P "$(cat "$T/server/auth/mqotad.pass")" \
  -q 1 -t cmnd/vdev-0002/OTA -m reboot ||
  fail "mosquitto_pub of reboot to vdev-0002 failed"
wait_for 20 sh -c "[ \$(grep -c 'vdev-0002: protocol tcp, running tcp-2' '$T/fleet.log') -ge 2 ]" ||
  fail "vdev-0002 did not boot tcp-2 again after a reset: keepversion did not keep it"
grep -q "vdev-0002: bootloader: .*roll" "$T/fleet.log" && fail "vdev-0002 rolled back after keepversion"
pass "tcp-2 boots again after a reset: keepversion kept it"

wait_for 30 sh -c "'$MQOTA' --server '$HTTP_URL' --json deployment show $dep_out | jq -e '.state == \"finished\"'" ||
  fail "the deployment to the board announcing 10.9.8.7 did not end"
d=$(mq --json deployment show "$dep_out") || fail "deployment show failed"
check_json "the board announcing 10.9.8.7 failed with reason config" "$d" \
  '.targets[0].state == "failed" and .targets[0].reason == "config"'
grep -q "out-0001: the device announced 10.9.8.7, outside --legacy-tcp-net 127.0.0.0/8: nothing was connected" \
  "$T/mqotad.log" || fail "mqotad did not say why it refused 10.9.8.7"
pass "an announced address outside --legacy-tcp-net refused with a sentence"

# A rollout over the legacy boards (docs/ROLLOUTS.md): the canary (vdev-0001, the first by id)
# takes tcp-3 alone; wave 1 starts only once the canary reported tcp-3 (confirmed) and the
# rollout finishes with both on it.
mq group create tcp >/dev/null && mq group add tcp vdev-0001 vdev-0002 >/dev/null || fail "group tcp failed"
add_release "$T/tcp-3.bin"; rel3=$RELEASE_ID
out=$(mq --json rollout create "$rel3" --filter group=tcp --canary 1 --waves 100% --deadline 60 2>&1) ||
  fail "rollout create was refused: $out"
json_get rid "$out" '.id | numbers'
rollout_is() { mq --json rollout show "$rid" | jq -e "$1"; }
wait_for 60 rollout_is '.waves[1].deployment != null or .state != "running"' ||
  fail "wave 1 of rollout $rid never started: $(mq --json rollout show "$rid")"
dev=$(mq --json device show vdev-0001) || fail "device show failed"
check_json "wave 1 started only once the canary vdev-0001 reported tcp-3" "$dev" \
  '.version == "tcp-3" and .state == "confirmed"'
wait_for 60 rollout_is '.state != "running"' || fail "rollout $rid did not end: $(mq --json rollout show "$rid")"
r=$(mq --json rollout show "$rid") || fail "rollout show failed"
check_json "the rollout over the tcp boards finished: canary 1, wave 1 of 1, both confirmed" "$r" \
  '.state == "finished" and .waves[0].confirmed == 1 and .waves[0].failed == 0 and
   .waves[1].confirmed == 1 and .waves[1].failed == 0 and
   [.events[].kind] == ["created","wave-started","wave-succeeded","wave-started","wave-succeeded","finished"]'
list=$(mq --json device list --filter group=tcp) || fail "device list failed"
check_json "both tcp boards run tcp-3" "$list" '[.[] | select(.version == "tcp-3")] | length == 2'
# the protocol as a filter key (API.md "Filters")
list=$(mq --json device list --filter protocol=tcp) || fail "device list --filter protocol=tcp failed"
check_json "protocol=tcp lists the tcp boards and nothing else" "$list" \
  '(map(.id) | index("vdev-0001") != null and index("vdev-0002") != null) and all(.[]; .protocol == "tcp")'
list=$(mq --json device list --filter 'protocol!=tcp') || fail "device list --filter protocol!=tcp failed"
check_json "protocol!=tcp lists none of them" "$list" 'all(.[]; .protocol != "tcp")'
mq device list >"$T/list.txt" 2>&1 || fail "device list failed: $(cat "$T/list.txt")"
grep -qE '^vdev-0001 .* confirmed, legacy tcp ' "$T/list.txt" || fail "device list does not name the protocol: $(cat "$T/list.txt")"
pass "device list shows 'legacy tcp' beside the state"

# The migration: an image with the agent (project hello_world) to vdev-0001.
add_release "$FIX/idf_hello_world_esp32_2024.bin"; nat=$RELEASE_ID
rels=$(mq --json release list) || fail "release list failed"
json_get natver "$rels" '.[] | select(.id == $id) | .version | strings' --argjson id "$nat"
out=$(mq --json deploy "$nat" vdev-0001 2>&1) || fail "deploy of the native image failed: $out"
json_get dep2 "$out" '.id | numbers'
watch "$dep2" 120 || fail "the migration deployment $dep2 did not succeed (see watch.log)"
wait_for 30 sh -c "'$MQOTA' --server '$HTTP_URL' --json device show vdev-0001 | jq -e '.protocol == \"mqota\"'" ||
  fail "vdev-0001 did not come back native"
dev=$(mq --json device show vdev-0001) || fail "device show failed"
check_json "vdev-0001 is a native device on $natver under the same entry" "$dev" \
  '.protocol == "mqota" and .version == $v and .project == "hello_world"' --arg v "$natver"
mq device list >"$T/list.txt" 2>&1 || fail "device list failed: $(cat "$T/list.txt")"
grep -q '^vdev-0001 ' "$T/list.txt" && ! grep -q '^vdev-0001 .*legacy' "$T/list.txt" &&
  grep -q '^vdev-0002 .*legacy tcp' "$T/list.txt" || fail "device list after the migration: $(cat "$T/list.txt")"
pass "device list: the migrated vdev-0001 names no protocol, vdev-0002 still 'legacy tcp'"
passed
