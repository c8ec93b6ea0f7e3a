# SPDX-License-Identifier: Apache-2.0
# What mqota's trust features cost in pure Python on MicroPython (docs/MICROPYTHON.md "Trust"):
# the agent's own ECDSA P-256 verification of a signed offer's manifest (section 5.1,
# mqota/ecdsa.py) and AES-256-GCM opening of a 1 KiB sealed command (section 14, mqota/gcm.py),
# each next to hashlib.sha256 over a 1 MiB image, which the agent does on every update (in C). Run by bench/micropython/run.sh,
# which passes a real OpenSSL signature:  micropython crypto_cost.py QX QY R S DIGEST  (hex)
# Correctness first: the signature must verify and a changed digest must not; AES-GCM must
# reproduce the GCM specification's test cases 13 and 14 (AES-256, zero key and IV).
import hashlib
import sys
import time

import ecdsa  # ports/micropython/mqota/ecdsa.py and gcm.py, on the path as top-level modules
from gcm import Key


def ms(f, *a):
    t = time.ticks_us()
    r = f(*a)
    return time.ticks_diff(time.ticks_us(), t) / 1000, r


pub = bytes.fromhex(sys.argv[1] + sys.argv[2])
rs = bytes.fromhex("%064x%064x" % (int(sys.argv[3], 16), int(sys.argv[4], 16)))
dg = bytes.fromhex(sys.argv[5])
t_ok, ok = ms(ecdsa.verify, pub, dg, rs)
_, bad = ms(ecdsa.verify, pub, bytes(32), rs)
assert ok and not bad, "ECDSA P-256: the signature must verify and another digest not"
k0 = Key(bytes(32))
assert k0.seal(bytes(12), b"", b"")[1] == bytes.fromhex("530f8afbc74536b9a963b4f1c4cb738b")
c, tg = k0.seal(bytes(12), bytes(16), b"")
assert c == bytes.fromhex("cea7403d4d606b6e074ec5d3baf39d18") and \
    tg == bytes.fromhex("d0d1c8a799996bf0265b98b5d48ab919"), "AES-256-GCM test case 14"
k = Key(b"k" * 32)
ct, tag = k.seal(b"n" * 12, bytes(1024 - 32), bytes(16 + 9))
t_gcm, pt = ms(k.open, b"n" * 12, ct, bytes(16 + 9), tag)
assert pt == bytes(1024 - 32), "AES-256-GCM open"
img = bytearray(4096)
t0 = time.ticks_us()
h = hashlib.sha256()
for _ in range(256):
    h.update(img)
h.digest()
t_sha = time.ticks_diff(time.ticks_us(), t0) / 1000
print("ecdsa_p256_verify_ms %.1f" % t_ok)
print("aes256gcm_open_1KiB_ms %.1f" % t_gcm)
print("sha256_1MiB_ms %.1f" % t_sha)
print("ratio_verify_to_sha256_1MiB %.1f" % (t_ok / t_sha))
print("ratio_gcm_to_sha256_1MiB %.1f" % (t_gcm / t_sha))
