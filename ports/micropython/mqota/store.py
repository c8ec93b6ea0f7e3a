# SPDX-License-Identifier: Apache-2.0
# The agent's persistent records (docs/PROTOCOL.md section 12 and its MicroPython subsection
# 12.2): the C agent's byte formats (tag, version 1, reserved, u16 length, fields, CRC-32), one
# file per record in a directory of the board's filesystem. A record is replaced atomically:
# written to NAME.tmp, then renamed over NAME (littlefs and FAT on the ESP32 port rename in one
# step; a power cut leaves the old or the new file). A file that fails any check is absent.
import os
import struct
from binascii import crc32

VERSION = 1  # MQOTA_RECORD_VERSION

# name -> (tag, total length, struct format of the fields between the header and the CRC)
PROG = ("prog", b"MQPR", 68, "<IIIIIB3x32s")  # release, deployment, size, chunk, base, slot, sha
SLOT = ("slot", b"MQSL", 48, "<I32s")  # release, version (NUL-padded); file slot0 / slot1
BOOT = ("boot", b"MQBT", 28, "<IIBBBxI")  # release, deployment, from, to, reason, secure_version
MINSV = ("minsv", b"MQSV", 16, "<I")  # min_secure_version
BOOTS = ("boots", b"MQBN", 16, "<I")  # boot counter (MicroPython only, section 12.2)


class Store:
    """Records in directory `root` (created if missing)."""

    def __init__(self, root):
        self.root = root
        try:
            os.mkdir(root)
        except OSError:
            pass  # exists

    def _path(self, name):
        return self.root + "/" + name

    def get(self, kind, name=None):
        """The fields of record `kind` (PROG, SLOT, ...) as a tuple, or None if absent or
        invalid (length, tag, version, reserved byte, length field or CRC wrong)."""
        name = name or kind[0]
        try:
            with open(self._path(name), "rb") as f:
                b = f.read(kind[2] + 1)
        except OSError:
            return None
        n = kind[2]
        if len(b) != n or b[0:4] != kind[1] or b[4] != VERSION or b[5] != 0:
            return None
        if struct.unpack_from("<H", b, 6)[0] != n:
            return None
        if struct.unpack_from("<I", b, n - 4)[0] != crc32(memoryview(b)[: n - 4]):
            return None
        return struct.unpack_from(kind[3], b, 8)

    def put(self, kind, fields, name=None):
        """Write record `kind` with `fields` atomically. Raises OSError if the filesystem
        fails (the old record, if any, is then still in place)."""
        name = name or kind[0]
        n = kind[2]
        b = bytearray(n)
        b[0:4] = kind[1]
        b[4] = VERSION
        struct.pack_into("<H", b, 6, n)
        struct.pack_into(kind[3], b, 8, *fields)
        struct.pack_into("<I", b, n - 4, crc32(memoryview(b)[: n - 4]))
        tmp = self._path(name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(b)
        os.rename(tmp, self._path(name))

    def erase(self, kind, name=None):
        """Remove record `kind`; absent is fine."""
        try:
            os.remove(self._path(name or kind[0]))
        except OSError:
            pass

    def get_raw(self, name, n):
        """The n bytes of file `name`, or None if it is absent or not n bytes long."""
        try:
            with open(self._path(name), "rb") as f:
                b = f.read(n + 1)
        except OSError:
            return None
        return b if len(b) == n else None

    def put_raw(self, name, b):
        """Write file `name` atomically, as put() does."""
        tmp = self._path(name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(b)
        os.rename(tmp, self._path(name))
