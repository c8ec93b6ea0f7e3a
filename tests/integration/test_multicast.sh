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
  d=$(mq --json deployment show "$dep")
  echo "$d" | jq -e --argjson c "$n" '.state == "finished" and .succeeded == $c and .failed == 0' \
    >/dev/null || fail "deployment $dep: not $n successes: $(echo "$d" | jq -c 'del(.targets)')"
  STREAM=$(echo "$d" | jq .stream_bytes_sent)
  UNICAST=$(echo "$d" | jq .unicast_bytes_sent)
  SIZE=$(echo "$d" | jq .image_size)
  local sum
  sum=$(echo "$d" | jq '[.targets[].bytes_sent] | add')
  [ "$sum" -eq "$UNICAST" ] || fail "unicast_bytes_sent $UNICAST is not the targets' sum $sum"
}

# wave MODE: COUNT devices take the release with mqotad --multicast MODE.
wave() {
  local mode=$1 rel dep t0 ms
  start_mqotad --multicast "$mode" ${MQOTAD_EXTRA_ARGS:-}
  start_fleet --count "$COUNT" --image "$FIX/$FROM"
  wait_online "$COUNT" 120
  rel=$(add_release "$FIX/$TO" --version "$VER")
  t0=$(now_ms)
  dep=$(deploy_all "$rel")
  watch "$dep" 240 || fail "multicast $mode: deployment $dep did not finish (see watch.log)"
  ms=$(( $(now_ms) - t0 ))
  check_wave "$dep" "$COUNT"
  mq --json status | jq -e '.streams == 0' >/dev/null || fail "a stream outlived its deployment"
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
  log "unicast repairs with the stream: $UNICAST bytes"
  reset_world auto
fi

if has_part off; then
  wave off
  [ "$STREAM" -eq 0 ] || fail "--multicast off published $STREAM bytes on a stream"
  [ "$UNICAST" -ge $((SIZE * COUNT * 9 / 10)) ] ||
    fail "--multicast off sent $UNICAST unicast bytes, less than 0.9 x $COUNT images"
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
  wait_for 20 bash -c "[ \"\$($MQOTA --server $HTTP_URL --json device list |
    jq '[.[] | select(.online)] | length')\" -eq 0 ]" || fail "late devices still online"
  start_fleet --count "$EARLY" --image "$FIX/$FROM" --link lte
  wait_online "$EARLY" 60
  rel=$(add_release "$FIX/$TO" --version "$VER")
  t0=$(now_ms)
  dep=$(deploy_all "$rel")
  sleep 2
  fleet_provision --count "$LATE" --prefix late-
  "$FLEET" --broker "$BROKER_URL" --data "$T/fleet-late" --status-interval 2 --count "$LATE" \
    $(fleet_auth) --prefix late- --link lte >>"$T/fleet-late.log" 2>&1 &
  LATE_PID=$!
  log "late fleet started (pid $LATE_PID) 2 s after deployment $dep"
  watch "$dep" 240 || fail "late joiners: deployment $dep did not finish (see watch.log)"
  ms=$(( $(now_ms) - t0 ))
  check_wave "$dep" $((EARLY + LATE))
  log "late joiners, $EARLY + $LATE devices: all confirmed ${ms} ms after the deploy;" \
      "stream $STREAM bytes ($(echo "scale=3; $STREAM / $SIZE" | bc) x image)," \
      "unicast $UNICAST bytes ($(echo "scale=3; $UNICAST / $SIZE" | bc) x image)"
  reset_world late
fi
passed
