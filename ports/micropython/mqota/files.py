# SPDX-License-Identifier: Apache-2.0
# File releases on the device (docs/PROTOCOL.md section 17, docs/MICROPYTHON.md "File
# updates"): the bundle received into the records directory, its files checked and written
# beside the old ones, then swapped in under a journal so that a power cut at any instant
# leaves the old set or the new set, never a mix:
#
#   STORE/bundle      the bundle as received (written at chunk offsets, any order)
#   STORE/new/PATH    the new files, each checked against its SHA-256
#   STORE/old/PATH    the files the swap replaced or removed, kept until the new set confirms
#   STORE/journal     the swap's record (phase, release, the paths and whether each existed)
#   STORE/fset        the paths of the confirmed file release (a later release removes those
#                     it no longer lists)
#
# Every step is a rename on one filesystem (one step on littlefs and FAT) or a journal
# rewritten through NAME.tmp and a rename, and every step is idempotent: recover() at boot
# (boot.py, or the Agent) finishes whichever of the swap or the restore the journal names.
import hashlib
import os
import struct
from binascii import crc32

MAGIC = b"MQFB"
VERSION = 1
HEADER_LEN = 16
ENTRY_LEN = 38  # size u32, sha256 32, path_len u8, reserved u8
MAX_FILES = 64
PATH_MAX = 96
MAX_BUNDLE = 1048576
BLOCK = 4096

# journal phases
SWAP = 1  # the new files are checked in new/; being swapped in (finished forward at boot)
SWAPPED = 2  # the new set is in place; the next boot runs it pending-verify
BOOTED = 3  # the new set booted; its self-test decides (a reset now restores the old set)
RESTORE = 4  # the old set is being put back (finished at boot)
RESTORED = 5  # the old set is back; the agent reports rolled-back with the reason
J_MAGIC = b"MQFJ"
S_MAGIC = b"MQFS"
F_EXISTED = 1  # the path existed before the swap: its old file goes to old/ and comes back
F_NEW = 2  # the path is in the new set

R_RESET = 10  # section 8.2: the device reset before the new set was confirmed

after_rename = None  # test hook: called with the count of renames done by a swap or a restore


def check_path(p):
    """None if p (bytes) is a path a bundle may carry (section 17), else why not."""
    n = len(p)
    if n == 0 or n > PATH_MAX:
        return "length"
    for c in p:
        if c < 0x20 or c == 0x7F or c == 0x5C:
            return "control byte, NUL or backslash"
    try:
        p.decode("utf-8")
    except UnicodeError:
        return "not UTF-8"
    if p[0] == 0x2F or p[-1] == 0x2F:
        return "leading or trailing '/'"
    parts = p.split(b"/")
    for c in parts:
        if c in (b"", b".", b".."):
            return "empty, '.' or '..' component"
    if len(parts) > 1 and parts[0] == b"mqota":
        return "under mqota/"
    return None


def _exists(p):
    try:
        os.stat(p)
        return True
    except OSError:
        return False


def _is_dir(p):
    try:
        return os.stat(p)[0] & 0x4000 != 0
    except OSError:
        return False


def _makedirs(path):
    # the directories above file path `path`
    i = path.rfind("/")
    if i <= 0:
        return
    d = path[:i]
    if _is_dir(d):
        return
    _makedirs(d)
    try:
        os.mkdir(d)
    except OSError:
        pass  # made meanwhile


def _rmtree(p):
    if not _exists(p):
        return
    if _is_dir(p):
        for e in os.ilistdir(p):
            _rmtree(p + "/" + e[0])
        os.rmdir(p)
    else:
        os.remove(p)


def _remove(p):
    try:
        os.remove(p)
    except OSError:
        pass


def _encode(magic, phase, reason, rel, dep, version, entries):
    # journal / file-set record: magic, version 1, phase, reason, 0, release, deployment,
    # count, version str, then (flags, path) per entry, then CRC-32 of all before
    b = bytearray(magic + bytes((1, phase, reason, 0)))
    b += struct.pack("<IIHB", rel, dep, len(entries), len(version)) + version
    for flags, p in entries:
        b += bytes((flags, len(p))) + p
    return b + struct.pack("<I", crc32(b))


def _decode(b, magic):
    # (phase, reason, rel, dep, version, [(flags, path bytes)]) or None if damaged
    if b is None or len(b) < 23 or b[0:4] != magic or b[4] != 1:
        return None
    if struct.unpack_from("<I", b, len(b) - 4)[0] != crc32(memoryview(b)[:-4]):
        return None
    phase, reason = b[5], b[6]
    rel, dep, n, vl = struct.unpack_from("<IIHB", b, 8)
    off = 19
    version = bytes(b[off : off + vl])
    off += vl
    entries = []
    for _ in range(n):
        flags, pl = b[off], b[off + 1]
        entries.append((flags, bytes(b[off + 2 : off + 2 + pl])))
        off += 2 + pl
    if off != len(b) - 4:
        return None
    return phase, reason, rel, dep, version, entries


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def _write(path, b):
    # atomically: NAME.tmp, then a rename over NAME
    with open(path + ".tmp", "wb") as f:
        f.write(b)
    os.rename(path + ".tmp", path)


class Files:
    """The file releases of an application rooted at `root` ("/" on a board), staged in the
    records directory `store` (on the same filesystem)."""

    def __init__(self, root, store):
        self.root = root.rstrip("/")
        self.store = store
        self.bundle = store + "/bundle"
        self.journal = store + "/journal"
        self.fset = store + "/fset"
        self.new = store + "/new/"
        self.old = store + "/old/"
        # the records directory as a path under root, refused as a file path
        s = store.rstrip("/")
        self.store_rel = s[len(self.root) + 1 :].encode() if s.startswith(self.root + "/") else None

    def _p(self, rel):
        return self.root + "/" + rel.decode()

    # ---- staging -------------------------------------------------------------------------

    def stage(self, resume):
        """Open the bundle file for a transfer (kept as it is to resume, else emptied with the
        staging directories); returns the file, opened for writing at any offset."""
        if not resume:
            _rmtree(self.new[:-1])
            _rmtree(self.old[:-1])
            _remove(self.bundle)
        if not _exists(self.bundle):
            open(self.bundle, "wb").close()
        return open(self.bundle, "r+b")

    def install(self, sha, buf):
        """Check the received bundle (its SHA-256 against the offer's sha, then every byte of
        its manifest and every file's SHA-256) and write its files to new/, streaming through
        buf (a 4 KiB memoryview). Returns (entries, None) or (None, (reason, why))."""
        h = hashlib.sha256()
        try:
            with open(self.bundle, "rb") as f:
                while True:
                    n = f.readinto(buf)
                    if not n:
                        break
                    h.update(buf[:n])
        except OSError:
            return None, (4, "cannot read the bundle")
        if h.digest() != sha:
            return None, (5, "bundle SHA-256 mismatch")
        try:
            with open(self.bundle, "rb") as f:
                entries = self._manifest(f)
                if isinstance(entries, str):
                    return None, (6, "bundle refused: " + entries)
                for path, size, fsha in entries:
                    why = self._extract(f, path, size, fsha, buf)
                    if why:
                        return None, why
        except OSError:
            return None, (4, "cannot write the new files")
        return [e[0] for e in entries], None

    def _manifest(self, f):
        # the bundle's entries [(path, size, sha)], or why it is refused (section 17's rules)
        hd = f.read(HEADER_LEN)
        if len(hd) != HEADER_LEN or hd[0:4] != MAGIC or hd[4] != VERSION or hd[5] != 0:
            return "header"
        count, total, res = struct.unpack_from("<HII", hd, 6)
        size = f.seek(0, 2)
        f.seek(HEADER_LEN)
        if res or not 1 <= count <= MAX_FILES or total != size or total > MAX_BUNDLE:
            return "header fields"
        entries = []
        data = 0
        seen = []
        for i in range(count):
            e = f.read(ENTRY_LEN)
            if len(e) != ENTRY_LEN or e[37] != 0:
                return "entry %d" % (i + 1)
            ln = struct.unpack_from("<I", e, 0)[0]
            p = f.read(e[36])
            if len(p) != e[36]:
                return "entry %d" % (i + 1)
            why = check_path(p)
            if why is None and self.store_rel is not None and (
                    p == self.store_rel or p.startswith(self.store_rel + b"/")):
                why = "under the records directory"
            if why:
                return "path of file %d: %s" % (i + 1, why)
            low = p.lower()
            for q in seen:
                if q == low or q.startswith(low + b"/") or low.startswith(q + b"/"):
                    return "path of file %d twice or a directory of another" % (i + 1)
            seen.append(low)
            entries.append((p, ln, bytes(e[4:36])))
            data += ln
        if f.tell() + data != total:
            return "data length"
        return entries

    def _extract(self, f, path, size, fsha, buf):
        # copy `size` bytes from f to new/path, hashing them
        dst = self.new + path.decode()
        _makedirs(dst)
        h = hashlib.sha256()
        with open(dst, "wb") as o:
            left = size
            while left:
                n = f.readinto(buf[: min(BLOCK, left)])
                if not n:
                    return (6, "bundle cut short")
                h.update(buf[:n])
                o.write(buf[:n])
                left -= n
        if h.digest() != fsha:
            return (5, "SHA-256 mismatch of " + path.decode())
        return None

    # ---- swap, restore, commit ------------------------------------------------------------

    def swap(self, rel, dep, version, paths):
        """Swap the checked new files in: journal SWAP (each path of the new set and of the
        confirmed set, and whether it exists now), the renames, journal SWAPPED. Raises
        OSError if the filesystem fails before the journal is written (nothing changed)."""
        old = _decode(_read(self.fset), S_MAGIC)
        entries = []
        for p in paths:
            entries.append(((F_EXISTED if _exists(self._p(p)) else 0) | F_NEW, p))
        if old is not None:
            for _, p in old[5]:
                if p not in paths and _exists(self._p(p)):
                    entries.append((F_EXISTED, p))
        _rmtree(self.old[:-1])
        _write(self.journal, _encode(J_MAGIC, SWAP, 0, rel, dep, version, entries))
        self._forward(entries)
        _write(self.journal, _encode(J_MAGIC, SWAPPED, 0, rel, dep, version, entries))

    def _forward(self, entries):
        # the swap's renames, each done only if not done yet (a restart repeats this)
        n = 0
        for flags, p in entries:
            cur, new, old = self._p(p), self.new + p.decode(), self.old + p.decode()
            if flags & F_NEW and not _exists(new):
                continue  # this one is in place
            if flags & F_EXISTED and _exists(cur) and not _exists(old):
                _makedirs(old)
                os.rename(cur, old)
                n += 1
                if after_rename:
                    after_rename(n)
            if flags & F_NEW:
                _makedirs(cur)
                os.rename(new, cur)
                n += 1
                if after_rename:
                    after_rename(n)

    def _back(self, entries):
        # the restore: every old file back, every file that did not exist removed
        n = 0
        for flags, p in entries:
            cur, old = self._p(p), self.old + p.decode()
            if flags & F_EXISTED:
                if _exists(old):
                    _remove(cur)
                    _makedirs(cur)
                    os.rename(old, cur)
                    n += 1
                    if after_rename:
                        after_rename(n)
            else:
                _remove(cur)

    def restore(self, reason):
        """Put the old set back (journal RESTORE with the reason, the renames, RESTORED)."""
        j = _decode(_read(self.journal), J_MAGIC)
        if j is None:
            return
        _write(self.journal, _encode(J_MAGIC, RESTORE, reason, j[2], j[3], j[4], j[5]))
        self._back(j[5])
        _write(self.journal, _encode(J_MAGIC, RESTORED, reason, j[2], j[3], j[4], j[5]))

    def commit(self):
        """The new set is confirmed: the file-set record names it, the journal goes (the
        commit point), then old/ and the bundle."""
        j = _decode(_read(self.journal), J_MAGIC)
        if j is None:
            return
        paths = [(F_NEW, p) for f, p in j[5] if f & F_NEW]
        _write(self.fset, _encode(S_MAGIC, 0, 0, j[2], j[3], j[4], paths))
        _remove(self.journal)
        self.clean()

    def clean(self):
        """Remove what a finished update leaves: old/, new/, the bundle."""
        _rmtree(self.old[:-1])
        _rmtree(self.new[:-1])
        _remove(self.bundle)

    def forget(self):
        """The rolled-back update was reported: the journal and the staging go."""
        _remove(self.journal)
        self.clean()

    def state(self):
        """The journal as (phase, reason, release, deployment, version), or None."""
        j = _decode(_read(self.journal), J_MAGIC)
        return None if j is None else j[:5]

    def boot(self):
        """Once per boot, before the application's files are imported: finish a swap or a
        restore the journal names, count the new set's first boot, and restore the old set if
        the new one reset before its verdict. Returns state()."""
        j = _decode(_read(self.journal), J_MAGIC)
        if j is None:
            return None
        phase, reason, rel, dep, version, entries = j
        if phase == SWAP:
            self._forward(entries)
            phase = SWAPPED
        if phase == SWAPPED:
            _write(self.journal, _encode(J_MAGIC, BOOTED, 0, rel, dep, version, entries))
            return self.state()
        if phase == BOOTED:
            reason = R_RESET
            phase = RESTORE
        if phase == RESTORE:
            _write(self.journal, _encode(J_MAGIC, RESTORE, reason, rel, dep, version, entries))
            self._back(entries)
            _write(self.journal, _encode(J_MAGIC, RESTORED, reason, rel, dep, version, entries))
        return self.state()


def recover(root="/", store="/mqota"):
    """Call first in boot.py (before main.py imports the application's files); the Agent calls
    it too, and only the first call of a boot acts. Returns the journal's state. What this
    boot's call did is kept in the mqota package, not here, so that boot.py may drop this
    module after the call (unload()) and the Agent import it again."""
    import mqota

    done = getattr(mqota, "_files_booted", None)
    if done is None:
        done = mqota._files_booted = {}
    if store not in done:
        try:
            os.mkdir(store)
        except OSError:
            pass
        done[store] = Files(root, store).boot()
    return done[store]


def unload():
    """Drop this module (its code) from RAM, as boot.py does after recover(): the Agent
    imports it again only if a file update is in progress."""
    import sys

    import mqota

    sys.modules.pop("mqota.files", None)
    try:
        del mqota.files
    except AttributeError:
        pass
