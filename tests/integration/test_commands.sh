#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Sealed server-to-device commands (docs/PROTOCOL.md §14, docs/SECURITY.md §9) end to end:
# mqotad with its embedded, secure broker and 3 provisioned virtual ESP32s (mqota-fleet).
#  - diagnostics, relay on/off (an application command), an unknown command, confirm on an
#    idle device, through the CLI, with the answers checked against the device's own state;
#  - hostile: the sealed 'relay on' frame captured from the broker (as mqotad's broker user) and
#    published again, then altered in its ciphertext, altered in its header counter, and a frame
#    sealed with another device's key: each refused by the device, not run (the relay stays
#    off), reported to mqotad and recorded; a replayed reply is dropped by mqotad;
#  - reboot by command (boot_count rises, diagnostics answer afterwards) and the captured reboot
#    frame replayed after the restart is refused (the window survived the restart);
#  - confirm_by_command: two devices take the 2024 image and wait in pending-verify; 'confirm'
#    confirms one, 'rollback' rolls the other back (reason command);
#  - the command keys appear in the credentials files and the 0600 database only: not in
#    mqotad's log, the API or --json.
# Every wait is bounded (wait_for, mosquitto -W, timeout).
. "$(dirname "$0")/lib.sh" "$1" "$2"

A=vdev-0001 B=vdev-0002 C=vdev-0003
start_mqotad --command-timeout 8
PORT=${BROKER_URL##*:}
DB="$T/server/mqota.db"
# provisioned here (not inside start_fleet's command substitution) so a failure says why
"$MQOTAD" --data "$T/server" device provision --out-dir "$T/creds" $A $B $C 2>"$T/prov.err" ||
  fail "device provision $A $B $C: $(cat "$T/prov.err")"
start_fleet --count 3 --image "$FIX/idf_hello_world_esp32_2023.bin" --confirm-by-command \
  --confirm-timeout 300000
wait_online 3 60
takes_commands() { mq --json device show "$1" | jq -e '.takes_commands == true and .command_key == true'; }
for d in $A $B $C; do
  wait_for 30 takes_commands "$d" || fail "$d does not announce commands: $(mq --json device show "$d")"
done
pass "3 devices online, each with a command key and MQOTA_CAP_COMMANDS"

# ---- keys: in the credentials file and the 0600 database, the same 32 bytes ----
KEY_A=$(sed -n 's/^command_key=//p' "$T/creds/$A.cred") || fail "cannot read $T/creds/$A.cred"
KEY_C=$(sed -n 's/^command_key=//p' "$T/creds/$C.cred") || fail "cannot read $T/creds/$C.cred"
[[ $KEY_A =~ ^[0-9a-f]{64}$ ]] && [ "$KEY_A" != "$KEY_C" ] ||
  fail "credentials should carry distinct 64-hex command keys: '$KEY_A' '$KEY_C'"
[ "$(sqlite3 "$DB" "select lower(hex(key)) from device_keys where device_id='$A'")" = "$KEY_A" ] ||
  fail "the database does not hold $A's key from its credentials file"
[ "$(stat -c %a "$DB")" = 600 ] || fail "$DB holds the command keys but is mode $(stat -c %a "$DB")"
pass "command keys: 64 hex digits in the credentials files, the same bytes in the 0600 database"

# as mqotad's broker user (we play an insider who can publish: the device must still refuse)
SPW=$(cat "$T/server/auth/mqotad.pass") || fail "cannot read mqotad's broker password"
SOCK=$T/server/broker/mqotad.sock # mqotad's own listener: our two logins as mqotad coexist
# capture TOPIC FILE: start recording the next message on TOPIC as hex into FILE; returns once
# the subscription is acknowledged (-d, line-buffered). Sets CAP_PID.
capture() {
  timeout 40 stdbuf -oL mosquitto_sub --unix "$SOCK" -u mqotad -P "$SPW" -q 1 -t "$1" -C 1 -W 30 \
    -F %x -d >"$2" 2>&1 &
  CAP_PID=$!
  wait_for 10 grep -q SUBACK "$2" || fail "no SUBACK for the capture of $1"
}
# captured FILE: the hex payload recorded by capture (after waiting for it).
captured() {
  wait "$CAP_PID" || true
  grep -E '^[0-9a-f]+$' "$1" | tail -n 1 || true
}
# inject TOPIC HEX [USER PASS]: publish the bytes HEX (QoS 1) as mqotad (or USER, on the
# devices' listener, where its client id is USER: the device USER's session is replaced).
inject() {
  printf "$(sed 's/../\\x&/g' <<<"$2")" >"$T/inject.bin"
  local conn=(--unix "$SOCK")
  [ -z "${3:-}" ] || conn=(-h 127.0.0.1 -p "$PORT")
  timeout 15 mosquitto_pub "${conn[@]}" -u "${3:-mqotad}" -P "${4:-$SPW}" -q 1 \
    -t "$1" -f "$T/inject.bin" || fail "could not publish on $1"
}
# flip HEX OFFSET: HEX with the byte at OFFSET xor 0x01.
flip() {
  local h=$1 o=$(($2 * 2))
  printf '%s%02x%s' "${h:0:o}" $((0x${h:o:2} ^ 1)) "${h:o+2}"
}
# diag DEVICE KEY: prints the value of KEY in DEVICE's diagnostics; status 4 if it has none.
diag() { mq --json device command "$1" diagnostics | jq -er --arg k "$2" '.diagnostics[$k] | strings'; }
# refusals DEVICE: prints the number of refusals mqotad recorded; status 4 if not a number.
refusals() { mq --json device show "$1" | jq -e '.command_refusals | numbers'; }
refusals_at_least() { [ "$(refusals "$1")" -ge "$2" ]; }
# last_refusal DEVICE: prints the newest refusal object; status 4 if there is none.
last_refusal() { mq --json device show "$1" | jq -ce '.recent_refusals[0] | objects'; }

# ---- diagnostics: keys and values agree with what the device reports in its STATE ----
mq --json device command $A diagnostics >"$T/diag.json" || fail "diagnostics on $A: $(cat "$T/diag.json")"
dev=$(mq --json device show $A) || fail "device show $A: $dev"
jq -e --argjson d "$dev" '.state == "done" and .result == "ok" and
    .diagnostics.slot == ($d.slot | tostring) and .diagnostics.state == $d.state and
    .diagnostics.boot_count == ($d.boot_count | tostring) and
    .diagnostics.version == $d.descriptor_version and .diagnostics.project == $d.project and
    .diagnostics.relay == "off" and (.diagnostics.uptime_ms | tonumber) > 0' "$T/diag.json" >/dev/null ||
  fail "diagnostics of $A disagree with its state: $(cat "$T/diag.json") vs $dev"
mq device command $A diagnostics >"$T/diag.txt" || fail "diagnostics as text"
grep -Eq '^slot: +0$' "$T/diag.txt" && grep -Eq '^relay: +off$' "$T/diag.txt" ||
  fail "diagnostics text is not 'key: value' lines: $(cat "$T/diag.txt")"
pass "diagnostics: $(jq -c '.diagnostics | {slot, state, version, boot_count, relay}' "$T/diag.json")"

# ---- relay on (captured from the broker on its way), relay off ----
capture "mqota/v1/dev/$A/cmd" "$T/relay-on.cap"
out=$(mq device command $A relay --arg on) || fail "relay on failed: $out"
[ "$out" = "relay=on" ] || fail "relay on answered '$out'"
RELAY_ON=$(captured "$T/relay-on.cap")
[ "${#RELAY_ON}" -eq $(((32 + 7 + 5 + 2) * 2)) ] || fail "captured relay frame: '$RELAY_ON'"
cmds=$(mq --json device commands $A) || fail "device commands $A: $cmds"
json_get ON_ID "$cmds" '[.[] | select(.name == "relay")][0].id | numbers'
json_get ON_CTR "$cmds" '[.[] | select(.name == "relay")][0].counter | numbers'
[ "$(diag $A relay)" = on ] || fail "diagnostics do not show relay=on after relay on"
out=$(mq device command $A relay --arg off) || fail "relay off failed: $out"
[ "$out" = "relay=off" ] || fail "relay off answered '$out'"
[ "$(diag $A relay)" = off ] || fail "diagnostics do not show relay=off after relay off"
! grep -qi "${RELAY_ON:32:24}" "$T/mqotad.log" || fail "mqotad logged the sealed frame"
pass "relay on -> relay=on, relay off -> relay=off (frame of command $ON_ID captured, counter $ON_CTR)"

# ---- failures: unknown command, confirm on an idle device, bad argument ----
rc=0; mq device command $A selfdestruct >/dev/null 2>"$T/err" || rc=$?
[ "$rc" -eq 1 ] && grep -q "unknown-command" "$T/err" || fail "unknown command: rc $rc, $(cat "$T/err")"
rc=0; mq device command $A confirm >/dev/null 2>"$T/err" || rc=$?
[ "$rc" -eq 1 ] && grep -q "wrong-state" "$T/err" || fail "confirm on idle: rc $rc, $(cat "$T/err")"
rc=0; mq --json device command $A relay --arg maybe >"$T/bad.json" 2>/dev/null || rc=$?
[ "$rc" -eq 1 ] && jq -e '.state == "failed" and .result == "failed"' "$T/bad.json" >/dev/null ||
  fail "relay maybe: rc $rc, $(cat "$T/bad.json")"
rc=0; mq device command $A 'Bad Name' >/dev/null 2>"$T/err" || rc=$?
[ "$rc" -eq 1 ] && grep -q "command name 'Bad Name'" "$T/err" || fail "bad name: rc $rc, $(cat "$T/err")"
rc=0; mq device command nosuch diagnostics >/dev/null 2>"$T/err" || rc=$?
[ "$rc" -eq 1 ] && grep -q "unknown device 'nosuch'" "$T/err" || fail "unknown device: rc $rc, $(cat "$T/err")"
pass "unknown-command, wrong-state, failed, bad name and unknown device: exit 1 with the reason"

# ---- hostile: replay, altered ciphertext, altered counter, another device's key ----
[ "$(refusals $A)" -eq 0 ] || fail "$A has refusals before any attack"
CMD_A="mqota/v1/dev/$A/cmd"
n=0
# fleet_logged RESULT: the fleet logged n refusals of A, the last one RESULT.
# (an ESP-IDF port device logs through ESP_LOGW: "<id>: W (mqota) command refused: ...")
fleet_logged() {
  local said="$A: (W \\(mqota\\) )?command refused:"
  [ "$(grep -cE "$said" "$T/fleet.log")" -ge "$n" ] &&
    grep -E "$said" "$T/fleet.log" | tail -n 1 | grep -q "refused: $1 "
}
# attack NAME HEX RESULT: inject HEX on A's cmd topic; A must refuse it with RESULT, report it,
# and mqotad must record it (one report per second at most, so attacks are 1.2 s apart).
attack() {
  sleep 1.2
  inject "$CMD_A" "$2"
  n=$((n + 1))
  wait_for 15 refusals_at_least $A $n || fail "$1: no refusal recorded by mqotad ($(refusals $A))"
  local r; r=$(last_refusal $A) || fail "device show $A"
  check_json "$1: the recorded refusal should be $3" "$r" '.result == $want' --arg want "$3"
  wait_for 10 fleet_logged "$3" || fail "$1: the device did not log refusal $n ($3)"
  pass "$1: refused ($r)"
}
attack "replayed relay on" "$RELAY_ON" refused-replay
r=$(last_refusal $A) || fail "device show $A"
check_json "the replay's report should name command $ON_ID's counter $ON_CTR" "$r" \
  '.refused_counter == $c and .command == $i' --argjson c "$ON_CTR" --argjson i "$ON_ID"
attack "altered ciphertext" "$(flip "$RELAY_ON" 20)" refused-forged
attack "altered header counter" "$(flip "$RELAY_ON" 8)" refused-forged
r=$(last_refusal $A) || fail "device show $A: no refusal"
check_json "the refusal should report the altered counter $((ON_CTR ^ 1))" "$r" \
  '.refused_counter == $c' --argjson c "$((ON_CTR ^ 1))"
capture "mqota/v1/dev/$C/cmd" "$T/c.cap"
mq device command $C diagnostics >/dev/null || fail "diagnostics on $C"
FOREIGN=$(captured "$T/c.cap")
[ -n "$FOREIGN" ] || fail "no frame captured for $C"
attack "frame sealed with $C's key" "$FOREIGN" refused-forged
[ "$(diag $A relay)" = off ] || fail "the relay of $A changed during the attacks"
cmds=$(mq --json device commands $A) || fail "device commands $A: $cmds"
check_json "the replay changed the state of the answered command $ON_ID" "$cmds" \
  '[.[] | select(.id == $i)] | length == 1 and .[0].state == "done"' --argjson i "$ON_ID"
grep -q "device $A refused a command: refused-forged" "$T/mqotad.log" || fail "mqotad logged no refusal warning"
acc=$(diag $A commands_accepted) && ref=$(diag $A commands_refused) || fail "diagnostics on $A"
[ "$ref" -eq 4 ] || fail "$A counts $ref refused commands, expected 4 (accepted $acc)"
pass "4 attacks refused and reported; relay still off; $A accepted $acc, refused $ref"

# ---- a replayed reply is dropped by mqotad ----
capture "mqota/v1/dev/$A/reply" "$T/reply.cap"
mq device command $A diagnostics >/dev/null || fail "diagnostics on $A"
REPLY=$(captured "$T/reply.cap")
[ -n "$REPLY" ] || fail "no reply frame captured"
dropped() { mq --json status | jq -e '.command_replies_dropped | numbers'; }
[ "$(dropped)" -eq 0 ] || fail "replies dropped before any replay: $(dropped)"
inject "mqota/v1/dev/$A/reply" "$REPLY" "$A" "$(sed -n 's/^password=//p' "$T/creds/$A.cred")"
wait_for 10 sh -c "$MQOTA --server $HTTP_URL --json status | jq -e '.command_replies_dropped == 1'" ||
  fail "mqotad did not drop the replayed reply (dropped: $(dropped))"
grep -q "device $A sent a replayed reply" "$T/mqotad.log" || fail "no warning for the replayed reply"
pass "a replayed reply of $A dropped by mqotad"

# ---- reboot by command; its frame replayed after the restart is refused ----
dev=$(mq --json device show $A) || fail "device show $A: $dev"
json_get boot0 "$dev" '.boot_count | numbers'
capture "$CMD_A" "$T/reboot.cap"
mq device command $A reboot >/dev/null || fail "reboot on $A"
REBOOT=$(captured "$T/reboot.cap")
[ -n "$REBOOT" ] || fail "no reboot frame captured"
booted() { mq --json device show $A | jq -e --argjson b "$boot0" '.boot_count > $b'; }
wait_for 30 booted || fail "$A did not restart (boot_count stays $boot0)"
dev=$(mq --json device show $A) || fail "device show $A: $dev"
json_get boot1 "$dev" '.boot_count | numbers'
wait_for 30 takes_commands $A || fail "$A does not take commands after the restart"
[ "$(diag $A boot_count)" = "$boot1" ] || fail "diagnostics after the restart: boot_count $(diag $A boot_count), STATE $boot1"
attack "reboot replayed after the restart" "$REBOOT" refused-replay
sleep 2
dev=$(mq --json device show $A) || fail "device show $A: $dev"
check_json "the replayed reboot restarted $A" "$dev" '.boot_count == $b' --argjson b "$boot1"
[ "$(diag $A boot_count)" = "$boot1" ] || fail "$A restarted after the replayed reboot"
pass "reboot: boot_count $boot0 -> $boot1; replayed reboot frame refused, no restart"

# ---- confirm_by_command: B confirmed and C rolled back by command ----
add_release "$FIX/idf_hello_world_esp32_2024.bin"; rel=$RELEASE_ID
out=$(mq --json deploy "$rel" $B $C) || fail "deploy to $B $C: $out"
json_get dep "$out" '.id | numbers'
pending() { mq --json device show "$1" | jq -e '.state == "pending-verify"'; }
for d in $B $C; do
  wait_for 120 pending "$d" || fail "$d did not reach pending-verify: $(mq --json device show "$d")"
done
sleep 1
pending $B >/dev/null && pending $C >/dev/null || fail "devices left pending-verify without a command"
wait_for 30 takes_commands $B && wait_for 30 takes_commands $C || fail "pending devices take no commands"
mq device command $B confirm >/dev/null || fail "confirm on $B in pending-verify"
mq device command $C rollback >/dev/null || fail "rollback on $C in pending-verify"
watch "$dep" 120 && fail "deployment $dep should end with a failure (C rolled back)"
mq --json deployment show "$dep" >"$T/dep.json"
jq -e --arg b $B --arg c $C '(.targets[] | select(.device == $b) | .state == "succeeded") and
    (.targets[] | select(.device == $c) | .state == "failed" and .reason == "command")' \
  "$T/dep.json" >/dev/null || fail "deployment $dep: $(jq -c .targets "$T/dep.json")"
# C reports rolled-back, restarts, and comes back on the previous slot
back_on_0() { mq --json device show $C | jq -e '.state == "rolled-back" and .reason == "command" and .slot == 0 and .online'; }
wait_for 60 back_on_0 || fail "$C is not back on slot 0, rolled back by command: $(mq --json device show $C)"
mq --json device show $B | jq -e '.state == "confirmed" and .slot == 1' >/dev/null ||
  fail "$B: $(mq --json device show $B)"
pass "confirm_by_command: $B confirmed on slot 1, $C rolled back (reason command)"

# ---- timeout: the fleet frozen (SIGSTOP) gets the command but cannot answer within
# --command-timeout (8 s); its late answer changes nothing; the command is never sent again ----
sent_before=$(grep -c "command [0-9]* (diagnostics) sent to $A" "$T/mqotad.log") || fail "no diagnostics sent to $A in the log"
kill -STOP "$FLEET_PID"
rc=0; mq device command $A diagnostics --timeout 30 >/dev/null 2>"$T/err" || rc=$?
kill -CONT "$FLEET_PID"
[ "$rc" -eq 1 ] && grep -q "no reply within mqotad's --command-timeout" "$T/err" ||
  fail "a frozen device: rc $rc, $(cat "$T/err")"
cmds=$(mq --json device commands $A) || fail "device commands $A: $cmds"
json_get TO_ID "$cmds" '.[0].id | numbers'
wait_for 15 grep -q "answered command $TO_ID (diagnostics) with ok, but the command is timeout" "$T/mqotad.log" ||
  fail "the late answer to command $TO_ID was not seen"
mq --json device commands $A | jq -e '.[0].state == "timeout" and .[0].result == null' >/dev/null ||
  fail "the late answer changed the timed-out command: $(mq --json device commands $A | jq -c '.[0]')"
[ "$(grep -c "command [0-9]* (diagnostics) sent to $A" "$T/mqotad.log")" -eq $((sent_before + 1)) ] ||
  fail "the timed-out command was sent more than once"
pass "frozen device: command $TO_ID timeout after 8 s, late answer ignored, sent once"

# ---- expiry: a provisioned device that never comes online ----
"$MQOTAD" --data "$T/server" device provision --out-dir "$T/creds" vdev-0099 2>>"$T/provision.log" ||
  fail "provision vdev-0099"
rc=0; mq device command vdev-0099 reboot --ttl 2 --timeout 30 >/dev/null 2>"$T/err" || rc=$?
[ "$rc" -eq 1 ] && grep -q "expired unsent" "$T/err" || fail "expiry: rc $rc, $(cat "$T/err")"
! grep -q "sent to vdev-0099" "$T/mqotad.log" || fail "a command was sent to the offline vdev-0099"
pass "command for a device never online: expired after its ttl of 2 s, never sent"

# ---- the keys stay secret ----
mq --json device show $A >"$T/show.json"
mq --json device commands $A >"$T/cmds.json"
mq --json device list >"$T/list.json"
for k in "$KEY_A" "$KEY_C" "${KEY_A^^}"; do
  ! grep -qF "$k" "$T/mqotad.log" "$T/show.json" "$T/cmds.json" "$T/list.json" "$T/diag.json" ||
    fail "a command key appears in mqotad's log or the API's JSON"
done
! grep -qF "$KEY_A" "$T/fleet.log" || fail "the fleet logged a command key"
pass "command keys absent from mqotad.log, fleet.log and every JSON answer"

mq device commands $A >"$T/cmds.txt" || fail "device commands $A"
head -n 3 "$T/cmds.txt"
grep -Eq "relay +on +done +ok" "$T/cmds.txt" || fail "device commands table: $(cat "$T/cmds.txt")"
passed
