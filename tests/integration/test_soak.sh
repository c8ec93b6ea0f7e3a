#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The bounded soak ("never brick"): a mixed fleet with connection cuts takes consecutive
# releases; after every deployment no device is stuck and every failure is explained by a
# fault injected here.
#
# The fleet (DEVICES in all, three mqota-fleet processes, all on the LINKS mix with their link
# cut at every CUTS percentage of every release they download):
#   vdev-*  the rest: every release must succeed (confirmed, new version, other slot)
#   st-*    ST_DEVICES whose self-test fails on release ST_RELEASE (--fail-self-test): that
#           release rolls back to the previous image (reason self-test); the next ones succeed
#   fb-*    FB_DEVICES with a flash bit error at image byte 65536 (--flip-byte): every
#           release fails its SHA-256 check before the boot slot changes (reason hash-mismatch)
# Releases are variants of idf_hello_world_esp32_2023.bin made by mqota-image-variant
# (version soak-01, soak-02, ... and secure_version 1, 2, ...): mqotad must accept each and
# the virtual bootloader boot it. For every release: add, deploy to all, wait (bounded) for
# the deployment to finish, then check every target and every device against what its group
# must show. A device is stuck if it is neither confirmed on the new release nor failed or
# rolled back for its injected fault when the deployment ends (or the deployment never ends).
# Fails on any stuck device, unexplained failure, bricked device, wrong version or slot, or a
# release in which the cuts did not happen. Prints one line per release and a summary (also
# written to $MQOTA_SOAK_REPORT if set).
#
# usage: test_soak.sh BUILD FIXTURES
# environment (defaults in brackets; bench/soak runs the long version):
#   MQOTA_SOAK_DEVICES [200]   MQOTA_SOAK_RELEASES [10]   MQOTA_SOAK_LINKS [lan:50,wifi:30,lte:20]
#   MQOTA_SOAK_CUTS [30,70]    MQOTA_SOAK_ST_DEVICES [DEVICES/20]   MQOTA_SOAK_ST_RELEASE [4, at most RELEASES]
#   MQOTA_SOAK_FB_DEVICES [2]  MQOTA_SOAK_MULTICAST [auto]  MQOTA_SOAK_RELEASE_TIMEOUT [180] s
#   MQOTA_SOAK_REPORT [none]: file the summary is also written to
. "$(dirname "$0")/lib.sh" "$1" "$2"
DEVICES=${MQOTA_SOAK_DEVICES:-200}
[[ $DEVICES =~ ^[0-9]+$ ]] || { echo "test_soak: MQOTA_SOAK_DEVICES '$DEVICES' is not a whole number"; exit 2; }
RELEASES=${MQOTA_SOAK_RELEASES:-10}
[[ $RELEASES =~ ^[0-9]+$ ]] || { echo "test_soak: MQOTA_SOAK_RELEASES '$RELEASES' is not a whole number"; exit 2; }
LINKS=${MQOTA_SOAK_LINKS:-lan:50,wifi:30,lte:20}
CUTS=${MQOTA_SOAK_CUTS:-30,70}
ST_DEVICES=${MQOTA_SOAK_ST_DEVICES:-$((DEVICES / 20))}
ST_RELEASE=${MQOTA_SOAK_ST_RELEASE:-$((RELEASES < 4 ? RELEASES : 4))}
FB_DEVICES=${MQOTA_SOAK_FB_DEVICES:-2}
MULTICAST=${MQOTA_SOAK_MULTICAST:-auto}
RELEASE_TIMEOUT=${MQOTA_SOAK_RELEASE_TIMEOUT:-180}
REPORT=${MQOTA_SOAK_REPORT:-}
VARIANT="$BUILD/tests/tools/mqota-image-variant"
BASE="$FIX/idf_hello_world_esp32_2023.bin"
FLIP_AT=65536

for v in DEVICES RELEASES ST_DEVICES ST_RELEASE FB_DEVICES RELEASE_TIMEOUT; do
  [[ ${!v} =~ ^[0-9]+$ ]] || { echo "test_soak: MQOTA_SOAK_$v '${!v}' is not a whole number"; exit 2; }
done
MAIN=$((DEVICES - ST_DEVICES - FB_DEVICES))
[ "$MAIN" -ge 1 ] ||
  { echo "test_soak: $DEVICES devices leave none for the main group after $ST_DEVICES st- and $FB_DEVICES fb-"; exit 2; }
[ "$RELEASES" -ge 1 ] || { echo "test_soak: MQOTA_SOAK_RELEASES must be at least 1"; exit 2; }
[ "$ST_DEVICES" -eq 0 ] || { [ "$ST_RELEASE" -ge 1 ] && [ "$ST_RELEASE" -le "$RELEASES" ]; } ||
  { echo "test_soak: MQOTA_SOAK_ST_RELEASE $ST_RELEASE must be 1..$RELEASES (the release whose self-test fails)"; exit 2; }
[ -f "$BASE" ] || fail "the fixture $BASE is missing"
[ -x "$VARIANT" ] || fail "$VARIANT is not built"
[ "$FLIP_AT" -lt "$(stat -c %s "$BASE")" ] || fail "image byte $FLIP_AT is past the end of $BASE"
CUT_ARGS=()
IFS=, read -ra cut_list <<<"$CUTS"
for c in "${cut_list[@]}"; do
  { [[ $c =~ ^[0-9]+$ ]] && [ "$c" -ge 1 ] && [ "$c" -le 99 ]; } ||
    { echo "test_soak: MQOTA_SOAK_CUTS '$CUTS': '$c' is not a percentage 1..99"; exit 2; }
  CUT_ARGS+=(--cut-at "$c")
done
[ ${#CUT_ARGS[@]} -gt 0 ] || { echo "test_soak: MQOTA_SOAK_CUTS is empty"; exit 2; }

# The fault groups run as their own fleets beside lib.sh's $FLEET_PID.
# (set +e: one failing stop must not end the trap before cleanup runs)
ST_PID="" FB_PID=""
trap 'rc=$?; set +e; stop_pid "$ST_PID"; stop_pid "$FB_PID"; cleanup $rc' EXIT
# extra_fleet NAME PREFIX COUNT ARGS...: start a fleet with data in $T/fleet-NAME; prints its pid.
extra_fleet() {
  local name=$1 prefix=$2 count=$3; shift 3
  fleet_provision --count "$count" --prefix "$prefix" >&2
  # shellcheck disable=SC2046 # fleet_auth prints options without spaces
  "$FLEET" --broker "$BROKER_URL" --data "$T/fleet-$name" --status-interval 2 \
    $(fleet_auth) --prefix "$prefix" --count "$count" "$@" \
    >>"$T/fleet-$name.log" 2>&1 &
  echo $!
}
FLEET_LOGS=("$T/fleet.log")
STATUS_FILES=("$T/fleet/fleet-status.json")

t_start=$SECONDS
log "soak: $DEVICES devices ($MAIN vdev-, $ST_DEVICES st- failing the self-test of release" \
    "$ST_RELEASE, $FB_DEVICES fb- with a flash bit error), links $LINKS, cuts at $CUTS %," \
    "$RELEASES releases, multicast $MULTICAST"

# The releases: distinct variants of one real image; the tool checks what it writes.
mkdir -p "$T/releases"
for k in $(seq 1 "$RELEASES"); do
  v=$(printf 'soak-%02d' "$k")
  "$VARIANT" --version "$v" --secure-version "$k" "$BASE" "$T/releases/$v.bin" >>"$T/variant.log" 2>&1 ||
    fail "mqota-image-variant could not make $v: $(tail -n 1 "$T/variant.log")"
done
[ "$(sha256sum "$T"/releases/*.bin | cut -d' ' -f1 | sort -u | wc -l)" -eq "$RELEASES" ] ||
  fail "the $RELEASES release variants are not all distinct"

start_mqotad --multicast "$MULTICAST"
start_fleet --count "$MAIN" --image "$BASE" --link "$LINKS" "${CUT_ARGS[@]}"
if [ "$ST_DEVICES" -gt 0 ]; then
  ST_PID=$(extra_fleet st st- "$ST_DEVICES" --image "$BASE" --link "$LINKS" "${CUT_ARGS[@]}" \
           --fail-self-test "$(printf 'soak-%02d' "$ST_RELEASE")")
  FLEET_LOGS+=("$T/fleet-st.log"); STATUS_FILES+=("$T/fleet-st/fleet-status.json")
fi
if [ "$FB_DEVICES" -gt 0 ]; then
  FB_PID=$(extra_fleet fb fb- "$FB_DEVICES" --image "$BASE" --link "$LINKS" "${CUT_ARGS[@]}" \
           --flip-byte "$FLIP_AT")
  FLEET_LOGS+=("$T/fleet-fb.log"); STATUS_FILES+=("$T/fleet-fb/fleet-status.json")
fi
wait_online "$DEVICES" 120
mq --json device list | jq -e --argjson n "$DEVICES" \
  'length == $n and all(.[]; .version == "1" and .slot == 0 and .state == "idle")' >/dev/null ||
  fail "the $DEVICES devices do not all start idle on slot 0 running version 1"
log "all $DEVICES online after $((SECONDS - t_start)) s"

# What each device must show after a release: expected version, slot, device state, reason.
# Kept in $T/expect.json as {id: {group, version, slot}}; the state comes from the release.
mq --json device list | jq 'map({key: .id, value: {version: "1", slot: 0,
  group: (if (.id | startswith("st-")) then "st" elif (.id | startswith("fb-")) then "fb"
          else "main" end)}}) | from_entries' >"$T/expect.json"

# log_marks: the line count of each fleet log; cut_lines MARKS: the link cuts the fleets
# logged after those lines (one release's cuts).
log_marks() { local f; for f in "${FLEET_LOGS[@]}"; do wc -l <"$f"; done; }
cut_lines() {
  local -a m
  local i=0 f
  read -ra m <<<"$1"
  for f in "${FLEET_LOGS[@]}"; do
    tail -n "+$((m[i] + 1))" "$f" | grep "fault: cutting the link" || true
    i=$((i + 1))
  done
}
secs() { printf '%d.%d' $(($1 / 1000)) $(($1 % 1000 / 100)); }  # ms -> seconds, one decimal
status_sum() { jq -s "map(.$1) | add" "${STATUS_FILES[@]}"; }

TIMES=() REASONS_ALL="" SUCC_ALL=0 FAIL_ALL=0 CUTS_ALL=0
for k in $(seq 1 "$RELEASES"); do
  v=$(printf 'soak-%02d' "$k")
  add_release "$T/releases/$v.bin"; rel=$RELEASE_ID
  r=$(mq --json release list | jq --argjson id "$rel" '.[] | select(.id == $id)')
  echo "$r" | jq -e --arg v "$v" --argjson k "$k" '.version == $v and .secure_version == $k' >/dev/null ||
    fail "release $rel does not carry version $v and secure_version $k: $r"
  marks=$(log_marks | tr '\n' ' ')
  t0=$(date +%s%3N)
  deploy_all "$rel"; dep=$DEPLOYMENT_ID
  rc=0
  watch "$dep" "$RELEASE_TIMEOUT" || rc=$?
  ms=$(($(date +%s%3N) - t0))
  d=$(mq --json deployment show "$dep") || fail "deployment show $dep failed"
  echo "$d" >"$T/deployment-$k.json"
  if ! jq -e '.state == "finished"' <<<"$d" >/dev/null; then
    echo "$d" | jq -r '.targets[] | select(.state != "succeeded" and .state != "failed") |
      "  STUCK \(.device): target \(.state), device \(.device_state) \(.reason), \(.progress) of image bytes"' | head -n 50
    fail "release $v: deployment $dep not finished after $RELEASE_TIMEOUT s (watch exited $rc): stuck targets above"
  fi

  # The outcome each group must have in this release.
  jq --arg v "$v" --argjson k "$k" --argjson st "$ST_RELEASE" '
    with_entries(.value |= (
      if .group == "fb" or (.group == "st" and $k == $st) then
        . + {want: "failed", reason: (if .group == "fb" then "hash-mismatch" else "self-test" end),
             device_state: (if .group == "fb" then "failed" else "rolled-back" end)}
      else . + {want: "succeeded", reason: "none", device_state: "confirmed",
                version: $v, slot: (1 - .slot)} end))' "$T/expect.json" >"$T/expect-new.json"

  # Every target against its group; anything else is unexplained.
  bad=$(jq -n --slurpfile d "$T/deployment-$k.json" --slurpfile e "$T/expect-new.json" -r '
    $d[0].targets[] | . as $t | $e[0][$t.device] as $x |
    if $x == null then "\($t.device): a target the soak did not start"
    elif $t.state != $x.want or $t.reason != $x.reason then
      "\($t.device) (\($x.group)): target \($t.state) reason \($t.reason), expected \($x.want) reason \($x.reason)"
    else empty end')
  [ -z "$bad" ] || { echo "$bad" | head -n 50; fail "release $v: targets not explained by an injected fault (above)"; }
  echo "$d" | jq -e --argjson n "$DEVICES" '.total == $n and (.targets | length) == $n' >/dev/null ||
    fail "release $v: deployment $dep has $(echo "$d" | jq .total) targets, not $DEVICES"

  # Every device, as the server sees it once the last states have landed (bounded).
  devices_ok() {
    mq --json device list >"$T/devices.json" || return 1
    jq -n --slurpfile l "$T/devices.json" --slurpfile e "$T/expect-new.json" -r '
      $l[0][] | . as $dv | $e[0][$dv.id] as $x |
      if $x == null then "\($dv.id): unknown device"
      elif $dv.version != $x.version or $dv.slot != $x.slot or $dv.state != $x.device_state or
           $dv.reason != $x.reason or ($dv.online | not) then
        "\($dv.id) (\($x.group)): \($dv.state) \($dv.reason) running \($dv.version) slot \($dv.slot) online \($dv.online); expected \($x.device_state) \($x.reason) running \($x.version) slot \($x.slot)"
      else empty end' >"$T/devices-bad.txt"
    [ ! -s "$T/devices-bad.txt" ]
  }
  if ! wait_for 30 devices_ok; then
    stuck=$(wc -l <"$T/devices-bad.txt")
    head -n 50 "$T/devices-bad.txt"
    fail "release $v: $stuck stuck devices (above): not where their group's outcome puts them 30 s after deployment $dep finished"
  fi
  jq 'map_values(del(.want, .reason, .device_state))' "$T/expect-new.json" >"$T/expect.json"

  # The faults really happened: cuts in this release, no bricked device.
  cut_lines "$marks" >"$T/cuts-$k.txt"
  cuts=$(wc -l <"$T/cuts-$k.txt")
  cut_devs=$(sed -n 's/.* \([a-z]*-[0-9]*\): fault: cutting the link.*/\1/p' "$T/cuts-$k.txt" | sort -u | wc -l)
  [ "$cut_devs" -eq "$DEVICES" ] ||
    fail "release $v: the link of only $cut_devs of $DEVICES devices was cut ($cuts cuts); every download must be cut"
  for f in "${STATUS_FILES[@]}"; do
    jq -e '.bricked == 0' "$f" >/dev/null || fail "release $v: $(jq .bricked "$f") bricked devices in $f"
  done

  succ=$(echo "$d" | jq .succeeded) failed=$(echo "$d" | jq .failed)
  reasons=$(echo "$d" | jq -r '[.targets[] | select(.state == "failed") | .reason] | group_by(.) |
    map("\(.[0]) \(length)") | join(", ")')
  resent=$(echo "$d" | jq '[.targets[].bytes_resent] | add')
  TIMES+=("$ms"); SUCC_ALL=$((SUCC_ALL + succ)); FAIL_ALL=$((FAIL_ALL + failed)); CUTS_ALL=$((CUTS_ALL + cuts))
  REASONS_ALL+=$(echo "$d" | jq -r '.targets[] | select(.state == "failed") | .reason')$'\n'
  pass "release $k/$RELEASES $v: $(secs "$ms") s; succeeded $succ, failed $failed${reasons:+ ($reasons)}," \
      "stuck 0; $cuts link cuts injected; unicast re-sent $resent bytes"
done

# Power cycle: every device boots again from its flash file alone and runs what it should.
stop_pid "$FLEET_PID"; stop_pid "$ST_PID"; stop_pid "$FB_PID"
FLEET_PID="" ST_PID="" FB_PID=""
# the fleets wrote their last status when they stopped
REBOOTS=$(status_sum reboots) RANDOM_CUTS=$(status_sum link_cuts)
none_online() { [ "$(online_count)" -eq 0 ]; }
wait_for 30 none_online || fail "$(online_count) devices still online 30 s after their fleets stopped"
start_fleet --count "$MAIN" --link "$LINKS"
[ "$ST_DEVICES" -eq 0 ] || ST_PID=$(extra_fleet st st- "$ST_DEVICES" --link "$LINKS")
[ "$FB_DEVICES" -eq 0 ] || FB_PID=$(extra_fleet fb fb- "$FB_DEVICES" --link "$LINKS")
wait_online "$DEVICES" 120
booted_ok() {
  mq --json device list >"$T/devices.json" || return 1
  jq -n --slurpfile l "$T/devices.json" --slurpfile e "$T/expect.json" -r '
    $l[0][] | . as $dv | $e[0][$dv.id] as $x |
    if $dv.version != $x.version or $dv.slot != $x.slot or ($dv.online | not) then
      "\($dv.id): running \($dv.version) slot \($dv.slot) online \($dv.online) after a power cycle; expected \($x.version) slot \($x.slot)"
    else empty end' >"$T/devices-bad.txt"
  [ ! -s "$T/devices-bad.txt" ]
}
wait_for 30 booted_ok || { head -n 50 "$T/devices-bad.txt"; fail "devices do not boot what they ran before the power cycle (above)"; }
pass "power cycle: all $DEVICES devices booted from flash and run their expected version and slot"

# Summary.
explain() {
  case $1 in
    self-test) echo "--fail-self-test soak-$(printf %02d "$ST_RELEASE") on the $ST_DEVICES st- devices" ;;
    hash-mismatch) echo "--flip-byte $FLIP_AT on the $FB_DEVICES fb- devices" ;;
    *) echo "NOT AN INJECTED FAULT" ;;
  esac
}
sorted=$(printf '%s\n' "${TIMES[@]}" | sort -n)
each=$(for t in "${TIMES[@]}"; do secs "$t"; echo; done | paste -sd' ')
{
  echo "soak summary: $RELEASES releases x $DEVICES devices (links $LINKS, cuts at $CUTS %, multicast $MULTICAST)"
  echo "  targets succeeded $SUCC_ALL, failed $FAIL_ALL, stuck 0; bricked 0"
  echo "$REASONS_ALL" | grep -v '^$' | sort | uniq -c | while read -r n r; do
    echo "  failed ($r): $n, explained by $(explain "$r")"
  done
  echo "  link cuts injected (--cut-at): $CUTS_ALL; random cuts of the emulated links:" \
       "$RANDOM_CUTS; device reboots: $REBOOTS" \
       "(one per success and two per self-test rollback make $((SUCC_ALL + 2 * ST_DEVICES)))"
  echo "  wall time per release (deploy to finished): min $(secs "$(echo "$sorted" | head -n 1)") s," \
       "median $(secs "$(echo "$sorted" | sed -n "$(( (RELEASES + 1) / 2 ))p")") s," \
       "max $(secs "$(echo "$sorted" | tail -n 1)") s (each: $each); whole soak $((SECONDS - t_start)) s"
} | tee -a "$T/summary.txt"
[ -z "$REPORT" ] || cp "$T/summary.txt" "$REPORT"
want_fail=$((FB_DEVICES * RELEASES + ST_DEVICES))
[ "$FAIL_ALL" -eq "$want_fail" ] || fail "$FAIL_ALL failed targets, the injected faults explain $want_fail"
passed
