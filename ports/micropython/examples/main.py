# SPDX-License-Identifier: Apache-2.0
# A DHT22 sensor node with a relay, updated by mqota (docs/MICROPYTHON.md).
#   - Wi-Fi, then the mqota agent with this device's credentials (mqotad device provision)
#   - every 30 s: temperature and humidity as mqota telemetry (mqotad stores the series)
#   - the relay on GPIO 5 follows "on" / "off" published on home/<id>/relay/set (a topic of the
#     application: the broker's ACL must let this device read it; mqotad's embedded broker
#     allows only mqota's own topics, see docs/MICROPYTHON.md "Application commands")
#   - after an update the self-test reads the sensor once: an image that cannot is rolled back
# Copy to the board with mqota/ and umqtt/ (mpremote cp -r ...), and config.py holding
# WIFI_SSID, WIFI_PASSWORD, DEVICE_ID, PASSWORD, BROKER (host), PORT.
import time

import dht
import machine
import network

import config
import mqota

sensor = dht.DHT22(machine.Pin(4))
relay = machine.Pin(5, machine.Pin.OUT, value=0)


def wifi_up():
    # Connect and wait up to 20 s; the agent itself reconnects MQTT after a Wi-Fi loss.
    wlan = network.WLAN(network.STA_IF)
    wlan.active(True)
    if not wlan.isconnected():
        wlan.connect(config.WIFI_SSID, config.WIFI_PASSWORD)
        t0 = time.ticks_ms()
        while not wlan.isconnected() and time.ticks_diff(time.ticks_ms(), t0) < 20000:
            time.sleep_ms(200)
    return wlan


def self_test():
    # The new image must still read its sensor (and has reached the broker to be asked).
    sensor.measure()
    return -40 <= sensor.temperature() <= 80


def on_relay(topic, payload):
    if payload == b"on":
        relay.value(1)
    elif payload == b"off":
        relay.value(0)


wlan = wifi_up()
agent = mqota.Agent(config.DEVICE_ID, config.BROKER, config.PORT, user=config.DEVICE_ID,
                    password=config.PASSWORD, store_dir="/mqota", self_test=self_test)
agent.subscribe("home/%s/relay/set" % config.DEVICE_ID, on_relay)
last = time.ticks_add(time.ticks_ms(), -30000)
while True:
    if not wlan.isconnected():
        wlan = wifi_up()
    agent.poll(100)
    # no sensor reading while an update is written: the chunks have the loop to themselves
    if time.ticks_diff(time.ticks_ms(), last) >= 30000 and not agent.busy():
        last = time.ticks_ms()
        try:
            sensor.measure()
            agent.publish_telemetry([(b"temperature", sensor.temperature()),
                                     (b"humidity", sensor.humidity()),
                                     (b"relay", relay.value())])
        except OSError:
            pass  # the DHT22 missed a reading; the next one comes in 30 s
