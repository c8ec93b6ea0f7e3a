# SPDX-License-Identifier: Apache-2.0
# ECDSA P-256 signature verification (FIPS 186-4, SEC 1 4.1.4) in pure Python on MicroPython's
# big integers, for signed offers (docs/PROTOCOL.md section 5.1). It checks a public signature
# against a public key: no secret is handled, so timing side channels do not matter here.
# Cost: bench/micropython/run.sh (docs/PERFORMANCE.md "MicroPython agent").
P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
B = 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B
G = (0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296,
     0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5, 1)


def _dbl(p):
    # Jacobian doubling with a = -3; None is the point at infinity
    if p is None or p[1] == 0:
        return None
    x, y, z = p
    ys = y * y % P
    s = 4 * x * ys % P
    zs = z * z % P
    m = 3 * (x - zs) * (x + zs) % P
    x3 = (m * m - 2 * s) % P
    return x3, (m * (s - x3) - 8 * ys * ys) % P, 2 * y * z % P


def _add(p, q):
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
        return _dbl(p) if s1 == s2 else None
    h, r = (u2 - u1) % P, (s2 - s1) % P
    h2 = h * h % P
    h3 = h2 * h % P
    x3 = (r * r - h3 - 2 * u1 * h2) % P
    return x3, (r * (u1 * h2 - x3) - s1 * h3) % P, h * z1 * z2 % P


def verify(pub, digest, sig):
    """True if sig (64 bytes: r then s, big-endian) is a valid ECDSA P-256 signature of the
    32-byte SHA-256 digest under pub (64 bytes: the public point's x then y, big-endian, as
    the last 64 bytes of the key's DER SubjectPublicKeyInfo). False for any invalid input."""
    if len(pub) != 64 or len(sig) != 64 or len(digest) != 32:
        return False
    qx = int.from_bytes(pub[:32], "big")
    qy = int.from_bytes(pub[32:], "big")
    if qx >= P or qy >= P or (qy * qy - qx * qx * qx + 3 * qx - B) % P:
        return False  # not a point of the curve
    r = int.from_bytes(sig[:32], "big")
    s = int.from_bytes(sig[32:], "big")
    if not (1 <= r < N and 1 <= s < N):
        return False
    w = pow(s, N - 2, N)
    u1 = int.from_bytes(digest, "big") * w % N
    u2 = r * w % N
    q = (qx, qy, 1)
    both = _add(G, q)
    acc = None
    for i in range(255, -1, -1):  # u1*G + u2*Q, one pass (Shamir's trick)
        acc = _dbl(acc)
        b = (u1 >> i & 1) | (u2 >> i & 1) << 1
        if b:
            acc = _add(acc, (G, q, both)[b - 1])
    if acc is None:
        return False
    x, _, z = acc
    return x * pow(z * z % P, P - 2, P) % P % N == r
