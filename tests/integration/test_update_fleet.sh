#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The spine, end to end: a virtual fleet running one real ESP-IDF image takes another real
# image over a real mosquitto (started by mqotad), verifies it, reboots into the other slot
# and reports the new version; the server records every device as succeeded.
#
# usage: test_update_fleet.sh BUILD FIXTURES COUNT FROM_IMAGE TO_IMAGE EXPECTED_VERSION
#            MQTT_VERSION [RELEASE_VERSION]
. "$(dirname "$0")/lib.sh" "$1" "$2"
COUNT=$3 FROM=$4 TO=$5 EXPECT=$6 MQTTV=$7 RELVER=${8:-}

start_mqotad --mqtt-version "$MQTTV"
start_fleet --count "$COUNT" --image "$FIX/$FROM" --mqtt-version "$MQTTV"
wait_online "$COUNT" 60
before=$(mq --json device list) || fail "device list failed"
echo "$before" | jq -e 'all(.[]; .slot == 0 and .state == "idle")' >/dev/null ||
  fail "devices do not all start idle on slot 0: $before"

if [ -n "$RELVER" ]; then
  add_release "$FIX/$TO" --version "$RELVER"; rel=$RELEASE_ID
else
  add_release "$FIX/$TO"; rel=$RELEASE_ID
fi
deploy_all "$rel"; dep=$DEPLOYMENT_ID
log "release $rel deployed as deployment $dep to $COUNT devices"
t0=$SECONDS
watch "$dep" 240 || fail "deployment $dep did not finish with every device updated (see watch.log)"
log "deployment finished in $((SECONDS - t0)) s"

after=$(mq --json device list) || fail "device list failed"
mq device list
check_json "not all $COUNT devices run $EXPECT confirmed from slot 1" "$after" \
  '[.[] | select(.version == $v and .slot == 1 and .state == "confirmed" and .running_release != 0)] |
   length == $c' --arg v "$EXPECT" --argjson c "$COUNT"

d=$(mq --json deployment show "$dep") || fail "deployment show $dep failed"
echo "$d" | jq -e --argjson c "$COUNT" '.state == "finished" and .succeeded == $c and .failed == 0' >/dev/null ||
  fail "server did not record $COUNT successes: $d"
json_get size "$d" '.image_size | numbers'
json_get sent "$d" '[.targets[].bytes_sent] | add | numbers'
json_get resent "$d" '[.targets[].bytes_resent] | add | numbers'
pass "chunk data sent $sent bytes for $COUNT x $size image bytes, re-sent $resent"
passed
