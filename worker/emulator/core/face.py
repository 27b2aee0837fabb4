"""An API face as the ``emulator`` command serves it: its scenario, the flags it takes, how it starts.

Each face describes itself in one ``FACE`` (``csbs/face.py``, ``cbr/face.py``); the registry
(``worker.emulator.registry``) names them, and the command (``worker.emulator.cli``) builds and serves
whichever ``--service`` names, without knowing either.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from worker.emulator.core.scenario import BaseFaultRule
from worker.emulator.core.server import Served

Started = tuple[Served, str]
"""A started emulator and what it holds, for the banner (e.g. "12 backups in 5 records")."""
PlanTasks = Sequence[tuple[str, str | None]]
"""A plan's tasks as (container id, backup id or None for a whole record)."""


class SeedTasks(Protocol):
    """(emulator, a plan's tasks, project or None for the scenario's) -> those backups added there."""

    def __call__(self, emulator: Any, tasks: PlanTasks, project: str | None = None) -> object: ...


class SeedRandom(Protocol):
    """(emulator, how many, project or None for the scenario's) -> that many random backups (or records)
    added there; returns what it added, for the banner."""

    def __call__(self, emulator: Any, n: int, project: str | None = None) -> str: ...


@dataclass(frozen=True)
class Face:
    """What the command needs of a face.

    Args:
        title: its name in messages (``CSBS``).
        about: the service's long name, for ``--help``.
        scenario: its scenario class (``from_mapping``; the fields ``tokens``, ``users``, ``access_keys``,
            ``faults``).
        fault_rule: its fault rule class, for ``--fault``.
        example: the scenario file that documents its keys.
        flag_fields: the command's behaviour flags (argparse ``dest``) it takes -> its scenario's field.
        emulator: its emulator class: ``(scenario, seed=, clock=, wall_clock=, board=)``.
        seed_random: random backups (or records) in one project (``SeedRandom``).
        seed_tasks: a plan's backups in one project (``SeedTasks``), for the demos of ``--emulator``.
        endpoint: settings the endpoint line of the banner adds before ``CSBS_ENDPOINT`` (e.g. the service).
    """

    title: str
    about: str
    scenario: Any
    fault_rule: Callable[..., BaseFaultRule]
    example: str
    flag_fields: Mapping[str, str]
    emulator: Callable[..., Served]
    seed_random: SeedRandom
    seed_tasks: SeedTasks
    endpoint: str = ""

    def start(self, scenario: Any, seed: int, records: int) -> Started:
        """An emulator of ``scenario`` with ``records`` random backups (or records) in each of its projects;
        what it holds is told for the scenario's own project."""
        emulator = self.emulator(scenario, seed=seed)
        holds = self.seed_random(emulator, records)
        others = sorted(scenario.served_projects - {scenario.project_id})
        for project in others:
            self.seed_random(emulator, records, project)
        return emulator, holds + (f"; as many in each of {', '.join(others)}" if others else "")
