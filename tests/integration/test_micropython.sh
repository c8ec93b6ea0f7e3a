#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The MicroPython agent (ports/micropython) on the real MicroPython interpreter (the unix port,
# built once per build directory from ../shared/sdk/micropython into BUILD/micropython) against
# mqotad and its mosquitto: one virtual ESP32 (tests/emu/micropython: the esp32 module over the
# flash file, machine.reset() as an exit that run_device.sh answers with a virtual boot by
# mqota-vboot) starts on hello_world 2023 in slot 0 and is offered hello_world 2024. MODE:
#   update     it downloads, verifies, reboots into slot 1, self-tests and confirms; telemetry
#              it publishes reaches mqotad
#   link-cut   as update (with the 968,768-byte nerdminer image), through mqota-linkemu (lte)
#              that is killed twice mid-transfer and started again: the agent reconnects with
#              backoff and resumes; what was re-sent stays within one window per cut
#   kill       as link-cut, but the MicroPython process is killed (SIGKILL) mid-transfer and
#              started again: it resumes from its progress record, not from chunk 0
#   corrupt    the flash stand-in flips one byte the chunk CRC cannot see: hash-mismatch, the
#              old image keeps running from slot 0 (also after a reboot)
#   rollback   the new image's self-test fails: the agent boots slot 0 again, which reports
#              rolled-back with reason self-test; a reset afterwards boots slot 0 again
#   stream     as update, through mqota-linkemu (lte), beside a POSIX virtual ESP32 (mqota-fleet)
#              taking the same release: mqotad offers both the release's multicast stream
#              (section 13), which the agent joins while chunks already flow; both confirm
#   commands   the device takes sealed commands (its command_key; pure-Python AES-256-GCM):
#              diagnostics agree with its STATE, the application's relay on/off answers,
#              unknown-command, wrong-state for confirm, failed for a bad argument, a captured
#              frame published again is refused (refused-replay) and not run; reboot answers
#              and the board boots again
#   confirm-cmd  the device takes sealed commands and confirms by command: hello_world 2024
#              waits in pending-verify on slot 1 (its self-test passed) until 'confirm' makes it
#              confirmed; the nerdminer image then waits on slot 0 and 'rollback' sends it back
#              to slot 1 (rolled-back, reason command); confirm on an idle device: wrong-state
#   signed     mqotad trusts release keys A and B, the device only A and requires signatures
#              (pure-Python ECDSA P-256): an unsigned release is refused (unsigned), one signed
#              with B is refused (signature), one signed with A is confirmed
MODE=${3:-update}
case $MODE in update|link-cut|kill|corrupt|rollback|signed|stream|commands|confirm-cmd) ;;
  *) echo "usage: test_micropython.sh BUILD_DIR FIXTURES_DIR [update|link-cut|kill|corrupt|rollback|signed|stream|commands|confirm-cmd]" >&2
     exit 2 ;;
esac
. "$(dirname "$0")/lib.sh" "$1" "$2"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
UPY=$BUILD/micropython/micropython
VBOOT=$BUILD/tests/emu/micropython/mqota-vboot
DEV=upy-0001
NEW=idf_hello_world_esp32_2024.bin NEWVER=v1.4.1-2-g0296947-dirty
# resuming needs a transfer long enough to interrupt: the 968,768-byte image over lte
if [ "$MODE" = link-cut ] || [ "$MODE" = kill ]; then
  NEW=arduino_nerdminer_esp32_v1.6.3.bin NEWVER=v1.6.3
fi
DEV_PID=""
LINK_PID=""

# The interpreter: built once per build directory (about 50 s), under a lock.
rc=0
"$ROOT/tests/emu/micropython/ensure_interpreter.sh" "$BUILD" || rc=$?
[ "$rc" -ne 77 ] || exit 77
[ "$rc" -eq 0 ] || fail "building MicroPython into $BUILD/micropython failed"
[ -x "$VBOOT" ] || fail "$VBOOT is not built (cmake --build BUILD --target mqota-vboot)"

stop_device() { stop_pid "$DEV_PID"; DEV_PID=""; stop_pid "$LINK_PID"; LINK_PID=""; }
trap 'rc=$?; stop_device; cleanup $rc' EXIT

# start_device: run_device.sh in the background, to the broker or to $LINK_PORT if set.
start_device() {
  local port=${BROKER_URL##*:}
  [ -z "${LINK_PORT:-}" ] || port=$LINK_PORT
  MQOTA_UPY_CRED=$T/creds/$DEV.cred MQOTA_UPY_HOST=127.0.0.1 MQOTA_UPY_PORT=$port \
    "$ROOT/tests/emu/micropython/run_device.sh" "$BUILD" "$T/dev.flash" "$T/dev" \
    >>"$T/device.log" 2>&1 &
  DEV_PID=$!
}

start_link() {
  "$BUILD/fleet/mqota-linkemu" --upstream "$BROKER_URL" --profile lte --listen-port "$LINK_PORT" \
    >>"$T/linkemu.log" 2>&1 &
  LINK_PID=$!
  wait_for 10 grep -q "listening\|profile" "$T/linkemu.log" || fail "mqota-linkemu did not start"
}

device_json() { mq --json device list | jq -ec --arg d "$DEV" '.[] | select(.id == $d)'; }
device_is() { device_json | jq -e "$1" >/dev/null; }
boots() { grep -c '^boot:' "$T/device.log"; }
booted_more_than() { [ "$(boots)" -gt "$1" ] && [ "$(grep -c 'connected to' "$T/device.log")" -gt "$2" ]; }
# restart_device: stop the device (and its boot loop) and start it again; wait until it booted
# and connected once more.
restart_device() {
  local b c
  b=$(boots); c=$(grep -c 'connected to' "$T/device.log")
  stop_device
  start_device
  wait_for 60 booted_more_than "$b" "$c" || fail "the device did not boot and connect again"
}
has_telemetry() {
  mq --json device telemetry "$DEV" |
    jq -e '[.names[] | select(.name == "temperature" or .name == "count") | .points] | length == 2 and min >= 1'
}
progress_at_least() {
  mq --json deployment show "$dep" | jq -e --argjson p "$1" '.targets[0].progress >= $p' >/dev/null
}

if [ "$MODE" = signed ]; then
  mq key generate "$T/A" >/dev/null
  mq key generate "$T/B" >/dev/null
  MQOTA_UPY_TRUST_KEY=$(openssl ec -pubin -in "$T/A.pub.pem" -outform DER 2>/dev/null | tail -c 64 | od -An -v -tx1 | tr -d ' \n')
  [ ${#MQOTA_UPY_TRUST_KEY} -eq 128 ] || fail "could not read the raw public key of $T/A.pub.pem"
  export MQOTA_UPY_TRUST_KEY
  start_mqotad --trusted-key "$T/A.pub.pem" --trusted-key "$T/B.pub.pem"
else
  start_mqotad
fi
fleet_provision --count 1 --prefix upy-
"$VBOOT" create "$T/dev.flash" 0 "$FIX/idf_hello_world_esp32_2023.bin" >>"$T/device.log" 2>&1 ||
  fail "mqota-vboot could not make the flash file: $(tail -n 2 "$T/device.log")"
mkdir -p "$T/dev"
[ "$MODE" != corrupt ] || export MQOTA_UPY_FLIP_BYTE=50000
[ "$MODE" != rollback ] || touch "$T/dev/selftest.fail"
[ "$MODE" != update ] || export MQOTA_UPY_TELEMETRY=1
[ "$MODE" != commands ] || export MQOTA_UPY_COMMANDS=1
if [ "$MODE" = confirm-cmd ]; then export MQOTA_UPY_COMMANDS=1 MQOTA_UPY_CONFIRM_BY_COMMAND=1; fi
if [ "$MODE" = link-cut ] || [ "$MODE" = kill ] || [ "$MODE" = stream ]; then
  LINK_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  start_link
fi
start_device
if [ "$MODE" = stream ]; then
  start_fleet --count 1 --image "$FIX/idf_hello_world_esp32_2023.bin"
  wait_online 2 60
else
  wait_online 1 60
fi
wait_for 30 device_is '.slot == 0 and .version == "1" and .state == "idle"' ||
  fail "the MicroPython device does not report version 1 idle on slot 0: $(mq --json device list)"
pass "the MicroPython device is online, idle, version 1 on slot 0"

if [ "$MODE" = commands ]; then
  takes_commands() { mq --json device show "$DEV" | jq -e '.takes_commands == true'; }
  wait_for 20 takes_commands || fail "mqotad does not see $DEV take commands: $(mq --json device show "$DEV")"
  mq --json device command "$DEV" diagnostics >"$T/diag.json" || fail "diagnostics: $(cat "$T/diag.json")"
  check_json "diagnostics disagree with the device's STATE" "$(cat "$T/diag.json")" \
    '.result == "ok" and .diagnostics.slot == "0" and .diagnostics.state == "idle" and
     .diagnostics.version == "1" and .diagnostics.project == "hello_world" and
     (.diagnostics.uptime_ms | tonumber) > 0'
  # capture the sealed 'relay on' frame on its way, as mqotad's broker user (an insider who
  # can publish: the device must still refuse it), on mqotad's own listener (test_commands.sh)
  SPW=$(cat "$T/server/auth/mqotad.pass") || fail "cannot read mqotad's broker password"
  SOCK=$T/server/broker/mqotad.sock
  timeout 40 stdbuf -oL mosquitto_sub --unix "$SOCK" -u mqotad -P "$SPW" -q 1 \
    -t "mqota/v1/dev/$DEV/cmd" -C 1 -W 30 -F %x -d >"$T/relay.cap" 2>&1 &
  cap=$!
  wait_for 10 grep -q SUBACK "$T/relay.cap" || fail "no SUBACK for the capture"
  out=$(mq device command "$DEV" relay --arg on) || fail "relay on failed: $out"
  [ "$out" = "relay=on" ] || fail "relay on answered '$out'"
  wait "$cap" || true
  frame=$(grep -E '^[0-9a-f]+$' "$T/relay.cap" | tail -n 1 || true)
  [ -n "$frame" ] || fail "no sealed frame captured: $(cat "$T/relay.cap")"
  out=$(mq device command "$DEV" relay --arg off) || fail "relay off failed: $out"
  [ "$out" = "relay=off" ] || fail "relay off answered '$out'"
  pass "relay on -> relay=on, relay off -> relay=off"
  rc=0; mq device command "$DEV" selfdestruct >/dev/null 2>"$T/err" || rc=$?
  [ "$rc" -eq 1 ] && grep -q "unknown-command" "$T/err" || fail "unknown command: rc $rc, $(cat "$T/err")"
  rc=0; mq device command "$DEV" confirm >/dev/null 2>"$T/err" || rc=$?
  [ "$rc" -eq 1 ] && grep -q "wrong-state" "$T/err" || fail "confirm on idle: rc $rc, $(cat "$T/err")"
  rc=0; mq --json device command "$DEV" relay --arg maybe >"$T/bad.json" 2>/dev/null || rc=$?
  [ "$rc" -eq 1 ] && jq -e '.result == "failed"' "$T/bad.json" >/dev/null ||
    fail "relay maybe: rc $rc, $(cat "$T/bad.json")"
  pass "unknown-command, wrong-state and failed answered as such"
  printf "$(sed 's/../\\x&/g' <<<"$frame")" >"$T/relay.bin"
  timeout 15 mosquitto_pub --unix "$SOCK" -u mqotad -P "$SPW" -q 1 -t "mqota/v1/dev/$DEV/cmd" \
    -f "$T/relay.bin" || fail "could not publish the captured frame again"
  replay_refused() { grep -q "command refused: result 17" "$T/device.log"; }
  wait_for 20 replay_refused || fail "the replayed 'relay on' frame was not refused as a replay"
  [ "$(grep -c 'command [0-9]* relay: result 0' "$T/device.log")" -eq 2 ] ||
    fail "relay ran $(grep -c 'command [0-9]* relay: result 0' "$T/device.log") times, expected 2 (on, off)"
  pass "the captured 'relay on' frame published again was refused (refused-replay), not run"
  # reboot: answered, then machine.reset(); the board boots again with a higher boot count
  json_get bc0 "$(mq --json device command "$DEV" diagnostics)" '.diagnostics.boot_count | strings'
  out=$(mq --json device command "$DEV" reboot) || fail "reboot failed: $out"
  check_json "reboot was not answered ok" "$out" '.result == "ok"'
  rebooted() { mq --json device show "$DEV" | jq -e --argjson b "$bc0" '.boot_count > $b and .online == true'; }
  wait_for 30 rebooted || fail "the device did not come back after reboot: $(mq --json device show "$DEV")"
  [ "$(grep -c '^boot:' "$T/device.log")" -eq 2 ] || fail "expected two boots in device.log"
  pass "reboot answered ok, the board booted again (boot count above $bc0)"
  passed
  exit 0
fi
if [ "$MODE" = confirm-cmd ]; then
  # cmd_result NAME: the result of the command NAME on $DEV ('mqota --json device command')
  cmd_result() { mq --json device command "$DEV" "$1" 2>/dev/null | jq -r '.result'; }
  [ "$(cmd_result confirm)" = wrong-state ] || fail "confirm on an idle device is not wrong-state"
  add_release "$FIX/$NEW" --version "$NEWVER"; rel=$RELEASE_ID
  deploy_all "$rel"; dep=$DEPLOYMENT_ID
  wait_for 60 device_is ".slot == 1 and .state == \"pending-verify\" and .version == \"$NEWVER\"" ||
    fail "the device does not wait in pending-verify on slot 1: $(mq --json device list)"
  wait_for 20 grep -q "waiting for the confirm command" "$T/device.log" || fail "the self-test did not pass"
  sleep 2
  device_is '.state == "pending-verify"' || fail "the device did not wait for the confirm command"
  [ "$(cmd_result confirm)" = ok ] || fail "confirm in pending-verify was not ok"
  watch "$dep" 60 || fail "deployment $dep did not succeed after confirm"
  wait_for 20 device_is ".slot == 1 and .state == \"confirmed\" and .version == \"$NEWVER\"" ||
    fail "the device is not confirmed on slot 1 after confirm: $(mq --json device list)"
  pass "confirmed by command after waiting in pending-verify"
  add_release "$FIX/arduino_nerdminer_esp32_v1.6.3.bin" --version v1.6.3; rel2=$RELEASE_ID
  deploy_all "$rel2"; dep2=$DEPLOYMENT_ID
  wait_for 60 device_is '.slot == 0 and .state == "pending-verify" and .version == "v1.6.3"' ||
    fail "the device does not wait in pending-verify on slot 0: $(mq --json device list)"
  [ "$(cmd_result rollback)" = ok ] || fail "rollback in pending-verify was not ok"
  rc=0; watch "$dep2" 60 || rc=$?
  [ "$rc" -eq 1 ] || fail "deployment $dep2 watch exited $rc, expected 1 (rolled back)"
  wait_for 20 device_is ".slot == 1 and .state == \"rolled-back\" and .reason == \"command\" and .version == \"$NEWVER\"" ||
    fail "the device is not rolled back to slot 1 (reason command): $(mq --json device list)"
  pass "rolled back by command to $NEWVER on slot 1"
  passed
  exit 0
fi
if [ "$MODE" = signed ]; then
  # variant VERSION: $T/VERSION.bin, the image with that descriptor version (its checksum and
  # appended SHA-256 made again), so that each release below is a distinct valid image
  variant() {
    python3 - "$FIX/$NEW" "$T/$1.bin" "$1" <<'PY'
import hashlib, struct, sys
b = bytearray(open(sys.argv[1], 'rb').read())
b[48:80] = sys.argv[3].encode()[:31].ljust(32, b'\0')   # esp_app_desc_t.version
off, cks = 24, 0xEF
for _ in range(b[1]):
    _, ln = struct.unpack_from('<II', b, off); off += 8
    for x in b[off:off + ln]: cks ^= x
    off += ln
off += 15 - off % 16
b[off] = cks; off += 1
if b[23] == 1: b[off:off + 32] = hashlib.sha256(bytes(b[:off])).digest()
open(sys.argv[2], 'wb').write(b)
PY
  }
  # refused_release WHY VERSION ARGS...: a release of variant VERSION added with ARGS is refused
  # by the device for WHY
  refused_release() {
    local why=$1 v=$2 rc=0; shift 2
    variant "$v" || fail "could not make the image variant $v"
    add_release "$T/$v.bin" --version "$v" "$@"; deploy_all "$RELEASE_ID"
    watch "$DEPLOYMENT_ID" 60 || rc=$?
    [ "$rc" -eq 1 ] || fail "deployment watch exited $rc for a release the device must refuse ($why)"
    d=$(mq --json deployment show "$DEPLOYMENT_ID") || fail "deployment show failed"
    check_json "the server did not record $why" "$d" ".failed == 1 and .targets[0].reason == \"$why\""
    wait_for 20 device_is ".slot == 0 and .version == \"1\" and .state == \"failed\" and .reason == \"$why\"" ||
      fail "the device does not report $why on slot 0: $(mq --json device list)"
  }
  refused_release unsigned unsigned
  refused_release signature signed-b --sign-key "$T/B.key.pem"
  grep -q "signature does NOT verify" "$T/device.log" || fail "the agent did not verify B's signature"
  pass "unsigned and B-signed releases refused before anything was erased"
  NEWVER=signed-a
  variant "$NEWVER" || fail "could not make the image variant $NEWVER"
  add_release "$T/$NEWVER.bin" --version "$NEWVER" --sign-key "$T/A.key.pem"
fi
[ "$MODE" = signed ] || add_release "$FIX/$NEW" --version "$NEWVER"
rel=$RELEASE_ID
deploy_all "$rel"; dep=$DEPLOYMENT_ID
SIZE=$(stat -c %s "$FIX/$NEW")

case $MODE in
  link-cut)
    for cut in 1 2; do
      wait_for 120 progress_at_least $((cut * SIZE / 3)) || fail "no progress to cut $cut at"
      stop_pid "$LINK_PID"; LINK_PID=""
      log "link cut $cut (mqota-linkemu stopped)"
      sleep 2
      start_link
    done ;;
  kill)
    wait_for 120 progress_at_least $((SIZE / 3)) || fail "no progress to kill the device at"
    kill -KILL "$(cat "$T/dev/upy.pid")"  # power cut: run_device.sh ends with the interpreter
    wait "$DEV_PID" 2>/dev/null || true
    DEV_PID=""
    log "MicroPython process killed"
    start_device ;;
esac

rc=0
watch "$dep" 240 || rc=$?
d=$(mq --json deployment show "$dep") || fail "deployment show $dep failed"
case $MODE in
  update|link-cut|kill|signed|stream)
    [ "$rc" -eq 0 ] || fail "deployment watch exited $rc: $d"
    check_json "the targets did not all succeed" "$d" '.succeeded == (.targets | length) and .failed == 0'
    wait_for 20 device_is ".slot == 1 and .version == \"$NEWVER\" and .state == \"confirmed\"" ||
      fail "the device does not run $NEWVER confirmed from slot 1: $(mq --json device list)"
    pass "the device runs $NEWVER from slot 1, confirmed"
    grep -q "boot: slot=1 state=1 " "$T/device.log" ||
      fail "the virtual bootloader never booted slot 1 pending-verify"
    json_get resent "$d" '.targets[] | select(.device == $d) | .bytes_resent | numbers' --arg d "$DEV"
    json_get sent "$d" '.targets[] | select(.device == $d) | .bytes_sent | numbers' --arg d "$DEV"
    log "bytes sent $sent, re-sent $resent for a $SIZE-byte image"
    ;;
esac
case $MODE in
  update)
    [ "$resent" -eq 0 ] || fail "$resent bytes re-sent on a clean link"
    wait_for 20 has_telemetry || fail "no telemetry from the MicroPython device in 20 s: $(mq --json device telemetry "$DEV")"
    pass "the agent's telemetry (temperature, count) reached mqotad"
    ;;
  link-cut)
    [ "$(grep -c 'connection lost' "$T/device.log")" -ge 2 ] ||
      fail "the agent did not see two lost connections"
    # each cut may cost what was in flight (a window of 16 chunks) and the backoff's REQUEST
    [ "$resent" -le $((2 * 16 * 4096)) ] || fail "$resent bytes re-sent after 2 cuts (limit 2 x 16 x 4096)"
    pass "two link cuts, $resent bytes re-sent"
    ;;
  stream)
    grep -q "offered release $rel .* to $DEV: .*, stream" "$T/mqotad.log" ||
      fail "mqotad did not offer the stream to $DEV"
    pass "$DEV took release $rel from a multicast stream beside a C agent"
    ;;
  signed)
    grep -q "offer of release $rel: signature verified" "$T/device.log" ||
      fail "the agent did not verify A's signature"
    pass "the release signed with A was verified and confirmed: $(grep -o 'signature verified ([0-9]* ms)' "$T/device.log")"
    ;;
  kill)
    grep -q "resuming release $rel at chunk [1-9]" "$T/device.log" ||
      fail "the restarted agent did not resume from its progress record"
    [ "$sent" -le $((SIZE + 2 * 16 * 4096)) ] || fail "$sent bytes sent for a $SIZE-byte image after one kill"
    pass "resumed after SIGKILL, $sent bytes sent for $SIZE"
    ;;
  corrupt)
    [ "$rc" -eq 1 ] || fail "deployment watch should exit 1, got $rc: $d"
    check_json "the server did not record hash-mismatch" "$d" \
      '.failed == 1 and .targets[0].reason == "hash-mismatch"'
    wait_for 20 device_is '.slot == 0 and .version == "1" and .state == "failed" and .reason == "hash-mismatch"' ||
      fail "the device does not report hash-mismatch on slot 0: $(mq --json device list)"
    restart_device
    [ "$(grep -c '^boot: slot=0 ' "$T/device.log")" -eq 2 ] && ! grep -q '^boot: slot=1' "$T/device.log" ||
      fail "the device did not boot slot 0 again: $(grep '^boot:' "$T/device.log")"
    pass "a corrupted image was refused and slot 0 boots again"
    ;;
  rollback)
    [ "$rc" -eq 1 ] || fail "deployment watch should exit 1, got $rc: $d"
    check_json "the server did not record self-test" "$d" \
      '.failed == 1 and .targets[0].reason == "self-test"'
    wait_for 20 device_is '.slot == 0 and .version == "1" and .state == "rolled-back" and .reason == "self-test"' ||
      fail "the device is not rolled back to slot 0 with reason self-test: $(mq --json device list)"
    grep -q "boot: slot=1 state=1 " "$T/device.log" || fail "slot 1 never booted pending-verify"
    grep -q "rolling back release $rel: reason 8" "$T/device.log" ||
      fail "the agent on slot 1 did not roll back for its self-test (reason 8)"
    # slot 0 was marked valid again: a reset now boots it, not the failed slot 1
    restart_device
    [ "$(grep '^boot:' "$T/device.log" | tail -n 1 | cut -d' ' -f2)" = slot=0 ] ||
      fail "after the rollback a reset boots another slot than 0: $(grep '^boot:' "$T/device.log")"
    pass "the failed self-test rolled the device back to version 1 on slot 0"
    ;;
esac
passed
