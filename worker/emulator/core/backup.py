"""A backup as both faces' stores keep it: what both APIs show of one, and the deletion that holds it.

A face's backup (CSBS's checkpoint item, CBR's backup) extends ``BaseBackup`` with its own fields. The
stored ``status`` is the status outside any deletion; while a deletion task holds the backup, the face's
store shows the task's status instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from worker.emulator.core.tasks import DeletionTask

SERVER_TYPE = "OS::Nova::Server"
DELETABLE = frozenset({"available", "error"})  # the statuses a deletion may start from, in both APIs


@dataclass(eq=False, kw_only=True)
class BaseBackup:
    """One backup of a resource in a restore point (checkpoint); mutable, owned by the face's store."""

    id: str
    checkpoint_id: str
    name: str
    resource_id: str
    resource_name: str
    created_at: datetime
    status: str = "available"
    resource_type: str = SERVER_TYPE
    updated_at: datetime | None = None
    task: DeletionTask | None = None  #: the deletion holding it, while queued or running


def reidentify(backup: BaseBackup, created_at: datetime | None, resource_id: str | None) -> None:
    """Give a stored backup another creation time or resource under the same id: what a real cloud never
    does (ids are not reused), so that tests can play a backup replaced between a plan and its run."""
    if created_at is not None:
        backup.created_at = created_at
    if resource_id is not None:
        backup.resource_id = resource_id
