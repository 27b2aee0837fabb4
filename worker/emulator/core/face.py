"""An API face as the ``emulator`` command serves it: its scenario, the flags it takes, how it starts.

Each face describes itself in one ``FACE`` (``csbs/face.py``, ``cbr/face.py``); the registry
(``worker.emulator.registry``) names them, and the command (``worker.emulator.cli``) builds and serves
whichever ``--service`` names, without knowing either.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from worker.emulator.core.scenario import BaseFaultRule
from worker.emulator.core.server import Served

Started = tuple[Served, str]
"""A started emulator and what it holds, for the banner (e.g. "12 backups in 5 records")."""


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
        start: (scenario, seed, how many random backups or records) -> the seeded emulator and what it holds.
        seed_tasks: (emulator, a plan's tasks as (container id, backup id or None)) -> those backups added,
            for the demo of ``delete --emulator``.
        endpoint: settings the endpoint line of the banner adds before ``CSBS_ENDPOINT`` (e.g. the service).
    """

    title: str
    about: str
    scenario: Any
    fault_rule: Callable[..., BaseFaultRule]
    example: str
    flag_fields: Mapping[str, str]
    start: Callable[[Any, int, int], Started]
    seed_tasks: Callable[[Any, Sequence[tuple[str, str | None]]], object]
    endpoint: str = ""
