#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The virtual-device process dies (SIGKILL) mid-transfer and is started again on the same
# flash files: the device resumes from its persisted progress instead of starting over. The
# bytes re-sent stay within one window.
. "$(dirname "$0")/lib.sh" "$1" "$2"
WINDOW=16 CHUNK=4096 SIZE=968768

start_mqotad
start_fleet --count 1 --image "$FIX/idf_hello_world_esp32_2023.bin" --window $WINDOW --crash-at 45
wait_online 1 60
add_release "$FIX/arduino_nerdminer_esp32_v1.6.3.bin" --version v1.6.3; rel=$RELEASE_ID
deploy_all "$rel"; dep=$DEPLOYMENT_ID
# the fleet kills itself at 45 %
wait_for 120 bash -c "! kill -0 $FLEET_PID" || fail "the fleet did not crash at 45 %"
wait "$FLEET_PID" 2>/dev/null || true
grep -q "fault: vdev-0001 crashes the fleet" "$T/fleet.log" || fail "the crash fault did not fire"
d=$(mq --json deployment show "$dep") || fail "deployment show $dep failed"
json_get progress "$d" '.targets[0].progress | numbers'
log "fleet killed; server had recorded $progress bytes of progress"
start_fleet --count 1 --window $WINDOW
watch "$dep" 180 || fail "deployment $dep did not finish after the device process restarted"
d=$(mq --json deployment show "$dep") || fail "deployment show $dep failed"
json_get sent "$d" '.targets[0].bytes_sent | numbers'
json_get resent "$d" '.targets[0].bytes_resent | numbers'
pass "sent $sent bytes for a $SIZE-byte image, re-sent $resent (one window: $((WINDOW * CHUNK)))"
[ "$resent" -le $((WINDOW * CHUNK)) ] || fail "$resent bytes re-sent after the restart: more than one window"
[ "$sent" -le $((SIZE + WINDOW * CHUNK)) ] || fail "$sent bytes sent: the transfer started over"
mq --json device list | jq -e '.[0].version == "v1.6.3" and .[0].slot == 1' >/dev/null ||
  fail "the device does not run v1.6.3 from slot 1"
passed
