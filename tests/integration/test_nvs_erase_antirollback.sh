#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Erasing NVS does not reset anti-rollback (docs/SECURITY.md §4): the minimum secure_version is
# in the virtual ESP32's eFuse file, as on a chip with CONFIG_BOOTLOADER_APP_ANTI_ROLLBACK.
# 1 device (esp32) on hello_world 2023 (secure_version 0) takes a 2024 variant with
# secure_version 3 and confirms it; its eFuse file now says 3. The fleet restarts with
# --erase-nvs (esptool.py erase_region): the agent's records are gone, yet a release with
# secure_version 2 is refused with reason security-version and the device keeps the
# secure_version 3 image; a release at secure_version 3 is still taken.
. "$(dirname "$0")/lib.sh" "$1" "$2"
ID=vdev-0001
VARIANT="$BUILD/tests/tools/mqota-image-variant"
BASE="$FIX/idf_hello_world_esp32_2024.bin"
FLEET_ARGS=(--count 1 --image "$FIX/idf_hello_world_esp32_2023.bin")
[ -x "$VARIANT" ] || fail "$VARIANT is not built"
for sv in 3 2; do
  "$VARIANT" --version "sv-$sv" --secure-version "$sv" "$BASE" "$T/sv-$sv.bin" >>"$T/variant.log" 2>&1 ||
    fail "mqota-image-variant could not make the secure_version $sv variant: $(cat "$T/variant.log")"
done
"$VARIANT" --version "sv-3b" --secure-version 3 "$FIX/idf_hello_world_esp32_2023.bin" "$T/sv-3b.bin" \
  >>"$T/variant.log" 2>&1 || fail "mqota-image-variant could not make sv-3b: $(cat "$T/variant.log")"

start_mqotad
start_fleet "${FLEET_ARGS[@]}"
wait_online 1 60
add_release "$T/sv-3.bin"
deploy_all "$RELEASE_ID"
rc=0
watch "$DEPLOYMENT_ID" 120 || rc=$?
[ "$rc" -eq 0 ] || fail "the secure_version 3 release did not confirm (watch exited $rc)"
mq --json device show "$ID" | jq -e '.version == "sv-3" and .state == "confirmed"' >/dev/null ||
  fail "$ID is not confirmed on sv-3: $(mq --json device show "$ID")"
pass "$ID confirmed the secure_version 3 release"

stop_pid "$FLEET_PID"
FLEET_PID=""
start_fleet "${FLEET_ARGS[@]}" --erase-nvs "$ID"
wait_online 1 60
grep -q "$ID: NVS partition 'nvs' .* was erased: initialised it" "$T/fleet.log" ||
  fail "the fleet did not erase and re-initialise the NVS of $ID"
pass "$ID is back with its NVS erased"

add_release "$T/sv-2.bin"
deploy_all "$RELEASE_ID"
dep=$DEPLOYMENT_ID
rc=0
watch "$dep" 60 || rc=$?
[ "$rc" -eq 1 ] || fail "deployment watch of the secure_version 2 release should exit 1 (failed), got $rc"
mq --json deployment show "$dep" |
  jq -e '.failed == 1 and all(.targets[]; .state == "failed" and .reason == "security-version")' >/dev/null ||
  fail "the server did not record a security-version failure: $(mq --json deployment show "$dep")"
mq --json device show "$ID" | jq -e '.version == "sv-3" and .slot == 1' >/dev/null ||
  fail "$ID does not still run sv-3 from slot 1: $(mq --json device show "$ID")"
pass "after the NVS erase, the secure_version 2 release was refused (security-version); sv-3 still runs"

add_release "$T/sv-3b.bin"
deploy_all "$RELEASE_ID"
rc=0
watch "$DEPLOYMENT_ID" 120 || rc=$?
[ "$rc" -eq 0 ] || fail "a release at the minimum (secure_version 3) was not taken (watch exited $rc)"
mq --json device show "$ID" | jq -e '.version == "sv-3b" and .state == "confirmed"' >/dev/null ||
  fail "$ID is not confirmed on sv-3b: $(mq --json device show "$ID")"
pass "a release at secure_version 3 is still taken"
passed
