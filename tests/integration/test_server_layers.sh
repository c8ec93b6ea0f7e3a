#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# mqotad's structure holds (issue 11 item 7, server/README.md "Policy and mechanism"):
#  - mechanism does not call policy: transfer.c, stream.c, the legacy framework and adapters
#    (legacy*.c) and their headers include none of
#    deploy.h, target.h, command.h, handle.h, call no deploy__/target__/command__/handle__
#    function and no db__ function on deployments or targets, and open no transaction;
#  - one handler per message type: each topic mqtt.c subscribes to has a row in its dispatch
#    table, and each handle__KIND is defined in server/handle_KIND.c;
#  - target and deployment states are compared as enums: in the files that move or show them
#    (STATE_FILES: deployments, targets, the engine, the handlers, the API) no state name is a
#    C string (the counts' JSON keys aside); the names live in state.c, and db.c writes them
#    through it. A file that takes these states up (rollouts) joins STATE_FILES.
#
# usage: test_server_layers.sh SOURCE_DIR
set -euo pipefail
S=$1/server
checks=0
fail() { echo "FAIL: $*" >&2; exit 1; }

# code FILE: FILE without its comments (block comments may span lines).
code() { perl -0pe 's{/\*.*?\*/}{}gs; s{//[^\n]*}{}g' "$1"; }

for f in transfer.c stream.c transfer.h transfer_int.h stream.h legacy.c legacy.h legacy_b64.c legacy_md5.c legacy_codec.c; do
  [ -f "$S/$f" ] || fail "server/$f is missing"
  hits=$(code "$S/$f" | grep -nE '#include "(deploy|target|command|handle)\.h"|\b(deploy|target|command|handle)__[a-z_]+\(|\bdb__(target|deployment)_[a-z_]+\(|\bdb__(begin|commit|rollback)\(' || true)
  [ -z "$hits" ] || fail "server/$f (mechanism) reaches into policy: $hits"
  checks=$((checks + 1))
done
echo "mechanism: transfer.c, stream.c, legacy*.c and their headers call no policy"

# (grep reads whole texts, not pipes: grep -q closing a pipe early fails it under pipefail)
mqtt=$(code "$S/mqtt.c")
kinds=$(grep -oE 'MQOTAD_TOPIC_PREFIX "\+/[a-z]+"' <<<"$mqtt" | sed 's/.*+\/\([a-z]*\)"/\1/')
[ -n "$kinds" ] || fail "found no subscriptions in server/mqtt.c"
for k in $kinds; do
  grep -qE "\{\"$k\", handle__$k\}" <<<"$mqtt" ||
    fail "server/mqtt.c subscribes to +/$k but its dispatch table has no {\"$k\", handle__$k}"
  [ -f "$S/handle_$k.c" ] || fail "server/handle_$k.c is missing (the handler of +/$k)"
  handler=$(code "$S/handle_$k.c")
  grep -qE "^void handle__$k\(" <<<"$handler" || fail "handle__$k is not defined in server/handle_$k.c"
  checks=$((checks + 1))
done
echo "handlers: $(echo $kinds)"

STATE_FILES="deploy.c target.c transfer.c stream.c mqtt.c main.c http_api.c handle_*.c"
hits=$(for f in $(cd "$S" && echo $STATE_FILES); do
         [ -f "$S/$f" ] || { echo "server/$f is missing"; continue; }
         code "$S/$f" | grep -nE '"(pending|active|succeeded|failed|superseded|running|finished)"' |
           grep -v 'cJSON_Add[A-Za-z]*ToObject(j, "[a-z]*", c\.' | sed "s|^|$f:|" || true
       done)
[ -z "$hits" ] || fail "target or deployment state names as C strings (state.c has them): $hits"
checks=$((checks + 1))
echo "states: no names as strings in $(cd "$S" && echo $STATE_FILES)"

[ "$checks" -gt 0 ] || fail "checked nothing"
echo "$checks passed, 0 failed"
