# SPDX-License-Identifier: Apache-2.0
# Test stand-in for MicroPython's esp32 module on the unix port: esp32.Partition over the
# virtual ESP32's flash file (ports/posix: 4 MiB, every byte stored inverted, NOR semantics:
# erase sets a 4 KiB sector to 0xFF, a write can only clear bits), with ESP-IDF's partition
# table at 0x8000 and otadata (ports/posix/include/mqota_posix/otadata.h). mqota-vboot, the
# virtual bootloader, reads what this writes. Environment: MQOTA_UPY_FLASH (the flash file),
# MQOTA_UPY_SLOT (the slot the bootloader booted, 0 or 1).
# Only what the agent uses, with the semantics of MicroPython's ports/esp32/esp32_partition.c:
# writeblocks(block, buf) erases then writes, writeblocks(block, buf, offset) only writes,
# ioctl(6, block) erases one block.
# Fault: MQOTA_UPY_FLIP_BYTE=N flips the bits of the byte at offset N of whatever the app
# partitions are written with (a flash bit error after the chunk's CRC was checked).
import os
import struct
from binascii import crc32

SECTOR = 4096
_flash = open(os.getenv("MQOTA_UPY_FLASH"), "r+b")
_running_slot = int(os.getenv("MQOTA_UPY_SLOT") or "0")
_flip = int(os.getenv("MQOTA_UPY_FLIP_BYTE") or "-1")
_buf = bytearray(SECTOR)  # one sector of file bytes, for read-modify-write
_mv = memoryview(_buf)
OTADATA_STATE_NEW = 0
OTADATA_STATE_PENDING_VERIFY = 1
OTADATA_STATE_VALID = 2


def _read(addr, out):
    # flash bytes [addr, addr + len(out)) into out
    _flash.seek(addr)
    n = _flash.readinto(out)
    if n != len(out):
        raise OSError(5)
    for i in range(len(out)):
        out[i] ^= 0xFF


def _write(addr, data):
    # NOR program: flash = old & data, i.e. file = old_file | ~data
    pos = 0
    n = len(data)
    while pos < n:
        k = min(SECTOR - (addr + pos) % SECTOR, n - pos)
        m = _mv[:k]
        _flash.seek(addr + pos)
        if _flash.readinto(m) != k:
            raise OSError(5)
        for i in range(k):
            m[i] |= data[pos + i] ^ 0xFF
        _flash.seek(addr + pos)
        _flash.write(m)
        pos += k


def _erase(addr, n):
    if addr % SECTOR or n % SECTOR:
        raise OSError(22)
    for i in range(SECTOR):
        _buf[i] = 0
    for a in range(addr, addr + n, SECTOR):
        _flash.seek(a)
        _flash.write(_buf)


def _table():
    # the partition table at 0x8000: (type, subtype, offset, size, label) per entry
    out = []
    e = bytearray(32)
    for off in range(0x8000, 0x8C00, 32):
        _read(off, e)
        if e[0] != 0xAA or e[1] != 0x50:
            break
        t, st, a, sz = struct.unpack_from("<BBII", e, 2)
        label = bytes(e[12:28]).split(b"\0")[0].decode()
        out.append((t, st, a, sz, label))
    return out


def _otadata():
    for p in _table():
        if p[0] == 1 and p[1] == 0:
            return p[2]
    raise OSError(2)


def _entry(sector):
    # (seq, state, valid) of the otadata entry in sector 0 or 1
    e = bytearray(32)
    _read(_otadata() + sector * SECTOR, e)
    seq, = struct.unpack_from("<I", e, 0)
    state, crc = struct.unpack_from("<II", e, 24)
    valid = seq != 0xFFFFFFFF and crc == crc32(struct.pack("<I", seq), 0xFFFFFFFF)
    return seq, state, valid


def _put_entry(sector, seq, state):
    e = bytearray(b"\xff" * 32)
    struct.pack_into("<I", e, 0, seq)
    struct.pack_into("<II", e, 24, state, crc32(struct.pack("<I", seq), 0xFFFFFFFF))
    a = _otadata() + sector * SECTOR
    _erase(a, SECTOR)
    _write(a, e)


class Partition:
    BOOT = 0
    RUNNING = 1
    TYPE_APP = 0
    TYPE_DATA = 1

    def __init__(self, id, block_size=SECTOR):
        if id == Partition.RUNNING or id == Partition.BOOT:
            id = "ota_%d" % _running_slot
        for p in _table():
            if p[4] == id:
                self.p = p
                break
        else:
            raise ValueError("no partition " + str(id))
        self.bs = block_size

    def info(self):
        t, st, a, sz, label = self.p
        return (t, st, a, sz, label, False)

    def readblocks(self, block, buf, offset=0):
        a = self.p[2] + block * self.bs + offset
        if a + len(buf) > self.p[2] + self.p[3]:
            raise OSError(22)
        _read(a, buf)

    def writeblocks(self, block, buf, offset=None):
        a = self.p[2] + block * self.bs + (offset or 0)
        if a + len(buf) > self.p[2] + self.p[3]:
            raise OSError(22)
        if offset is None:
            _erase(a, (len(buf) + SECTOR - 1) // SECTOR * SECTOR)
        rel = a - self.p[2]
        if rel <= _flip < rel + len(buf):
            buf = bytearray(buf)
            buf[_flip - rel] ^= 0xFF
        _write(a, buf)

    def ioctl(self, op, arg):
        if op == 4:
            return self.p[3] // self.bs
        if op == 5:
            return self.bs
        if op == 6:
            _erase(self.p[2] + arg * self.bs, self.bs)
            return 0
        return None

    def get_next_update(self):
        return Partition("ota_1" if self.p[4] == "ota_0" else "ota_0")

    def set_boot(self):
        # esp_ota_set_boot_partition: the smallest seq above the active one that selects this
        # slot, state NEW, written to the sector that does not hold the active entry
        slot = 1 if self.p[4] == "ota_1" else 0
        e = [_entry(0), _entry(1)]
        active = -1
        for s in (0, 1):
            if e[s][2] and (active < 0 or e[s][0] > e[active][0]):
                active = s
        seq = e[active][0] + 1 if active >= 0 else 1
        while (seq - 1) % 2 != slot:
            seq += 1
        _put_entry(1 - active if active >= 0 else 0, seq, OTADATA_STATE_NEW)

    @classmethod
    def mark_app_valid_cancel_rollback(cls):
        # the running slot's entry (the valid one with the highest seq selecting it): VALID
        best = -1
        for s in (0, 1):
            seq, state, valid = _entry(s)
            if valid and (seq - 1) % 2 == _running_slot and (best < 0 or seq > _entry(best)[0]):
                best = s
        if best >= 0:
            seq, state, _ = _entry(best)
            if state != OTADATA_STATE_VALID:
                _put_entry(best, seq, OTADATA_STATE_VALID)
