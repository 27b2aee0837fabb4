"""How a CSBS run reads the identity of a backup before its first DELETE (an approvable plan's check,
``worker.engine.identity``) without a call per task.

A GET of each backup before its DELETE would add a call to every task. Instead the backups of one resource
(server) are listed once (``checkpoint_items?resource_id=``, every page), just before the first DELETE that
needs them, and kept for the run: a retention plan deletes several backups of each server, so one listing
serves them all. Ids are never reused, so what a listing showed of an id stays true for the run. A backup
that the listing of its planned resource does not show (gone, or now of another resource) is looked at
with one GET, which tells which.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from worker.engine.answer import AnswerKind
from worker.engine.identity import Identity
from worker.services.csbs.client import CsbsClient
from worker.services.identity import read_identity

CONTAINER_KEY = "checkpoint_id"  # what holds a CSBS backup: its record


class ResourceListings:
    """The identities of the project's backups by resource, listed once each (see the module docstring)."""

    def __init__(self, client: CsbsClient) -> None:
        self.client = client
        self._listed: dict[str, dict[str, Identity]] = {}  # resource id -> backup id -> identity
        self._locks: dict[str, asyncio.Lock] = {}  # one listing per resource, whatever the tasks waiting for it

    async def identity(self, resource_id: str, backup_id: str, deadline: float) -> Identity | None:
        """The identity the listing of ``resource_id`` shows for ``backup_id``; None when it shows none (or
        the listing failed: it is not kept, the next task lists again)."""
        lock = self._locks.setdefault(resource_id, asyncio.Lock())
        async with lock:
            if resource_id not in self._listed:
                answer = await self.client.list_items(deadline=deadline, resource_id=resource_id)
                if answer.kind is not AnswerKind.OK:
                    return None
                self._listed[resource_id] = {str(item.get("id")).lower(): read_identity(item, CONTAINER_KEY)
                                             for item in answer.data}
        return self._listed[resource_id].get(backup_id)


def size_mb(item: Mapping[str, Any]) -> int | None:
    """A listed backup's size in MB (``extend_info.size``, docs/csbs-api.md), for an approvable plan's rows."""
    extend = item.get("extend_info")
    size = extend.get("size") if isinstance(extend, Mapping) else None
    return size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else None
