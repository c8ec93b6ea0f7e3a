#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# run_fuzz.sh TARGET SEED_DIR SECONDS MAX_LEN: run a libFuzzer target for SECONDS on a working
# copy of its seed corpus. Exit status non-zero if it found a crash, leak or UB.
set -euo pipefail
target=$1 seeds=$2 secs=$3 max_len=$4
name=$(basename "$target")
work=$(mktemp -d /tmp/mqota-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
art="$(dirname "$target")/fuzz-artifacts/$name"
mkdir -p "$art" "$work/corpus" "$work/tmp"
# targets that need files (fuzz_api's SQLite databases) make them under TMPDIR: here, so they
# go with the work directory even when the target crashes
export TMPDIR="$work/tmp"
cp "$seeds"/* "$work/corpus/"
rc=0
"$target" -max_total_time="$secs" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 \
  -print_final_stats=1 -artifact_prefix="$art/" "$work/corpus" >"$work/log" 2>&1 || rc=$?
grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb|#[0-9]+ +DONE)" "$work/log" || true
if [ "$rc" -ne 0 ]; then
  tail -n 40 "$work/log"
  echo "FAIL: $name found a problem; the input is in $art"
  echo "0 passed, 1 failed"
  exit 1
fi
echo "$name: no crash in $secs s"
echo "1 passed, 0 failed"
