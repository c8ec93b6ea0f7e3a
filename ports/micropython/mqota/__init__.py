# SPDX-License-Identifier: Apache-2.0
# mqota agent for MicroPython on the ESP32 (docs/MICROPYTHON.md): protocol v1 over umqtt.simple.
from .agent import Agent  # noqa: F401

__version__ = "0.1.0"
