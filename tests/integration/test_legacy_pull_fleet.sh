#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Legacy protocol 3, HTTPS pull (docs/LEGACY.md §3), with virtual esp_https_ota devices
# (mqota-fleet, image project "legacy-pull") polling mqotad's pull listener every 0.5 s:
#  - two devices take a new image; each stops its fetch at 40 % and resumes it with a Range on
#    its next poll; the second piece each writes lands damaged (after TLS, as a RAM or flash
#    error: TLS cannot see it), the image's SHA-256 check refuses the image, the device polls
#    with its old version and mqotad gives it the file again; both succeed only once they came
#    back and polled with the new version;
#  - a device whose login is wrong gets 403 and nothing else (its target stays pending);
#  - one device takes an image that carries the mqota agent and comes back native under the
#    same registry entry.
. "$(dirname "$0")/lib.sh" "$1" "$2"
VARIANT="$BUILD/tests/tools/mqota-image-variant"
SRC="$FIX/idf_hello_world_esp32_2023.bin"
for v in 1 2; do
  "$VARIANT" --project legacy-pull --version "pull-$v" "$SRC" "$T/pull-$v.bin" >>"$T/variant.log" 2>&1 ||
    fail "mqota-image-variant could not make pull-$v: $(tail -n 1 "$T/variant.log")"
done
BAD_PID=""
trap 'rc=$?; stop_pid "$BAD_PID"; cleanup $rc' EXIT

start_mqotad --pull-https 127.0.0.1:0
wait_for 10 test -s "$T/server/pull.url" || fail "mqotad wrote no pull.url"
PULL=$(cat "$T/server/pull.url")
for id in vdev-0001 vdev-0002 bad-0001; do
  REG=$(curl -s -H "$API_AUTH" -H 'Content-Type: application/json' -X POST \
    -d "{\"id\": \"$id\", \"protocol\": \"pull\", \"chip\": \"esp32\", \"version\": \"pull-1\",
         \"params\": {\"user\": \"fleet\", \"password\": \"fleet pw\"}}" \
    "$HTTP_URL/api/v1/legacy-devices") || fail "POST /api/v1/legacy-devices for $id failed"
  check_json "$id registered" "$REG" '.protocol == "pull"'
done
start_fleet --count 2 --image "$T/pull-1.bin" --cut-at 40 --legacy-corrupt 2 --pull-url "$PULL" \
  --pull-ca "$T/server/tls/ca.crt" --pull-user fleet --pull-password 'fleet pw' --poll-every 0.5
"$FLEET" --broker "$BROKER_URL" --data "$T/fleet-bad" --count 1 --prefix bad- \
  --image "$T/pull-1.bin" --pull-url "$PULL" --pull-ca "$T/server/tls/ca.crt" \
  --pull-user fleet --pull-password 'not it' --poll-every 0.5 --status-interval 0 \
  --log-level debug >>"$T/fleet-bad.log" 2>&1 &
BAD_PID=$!

add_release "$T/pull-2.bin"; rel=$RELEASE_ID
out=$(mq --json deploy "$rel" vdev-0001 vdev-0002 bad-0001 2>&1) || fail "deploy failed: $out"
json_get dep "$out" '.id | numbers'
both_done() {
  mq --json deployment show "$dep" | jq -e '[.targets[] | select(.state == "succeeded")] | length == 2'
}
wait_for 90 both_done || fail "vdev-0001 and vdev-0002 did not both succeed within 90 s"
d=$(mq --json deployment show "$dep") || fail "deployment show failed"
check_json "the device with the wrong login is still pending, nothing served" "$d" \
  '.targets[] | select(.device == "bad-0001") | .state == "pending" and .bytes_sent == 0'
grep -q "bad-0001: poll: .*HTTP 403" "$T/fleet-bad.log" || fail "bad-0001's polls did not get 403"
for id in vdev-0001 vdev-0002; do
  grep -q "$id: fault: the fetch stops at" "$T/fleet.log" || fail "$id's fetch was not cut"
  grep -q "$id: update .*, fetching the rest" "$T/fleet.log" || fail "$id did not resume"
  grep -q "pull: device $id fetches bytes [1-9][0-9]*\.\." "$T/mqotad.log" ||
    fail "mqotad served $id no Range"
  grep -q "$id: protocol pull, running pull-2" "$T/fleet.log" || fail "$id never ran pull-2"
done
pass "both fetches cut at 40 % and resumed with a Range; both devices run pull-2"
for id in vdev-0001 vdev-0002; do
  grep -q "$id: the downloaded image .* does not verify" "$T/fleet.log" ||
    fail "$id's damaged image was not refused by its check"
  grep -q "$id: attempt [0-9] failed (device-error: the whole image was sent but the device polls with version pull-1" \
    "$T/mqotad.log" || fail "mqotad did not retry $id after it refused the image"
done
pass "a piece damaged after TLS caught by the image's SHA-256; the file given again"
list=$(mq --json device list) || fail "device list failed"
# confirmed, or idle again once a later poll found nothing to do
check_json "the registry shows both on pull-2, protocol pull" "$list" \
  '[.[] | select(.protocol == "pull" and .version == "pull-2" and
                 (.state == "confirmed" or .state == "idle"))] | length == 2'

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
