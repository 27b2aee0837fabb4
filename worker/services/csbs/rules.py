"""How the engine's task loop sends, looks and reads for CSBS (docs/csbs-api.md).

A task is one backup of a record (``item_id``) or a whole record (``item_id`` None). A DELETE of a backup
names it in ``checkpoint_items``; a look is ``GET checkpoint_items/{id}``, or, for a whole record, the listing
of the record's backups (every page). The service shows a finished deletion as 404 ``CSBS.3001`` *or* as
status ``deleted``, and a failed one as ``error`` with ``fail_op: delete`` (``worker.services.csbs.observe``).
CSBS needs no check before the DELETE, no busy caps and no re-send cap. Its sweep lists the backups in
``deleting`` (one status per listing: a task seen queued is not concluded from its absence).
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from typing import Any

from worker.engine.answer import Answer, AnswerKind
from worker.engine.sighting import Seen, Sighting
from worker.engine.tracking import BaseRules, TaskSpec
from worker.services.csbs.client import CsbsClient
from worker.services.csbs.observe import read_item, read_record


class CsbsRules(BaseRules):
    """The CSBS calls and readings of one run's tasks."""

    sweep_covers = frozenset({Seen.RUNNING})

    def __init__(self, client: CsbsClient) -> None:
        self.client = client

    async def send(self, spec: TaskSpec) -> Answer:
        if spec.backup_id is None:
            return await self.client.delete_record(spec.container_id)
        return await self.client.delete_item(spec.container_id, spec.backup_id)

    async def look(self, spec: TaskSpec, deadline: float) -> Answer:
        """One look at the task: its backup, or every backup of its record."""
        if spec.backup_id is None:
            return await self.client.list_items(deadline=deadline, checkpoint_id=spec.container_id)
        return await self.client.get_item(spec.backup_id)

    def read(self, spec: TaskSpec, data: Any) -> Sighting:
        return read_record(data) if spec.backup_id is None else read_item(data)

    async def sweep(self, deadline: float) -> Answer:
        """The backups being deleted, under their own ids and, as whole records, under their record's."""
        # One page holds every deletion of the project's users (five each run at once); a full one may go on.
        answer = await self.client.list_page(limit=self.client.page_size, status="deleting")
        if answer.kind is AnswerKind.OK and len(answer.data) >= self.client.page_size:
            answer = await self.client.list_items(deadline=deadline, status="deleting")
        if answer.kind is not AnswerKind.OK:
            return answer
        records: defaultdict[str, list[Any]] = defaultdict(list)
        seen: dict[str, Sighting] = {}
        for item in answer.data:
            seen[str(item.get("id"))] = read_item(item)
            records[str(item.get("checkpoint_id"))].append(item)
        seen.update((record, read_record(items)) for record, items in records.items())
        return dataclasses.replace(answer, data=seen)
