#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Legacy protocol 2, per-chip topics with MD5 chunks (docs/LEGACY.md), end to end: two virtual
# Arduino boards booting a "legacy-md5" image, registered with their chipIds, take a new
# legacy image from mqotad over a real mosquitto:
#  - the first drops its link at 40 % (the adapter starts over after its `ready`), the second
#    gets chunk 3 damaged on the wire (its MD5 check says md5-fail, the adapter starts over);
#    both succeed, and only once they came back from their reboot (logged in as themselves);
#  - a device registered as an ESP32-S3 is refused the ESP32 release before anything is sent;
#  - mqotad SIGKILLed while it drives a device: restarted, it takes the active target up again;
#  - one device takes an image that carries the mqota agent and comes back native under the
#    same registry entry (protocol mqota, its native STATE);
#  - the embedded broker's identities (no --open-broker): each device registers its firmware's
#    login (params mqtt_user, mqtt_password); a wrong password is refused, and one device
#    neither reads nor writes the other's topics (docs/SECURITY.md §7).
#
# usage: test_legacy_md5.sh BUILD FIXTURES
. "$(dirname "$0")/lib.sh" "$1" "$2"
VARIANT="$BUILD/tests/tools/mqota-image-variant"
SRC="$FIX/idf_hello_world_esp32_2023.bin"
for v in 1 2 3; do
  "$VARIANT" --project legacy-md5 --version "md5-$v" "$SRC" "$T/md5-$v.bin" >>"$T/variant.log" 2>&1 ||
    fail "mqota-image-variant could not make md5-$v: $(tail -n 1 "$T/variant.log")"
done

BAD_PID=""
trap 'rc=$?; stop_pid "$BAD_PID"; cleanup $rc' EXIT
start_mqotad
start_fleet --count 2 --image "$T/md5-1.bin" --cut-at 40 --legacy-corrupt 3
# bad-0001: registered with its login, but its firmware presents a wrong password
mkdir -m 700 "$T/bad-creds"
printf 'username=bad-0001\npassword=not-the-registered-one\n' >"$T/bad-creds/bad-0001.cred"
chmod 600 "$T/bad-creds/bad-0001.cred"
"$FLEET" --broker "$BROKER_URL" --data "$T/fleet-bad" --count 1 --prefix bad- --image "$T/md5-1.bin" \
  --credentials-dir "$T/bad-creds" --status-interval 0 >>"$T/fleet-bad.log" 2>&1 &
BAD_PID=$!
wait_for 20 sh -c "[ \$(grep -c 'protocol md5, chipId' '$T/fleet.log') -ge 2 ]" ||
  fail "the virtual devices did not boot into protocol md5"

for id in vdev-0001 vdev-0002; do
  chip=$(grep -o "$id: protocol md5, chipId esp32-[0-9a-f]*" "$T/fleet.log" | head -n 1 | sed 's/.* //')
  [ -n "$chip" ] || fail "no chipId for $id in the fleet's log"
  sed -n 's/^password=//p' "$T/creds/$id.cred" >"$T/$id.pw"
  reg=$(mq --json device add "$id" --protocol md5 --chip esp32 --version md5-1 "chip=$chip" \
    --mqtt-user "$id" --mqtt-password-file "$T/$id.pw" 2>&1) || fail "mqota device add $id was refused: $reg"
  check_json "$id registered with its login, the password not echoed" "$reg" \
    '.protocol == "md5" and .params.chunk == 200 and .params.mqtt_user == $id and (.params | has("mqtt_password") | not)' --arg id "$id"
done

# The broker: two more registered devices, probe-a and probe-b (no firmware runs as them, so
# a raw client may take their logins): a wrong password is refused; probe-a can neither read
# nor write probe-b's topics, and its own go through (the controls).
CA=esp32-a0a0a1 CB=esp32-b0b0b2 PA=probe-a-secret PB=probe-b-secret
mq device add probe-a --protocol md5 --chip esp32 "chip=$CA" mqtt_user=probe-a "mqtt_password=$PA" >/dev/null ||
  fail "mqota device add probe-a was refused"
mq device add probe-b --protocol md5 --chip esp32 "chip=$CB" mqtt_user=probe-b "mqtt_password=$PB" >/dev/null ||
  fail "mqota device add probe-b was refused"
out=$(mq device add probe-c --protocol md5 --chip esp32 chip=esp32-c0c0c3 mqtt_user=probe-a mqtt_password=x 2>&1) &&
  fail "a second device took probe-a's broker identity: $out"
grep -q "^user probe-a$" "$T/server/auth/acl" && grep -q "^topic read ota/$CA$" "$T/server/auth/acl" ||
  fail "no ACL lines for probe-a: $(cat "$T/server/auth/acl")"
! grep -qF -e "$PA" -e "$PB" -r "$T/server" "$T/mqotad.log" || fail "a legacy password is stored in DATA or logged"
PORT=${BROKER_URL##*:}
MQPASS=$(cat "$T/server/auth/mqotad.pass")
rc=0; timeout 15 mosquitto_sub -h 127.0.0.1 -p "$PORT" -u probe-a -P "${PA}x" -t "ota/$CA" -C 1 -W 10 \
  >/dev/null 2>"$T/err" || rc=$?
[ "$rc" -ne 0 ] && grep -qi "not authori" "$T/err" || fail "a wrong password was not refused (rc $rc): $(cat "$T/err")"
pass "a legacy login with a wrong password is refused by the broker"
timeout 15 mosquitto_sub -h 127.0.0.1 -p "$PORT" -u probe-a -P "$PA" -v -t "ota/$CB" -t "ota/$CA" \
  -W 4 >"$T/a-reads" 2>&1 &
rpid=$!
timeout 15 mosquitto_sub --unix "$T/server/broker/mqotad.sock" -u mqotad -P "$MQPASS" -v \
  -t "ota/feedback/$CB" -t "ota/feedback/$CA" -W 4 >"$T/server-reads" 2>&1 &
spid=$!
sleep 1
mpub_as() { timeout 15 mosquitto_pub "$@" -q 1 >/dev/null 2>&1 || true; }
mpub_as --unix "$T/server/broker/mqotad.sock" -u mqotad -P "$MQPASS" -t "ota/$CB" -m probe-for-b
mpub_as --unix "$T/server/broker/mqotad.sock" -u mqotad -P "$MQPASS" -t "ota/$CA" -m probe-for-a
mpub_as -h 127.0.0.1 -p "$PORT" -u probe-a -P "$PA" -t "ota/feedback/$CB" -m forged-by-a
mpub_as -h 127.0.0.1 -p "$PORT" -u probe-a -P "$PA" -t "ota/feedback/$CA" -m probe-own
wait "$rpid" || true
wait "$spid" || true
grep -q "probe-for-a" "$T/a-reads" && grep -q "probe-own" "$T/server-reads" ||
  fail "the controls: probe-a read $(cat "$T/a-reads"); mqotad read $(cat "$T/server-reads")"
! grep -q "probe-for-b" "$T/a-reads" || fail "probe-a read probe-b's command topic"
! grep -q "forged-by-a" "$T/server-reads" || fail "probe-a wrote probe-b's feedback topic"
pass "probe-a neither read nor wrote probe-b's topics; its own went through"
# re-registered with another login: the old one's password and ACL lines go
mq device add probe-b --protocol md5 --chip esp32 "chip=$CB" mqtt_user=probe-b2 "mqtt_password=$PB" >/dev/null ||
  fail "re-registering probe-b was refused"
grep -q "^user probe-b2$" "$T/server/auth/acl" && ! grep -q "^user probe-b$" "$T/server/auth/acl" &&
  grep -q "^probe-b2:" "$T/server/auth/passwd" && ! grep -q "^probe-b:" "$T/server/auth/passwd" ||
  fail "re-registering probe-b as probe-b2 did not replace its identity: $(grep probe-b "$T/server/auth/acl")"
"$MQOTAD" --data "$T/server" broker-files "$T/ext" >>"$T/broker-files.log" 2>&1 || fail "broker-files failed"
grep -A2 "^user probe-a$" "$T/ext/acl" | grep -q "^topic write ota/feedback/$CA$" ||
  fail "broker-files wrote no legacy lines: $(cat "$T/ext/acl")"
pass "re-registration replaced probe-b's identity; broker-files writes the same legacy lines"
wait_for 20 grep -q 'bad-0001: protocol md5, chipId' "$T/fleet-bad.log" || fail "bad-0001 did not boot"
chip=$(grep -o "bad-0001: protocol md5, chipId esp32-[0-9a-f]*" "$T/fleet-bad.log" | head -n 1 | sed 's/.* //')
mq device add bad-0001 --protocol md5 --chip esp32 --version md5-1 "chip=$chip" mqtt_user=bad-0001 \
  mqtt_password=the-registered-one >/dev/null || fail "mqota device add bad-0001 was refused"
mq device add vdev-s3 --protocol md5 --chip esp32s3 chip=esp32-abcdef >/dev/null ||
  fail "mqota device add vdev-s3 was refused"
reg=$(curl -s -H "$API_AUTH" -H 'Content-Type: application/json' -X POST \
  -d '{"id": "bad", "protocol": "md5", "chip": "esp32", "params": {"chip": "esp32-XYZ"}}' \
  "$HTTP_URL/api/v1/legacy-devices") || fail "POST /api/v1/legacy-devices failed"
check_json "a chipId that is not esp32-<6 hex> is refused" "$reg" '.error | test("chipId")'
# a legacy device takes no mqota commands: 409 with the sentence saying why, nothing queued
code=$(curl -s -o "$T/cmd.json" -w '%{http_code}' -H "$API_AUTH" -H 'Content-Type: application/json' \
  -X POST -d '{"name": "diagnostics"}' "$HTTP_URL/api/v1/devices/vdev-s3/commands") ||
  fail "POST /api/v1/devices/vdev-s3/commands failed"
check "a command to a legacy device is refused with 409" test "$code" = 409
check_json "the refusal names the protocol" "$(cat "$T/cmd.json")" \
  '.error == "device '"'"'vdev-s3'"'"' speaks legacy protocol md5, which carries no mqota commands (docs/LEGACY.md); update it to an image with the agent first"'
cmds=$(curl -sf -H "$API_AUTH" "$HTTP_URL/api/v1/devices/vdev-s3/commands") || fail "GET commands failed"
check_json "nothing was queued for it" "$cmds" 'length == 0'

add_release "$T/md5-2.bin"; rel=$RELEASE_ID
out=$(mq --json deploy "$rel" vdev-s3 2>&1) && fail "an ESP32 release was deployed to an ESP32-S3: $out"
pass "wrong chip refused before sending: $(head -c 160 <<<"$out")"

out=$(mq --json deploy "$rel" bad-0001 2>&1) || fail "deploy to bad-0001 failed: $out"
json_get dep_bad "$out" '.id | numbers'
out=$(mq --json deploy "$rel" vdev-0001 vdev-0002 2>&1) || fail "deploy failed: $out"
json_get dep "$out" '.id | numbers'
watch "$dep" 120 || fail "deployment $dep did not succeed on both devices (see watch.log)"
d=$(mq --json deployment show "$dep") || fail "deployment show failed"
check_json "both md5 devices succeeded" "$d" '.state == "finished" and .succeeded == 2 and .failed == 0'
grep -q "attempt [0-9] failed (checksum: the device answered .md5-fail" "$T/mqotad.log" || fail "no attempt failed on the damaged chunk's md5-fail"
grep -q "fault: cutting the link" "$T/fleet.log" &&
  grep -q "attempt [0-9] failed (timeout: the device restarted or reconnected" "$T/mqotad.log" ||
  fail "no attempt failed on the link cut"
grep -q "waiting for it to report its version" "$T/mqotad.log" || fail "success came before the reboot"
pass "a damaged chunk (md5-fail) and a cut link were retried"
d=$(mq --json deployment show "$dep_bad") || fail "deployment show failed"
check_json "bad-0001 (wrong password) never started: nothing sent" "$d" \
  '.targets[0].state != "succeeded" and .targets[0].progress == 0 and .targets[0].bytes_sent == 0'
grep -q "bad-0001.*not authori" "$T/fleet-bad.log" || ! grep -q "bad-0001: .*connected" "$T/fleet-bad.log" ||
  fail "bad-0001 connected with a wrong password: $(grep bad-0001 "$T/fleet-bad.log" | tail -n 3)"
! grep -q "bad-0001: .*\(size\|chunk\|Update\)" "$T/fleet-bad.log" || fail "bad-0001 received part of an update"
list=$(mq --json device list) || fail "device list failed"
check_json "the registry shows both on md5-2, protocol md5" "$list" \
  '[.[] | select(.protocol == "md5" and .version == "md5-2" and .state == "confirmed")] | length == 2'

# mqotad killed while it drives vdev-0002: the restarted one takes the active target up again.
add_release "$T/md5-3.bin"; rel3=$RELEASE_ID
out=$(mq --json deploy "$rel3" vdev-0002 2>&1) || fail "deploy failed: $out"
json_get dep3 "$out" '.id | numbers'
wait_for 30 sh -c "curl -sf -H '$API_AUTH' '$HTTP_URL/api/v1/deployments/$dep3' | jq -e '.targets[0].state == \"active\" and .targets[0].progress > 20000'" ||
  fail "vdev-0002's target did not become active with progress"
bpid=$(pgrep -f "mosquitto -c $T/server/broker/mosquitto.conf") || fail "no embedded broker running"
kill -KILL "$MQOTAD_PID"
wait "$MQOTAD_PID" 2>/dev/null || true
MQOTAD_PID=""
# The embedded broker leaves with mqotad; the restarted one takes the same port only once it is
# free, and the devices know no other (test_server_restart.sh waits the same way).
broker_gone() { ! kill -0 "$bpid" 2>/dev/null; }
wait_for 10 broker_gone || fail "the embedded broker (pid $bpid) outlived mqotad"
broker_before=$BROKER_URL
start_mqotad
[ "$BROKER_URL" = "$broker_before" ] || fail "the broker moved to $BROKER_URL from $broker_before"
watch "$dep3" 120 || fail "deployment $dep3 did not succeed after mqotad's restart (see watch.log)"
grep -q "legacy device vdev-0002: deployment $dep3 was active; its transfer starts again" "$T/mqotad.log" ||
  fail "the restarted mqotad did not take the active legacy target up again"
pass "a legacy transfer interrupted by mqotad's death finished after its restart"

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
passed
