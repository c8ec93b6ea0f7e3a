# SPDX-License-Identifier: Apache-2.0
# mqota wire protocol v1 (docs/PROTOCOL.md) for MicroPython: the messages this agent sends
# (STATE, ACK, TELEMETRY) are packed into caller-owned buffers, and the ones it receives
# (OFFER, CHUNK) are read in place from the receive buffer. Bytes in, fields out; no I/O.
import struct
from binascii import crc32

MAGIC = b"MQ\x01"  # 'M' 'Q', version 1 (section 3)
T_STATE = 1
T_OFFER = 2
T_CHUNK = 3
T_ACK = 4
T_TELEMETRY = 7

STATE_MAX_LEN = 172  # MQOTA_STATE_MAX_LEN
ACK_LEN = 32  # MQOTA_ACK_LEN
CHUNK_HDR_LEN = 20
OFFER_MIN_LEN = 72
TELEMETRY_MAX_LEN = 397  # MQOTA_TELEMETRY_MAX_LEN
TELEMETRY_SAMPLES = 16  # MQOTA_TELEMETRY_SAMPLES
TELEMETRY_NAME_MAX = 15  # MQOTA_TELEMETRY_NAME_MAX

# update states (section 8.1)
IDLE = 0
OFFERED = 1
DOWNLOADING = 2
VERIFYING = 3
READY_TO_REBOOT = 4
PENDING_VERIFY = 5
CONFIRMED = 6
FAILED = 7
ROLLED_BACK = 8

# failure reasons (section 8.2)
R_NONE = 0
R_CHIP_MISMATCH = 1
R_TOO_LARGE = 2
R_BAD_CHUNK_SIZE = 3
R_FLASH = 4
R_HASH_MISMATCH = 5
R_INVALID_IMAGE = 6
R_SET_BOOT = 7
R_SELF_TEST = 8
R_CONFIRM_TIMEOUT = 9
R_RESET = 10
R_TOO_MANY_CHUNKS = 11
R_STORE = 12
R_MALFORMED_OFFER = 13
R_FILE_RELEASE = 18

STATE_NAMES = ("idle", "offered", "downloading", "verifying", "ready-to-reboot",
               "pending-verify", "confirmed", "failed", "rolled-back")
REASON_NAMES = ("none", "chip-mismatch", "too-large", "bad-chunk-size", "flash", "hash-mismatch",
                "invalid-image", "set-boot", "self-test", "confirm-timeout", "reset",
                "too-many-chunks", "store", "malformed-offer", "signature", "unsigned",
                "security-version", "command", "file-release")

# capabilities (section 8.3), STATE flags (8.4), ACK flags (8.5)
CAP_COMMANDS = 0x8
CAP_RESUME = 0x1
CAP_SACK = 0x2
CAP_ROLLBACK = 0x4
STATE_FLAG_ROLLBACK_POSSIBLE = 0x01
ACK_RESUMED = 0x01
ACK_COMPLETE = 0x02
ACK_REQUEST = 0x04


def _pack_str(buf, off, s):
    # A section 2 str: one length byte, then at most 31 bytes (a longer string is cut).
    n = len(s)
    if n > 31:
        n = 31
    buf[off] = n
    buf[off + 1 : off + 1 + n] = s[:n]
    return off + 1 + n


def pack_state(buf, st):
    """Pack a STATE (section 4) into buf (STATE_MAX_LEN bytes); st is a tuple
    (state, reason, running_slot, flags, chip_id, max_window, max_chunk, caps,
    running_release, target_release, progress, image_size, boot_count,
    project, version, idf_ver, release_version). Returns the length."""
    buf[0:3] = MAGIC
    buf[3] = T_STATE
    struct.pack_into("<BBBBHHIIIIIIII", buf, 4, *st[:13], 0)
    off = 44
    for s in st[13:]:
        off = _pack_str(buf, off, s)
    return off


def pack_ack(buf, release_id, base, sack, window, flags, sack_base, high):
    """Pack an ACK (section 7) into buf (ACK_LEN bytes)."""
    buf[0:3] = MAGIC
    buf[3] = T_ACK
    struct.pack_into("<IIQHBBII", buf, 4, release_id, base, sack, window, flags, 0, sack_base, high)


def header_ok(mv, n, typ):
    # Section 3's order: length, magic, version, type.
    return n >= 4 and mv[0] == 0x4D and mv[1] == 0x51 and mv[2] == 1 and mv[3] == typ


def _str_at(mv, off, n):
    # (bytes, next offset) of the str at off, or None if it is malformed or truncated.
    if off >= n:
        return None
    k = mv[off]
    if k > 31 or off + 1 + k > n:
        return None
    s = bytes(mv[off + 1 : off + 1 + k])
    if b"\0" in s:
        return None
    return s, off + 1 + k


def decode_offer(mv, n):
    """Decode an OFFER (section 5) from mv[:n]. Returns a tuple (release_id, deployment_id,
    image_size, chunk_size, window, chip_id, secure_version, flags, sha256, version, project,
    sig), sig the signature block's bytes (b"" if unsigned), or None if it does not decode
    (wrong header, truncated, malformed)."""
    if not header_ok(mv, n, T_OFFER) or n < OFFER_MIN_LEN:
        return None
    rel, dep, size, chunk, win, chip, sv, flags = struct.unpack_from("<IIIIHHII", mv, 4)
    sha = bytes(mv[32:64])
    r = _str_at(mv, 68, n)
    if r is None:
        return None
    version, off = r
    r = _str_at(mv, off, n)
    if r is None:
        return None
    project, off = r
    if off + 2 > n:
        return None
    sig_len = mv[off] | mv[off + 1] << 8
    if sig_len > 128 or off + 2 + sig_len != n:
        return None
    sig = bytes(mv[off + 2 : n])
    return (rel, dep, size, chunk, win, chip, sv, flags, sha, version, project, sig)


def manifest(o):
    """The canonical manifest (section 5.1) a signed offer's signature covers, from the tuple
    decode_offer() returned (its signature block 80 bytes): an image's ("MQM1"), or for an
    offer with the files flag (bit 2, section 17) a bundle's ("MQF1", the flag signed after
    chip_id), so a signature over one kind never verifies as the other."""
    rel, dep, size, chunk, win, chip, sv, flags, sha, version, project, sig = o
    if flags & 4:
        m = bytearray(b"MQF1")
        m += sha
        m += struct.pack("<IHII", size, chip, 4, sv)
    else:
        m = bytearray(b"MQM1")
        m += sha
        m += struct.pack("<IHI", size, chip, sv)
    m += sig[:16]
    for s in (project, version):
        m.append(len(s))
        m += s
    return m


def decode_chunk(mv, n):
    """Read a CHUNK (section 6) header from mv[:n] and check its CRC-32. Returns
    (release_id, index, len), or None if the header, length or CRC is wrong."""
    if not header_ok(mv, n, T_CHUNK) or n < CHUNK_HDR_LEN:
        return None
    rel, index, ln, crc = struct.unpack_from("<IIII", mv, 4)
    if CHUNK_HDR_LEN + ln != n:
        return None
    if crc32(mv[CHUNK_HDR_LEN:n]) != crc:
        return None
    return rel, index, ln


def pack_telemetry(buf, ts_ms, samples):
    """Pack a TELEMETRY (section 15) into buf (TELEMETRY_MAX_LEN bytes). samples: a list of
    (name, value), name bytes of [a-z0-9_.]{1,15}, value a finite number. Returns the length;
    raises ValueError for a bad name, value or count (as the C encoder refuses them)."""
    if not 1 <= len(samples) <= TELEMETRY_SAMPLES:
        raise ValueError("telemetry: 1..16 samples")
    buf[0:3] = MAGIC
    buf[3] = T_TELEMETRY
    struct.pack_into("<QB", buf, 4, ts_ms, len(samples))
    off = 13
    for name, value in samples:
        k = len(name)
        if not 1 <= k <= TELEMETRY_NAME_MAX:
            raise ValueError("telemetry: name of 1..15 bytes")
        for c in name:
            if not (97 <= c <= 122 or 48 <= c <= 57 or c == 95 or c == 46):
                raise ValueError("telemetry: name outside [a-z0-9_.]")
        value = float(value)
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("telemetry: value not finite")
        buf[off] = k
        buf[off + 1 : off + 1 + k] = name
        struct.pack_into("<d", buf, off + 1 + k, value)
        off += 9 + k
    return off


# sealed commands (section 14)
T_COMMAND = 5
T_REPLY = 6
SEALED_MIN_LEN = 32
SEALED_MAX_LEN = 1024  # MQOTA_SEALED_MAX_LEN
RES_OK = 0
RES_UNKNOWN = 1
RES_FAILED = 2
RES_WRONG_STATE = 3
RES_FORGED = 16
RES_REPLAY = 17
RES_MALFORMED = 18


def decode_command(pt):
    """(command_id, name, args) of a COMMAND plaintext (section 14.3), or None if malformed."""
    n = len(pt)
    if n < 9:
        return None
    cid = struct.unpack_from("<I", pt, 0)[0]
    k = pt[4]
    if cid == 0 or k == 0 or k > 31 or 5 + k + 2 > n:
        return None
    name = bytes(pt[5 : 5 + k])
    alen = struct.unpack_from("<H", pt, 5 + k)[0]
    if 7 + k + alen != n or b"\0" in name:
        return None
    return cid, name, bytes(pt[7 + k :])
