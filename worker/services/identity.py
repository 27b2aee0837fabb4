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
from typing import Any, Protocol

from worker.cloud.fields import read_datetime
from worker.engine.answer import Answer, AnswerKind
from worker.engine.identity import Identity
from worker.errors import UsageError
from worker.retention.rules import parse_created_at

SizeOf = Callable[[Mapping[str, Any]], int | None]
"""The size of a listed backup in MB, where the service reports one."""


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


class Decided(Protocol):
    """What the rows read of a planner's decision (``worker.retention.rules.Decision`` has it)."""

    @property
    def keep(self) -> bool: ...

    @property
    def id(self) -> str: ...

    @property
    def item(self) -> Mapping[str, Any]: ...


def approval_rows(decisions: Iterable[Decided], container_key: str,
                  size_mb: SizeOf) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The ``planned`` rows (each deleted backup, by resource, oldest first) and the ``kept`` rows (per resource
    with a governed backup: how many are kept, the oldest and the newest) of an approvable plan.

    Of each decision it reads ``keep``, ``id`` and, of its ``item``: ``container_key``, ``resource_id``,
    ``created_at``, ``resource_name`` (or ``extend_info.resource_name``) and what ``size_mb`` reads.
    """
    planned: list[dict[str, Any]] = []
    kept: dict[str, list[Mapping[str, Any]]] = {}  # every governed resource, kept backups or none
    names: dict[str, str] = {}
    for decision in decisions:
        item = decision.item
        resource = str(item.get("resource_id") or "")
        if not resource:
            raise UsageError(f"backup {decision.id} has no resource_id: an approvable plan cannot identify it")
        names.setdefault(resource, _resource_name(item))
        kept_here = kept.setdefault(resource, [])
        if decision.keep:
            kept_here.append(item)
            continue
        row = {"backup_id": decision.id, container_key: str(item.get(container_key) or ""), "resource_id": resource,
               "created_at": str(item.get("created_at"))}
        size = size_mb(item)
        planned.append(row if size is None else {**row, "size_mb": size})
    planned.sort(key=lambda row: (row["resource_id"], parse_created_at(row["created_at"]), row["backup_id"]))
    rows = [_kept_row(resource, names[resource], items) for resource, items in kept.items()]
    rows.sort(key=lambda row: (row.get("resource_name", ""), row["resource_id"]))
    return planned, rows


def _kept_row(resource: str, name: str, items: list[Mapping[str, Any]]) -> dict[str, Any]:
    row: dict[str, Any] = {"resource_id": resource}
    if name:
        row["resource_name"] = name
    row["kept"] = len(items)
    if items:
        by_time = sorted(items, key=lambda item: parse_created_at(item.get("created_at")))
        row["oldest"], row["newest"] = str(by_time[0]["created_at"]), str(by_time[-1]["created_at"])
    return row


def _resource_name(item: Mapping[str, Any]) -> str:
    extend = item.get("extend_info")
    name = extend.get("resource_name") if isinstance(extend, Mapping) else None
    return str(name or item.get("resource_name") or "")
