#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Delta updates (docs/PROTOCOL.md §18) of hello_world 2023 -> 2024 (ESP32) on three virtual
# devices and the real mqotad and mosquitto. The devices first install 2023 through mqota, so
# mqotad knows what they run. Then:
#  - a corrupted result: mqotad's stored copy of the base has one byte changed, so its delta
#    rebuilds another image on the device; the final SHA-256 check refuses it (hash-mismatch)
#    and the device still runs 2023 from its slot;
#  - with the base repaired and the cached delta removed, 2024 goes to all three: two take the
#    delta (delta-sync, fewer bytes on the wire than gzip -9 of the image) and run 2024; the
#    third is one whose running release mqotad has wrong (its record edited, as after a
#    re-flash by cable): it refuses the delta's base before erasing anything (base-mismatch),
#    mqotad offers it the plain form of the same deployment, and it runs 2024 too.
#
# usage: test_delta.sh BUILD FIXTURES
. "$(dirname "$0")/lib.sh" "$1" "$2"
OLD=idf_hello_world_esp32_2023.bin NEW=idf_hello_world_esp32_2024.bin
OTHER=arduino_nerdminer_esp32_v1.6.3.bin
command -v sqlite3 >/dev/null || fail "sqlite3 is needed (scripts/install-deps)"
FLEET_ARGS=(--count 3 --window 16 --max-chunk 4096 --deflate-window 15)

start_mqotad --multicast off
start_fleet "${FLEET_ARGS[@]}" --image "$FIX/$OLD"
wait_online 3 60
add_release "$FIX/$OLD" --version v2023; r1=$RELEASE_ID
deploy_all "$r1"; dep=$DEPLOYMENT_ID
watch "$dep" 120 || fail "deployment $dep of 2023 through mqota did not finish"
all=$(mq --json device list) || fail "device list failed"
check_json "the devices do not run release $r1 (2023) from slot 1" "$all" \
  "length == 3 and all(.[]; .running_release == $r1 and .slot == 1)"
add_release "$FIX/$NEW" --version v2024; r2=$RELEASE_ID
add_release "$FIX/$OTHER" --version other; r0=$RELEASE_ID

# A corrupted result: the base mqotad makes the delta from is not what the device runs (its
# stored copy changed behind its back, the SHA-256 in its database left as it was).
base="$T/server/releases/$(sha256sum "$FIX/$OLD" | cut -c1-64).bin"
[ -f "$base" ] || fail "the stored image of release $r1 is not at $base"
cp "$base" "$T/base.good"
for off in $(seq 4096 8192 120000); do # a byte in every other 4 KiB of the code
  printf '\x5a' | dd of="$base" bs=1 seek="$off" conv=notrunc status=none
done
out=$(mq --json deploy "$r2" vdev-0001 2>&1) || fail "deploy $r2 vdev-0001 was refused: $out"
json_get dep "$out" '.id | numbers'
rc=0
watch "$dep" 120 || rc=$?
[ "$rc" -eq 1 ] || fail "deployment $dep should fail (watch exit 1), watch said $rc"
d=$(mq --json deployment show "$dep") || fail "deployment show $dep failed"
check_json "the delta from a changed base was not refused by the SHA-256 check" "$d" \
  '.targets[0].encoding == "delta-sync" and .targets[0].state == "failed" and .targets[0].reason == "hash-mismatch"'
dev=$(mq --json device show vdev-0001) || fail "device show vdev-0001 failed"
check_json "vdev-0001 does not run 2023 from slot 1 after the refused result" "$dev" \
  ".running_release == $r1 and .slot == 1 and .version == \"v2023\""
cp "$T/base.good" "$base"
rm -f "$T"/server/deltas/*.mqdl

# A wrong base: mqotad believes vdev-0003 runs another ESP32 release.
sqlite3 -cmd ".timeout 5000" "$T/server/mqota.db" \
  "UPDATE devices SET running_release = $r0 WHERE id = 'vdev-0003'" ||
  fail "could not edit vdev-0003's record in $T/server/mqota.db"
deploy_all "$r2"; dep=$DEPLOYMENT_ID
watch "$dep" 120 || fail "deployment $dep of 2024 did not finish"
d=$(mq --json deployment show "$dep") || fail "deployment show $dep failed"
check_json "not all three succeeded" "$d" '.succeeded == 3 and (.targets | length) == 3'
for dev in vdev-0001 vdev-0002; do
  json_get wire "$d" '.targets[] | select(.device == $d) | .wire_size | numbers' --arg d "$dev"
  json_get sent "$d" '.targets[] | select(.device == $d) | .bytes_sent | numbers' --arg d "$dev"
  check_json "$dev was not sent the delta" "$d" \
    '.targets[] | select(.device == $d) | .encoding == "delta-sync"' --arg d "$dev"
  pass "$dev: delta-sync $wire bytes of 124,416 (gzip -9: 62,256), $sent sent"
  [ "$wire" -lt 62256 ] || fail "$dev: the delta ($wire bytes) is not smaller than gzip -9 of the image"
  [ "$sent" -le $((wire + 16 * 4096)) ] || fail "$dev: $sent bytes sent for a $wire-byte delta"
done
check_json "vdev-0003 was not sent a plain form after refusing the base" "$d" \
  '.targets[] | select(.device == "vdev-0003") | .encoding == "deflate-sync" or .encoding == "none"'
grep -q "vdev-0003 refused the delta from release $r0 (base-mismatch)" "$T/mqotad.log" ||
  fail "mqotad did not log vdev-0003's base-mismatch and the fallback"
pass "vdev-0003 refused the delta's base; mqotad sent the plain form instead"
all=$(mq --json device list) || fail "device list failed"
check_json "the devices do not run 2024" "$all" \
  "length == 3 and all(.[]; .running_release == $r2 and .version == \"v2024\")"
passed
