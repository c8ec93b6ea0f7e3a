#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A hostile device, with its own broker credentials, against the operator's tools
# (docs/SECURITY.md §11.1-11.3, issue 9 items 3, 4 and 5). Two virtual devices run beside it.
#   1. Its STATE carries ff fe in project and version: the device list stays valid UTF-8 for a
#      strict JSON decoder, the hostile device and the two others are all listed.
#   2. Its STATE carries an OSC 0 title set and CSI sequences: 'mqota device list' and
#      'mqota device show' print no ESC byte (they show it as \x1b); so does 'mqota release
#      add' for an upload's notes.
#   3. It floods its own state, online, ack and reply topics with malformed, newline-bearing
#      payloads for a few seconds: mqotad's log grows by a bounded number of lines, has no
#      line forged by the device, and reports how many warnings it suppressed.
. "$(dirname "$0")/lib.sh" "$1" "$2"

EVIL=evil-0001
start_mqotad
PORT=${BROKER_URL##*:}
fleet_provision --count 1 --prefix evil-
start_fleet --count 2 --image "$FIX/idf_hello_world_esp32_2023.bin"
wait_online 2 60
EVIL_PASS=$(sed -n 's/^password=//p' "$T/creds/$EVIL.cred")
[ -n "$EVIL_PASS" ] || fail "no password for $EVIL in $T/creds/$EVIL.cred"

# epub TOPIC_KIND ARGS...: publish as the hostile device on its own topic.
epub() {
  local kind=$1; shift
  timeout 30 mosquitto_pub -h 127.0.0.1 -p "$PORT" -u "$EVIL" -P "$EVIL_PASS" -i "$EVIL" \
    -t "mqota/v1/dev/$EVIL/$kind" "$@"
}

# state_file FILE PROJECT VERSION: a well-formed STATE (docs/PROTOCOL.md §4), idle, ESP32,
# with the given project and version strings (bytes, escapes allowed as in printf '%b').
state_file() {
  python3 - "$1" "$2" "$3" <<'PY'
import struct, sys
def s(b): return bytes([len(b)]) + b
proj = sys.argv[2].encode('latin-1').decode('unicode_escape').encode('latin-1')
ver = sys.argv[3].encode('latin-1').decode('unicode_escape').encode('latin-1')
body = b'MQ\x01\x01' + bytes([0, 0, 0, 0]) + struct.pack('<HHIIIIIIII', 0, 16, 4096, 0, 0, 0,
                                                          0, 0, 1, 0)
body += s(proj) + s(ver) + s(b'v5.1') + s(b'')
open(sys.argv[1], 'wb').write(body)
PY
}

# ---- 1. invalid UTF-8 in a STATE: the list stays valid for a strict client ----
state_file "$T/s_utf8" 'evil\xff\xfe' 'v\xff\xfe1'
epub state -q 1 -r -f "$T/s_utf8" || fail "$EVIL could not publish its state"
has_evil() { mq --json device list | jq -e --arg d "$EVIL" 'any(.[]; .id == $d and .chip == "ESP32")'; }
wait_for 15 has_evil || fail "$EVIL's STATE did not reach the device list"
mq --json device list >"$T/list.json" || fail "device list --json failed"
python3 -c 'import json, sys; json.loads(open(sys.argv[1], "rb").read().decode("utf-8", errors="strict"))' \
  "$T/list.json" 2>"$T/strict.err" || fail "the device list is not valid UTF-8 JSON: $(cat "$T/strict.err")"
jq -e --arg d "$EVIL" '[.[] | .id] as $ids | ($ids | index($d)) and ($ids | index("vdev-0001")) and ($ids | index("vdev-0002"))' \
  "$T/list.json" >/dev/null || fail "not every device is listed: $(jq -c '[.[].id]' "$T/list.json")"
jq -e --arg d "$EVIL" '.[] | select(.id == $d) | .project == "evil\ufffd\ufffd" and .version == "v\ufffd\ufffd1"' \
  "$T/list.json" >/dev/null || fail "invalid bytes should read U+FFFD: $(jq -c --arg d "$EVIL" '.[] | select(.id == $d) | [.project, .version]' "$T/list.json")"
pass "STATE with ff fe: device list valid UTF-8, 3 devices listed, bytes shown as U+FFFD"

# ---- 2. terminal escapes in a STATE: the CLI prints none ----
state_file "$T/s_esc" '\x1b]0;pwned\x07proj' '\x1b[2J\x1b[31mv9\xc2\x9b0m'
epub state -q 1 -r -f "$T/s_esc" || fail "$EVIL could not publish its state"
has_esc() { mq --json device show "$EVIL" | jq -e '.project | startswith("\u001b]0;pwned")'; }
wait_for 15 has_esc || fail "$EVIL's second STATE did not arrive"
mq device list >"$T/list.txt" 2>&1 || fail "device list failed: $(cat "$T/list.txt")"
mq device show "$EVIL" >"$T/show.txt" 2>&1 || fail "device show failed: $(cat "$T/show.txt")"
for f in "$T/list.txt" "$T/show.txt"; do
  ! LC_ALL=C grep -q $'\x1b' "$f" || fail "$(basename "$f") holds a raw ESC byte: $(od -c "$f" | head -5)"
  ! LC_ALL=C grep -q $'\xc2\x9b' "$f" || fail "$(basename "$f") holds a raw C1 CSI: $(od -c "$f" | head -5)"
done
# --json stays the same JSON, with ESC, C1 and DEL as \u escapes, never raw
mq --json device list >"$T/list.json" || fail "device list --json failed"
! LC_ALL=C grep -q $'\x1b\|\xc2\x9b' "$T/list.json" || fail "device list --json holds a raw ESC or C1: $(od -c "$T/list.json" | head -5)"
jq -e --arg d "$EVIL" '.[] | select(.id == $d) | .version == "\u001b[2J\u001b[31mv9\u009b0m"' "$T/list.json" >/dev/null ||
  fail "device list --json should carry the version unchanged: $(cat "$T/list.json")"
grep -qF '\x1b[2J\x1b[31mv9\u009b0m' "$T/list.txt" || fail "device list should show the version escaped: $(cat "$T/list.txt")"
grep -qF 'project           \x1b]0;pwned\x07proj' "$T/show.txt" || fail "device show should show the project escaped: $(cat "$T/show.txt")"
# an upload's notes (free text) with the same: 'release add' shows them escaped
mq release add "$FIX/idf_hello_world_esp32_2024.bin" --notes $'\e]0;pwned\a\e[2J' \
  >"$T/add.txt" 2>&1 || fail "release add with notes failed: $(cat "$T/add.txt")"
! LC_ALL=C grep -q $'\x1b' "$T/add.txt" || fail "release add printed a raw ESC: $(od -c "$T/add.txt" | head -5)"
grep -qF 'notes     \x1b]0;pwned\x07\x1b[2J' "$T/add.txt" || fail "release add should show the notes escaped: $(cat "$T/add.txt")"
pass "ESC, BEL and C1 in a STATE: device list/show print them as \\x1b, \\x07, \\u009b"

# ---- 3. a flood of malformed, newline-bearing payloads: the log stays bounded, unforged ----
FORGED='2026-12-04T00:00:00.000Z mqotad error: FORGED-BY-DEVICE'
before=$(wc -l <"$T/mqotad.log")
end=$((SECONDS + 4)) sent=0
while [ "$SECONDS" -lt "$end" ]; do
  epub online -q 0 -m "$(printf 'x\n%s' "$FORGED")" --repeat 100 || fail "flood publish failed"
  epub state -q 0 -m "$(printf 'MQ\x01\x01\n%s' "$FORGED")" --repeat 100 || fail "flood publish failed"
  epub ack -q 0 -m "$(printf 'bad\n%s' "$FORGED")" --repeat 100 || fail "flood publish failed"
  epub reply -q 0 -m "$(printf 'bad\n%s' "$FORGED")" --repeat 100 || fail "flood publish failed"
  sent=$((sent + 400))
done
sleep 2 # mqotad drains what the broker still holds
added=$(tail -n +$((before + 1)) "$T/mqotad.log" | grep -c "$EVIL" || true)
forged=$(grep -c '^2026-12-04T00:00:00' "$T/mqotad.log" || true)
[ "$forged" -eq 0 ] || fail "the device forged $forged log lines (lines starting with its timestamp); $added lines about $EVIL"
grep -qF "'x\x0a2026-12-04T00:00:00.000Z mqota'" "$T/mqotad.log" ||
  fail "the newline of the online payload should be logged as \\x0a"
[ "$added" -le 20 ] || fail "$sent malformed messages in 4 s added $added log lines about $EVIL (at most 20 expected)"
suppressed() { grep -q "more warnings from device $EVIL suppressed" "$T/mqotad.log"; }
wait_for 15 suppressed || fail "no line reports the suppressed warnings of $EVIL"
pass "$sent malformed messages in 4 s: $added log lines about $EVIL, no forged line, suppressed count reported"
grep "more warnings from device $EVIL suppressed" "$T/mqotad.log" | head -n 2

# the two real devices are still fine
wait_online 2 30
passed
