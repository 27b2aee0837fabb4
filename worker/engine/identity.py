"""What identified a backup when it was planned, and the rule that the backup about to be deleted is still it.

An approvable plan (docs/plans.md, "Approvable plans") records for each backup where it was (its record or
vault), what it backs up (its resource) and when it was made. Ids are never reused, so a backup that now
shows another resource or another creation time under its id is not the backup that was approved: before
its first DELETE a task compares what the service shows with what was planned, and a backup that changed
is not deleted (``not_attempted``, ``error_code: changed_since_plan``: ``worker.engine.before_send``). Each
service reads a backup's identity from its own answers, in its own folder; the comparison is made here, once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Identity:
    """What identifies one backup: what holds it, what it backs up, and when it was made."""

    container_id: str  # its CSBS record or CBR vault ("" when not known)
    resource_id: str
    created_at: datetime | None  # aware UTC; None when the service's time could not be read


class PlannedIdentities(Protocol):
    """The identities an approvable plan recorded (``worker.plan.approval.Approval`` has them)."""

    def of_backup(self, backup_id: str) -> Identity | None:
        """The planned identity of one backup, or None when the plan recorded none for it."""

    def in_container(self, container_id: str) -> Mapping[str, Identity]:
        """The planned identities of every backup of one record (a whole-record task), by backup id."""


def difference(planned: Identity, seen: Identity) -> str | None:
    """Why the backup seen is not the one planned (created at another time, of another resource, in another
    record or vault), or None when it is the same."""
    if seen.created_at is None or planned.created_at != seen.created_at:
        shown = seen.created_at.isoformat() if seen.created_at else "an unreadable time"
        return f"it was created at {shown}, the plan says {_time(planned.created_at)}"
    if seen.resource_id.lower() != planned.resource_id.lower():
        return f"it backs up resource {seen.resource_id or '(none)'}, the plan says {planned.resource_id}"
    if planned.container_id and seen.container_id.lower() != planned.container_id.lower():
        return f"it is in {seen.container_id or '(none)'}, the plan says {planned.container_id}"
    return None


def record_difference(planned: Mapping[str, Identity], seen: Mapping[str, Identity]) -> str | None:
    """Why a whole record is not the one planned: it holds a backup the plan did not name, or one of its
    backups changed. Backups gone since the plan was made change nothing: fewer are deleted."""
    for backup_id, identity in seen.items():
        expected = planned.get(backup_id)
        if expected is None:
            return f"the record holds backup {backup_id}, which the plan does not name"
        reason = difference(expected, identity)
        if reason is not None:
            return f"its backup {backup_id} changed: {reason}"
    return None


def _time(moment: datetime | None) -> str:
    return moment.isoformat() if moment is not None else "(none)"
