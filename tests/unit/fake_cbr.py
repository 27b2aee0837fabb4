"""A scripted fake of the CBR cloud, in virtual time, for the calls of ``worker.services.cbr.rules.CbrRules``.

Like ``tests.unit.fake_cloud`` (whose phases it uses), it fakes the CLOUD, not our client: each backup has a
timeline of states over virtual time, and each call is answered from the state at the instant it arrives,
as the ``CbrClient`` would return it: ``worker.engine.answer.Answer`` values whose kind comes from CBR's own
table (``worker.services.cbr.answers.classify``), with ``server_time`` the ``Date`` header a server would send
(whole seconds of the virtual wall clock) and a request id ``req-<n>`` (n = the call's number). Every call
is recorded with its virtual instant.

A backup's script (``FakeCbr.add``):

- ``vault_id`` and ``project_id``: where the backup is and who owns it (a shared-in backup is another
  project's, docs/cbr-api.md point 9); ``vault_id=None`` leaves the field out of the body;
- ``before``: the phases it goes through before any DELETE (from ``since``, default an hour ago);
- ``deletions``: what the k-th DELETE that the service accepts does (the last one repeats): phases from the
  instant of that DELETE; an empty one is a DELETE the service silently dropped. A deletion that fails shows
  only as the backup back in ``available`` or ``error`` (``fell_back``; point 5);
- ``delete_answers`` / ``read_answers``: answers that replace the state's own, one per call, in order
  (``Landed(answer)``: a DELETE that reached the service although its answer says otherwise);
  ``read_forever``: the answer of every read once those are used up;
- ``busy_answer``: the answer to a DELETE while the backup is busy (queued, deleting, in the status lag,
  protecting): 400 ``CSBS.2003`` unless given, as the emulator's default ``repeat_delete``.

Phases: those of ``fake_cloud`` (``available``, ``lag``, ``queued`` = ``waiting_delete``, ``running`` =
``deleting`` with progress 0 to 100 over its time, ``gone`` = 404 ``BackupService.6200``, ``status(name)``),
plus ``fell_back(to)`` and ``protecting``. Without a scripted answer a DELETE is answered 404 when the backup
is gone, ``busy_answer`` while it is busy, else 204, and starts the next deletion.

Operation logs (point 7) are scripted with ``add_log``: a ``delete`` log of a backup, created at a virtual
instant (visible from then on), with its status and ``error_info``. ``list_operation_logs`` filters them by
``operation_type``, ``vault_id`` and ``start_time`` (on ``created_at``) as the service does, unless
``filters_logs=False`` (a service that ignores ``start_time``); ``log_answers`` replace its answers in order,
``log_forever`` every answer once those are used up.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import yarl

from tests.unit.fake_cloud import (
    FOREVER,
    Call,
    Landed,
    Phase,
    Scripted,
    available,
    gone,
    most_outstanding,
    running,
    status,
)
from tests.virtual_time import VirtualClock
from worker.engine.answer import Answer, AnswerKind
from worker.services.cbr.answers import MALFORMED_URL, classify

PROJECT = "0123456789abcdef0123456789abcdef"  # the project of the run's credentials
OTHER_PROJECT = "fedcba9876543210fedcba9876543210"  # a project that shares a backup with ours
VAULT = "vault-1"

def fell_back(to: str = "available", seconds: float = FOREVER) -> Phase:
    """A deletion that failed: the backup is deletable again, in ``available`` or ``error`` (point 5)."""
    return status(to, seconds)


def protecting(seconds: float = FOREVER) -> Phase:
    """A backup of the resource runs on it: blocked, a DELETE now is answered busy."""
    return status("protecting", seconds, busy=True)


# -- answers, as the service (and our client) give them -------------------------------------------------

def http(status_code: int, code: str | None = None, msg: str | None = None, *,
         retry_after: float | None = None) -> Answer:
    """An answer template with the kind CBR's table gives it (request id and Date added when sent)."""
    return Answer(classify(status_code, code), status_code, code, msg, retry_after_s=retry_after)


def not_found() -> Answer:
    return http(404, "BackupService.6200", "The backup does not exist")


def malformed_url() -> Answer:
    """The 401 "Malformed request url" as ``CbrClient`` gives it once its credentials check passed: GONE."""
    return dataclasses.replace(http(401, "401", MALFORMED_URL), kind=AnswerKind.GONE)


def being_processed() -> Answer:
    return http(400, "CSBS.2003", "The backup is being processed.")


def in_use() -> Answer:
    return http(400, "BackupService.6216", "The backup cannot be deleted because it is in use. Try again later.")


def conflict() -> Answer:
    return http(409, None, "Conflict")


def cannot_delete(code: str = "BackupService.6201") -> Answer:
    """Capped busy (``BUSY_LIMITS``): 6201 (also bare, as HW-DEF writes it) or 6112 (the vault's status)."""
    return http(400, code, "The backup cannot be deleted now. Try again later.")


def forbidden(msg: str | None = "Not authenticated or no permission") -> Answer:
    return http(403, "BackupService.8600", msg)


def unavailable(retry_after: float | None = None) -> Answer:
    return http(503, None, "Service Unavailable", retry_after=retry_after)


# -- the cloud -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class OpLog:
    """A ``delete`` operation log of one backup, created at virtual instant ``at``."""

    backup_id: str
    vault_id: str
    at: float
    status: str  # success, failed, timeout, running, waiting
    code: str | None = None
    message: str | None = None


@dataclass(frozen=True)
class LogQuery:
    """One ``list_operation_logs`` call: its filters and deadline."""

    at: float
    filters: dict[str, str]
    deadline: float | None


@dataclass
class FakeBackup:
    """One backup and its script (see the module docstring)."""

    backup_id: str
    vault_id: str | None
    project_id: str
    deletions: Sequence[Sequence[Phase]]
    delete_answers: list[Scripted]
    read_answers: list[Answer]
    read_forever: Answer | None
    busy_answer: Answer
    timeline: list[tuple[float, Phase, dict[str, Any] | None]] = field(default_factory=list)
    accepted: int = 0  # DELETEs that started a deletion

    def at(self, now: float) -> tuple[float, Phase, dict[str, Any] | None]:
        """The (start, phase, body shown during a lag) of the segment shown at ``now``."""
        current = self.timeline[0]
        for segment in self.timeline:
            if segment[0] > now:
                break
            current = segment
        return current


class FakeCbr:
    """The CBR cloud of one project: backups with scripts, operation logs, every call recorded."""

    def __init__(self, clock: VirtualClock, *, project_id: str = PROJECT, dated: bool = True,
                 filters_logs: bool = True) -> None:
        self.clock = clock
        self.project_url = yarl.URL("https://cbr.example.test/v3") / project_id  # ``.name``: the project id
        self.dated = dated  # answers carry a Date header (server_time)
        self.filters_logs = filters_logs
        self.backups: dict[str, FakeBackup] = {}
        self.logs: list[OpLog] = []
        self.log_answers: list[Answer] = []
        self.log_forever: Answer | None = None
        self.listing_answers: list[Answer] = []  # scripted answers of the sweep's listing, in order
        self.log_queries: list[LogQuery] = []
        self.calls: list[Call] = []

    def add(self, backup_id: str, *, vault_id: str | None = VAULT, project_id: str = PROJECT,
            before: Sequence[Phase] = (available(),), since: float = -3600.0,
            deletions: Sequence[Sequence[Phase]] = ((running(30), gone()),),
            delete_answers: Sequence[Scripted] = (), read_answers: Sequence[Answer] = (),
            read_forever: Answer | None = None, busy_answer: Answer | None = None) -> FakeBackup:
        backup = FakeBackup(backup_id, vault_id, project_id, deletions, list(delete_answers), list(read_answers),
                            read_forever, busy_answer or being_processed())
        self._extend(backup, since, before, None)
        self.backups[backup_id] = backup
        return backup

    def add_log(self, backup_id: str, at: float, status: str = "failed", *, code: str | None = None,
                message: str | None = None, vault_id: str | None = None) -> OpLog:
        """A ``delete`` log of ``backup_id`` created at instant ``at``, in the backup's vault unless given."""
        vault = vault_id or (self.backups[backup_id].vault_id if backup_id in self.backups else None) or VAULT
        log = OpLog(backup_id, vault, at, status, code, message)
        self.logs.append(log)
        return log

    # -- the calls of CbrRules ---------------------------------------------------------------------

    async def delete_backup(self, backup_id: str) -> Answer:
        return self._answer("delete_backup", backup_id, self._delete(backup_id))

    async def get_backup(self, backup_id: str) -> Answer:
        backup = self.backups.get(backup_id)
        if backup is None:
            return self._answer("get_backup", backup_id, not_found())
        if backup.read_answers:
            return self._answer("get_backup", backup_id, backup.read_answers.pop(0))
        if backup.read_forever is not None:
            return self._answer("get_backup", backup_id, backup.read_forever)
        body = self._body(backup, self.clock.now())
        return self._answer("get_backup", backup_id,
                            not_found() if body is None else Answer(AnswerKind.OK, 200, data=body))

    async def list_backups(self, *, deadline: float | None = None, **filters: Any) -> Answer:
        """The sweep's listing: the backups whose status is one of ``status`` (a list), as GET shows them."""
        assert set(filters) == {"status"}, f"unexpected listing {filters}"
        target = "status=" + "|".join(filters["status"])
        if self.listing_answers:
            return self._answer("list_backups", target, self.listing_answers.pop(0))
        now = self.clock.now()
        rows = [body for backup in self.backups.values()
                if (body := self._body(backup, now)) is not None and body["status"] in filters["status"]]
        return self._answer("list_backups", target, Answer(AnswerKind.OK, 200, data=rows))

    async def list_operation_logs(self, *, deadline: float | None = None, **filters: str) -> Answer:
        now = self.clock.now()
        self.log_queries.append(LogQuery(now, dict(filters), deadline))
        target = ",".join(f"{key}={value}" for key, value in sorted(filters.items()))
        if self.log_answers:
            return self._answer("list_operation_logs", target, self.log_answers.pop(0))
        if self.log_forever is not None:
            return self._answer("list_operation_logs", target, self.log_forever)
        assert filters.get("operation_type") == "delete", f"unexpected listing {filters}"
        start = _parse(filters["start_time"]) if self.filters_logs and "start_time" in filters else None
        rows = [self._log_body(log) for log in self.logs
                if log.at <= now and log.vault_id == filters.get("vault_id", log.vault_id)
                and (start is None or self._wall(log.at) >= start.timestamp())]
        return self._answer("list_operation_logs", target, Answer(AnswerKind.OK, 200, data=rows))

    # -- what was received ------------------------------------------------------------------------

    def calls_of(self, target: str | None = None, *ops: str) -> list[Call]:
        return [call for call in self.calls
                if (target is None or call.target == target) and (not ops or call.op in ops)]

    def delete_times(self, target: str | None = None) -> list[float]:
        return [call.at for call in self.calls_of(target, "delete_backup")]

    def read_times(self, target: str) -> list[float]:
        return [call.at for call in self.calls_of(target, "get_backup")]

    def log_times(self) -> list[float]:
        return [query.at for query in self.log_queries]

    def max_outstanding(self) -> int:
        """The most backups outstanding at once (``most_outstanding``); operation-log listings aside."""
        return most_outstanding(call for call in self.calls if call.op != "list_operation_logs")

    # -- the service ------------------------------------------------------------------------------

    def _delete(self, backup_id: str) -> Answer:
        now = self.clock.now()
        backup = self.backups.get(backup_id)
        if backup is None:
            return not_found()
        scripted = backup.delete_answers.pop(0) if backup.delete_answers else None
        if isinstance(scripted, Answer):
            return scripted
        body = self._body(backup, now)
        if scripted is None:
            if body is None:
                return not_found()
            if backup.at(now)[1].busy:
                return backup.busy_answer
        if body is not None:
            deletion = backup.deletions[min(backup.accepted, len(backup.deletions) - 1)]
            backup.accepted += 1
            if deletion:
                self._extend(backup, now, deletion, body)
        return scripted.answer if isinstance(scripted, Landed) else Answer(AnswerKind.OK, 204)

    @staticmethod
    def _extend(backup: FakeBackup, start: float, phases: Sequence[Phase], shown: dict[str, Any] | None) -> None:
        backup.timeline[:] = [segment for segment in backup.timeline if segment[0] <= start]
        for phase in phases:
            backup.timeline.append((start, phase, shown if phase.status == "lag" else None))
            start += phase.seconds

    def _body(self, backup: FakeBackup, now: float) -> dict[str, Any] | None:
        """The backup as ``GET backups/{id}`` shows it at ``now``; None when it is gone (404)."""
        start, phase, shown = backup.at(now)
        if phase.status == "lag":
            return dict(shown) if shown is not None else None
        if phase.status == "gone":
            return None
        progress = 0
        if phase.status == "deleting" and math.isfinite(phase.seconds) and not phase.silent:
            progress = int(100 * (now - start) / phase.seconds)
        body: dict[str, Any] = {"id": backup.backup_id, "name": f"backup-{backup.backup_id}",
                                "status": phase.status, "project_id": backup.project_id,
                                "checkpoint_id": f"cp-{backup.backup_id}", "extend_info": {"progress": progress},
                                "updated_at": _cbr_time(self._wall(start))}
        if backup.vault_id is not None:
            body["vault_id"] = backup.vault_id
        return body

    def _log_body(self, log: OpLog) -> dict[str, Any]:
        """A log as ``GET operation-logs`` shows it (docs/cbr-api.md, Operation logs)."""
        return {"id": f"log-{log.backup_id}-{log.at:g}", "operation_type": "delete", "status": log.status,
                "vault_id": log.vault_id, "created_at": _cbr_time(self._wall(log.at)),
                "error_info": {"code": log.code, "message": log.message} if log.code or log.message else {},
                "extra_info": {"delete": {"backup_id": log.backup_id, "backup_name": f"backup-{log.backup_id}"}}}

    def _wall(self, instant: float) -> float:
        return self.clock.wall() - self.clock.now() + instant

    def _answer(self, op: str, target: str, answer: Answer) -> Answer:
        seq = len(self.calls)
        server_time = math.floor(self.clock.wall()) if self.dated and answer.status is not None else None
        answer = dataclasses.replace(answer, request_id=f"req-{seq}", server_time=server_time)
        self.calls.append(Call(seq, self.clock.now(), op, target, answer))
        return answer


def _cbr_time(posix: float) -> str:
    """A time as CBR writes it (one of its three forms, point 14): UTC with an offset."""
    return datetime.fromtimestamp(posix, UTC).isoformat(timespec="milliseconds")


def _parse(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
