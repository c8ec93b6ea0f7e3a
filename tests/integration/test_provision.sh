#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# 'mqota device provision' through mqotad's API (POST /api/v1/devices): credentials files of
# mode 0600 with a broker password and a command key; the embedded broker admits the devices
# at once (reloaded, no restart); their command keys work (a sealed diagnostics command); a
# second provisioning of a device is refused without --replace (the old password still works)
# and with it rotates the password (the old one is refused by the broker);
# --json lists files, never secrets; secrets never reach mqotad's log; bad ids and bodies are
# refused with one sentence and nothing is created.
. "$(dirname "$0")/lib.sh" "$1" "$2"

start_mqotad
mq device provision --out-dir "$T/creds" vdev-0001 vdev-0002 vdev-0003 >"$T/provision.out" ||
  fail "mqota device provision exited $?: $(cat "$T/provision.out")"
grep -q "provisioned 3 devices" "$T/provision.out" || fail "no summary line: $(cat "$T/provision.out")"
for id in vdev-0001 vdev-0002 vdev-0003; do
  f="$T/creds/$id.cred"
  [ "$(stat -c %a "$f")" = 600 ] || fail "$f has mode $(stat -c %a "$f"), not 600"
  grep -qx "username=$id" "$f" || fail "$f: no username=$id"
  grep -Eqx 'password=[A-Za-z0-9_-]{32}' "$f" || fail "$f: no 32-character password"
  grep -Eqx 'command_key=[0-9a-f]{64}' "$f" || fail "$f: no 64-hex-digit command_key"
  grep -qx "broker=$BROKER_URL" "$f" || fail "$f: broker is not $BROKER_URL"
done
[ "$(grep -h '^command_key=' "$T"/creds/*.cred | sort -u | wc -l)" = 3 ] || fail "command keys repeat"
pass "3 credentials files written, mode 0600, distinct keys"

# --json: ids and files, never a secret
json=$(mq --json device provision --out-dir "$T/creds" vdev-0004) || fail "provision --json failed: $json"
echo "$json" | jq -e --arg f "$T/creds/vdev-0004.cred" 'length == 1 and .[0].id == "vdev-0004" and .[0].file == $f' >/dev/null ||
  fail "provision --json: $json"
pw4=$(sed -n 's/^password=//p' "$T/creds/vdev-0004.cred")
key4=$(sed -n 's/^command_key=//p' "$T/creds/vdev-0004.cred")
case $json in *"$pw4"*|*"$key4"*) fail "provision --json printed a secret" ;; esac
out=$(mq --json device provision vdev-0005 2>&1) && fail "--json without --out-dir was accepted: $out"
echo "$out" | grep -q "the credentials are secrets" || fail "--json without --out-dir: $out"

# the broker admits them without a restart, and their command keys seal commands
start_fleet --count 3 --image "$FIX/idf_hello_world_esp32_2023.bin"
wait_online 3 60
grep -q "provision" "$T/provision.log" 2>/dev/null && fail "the test fell back to 'mqotad device provision'"
wait_for 20 sh -c "'$MQOTA' --server '$HTTP_URL' --json device show vdev-0001 | jq -e '.takes_commands == true and .command_key == true'" ||
  fail "vdev-0001 does not take commands: $(mq --json device show vdev-0001)"
diag=$(mq device command vdev-0001 diagnostics --timeout 30) || fail "diagnostics on vdev-0001 failed: $diag"
echo "$diag" | grep -q "commands_accepted" || fail "diagnostics reply: $diag"
pass "devices online with API-made identities; a sealed command answered"

# rotation: refused without --replace (nothing changes: the old password still works at the
# broker); with --replace the old password stops working, the new one works
old=$(sed -n 's/^password=//p' "$T/creds/vdev-0002.cred")
port=${BROKER_URL##*:}
sub() { timeout 10 mosquitto_sub -h 127.0.0.1 -p "$port" -i "probe-$RANDOM" -u vdev-0002 -P "$1" \
          -t mqota/v1/dev/vdev-0002/offer -C 1 -W 2 2>&1; }
rc=0; mq device provision --out-dir "$T/creds2" vdev-0002 >"$T/again.out" 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "provisioning vdev-0002 again without --replace exited $rc: $(cat "$T/again.out")"
grep -q "device 'vdev-0002' is already provisioned; .*locks the real device out.*--replace" "$T/again.out" ||
  fail "no sentence about the existing device: $(cat "$T/again.out")"
[ ! -e "$T/creds2/vdev-0002.cred" ] || fail "a refused provisioning wrote a credentials file"
r=$(sub "$old") || true
echo "$r" | grep -qi "not authori" && fail "a refused re-provisioning changed vdev-0002's password: $r"
rc=0; "$MQOTAD" --data "$T/server" device provision vdev-0002 >"$T/again.out" 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q "already provisioned" "$T/again.out" ||
  fail "mqotad device provision of an existing device without --replace: exit $rc: $(cat "$T/again.out")"
mq device provision --replace --out-dir "$T/creds" vdev-0002 >/dev/null || fail "provisioning vdev-0002 with --replace failed"
new=$(sed -n 's/^password=//p' "$T/creds/vdev-0002.cred")
[ "$old" != "$new" ] || fail "provisioning again kept the password"
r=$(sub "$old") && fail "the broker still accepts vdev-0002's old password: $r"
echo "$r" | grep -qi "not authori" || fail "old password: unexpected answer: $r"
r=$(sub "$new") || true
echo "$r" | grep -qi "not authori" && fail "the broker refuses vdev-0002's new password: $r"
pass "re-provisioning rotated vdev-0002's password (old refused by the broker, new accepted)"

# secrets never in mqotad's log
for f in "$T"/creds/*.cred; do
  for s in "$(sed -n 's/^password=//p' "$f")" "$(sed -n 's/^command_key=//p' "$f")"; do
    grep -qF "$s" "$T/mqotad.log" && fail "a secret of $f is in mqotad.log"
  done
done

# bad input: one sentence, nothing created
rc=0; out=$(mq device provision "bad/id" 2>&1) || rc=$?
[ "$rc" = 2 ] && echo "$out" | grep -q "must be 1 to 48 letters" || fail "bad id: exit $rc: $out"
for body in '{"devices": ["mqotad"]}' '{"devices": []}' '{"devices": "vdev-0009"}' 'not json' \
            '{"devices": ["vdev-0009", "vdev-0009"]}'; do
  code=$(curl -s -o "$T/ans.json" -w '%{http_code}' -H "$API_AUTH" -H 'Content-Type: application/json' \
    -d "$body" "$HTTP_URL/api/v1/devices")
  [ "$code" = 400 ] || fail "POST /api/v1/devices '$body' answered $code: $(cat "$T/ans.json")"
  jq -e '.error | length > 10' "$T/ans.json" >/dev/null || fail "no error sentence for '$body'"
done
grep -q '^vdev-0009:' "$T/server/auth/passwd" && fail "a refused request created vdev-0009"
passed
