"""What every face's emulator is made of: its clocks, stats, seeded randomness, credentials and pipeline.

A face's emulator (``csbs.Emulator``, ``cbr.CbrEmulator``) extends ``BaseEmulator`` with its store, its
routes and its seeding; the base builds the rest the same way for both, so both are deterministic under
a seed and an injected clock.

An emulator serves every project of its scenario (``served_projects``), one store each, as a regional
endpoint does; all its stores queue their deletions on one ``TaskBoard``, its own or one shared with
other emulators of the process (``worker.emulator.fleet``).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Generic, Protocol, TypeVar

from aiohttp import web

from worker.emulator.core.auth import Authenticator
from worker.emulator.core.faults import FaultInjector
from worker.emulator.core.pipeline import Door, Pipeline
from worker.emulator.core.routes import Handler, RouteTable, add_routes, sign_in
from worker.emulator.core.scenario import BaseFaultRule, BaseScenario
from worker.emulator.core.stats import Stats
from worker.emulator.core.tasks import TaskBoard
from worker.emulator.core.timebase import Clock, TimeBase, as_utc


class Store(Protocol):
    """What the base asks of a face's store: to replay its deletions up to now (``advance``)."""

    def advance(self) -> float: ...

    def replace_identity(self, backup_id: str, created_at: datetime | None, resource_id: str | None) -> None: ...


S = TypeVar("S", bound=BaseScenario)
T = TypeVar("T", bound=Store)


class BaseEmulator(Generic[S, T]):
    """The parts of an emulator both faces build alike.

    Args:
        scenario: how the cloud behaves.
        faults: its fault rules.
        store: makes the face's store of one project from the project id, the clocks, its seeded
            randomness, the stats and the task board.
        door: the face's decisions in the pipeline.
        seed: seeds every random choice (backups, task durations and fates, fault coin tosses); ``label``
            keeps one face's draws apart from the other's.
        slots_per_user: deletions that run at once per user on a board of its own (the scenario's).
        clock: monotonic seconds that drive all state; inject a fake one to step time in tests.
        wall_clock: POSIX seconds, read once to anchor the wall times the API shows.
        other_projects: projects a password sign-in may also be scoped to (``Authenticator``).
        board: a task board shared with other emulators (then its ``slots_per_user`` holds, and they must
            all read the same ``clock``); None: a board of its own.
    """

    def __init__(self, scenario: S, faults: tuple[BaseFaultRule, ...],
                 store: Callable[[str, TimeBase, random.Random, Stats, TaskBoard], T], door: Door, *, seed: int,
                 label: str, slots_per_user: int, clock: Clock = time.monotonic, wall_clock: Clock = time.time,
                 other_projects: frozenset[str] = frozenset(), board: TaskBoard | None = None) -> None:
        self.scenario = scenario
        self._seed = f"{seed}:{label}"
        self._time = TimeBase(clock, wall_clock)
        self._stats = Stats()
        self.board = board if board is not None else TaskBoard(slots_per_user)
        self._stores = {project: store(project, self._time, self._tasks_rng(project), self._stats, self.board)
                        for project in sorted(scenario.served_projects)}
        self._store = self._stores[scenario.project_id]
        self._stats.bind_board(self._outstanding, self.board.max_outstanding)
        self._auth = Authenticator(scenario, self._time, other_projects)
        self._pipeline = Pipeline(door, self._auth, FaultInjector(faults, self.rng("faults")), self._stats,
                                  self._time)
        self._sign_in = sign_in(self._auth, door.errors)

    def rng(self, purpose: str) -> random.Random:
        """A generator seeded by the seed, the face and the purpose (``tasks``, ``faults``, ``backups``)."""
        return random.Random(f"{self._seed}{purpose}")

    def _tasks_rng(self, project: str) -> random.Random:
        """The scenario's own project draws its task durations and fates as it always did; another project
        from a generator of its own."""
        return self.rng("tasks" if project == self.scenario.project_id else f"tasks:{project}")

    def application(self, routes: RouteTable, handlers: Mapping[str, Handler],
                    prefix: str = "") -> web.Application:
        """A new aiohttp app of these routes (paths under ``prefix``) behind this emulator's pipeline; the
        route ``auth``, the IAM password sign-in, is the core's."""
        app = web.Application(middlewares=[self._pipeline.middleware])
        add_routes(app, routes, {"auth": self._sign_in, **handlers}, prefix)
        return app

    @property
    def stats(self) -> Stats:
        """The counters, with task state brought up to now first."""
        self._advance()
        return self._stats

    def _store_of(self, project: str | None) -> T:
        """The store of a served project (None: the scenario's ``project_id``); ValueError for another."""
        if project is None:
            return self._store
        try:
            return self._stores[project]
        except KeyError:
            raise ValueError(f"project {project} is not served here; serve it with the scenario's "
                             f"projects") from None

    def _advance(self) -> None:
        for store in self._stores.values():
            store.advance()

    def replace_identity(self, backup_id: str, *, created_at: datetime | None = None,
                         resource_id: str | None = None, project: str | None = None) -> None:
        """Give a backup another creation time or resource under its id (``KeyError`` if it does not exist):
        tests play a backup replaced between a plan and its run (docs/plans.md, "Approvable plans")."""
        when = as_utc(created_at) if created_at is not None else None
        self._store_of(project).replace_identity(backup_id, when, resource_id)

    def _outstanding(self, user: str) -> int:
        self._advance()
        return self.board.outstanding(user)
