#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# File releases (docs/PROTOCOL.md §17) on the MicroPython agent (the real MicroPython unix
# port, tests/emu/micropython) against mqotad and its mosquitto. The device's application
# directory starts with version 1 of an application (main.py, lib/util.py, config.txt, and
# lib/gone.py of the file release that installed it); 'mqota release add --files' uploads
# version 2 (main.py and lib/util.py changed, lib/new.py added, lib/gone.py left out). MODE:
#   update     the file update succeeds: the device swaps the files in, reboots, the new main.py
#              runs and prints its version, the self-test passes, confirmed; the files are
#              byte for byte version 2's, lib/gone.py removed, no staging left. Beside it a C
#              device (mqota-fleet) is not offered the file release (deploy --all leaves it
#              out, naming it is refused with one sentence), and bad bundles are refused with
#              one sentence each and nothing stored: a path with '..', a path twice, too large
#   rollback   version 2's self_test() fails: the old set is put back (byte for byte version
#              1, lib/new.py gone, lib/gone.py back), rolled-back with reason self-test, and
#              version 1's main.py runs again
#   swap-kill  the interpreter is killed (SIGKILL) after the 3rd rename of the swap; started
#              again, it finishes the swap from its journal and confirms: version 2, whole
#   link-cut   a 400 KiB bundle through mqota-linkemu (lte), cut once mid-transfer: the agent
#              reconnects and resumes (its bundle file and progress record), at most one
#              window re-sent, and the update confirms
#   kill       as link-cut, but the interpreter is killed (SIGKILL) at a third of the transfer
#              and started again: it resumes from its progress record and bundle file, not
#              from chunk 0, and the update confirms whole
#   no-broker  after the swap's reset the device cannot reach the broker (device_main.py's
#              offline.once) within its confirm deadline (5 s here): it puts the old set back,
#              resets, and once connected reports rolled-back with reason confirm-timeout;
#              the files are version 1's byte for byte
#   signed     signed file releases (PROTOCOL.md §5.1, "MQF1"): mqotad runs --require-signed and
#              trusts keys A and B, the device only A and requires signatures. mqotad refuses
#              with one sentence, storing nothing: the unsigned bundle, the bundle with an
#              image's .mqsig, the bundle with another bundle's .mqsig. The device refuses,
#              writing nothing (its files version 1's, no staging): a bundle whose signature
#              was stripped in the database (unsigned), one whose signature block is another
#              bundle's (signature), one signed with B (signature). Version 2 signed with A
#              ('release add --files --sign-key') is verified and installed, confirmed
# MQOTA_FILES_BLOB_BYTES=N adds lib/blob.bin of N random bytes to version 2 in any mode.
MODE=${3:-update}
case $MODE in update|rollback|swap-kill|link-cut|kill|no-broker|signed) ;;
  *) echo "usage: test_micropython_files.sh BUILD_DIR FIXTURES_DIR [update|rollback|swap-kill|link-cut|kill|no-broker|signed]" >&2
     exit 2 ;;
esac
. "$(dirname "$0")/lib.sh" "$1" "$2"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
VBOOT=$BUILD/tests/emu/micropython/mqota-vboot
DEV=upy-0001
DEV_PID=""
LINK_PID=""

rc=0
"$ROOT/tests/emu/micropython/ensure_interpreter.sh" "$BUILD" || rc=$?
[ "$rc" -ne 77 ] || exit 77
[ "$rc" -eq 0 ] || fail "building MicroPython into $BUILD/micropython failed"
[ -x "$VBOOT" ] || fail "$VBOOT is not built (cmake --build BUILD --target mqota-vboot)"

stop_device() { stop_pid "$DEV_PID"; DEV_PID=""; stop_pid "$LINK_PID"; LINK_PID=""; }
trap 'rc=$?; stop_device; cleanup $rc' EXIT

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
progress_at_least() {
  mq --json deployment show "$dep" | jq -e --argjson p "$1" '.targets[0].progress >= $p' >/dev/null
}
# same_files A B: the application's files of directory A are those of B, byte for byte (the
# agent's records directory mqota/ and the test's marker files left aside)
same_files() { diff -r -x mqota -x selftest.fail -x swap.stall -x offline.once -x upy.pid "$1" "$2" >/dev/null; }

# The application, version 1 (on the device) and version 2 (the release).
mkdir -p "$T/v1/lib" "$T/v2/lib" "$T/dev/lib"
cat >"$T/v1/main.py" <<'EOF'
VERSION = 1
EOF
printf 'def util():\n    return 1\n' >"$T/v1/lib/util.py"
printf 'old helper\n' >"$T/v1/lib/gone.py"
printf 'interval=60\n' >"$T/v1/config.txt"
cp -r "$T/v1/." "$T/dev/"
cat >"$T/v2/main.py" <<'EOF'
VERSION = 2
EOF
[ "$MODE" != rollback ] || printf '\n\ndef self_test():\n    print("app: version 2 self-test fails")\n    return False\n' >>"$T/v2/main.py"
printf 'def util():\n    return 2\n' >"$T/v2/lib/util.py"
printf 'def new():\n    return True\n' >"$T/v2/lib/new.py"
printf 'interval=60\n' >"$T/v2/config.txt"
# version 2 large enough to cut the link in the middle of its transfer; MQOTA_FILES_BLOB_BYTES=N
# adds such a file in any mode (bench/micropython/heap_run.sh)
BLOB=${MQOTA_FILES_BLOB_BYTES:-0}
[ "$MODE" != link-cut ] && [ "$MODE" != kill ] || BLOB=409600
[ "$BLOB" -eq 0 ] || head -c "$BLOB" /dev/urandom >"$T/v2/lib/blob.bin"

if [ "$MODE" = signed ]; then
  mq key generate "$T/A" >/dev/null
  mq key generate "$T/B" >/dev/null
  MQOTA_UPY_TRUST_KEY=$(openssl ec -pubin -in "$T/A.pub.pem" -outform DER 2>/dev/null | tail -c 64 | od -An -v -tx1 | tr -d ' \n')
  [ ${#MQOTA_UPY_TRUST_KEY} -eq 128 ] || fail "could not read the raw public key of $T/A.pub.pem"
  export MQOTA_UPY_TRUST_KEY
  start_mqotad --require-signed --trusted-key "$T/A.pub.pem" --trusted-key "$T/B.pub.pem"
else
  start_mqotad
fi
fleet_provision --count 1 --prefix upy-
"$VBOOT" create "$T/dev.flash" 0 "$FIX/idf_hello_world_esp32_2023.bin" >>"$T/device.log" 2>&1 ||
  fail "mqota-vboot could not make the flash file: $(tail -n 2 "$T/device.log")"
# version 1 came from a file release that also installed lib/gone.py (the fset record): a
# release that no longer lists it removes it
python3 - "$T/dev/mqota" <<'PY'
import os, struct, sys, zlib
d = sys.argv[1]; os.makedirs(d, exist_ok=True)
paths = [b"main.py", b"lib/util.py", b"lib/gone.py", b"config.txt"]
b = bytearray(b"MQFS" + bytes((1, 0, 0, 0)) + struct.pack("<IIHB", 0, 0, len(paths), 3) + b"app")
for p in paths: b += bytes((2, len(p))) + p
b += struct.pack("<I", zlib.crc32(b))
open(d + "/fset", "wb").write(b)
PY
if [ "$MODE" = link-cut ] || [ "$MODE" = kill ]; then
  LINK_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  start_link
fi
# the stall is set before the device starts (device_main.py installs its hook at boot)
[ "$MODE" != swap-kill ] || echo 3 >"$T/dev/swap.stall"
if [ "$MODE" = no-broker ]; then
  touch "$T/dev/offline.once"
  export MQOTA_UPY_CONFIRM_TIMEOUT_MS=5000
fi
start_device
if [ "$MODE" = update ]; then
  start_fleet --count 1 --image "$FIX/idf_hello_world_esp32_2023.bin"
  wait_online 2 60
else
  wait_online 1 60
fi
# idle in a STATE of its own (a row made by the online message alone is idle too, with no project yet)
takes_files() { device_json | jq -e '.state == "idle" and (.project // "") != ""' >/dev/null && grep -q "app: main.py version 1" "$T/device.log"; }
wait_for 30 takes_files || fail "the MicroPython device is not idle running main.py version 1"
pass "the MicroPython device is online, idle, its main.py version 1 running"

if [ "$MODE" = update ]; then
  # bad bundles: refused with one sentence each, nothing stored
  n0=$(mq --json release list | jq -e 'length') || fail "release list failed"
  nf0=$( (find "$T/server/releases" -type f 2>/dev/null || true) | wc -l)
  # bundle KIND OUT: a bundle of version 2's main.py, made bad as KIND says
  bundle() {
    python3 - "$1" "$2" "$T/v2/main.py" <<'PY'
import hashlib, struct, sys
kind, out, src = sys.argv[1], sys.argv[2], open(sys.argv[3], "rb").read()
files = {"traversal": [(b"../boot.py", src)], "duplicate": [(b"main.py", src), (b"main.py", src)],
         "oversize": [(b"big.bin", bytes(1048576))]}[kind]
table, data = b"", b""
for p, d in files:
    table += struct.pack("<I", len(d)) + hashlib.sha256(d).digest() + bytes((len(p), 0)) + p
    data += d
total = 16 + len(table) + len(data)
open(out, "wb").write(b"MQFB" + bytes((1, 0)) + struct.pack("<HII", len(files), total, 0) + table + data)
PY
  }
  for kind in traversal duplicate oversize; do
    bundle "$kind" "$T/$kind.mqfb" || fail "could not make the $kind bundle"
    code=$(curl -s -o "$T/$kind.json" -w '%{http_code}' -H "$API_AUTH" --data-binary "@$T/$kind.mqfb" \
      -H 'Content-Type: application/octet-stream' "$HTTP_URL/api/v1/releases?version=bad-$kind") ||
      fail "curl could not upload the $kind bundle"
    [ "$code" = 400 ] || fail "the $kind bundle was answered $code, not 400: $(cat "$T/$kind.json")"
    log "$kind: $(jq -r .error "$T/$kind.json")"
  done
  check_json "the traversal bundle's refusal does not name the '..' path" "$(cat "$T/traversal.json")" \
    '.error | test("path of file 1 \\(.\\.\\./boot\\.py.\\) is refused: it has a .\\.\\.. component")'
  check_json "the duplicate bundle's refusal does not name the path" "$(cat "$T/duplicate.json")" \
    '.error | test("main\\.py. is listed twice")'
  check_json "the oversize bundle's refusal does not give the limit" "$(cat "$T/oversize.json")" \
    '.error | test("larger than the largest bundle \\(1048576 bytes\\)")'
  n1=$(mq --json release list | jq -e 'length') || fail "release list failed"
  nf1=$( (find "$T/server/releases" -type f 2>/dev/null || true) | wc -l)
  [ "$n1" -eq "$n0" ] && [ "$nf1" -eq "$nf0" ] || fail "a refused bundle left a release ($n0 -> $n1) or a file ($nf0 -> $nf1)"
  pass "bad bundles (traversal, duplicate path, oversize) refused with one sentence, nothing stored"
fi

if [ "$MODE" = signed ]; then
  n0=$(mq --json release list | jq -e 'length') || fail "release list failed"
  # refused_upload WHAT SENTENCE ARGS...: release add ARGS is refused with SENTENCE (a regex)
  refused_upload() {
    local what=$1 want=$2 err; shift 2
    err=$(mq release add "$@" 2>&1) && fail "mqotad took $what"
    grep -Eq "$want" <<<"$err" || fail "$what was not refused with its sentence: $err"
    log "$what: $err"
  }
  refused_upload "the unsigned bundle" "accepts only signed releases \(--require-signed\); sign the file bundle \(mqota release add --files DIR --version V --sign-key KEY.key.pem\); nothing was stored" \
    --files "$T/v2" --version app-2
  mq release sign "$FIX/idf_hello_world_esp32_2024.bin" --key "$T/A.key.pem" --output "$T/image.mqsig" >/dev/null ||
    fail "release sign of the fixture image failed"
  refused_upload "the bundle with an image's .mqsig" "the .mqsig signs an image, not a file bundle" \
    --files "$T/v2" --version app-2 --signature "$T/image.mqsig"
  mkdir -p "$T/v3" && cp -r "$T/v2/." "$T/v3/" && echo 3 >"$T/v3/extra.txt"
  out=$(mq --json release sign --files "$T/v3/" --version app-2 --key "$T/A.key.pem") || fail "release sign --files failed: $out"
  check_json "release sign --files did not write DIR.mqsig for a file release" "$out" \
    '.file == $f and .chip == "any" and .project == "files" and .version == "app-2"' --arg f "$T/v3.mqsig"
  refused_upload "the bundle with another bundle's .mqsig" "the signature is for another bundle" \
    --files "$T/v2" --version app-2 --signature "$T/v3.mqsig"
  n1=$(mq --json release list | jq -e 'length') || fail "release list failed"
  [ "$n1" -eq "$n0" ] || fail "a refused upload stored a release ($n0 -> $n1)"
  pass "mqotad --require-signed refused the unsigned bundle, an image's and another bundle's signature"

  # The device's refusals: releases mqotad took (signed), whose offers are then made wrong in
  # its database (what a compromised server or broker could send). variant NAME: v2 plus a file.
  variant() { mkdir -p "$T/$1" && cp -r "$T/v2/." "$T/$1/" && echo "$1" >"$T/$1/variant.txt"; }
  set_signature() {  # set_signature RELEASE BLOCK_HEX|none
    python3 - "$T/server/mqota.db" "$1" "$2" <<'PY' || fail "could not change release $1's signature"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=10)
sig = None if sys.argv[3] == "none" else bytes.fromhex(sys.argv[3])
db.execute("UPDATE releases SET signature = ? WHERE id = ?", (sig, int(sys.argv[2])))
db.commit()
PY
  }
  signature_of() { python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1], timeout=10).execute("SELECT hex(signature) FROM releases WHERE id = ?", (int(sys.argv[2]),)).fetchone()[0])' "$T/server/mqota.db" "$1"; }
  # refused_offer WHY RELEASE: deployed, the device refuses it for WHY and writes nothing
  refused_offer() {
    local why=$1 r=$2 rc=0 d
    deploy_all "$r"
    watch "$DEPLOYMENT_ID" 60 || rc=$?
    [ "$rc" -eq 1 ] || fail "deployment watch exited $rc for release $r, which the device must refuse ($why)"
    d=$(mq --json deployment show "$DEPLOYMENT_ID") || fail "deployment show failed"
    check_json "the server did not record $why for release $r" "$d" ".failed == 1 and .targets[0].reason == \"$why\""
    wait_for 20 device_is ".state == \"failed\" and .reason == \"$why\"" ||
      fail "the device does not report $why: $(device_json)"
    same_files "$T/dev" "$T/v1" || fail "release $r ($why) changed the files: $(diff -r -x mqota "$T/dev" "$T/v1" 2>&1 | head)"
    for left in journal new old bundle; do
      [ ! -e "$T/dev/mqota/$left" ] || fail "release $r ($why) left $T/dev/mqota/$left"
    done
  }
  variant vu && add_release --files "$T/vu" --version app-u --sign-key "$T/A.key.pem"; rel_u=$RELEASE_ID
  variant vo && add_release --files "$T/vo" --version app-o --sign-key "$T/A.key.pem"; rel_o=$RELEASE_ID
  variant vb && add_release --files "$T/vb" --version app-b --sign-key "$T/B.key.pem"; rel_b=$RELEASE_ID
  sig_u=$(signature_of "$rel_u") && [ ${#sig_u} -eq 160 ] || fail "release $rel_u is not stored signed"
  set_signature "$rel_u" none
  set_signature "$rel_o" "$sig_u"
  refused_offer unsigned "$rel_u"
  refused_offer signature "$rel_o"
  refused_offer signature "$rel_b"
  [ "$(grep -c "signature does NOT verify" "$T/device.log")" -ge 2 ] || fail "the agent did not verify the two bad signatures"
  pass "the device refused the stripped signature (unsigned), another bundle's and B's (signature), writing nothing"
fi
if [ "$MODE" = signed ]; then
  add_release --files "$T/v2" --version app-2 --sign-key "$T/A.key.pem"
else
  add_release --files "$T/v2" --version app-2
fi
rel=$RELEASE_ID
out=$(mq --json release show "$rel") || fail "release show $rel failed: $out"
nfiles=$(find "$T/v2" -type f | wc -l)
check_json "release $rel does not show its kind and files" "$out" \
  '.kind == "files" and .chip == "any" and .file_count == $n and (.files | length) == $n and
   (.files | map(.path) | index("lib/new.py")) != null' --argjson n "$nfiles"
out=$(mq release list) || fail "release list failed: $out"
grep -Eq "^ *$rel +files $nfiles +app-2 " <<<"$out" || fail "release list does not show 'files $nfiles': $out"
pass "release $rel is a file release of $nfiles files in the API and the CLI"

if [ "$MODE" = update ]; then
  err=$(mq deploy "$rel" vdev-0001 2>&1) && fail "deploying the file release to the C device was accepted"
  grep -q "device 'vdev-0001' does not take file releases" <<<"$err" ||
    fail "deploying to the C device was not refused with the capability sentence: $err"
  pass "deploying the file release to a C device is refused: $err"
fi
deploy_all "$rel"; dep=$DEPLOYMENT_ID
d=$(mq --json deployment show "$dep") || fail "deployment show $dep failed"
check_json "deploy --all did not take only the MicroPython device" "$d" \
  '.total == 1 and .targets[0].device == $dev' --arg dev "$DEV"
SIZE=$(mq --json release show "$rel" | jq -e '.size') || fail "release show failed"

case $MODE in
  swap-kill)
    stalled() { grep -q "files: stalled after rename 3" "$T/device.log"; }
    wait_for 60 stalled || fail "the swap did not reach its 3rd rename"
    kill -KILL "$(cat "$T/dev/upy.pid")"  # power cut in the middle of the swap
    wait "$DEV_PID" 2>/dev/null || true
    DEV_PID=""
    log "MicroPython process killed in the middle of the swap"
    [ -f "$T/dev/mqota/journal" ] || fail "no swap journal after the kill"
    same_files "$T/dev" "$T/v1" && fail "the kill came before the swap started"
    same_files "$T/dev" "$T/v2" && fail "the kill came after the swap ended"
    start_device ;;
  kill)
    wait_for 120 progress_at_least $((SIZE / 3)) || fail "no progress to kill the device at"
    kill -KILL "$(cat "$T/dev/upy.pid")"  # power cut in the middle of the transfer
    wait "$DEV_PID" 2>/dev/null || true
    DEV_PID=""
    log "MicroPython process killed in the middle of the transfer"
    start_device ;;
  link-cut)
    wait_for 120 progress_at_least $((SIZE / 3)) || fail "no progress to cut at"
    stop_pid "$LINK_PID"; LINK_PID=""
    log "link cut (mqota-linkemu stopped)"
    sleep 2
    start_link ;;
esac

rc=0
watch "$dep" 180 || rc=$?
d=$(mq --json deployment show "$dep") || fail "deployment show $dep failed"
if [ "$MODE" = no-broker ]; then
  [ "$rc" -eq 1 ] || fail "deployment watch should exit 1, got $rc: $d"
  check_json "the server did not record confirm-timeout" "$d" '.failed == 1 and .targets[0].reason == "confirm-timeout"'
  wait_for 20 device_is '.state == "rolled-back" and .reason == "confirm-timeout"' ||
    fail "the device is not rolled-back with reason confirm-timeout: $(device_json)"
  grep -q "app: no broker this boot" "$T/device.log" || fail "the new set's boot did reach the broker"
  grep -q "rolling back file release $rel: reason 9" "$T/device.log" ||
    fail "the agent did not roll back for the confirm deadline (reason 9)"
  [ "$(grep "app: main.py version" "$T/device.log" | tail -n 1)" = "app: main.py version 1" ] ||
    fail "version 1's main.py does not run after the rollback: $(grep 'app:' "$T/device.log")"
  same_files "$T/dev" "$T/v1" || fail "the files are not version 1's again: $(diff -r -x mqota "$T/dev" "$T/v1" 2>&1 | head)"
  pass "without the broker past the confirm deadline the old set came back byte for byte (confirm-timeout)"
elif [ "$MODE" = rollback ]; then
  [ "$rc" -eq 1 ] || fail "deployment watch should exit 1, got $rc: $d"
  check_json "the server did not record self-test" "$d" '.failed == 1 and .targets[0].reason == "self-test"'
  wait_for 20 device_is '.state == "rolled-back" and .reason == "self-test"' ||
    fail "the device is not rolled-back with reason self-test: $(device_json)"
  grep -q "app: version 2 self-test fails" "$T/device.log" || fail "version 2's self-test never ran"
  [ "$(grep "app: main.py version" "$T/device.log" | tail -n 1)" = "app: main.py version 1" ] ||
    fail "version 1's main.py does not run after the rollback: $(grep 'app:' "$T/device.log")"
  reports_v1() { mq --json device telemetry "$DEV" | jq -e '.names[] | select(.name == "app_version") | .last_value == 1'; }
  wait_for 20 reports_v1 || fail "the device's application does not report version 1 again: $(mq --json device telemetry "$DEV")"
  same_files "$T/dev" "$T/v1" || fail "the files are not version 1's again: $(diff -r -x mqota "$T/dev" "$T/v1" 2>&1 | head)"
  pass "the failed self-test put version 1 back byte for byte (lib/new.py gone, lib/gone.py back)"
else
  [ "$rc" -eq 0 ] || fail "deployment watch exited $rc: $d"
  check_json "the target did not succeed" "$d" '.succeeded == 1 and .failed == 0'
  wait_for 20 device_is ".state == \"confirmed\" and .running_release == $rel and .version == \"app-2\" and .descriptor_version == \"1\"" ||
    fail "the device does not report file release $rel confirmed: $(device_json)"
  [ "$(grep "app: main.py version" "$T/device.log" | tail -n 1)" = "app: main.py version 2" ] ||
    fail "version 2's main.py does not run after the update: $(grep 'app:' "$T/device.log")"
  reports_v2() { mq --json device telemetry "$DEV" | jq -e '.names[] | select(.name == "app_version") | .last_value == 2'; }
  wait_for 20 reports_v2 || fail "the device's application does not report version 2: $(mq --json device telemetry "$DEV")"
  same_files "$T/dev" "$T/v2" || fail "the files are not version 2's: $(diff -r -x mqota "$T/dev" "$T/v2" 2>&1 | head)"
  for left in journal new old bundle; do
    [ ! -e "$T/dev/mqota/$left" ] || fail "the update left $T/dev/mqota/$left behind"
  done
  pass "version 2 runs, confirmed; its files byte for byte, lib/gone.py removed, no staging left"
  json_get resent "$d" '.targets[0].bytes_resent | numbers'
  log "bytes sent $(jq '.targets[0].bytes_sent' <<<"$d"), re-sent $resent for a $SIZE-byte bundle"
fi
case $MODE in
  update)
    ! grep -q "offered file release $rel .* to vdev" "$T/mqotad.log" ||
      fail "mqotad offered the file release to the C device"
    [ "$resent" -eq 0 ] || fail "$resent bytes re-sent on a clean link"
    pass "the C device was never offered the file release"
    # a filter (as deployments and rollouts take them) that selects only the C device now
    err=$(mq deploy "$rel" --filter "version=1" 2>&1) && fail "a filter of only the C device was accepted"
    grep -q "no device that takes file releases (MQOTA_CAP_FILES, the MicroPython agent) matches the filter 'version=1' (1 that take images only do)" <<<"$err" ||
      fail "the filter of only the C device was not refused with the capability sentence: $err"
    pass "a filter of only the C device is refused: $err" ;;
  signed)
    check_json "the file release is not shown signed by A" "$(mq --json release show "$rel")" \
      '.signed == true and (.key_id | length) > 0'
    line=$(grep "offer of release $rel: signature verified" "$T/device.log" | head -n 1)
    [ -n "$line" ] || fail "the agent did not verify the signed file release's signature"
    pass "the file release signed with A verified ($line) and confirmed" ;;
  swap-kill)
    grep -q "booted file release $rel: pending-verify" "$T/device.log" ||
      fail "the restarted device did not boot the finished swap pending-verify"
    pass "a kill in the middle of the swap: the restart finished it and confirmed version 2" ;;
  link-cut)
    grep -q "resuming file release $rel\|connection lost" "$T/device.log" ||
      fail "the agent did not see the link cut"
    [ "$resent" -le $((16 * 4096)) ] || fail "$resent bytes re-sent after one cut (limit 16 x 4096)"
    pass "one link cut, $resent bytes re-sent, the file update confirmed" ;;
  kill)
    grep -q "resuming file release $rel at chunk [1-9]" "$T/device.log" ||
      fail "the restarted agent did not resume the bundle from its progress record"
    json_get sent "$d" '.targets[0].bytes_sent | numbers'
    [ "$sent" -le $((SIZE + 16 * 4096)) ] || fail "$sent bytes sent for a $SIZE-byte bundle after one kill"
    pass "resumed after SIGKILL from $(grep -o "chunk [0-9]* of [0-9]*" "$T/device.log" | head -n 1), $sent bytes sent for $SIZE" ;;
esac
passed
