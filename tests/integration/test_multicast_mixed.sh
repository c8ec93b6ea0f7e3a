#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A slow member does not set a multicast stream's pace (docs/PROTOCOL.md §13.1, slow members):
# 8 devices on `lte` and 1 on `gprs` take the 968,768-byte image in one deployment
# (--multicast auto). Alone the lte devices take about 9 s; when the stream went at the gprs
# device's pace they took about 80 s. Checked:
#  - every lte device has confirmed the new image within FAST_LIMIT_S of the deploy;
#  - mqotad demoted the gprs device from the stream's pace, and no lte device;
#  - the gprs device also confirms (served at its own pace), and mqotad published at most
#    1.1 images on the stream.
#
# usage: test_multicast_mixed.sh BUILD FIXTURES
. "$(dirname "$0")/lib.sh" "$1" "$2"
NFAST=8
FAST_LIMIT_S=30    # the lte devices alone: about 9 s to the image, a few more to confirm
ALL_LIMIT_S=240    # the gprs device: about 95 s for the image alone
SLOW_PID=""
trap 'rc=$?; stop_pid "$SLOW_PID"; cleanup $rc' EXIT
FROM="$FIX/idf_hello_world_esp32_2023.bin"

start_mqotad --multicast auto
fleet_provision --count 1 --prefix slow-
# shellcheck disable=SC2046 # fleet_auth prints options without spaces in them
"$FLEET" --broker "$BROKER_URL" --data "$T/fleet-slow" --status-interval 0 --count 1 \
  $(fleet_auth) --prefix slow- --link gprs --image "$FROM" >>"$T/fleet-slow.log" 2>&1 &
SLOW_PID=$!
start_fleet --count "$NFAST" --prefix fast- --link lte --image "$FROM"
wait_online $((NFAST + 1)) 120

add_release "$FIX/arduino_nerdminer_esp32_v1.6.3.bin" --version v1.6.3
deploy_all "$RELEASE_ID"
DEP=$DEPLOYMENT_ID
t0=$SECONDS

fast_done() {
  mq --json deployment show "$DEP" | jq -e --argjson n "$NFAST" \
    '[.targets[] | select((.device | startswith("fast-")) and .state == "succeeded")] | length == $n'
}
wait_for "$FAST_LIMIT_S" fast_done ||
  fail "the $NFAST lte devices did not all confirm within $FAST_LIMIT_S s beside one gprs device: $(mq --json deployment show "$DEP" | jq -c '[.targets[] | {device, state, progress}]')"
pass "$NFAST lte devices confirmed $((SECONDS - t0)) s after the deploy (at most $FAST_LIMIT_S s)"
mq --json deployment show "$DEP" | jq -e '[.targets[] | select(.device == "slow-0001" and .state == "succeeded")] | length == 0' >/dev/null ||
  fail "the gprs device finished with the lte ones: nothing was measured"

grep -q 'slow-0001 is slower than the stream' "$T/mqotad.log" ||
  fail "mqotad did not log the demotion of the gprs device slow-0001"
if grep 'fast-[0-9]* is slower than the stream' "$T/mqotad.log"; then
  fail "mqotad demoted an lte device (above) beside the gprs one"
fi
pass "mqotad demoted the gprs device and no lte one"

wait_for "$ALL_LIMIT_S" sh -c "'$MQOTA' --server '$HTTP_URL' --json deployment show $DEP | jq -e '.state == \"finished\"'" ||
  fail "deployment $DEP did not finish within $ALL_LIMIT_S s: $(mq --json deployment show "$DEP" | jq -c 'del(.targets)')"
D=$(mq --json deployment show "$DEP")
echo "$D" | jq -e --argjson n $((NFAST + 1)) '.succeeded == $n and .failed == 0' >/dev/null ||
  fail "deployment $DEP: not $((NFAST + 1)) successes: $(echo "$D" | jq -c 'del(.targets)')"
echo "$D" | jq -e '.stream_bytes_sent <= 1.1 * .image_size' >/dev/null ||
  fail "mqotad published $(echo "$D" | jq .stream_bytes_sent) bytes on the stream, over 1.1 x the image"
pass "all confirmed $((SECONDS - t0)) s after the deploy; stream $(echo "$D" | jq .stream_bytes_sent) bytes, unicast $(echo "$D" | jq .unicast_bytes_sent) bytes, image $(echo "$D" | jq .image_size)"
passed
