# SPDX-License-Identifier: Apache-2.0
# AES-256-GCM (FIPS-197, NIST SP 800-38D) in pure Python, for sealed commands and replies
# (docs/PROTOCOL.md section 14): a 12-byte nonce, a 16-byte tag, the encryption direction of AES
# only (GCM needs no other). Checked against the GCM specification's test cases in
# micropython.codecs; cost: bench/micropython/run.sh. Not constant-time: the table lookups of
# the S-box can leak the key through cache timing to code on the same CPU, which a
# MicroPython board does not run (docs/MICROPYTHON.md "Trust").
SBOX = bytearray(256)


def _make_sbox():
    p = q = 1
    while True:
        p = (p ^ (p << 1) ^ (0x1B if p & 0x80 else 0)) & 0xFF
        q ^= q << 1
        q ^= q << 2
        q ^= q << 4
        q &= 0xFF
        if q & 0x80:
            q ^= 0x09
        x = q ^ (q << 1 | q >> 7) ^ (q << 2 | q >> 6) ^ (q << 3 | q >> 5) ^ (q << 4 | q >> 4)
        SBOX[p] = (x ^ 0x63) & 0xFF
        if p == 1:
            break
    SBOX[0] = 0x63


_make_sbox()
_R = 0xE1 << 120


def _xt(a):
    return ((a << 1) ^ 0x1B) & 0xFF if a & 0x80 else a << 1


class Key:
    """An AES-256 key (32 bytes), expanded once, with its GHASH subkey."""

    def __init__(self, key):
        if len(key) != 32:
            raise ValueError("AES-256 key of 32 bytes")
        w = bytearray(key)
        rc = 1
        while len(w) < 240:
            t = w[-4:]
            n = len(w) // 4
            if n % 8 == 0:
                t = bytearray((SBOX[t[1]] ^ rc, SBOX[t[2]], SBOX[t[3]], SBOX[t[0]]))
                rc = _xt(rc)
            elif n % 8 == 4:
                t = bytearray(SBOX[b] for b in t)
            w += bytearray(w[-32 + i] ^ t[i] for i in range(4))
        self.w = w
        self.h = int.from_bytes(self.block(bytes(16)), "big")

    def block(self, blk):
        # AES-256 encryption of one 16-byte block
        w = self.w
        s = bytearray(blk[i] ^ w[i] for i in range(16))
        for rnd in range(1, 15):
            s = bytearray(SBOX[s[(i + 4 * (i % 4)) % 16]] for i in range(16))  # Sub+ShiftRows
            if rnd < 14:
                m = bytearray(16)
                for c in range(0, 16, 4):
                    a0, a1, a2, a3 = s[c], s[c + 1], s[c + 2], s[c + 3]
                    t = a0 ^ a1 ^ a2 ^ a3
                    m[c] = a0 ^ t ^ _xt(a0 ^ a1)
                    m[c + 1] = a1 ^ t ^ _xt(a1 ^ a2)
                    m[c + 2] = a2 ^ t ^ _xt(a2 ^ a3)
                    m[c + 3] = a3 ^ t ^ _xt(a3 ^ a0)
                s = m
            k = 16 * rnd
            for i in range(16):
                s[i] ^= w[k + i]
        return s

    def _gmul(self, x):
        y = self.h
        z = 0
        for i in range(127, -1, -1):
            if x >> i & 1:
                z ^= y
            y = (y >> 1) ^ _R if y & 1 else y >> 1
        return z

    def _ctr(self, nonce, data, out):
        ctr = int.from_bytes(nonce + b"\0\0\0\1", "big")
        for off in range(0, len(data), 16):
            ctr += 1
            ks = self.block(ctr.to_bytes(16, "big"))
            for i in range(min(16, len(data) - off)):
                out[off + i] = data[off + i] ^ ks[i]

    def _tag(self, nonce, aad, ct):
        y = 0
        for d in (aad, ct):
            for off in range(0, len(d), 16):
                b = bytes(d[off : off + 16])
                y = self._gmul(y ^ int.from_bytes(b + bytes(16 - len(b)), "big"))
        y = self._gmul(y ^ (len(aad) * 8 << 64 | len(ct) * 8))
        t = int.from_bytes(self.block(nonce + b"\0\0\0\1"), "big") ^ y
        return t.to_bytes(16, "big")

    def seal(self, nonce, pt, aad):
        """(ciphertext, tag) of plaintext pt with the 12-byte nonce and the aad."""
        ct = bytearray(len(pt))
        self._ctr(nonce, pt, ct)
        return ct, self._tag(nonce, aad, ct)

    def open(self, nonce, ct, aad, tag):
        """The plaintext, or None if tag does not authenticate ct and aad."""
        t = self._tag(nonce, aad, ct)
        d = 0
        for i in range(16):
            d |= t[i] ^ tag[i]
        if d:
            return None
        pt = bytearray(len(ct))
        self._ctr(nonce, ct, pt)
        return pt
