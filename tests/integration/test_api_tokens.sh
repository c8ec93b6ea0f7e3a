#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# HTTP API bearer tokens (docs/API.md "Authentication"): the API is closed from the first
# start: mqotad writes DIR/api.token (mode 0600, hash in the database as "api.token"), which
# the CLI on the same machine finds by itself; every endpoint but the health check and the
# dashboard page answers 401 without a token or with a wrong one, and 200 with one made by
# `mqotad --data DIR token create NAME`; revoked tokens stop working at once (also the file's,
# which a restart does not bring back; deleting the file makes a new one); --open-api opens
# the API, loudly. The tokens appear in no log, no JSON answer and not in the database.
. "$(dirname "$0")/lib.sh" "$1" "$2"

IMG="$FIX/idf_hello_world_esp32_2024.bin"
BODIES="$T/bodies.json"   # every JSON answer of this test, searched for the token at the end
: >"$BODIES"

# http METHOD PATH [TOKEN] [curl args...]: prints the status; the body is appended to $BODIES.
http() {
  local method=$1 path=$2 tok=${3:-}; shift 3 || shift $#
  local auth=()
  [ -n "$tok" ] && auth=(-H "Authorization: Bearer $tok")
  curl -s -o "$T/body" -D "$T/headers" -w '%{http_code}' -X "$method" "${auth[@]}" "$@" \
    "$HTTP_URL$path"
  cat "$T/body" >>"$BODIES"; echo >>"$BODIES"
}

# expect_401 METHOD PATH [TOKEN] [curl args...]
expect_401() {
  local code
  code=$(http "$@")
  [ "$code" = 401 ] || fail "$1 $2 ${3:+with a token }should be 401, got $code: $(cat "$T/body")"
  jq -e '. == {"error": "missing or invalid bearer token"}' "$T/body" >/dev/null ||
    fail "$1 $2: 401 body should say only 'missing or invalid bearer token': $(cat "$T/body")"
  grep -qi '^WWW-Authenticate: Bearer' "$T/headers" || fail "$1 $2: no WWW-Authenticate: Bearer"
}

# expect_code CODE METHOD PATH [TOKEN] [curl args...]
expect_code() {
  local want=$1 code; shift
  code=$(http "$@")
  [ "$code" = "$want" ] || fail "$1 $2 should be $want, got $code: $(cat "$T/body")"
}

start_mqotad --log-level debug

# ---- closed from the first start; the token file is mqotad's user's alone ----
expect_401 GET /api/v1/devices ""
expect_code 200 GET /api/v1/health ""
jq -e --arg f "$(realpath "$T/server")/api.token" '.token_required == true and .token_file == $f' \
  "$T/body" >/dev/null || fail "health: $(cat "$T/body")"
FILE_TOKEN=$(cat "$T/server/api.token")
[[ "$FILE_TOKEN" =~ ^[A-Za-z0-9_-]{43}$ ]] || fail "api.token should hold a 43-character token"
[ "$(stat -c %a "$T/server/api.token")" = 600 ] || fail "api.token has mode $(stat -c %a "$T/server/api.token")"
expect_code 200 GET /api/v1/devices "$FILE_TOKEN"
"$MQOTAD" --data "$T/server" token list | grep -q '^api.token ' || fail "token list does not show api.token"
mq --json device list >>"$BODIES" || fail "the CLI on mqotad's machine did not find DIR/api.token"
pass "closed from the first start; DIR/api.token (0600) works and the CLI finds it"

# ---- create tokens while mqotad runs ----
TOKEN=$("$MQOTAD" --data "$T/server" token create ci 2>"$T/create.err") || fail "token create: $(cat "$T/create.err")"
OTHER=$("$MQOTAD" --data "$T/server" token create other 2>/dev/null) || fail "second token create"
[[ "$TOKEN" =~ ^[A-Za-z0-9_-]{43}$ ]] || fail "token should be 43 base64url characters: '$TOKEN'"
[ "$TOKEN" != "$OTHER" ] || fail "two tokens are equal"
rc=0; "$MQOTAD" --data "$T/server" token create ci >/dev/null 2>"$T/err" || rc=$?
[ "$rc" -eq 1 ] && grep -q "a token named 'ci' exists" "$T/err" || fail "duplicate name: rc $rc $(cat "$T/err")"
rc=0; "$MQOTAD" --data "$T/server" token create 'bad name' >/dev/null 2>"$T/err" || rc=$?
[ "$rc" -eq 2 ] || fail "bad token name should exit 2, got $rc"
"$MQOTAD" --data "$T/server" token list >"$T/list" || fail "token list failed"
grep -q '^ci ' "$T/list" && grep -q '^other ' "$T/list" || fail "token list: $(cat "$T/list")"
log "tokens created"

# ---- 401 without a token, with a wrong one, on several endpoints ----
WRONG=$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
NEAR="${TOKEN%?}$( [ "${TOKEN: -1}" = A ] && echo B || echo A )"
for tok in "" "$WRONG" "$NEAR"; do
  expect_401 GET /api/v1/devices "$tok"
  expect_401 GET /api/v1/devices/vdev-0001 "$tok"
  expect_401 GET /api/v1/releases "$tok"
  expect_401 GET /api/v1/releases/1 "$tok"
  expect_401 GET /api/v1/deployments "$tok"
  expect_401 POST /api/v1/deployments "$tok" -H 'Content-Type: application/json' -d '{"release": 1, "all": true}'
  expect_401 POST /api/v1/releases "$tok" -H 'Content-Type: application/octet-stream' --data-binary @"$IMG"
  expect_401 GET /api/v1/no-such-endpoint "$tok"
done
code=$(curl -s -o "$T/body" -w '%{http_code}' -H "Authorization: Basic $(printf 'u:%s' "$TOKEN" | base64 -w0)" \
  "$HTTP_URL/api/v1/devices")
[ "$code" = 401 ] || fail "Basic authorization should be 401, got $code"
if MQOTA_TOKEN="$WRONG" mq --json release list >/dev/null 2>&1; then fail "release list with a wrong token should fail"; fi
pass "401 without a token, with a wrong token and a near miss"

# ---- health and the dashboard page stay open ----
expect_code 200 GET /api/v1/health ""
jq -e '.status == "ok" and .token_required == true' "$T/body" >/dev/null || fail "health: $(cat "$T/body")"
expect_code 200 GET / ""
expect_code 200 GET /console.js ""
grep -q "Bearer" "$T/body" || fail "the console's script should send the token it asks for"

# ---- 200 with the token (header, --token, MQOTA_TOKEN) ----
expect_code 200 GET /api/v1/devices "$TOKEN"
expect_code 200 GET /api/v1/releases "$TOKEN"
expect_code 200 GET /api/v1/deployments "$TOKEN"
expect_code 201 POST /api/v1/releases "$TOKEN" -H 'Content-Type: application/octet-stream' --data-binary @"$IMG"
expect_code 200 GET /api/v1/releases/1 "$TOKEN"
expect_code 404 GET /api/v1/no-such-endpoint "$TOKEN"
expect_code 200 GET /api/v1/releases "$OTHER"

# ---- the CLI ----
rc=0; MQOTA_TOKEN="$WRONG" mq release list >"$T/out" 2>"$T/err" || rc=$?
[ "$rc" -eq 1 ] || fail "CLI with a wrong MQOTA_TOKEN should exit 1, got $rc"
[ "$(cat "$T/err")" = "mqota: mqotad refused the request: missing or invalid bearer token (give --token, set MQOTA_TOKEN, or --data DIR for mqotad's DIR/api.token)" ] ||
  fail "CLI 401 message: $(cat "$T/err")"
rc=0; mq --token "$WRONG" device list >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 1 ] || fail "CLI with a wrong token should exit 1, got $rc"
# the token file: found by itself (health names it to loopback clients), or from --data
"$MQOTA" --data "$T/server" --json release list >>"$BODIES" || fail "CLI --data DIR (server from DIR/http.url) refused"
MQOTA_DATA="$T/server" "$MQOTA" --json release list >/dev/null || fail "CLI with MQOTA_DATA refused"
mq --json release list >/dev/null || fail "CLI without a token did not find DIR/api.token"
"$MQOTA" --server "localhost:${HTTP_URL##*:}" --json release list >/dev/null ||
  fail "CLI with --server localhost:PORT did not find DIR/api.token"
chmod 640 "$T/server/api.token"   # a token file others may read is not one the CLI trusts
if mq --json release list >/dev/null 2>&1; then fail "the CLI used a token file of mode 640"; fi
chmod 600 "$T/server/api.token"
mv "$T/server/http.url" "$T/server/http.url.kept"   # not this URL's data directory (any more)
if mq --json release list >/dev/null 2>&1; then fail "the CLI used a token file without http.url"; fi
mv "$T/server/http.url.kept" "$T/server/http.url"
rc=0; "$MQOTA" --server "$HTTP_URL" --data "$T/nowhere" release list >/dev/null 2>"$T/err" || rc=$?
[ "$rc" -eq 1 ] && grep -q "cannot read the API token in $T/nowhere/api.token" "$T/err" ||
  fail "--data without a token file: exit $rc: $(cat "$T/err")"
mq --token "$TOKEN" --json release list >>"$BODIES" || fail "CLI --token refused"
MQOTA_TOKEN="$TOKEN" mq --json device list >>"$BODIES" || fail "CLI with MQOTA_TOKEN refused"
MQOTA_TOKEN="$TOKEN" mq release add "$FIX/idf_hello_world_esp32_2023.bin" >/dev/null ||
  fail "CLI upload with MQOTA_TOKEN refused"
mq status >/dev/null || fail "mqota status (health) should work without a token"
pass "CLI: 401 message without a token, --token and MQOTA_TOKEN work"

# ---- revoke: that token stops working at once, the other keeps working ----
"$MQOTAD" --data "$T/server" token revoke other >/dev/null || fail "token revoke"
expect_401 GET /api/v1/releases "$OTHER"
expect_code 200 GET /api/v1/releases "$TOKEN"
rc=0; "$MQOTAD" --data "$T/server" token revoke other 2>"$T/err" || rc=$?
[ "$rc" -eq 1 ] && grep -q "no token named 'other'" "$T/err" || fail "revoking twice: rc $rc $(cat "$T/err")"

# ---- revoking the file's token holds across a restart; a deleted file is made again ----
"$MQOTAD" --data "$T/server" token revoke api.token >/dev/null || fail "token revoke api.token"
expect_401 GET /api/v1/releases "$FILE_TOKEN"
stop_pid "$MQOTAD_PID"; MQOTAD_PID=""
"$MQOTAD" --data "$T/server" token revoke ci >/dev/null || fail "token revoke ci"
start_mqotad --require-token --log-level debug   # --require-token: accepted, the default now
[ "$(cat "$T/server/api.token")" = "$FILE_TOKEN" ] || fail "a restart replaced an existing api.token"
expect_401 GET /api/v1/devices ""
expect_401 GET /api/v1/devices "$TOKEN"
expect_401 GET /api/v1/devices "$FILE_TOKEN"
expect_code 200 GET /api/v1/health ""
stop_pid "$MQOTAD_PID"; MQOTAD_PID=""
rm "$T/server/api.token"
start_mqotad --log-level debug
NEW_FILE_TOKEN=$(cat "$T/server/api.token")
[ "$NEW_FILE_TOKEN" != "$FILE_TOKEN" ] || fail "the new api.token repeats the old one"
expect_code 200 GET /api/v1/devices "$NEW_FILE_TOKEN"
pass "a revoked api.token stays revoked; a deleted one is made anew"

# ---- --open-api: open, and says so ----
stop_pid "$MQOTAD_PID"; MQOTAD_PID=""
start_mqotad --open-api --log-level debug
expect_code 200 GET /api/v1/devices ""
expect_code 200 GET /api/v1/health ""
jq -e '.token_required == false and (has("token_file") | not)' "$T/body" >/dev/null ||
  fail "health with --open-api: $(cat "$T/body")"
grep -q "warn: --open-api: the HTTP API answers WITHOUT a bearer token" "$T/mqotad.log" ||
  fail "--open-api logged no warning"
pass "--open-api opens the API with a warning"

# ---- the tokens appear nowhere ----
for tok in "$TOKEN" "$OTHER" "$FILE_TOKEN" "$NEW_FILE_TOKEN"; do
  ! grep -rqF "$tok" "$T/mqotad.log" "$T/server/broker" 2>/dev/null || fail "a token is in mqotad's logs"
  ! grep -qF "$tok" "$BODIES" || fail "a token is in a JSON answer"
  ! grep -aqF "$tok" "$T"/server/mqota.db* || fail "a token is in the database"
  ! grep -qF "$tok" "$T/list" || fail "token list shows a token"
done
grep -q "http GET /api/v1/devices -> 401" "$T/mqotad.log" || fail "debug log should record the 401s"
passed
