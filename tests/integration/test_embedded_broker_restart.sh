#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# mqotad keeps its embedded mosquitto alive: killed (SIGKILL) twice mid-deployment, it is
# restarted on the same port, mqotad and the devices reconnect, and every device completes.
. "$(dirname "$0")/lib.sh" "$1" "$2"

start_mqotad
start_fleet --count 10 --image "$FIX/idf_hello_world_esp32_2023.bin" --link lte
wait_online 10 60
add_release "$FIX/arduino_nerdminer_esp32_v1.6.3.bin" --version v1.6.3; rel=$RELEASE_ID
deploy_all "$rel"; dep=$DEPLOYMENT_ID
for at in 2 5; do
  sleep "$at"
  bp=$(pgrep -P "$MQOTAD_PID" mosquitto | head -n 1)
  [ -n "$bp" ] || fail "no embedded broker under mqotad $MQOTAD_PID"
  kill -KILL "$bp"
  log "killed the embedded broker (pid $bp)"
  wait_for 10 bash -c "pgrep -P $MQOTAD_PID mosquitto | grep -qv '^$bp\$'" ||
    fail "mqotad did not restart its broker within 10 s"
  [ "$(cat "$T/server/broker.url")" = "$BROKER_URL" ] || fail "the broker moved to $(cat "$T/server/broker.url")"
done
watch "$dep" 180 || fail "deployment $dep did not finish after two broker kills"
grep -c "restarting it on port" "$T/mqotad.log" | grep -qx 2 || fail "expected 2 broker restarts in mqotad.log"
d=$(mq --json deployment show "$dep") || fail "deployment show $dep failed"
echo "$d" | jq -e '.succeeded == 10' >/dev/null || fail "not every device succeeded: $d"
pass "re-sent bytes per device: $(echo "$d" | jq -c '[.targets[].bytes_resent]')"
passed
