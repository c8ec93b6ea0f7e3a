#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Signed releases end to end (docs/SECURITY.md §3, §4): mqotad trusts keys A and B and
# verifies each upload's .mqsig; a fleet that trusts only A and requires signatures
#  (1) takes a release signed with A;
#  (2) refuses one signed with B (the server accepted it: it trusts B) before the boot slot
#      changes, reason signature, and keeps running;
#  (3) a tampered .mqsig or one for another image is refused on upload (400), nothing stored;
#  (4) anti-rollback: after confirming security version 2, an offer with 1 is refused
#      (reason security-version) and another with 2 is accepted.
. "$(dirname "$0")/lib.sh" "$1" "$2"

FROM="$FIX/idf_hello_world_esp32_2023.bin"
mq key generate "$T/A" >/dev/null
mq key generate "$T/B" >/dev/null

# variant IMAGE OUT VERSION: the 2023 image with another descriptor version (checksum and
# appended SHA-256 fixed), so each release below is a distinct, valid image.
variant() {
  python3 - "$1" "$2" "$3" <<'PY'
import hashlib, struct, sys
b = bytearray(open(sys.argv[1], 'rb').read())
b[48:80] = sys.argv[3].encode()[:31].ljust(32, b'\0')   # esp_app_desc_t.version
off, cks = 24, 0xEF
for _ in range(b[1]):
    _, ln = struct.unpack_from('<II', b, off); off += 8
    for x in b[off:off + ln]: cks ^= x
    off += ln
off += 15 - off % 16
b[off] = cks; off += 1
if b[23] == 1: b[off:off + 32] = hashlib.sha256(bytes(b[:off])).digest()
open(sys.argv[2], 'wb').write(b)
PY
}

# expect_refused WHAT MQSIG_OR_ARGS...: the upload exits 1 and stores nothing.
release_count() { mq --json release list | jq length; }
stored_files() { find "$T/server/releases" -name '*.bin' | wc -l; }
expect_refused() {
  local what=$1; shift
  local n0 f0 rc=0
  n0=$(release_count); f0=$(stored_files)
  mq release add "$@" >"$T/out" 2>"$T/err" || rc=$?
  [ "$rc" -eq 1 ] || fail "$what: upload should exit 1, got $rc: $(cat "$T/out" "$T/err")"
  [ "$(release_count)" -eq "$n0" ] && [ "$(stored_files)" -eq "$f0" ] ||
    fail "$what: something was stored"
  pass "$what refused: $(cat "$T/err")"
}

# devices_all JQ_FILTER WHAT
devices_all() {
  local devs
  devs=$(mq --json device list) || fail "device list failed"
  echo "$devs" | jq -e "all(.[]; $1)" >/dev/null || fail "$2: $devs"
}

start_mqotad --trusted-key "$T/A.pub.pem" --trusted-key "$T/B.pub.pem" --require-signed
start_fleet --count 3 --image "$FROM" --trust-key "$T/A.pub.pem" --require-signature
wait_online 3 60
out=$(mq --json release sign "$FROM" --key "$T/A.key.pem" --output "$T/probe.mqsig") ||
  fail "release sign with key A failed: $out"
json_get KEY_A "$out" '.key_id | strings'
out=$(mq --json release sign "$FROM" --key "$T/B.key.pem" --output "$T/probe.mqsig") ||
  fail "release sign with key B failed: $out"
json_get KEY_B "$out" '.key_id | strings'
[ "$KEY_A" != "$KEY_B" ] || fail "keys A and B have the same key id $KEY_A"

# ---- (1) signed with A: every device confirms it ----
expect_refused "unsigned upload under --require-signed" "$FIX/idf_hello_world_esp32_2024.bin"
grep -q "accepts only signed releases" "$T/err" || fail "unexpected message: $(cat "$T/err")"
out=$(mq --json release add "$FIX/idf_hello_world_esp32_2024.bin" --sign-key "$T/A.key.pem") ||
  fail "signed upload refused: $out"
echo "$out" | jq -e --arg k "$KEY_A" '.signed == true and .key_id == $k' >/dev/null ||
  fail "release JSON does not show the signature: $out"
json_get rel "$out" '.id | numbers'
json_get sv "$out" '.secure_version | numbers | tostring'
deploy_all "$rel"; dep=$DEPLOYMENT_ID
watch "$dep" 120 || fail "signed release $rel was not confirmed by every device"
devices_all '.version == "v1.4.1-2-g0296947-dirty" and .slot == 1 and .state == "confirmed"' \
  "devices should run the release signed with A"
pass "(1) release $rel signed with A ($KEY_A) confirmed by 3 devices"

# ---- (2) signed with B: mqotad accepts it, the devices refuse it and keep running ----
out=$(mq --json release add "$FROM" --sign-key "$T/B.key.pem" --security-version "$sv") ||
  fail "mqotad trusts B but refused the upload: $out"
echo "$out" | jq -e --arg k "$KEY_B" '.signed == true and .key_id == $k' >/dev/null ||
  fail "release JSON does not name key B: $out"
json_get rel "$out" '.id | numbers'; deploy_all "$rel"; dep=$DEPLOYMENT_ID
rc=0; watch "$dep" 120 || rc=$?
[ "$rc" -eq 1 ] || fail "deployment of the B-signed release should fail (exit 1), got $rc"
mq --json deployment show "$dep" | jq -e '.failed == 3 and all(.targets[]; .reason == "signature")' \
  >/dev/null || fail "server did not record three 'signature' failures: $(mq --json deployment show "$dep")"
devices_all '.version == "v1.4.1-2-g0296947-dirty" and .slot == 1 and .reason == "signature"' \
  "devices should refuse the B-signed offer and stay on slot 1"
pass "(2) release signed with B ($KEY_B) accepted by mqotad, refused by the devices"

# ---- (3) a tampered .mqsig, or one for another image: 400, nothing stored ----
variant "$FROM" "$T/x2.bin" x2
variant "$FROM" "$T/y1.bin" y1
variant "$FROM" "$T/z2.bin" z2
mq release sign "$T/x2.bin" --key "$T/A.key.pem" --version x2 --security-version 2 >/dev/null
python3 - "$T/x2.bin.mqsig" "$T/tampered.mqsig" <<'PY'
import base64, json, sys
d = json.load(open(sys.argv[1]))
m = bytearray(base64.b64decode(d["manifest"])); m[4] ^= 0x01   # one byte of the image hash
d["manifest"] = base64.b64encode(bytes(m)).decode()
json.dump(d, open(sys.argv[2], "w"))
PY
expect_refused "tampered .mqsig" "$T/x2.bin" --signature "$T/tampered.mqsig"
grep -q "signature rejected: the signature does not verify under trusted key $KEY_A" "$T/err" ||
  fail "unexpected message: $(cat "$T/err")"
code=$(curl -s -o "$T/body" -w '%{http_code}' -H "$API_AUTH" -H 'Content-Type: application/octet-stream' --data-binary @"$T/x2.bin" \
  -H "X-Mqota-Signature: $(base64 -w0 "$T/tampered.mqsig")" "$HTTP_URL/api/v1/releases")
[ "$code" = 400 ] && jq -e '.error | test("^signature rejected")' "$T/body" >/dev/null ||
  fail "tampered .mqsig over plain HTTP: $code $(cat "$T/body")"
{ cat "$T/x2.bin.mqsig"; echo ' {"format": "other"}'; } >"$T/trailing.mqsig"
expect_refused "a .mqsig with bytes after its JSON object" "$T/x2.bin" --signature "$T/trailing.mqsig"
grep -q "signature rejected: the .mqsig file is not valid: 20 bytes follow the JSON object" "$T/err" ||
  fail "unexpected message: $(cat "$T/err")"
expect_refused "a .mqsig of another image" "$T/y1.bin" --signature "$T/x2.bin.mqsig"
grep -q "signature is for another image" "$T/err" || fail "unexpected message: $(cat "$T/err")"
expect_refused "a version that differs from the signed one" "$T/x2.bin" \
  --signature "$T/x2.bin.mqsig" --version other
pass "(3) tampered and mismatched signatures refused with 400, nothing stored"

# ---- (4) anti-rollback: confirm security version 2; 1 is refused, 2 is accepted ----
out=$(mq --json release add "$T/x2.bin" --signature "$T/x2.bin.mqsig") || fail "x2 refused: $out"
echo "$out" | jq -e '.version == "x2" and .secure_version == 2 and .signed == true' >/dev/null ||
  fail "release should take version and security version from the manifest: $out"
json_get rel "$out" '.id | numbers'; deploy_all "$rel"; dep=$DEPLOYMENT_ID
watch "$dep" 120 || fail "security version 2 release was not confirmed"
devices_all '.version == "x2" and .state == "confirmed"' "devices should run x2"

add_release "$T/y1.bin" --sign-key "$T/A.key.pem" --version y1 --security-version 1; rel=$RELEASE_ID
deploy_all "$rel"; dep=$DEPLOYMENT_ID
rc=0; watch "$dep" 120 || rc=$?
[ "$rc" -eq 1 ] || fail "security version 1 after 2 should fail (exit 1), got $rc"
mq --json deployment show "$dep" | jq -e 'all(.targets[]; .reason == "security-version")' \
  >/dev/null || fail "server did not record 'security-version': $(mq --json deployment show "$dep")"
devices_all '.version == "x2" and .reason == "security-version"' \
  "devices should refuse security version 1 and keep x2"

add_release "$T/z2.bin" --sign-key "$T/A.key.pem" --version z2 --security-version 2; rel=$RELEASE_ID
deploy_all "$rel"; dep=$DEPLOYMENT_ID
watch "$dep" 120 || fail "a second security version 2 release was not confirmed"
devices_all '.version == "z2" and .state == "confirmed"' "devices should run z2"
pass "(4) security version 2 confirmed; 1 refused (security-version); another 2 accepted"

grep -q "trusting release key $KEY_B" "$T/mqotad.log" || fail "mqotad did not log key B"
passed
