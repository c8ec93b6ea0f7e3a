#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A device whose connection is cut mid-transfer (twice) reconnects, resumes and finishes; the
# chunk bytes the server re-sent stay within one window per cut.
. "$(dirname "$0")/lib.sh" "$1" "$2"
WINDOW=16 CHUNK=4096

start_mqotad
start_fleet --count 2 --image "$FIX/idf_hello_world_esp32_2023.bin" --window $WINDOW \
  --cut-at 30 --cut-at 70
wait_online 2 60
add_release "$FIX/arduino_nerdminer_esp32_v1.6.3.bin" --version v1.6.3; rel=$RELEASE_ID
deploy_all "$rel"; dep=$DEPLOYMENT_ID
watch "$dep" 180 || fail "deployment $dep did not finish after link cuts"
grep -c "fault: cutting the link" "$T/fleet.log" | grep -qx 4 || fail "expected 4 link cuts in fleet.log"
d=$(mq --json deployment show "$dep") || fail "deployment show $dep failed"
check_json "not every device succeeded" "$d" '.succeeded == 2 and (.targets | length) == 2'
limit=$((2 * WINDOW * CHUNK))
for dev in $(echo "$d" | jq -r '.targets[].device'); do
  json_get resent "$d" '.targets[] | select(.device == $d) | .bytes_resent | numbers' --arg d "$dev"
  json_get sent "$d" '.targets[] | select(.device == $d) | .bytes_sent | numbers' --arg d "$dev"
  pass "$dev: sent $sent bytes for a 968768-byte image, re-sent $resent (limit: 2 cuts x $WINDOW x $CHUNK = $limit)"
  [ "$resent" -le "$limit" ] || fail "$dev: $resent bytes re-sent after 2 cuts, more than one window per cut ($limit)"
done
mq --json device list | jq -e 'all(.[]; .version == "v1.6.3" and .slot == 1)' >/dev/null ||
  fail "devices do not all run v1.6.3 from slot 1"
passed
