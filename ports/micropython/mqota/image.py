# SPDX-License-Identifier: Apache-2.0
# ESP32 application image checks (the format of device/include/mqota/mqota_image.h): header
# magic 0xE9 and chip id, segment structure, the XOR checksum over every segment's data, the
# appended SHA-256, and the esp_app_desc_t of the first segment. The image is fed block by
# block as it is read back from the slot, so no more than one block is ever in RAM.
import hashlib
import struct

IMAGE_MAGIC = 0xE9
APP_DESC_MAGIC = 0xABCD5432
HEADER_LEN = 24
SEGMENT_HEADER_LEN = 8
MAX_SEGMENTS = 16
SEGMENT_LEN_LIMIT = 16 * 1024 * 1024
CHECKSUM_SEED = 0xEF


def app_desc(head):
    """(chip_id, secure_version, version, project, idf_ver) from the first 288 bytes of an
    image (header + first segment header + esp_app_desc_t), or None if they are not an
    application image."""
    if len(head) < 288 or head[0] != IMAGE_MAGIC or not 1 <= head[1] <= MAX_SEGMENTS:
        return None
    if struct.unpack_from("<I", head, 32)[0] != APP_DESC_MAGIC:
        return None

    def cstr(off, n):
        s = bytes(head[off : off + n])
        i = s.find(b"\0")
        return s if i < 0 else s[:i]

    chip = struct.unpack_from("<H", head, 12)[0]
    sv = struct.unpack_from("<I", head, 36)[0]
    return chip, sv, cstr(48, 32)[:31], cstr(80, 32)[:31], cstr(144, 32)[:31]


class Check:
    """Streaming structure check. feed() the image's bytes in order (the first call with at
    least 24 bytes), then result() says None (valid) or why not, as one phrase (after the
    whole image: result() ends the appended hash, so feed() nothing more)."""

    def __init__(self):
        self.off = 0  # image bytes fed
        self.fault = None
        self.nseg = -1  # segments in the header, -1 before it is read
        self.seg = 0  # segments whose header was read
        self.seg_end = HEADER_LEN  # end of the current segment's data / next header
        self.hdr = bytearray(SEGMENT_HEADER_LEN)
        self.hdr_fill = SEGMENT_HEADER_LEN  # nothing pending
        self.xor = CHECKSUM_SEED
        self.end = 0  # image length once the last segment is read
        self.checksum_at = 0
        self.hashed = False
        self.sha = hashlib.sha256()
        self.hash = bytearray(32)

    def feed(self, mv):
        if self.fault is not None:
            return
        if self.nseg < 0:
            if len(mv) < HEADER_LEN or mv[0] != IMAGE_MAGIC:
                self.fault = "bad magic"
                return
            self.nseg = mv[1]
            if not 1 <= self.nseg <= MAX_SEGMENTS:
                self.fault = "bad segment count"
                return
            self.hashed = mv[23] != 0
            self.hdr_fill = 0
        start = self.off
        n = len(mv)
        i = HEADER_LEN if start == 0 else 0
        while i < n and self.fault is None:
            pos = start + i
            if self.end == 0 and self.hdr_fill < SEGMENT_HEADER_LEN:
                self.hdr[self.hdr_fill] = mv[i]
                self.hdr_fill += 1
                i += 1
                if self.hdr_fill == SEGMENT_HEADER_LEN:
                    ln = struct.unpack_from("<I", self.hdr, 4)[0]
                    if ln >= SEGMENT_LEN_LIMIT or ln & 3:
                        self.fault = "bad segment size"
                    self.seg += 1
                    self.seg_end = pos + 1 + ln
                    if ln == 0:
                        self._segment_done()
                continue
            if self.end == 0:
                k = min(n, i + self.seg_end - pos)
                x = self.xor
                for j in range(i, k):
                    x ^= mv[j]
                self.xor = x
                i = k
                if start + i == self.seg_end:
                    self._segment_done()
                continue
            # after the last segment: the checksum byte, the appended hash, padding
            if pos == self.checksum_at:
                if mv[i] != self.xor:
                    self.fault = "checksum mismatch"
            elif self.checksum_at < pos < self.end:
                self.hash[pos - self.checksum_at - 1] = mv[i]
            elif pos >= self.end:
                break  # padding after the image is not judged (the hash covers the image)
            i += 1
        if self.hashed:
            # bytes [0, checksum_at] are hashed; the hash itself is not
            lim = n if self.end == 0 else max(0, min(n, self.checksum_at + 1 - start))
            if lim > 0:
                self.sha.update(mv[:lim])
        self.off = start + n

    def _segment_done(self):
        if self.seg < self.nseg:
            self.hdr_fill = 0
            return
        self.checksum_at = self.seg_end | 15
        self.end = self.checksum_at + 1 + (32 if self.hashed else 0)

    def result(self):
        if self.fault is not None:
            return self.fault
        if self.end == 0 or self.off < self.end:
            return "truncated"
        if self.hashed:
            if self.sha is not None:  # digest() finalises the hash: once only
                self.digest = self.sha.digest()
                self.sha = None
            if self.digest != bytes(self.hash):
                return "appended SHA-256 mismatch"
        return None
