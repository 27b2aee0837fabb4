"""The emulator: a fake of the cloud for tests, benchmarks and demos; it imports nothing else of worker.

One core (``core/``: the request pipeline, errors, sign-in, tasks, faults, server) and two API faces side
by side (``csbs/``, ``cbr/``), named in ``registry.py``; ``cli.py`` serves either, and ``fleet.py`` serves
several on one per-user task board. This package's names are the CSBS face's, as they were before the CBR
face came (``worker.emulator.cbr`` has the CBR ones).
"""

from worker.emulator.cli import add_arguments, run
from worker.emulator.core.errors import ERROR_SHAPES
from worker.emulator.core.scenario import AccessKey, IamUser, ScenarioError
from worker.emulator.core.server import serve
from worker.emulator.core.stats import Stats
from worker.emulator.csbs import Emulator, FaultRule, OddStatus, Scenario

__all__ = [
    "ERROR_SHAPES",
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
