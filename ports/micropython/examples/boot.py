# SPDX-License-Identifier: Apache-2.0
# boot.py for a board that takes mqota file releases (docs/MICROPYTHON.md "File updates"):
# before main.py imports anything, finish a file update's swap or restore that a reset or a
# power cut interrupted, so that main.py and lib/ are the old set or the new set, whole
# (docs/PROTOCOL.md section 17.2). The Agent calls it too; only the first call of a boot acts.
import mqota.files

mqota.files.recover("/", "/mqota")
