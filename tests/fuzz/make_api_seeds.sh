#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# make_api_seeds.sh BUILD_DIR FIXTURES_DIR: write the seed corpora of the HTTP API fuzz targets
# (corpus/deploy_body, corpus/release_check, corpus/api) from the requests the CLI sends
# (docs/API.md examples) and a fresh release signing key: keys/api.pub.pem is replaced, the
# private key is thrown away (the seeds carry signatures made with it). The image body is
# corpus/image/tiny-valid (mqota_make_seeds); heads of real images cover the refusals.
# Input layouts are in fuzz_fields.h: flags, NUL-terminated fields, then the body.
set -euo pipefail
BUILD=$1
FIX=$2
HERE=$(cd "$(dirname "$0")" && pwd)
MQOTA="$BUILD/cli/mqota"
C="$HERE/corpus"
TINY="$C/image/tiny-valid"
work=$(mktemp -d /tmp/mqota-api-seeds.XXXXXX)
trap 'rm -rf "$work"' EXIT

# a second valid tiny image (descriptor version fuzz-3): an upload that is not a duplicate
python3 - "$TINY" "$work/tiny3.bin" <<'PY'
import hashlib, sys
img = bytearray(open(sys.argv[1], "rb").read())
assert len(img) == 336 and img[0] == 0xE9
img[32 + 16:32 + 22] = b"fuzz-3"          # esp_app_desc_t.version
ck = 0xEF
for b in img[32:32 + 256]:
    ck ^= b
img[303] = ck                              # checksum byte, then the appended SHA-256
img[304:336] = hashlib.sha256(img[:304]).digest()
open(sys.argv[2], "wb").write(img)
PY
"$MQOTA" key generate "$work/api" >/dev/null
mkdir -p "$HERE/keys"
cp "$work/api.pub.pem" "$HERE/keys/api.pub.pem"
cp "$TINY" "$work/tiny.bin"
"$MQOTA" release sign "$work/tiny.bin" --key "$work/api.key.pem" >/dev/null
sig=$(base64 -w0 "$work/tiny.bin.mqsig")
"$MQOTA" release sign "$work/tiny.bin" --key "$work/api.key.pem" --version v2.0.0 \
  --security-version 3 --output "$work/tiny-v2.mqsig" >/dev/null
sig2=$(base64 -w0 "$work/tiny-v2.mqsig")

# seed DIR NAME FLAGS_BYTE FIELD... -- BODY_FILE: flags, fields each followed by NUL, body
seed() {
  local dir=$1 name=$2 flags=$3
  shift 3
  mkdir -p "$C/$dir"
  {
    printf "\\x$flags"
    while [ "$1" != -- ]; do printf '%s\0' "$1"; shift; done
    if [ -n "${2:-}" ]; then cat "$2"; fi
  } >"$C/$dir/$name"
}

# ---- deploy_body: raw bodies (what cmd_deploy.c sends, the docs' examples, refusals) ----
# regress-* files are inputs that once crashed a target: they stay
for d in deploy_body release_check api; do
  [ -d "$C/$d" ] && find "$C/$d" -type f ! -name 'regress-*' -delete
done
mkdir -p "$C/deploy_body"
printf '{"release":2,"devices":["vdev-0001"]}' >"$C/deploy_body/cli_devices"
printf '{"release":2,"all":true}' >"$C/deploy_body/cli_all"
printf '{"release": 2, "devices": ["vdev-0001", "vdev-0002", "vdev-0003"]}' >"$C/deploy_body/docs_devices"
printf '{"release": 1, "devices": ["fdev-1"], "all": true}' >"$C/deploy_body/both"
printf '{"release": 1}' >"$C/deploy_body/neither"
printf '{"release": 1.5, "all": false, "devices": []}' >"$C/deploy_body/bad_values"
printf 'not json' >"$C/deploy_body/not_json"
printf '{"release":1,"all":true} trailing' >"$C/deploy_body/trailing"
printf '{"release":1,"devices":["vdev-0001\\u0000x"]}' >"$C/deploy_body/nul_escape"
printf '{"release":9007199254740993,"all":true}' >"$C/deploy_body/past_2p53"

# ---- release_check: flags(bit0 --require-signed), version, notes, signature, image ----
head -c 8192 "$FIX/idf_hello_world_esp32_2024.bin" >"$work/hello_head.bin"
head -c 8192 "$FIX/arduino_nerdminer_esp32_v1.6.3.bin" >"$work/arduino_head.bin"
seed release_check unsigned 00 "" "" "" -- "$TINY"
seed release_check version_notes 00 v1.2.0 "nerd miner" "" -- "$TINY"
seed release_check signed 00 "" "" "$sig" -- "$TINY"
seed release_check signed_v2_required 01 v2.0.0 "" "$sig2" -- "$TINY"
seed release_check unsigned_required 01 "" "" "" -- "$TINY"
seed release_check other_image 00 "" "" "" -- "$work/tiny3.bin"
seed release_check hello_head 00 "" "" "" -- "$work/hello_head.bin"
seed release_check arduino_head 00 v1.6.3 "" "" -- "$work/arduino_head.bin"

# ---- api: flags(bit0 the server with a token), method, path, version, notes,
#      Authorization, X-Mqota-Signature, body ----
tok="Bearer fuzz-token-Jq0c4hY0m2W7aaaaaaaaaaaaaaaaaaaaaaaa"
printf '{"release":1,"devices":["vdev-0002"]}' >"$work/dep_devices.json"
printf '{"release":1,"all":true}' >"$work/dep_all.json"
printf '{"release":1,"devices":["vdev-s3"]}' >"$work/dep_chip.json"
seed api health 00 GET /api/v1/health "" "" "" "" --
seed api dashboard 00 GET / "" "" "" "" --
seed api devices 00 GET /api/v1/devices "" "" "" "" --
seed api device 00 GET /api/v1/devices/vdev-0001 "" "" "" "" --
seed api releases 00 GET /api/v1/releases "" "" "" "" --
seed api release 00 GET /api/v1/releases/1 "" "" "" "" --
seed api deployments 00 GET /api/v1/deployments "" "" "" "" --
seed api deployment 00 GET /api/v1/deployments/1 "" "" "" "" --
seed api post_release 00 POST /api/v1/releases v1.0.1 notes "" "" -- "$TINY"
seed api post_release_signed 00 POST /api/v1/releases "" "" "" "$sig" -- "$TINY"
seed api post_release_new 00 POST /api/v1/releases v1.1.0 "" "" "" -- "$work/tiny3.bin"
seed api post_release_head 00 POST /api/v1/releases "" "" "" "" -- "$work/hello_head.bin"
seed api post_deploy_devices 00 POST /api/v1/deployments "" "" "" "" -- "$work/dep_devices.json"
seed api post_deploy_all 00 POST /api/v1/deployments "" "" "" "" -- "$work/dep_all.json"
seed api post_deploy_chip 00 POST /api/v1/deployments "" "" "" "" -- "$work/dep_chip.json"
seed api delete_release 00 DELETE /api/v1/releases/1 "" "" "" "" --
printf '{"release":1,"all":true} trailing' >"$work/dep_trailing.json"
printf '{"release":1,"devices":["vdev-0001\\u0000x"]}' >"$work/dep_nul.json"
printf '{"release":9007199254740993,"all":true}' >"$work/dep_2p53.json"
printf '{"devices":["vdev-0001"],"replace":true}' >"$work/prov_replace.json"
seed api post_deploy_trailing 00 POST /api/v1/deployments "" "" "" "" -- "$work/dep_trailing.json"
seed api post_deploy_nul 00 POST /api/v1/deployments "" "" "" "" -- "$work/dep_nul.json"
seed api post_deploy_2p53 00 POST /api/v1/deployments "" "" "" "" -- "$work/dep_2p53.json"
seed api post_devices_replace 00 POST /api/v1/devices "" "" "" "" -- "$work/prov_replace.json"
printf '{"name":"berlin"}' >"$work/group.json"
printf '{"add":["vdev-0002"],"remove":["vdev-0001"]}' >"$work/group_devices.json"
printf '{"add":["site=paris","beta"],"remove":["old"]}' >"$work/tags.json"
printf '{"release":1,"filter":"group=lab state!=failed"}' >"$work/dep_filter.json"
seed api devices_filter 00 GET /api/v1/devices "chip=esp32 group=lab tag=site=berlin online=true state=idle|failed last_seen>1h project=fuzz version=fuzz-1" "" "" "" --
seed api devices_filter_bad 00 GET /api/v1/devices "chip=esp8266 colour=red" "" "" "" --
seed api groups 00 GET /api/v1/groups "" "" "" "" --
seed api group 00 GET /api/v1/groups/lab "" "" "" "" --
seed api post_group 00 POST /api/v1/groups "" "" "" "" -- "$work/group.json"
seed api post_group_devices 00 POST /api/v1/groups/lab/devices "" "" "" "" -- "$work/group_devices.json"
seed api delete_group 00 DELETE /api/v1/groups/lab "" "" "" "" --
seed api post_tags 00 POST /api/v1/devices/vdev-0002/tags "" "" "" "" -- "$work/tags.json"
seed api post_deploy_filter 00 POST /api/v1/deployments "" "" "" "" -- "$work/dep_filter.json"
printf '{"release":1,"filter":"chip=esp32","canary":1,"waves":["100%%"],"approval":true}' >"$work/rollout.json"
printf '{"release":1,"filter":"group=lab","canary":"50%%","waves":[5,"100%%"],"error_percent":101}' >"$work/rollout_bad.json"
seed api post_rollout 00 POST /api/v1/rollouts "" "" "" "" -- "$work/rollout.json"
seed api post_rollout_bad 00 POST /api/v1/rollouts "" "" "" "" -- "$work/rollout_bad.json"
seed api rollouts 00 GET /api/v1/rollouts "" "" "" "" --
seed api rollout 00 GET /api/v1/rollouts/1 "" "" "" "" --
seed api rollout_pause 00 POST /api/v1/rollouts/1/pause "" "" "" "" --
seed api rollout_retry 00 POST /api/v1/rollouts/1/retry "" "" "" "" --
seed api token_releases 01 GET /api/v1/releases "" "" "$tok" "" --
seed api token_missing 01 GET /api/v1/devices "" "" "" "" --
seed api token_deploy 01 POST /api/v1/deployments "" "" "$tok" "" -- "$work/dep_all.json"
seed api metrics 00 GET /metrics "" "" "" "" --
seed api token_metrics 01 GET /metrics "" "" "$tok" "" --
echo "seeds written to $C/{deploy_body,release_check,api}; key $HERE/keys/api.pub.pem"
