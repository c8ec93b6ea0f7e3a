#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# An erased NVS partition does not brick a virtual ESP32 (issue 9, item 9), and a target whose
# device is offline says so.
# 3 devices (esp32) on hello_world 2023 come online; the fleet stops (each device's online topic says
# offline) and a deployment of hello_world 2024 is made: while the devices are away,
# 'mqota deployment show' and the API say each target's device is offline. The fleet restarts
# with --erase-nvs vdev-0002 (as esptool.py erase_region would): the fleet logs one sentence
# about the re-initialised NVS, vdev-0002 comes back online with the same chip (it is in its
# eFuse file, not in NVS), and every target, vdev-0002's included, takes the update.
. "$(dirname "$0")/lib.sh" "$1" "$2"
COUNT=3
ERASED=vdev-0002
NEWVER=v1.4.1-2-g0296947-dirty
FLEET_ARGS=(--count $COUNT --image "$FIX/idf_hello_world_esp32_2023.bin")

start_mqotad
start_fleet "${FLEET_ARGS[@]}"
wait_online $COUNT 60
mq --json device show "$ERASED" >"$T/before.json" || fail "device show $ERASED failed"
jq -e '.chip_id == 0 and .version == "1" and .slot == 0' "$T/before.json" >/dev/null ||
  fail "$ERASED did not start as an esp32 running version 1 on slot 0: $(cat "$T/before.json")"
[ -f "$T/fleet/$ERASED.flash.efuse" ] || fail "the fleet made no eFuse file for $ERASED"

# The devices go away: the fleet stops and each device's online topic says offline.
stop_pid "$FLEET_PID"
FLEET_PID=""
none_online() { [ "$(online_count)" -eq 0 ]; }
wait_for 20 none_online || fail "devices still online 20 s after the fleet stopped"
pass "fleet stopped; every device offline"

add_release "$FIX/idf_hello_world_esp32_2024.bin"
rel=$RELEASE_ID
deploy_all "$rel"
dep=$DEPLOYMENT_ID
log "release $rel deployed as deployment $dep while the devices are offline"
mq --json deployment show "$dep" >"$T/offline.json" || fail "deployment show --json $dep failed"
jq -e --argjson c $COUNT '(.targets | length) == $c and
    all(.targets[]; (.state == "pending" or .state == "active") and .online == false)' \
  "$T/offline.json" >/dev/null ||
  fail "the API does not say every waiting target's device is offline: $(cat "$T/offline.json")"
mq deployment show "$dep" >"$T/offline.txt" || fail "deployment show $dep failed"
n=$(grep -cE "^ *vdev-000[1-3] +(pending|active) \(device offline\)" "$T/offline.txt" || true)
[ "$n" -eq $COUNT ] ||
  fail "deployment show names $n of $COUNT targets '(device offline)': $(cat "$T/offline.txt")"
pass "deployment show while the devices are away:"
cat "$T/offline.txt"
rc=0
mq deployment watch "$dep" --timeout 2 >"$T/offline-watch.txt" 2>&1 || rc=$?
[ "$rc" -ne 0 ] || fail "deployment watch ended 0 while every device was away"
n=$(grep -cE "vdev-000[1-3]: (pending|active) \(device offline\)" "$T/offline-watch.txt" || true)
[ "$n" -eq $COUNT ] ||
  fail "deployment watch names $n of $COUNT targets '(device offline)': $(cat "$T/offline-watch.txt")"
pass "deployment watch says (device offline) for every waiting target"

# NVS erased, the fleet back: one sentence, same chip, the update taken. --chip names the chip
# of devices created now; these exist, and their chip is what their eFuse file says.
start_fleet "${FLEET_ARGS[@]}" --chip esp32s3 --erase-nvs "$ERASED"
wait_online $COUNT 60
grep -q "$ERASED: NVS partition 'nvs' (0x9000, 16384 bytes) of flash file '.*$ERASED.flash' was erased: initialised it; the agent's records are gone and it starts fresh" \
  "$T/fleet.log" || fail "the fleet did not log the re-initialised NVS of $ERASED"
n=$(grep -c "was erased: initialised it" "$T/fleet.log" || true)
[ "$n" -eq 1 ] || fail "$n NVS sentences in the fleet log, expected one (only $ERASED was erased)"
rc=0
watch "$dep" 120 || rc=$?
[ "$rc" -eq 0 ] || fail "deployment watch exited $rc; expected every target to succeed"
mq --json device list >"$T/after.json" || fail "device list failed"
jq -e --argjson c $COUNT --arg v "$NEWVER" \
  'length == $c and all(.[]; .chip_id == 0 and .version == $v and .slot == 1 and
                             .state == "confirmed" and .online == true)' "$T/after.json" >/dev/null ||
  fail "not every device (the erased one included) is an esp32 confirmed on $NEWVER: $(cat "$T/after.json")"
mq --json deployment show "$dep" | jq -e --argjson c $COUNT \
  '.succeeded == $c and all(.targets[]; .online == true)' >/dev/null ||
  fail "deployment $dep did not record $COUNT targets succeeded with their devices online"
pass "$ERASED came back after its NVS was erased, same chip, and took release $rel"
passed
