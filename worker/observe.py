"""Read what a backup's (or a record's backups') state says about a deletion task: pure, no I/O.

The public material is silent on several points (csbs-api.md, last section), so every reading is
accepted: a finished deletion shows as 404 *or* as status ``deleted``; a queued one as
``waiting_delete``, a running one as ``deleting``; a failed one as ``error`` with ``fail_op: delete``;
and for a while after the DELETE the backup may still look untouched (the status lag).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


class Seen(enum.Enum):
    """What one look at a task tells."""

    GONE = "gone"  # 404, or every backup in status deleted
    QUEUED = "queued"  # waiting_delete: the provider has not started it
    RUNNING = "running"  # deleting
    FAILED = "failed"  # error with fail_op delete
    UNTOUCHED = "untouched"  # available, or error from another operation: not (yet) being deleted
    BLOCKED = "blocked"  # another operation runs on it (backing up, restoring)


@dataclass(frozen=True)
class Sighting:
    """The state of a task at one look."""

    seen: Seen
    progress: int | None = None  # extend_info.progress, 0-100, while queued or running
    fail_reason: str | None = None
    fail_code: str | None = None


_BLOCKING = frozenset({"waiting_protect", "protecting", "waiting_restore", "restoring"})


def _progress(item: Mapping[str, Any]) -> int | None:
    extend = item.get("extend_info") or {}
    value = extend.get("progress")
    return int(value) if isinstance(value, int | float) else None


def read_item(item: Mapping[str, Any]) -> Sighting:
    """The sighting of one backup from its ``checkpoint_item`` body."""
    status = item.get("status")
    extend = item.get("extend_info") or {}
    if status == "deleted":
        return Sighting(Seen.GONE)
    if status == "waiting_delete":
        return Sighting(Seen.QUEUED, _progress(item) or 0)
    if status == "deleting":
        return Sighting(Seen.RUNNING, _progress(item))
    if status == "error" and extend.get("fail_op") == "delete":
        code = extend.get("fail_code") or {}
        return Sighting(Seen.FAILED, fail_reason=extend.get("fail_reason") or "deletion ended in error",
                        fail_code=code.get("Code") if isinstance(code, Mapping) else None)
    if status in _BLOCKING:
        return Sighting(Seen.BLOCKED)
    return Sighting(Seen.UNTOUCHED)


# When a record's backups disagree, the first of these that any backup shows decides.
_RECORD_PRECEDENCE = (Seen.RUNNING, Seen.QUEUED, Seen.BLOCKED, Seen.UNTOUCHED, Seen.FAILED)


def read_record(items: Iterable[Mapping[str, Any]]) -> Sighting:
    """The sighting of a whole-record task from the record's backups (all pages).

    The task runs while any backup still runs or waits; it failed when the rest are gone and at
    least one ended in error; it is gone when no backup is left (or all show ``deleted``).
    """
    sightings = [read_item(item) for item in items]
    for seen in _RECORD_PRECEDENCE:
        matching = [s for s in sightings if s.seen is seen]
        if matching:
            if seen in (Seen.RUNNING, Seen.QUEUED):
                known = [s.progress for s in matching if s.progress is not None]
                return Sighting(seen, min(known) if known else None)
            return matching[0]
    return Sighting(Seen.GONE)
