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
API_AUTH=""

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

# cleanup [RC]: stop what the test started; keep the directory if RC (default: the exit status)
# is not 0. Traps that stop more first pass RC explicitly: under set -e a "(exit $rc)" in a
# trap would end the trap before cleanup ran, leaving mqotad, mosquitto and the fleet behind.
cleanup() {
  local rc=${1:-$?}
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
  # The API needs a token (the CLI finds DIR/api.token itself); curl is given this header.
  API_AUTH="Authorization: Bearer $(cat "$T/server/api.token")"
  log "mqotad up: http $HTTP_URL, broker $BROKER_URL"
}

# fleet_ids ARGS...: the device ids mqota-fleet makes from --count and --prefix in ARGS.
fleet_ids() {
  local count=20 prefix=vdev-
  while [ $# -gt 0 ]; do
    case $1 in
      --count) count=$2; shift ;;
      --count=*) count=${1#*=} ;;
      --prefix) prefix=$2; shift ;;
      --prefix=*) prefix=${1#*=} ;;
    esac
    shift
  done
  for i in $(seq 1 "$count"); do printf '%s%04d\n' "$prefix" "$i"; done
}

# fleet_provision ARGS...: the embedded broker refuses anonymous clients, so give the fleet's
# devices (ids from ARGS, as mqota-fleet makes them) broker identities: 'mqotad device
# provision' writes $T/creds/<id>.cred for those the server does not know yet. Call it as a
# command, not inside $(...), so that its failure stops the test with a message.
fleet_provision() {
  local missing=() id
  for id in $(fleet_ids "$@"); do
    [ -f "$T/creds/$id.cred" ] && grep -q "^$id:" "$T/server/auth/passwd" 2>/dev/null ||
      missing+=("$id")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    "$MQOTAD" --data "$T/server" device provision --out-dir "$T/creds" "${missing[@]}" \
      >>"$T/provision.log" 2>&1 ||
      fail "device provision of ${#missing[@]} devices failed: $(tail -n 3 "$T/provision.log")"
  fi
}

# fleet_auth: the fleet options that use the identities fleet_provision made (and the CA of an
# mqtts:// broker). Prints only; never fails.
fleet_auth() {
  echo "--credentials-dir $T/creds"
  case $BROKER_URL in mqtts://*) echo "--ca $T/server/tls/ca.crt" ;; esac
}

# start_fleet [ARGS...]: the virtual fleet with its flash files in $T/fleet.
start_fleet() {
  local auth
  fleet_provision "$@"
  auth=$(fleet_auth)
  # shellcheck disable=SC2086 # $auth is a list of options without spaces in them
  "$FLEET" --broker "$BROKER_URL" --data "$T/fleet" --status-interval 2 $auth "$@" \
    >>"$T/fleet.log" 2>&1 &
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
