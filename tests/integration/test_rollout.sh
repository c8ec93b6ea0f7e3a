#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Rollouts (issue 11 item 2, docs/ROLLOUTS.md) on a real mqotad and a virtual fleet of six
# ESP32 devices on hello_world 2023, all in group "lab", taking hello_world 2024 in stages.
# MODE (third argument):
#   canary-fails  the new image fails its self-test (fleet --fail-self-test): the canary rolls
#                 back, the rollout pauses on the error threshold, and no device beyond the
#                 canary is offered the release (one deployment, one target; the other five
#                 stay idle on version 1 with no target). Resume accepts the canary and starts
#                 wave 1 (which fails and pauses again); abort ends it; a second abort is 409.
#   waves         a healthy release: canary 1, waves 2 and 100 %: each wave starts only after
#                 the one before succeeded, every device confirms, the rollout finishes, the
#                 history holds every decision in order.
#   kill          as waves, with mqotad killed by SIGKILL while wave 1 runs and started again on
#                 the same data: the rollout continues to finished and no device ever has two
#                 targets for the release (one deployment per wave).
#   deadline      the new image cannot reach the broker after its reboot (fleet
#                 --offline-after-reboot, the agent's confirm timeout far away): the silent
#                 canary counts as failed when the rollout's deadline (3 s) runs out, the
#                 history names it, the rollout aborts (--on-error abort) and nobody else is
#                 offered the release; the abort does not cancel the canary, which already
#                 reboots into the release (history: device-not-cancelled); resume is
#                 refused (409).
#   approval      --approval: after the canary confirmed, the rollout awaits approval and
#                 starts nothing by itself; 'rollout approve' starts wave 1, which finishes the
#                 rollout; approving again is refused (409 sentence).
#   retry         as canary-fails; then the fleet restarts without the fault and 'rollout retry'
#                 offers the canary the release again (a new deployment): it confirms, the
#                 rollout goes on wave by wave to finished; the canary alone has two targets.
#   pause         the operator pauses the rollout while its canary downloads (lte links): the
#                 canary confirms, yet nothing else starts while paused (a second pause is
#                 409); resume judges the canary and the rollout goes on to finished.
#   bad-plans     every refused plan answers 400 with its one sentence (CLI and API), and
#                 nothing is created.
MODE=${3:-waves}
NEWVER=v1.4.1-2-g0296947-dirty
COUNT=6
case $MODE in
  canary-fails|retry) FAULT=(--fail-self-test "$NEWVER") ;;
  kill|pause) FAULT=(--link lte) ;; # downloads of seconds: the kill/pause lands inside a wave
  # half the devices on LTE: the devices of a wave confirm at different times, so a wave
  # judged before all of them confirmed shows
  waves) FAULT=(--link lan:50,lte:50) ;;
  deadline) FAULT=(--offline-after-reboot "$NEWVER" --confirm-timeout 600000) ;;
  approval|bad-plans) FAULT=() ;;
  *) echo "usage: test_rollout.sh BUILD_DIR FIXTURES_DIR [canary-fails|waves|kill|deadline|approval|retry|pause|bad-plans]" >&2
     exit 2 ;;
esac
. "$(dirname "$0")/lib.sh" "$1" "$2"

# rollout_is ID JQ: GET the rollout; jq -e JQ on it holds (for wait_for).
rollout_is() { mq --json rollout show "$1" | jq -e "$2"; }

# show ID: sets R to the rollout's JSON.
show() {
  R=$(mq --json rollout show "$1" 2>&1) || fail "rollout show $1 failed: $R"
}

# targets_of_release REL: sets TG to [{device, deployment, state}] of every target of REL.
targets_of_release() {
  local deps id out
  deps=$(mq --json deployment list) || fail "deployment list failed: $deps"
  TG='[]'
  for id in $(jq -r --argjson r "$1" '.[] | select(.release == $r) | .id' <<<"$deps"); do
    out=$(mq --json deployment show "$id") || fail "deployment show $id failed: $out"
    TG=$(jq -c --argjson a "$TG" --argjson dep "$id" \
      '$a + [.targets[] | {device, deployment: $dep, state}]' <<<"$out") ||
      fail "deployment $id has no targets: $out"
  done
}

start_mqotad
start_fleet --count $COUNT --image "$FIX/idf_hello_world_esp32_2023.bin" ${FAULT[@]+"${FAULT[@]}"}
wait_online $COUNT 60
mq group create lab >/dev/null || fail "group create lab failed"
# shellcheck disable=SC2046 # the ids have no spaces
mq group add lab $(fleet_ids --count $COUNT) >/dev/null || fail "group add failed"
add_release "$FIX/idf_hello_world_esp32_2024.bin"; rel=$RELEASE_ID

# create ARGS...: 'mqota rollout create REL --filter group=lab ARGS'; sets RID.
create() {
  local out
  out=$(mq --json rollout create "$rel" --filter group=lab "$@" 2>&1) ||
    fail "rollout create $* was refused: $out"
  json_get RID "$out" '.id | numbers'
  log "rollout $RID created: $*"
}

# refused WHAT STATUS SENTENCE ARGS...: 'mqota rollout create ARGS' exits 1 saying exactly
# "mqota: SENTENCE".
refused() {
  local what=$1 sentence=$2 out rc=0; shift 2
  out=$(mq rollout create "$@" 2>&1 >/dev/null) || rc=$?
  [ "$rc" -eq 1 ] || fail "$what: 'mqota rollout create $*' exited $rc, not 1: $out"
  [ "$out" = "mqota: $sentence" ] ||
    fail "$what: 'mqota rollout create $*' said '$out', not 'mqota: $sentence'"
  pass "$what refused"
}

# api_refused WHAT BODY SENTENCE: POST BODY answers 400 {"error": SENTENCE}.
api_refused() {
  local what=$1 body=$2 sentence=$3 out code
  out=$(curl -s -o "$T/resp.json" -w '%{http_code}' -H "$API_AUTH" \
    -H 'Content-Type: application/json' -d "$body" "$HTTP_URL/api/v1/rollouts") ||
    fail "$what: curl failed"
  code=$out
  [ "$code" = 400 ] || fail "$what: answered $code, not 400: $(cat "$T/resp.json")"
  check_json "$what: the sentence" "$(cat "$T/resp.json")" '.error == $s' --arg s "$sentence"
}

case $MODE in
canary-fails)
  create --canary 1 --waves 50%,100% --deadline 120
  wait_for 120 rollout_is "$RID" '.state == "paused"' ||
    fail "the rollout did not pause after the failing canary: $(mq --json rollout show "$RID")"
  sleep 3 # three more ticks: nothing else may start
  show "$RID"
  check_json "canary failed, waves 1 and 2 never started" "$R" \
    '.waves[0].state == "failed" and .waves[0].failed == 1 and .waves[0].devices == ["vdev-0001"]
     and .waves[1].state == "waiting" and .waves[1].deployment == null
     and .waves[2].state == "waiting" and .waves[2].deployment == null and .current_wave == 0'
  check_json "history: canary failed on the error threshold, rollout paused" "$R" \
    '[.events[].kind] == ["created", "wave-started", "wave-failed"] and
     (.events[2].message | test("^canary failed: 1 of 1 failed \\(error threshold 0 %\\), 0 confirmed; rollout paused$"))'
  targets_of_release "$rel"
  check_json "only the canary was offered the release" "$TG" \
    'length == 1 and .[0].device == "vdev-0001" and .[0].state == "failed"'
  devs=$(mq --json device list) || fail "device list failed"
  check_json "the five others stay idle on version 1 with no target" "$devs" \
    '[.[] | select(.id != "vdev-0001")] | length == 5 and
     all(.[]; .id == "vdev-0001" or (.state == "idle" and .version == "1" and .target_release == 0))'
  # resume: the operator accepts the failed canary; wave 1 (3 devices) starts and fails too
  mq rollout resume "$RID" >/dev/null || fail "rollout resume failed"
  show "$RID"
  check_json "resume started wave 1 at once" "$R" \
    '.state == "running" and .current_wave == 1 and .waves[1].state == "running" and
     (.waves[1].deployment | numbers) > 0 and .waves[1].devices == ["vdev-0002","vdev-0003","vdev-0004"]'
  wait_for 120 rollout_is "$RID" '.state == "paused" and .waves[1].state == "failed"' ||
    fail "wave 1 did not fail and pause: $(mq --json rollout show "$RID")"
  targets_of_release "$rel"
  check_json "wave 2's devices were never offered the release" "$TG" \
    'length == 4 and ([.[].device] | sort) == ["vdev-0001","vdev-0002","vdev-0003","vdev-0004"]'
  mq rollout abort "$RID" >/dev/null || fail "rollout abort failed"
  # the abort cancels what wave 1 may still have running (docs/ROLLOUTS.md "Cancelling")
  check "the rollout is aborted" rollout_is "$RID" '.state == "aborted" and
    (.events | map(.kind) | .[index("aborted") + 1:] |
     all(. == "device-cancelled" or . == "device-not-cancelled" or . == "cancelled"))'
  out=$(mq rollout abort "$RID" 2>&1 >/dev/null) && fail "a second abort was accepted"
  [ "$out" = "mqota: rollout $RID is aborted; only a running, paused, awaiting-approval or scheduled rollout can be aborted" ] ||
    fail "second abort said: $out"
  pass "a second abort is refused with its sentence"
  ;;
deadline)
  create --canary 1 --waves 100% --deadline 3 --on-error abort
  wait_for 60 rollout_is "$RID" '.state == "aborted"' ||
    fail "the rollout did not abort when the silent canary's deadline ran out: $(mq --json rollout show "$RID")"
  show "$RID"
  check_json "the silent canary counted as failed by the deadline" "$R" \
    '[.events[].kind] == ["created", "wave-started", "deadline-expired", "wave-failed",
                          "device-not-cancelled", "cancelled"] and
     (.events[2].message | test("^device vdev-0001 did not finish within the deadline \\(3 s, target active\\): counted as failed$")) and
     (.events[3].message | test("^canary failed: 1 of 1 failed .*; rollout aborted$")) and
     (.events[4].message == "device vdev-0001 of the canary not cancelled: it already reboots into the release (device ready-to-reboot); its update finishes (the rollout aborted itself when the canary failed)") and
     .waves[0].state == "failed" and .waves[0].active == 1 and .waves[0].cancelled == 0 and
     .waves[1].deployment == null'
  targets_of_release "$rel"
  check_json "only the canary was offered the release" "$TG" 'length == 1 and .[0].device == "vdev-0001"'
  out=$(mq rollout resume "$RID" 2>&1 >/dev/null) && fail "an aborted rollout was resumed"
  [ "$out" = "mqota: rollout $RID is aborted; only a paused rollout can be resumed" ] ||
    fail "resume of an aborted rollout said: $out"
  pass "an aborted rollout cannot be resumed"
  ;;
pause)
  create --canary 1 --waves 100%
  mq rollout pause "$RID" >/dev/null || fail "rollout pause failed"
  check "the rollout is paused with its canary running" rollout_is "$RID" \
    '.state == "paused" and .waves[0].state == "running" and .waves[0].confirmed == 0 and
     .events[-1].kind == "paused"'
  wait_for 60 rollout_is "$RID" '.waves[0].confirmed == 1' ||
    fail "the paused rollout's canary did not confirm: $(mq --json rollout show "$RID")"
  sleep 3 # three more ticks
  show "$RID"
  check_json "nothing is judged or started while paused" "$R" \
    '.state == "paused" and .waves[0].state == "running" and .waves[1].state == "waiting" and
     .waves[1].deployment == null'
  out=$(mq rollout pause "$RID" 2>&1 >/dev/null) && fail "a second pause was accepted"
  [ "$out" = "mqota: rollout $RID is paused; only a running rollout can be paused" ] ||
    fail "second pause said: $out"
  pass "a second pause is refused with its sentence"
  mq rollout resume "$RID" >/dev/null || fail "rollout resume failed"
  wait_for 60 rollout_is "$RID" '.state == "finished"' ||
    fail "the resumed rollout did not finish: $(mq --json rollout show "$RID")"
  check "the history: paused, resumed, then the canary judged" rollout_is "$RID" \
    '[.events[].kind] == ["created","wave-started","paused","resumed","wave-succeeded",
      "wave-started","wave-succeeded","finished"]'
  ;;
retry)
  create --canary 1 --waves 100% --deadline 120
  wait_for 120 rollout_is "$RID" '.state == "paused" and .waves[0].state == "failed"' ||
    fail "the rollout did not pause after the failing canary: $(mq --json rollout show "$RID")"
  out=$(mq rollout retry 9999 2>&1 >/dev/null) && fail "retry of an unknown rollout was accepted"
  [ "$out" = "mqota: unknown rollout '9999'; see 'mqota rollout list'" ] || fail "retry 9999 said: $out"
  pass "retry of an unknown rollout is refused with its sentence"
  stop_pid "$FLEET_PID"
  start_fleet --count $COUNT # the same flash files, without the fault
  wait_online $COUNT 60
  mq rollout retry "$RID" >/dev/null || fail "rollout retry failed"
  wait_for 120 rollout_is "$RID" '.state == "finished"' ||
    fail "the retried rollout did not finish: $(mq --json rollout show "$RID")"
  show "$RID"
  check_json "the canary's retry confirmed and the rollout went on" "$R" \
    '[.events[].kind] == ["created","wave-started","wave-failed","wave-retried","wave-succeeded",
      "wave-started","wave-succeeded","finished"] and (.waves[0].deployments | length) == 2 and
     .waves[0].confirmed == 1 and .waves[0].failed == 0 and .waves[1].confirmed == 5 and
     (.events[3].message | test("^canary retried by the operator: release [0-9]+ offered again to the 1 device that did not confirm"))'
  targets_of_release "$rel"
  check_json "the canary alone was offered twice (failed, then succeeded)" "$TG" \
    'length == 7 and ([.[] | select(.device == "vdev-0001") | .state] | sort) == ["failed","succeeded"]
     and ([.[] | select(.device != "vdev-0001") | .device] | unique | length) == 5'
  out=$(mq rollout retry "$RID" 2>&1 >/dev/null) && fail "a retry of a finished rollout was accepted"
  [ "$out" = "mqota: rollout $RID is finished; only a paused rollout can be retried" ] ||
    fail "retry of a finished rollout said: $out"
  pass "a retry of a finished rollout is refused with its sentence"
  ;;
approval)
  create --canary 1 --waves 100% --approval
  wait_for 60 rollout_is "$RID" '.state == "awaiting-approval"' ||
    fail "the rollout does not await approval after its canary: $(mq --json rollout show "$RID")"
  sleep 3 # three more ticks: nothing may start without the approval
  show "$RID"
  check_json "the canary confirmed, wave 1 awaits approval and has not started" "$R" \
    '.waves[0].state == "succeeded" and .waves[0].confirmed == 1 and .waves[1].state == "waiting"
     and .waves[1].deployment == null and .plan.approval == true and
     [.events[].kind] == ["created","wave-started","wave-succeeded","awaiting-approval"]'
  targets_of_release "$rel"
  check_json "only the canary was offered the release before the approval" "$TG" \
    'length == 1 and .[0].device == "vdev-0001"'
  mq rollout approve "$RID" >/dev/null || fail "rollout approve failed"
  wait_for 60 rollout_is "$RID" '.state == "finished"' ||
    fail "the approved rollout did not finish: $(mq --json rollout show "$RID")"
  show "$RID"
  check_json "the approval started wave 1, which confirmed on the five others" "$R" \
    '[.events[].kind] == ["created","wave-started","wave-succeeded","awaiting-approval","approved",
      "wave-started","wave-succeeded","finished"] and .waves[1].confirmed == 5'
  out=$(mq rollout approve "$RID" 2>&1 >/dev/null) && fail "a second approve was accepted"
  [ "$out" = "mqota: rollout $RID is finished; only an awaiting-approval rollout can be approved" ] ||
    fail "second approve said: $out"
  pass "a second approve is refused with its sentence"
  ;;
waves|kill)
  create --canary 1 --waves 2,100% --success 100 --error 0 --deadline 300
  if [ "$MODE" = kill ]; then
    wait_for 120 rollout_is "$RID" \
      '.current_wave == 1 and .waves[1].state == "running" and .waves[1].confirmed == 0' ||
      fail "wave 1 did not start: $(mq --json rollout show "$RID")"
    kill -KILL "$MQOTAD_PID"
    killed_at=$(date +%s)
    wait "$MQOTAD_PID" 2>/dev/null || true
    log "mqotad killed while wave 1 runs"
    sleep 1 # every decision of the restarted mqotad is stamped after killed_at
    start_mqotad
    check "the restarted mqotad still has rollout $RID running" rollout_is "$RID" \
      '.state == "running" and .current_wave >= 1'
  fi
  wait_for 240 rollout_is "$RID" '.state == "finished"' ||
    fail "the rollout did not finish: $(mq --json rollout show "$RID")"
  show "$RID"
  check_json "each wave succeeded with every device confirmed" "$R" \
    '[.waves[] | [.size, .state, .confirmed]] == [[1,"succeeded",1],[2,"succeeded",2],[3,"succeeded",3]]'
  check_json "each wave was judged when all of its devices had confirmed (success 100 %)" "$R" \
    '[.events[] | select(.kind == "wave-succeeded") | .message | capture("succeeded: (?<a>[0-9]+) of (?<b>[0-9]+) confirmed") | .a == .b] == [true, true, true]'
  check_json "each wave started after the one before it succeeded" "$R" \
    '.waves[1].started_at >= .waves[0].finished_at and .waves[2].started_at >= .waves[1].finished_at'
  check_json "the history holds every decision in order" "$R" \
    '[.events[].kind] == ["created","wave-started","wave-succeeded","wave-started",
      "wave-succeeded","wave-started","wave-succeeded","finished"]'
  check_json "waves in device id order" "$R" \
    '[.waves[].devices] == [["vdev-0001"],["vdev-0002","vdev-0003"],["vdev-0004","vdev-0005","vdev-0006"]]'
  if [ "$MODE" = kill ]; then
    check_json "wave 1 was decided by the restarted mqotad" "$R" \
      '[.events[] | select(.kind == "wave-succeeded" and .wave == 1)] | length == 1 and .[0].at > $k' \
      --argjson k "$killed_at"
  fi
  targets_of_release "$rel"
  check_json "one target per device for the release, one deployment per wave" "$TG" \
    'length == 6 and ([.[].device] | unique | length) == 6 and ([.[].deployment] | unique | length) == 3
     and all(.[]; .state == "succeeded")'
  devs=$(mq --json device list) || fail "device list failed"
  check_json "every device runs the new version, confirmed" "$devs" \
    'length == 6 and all(.[]; .version == $v and .state == "confirmed")' --arg v "$NEWVER"
  mq rollout show "$RID"; mq rollout list
  ;;
bad-plans)
  refused "success threshold 0" '"success_percent" must be a whole number from 1 to 100 (the share of a wave'"'"'s devices that must confirm the release)' \
    "$rel" --filter group=lab --canary 1 --waves 100% --success 0
  refused "error threshold 101" '"error_percent" must be a whole number from 0 to 100 (the share of a wave'"'"'s devices that may fail; 0 stops at the first)' \
    "$rel" --filter group=lab --canary 1 --waves 100% --error 101
  refused "empty filter" '"filter" must be a non-empty filter expression such as "group=lab" (docs/API.md "Filters"); to take every device of the release'"'"'s chip write "online=true|false"' \
    "$rel" --filter '' --canary 1 --waves 100%
  refused "unknown group" "filter term 'group=nope' names group 'nope', which does not exist; see GET /api/v1/groups ('mqota group list')" \
    "$rel" --filter group=nope --canary 1 --waves 100%
  refused "no device matched" "no device of chip ESP32, the chip of release $rel, matches the filter 'version=9.9' (0 of other chips do); see 'mqota device list --filter'" \
    "$rel" --filter version=9.9 --canary 1 --waves 100%
  refused "percents over 100" "wave 1 wants 4 devices but only 3 of the 6 selected are left for it, and stages follow it; make it smaller" \
    "$rel" --filter group=lab --canary 50% --waves 60%,100%
  refused "devices left out" "the plan takes 3 of the 6 devices the filter selects and leaves 3 out; make the last wave \"100%\" to take everyone left" \
    "$rel" --filter group=lab --canary 1 --waves 2
  refused "a wave with no device" "wave 2 gets no device: the stages before it take all 6 devices the filter selects; remove it or make the earlier ones smaller" \
    "$rel" --filter group=lab --canary 1 --waves 5,1
  refused "a middle wave too large" "wave 1 wants 9 devices but only 5 of the 6 selected are left for it, and stages follow it; make it smaller" \
    "$rel" --filter group=lab --canary 1 --waves 9,100%
  refused "bad wave size" 'wave 1 must be a device count (1, 2, ...) or a percent from "1%" to "100%" of the selected devices' \
    "$rel" --filter group=lab --canary 1 --waves 0%
  refused "bad on-error" '"on_error" must be "pause" or "abort" (what a failed wave does to the rollout)' \
    "$rel" --filter group=lab --canary 1 --waves 100% --on-error stop
  refused "unknown release" "unknown release 999" 999 --filter group=lab --canary 1 --waves 100%
  refused "a start that is no time" '"start_at" must be a UTC time such as "2026-12-24T02:00:00Z" or Unix seconds (when the canary starts; a past time starts it at once)' \
    "$rel" --filter group=lab --canary 1 --waves 100% --start-at tomorrow
  refused "jitter over a day" '"jitter_s" must be a whole number from 0 to 86400 (seconds over which a wave'"'"'s offers are spread; 0 offers at once)' \
    "$rel" --filter group=lab --canary 1 --waves 100% --jitter 86401
  refused "a version too long" '"from_versions" must be an array of 1 to 16 versions (non-empty strings of at most 32 bytes) such as ["1.0.3", "1.0.4"]: the versions a device must run to be taken' \
    "$rel" --filter group=lab --canary 1 --waves 100% --from-versions 1,123456789012345678901234567890123
  refused "a negative cap" '"max_transfers" must be a whole number from 0 to 1000000 (the most devices transferring the release at once across the rollout; 0 for no cap)' \
    "$rel" --filter group=lab --canary 1 --waves 100% --max-transfers -1
  api_refused "no waves" '{"release": '"$rel"', "filter": "group=lab", "canary": 1, "waves": []}' \
    '"waves" must be an array of 1 to 20 wave sizes after the canary, such as ["50%", "100%"]'
  api_refused "no canary" '{"release": '"$rel"', "filter": "group=lab", "waves": ["100%"]}' \
    '"canary" is missing: give the first stage'"'"'s size, a count such as 1 or a percent such as "5%"'
  api_refused "unknown member" '{"release": '"$rel"', "filter": "group=lab", "canary": 1, "waves": ["100%"], "speed": 3}' \
    'unknown member "speed"; a rollout has "release", "filter", "canary", "waves", "success_percent", "error_percent", "deadline_s", "on_error", "approval", "max_transfers", "jitter_s", "start_at", "from_versions", "failure_budget", "continuous", "health" and "window"'
  api_refused "deadline 0" '{"release": '"$rel"', "filter": "group=lab", "canary": 1, "waves": ["100%"], "deadline_s": 0}' \
    '"deadline_s" must be a whole number from 1 to 2592000 (seconds after its offer when a device not finished counts as failed)'
  out=$(mq --json rollout list) || fail "rollout list failed"
  check_json "no rollout was created" "$out" 'length == 0'
  out=$(mq --json deployment list) || fail "deployment list failed"
  check_json "no deployment was created" "$out" 'length == 0'
  # the positive control: the same devices and release with a good plan are taken
  create --canary 1 --waves 100%
  check "a good plan is accepted" rollout_is "$RID" '.state == "running" and .devices == 6'
  ;;
esac
passed
