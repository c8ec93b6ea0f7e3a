#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Multicast streams (docs/PROTOCOL.md §13): a virtual fleet takes one release at the same time.
#  auto: mqotad publishes each chunk about once on the release's stream; every device confirms;
#        stream bytes stay within 1.1 x the image, unicast repairs are reported.
#  off:  the same wave with --multicast off costs about one image per device (>= 0.9 x each).
#  late: some targets are offline at the deploy and come up mid-wave; they catch up from the
#        stream's next cycle and unicast repair, and every device confirms.
#
# usage: test_multicast.sh BUILD FIXTURES [COUNT [PARTS]]
#        COUNT devices per wave (default 50); PARTS a comma list of auto,off,late (default all).
. "$(dirname "$0")/lib.sh" "$1" "$2"
COUNT=${3:-50}
PARTS=${4:-auto,off,late}
FROM=idf_hello_world_esp32_2023.bin
TO=arduino_nerdminer_esp32_v1.6.3.bin
VER=v1.6.3
LATE_PID=""
trap 'rc=$?; stop_pid "$LATE_PID"; cleanup $rc' EXIT

has_part() { [[ ",$PARTS," == *",$1,"* ]]; }
# PARTS names only known scenarios, and at least one: a mistyped name must not pass by
# running nothing.
for p in ${PARTS//,/ }; do
  case $p in auto|off|late) ;; *) fail "PARTS '$PARTS': unknown part '$p' (known: auto, off, late)" ;; esac
done
has_part auto || has_part off || has_part late || fail "PARTS '$PARTS' selects no scenario (known: auto, off, late)"
[[ $COUNT =~ ^[1-9][0-9]*$ ]] || fail "COUNT '$COUNT' is not a positive number of devices"
now_ms() { date +%s%3N; }

# Stop everything of one scenario and start the next from empty directories.
reset_world() {
  stop_pid "$LATE_PID"; LATE_PID=""
  stop_pid "$FLEET_PID"; FLEET_PID=""
  stop_pid "$MQOTAD_PID"; MQOTAD_PID=""
  for f in "$T"/*.log; do [ -f "$f" ] && mv "$f" "$f.$1"; done
  rm -rf "$T/server" "$T/fleet" "$T/fleet-late"
}

# check_wave DEP N: every one of N targets succeeded; sets STREAM, UNICAST, SIZE.
check_wave() {
  local dep=$1 n=$2 d
  d=$(mq --json deployment show "$dep") || fail "deployment show $dep failed"
  check_json "deployment $dep: not $n successes" "$d" \
    '.state == "finished" and .succeeded == $c and .failed == 0' --argjson c "$n"
  json_get STREAM "$d" '.stream_bytes_sent | numbers'
  json_get UNICAST "$d" '.unicast_bytes_sent | numbers'
  json_get SIZE "$d" '.image_size | numbers'
  check_json "unicast_bytes_sent $UNICAST is not the targets' sum" "$d" \
    '[.targets[].bytes_sent] | add == $u' --argjson u "$UNICAST"
}

# wave MODE: COUNT devices take the release with mqotad --multicast MODE.
wave() {
  local mode=$1 rel dep t0 ms
  start_mqotad --multicast "$mode" ${MQOTAD_EXTRA_ARGS:-}
  start_fleet --count "$COUNT" --image "$FIX/$FROM"
  wait_online "$COUNT" 120
  add_release "$FIX/$TO" --version "$VER"; rel=$RELEASE_ID
  t0=$(now_ms)
  deploy_all "$rel"; dep=$DEPLOYMENT_ID
  watch "$dep" 240 || fail "multicast $mode: deployment $dep did not finish (see watch.log)"
  ms=$(( $(now_ms) - t0 ))
  check_wave "$dep" "$COUNT"
  check "a stream outlived its deployment" sh -c "$MQOTA --server $HTTP_URL --json status | jq -e '.streams == 0'"
  log "multicast $mode, $COUNT devices: all confirmed ${ms} ms after the deploy;" \
      "stream $STREAM bytes ($(echo "scale=3; $STREAM / $SIZE" | bc) x image $SIZE)," \
      "unicast $UNICAST bytes ($(echo "scale=3; $UNICAST / $SIZE" | bc) x image)"
}

if has_part auto; then
  wave auto
  # 110 * stream <= 100 * 1.1 * size, in integers
  [ $((STREAM * 10)) -le $((SIZE * 11)) ] ||
    fail "stream bytes $STREAM exceed 1.1 x the image ($SIZE)"
  [ "$STREAM" -ge "$SIZE" ] || fail "stream bytes $STREAM are less than one image ($SIZE)"
  pass "multicast auto: stream within 1.1 x the image; unicast repairs $UNICAST bytes"
  reset_world auto
fi

if has_part off; then
  wave off
  [ "$STREAM" -eq 0 ] || fail "--multicast off published $STREAM bytes on a stream"
  [ "$UNICAST" -ge $((SIZE * COUNT * 9 / 10)) ] ||
    fail "--multicast off sent $UNICAST unicast bytes, less than 0.9 x $COUNT images"
  pass "multicast off: no stream bytes, about one image per device"
  reset_world off
fi

if has_part late; then
  # 5 of 25 devices are known but offline at the deploy; they come up 2 s into the wave. On
  # emulated LTE links (1 Mbit/s down) the wave takes about 10 s, so they join mid-stream.
  EARLY=20 LATE=5
  start_mqotad --multicast auto
  fleet_provision --count "$LATE" --prefix late-
  "$FLEET" --broker "$BROKER_URL" --data "$T/fleet-late" --status-interval 2 --count "$LATE" \
    $(fleet_auth) --prefix late- --image "$FIX/$FROM" >>"$T/fleet-late.log" 2>&1 &
  LATE_PID=$!
  wait_online "$LATE" 60
  stop_pid "$LATE_PID"; LATE_PID=""
  wait_for 20 sh -c "$MQOTA --server $HTTP_URL --json device list |
    jq -e '[.[] | select(.online == true)] | length == 0'" || fail "late devices still online"
  start_fleet --count "$EARLY" --image "$FIX/$FROM" --link lte
  wait_online "$EARLY" 60
  add_release "$FIX/$TO" --version "$VER"; rel=$RELEASE_ID
  t0=$(now_ms)
  deploy_all "$rel"; dep=$DEPLOYMENT_ID
  sleep 2
  fleet_provision --count "$LATE" --prefix late-
  "$FLEET" --broker "$BROKER_URL" --data "$T/fleet-late" --status-interval 2 --count "$LATE" \
    $(fleet_auth) --prefix late- --link lte >>"$T/fleet-late.log" 2>&1 &
  LATE_PID=$!
  log "late fleet started (pid $LATE_PID) 2 s after deployment $dep"
  watch "$dep" 240 || fail "late joiners: deployment $dep did not finish (see watch.log)"
  ms=$(( $(now_ms) - t0 ))
  check_wave "$dep" $((EARLY + LATE))
  pass "late joiners, $EARLY + $LATE devices: all confirmed ${ms} ms after the deploy;" \
      "stream $STREAM bytes ($(echo "scale=3; $STREAM / $SIZE" | bc) x image)," \
      "unicast $UNICAST bytes ($(echo "scale=3; $UNICAST / $SIZE" | bc) x image)"
  reset_world late
fi
passed
