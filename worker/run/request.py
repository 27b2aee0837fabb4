"""What the command line asks for, typed: the only thing ``cli.py`` hands to a run."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from worker.plan import Plan

EmbeddedCloud = Callable[[Plan, str, str], AbstractAsyncContextManager[tuple[str, str]]]
"""Starts an emulator of a service (csbs, cbr) seeded with a plan's backups in a project; yields (endpoint,
token)."""


class FleetCloud(Protocol):
    """The embedded emulators of a fleet: the local URL of each (service, endpoint), a token per user."""

    def url(self, service: str, endpoint: str) -> str: ...

    def token(self, user: str) -> str: ...


FleetSite = tuple[str, str, str, str, "Plan | None"]
"""(user, service, endpoint, project id, plan or None: a policy target) of one target of a fleet."""

EmbeddedFleet = Callable[[Sequence[FleetSite]], AbstractAsyncContextManager[FleetCloud]]
"""Starts one emulator per distinct (service, endpoint) of a fleet, sharing one per-user task board."""


@dataclass(frozen=True)
class DeleteRequest:
    """``csbs-worker delete``: ``flags`` holds every setting given on the command line (None = not given)."""

    flags: Mapping[str, Any]
    plans: Sequence[str] = ()
    plan_format: str = "auto"
    policy: str | None = None
    explain: str | None = None
    dry_run: bool = False
    emulator: bool = False
    emulator_scenario: str | None = None


@dataclass(frozen=True)
class PlanRequest:
    """``csbs-worker plan --policy FILE``."""

    flags: Mapping[str, Any]
    policy: str
    explain: str | None = None
    approvable: bool = False  # write an approvable plan (worker.plan.approval)
    valid_for: str | None = None  # how long it is valid (--valid-for, e.g. 24h); a day when not given


@dataclass(frozen=True)
class FleetRequest:
    """``csbs-worker fleet FLEET_FILE``."""

    flags: Mapping[str, Any]
    path: str
    shard: int | None = None
    user: str | None = None
    dry_run: bool = False
    emulator: bool = False
