#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The operator's console in a real browser (issue 12): headless chromium, driven by
# console.mjs through playwright-core, against a real mqotad (embedded mosquitto) and two
# virtual fleets on loopback: six ESP32 devices vdev-0001..0006 on a GPRS-like link (so a
# download takes seconds and its progress can be watched) publishing telemetry every second,
# and zbad-0001, whose new image fails its self-test (it sorts last, so it is never a canary).
# console.mjs signs in (wrong token, then the right one), drops an Arduino build without a
# version on the upload zone (refused: mqotad's sentence shown) and then the new image, creates a rollout from the page and pauses and resumes it, watches
# its progress move without a reload, reads the failed device's explanation, opens a device
# page with a telemetry plot, checks the 390 px layout, and last stops mqotad and checks the
# outage state. Any JavaScript console error fails it; screenshots go to SHOTS.
#
# usage: test_console.sh BUILD FIXTURES SHOTS
SHOTS=$3
CHROMIUM=${MQOTA_CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ]; then
  echo "SKIP: no chromium at $CHROMIUM (scripts/install-deps installs Debian's; or set MQOTA_CHROMIUM)"
  exit 77
fi
. "$(dirname "$0")/../integration/lib.sh" "$1" "$2"
DASH="$(cd "$(dirname "$0")/../../server/dashboard" && pwd)"
[ -f "$DASH/node_modules/playwright-core/package.json" ] ||
  fail "playwright-core is not installed in $DASH/node_modules (the build runs 'npm ci' there)"
NEWVER=v1.4.1-2-g0296947-dirty
BAD_PID=""
trap 'rc=$?; stop_pid "$BAD_PID"; cleanup $rc' EXIT

start_mqotad
start_fleet --count 6 --image "$FIX/idf_hello_world_esp32_2023.bin" --link gprs \
  --telemetry-interval 1
fleet_provision --count 1 --prefix zbad-
# shellcheck disable=SC2046 # fleet_auth prints options without spaces in them
"$FLEET" --broker "$BROKER_URL" --data "$T/fleet-bad" --count 1 --prefix zbad- \
  --image "$FIX/idf_hello_world_esp32_2023.bin" --fail-self-test "$NEWVER" --status-interval 0 \
  $(fleet_auth) >>"$T/fleet-bad.log" 2>&1 &
BAD_PID=$!
wait_online 7 60

mkdir -p "$SHOTS"
rm -f "$SHOTS"/*.png
rc=0
MQOTA_URL="$HTTP_URL" MQOTA_TOKEN="$(cat "$T/server/api.token")" MQOTA_SHOTS="$SHOTS" \
  MQOTA_CHROMIUM="$CHROMIUM" MQOTA_IMAGE="$FIX/idf_hello_world_esp32_2024.bin" \
  MQOTA_ARDUINO_IMAGE="$FIX/arduino_nerdminer_esp32_v1.6.3.bin" \
  MQOTAD_PID="$MQOTAD_PID" MQOTA_NEWVER="$NEWVER" \
  MQOTA_DASHBOARD="$DASH" \
  node "$(dirname "$0")/console.mjs" >>"$T/browser.log" 2>&1 || rc=$?
cat "$T/browser.log"
[ "$rc" -eq 0 ] || fail "the browser test failed (exit $rc); see the lines above and $SHOTS"
n=$(grep -c '^ok ' "$T/browser.log" || true)
[ "$n" -ge 8 ] || fail "the browser test reported $n steps, expected at least 8"
pass "$n browser steps passed; screenshots in $SHOTS"
# console.mjs stopped mqotad (SIGTERM, the outage step) with the page's event stream open:
# mqotad must end its streams and exit 0 (libmicrohttpd aborts a stop with a suspended stream)
exited() { case $(ps -o stat= -p "$MQOTAD_PID" 2>/dev/null) in Z*|"") return 0 ;; esac; return 1; }
wait_for 20 exited || fail "mqotad did not exit within 20 s of SIGTERM"
rc=0
wait "$MQOTAD_PID" || rc=$?
MQOTAD_PID=""
[ "$rc" -eq 0 ] || fail "mqotad exited with status $rc when stopped with a console open, not 0"
pass "mqotad stopped cleanly with the console's event stream open"
passed
