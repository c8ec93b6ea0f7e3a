# SPDX-License-Identifier: Apache-2.0
# Shared helpers of the integration tests. Source it as:  . lib.sh BUILD_DIR FIXTURES_DIR
# Every test runs real processes: mqotad (which starts its own mosquitto on a free loopback
# port), mqota-fleet and the mqota CLI, in a fresh temporary directory removed at exit.
# Every wait is bounded; on failure the tails of the logs are printed.
#
# Rules every script follows (docs/TESTING.md, "Writing an integration test"):
#  - fail SENTENCE stops the test: "FAIL: SENTENCE" and the tails of the logs go to stderr
#    (never into a $(...) capture) and the sentence is kept in $T/FAIL for the EXIT trap.
#  - Never call a function that can fail inside $(...): a fail there ends only the subshell.
#    Functions that produce a value set a global variable instead: add_release sets RELEASE_ID,
#    deploy_all sets DEPLOYMENT_ID, json_get VAR JSON FILTER sets VAR (and refuses null or a missing
#    field). Plain commands (mq, jq, cat) may be captured, followed by '|| fail ...'.
#  - Every jq that decides something is 'jq -e' with an explicit comparison ('.x == 3', not
#    '.x'), so that null or a missing field fails instead of comparing equal to itself:
#    check_json WHAT JSON FILTER does that and counts the check.
#  - Checks are counted: check WHAT CMD..., check_json ..., or pass WHAT after a group of
#    '... || fail' conditions. A script ends with 'passed'. The EXIT trap fails a script that
#    exits 0 before 'passed' or having counted no check (a script that selected nothing to
#    test fails); it names the command that stopped a script under set -e without a sentence.
#  - The fixture images (FIXTURES_DIR) missing: the script is skipped, exit 77 with a
#    sentence (CTest SKIP_RETURN_CODE 77), before anything is started.
set -euo pipefail
set -E
BUILD="$1"
FIX="$2"
# The images every integration test may use (../shared/fixtures/firmware/SOURCES.md).
FIXTURE_IMAGES="idf_hello_world_esp32_2023.bin idf_hello_world_esp32_2024.bin
  arduino_nerdminer_esp32_v1.6.3.bin"
for _img in $FIXTURE_IMAGES; do
  if [ ! -f "$FIX/$_img" ]; then
    echo "SKIP: the fixture image $_img is not in '$FIX' (the real ESP32 images live in" \
         "../shared/fixtures/firmware beside the repository; see docs/TESTING.md)"
    exit 77
  fi
done
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

CHECKS=0
PASSED=""
ERR_AT=""
# Under set -e a failing command ends the script without a sentence: remember which one.
trap 'ERR_AT="${BASH_SOURCE[0]##*/}:$LINENO: $BASH_COMMAND"' ERR

# fail SENTENCE: stop the test. Everything goes to stderr, so a fail inside a $(...) capture
# (which the rules above forbid) still shows; the sentence is kept in $T/FAIL for the EXIT trap.
fail() {
  echo "FAIL: $*" >&2
  { echo "FAIL: $*" >>"$T/FAIL"; } 2>/dev/null || echo "(the test directory $T is gone)" >&2
  dump_logs >&2
  exit 1
}

# pass WHAT: count one check (a group of '... || fail' conditions that held) and log it.
pass() {
  CHECKS=$((CHECKS + 1))
  log "ok: $*"
}

# check WHAT CMD...: run CMD (its output discarded); fail with WHAT unless it succeeds.
check() {
  local what=$1; shift
  "$@" >/dev/null 2>&1 || fail "$what (failed: $*)"
  CHECKS=$((CHECKS + 1))
}

# check_json WHAT JSON FILTER [JQ_ARGS...]: jq -e FILTER on JSON must print true; else fail
# with WHAT and the JSON. FILTER compares explicitly ('.state == "done"'), never just '.x'.
check_json() {
  local what=$1 json=$2 filter=$3; shift 3
  jq -e "$@" "$filter" <<<"$json" >/dev/null 2>&1 || fail "$what: $(head -c 2000 <<<"$json")"
  CHECKS=$((CHECKS + 1))
}

# json_get VAR JSON FILTER [JQ_ARGS...]: set VAR to jq -r FILTER of JSON; fail if the value is
# null, false or missing, or JSON is not JSON. Call it as a command, never inside $(...).
json_get() {
  local var=$1 json=$2 filter=$3 v; shift 3
  v=$(jq -er "$@" "$filter" <<<"$json" 2>/dev/null) ||
    fail "no value for $filter in: $(head -c 2000 <<<"$json")"
  printf -v "$var" '%s' "$v"
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
  if [ "$rc" -eq 0 ] && { [ -z "$PASSED" ] || [ "$CHECKS" -eq 0 ]; }; then
    rc=1
    if [ -z "$PASSED" ]; then
      echo "FAIL: the script exited 0 before its last check ('passed' not reached)" >&2
    else
      echo "FAIL: the script checked nothing (no check, check_json or pass counted)" >&2
    fi
  elif [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] && [ ! -s "$T/FAIL" ]; then
    echo "FAIL: the script stopped with status $rc without a FAIL sentence" \
         "${ERR_AT:+(last failing command: $ERR_AT)}" >&2
    dump_logs >&2
  fi
  stop_pid "$FLEET_PID"
  stop_pid "$MQOTAD_PID"
  if [ "$rc" -ne 0 ] || [ -n "${MQOTA_KEEP_TEST_DIR:-}" ]; then
    echo "test directory kept: $T"
  else
    rm -rf "$T"
  fi
  exit "$rc"
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
  [ -s "$T/server/api.token" ] || fail "mqotad wrote no api.token in $T/server"
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
  "$FLEET" --broker "$BROKER_URL" --data "$T/fleet" --status-interval 2 $auth \
    --port "${MQOTA_FLEET_PORT:-posix}" "$@" >>"$T/fleet.log" 2>&1 &
  FLEET_PID=$!
  log "fleet started (pid $FLEET_PID): $*"
}

online_count() { mq --json device list | jq -e '[.[] | select(.online == true)] | length'; }
online_at_least() { [ "$(online_count 2>/dev/null || echo 0)" -ge "$1" ]; }

# wait_online N SECONDS
wait_online() {
  local n=$1 secs=$2
  wait_for "$secs" online_at_least "$n" ||
    fail "only $(online_count || echo '(no answer)') of $n devices online after $secs s"
  log "$n devices online"
}

# add_release FILE [--version V]: sets RELEASE_ID to the new release's id.
add_release() {
  local out
  out=$(mq --json release add "$@" 2>&1) || fail "release add $* was refused: $out"
  json_get RELEASE_ID "$out" '.id | numbers'
}

# deploy_all RELEASE: sets DEPLOYMENT_ID to the new deployment's id.
deploy_all() {
  local out
  out=$(mq --json deploy "$1" --all 2>&1) || fail "deploy $1 --all was refused: $out"
  json_get DEPLOYMENT_ID "$out" '.id | numbers'
}

# watch DEPLOYMENT SECONDS: the CLI's exit status.
watch() {
  local rc=0
  mq deployment watch "$1" --timeout "$2" >>"$T/watch.log" 2>&1 || rc=$?
  return $rc
}

# passed: the script's last line. Fails a script that counted no check; prints the closing
# line CTest-independent runners understand.
passed() {
  [ "$CHECKS" -gt 0 ] || fail "the script checked nothing (no check, check_json or pass counted)"
  PASSED=1
  log "$CHECKS checks passed"
  echo "1 passed, 0 failed"
}
