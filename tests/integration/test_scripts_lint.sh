#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The shell tests keep lib.sh's rules (its header; docs/TESTING.md "Writing an integration
# test"): no function that can call 'fail' is captured in $(...), where its FAIL sentence and
# log dump would be lost (functions of lib.sh and of the script itself; in
# tests/integration/*.sh, tests/browser/*.sh, bench/* and scripts/*); and no integration test compares with
# '[ "$(... | jq FILTER)" = VALUE ]', where a jq without -e prints null for a missing field.
#
# usage: test_scripts_lint.sh SOURCE_DIR
set -euo pipefail
SRC=$1
# failing_functions FILE...: names of the shell functions defined in FILE whose body calls fail.
failing_functions() {
  awk '
    # code(LINE): LINE without its comment and without escaped braces (regex literals)
    function code(l) { sub(/(^|[ \t])#.*/, "", l); gsub(/\\[{}]/, "", l); return l }
    function braces(l,  c) { c = l; return gsub(/\{/, "", c) - gsub(/\}/, "", l) }
    match($0, /^[ \t]*[A-Za-z_][A-Za-z0-9_]*\(\)[ \t]*\{/) {
      name = $0; sub(/^[ \t]*/, "", name); sub(/\(.*/, "", name)
      body = code($0); depth = braces(body)
      while (depth > 0 && (getline line) > 0) {
        line = code(line); body = body "\n" line; depth += braces(line)
      }
      if (body ~ /(^|[^A-Za-z_])fail([ \t;]|$)/ && name != "fail") print name
    }' "$@" | sort -u
}
lib_fns=$(failing_functions "$SRC/tests/integration/lib.sh")
[ -n "$lib_fns" ] || { echo "FAIL: found no failing functions in lib.sh: the lint would check nothing" >&2; exit 1; }
echo "lib.sh functions that can fail: $(echo $lib_fns)"
bad="" n=0
for f in "$SRC"/tests/integration/*.sh "$SRC"/tests/browser/*.sh "$SRC"/bench/* "$SRC"/scripts/*; do
  [ -f "$f" ] && head -c 200 "$f" | grep -q 'bash\|sh' || continue
  n=$((n + 1))
  fns=$( { echo "$lib_fns"; failing_functions "$f"; } | sort -u | grep . | paste -sd'|')
  hits=$(grep -nE "\\\$\\((${fns})([ )]|$)" "$f" || true)
  [ -z "$hits" ] || bad+="$f:"$'\n'"$hits"$'\n'
done
[ "$n" -gt 0 ] || { echo "FAIL: no scripts found under $SRC" >&2; exit 1; }
# A string comparison of what a jq without -e printed: null (a missing field) equals null.
for f in "$SRC"/tests/integration/*.sh; do
  hits=$(grep -nE '\[ [^]]*\$\([^]]*\bjq\b[^]]* !?= ' "$f" | grep -vE '\bjq -[a-z]*e|^[0-9]+:[[:space:]]*#' || true)
  [ -z "$hits" ] || bad+="$f (compare with jq -e, explicitly):"$'\n'"$hits"$'\n'
done
if [ -n "$bad" ]; then
  echo "FAIL: functions that can fail are captured in \$(...) (their FAIL sentence would be lost):" >&2
  echo "$bad" >&2
  exit 1
fi
echo "$n scripts: no function that can fail is captured in \$(...)"
echo "1 passed, 0 failed"
