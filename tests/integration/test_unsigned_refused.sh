#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Devices that require signed offers (mqota-fleet --trust-key PUB.pem --require-signature)
# refuse mqotad's unsigned offers before erasing anything: they keep running their old image,
# report reason "unsigned", and the server records it (docs/SECURITY.md). Also the fleet's
# option checks.
. "$(dirname "$0")/lib.sh" "$1" "$2"

mq key generate "$T/rel" >/dev/null

# option errors come back as one sentence, exit 2
rc=0; "$FLEET" --broker mqtt://127.0.0.1:1 --data "$T/x" --require-signature 2>"$T/err" || rc=$?
[ "$rc" -eq 2 ] && grep -q "needs --trust-key" "$T/err" || fail "--require-signature alone: rc $rc: $(cat "$T/err")"
rc=0; "$FLEET" --broker mqtt://127.0.0.1:1 --data "$T/x" --trust-key "$T/rel.key.pem" 2>"$T/err" || rc=$?
[ "$rc" -eq 2 ] && grep -q "rel.key.pem" "$T/err" || fail "--trust-key with a private key: rc $rc: $(cat "$T/err")"

start_mqotad
start_fleet --count 3 --image "$FIX/idf_hello_world_esp32_2023.bin" \
            --trust-key "$T/rel.pub.pem" --require-signature
wait_online 3 60
add_release "$FIX/idf_hello_world_esp32_2024.bin"; rel=$RELEASE_ID
deploy_all "$rel"; dep=$DEPLOYMENT_ID
rc=0
watch "$dep" 120 || rc=$?
[ "$rc" -eq 1 ] || fail "deployment watch should exit 1 (failures), got $rc"
d=$(mq --json deployment show "$dep") || fail "deployment show $dep failed"
echo "$d" | jq -e '.failed == 3 and all(.targets[]; .state == "failed" and .reason == "unsigned")' >/dev/null ||
  fail "server did not record three 'unsigned' failures: $d"
devs=$(mq --json device list) || fail "device list failed"
echo "$devs" | jq -e 'all(.[]; .version == "1" and .slot == 0 and .state == "failed" and .reason == "unsigned")' >/dev/null ||
  fail "devices should still run version 1 from slot 0 and report unsigned: $devs"
grep -q "release signatures checked with" "$T/fleet.log" || fail "fleet did not log its trust key"
pass "3 devices requiring signatures refused the unsigned offer and kept version 1 on slot 0"
passed
