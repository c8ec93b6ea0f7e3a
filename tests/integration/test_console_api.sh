#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# What mqotad serves its console (docs/CONSOLE.md, docs/API.md "Devices", "Events") on a real
# mqotad and five virtual devices, with curl:
#  - the console's files: public, with their content types, an ETag answered 304, the security
#    headers (CSP without inline script, nosniff, DENY) on them and on API answers, favicon.ico;
#  - the paged device list: totals, sort, order, offset, q, count, filter; each bad value 400
#    with its sentence; the plain list still an array;
#  - event-stream tickets: 401 without a token, one stream per ticket (a second use, an
#    unknown and no ticket are 401), the stream's first 'change', and a 'change' after the
#    store changes (a group created);
#  - a device's deployment history, and 404 for an unknown device;
#  - mqotad stopped (SIGTERM) with two idle streams open exits 0.
#
# usage: test_console_api.sh BUILD FIXTURES
. "$(dirname "$0")/lib.sh" "$1" "$2"

# http METHOD PATH [CURL_ARGS...]: the status code; headers in $T/headers, body in $T/body.
http() {
  local m=$1 p=$2; shift 2
  curl -s -o "$T/body" -D "$T/headers" -w '%{http_code}' -X "$m" "$@" "$HTTP_URL$p" || echo 000
}
# expect_code CODE METHOD PATH [CURL_ARGS...]
expect_code() {
  local want=$1 code; shift
  code=$(http "$@")
  [ "$code" = "$want" ] || fail "$1 $2 should be $want, got $code: $(head -c 400 "$T/body")"
}
header_has() { grep -qi "^$1: .*$2" "$T/headers"; }

start_mqotad
start_fleet --count 5 --image "$FIX/idf_hello_world_esp32_2023.bin"
wait_online 5 60

# ---- files and headers ----
expect_code 200 GET /
header_has Content-Type "text/html" || fail "/ is not text/html: $(cat "$T/headers")"
header_has Content-Security-Policy "script-src 'self';" || fail "no CSP on /: $(cat "$T/headers")"
! grep -qi "unsafe-inline" "$T/headers" || fail "the CSP allows inline script or style"
header_has X-Content-Type-Options nosniff || fail "no nosniff on /"
header_has X-Frame-Options DENY || fail "no X-Frame-Options on /"
! grep -qi "<script>\|<style>\| style=" "$T/body" || fail "index.html holds inline script or style"
expect_code 200 GET /console.js
header_has Content-Type "text/javascript" || fail "console.js type: $(cat "$T/headers")"
etag=$(grep -i '^etag:' "$T/headers" | cut -d' ' -f2 | tr -d '\r')
[ -n "$etag" ] || fail "console.js has no ETag"
expect_code 304 GET /console.js -H "If-None-Match: $etag"
expect_code 200 GET /console.js -H 'If-None-Match: "0000000000000000"'
expect_code 200 GET /uPlot.iife.min.js
grep -q "uPlot" "$T/body" || fail "uPlot.iife.min.js is not uPlot"
expect_code 200 GET /favicon.ico
header_has Content-Type "image/svg+xml" || fail "favicon.ico type: $(cat "$T/headers")"
expect_code 200 GET /api/v1/devices -H "$API_AUTH"
header_has Content-Security-Policy "default-src 'none'" || fail "no CSP on API answers"
header_has Cache-Control "no-store" || fail "API answers are not no-store"
check_json "the plain device list stays an array" "$(cat "$T/body")" 'type == "array" and length == 5'
pass "files public with types, ETag and 304, security headers"

# ---- pages of the device list ----
page() { curl -sf -H "$API_AUTH" "$HTTP_URL/api/v1/devices?$1"; }
check_json "first page" "$(page 'limit=2')" \
  '.total == 5 and .online == 5 and .states.idle == 5 and .offset == 0 and .limit == 2 and
   ([.devices[].id] == ["vdev-0001", "vdev-0002"])'
check_json "offset" "$(page 'limit=2&offset=4')" '[.devices[].id] == ["vdev-0005"]'
check_json "descending" "$(page 'limit=1&sort=id&order=desc')" '[.devices[].id] == ["vdev-0005"]'
check_json "sort by last_seen keeps every device once" "$(page 'sort=last_seen&order=desc')" \
  '[.devices[].id] | sort == ["vdev-0001", "vdev-0002", "vdev-0003", "vdev-0004", "vdev-0005"]'
check_json "search" "$(page 'q=VDEV-0003')" '.total == 1 and [.devices[].id] == ["vdev-0003"]'
check_json "count only" "$(page 'count=1')" '.total == 5 and .online == 5 and (has("devices") | not)'
check_json "count with a filter" "$(page 'count=1&filter=online%3Dfalse')" '.total == 0 and .online == 0'
check_json "page with a filter" "$(page 'limit=10&filter=state%3Didle&q=0005')" \
  '.total == 1 and .devices[0].id == "vdev-0005" and (.devices[0].groups | type == "array")'
expect_code 400 GET '/api/v1/devices?limit=0' -H "$API_AUTH"
check_json "limit 0 refused" "$(cat "$T/body")" \
  '.error == "limit '"'0'"' must be a whole number from 1 to 1000"'
expect_code 400 GET '/api/v1/devices?limit=1001' -H "$API_AUTH"
expect_code 400 GET '/api/v1/devices?offset=-1' -H "$API_AUTH"
expect_code 400 GET '/api/v1/devices?sort=colour' -H "$API_AUTH"
check_json "bad sort refused" "$(cat "$T/body")" '.error | startswith("sort '"'colour'"' is not a column")'
expect_code 400 GET '/api/v1/devices?order=up' -H "$API_AUTH"
expect_code 400 GET '/api/v1/devices?count=1&filter=bogus%3D1' -H "$API_AUTH"
pass "bad paging values refused with a sentence"

# ---- event-stream tickets ----
expect_code 401 POST /api/v1/events/ticket
expect_code 201 POST /api/v1/events/ticket -H "$API_AUTH"
json_get ticket "$(cat "$T/body")" '.ticket | select(test("^[0-9a-f]{32}$"))'
# the stream for 3 s with the ticket: its first event at once, a change after a group is made
curl -sN --max-time 3 "$HTTP_URL/api/v1/events?ticket=$ticket" >"$T/events" 2>/dev/null &
sse=$!
wait_for 5 grep -q 'event: change' "$T/events" || fail "no first event on the stream: $(cat "$T/events")"
expect_code 201 POST /api/v1/groups -H "$API_AUTH" -H 'Content-Type: application/json' \
  --data '{"name": "lab"}'
changes() { [ "$(grep -c 'event: change' "$T/events")" -ge 2 ]; }
wait_for 5 changes || fail "no change event after a group was created: $(cat "$T/events")"
wait "$sse" || true
grep -q '^content-type: text/event-stream' <(curl -s -o /dev/null -D - --max-time 1 \
  -H "$API_AUTH" "$HTTP_URL/api/v1/events" | tr 'A-Z' 'a-z') ||
  fail "the stream with the bearer header is not text/event-stream"
expect_code 401 GET "/api/v1/events?ticket=$ticket"
expect_code 401 GET "/api/v1/events?ticket=0123456789abcdef0123456789abcdef"
expect_code 401 GET /api/v1/events
pass "tickets: one stream each; change events on a store change"

# ---- a device's deployment history ----
expect_code 200 GET /api/v1/devices/vdev-0001/deployments -H "$API_AUTH"
check_json "no deployments yet" "$(cat "$T/body")" '.device == "vdev-0001" and .targets == []'
check_json "no target_progress without a running target" "$(page 'limit=5')" \
  'all(.devices[]; has("target_progress") | not)'
add_release "$FIX/idf_hello_world_esp32_2024.bin"
deploy_all "$RELEASE_ID"
# while the deployment runs, a page's devices carry their target's progress (the figure of the
# deployment's page): seen on every device at least once, equal to the target's when read
has_target_progress() {
  page 'limit=5' | jq -e 'all(.devices[]; .target_progress | type == "number")'
}
wait_for 20 has_target_progress || fail "no target_progress on devices during the deployment: $(page 'limit=5')"
watch "$DEPLOYMENT_ID" 90 || fail "deployment $DEPLOYMENT_ID did not succeed"
check_json "no target_progress once it finished" "$(page 'limit=5')" \
  'all(.devices[]; has("target_progress") | not)'
pass "target_progress while a target runs, gone after"
expect_code 200 GET /api/v1/devices/vdev-0001/deployments -H "$API_AUTH"
check_json "the deployment in the history" "$(cat "$T/body")" \
  ".targets | length == 1 and .[0].deployment == $DEPLOYMENT_ID and .[0].release == $RELEASE_ID and .[0].state == \"succeeded\""
expect_code 404 GET /api/v1/devices/nobody/deployments -H "$API_AUTH"
expect_code 405 POST /api/v1/devices/vdev-0001/deployments -H "$API_AUTH"
pass "device history"

# ---- mqotad stops cleanly with streams open (libmicrohttpd aborts a stop while a connection
# is suspended, as an idle stream is) ----
curl -sN --max-time 20 -H "$API_AUTH" "$HTTP_URL/api/v1/events" >"$T/events2" 2>/dev/null &
curl -sN --max-time 20 -H "$API_AUTH" "$HTTP_URL/api/v1/events" >/dev/null 2>&1 &
wait_for 5 grep -q 'event: change' "$T/events2" || fail "no event on the stream"
sleep 1 # idle: both streams suspended
kill -TERM "$MQOTAD_PID"
exited() { case $(ps -o stat= -p "$MQOTAD_PID" 2>/dev/null) in Z*|"") return 0 ;; esac; return 1; }
wait_for 20 exited || fail "mqotad did not exit within 20 s of SIGTERM"
rc=0
wait "$MQOTAD_PID" || rc=$?
MQOTAD_PID=""
[ "$rc" -eq 0 ] || fail "mqotad exited with status $rc when stopped with two streams open, not 0: $(tail -n 3 "$T/mqotad.log")"
pass "mqotad stops cleanly with event streams open"
passed
