#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A compressed release on a multicast stream (docs/PROTOCOL.md §6.1, §13.1): 4 devices that
# inflate take hello_world 2024 with --multicast auto; every member gets the same form,
# deflate-full (each chunk decodes alone, in whatever order the stream and the repairs bring
# it), at the stream's chunk size; the stream carries fewer bytes than the image and every
# device confirms the new version.
#
# usage: test_deflate_stream.sh BUILD FIXTURES
. "$(dirname "$0")/lib.sh" "$1" "$2"
COUNT=4 SIZE=124416 VERSION=v1.4.1-2-g0296947-dirty

start_mqotad --multicast auto
start_fleet --count $COUNT --deflate-window 15 --image "$FIX/idf_hello_world_esp32_2023.bin"
wait_online $COUNT 60
add_release "$FIX/idf_hello_world_esp32_2024.bin"; rel=$RELEASE_ID
deploy_all "$rel"; dep=$DEPLOYMENT_ID
watch "$dep" 120 || fail "deployment $dep did not finish"
d=$(mq --json deployment show "$dep") || fail "deployment show $dep failed"
check_json "not every device succeeded" "$d" '.succeeded == 4 and (.targets | length) == 4'
check_json "the members did not all get deflate-full of one size" "$d" \
  'all(.targets[]; .encoding == "deflate-full") and ([.targets[].wire_size] | unique | length) == 1 and
   .targets[0].wire_size < 124416 and .compressed == 4'
json_get stream "$d" '.stream_bytes_sent | numbers'
json_get wire "$d" '.targets[0].wire_size | numbers'
[ "$stream" -gt 0 ] && [ "$stream" -lt "$SIZE" ] ||
  fail "the stream carried $stream bytes, not between 0 and the image's $SIZE"
pass "stream $stream bytes for the $wire-byte deflate-full form of a $SIZE-byte image"
grep -q 'stream' "$T/mqotad.log" || fail "mqotad logged no stream"
all=$(mq --json device list) || fail "device list failed"
check_json "not every device runs $VERSION from slot 1" "$all" \
  'length == 4 and all(.[]; .version == $v and .slot == 1)' --arg v "$VERSION"
passed
