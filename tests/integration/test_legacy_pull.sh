#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Legacy protocol 3, HTTPS pull (docs/LEGACY.md §3), against mqotad's pull listener with curl
# called the way esp_https_ota calls it (basic auth over TLS, mqotad's CA pinned):
#  - the answers: 204 no update, 403 without or with bad credentials (no WWW-Authenticate
#    challenge), 404 unknown device, 400 app_ver missing or repeated, nothing over plain HTTP
#    or without the CA; a per-device user is refused for another device;
#  - a release of another chip is refused before anything is served;
#  - an update: 200 with the file name, a fetch cut after 5000 bytes is a failed attempt and the
#    next poll gets the name again, a Range fetch resumes (206) and the bytes put together are
#    the release's; a device that polls with its old version after it was sent the whole image
#    (it refused the image, as esp_https_ota does when its SHA-256 fails) is given it again;
#    the target succeeds only when the device polls with the new version.
. "$(dirname "$0")/lib.sh" "$1" "$2"

IMG="$FIX/idf_hello_world_esp32_2024.bin"
start_mqotad --pull-https 127.0.0.1:0
wait_for 10 test -s "$T/server/pull.url" || fail "mqotad wrote no pull.url with --pull-https"
PULL=$(cat "$T/server/pull.url")
CA="$T/server/tls/ca.crt"
case $PULL in https://127.0.0.1:*) pass "pull listener at $PULL" ;;
  *) fail "pull.url is '$PULL', not https://127.0.0.1:PORT" ;; esac

# register ID CHIP USER PASSWORD: a pull device, version 1.0
register() {
  local out
  out=$(curl -s -H "$API_AUTH" -H "Content-Type: application/json" -X POST \
    "$HTTP_URL/api/v1/legacy-devices" -d "{\"id\": \"$1\", \"protocol\": \"pull\", \"chip\": \"$2\",
    \"version\": \"1.0\", \"params\": {\"user\": \"$3\", \"password\": \"$4\"}}") ||
    fail "POST /api/v1/legacy-devices $1 failed"
  check_json "$1 registered as a pull device" "$out" '.protocol == "pull" and .id == $id' \
    --arg id "$1"
  check_json "$1's password, salt and hash are not shown" "$out" \
    '(.params | has("password") or has("salt") or has("hash") | not) and .params.password_set == true'
}
register pull-0001 ESP32 fleet 'fleet secret'
register pull-0002 ESP32-S3 dev2 'pw of 2'

# get USERPASS PATH [CURL_ARGS...]: CODE, the body in $T/body, the headers in $T/head
get() {
  local up=$1 path=$2; shift 2
  CODE=$(curl -s -o "$T/body" -D "$T/head" -w '%{http_code}' --cacert "$CA" ${up:+-u "$up"} \
    "$@" "$PULL$path") || CODE="curl-$?"
}
expect() { # WHAT CODE
  [ "$CODE" = "$2" ] || fail "$1: HTTP $CODE, expected $2 (body: $(head -c 200 "$T/body"))"
  pass "$1: $2"
}

get 'fleet:fleet secret' '/devices/pull-0001?app_ver=1.0'
expect "a poll without a deployment" 204
get '' '/devices/pull-0001?app_ver=1.0'
expect "a poll without credentials" 403
grep -qi '^www-authenticate' "$T/head" && fail "403 carries a WWW-Authenticate challenge"
get 'fleet:wrong' '/devices/pull-0001?app_ver=1.0'
expect "a poll with a wrong password" 403
grep -qi '^www-authenticate' "$T/head" && fail "403 carries a WWW-Authenticate challenge"
pass "no 403 carries a challenge"
get 'dev2:pw of 2' '/devices/pull-0001?app_ver=1.0'
expect "pull-0002's own user polling as pull-0001" 403
get 'fleet:fleet secret' '/devices/pull-0099?app_ver=1.0'
expect "an unknown device" 404
get 'fleet:fleet secret' '/devices/pull-0001'
expect "app_ver missing" 400
get 'fleet:fleet secret' '/devices/pull-0001?app_ver=1.0&app_ver=1.1'
expect "app_ver repeated" 400
get 'fleet:fleet secret' '/devices/pull-0001?app_ver=%0a1.0'
expect "app_ver with a control character" 400
get 'fleet:fleet secret' '/api/v1/releases'
expect "the API's routes on the pull listener" 404
curl -s -o /dev/null -u 'fleet:fleet secret' "${PULL/https/http}/devices/pull-0001?app_ver=1.0" &&
  fail "the pull listener answered plain HTTP"
curl -s -o /dev/null -u 'fleet:fleet secret' "$PULL/devices/pull-0001?app_ver=1.0" &&
  fail "curl trusted the pull listener without mqotad's CA"
pass "no answer over plain HTTP or to a client without the CA"

add_release "$IMG" --version 2.0
out=$(mq --json deploy "$RELEASE_ID" pull-0002 2>&1) &&
  fail "an ESP32 release deployed to an ESP32-S3 pull device: $out"
get 'dev2:pw of 2' '/devices/pull-0002?app_ver=1.0'
expect "another chip's release refused before sending; its poll" 204

out=$(mq --json deploy "$RELEASE_ID" pull-0001 2>&1) || fail "deploy to pull-0001: $out"
json_get DEPLOYMENT_ID "$out" '.id | numbers'
get 'fleet:fleet secret' '/devices/pull-0001?app_ver=1.0'
expect "a poll with a deployment" 200
NAME=$(cat "$T/body")
SHA=$(sha256sum "$IMG" | cut -c1-32)
[ "$NAME" = "$SHA-pull-0001.bin" ] || fail "the file name is '$NAME', not $SHA-pull-0001.bin"
pass "the answer names the release's file for this device"
get 'dev2:pw of 2' "/files/$NAME"
expect "another device's user fetching it" 403
get 'dev2:pw of 2' "/files/${NAME/-pull-0001/-pull-0002}"
expect "the file under another device's name, with that device's user" 404
get 'fleet:fleet secret' "/files/0000${NAME#0000}x"
expect "a file name that is not one" 404

# the device stops after 5000 bytes: a failed attempt, seen when the connection breaks under
# mqotad or, when the last bytes had already left for the socket buffers, at the device's next
# poll with its old version; its polls get the name again
curl -s --cacert "$CA" -u 'fleet:fleet secret' "$PULL/files/$NAME" | head -c 5000 >"$T/part" || true
[ "$(stat -c %s "$T/part")" -eq 5000 ] || fail "the cut fetch kept $(stat -c %s "$T/part") bytes"
repoll() { get 'fleet:fleet secret' '/devices/pull-0001?app_ver=1.0'; [ "$CODE" = 200 ]; }
wait_for 15 repoll || fail "after the cut the device's polls get $CODE, not the file again"
grep -qE "pull-0001: attempt 1 failed \((timeout: the fetch stopped|device-error: the whole image was sent)" \
  "$T/mqotad.log" || fail "mqotad did not count the cut fetch as a failed attempt"
pass "the cut fetch is a failed attempt; the next poll names the file again"
get 'fleet:fleet secret' "/files/$NAME" -H 'Range: bytes=5000-'
expect "the resumed fetch (Range: bytes=5000-)" 206
grep -qi "^content-range: bytes 5000-$(($(stat -c %s "$IMG") - 1))/$(stat -c %s "$IMG")" "$T/head" ||
  fail "Content-Range is wrong: $(grep -i content-range "$T/head")"
cat "$T/part" "$T/body" | cmp -s - "$IMG" || fail "the two fetches put together are not the release"
pass "the cut and the resumed fetch put together are the release, byte for byte"

# progress is saved once a second
saved() {
  mq --json deployment show "$DEPLOYMENT_ID" |
    jq -e --argjson n "$(stat -c %s "$IMG")" '.targets[0].progress == $n'
}
wait_for 5 saved || fail "the target's progress did not reach the image's size"
out=$(mq --json deployment show "$DEPLOYMENT_ID") || fail "deployment show failed"
check_json "the whole image sent, the target is active, not yet succeeded" "$out" \
  '.targets[0].state == "active" and .targets[0].progress == $n' --argjson n "$(stat -c %s "$IMG")"

# it comes back with 1.0: it refused the image; it gets the file again
get 'fleet:fleet secret' '/devices/pull-0001?app_ver=1.0'
expect "a poll with the old version after taking the image" 204
wait_for 15 repoll || fail "a device that refused the image is not given it again"
pass "a device that refused the image gets it again"
get 'fleet:fleet secret' "/files/$NAME"
expect "the fetch again" 200
cmp -s "$T/body" "$IMG" || fail "the fetch is not the release"
get 'fleet:fleet secret' '/devices/pull-0001?app_ver=2.0'
expect "the poll with the new version" 204
out=$(mq --json deployment show "$DEPLOYMENT_ID") || fail "deployment show failed"
check_json "the target succeeded when the device polled with 2.0" "$out" \
  '.targets[0].state == "succeeded" and .state == "finished"'
out=$(mq --json device list) || fail "device list failed"
check_json "the registry shows pull-0001 as a pull device running 2.0" "$out" \
  '[.[] | select(.id == "pull-0001" and .protocol == "pull" and .version == "2.0")] | length == 1'
passed
