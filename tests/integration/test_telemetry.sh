#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Application telemetry (docs/PROTOCOL.md §15, docs/API.md "Telemetry", issue 11 item 4): a real
# mqotad and three virtual devices publishing temperature and uptime_s every second through
# mqota_agent_publish_telemetry(); a provisioned hostile device publishing by hand.
#   1. Series arrive per device with plausible values (temperature 20..27 °C as the fleet's
#      pseudo-sensor makes them, uptime_s growing), oldest first, the device's own time growing.
#   2. Retention: with --telemetry-points 5 no series ever holds more than 5 samples.
#   3. 'mqota device telemetry' lists the series and the samples.
#   4. The hostile device: a well-formed message is kept (the positive control); truncated,
#      NaN, infinite, bad-name, count-0 and trailing-byte payloads are not; a flood is cut to
#      --telemetry-rate samples per second and counted; more than 32 names are not kept; a
#      message on another device's topic is refused by the broker's ACL. The real devices'
#      series keep arriving.
#   5. The API's refusals: unknown device, bad since, bad limit, bad name, POST, each one
#      sentence.
#   6. Retention by age: mqotad restarted with --telemetry-retention 2s keeps no sample older
#      than that (the samples from before the restart go).
. "$(dirname "$0")/lib.sh" "$1" "$2"

EVIL=evil-0001
start_mqotad --telemetry-points 5 --telemetry-rate 10
PORT=${BROKER_URL##*:}
fleet_provision --count 1 --prefix evil-
start_fleet --count 3 --image "$FIX/idf_hello_world_esp32_2023.bin" --telemetry-interval 1
wait_online 3 60
EVIL_PASS=$(sed -n 's/^password=//p' "$T/creds/$EVIL.cred")
[ -n "$EVIL_PASS" ] || fail "no password for $EVIL in $T/creds/$EVIL.cred"

api() { curl -s -H "$API_AUTH" "$HTTP_URL/api/v1/$1"; }
# series_points DEV NAME: how many samples the series holds (0 when it does not exist).
series_points() {
  api "devices/$1/telemetry" | jq -e --arg n "$2" '[.names[] | select(.name == $n) | .points] | add // 0'
}
points_at_least() { [ "$(series_points "$1" "$2" 2>/dev/null || echo 0)" -ge "$3" ]; }

# ---- 1 and 2. three devices' series, plausible, and never above 5 samples ----
for dev in vdev-0001 vdev-0002 vdev-0003; do
  wait_for 30 points_at_least "$dev" temperature 5 ||
    fail "$dev's temperature series did not reach 5 samples in 30 s: $(api "devices/$dev/telemetry")"
done
sleep 3 # three more samples each: the limit must hold them at 5
for dev in vdev-0001 vdev-0002 vdev-0003; do
  out=$(api "devices/$dev/telemetry") || fail "curl failed"
  check_json "$dev lists exactly temperature and uptime_s, 5 samples each (--telemetry-points 5)" "$out" \
    '[.names[].name] == ["temperature", "uptime_s"] and all(.names[]; .points == 5) and .points_max == 5'
  out=$(api "devices/$dev/telemetry?name=temperature&since=1h") || fail "curl failed"
  check_json "$dev's temperature samples are 20..27 °C, oldest first, device time growing" "$out" \
    '(.points | length) == 5 and all(.points[]; .value >= 20 and .value <= 27) and
     ([.points[].ts] | . == sort) and ([.points[].device_ms] | . == sort and .[0] > 0)'
  out=$(api "devices/$dev/telemetry?name=uptime_s&limit=2") || fail "curl failed"
  check_json "$dev's uptime_s: the newest 2 of ?limit=2, growing, below an hour" "$out" \
    '(.points | length) == 2 and .points[1].value > .points[0].value and .points[1].value < 3600'
done
# each device reads its own sensor: the fleet offsets temperature by index % 5
t1=$(api "devices/vdev-0001/telemetry?name=temperature" | jq -e '.points[-1].value') || fail "no temperature"
t3=$(api "devices/vdev-0003/telemetry?name=temperature" | jq -e '.points[-1].value') || fail "no temperature"
jq -en --argjson a "$t1" --argjson b "$t3" '$b - $a > 1.4 and $b - $a < 2.6' >/dev/null ||
  fail "vdev-0003's temperature ($t3) should read about 2 °C above vdev-0001's ($t1)"
pass "each device's series is its own (vdev-0001 $t1 °C, vdev-0003 $t3 °C)"

# ---- 3. the CLI ----
mq device telemetry vdev-0001 >"$T/cli_names.txt" 2>&1 || fail "device telemetry failed: $(cat "$T/cli_names.txt")"
grep -qE '^temperature +5 ' "$T/cli_names.txt" || fail "device telemetry should list temperature with 5 points: $(cat "$T/cli_names.txt")"
mq device telemetry vdev-0001 --name uptime_s --since 1h >"$T/cli_points.txt" 2>&1 ||
  fail "device telemetry --name failed: $(cat "$T/cli_points.txt")"
[ "$(grep -cE '^[0-9]{4}-[0-9]{2}-[0-9]{2} ' "$T/cli_points.txt")" -eq 5 ] ||
  fail "device telemetry --name uptime_s should print 5 samples: $(cat "$T/cli_points.txt")"
pass "mqota device telemetry lists the series and 5 samples"

# ---- 4. a hostile device ----
# tm FILE [TYPE] [COUNT] NAME=VALUE...: a TELEMETRY payload (docs/PROTOCOL.md §15); VALUE may be
# nan or inf; COUNT 'auto' counts the samples; a trailing '+' adds one stray byte.
tm() {
  python3 - "$@" <<'PY'
import struct, sys
out, mtype, count, *samples = sys.argv[1:]
trail = samples and samples[-1] == '+'
samples = [s for s in samples if s != '+']
b = b'MQ\x01' + bytes([int(mtype)]) + struct.pack('<Q', 1234)
b += bytes([len(samples) if count == 'auto' else int(count)])
for s in samples:
    n, v = s.split('=')
    b += bytes([len(n)]) + n.encode() + struct.pack('<d', float(v))
open(out, 'wb').write(b + (b'\x00' if trail else b''))
PY
}
epub() { # epub TOPIC_DEVICE ARGS...: publish as the hostile device
  local dev=$1; shift
  timeout 30 mosquitto_pub -h 127.0.0.1 -p "$PORT" -u "$EVIL" -P "$EVIL_PASS" -i "$EVIL" \
    -t "mqota/v1/dev/$dev/telemetry" "$@"
}
# the hostile device announces itself (mqotad keeps telemetry of known devices only)
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
tm "$T/good" 7 auto good=1.5
epub "$EVIL" -f "$T/good" || fail "publish failed"
wait_for 15 points_at_least "$EVIL" good 1 || fail "a well-formed message from $EVIL was not kept (the positive control)"
pass "a well-formed message from $EVIL is kept"

tm "$T/m_nan" 7 auto bad=nan
tm "$T/m_inf" 7 auto bad=inf
tm "$T/m_name" 7 auto Bad=1
tm "$T/m_count0" 7 0 bad=1
tm "$T/m_count2" 7 2 bad=1
tm "$T/m_trail" 7 auto bad=1 +
tm "$T/m_type" 1 auto bad=1
head -c 20 "$T/good" >"$T/m_trunc"
for m in nan inf name count0 count2 trail type trunc; do
  epub "$EVIL" -f "$T/m_$m" || fail "publish of m_$m failed"
done
epub "$EVIL" -f "$T/good" || fail "publish failed" # a marker after the malformed ones
wait_for 15 points_at_least "$EVIL" good 2 || fail "the marker after the malformed payloads did not arrive"
out=$(api "devices/$EVIL/telemetry") || fail "curl failed"
check_json "no malformed payload (NaN, inf, bad name, count 0, count 2 for 1, trailing byte, wrong type, truncated) was kept" "$out" \
  '[.names[].name] == ["good"]'
grep -q "device $EVIL sent a telemetry message that cannot be decoded" "$T/mqotad.log" ||
  fail "mqotad did not warn about $EVIL's malformed telemetry"

# a flood: 60 messages of 16 samples in about a second; at most 10 samples per second are kept
names16=$(for i in $(seq 1 16); do printf 'f%02d=%d ' "$i" "$i"; done)
# shellcheck disable=SC2086 # sixteen NAME=VALUE words
tm "$T/flood" 7 auto $names16
epub "$EVIL" -f "$T/flood" --repeat 60 || fail "flood publish failed"
dropped_some() { api "devices/$EVIL/telemetry" | jq -e '.dropped >= 500'; }
wait_for 15 dropped_some || fail "the flood of 960 samples was not cut to --telemetry-rate: $(api "devices/$EVIL/telemetry")"
out=$(api "devices/$EVIL/telemetry") || fail "curl failed"
check_json "after the flood every series of $EVIL holds at most 5 samples, and at most 10 of 960 per second were kept" "$out" \
  'all(.names[]; .points <= 5) and ([.names[].points] | add) <= 30 and .dropped >= 500'
grep -q "device $EVIL sent more than 10 telemetry samples in one second" "$T/mqotad.log" ||
  fail "mqotad did not warn about $EVIL's flood"
# more names than a device may have: 3 messages of 16 new names, a second apart
for k in a b c; do
  names=$(for i in $(seq 1 16); do printf 'n%s%02d=1 ' "$k" "$i"; done)
  # shellcheck disable=SC2086
  tm "$T/names_$k" 7 auto $names
  sleep 1.1
  epub "$EVIL" -f "$T/names_$k" || fail "publish failed"
done
names_capped() { api "devices/$EVIL/telemetry" | jq -e '(.names | length) == 32'; }
wait_for 15 names_capped || fail "$EVIL should have exactly 32 series (the most per device): $(api "devices/$EVIL/telemetry" | jq -c '[.names[].name]')"
pass "the flood is cut to 10 samples per second and counted; no more than 32 names are kept"

# another device's topic: the broker's ACL drops it
tm "$T/spoof" 7 auto spoofed=666
sleep 1.1 # a fresh second of --telemetry-rate for the marker
epub vdev-0001 -f "$T/spoof" || fail "publish failed"
epub "$EVIL" -f "$T/good" || fail "publish failed" # a marker: what came before it has arrived
wait_for 15 points_at_least "$EVIL" good 3 || fail "the marker after the spoofed message did not arrive"
out=$(api "devices/vdev-0001/telemetry") || fail "curl failed"
check_json "$EVIL's message on vdev-0001's telemetry topic was refused (no series 'spoofed')" "$out" \
  '[.names[].name] == ["temperature", "uptime_s"]'
# the real devices carry on
last=$(api "devices/vdev-0002/telemetry" | jq -e '.names[] | select(.name == "uptime_s") | .last_ts') || fail "no uptime_s"
newer() { api "devices/vdev-0002/telemetry" | jq -e --argjson t "$last" '.names[] | select(.name == "uptime_s") | .last_ts > $t'; }
wait_for 15 newer || fail "vdev-0002's telemetry stopped arriving after the hostile device's attempts"
pass "the ACL refuses another device's topic; the real devices' series keep arriving"

# ---- 5. the API's refusals ----
# refused PATH STATUS WORDS: the answer's status and its one-sentence error
refused() {
  local code
  code=$(curl -s -o "$T/err.json" -w '%{http_code}' -H "$API_AUTH" "${@:4}" "$HTTP_URL/api/v1/$1") ||
    fail "curl $1 failed"
  [ "$code" = "$2" ] || fail "$1 should answer $2, not $code: $(cat "$T/err.json")"
  jq -e --arg w "$3" '.error | type == "string" and contains($w)' "$T/err.json" >/dev/null ||
    fail "$1's refusal should say '$3': $(cat "$T/err.json")"
  log "refused $1: $(jq -r .error "$T/err.json")"
}
refused "devices/no-such/telemetry" 404 "unknown device 'no-such'"
refused "devices/vdev-0001/telemetry?name=temperature&since=yesterday" 400 "since 'yesterday' must be a Unix time in milliseconds or a duration"
refused "devices/vdev-0001/telemetry?name=temperature&until=-5" 400 "until '-5' must be"
refused "devices/vdev-0001/telemetry?name=temperature&since=1m&until=2h" 400 "since is after until"
refused "devices/vdev-0001/telemetry?name=temperature&limit=0" 400 "limit '0' must be a whole number"
refused "devices/vdev-0001/telemetry?name=Temp%20C" 400 "is not a telemetry name"
refused "devices/vdev-0001/telemetry" 405 "" -X POST -H "Origin: $HTTP_URL"
pass "the API refuses an unknown device, bad since/until/limit/name and POST with one sentence each"

# ---- 6. retention by age ----
# mqotad stopped for 4 s, so every stored sample is older than 4 s; restarted with room for
# 1000 samples per series, only the age limit can remove the old ones
stop_pid "$MQOTAD_PID"
sleep 4
start_mqotad --telemetry-points 1000 --telemetry-retention 2s
fresh() {
  api "devices/vdev-0001/telemetry?name=temperature" |
    jq -e --argjson now "$(date +%s%3N)" '(.points | length) >= 2 and all(.points[]; .ts > $now - 3500)'
}
wait_for 30 fresh || fail "with --telemetry-retention 2s vdev-0001 should keep only samples of the last 2 s: $(api "devices/vdev-0001/telemetry?name=temperature")"
pass "--telemetry-retention 2s: only the last seconds' samples are kept"
passed
