#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Per-device broker identities and topic ACLs (docs/SECURITY.md §6), proven with the embedded
# mosquitto itself: 'mqotad device provision' gives devices A (vdev-0001) and B (devB) their
# own users; A cannot read B's offer or chunks, cannot write B's state or clear B's offer,
# cannot publish as the server (its own offer/chunk topics, a release stream), cannot read B's
# sealed commands, publish a command on B's or its own cmd topic, or write B's reply topic (only
# mqotad sends commands; docs/SECURITY.md §9), a wrong password
# and anonymous clients are refused, a revoked device is refused; and A updates end to end.
# Every mosquitto_sub/_pub is bounded (-W and timeout).
. "$(dirname "$0")/lib.sh" "$1" "$2"

A=vdev-0001 B=devB
EXPECT=v1.4.1-2-g0296947-dirty
start_mqotad
PORT=${BROKER_URL##*:}

# ---- provisioning ----
"$MQOTAD" --data "$T/server" device provision --out-dir "$T/creds" "$A" "$B" 2>"$T/prov.err" ||
  fail "device provision: $(cat "$T/prov.err")"
grep -q "asked the running mqotad" "$T/prov.err" || fail "provision did not ask mqotad to reload: $(cat "$T/prov.err")"
"$MQOTAD" --data "$T/server" device provision single-1 >"$T/single.cred" 2>/dev/null || fail "provision to stdout"
grep -q '^username=single-1$' "$T/single.cred" && grep -q '^broker=mqtt://127.0.0.1:' "$T/single.cred" ||
  fail "credentials on stdout: $(cat "$T/single.cred")"
rc=0; "$MQOTAD" --data "$T/server" device provision mqotad >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 2 ] || fail "provisioning a device named mqotad should exit 2, got $rc"
rc=0; "$MQOTAD" --data "$T/server" device provision 'a/+' >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 2 ] || fail "a device id with '/' or '+' should exit 2, got $rc"
for f in "$T/creds/$A.cred" "$T/server/auth/passwd" "$T/server/auth/mqotad.pass"; do
  [ "$(stat -c %a "$f")" = 600 ] || fail "$f should be mode 0600, is $(stat -c %a "$f")"
done
PA=$(sed -n 's/^password=//p' "$T/creds/$A.cred") PB=$(sed -n 's/^password=//p' "$T/creds/$B.cred")
[ ${#PA} -ge 32 ] && [ "$PA" != "$PB" ] || fail "device passwords should be long and distinct"
! grep -rqF -e "$PA" -e "$PB" "$T/server" "$T/mqotad.log" || fail "a device password is stored in DATA or logged"
grep -q "^$A:[$]7[$]101[$]" "$T/server/auth/passwd" || fail "no PBKDF2-SHA512 hash for $A: $(cut -c1-30 "$T/server/auth/passwd")"
log "provisioned $A and $B"

# as WHO: sets AUTH to the address and login options of WHO (a device, mqotad, or '' for
# anonymous). mqotad's user goes through mqotad's own listener, where several connections of
# one user may coexist; on the devices' listener the client id is the username (§10).
as() {
  case $1 in
    '') AUTH=(-h 127.0.0.1 -p "$PORT") ;;
    mqotad) AUTH=(--unix "$T/server/broker/mqotad.sock" -u mqotad -P "$(cat "$T/server/auth/mqotad.pass")") ;;
    *) AUTH=(-h 127.0.0.1 -p "$PORT" -u "$1" -P "$(sed -n 's/^password=//p' "$T/creds/$1.cred")") ;;
  esac
}
# msub WHO ARGS...: mosquitto_sub for at most -W seconds; prints messages, exit status kept.
msub() { as "$1"; shift; timeout 15 mosquitto_sub "${AUTH[@]}" "$@"; }
# mpub WHO ARGS...: mosquitto_pub; a refused publish is not an error of the tool here.
mpub() { as "$1"; shift; timeout 15 mosquitto_pub "${AUTH[@]}" -q 1 "$@"; }

# ---- anonymous, wrong password, unknown user: refused ----
rc=0; msub '' -t 'mqota/v1/#' -C 1 -W 3 >"$T/out" 2>"$T/err" || rc=$?
[ "$rc" -ne 0 ] && grep -qi "not authori" "$T/err" || fail "anonymous client not refused (rc $rc): $(cat "$T/err")"
rc=0; timeout 15 mosquitto_sub -h 127.0.0.1 -p "$PORT" -u "$A" -P "${PA%?}x" -t 'mqota/v1/#' -C 1 -W 3 \
  >"$T/out" 2>"$T/err" || rc=$?
[ "$rc" -ne 0 ] && grep -qi "not authori" "$T/err" || fail "wrong password not refused (rc $rc): $(cat "$T/err")"
rc=0; timeout 15 mosquitto_sub -h 127.0.0.1 -p "$PORT" -u nobody -P "$PA" -t 'mqota/v1/#' -C 1 -W 3 \
  >"$T/out" 2>"$T/err" || rc=$?
[ "$rc" -ne 0 ] || fail "an unknown user with A's password was not refused"
pass "anonymous, wrong password and unknown user refused"

# ---- A cannot read B's offer (retained) or chunks ----
mpub mqotad -r -t "mqota/v1/dev/$B/offer" -m offer-for-B || fail "mqotad's user cannot publish B's offer"
[ "$(msub "$B" -t "mqota/v1/dev/$B/offer" -C 1 -W 5)" = offer-for-B ] ||
  fail "B should read its own retained offer (the control for A's attempt)"
msub "$A" -v -t "mqota/v1/dev/$B/offer" -t "mqota/v1/dev/$B/chunk" -t "mqota/v1/dev/+/offer" \
  -t 'mqota/v1/#' -W 4 >"$T/a-reads" 2>"$T/a-reads.err" &
apid=$!
msub "$B" -v -t "mqota/v1/dev/$B/chunk" -C 1 -W 4 >"$T/b-reads" 2>&1 &
bpid=$!
sleep 1
mpub mqotad -t "mqota/v1/dev/$B/chunk" -m chunk-for-B || fail "mqotad's user cannot publish B's chunk"
mpub mqotad -t "mqota/v1/dev/$A/chunk" -m chunk-for-A || fail "mqotad's user cannot publish A's chunk"
wait "$apid" || true
wait "$bpid" || true
grep -q "chunk-for-B" "$T/b-reads" || fail "B did not receive its chunk (the control): $(cat "$T/b-reads")"
grep -q "chunk-for-A" "$T/a-reads" || fail "A did not receive its own chunk (the control): $(cat "$T/a-reads")"
! grep -q "for-B" "$T/a-reads" || fail "A read B's messages: $(cat "$T/a-reads")"
pass "A subscribed to B's offer, chunk, +/offer and mqota/v1/#: received nothing of B's"

# ---- A cannot write B's state or clear B's offer ----
mpub "$B" -r -t "mqota/v1/dev/$B/state" -m state-of-B || fail "B cannot publish its own state"
mpub "$A" -r -t "mqota/v1/dev/$A/state" -m state-of-A || fail "A cannot publish its own state"
[ "$(msub mqotad -t "mqota/v1/dev/$A/state" -C 1 -W 5)" = state-of-A ] || fail "A's own state did not arrive (control)"
mpub "$A" -r -t "mqota/v1/dev/$B/state" -m forged-by-A >/dev/null 2>&1 || true
mpub "$A" -r -t "mqota/v1/dev/$B/offer" -n >/dev/null 2>&1 || true
sleep 0.5
[ "$(msub mqotad -t "mqota/v1/dev/$B/state" -C 1 -W 5)" = state-of-B ] || fail "A changed B's retained state"
[ "$(msub mqotad -t "mqota/v1/dev/$B/offer" -C 1 -W 5)" = offer-for-B ] || fail "A cleared B's retained offer"
pass "B's retained state and offer unchanged after A wrote them"

# ---- A cannot publish as the server: its own offer/chunk topics, a release stream ----
msub mqotad -v -t "mqota/v1/dev/$A/offer" -t "mqota/v1/dev/$A/chunk" -t 'mqota/v1/stream/#' \
  -t "mqota/v1/dev/$A/ack" \
  -W 5 >"$T/server-reads" 2>&1 &
spid=$!
sleep 1
mpub "$A" -t "mqota/v1/dev/$A/offer" -m forged-offer >/dev/null 2>&1 || true
mpub "$A" -t "mqota/v1/dev/$A/chunk" -m forged-chunk >/dev/null 2>&1 || true
mpub "$A" -t mqota/v1/stream/1 -m forged-stream >/dev/null 2>&1 || true
mpub "$B" -t mqota/v1/stream/1 -m forged-stream-B >/dev/null 2>&1 || true
mpub "$A" -t "mqota/v1/dev/$A/ack" -m ack-from-A || fail "A cannot publish its own ack"
mpub mqotad -t mqota/v1/stream/1 -m server-stream || fail "mqotad's user cannot publish a stream"
wait "$spid" || true
grep -q "ack-from-A" "$T/server-reads" || fail "the observer missed A's own ack (control)"
grep -q "server-stream" "$T/server-reads" || fail "the observer missed the server's own stream message (control)"
! grep -q "forged" "$T/server-reads" || fail "a device's forged server message was delivered: $(cat "$T/server-reads")"
pass "A's offer, chunk and stream publishes were not delivered; the server's were"
mpub mqotad -r -t "mqota/v1/dev/$B/offer" -n || true   # leave no retained junk for mqotad

# ---- commands: A reads only its own cmd topic, publishes no command anywhere (not even on its
# own cmd topic), and writes only its own reply topic ----
grep -qx 'pattern read mqota/v1/dev/%u/cmd' "$T/server/auth/acl" &&
  grep -qx 'pattern write mqota/v1/dev/%u/reply' "$T/server/auth/acl" || fail "ACL lacks the cmd/reply rules"
msub "$A" -v -t "mqota/v1/dev/$B/cmd" -t "mqota/v1/dev/$A/cmd" -t 'mqota/v1/dev/+/cmd' \
  -t "mqota/v1/dev/$B/reply" -W 4 >"$T/a-cmd" 2>&1 &
apid=$!
msub "$B" -v -t "mqota/v1/dev/$B/cmd" -W 4 >"$T/b-cmd" 2>&1 &
bpid=$!
msub mqotad -v -t 'mqota/v1/dev/+/cmd' -t 'mqota/v1/dev/+/reply' -W 5 >"$T/server-cmd" 2>&1 &
spid=$!
sleep 1
mpub mqotad -t "mqota/v1/dev/$B/cmd" -m cmd-for-B || fail "mqotad's user cannot publish B's command"
mpub mqotad -t "mqota/v1/dev/$A/cmd" -m cmd-for-A || fail "mqotad's user cannot publish A's command"
mpub "$A" -t "mqota/v1/dev/$A/cmd" -m forged-own-cmd >/dev/null 2>&1 || true
mpub "$A" -t "mqota/v1/dev/$B/cmd" -m forged-cmd-for-B >/dev/null 2>&1 || true
mpub "$A" -t "mqota/v1/dev/$B/reply" -m forged-reply-of-B >/dev/null 2>&1 || true
mpub "$A" -t "mqota/v1/dev/$A/reply" -m reply-from-A || fail "A cannot publish its own reply"
wait "$apid" || true
wait "$bpid" || true
wait "$spid" || true
grep -q "cmd-for-A" "$T/a-cmd" || fail "A did not receive its own command (the control): $(cat "$T/a-cmd")"
grep -q "cmd-for-B" "$T/b-cmd" || fail "B did not receive its command (the control): $(cat "$T/b-cmd")"
! grep -q -e "for-B" -e "of-B" -e forged "$T/a-cmd" || fail "A read B's command or reply, or a forged one: $(cat "$T/a-cmd")"
! grep -q forged "$T/b-cmd" || fail "A's forged command reached B: $(cat "$T/b-cmd")"
grep -q "reply-from-A" "$T/server-cmd" && grep -q "cmd-for-B" "$T/server-cmd" ||
  fail "the observer missed A's own reply or the server's command (controls): $(cat "$T/server-cmd")"
! grep -q forged "$T/server-cmd" || fail "a command or reply forged by A was delivered: $(cat "$T/server-cmd")"
pass "A read only its own commands; its commands (own and B's) and B's reply were not delivered"

# ---- A updates end to end with its own identity ----
start_fleet --count 1 --image "$FIX/idf_hello_world_esp32_2023.bin"
wait_online 1 60
add_release "$FIX/idf_hello_world_esp32_2024.bin"; deploy_all "$RELEASE_ID"; dep=$DEPLOYMENT_ID
watch "$dep" 180 || fail "deployment $dep to $A did not finish (see watch.log)"
mq --json device show "$A" | jq -e --arg v "$EXPECT" '.version == $v and .state == "confirmed"' >/dev/null ||
  fail "$A does not run $EXPECT: $(mq --json device show "$A")"
grep -q "as $A (.*u'$A')" "$T/server/broker/mosquitto.log" || fail "$A did not log in as itself"
pass "$A updated end to end with its own broker identity"

# ---- the last will is A's own write: it reaches the server ----
kill -KILL "$FLEET_PID"; wait "$FLEET_PID" 2>/dev/null || true; FLEET_PID=""
wait_for 60 sh -c "$MQOTA --server $HTTP_URL --json device show $A | jq -e '.online == false'" ||
  fail "$A's last will (offline) did not reach mqotad"
pass "$A's last will marked it offline"

# ---- revoke: B is refused after the reload ----
"$MQOTAD" --data "$T/server" device revoke "$B" >/dev/null 2>&1 || fail "device revoke $B"
sleep 0.5
rc=0; msub "$B" -t "mqota/v1/dev/$B/offer" -C 1 -W 3 >/dev/null 2>"$T/err" || rc=$?
[ "$rc" -ne 0 ] && grep -qi "not authori" "$T/err" || fail "revoked $B still connects (rc $rc)"
pass "revoked $B refused"
passed
