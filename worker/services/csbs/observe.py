"""Read what a backup's (or a record's backups') state says about a deletion task: pure, no I/O.

The public material is silent on several points (docs/csbs-api.md, "Where the public material is silent"),
so every reading is accepted: a finished deletion shows as 404 *or* as status ``deleted`` (point 1); a
queued one as ``waiting_delete``, a running one as ``deleting`` (point 2); a failed one as ``error`` with
``fail_op: delete`` (point 3); and for a while after the DELETE the backup may still look untouched (the
status lag). A status the worker does not know is its own sighting (``UNKNOWN``), never "untouched": reading
it as untouched would re-send DELETEs for a backup the service is busy with.

A failure sighting carries the time the service says the failure happened (the later of
``extend_info.finished_at`` and ``updated_at``: the first may be the backup's own end; zone-less times are
UTC, point 9) and the task id, so the tracker can tell a failure of
its own DELETE from one left by an earlier deletion (docs/design.md, "Fresh and stale failures").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from worker.cloud.fields import read_progress, read_time, text
from worker.engine.sighting import Seen, Sighting

_BLOCKING = frozenset({"waiting_protect", "protecting", "waiting_restore", "restoring"})
_UNTOUCHED = frozenset({"available", "error"})


def _latest(*times: float | None) -> float | None:
    """The latest known time: ``finished_at`` may be the backup's own end, a failed deletion updates the item."""
    known = [moment for moment in times if moment is not None]
    return max(known) if known else None


def _failure(item: Mapping[str, Any], extend: Mapping[str, Any]) -> Sighting:
    code = extend.get("fail_code")
    return Sighting(
        Seen.FAILED,
        fail_reason=text(extend.get("fail_reason")) or "deletion ended in error",
        fail_code=text(code.get("Code")) if isinstance(code, Mapping) else None,
        failed_at=_latest(read_time(extend.get("finished_at")), read_time(item.get("updated_at"))),
        task_id=text(extend.get("taskid")),
        status="error",
    )


def read_item(item: Mapping[str, Any]) -> Sighting:
    """The sighting of one backup from its ``checkpoint_item`` body."""
    status = item.get("status")
    extend = item.get("extend_info")
    extend = extend if isinstance(extend, Mapping) else {}
    shown = str(status)
    if status == "deleted":
        return Sighting(Seen.GONE, status=shown)
    if status == "waiting_delete":
        return Sighting(Seen.QUEUED, read_progress(extend.get("progress")) or 0, status=shown)
    if status == "deleting":
        return Sighting(Seen.RUNNING, read_progress(extend.get("progress")), status=shown)
    if status == "error" and extend.get("fail_op") == "delete":
        return _failure(item, extend)
    if status in _BLOCKING:
        return Sighting(Seen.BLOCKED, status=shown)
    if status in _UNTOUCHED:  # dated, so a fall-back after our DELETE is acted on at once
        return Sighting(Seen.UNTOUCHED, status=shown, changed_at=read_time(item.get("updated_at")))
    return Sighting(Seen.UNKNOWN, status=shown)


# When a record's backups disagree, the first of these that any backup shows decides.
_RECORD_PRECEDENCE = (Seen.RUNNING, Seen.QUEUED, Seen.UNKNOWN, Seen.BLOCKED, Seen.UNTOUCHED, Seen.FAILED)


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
                return Sighting(seen, min(known) if known else None, status=matching[0].status)
            return matching[0]
    return Sighting(Seen.GONE)
