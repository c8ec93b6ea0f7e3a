#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# mqotad's structure holds (issue 11 item 7, server/README.md "Policy and mechanism"):
#  - mechanism does not call policy: transfer.c, stream.c and their headers include none of
#    deploy.h, target.h, command.h, handle.h, call no deploy__/target__/command__/handle__
#    function and no db__ function on deployments or targets, and open no transaction;
#  - one handler per message type: each topic mqtt.c subscribes to has a row in its dispatch
#    table, and each handle__KIND is defined in server/handle_KIND.c;
#  - target and deployment states are compared as enums: no state name appears as a C string
#    outside state.c (JSON keys of the counts aside; command states are commands' own).
#
# usage: test_server_layers.sh SOURCE_DIR
set -euo pipefail
S=$1/server
checks=0
fail() { echo "FAIL: $*" >&2; exit 1; }

# code FILE: FILE without its comments (block comments may span lines).
code() { perl -0pe 's{/\*.*?\*/}{}gs; s{//[^\n]*}{}g' "$1"; }

for f in transfer.c stream.c transfer.h transfer_int.h stream.h; do
  [ -f "$S/$f" ] || fail "server/$f is missing"
  hits=$(code "$S/$f" | grep -nE '#include "(deploy|target|command|handle)\.h"|\b(deploy|target|command|handle)__[a-z_]+\(|\bdb__(target|deployment)_[a-z_]+\(|\bdb__(begin|commit|rollback)\(' || true)
  [ -z "$hits" ] || fail "server/$f (mechanism) reaches into policy: $hits"
  checks=$((checks + 1))
done
echo "mechanism: transfer.c, stream.c and their headers call no policy"

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

hits=$(for f in "$S"/*.c; do
         case $(basename "$f") in state.c | command.c | http_command.c) continue ;; esac
         code "$f" | grep -nE '"(pending|active|succeeded|failed|superseded|running|finished)"' |
           grep -v 'cJSON_Add[A-Za-z]*ToObject(j, "[a-z]*", c\.' | sed "s|^|$(basename "$f"):|" || true
       done)
[ -z "$hits" ] || fail "target or deployment state names as C strings outside state.c: $hits"
checks=$((checks + 1))
echo "states: names only in state.c"

[ "$checks" -gt 0 ] || fail "checked nothing"
echo "$checks passed, 0 failed"
