#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The HTTP API against what a web page, a rebinding DNS name or a careless client sends
# (issue 9 items 2, 6 and 7), each with curl against a real mqotad (embedded mosquitto, SQLite
# file) and one virtual device: the API is closed by default (401) while the CLI on the same
# machine works without --token; a text/plain or form POST (415), a foreign Origin (403) and a
# foreign Host (421, DNS rebinding) are refused and create nothing; provisioning an existing
# device again without "replace" is 409 and its old password still opens the broker; a body
# with trailing bytes, a \u0000 or 2^53 + 1 is 400 and creates nothing; an unauthenticated
# 3 MB POST is 401 (not 413), a 50 MB JSON body gets the JSON-body sentence, a 100 KB query a
# JSON 414; 404 and 405 are JSON; --api-host adds names. Each refusal has a positive control
# beside it.
. "$(dirname "$0")/lib.sh" "$1" "$2"

IMG="$FIX/idf_hello_world_esp32_2024.bin"

# call CODE METHOD PATH [curl args...]: the answer must have status CODE and, for an error, be
# the API's JSON error (application/json, one "error" sentence). The body is left in $T/body.
call() {
  local want=$1 method=$2 path=$3 code; shift 3
  # --expect100-timeout: curl sends a large body only after mqotad's "100 Continue"; mqotad
  # refuses on the headers first, so no body is sent into a connection it closes (under load
  # curl's 1 s default ran out, it sent the body and saw the reset: "000")
  code=$(curl -s -m 30 --expect100-timeout 20 -o "$T/body" -D "$T/headers" -w '%{http_code}' \
    -X "$method" "$@" \
    "$HTTP_URL$path") || true
  [ "$code" = "$want" ] || fail "$method ${path:0:80} should be $want, got $code: $(head -c 300 "$T/body")"
  if [ "$want" -ge 400 ]; then
    grep -qi '^Content-Type: application/json' "$T/headers" ||
      fail "$method ${path:0:80} ($code): the error is not application/json: $(head -c 300 "$T/body")"
    jq -e '(keys == ["error"]) and (.error | type == "string" and length > 20)' "$T/body" >/dev/null ||
      fail "$method ${path:0:80} ($code): not {\"error\": sentence}: $(head -c 300 "$T/body")"
  fi
  CHECKS=$((CHECKS + 1))
}

# says WORDS: the last answer's error sentence contains WORDS (a grep -E pattern).
says() {
  jq -e --arg re "$1" '.error | test($re)' "$T/body" >/dev/null ||
    fail "the sentence should match '$1': $(cat "$T/body")"
}

count() { mq --json "$1" list | jq -e 'length'; }
nothing_created() {
  [ "$(count release)" = 1 ] || fail "$1 created a release: $(mq --json release list | jq -c 'map(.id)')"
  [ "$(count deployment)" = 0 ] || fail "$1 created a deployment"
  ! grep -Eq '^(good-1|rebind-1|web-1):' "$T/server/auth/passwd" || fail "$1 provisioned a device"
}

start_mqotad
start_fleet --count 1 --image "$FIX/idf_hello_world_esp32_2023.bin"
wait_online 1 60
AUTH=(-H "$API_AUTH")
JSON=(-H 'Content-Type: application/json')
OCTETS=(-H 'Content-Type: application/octet-stream')
PORT=${HTTP_URL##*:}

# ---- closed by default; the CLI on the same machine needs no --token ----
call 401 GET /api/v1/devices
call 401 GET /api/v1/releases -H 'Authorization: Bearer not-a-token'
call 200 GET /api/v1/health
call 200 GET /api/v1/devices "${AUTH[@]}"
REL=$(mq --json release add "$IMG" | jq -e .id) || fail "the CLI without --token could not upload"
[ "$REL" = 1 ] || fail "first release id is $REL"
mq device list >/dev/null || fail "the CLI without --token could not list devices"
pass "closed by default (401); the CLI found DIR/api.token by itself"

# ---- simple cross-site requests: text/plain, a form, no Content-Type (415) ----
call 415 POST /api/v1/deployments "${AUTH[@]}" -H 'Content-Type: text/plain' \
  -d "{\"release\": $REL, \"all\": true}"
says "Content-Type 'text/plain' is refused: send the JSON body as application/json"
call 415 POST /api/v1/devices "${AUTH[@]}" -H 'Content-Type: application/x-www-form-urlencoded' \
  -d '{"devices": ["web-1"]}'
call 415 POST /api/v1/devices "${AUTH[@]}" -H 'Content-Type:' -d '{"devices": ["web-1"]}'
says "no Content-Type"
call 415 POST /api/v1/releases "${AUTH[@]}" -H 'Content-Type: text/plain' --data-binary @"$FIX/arduino_nerdminer_esp32_v1.6.3.bin"
says "send the image file as application/octet-stream"
call 415 POST /api/v1/releases "${AUTH[@]}" -F "image=@$FIX/arduino_nerdminer_esp32_v1.6.3.bin"
nothing_created "a text/plain, form or untyped POST"
pass "text/plain, form and untyped POSTs refused (415)"

# ---- a foreign Origin (403); the own origin and a GET from anywhere are fine ----
call 403 POST /api/v1/deployments "${AUTH[@]}" "${JSON[@]}" -H 'Origin: http://evil.example' \
  -d "{\"release\": $REL, \"all\": true}"
says "Origin 'http://evil.example' is not this mqotad's own"
call 403 POST /api/v1/devices "${AUTH[@]}" "${JSON[@]}" -H 'Origin: null' -d '{"devices": ["web-1"]}'
call 403 POST "/api/v1/releases?version=web" "${AUTH[@]}" "${OCTETS[@]}" \
  -H "Origin: http://127.0.0.1:$PORT.evil.example" --data-binary @"$FIX/arduino_nerdminer_esp32_v1.6.3.bin"
call 200 GET /api/v1/devices "${AUTH[@]}" -H 'Origin: http://evil.example'
nothing_created "a foreign Origin"
pass "foreign Origins refused (403)"

# ---- a foreign Host: DNS rebinding (421), on the page and the API ----
call 421 GET / -H "Host: rebind.evil.example:$PORT"
says "Host 'rebind.evil.example:$PORT' is not a name this mqotad answers to"
call 421 GET /api/v1/devices "${AUTH[@]}" -H "Host: rebind.evil.example:$PORT"
call 421 POST /api/v1/devices "${AUTH[@]}" "${JSON[@]}" -H "Host: rebind.evil.example:$PORT" \
  -H "Origin: http://rebind.evil.example:$PORT" -d '{"devices": ["rebind-1"]}'
call 421 GET /api/v1/health -H "Host: 127.0.0.1:$((PORT == 65535 ? 1 : PORT + 1))"
call 200 GET /api/v1/devices "${AUTH[@]}" -H "Host: localhost:$PORT"
call 200 GET / -H "Host: 127.0.0.1:$PORT"
nothing_created "a foreign Host"
pass "foreign Host names refused (421); localhost and 127.0.0.1 with mqotad's port served"

# ---- strict JSON (400, nothing created) ----
call 400 POST /api/v1/deployments "${AUTH[@]}" "${JSON[@]}" \
  -d "{\"release\": $REL, \"devices\": [\"vdev-0001\"]} trailing"
says "bytes follow the JSON object"
call 400 POST /api/v1/deployments "${AUTH[@]}" "${JSON[@]}" \
  -d "{\"release\": $REL, \"devices\": [\"vdev-0001\\u0000x\"]}"
says "holds a string with .u0000"
call 400 POST /api/v1/devices "${AUTH[@]}" "${JSON[@]}" -d '{"devices": ["good-1\u0000/#"]}'
says "^\"devices\" holds a string with .u0000"
call 400 POST /api/v1/deployments "${AUTH[@]}" "${JSON[@]}" \
  -d '{"release": 9007199254740993, "devices": ["vdev-0001"]}'
says "9007199254740993, beyond 9007199254740991"
call 400 POST /api/v1/devices/vdev-0001/commands "${AUTH[@]}" "${JSON[@]}" \
  -d '{"name": "diagnostics"} {"name": "reboot"}'
nothing_created "trailing bytes, \\u0000 or 2^53 + 1"
mq --json device commands vdev-0001 | jq -e 'length == 0' >/dev/null || fail "a refused command was queued"
pass "trailing bytes, \\u0000 and 2^53 + 1 refused (400), nothing created"

# ---- provisioning an existing device again needs "replace" (409, its password still works) ----
call 201 POST /api/v1/devices "${AUTH[@]}" "${JSON[@]}" -d '{"devices": ["prov-1"]}'
old=$(jq -r '.devices[0].credentials' "$T/body" | sed -n 's/^password=//p')
[ -n "$old" ] || fail "no password in the provisioning answer"
hash=$(grep '^prov-1:' "$T/server/auth/passwd")
call 409 POST /api/v1/devices "${AUTH[@]}" "${JSON[@]}" -d '{"devices": ["prov-1"]}'
says "device 'prov-1' is already provisioned; .*locks the real device out"
call 409 POST /api/v1/devices "${AUTH[@]}" "${JSON[@]}" -d '{"devices": ["new-1", "prov-1"], "replace": false}'
[ "$(grep '^prov-1:' "$T/server/auth/passwd")" = "$hash" ] || fail "a refused re-provisioning changed prov-1's password hash"
! grep -q '^new-1:' "$T/server/auth/passwd" || fail "a refused provisioning created new-1 beside prov-1"
port=${BROKER_URL##*:}
r=$(timeout 10 mosquitto_sub -h 127.0.0.1 -p "$port" -i prov-1 -u prov-1 -P "$old" \
      -t mqota/v1/dev/prov-1/offer -C 1 -W 2 2>&1) || true
echo "$r" | grep -qi "not authori" && fail "the broker refuses prov-1's password after a refused re-provisioning: $r"
call 201 POST /api/v1/devices "${AUTH[@]}" "${JSON[@]}" -d '{"devices": ["prov-1"], "replace": true}'
[ "$(grep '^prov-1:' "$T/server/auth/passwd")" != "$hash" ] || fail "\"replace\": true kept the password"
pass "re-provisioning without \"replace\" refused (409), the device's password still accepted by mosquitto"

# ---- order and form of errors (item 7) ----
head -c 3000000 /dev/zero >"$T/3mb"
call 401 POST /api/v1/releases "${OCTETS[@]}" --data-binary @"$T/3mb"
call 401 POST /api/v1/deployments "${JSON[@]}" --data-binary @"$T/3mb"
call 401 POST /api/v1/no-such-route -H 'Content-Type: text/plain' --data-binary @"$T/3mb"
truncate -s 50M "$T/50mb"
call 413 POST /api/v1/deployments "${AUTH[@]}" "${JSON[@]}" --data-binary @"$T/50mb"
says "larger than 1048576 bytes, the most a JSON request body may be"
! jq -e '.error | test("slot")' "$T/body" >/dev/null || fail "a JSON body's 413 speaks of OTA slots"
call 413 POST /api/v1/releases "${AUTH[@]}" "${OCTETS[@]}" --data-binary @"$T/3mb"
says "larger than the largest OTA slot"
rm -f "$T/3mb" "$T/50mb"
q=$(head -c 100000 /dev/zero | tr '\0' a)
call 414 GET "/api/v1/devices?x=$q" "${AUTH[@]}"
says "the URL is 100018 bytes long .*at most 8192"
call 404 GET /api/v1/no-such-route "${AUTH[@]}"
call 405 DELETE /api/v1/releases "${AUTH[@]}"
call 200 GET "/api/v1/devices?x=${q:0:1000}" "${AUTH[@]}"
nothing_created "the oversized requests"
pass "401 before 413; JSON 413 sentences by kind; JSON 414, 404 and 405"

# ---- the positive control: a well-formed deployment from the CLI's origin still works ----
call 201 POST /api/v1/deployments "${AUTH[@]}" "${JSON[@]}" -H "Origin: $HTTP_URL" \
  -d "{\"release\": $REL, \"devices\": [\"vdev-0001\"]}"

# ---- --api-host: a name mqotad serves behind a proxy (any port), NAME:PORT that port only ----
stop_pid "$FLEET_PID"; FLEET_PID=""
stop_pid "$MQOTAD_PID"; MQOTAD_PID=""
start_mqotad --api-host mqota.example --api-host ops.example:8443
call 200 GET /api/v1/devices "${AUTH[@]}" -H 'Host: mqota.example'
call 200 GET /api/v1/devices "${AUTH[@]}" -H 'Host: MQOTA.example:443'
call 200 GET /api/v1/devices "${AUTH[@]}" -H 'Host: ops.example:8443'
call 421 GET /api/v1/devices "${AUTH[@]}" -H 'Host: ops.example:8444'
call 421 GET /api/v1/devices "${AUTH[@]}" -H 'Host: evil.mqota.example'
call 201 POST /api/v1/devices "${AUTH[@]}" "${JSON[@]}" -H 'Host: mqota.example' \
  -H 'Origin: https://mqota.example' -d '{"devices": ["proxy-1"]}'
pass "--api-host names served (any port, or the one given), others refused"
passed
