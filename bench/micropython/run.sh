#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/micropython/run.sh BUILD_DIR: the MicroPython agent's figures (docs/PERFORMANCE.md
# "MicroPython agent"), on the interpreter the tests build (BUILD_DIR/micropython/micropython):
#   crypto  pure-Python ECDSA P-256 verify and AES-256-GCM of 1 KiB vs hashlib.sha256 of 1 MiB
#           (crypto_cost.py; the signature is made here by OpenSSL)
#   heap    the smallest MicroPython heap (-X heapsize) in which the agent takes the
#           124,416-byte hello_world update to confirmed, and the same for an agent-free
#           baseline (the interpreter, umqtt and the harness idle), by bisection over
#           heap_run.sh
set -euo pipefail
BUILD=$(cd "${1:?usage: run.sh BUILD_DIR}" && pwd)
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
UPY=$BUILD/micropython/micropython
[ -x "$UPY" ] || { echo "no $UPY: run ctest -L micropython (it builds the interpreter) first" >&2; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
openssl ecparam -name prime256v1 -genkey -noout -out "$tmp/k.pem" 2>/dev/null
printf 'mqota manifest' >"$tmp/m"
openssl dgst -sha256 -sign "$tmp/k.pem" -out "$tmp/sig" "$tmp/m"
pub=$(openssl ec -in "$tmp/k.pem" -pubout -outform DER 2>/dev/null | tail -c 64 | od -An -v -tx1 | tr -d ' \n')
sig=$(openssl asn1parse -inform DER -in "$tmp/sig" | awk -F: '/INTEGER/ {print $NF}')
digest=$(sha256sum "$tmp/m" | cut -d' ' -f1)
echo "== crypto (pure Python on $(basename "$UPY"), one run)"
MICROPYPATH="$HERE/../../ports/micropython/mqota" "$UPY" "$HERE/crypto_cost.py" "${pub:0:64}" "${pub:64:64}" $sig "$digest"
if [ "${2:-}" != crypto ]; then
  echo "== heap"
  "$HERE/heap_run.sh" "$BUILD"
fi
