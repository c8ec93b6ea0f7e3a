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
#   hostile     a provisioned device publishing HEALTH by hand (mosquitto_pub): a well-formed
#               report is kept (the positive control); reset reason 16, crash length 49, a
#               control byte (ESC) or a non-ASCII byte in the crash text, a truncated one, a
#               trailing byte and a wrong type are not (and warned about); a burst of 40
#               reports in a second stores one; its report on vdev-0001's topic is dropped by
#               the broker's ACL; mqotad restarted on the same data gets the retained reports
#               again and counts no reset twice.
MODE=${3:-crash-loop}
NEWVER=v1.4.1-2-g0296947-dirty
COUNT=4
case $MODE in
  crash-loop) FAULT=(--crash-loop "$NEWVER" --crash-every 2); WITHIN=120 ;;
  healthy) FAULT=(); WITHIN=6 ;;
  hostile) FAULT=(); WITHIN=0 ;;
  *) echo "usage: test_health.sh BUILD_DIR FIXTURES_DIR [crash-loop|healthy|hostile]" >&2
     exit 2 ;;
esac
. "$(dirname "$0")/lib.sh" "$1" "$2"

rollout_is() { mq --json rollout show "$1" | jq -e "$2"; }
api_get() { curl -sf -H "$API_AUTH" "$HTTP_URL/api/v1/$1"; }
# health_is ID FILTER [JQ_ARGS...]: jq -e FILTER holds on GET /devices/ID/health.
health_is() { local id=$1 f=$2; shift 2; api_get "devices/$id/health" | jq -e "$@" "$f"; }

start_mqotad
[ "$MODE" != hostile ] || fleet_provision --count 1 --prefix evil-
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

if [ "$MODE" = hostile ]; then
  EVIL=evil-0001
  PORT=${BROKER_URL##*:}
  EVIL_PASS=$(sed -n 's/^password=//p' "$T/creds/$EVIL.cred")
  [ -n "$EVIL_PASS" ] || fail "no password for $EVIL in $T/creds/$EVIL.cred"
  # hl FILE TYPE REASON CRASH_LEN BOOT UPTIME CRASH_HEX [+]: a HEALTH payload (PROTOCOL.md §16);
  # CRASH_LEN 'auto' counts the crash bytes; a trailing '+' adds one stray byte.
  hl() {
    python3 - "$@" <<'PY'
import struct, sys
out, mtype, reason, clen, boot, up, crash, *rest = sys.argv[1:]
crash = bytes.fromhex(crash)
n = len(crash) if clen == 'auto' else int(clen)
b = b'MQ\x01' + bytes([int(mtype)]) + struct.pack('<BBbBIIII', int(reason), n, -70, 0, int(up),
                                                 int(boot), 150000, 0) + crash
open(out, 'wb').write(b + (b'\x00' if rest == ['+'] else b''))
PY
  }
  epub() { # epub TOPIC_DEVICE ARGS...: publish as the hostile device, QoS 1, retained
    local dev=$1; shift
    timeout 30 mosquitto_pub -h 127.0.0.1 -p "$PORT" -u "$EVIL" -P "$EVIL_PASS" -i "$EVIL" \
      -t "mqota/v1/dev/$dev/health" -q 1 -r "$@"
  }
  python3 - "$T/state" <<'PY'
import struct, sys
s = lambda b: bytes([len(b)]) + b
body = b'MQ\x01\x01' + bytes(4) + struct.pack('<HHIIIIIIII', 0, 16, 4096, 0, 0, 0, 0, 0, 1, 0)
open(sys.argv[1], 'wb').write(body + s(b'evil') + s(b'1') + s(b'v5.1') + s(b''))
PY
  timeout 30 mosquitto_pub -h 127.0.0.1 -p "$PORT" -u "$EVIL" -P "$EVIL_PASS" -i "$EVIL" \
    -t "mqota/v1/dev/$EVIL/state" -q 1 -r -f "$T/state" || fail "$EVIL could not publish its state"
  known() { mq --json device show "$EVIL" | jq -e '.id == "evil-0001"'; }
  wait_for 15 known || fail "$EVIL's STATE did not reach mqotad"
  hex() { printf '%s' "$1" | od -v -An -tx1 | tr -d ' \n'; }
  hl "$T/good" 8 4 auto 5 1 "$(hex boom)"
  epub "$EVIL" -f "$T/good" || fail "publish failed"
  wait_for 15 health_is "$EVIL" '.health.boot_count == 5' ||
    fail "a well-formed report from $EVIL was not kept (the positive control)"
  H=$(api_get "devices/$EVIL/health") || fail "GET health failed"
  check_json "a well-formed report is kept: panic, its crash text, -70 dBm, one reset" "$H" \
    '.health.reset_reason == "panic" and .health.crash == "boom" and .health.rssi == -70 and
     .health.min_free_heap == 150000 and .health.resets == 1 and
     [.resets[] | {reason, boot_count, crash}] == [{reason: "panic", boot_count: 5, crash: "boom"}]'
  hl "$T/m_reason" 8 16 auto 9 1 ""
  hl "$T/m_len" 8 4 49 9 1 "$(printf '%049d' 0 | od -v -An -tx1 | tr -d ' \n')"
  hl "$T/m_esc" 8 4 auto 9 1 "6f6b1b5b33316d"
  hl "$T/m_utf8" 8 4 auto 9 1 "c3a9"
  hl "$T/m_trail" 8 4 auto 9 1 "" +
  hl "$T/m_type" 7 4 auto 9 1 ""
  head -c 20 "$T/good" >"$T/m_trunc"
  for m in reason len esc utf8 trail type trunc; do
    sleep 1.1 # one report per device per second is stored: each bad one gets its own second
    epub "$EVIL" -f "$T/m_$m" || fail "publish of m_$m failed"
  done
  sleep 1.1
  hl "$T/good2" 8 5 auto 6 1 "$(hex boom2)"
  epub "$EVIL" -f "$T/good2" || fail "publish failed" # a marker after the malformed ones
  wait_for 15 health_is "$EVIL" '.health.boot_count == 6' ||
    fail "the marker after the malformed reports did not arrive: $(api_get "devices/$EVIL/health")"
  H=$(api_get "devices/$EVIL/health") || fail "GET health failed"
  check_json "no malformed report (reason 16, crash length 49, ESC, non-ASCII, trailing byte, wrong type, truncated) was kept" "$H" \
    '.health.resets == 2 and [.resets[].boot_count] == [6, 5] and .health.crash == "boom2" and
     .health.reset_reason == "int-wdt"'
  grep -q "device $EVIL sent a health report that cannot be decoded" "$T/mqotad.log" ||
    fail "mqotad did not warn about $EVIL's malformed health reports"
  # a burst: 40 reports of new boots in about a second; one is stored
  sleep 1.1
  for i in $(seq 100 139); do hl "$T/b$i" 8 4 auto "$i" 1 ""; done
  t0=$SECONDS
  for i in $(seq 100 139); do epub "$EVIL" -f "$T/b$i" || fail "a publish of the burst failed"; done
  [ $((SECONDS - t0)) -le 2 ] || fail "the burst took $((SECONDS - t0)) s, not about one"
  sleep 2
  H=$(api_get "devices/$EVIL/health") || fail "GET health failed"
  check_json "a burst of 40 reports of new boots within 2 s stored at most 3 (one per second)" "$H" \
    '.health.resets >= 3 and .health.resets <= 5'
  grep -q "device $EVIL sent more than one health report in one second" "$T/mqotad.log" ||
    fail "mqotad did not warn about $EVIL's burst"
  # another device's topic: the broker's ACL drops it
  hl "$T/spoof" 8 4 auto 999 1 "$(hex spoofed)"
  epub vdev-0001 -f "$T/spoof" || fail "publish failed"
  sleep 1.1
  hl "$T/good3" 8 3 auto 7 1 ""
  epub "$EVIL" -f "$T/good3" || fail "publish failed"
  wait_for 15 health_is "$EVIL" '.health.boot_count == 7' || fail "the marker after the spoof did not arrive"
  H=$(api_get devices/vdev-0001/health) || fail "GET health failed"
  check_json "$EVIL's report on vdev-0001's health topic was refused" "$H" \
    '.health.reset_reason == "power-on" and .health.boot_count != 999 and .health.resets == 1'
  json_get EVIL_RESETS "$(api_get "devices/$EVIL/health")" '.health.resets | numbers'
  # a restart of mqotad: the broker hands it every retained report again; no reset counted twice
  stop_pid "$FLEET_PID"
  stop_pid "$MQOTAD_PID"
  start_mqotad
  sleep 3
  H=$(api_get "devices/$EVIL/health") || fail "GET health failed"
  check_json "after a restart $EVIL's resets are as before" "$H" \
    '.health.resets == ($n | tonumber) and .health.boot_count == 7' --arg n "$EVIL_RESETS"
  H=$(api_get devices/vdev-0001/health) || fail "GET health failed"
  check_json "after a restart vdev-0001's resets are as before" "$H" '.health.resets == 1'
  passed
  exit 0
fi

if [ "$MODE" = crash-loop ]; then # over the API
  body=$(jq -nc --argjson r "$rel" --argjson w "$WITHIN" '{release: $r, filter: "group=lab",
    canary: 1, waves: ["100%"], deadline_s: 120, health: {crashes: 2, within_s: $w}}')
  out=$(curl -s -H "$API_AUTH" -H 'Content-Type: application/json' -d "$body" \
    "$HTTP_URL/api/v1/rollouts") || fail "POST /rollouts failed"
else # with the CLI
  out=$(mq --json rollout create "$rel" --filter group=lab --canary 1 --waves 100% \
    --deadline 120 --health "2/$WITHIN" 2>&1) || fail "rollout create --health was refused: $out"
  text=$(mq rollout show "$(jq -r .id <<<"$out")" 2>&1) || fail "rollout show failed: $text"
  check "rollout show states the health gate" grep -qx "  health gate: more than 2 panic or watchdog resets within $WITHIN s of confirming fail a device" <<<"$text"
  bad=$(mq rollout create "$rel" --filter group=lab --canary 1 --waves 100% --health 2 2>&1) &&
    fail "--health 2 was taken"
  check "--health without /SECONDS is a usage error" grep -q 'health takes N/SECONDS' <<<"$bad"
fi
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
    '.waves[0].state == "failed" and .waves[0].failed == 1 and .waves[0].confirmed == 0 and
     .waves[1].state == "waiting" and
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
  panicked() { jq -e '.fault_panics >= 3' "$T/fleet/fleet-status.json"; }
  wait_for 10 panicked || fail "the fleet counts fewer than 3 panics: $(cat "$T/fleet/fleet-status.json")"
  pass "the fleet's status counts the canary's panics"
  out=$(api_get devices/vdev-0001) || fail "GET /devices/vdev-0001 failed"
  check_json "GET /devices/{id} carries the health" "$out" \
    '.health.reset_reason == "panic" and .health.boot_count > 1'
  out=$(mq device show vdev-0001) || fail "device show failed"
  check "device show prints the last reset and crash" \
    grep -q '^  last reset        panic, last crash: LoadProhibited (mqota-fleet --crash-loop)$' \
    <<<"$out"
  ;;
healthy)
  wait_for 60 rollout_is "$RID" '.waves[0].watching == 1 and .waves[0].confirmed == 0' ||
    fail "the confirmed canary was never shown as watched: $(mq --json rollout show "$RID")"
  pass "the confirmed canary is watched (not yet confirmed for the wave)"
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
