#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Rollouts' pacing, schedule and eligibility (docs/ROLLOUTS.md "Pacing", "Scheduled start",
# "Eligibility", "Continuous rollouts") on a real mqotad and virtual ESP32 on hello_world
# 2023, taking hello_world 2024.
# MODE (third argument):
#   cap          12 devices on LTE links, canary 1 then everyone, --max-transfers 3 --jitter 2:
#                mqotad's own count of the rollout's transfers ("in_flight"), sampled every
#                0.2 s all through the run, never exceeds 3 and reaches it; the rollout's
#                "peak_in_flight" is 3; every "offered" event of the history says at most 3
#                transferring; wave 1 took several deployments; every device confirmed.
#   schedule     mqotad on an injectable clock (MQOTA_TEST_CLOCK_FILE): a rollout with
#                --start-at an hour ahead stays scheduled with no deployment; a second one is
#                aborted while scheduled; moving the clock an hour on starts the first, which
#                finishes; the history says scheduled, started.
#   eligibility  6 devices, two of them updated to the release first: --from-versions with
#                a version nobody runs is refused with its sentence; with the old version the
#                two on the release are skipped (history) and four take it.
#   budget       the new image fails its self-test: a --failure-budget 1 rollout's canary
#                fails and its retry is refused (over the budget); the next rollout skips that device (history: "failure budget") and its
#                own canary fails too; after 'mqota device reset-failures' the first device
#                is taken again and the second still skipped.
#   continuous   3 devices, --continuous: the rollout updates them and stays running; a
#                fourth device that comes online afterwards joins the last wave, is offered
#                the release and confirms; the history says device-joined.
#   watch        'mqota rollout watch': a scheduled rollout outlives --timeout 1 (exit 3 and
#                its sentence); aborted, the watch exits 1 naming it; a healthy rollout is
#                followed with --json to the end (exit 0): every line JSON, one event line per
#                event of the history, wave lines, the last {"type": "end", "state":
#                "finished"}; the text watch of the finished rollout prints the history and
#                "rollout N finished".
MODE=${3:-cap}
NEWVER=v1.4.1-2-g0296947-dirty
case $MODE in
  cap) COUNT=12; FAULT=(--link lte) ;;
  schedule) COUNT=3; FAULT=() ;;
  eligibility) COUNT=6; FAULT=() ;;
  budget) COUNT=6; FAULT=(--fail-self-test "$NEWVER") ;;
  continuous) COUNT=3; FAULT=() ;;
  watch) COUNT=4; FAULT=() ;;
  *) echo "usage: test_rollout_pacing.sh BUILD_DIR FIXTURES_DIR [cap|schedule|eligibility|budget|continuous|watch]" >&2
     exit 2 ;;
esac
. "$(dirname "$0")/lib.sh" "$1" "$2"

rollout_is() { mq --json rollout show "$1" | jq -e "$2"; }
show() {
  R=$(mq --json rollout show "$1" 2>&1) || fail "rollout show $1 failed: $R"
}
# create FILTER ARGS...: 'mqota rollout create REL --filter FILTER ARGS'; sets RID.
create() {
  local out filter=$1; shift
  out=$(mq --json rollout create "$rel" --filter "$filter" "$@" 2>&1) ||
    fail "rollout create $* was refused: $out"
  json_get RID "$out" '.id | numbers'
  log "rollout $RID created: $*"
}

if [ "$MODE" = schedule ]; then
  echo 0 >"$T/clock"
  export MQOTA_TEST_CLOCK_FILE="$T/clock"
  start_mqotad
else
  start_mqotad
fi
start_fleet --count $COUNT --image "$FIX/idf_hello_world_esp32_2023.bin" ${FAULT[@]+"${FAULT[@]}"}
wait_online $COUNT 60
mq group create lab >/dev/null || fail "group create lab failed"
# shellcheck disable=SC2046 # the ids have no spaces
mq group add lab $(fleet_ids --count $COUNT) >/dev/null || fail "group add failed"
add_release "$FIX/idf_hello_world_esp32_2024.bin"; rel=$RELEASE_ID

case $MODE in
cap)
  create group=lab --canary 1 --waves 100% --max-transfers 3 --jitter 2 --deadline 300
  max=0 samples=0 end=$((SECONDS + 240))
  while [ "$SECONDS" -lt "$end" ]; do
    out=$(mq --json rollout show "$RID") || fail "rollout show $RID failed: $out"
    n=$(jq -e '.in_flight | numbers' <<<"$out") || fail "no in_flight in: $out"
    samples=$((samples + 1))
    [ "$n" -le 3 ] || fail "mqotad counted $n devices transferring at once (cap 3): $out"
    [ "$n" -le "$max" ] || max=$n
    jq -e '.state == "running"' <<<"$out" >/dev/null || break
    sleep 0.2
  done
  show "$RID"
  check_json "the rollout finished" "$R" '.state == "finished"'
  log "in_flight sampled $samples times, at most $max"
  [ "$max" -eq 3 ] || fail "the cap was never reached (at most $max transferring in $samples samples): the test shows nothing"
  pass "in_flight never above the cap of 3 in $samples samples, and reached it"
  check_json "mqotad's peak of transfers is the cap" "$R" '.peak_in_flight == 3 and .plan.max_transfers == 3 and .plan.jitter_s == 2'
  check_json "every offer in the history left at most 3 transferring" "$R" \
    '[.events[] | select(.kind == "offered") | .message | capture("; (?<n>[0-9]+) transferring \\(cap 3\\)").n | tonumber]
     | length >= 4 and max <= 3'
  check_json "wave 1 was offered in several deployments" "$R" \
    '(.waves[1].deployments | length) >= 4 and .waves[1].confirmed == 11 and .waves[0].confirmed == 1'
  devs=$(mq --json device list) || fail "device list failed"
  check_json "every device confirmed the new version" "$devs" \
    '[.[] | select(.version == $v)] | length == 12' --arg v "$NEWVER"
  ;;
schedule)
  start=$(( $(date +%s) + 3600 ))
  create group=lab --canary 1 --waves 100% --start-at "$(date -u -d "@$start" +%Y-%m-%dT%H:%M:%SZ)"
  first=$RID
  create group=lab --canary 1 --waves 100% --start-at "$start"
  second=$RID
  sleep 3 # three ticks: nothing may start
  show "$first"
  check_json "an hour ahead: scheduled, no deployment" "$R" \
    '.state == "scheduled" and .plan.start_at == $s and .waves[0].deployment == null and
     [.events[].kind] == ["created", "scheduled"]' --argjson s "$start"
  out=$(mq --json deployment list) || fail "deployment list failed: $out"
  check_json "no deployment was created" "$out" 'length == 0'
  mq rollout abort "$second" >/dev/null || fail "abort of a scheduled rollout failed"
  check "a scheduled rollout is aborted" rollout_is "$second" '.state == "aborted"'
  out=$(mq rollout resume "$first" 2>&1 >/dev/null) && fail "a scheduled rollout was resumed"
  [ "$out" = "mqota: rollout $first is scheduled; only a paused rollout can be resumed" ] ||
    fail "resume of a scheduled rollout said: $out"
  pass "a scheduled rollout cannot be resumed"
  echo 3600 >"$T/clock" # an hour on
  wait_for 60 rollout_is "$first" '.state == "finished"' ||
    fail "the rollout did not start and finish after the clock moved an hour on: $(mq --json rollout show "$first")"
  check "the history: created, scheduled, started, waves" rollout_is "$first" \
    '[.events[].kind] == ["created","scheduled","started","wave-started","wave-succeeded",
      "wave-started","wave-succeeded","finished"]'
  check "the aborted one never started" rollout_is "$second" '.waves[0].deployment == null'
  ;;
eligibility)
  out=$(mq --json deploy "$rel" vdev-0005 vdev-0006 2>&1) || fail "deploy to two devices failed: $out"
  json_get dep "$out" '.id | numbers'
  watch "$dep" 120 || fail "the two devices did not take the release"
  out=$(mq rollout create "$rel" --filter group=lab --canary 1 --waves 100% --from-versions 9.9 2>&1 >/dev/null) &&
    fail "a rollout nobody may take was created"
  [ "$out" = "mqota: the filter selects 6 devices but none may take the release: 2 already run version $NEWVER, 4 run a version not in \"from_versions\", 0 failed it \"failure_budget\" times; nothing was created" ] ||
    fail "from-versions 9.9 said: $out"
  pass "a rollout nobody may take is refused with its sentence"
  devs=$(mq --json device list) || fail "device list failed"
  json_get oldver "$devs" '.[] | select(.id == "vdev-0001") | .version'
  create group=lab --canary 1 --waves 100% --from-versions "$oldver,0.0.1"
  wait_for 120 rollout_is "$RID" '.state == "finished"' ||
    fail "the from-versions rollout did not finish: $(mq --json rollout show "$RID")"
  show "$RID"
  check_json "the two on the release were skipped, four took it" "$R" \
    '.devices == 4 and .plan.from_versions == [$v, "0.0.1"] and
     [.events[] | select(.kind == "device-skipped") | .message] ==
     ["device vdev-0005 already runs the release'"'"'s version \($n): skipped",
      "device vdev-0006 already runs the release'"'"'s version \($n): skipped"]' \
    --arg v "$oldver" --arg n "$NEWVER"
  ;;
budget)
  create group=lab --canary 1 --waves 100% --failure-budget 1 --deadline 120
  wait_for 120 rollout_is "$RID" '.state == "paused"' ||
    fail "the failing canary did not pause the rollout: $(mq --json rollout show "$RID")"
  out=$(mq rollout retry "$RID" 2>&1 >/dev/null) && fail "a retry of a device over its failure budget was accepted"
  [ "$out" = "mqota: the 1 device of the canary that did not confirm is over the failure budget; nothing to retry ('mqota device reset-failures ID' lets a device take the release again)" ] ||
    fail "retry over the budget said: $out"
  pass "a retry of a device over its failure budget is refused with its sentence"
  mq rollout abort "$RID" >/dev/null || fail "abort failed"
  create group=lab --canary 1 --waves 100% --failure-budget 1 --deadline 120
  show "$RID"
  check_json "the device that failed the release once is skipped" "$R" \
    '.devices == 5 and .waves[0].devices == ["vdev-0002"] and .plan.failure_budget == 1 and
     ([.events[] | select(.kind == "device-skipped") | .message] ==
      ["device vdev-0001 failed release \($r) 1 time (failure budget 1): skipped until '"'"'mqota device reset-failures vdev-0001'"'"'"])' \
    --argjson r "$rel"
  wait_for 120 rollout_is "$RID" '.state == "paused"' ||
    fail "the second failing canary did not pause the rollout: $(mq --json rollout show "$RID")"
  mq rollout abort "$RID" >/dev/null || fail "abort failed"
  out=$(mq --json device reset-failures vdev-0001 2>&1) || fail "reset-failures failed: $out"
  check_json "reset-failures answers the device" "$out" '.device == "vdev-0001" and .failures_reset_at > 0'
  out=$(mq device reset-failures nosuch 2>&1 >/dev/null) && fail "reset-failures of an unknown device was accepted"
  [ "$out" = "mqota: unknown device 'nosuch'; see 'mqota device list'" ] || fail "reset-failures nosuch said: $out"
  pass "reset-failures of an unknown device is refused with its sentence"
  create group=lab --canary 1 --waves 100% --failure-budget 1 --deadline 120
  check "after the reset vdev-0001 is taken again, vdev-0002 (failed once) is not" rollout_is "$RID" \
    '.devices == 5 and .waves[0].devices == ["vdev-0001"] and
     ([.events[] | select(.kind == "device-skipped") | .message | startswith("device vdev-0002 failed")] == [true])'
  ;;
continuous)
  create online=true --canary 1 --waves 100% --continuous
  wait_for 120 rollout_is "$RID" '.events[-1].kind == "waiting-for-devices"' ||
    fail "the continuous rollout did not wait for devices: $(mq --json rollout show "$RID")"
  sleep 2
  show "$RID"
  check_json "the continuous rollout stays running after its last wave" "$R" \
    '.state == "running" and .devices == 3 and .waves[1].state == "succeeded" and .plan.continuous == true'
  stop_pid "$FLEET_PID"
  start_fleet --count 4 --image "$FIX/idf_hello_world_esp32_2023.bin" # a fourth, new device
  wait_for 120 rollout_is "$RID" '.waves[1].confirmed == 3 and .devices == 4 and .waves[1].state == "succeeded"' ||
    fail "the device that came online later was not taken: $(mq --json rollout show "$RID")"
  show "$RID"
  check_json "the late device joined the last wave and confirmed" "$R" \
    '.state == "running" and .waves[1].devices == ["vdev-0002","vdev-0003","vdev-0004"] and
     ([.events[] | select(.kind == "device-joined") | .message] ==
      ["device vdev-0004 matches the filter: joined wave 1 (continuous)"]) and
     (.waves[1].deployments | length) == 2'
  devs=$(mq --json device list) || fail "device list failed"
  check_json "vdev-0004 runs the new version" "$devs" \
    '.[] | select(.id == "vdev-0004") | .version == $v' --arg v "$NEWVER"
  ;;
watch)
  create group=lab --canary 1 --waves 100% --start-at "$(( $(date +%s) + 86400 ))"
  rc=0; out=$(mq rollout watch "$RID" --timeout 1 2>&1 >/dev/null) || rc=$?
  [ "$rc" -eq 3 ] || fail "watch of a scheduled rollout with --timeout 1 exited $rc, not 3: $out"
  [ "$out" = "mqota: rollout $RID is still scheduled after the 1 s timeout; it goes on in mqotad: run 'mqota rollout watch $RID' to follow it again." ] ||
    fail "watch timeout said: $out"
  pass "watch ends at its timeout with exit 3 and its sentence"
  mq rollout abort "$RID" >/dev/null || fail "abort failed"
  rc=0; out=$(mq rollout watch "$RID" --timeout 10 2>&1 >/dev/null) || rc=$?
  [ "$rc" -eq 1 ] && [ "$out" = "mqota: rollout $RID is aborted (aborted by the operator; no further wave starts, and the offers still out are withdrawn); see 'mqota rollout show $RID'." ] ||
    fail "watch of an aborted rollout exited $rc saying: $out"
  pass "watch of an aborted rollout exits 1 naming why"
  create group=lab --canary 1 --waves 100%
  rc=0; mq --json rollout watch "$RID" --timeout 120 >"$T/watch.jsonl" 2>"$T/watch.err" || rc=$?
  [ "$rc" -eq 0 ] || fail "watch --json of a healthy rollout exited $rc: $(cat "$T/watch.err")"
  lines=$(jq -sc . "$T/watch.jsonl") || fail "watch --json printed a line that is not JSON: $(head -c 2000 "$T/watch.jsonl")"
  show "$RID"
  check_json "one event line per event of the history, in order, then the end" "$lines" \
    '[.[] | select(.type == "event") | .kind] == ($r.events | map(.kind)) and
     .[-1] == {"type": "end", "state": "finished", "exit": 0} and
     ([.[] | select(.type == "wave" and .name == "wave 1" and .state == "succeeded" and .confirmed == 3)] | length == 1)' \
    --argjson r "$R"
  out=$(mq rollout watch "$RID" 2>&1) || fail "text watch of a finished rollout failed: $out"
  [ "$(tail -n 1 <<<"$out")" = "rollout $RID finished" ] && grep -q 'canary started: release' <<<"$out" &&
    grep -q '^  wave 1: succeeded, 3 of 3 confirmed, 0 failed, 0 active$' <<<"$out" ||
    fail "text watch printed: $out"
  pass "the text watch prints the history, the waves and the end"
  ;;
esac
passed
