# SPDX-License-Identifier: Apache-2.0
# Shared helpers of the integration tests. Source it as:  . lib.sh BUILD_DIR FIXTURES_DIR
# Every test runs real processes: mqotad (which starts its own mosquitto on a free loopback
# port), mqota-fleet and the mqota CLI, in a fresh temporary directory removed at exit.
# Every wait is bounded; on failure the tails of the logs are printed.
set -euo pipefail

BUILD="$1"
FIX="$2"
MQOTAD="$BUILD/server/mqotad"
MQOTA="$BUILD/cli/mqota"
FLEET="$BUILD/fleet/mqota-fleet"
T=$(mktemp -d /tmp/mqota-test.XXXXXX)
MQOTAD_PID=""
FLEET_PID=""
HTTP_URL=""
BROKER_URL=""

log() { echo "[$(date +%H:%M:%S)] $*"; }

dump_logs() {
  for f in "$T"/*.log "$T"/server/broker/mosquitto.log; do
    [ -f "$f" ] || continue
    echo "----- last lines of $f -----"
    tail -n 40 "$f"
  done
}

fail() {
  echo "FAIL: $*"
  dump_logs
  exit 1
}

# stop PID: SIGTERM, then SIGKILL after 10 s.
stop_pid() {
  local pid=$1
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  stop_pid "$FLEET_PID"
  stop_pid "$MQOTAD_PID"
  if [ "$rc" -ne 0 ] || [ -n "${MQOTA_KEEP_TEST_DIR:-}" ]; then
    echo "test directory kept: $T"
  else
    rm -rf "$T"
  fi
}
trap cleanup EXIT

# wait_for SECONDS CMD...: run CMD every 0.2 s until it succeeds; 1 after SECONDS.
wait_for() {
  local secs=$1; shift
  local end=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$end" ] || return 1
    sleep 0.2
  done
}

mq() { "$MQOTA" --server "$HTTP_URL" "$@"; }

# start_mqotad [ARGS...]: mqotad with its embedded broker and data in $T/server.
start_mqotad() {
  rm -f "$T/server/http.url"
  "$MQOTAD" --data "$T/server" --http 127.0.0.1:0 "$@" >>"$T/mqotad.log" 2>&1 &
  MQOTAD_PID=$!
  wait_for 20 test -s "$T/server/http.url" || fail "mqotad did not write http.url within 20 s"
  HTTP_URL=$(cat "$T/server/http.url")
  wait_for 20 test -s "$T/server/broker.url" || fail "mqotad did not write broker.url within 20 s"
  BROKER_URL=$(cat "$T/server/broker.url")
  wait_for 20 mq status || fail "mqotad at $HTTP_URL does not answer"
  log "mqotad up: http $HTTP_URL, broker $BROKER_URL"
}

# start_fleet [ARGS...]: the virtual fleet with its flash files in $T/fleet.
start_fleet() {
  "$FLEET" --broker "$BROKER_URL" --data "$T/fleet" --status-interval 2 "$@" >>"$T/fleet.log" 2>&1 &
  FLEET_PID=$!
  log "fleet started (pid $FLEET_PID): $*"
}

online_count() { mq --json device list | jq '[.[] | select(.online == true)] | length'; }
online_at_least() { [ "$(online_count 2>/dev/null || echo 0)" -ge "$1" ]; }

# wait_online N SECONDS
wait_online() {
  local n=$1 secs=$2
  wait_for "$secs" online_at_least "$n" ||
    fail "only $(online_count) of $n devices online after $secs s"
  log "$n devices online"
}

# add_release FILE [--version V]: prints the release id.
add_release() {
  local out
  out=$(mq --json release add "$@") || fail "release add $* was refused: $out"
  echo "$out" | jq -r .id
}

# deploy_all RELEASE_ID: prints the deployment id.
deploy_all() {
  local out
  out=$(mq --json deploy "$1" --all) || fail "deploy $1 --all was refused: $out"
  echo "$out" | jq -r .id
}

# watch DEPLOYMENT SECONDS: the CLI's exit status.
watch() {
  local rc=0
  mq deployment watch "$1" --timeout "$2" >>"$T/watch.log" 2>&1 || rc=$?
  return $rc
}

# Print the closing line CTest-independent runners understand.
passed() { echo "1 passed, 0 failed"; }
