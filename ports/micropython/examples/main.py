# SPDX-License-Identifier: Apache-2.0
# A DHT22 sensor node with a relay, updated by mqota (docs/MICROPYTHON.md).
#   - Wi-Fi, then the mqota agent with this device's credentials (mqotad device provision)
#   - every 30 s: temperature and humidity as mqota telemetry (mqotad stores the series)
#   - the relay on GPIO 5: the sealed command "relay" with "on" or "off"
#     ('mqota device command node-1 relay --arg on'), authenticated and encrypted with the
#     device's command key (docs/PROTOCOL.md section 14)
#   - after an update the self-test reads the sensor once: an image that cannot is rolled back
# Copy to the board with mqota/ and umqtt/ (mpremote cp -r ...), and config.py holding
# WIFI_SSID, WIFI_PASSWORD, DEVICE_ID, PASSWORD, COMMAND_KEY (the 64 hex digits of the
# credentials file), BROKER (host), PORT.
import binascii
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


def on_command(name, args):
    # application commands: the reply body for ok, None for unknown-command, raise for failed
    if name != b"relay":
        return None
    if args not in (b"on", b"off"):
        raise ValueError("relay takes on or off")
    relay.value(args == b"on")
    return b"relay=" + args


wlan = wifi_up()
agent = mqota.Agent(config.DEVICE_ID, config.BROKER, config.PORT, user=config.DEVICE_ID,
                    password=config.PASSWORD, store_dir="/mqota", self_test=self_test,
                    command_key=binascii.unhexlify(config.COMMAND_KEY),
                    command_handler=on_command)
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
