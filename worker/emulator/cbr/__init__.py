"""The CBR face of the emulator: its routes under ``/v3``, its vaults, backups and delete logs, its errors
and scenario; it imports nothing of worker outside ``worker.emulator.core``."""

from worker.emulator.cbr.app import CbrEmulator
from worker.emulator.cbr.scenario import CbrFaultRule, CbrScenario
from worker.emulator.core.server import serve

__all__ = ["CbrEmulator", "CbrFaultRule", "CbrScenario", "serve"]
