# SPDX-License-Identifier: Apache-2.0
# The application the MicroPython tests run on the unix port (run_device.sh starts it after
# every virtual boot): the unchanged agent from ports/micropython, configured from the
# environment. MQOTA_UPY_CRED: the device's credentials file (mqotad device provision);
# MQOTA_UPY_HOST / MQOTA_UPY_PORT: the broker (or a link emulator in front of it);
# MQOTA_UPY_DIR: the device's filesystem (its records go to DIR/mqota). The self-test fails
# while DIR/selftest.fail exists. MQOTA_UPY_TELEMETRY=1: publish a reading every second.
# MQOTA_UPY_TRUST_KEY: the release public key in hex (x then y); with it signatures are
# required. MQOTA_UPY_HEAP=1: after every poll, collect and print each new peak of the live
# heap (gc.mem_alloc()) as "heap: base=B idle=I peak=P" (bench/micropython/run.sh): B before
# the agent is imported, I once it is connected, P the highest seen since.
# MQOTA_UPY_COMMANDS=1: take sealed commands with the credentials' command_key; the
# application command "relay" takes "on" or "off" and answers "relay=on" / "relay=off".
# MQOTA_UPY_CONFIRM_BY_COMMAND=1 (with MQOTA_UPY_COMMANDS=1): a new image waits for the
# server's confirm or rollback command.
# File releases (section 17) land in DIR, the application's directory: as boot.py would,
# mqota.files.recover() runs first, then DIR/main.py (if any) is run as the application and
# prints "app: main.py version V" (its VERSION) and reports it once connected as the telemetry
# sample "app_version"; its self_test(), if it defines one, is part of the self-test. While DIR/swap.stall holds N, the N-th rename of a swap removes that file and
# stops the interpreter there for ever (the test kills it: a power cut in the middle of a swap).
# DIR/offline.once: the first boot with a file update's journal connects to a dead port (the
# device cannot reach the broker) and removes the file. MQOTA_UPY_CONFIRM_TIMEOUT_MS: the
# agent's confirm_timeout_ms.
import binascii
import gc
import os
import time

heap = os.getenv("MQOTA_UPY_HEAP") == "1"
gc.collect()
base = gc.mem_alloc()
import mqota  # noqa: E402

d = os.getenv("MQOTA_UPY_DIR")
cred = {}
with open(os.getenv("MQOTA_UPY_CRED")) as f:
    for line in f:
        if "=" in line and not line.startswith("#"):
            k, v = line.strip().split("=", 1)
            cred[k] = v


def stall_at(n):
    try:
        with open(d + "/swap.stall") as f:
            at = int(f.read())
    except (OSError, ValueError):
        return
    if n == at:
        os.remove(d + "/swap.stall")
        print("files: stalled after rename %d" % n)
        while True:
            time.sleep(1)




def exists(p):
    try:
        os.stat(p)
        return True
    except OSError:
        return False


# as boot.py does: files.py only when a swap or a restore may be pending (or a test stalls one)
if exists(d + "/swap.stall"):
    import mqota.files

    mqota.files.after_rename = stall_at
if exists(d + "/mqota/journal"):
    import mqota.files

    mqota.files.recover(d, d + "/mqota")
    if not exists(d + "/swap.stall"):
        mqota.files.unload()
        gc.collect()
app = {}
try:
    with open(d + "/main.py") as f:
        src = f.read()
except OSError:
    src = None
if src is not None:
    exec(src, app)
    print("app: main.py version %s" % app.get("VERSION"))


def self_test():
    try:
        os.stat(d + "/selftest.fail")
        return False
    except OSError:
        pass
    return app["self_test"]() if "self_test" in app else True


relay = ["off"]


def on_command(name, args):
    if name != b"relay":
        return None
    if args not in (b"on", b"off"):
        raise ValueError("relay takes on or off")
    relay[0] = args.decode()
    return b"relay=" + args


ckey = None
if os.getenv("MQOTA_UPY_COMMANDS") == "1":
    ckey = binascii.unhexlify(cred["command_key"])
key = os.getenv("MQOTA_UPY_TRUST_KEY")
key = binascii.unhexlify(key) if key else None
port = int(os.getenv("MQOTA_UPY_PORT"))
if exists(d + "/offline.once") and exists(d + "/mqota/journal"):
    os.remove(d + "/offline.once")  # this boot of a file update cannot reach the broker
    port = 9
    print("app: no broker this boot")
agent = mqota.Agent(cred["username"], os.getenv("MQOTA_UPY_HOST"), port,
                    user=cred["username"], password=cred["password"], store_dir=d + "/mqota",
                    chip_id=int(os.getenv("MQOTA_UPY_CHIP") or "0"), self_test=self_test,
                    trust_key=key, require_signature=key is not None, command_key=ckey,
                    command_handler=on_command,
                    confirm_by_command=os.getenv("MQOTA_UPY_CONFIRM_BY_COMMAND") == "1",
                    files_root=d,
                    confirm_timeout_ms=int(os.getenv("MQOTA_UPY_CONFIRM_TIMEOUT_MS") or "60000"))
telemetry = os.getenv("MQOTA_UPY_TELEMETRY") == "1"
last = time.ticks_ms()
n = 0
idle = peak = 0
app_version = app.get("VERSION")  # reported once as telemetry "app_version" when connected
while True:
    agent.poll(100)
    if isinstance(app_version, int) and agent.connected():
        if agent.publish_telemetry([(b"app_version", app_version)]):
            app_version = None
    if heap:
        gc.collect()
        a = gc.mem_alloc()
        if not idle and agent.connected():
            idle = peak = a
            print("heap: base=%d idle=%d peak=%d" % (base, idle, peak))
        elif idle and a > peak:
            peak = a
            print("heap: base=%d idle=%d peak=%d" % (base, idle, peak))
    if telemetry and time.ticks_diff(time.ticks_ms(), last) >= 1000 and agent.connected():
        last = time.ticks_ms()
        n += 1
        agent.publish_telemetry([(b"temperature", 20.0 + n % 5), (b"count", n)])
