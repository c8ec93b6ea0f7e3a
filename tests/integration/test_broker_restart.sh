#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The broker dies mid-deployment, three times, and comes back on the same port: 100 devices
# on emulated LTE links (about 9 s each for the 968,768-byte Arduino image) all finish and
# confirm; the chunk bytes re-sent per device are reported (min/median/max).
#
# mqotad does not supervise its embedded mosquitto (server/broker.c: nothing restarts the
# child once it is up), so this runs an external mosquitto started here on a free port, with
# persistence on (retained offers survive), anonymous clients allowed, and restarts it here:
# SIGKILL at about 2 s, 4.5 s and 7 s after the deploy, back after 0.5 s each.
#
# MODE (mqotad --multicast, default off): with off every chunk a device gets is unicast, so
# bytes_resent is what the restarts cost that device; it must stay within one window per
# restart and be above 0 for every device (each was cut mid-transfer). With auto the devices
# ride one stream and bytes_sent/bytes_resent count only their unicast repairs: reported only.
#
# usage: test_broker_restart.sh BUILD FIXTURES [MODE]
. "$(dirname "$0")/lib.sh" "$1" "$2"
MODE=${3:-off}
COUNT=100 WINDOW=16 CHUNK=4096 KILLS=3
BROKER_PID=""
trap 'rc=$?; stop_pid "$BROKER_PID"; cleanup $rc' EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

PORT=$(free_port)
mkdir -p "$T/ext-broker"
cat >"$T/ext-broker/mosquitto.conf" <<EOF
user $(id -un)
listener $PORT 127.0.0.1
allow_anonymous true
persistence true
persistence_location $T/ext-broker/
autosave_interval 1
max_queued_messages 100000
log_dest file $T/ext-mosquitto.log
EOF

start_broker() {
  mosquitto -c "$T/ext-broker/mosquitto.conf" >>"$T/ext-mosquitto.out.log" 2>&1 &
  BROKER_PID=$!
  wait_for 10 port_open "$PORT" || fail "mosquitto did not listen on 127.0.0.1:$PORT within 10 s"
}
start_broker
log "external mosquitto (pid $BROKER_PID) on 127.0.0.1:$PORT, persistence on"

start_mqotad --broker "mqtt://127.0.0.1:$PORT" --multicast "$MODE"
wait_for 20 sh -c "curl -sf '$HTTP_URL/api/v1/health' | jq -e .mqtt_connected" ||
  fail "mqotad did not connect to the external broker"
"$FLEET" --broker "mqtt://127.0.0.1:$PORT" --data "$T/fleet" --count $COUNT --link lte \
  --image "$FIX/idf_hello_world_esp32_2023.bin" --status-interval 2 >>"$T/fleet.log" 2>&1 &
FLEET_PID=$!
log "fleet of $COUNT on lte links started (pid $FLEET_PID)"
wait_online $COUNT 90

add_release "$FIX/arduino_nerdminer_esp32_v1.6.3.bin" --version v1.6.3; rel=$RELEASE_ID
deploy_all "$rel"; dep=$DEPLOYMENT_ID
t0=$(date +%s.%N)
log "release $rel deployed as deployment $dep to $COUNT devices"
mq deployment watch "$dep" --timeout 240 >>"$T/watch.log" 2>&1 &
WATCH_PID=$!

since() { echo "$(date +%s.%N) - $t0" | bc; }
sleep_until() { local d; d=$(echo "$t0 + $1 - $(date +%s.%N)" | bc); [ "${d:0:1}" = - ] || sleep "$d"; }
for at in 2 4.5 7; do
  sleep_until "$at"
  kill -KILL "$BROKER_PID" 2>/dev/null || fail "the broker was not running at ${at} s"
  wait "$BROKER_PID" 2>/dev/null || true
  log "broker SIGKILLed at $(since) s after the deploy"
  sleep 0.5
  start_broker
  log "broker back (pid $BROKER_PID) at $(since) s"
done

rc=0
wait "$WATCH_PID" || rc=$?
[ "$rc" -eq 0 ] || fail "deployment $dep did not finish with every device updated (watch exited $rc, see watch.log)"
log "deployment finished $(since) s after the deploy"

d=$(mq --json deployment show "$dep") || fail "deployment show $dep failed"
echo "$d" | jq -e --argjson c $COUNT '.state == "finished" and .succeeded == $c and .failed == 0' >/dev/null ||
  fail "server did not record $COUNT successes: $(echo "$d" | jq -c 'del(.targets)')"
confirmed() {
  mq --json device list | jq -e --argjson c $COUNT \
    '[.[] | select(.version == "v1.6.3" and .slot == 1 and .state == "confirmed")] | length == $c'
}
wait_for 20 confirmed || fail "not all $COUNT devices run v1.6.3 confirmed from slot 1"

echo "$d" | jq -r '.targets[] | "\(.device) sent \(.bytes_sent) resent \(.bytes_resent)"' >"$T/resent.txt"
stats=$(echo "$d" | jq -r '[.targets[].bytes_resent] | sort |
  "min \(.[0]) median \(.[(length / 2 | floor)]) max \(.[-1]) total \(add)"')
sent=$(echo "$d" | jq '[.targets[].bytes_sent] | add')
pass "multicast $MODE: bytes re-sent per device after $KILLS broker restarts: $stats (unicast chunk bytes sent in all: $sent for $COUNT x $(echo "$d" | jq .image_size))"
if [ "$MODE" = off ]; then
  limit=$((KILLS * WINDOW * CHUNK))
  echo "$d" | jq -e --argjson l $limit 'all(.targets[]; .bytes_resent > 0 and .bytes_resent <= $l)' >/dev/null ||
    fail "a device re-sent 0 bytes (not cut) or more than one window per restart ($limit): $(cat "$T/resent.txt")"
fi
passed
