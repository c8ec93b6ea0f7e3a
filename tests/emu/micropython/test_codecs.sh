#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# micropython.codecs: every .py of ports/micropython compiled by mpy-cross, then test_codecs.py
# on the MicroPython unix port (built once per build directory by ensure_interpreter.sh), with a
# P-256 signature made here by OpenSSL.
#   test_codecs.sh BUILD_DIR FIXTURES_DIR     exit 77 (skipped) without the kit or the images
set -euo pipefail
BUILD=$1 FIX=$2
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
[ -f "$FIX/idf_hello_world_esp32_2023.bin" ] || { echo "SKIP: no fixture images in $FIX"; exit 77; }
"$HERE/ensure_interpreter.sh" "$BUILD"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
# every file of the package and the example compile with MicroPython's own compiler (the
# example imports dht and network, which the unix port lacks: it is compiled, not run)
for f in "$ROOT"/ports/micropython/mqota/*.py "$ROOT"/ports/micropython/examples/*.py; do
  "$BUILD/micropython/mpy-cross" -o "$tmp/out.mpy" "$f" || { echo "FAIL: mpy-cross refuses $f"; exit 1; }
done
openssl ecparam -name prime256v1 -genkey -noout -out "$tmp/k.pem" 2>/dev/null
printf 'mqota manifest' >"$tmp/m"
openssl dgst -sha256 -sign "$tmp/k.pem" -out "$tmp/sig" "$tmp/m"
pub=$(openssl ec -in "$tmp/k.pem" -pubout -outform DER 2>/dev/null | tail -c 64 | od -An -v -tx1 | tr -d ' \n')
rs=""
for i in $(openssl asn1parse -inform DER -in "$tmp/sig" | awk -F: '/INTEGER/ {print $NF}'); do
  rs+=$(printf '%064s' "$i" | tr ' ' 0)
done
digest=$(sha256sum "$tmp/m" | cut -d' ' -f1)
# the package imports its agent, which imports esp32: the stand-in, over a fresh flash
"$BUILD/tests/emu/micropython/mqota-vboot" create "$tmp/flash" 0 "$FIX/idf_hello_world_esp32_2023.bin"
MQOTA_UPY_FLASH=$tmp/flash MICROPYPATH="$HERE:$ROOT/ports/micropython:$ROOT/../shared/sdk/micropython/pylib:.frozen" \
  "$BUILD/micropython/micropython" "$HERE/test_codecs.py" "$FIX" "$tmp" "$pub" "$digest" "$rs"
