#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Delta streams (docs/PROTOCOL.md §13, §18): with --multicast auto, one deployment of
# hello_world 2024 to five devices: two that run 2023, two that run a variant of 2023 (another
# version string, so another SHA-256: another base) and one without the decoder
# (--deflate-window 0). Each device first installs its base through mqota, so mqotad knows its
# running release. Devices on the same base share one stream of delta-full from that base, on
# mqota/v1/stream/<release>/4/<first 8 hex digits of the base's SHA-256>: two streams, one per
# base, and the device without the decoder gets the image by unicast (alone in its group). Every
# device confirms 2024 (its SHA-256 checked on the device); each delta stream carries its form
# (at the stream's 4 KiB chunks, under 55 % of the image: deflate-full's is more) and little
# else. Then two devices whose running release mqotad has wrong share a delta stream from that
# release, refuse its base (base-mismatch) and are sent the release's plain stream form.
#
# usage: test_delta_stream.sh BUILD FIXTURES
. "$(dirname "$0")/lib.sh" "$1" "$2"
OLD=idf_hello_world_esp32_2023.bin NEW=idf_hello_world_esp32_2024.bin SIZE=124416
VAR_PID="" OLD_PID=""
command -v sqlite3 >/dev/null || fail "sqlite3 is needed (scripts/install-deps)"
trap 'rc=$?; stop_pid "$VAR_PID"; stop_pid "$OLD_PID"; cleanup $rc' EXIT
"$BUILD/tests/tools/mqota-image-variant" --version v2023-variant "$FIX/$OLD" "$T/variant.bin" \
  >"$T/variant.log" 2>&1 || fail "mqota-image-variant failed: $(tail -n 1 "$T/variant.log")"

# other_fleet NAME PREFIX IMAGE DEFLATE_WINDOW: two devices (one for old-) in $T/fleet-NAME.
other_fleet() {
  local n=2
  [ "$2" = old- ] && n=1
  fleet_provision --count "$n" --prefix "$2"
  # shellcheck disable=SC2046 # fleet_auth prints options without spaces in them
  "$FLEET" --broker "$BROKER_URL" --data "$T/fleet-$1" --status-interval 2 $(fleet_auth) \
    --count "$n" --prefix "$2" --deflate-window "$4" --image "$3" >>"$T/fleet-$1.log" 2>&1 &
}

start_mqotad --multicast auto
start_fleet --count 2 --deflate-window 15 --image "$FIX/$OLD"
other_fleet var var- "$T/variant.bin" 15; VAR_PID=$!
other_fleet old old- "$FIX/$OLD" 0; OLD_PID=$!
wait_online 5 60
add_release "$FIX/$OLD" --version v2023; r_old=$RELEASE_ID
add_release "$T/variant.bin" --version v2023-variant; r_var=$RELEASE_ID
out=$(mq --json deploy "$r_old" vdev-0001 vdev-0002 old-0001 2>&1) || fail "deploy $r_old was refused: $out"
json_get dep1 "$out" '.id | numbers'
out=$(mq --json deploy "$r_var" var-0001 var-0002 2>&1) || fail "deploy $r_var was refused: $out"
json_get dep2 "$out" '.id | numbers'
watch "$dep1" 60 || fail "deployment $dep1 of 2023 through mqota did not finish"
watch "$dep2" 60 || fail "deployment $dep2 of the variant through mqota did not finish"
all=$(mq --json device list) || fail "device list failed"
check_json "the devices do not run their bases through mqota" "$all" \
  'length == 5 and all(.[]; .running_release == (if (.id | startswith("var-")) then $v else $o end))' \
  --argjson o "$r_old" --argjson v "$r_var"

add_release "$FIX/$NEW" --version v2024; rel=$RELEASE_ID
deploy_all "$rel"; dep=$DEPLOYMENT_ID
watch "$dep" 90 || fail "deployment $dep of 2024 did not finish"
d=$(mq --json deployment show "$dep") || fail "deployment show $dep failed"
check_json "not every device succeeded" "$d" '.succeeded == 5 and (.targets | length) == 5'
sha_old=$(sha256sum "$FIX/$OLD" | cut -c1-8) sha_var=$(sha256sum "$T/variant.bin" | cut -c1-8)
for g in "vdev-:$r_old:$sha_old" "var-:$r_var:$sha_var"; do
  IFS=: read -r prefix base sha <<<"$g"
  topic="mqota/v1/stream/$rel/4/$sha"
  check_json "the ${prefix}* devices were not both on the delta stream $topic from release $base" "$d" \
    '[.targets[] | select(.device | startswith($p))] as $g | ($g | length) == 2 and
     all($g[]; .encoding == "delta-full" and .stream == $t and .base_release == $b and
               .wire_size > 0 and .wire_size < $s * 55 / 100)' \
    --arg p "$prefix" --arg t "$topic" --argjson b "$base" --argjson s "$SIZE"
  grep -q "stream of release $rel started on $topic:" "$T/mqotad.log" ||
    fail "mqotad started no stream on $topic"
  # the stream's own count of bytes published, when it stopped
  line=$(grep "stream of release $rel on $topic stopped" "$T/mqotad.log" | tail -n 1) || true
  [[ $line =~ \(([0-9]+)\ bytes, ]] || fail "mqotad logged no end of the stream on $topic"
  bytes=${BASH_REMATCH[1]}
  json_get wire "$d" '.targets[] | select(.device | startswith($p)) | .wire_size | numbers' \
    --arg p "${prefix}0001"
  [ "$bytes" -ge "$wire" ] && [ "$bytes" -lt $((wire + SIZE / 10)) ] ||
    fail "the stream on $topic carried $bytes bytes, not between its $wire-byte form and that plus a tenth of the $SIZE-byte image"
  pass "${prefix}0001, ${prefix}0002: delta-full from release $base on $topic, $bytes bytes published for a $wire-byte form"
done
show=$(mq deployment show "$dep") || fail "deployment show $dep failed"
[ "$(grep -c "delta-full @$rel/4/\($sha_old\|$sha_var\)" <<<"$show")" -eq 4 ] ||
  fail "deployment show does not name each member's delta stream: $show"
pass "deployment show names each member's delta stream (delta-full @$rel/4/<base>)"
check_json "old-0001 (no decoder) was not sent the image by unicast" "$d" \
  '.targets[] | select(.device == "old-0001") | .encoding == "none" and .stream == null'
all=$(mq --json device list) || fail "device list failed"
check_json "not every device runs 2024 (release $rel), its SHA-256 checked" "$all" \
  'length == 5 and all(.[]; .running_release == $r and .version == "v2024")' --argjson r "$rel"

# A wrong base on a delta stream: mqotad believes var-0001 and var-0002 still run 2023 (their
# records edited, as after a re-flash by cable), so they share a delta stream from 2023 to a
# variant of 2024; each refuses the base before erasing anything (base-mismatch) and is
# offered the release's plain stream form instead; all five run the variant.
"$BUILD/tests/tools/mqota-image-variant" --version v2024-b "$FIX/$NEW" "$T/new-b.bin" \
  >"$T/variant.log" 2>&1 || fail "mqota-image-variant failed: $(tail -n 1 "$T/variant.log")"
add_release "$T/new-b.bin" --version v2024-b; rel_b=$RELEASE_ID
sqlite3 -cmd ".timeout 5000" "$T/server/mqota.db" \
  "UPDATE devices SET running_release = $r_old WHERE id IN ('var-0001', 'var-0002')" ||
  fail "could not edit the var- devices' records in $T/server/mqota.db"
deploy_all "$rel_b"; dep=$DEPLOYMENT_ID
watch "$dep" 90 || fail "deployment $dep of the variant of 2024 did not finish"
d=$(mq --json deployment show "$dep") || fail "deployment show $dep failed"
check_json "not every device succeeded after the refused base" "$d" \
  '.succeeded == 5 and (.targets | length) == 5'
check_json "the vdev- devices were not on the delta stream from 2024" "$d" \
  'all(.targets[] | select(.device | startswith("vdev-")); .encoding == "delta-full" and
       .stream == $t)' --arg t "mqota/v1/stream/$rel_b/4/$(sha256sum "$FIX/$NEW" | cut -c1-8)"
check_json "the var- devices were not re-offered a plain stream form" "$d" \
  'all(.targets[] | select(.device | startswith("var-"));
       (.encoding == "deflate-full" or .encoding == "none") and (.stream | type) == "string")'
for id in var-0001 var-0002; do
  grep -q "$id refused the delta from release $r_old (base-mismatch)" "$T/mqotad.log" ||
    fail "mqotad did not log $id's base-mismatch and the fallback"
done
grep -q "stream of release $rel_b started on mqota/v1/stream/$rel_b/4/$sha_old:" "$T/mqotad.log" &&
  fail "a stream of the delta from 2023 started although its members refused the base"
pass "var-0001, var-0002 refused the delta stream's base; mqotad sent them the plain stream form"
all=$(mq --json device list) || fail "device list failed"
check_json "not every device runs the variant of 2024" "$all" \
  'length == 5 and all(.[]; .running_release == $r and .version == "v2024-b")' --argjson r "$rel_b"
passed
