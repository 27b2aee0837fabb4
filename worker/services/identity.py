"""What identifies a backup, read the same way from either service's answers; the listings that read it before
the first DELETEs of an approvable plan; and the rows such a plan records of the planner's decisions
(docs/plans.md, "Approvable plans").

A CSBS checkpoint item and a CBR backup both carry ``resource_id`` and ``created_at`` under those names, and
what holds them under the service's own key (``checkpoint_id``, ``vault_id``): one reader serves both.

A GET of each backup before its DELETE would add a call to every task. Instead a run lists the backups of one
resource (server) once, every page (``ResourceListings``), just before the first DELETE that needs them, and
keeps what it saw for the run: a retention plan deletes several backups of each server, so one listing serves
them all. Ids are never reused, so what a listing showed of an id stays true for the run. A backup that the
listing of its planned resource does not show (gone, or now of another resource) is looked at by its
service's rules with one GET, which tells which.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from worker.cloud.fields import read_datetime
from worker.engine.answer import Answer, AnswerKind
from worker.engine.identity import Identity
from worker.errors import UsageError
from worker.retention.listed import ListedBackup
from worker.retention.rules import Decision, parse_created_at


def read_identity(body: Mapping[str, Any], container_key: str) -> Identity:
    """The identity a service's answer (one backup's JSON) shows."""
    return Identity(str(body.get(container_key) or ""), str(body.get("resource_id") or ""),
                    read_datetime(body.get("created_at")))


ListResource = Callable[[str, float], Awaitable[Answer]]
"""A service's listing of every backup of one resource (its id, a deadline); ``data`` is the list."""


class ResourceListings:
    """The identities of the project's backups by resource, each resource listed once (see the module docstring)."""

    def __init__(self, list_resource: ListResource, container_key: str) -> None:
        self.list_resource = list_resource
        self.container_key = container_key
        self._listed: dict[str, dict[str, Identity]] = {}  # resource id -> backup id -> identity
        self._locks: dict[str, asyncio.Lock] = {}  # one listing per resource, whatever the tasks waiting for it

    async def identity(self, resource_id: str, backup_id: str, deadline: float) -> Identity | None:
        """The identity the listing of ``resource_id`` shows for ``backup_id``; None when it shows none (or
        the listing failed: that is not kept, the next task lists again)."""
        async with self._locks.setdefault(resource_id, asyncio.Lock()):
            if resource_id not in self._listed:
                answer = await self.list_resource(resource_id, deadline)
                if answer.kind is not AnswerKind.OK:
                    return None
                self._listed[resource_id] = {str(item.get("id")).lower(): read_identity(item, self.container_key)
                                             for item in answer.data}
        return self._listed[resource_id].get(backup_id.lower())


def approval_rows(decisions: Iterable[Decision],
                  container_key: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The ``planned`` rows (each deleted backup, by resource, oldest first) and the ``kept`` rows (per resource
    with a governed backup: how many are kept, the oldest and the newest) of an approvable plan.

    Of each decision it reads ``keep`` and its planner's record of the backup (``ListedBackup``): ``id``,
    ``container_key`` (``checkpoint_id`` or ``vault_id``), ``resource_id``, ``resource_name``, ``created_at``
    and ``size_mb``.
    """
    planned: list[dict[str, Any]] = []
    kept: dict[str, list[ListedBackup]] = {}  # every governed resource, kept backups or none
    names: dict[str, str] = {}
    for decision in decisions:
        backup = decision.backup
        resource = backup.resource_id or ""
        if not resource:
            raise UsageError(f"backup {backup.id} has no resource_id: an approvable plan cannot identify it")
        names.setdefault(resource, backup.resource_name or "")
        kept_here = kept.setdefault(resource, [])
        if decision.keep:
            kept_here.append(backup)
            continue
        row = {"backup_id": backup.id, container_key: str(getattr(backup, container_key) or ""),
               "resource_id": resource, "created_at": backup.created_at}
        planned.append(row if backup.size_mb is None else {**row, "size_mb": backup.size_mb})
    planned.sort(key=lambda row: (row["resource_id"], parse_created_at(row["created_at"]), row["backup_id"]))
    rows = [_kept_row(resource, names[resource], backups) for resource, backups in kept.items()]
    rows.sort(key=lambda row: (row.get("resource_name", ""), row["resource_id"]))
    return planned, rows


def _kept_row(resource: str, name: str, backups: list[ListedBackup]) -> dict[str, Any]:
    row: dict[str, Any] = {"resource_id": resource}
    if name:
        row["resource_name"] = name
    row["kept"] = len(backups)
    if backups:
        by_time = sorted(backups, key=lambda backup: backup.created)
        row["oldest"], row["newest"] = by_time[0].created_at, by_time[-1].created_at
    return row
