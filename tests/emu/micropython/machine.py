# SPDX-License-Identifier: Apache-2.0
# Test stand-in for MicroPython's machine module on the unix port: reset() ends the process
# with RESET_EXIT_CODE, and the harness (run_device.sh) boots the flash and starts it again.
import sys

RESET_EXIT_CODE = 42


def reset():
    print("machine.reset()")
    sys.exit(RESET_EXIT_CODE)
