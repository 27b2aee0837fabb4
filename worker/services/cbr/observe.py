"""What one look at a CBR backup says about its deletion: pure, no I/O (``docs/cbr-api.md``).

CBR backups have no ``deleted`` status and no ``fail_op`` (points 2 and 5), so the end is a GONE answer (404
BackupService.6200, or the confirmed 401), and a backup in ``available`` or ``error`` after a DELETE is
``UNTOUCHED`` (not started yet, or fallen back): a status a DELETE may be re-sent from a bounded number of
times (``worker.services.cbr.rules``), never a verdict by itself. A ``delete`` operation log, where one exists
(point 7), gives a verdict through ``read_delete_log``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from worker.cloud.fields import read_datetime, read_progress, read_time, text
from worker.engine.answer import Answer, AnswerKind
from worker.engine.sighting import Seen, Sighting


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
_SEEN = {"waiting_delete": Seen.QUEUED, "deleting": Seen.RUNNING, "available": Seen.UNTOUCHED,
         "error": Seen.UNTOUCHED, **{status: Seen.BLOCKED for status in _BLOCKING}}


def read_backup(backup: Mapping[str, Any]) -> Sighting:
    """The sighting of a backup from its ``backup`` body."""
    status = backup.get("status")
    shown = status if isinstance(status, str) else repr(status)
    seen = _SEEN.get(shown, Seen.UNKNOWN) if isinstance(status, str) else Seen.UNKNOWN
    extend = backup.get("extend_info")
    progress = read_progress(extend.get("progress")) if isinstance(extend, Mapping) else None
    if seen is Seen.QUEUED:
        progress = progress or 0
    elif seen is not Seen.RUNNING:
        progress = None
    vault = backup.get("vault_id")
    # An ``available`` or ``error`` backup is dated, so a fall-back after our DELETE is acted on at once.
    changed_at = read_time(backup.get("updated_at")) if seen is Seen.UNTOUCHED else None
    return Sighting(seen, progress, status=shown, where=vault if isinstance(vault, str) and vault else None,
                    changed_at=changed_at)


def read_answer(answer: Answer) -> Sighting | None:
    """The sighting of a ``get_backup`` answer: GONE, the backup read, or None if it says nothing."""
    if answer.kind is AnswerKind.GONE:
        return Sighting(Seen.GONE)
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
        created = read_datetime(log.get("created_at")) or datetime.min.replace(tzinfo=UTC)
        if (since is None or created >= since) and (newest is None or created >= newest[0]):
            newest = (created, log)
    if newest is None:
        return None
    log = newest[1]
    info = log.get("error_info") or {}
    return LogVerdict(str(log.get("status")), text(info.get("code")), text(info.get("message")),
                      read_datetime(log.get("ended_at")))
