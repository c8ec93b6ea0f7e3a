#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# sdk.arduino_compile: assemble the Arduino library (ports/arduino/assemble.sh) into a temp dir
# and compile it and both examples (.ino compiled as .cpp after #include <Arduino.h>, as the
# Arduino builder does) for the ESP32-C3 with -Wall -Wextra -Werror against Arduino-ESP32 2.0.17
# (ESP-IDF 4.4.7, PubSubClient 2.8, TinyGSM 0.12) of the SDK kit (../shared/sdk/arduino-esp32,
# its README section 2), through the kit's check-compile.sh; C++ as gnu++11 (2.0.17's own) and
# gnu++17. Then verifyRollbackLater() must be a strong definition in the library's object, or
# the core's weak one (returning false) would win and rollback never happen. A compile check,
# not a build: nothing is linked and nothing runs (docs/ARDUINO.md says what that leaves
# unproved). Exit 77 (skipped) with a sentence when the kit or the cross compiler is absent.
#   tests/sdk/arduino_compile.sh [REPO_ROOT]
set -euo pipefail
ROOT=$(cd "${1:-$(dirname "${BASH_SOURCE[0]}")/../..}" && pwd)
KIT=$ROOT/../shared/sdk/arduino-esp32
CXX=${CXX:-riscv64-unknown-elf-g++}
NM=${NM:-riscv64-unknown-elf-nm}
if [ ! -x "$KIT/check-compile.sh" ]; then
    echo "SKIP: the Arduino-ESP32 SDK kit is absent ($KIT/check-compile.sh not found): nothing to compile against" >&2
    exit 77
fi
for tool in "$CXX" "${CC:-riscv64-unknown-elf-gcc}" "$NM"; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "SKIP: $tool is absent (scripts/install-deps installs gcc-riscv64-unknown-elf, which brings the C++ compiler and binutils)" >&2
        exit 77
    fi
done

tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
# git holds no second copy of the agent's sources or the glue under ports/arduino
for f in "$ROOT"/device/src/* "$ROOT"/device/include/mqota/* "$ROOT"/ports/esp-idf/src/mqota_esp_glue.c \
         "$ROOT"/ports/esp-idf/include/mqota_esp_glue.h; do
    copy=$(find "$ROOT/ports/arduino" -name "$(basename "$f")" -print -quit)
    if [ -n "$copy" ]; then
        echo "FAIL: $copy is a copy of $f: assemble.sh copies it at build time, git must not hold it" >&2
        exit 1
    fi
done
"$ROOT/ports/arduino/assemble.sh" "$tmp/out" >/dev/null
LIB=$tmp/out/mqota
[ -f "$tmp/out/mqota-$(sed -n 's/^version=//p' "$LIB/library.properties").zip" ] ||
    { echo "FAIL: assemble.sh made no zip" >&2; exit 1; }

rc=0
# the library, as the Arduino builder compiles it: every file under src/, src/ on the path
EXTRA_FLAGS="-I$LIB/src" "$KIT/check-compile.sh" "$LIB"/src/*.c || rc=1
for ex in "$LIB"/examples/*/; do
    name=$(basename "$ex")
    { echo '#include <Arduino.h>'; cat "$ex/$name.ino"; } >"$tmp/$name.cpp"
done
for std in gnu++11 gnu++17; do
    echo "-- C++ $std"
    CXXSTD=$std EXTRA_FLAGS="-I$LIB/src" "$KIT/check-compile.sh" "$LIB"/src/*.cpp "$tmp"/*.cpp || rc=1
done

# verifyRollbackLater: strong (T), not weak (W), in Mqota.o; same flags as check-compile.sh
sed -E "s#^(-I|-isystem) (.*)\$#\1 '$KIT/\2'#" "$KIT/flags-esp32c3.txt" >"$tmp/flags.rsp"
"$CXX" -std=gnu++11 -fno-rtti -fexceptions -march=rv32imc_zicsr_zifencei -mabi=ilp32 -Os \
    @"$tmp/flags.rsp" "-I$LIB/src" -c "$LIB/src/Mqota.cpp" -o "$tmp/Mqota.o"
if "$NM" "$tmp/Mqota.o" | grep -qE '^[0-9a-f]+ T verifyRollbackLater$'; then
    echo "OK   verifyRollbackLater() is a strong definition in Mqota.o"
else
    echo "FAIL: Mqota.o does not define verifyRollbackLater() as a strong C symbol:" >&2
    "$NM" "$tmp/Mqota.o" | grep -i rollback >&2 || true
    rc=1
fi
exit $rc
