#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# An image with one flipped byte (a bit error in flash that the chunk CRC cannot see) is
# refused before the boot slot changes: the device keeps running its old image, reports
# failure with the reason, and the server records it.
. "$(dirname "$0")/lib.sh" "$1" "$2"

start_mqotad
start_fleet --count 2 --image "$FIX/idf_hello_world_esp32_2023.bin" --flip-byte 50000
wait_online 2 60
add_release "$FIX/idf_hello_world_esp32_2024.bin"; rel=$RELEASE_ID
deploy_all "$rel"; dep=$DEPLOYMENT_ID
rc=0
watch "$dep" 120 || rc=$?
[ "$rc" -eq 1 ] || fail "deployment watch should exit 1 (failures), got $rc"
d=$(mq --json deployment show "$dep") || fail "deployment show $dep failed"
echo "$d" | jq -e '.state == "finished" and .failed == 2 and all(.targets[]; .state == "failed" and .reason == "hash-mismatch")' >/dev/null ||
  fail "server did not record two hash-mismatch failures: $d"
devs=$(mq --json device list) || fail "device list failed"
echo "$devs" | jq -e 'all(.[]; .version == "1" and .slot == 0 and .state == "failed" and .reason == "hash-mismatch")' >/dev/null ||
  fail "devices should still run version 1 from slot 0 and report hash-mismatch: $devs"
# and after a restart they still boot the old image: the boot slot never changed
stop_pid "$FLEET_PID"
start_fleet --count 2
wait_online 2 60
mq --json device list | jq -e 'all(.[]; .version == "1" and .slot == 0)' >/dev/null ||
  fail "after a restart the devices do not boot the old image from slot 0"
pass "a corrupted download failed with hash-mismatch on both devices, which keep booting the old image from slot 0"
passed
