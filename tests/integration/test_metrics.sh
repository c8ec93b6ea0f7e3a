#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# GET /metrics (docs/METRICS.md, issue 12 item 7), parsed with the Prometheus text format's
# rules (prom_parse.py: prometheus_client's parser plus HELP/TYPE, _total and duplicate
# checks) after each step of a real update of a virtual fleet:
#   1. Without a token, with a wrong one, and with the token in ?access_token or a cookie:
#      401 with the Bearer challenge; with the token: 200, text/plain; version=0.0.4.
#   2. Five devices online: mqotad_devices_online is 5, the states add up to 5, all idle;
#      a hostile device's STATE with '"', '\', a newline and invalid UTF-8 in its version is
#      listed with its label escaped (the parser reads it back as U+FFFD and the same bytes).
#   3. A release deployed to the fleet (on the stream: its bytes at least the image's), then
#      the older image to one device (unicast): more bytes than the image in all, chunks
#      counted on both paths, every device confirmed, two finished deployments, none running. Then one to the hostile device, which never
#      answers: a running deployment with its pending target and a progress of 0.
#   4. HTTP counters rose by route template, never the raw path: the scrapes, POST
#      /api/v1/releases 201, POST /api/v1/deployments 201, GET /api/v1/devices/{id} and an
#      unknown path counted as "other"; no device id appears in any route label.
#   5. A command sent and replied is counted.
#   6. --metrics-loopback: a loopback client scrapes without a token; the API still needs one.
#   And docs/METRICS.md lists exactly the families served; docs/grafana/mqota.json queries
#   only metrics mqotad serves.
#
# usage: test_metrics.sh BUILD FIXTURES SOURCE_DIR
. "$(dirname "$0")/lib.sh" "$1" "$2"
SRC=$3

PY=/usr/bin/python3
"$PY" -c 'import prometheus_client.parser' 2>/dev/null ||
  fail "Debian's python3-prometheus-client is not installed for $PY (scripts/install-deps installs it)"
PARSE="$(dirname "$0")/prom_parse.py"
COUNT=5
EVIL=evil-0001

# scrape NAME: GET /metrics with the token into $T/NAME.txt, parsed into $T/NAME.json.
scrape() {
  local code
  code=$(curl -s -o "$T/$1.txt" -w '%{http_code} %{content_type}' -H "$API_AUTH" "$HTTP_URL/metrics") ||
    fail "curl /metrics failed"
  [ "$code" = "200 text/plain; version=0.0.4; charset=utf-8" ] ||
    fail "/metrics answered '$code', not 200 text/plain; version=0.0.4: $(head -c 300 "$T/$1.txt")"
  "$PY" "$PARSE" "$T/$1.txt" >"$T/$1.json" 2>"$T/$1.err" ||
    fail "/metrics ($1) breaks the text format: $(cat "$T/$1.err")"
}
# value NAME JQ_LABEL_FILTER FILE: the sum of the samples of NAME whose labels match.
value() {
  jq -e --arg n "$1" "[.[] | select(.name == \$n) | select(.labels | $2) | .value] | add // 0" "$T/$3.json"
}

start_mqotad
PORT=${BROKER_URL##*:}

# ---- 1. authentication ----
TOKEN=$(cat "$T/server/api.token")
for how in none wrong query cookie; do
  url="$HTTP_URL/metrics" args=()
  case $how in
    wrong) args=(-H "Authorization: Bearer not-the-token") ;;
    query) url="$url?access_token=$TOKEN" ;;
    cookie) args=(-b "token=$TOKEN") ;;
  esac
  out=$(curl -s -D "$T/h_$how" -o "$T/b_$how" -w '%{http_code}' "${args[@]}" "$url") ||
    fail "curl failed"
  [ "$out" = 401 ] && grep -qi '^WWW-Authenticate: Bearer' "$T/h_$how" ||
    fail "/metrics with $how token answered $out (want 401 with a Bearer challenge): $(cat "$T/b_$how")"
  ! grep -q mqotad_ "$T/b_$how" || fail "/metrics without the token leaked metrics"
done
pass "/metrics refuses no token, a wrong token, a token in the query and in a cookie (401)"
scrape s0
check_json "a fresh mqotad has no devices, deployments or published bytes" "$(cat "$T/s0.json")" \
  '([.[] | select(.name == "mqotad_devices") | .value] | add) == 0 and
   ([.[] | select(.name == "mqotad_published_bytes_total") | .value] | add) == 0 and
   any(.[]; .name == "mqotad_build_info" and .value == 1)'

# ---- 2. five devices and a hostile one ----
fleet_provision --count 1 --prefix evil-
start_fleet --count "$COUNT" --image "$FIX/idf_hello_world_esp32_2023.bin"
wait_online "$COUNT" 60
EVIL_PASS=$(sed -n 's/^password=//p' "$T/creds/$EVIL.cred")
[ -n "$EVIL_PASS" ] || fail "no password for $EVIL in $T/creds/$EVIL.cred"
# A well-formed STATE (docs/PROTOCOL.md §4), idle, ESP32, as in test_hostile_device.sh, whose
# version holds a double quote, a backslash, a newline and the invalid bytes ff fe.
"$PY" - "$T/evil_state" <<'PY'
import struct, sys
def s(b): return bytes([len(b)]) + b
body = b'MQ\x01\x01' + bytes([0, 0, 0, 0]) + struct.pack('<HHIIIIIIII', 0, 16, 4096, 0, 0, 0,
                                                          0, 0, 1, 0)
body += s(b'evil') + s(b'v"1\\2\n\xff\xfe') + s(b'v5.1') + s(b'')
open(sys.argv[1], 'wb').write(body)
PY
timeout 30 mosquitto_pub -h 127.0.0.1 -p "$PORT" -u "$EVIL" -P "$EVIL_PASS" -i "$EVIL" \
  -t "mqota/v1/dev/$EVIL/state" -q 1 -r -f "$T/evil_state" || fail "$EVIL could not publish its state"
has_evil() { mq --json device list | jq -e --arg d "$EVIL" 'any(.[]; .id == $d)'; }
wait_for 15 has_evil || fail "$EVIL's STATE did not reach the device list"
scrape s1
check_json "$COUNT devices online, $((COUNT + 1)) known and idle" "$(cat "$T/s1.json")" \
  '([.[] | select(.name == "mqotad_devices_online") | .value] | add) == $c and
   ([.[] | select(.name == "mqotad_devices") | .value] | add) == $c + 1 and
   ([.[] | select(.name == "mqotad_devices" and .labels.state == "idle") | .value] | add) == $c + 1' \
  --argjson c "$COUNT"
check_json "the hostile version is one label, escaped and read back (U+FFFD for ff fe)" "$(cat "$T/s1.json")" \
  'any(.[]; .name == "mqotad_devices_by_version" and .labels.version == "v\"1\\2\n\ufffd\ufffd" and .value == 1)'
grep -qF 'version="v\"1\\2\n' "$T/s1.txt" || fail "the version label is not escaped as the format says: $(grep by_version "$T/s1.txt")"
pass "the raw exposition escapes '\"', '\\' and the newline"

# ---- 3. an update of the five (the stream and unicast), then one that cannot finish ----
add_release "$FIX/idf_hello_world_esp32_2024.bin"
SIZE=$(stat -c %s "$FIX/idf_hello_world_esp32_2024.bin")
# shellcheck disable=SC2046 # the ids have no spaces
out=$(mq --json deploy "$RELEASE_ID" $(fleet_ids --count "$COUNT") 2>&1) || fail "deploy to the fleet was refused: $out"
json_get DEP "$out" '.id | numbers'
watch "$DEP" 240 || fail "deployment $DEP did not finish (see watch.log)"
# One device back to the older image, alone: no stream, unicast.
add_release "$FIX/idf_hello_world_esp32_2023.bin"
SIZE_OLD=$(stat -c %s "$FIX/idf_hello_world_esp32_2023.bin")
out=$(mq --json deploy "$RELEASE_ID" vdev-0001 2>&1) || fail "deploy to vdev-0001 was refused: $out"
json_get DEP1 "$out" '.id | numbers'
watch "$DEP1" 240 || fail "deployment $DEP1 did not finish (see watch.log)"
scrape s2
check_json "the stream carried the image to the five ($SIZE B or more), unicast the older one to one ($SIZE_OLD B or more): more than the image in all" "$(cat "$T/s2.json")" \
  'def b(p): [.[] | select(.name == "mqotad_published_bytes_total" and .labels.path == p) | .value] | add;
   def c(p): [.[] | select(.name == "mqotad_published_chunks_total" and .labels.path == p) | .value] | add;
   b("stream") >= $size and b("unicast") >= $old and b("stream") + b("unicast") > $size and
   c("stream") > 0 and c("unicast") > 0' --argjson size "$SIZE" --argjson old "$SIZE_OLD"
check_json "$COUNT devices confirmed (4 on one version, 1 on the other), two deployments finished, none running" "$(cat "$T/s2.json")" \
  '([.[] | select(.name == "mqotad_devices" and .labels.state == "confirmed") | .value] | add) == $c and
   ([.[] | select(.name == "mqotad_devices_by_version" and .value == $c - 1)] | length) == 1 and
   ([.[] | select(.name == "mqotad_deployments" and .labels.state == "finished") | .value] | add) == 2 and
   ([.[] | select(.name == "mqotad_deployments" and .labels.state == "running") | .value] | add) == 0 and
   ([.[] | select(.name == "mqotad_deployment_targets")] | length) == 0' --argjson c "$COUNT"
# The hostile device never answers an offer: its deployment stays running, its target pending.
out=$(mq --json deploy "$RELEASE_ID" "$EVIL" 2>&1) || fail "deploy to $EVIL was refused: $out"
json_get DEP2 "$out" '.id | numbers'
scrape s_run
check_json "the running deployment's target is pending and its progress 0" "$(cat "$T/s_run.json")" \
  '([.[] | select(.name == "mqotad_deployments" and .labels.state == "running") | .value] | add) == 1 and
   ([.[] | select(.name == "mqotad_deployment_targets" and .labels.deployment == $d and
                  .labels.state == "pending") | .value] | add) == 1 and
   any(.[]; .name == "mqotad_deployment_progress_ratio" and .labels.deployment == $d and .value == 0) and
   ([.[] | select(.name == "mqotad_deployment_targets" and .labels.deployment != $d)] | length) == 0' \
  --arg d "$DEP2"
stream=$(value mqotad_published_bytes_total '.path == "stream"' s2) || fail "no stream bytes"
unicast=$(value mqotad_published_bytes_total '.path == "unicast"' s2) || fail "no unicast bytes"
log "published: stream $stream B, unicast $unicast B, image $SIZE B"

# ---- 4. HTTP requests by route template ----
curl -s -o /dev/null -H "$API_AUTH" "$HTTP_URL/api/v1/devices/vdev-0001" || fail "curl failed"
curl -s -o /dev/null -H "$API_AUTH" "$HTTP_URL/api/v1/no/such/route/vdev-0002" || fail "curl failed"
scrape s3
h() { value mqotad_http_requests_total "$1" "$2"; }
scrapes2=$(h '.route == "/metrics" and .method == "GET" and .code == "200"' s_run) || fail "no /metrics requests counted"
scrapes3=$(h '.route == "/metrics" and .method == "GET" and .code == "200"' s3) || fail "no /metrics requests counted"
[ "$scrapes3" -eq $((scrapes2 + 1)) ] || fail "the /metrics counter went from $scrapes2 to $scrapes3, not up by one"
pass "each scrape counts itself (GET /metrics 200: $scrapes2 -> $scrapes3)"
check_json "requests counted by route template, method and status" "$(cat "$T/s3.json")" \
  'def n(r; m; c): [.[] | select(.name == "mqotad_http_requests_total" and .labels.route == r and
                                 .labels.method == m and .labels.code == c) | .value] | add // 0;
   n("/api/v1/releases"; "POST"; "201") == 2 and n("/api/v1/deployments"; "POST"; "201") == 3 and
   n("/api/v1/devices/{id}"; "GET"; "200") >= 1 and n("other"; "GET"; "404") == 1 and
   n("/metrics"; "GET"; "401") == 4'
check_json "no route label holds a device id" "$(cat "$T/s3.json")" \
  'all(.[] | select(.name == "mqotad_http_requests_total"); (.labels.route | test("vdev|evil")) == false)'

# ---- the docs and the Grafana dashboard name what is served ----
sed -nE 's/^# TYPE ([a-z_]+) .*/\1/p' "$T/s3.txt" | sort -u >"$T/served"
grep -oE '^\| `mqotad_[a-z_]+`' "$SRC/docs/METRICS.md" | tr -d '|` ' | sort -u >"$T/documented"
diff "$T/served" "$T/documented" >"$T/doc.diff" ||
  fail "docs/METRICS.md's tables and the metrics served differ (< served, > documented): $(cat "$T/doc.diff")"
pass "docs/METRICS.md lists exactly the $(wc -l <"$T/served") metric families served"
jq -e '[.panels[] | select(.type != "row")] | length > 10 and all(.[]; (.targets | length) > 0)' \
  "$SRC/docs/grafana/mqota.json" >/dev/null || fail "docs/grafana/mqota.json is not a dashboard with queries"
jq -r '.. | .expr? // empty' "$SRC/docs/grafana/mqota.json" | grep -oE 'mqotad_[a-z_]+' | sort -u >"$T/queried"
unknown=$(comm -23 "$T/queried" "$T/served")
[ -s "$T/queried" ] && [ -z "$unknown" ] ||
  fail "docs/grafana/mqota.json queries metrics mqotad does not serve: $unknown"
pass "docs/grafana/mqota.json queries $(wc -l <"$T/queried") metrics, all served"

# ---- 5. a command ----
mq --json device command vdev-0001 diagnostics >"$T/diag.json" 2>&1 || fail "diagnostics failed: $(cat "$T/diag.json")"
scrape s4
check_json "the command is counted as sent and replied" "$(cat "$T/s4.json")" \
  '([.[] | select(.name == "mqotad_commands_total" and .labels.event == "sent") | .value] | add) == 1 and
   ([.[] | select(.name == "mqotad_commands_total" and .labels.event == "replied") | .value] | add) == 1'

# ---- 6. --metrics-loopback ----
stop_pid "$FLEET_PID"; FLEET_PID=""
stop_pid "$MQOTAD_PID"; MQOTAD_PID=""
start_mqotad --metrics-loopback
out=$(curl -s -o "$T/open.txt" -w '%{http_code}' "$HTTP_URL/metrics") || fail "curl failed"
[ "$out" = 200 ] && "$PY" "$PARSE" "$T/open.txt" >"$T/open.json" ||
  fail "with --metrics-loopback a loopback scrape without a token answered $out"
out=$(curl -s -o /dev/null -w '%{http_code}' "$HTTP_URL/api/v1/devices") || fail "curl failed"
[ "$out" = 401 ] || fail "with --metrics-loopback /api/v1/devices without a token answered $out, not 401"
check_json "after a restart the gauges come from the database: $((COUNT + 1)) devices, none online yet" \
  "$(cat "$T/open.json")" \
  '([.[] | select(.name == "mqotad_devices") | .value] | add) == $c + 1' --argjson c "$COUNT"
pass "--metrics-loopback: /metrics open to a loopback client, the API still closed"
passed
