#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Download now, activate later (docs/PROTOCOL.md §5.2) and maintenance windows
# (docs/ROLLOUTS.md "Maintenance window") on a real mqotad and a virtual fleet of ESP32 devices
# on hello_world 2023 taking hello_world 2024. MODE (third argument):
#   deploy        'mqota deploy --hold': every device downloads and verifies the release and
#                 holds it (device state held, target ready) without rebooting: same boot
#                 count, still on version 1. The fleet killed (SIGKILL) and started again on the
#                 same flash: the devices come back held with nothing downloaded again.
#                 'deployment activate' of one device: it alone confirms; of the rest: all
#                 confirm and the deployment finishes. Refusals: a device not in the
#                 deployment (404), a finished deployment (409), a bad "activate" (400), each
#                 with its sentence.
#   window        a rollout with a maintenance window that is closed when it starts (the
#                 schedule clock, MQOTA_TEST_CLOCK_FILE, at 01:00 UTC; window 02:00-03:00): the
#                 canary downloads and holds the release, and stays held for three more ticks
#                 with nothing else started; the clock moved to 02:30, the canary is activated
#                 and confirms, wave 1 downloads and is activated at once (the window is open)
#                 and the rollout finishes; the history names each activation and its window.
#   window-paced  the same window with a paced rollout (--max-transfers 2): each paced offer's
#                 deployment holds too, so the canary holds the release unrebooted while the
#                 window is closed; the window opened, every device confirms.
#   bad-windows   every bad window is refused with its one sentence (API and CLI), nothing is
#                 created.
MODE=${3:-deploy}
NEWVER=v1.4.1-2-g0296947-dirty
COUNT=3
case $MODE in
  deploy|window|window-paced|bad-windows) ;;
  *) echo "usage: test_hold.sh BUILD_DIR FIXTURES_DIR [deploy|window|window-paced|bad-windows]" >&2
     exit 2 ;;
esac
. "$(dirname "$0")/lib.sh" "$1" "$2"

# The schedule clock's offset (clock.h): a whole number of seconds in this file, read by
# mqotad whenever it changes. at_utc HH MM sets it so that mqotad's clock reads HH:MM UTC now.
CLOCK_FILE="$T/clock.offset"
at_utc() {
  local now target off
  now=$(date -u +%s)
  target=$(( $1 * 3600 + $2 * 60 ))
  off=$(( (target - now % 86400 + 86400) % 86400 ))
  echo "$off" >"$CLOCK_FILE.tmp" && mv "$CLOCK_FILE.tmp" "$CLOCK_FILE" ||
    fail "could not write the clock offset file"
  log "schedule clock now at $1:$2 UTC (offset $off s)"
}
at_utc 1 0
export MQOTA_TEST_CLOCK_FILE=$CLOCK_FILE

dep_is() { mq --json deployment show "$1" | jq -e "$2"; }
devices_are() { mq --json device list | jq -e "$@"; }
rollout_is() { mq --json rollout show "$1" | jq -e "$2"; }

start_mqotad
start_fleet --count $COUNT --image "$FIX/idf_hello_world_esp32_2023.bin"
wait_online $COUNT 60
add_release "$FIX/idf_hello_world_esp32_2024.bin"; rel=$RELEASE_ID
devs=$(mq --json device list) || fail "device list failed"
boots=$(jq -c '[.[].boot_count]' <<<"$devs")

case $MODE in
deploy)
  out=$(mq --json deploy "$rel" --all --hold 2>&1) || fail "deploy --hold was refused: $out"
  json_get DEP "$out" '.id | numbers'
  wait_for 120 dep_is "$DEP" '.ready == 3' ||
    fail "the devices did not all hold the release: $(mq --json deployment show "$DEP")"
  show=$(mq --json deployment show "$DEP") || fail "deployment show failed"
  check_json "every target ready and held, the deployment running" "$show" \
    '.state == "running" and .ready == 3 and .succeeded == 0 and
     all(.targets[]; .state == "ready" and .hold == true and .device_state == "held")'
  sleep 3
  devs=$(mq --json device list) || fail "device list failed"
  check_json "no device rebooted: same boot count, still version 1, state held" \
    "$(jq -c '[.[] | {id, boot_count, version, state, target_release}]' <<<"$devs")" \
    '[.[].boot_count] == $b and all(.[]; .version == "1" and .state == "held" and
     .target_release == $r)' --argjson b "$boots" --argjson r "$rel"
  sent=$(jq -c '[.targets[].bytes_sent]' <<<"$show")
  # a reset of every device while held: SIGKILL, then the same flash files again
  kill -KILL "$FLEET_PID" 2>/dev/null || fail "could not kill the fleet"
  wait "$FLEET_PID" 2>/dev/null || true
  start_fleet --count $COUNT
  wait_for 60 devices_are --argjson b "$boots" \
    '[.[].boot_count] != $b and all(.[]; .online == true and .state == "held")' ||
    fail "the devices did not come back held: $(mq --json device list)"
  sleep 3
  show=$(mq --json deployment show "$DEP") || fail "deployment show failed"
  check_json "after the reset: still held, nothing downloaded again, still version 1" "$show" \
    '.ready == 3 and [.targets[].bytes_sent] == $s and all(.targets[]; .device_state == "held")' \
    --argjson s "$sent"
  check "still version 1 after the reset" devices_are 'all(.[]; .version == "1")'
  # activate one device by name
  out=$(mq --json deployment activate "$DEP" vdev-0002 2>&1) || fail "activate vdev-0002 failed: $out"
  check_json "one target activated" "$out" '.activated == 1'
  wait_for 60 dep_is "$DEP" '.succeeded == 1' ||
    fail "vdev-0002 did not confirm after activation: $(mq --json deployment show "$DEP")"
  sleep 2
  show=$(mq --json deployment show "$DEP") || fail "deployment show failed"
  check_json "only vdev-0002 confirmed; the others still hold the release" "$show" \
    '.succeeded == 1 and .ready == 2 and
     ([.targets[] | select(.state == "succeeded") | .device] == ["vdev-0002"])'
  out=$(mq deployment activate "$DEP" vdev-0002 2>&1 >/dev/null) && fail "activating a confirmed target was accepted"
  [ "$out" = "mqota: device 'vdev-0002' of deployment $DEP is not held (its target is succeeded): only targets created with \"activate\": \"hold\" and not yet activated or ended can be activated" ] ||
    fail "activating vdev-0002 again said: $out"
  pass "activating a confirmed target is refused with its sentence"
  out=$(mq deployment activate "$DEP" vdev-0042 2>&1 >/dev/null) && fail "an unknown device was activated"
  [ "$out" = "mqota: device 'vdev-0042' is not a target of deployment $DEP" ] ||
    fail "activating vdev-0042 said: $out"
  pass "a device outside the deployment is refused with its sentence"
  out=$(mq --json deployment activate "$DEP" 2>&1) || fail "activate all failed: $out"
  check_json "the two others activated" "$out" '.activated == 2'
  wait_for 120 dep_is "$DEP" '.state == "finished" and .succeeded == 3' ||
    fail "the deployment did not finish: $(mq --json deployment show "$DEP")"
  check "every device runs the release, each rebooted once" devices_are \
    --argjson r "$rel" 'all(.[]; .running_release == $r and .state == "confirmed")'
  out=$(mq deployment activate "$DEP" 2>&1 >/dev/null) && fail "a finished deployment was activated"
  [ "$out" = "mqota: deployment $DEP is finished; only a running deployment has targets to activate" ] ||
    fail "activating a finished deployment said: $out"
  pass "a finished deployment is refused with its sentence"
  code=$(curl -s -o "$T/resp.json" -w '%{http_code}' -H "$API_AUTH" -H 'Content-Type: application/json' \
    -d "{\"release\": $rel, \"all\": true, \"activate\": \"later\"}" "$HTTP_URL/api/v1/deployments") ||
    fail "curl failed"
  [ "$code" = 400 ] || fail "a bad \"activate\" answered $code: $(cat "$T/resp.json")"
  check_json "a bad \"activate\" is refused with its sentence" "$(cat "$T/resp.json")" \
    '.error == "\"activate\" must be \"now\" (devices reboot into the release once it is verified) or \"hold\" (they hold it until activated)"'
  ;;
window)
  mq group create lab >/dev/null || fail "group create lab failed"
  # shellcheck disable=SC2046 # the ids have no spaces
  mq group add lab $(fleet_ids --count $COUNT) >/dev/null || fail "group add failed"
  out=$(mq --json rollout create "$rel" --filter group=lab --canary 1 --waves 100% \
    --window 02:00-03:00 --deadline 10 2>&1) || fail "rollout create --window was refused: $out"
  json_get RID "$out" '.id | numbers'
  check_json "the plan shows the window, closed" "$out" \
    '.plan.window == {"start": "02:00", "end": "03:00", "open": false}'
  wait_for 120 rollout_is "$RID" '.waves[0].ready == 1' ||
    fail "the canary did not hold the release: $(mq --json rollout show "$RID")"
  sleep 12 # twelve ticks, beyond the 10 s deadline: the window is closed, nothing may move
  r=$(mq --json rollout show "$RID") || fail "rollout show failed"
  check_json "outside the window the canary holds the release, nothing else starts, no deadline" "$r" \
    '.state == "running" and .waves[0].state == "running" and .waves[0].ready == 1 and
     .waves[0].confirmed == 0 and .waves[1].deployment == null and
     ([.events[].kind] == ["created", "wave-started"])'
  check "the canary did not reboot" devices_are --argjson b "$boots" \
    '[.[].boot_count] == $b and ([.[] | select(.state == "held") | .id] == ["vdev-0001"])'
  at_utc 2 30
  wait_for 120 rollout_is "$RID" '.state == "finished"' ||
    fail "the rollout did not finish once the window opened: $(mq --json rollout show "$RID")"
  r=$(mq --json rollout show "$RID") || fail "rollout show failed"
  # wave 1's two devices may become ready in two ticks: two window-activated events then
  check_json "the history: each wave activated in the window, then judged" "$r" \
    '([.events[].kind] | reduce .[] as $k ([]; if .[-1] == $k then . else . + [$k] end)) ==
       ["created", "wave-started", "window-activated", "wave-succeeded", "wave-started",
        "window-activated", "wave-succeeded", "finished"] and
     (.events[0].message | test("maintenance window 02:00-03:00 UTC$")) and
     ([.events[] | select(.kind == "window-activated" and .wave == 0) | .message] ==
       ["canary: 1 device holding the release activated: the maintenance window 02:00-03:00 UTC is open"]) and
     ([.events[] | select(.kind == "window-activated" and .wave == 1) | .message |
       capture("^wave 1: (?<n>[0-9]+) devices? holding the release activated: the maintenance window 02:00-03:00 UTC is open$").n | tonumber] | add) == 2'
  check "every device confirmed the release" devices_are --argjson r "$rel" \
    'all(.[]; .running_release == $r and .state == "confirmed")'
  ;;
window-paced)
  mq group create lab >/dev/null || fail "group create lab failed"
  # shellcheck disable=SC2046 # the ids have no spaces
  mq group add lab $(fleet_ids --count $COUNT) >/dev/null || fail "group add failed"
  out=$(mq --json rollout create "$rel" --filter group=lab --canary 1 --waves 100% \
    --window 02:00-03:00 --max-transfers 2 2>&1) || fail "a paced rollout with a window was refused: $out"
  json_get RID "$out" '.id | numbers'
  check_json "the plan is paced and has the window, closed" "$out" \
    '.plan.max_transfers == 2 and .plan.window.open == false'
  wait_for 120 rollout_is "$RID" '.waves[0].ready == 1' ||
    fail "the canary did not hold the release: $(mq --json rollout show "$RID")"
  r=$(mq --json rollout show "$RID") || fail "rollout show failed"
  check_json "the canary was offered paced" "$r" \
    '[.events[].kind] == ["created", "wave-started", "offered"]'
  json_get DEP "$r" '.waves[0].deployment | numbers'
  check "the paced offer's deployment holds" dep_is "$DEP" \
    '.ready == 1 and ([.targets[].hold] == [true])'
  sleep 3 # three ticks: the window is closed, the canary must not reboot
  check "the canary did not reboot" devices_are --argjson b "$boots" \
    '[.[].boot_count] == $b and ([.[] | select(.state == "held") | .id] == ["vdev-0001"])'
  at_utc 2 30
  wait_for 120 rollout_is "$RID" '.state == "finished"' ||
    fail "the rollout did not finish once the window opened: $(mq --json rollout show "$RID")"
  check "every device confirmed the release" devices_are --argjson r "$rel" \
    'all(.[]; .running_release == $r and .state == "confirmed")'
  ;;
bad-windows)
  # api_refused WHAT WINDOW_JSON SENTENCE
  api_refused() {
    local what=$1 win=$2 sentence=$3 code
    code=$(curl -s -o "$T/resp.json" -w '%{http_code}' -H "$API_AUTH" -H 'Content-Type: application/json' \
      -d "{\"release\": $rel, \"filter\": \"online=true\", \"canary\": 1, \"waves\": [\"100%\"], \"window\": $win}" \
      "$HTTP_URL/api/v1/rollouts") || fail "$what: curl failed"
    [ "$code" = 400 ] || fail "$what: answered $code, not 400: $(cat "$T/resp.json")"
    check_json "$what: the sentence" "$(cat "$T/resp.json")" '.error == $s' --arg s "$sentence"
  }
  api_refused "a window that is not an object" '"02:00-03:00"' \
    '"window" must be an object such as {"start": "22:00", "end": "04:00"}: the daily UTC time range in which devices may reboot into the release'
  api_refused "a window without an end" '{"start": "02:00"}' \
    '"window" needs "end" as a UTC time of day "HH:MM" from "00:00" to "23:59", such as {"start": "22:00", "end": "04:00"}'
  api_refused "an hour 24" '{"start": "24:00", "end": "03:00"}' \
    '"window" needs "start" as a UTC time of day "HH:MM" from "00:00" to "23:59", such as {"start": "22:00", "end": "04:00"}'
  api_refused "a time without its leading zero" '{"start": "2:00", "end": "03:00"}' \
    '"window" needs "start" as a UTC time of day "HH:MM" from "00:00" to "23:59", such as {"start": "22:00", "end": "04:00"}'
  api_refused "an unknown member" '{"start": "02:00", "end": "03:00", "tz": "CET"}' \
    '"window" has "start" and "end" only, not "tz"'
  api_refused "an empty window" '{"start": "02:00", "end": "02:00"}' \
    '"window" starts and ends at 02:00, which leaves no time to reboot; give a range such as {"start": "22:00", "end": "04:00"} (an end before the start crosses midnight)'
  out=$(mq rollout create "$rel" --filter online=true --canary 1 --waves 100% --window 0200 2>&1 >/dev/null) &&
    fail "the CLI accepted --window 0200"
  [ "$out" = "mqota: --window '0200' is not START-END in UTC, such as 22:00-04:00; see 'mqota rollout create --help'" ] ||
    fail "--window 0200 said: $out"
  pass "the CLI refuses a window without its dash with its sentence"
  out=$(mq rollout create "$rel" --filter online=true --canary 1 --waves 100% --window 02:00-25:00 2>&1 >/dev/null) &&
    fail "the CLI's --window 02:00-25:00 was accepted"
  [ "$out" = 'mqota: "window" needs "end" as a UTC time of day "HH:MM" from "00:00" to "23:59", such as {"start": "22:00", "end": "04:00"}' ] ||
    fail "--window 02:00-25:00 said: $out"
  pass "mqotad's sentence reaches the CLI"
  list=$(mq --json rollout list) || fail "rollout list failed: $list"
  check_json "nothing was created" "$list" 'length == 0'
  ;;
esac
passed
