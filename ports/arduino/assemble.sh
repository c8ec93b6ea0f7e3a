#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Assemble the Arduino library "mqota" from the tree: Arduino compiles everything under a
# library's src/, so the agent's sources (device/src, device/include), the ESP32 glue shared
# with the ESP-IDF component (ports/esp-idf) and ports/arduino/src are copied into one folder,
# and zipped for "Sketch > Include Library > Add .ZIP Library". Git holds no second copy.
#   ports/arduino/assemble.sh OUTDIR      -> OUTDIR/mqota/ and OUTDIR/mqota-<version>.zip
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
[ $# -eq 1 ] || { echo "usage: $0 OUTDIR" >&2; exit 2; }
OUT=$1
LIB="$OUT/mqota"
if [ -e "$LIB" ]; then
    echo "assemble.sh: $LIB exists; give an OUTDIR without a mqota folder in it" >&2
    exit 1
fi
mkdir -p "$LIB/src/mqota" "$LIB/examples"
cp "$ROOT/ports/arduino/library.properties" "$LIB/"
cp "$ROOT"/device/src/*.c "$ROOT"/device/src/*.h "$LIB/src/"
cp "$ROOT"/device/include/mqota/*.h "$LIB/src/mqota/"
cp "$ROOT/ports/esp-idf/src/mqota_esp_glue.c" "$ROOT/ports/esp-idf/include/mqota_esp_glue.h" \
    "$LIB/src/"
cp "$ROOT"/ports/arduino/src/* "$LIB/src/"
cp -R "$ROOT"/ports/arduino/examples/* "$LIB/examples/"
for f in "$ROOT/LICENSE" "$ROOT/docs/ARDUINO.md"; do
    if [ -f "$f" ]; then cp "$f" "$LIB/"; fi
done
version=$(sed -n 's/^version=//p' "$LIB/library.properties")
# zip -X: no extra file attributes; without zip(1), Python's zipfile module makes the same zip
if command -v zip >/dev/null 2>&1; then
    (cd "$OUT" && zip -qrX "mqota-$version.zip" mqota)
else
    (cd "$OUT" && python3 -m zipfile -c "mqota-$version.zip" mqota)
fi
echo "$LIB"
echo "$OUT/mqota-$version.zip"
