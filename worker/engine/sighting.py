"""What one look at a deletion task tells, in the engine's words: every service reads its answers into this.

A service's ``observe`` module turns a look (a backup, a record's backups) into a ``Sighting``; the task loop
(``worker.engine.tracking``) and the pacer decide on it alone. ``UNTOUCHED`` covers every state from which a
DELETE may be sent (again): not started yet (the status lag), lost, or fallen back after a failed deletion
(CBR's ``available``/``error``, CSBS's ``available`` or an ``error`` of another operation). ``FAILED`` is a
failure the service itself pins on a deletion (CSBS's ``fail_op: delete``). A status the worker does not know
is ``UNKNOWN``, never untouched: reading it as untouched would re-send DELETEs for a backup the service is busy
with (docs/design.md, "Tasks and outcomes").
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Seen(enum.Enum):
    """What one look at a task tells."""

    GONE = "gone"  # the backup no longer exists (404 of the service, or status deleted)
    QUEUED = "queued"  # waiting in the provider's queue
    RUNNING = "running"  # being deleted
    FAILED = "failed"  # the service says the deletion ended in error
    UNTOUCHED = "untouched"  # deletable: not (yet, or no longer) being deleted
    BLOCKED = "blocked"  # another operation runs on it (backing up, restoring)
    UNKNOWN = "unknown"  # a status this worker does not know: followed, never re-sent


@dataclass(frozen=True)
class Sighting:
    """The state of a task at one look."""

    seen: Seen
    progress: int | None = None  # whole percent 0-100, while queued or running, when the service says
    fail_reason: str | None = None  # FAILED only
    fail_code: str | None = None  # FAILED only
    failed_at: float | None = None  # POSIX seconds the service gives for the failure (FAILED only)
    task_id: str | None = None  # the service's id of the failed deletion (FAILED only)
    status: str | None = None  # the service's own word for the state, as shown (None when gone)
    where: str | None = None  # the container the backup is in, as the service shows it (CBR: its vault)
    changed_at: float | None = None  # POSIX seconds the service dates the backup's last change (updated_at)
