#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Device health and the rollouts' health gate (issue 11 item 3; docs/PROTOCOL.md §16,
# docs/ROLLOUTS.md "Health gate") on a real mqotad and a virtual fleet of four ESP32 devices
# on hello_world 2023, all in group "lab", taking hello_world 2024 with a canary of 1 and a
# wave of 100 %, through POST /api/v1/rollouts with "health".
# MODE (third argument):
#   crash-loop  the new image confirms, then panics 2 s after every connection (fleet
#               --crash-loop): the canary's health shows reset reason panic with its crash text
#               and a rising boot count (GET /devices/{id}, /devices/{id}/health, 'device show');
#               more than 2 panics within 120 s of its confirm fail it ("health-failed" in the
#               history), the rollout pauses, and no device beyond the canary is offered the
#               release.
#   healthy     the same plan, no fault, "within_s" 6: the canary is watched for 6 s after its
#               confirm before wave 1 starts (the wave-succeeded event comes no sooner), the
#               rollout finishes, and every device reports reset reason software (the update's
#               restart) with no crash.
MODE=${3:-crash-loop}
NEWVER=v1.4.1-2-g0296947-dirty
COUNT=4
case $MODE in
  crash-loop) FAULT=(--crash-loop "$NEWVER" --crash-every 2); WITHIN=120 ;;
  healthy) FAULT=(); WITHIN=6 ;;
  *) echo "usage: test_health.sh BUILD_DIR FIXTURES_DIR [crash-loop|healthy]" >&2
     exit 2 ;;
esac
. "$(dirname "$0")/lib.sh" "$1" "$2"

rollout_is() { mq --json rollout show "$1" | jq -e "$2"; }
api_get() { curl -sf -H "$API_AUTH" "$HTTP_URL/api/v1/$1"; }
# health_is ID FILTER [JQ_ARGS...]: jq -e FILTER holds on GET /devices/ID/health.
health_is() { local id=$1 f=$2; shift 2; api_get "devices/$id/health" | jq -e "$@" "$f"; }

start_mqotad
start_fleet --count $COUNT --image "$FIX/idf_hello_world_esp32_2023.bin" \
  ${FAULT[@]+"${FAULT[@]}"}
wait_online $COUNT 60
mq group create lab >/dev/null || fail "group create lab failed"
# shellcheck disable=SC2046 # the ids have no spaces
mq group add lab $(fleet_ids --count $COUNT) >/dev/null || fail "group add failed"
add_release "$FIX/idf_hello_world_esp32_2024.bin"; rel=$RELEASE_ID

# Before any update: every device reported its health once it connected: a new virtual device
# was powered on.
wait_for 20 health_is vdev-0004 '.health.reset_reason == "power-on"' ||
  fail "vdev-0004 reported no power-on health: $(api_get devices/vdev-0004/health)"
out=$(api_get devices/vdev-0001) || fail "GET /devices/vdev-0001 failed"
check_json "a new device: health power-on, no crash, one reset recorded" "$out" \
  '.health.reset_reason == "power-on" and .health.crash == "" and .health.crash_reset == false
   and .health.resets == 1 and .health.reconnects == 0 and .health.rssi == null'

body=$(jq -nc --argjson r "$rel" --argjson w "$WITHIN" '{release: $r, filter: "group=lab",
  canary: 1, waves: ["100%"], deadline_s: 120, health: {crashes: 2, within_s: $w}}')
out=$(curl -s -H "$API_AUTH" -H 'Content-Type: application/json' -d "$body" \
  "$HTTP_URL/api/v1/rollouts") || fail "POST /rollouts failed"
json_get RID "$out" '.id | numbers'
check_json "the plan keeps its health gate" "$out" \
  '.plan.health == {crashes: 2, within_s: $w}' --argjson w "$WITHIN"

case $MODE in
crash-loop)
  wait_for 150 rollout_is "$RID" '.state == "paused"' ||
    fail "the rollout did not pause on the crash-looping canary: $(mq --json rollout show "$RID")"
  sleep 3 # three more ticks: nothing else may start
  R=$(mq --json rollout show "$RID") || fail "rollout show failed"
  check_json "canary failed by the health gate, wave 1 never started" "$R" \
    '.waves[0].state == "failed" and .waves[1].state == "waiting" and
     .waves[1].deployment == null and .current_wave == 0'
  check_json "history: the canary counted as failed by its crashes, rollout paused" "$R" \
    '[.events[].kind] == ["created", "health-gate", "wave-started", "health-failed",
                          "wave-failed"] and
     (.events[3].message | test("^device vdev-0001 confirmed the release, then reset [3-9] times by panic or watchdog within 120 s \\(health gate: more than 2\\): counted as failed$")) and
     (.events[4].message | test("^canary failed: 1 of 1 failed"))'
  deps=$(mq --json deployment list) || fail "deployment list failed"
  check_json "one deployment of the release, to the canary alone, which confirmed" "$deps" \
    '[.[] | select(.release == $r)] | length == 1' --argjson r "$rel"
  json_get DEP "$deps" '[.[] | select(.release == $r)][0].id' --argjson r "$rel"
  out=$(mq --json deployment show "$DEP") || fail "deployment show failed"
  check_json "the canary's target succeeded (it confirmed before crashing)" "$out" \
    '[.targets[] | {device, state}] == [{device: "vdev-0001", state: "succeeded"}]'
  devs=$(mq --json device list) || fail "device list failed"
  check_json "the three others stay on version 1 with no target" "$devs" \
    '[.[] | select(.id != "vdev-0001") | select(.version == "1" and .target_release == 0)]
     | length == 3'
  H=$(api_get devices/vdev-0001/health) || fail "GET /devices/vdev-0001/health failed"
  check_json "the canary's health: panic, its crash text, rising boot count" "$H" \
    '.health.reset_reason == "panic" and .health.crash_reset == true and
     .health.crash == "LoadProhibited (mqota-fleet --crash-loop)" and
     ([.resets[] | select(.reason == "panic")] | length >= 3) and
     ([.resets[].boot_count] as $b | [range(1; $b | length) | $b[. - 1] > $b[.]] | all) and
     .resets[-1].reason == "power-on" and .resets_max == 100'
  json_get B1 "$H" '.health.boot_count | numbers'
  wait_for 20 health_is vdev-0001 '.health.boot_count > ($b | tonumber)' --arg b "$B1" ||
    fail "the canary's boot count did not rise past $B1: $(api_get devices/vdev-0001/health)"
  pass "the canary's boot count keeps rising past $B1 (it still crash-loops)"
  out=$(api_get devices/vdev-0001) || fail "GET /devices/vdev-0001 failed"
  check_json "GET /devices/{id} carries the health" "$out" \
    '.health.reset_reason == "panic" and .health.boot_count > 1'
  out=$(mq device show vdev-0001) || fail "device show failed"
  check "device show prints the last reset and crash" \
    grep -q '^  last reset        panic, last crash: LoadProhibited (mqota-fleet --crash-loop)$' \
    <<<"$out"
  ;;
healthy)
  wait_for 150 rollout_is "$RID" '.state == "finished"' ||
    fail "the rollout did not finish: $(mq --json rollout show "$RID")"
  R=$(mq --json rollout show "$RID") || fail "rollout show failed"
  check_json "history in order, no device failed" "$R" \
    '[.events[].kind] == ["created", "health-gate", "wave-started", "wave-succeeded",
                          "wave-started", "wave-succeeded", "finished"]'
  json_get DEP "$R" '.waves[0].deployment | numbers'
  out=$(mq --json deployment show "$DEP") || fail "deployment show failed"
  json_get CONFIRMED "$out" '.targets[0].finished_at | numbers'
  check_json "the canary's wave succeeded only after its 6 s of watching" "$R" \
    '.events[3].at >= ($c + 6)' --argjson c "$CONFIRMED"
  wait_for 30 health_is vdev-0004 '.health.reset_reason == "software"' ||
    fail "vdev-0004 reported no software reset: $(api_get devices/vdev-0004/health)"
  for id in $(fleet_ids --count $COUNT); do
    H=$(api_get "devices/$id/health") || fail "GET /devices/$id/health failed"
    check_json "$id: restarted by the update (software), no crash" "$H" \
      '.health.reset_reason == "software" and .health.crash == "" and
       [.resets[].reason] == ["software", "power-on"]'
  done
  ;;
esac
passed
