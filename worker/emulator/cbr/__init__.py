"""The CBR emulator: its own routes under ``/v3``, its own state; it imports nothing of worker outside
``worker.emulator``."""

from worker.emulator.cbr.app import CbrEmulator
from worker.emulator.cbr.scenario import CbrFaultRule, CbrScenario
from worker.emulator.cbr.server import serve

__all__ = ["CbrEmulator", "CbrFaultRule", "CbrScenario", "serve"]
