"""How the engine's task loop sends, looks and reads for CSBS (docs/csbs-api.md).

A task is one backup of a record (``item_id``) or a whole record (``item_id`` None). A DELETE of a backup
names it in ``checkpoint_items``; a look is ``GET checkpoint_items/{id}``, or, for a whole record, the listing
of the record's backups (every page). The service shows a finished deletion as 404 ``CSBS.3001`` *or* as
status ``deleted``, and a failed one as ``error`` with ``fail_op: delete`` (``worker.services.csbs.observe``).
CSBS needs no busy caps and no re-send cap. Its sweep lists the backups in ``deleting`` (one status per
listing: a task seen queued is not concluded from its absence). A run of an approvable plan checks before
each first DELETE that the backup is still the one planned (``worker.engine.identity``): a backup's identity
comes from one listing per resource (``worker.services.identity``), a whole record's from the listing of
its backups; a backup or record that changed is not sent.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from typing import Any

from worker.engine.answer import Answer, AnswerKind
from worker.engine.before_send import changed_since_plan, look_ending, unchanged
from worker.engine.identity import PlannedIdentities, record_difference
from worker.engine.outcomes import Outcome
from worker.engine.sighting import Seen, Sighting
from worker.engine.tracking import BaseRules, Ending, TaskSpec, TaskState, end_task
from worker.services.csbs.client import CsbsClient
from worker.services.csbs.identity import CONTAINER_KEY, resource_listings
from worker.services.csbs.observe import read_item, read_record
from worker.services.identity import read_identity


class CsbsRules(BaseRules):
    """The CSBS calls and readings of one run's tasks."""

    sweep_covers = frozenset({Seen.RUNNING})

    def __init__(self, client: CsbsClient, planned: PlannedIdentities | None = None) -> None:
        self.client = client
        self.planned = planned  # an approvable plan's identities: each backup is checked before its DELETE
        self.listings = resource_listings(client)

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

    async def before_first_send(self, task: TaskState) -> Ending | None:
        """An approvable plan's check: the backup (or every backup of the record) is still the one planned."""
        if self.planned is None:
            return None
        if task.spec.backup_id is None:
            return await self._record_unchanged(task, self.planned)
        planned = self.planned.of_backup(task.spec.backup_id)
        if planned is None:
            return None
        seen = await self.listings.identity(planned.resource_id, task.spec.backup_id, task.deadline)
        if seen is None:  # not listed under its planned resource: gone, or not the backup planned
            answer = await self._retried_look(task)
            if answer.kind is not AnswerKind.OK:
                return look_ending(task, answer, required=True)
            seen = read_identity(answer.data, CONTAINER_KEY)
        return unchanged(task, planned, seen)

    async def _record_unchanged(self, task: TaskState, planned: PlannedIdentities) -> Ending | None:
        answer = await self._retried_look(task)
        if answer.kind is not AnswerKind.OK:
            return look_ending(task, answer, required=True)
        seen = {str(item.get("id")).lower(): read_identity(item, CONTAINER_KEY) for item in answer.data
                if item.get("status") != "deleted"}
        if not seen:
            return end_task(task.trace, Outcome.ALREADY_ABSENT)
        reason = record_difference(planned.in_container(task.spec.container_id), seen)
        return None if reason is None else changed_since_plan(task.trace, reason)

    async def _retried_look(self, task: TaskState) -> Answer:
        """The task's own look (its backup, or its record's backups), retried within its time; counted as a poll."""
        async def look() -> Answer:
            task.trace.polls += 1
            return await self.look(task.spec, task.deadline)

        return await task.retried(look)

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
