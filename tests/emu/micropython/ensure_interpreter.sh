#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# ensure_interpreter.sh BUILD_DIR: BUILD_DIR/micropython/micropython (and mpy-cross), built from
# ../shared/sdk/micropython (about 50 s) if it is not there yet, under a lock so that tests run
# in parallel build it once. Exit 77 (skipped) with a sentence when the kit is absent, 1 if the
# build fails (the tail of its log on stderr).
set -euo pipefail
BUILD=$1
KIT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)/../shared/sdk/micropython
UPY=$BUILD/micropython/micropython
[ -x "$UPY" ] && exit 0
[ -x "$KIT/build.sh" ] || { echo "SKIP: the MicroPython kit is absent ($KIT/build.sh)"; exit 77; }
mkdir -p "$BUILD/micropython"
( flock 9; [ -x "$UPY" ] || JOBS=2 "$KIT/build.sh" "$BUILD/micropython" >"$BUILD/micropython/build.log" 2>&1 ) \
  9>"$BUILD/micropython/.lock" || { tail -n 5 "$BUILD/micropython/build.log" >&2; exit 1; }
