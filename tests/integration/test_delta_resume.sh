#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A delta update (delta-sync, docs/PROTOCOL.md §18) of the NerdMiner ESP32-S3 pair (v1.4 ->
# v1.5.2) to two --chip esp32s3 devices, resumed after a cut link (at 30 %) and after the
# device process is killed (a reset, at 60 %) and started again on its flash files. The
# devices first install v1.4 through mqota (so mqotad knows their base). The delta chunks
# re-sent (mqotad's bytes_resent) stay within one window of the largest wire chunk per
# interruption; the delta (16 KiB chunks) is smaller than bsdiff's 274,801 bytes; the devices
# run v1.5.2 afterwards (rebuilt image checked by SHA-256, structure and chip).
#
# usage: test_delta_resume.sh BUILD FIXTURES
. "$(dirname "$0")/lib.sh" "$1" "$2"
OLD=arduino_nerdminer_esp32s3_v1.4.bin NEW=arduino_nerdminer_esp32s3_v1.5.2.bin
for f in $OLD $NEW; do
  [ -f "$FIX/$f" ] || { echo "SKIP: the fixture image $f is not in '$FIX'"; exit 77; }
done
WINDOW=2 MAXCHUNK=16384 SIZE=1770736 BSDIFF=274801
FLEET_ARGS=(--count 2 --chip esp32s3 --window $WINDOW --max-chunk $MAXCHUNK --deflate-window 15)

start_mqotad --multicast off
start_fleet "${FLEET_ARGS[@]}" --image "$FIX/$OLD"
wait_online 2 60
add_release "$FIX/$OLD" --version v1.4; r1=$RELEASE_ID
deploy_all "$r1"; dep=$DEPLOYMENT_ID
watch "$dep" 240 || fail "deployment $dep of v1.4 through mqota did not finish"
stop_pid "$FLEET_PID"
start_fleet "${FLEET_ARGS[@]}" --cut-at 30 --crash-at 60
wait_online 2 60
add_release "$FIX/$NEW" --version v1.5.2; r2=$RELEASE_ID
deploy_all "$r2"; dep=$DEPLOYMENT_ID
wait_for 120 bash -c "! kill -0 $FLEET_PID" || fail "the fleet did not crash at 60 %"
wait "$FLEET_PID" 2>/dev/null || true
[ "$(grep -c "fault: cutting the link" "$T/fleet.log")" -ge 1 ] ||
  fail "no link was cut before the crash"
grep -q "crashes the fleet" "$T/fleet.log" || fail "the crash fault did not fire"
start_fleet "${FLEET_ARGS[@]}"
watch "$dep" 240 || fail "deployment $dep did not finish after the cut and the reset"
d=$(mq --json deployment show "$dep") || fail "deployment show $dep failed"
check_json "not both devices succeeded" "$d" '.succeeded == 2 and (.targets | length) == 2'
for dev in vdev-0001 vdev-0002; do
  json_get sent "$d" '.targets[] | select(.device == $d) | .bytes_sent | numbers' --arg d "$dev"
  json_get resent "$d" '.targets[] | select(.device == $d) | .bytes_resent | numbers' --arg d "$dev"
  json_get wire "$d" '.targets[] | select(.device == $d) | .wire_size | numbers' --arg d "$dev"
  check_json "$dev was not offered the delta" "$d" \
    '.targets[] | select(.device == $d) | .encoding == "delta-sync"' --arg d "$dev"
  limit=$((2 * WINDOW * MAXCHUNK))
  pass "$dev: delta-sync $wire bytes of $SIZE; sent $sent, re-sent $resent (limit: 2 x $WINDOW x $MAXCHUNK = $limit)"
  [ "$resent" -le "$limit" ] || fail "$dev: $resent bytes re-sent, more than one window per interruption ($limit)"
  [ "$sent" -le $((wire + limit)) ] || fail "$dev: $sent bytes sent: the transfer started over"
  [ "$wire" -le "$BSDIFF" ] || fail "$dev: the delta ($wire bytes) is larger than bsdiff's $BSDIFF"
done
all=$(mq --json device list) || fail "device list failed"
check_json "the devices do not run v1.5.2" "$all" \
  "length == 2 and all(.[]; .version == \"v1.5.2\" and .running_release == $r2)"
passed
