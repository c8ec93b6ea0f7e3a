#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The virtual-device process dies (SIGKILL, a power loss of the device mid-write) during a
# transfer and is started again on the same flash files: the device resumes from its persisted
# progress instead of starting over. The bytes re-sent stay within one window per crash.
#
# usage: test_resume_process_kill.sh BUILD FIXTURES [PERCENT...]
#   PERCENT: where the process dies, in percent of the download, in increasing order; one
#   crash per point, each on the download resumed after the one before (default: 45).
. "$(dirname "$0")/lib.sh" "$1" "$2"
shift 2
POINTS=("${@:-45}")
WINDOW=16 CHUNK=4096 SIZE=968768

start_mqotad
start_fleet --count 1 --image "$FIX/idf_hello_world_esp32_2023.bin" --window $WINDOW \
  --crash-at "${POINTS[0]}"
wait_online 1 60
add_release "$FIX/arduino_nerdminer_esp32_v1.6.3.bin" --version v1.6.3; rel=$RELEASE_ID
deploy_all "$rel"; dep=$DEPLOYMENT_ID
n=0
for pct in "${POINTS[@]}"; do
  n=$((n + 1))
  [ "$n" -eq 1 ] || start_fleet --count 1 --window $WINDOW --crash-at "$pct"
  wait_for 120 bash -c "! kill -0 $FLEET_PID" || fail "the fleet did not crash at $pct %"
  wait "$FLEET_PID" 2>/dev/null || true
  [ "$(grep -c "fault: vdev-0001 crashes the fleet" "$T/fleet.log")" -eq "$n" ] ||
    fail "the crash fault at $pct % (crash $n) did not fire"
  d=$(mq --json deployment show "$dep") || fail "deployment show $dep failed"
  json_get progress "$d" '.targets[0].progress | numbers'
  log "fleet killed at $pct %; server had recorded $progress bytes of progress"
done
start_fleet --count 1 --window $WINDOW
watch "$dep" 180 || fail "deployment $dep did not finish after the device process restarted"
d=$(mq --json deployment show "$dep") || fail "deployment show $dep failed"
json_get sent "$d" '.targets[0].bytes_sent | numbers'
json_get resent "$d" '.targets[0].bytes_resent | numbers'
limit=$((n * WINDOW * CHUNK))
pass "$n crash(es) at ${POINTS[*]} %: sent $sent bytes for a $SIZE-byte image, re-sent $resent (one window per crash: $limit)"
[ "$resent" -le "$limit" ] || fail "$resent bytes re-sent after $n restarts: more than one window each"
[ "$sent" -le $((SIZE + limit)) ] || fail "$sent bytes sent: the transfer started over"
mq --json device list | jq -e '.[0].version == "v1.6.3" and .[0].slot == 1' >/dev/null ||
  fail "the device does not run v1.6.3 from slot 1"
passed
