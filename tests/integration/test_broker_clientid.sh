#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Client ids on the embedded broker (docs/SECURITY.md §7.2). A provisioned device (evil-1) that
# connects with mqotad's client id (read from the broker's log) or with another device's id
# takes over nobody's session: the devices' listener makes every client id the username. A
# device looping such attempts (about 4 a second) during a deployment does not slow it (compared with a control
# deployment of the same image to as many devices in the same run) and mqotad never loses the
# broker. Then an insider with mqotad's own login takes mqotad's session over on mqotad's
# listener: mqotad logs one warning, reconnects under a fresh random id and a third deployment
# finishes. Every mosquitto_sub is bounded (-W and timeout), every loop by a deadline.
. "$(dirname "$0")/lib.sh" "$1" "$2"

N=3 # devices per deployment: group 1 control, group 2 under attack, group 3 after a takeover
EVIL=evil-1
start_mqotad
PORT=${BROKER_URL##*:}
BLOG=$T/server/broker/mosquitto.log
SOCK=$T/server/broker/mqotad.sock
start_fleet --count $((3 * N)) --image "$FIX/idf_hello_world_esp32_2023.bin"
wait_online $((3 * N)) 60
"$MQOTAD" --data "$T/server" device provision --out-dir "$T/creds" "$EVIL" 2>>"$T/provision.log" ||
  fail "device provision $EVIL: $(tail -n 3 "$T/provision.log")"
sleep 0.5 # the broker rereads its password file
pw() { sed -n 's/^password=//p' "$T/creds/$1.cred"; }
group() { fleet_ids --count $((3 * N)) | sed -n "$(($1 * N - N + 1)),$(($1 * N))p"; }

# mqotad's client id now: the last login of mqotad itself in the broker's log, told from the
# test's own logins as mqotad by its keepalive (KEEPALIVE_S in server/mqtt.c; mosquitto_sub's
# is 60 s). Empty if none.
mqotad_id() { grep -o "as mqotad-[^ ]* (p[0-9], c1, k30, u'mqotad')" "$BLOG" | tail -n 1 | cut -d' ' -f2 || true; }
# connect_as USER PASS ID [ARGS...]: hold one connection for up to 2 s as USER with client id ID
# on the devices' listener (or ARGS), then leave; its exit status is not the test's concern.
connect_as() {
  local user=$1 pass=$2 id=$3; shift 3
  [ $# -gt 0 ] || set -- -h 127.0.0.1 -p "$PORT"
  timeout 10 mosquitto_sub "$@" -u "$user" -P "$pass" -i "$id" -t "mqota/v1/dev/$user/offer" \
    -W 2 >/dev/null 2>&1 || true
}
taken_over() { grep -c "Client $1 already connected, closing old connection" "$BLOG" || true; }
mqotad_sessions() { grep -c "connected to $BROKER_URL" "$T/mqotad.log" || true; }
health_connected() { curl -sf "$HTTP_URL/api/v1/health" | jq -e '.mqtt_connected == true'; }
# timed_deploy GROUP RELEASE: deploy to the group's devices, watch it to the end; sets DEP_MS.
timed_deploy() {
  local ids out t0
  mapfile -t ids < <(group "$1")
  t0=$(date +%s%N)
  out=$(mq --json deploy "$2" "${ids[@]}") || fail "deploy $2 to group $1 was refused: $out"
  json_get DEP "$out" '.id | numbers'
  watch "$DEP" 120 || fail "deployment $DEP to group $1 (${ids[*]}) did not finish (see watch.log)"
  DEP_MS=$((($(date +%s%N) - t0) / 1000000))
}

MID=$(mqotad_id)
[ -n "$MID" ] || fail "no login of mqotad in $BLOG"
B=$(group 1 | sed -n 2p)
log "mqotad's client id is $MID; $B is a device of the fleet"

# ---- positive control: the device's own login displaces its session (the log shows it) ----
connect_as "$B" "$(pw "$B")" "$B"
wait_for 10 sh -c "[ \$(grep -c 'Client $B already connected' '$BLOG') -ge 1 ]" ||
  fail "control: $B's own login did not show as a takeover of $B in the broker's log"
wait_online $((3 * N)) 60
pass "control: $B's own credentials replace $B's session (logged by the broker)"

# ---- evil-1 with mqotad's id, then with B's id: connected as itself, nobody displaced ----
s0=$(mqotad_sessions) b0=$(taken_over "$B")
connect_as "$EVIL" "$(pw "$EVIL")" "$MID"
connect_as "$EVIL" "$(pw "$EVIL")" "$B"
sleep 1
[ "$(taken_over "$MID")" -eq 0 ] ||
  fail "$EVIL connected with mqotad's client id $MID and took mqotad's session over"
[ "$(taken_over "$B")" -eq "$b0" ] || fail "$EVIL connected with $B's client id and took $B's session over"
[ "$(mqotad_sessions)" -eq "$s0" ] && ! grep -q "lost the broker" "$T/mqotad.log" ||
  fail "mqotad lost the broker while $EVIL used its client id"
health_connected >/dev/null || fail "mqotad does not report mqtt_connected after $EVIL's attempts"
grep -q "as $EVIL (.*u'$EVIL')" "$BLOG" || fail "$EVIL's attempts do not show as logins of $EVIL"
pass "$EVIL with mqotad's and with $B's client id: logged in as $EVIL, displaced nobody"

# ---- a deployment while evil-1 loops takeover attempts, against a control in this run ----
add_release "$FIX/arduino_nerdminer_esp32_v1.6.3.bin" --version v1.6.3
rel=$RELEASE_ID
timed_deploy 1 "$rel"
CONTROL_MS=$DEP_MS
pass "control: group 1 updated in $CONTROL_MS ms"
(
  end=$((SECONDS + 120))
  while [ "$SECONDS" -lt "$end" ] && [ ! -f "$T/stop-attack" ]; do
    timeout 10 mosquitto_pub -h 127.0.0.1 -p "$PORT" -u "$EVIL" -P "$(pw "$EVIL")" \
      -i "$(mqotad_id)" -t "mqota/v1/dev/$EVIL/offer" -m x >/dev/null 2>&1 || true
    echo >>"$T/attempts"
    sleep 0.2
  done
) &
APID=$!
trap 'touch "$T/stop-attack"; wait "$APID" 2>/dev/null || true; cleanup $?' EXIT
wait_for 20 test -s "$T/attempts" || fail "the takeover loop made no attempt within 20 s"
s0=$(mqotad_sessions)
timed_deploy 2 "$rel"
ATTACK_MS=$DEP_MS
ATTEMPTS=$(wc -l <"$T/attempts")
touch "$T/stop-attack"
wait "$APID" || true
pass "under attack: group 2 updated in $ATTACK_MS ms during $ATTEMPTS takeover attempts"
[ "$ATTACK_MS" -le $((CONTROL_MS * 2 + 3000)) ] ||
  fail "the deployment under attack took $ATTACK_MS ms, the control $CONTROL_MS ms"
[ "$(mqotad_sessions)" -eq "$s0" ] && [ "$(taken_over "mqotad-.*")" -eq 0 ] ||
  fail "mqotad was disconnected during the attack ($(($(mqotad_sessions) - s0)) reconnects)"
health_connected >/dev/null || fail "mqotad does not report mqtt_connected after the attack"

# ---- an insider with mqotad's login and its id, on mqotad's listener: mqotad moves on ----
[ -S "$SOCK" ] || fail "no socket of mqotad's own listener at $SOCK"
SPW=$(cat "$T/server/auth/mqotad.pass") || fail "cannot read mqotad's broker password"
OLD=$(mqotad_id)
end=$((SECONDS + 30))
while [ "$SECONDS" -lt "$end" ] && [ "$(mqotad_id)" = "$OLD" ]; do
  connect_as mqotad "$SPW" "$OLD" --unix "$SOCK"
done
NEW=$(mqotad_id)
[ "$NEW" != "$OLD" ] || fail "mqotad kept its client id $OLD for 30 s of takeovers"
wait_for 20 health_connected || fail "mqotad did not reconnect after the takeover"
n=$(grep -c "reconnecting under a fresh random client id" "$T/mqotad.log" || true)
[ "$n" -eq 1 ] || fail "mqotad logged $n takeover warnings, expected one"
[[ $NEW =~ ^mqotad-[0-9a-f]{16}$ ]] || fail "mqotad's new client id '$NEW' is not mqotad-<16 hex digits>"
pass "insider took $OLD over: one warning, mqotad is back as $NEW"
connect_as mqotad "$SPW" "$OLD" --unix "$SOCK" # the old id is worth nothing now
timed_deploy 3 "$rel"
pass "group 3 updated in $DEP_MS ms after the takeover"
[ "$(mqotad_id)" = "$NEW" ] || fail "mqotad changed its client id again without a takeover"
passed
