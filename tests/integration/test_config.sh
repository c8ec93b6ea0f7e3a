#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# mqotad's configuration file and SIGHUP (docs/OPERATIONS.md, issue 12 item 8):
#   1. One table: every key of 'mqotad --print-config' is a --KEY of --help and a row of
#      docs/OPERATIONS.md's reference with the same default and reload class, and the docs
#      list no other key.
#   2. A file setting every key (defaults and real values for the others) is accepted.
#   3. Bad files: an unknown key, a bad value, a bad flag value, an unknown section, a line
#      that is not key = value, 'config' inside a file, a missing file: exit 2, one line on
#      stderr naming FILE:LINE and the key.
#   4. The command line wins: the file says log-level = debug, --log-level warn is given:
#      no info or debug line is logged.
#   5. SIGHUP: log-level warn -> debug in the file (a request is logged at debug after the
#      reload and not before); mqtt-version changed is named as needing a restart; a file
#      with an error changes nothing (still debug); DIR/api.token deleted comes back and
#      works; metrics-loopback = true opens /metrics without a token (401 before, 200 after).
#
# usage: test_config.sh BUILD FIXTURES SOURCE_DIR
. "$(dirname "$0")/lib.sh" "$1" "$2"
SRC=$3

# ---- 1. the table, --help, --print-config and the docs agree ----
"$MQOTAD" --print-config >"$T/sample.conf" || fail "mqotad --print-config failed"
"$MQOTAD" --help >"$T/help" || fail "mqotad --help failed"
# key default class, one per line, from the sample file
awk '/^# \[(reload|restart)\]/ { cls = substr($2, 2, length($2) - 2) }
     /^#[a-z-]+ = / { k = substr($1, 2); v = $3; if (v ~ /^[A-Z:]+$/) v = "none"; print k, v, cls }' \
  "$T/sample.conf" | sort >"$T/keys.table"
[ "$(wc -l <"$T/keys.table")" -ge 20 ] || fail "--print-config lists only $(wc -l <"$T/keys.table") keys"
while read -r k _ _; do
  grep -qE -- "^  --$k( |$)" "$T/help" || fail "--help does not list --$k (a key of --print-config)"
done <"$T/keys.table"
sed -n '/^### Reference/,/^## /p' "$SRC/docs/OPERATIONS.md" |
  sed -nE 's/^\| `([a-z-]+)` \| `?([^`|]*)`? \| (reload|restart) \|.*/\1 \2 \3/p' | sort >"$T/docs.table"
diff "$T/keys.table" "$T/docs.table" >"$T/table.diff" ||
  fail "docs/OPERATIONS.md's reference differs from mqotad --print-config (< code, > docs): $(cat "$T/table.diff")"
pass "$(wc -l <"$T/keys.table") keys: --help, --print-config and docs/OPERATIONS.md agree"

# ---- 2. every key in one file ----
"$MQOTA" key generate "$T/rel" >/dev/null 2>&1 || fail "mqota key generate failed"
printf 'x\n' >"$T/some.pem"
{
  echo "[mqotad]"
  sed -nE 's/^#([a-z-]+ = [^A-Z]*)$/\1/p' "$T/sample.conf"
  echo "data = $T/all"
  echo "broker = mqtts://127.0.0.1:1"
  echo "ca = $T/some.pem"
  echo "cert = $T/some.pem"
  echo "key = $T/some.pem"
  echo "trusted-key = $T/rel.pub.pem"
  echo "trusted-key = $T/rel.pub.pem"
  echo "api-host = ota.example.net"
} >"$T/all.conf"
n=$(grep -cE '^[a-z-]+ = ' "$T/all.conf")
"$MQOTAD" --config "$T/all.conf" token list >"$T/all.out" 2>&1 ||
  fail "a file with every key was refused: $(cat "$T/all.out")"
pass "a file with all $n key lines is accepted"

# ---- 3. bad files ----
# bad NAME LINE_TEXT... : the last line is the bad one; stderr must be one line naming it.
bad() {
  local name=$1; shift
  printf '%s\n' "# $name" "$@" >"$T/$name.conf"
  local line=$(($# + 1)) rc=0
  "$MQOTAD" --config "$T/$name.conf" --data "$T/bad" token list >"$T/$name.out" 2>"$T/$name.err" || rc=$?
  [ "$rc" -eq 2 ] || fail "$name: exit $rc, not 2: $(cat "$T/$name.err")"
  [ "$(wc -l <"$T/$name.err")" -eq 1 ] || fail "$name: not one line on stderr: $(cat "$T/$name.err")"
  grep -qF "mqotad: $T/$name.conf:$line: $EXPECT" "$T/$name.err" ||
    fail "$name: stderr does not name $name.conf:$line and say '$EXPECT': $(cat "$T/$name.err")"
}
EXPECT="key windw is not an option; see mqotad --help." bad unknown_key "log-level = info" "windw = 8"
EXPECT="key window '0' must be a whole number from 1 to 64" bad bad_value "window = 0"
EXPECT="key open-api 'maybe' must be true or false." bad bad_flag "[mqotad]" "open-api = maybe"
EXPECT="section [server] is not known" bad bad_section "[server]" "window = 8"
EXPECT="not a 'key = value' line, a comment or a [section]." bad not_a_line "window = 8" "window 8"
EXPECT="key config: a configuration file cannot name another one." bad nested "config = /etc/x.conf"
rc=0
"$MQOTAD" --config "$T/absent.conf" --data "$T/bad" token list >/dev/null 2>"$T/absent.err" || rc=$?
[ "$rc" -eq 2 ] && grep -qF "mqotad: --config $T/absent.conf: cannot read the file: No such file or directory." "$T/absent.err" ||
  fail "a missing file: exit $rc, $(cat "$T/absent.err")"
pass "bad files: unknown key, bad value, bad flag, section, syntax, nested config, missing file; one sentence naming FILE:LINE and the key"

# ---- 4. the command line wins ----
printf 'log-level = debug\n' >"$T/debug.conf"
start_mqotad --config "$T/debug.conf" --log-level warn
mq status >/dev/null || fail "mq status failed"
! grep -qE ' mqotad (info|debug): ' "$T/mqotad.log" ||
  fail "--log-level warn did not win over the file's debug: $(grep -m 3 -E ' mqotad (info|debug): ' "$T/mqotad.log")"
pass "--log-level warn on the command line wins over log-level = debug in the file"
stop_pid "$MQOTAD_PID"; MQOTAD_PID=""
: >"$T/mqotad.log"

# ---- 5. SIGHUP ----
printf 'log-level = warn\nmqtt-version = 5\n' >"$T/live.conf"
start_mqotad --config "$T/live.conf"
health() { curl -s -o /dev/null -w '%{http_code}' "$HTTP_URL/api/v1/health"; }
debug_lines() { grep -c 'debug: http GET /api/v1/health -> 200' "$T/mqotad.log" || true; }
[ "$(health)" = 200 ] || fail "health did not answer 200"
[ "$(debug_lines)" -eq 0 ] || fail "at log-level warn a request was logged at debug"
printf 'log-level = debug\nmqtt-version = 311\n' >"$T/live.conf"
kill -HUP "$MQOTAD_PID"
reloaded() { grep -q 'info: reload: configuration read again from .*, 1 key changed: log-level = debug$' "$T/mqotad.log"; }
wait_for 10 reloaded || fail "no 'configuration read again ... 1 key changed' within 10 s of SIGHUP"
grep -q 'warn: reload: mqtt-version changed; it takes effect at the next start' "$T/mqotad.log" ||
  fail "the changed mqtt-version was not named as needing a restart"
[ "$(health)" = 200 ] || fail "health did not answer 200"
logged() { [ "$(debug_lines)" -ge 1 ]; }
wait_for 5 logged || fail "after SIGHUP with log-level = debug a request was not logged at debug"
pass "SIGHUP applied log-level = debug and named mqtt-version as needing a restart"
printf 'log-level = warn\nwindow = 0\n' >"$T/live.conf"
kill -HUP "$MQOTAD_PID"
refused() { grep -q 'reload: the configuration has an error (above); nothing changed' "$T/mqotad.log"; }
wait_for 10 refused || fail "a file with window = 0 was not refused on SIGHUP"
grep -qF "$T/live.conf:2: key window '0' must be" "$T/mqotad.log" || fail "the refused reload did not name live.conf:2 and the key"
before=$(debug_lines)
[ "$(health)" = 200 ] || fail "health did not answer 200"
more() { [ "$(debug_lines)" -gt "$before" ]; }
wait_for 5 more || fail "after a refused reload the log level changed (debug lines stopped)"
pass "a file with an error changes nothing on SIGHUP (log level still debug)"
rm -f "$T/server/api.token"
kill -HUP "$MQOTAD_PID"
wait_for 10 test -s "$T/server/api.token" || fail "DIR/api.token was not written again on SIGHUP"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $(cat "$T/server/api.token")" "$HTTP_URL/api/v1/devices") ||
  fail "curl failed"
[ "$code" = 200 ] || fail "the rewritten api.token is refused ($code)"
pass "SIGHUP writes a deleted DIR/api.token again, and it works"
code=$(curl -s -o /dev/null -w '%{http_code}' "$HTTP_URL/metrics") || fail "curl failed"
[ "$code" = 401 ] || fail "/metrics without a token answered $code before metrics-loopback was set"
printf 'log-level = debug\nmqtt-version = 311\nmetrics-loopback = true\n' >"$T/live.conf"
kill -HUP "$MQOTAD_PID"
opened() { grep -q 'reload: configuration read again from .*, 1 key changed: metrics-loopback = true$' "$T/mqotad.log"; }
wait_for 10 opened || fail "metrics-loopback = true was not applied on SIGHUP"
code=$(curl -s -o /dev/null -w '%{http_code}' "$HTTP_URL/metrics") || fail "curl failed"
[ "$code" = 200 ] || fail "after SIGHUP with metrics-loopback = true /metrics without a token answered $code"
pass "SIGHUP applied metrics-loopback = true: /metrics 401 before, 200 after, without a token"
passed
