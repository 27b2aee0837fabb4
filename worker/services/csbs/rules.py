"""How the engine's task loop sends, looks and reads for CSBS (docs/csbs-api.md).

A task is one backup of a record (``item_id``) or a whole record (``item_id`` None). A DELETE of a backup
names it in ``checkpoint_items``; a look is ``GET checkpoint_items/{id}``, or, for a whole record, the listing
of the record's backups (every page). The service shows a finished deletion as 404 ``CSBS.3001`` *or* as
status ``deleted``, and a failed one as ``error`` with ``fail_op: delete`` (``worker.services.csbs.observe``).
CSBS needs none of the loop's optional hooks: no check before the DELETE, no busy caps, no re-send cap.
"""

from __future__ import annotations

from typing import Any

from worker.engine.answer import Answer
from worker.engine.sighting import Sighting
from worker.engine.tracking import BaseRules, TaskSpec
from worker.services.csbs.client import CsbsClient
from worker.services.csbs.observe import read_item, read_record


class CsbsRules(BaseRules):
    """The CSBS calls and readings of one run's tasks."""

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
