"""The CSBS face of the emulator: its routes under ``/v1``, its backups and records, its errors and scenario;
it imports nothing of worker outside ``worker.emulator.core``."""

from worker.emulator.core.server import serve
from worker.emulator.csbs.app import Emulator, Record
from worker.emulator.csbs.scenario import CSBS_PROVIDER_ID, FaultRule, OddStatus, Scenario

__all__ = ["CSBS_PROVIDER_ID", "Emulator", "FaultRule", "OddStatus", "Record", "Scenario", "serve"]
