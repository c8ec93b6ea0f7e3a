#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Compressed transfer (docs/PROTOCOL.md §6.1) of the hello_world pair (2023 -> 2024) to two
# devices that inflate (MQOTA_CAP_DEFLATE: --deflate-window 15) and one that does not
# (--deflate-window 0, the fleet's default): the two get deflate-sync, with fewer bytes on the
# wire than the image and the bytes saved in the API; the third gets the image as it is. All
# three run the new image afterwards (its SHA-256 and structure checked on the decoded slot, as
# for a full one).
# The compressed form is built once and cached beside the release (one "compressed" line in
# mqotad's log, its cache file in DIR/releases); a damaged cache file is built again.
#
# usage: test_deflate.sh BUILD FIXTURES
. "$(dirname "$0")/lib.sh" "$1" "$2"
SIZE=124416 VERSION=v1.4.1-2-g0296947-dirty
OLD_PID=""
trap 'rc=$?; stop_pid "$OLD_PID"; cleanup $rc' EXIT

start_mqotad --multicast off
start_fleet --count 2 --deflate-window 15 --image "$FIX/idf_hello_world_esp32_2023.bin"
fleet_provision --count 1 --prefix old-
# shellcheck disable=SC2046 # fleet_auth prints options without spaces in them
"$FLEET" --broker "$BROKER_URL" --data "$T/fleet-old" --status-interval 2 $(fleet_auth) \
  --count 1 --prefix old- --deflate-window 0 --image "$FIX/idf_hello_world_esp32_2023.bin" \
  >>"$T/fleet-old.log" 2>&1 &
OLD_PID=$!
wait_online 3 60
add_release "$FIX/idf_hello_world_esp32_2024.bin"; rel=$RELEASE_ID
deploy_all "$rel"; dep=$DEPLOYMENT_ID
watch "$dep" 120 || fail "deployment $dep did not finish"
d=$(mq --json deployment show "$dep") || fail "deployment show $dep failed"
check_json "not every device succeeded" "$d" '.succeeded == 3 and (.targets | length) == 3'
for dev in vdev-0001 vdev-0002; do
  json_get sent "$d" '.targets[] | select(.device == $d) | .bytes_sent | numbers' --arg d "$dev"
  json_get wire "$d" '.targets[] | select(.device == $d) | .wire_size | numbers' --arg d "$dev"
  check_json "$dev was not offered deflate-sync saving image_size - wire_size" "$d" \
    '.targets[] | select(.device == $d) | .encoding == "deflate-sync" and
     .bytes_saved == (124416 - .wire_size)' --arg d "$dev"
  # within 1.5 % of gzip -9 (62,256 bytes) at the fleet's 4096-byte max_chunk
  [ "$wire" -le 63200 ] || fail "$dev: the compressed form is $wire bytes, over 63,200"
  [ "$sent" -ge "$wire" ] && [ "$sent" -lt "$SIZE" ] ||
    fail "$dev: $sent bytes sent, not between the form's $wire and the image's $SIZE"
  pass "$dev: deflate-sync, $sent bytes on the wire for a $SIZE-byte image (form $wire)"
done
check_json "old-0001 (no MQOTA_CAP_DEFLATE) did not get the image as it is" "$d" \
  '.targets[] | select(.device == "old-0001") | .encoding == "none" and .bytes_saved == 0 and
   .wire_size == 124416 and .bytes_sent >= 124416'
check_json "the deployment does not count two compressed targets and their savings" "$d" \
  '.compressed == 2 and .bytes_saved == ([.targets[].bytes_saved] | add) and .bytes_saved > 120000'
all=$(mq --json device list) || fail "device list failed"
check_json "not every device runs $VERSION from slot 1" "$all" \
  'length == 3 and all(.[]; .version == $v and .slot == 1)' --arg v "$VERSION"
[ "$(grep -c "compressed (deflate-sync" "$T/mqotad.log")" -ge 1 ] ||
  fail "mqotad did not log the compression of release $rel"
[ "$(grep -c "compressed (deflate-sync, window 15, chunks of 4096" "$T/mqotad.log")" -eq 1 ] ||
  fail "the form sent (deflate-sync, window 15, 4096-byte chunks) was built more than once"
ls "$T/server/releases/"*.z1w15c4096 >/dev/null 2>&1 || fail "no cached form in $T/server/releases"
pass "the form was built once and cached in DIR/releases"
# A damaged cache file (its CRC-32) is not used: the next deployment builds the form again.
cache=$(ls "$T/server/releases/"*.z1w15c4096) || fail "no cached form to damage"
printf '\x55' | dd of="$cache" bs=1 seek=100 conv=notrunc status=none || fail "cannot damage $cache"
deploy_all "$rel"
[ "$(grep -c "compressed (deflate-sync, window 15, chunks of 4096" "$T/mqotad.log")" -eq 2 ] ||
  fail "mqotad did not build the form again after its cache file was damaged"
pass "a damaged cache file is built again"
passed
