#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Groups, tags and target filters (issue 11 item 1, docs/API.md "Groups and tags", "Filters")
# on a real mqotad and a virtual fleet of six devices: four ESP32 running one ESP-IDF image and
# two ESP32-S3 running an Arduino image, the S3 fleet stopped half-way so its devices are
# offline. Groups and tags are made with the CLI; 'device list --filter' must select exactly
# the expected devices for every key (chip, project, version, release, group, tag, online,
# state, last_seen), '!=' and '|'; 'deploy --filter' updates exactly a group's devices; every
# refusal answers its one sentence and changes nothing.
#
# usage: test_groups.sh BUILD FIXTURES
. "$(dirname "$0")/lib.sh" "$1" "$2"
S3_IMAGE=arduino_nerdminer_esp32s3_v1.4.bin
[ -f "$FIX/$S3_IMAGE" ] || { echo "SKIP: the fixture image $S3_IMAGE is not in '$FIX'"; exit 77; }
S3_PID=""
trap 'rc=$?; stop_pid "$S3_PID"; cleanup $rc' EXIT

# selects WHAT FILTER IDS...: 'mqota device list --filter FILTER' lists exactly IDS (in order).
selects() {
  local what=$1 filter=$2 out want got; shift 2
  out=$(mq --json device list --filter "$filter" 2>&1) || fail "$what: --filter '$filter' was refused: $out"
  want=$(printf '%s\n' "$@" | jq -R . | jq -sc '[.[] | select(. != "")]')
  got=$(jq -c '[.[].id]' <<<"$out") || fail "$what: not JSON: $out"
  [ "$got" = "$want" ] || fail "$what: --filter '$filter' selected $got, not $want"
  pass "$what: $filter -> $want"
}

# refused WHAT SENTENCE CMD...: CMD (an mqota command line) fails with exit 1 and prints
# exactly "mqota: SENTENCE" on stderr.
refused() {
  local what=$1 sentence=$2 out rc=0; shift 2
  out=$(mq "$@" 2>&1 >/dev/null) || rc=$?
  [ "$rc" -eq 1 ] || fail "$what: 'mqota $*' exited $rc, not 1: $out"
  [ "$out" = "mqota: $sentence" ] || fail "$what: 'mqota $*' said '$out', not 'mqota: $sentence'"
  pass "$what refused"
}

start_mqotad
start_fleet --count 4 --image "$FIX/idf_hello_world_esp32_2023.bin"
fleet_provision --count 2 --prefix s3dev-
"$FLEET" --broker "$BROKER_URL" --data "$T/fleet-s3" --status-interval 2 $(fleet_auth) \
  --count 2 --prefix s3dev- --chip esp32s3 --image "$FIX/$S3_IMAGE" >>"$T/fleet-s3.log" 2>&1 &
S3_PID=$!
wait_online 6 60
all=$(mq --json device list) || fail "device list failed"
json_get V2023 "$all" '.[] | select(.id == "vdev-0001") | .version | strings'
json_get S3PROJ "$all" '.[] | select(.id == "s3dev-0001") | .project | strings'
json_get IDFPROJ "$all" '.[] | select(.id == "vdev-0001") | .project | strings'
check_json "the fleet is not four ESP32 and two ESP32-S3 devices, idle" "$all" \
  '([.[] | select(.chip == "ESP32")] | length) == 4 and
   ([.[] | select(.chip == "ESP32-S3")] | length) == 2 and all(.[]; .state == "idle")'

# ---- groups and tags through the CLI ----
check "group create lab" mq group create lab
check "group create berlin" mq group create berlin
out=$(mq --json group add lab vdev-0001 vdev-0002 s3dev-0001) || fail "group add lab: $out"
check_json "group add lab did not add three devices" "$out" \
  '.added == 3 and .size == 3 and .devices == ["s3dev-0001", "vdev-0001", "vdev-0002"]'
out=$(mq --json group add lab vdev-0001) || fail "group add lab again: $out"
check_json "adding a member again is not idempotent" "$out" '.added == 0 and .size == 3'
check "group add berlin" mq group add berlin vdev-0002 vdev-0003
out=$(mq --json device tag vdev-0001 site=berlin beta) || fail "device tag: $out"
check_json "device tag did not set two tags" "$out" \
  '.tags == ["beta", "site=berlin"] and .groups == ["lab"]'
check "tag vdev-0002" mq device tag vdev-0002 site=paris
check "tag vdev-0004" mq device tag vdev-0004 site=paris
check "tag s3dev-0002" mq device tag s3dev-0002 site=berlin beta
out=$(mq --json device tag vdev-0004 site=berlin) || fail "device tag again: $out"
check_json "a key's new value does not replace its old one" "$out" '.tags == ["site=berlin"]'
check "untag vdev-0004" mq device untag vdev-0004 site
out=$(mq --json device show vdev-0004) || fail "device show: $out"
check_json "untag left a tag" "$out" '.tags == [] and .groups == []'
out=$(mq --json group list) || fail "group list: $out"
check_json "group list" "$out" '[.[] | {name, size}] == [{"name": "berlin", "size": 2}, {"name": "lab", "size": 3}]'
mq group list
mq device show vdev-0001 | grep -qx '  groups            lab' || fail "device show does not list the groups"
pass "device show lists groups"

# ---- every key, with != and | ----
selects "chip" "chip=esp32" vdev-0001 vdev-0002 vdev-0003 vdev-0004
selects "chip, any spelling" "chip=ESP32S3" s3dev-0001 s3dev-0002
selects "chip !=" "chip!=esp32-s3|esp32-c3" vdev-0001 vdev-0002 vdev-0003 vdev-0004
selects "project" "project=$S3PROJ" s3dev-0001 s3dev-0002
selects "version" "version=$V2023" vdev-0001 vdev-0002 vdev-0003 vdev-0004
selects "group" "group=lab" s3dev-0001 vdev-0001 vdev-0002
selects "two groups" "group=lab group=berlin" vdev-0002
selects "group alternatives" "group=lab|berlin" s3dev-0001 vdev-0001 vdev-0002 vdev-0003
selects "group !=" "group!=lab" s3dev-0002 vdev-0003 vdev-0004
selects "tag key" "tag=site" s3dev-0002 vdev-0001 vdev-0002
selects "tag key=value" "tag=site=berlin" s3dev-0002 vdev-0001
selects "tags, commas" "tag=site=berlin,tag=beta,chip=esp32" vdev-0001
selects "tag !=" "tag!=beta" s3dev-0001 vdev-0002 vdev-0003 vdev-0004
selects "online" "online=true" s3dev-0001 s3dev-0002 vdev-0001 vdev-0002 vdev-0003 vdev-0004
selects "state" "state=idle" s3dev-0001 s3dev-0002 vdev-0001 vdev-0002 vdev-0003 vdev-0004
selects "last_seen" "last_seen<1h" s3dev-0001 s3dev-0002 vdev-0001 vdev-0002 vdev-0003 vdev-0004
selects "nothing" "last_seen>1h"
selects "SQL metacharacters are values" "project=x');DELETE_FROM_devices;--"
selects "...and the table is intact" "chip=esp32-s3" s3dev-0001 s3dev-0002

# ---- deploy --filter: the ESP32 devices of group lab take the 2024 image ----
# (at least 3 s after the devices' last messages, so the updated devices' last_seen differs
# from the others' by more than a second of clock skew between this script and mqotad)
sleep 3
add_release "$FIX/idf_hello_world_esp32_2024.bin"; rel=$RELEASE_ID
out=$(mq --json deploy "$rel" --filter "group=lab" 2>&1) || fail "deploy --filter group=lab: $out"
check_json "deploy --filter did not target the ESP32 devices of lab" "$out" \
  '[.targets[].device] == ["vdev-0001", "vdev-0002"] and .total == 2'
json_get dep "$out" '.id | numbers'
watch "$dep" 120 || fail "deployment $dep to group lab did not finish (see watch.log)"
pass "deploy --filter group=lab updated its two ESP32 devices"
all=$(mq --json device list) || fail "device list failed"
json_get V2024 "$all" '.[] | select(.id == "vdev-0001") | .version | strings'
[ "$V2024" != "$V2023" ] || fail "vdev-0001 still runs $V2023 after the update"
selects "state after the update" "state=confirmed" vdev-0001 vdev-0002
selects "state alternatives" "state=confirmed|rolled-back chip=esp32" vdev-0001 vdev-0002
selects "state !=" "state!=confirmed project=$IDFPROJ" vdev-0003 vdev-0004
selects "release" "release=$rel" vdev-0001 vdev-0002
selects "running version" "version=$V2024" vdev-0001 vdev-0002
selects "old version" "version=$V2023" vdev-0003 vdev-0004

# ---- the S3 fleet goes offline: online and last_seen ----
stop_pid "$S3_PID"; S3_PID=""
offline_two() { mq --json device list --filter online=false | jq -e '[.[].id] == ["s3dev-0001", "s3dev-0002"]'; }
wait_for 20 offline_two || fail "the S3 devices are not offline 20 s after their fleet stopped"
selects "offline" "online=false" s3dev-0001 s3dev-0002
selects "online !=" "online!=false chip=esp32" vdev-0001 vdev-0002 vdev-0003 vdev-0004
# last_seen is the time of a device's last message: vdev-0003 and vdev-0004 have said
# nothing since they came online; the updated devices and the S3 ones (their last will) spoke
# at least 3 s later. A duration reaching one second past the older ones splits them.
all=$(mq --json device list) || fail "device list failed"
json_get old_seen "$all" '[.[] | select(.id == "vdev-0003" or .id == "vdev-0004") | .last_seen] | max | numbers'
json_get new_seen "$all" '[.[] | select(.id != "vdev-0003" and .id != "vdev-0004") | .last_seen] | min | numbers'
[ "$new_seen" -ge $((old_seen + 3)) ] || fail "the updated devices were last seen at $new_seen, not 3 s after the others ($old_seen)"
D=$(( $(date +%s) - old_seen - 1 ))
selects "seen within ${D}s" "last_seen<${D}s" s3dev-0001 s3dev-0002 vdev-0001 vdev-0002
selects "not seen for ${D}s" "last_seen>${D}s" vdev-0003 vdev-0004

# ---- refusals: one sentence each, nothing changed ----
refused "unknown key" "unknown filter key 'colour' in 'colour=red'; the keys are chip, project, version, release, group, tag, online, state, last_seen and protocol" \
  device list --filter colour=red
refused "unknown chip" "filter term 'chip=esp8266': 'esp8266' is not a chip mqotad knows; use esp32, esp32-s2, esp32-c3, esp32-s3, esp32-c2, esp32-c6, esp32-h2 or esp32-p4" \
  device list --filter chip=esp8266
refused "duplicate key" "filter key 'state' is given twice; give alternatives in one term, as state=A|B (only group and tag may repeat)" \
  device list --filter "state=idle state=failed"
refused "unknown group" "filter term 'group=nosuch' names group 'nosuch', which does not exist; see GET /api/v1/groups ('mqota group list')" \
  device list --filter "chip=esp32 group=nosuch"
refused "empty filter" "the filter is empty; give at least one term such as chip=esp32 or group=lab" \
  device list --filter " , "
refused "last_seen with =" "filter term 'last_seen=1h': last_seen takes < or > and a duration (last_seen<1h: seen within the last hour; last_seen>1d: not seen for a day)" \
  device list --filter last_seen=1h
refused "group twice" "group 'lab' exists already" group create lab
refused "bad group name" "\"lab/2\" is not a group name: give 1 to 64 letters, digits, '.', '_' or '-'" \
  group create lab/2
refused "unknown group shown" "unknown group 'nosuch'; see 'mqota group list'" group show nosuch
refused "unknown device added" "unknown device 'vdev-0099'; mqotad knows a device once it has connected ('mqota device list')" \
  group add berlin vdev-0004 vdev-0099
refused "bad tag" "tag 'site=a b': its value may not hold a control character, a space, ',', '|' or '=' (byte 7)" \
  device tag vdev-0003 ok site=a\ b
refused "deploy --filter matching no device of the release's chip" "no device of chip ESP32, the chip of release $rel, matches the filter 'chip=esp32-s3' (2 of other chips do); see 'mqota device list --filter'" \
  deploy "$rel" --filter chip=esp32-s3
out=$(mq --json group show berlin) || fail "group show berlin: $out"
check_json "a refused group add changed the group" "$out" '.devices == ["vdev-0002", "vdev-0003"]'
out=$(mq --json device show vdev-0003) || fail "device show vdev-0003: $out"
check_json "a refused tag change set a tag" "$out" '.tags == []'

# the API answers the same sentences: invalid UTF-8 and a control character in the query
raw() { curl -s -H "$API_AUTH" "$HTTP_URL/api/v1/devices?filter=$1"; }
out=$(raw 'project%3D%C3%28') || fail "curl failed"
check_json "invalid UTF-8 in a filter" "$out" '.error == "the filter is not valid UTF-8 (byte 9); send it as UTF-8 text"'
out=$(raw 'chip%3Desp32%0Astate%3Didle') || fail "curl failed"
check_json "a newline in a filter" "$out" '.error == "the filter holds a control character (byte 11); separate terms with spaces or commas"'
code=$(curl -s -o /dev/null -w '%{http_code}' -H "$API_AUTH" -X DELETE "$HTTP_URL/api/v1/groups/lab") ||
  fail "curl DELETE failed"
[ "$code" = 200 ] || fail "DELETE /api/v1/groups/lab answered $code"
selects "a deleted group's devices stay" "tag=beta" s3dev-0002 vdev-0001
refused "a deleted group" "filter term 'group=lab' names group 'lab', which does not exist; see GET /api/v1/groups ('mqota group list')" \
  device list --filter group=lab
passed
