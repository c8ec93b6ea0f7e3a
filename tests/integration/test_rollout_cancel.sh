#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Cancelling (docs/ROLLOUTS.md "Cancelling"), paced retries and a continuous rollout's skips,
# on a real mqotad and virtual ESP32 on hello_world 2023, taking hello_world 2024.
# MODE (third argument):
#   abort    4 devices on GPRS links, a canary of 3 (one stream): aborted mid-download, every
#            canary device's target is cancelled (counted apart from failed), mqotad keeps no
#            transfer and no stream, each device stops and reports idle on its old image,
#            the history has a device-cancelled event per device and the summary; the fleet
#            restarted receives no offer (the retained offers were cleared) and stays idle.
#   abort-on-error  4 devices, vdev-0002 on a LAN link and the others on GPRS, the new image
#            failing its self-test, --on-error abort: vdev-0002 rolls back while the other
#            two of the canary of 3 are still downloading (or not yet answering their
#            offers: GPRS is slow to start); the rollout aborts itself and
#            cancels them (history: the cause is the failed canary), counted apart from the
#            failure, and they go back to idle on their old image.
#   cancel   'mqota deployment cancel' on a hold deployment whose 2 devices hold the image
#            (they drop it: idle on the old image) and on a running one mid-download; a second
#            cancel is refused (409), an unknown deployment is 404; a device that comes back
#            downloading the release with no target (faked: it missed the empty offer) gets
#            its offer cleared again; /metrics counts the cancelled deployments.
#   retry    9 devices, canary 8 paced by --max-transfers 2: the new image fails its
#            self-test, the canary fails and pauses; without the fault, 'mqota rollout retry'
#            offers the 8 again paced: mqotad's in_flight, sampled all through the retry,
#            never exceeds 2 and reaches it, the retry takes several deployments, and the
#            canary succeeds.
#   skip     a continuous rollout over group lab: a device already on the release added to
#            the group later is skipped with one device-skipped event, however many ticks
#            pass; a device added with it joins.
MODE=${3:-abort}
NEWVER=v1.4.1-2-g0296947-dirty
case $MODE in
  abort) COUNT=4; FAULT=(--link gprs) ;;
  abort-on-error) COUNT=4; FAULT=(--link lan:25,gprs:75 --fail-self-test "$NEWVER") ;;
  cancel) COUNT=4; FAULT=(--link gprs) ;;
  retry) COUNT=9; FAULT=(--fail-self-test "$NEWVER") ;;
  skip) COUNT=4; FAULT=() ;;
  *) echo "usage: test_rollout_cancel.sh BUILD_DIR FIXTURES_DIR [abort|abort-on-error|cancel|retry|skip]" >&2
     exit 2 ;;
esac
. "$(dirname "$0")/lib.sh" "$1" "$2"

rollout_is() { mq --json rollout show "$1" | jq -e "$2"; }
devices_are() { mq --json device list | jq -e "${@:2}" "$1"; }
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
# idle_on_old IDS_JSON: every device named is idle and runs the old version.
idle_on_old() {
  mq --json device list |
    jq -e --argjson ids "$1" --arg v "$oldver" \
      '[.[] | select(.id as $i | $ids | index($i)) | select(.state == "idle" and .version == $v)]
       | length == ($ids | length)'
}
# status_is FILTER: mqotad's /api/v1/health (transfers, streams) matches FILTER.
status_is() { mq --json status | jq -e "$1"; }

start_mqotad
start_fleet --count $COUNT --image "$FIX/idf_hello_world_esp32_2023.bin" ${FAULT[@]+"${FAULT[@]}"}
wait_online $COUNT 60
mq group create lab >/dev/null || fail "group create lab failed"
devs=$(mq --json device list) || fail "device list failed"
json_get oldver "$devs" '.[] | select(.id == "vdev-0001") | .version'
add_release "$FIX/idf_hello_world_esp32_2024.bin"; rel=$RELEASE_ID

case $MODE in
abort)
  mq group add lab $(fleet_ids --count $COUNT) >/dev/null || fail "group add failed"
  create group=lab --canary 3 --waves 100%
  # mid-download: every canary device has written something, none has finished
  wait_for 60 devices_are '[.[] | select(.state == "downloading" and .progress > 8192)] | length == 3' ||
    fail "the canary did not start downloading: $(mq --json device list)"
  check "mqotad transfers the canary's devices" status_is '.transfers >= 1'
  mq rollout abort "$RID" >/dev/null || fail "rollout abort failed"
  show "$RID"
  json_get dep "$R" '.waves[0].deployment | numbers'
  out=$(mq --json deployment show "$dep") || fail "deployment show failed: $out"
  check_json "the canary's deployment is cancelled, its targets cancelled, not failed" "$out" \
    '.state == "cancelled" and .cancelled == 3 and .failed == 0 and .succeeded == 0 and
     .pending == 0 and .active == 0 and
     ([.targets[] | select(.state == "cancelled" and .reason == "rollout-aborted")] | length == 3)'
  check_json "the wave counts them as cancelled" "$R" \
    '.state == "aborted" and .waves[0].cancelled == 3 and .waves[0].failed == 0'
  check_json "the history records each cancelled device with its cause, and the summary" "$R" \
    '([.events[] | select(.kind == "device-cancelled") | .message |
       test("^device vdev-000[1-3] of the canary cancelled \\(target active, [0-9]+ % downloaded\\): the rollout was aborted by the operator; its offer was withdrawn$")]
      == [true, true, true]) and
     ([.events[] | select(.kind == "cancelled") | .message] ==
      ["3 devices cancelled, 0 left to finish: the rollout was aborted by the operator"])'
  check "mqotad keeps no transfer and no stream" wait_for 10 status_is '.transfers == 0 and .streams == 0'
  wait_for 30 idle_on_old '["vdev-0001","vdev-0002","vdev-0003"]' ||
    fail "the canary's devices did not go back to idle on $oldver: $(mq --json device list)"
  pass "each canary device stopped its download and is idle on its old image $oldver"
  # the retained offers are gone: devices that connect again are offered nothing
  stop_pid "$FLEET_PID"
  start_fleet --count $COUNT ${FAULT[@]+"${FAULT[@]}"}
  wait_online $COUNT 60
  sleep 3
  check "after a restart of the fleet no device is offered the release again" \
    devices_are '[.[] | select(.state == "idle" and .version == $v)] | length == 4' --arg v "$oldver"
  check "and mqotad transfers nothing" status_is '.transfers == 0'
  ;;
abort-on-error)
  mq group add lab $(fleet_ids --count $COUNT) >/dev/null || fail "group add failed"
  create group=lab --canary 3 --waves 100% --on-error abort
  wait_for 90 rollout_is "$RID" '.state == "aborted"' ||
    fail "the failing canary did not abort the rollout: $(mq --json rollout show "$RID")"
  show "$RID"
  check_json "the canary: vdev-0002 failed, the two still downloading cancelled" "$R" \
    '.waves[0].state == "failed" and .waves[0].failed == 1 and .waves[0].cancelled == 2 and
     .waves[0].confirmed == 0 and .waves[1].deployment == null'
  check_json "the history: the wave failed, the rollout aborted itself and cancelled the two" "$R" \
    '([.events[] | select(.kind == "device-cancelled") | .message |
       test("^device vdev-000[13] of the canary cancelled \\(target (pending|active)[^)]*\\): the rollout aborted itself when the canary failed; its offer was withdrawn$")]
      == [true, true]) and
     ([.events[] | select(.kind == "wave-failed") | .message | test("rollout aborted$")] == [true])'
  wait_for 30 idle_on_old '["vdev-0001","vdev-0003"]' ||
    fail "the cancelled devices did not go back to idle on $oldver: $(mq --json device list)"
  pass "the cancelled devices are idle on their old image $oldver"
  check "mqotad keeps no transfer and no stream" wait_for 10 status_is '.transfers == 0 and .streams == 0'
  ;;
cancel)
  out=$(mq --json deploy "$rel" vdev-0001 vdev-0002 --hold 2>&1) || fail "deploy --hold failed: $out"
  json_get held "$out" '.id | numbers'
  wait_for 90 devices_are '[.[] | select(.state == "held")] | length == 2' ||
    fail "the two devices do not hold the release: $(mq --json device list)"
  out=$(mq deployment cancel "$held" 2>&1) || fail "deployment cancel $held failed: $out"
  [ "$out" = "deployment $held: cancelled, 2 targets cancelled (offers withdrawn), 0 left to finish, 0 succeeded, 0 failed" ] ||
    fail "deployment cancel printed: $out"
  pass "'mqota deployment cancel' of a held deployment says what it did"
  wait_for 20 idle_on_old '["vdev-0001","vdev-0002"]' ||
    fail "the devices holding the release did not drop it: $(mq --json device list)"
  pass "devices holding the image drop it and stay on $oldver"
  out=$(mq --json deploy "$rel" vdev-0003 vdev-0004 2>&1) || fail "deploy failed: $out"
  json_get run "$out" '.id | numbers'
  wait_for 60 devices_are '[.[] | select(.state == "downloading" and .progress > 8192)] | length == 2' ||
    fail "the two devices did not start downloading: $(mq --json device list)"
  out=$(mq --json deployment cancel "$run" 2>&1) || fail "deployment cancel $run failed: $out"
  check_json "a running deployment is cancelled: its targets cancelled, not failed" "$out" \
    '.state == "cancelled" and .cancelled == 2 and .kept == 0 and .failed == 0 and
     ([.targets[] | select(.state == "cancelled" and .reason == "operator")] | length == 2)'
  wait_for 30 idle_on_old '["vdev-0003","vdev-0004"]' ||
    fail "the downloading devices did not go back to idle: $(mq --json device list)"
  check "mqotad keeps no transfer and no stream" wait_for 10 status_is '.transfers == 0 and .streams == 0'
  rc=0; out=$(mq deployment cancel "$run" 2>&1 >/dev/null) || rc=$?
  [ "$rc" -ne 0 ] && [ "$out" = "mqota: deployment $run is cancelled; only a running deployment can be cancelled" ] ||
    fail "a second cancel exited $rc saying: $out"
  pass "a second cancel is refused with its sentence"
  code=$(curl -s -o "$T/resp.json" -w '%{http_code}' -X POST -H "$API_AUTH" \
    "$HTTP_URL/api/v1/deployments/999/cancel") || fail "curl failed"
  [ "$code" = 404 ] || fail "cancel of an unknown deployment answered $code: $(cat "$T/resp.json")"
  pass "cancel of an unknown deployment is 404"
  # a device away (link down, clean session) when its offer was withdrawn misses the empty
  # retained offer and comes back still downloading: faked with mosquitto_pub, its STATE
  # (downloading the release, no running target) makes mqotad clear its offer again
  fleet_provision --count 1 --prefix ghost-
  gpass=$(sed -n 's/^password=//p' "$T/creds/ghost-0001.cred")
  [ -n "$gpass" ] || fail "no password in $T/creds/ghost-0001.cred"
  python3 - "$T/ghost_state" "$rel" <<'PY'
import struct, sys
s = lambda b: bytes([len(b)]) + b
body = b'MQ\x01\x01' + struct.pack('<BBBBHHIIIIIIII', 2, 0, 0, 0, 0, 16, 4096, 0, 0,
                                   int(sys.argv[2]), 8192, 124416, 1, 0)
open(sys.argv[1], 'wb').write(body + s(b'hello_world') + s(b'1') + s(b'v5.1') + s(b''))
PY
  timeout 30 mosquitto_pub -h 127.0.0.1 -p "${BROKER_URL##*:}" -u ghost-0001 -P "$gpass" \
    -i ghost-0001 -t mqota/v1/dev/ghost-0001/state -q 1 -r -f "$T/ghost_state" ||
    fail "ghost-0001 could not publish its state"
  wait_for 15 grep -q "device ghost-0001 downloads release $rel for no running deployment: its offer is cleared so that it stops" "$T/mqotad.log" ||
    fail "mqotad did not clear the offer of a device downloading a release it has no target of"
  pass "a device back downloading a withdrawn release gets its offer cleared again"
  curl -s -H "$API_AUTH" "$HTTP_URL/metrics" >"$T/metrics.txt" || fail "GET /metrics failed"
  grep -qx 'mqotad_deployments{state="cancelled"} 2' "$T/metrics.txt" ||
    fail "/metrics does not count 2 cancelled deployments: $(grep mqotad_deployments "$T/metrics.txt")"
  pass "/metrics counts the cancelled deployments"
  ;;
retry)
  mq group add lab $(fleet_ids --count $COUNT) >/dev/null || fail "group add failed"
  create group=lab --canary 8 --waves 100% --max-transfers 2 --error 100 --deadline 300
  wait_for 120 rollout_is "$RID" '.state == "paused"' ||
    fail "the failing canary did not pause the rollout: $(mq --json rollout show "$RID")"
  show "$RID"
  check_json "the canary failed on all 8" "$R" '.waves[0].state == "failed" and .waves[0].failed == 8'
  stop_pid "$FLEET_PID" # the same devices, without the fault
  start_fleet --count $COUNT
  wait_online $COUNT 60
  mq rollout retry "$RID" >/dev/null || fail "rollout retry failed"
  max=0 samples=0 end=$((SECONDS + 180))
  while [ "$SECONDS" -lt "$end" ]; do
    out=$(mq --json rollout show "$RID") || fail "rollout show $RID failed: $out"
    n=$(jq -e '.in_flight | numbers' <<<"$out") || fail "no in_flight in: $out"
    samples=$((samples + 1))
    [ "$n" -le 2 ] || fail "the retry had $n devices transferring at once (cap 2): $out"
    [ "$n" -le "$max" ] || max=$n
    jq -e '.waves[0].state == "running"' <<<"$out" >/dev/null || break
    sleep 0.2
  done
  log "in_flight sampled $samples times during the retry, at most $max"
  [ "$max" -eq 2 ] || fail "the cap was never reached during the retry (at most $max in $samples samples)"
  pass "the retry never had more than 2 devices transferring, and reached 2"
  show "$RID"
  check_json "the retried canary succeeded, offered in several deployments" "$R" \
    '.waves[0].state == "succeeded" and .waves[0].confirmed == 8 and
     (.waves[0].deployments | length) >= 8'
  check_json "the history: a paced retry, each later offer under the cap" "$R" \
    '([.events[] | select(.kind == "wave-retried") | .message] ==
      ["canary retried by the operator: release \($r) to be offered again to the 8 devices that did not confirm, paced (transfer cap 2, offers spread over 0 s)"]) and
     ([.events as $e | ($e | map(.kind) | index("wave-retried")) as $i | $e[$i:][] |
       select(.kind == "offered") | .message | capture("; (?<n>[0-9]+) transferring \\(cap 2\\)").n | tonumber]
      | length >= 4 and max <= 2)' --argjson r "$rel"
  ;;
skip)
  out=$(mq --json deploy "$rel" vdev-0004 2>&1) || fail "deploy to vdev-0004 failed: $out"
  json_get dep "$out" '.id | numbers'
  watch "$dep" 120 || fail "vdev-0004 did not take the release"
  mq group add lab vdev-0001 vdev-0002 >/dev/null || fail "group add failed"
  create group=lab --canary 1 --waves 100% --continuous
  wait_for 120 rollout_is "$RID" '.events[-1].kind == "waiting-for-devices"' ||
    fail "the continuous rollout did not wait for devices: $(mq --json rollout show "$RID")"
  mq group add lab vdev-0003 vdev-0004 >/dev/null || fail "group add of the later devices failed"
  wait_for 60 rollout_is "$RID" '.waves[1].confirmed == 2' ||
    fail "vdev-0003 did not join and confirm: $(mq --json rollout show "$RID")"
  sleep 3 # three more ticks, each of which sees vdev-0004 again
  show "$RID"
  check_json "vdev-0004 (on the release) is skipped once, vdev-0003 joined" "$R" \
    '([.events[] | select(.kind == "device-skipped") | .message] ==
      ["device vdev-0004 already runs the release'"'"'s version \($n): skipped"]) and
     ([.events[] | select(.kind == "device-joined") | .message] ==
      ["device vdev-0003 matches the filter: joined wave 1 (continuous)"]) and .devices == 3' \
    --arg n "$NEWVER"
  ;;
esac
passed
