# SPDX-License-Identifier: Apache-2.0
# The mqota agent for MicroPython (docs/MICROPYTHON.md): protocol v1 (docs/PROTOCOL.md) on
# umqtt.simple, writing the update slot through esp32.Partition.
#
# The application owns the loop: it calls Agent.poll() often (every 100 ms or so); poll() keeps
# the MQTT session (reconnect with backoff, re-subscribe, keepalive), reads what arrived, writes
# chunks, acknowledges, verifies, switches the boot slot and resets. After the reset the new
# image runs the application's self-test once it reaches the broker and confirms, or rolls
# back to the previous slot.
#
# Memory: one receive buffer (a CHUNK header + 4096 bytes) holds every message; the chunk
# bitmap, the erase bitmap and the STATE/ACK/TELEMETRY buffers are allocated once in the
# constructor. Messages never publish QoS 1 from inside the receive path (umqtt.simple waits for
# a PUBACK by reading messages, and a nested wait would lose the outer PUBACK): the receive path
# only records what is to be done, and poll() does it.
import os
import select
import struct
import time
from binascii import crc32

import esp32
import machine
from umqtt.simple import MQTTClient, MQTTException

from . import proto as P
from .image import Check, app_desc
from .store import BOOT, BOOTS, MINSV, PROG, SLOT, Store

BLOCK = 4096  # flash erase sector and esp32.Partition block size
MAX_CHUNK = 4096  # largest chunk accepted: umqtt.simple reads a whole message into RAM
CHUNK_MIN = 256  # MQOTA_CHUNK_MIN
MAX_CHUNKS = 4096  # chunks per image the bitmap holds (section 10)
MAX_WINDOW = 64  # section 10: the effective window is at most 64
ACK_RETRY_MS = 2000  # MQOTA_ACK_RETRY_MS: silence before an ACK with REQUEST
KEEPALIVE_S = 30  # MQTT keepalive; a PINGREQ goes out after half of it without traffic
IO_TIMEOUT_S = 10  # a socket read or write that blocks longer is a dead link
BACKOFF_MIN_MS = 500  # first reconnection delay; doubles per failure
BACKOFF_MAX_MS = 30000  # reconnection delay cap
CONFIRM_TIMEOUT_MS = 60000  # MQOTA_CONFIRM_TIMEOUT_MS: pending-verify without the broker
TOPIC_MAX = 96  # longest topic kept (longer ones are dropped)
R_COMMAND = 17  # rolled back by the rollback command
R_SIGNATURE = 14
R_UNSIGNED = 15
R_SECURITY_VERSION = 16
SIG_BLOCK_LEN = 80  # section 5.1: release_uid, r, s
CMD_RECORD_LEN = 36  # the mq.cmd record (section 14.4)
CMD_RECORD_MAGIC = 0x4D514331  # "MQC1"
REFUSAL_REPORT_MS = 1000  # MQOTA_REFUSAL_REPORT_MS: one refusal report per second at most
OFFER_FLAG_FILES = 0x4  # MQOTA_OFFER_FLAG_FILES: a file release (section 17)
CAP_FILES = 0x40  # MQOTA_CAP_FILES
FILES_SLOT = 255  # the prog record's slot for a file release's bundle
MASK64 = (1 << 64) - 1


def _log(msg):
    print("mqota:", msg)


def _chip_from_platform():
    # esp_chip_id_t of the board, from MicroPython's machine string ("... with ESP32C3").
    import sys

    m = sys.implementation._machine
    for name, cid in (("ESP32C3", 5), ("ESP32C6", 13), ("ESP32S3", 9), ("ESP32S2", 2),
                      ("ESP32C2", 12), ("ESP32H2", 16), ("ESP32P4", 18), ("ESP32", 0)):
        if name in m:
            return cid
    raise ValueError("mqota: cannot tell the chip from %r; give chip_id" % m)


class _Client(MQTTClient):
    # umqtt.simple with its receive path replaced: messages are read into the agent's
    # preallocated buffers instead of a new bytes object per message, a read that stalls
    # raises after IO_TIMEOUT_S instead of blocking for ever, and every received packet
    # (PINGRESP included) counts as a sign of life.
    def __init__(self, agent, *args, **kw):
        super().__init__(*args, **kw)
        self.agent = agent

    def _readinto(self, mv):
        got = 0
        n = len(mv)
        while got < n:
            k = self.sock.readinto(mv[got:])
            if not k:
                raise OSError(-1)  # closed (or timed out in non-blocking mode)
            got += k

    def wait_msg(self):
        a = self.agent
        res = self.sock.read(1)
        if res is None:
            return None
        self.sock.settimeout(IO_TIMEOUT_S)
        if res == b"":
            raise OSError(-1)
        a._rx_ms = time.ticks_ms()
        if res == b"\xd0":  # PINGRESP
            self.sock.read(1)
            return None
        op = res[0]
        if op & 0xF0 != 0x30:
            return op
        sz = self._recv_len()
        hb = a._hdr
        self._readinto(a._hdr_mv)
        tl = hb[0] << 8 | hb[1]
        sz -= tl + 2
        if tl <= TOPIC_MAX:
            self._readinto(a._topic_mv[:tl])
        else:
            a._drain(self, tl)
            tl = -1
        pid = 0
        if op & 6:
            self._readinto(a._hdr_mv)
            pid = hb[0] << 8 | hb[1]
            sz -= 2
        if 0 <= tl and sz <= len(a._rx):
            self._readinto(a._rx_mv[:sz])
            a._dispatch(tl, sz)
        else:
            a._drain(self, sz)  # too big for any mqota message: dropped
        if op & 6 == 2:
            pb = a._puback
            pb[2] = pid >> 8
            pb[3] = pid & 0xFF
            self.sock.write(pb)
        return op


class Agent:
    """One device's agent.

    device_id, server, port, user, password: the MQTT identity (mqotad device provision).
    store_dir: directory for the persistent records (section 12.2), e.g. "/mqota".
    chip_id: esp_chip_id_t of the board; None reads it from sys.implementation._machine.
    self_test: function of no argument run once the new image reaches the broker; True (or
      no function) confirms the image, False or an exception rolls it back.
    max_window: chunks accepted in flight (1..64); prefix: topic prefix.
    trust_key: the release public key (64 bytes: x then y of the P-256 point, the last 64
      bytes of 'openssl ec -pubin -in KEY.pub.pem -outform DER'); signed offers are verified
      with it (section 5.1). None: every offer is judged as unsigned.
    require_signature: refuse unsigned offers (reason unsigned); needs trust_key.
    command_key: the device's 32-byte command key (the credentials file's command_key, from
      hex): the agent then takes sealed commands (section 14) and advertises it.
    command_handler: function (name bytes, args bytes) for application commands: returns the
      reply body (bytes) for ok, None for unknown-command, raises for failed (the exception's
      text is the body). It runs in the receive path: it must not publish with QoS 1.
    confirm_by_command: after its self-test passes a new image stays pending-verify until the
      server's confirm or rollback command (needs command_key), or until confirm_timeout_ms
      from the boot: then it rolls back (confirm-timeout).
    files_root: the application's directory, where file releases (section 17) put their files
      ("/" on a board, the default); None: the agent takes images only (no MQOTA_CAP_FILES).
      It must be on the filesystem of store_dir (the files are renamed, never copied).
    """

    def __init__(self, device_id, server, port=1883, user=None, password=None,
                 store_dir="/mqota", chip_id=None, self_test=None, max_window=16,
                 prefix="mqota/v1", keepalive=KEEPALIVE_S, log=_log, trust_key=None,
                 require_signature=False, command_key=None, command_handler=None,
                 confirm_by_command=False, confirm_timeout_ms=CONFIRM_TIMEOUT_MS,
                 files_root="/"):
        if confirm_by_command and command_key is None:
            raise ValueError("mqota: confirm_by_command needs command_key")
        self.confirm_by_command = confirm_by_command
        self.confirm_timeout_ms = confirm_timeout_ms
        self._awaiting_confirm = False  # self-test passed, waiting for the confirm command
        self._rollback_after_reply = 0  # reason to roll back with once the replies are out
        if require_signature and trust_key is None:
            raise ValueError("mqota: require_signature needs trust_key")
        if trust_key is not None and len(trust_key) != 64:
            raise ValueError("mqota: trust_key is 64 bytes (x then y)")
        self.trust_key = trust_key
        self.require_signature = require_signature
        self.command_handler = command_handler
        self._key = None
        if command_key is not None:
            from .gcm import Key

            self._key = Key(command_key)
        self.id = device_id
        self.server = server
        self.port = port
        self.user = user
        self.password = password
        self.keepalive = keepalive
        self.log = log
        self.self_test = self_test
        self.chip = _chip_from_platform() if chip_id is None else chip_id
        self.max_window = max(1, min(MAX_WINDOW, max_window))
        self.store = Store(store_dir)
        # files.py is imported only when a file update needs it (a journal at boot, a file
        # offer): an agent that never takes one does not hold its code in RAM
        self._files_root = files_root
        self._files = None
        self._files_rec = None  # the journal of a file update booted pending-verify
        self._forget_files_after_publish = False
        base = "%s/dev/%s/" % (prefix, device_id)
        self.t_state = base + "state"
        self.t_online = base + "online"
        self.t_ack = base + "ack"
        self.t_telemetry = base + "telemetry"
        self.t_offer = (base + "offer").encode()
        self.t_chunk = (base + "chunk").encode()
        self.t_cmd = (base + "cmd").encode()
        self.t_reply = base + "reply"
        self._id_bytes = device_id.encode()
        self._replies = []  # sealed REPLY frames to publish from poll()
        self._reboot_after_reply = False
        self.cmd_accepted = self.cmd_refused = 0
        self._refusal_ms = None
        self.prefix = prefix
        self.t_stream = b""
        self._sub_stream = False  # subscribe to t_stream at the next _work()
        self._unsub_stream = b""  # a stream topic to leave at the next _work()
        self.app_subs = []  # (topic bytes, qos, handler)
        # preallocated buffers
        self._rx = bytearray(P.CHUNK_HDR_LEN + MAX_CHUNK)
        self._rx_mv = memoryview(self._rx)
        self._topic = bytearray(TOPIC_MAX)
        self._topic_mv = memoryview(self._topic)
        self._hdr = bytearray(2)
        self._hdr_mv = memoryview(self._hdr)
        self._puback = bytearray(b"\x40\x02\0\0")
        self._state_buf = bytearray(P.STATE_MAX_LEN)
        self._ack_buf = bytearray(P.ACK_LEN)
        self._tel_buf = bytearray(P.TELEMETRY_MAX_LEN)
        self._bitmap = bytearray(MAX_CHUNKS // 8)
        self._erased = bytearray(64)  # one bit per 4 KiB block: slots up to 2 MiB
        self._drain_buf = self._rx_mv  # drained bytes land in the receive buffer
        # MQTT session
        self.c = None
        self._poller = None
        self._backoff = BACKOFF_MIN_MS
        self._next_try = time.ticks_ms()
        self._rx_ms = self._tx_ms = time.ticks_ms()
        self.reconnects = 0
        # device state
        self.state = P.IDLE
        self.reason = P.R_NONE
        self.target = 0
        self._dirty = True
        self._reset_due = False
        self._boot_rec = None
        self._erase_boot_after_publish = False
        self._self_test_due = False
        self._t = None  # transfer in progress: see _accept()
        self._cur = None  # (release, deployment) of the offer being judged or transferred
        self._refused = None  # (release, deployment) that failed or rolled back
        self._boot()

    # ---- boot -------------------------------------------------------------------------------

    def _boot(self):
        # Read what runs and what the records say about the last update (section 12's "after a
        # boot the agent decides").
        self.running = esp32.Partition(esp32.Partition.RUNNING)
        label = self.running.info()[4]
        self.slot = 1 if label == "ota_1" else 0
        self.next = self.running.get_next_update()
        head = self._rx_mv[:BLOCK]
        self.running.readblocks(0, head)
        d = app_desc(head[:288])
        self.desc = d or (self.chip, 0, b"", b"", b"")
        self.next.readblocks(0, head)
        self.rollback_possible = app_desc(head[:288]) is not None
        boots = self.store.get(BOOTS)
        self.boot_count = (boots[0] if boots else 0) + 1
        try:
            self.store.put(BOOTS, (self.boot_count,))
        except OSError:
            pass  # a boot count is not worth refusing to run
        self._load_running_release()
        self._load_cmd_record()
        m = self.store.get(MINSV)
        self.min_sv = m[0] if m else 0
        b = self.store.get(BOOT)
        self._boot_ms = time.ticks_ms()
        if self._files_root is not None and b is None and self._exists(self.store.root + "/journal"):
            # a file update in progress (boot.py may have run recover() already)
            self._boot_files(self._fm().recover(self._files_root, self.store.root))
        if b is not None:
            rel, dep, frm, to, why, sv = b
            self._boot_rec = b
            self.target = rel
            if self.slot == to:
                self.state = P.PENDING_VERIFY
                self._self_test_due = True
                self.log("booted release %d from slot %d: pending-verify" % (rel, to))
            elif self.slot == frm:
                self._refused = (rel, dep)
                self.state = P.ROLLED_BACK
                self.reason = why or P.R_RESET
                self._erase_boot_after_publish = True
                # _rollback() selected this slot again (a new otadata entry): it is the image
                # known to work, so it is valid, or the next reset would abort it
                esp32.Partition.mark_app_valid_cancel_rollback()
                self.log("back in slot %d after release %d: rolled-back, reason %d"
                         % (frm, rel, self.reason))

    @staticmethod
    def _exists(path):
        try:
            os.stat(path)
            return True
        except OSError:
            return False

    def _fm(self):
        from . import files

        return files

    def _f(self):
        # the file releases of files_root (files.py), made on first use
        if self._files is None:
            self._files = self._fm().Files(self._files_root, self.store.root)
        return self._files

    def _boot_files(self, j):
        # A file update's journal after the boot's recover() (files.py): the new set runs
        # pending-verify (BOOTED), or the old set is back (RESTORED) and reports rolled-back.
        if j is None:
            return
        phase, why, rel, dep, version = j
        self.target = rel
        F = self._fm()
        if phase == F.BOOTED:
            self._files_rec = j
            self.state = P.PENDING_VERIFY
            self._self_test_due = True
            self.log("booted file release %d: pending-verify" % rel)
        elif phase == F.RESTORED:
            self._refused = (rel, dep)
            self.state = P.ROLLED_BACK
            self.reason = why or P.R_RESET
            self._forget_files_after_publish = True
            self.log("old files back after file release %d: rolled-back, reason %d"
                     % (rel, self.reason))

    def _load_running_release(self):
        s = self.store.get(SLOT, "slot%d" % self.slot)
        if s is None:
            self.running_release, self.release_version = 0, b""
        else:
            v = s[1]
            i = v.find(b"\0")
            self.running_release, self.release_version = s[0], v if i < 0 else v[:i]

    # ---- application API ----------------------------------------------------------------------

    def subscribe(self, topic, handler, qos=0):
        """Call handler(topic, payload) for each message on `topic` (bytes or str, a topic of the
        application's own; the broker's ACL must allow it). Subscribed again after every
        reconnection."""
        t = topic.encode() if isinstance(topic, str) else topic
        self.app_subs.append((t, qos, handler))
        if self.c is not None:
            try:
                self.c.subscribe(t, qos)
            except OSError as e:
                self._drop(e)

    def publish(self, topic, payload, retain=False, qos=0):
        """Publish an application message; False if not connected (nothing is queued)."""
        if self.c is None:
            return False
        try:
            self.c.publish(topic, payload, retain, qos)
            self._tx_ms = time.ticks_ms()
            return True
        except OSError as e:
            self._drop(e)
            return False

    def publish_telemetry(self, samples):
        """Publish TELEMETRY (section 15): samples is a list of (name bytes, number), 1..16 of
        them. False if not connected; ValueError for a bad name, value or count."""
        n = P.pack_telemetry(self._tel_buf, time.ticks_diff(time.ticks_ms(), self._boot_ms),
                             samples)
        return self.publish(self.t_telemetry, memoryview(self._tel_buf)[:n])

    def connected(self):
        return self.c is not None

    def busy(self):
        """True while an update is being received, verified or about to reset."""
        return self._t is not None or self.state in (P.VERIFYING, P.READY_TO_REBOOT)

    def poll(self, timeout_ms=100):
        """Do the agent's work: connect if it is time to, read what arrived (waiting up to
        timeout_ms for it), acknowledge, verify, publish STATE, keep the session alive. Never
        raises for a network error (it reconnects); may reset the board (machine.reset())."""
        if self.c is None:
            if not self._connect():
                if self.state == P.PENDING_VERIFY and time.ticks_diff(
                        time.ticks_ms(), self._boot_ms) > self.confirm_timeout_ms:
                    self._rollback(P.R_CONFIRM_TIMEOUT)
                time.sleep_ms(min(timeout_ms, max(0, time.ticks_diff(self._next_try, time.ticks_ms()))))
                return
        try:
            self._pump(timeout_ms)
            self._work()
        except (OSError, IndexError, AssertionError, MQTTException) as e:
            # IndexError/AssertionError: umqtt.simple reading a packet cut short by a closed
            # connection; MQTTException: the broker refused a subscription
            self._drop(e)
        if self._reset_due:
            self.log("resetting")
            time.sleep_ms(100)
            machine.reset()

    # ---- MQTT session -------------------------------------------------------------------------

    def _connect(self):
        now = time.ticks_ms()
        if time.ticks_diff(now, self._next_try) < 0:
            return False
        c = _Client(self, self.id, self.server, self.port, self.user, self.password,
                    self.keepalive)
        c.set_callback(lambda t, m: None)  # umqtt asserts one is set; _dispatch does the work
        c.set_last_will(self.t_online, b"offline", True, 1)
        try:
            c.connect(timeout=IO_TIMEOUT_S)
            c.sock.settimeout(IO_TIMEOUT_S)
            self.c = c
            # cmd before the STATE: mqotad sends queued commands as soon as it sees the STATE,
            # and a command published before the subscription is lost (not retained). offer
            # after it (section 1's order): mqotad clears a retained offer the STATE answers
            # (rolled-back, failed), which must not be taken again in between.
            if self._key is not None:
                c.subscribe(self.t_cmd, 1)
            c.publish(self.t_online, b"online", True, 1)
            self._publish_state()
            c.subscribe(self.t_offer, 1)
            c.subscribe(self.t_chunk, 0)
            if self.t_stream:
                c.subscribe(self.t_stream, 0)
            for t, q, _ in self.app_subs:
                c.subscribe(t, q)
        except (OSError, IndexError, AssertionError, MQTTException) as e:
            # as in poll(); MQTTException also for a refused CONNECT (bad credentials)
            self.c = c
            self._drop(e)
            return False
        self._poller = select.poll()
        self._poller.register(c.sock, select.POLLIN)
        self._backoff = BACKOFF_MIN_MS
        self._rx_ms = self._tx_ms = time.ticks_ms()
        self.log("connected to %s:%d" % (self.server, self.port))
        if self._t is not None:
            self._t["request"] = True  # section 10: after every reconnection, REQUEST
        return True

    def _drop(self, err):
        # The session is dead: close it and schedule the next attempt after the backoff
        # (doubling, capped, with up to a quarter of jitter so a fleet does not reconnect at once).
        if self.c is not None:
            self.log("connection lost (%r); next attempt in %d ms" % (err, self._backoff))
            try:
                self.c.sock.close()
            except Exception:
                pass
            self.reconnects += 1
        self.c = None
        self._poller = None
        import random

        self._next_try = time.ticks_add(time.ticks_ms(),
                                        self._backoff + random.getrandbits(16) % (self._backoff // 4 + 1))
        self._backoff = min(self._backoff * 2, BACKOFF_MAX_MS)

    def _drain(self, client, n):
        while n > 0:
            k = min(n, len(self._drain_buf))
            client._readinto(self._drain_buf[:k])
            n -= k

    def _pump(self, timeout_ms):
        # Read every message that is there (at most a few windows' worth per call, so the
        # loop keeps acknowledging), waiting up to timeout_ms for the first.
        ev = self._poller.poll(timeout_ms)
        if not ev:
            return
        for _ in range(2 * MAX_WINDOW):
            if self.c.check_msg() is None:
                break

    def _topic_is(self, tl, t):
        if len(t) != tl:
            return False
        b = self._topic
        for i in range(tl - 1, -1, -1):
            if b[i] != t[i]:
                return False
        return True

    def _dispatch(self, tl, n):
        # One received PUBLISH: topic in self._topic[:tl], payload in self._rx[:n]. A message
        # that breaks its handler is dropped with a line in the log; it never stops the agent.
        try:
            self._dispatch1(tl, n)
        except Exception as e:  # noqa: BLE001 (section 1: never crashes the receiver)
            self.log("message dropped: %r" % e)

    def _dispatch1(self, tl, n):
        if self._topic_is(tl, self.t_chunk) or (self.t_stream and self._topic_is(tl, self.t_stream)):
            self._on_chunk(n)
        elif self._topic_is(tl, self.t_offer):
            self._on_offer(n)
        elif self._key is not None and self._topic_is(tl, self.t_cmd):
            self._on_command(n)
        else:
            for t, _, h in self.app_subs:
                if self._topic_is(tl, t):
                    h(t, bytes(self._rx_mv[:n]))

    # ---- state --------------------------------------------------------------------------------

    def _set(self, state, reason=P.R_NONE):
        self.state = state
        self.reason = reason
        self._dirty = True

    def _fail(self, reason):
        self.log("update failed: reason %d" % reason)
        self._refused = self._cur
        self._end_transfer()
        self.store.erase(PROG)
        self._set(P.FAILED, reason)

    def _publish_state(self):
        t = self._t
        progress = 0 if t is None else t["base"] * t["chunk"]
        size = 0 if t is None else t["size"]
        caps = P.CAP_RESUME | P.CAP_SACK | P.CAP_ROLLBACK | (P.CAP_COMMANDS if self._key else 0) \
            | (CAP_FILES if self._files_root is not None else 0)
        flags = P.STATE_FLAG_ROLLBACK_POSSIBLE if self.rollback_possible else 0
        chip, _, version, project, idf = self.desc
        n = P.pack_state(self._state_buf, (
            self.state, self.reason, self.slot, flags, chip, self.max_window, MAX_CHUNK, caps,
            self.running_release, self.target, progress, size, self.boot_count,
            project, version, idf, self.release_version))
        self.c.publish(self.t_state, memoryview(self._state_buf)[:n], True, 1)
        self._tx_ms = time.ticks_ms()
        self._dirty = False
        if self._erase_boot_after_publish:
            self._erase_boot_after_publish = False
            self.store.erase(BOOT)
        if self._forget_files_after_publish:
            self._forget_files_after_publish = False
            self._f().forget()

    def _work(self):
        # What the receive path left to do, in order: the self-test after an update's reboot,
        # the verification of a complete image, the STATE, the ACK, the keepalive.
        now = time.ticks_ms()
        if self._self_test_due:
            self._self_test_due = False
            self._confirm_or_rollback()
        t = self._t
        if t is not None and t["base"] == t["count"]:
            self._send_ack(t)  # COMPLETE: the server stops sending
            if t["f"] is not None:
                self._verify_files(t)
            else:
                self._verify(t)
        if self._dirty and self.c is not None:
            self._publish_state()
        while self._replies:
            self.c.publish(self.t_reply, self._replies[0], False, 1)
            self._replies.pop(0)
        if self._reboot_after_reply:
            self._reset_due = True
        if self._rollback_after_reply:
            why, self._rollback_after_reply = self._rollback_after_reply, 0
            self._rollback(why)
        elif self._awaiting_confirm and time.ticks_diff(now, self._boot_ms) > self.confirm_timeout_ms:
            self._awaiting_confirm = False
            self._rollback(P.R_CONFIRM_TIMEOUT)
        if self._unsub_stream:
            t, self._unsub_stream = self._unsub_stream, b""
            self.c.unsubscribe(t)
        if self._sub_stream:
            self._sub_stream = False
            self.c.subscribe(self.t_stream, 0)
        t = self._t
        if t is not None:
            if t["due"] or t["request"]:
                self._send_ack(t)
            elif time.ticks_diff(now, t["rx"]) > ACK_RETRY_MS and \
                    time.ticks_diff(now, t["acked"]) > ACK_RETRY_MS:
                t["request"] = True
                self._send_ack(t)
        if time.ticks_diff(now, self._rx_ms) > self.keepalive * 1500:
            raise OSError(110)  # nothing from the broker, not even a PINGRESP: dead link
        if time.ticks_diff(now, self._tx_ms) > self.keepalive * 500:
            self.c.ping()
            self._tx_ms = now

    # ---- offer and transfer -------------------------------------------------------------------

    def _on_offer(self, n):
        if self.state in (P.VERIFYING, P.READY_TO_REBOOT, P.PENDING_VERIFY):
            return  # once the boot slot is switched only the new image's verdict counts
        if n == 0:
            if self._t is not None:
                self.log("offer cleared: transfer abandoned")
                self._end_transfer()
                self.store.erase(PROG)
                self._set(P.IDLE)
            return
        o = P.decode_offer(self._rx_mv, n)
        if o is None:
            self._cur = None
            self._fail(P.R_MALFORMED_OFFER)
            return
        rel, dep, size, chunk, win, chip, sv, flags, sha, version, project, sig = o
        t = self._t
        if t is not None and t["rel"] == rel and t["size"] == size and t["chunk"] == chunk \
                and t["sha"] == sha:
            return  # the offer in progress, redelivered after a reconnection
        if self.state in (P.FAILED, P.ROLLED_BACK) and self._refused == (rel, dep):
            return  # the offer that failed, retained: a new deployment is needed to try again
        if t is None:
            self._cur = (rel, dep)
        why = self._judge_trust(o)
        if why:
            # an offer that is not authentic has no authority to cancel a running transfer
            if t is None:
                self.target = rel
                self._fail(why)
            return
        self._cur = (rel, dep)
        self.target = rel
        if rel == self.running_release:
            self._end_transfer()
            self._set(P.CONFIRMED)
            return
        if sv < self.min_sv:
            self._fail(R_SECURITY_VERSION)
            return
        if flags & OFFER_FLAG_FILES:
            if self._files_root is None:
                self._fail(P.R_FILE_RELEASE)
                return
            if size == 0 or size > self._fm().MAX_BUNDLE or not self._room_for(size):
                self._fail(P.R_TOO_LARGE)
                return
        elif chip != self.chip:
            self._fail(P.R_CHIP_MISMATCH)
            return
        else:
            slot_size = self.next.info()[3]
            if size == 0 or size > slot_size or \
                    (slot_size + BLOCK - 1) // BLOCK > 8 * len(self._erased):
                self._fail(P.R_TOO_LARGE)
                return
        if chunk < CHUNK_MIN or chunk > MAX_CHUNK or chunk & (chunk - 1):
            self._fail(P.R_BAD_CHUNK_SIZE)
            return
        count = (size + chunk - 1) // chunk
        if count > MAX_CHUNKS:
            self._fail(P.R_TOO_MANY_CHUNKS)
            return
        self._accept(rel, dep, size, chunk, win, sv, flags, sha, version, count)

    def _room_for(self, size):
        # A file release needs the bundle and its files beside the old ones: twice its size
        # and a margin free on the filesystem (when statvfs can tell).
        try:
            st = os.statvfs(self.store.root)
            return st[0] * st[4] >= 2 * size + 4 * BLOCK
        except (OSError, AttributeError):
            return True

    def _judge_trust(self, o):
        # Section 5.1, before anything is judged or erased: 0 if the offer may be considered,
        # else the reason to refuse it (signature, unsigned). Without a trust key every offer
        # counts as unsigned.
        sig = o[11]
        if self.trust_key is None or not sig:
            return R_UNSIGNED if self.require_signature else 0
        if len(sig) != SIG_BLOCK_LEN:
            return R_SIGNATURE
        import hashlib

        from . import ecdsa

        t0 = time.ticks_ms()
        ok = ecdsa.verify(self.trust_key, hashlib.sha256(P.manifest(o)).digest(), sig[16:])
        self.log("offer of release %d: signature %s (%d ms)"
                 % (o[0], "verified" if ok else "does NOT verify",
                    time.ticks_diff(time.ticks_ms(), t0)))
        return 0 if ok else R_SIGNATURE

    def _accept(self, rel, dep, size, chunk, win, sv, flags, sha, version, count):
        # Start (or resume, section 11) the transfer of an accepted offer.
        self._end_transfer()
        bm = self._bitmap
        er = self._erased
        for i in range(len(bm)):
            bm[i] = 0
        for i in range(len(er)):
            er[i] = 0
        is_files = flags & OFFER_FLAG_FILES
        to = FILES_SLOT if is_files else 1 - self.slot
        base = 0
        p = self.store.get(PROG)
        resumed = False
        if p is not None and p[0] == rel and p[2] == size and p[3] == chunk and p[5] == to \
                and p[6] == sha and is_files:
            base = p[4]  # the bundle file was flushed before the record was written
            for i in range(base):
                bm[i >> 3] |= 1 << (i & 7)
            resumed = base > 0
            self.log("resuming file release %d at chunk %d of %d" % (rel, base, count))
        elif p is not None and p[0] == rel and p[2] == size and p[3] == chunk and p[5] == to \
                and p[6] == sha:
            # keep whole 4 KiB sectors below the persisted base; the one holding it is
            # erased and written again
            base = (p[4] * chunk // BLOCK * BLOCK) // chunk
            for i in range(base):
                bm[i >> 3] |= 1 << (i & 7)
            for i in range(base * chunk // BLOCK):
                er[i >> 3] |= 1 << (i & 7)
            resumed = base > 0
            self.log("resuming release %d at chunk %d of %d" % (rel, base, count))
        else:
            self.log("offer of release %d accepted: %d bytes in %d chunks of %d"
                     % (rel, size, count, chunk))
        fh = None
        try:
            if is_files:
                fh = self._f().stage(resumed)
            else:
                self.store.erase(SLOT, "slot%d" % to)
            self.store.put(PROG, (rel, dep, size, chunk, base, to, sha))
        except OSError:
            self._fail(P.R_STORE)
            return
        self._t = {"rel": rel, "dep": dep, "size": size, "chunk": chunk, "count": count,
                   "win": max(1, min(win, self.max_window)), "sv": sv, "sha": sha,
                   "version": version, "to": to, "base": base, "saved": base, "high": base,
                   "resumed": resumed, "request": False, "due": True,
                   "rx": time.ticks_ms(), "acked": time.ticks_ms(), "f": fh}
        if flags & 1:  # MQOTA_OFFER_FLAG_STREAM (section 13); _work() subscribes
            self.t_stream = ("%s/stream/%d" % (self.prefix, rel)).encode()
            self._sub_stream = True
        self._set(P.OFFERED)

    def _end_transfer(self):
        # The stream topic is left by _work() (this runs in the receive path, which must not
        # wait for an UNSUBACK).
        if self._t is not None and self._t["f"] is not None:
            try:
                self._t["f"].close()
            except OSError:
                pass
        if self.t_stream:
            self._unsub_stream = self.t_stream
        self.t_stream = b""
        self._sub_stream = False
        self._t = None

    def _on_chunk(self, n):
        t = self._t
        if t is None or self.state not in (P.OFFERED, P.DOWNLOADING):
            return
        h = P.decode_chunk(self._rx_mv, n)
        if h is None:
            return  # bad CRC or shape: stays missing
        rel, idx, ln = h
        if rel != t["rel"] or idx >= t["count"]:
            return
        chunk = t["chunk"]
        if ln != (chunk if idx < t["count"] - 1 else t["size"] - idx * chunk):
            return
        t["rx"] = time.ticks_ms()
        bm = self._bitmap
        if bm[idx >> 3] & (1 << (idx & 7)):
            t["due"] = True  # already written: acknowledge again
            return
        off = idx * chunk
        blk = off // BLOCK
        try:
            if t["f"] is not None:  # a file release: the bundle file, at the chunk's offset
                t["f"].seek(off)
                t["f"].write(self._rx_mv[P.CHUNK_HDR_LEN:n])
            else:
                er = self._erased
                if not er[blk >> 3] & (1 << (blk & 7)):
                    self.next.ioctl(6, blk)  # erase the 4 KiB sector
                    er[blk >> 3] |= 1 << (blk & 7)
                self.next.writeblocks(blk, self._rx_mv[P.CHUNK_HDR_LEN:n], off % BLOCK)
        except OSError:
            self._fail(P.R_FLASH)
            return
        bm[idx >> 3] |= 1 << (idx & 7)
        if idx + 1 > t["high"]:
            t["high"] = idx + 1
        b = t["base"]
        while b < t["count"] and bm[b >> 3] & (1 << (b & 7)):
            b += 1
        t["base"] = b
        t["due"] = True
        if self.state == P.OFFERED:
            self._set(P.DOWNLOADING)

    def _send_ack(self, t):
        # Persist base before acknowledging it (section 11), then one ACK (section 7).
        base = t["base"]
        if base != t["saved"]:
            try:
                if t["f"] is not None:
                    t["f"].flush()  # the chunks below base are in the bundle file first
                self.store.put(PROG, (t["rel"], t["dep"], t["size"], t["chunk"], base, t["to"],
                                      t["sha"]))
            except OSError:
                self._fail(P.R_STORE)
                return
            t["saved"] = base
        sack_base = base if not self.t_stream else max(base, t["high"] - 65)
        bm = self._bitmap
        sack = 0
        count = t["count"]
        for k in range(64):
            i = sack_base + 1 + k
            if i >= count:
                break
            if bm[i >> 3] & (1 << (i & 7)):
                sack |= 1 << k
        flags = (P.ACK_RESUMED if t["resumed"] else 0) | (P.ACK_REQUEST if t["request"] else 0)
        if base == count:
            flags |= P.ACK_COMPLETE
        P.pack_ack(self._ack_buf, t["rel"], base, sack, t["win"], flags, sack_base, t["high"])
        self.c.publish(self.t_ack, self._ack_buf)
        now = time.ticks_ms()
        self._tx_ms = t["acked"] = now
        t["due"] = t["request"] = t["resumed"] = False

    # ---- verify, switch, confirm ------------------------------------------------------------

    def _verify(self, t):
        # Every chunk is written: read the slot back, compare its SHA-256 with the offer, check
        # the image structure and chip, record the attempt, switch the boot slot, reset.
        import hashlib

        self._set(P.VERIFYING)
        try:
            self._publish_state()
        except OSError:
            pass  # the link is gone: verify all the same; STATE goes out after reconnecting
        sha = hashlib.sha256()
        chk = Check()
        buf = self._rx_mv[:BLOCK]
        size = t["size"]
        head = None
        try:
            for blk in range((size + BLOCK - 1) // BLOCK):
                self.next.readblocks(blk, buf)
                mv = buf[: min(BLOCK, size - blk * BLOCK)]
                if blk == 0:
                    head = app_desc(mv[:288])
                sha.update(mv)
                chk.feed(mv)
        except OSError:
            self._fail(P.R_FLASH)
            return
        if sha.digest() != t["sha"]:
            self._fail(P.R_HASH_MISMATCH)
            return
        why = chk.result()
        if why is not None or head is None:
            self.log("image refused: %s" % (why or "no application descriptor"))
            self._fail(P.R_INVALID_IMAGE)
            return
        if head[0] != self.chip:
            self._fail(P.R_CHIP_MISMATCH)
            return
        try:
            self.store.put(SLOT, (t["rel"], t["version"]), "slot%d" % t["to"])
            self.store.put(BOOT, (t["rel"], t["dep"], self.slot, t["to"], 0, t["sv"]))
        except OSError:
            self._fail(P.R_STORE)
            return
        try:
            self.next.set_boot()
        except OSError:
            self.store.erase(BOOT)
            self._fail(P.R_SET_BOOT)
            return
        self.store.erase(PROG)
        self.log("release %d verified; boot slot is now %d" % (t["rel"], t["to"]))
        self._end_transfer()
        self._set(P.READY_TO_REBOOT)
        self._reset_due = True  # before the publish: a dead link must not hold the reset
        self._publish_state()

    def _verify_files(self, t):
        # Every chunk of a file release is in the bundle file: check it and its files into
        # new/ (files.py), swap them in under the journal, reset into the new set.
        self._set(P.VERIFYING)
        try:
            self._publish_state()
        except OSError:
            pass
        try:
            t["f"].close()
        except OSError:
            pass
        t["f"] = None
        t0 = time.ticks_ms()
        paths, why = self._f().install(t["sha"], self._rx_mv[:BLOCK])
        if why is not None:
            self.log("file release %d refused: %s" % (t["rel"], why[1]))
            self._f().clean()
            self._fail(why[0])
            return
        try:
            self._f().swap(t["rel"], t["dep"], t["version"], paths)
        except OSError as e:
            # the journal is the commit point: without it nothing changed; with it the next
            # boot finishes the swap and runs the new set pending-verify
            if self._f().state() is None:
                self.log("file release %d: cannot swap (%r)" % (t["rel"], e))
                self._f().clean()
                self._fail(P.R_STORE)
                return
        self.store.erase(PROG)
        self.log("file release %d: %d files checked and swapped in (%d ms)"
                 % (t["rel"], len(paths), time.ticks_diff(time.ticks_ms(), t0)))
        self._end_transfer()
        self._set(P.READY_TO_REBOOT)
        self._reset_due = True
        self._publish_state()

    def _confirm_or_rollback(self):
        # pending-verify and connected: the application's self-test decides.
        ok = True
        if self.self_test is not None:
            try:
                ok = bool(self.self_test())
            except Exception as e:  # the self-test's failure is a verdict, not a crash
                self.log("self-test raised %r" % e)
                ok = False
        if not ok:
            self._rollback(P.R_SELF_TEST)
            return
        if self.confirm_by_command:
            self._awaiting_confirm = True
            self.log("self-test passed: waiting for the confirm command")
            return
        self._confirm()

    def _confirm(self):
        # Mark the running image valid, raise the anti-rollback minimum, report confirmed.
        self._awaiting_confirm = False
        if self._files_rec is not None:
            self._confirm_files()
            return
        rel, dep, frm, to, why, sv = self._boot_rec
        esp32.Partition.mark_app_valid_cancel_rollback()
        if sv > self.min_sv:
            try:
                self.store.put(MINSV, (sv,))
                self.min_sv = sv
            except OSError:
                pass  # the boot record stays; the next boot raises it
        self.store.erase(BOOT)
        self._load_running_release()
        self.rollback_possible = True
        self.log("self-test passed: release %d confirmed" % rel)
        self._set(P.CONFIRMED)

    def _confirm_files(self):
        # The new set passed: it becomes the running release of this slot, the journal goes.
        phase, _, rel, dep, version = self._files_rec
        try:
            self.store.put(SLOT, (rel, version), "slot%d" % self.slot)
        except OSError:
            pass  # the files are confirmed all the same; STATE names the older release
        self._f().commit()
        self._files_rec = None
        self._load_running_release()
        self.log("self-test passed: file release %d confirmed" % rel)
        self._set(P.CONFIRMED)

    def _rollback(self, reason):
        # Record why, boot the previous slot again and reset; the old image reports
        # rolled-back with this reason. A file update puts the old files back instead.
        if self._files_rec is not None:
            self.log("rolling back file release %d: reason %d" % (self._files_rec[2], reason))
            self._f().restore(reason)
            self._reset_due = True
            if self.c is None:
                time.sleep_ms(100)
                machine.reset()
            return
        rel, dep, frm, to, why, sv = self._boot_rec
        self.log("rolling back release %d: reason %d" % (rel, reason))
        self.store.put(BOOT, (rel, dep, frm, to, reason, sv))
        self.next.set_boot()
        self._reset_due = True
        if self.c is None:
            time.sleep_ms(100)
            machine.reset()

    # ---- sealed commands (section 14) ---------------------------------------------------------

    def _load_cmd_record(self):
        # mq.cmd (section 14.4) from the file "cmd": highest, window, reply_counter; absent or
        # damaged means all zero
        self._highest = self._window = self._reply_ctr = 0
        b = self.store.get_raw("cmd", CMD_RECORD_LEN)
        if b is None:
            return
        magic, _, hi, win, rc, crc = struct.unpack("<IIQQQI", b)
        if magic == CMD_RECORD_MAGIC and crc == crc32(b[:32]):
            self._highest, self._window, self._reply_ctr = hi, win, rc

    def _save_cmd_record(self):
        b = struct.pack("<IIQQQ", CMD_RECORD_MAGIC, 0, self._highest, self._window, self._reply_ctr)
        self.store.put_raw("cmd", b + struct.pack("<I", crc32(b)))

    def _on_command(self, n):
        # One frame on the cmd topic, checked in section 14.4's order: header, authentication,
        # counter, plaintext. The window is written before the command runs; the reply waits
        # in self._replies for poll() (a QoS 1 publish cannot happen here).
        mv = self._rx_mv
        if n < 16:
            self._refuse(P.RES_MALFORMED, 0)
            return
        counter = struct.unpack_from("<Q", mv, 8)[0]
        if not P.header_ok(mv, n, P.T_COMMAND) or n < P.SEALED_MIN_LEN or n > P.SEALED_MAX_LEN \
                or mv[4] or mv[5] or mv[6] or mv[7] or counter == 0:
            self._refuse(P.RES_MALFORMED, counter)
            return
        hdr = bytes(mv[:16])
        pt = self._key.open(hdr[:4] + hdr[8:16], mv[16 : n - 16], hdr + self._id_bytes,
                            mv[n - 16 : n])
        if pt is None:
            self._refuse(P.RES_FORGED, counter)
            return
        hi, win = self._highest, self._window
        if counter > hi:
            d = counter - hi
            win = ((win << d) | 1) & MASK64 if d < 64 else 1
            hi = counter
        else:
            d = hi - counter
            if d >= 64 or win >> d & 1:
                self._refuse(P.RES_REPLAY, counter)
                return
            win |= 1 << d
        self._highest, self._window = hi, win
        try:
            self._save_cmd_record()
        except OSError:
            self.log("command not run: the cmd record could not be written")
            return
        c = P.decode_command(pt)
        if c is None:
            self._refuse(P.RES_MALFORMED, counter)
            return
        self.cmd_accepted += 1
        cid, name, args = c
        result, body = self._run_command(name, args)
        self.log("command %d %s: result %d" % (cid, name.decode(), result))
        self._reply(cid, result, body)

    def _run_command(self, name, args):
        builtin = name in (b"reboot", b"diagnostics", b"confirm", b"rollback")
        if builtin and args:
            return P.RES_FAILED, b"built-in command takes no arguments"
        if name == b"reboot":
            self._reboot_after_reply = True
            return P.RES_OK, b""
        if name == b"diagnostics":
            return P.RES_OK, self._diagnostics()
        if name == b"confirm" and self._awaiting_confirm:
            self._confirm()
            return P.RES_OK, b""
        if name == b"rollback" and self.state == P.PENDING_VERIFY:
            self._rollback_after_reply = R_COMMAND  # after the reply is published
            return P.RES_OK, b""
        if builtin:  # confirm, rollback outside pending-verify
            return P.RES_WRONG_STATE, b"not in pending-verify"
        if self.command_handler is None:
            return P.RES_UNKNOWN, b""
        try:
            body = self.command_handler(name, args)
        except Exception as e:  # noqa: BLE001 (the handler's failure is its reply)
            return P.RES_FAILED, str(e).encode()[:200]
        if body is None:
            return P.RES_UNKNOWN, b""
        return P.RES_OK, body

    def _diagnostics(self):
        # section 14.3's keys, in its order
        t = self._t
        chip, _, version, project, idf = self.desc
        lines = (("uptime_ms", time.ticks_diff(time.ticks_ms(), self._boot_ms)),
                 ("boot_count", self.boot_count), ("slot", self.slot),
                 ("state", P.STATE_NAMES[self.state]),
                 ("reason", P.REASON_NAMES[self.reason] if self.reason < len(P.REASON_NAMES)
                  else "unknown"),
                 ("project", project.decode()), ("version", version.decode()),
                 ("release_version", self.release_version.decode()), ("idf_ver", idf.decode()),
                 ("running_release", self.running_release), ("target_release", self.target),
                 ("progress", 0 if t is None else t["base"] * t["chunk"]),
                 ("image_size", 0 if t is None else t["size"]),
                 ("min_secure_version", self.min_sv), ("commands_accepted", self.cmd_accepted),
                 ("commands_refused", self.cmd_refused))
        return "".join("%s=%s\n" % kv for kv in lines).encode()

    def _refuse(self, result, counter):
        # A refused frame is not run; at most one report per REFUSAL_REPORT_MS (section 14.4).
        self.cmd_refused += 1
        self.log("command refused: result %d" % result)
        now = time.ticks_ms()
        if self._refusal_ms is not None and time.ticks_diff(now, self._refusal_ms) < REFUSAL_REPORT_MS:
            return
        self._refusal_ms = now
        self._reply(0, result, struct.pack("<QQII", counter, self._highest, self.cmd_refused, 0))

    def _reply(self, cid, result, body):
        # Seal a REPLY (section 14.2) with the next reply counter, written first.
        body = body[:P.SEALED_MAX_LEN - 40]
        self._reply_ctr += 1
        try:
            self._save_cmd_record()
        except OSError:
            self.log("reply not sent: the cmd record could not be written")
            return
        hdr = b"MQ\x01\x06\0\0\0\0" + struct.pack("<Q", self._reply_ctr)
        pt = struct.pack("<IBBH", cid, result, 0, len(body)) + body
        ct, tag = self._key.seal(hdr[:4] + hdr[8:16], pt, hdr + self._id_bytes)
        self._replies.append(hdr + ct + tag)
