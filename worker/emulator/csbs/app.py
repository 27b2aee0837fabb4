"""The CSBS emulator: one scenario, its projects' backups and tasks, its credentials and faults, as an aiohttp
app.

Every request passes the core's pipeline (``worker.emulator.core.pipeline``) with this face's door
(``door.py``): the gateway's 404 of a wrong endpoint (``gateway_404``), faults, the caller's 401, 403 and
400 BackupService.4008, errors in the scenario's ``error_shape``, and the request id and ``Date`` on
every answer.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from worker.emulator.core.backup import SERVER_TYPE
from worker.emulator.core.emulator import BaseEmulator
from worker.emulator.core.errors import ApiError
from worker.emulator.core.tasks import TaskBoard
from worker.emulator.core.timebase import Clock, as_utc, parse_time
from worker.emulator.csbs.door import CsbsDoor
from worker.emulator.csbs.model import STATUSES
from worker.emulator.csbs.routes import ROUTES, CsbsRoutes
from worker.emulator.csbs.scenario import Scenario
from worker.emulator.csbs.seeding import BackupFactory
from worker.emulator.csbs.store import BackupStore

Record = tuple[str, list[str]]
"""A backup record as seeded: (checkpoint id, its item ids)."""

_TASK_STATUSES = frozenset({"waiting_delete", "deleting", "deleted"})  # only deletion tasks set these


class Emulator(BaseEmulator[Scenario, BackupStore]):
    """A fake CSBS (and IAM sign-in) for the scenario's projects: ``scenario``, ``seed``, ``clock``,
    ``wall_clock`` and ``board`` as for every face (``BaseEmulator``).

    Seeding and reading take ``project``: one of the scenario's ``served_projects`` (None: its
    ``project_id``); ids are drawn from one generator, so they are unique over all projects.
    """

    def __init__(self, scenario: Scenario, seed: int = 0, clock: Clock = time.monotonic,
                 wall_clock: Clock = time.time, board: TaskBoard | None = None) -> None:
        super().__init__(scenario, scenario.faults, functools.partial(BackupStore, scenario), CsbsDoor(scenario),
                         seed=seed, label="", slots_per_user=scenario.tasks_per_user, clock=clock,
                         wall_clock=wall_clock, other_projects=scenario.disabled_projects, board=board)
        self._factory = BackupFactory(self.rng("backups"), self._time.wall())
        self.app = self.application(ROUTES, CsbsRoutes(scenario, self._stores).handlers())

    def __repr__(self) -> str:
        return f"<Emulator project={self.scenario.project_id} backups={len(self._store.snapshot())}>"

    # -- reading state (tests, benchmarks) ----------------------------------------------------------

    def items(self, checkpoint_id: str | None = None, status: str | None = None,
              as_seen: bool = False, project: str | None = None) -> list[dict[str, Any]]:
        """Backups that exist now, in the API's JSON shape; ``as_seen`` applies the status lag."""
        return [
            item for item in self._store_of(project).snapshot(as_seen)
            if (checkpoint_id is None or item["checkpoint_id"] == checkpoint_id)
            and (status is None or item["status"] == status)
        ]

    def item(self, item_id: str, project: str | None = None) -> dict[str, Any] | None:
        """One backup now (true status), or None if it is gone."""
        try:
            return self._store_of(project).get(item_id, as_seen=False)
        except ApiError:
            return None

    # -- seeding -------------------------------------------------------------------------------------

    def add_item(self, *, checkpoint_id: str | None = None, item_id: str | None = None,
                 status: str = "available", resource_id: str | None = None, name: str | None = None,
                 created_at: datetime | str | None = None, tags: Sequence[Mapping[str, str]] | None = None,
                 resource_name: str | None = None, resource_type: str = SERVER_TYPE,
                 policy_id: str | None = None, description: str = "",
                 image_registered: bool = False, stale_delete_failure: bool = False,
                 project: str | None = None) -> dict[str, Any]:
        """Add one backup; what is not given is made up (seeded). Returns its JSON.

        ``stale_delete_failure`` makes it look as an earlier failed deletion left it (a crashed run's):
        ``error``, ``fail_op`` delete, with that deletion's old ``fail_reason``, ``updated_at``,
        ``finished_at`` (an hour before now) and ``taskid``, whatever ``status`` says; a ``created_at``
        later than that failure is moved back before it. A new DELETE of it works normally.
        """
        store = self._store_of(project)
        if status not in STATUSES or status in _TASK_STATUSES:
            raise ValueError(f"status {status!r}: use one of {sorted(STATUSES - _TASK_STATUSES)}")
        if isinstance(created_at, str):
            when = parse_time(created_at)
        else:
            when = self._time.wall() if created_at is None else as_utc(created_at)
        item = self._factory.item(item_id or self._factory.uuid(), checkpoint_id or self._factory.uuid(),
                                  when, policy_id, self._factory.server())
        item.status, item.resource_type, item.description = status, resource_type, description
        item.resource_id = resource_id or item.resource_id
        item.resource_name = resource_name or item.resource_name
        item.name = name or item.name
        item.image_registered = image_registered
        if tags is not None:
            item.tags = [dict(tag) for tag in tags]
        if status == "error":
            item.fail_op, item.fail_reason = "backup", "backup failed"
        return store.add(item, stale_delete_failure=stale_delete_failure)

    def seed_random(self, n: int, project: str | None = None) -> list[Record]:
        """Add ``n`` random backup records of 1-3 backups each."""
        return self.seed_plan(((None, None) for _ in range(n)), project)

    def seed_plan(self, entries: Iterable[tuple[str | None, Sequence[str] | None]],
                  project: str | None = None) -> list[Record]:
        """Add one record per entry: the given item ids, or 1-3 random backups for None."""
        store = self._store_of(project)
        records = []
        for checkpoint_id, item_ids in entries:
            if item_ids is not None:
                _check_new_ids(store, item_ids)
            items = self._factory.record(checkpoint_id, item_ids)
            for item in items:
                store.add(item)
            records.append((items[0].checkpoint_id, [item.id for item in items]))
        return records


def _check_new_ids(store: BackupStore, item_ids: Sequence[str]) -> None:
    """Refuse a planned record before adding any of it: no ids, repeated ids, or ids already used."""
    if not item_ids or len(set(item_ids)) != len(item_ids):
        raise ValueError(f"a planned record needs distinct backup ids, got {list(item_ids)}")
    used = [item_id for item_id in item_ids if store.known(item_id)]
    if used:
        raise ValueError(f"backup {used[0]} already exists")
