#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Compressed releases on multicast streams (docs/PROTOCOL.md §6.1, §13): with --multicast auto,
# 3 devices that inflate and 2 that do not (--deflate-window 0) take hello_world 2024 in one
# deployment. Devices that take the same form share one stream: the three get deflate-full
# (each chunk decodes alone, in whatever order the stream and the repairs bring it) at the
# stream's chunk size on the form's own topic, mqota/v1/stream/<release>/2; the two get the
# image on mqota/v1/stream/<release>. The streams carry less than two images; every device
# confirms the new version.
#
# usage: test_deflate_stream.sh BUILD FIXTURES
. "$(dirname "$0")/lib.sh" "$1" "$2"
SIZE=124416 VERSION=v1.4.1-2-g0296947-dirty
OLD_PID=""
trap 'rc=$?; stop_pid "$OLD_PID"; cleanup $rc' EXIT

start_mqotad --multicast auto
start_fleet --count 3 --deflate-window 15 --image "$FIX/idf_hello_world_esp32_2023.bin"
fleet_provision --count 2 --prefix old-
# shellcheck disable=SC2046 # fleet_auth prints options without spaces in them
"$FLEET" --broker "$BROKER_URL" --data "$T/fleet-old" --status-interval 2 $(fleet_auth) \
  --count 2 --prefix old- --deflate-window 0 --image "$FIX/idf_hello_world_esp32_2023.bin" \
  >>"$T/fleet-old.log" 2>&1 &
OLD_PID=$!
wait_online 5 60
add_release "$FIX/idf_hello_world_esp32_2024.bin"; rel=$RELEASE_ID
deploy_all "$rel"; dep=$DEPLOYMENT_ID
watch "$dep" 120 || fail "deployment $dep did not finish"
d=$(mq --json deployment show "$dep") || fail "deployment show $dep failed"
check_json "not every device succeeded" "$d" '.succeeded == 5 and (.targets | length) == 5'
check_json "the devices that inflate did not all get deflate-full of one size" "$d" \
  '[.targets[] | select(.device | startswith("vdev-"))] as $z |
   ($z | length) == 3 and all($z[]; .encoding == "deflate-full") and
   ([$z[].wire_size] | unique | length) == 1 and $z[0].wire_size < 124416 and .compressed == 3'
check_json "the devices without the decoder did not get the image" "$d" \
  'all(.targets[] | select(.device | startswith("old-")); .encoding == "none")'
grep -q "stream of release $rel started on mqota/v1/stream/$rel/2:" "$T/mqotad.log" ||
  fail "no stream of the compressed form on mqota/v1/stream/$rel/2"
grep -q "stream of release $rel started on mqota/v1/stream/$rel:" "$T/mqotad.log" ||
  fail "no stream of the image on mqota/v1/stream/$rel"
pass "one stream per form: mqota/v1/stream/$rel/2 (deflate-full) and mqota/v1/stream/$rel (image)"
json_get stream "$d" '.stream_bytes_sent | numbers'
json_get wire "$d" '.targets[] | select(.device == "vdev-0001") | .wire_size | numbers'
[ "$stream" -ge $((wire + SIZE)) ] && [ "$stream" -lt $((2 * SIZE)) ] ||
  fail "the streams carried $stream bytes, not between the form and the image ($((wire + SIZE))) and two images"
pass "streams $stream bytes: the $wire-byte deflate-full form and the $SIZE-byte image"
all=$(mq --json device list) || fail "device list failed"
check_json "not every device runs $VERSION from slot 1" "$all" \
  'length == 5 and all(.[]; .version == $v and .slot == 1)' --arg v "$VERSION"
passed
