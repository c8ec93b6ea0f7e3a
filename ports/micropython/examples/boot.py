# SPDX-License-Identifier: Apache-2.0
# boot.py for a board that takes mqota file releases (docs/MICROPYTHON.md "File updates"):
# before main.py imports anything, finish a file update's swap or restore that a reset or a
# power cut interrupted, so that main.py and lib/ are the old set or the new set, whole
# (docs/PROTOCOL.md section 17.2). The Agent calls it too; only the first call of a boot acts.
# files.py is imported only when a journal is there, so that its code takes no RAM otherwise.
import os

try:
    os.stat("/mqota/journal")
except OSError:
    pass
else:
    import gc

    import mqota.files

    mqota.files.recover("/", "/mqota")
    mqota.files.unload()  # the Agent imports it again while the update is pending
    gc.collect()
