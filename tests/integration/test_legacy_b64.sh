#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Legacy protocol 1, base64 chunks over one topic (docs/LEGACY.md), end to end: two virtual
# SIM7600 boards booting a "legacy-b64" image take a new legacy image from mqotad over a real
# mosquitto, mqotad keeping 8 chunks in flight and asking each device's version with the
# fleet's AES-256-CBC command after its reboot:
#  - each drops its link at 40 % (mqotad resends what went unconfirmed and it goes on) and
#    gets chunk 5 damaged on the wire: protocol 1 has no checksum per chunk, so the device
#    writes it and only the image's own check at OTA:END catches it; the device then drops
#    its link (its OTA:ERROR never arrives) and mqotad's retry sends the image again; both
#    succeed, and only once they answered VERSION with the new version;
#  - a command key file others can read is refused (target failed, reason config, nothing
#    sent); a wrong key: the image goes, the device refuses the VERSION command, the target
#    fails with no-version;
#  - one device takes an image that carries the mqota agent and comes back native.
# The embedded broker runs with identities (no --open-broker): each board is registered with
# its firmware's login (params mqtt_user, mqtt_password: its .cred file's), its own topics only.
#
# usage: test_legacy_b64.sh BUILD FIXTURES
. "$(dirname "$0")/lib.sh" "$1" "$2"
VARIANT="$BUILD/tests/tools/mqota-image-variant"
SRC="$FIX/idf_hello_world_esp32_2023.bin"
for v in 1 2 3; do
  "$VARIANT" --project legacy-b64 --version "b64-$v" "$SRC" "$T/b64-$v.bin" >>"$T/variant.log" 2>&1 ||
    fail "mqota-image-variant could not make b64-$v: $(tail -n 1 "$T/variant.log")"
done
printf 'key=%s\niv=%s\n' "$(openssl rand -hex 32)" "$(openssl rand -hex 16)" >"$T/b64.key"
printf 'key=%s\niv=%s\n' "$(openssl rand -hex 32)" "$(openssl rand -hex 16)" >"$T/wrong.key"
chmod 600 "$T/b64.key" "$T/wrong.key"

start_mqotad
KEY="$T/server/auth/legacy-b64.key"
install -m 600 "$T/b64.key" "$KEY"
start_fleet --count 2 --image "$T/b64-1.bin" --b64-key "$T/b64.key" --cut-at 40 --legacy-corrupt 5
for id in vdev-0001 vdev-0002; do
  pw=$(sed -n 's/^password=//p' "$T/creds/$id.cred")
  reg=$(curl -s -H "$API_AUTH" -H 'Content-Type: application/json' -X POST \
    -d "{\"id\": \"$id\", \"protocol\": \"b64\", \"chip\": \"esp32\", \"version\": \"b64-1\",
         \"params\": {\"prefix\": \"$id/\", \"reboot_timeout_s\": 8,
                    \"mqtt_user\": \"$id\", \"mqtt_password\": \"$pw\"}}" \
    "$HTTP_URL/api/v1/legacy-devices") || fail "POST /api/v1/legacy-devices for $id failed"
  check_json "$id registered" "$reg" '.protocol == "b64" and .params.prefix == $p' --arg p "$id/"
done
wait_for 20 sh -c "grep -q 'vdev-0002: .*connect\|devices 2, connected 2' '$T/fleet.log'" ||
  fail "the virtual devices did not connect"

add_release "$T/b64-2.bin"; rel=$RELEASE_ID
out=$(mq --json deploy "$rel" vdev-0001 vdev-0002 2>&1) || fail "deploy failed: $out"
json_get dep "$out" '.id | numbers'
watch "$dep" 120 || fail "deployment $dep did not succeed on both devices (see watch.log)"
d=$(mq --json deployment show "$dep") || fail "deployment show failed"
check_json "both b64 devices succeeded, with chunks resent" "$d" \
  '.state == "finished" and .succeeded == 2 and ([.targets[].bytes_resent] | add) > 0'
grep -q "vdev-0002: attempt [0-9] failed (timeout: no answer to OTA:END" "$T/mqotad.log" ||
  fail "the damaged chunk was not caught at OTA:END (the device's check) and retried"
grep -q "vdev-0002: drops its link (OTA:ERROR:validation never sent" "$T/fleet.log" ||
  fail "the device did not drop its link on the failed image"
grep -q "vdev-0001: fault: cutting the link" "$T/fleet.log" || fail "the link was not cut"
pass "the damaged chunk was caught by the device's image check only, then retried"
list=$(mq --json device list) || fail "device list failed"
check_json "the registry shows both on b64-2, protocol b64" "$list" \
  '[.[] | select(.protocol == "b64" and .version == "b64-2" and .state == "confirmed")] | length == 2'

add_release "$T/b64-3.bin"; rel3=$RELEASE_ID
chmod 644 "$KEY"
out=$(mq --json deploy "$rel3" vdev-0001 2>&1) || fail "deploy failed: $out"
json_get dep "$out" '.id | numbers'
wait_for 20 sh -c "'$MQOTA' --server '$HTTP_URL' --json deployment show $dep | jq -e '.state == \"finished\"'" ||
  fail "deployment $dep with a world-readable key file did not end"
d=$(mq --json deployment show "$dep") || fail "deployment show failed"
check_json "a key file others can read is refused, nothing sent" "$d" \
  '.failed == 1 and .targets[0].reason == "config" and .targets[0].bytes_sent == 0'

install -m 600 "$T/wrong.key" "$KEY"
out=$(mq --json deploy "$rel3" vdev-0001 2>&1) || fail "deploy failed: $out"
json_get dep "$out" '.id | numbers'
wait_for 60 sh -c "'$MQOTA' --server '$HTTP_URL' --json deployment show $dep | jq -e '.state == \"finished\"'" ||
  fail "deployment $dep under a wrong key did not end"
d=$(mq --json deployment show "$dep") || fail "deployment show failed"
check_json "under a wrong key the version is never heard: failed, no-version" "$d" \
  '.failed == 1 and .targets[0].reason == "no-version"'
grep -q "vdev-0001: command refused: it does not decrypt" "$T/fleet.log" ||
  fail "the device did not refuse the command sealed under the wrong key"
pass "the device refused commands under a wrong key"

install -m 600 "$T/b64.key" "$KEY"
add_release "$FIX/idf_hello_world_esp32_2024.bin"; nat=$RELEASE_ID
out=$(mq --json deploy "$nat" vdev-0002 2>&1) || fail "deploy of the native image failed: $out"
json_get dep "$out" '.id | numbers'
watch "$dep" 120 || fail "the migration deployment $dep did not succeed (see watch.log)"
wait_for 30 sh -c "'$MQOTA' --server '$HTTP_URL' --json device show vdev-0002 | jq -e '.protocol == \"mqota\"'" ||
  fail "vdev-0002 did not come back native"
dev=$(mq --json device show vdev-0002) || fail "device show failed"
check_json "vdev-0002 is native under the same entry" "$dev" \
  '.protocol == "mqota" and .project == "hello_world" and .state == "confirmed"'
passed
