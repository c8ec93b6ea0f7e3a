#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Files that are not ESP32 application images are refused with a clear error and nothing is
# stored: not in the database, not on disk.
. "$(dirname "$0")/lib.sh" "$1" "$2"

start_mqotad
printf 'this is not firmware\n%.0s' $(seq 1 200) > "$T/notes.txt"
head -c 60000 "$FIX/idf_hello_world_esp32_2024.bin" > "$T/truncated.bin"
cp "$FIX/idf_hello_world_esp32_2024.bin" "$T/flipped.bin"
printf '\x55' | dd of="$T/flipped.bin" bs=1 seek=40000 conv=notrunc status=none

check_refused() { # FILE EXPECTED_TEXT
  local out rc=0
  out=$(mq release add "$1" 2>&1) || rc=$?
  [ "$rc" -eq 1 ] || fail "release add $1 should exit 1, got $rc: $out"
  echo "$out" | grep -qi -- "$2" || fail "release add $1: message does not say '$2': $out"
  pass "refused $(basename "$1"): $out"
}
check_refused "$T/notes.txt" "magic"
check_refused "$T/truncated.bin" "truncated"
check_refused "$T/flipped.bin" "checksum\|sha-256"
check_refused "$FIX/arduino_nerdminer_esp32_v1.6.3.bin" "version"
out=$(mq release add "$T/does-not-exist.bin" 2>&1) && fail "a missing file was accepted"
echo "$out" | grep -q "does-not-exist.bin" || fail "missing file message does not name the file: $out"

rels=$(mq --json release list) || fail "release list failed"
check_json "a refused release was stored" "$rels" 'length == 0'
[ -z "$(find "$T/server/releases" -type f 2>/dev/null)" ] || fail "files left in releases/: $(ls "$T/server/releases")"
sqlite3 "$T/server/mqota.db" 'select count(*) from releases' 2>/dev/null | grep -qx 0 ||
  fail "the releases table is not empty"
# a valid one is then accepted
add_release "$FIX/idf_hello_world_esp32_2024.bin" >/dev/null
rels=$(mq --json release list) || fail "release list failed"
check_json "the valid release was not stored" "$rels" 'length == 1'
passed
