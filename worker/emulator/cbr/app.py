"""The CBR emulator: its projects' vaults, backups and delete logs, as an aiohttp app.

Deterministic under a seed and an injected monotonic clock; built on the core (``BaseEmulator``): its
verifier of tokens and ``SDK-HMAC-SHA256`` signatures, its pipeline with this face's door
(``door.py``), its task board and its stats. Its own are the state, the routes (``/v3/{project_id}/...``),
the errors and the fault routes.

Serving both faces from one port: ``CbrEmulator.subapp()`` builds the CBR routes relative to ``/v3``
for ``csbs_emulator.app.add_subapp("/v3", cbr.subapp())``. aiohttp runs a parent's middlewares for
sub-application requests too, so the parent's pipeline must then pass them through unchanged, e.g. at
its top: ``if len(request.match_info.apps) > 1: return await handler(request)``. The CSBS app's own
``POST /v3/auth/tokens`` keeps precedence (aiohttp resolves the longest registered prefix first).
Simpler still for ``--service cbr``: serve ``CbrEmulator.app`` alone; it answers the IAM sign-in too.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from worker.emulator.cbr.door import CbrDoor
from worker.emulator.cbr.model import STATUSES, VOLUME_TYPE, Backup, OpLog, Vault
from worker.emulator.cbr.routes import ROUTES, CbrRoutes
from worker.emulator.cbr.scenario import CbrScenario
from worker.emulator.cbr.seeding import CbrFactory
from worker.emulator.cbr.store import CbrStore
from worker.emulator.core.backup import SERVER_TYPE
from worker.emulator.core.emulator import BaseEmulator
from worker.emulator.core.tasks import TaskBoard
from worker.emulator.core.timebase import Clock, as_utc

DEFAULT_VAULT = "default"  # where migrated manual backups land (docs/cbr-api.md, migrated backups)
OTHER_PROJECT = "fedcba9876543210fedcba9876543210"  # the owner of backups shared in


class CbrEmulator(BaseEmulator[CbrScenario, CbrStore]):
    """A fake CBR (and IAM sign-in) for the scenario's projects: ``scenario``, ``seed``, ``clock``,
    ``wall_clock`` and ``board`` as for every face (``BaseEmulator``).

    Seeding and reading take ``project``: one of the scenario's ``served_projects`` (None: its
    ``project_id``); ids are drawn from one generator, so they are unique over all projects.
    """

    def __init__(self, scenario: CbrScenario, seed: int = 0, clock: Clock = time.monotonic,
                 wall_clock: Clock = time.time, board: TaskBoard | None = None) -> None:
        super().__init__(scenario, scenario.faults, functools.partial(CbrStore, scenario), CbrDoor(scenario),
                         seed=seed, label="cbr-", slots_per_user=scenario.deletions_per_user, clock=clock,
                         wall_clock=wall_clock, board=board)
        self._handlers = CbrRoutes(scenario, self._stores).handlers()
        self._factory = CbrFactory(self.rng("backups"), self._time.wall())
        self.app = self.application(ROUTES, self._handlers, "/v3")

    def __repr__(self) -> str:
        return f"<CbrEmulator project={self.scenario.project_id} backups={len(self._store.backups)}>"

    def subapp(self) -> web.Application:
        """A new sub-application with the same state, its routes relative to ``/v3`` (see module doc)."""
        return self.application(ROUTES, self._handlers)

    # -- reading state (tests, benchmarks) --------------------------------------------------------------

    def backup(self, backup_id: str, project: str | None = None) -> dict[str, Any] | None:
        """One backup as a reader sees it now, or None if it is gone."""
        store = self._store_of(project)
        store.advance()
        return store.get_backup(backup_id) if backup_id in store.backups else None

    def backup_ids(self, vault_id: str | None = None, project: str | None = None) -> list[str]:
        """Ids of the backups that exist now (children included), in insertion order."""
        store = self._store_of(project)
        store.advance()
        return [b.id for b in store.backups.values() if vault_id is None or b.vault_id == vault_id]

    def delete_logs(self, backup_id: str, project: str | None = None) -> list[OpLog]:
        """Every delete log ever written for a backup (visible through the API or not)."""
        store = self._store_of(project)
        store.advance()
        return store.logs_of([backup_id])

    # -- seeding ----------------------------------------------------------------------------------------

    def add_vault(self, name: str = DEFAULT_VAULT, *, vault_id: str | None = None, locked: bool = False,
                  billing_status: str = "available", object_type: str = "server",
                  policy_id: str | None = None, project: str | None = None) -> dict[str, Any]:
        """Add a vault (named after a policy, or ``default``); returns its JSON."""
        store = self._store_of(project)
        vault = Vault(vault_id or self._factory.uuid(), name, self._time.wall(), locked, billing_status,
                      object_type, policy_id)
        store.add_vault(vault)
        return store.get_vault(vault.id)

    def vault_id(self, name: str = DEFAULT_VAULT, project: str | None = None) -> str:
        """The id of the first vault with this name, made (unlocked) if there is none."""
        found = next((v.id for v in self._store_of(project).vaults.values() if v.name == name), None)
        return found if found is not None else str(self.add_vault(name, project=project)["id"])

    def add_backup(self, *, vault_id: str | None = None, backup_id: str | None = None,
                   checkpoint_id: str | None = None, name: str | None = None, auto: bool = False,
                   children: int = 0, image_backed: bool = False, shared: bool = False,
                   status: str = "available", resource_id: str | None = None, resource_name: str | None = None,
                   resource_type: str = SERVER_TYPE, created_at: datetime | None = None,
                   expired_at: datetime | None = None, project: str | None = None) -> dict[str, Any]:
        """Add one backup (in the ``default`` vault unless ``vault_id``), with ``children`` per-disk backups.

        ``auto`` marks a policy backup (``extend_info.auto_trigger``); ``shared`` makes it a backup shared
        in from another project (listed only with ``own_type`` shared/all_granted); ``expired_at`` defaults
        to 30 days after creation for an automatic backup. Returns its JSON.
        """
        store = self._store_of(project)
        if status not in STATUSES or status in ("waiting_delete", "deleting"):
            raise ValueError(f"status {status!r} cannot be seeded")
        f = self._factory
        server_id, server_name = f.server()
        created = as_utc(created_at) if created_at is not None else f.created_at()
        expiry = as_utc(expired_at) if expired_at is not None else (created + timedelta(days=30) if auto else None)
        backup = Backup(
            id=backup_id or f.uuid(), vault_id=vault_id or self.vault_id(project=project),
            checkpoint_id=checkpoint_id or f.uuid(),
            name=name or f.name(auto), resource_id=resource_id or server_id,
            resource_name=resource_name or server_name, created_at=created, status=status,
            resource_type=resource_type, auto_trigger=auto, expired_at=expiry,
            image_ids=[f.uuid()] if image_backed else [], owner_project=OTHER_PROJECT if shared else "",
            updated_at=min(created + timedelta(minutes=5), max(created, f.now)),  # never in the future
        )
        store.add_backup(backup)
        for n in range(children):
            store.add_backup(Backup(
                id=f.uuid(), vault_id=backup.vault_id, checkpoint_id=backup.checkpoint_id,
                name=f"{backup.name}_disk{n}", resource_id=f.uuid(), resource_name=f"{backup.resource_name}-disk{n}",
                created_at=created, status=status, resource_type=VOLUME_TYPE, parent_id=backup.id,
                auto_trigger=auto, expired_at=expiry, owner_project=backup.owner_project, resource_size=10,
                updated_at=backup.updated_at,
            ))
        return store.get_backup(backup.id)

    def seed_plan(self, backup_ids: Iterable[str], project: str | None = None) -> list[str]:
        """A demo plan's backups: one manual server backup with a system-disk child per id, in ``default``."""
        ids = list(backup_ids)
        if len(set(ids)) != len(ids):
            raise ValueError("a demo plan needs distinct backup ids")
        for backup_id in ids:
            self.add_backup(backup_id=backup_id, children=1, project=project)
        return ids

    def seed_random(self, n: int, vault_names: Iterable[str] = (DEFAULT_VAULT,),
                    project: str | None = None) -> list[str]:
        """``n`` random server backups over the named vaults, about half of them automatic."""
        vaults = [self.vault_id(name, project) for name in vault_names]
        return [str(self.add_backup(vault_id=vaults[i % len(vaults)], auto=self._factory.chance(0.5),
                                    children=1, project=project)["id"]) for i in range(n)]
