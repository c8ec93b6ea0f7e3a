#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A full disk while storing a release: mqotad's data directory is a small tmpfs that the test
# fills. Two places run out of space:
#   A. the image file: less free space than the image, so writing the temporary file fails;
#   B. the database row: exactly the image's pages are free, so the image file is written and
#      renamed, then SQLite cannot append the release row to its WAL at COMMIT.
# Each upload must be answered 507 with one sentence naming the disk and the step, the CLI must
# print that one line and exit 1, and nothing may be half-stored: no release row, no image or
# temporary file in releases/, a database that passes PRAGMA integrity_check, and mqotad still
# serving. Once the space is freed the same upload succeeds and is listed.
#
# Needs root for the tmpfs mount; as another user it prints "SKIPPED: ..." and exits 77. It
# runs in a private mount namespace (unshare -m) when it can, so the mount disappears with the
# test even if the test is killed; otherwise it mounts directly and unmounts at exit.
if [ "$(id -u)" -ne 0 ]; then
  echo "SKIPPED: needs root to mount a tmpfs for mqotad's data directory"
  exit 77
fi
if [ -z "${MQOTA_IN_MOUNT_NS:-}" ] && command -v unshare >/dev/null &&
  unshare -m --propagation private true 2>/dev/null; then
  MQOTA_IN_MOUNT_NS=1 exec unshare -m --propagation private bash "$0" "$@"
fi
. "$(dirname "$0")/lib.sh" "$1" "$2"

IMG="$FIX/arduino_nerdminer_esp32_v1.6.3.bin" # 968,768 bytes: the biggest ESP32 fixture
VER=v1.6.3
DATA="$T/server"
REL="$DATA/releases"
SIZE=$(stat -c %s "$IMG")

mkdir -p "$DATA"
mount -t tmpfs -o size=4m,mode=0755 mqota-test-disk "$DATA" ||
  fail "cannot mount a 4 MiB tmpfs on $DATA as root"
unmount_data() {
  local rc=$?
  stop_pid "$MQOTAD_PID"
  MQOTAD_PID=""
  umount "$DATA" 2>/dev/null || umount -l "$DATA" 2>/dev/null || true
  cleanup "$rc"
}
trap unmount_data EXIT

# free_bytes: bytes an unprivileged write can still take on the data filesystem.
free_bytes() { echo $(($(stat -f -c '%a * %S' "$DATA"))); }

# fill_leaving BYTES: (re)write $DATA/fill so that exactly BYTES (whole 4 KiB tmpfs pages)
# stay free.
fill_leaving() {
  rm -f "$DATA/fill"
  local n=$(($(free_bytes) - $1))
  [ "$n" -gt 0 ] || fail "only $(free_bytes) bytes free on the tmpfs, cannot leave $1"
  head -c "$n" /dev/zero >"$DATA/fill" || fail "could not write $n bytes of filler"
  [ "$(free_bytes)" -eq "$1" ] || fail "filler left $(free_bytes) bytes free, not $1"
}

# assert_nothing_stored WHAT: no row, no file in releases/, a sound database, mqotad serving.
assert_nothing_stored() {
  kill -0 "$MQOTAD_PID" 2>/dev/null || fail "$1: mqotad exited"
  mq status >/dev/null || fail "$1: mqotad does not answer 'mqota status'"
  local n
  n=$(mq --json release list | jq length) || fail "$1: 'release list' failed"
  [ "$n" -eq 0 ] || fail "$1: a release was listed: $(mq --json release list)"
  n=$(sqlite3 "$DATA/mqota.db" 'SELECT count(*) FROM releases') ||
    fail "$1: sqlite3 cannot read the database"
  [ "$n" -eq 0 ] || fail "$1: the releases table holds $n rows"
  [ -z "$(find "$REL" -mindepth 1 2>/dev/null)" ] ||
    fail "$1: left in releases/: $(ls -la "$REL")"
  n=$(sqlite3 "$DATA/mqota.db" 'PRAGMA integrity_check') || fail "$1: integrity_check failed"
  [ "$n" = ok ] || fail "$1: PRAGMA integrity_check says: $n"
}

# refused_for_space CASE STEP_TEXT: the upload through curl (507 + sentence) and the CLI (one
# line, exit 1), then nothing stored.
refused_for_space() {
  local what=$1 step=$2 code out rc=0
  code=$(curl -s -m 60 -o "$T/body" -w '%{http_code}' -H "$API_AUTH" --data-binary @"$IMG" \
    -H 'Content-Type: application/octet-stream' "$HTTP_URL/api/v1/releases?version=$VER")
  [ "$code" = 507 ] || fail "$what: POST should be 507, got $code: $(cat "$T/body")"
  jq -e --arg s "$step" '.error | test("disk") and test("full") and test($s) and
    test("nothing was stored")' "$T/body" >/dev/null ||
    fail "$what: the error does not name the full disk and '$step': $(cat "$T/body")"
  pass "$what: HTTP $code $(jq -r .error "$T/body")"
  assert_nothing_stored "$what (curl)"

  out=$(mq release add "$IMG" --version "$VER" 2>&1) || rc=$?
  [ "$rc" -eq 1 ] || fail "$what: 'release add' should exit 1, got $rc: $out"
  [ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] || fail "$what: CLI printed more than one line: $out"
  printf '%s\n' "$out" | grep -q "^mqota: .*disk.*full" ||
    fail "$what: CLI line does not say the disk is full: $out"
  pass "$what: CLI exit $rc: $out"
  assert_nothing_stored "$what (CLI)"
}

start_mqotad
log "data directory on a tmpfs: $(free_bytes) bytes free; image $SIZE bytes"
assert_nothing_stored "fresh server"

# ---- A: the image file does not fit ----
fill_leaving $((SIZE / 2 / 4096 * 4096))
refused_for_space "image write" "image"
grep -q "No space left on device" "$T/mqotad.log" || fail "mqotad logged no ENOSPC"

# ---- B: the image fits exactly, the database row does not ----
PAGES=$(((SIZE + 4095) / 4096 * 4096))
fill_leaving "$PAGES"
refused_for_space "database row" "database"
# the image was written before the row failed, and removed again: the space is back
[ "$(free_bytes)" -eq "$PAGES" ] ||
  fail "after the failed commit $(free_bytes) bytes are free, not $PAGES: the image file leaked"

# ---- space freed: the same upload succeeds ----
rm -f "$DATA/fill"
add_release "$IMG" --version "$VER"; id=$RELEASE_ID
[ "$id" = 1 ] || fail "after freeing space the release id is '$id', not 1"
mq --json release list | jq -e --arg v "$VER" --argjson n "$SIZE" \
  'length == 1 and .[0].id == 1 and .[0].version == $v and .[0].size == $n' >/dev/null ||
  fail "release list after freeing space: $(mq --json release list)"
sha=$(sha256sum "$IMG" | cut -d' ' -f1)
[ "$(find "$REL" -mindepth 1 | wc -l)" -eq 1 ] || fail "releases/ should hold one file: $(ls -la "$REL")"
cmp -s "$IMG" "$REL/$sha.bin" || fail "the stored image differs from the upload"
[ "$(sqlite3 "$DATA/mqota.db" 'PRAGMA integrity_check')" = ok ] ||
  fail "integrity_check after the successful upload"
pass "after freeing space: release 1 stored ($SIZE bytes, $sha)"
passed
