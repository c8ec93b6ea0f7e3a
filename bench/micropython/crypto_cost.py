# SPDX-License-Identifier: Apache-2.0
# What mqota's trust features would cost in pure Python on MicroPython (docs/MICROPYTHON.md
# "Trust"): ECDSA P-256 verification of a signed offer's manifest (section 5.1) and AES-256-GCM
# opening of a 1 KiB sealed command (section 14), each next to hashlib.sha256 over a 1 MiB image,
# which the agent does on every update (in C, in the interpreter). Run by bench/micropython/run.sh,
# which passes a real OpenSSL signature:  micropython crypto_cost.py QX QY R S DIGEST  (hex)
# Correctness first: the signature must verify and a changed digest must not; AES-GCM must
# reproduce the GCM specification's test cases 13 and 14 (AES-256, zero key and IV).
import hashlib
import sys
import time

P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
A = P - 3
GX = 0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296
GY = 0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5


def inv(x, m):
    return pow(x, m - 2, m)


def jadd(p, q):
    # Jacobian point addition (None is the point at infinity)
    if p is None:
        return q
    if q is None:
        return p
    x1, y1, z1 = p
    x2, y2, z2 = q
    z1s, z2s = z1 * z1 % P, z2 * z2 % P
    u1, u2 = x1 * z2s % P, x2 * z1s % P
    s1, s2 = y1 * z2s * z2 % P, y2 * z1s * z1 % P
    if u1 == u2:
        return jdbl(p) if s1 == s2 else None
    h, r = (u2 - u1) % P, (s2 - s1) % P
    h2 = h * h % P
    h3 = h2 * h % P
    x3 = (r * r - h3 - 2 * u1 * h2) % P
    return x3, (r * (u1 * h2 - x3) - s1 * h3) % P, h * z1 * z2 % P


def jdbl(p):
    if p is None:
        return None
    x, y, z = p
    if y == 0:
        return None
    ys = y * y % P
    s = 4 * x * ys % P
    zs = z * z % P
    m = (3 * x * x + A * zs * zs) % P
    x3 = (m * m - 2 * s) % P
    return x3, (m * (s - x3) - 8 * ys * ys) % P, 2 * y * z % P


def mul2(k1, p1, k2, p2):
    # k1*p1 + k2*p2 (Shamir's trick)
    p12 = jadd(p1, p2)
    r = None
    for i in range(255, -1, -1):
        r = jdbl(r)
        b = (k1 >> i & 1) | (k2 >> i & 1) << 1
        if b:
            r = jadd(r, (p1, p2, p12)[b - 1])
    return r


def ecdsa_verify(qx, qy, r, s, e):
    if not (1 <= r < N and 1 <= s < N):
        return False
    w = inv(s, N)
    pt = mul2(e * w % N, (GX, GY, 1), r * w % N, (qx, qy, 1))
    if pt is None:
        return False
    x, y, z = pt
    return x * inv(z * z % P, P) % P % N == r


# AES-256 (FIPS-197) and GCM (SP 800-38D), encryption direction only (GCM needs no other)
SBOX = bytearray(256)


def _sbox():
    p = q = 1
    while True:
        p = p ^ (p << 1) ^ (0x1B if p & 0x80 else 0)
        p &= 0xFF
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


_sbox()


def xt(a):
    return ((a << 1) ^ 0x1B) & 0xFF if a & 0x80 else a << 1


def expand(key):
    w = bytearray(key)
    rc = 1
    while len(w) < 240:
        t = w[-4:]
        n = len(w) // 4
        if n % 8 == 0:
            t = bytearray((SBOX[t[1]] ^ rc, SBOX[t[2]], SBOX[t[3]], SBOX[t[0]]))
            rc = xt(rc)
        elif n % 8 == 4:
            t = bytearray(SBOX[b] for b in t)
        w += bytearray(w[-32 + i] ^ t[i] for i in range(4))
    return w


def aes(w, blk):
    s = bytearray(blk[i] ^ w[i] for i in range(16))
    for rnd in range(1, 15):
        s = bytearray(SBOX[s[(i + 4 * (i % 4)) % 16]] for i in range(16))  # SubBytes+ShiftRows
        if rnd < 14:
            m = bytearray(16)
            for c in range(0, 16, 4):
                a0, a1, a2, a3 = s[c], s[c + 1], s[c + 2], s[c + 3]
                t = a0 ^ a1 ^ a2 ^ a3
                m[c] = a0 ^ t ^ xt(a0 ^ a1)
                m[c + 1] = a1 ^ t ^ xt(a1 ^ a2)
                m[c + 2] = a2 ^ t ^ xt(a2 ^ a3)
                m[c + 3] = a3 ^ t ^ xt(a3 ^ a0)
            s = m
        k = 16 * rnd
        for i in range(16):
            s[i] ^= w[k + i]
    return s


R = 0xE1 << 120


def gmul(x, y):
    z = 0
    for i in range(127, -1, -1):
        if y >> i & 1:
            z ^= x
        x = (x >> 1) ^ R if x & 1 else x >> 1
    return z


def gcm_encrypt(key, iv, pt, aad):
    w = expand(key)
    h = int.from_bytes(aes(w, bytes(16)), "big")
    j0 = bytearray(iv + b"\0\0\0\1")
    ct = bytearray()
    ctr = int.from_bytes(j0, "big")
    for off in range(0, len(pt), 16):
        ctr += 1
        ks = aes(w, ctr.to_bytes(16, "big"))
        blk = pt[off : off + 16]
        ct += bytearray(blk[i] ^ ks[i] for i in range(len(blk)))
    y = 0
    for data in (aad, ct):
        for off in range(0, len(data), 16):
            b = bytes(data[off : off + 16])
            y = gmul(y ^ int.from_bytes(b + bytes(16 - len(b)), "big"), h)
    y = gmul(y ^ (len(aad) * 8 << 64 | len(ct) * 8), h)
    tag = int.from_bytes(aes(w, j0), "big") ^ y
    return bytes(ct), tag.to_bytes(16, "big")


def ms(f, *a):
    t = time.ticks_us()
    r = f(*a)
    return time.ticks_diff(time.ticks_us(), t) / 1000, r


qx, qy, r, s, e = (int(x, 16) for x in sys.argv[1:6])
t_ok, ok = ms(ecdsa_verify, qx, qy, r, s, e)
_, bad = ms(ecdsa_verify, qx, qy, r, s, e ^ 1)
assert ok and not bad, "ECDSA P-256: the signature must verify and the changed digest not"
k0 = bytes(32)
assert gcm_encrypt(k0, bytes(12), b"", b"")[1] == bytes.fromhex("530f8afbc74536b9a963b4f1c4cb738b")
c, tg = gcm_encrypt(k0, bytes(12), bytes(16), b"")
assert c == bytes.fromhex("cea7403d4d606b6e074ec5d3baf39d18") and \
    tg == bytes.fromhex("d0d1c8a799996bf0265b98b5d48ab919"), "AES-256-GCM test case 14"
t_gcm, _ = ms(gcm_encrypt, b"k" * 32, b"n" * 12, bytes(1024 - 32), bytes(16 + 9))
img = bytearray(4096)
t0 = time.ticks_us()
h = hashlib.sha256()
for _ in range(256):
    h.update(img)
h.digest()
t_sha = time.ticks_diff(time.ticks_us(), t0) / 1000
print("ecdsa_p256_verify_ms %.1f" % t_ok)
print("aes256gcm_1KiB_ms %.1f" % t_gcm)
print("sha256_1MiB_ms %.1f" % t_sha)
print("ratio_verify_to_sha256_1MiB %.1f" % (t_ok / t_sha))
print("ratio_gcm_to_sha256_1MiB %.1f" % (t_gcm / t_sha))
