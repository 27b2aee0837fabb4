"""What one look at a CBR backup says about its deletion: pure, no I/O (``docs/cbr-api.md``).

CBR backups have no ``deleted`` status and no ``fail_op`` (points 2 and 5), so the readings differ from
CSBS's ``worker.observe``: the end is a GONE answer (404 BackupService.6200, or the confirmed 401); an
``error`` backup is ``ERROR``, a status a DELETE may be re-sent from a bounded number of times, not a
verdict; ``available`` after a DELETE is ``UNTOUCHED`` (not started yet, or fallen back). Own types are
used, not ``worker.observe.Seen``, because that enum has no ``ERROR`` (CSBS reads ``error`` +
``fail_op: delete`` as FAILED) and no name for an unknown status. A ``delete`` operation log, where one
exists (point 7), gives a verdict through ``read_delete_log``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from worker.csbs.answers import Answer, AnswerKind


class CbrSeen(enum.Enum):
    """What one look at a CBR deletion tells."""

    GONE = "gone"  # GONE answer: the backup (and its children) no longer exist
    QUEUED = "queued"  # waiting_delete
    RUNNING = "running"  # deleting, with extend_info.progress
    UNTOUCHED = "untouched"  # available: not started yet, or the deletion fell back (point 5)
    ERROR = "error"  # error: re-send a bounded number of times, then fail
    BLOCKED = "blocked"  # another operation runs on it (protecting, restoring, waiting_*)
    UNKNOWN = "unknown"  # a status the docs do not list; ``status`` names it


@dataclass(frozen=True)
class CbrSighting:
    """The state of one backup's deletion at one look."""

    seen: CbrSeen
    status: str | None = None  # the backup's status as shown (None when gone)
    progress: int | None = None  # extend_info.progress, 0-100, while queued or running
    updated_at: datetime | None = None


@dataclass(frozen=True)
class LogVerdict:
    """What a ``delete`` operation log says: ``status`` (success, failed, timeout, running, waiting...)."""

    status: str
    error_code: str | None = None
    error_message: str | None = None
    ended_at: datetime | None = None

    @property
    def failed(self) -> bool:
        """True for ``failed`` and ``timeout``."""
        return self.status in ("failed", "timeout")


_BLOCKING = frozenset({"protecting", "restoring", "waiting_protect", "waiting_restore"})


def read_backup(backup: Mapping[str, Any]) -> CbrSighting:
    """The sighting of a backup from its ``backup`` body."""
    status = backup.get("status")
    updated = parse_time(backup.get("updated_at"))
    text = status if isinstance(status, str) else None
    if status == "waiting_delete":
        return CbrSighting(CbrSeen.QUEUED, text, _progress(backup) or 0, updated)
    if status == "deleting":
        return CbrSighting(CbrSeen.RUNNING, text, _progress(backup), updated)
    if status == "available":
        return CbrSighting(CbrSeen.UNTOUCHED, text, None, updated)
    if status == "error":
        return CbrSighting(CbrSeen.ERROR, text, None, updated)
    if status in _BLOCKING:
        return CbrSighting(CbrSeen.BLOCKED, text, None, updated)
    return CbrSighting(CbrSeen.UNKNOWN, text if text is not None else repr(status), None, updated)


def read_answer(answer: Answer) -> CbrSighting | None:
    """The sighting of a ``get_backup`` answer: GONE, the backup read, or None if it says nothing."""
    if answer.kind is AnswerKind.GONE:
        return CbrSighting(CbrSeen.GONE)
    if answer.kind is AnswerKind.OK and isinstance(answer.data, Mapping):
        return read_backup(answer.data)
    return None


def read_delete_log(logs: Iterable[Mapping[str, Any]], backup_id: str,
                    since: datetime | None = None) -> LogVerdict | None:
    """The newest ``delete`` log of ``backup_id`` (matched on ``extra_info.delete.backup_id``), if any.

    ``since`` drops logs created before it (an older deletion's log). None = no log, which is no verdict.
    """
    newest: tuple[datetime, Mapping[str, Any]] | None = None
    for log in logs:
        extra = log.get("extra_info") or {}
        delete = extra.get("delete") if isinstance(extra, Mapping) else None
        if not isinstance(delete, Mapping) or delete.get("backup_id") != backup_id:
            continue
        created = parse_time(log.get("created_at")) or datetime.min.replace(tzinfo=UTC)
        if (since is None or created >= since) and (newest is None or created >= newest[0]):
            newest = (created, log)
    if newest is None:
        return None
    log = newest[1]
    info = log.get("error_info") or {}
    return LogVerdict(str(log.get("status")), _text(info.get("code")), _text(info.get("message")),
                      parse_time(log.get("ended_at")))


def parse_time(value: Any) -> datetime | None:
    """Any of the three forms of point 14 as an aware UTC time; zone-less is UTC. None if unreadable."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _progress(backup: Mapping[str, Any]) -> int | None:
    extend = backup.get("extend_info") or {}
    value = extend.get("progress") if isinstance(extend, Mapping) else None
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None
