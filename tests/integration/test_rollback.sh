#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Self-test rollback end to end: 3 devices on hello_world 2023 take hello_world 2024, verify
# it, reboot into slot 1, and the new image fails its self-test (fleet --fail-self-test); the
# bootloader rolls back to slot 0. Every device ends running version "1" from slot 0 again,
# reports rolled-back (self-test); the server records every target failed (self-test) and
# 'mqota deployment watch' exits 1.
#
# Not covered: "the device resets before confirming" — mqota-fleet has no fault option for a
# reset between the reboot into the new slot and the confirm (--crash-at only fires during
# the download); test_agent covers that case with the platform faked in RAM.
. "$(dirname "$0")/lib.sh" "$1" "$2"
COUNT=3
NEWVER=v1.4.1-2-g0296947-dirty

start_mqotad
start_fleet --count $COUNT --image "$FIX/idf_hello_world_esp32_2023.bin" --fail-self-test "$NEWVER"
wait_online $COUNT 60
before=$(mq --json device list)
echo "$before" | jq -e --argjson c $COUNT \
  'length == $c and all(.[]; .slot == 0 and .state == "idle" and .version == "1")' >/dev/null ||
  fail "devices do not all start idle on slot 0 running version 1: $before"

rel=$(add_release "$FIX/idf_hello_world_esp32_2024.bin")
dep=$(deploy_all "$rel")
log "release $rel deployed as deployment $dep to $COUNT devices (self-test of $NEWVER fails)"
rc=0
watch "$dep" 120 || rc=$?
[ "$rc" -eq 1 ] || fail "deployment watch exited $rc, expected 1 (every target failed)"
log "deployment watch exited 1 as expected"

d=$(mq --json deployment show "$dep")
echo "$d" | jq -e --argjson c $COUNT \
  '.succeeded == 0 and .failed == $c and (.targets | length) == $c and
   all(.targets[]; .state == "failed" and .reason == "self-test")' >/dev/null ||
  fail "server did not record $COUNT targets failed with reason self-test: $d"

# The device states arrive on their own; give the last status a few seconds to land.
rolled_back() {
  mq --json device list | jq -e --argjson c $COUNT \
    '[.[] | select(.version == "1" and .slot == 0 and .state == "rolled-back" and
                   .reason == "self-test")] | length == $c'
}
wait_for 20 rolled_back || fail "devices are not all rolled back to version 1 on slot 0 (self-test): $(mq --json device list)"
mq device list
grep -q "self-test" "$T/fleet.log" || fail "fleet.log does not mention the failed self-test"
passed
