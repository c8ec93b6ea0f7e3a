#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# TLS to the broker (docs/SECURITY.md §6).
#  1. An external mosquitto with a TLS-only listener that requires client certificates, whose
#     CN is the MQTT username (use_identity_as_username) and whose ACL is the one
#     'mqotad broker-files' writes. Certificates are made here with the openssl CLI. mqotad
#     connects with --broker mqtts://127.0.0.1:PORT --ca --cert --key, a fleet of 2 with --ca and
#     --cert-dir, and the fleet updates idf_hello_world 2023 -> 2024. A client trusting another
#     CA, a client without TLS, a client without a certificate and a broker certificate for
#     another host name are all refused.
#  2. mqotad --broker-tls: its own CA and certificate in DATA/tls/, a TLS-only embedded broker,
#     broker.url mqtts://; a provisioned fleet of 2 with DATA/tls/ca.crt updates end to end.
. "$(dirname "$0")/lib.sh" "$1" "$2"

FROM="$FIX/idf_hello_world_esp32_2023.bin" TO="$FIX/idf_hello_world_esp32_2024.bin"
EXPECT=v1.4.1-2-g0296947-dirty
BROKER_PID=""
trap 'rc=$?; stop_pid "$BROKER_PID"; cleanup $rc' EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ---- certificates (openssl CLI): a CA, another CA, a server, a wrong-host server, clients ----
P="$T/pki"
mkdir -p "$P" "$T/certs"
newca() { # NAME CN
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$P/$1.key" \
    -out "$P/$1.crt" -days 2 -subj "/CN=$2" -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
}
issue() { # OUT_PREFIX CN EXTENSIONS
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" \
    -out "$1.csr" -subj "/CN=$2" 2>/dev/null
  printf '%b\n' "$3" >"$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$P/ca.crt" -CAkey "$P/ca.key" -CAcreateserial -days 2 \
    -extfile "$1.ext" -out "$1.crt" 2>/dev/null
}
newca ca "mqota test CA" && newca wrong "some other CA" || fail "openssl could not make the CAs"
issue "$P/server" localhost 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth'
issue "$P/otherhost" broker.example 'subjectAltName=DNS:broker.example\nextendedKeyUsage=serverAuth'
issue "$P/mqotad" mqotad 'extendedKeyUsage=clientAuth'
for id in vdev-0001 vdev-0002; do issue "$T/certs/$id" "$id" 'extendedKeyUsage=clientAuth'; done
chmod 600 "$P"/*.key "$T"/certs/*.key
log "certificates made"

# ---- the external broker: TLS only, client certificates required, CN = username, ACL ----
"$MQOTAD" --data "$T/server" broker-files "$T/brokerfiles" >/dev/null || fail "broker-files failed"
for f in passwd acl mosquitto-mqota.conf; do [ -s "$T/brokerfiles/$f" ] || fail "broker-files wrote no $f"; done
grep -q '^pattern read mqota/v1/dev/%u/offer$' "$T/brokerfiles/acl" || fail "ACL: $(cat "$T/brokerfiles/acl")"
PORT=$(free_port) BADPORT=$(free_port)
cat >"$T/mosquitto.conf" <<EOF
user $(id -un)
per_listener_settings false
allow_anonymous false
acl_file $T/brokerfiles/acl
persistence false
log_dest file $T/ext-mosquitto.log
log_type all
listener $PORT 127.0.0.1
cafile $P/ca.crt
certfile $P/server.crt
keyfile $P/server.key
require_certificate true
use_identity_as_username true
listener $BADPORT 127.0.0.1
cafile $P/ca.crt
certfile $P/otherhost.crt
keyfile $P/otherhost.key
require_certificate true
use_identity_as_username true
EOF
mosquitto -c "$T/mosquitto.conf" >>"$T/ext-mosquitto.out.log" 2>&1 &
BROKER_PID=$!
wait_for 10 port_open "$PORT" || fail "mosquitto did not listen on $PORT"
wait_for 10 port_open "$BADPORT" || fail "mosquitto did not listen on $BADPORT"
log "external mosquitto: TLS only on 127.0.0.1:$PORT (and a wrong-host certificate on $BADPORT)"

# ---- who cannot talk to it ----
CLIENT=(--cert "$P/mqotad.crt" --key "$P/mqotad.key")
sub_ok() { # the good client reads a retained message: proves the probes below fail for their reason
  timeout 10 mosquitto_sub -h 127.0.0.1 -p "$PORT" --cafile "$P/ca.crt" "${CLIENT[@]}" -t "$1" -C 1 -W 5
}
timeout 10 mosquitto_pub -h 127.0.0.1 -p "$PORT" --cafile "$P/ca.crt" "${CLIENT[@]}" -q 1 -r \
  -t mqota/v1/dev/probe/offer -m probe || fail "the right CA and client certificate should connect"
[ "$(sub_ok mqota/v1/dev/probe/offer)" = probe ] || fail "the right CA should read the retained probe"
rc=0; timeout 10 mosquitto_sub -h 127.0.0.1 -p "$PORT" --cafile "$P/wrong.crt" "${CLIENT[@]}" \
  -t mqota/v1/dev/probe/offer -C 1 -W 5 >"$T/out" 2>"$T/err" || rc=$?
[ "$rc" -ne 0 ] && [ ! -s "$T/out" ] || fail "a client trusting another CA connected (rc $rc): $(cat "$T/out")"
pass "wrong CA refused: $(head -c 120 "$T/err")"
rc=0; timeout 10 mosquitto_sub -h 127.0.0.1 -p "$PORT" -t mqota/v1/dev/probe/offer -C 1 -W 5 \
  >"$T/out" 2>"$T/err" || rc=$?
[ "$rc" -ne 0 ] && [ ! -s "$T/out" ] || fail "plain MQTT reached the TLS port (rc $rc): $(cat "$T/out")"
pass "plain TCP refused: $(head -c 120 "$T/err")"
rc=0; timeout 10 mosquitto_sub -h 127.0.0.1 -p "$PORT" --cafile "$P/ca.crt" \
  -t mqota/v1/dev/probe/offer -C 1 -W 5 >"$T/out" 2>"$T/err" || rc=$?
[ "$rc" -ne 0 ] && [ ! -s "$T/out" ] || fail "a client without a certificate connected (rc $rc)"
rc=0; timeout 10 mosquitto_sub -h 127.0.0.1 -p "$BADPORT" --cafile "$P/ca.crt" "${CLIENT[@]}" \
  -t mqota/v1/dev/probe/offer -C 1 -W 5 >"$T/out" 2>"$T/err" || rc=$?
[ "$rc" -ne 0 ] && [ ! -s "$T/out" ] || fail "a certificate for broker.example was accepted for 127.0.0.1"
pass "no client certificate refused; certificate for another host name refused"

# ---- mqotad and the fleet over TLS with client certificates; update 2023 -> 2024 ----
rc=0; "$MQOTAD" --data "$T/x" --broker "mqtts://127.0.0.1:$PORT" 2>"$T/err" || rc=$?
[ "$rc" -eq 2 ] && grep -q -- "--ca" "$T/err" || fail "mqtts:// without --ca should exit 2: $(cat "$T/err")"
rc=0; "$FLEET" --broker "mqtts://127.0.0.1:$PORT" --data "$T/x" 2>"$T/err" || rc=$?
[ "$rc" -eq 2 ] && grep -q -- "--ca" "$T/err" || fail "fleet mqtts:// without --ca should exit 2: $(cat "$T/err")"
start_mqotad --broker "mqtts://127.0.0.1:$PORT" --ca "$P/ca.crt" --cert "$P/mqotad.crt" --key "$P/mqotad.key"
wait_for 20 sh -c "curl -sf '$HTTP_URL/api/v1/health' | jq -e .mqtt_connected" ||
  fail "mqotad did not connect to the TLS broker"
"$FLEET" --broker "mqtts://127.0.0.1:$PORT" --ca "$P/ca.crt" --cert-dir "$T/certs" --count 2 \
  --data "$T/fleet" --image "$FROM" --status-interval 2 >>"$T/fleet.log" 2>&1 &
FLEET_PID=$!
wait_online 2 60
add_release "$TO"; deploy_all "$RELEASE_ID"; dep=$DEPLOYMENT_ID
watch "$dep" 180 || fail "deployment $dep over TLS did not finish (see watch.log)"
devs=$(mq --json device list) || fail "device list failed"
check_json "not both devices run $EXPECT after the update over TLS" "$devs" \
  '[.[] | select(.version == $v and .state == "confirmed")] | length == 2' --arg v "$EXPECT"
grep -q "as vdev-0001 .*u'vdev-0001'" "$T/ext-mosquitto.log" || fail "vdev-0001 did not log in with its certificate"
pass "external TLS broker: 2 devices updated to $EXPECT with client certificates"
stop_pid "$FLEET_PID"; FLEET_PID=""
stop_pid "$MQOTAD_PID"; MQOTAD_PID=""
stop_pid "$BROKER_PID"; BROKER_PID=""

# ---- mqotad --broker-tls: private CA, TLS-only embedded broker ----
rm -rf "$T/server" "$T/fleet" "$T/creds"
start_mqotad --broker-tls
[[ "$BROKER_URL" == mqtts://127.0.0.1:* ]] || fail "broker.url should be mqtts://127.0.0.1:PORT, is $BROKER_URL"
for f in ca.crt ca.key server.crt server.key; do [ -s "$T/server/tls/$f" ] || fail "no $f in DATA/tls"; done
[ "$(stat -c %a "$T/server/tls/server.key")" = 600 ] && [ "$(stat -c %a "$T/server/tls/ca.key")" = 600 ] ||
  fail "the broker's private keys should be mode 0600"
openssl verify -CAfile "$T/server/tls/ca.crt" "$T/server/tls/server.crt" >/dev/null ||
  fail "server.crt does not verify against ca.crt"
openssl x509 -in "$T/server/tls/server.crt" -noout -ext subjectAltName | grep -q "IP Address:127.0.0.1, DNS:localhost" ||
  fail "server.crt lacks the SAN IP 127.0.0.1, DNS localhost"
openssl x509 -in "$T/server/tls/server.crt" -noout -text | grep -q "ASN1 OID: prime256v1" ||
  fail "server.crt is not a P-256 key"
EPORT=${BROKER_URL##*:}
rc=0; timeout 10 mosquitto_sub -h 127.0.0.1 -p "$EPORT" -u mqotad -P "$(cat "$T/server/auth/mqotad.pass")" \
  -t mqota/v1/dev/x/state -C 1 -W 3 >"$T/out" 2>"$T/err" || rc=$?
[ "$rc" -ne 0 ] && [ ! -s "$T/out" ] || fail "plain MQTT reached the embedded TLS broker"
rc=0; timeout 10 mosquitto_sub -h 127.0.0.1 -p "$EPORT" --cafile "$P/wrong.crt" -u mqotad \
  -P "$(cat "$T/server/auth/mqotad.pass")" -t mqota/v1/dev/x/state -C 1 -W 3 >"$T/out" 2>&1 || rc=$?
[ "$rc" -ne 0 ] || fail "a client trusting another CA reached the embedded TLS broker"
pass "embedded TLS broker on $BROKER_URL: plain TCP and a wrong CA refused"

start_fleet --count 2 --image "$FROM"
grep -q -- "--ca $T/server/tls/ca.crt" <(fleet_auth) || fail "fleet_auth should pass the CA"
wait_online 2 60
add_release "$TO"; deploy_all "$RELEASE_ID"; dep=$DEPLOYMENT_ID
watch "$dep" 180 || fail "deployment $dep over the embedded TLS broker did not finish"
devs=$(mq --json device list) || fail "device list failed"
check_json "not both devices run $EXPECT after the update over the embedded TLS broker" "$devs" \
  '[.[] | select(.version == $v and .state == "confirmed")] | length == 2' --arg v "$EXPECT"
pass "--broker-tls: 2 devices updated to $EXPECT"

# a restart keeps the CA (clients keep trusting it) and the port
ca_before=$(sha256sum <"$T/server/tls/ca.crt")
stop_pid "$FLEET_PID"; FLEET_PID=""
stop_pid "$MQOTAD_PID"; MQOTAD_PID=""
start_mqotad --broker-tls
[ "$(sha256sum <"$T/server/tls/ca.crt")" = "$ca_before" ] || fail "the CA changed across a restart"
passed
