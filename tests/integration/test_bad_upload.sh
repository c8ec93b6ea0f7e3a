#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Files that are not ESP32 application images, images with bytes after their end other than
# ESP-IDF's padding and signature blocks, and versions or notes that are not UTF-8 are refused
# with a clear error and nothing is stored: not in the database, not on disk.
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
# Bytes after the image's end (docs/SECURITY.md, "Bytes after the image's end"): 1 MiB of random
# bytes, 0xFF padding past the 4 KiB boundary, a truncated Secure Boot v2 signature sector.
IMG="$FIX/idf_hello_world_esp32_2024.bin" END=124416 PADDED=126976 # 31 sectors of 4 KiB
[ "$(stat -c %s "$IMG")" -eq "$END" ] || fail "$IMG is not $END bytes"
{ cat "$IMG"; printf '\x5a'; head -c 1048576 /dev/urandom; } >"$T/random-tail.bin"
check_refused "$T/random-tail.bin" "unexpected bytes start at offset $END of this 1172993-byte file, after the image's end at offset $END"
{ cat "$IMG"; head -c $((PADDED - END + 16)) /dev/zero | tr '\0' '\377'; } >"$T/long-pad.bin"
check_refused "$T/long-pad.bin" "unexpected bytes start at offset $PADDED "
{ cat "$IMG"; head -c $((PADDED - END)) /dev/zero | tr '\0' '\377'; printf '\xe7'; head -c 999 /dev/urandom; } >"$T/short-sig.bin"
check_refused "$T/short-sig.bin" "unexpected bytes start at offset $PADDED "
# Text that is not UTF-8 (docs/API.md): version and notes are refused, naming the byte.
check_refused_with() { # EXPECTED_TEXT ARGS...
  local out rc=0 want=$1; shift
  out=$(mq release add "$@" 2>&1) || rc=$?
  [ "$rc" -eq 1 ] || fail "release add $* should exit 1, got $rc: $out"
  echo "$out" | grep -qi -- "$want" || fail "release add $*: message does not say '$want': $out"
  pass "refused: $out"
}
check_refused_with "version is not valid UTF-8 (byte 1)" "$IMG" --version $'v\xff\xfe'
check_refused_with "notes are not valid UTF-8 (byte 3)" "$IMG" --notes $'ok \xed\xa0\x80'
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
# what ESP-IDF may leave after an image is accepted: 0xFF padding to the 4 KiB boundary, then a
# Secure Boot v2 signature sector (magic 0xE7); and an mqota-image-variant copy of a fixture
head -c $((PADDED - END)) /dev/zero | tr '\0' '\377' >"$T/pad"
cat "$IMG" "$T/pad" >"$T/padded.bin"
add_release "$T/padded.bin" --version padded
{ cat "$IMG" "$T/pad"; printf '\xe7'; head -c 4095 /dev/urandom; } >"$T/sbv2.bin"
add_release "$T/sbv2.bin" --version sbv2
"$BUILD/tests/tools/mqota-image-variant" --version variant-1 "$FIX/idf_hello_world_esp32_2023.bin" \
  "$T/variant.bin" >/dev/null || fail "mqota-image-variant failed"
add_release "$T/variant.bin"
rels=$(mq --json release list) || fail "release list failed"
check_json "padded, signed-sector and variant images should be stored" "$rels" 'length == 4'
passed
