"""The CSBS emulator: a fake of the cloud for tests, benchmarks and demos; it imports nothing else of worker."""

from worker.emulator.app import Emulator
from worker.emulator.cli import add_arguments, run
from worker.emulator.scenario import AccessKey, FaultRule, IamUser, OddStatus, Scenario, ScenarioError
from worker.emulator.server import serve
from worker.emulator.stats import Stats

__all__ = [
    "AccessKey",
    "Emulator",
    "FaultRule",
    "IamUser",
    "OddStatus",
    "Scenario",
    "ScenarioError",
    "Stats",
    "add_arguments",
    "run",
    "serve",
]
