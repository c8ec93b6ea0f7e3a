# SPDX-License-Identifier: Apache-2.0
# micropython.codecs: the MicroPython agent's pure parts on the real interpreter, against the
# examples of docs/PROTOCOL.md and the fixture images (run by test_codecs.sh):
#   proto   ACK and TELEMETRY bytes equal PROTOCOL.md's examples; a CHUNK with a bad CRC, a
#           wrong length or a wrong type is refused; an OFFER round trip, truncated and with
#           trailing bytes; the manifest's layout (section 5.1), and a file release's
#           manifest's bytes (the known answer of unit.test_manifest)
#   store   a record round trip; a flipped byte, a wrong version or a short file reads absent
#   image   every fixture image passes the structure check fed in 4 KiB blocks; one flipped
#           byte in a segment fails it (appended SHA-256), and with that hash made again, the
#           XOR checksum alone fails it; a truncated image fails
#   ecdsa   a verification of an OpenSSL signature, and its refusal with r changed
#   gcm     AES-256-GCM: the GCM specification's test cases 13 and 14 (zero key and nonce);
#           open() returns the plaintext, and None with a changed tag, ciphertext or aad
#   files   the bundle of PROTOCOL.md section 17.1's example is read and installed into new/;
#           the path rules; a swap, its restore, and a swap cut after its 2nd rename that the
#           next boot's recovery finishes (files.py)
import os
import struct
import sys
from binascii import crc32, unhexlify

from mqota import proto as P
from mqota.image import Check, app_desc
from mqota.store import PROG, Store

FIX = sys.argv[1]
TMP = sys.argv[2]
checks = 0


def ok(cond, what):
    global checks
    if not cond:
        print("FAIL:", what)
        sys.exit(1)
    checks += 1


# ---- proto
b = bytearray(P.ACK_LEN)
P.pack_ack(b, 0xA1B2C3D4, 0x01020304, 0x8877665544332211, 0xBEEF, 7, 0x01020310, 0x0A0B0C0D)
ok(bytes(b) == unhexlify("4d510104d4c3b2a1040302011122334455667788efbe070010030201" "0d0c0b0a"),
   "ACK bytes differ from PROTOCOL.md section 7's example")
t = bytearray(P.TELEMETRY_MAX_LEN)
n = P.pack_telemetry(t, 1000, [(b"temperature", 21.5), (b"humidity", 48.25)])
ok(bytes(t[:n]) == unhexlify("4d510107e80300000000000002" "0b74656d7065726174757265" "0000000000803540"
                             "0868756d6964697479" "0000000000204840"),
   "TELEMETRY bytes differ from PROTOCOL.md section 15's example")
for bad in ([(b"Temp", 1.0)], [(b"t", float("nan"))], [], [(b"a", 1)] * 17, [(b"x" * 16, 1)]):
    try:
        P.pack_telemetry(t, 0, bad)
        ok(False, "pack_telemetry took %r" % (bad,))
    except ValueError:
        ok(True, "")
data = bytes(range(256)) * 4
c = bytearray(b"MQ\x01\x03" + struct.pack("<IIII", 77, 3, len(data), crc32(data)) + data)
ok(P.decode_chunk(memoryview(c), len(c)) == (77, 3, 1024), "a good CHUNK is refused")
c[100] ^= 1
ok(P.decode_chunk(memoryview(c), len(c)) is None, "a CHUNK with a bad CRC is taken")
c[100] ^= 1
ok(P.decode_chunk(memoryview(c), len(c) - 1) is None, "a CHUNK shorter than its len is taken")
c[3] = 2
ok(P.decode_chunk(memoryview(c), len(c)) is None, "a CHUNK with type 2 is taken")
sha = bytes(range(32))
sig = bytes(range(80))
o = bytearray(b"MQ\x01\x02" + struct.pack("<IIIIHHII", 5, 6, 100000, 4096, 16, 0, 3, 0) + sha +
              b"\0\0\0\0" + b"\x051.2.3" + b"\x05hello" + struct.pack("<H", 80) + sig)
d = P.decode_offer(memoryview(o), len(o))
ok(d == (5, 6, 100000, 4096, 16, 0, 3, 0, sha, b"1.2.3", b"hello", sig), "OFFER decode: %r" % (d,))
ok(P.decode_offer(memoryview(o), len(o) - 1) is None, "a truncated OFFER is taken")
o2 = o + b"x"
ok(P.decode_offer(memoryview(o2), len(o2)) is None, "an OFFER with a trailing byte is taken")
m = P.manifest(d)
ok(len(m) == 62 + 6 + 6 and m[:4] == b"MQM1" and m[4:36] == sha and
   m[36:46] == struct.pack("<IHI", 100000, 0, 3) and m[46:62] == sig[:16] and
   m[62:] == b"\x05hello\x051.2.3", "manifest layout differs from section 5.1")
# a file release's manifest (section 5.1, "MQF1"): the known answer of unit.test_manifest, the
# offer of section 17.1's example bundle, version app-2, uid 00..0f
fsha = unhexlify("5da597b7ec396d9b03a7c5c485d3f1a116fcea142f7e1b595eee9387a54e4ee9")
fo = (9, 6, 73, 4096, 16, 0xFFFF, 0, 0x4 | 0x1, fsha, b"app-2", b"files", bytes(range(16)) + sig[16:])
fm = P.manifest(fo)
ok(bytes(fm) == unhexlify("4d514631" "5da597b7ec396d9b03a7c5c485d3f1a116fcea142f7e1b595eee9387a54e4ee9"
                          "49000000ffff0400000000000000" "000102030405060708090a0b0c0d0e0f"
                          "0566696c6573056170702d32"), "file release manifest differs: %r" % fm)

# ---- store
s = Store(TMP + "/store")
s.put(PROG, (1, 2, 3, 4096, 5, 1, sha))
ok(s.get(PROG) == (1, 2, 3, 4096, 5, 1, sha), "record round trip")
path = TMP + "/store/prog"
raw = bytearray(open(path, "rb").read())
ok(len(raw) == 68 and raw[:4] == b"MQPR" and raw[4] == 1 and raw[6] == 68, "MQPR frame")
for i, name in ((30, "a flipped byte"), (4, "version 2")):
    bad = bytearray(raw)
    bad[i] = bad[i] ^ 1 if i != 4 else 2
    open(path, "wb").write(bad)
    ok(s.get(PROG) is None, "a record with %s is read" % name)
open(path, "wb").write(raw[:67])
ok(s.get(PROG) is None, "a short record is read")

# ---- image
buf = bytearray(4096)
for name in ("idf_hello_world_esp32_2023.bin", "idf_hello_world_esp32_2024.bin",
             "arduino_nerdminer_esp32_v1.6.3.bin", "idf_blink_esp32s2.bin"):
    size = os.stat(FIX + "/" + name)[6]
    for flip in (-1, 40000, size - 1):
        chk = Check()
        with open(FIX + "/" + name, "rb") as f:
            off = 0
            while True:
                k = f.readinto(buf)
                if not k:
                    break
                mv = memoryview(buf)[:k]
                if off <= flip < off + k:
                    buf[flip - off] ^= 0x10
                if off == 0:
                    head = app_desc(mv[:288])
                chk.feed(mv)
                off += k
        why = chk.result()
        if flip < 0:
            ok(why is None and head is not None, "%s refused: %s" % (name, why))
        else:
            ok(why is not None, "%s with byte %d flipped passes" % (name, flip))
    chk = Check()
    with open(FIX + "/" + name, "rb") as f:
        chk.feed(memoryview(buf)[: f.readinto(buf)])
    ok(size <= 4096 or chk.result() == "truncated", "%s cut to 4 KiB passes" % name)
ok(app_desc(bytes(288)) is None, "a zero head parses as an application image")
# the XOR checksum on its own: a flipped byte with the appended SHA-256 made again
import hashlib  # noqa: E402

img = bytearray(open(FIX + "/idf_hello_world_esp32_2023.bin", "rb").read())
ok(img[23] == 1, "the 2023 image has no appended SHA-256")
img[40000] ^= 0x10
img[-32:] = hashlib.sha256(img[:-32]).digest()
chk = Check()
for off in range(0, len(img), 4096):
    chk.feed(memoryview(img)[off : off + 4096])
ok(chk.result() == "checksum mismatch", "a checksum error is not seen: %s" % chk.result())

# ---- ecdsa: a P-256 signature made with OpenSSL (key, digest, r||s below)
from mqota import ecdsa  # noqa: E402

pub = unhexlify(sys.argv[3])
digest = unhexlify(sys.argv[4])
rs = unhexlify(sys.argv[5])
ok(ecdsa.verify(pub, digest, rs), "a valid signature does not verify")
ok(not ecdsa.verify(pub, digest, rs[:31] + bytes([rs[31] ^ 1]) + rs[32:]), "r changed verifies")
ok(not ecdsa.verify(pub, bytes(32), rs), "another digest verifies")
ok(not ecdsa.verify(pub[:32] + bytes(32), digest, rs), "a point off the curve is accepted")
# ---- gcm
from mqota.gcm import Key  # noqa: E402

k = Key(bytes(32))
ct, tag = k.seal(bytes(12), b"", b"")
ok(tag == unhexlify("530f8afbc74536b9a963b4f1c4cb738b"), "GCM test case 13 tag")
ct, tag = k.seal(bytes(12), bytes(16), b"")
ok(ct == unhexlify("cea7403d4d606b6e074ec5d3baf39d18") and
   tag == unhexlify("d0d1c8a799996bf0265b98b5d48ab919"), "GCM test case 14")
k = Key(bytes(range(32)))
pt = b"relay on, a sealed command of more than one block"
ct, tag = k.seal(b"n" * 12, pt, b"header and device id")
ok(k.open(b"n" * 12, ct, b"header and device id", tag) == pt, "open() of a sealed frame")
ok(k.open(b"n" * 12, ct, b"header and device iD", tag) is None, "open() with another aad")
ct2 = bytearray(ct)
ct2[20] ^= 1
ok(k.open(b"n" * 12, ct2, b"header and device id", tag) is None, "open() of a changed ciphertext")
ok(k.open(b"n" * 12, ct, b"header and device id", tag[:15] + bytes([tag[15] ^ 1])) is None,
   "open() with a changed tag")
# ---- files
from mqota import files as F  # noqa: E402

EX = unhexlify("4d51464201000100490000000000000000" [:32] + "0c000000" +
               "5457a7077005a76dd3f561d992277ec12bfdc3239fa5c120d2e9814536e4f92b" + "0700" +
               "6d61696e2e7079" + "56455253494f4e203d20320a")
ok(len(EX) == 73, "the section 17.1 example is 73 bytes")
root = TMP + "/app"
os.mkdir(root)
fs = F.Files(root, root + "/mqota")
os.mkdir(root + "/mqota")
with open(root + "/main.py", "w") as f:
    f.write("VERSION = 1\n")
with open(root + "/keep.txt", "w") as f:
    f.write("kept\n")
with open(fs.bundle, "wb") as f:
    f.write(EX)
import hashlib  # noqa: E402

buf = memoryview(bytearray(4096))
paths, why = fs.install(hashlib.sha256(EX).digest(), buf)
ok(why is None and paths == [b"main.py"], "the section 17.1 example installs: %r" % (why,))
paths2, why = fs.install(bytes(32), buf)
ok(why is not None and why[0] == 5, "a bundle hash other than the offer's is hash-mismatch")
for bad in (b"../x", b"/x", b"a//b", b"a/./b", b"x/", b"a\\b", b"mqota/prog", b"\xff.py", b""):
    ok(F.check_path(bad) is not None, "path %r refused" % bad)
for good in (b"main.py", b"lib/util.py", b".hidden", b"lib/..x"):
    ok(F.check_path(good) is None, "path %r taken" % good)


def read(p):
    with open(root + "/" + p) as f:
        return f.read()


fs.swap(7, 9, b"app-2", paths)
ok(read("main.py") == "VERSION = 2\n" and read("keep.txt") == "kept\n", "the swap put main.py in")
ok(fs.state()[0] == F.SWAPPED, "the journal says SWAPPED after a swap")
fs.restore(8)
ok(read("main.py") == "VERSION = 1\n", "the restore put the old main.py back")
ok(fs.state()[:3] == (F.RESTORED, 8, 7), "the journal says RESTORED, reason 8, release 7")
fs.forget()
# a swap cut after its 2nd rename (the power cut): the next boot's recovery finishes it
with open(fs.bundle, "wb") as f:
    f.write(EX)
paths, why = fs.install(hashlib.sha256(EX).digest(), buf)
ok(why is None, "the example installs again")


class Cut(Exception):
    pass


def cut(n):
    if n == 1:
        raise Cut()


F.after_rename = cut
try:
    fs.swap(7, 9, b"app-2", paths)
    ok(False, "the swap was not cut")
except Cut:
    pass
F.after_rename = None
ok(fs.state()[0] == F.SWAP and not F._exists(root + "/main.py"), "cut between the two renames")
ok(F.Files(root, root + "/mqota").boot()[0] == F.BOOTED, "the boot finishes the swap: BOOTED")
ok(read("main.py") == "VERSION = 2\n", "the new main.py is in place after the boot")
ok(F.Files(root, root + "/mqota").boot()[:2] == (F.RESTORED, F.R_RESET),
   "a second boot before the verdict restores the old set (reason reset)")
ok(read("main.py") == "VERSION = 1\n", "the old main.py is back")

# a power cut after every rename of a swap (a sweep): the next boot always finds the whole new
# set; after every rename of the restore that follows: the whole old set


def tree(top):
    out = {}
    for e in os.ilistdir(top):
        p = top + "/" + e[0]
        if e[0] == "mqota":
            continue
        if e[1] & 0x4000:
            for k, v in tree(p).items():
                out[e[0] + "/" + k] = v
        else:
            with open(p, "rb") as f:
                out[e[0]] = f.read()
    return out


V1 = {"main.py": b"VERSION = 1\n", "lib/util.py": b"u1", "lib/gone.py": b"g", "config.txt": b"c1"}
V2 = {"main.py": b"VERSION = 2\n", "lib/util.py": b"u2", "lib/new.py": b"n", "config.txt": b"c1"}


def bundle(files):
    table = data = b""
    for p in sorted(files):
        d = files[p]
        table += struct.pack("<I", len(d)) + hashlib.sha256(d).digest() + bytes((len(p), 0)) + p.encode()
        data += d
    total = 16 + len(table) + len(data)
    return b"MQFB" + bytes((1, 0)) + struct.pack("<HII", len(files), total, 0) + table + data


def fresh(k):
    r = TMP + "/sweep%d" % k
    os.mkdir(r)
    os.mkdir(r + "/lib")
    os.mkdir(r + "/mqota")
    for p, d in V1.items():
        with open(r + "/" + p, "wb") as f:
            f.write(d)
    fs = F.Files(r, r + "/mqota")
    # lib/gone.py came with the confirmed file release: the new one removes it
    with open(fs.fset, "wb") as f:
        f.write(F._encode(F.S_MAGIC, 0, 0, 1, 1, b"v1", [(F.F_NEW, p.encode()) for p in V1]))
    with open(fs.bundle, "wb") as f:
        f.write(bundle(V2))
    paths, why = fs.install(hashlib.sha256(bundle(V2)).digest(), buf)
    ok(why is None, "sweep bundle installs: %r" % (why,))
    return r, fs, paths


def cut_at(at):
    def hook(n):
        if n == at:
            raise Cut()
    return hook


renames = 0
k = 0
while True:
    k += 1
    r, fs, paths = fresh(k)
    F.after_rename = cut_at(k)
    try:
        fs.swap(7, 9, b"app-2", paths)
        F.after_rename = None
        renames = k - 1
        break
    except Cut:
        pass
    F.after_rename = None
    ok(F.Files(r, r + "/mqota").boot()[0] == F.BOOTED, "cut after rename %d: boot finishes the swap" % k)
    ok(tree(r) == V2, "cut after rename %d of the swap: the new set, whole: %r" % (k, tree(r)))
ok(renames == 8, "the swap of 4 new paths (3 replacing) and 1 removed path takes 8 renames, not %d" % renames)
ok(tree(r) == V2, "an uncut swap leaves the new set")
# the restore, cut after each of its renames, then finished by the next boot
k = 0
while True:
    k += 1
    r, fs, paths = fresh(100 + k)
    fs.swap(7, 9, b"app-2", paths)
    F.Files(r, r + "/mqota").boot()  # SWAPPED -> BOOTED, as the new set's boot does
    F.after_rename = cut_at(k)
    try:
        fs.restore(8)
        F.after_rename = None
        break
    except Cut:
        pass
    F.after_rename = None
    st = F.Files(r, r + "/mqota").boot()
    ok(st[0] == F.RESTORED and st[1] == 8, "restore cut after rename %d: the boot finishes it (%r)" % (k, st))
    ok(tree(r) == V1, "restore cut after rename %d: the old set, whole: %r" % (k, tree(r)))
ok(k - 1 == 4, "the restore of 4 replaced or removed paths takes 4 renames, not %d" % (k - 1))
ok(tree(r) == V1, "an uncut restore leaves the old set")
print("%d checks passed" % checks)
