"""A scripted fake of the CSBS cloud, in virtual time, for the ``TaskClient`` calls of ``worker.engine.tracking``.

It fakes the CLOUD, not our client: each backup has a timeline of states over virtual time, and every call
is answered from the state at the instant it arrives, as ``worker.engine.answer.Answer`` values whose kind
comes from the real HTTP table (``classify``) and whose ``server_time`` is the ``Date`` header a server
would send (whole seconds of the virtual wall clock). Every call is recorded with its virtual time.

A backup's script:

- ``before``: the phases it goes through before any DELETE (from ``since``, default an hour ago);
- ``deletions``: what the k-th DELETE that the service accepts does (the last one repeats): a sequence of
  phases from the instant of that DELETE; an empty one is a DELETE the service silently dropped;
- ``delete_answers`` / ``read_answers``: answers that replace the state's own, one per call, in order
  (``Landed(answer)``: a DELETE that reached the service although its answer says otherwise);
  ``read_forever``: the answer of every read once those are used up;
- ``crash``: an exception raised by the calls about the backup (``crash_on``: "delete", "read" or "any"):
  a bug below the tracker.

Phases (``seconds`` is how long each lasts; the last lasts forever): ``available``, ``lag`` (the deletion
runs, but the status still shows what it was before the DELETE), ``queued`` (``waiting_delete``),
``running`` (``deleting``, progress 0 to 100 over its time), ``gone`` (404 ``CSBS.3001``), ``deleted``
(status ``deleted``), ``failed`` (``error``, ``fail_op: delete``, dated when it failed), ``status(name)``.
Without a scripted answer a DELETE is answered 404 when the backup is gone, 400 ``CSBS.2003`` while it is
being deleted (or protected, restored), else 200, and starts the next deletion.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from tests.virtual_time import VirtualClock
from worker.engine.answer import Answer, AnswerKind
from worker.services.csbs.answers import classify

FOREVER = math.inf


@dataclass(frozen=True)
class Phase:
    """One state of a backup, for ``seconds``."""

    status: str  # a CSBS status, or "gone" (404) or "lag" (the state before the DELETE, still shown)
    seconds: float = FOREVER
    busy: bool = False  # a DELETE now is answered 400 CSBS.2003
    fail_code: str | None = None
    fail_reason: str | None = None
    silent: bool = False  # a service that reports no progress: 0 % all along


def available(seconds: float = FOREVER) -> Phase:
    return Phase("available", seconds)


def lag(seconds: float) -> Phase:
    return Phase("lag", seconds, busy=True)


def queued(seconds: float = FOREVER) -> Phase:
    return Phase("waiting_delete", seconds, busy=True)


def running(seconds: float = FOREVER, *, silent: bool = False) -> Phase:
    return Phase("deleting", seconds, busy=True, silent=silent)


def gone() -> Phase:
    return Phase("gone")


def deleted() -> Phase:
    return Phase("deleted")


def failed(code: str = "BackupService.6004", reason: str = "the storage refused the deletion") -> Phase:
    return Phase("error", fail_code=code, fail_reason=reason)


def status(name: str, seconds: float = FOREVER, *, busy: bool = False) -> Phase:
    return Phase(name, seconds, busy=busy)


# -- answers, as the service sends them -----------------------------------------------------------------

def http(status_code: int, code: str | None = None, msg: str | None = None, *,
         retry_after: float | None = None) -> Answer:
    """An answer template with the kind the real HTTP table gives it (request id and Date added when sent)."""
    return Answer(classify(status_code, code), status_code, code, msg, retry_after_s=retry_after)


def dropped() -> Answer:
    """A connection dropped before any HTTP answer."""
    return Answer(AnswerKind.TRANSIENT, None, None, "Server disconnected")


def unavailable(retry_after: float | None = None) -> Answer:
    return http(503, None, "Service Unavailable", retry_after=retry_after)


def throttled(retry_after: float) -> Answer:
    return http(429, "APIG.0308", "The request is throttled.", retry_after=retry_after)


def forbidden() -> Answer:
    return http(403, "CSBS.1020", "No permission for this project")


def refused() -> Answer:
    return http(400, "CSBS.8007", "The backup is registered as an image")


@dataclass(frozen=True)
class Landed:
    """A scripted DELETE answer for a DELETE that reached the service all the same (it starts a deletion)."""

    answer: Answer


Scripted = Answer | Landed


@dataclass(frozen=True)
class Call:
    """One call the cloud received."""

    seq: int
    at: float  # virtual time of arrival
    op: str  # delete_item, delete_record, get_item, list_items
    target: str  # the item id, the checkpoint id, or the listing's filters
    answer: Answer


@dataclass
class _Segment:
    start: float
    phase: Phase
    task_id: str
    shown: dict[str, Any] | None = None  # for "lag": the body as it was before the DELETE


@dataclass
class Backup:
    """One backup and its script (see the module docstring)."""

    item_id: str
    checkpoint_id: str
    deletions: Sequence[Sequence[Phase]]
    delete_answers: list[Scripted]
    read_answers: list[Answer]
    read_forever: Answer | None
    crash: Exception | None
    crash_on: str
    timeline: list[_Segment] = field(default_factory=list)
    accepted: int = 0  # DELETEs that started a deletion

    def segment_at(self, now: float) -> _Segment:
        """The segment shown at ``now``."""
        current = self.timeline[0]
        for segment in self.timeline:
            if segment.start > now:
                break
            current = segment
        return current


class FakeCloud:
    """The cloud: backups with scripts, every call recorded (see the module docstring)."""

    def __init__(self, clock: VirtualClock, *, latency_s: float = 0.0, dated: bool = True) -> None:
        self.clock = clock
        self.latency_s = latency_s
        self.dated = dated  # answers carry a Date header (server_time)
        self.page_size = 1000  # as CsbsClient's: the sweep's one page
        self.backups: dict[str, Backup] = {}
        self.calls: list[Call] = []
        self.listing_answers: list[Answer] = []  # answers that replace those of listings by status, in order
        self._tasks = 0

    def add(self, item_id: str, checkpoint_id: str | None = None, *, before: Sequence[Phase] = (available(),),
            since: float = -3600.0, deletions: Sequence[Sequence[Phase]] = ((running(30), gone()),),
            delete_answers: Sequence[Scripted] = (), read_answers: Sequence[Answer] = (),
            read_forever: Answer | None = None, crash: Exception | None = None, crash_on: str = "any") -> Backup:
        backup = Backup(item_id, checkpoint_id or f"cp-{item_id}", deletions, list(delete_answers),
                        list(read_answers), read_forever, crash, crash_on)
        self._extend(backup, since, before, "task-old", None)
        self.backups[item_id] = backup
        return backup

    # -- the TaskClient calls ----------------------------------------------------------------------

    async def delete_item(self, checkpoint_id: str, item_id: str) -> Answer:
        backup = self.backups[item_id]
        assert backup.checkpoint_id == checkpoint_id, "the DELETE names the backup's own record"
        self._crash([backup], "delete", "delete_item", item_id)
        return await self._answer("delete_item", item_id, self._delete([backup]))

    async def delete_record(self, checkpoint_id: str) -> Answer:
        self._crash(self._record(checkpoint_id), "delete", "delete_record", checkpoint_id)
        return await self._answer("delete_record", checkpoint_id, self._delete(self._record(checkpoint_id)))

    async def get_item(self, item_id: str) -> Answer:
        backup = self.backups.get(item_id)
        if backup is None:
            return await self._answer("get_item", item_id, _not_found())
        self._crash([backup], "read", "get_item", item_id)
        return await self._answer("get_item", item_id, self._read([backup], single=True))

    async def list_page(self, *, limit: int, marker: str | None = None, **filters: str) -> Answer:
        """The sweep's listing: one page (every backup fits in it here)."""
        assert marker is None
        return await self.list_items(deadline=None, **filters)

    async def list_items(self, *, deadline: float | None = None, **filters: str) -> Answer:
        target = ",".join(f"{key}={value}" for key, value in sorted(filters.items()))
        if set(filters) == {"checkpoint_id"}:
            self._crash(self._record(filters["checkpoint_id"]), "read", "list_items", filters["checkpoint_id"])
            return await self._answer("list_items", filters["checkpoint_id"],
                                      self._read(self._record(filters["checkpoint_id"]), single=False))
        assert set(filters) == {"status"}, f"unexpected listing {filters}"
        if self.listing_answers:
            return await self._answer("list_items", target, self.listing_answers.pop(0))
        now = self.clock.now()
        items = [body for backup in self.backups.values()
                 if (body := self._body(backup, now)) is not None and body["status"] == filters["status"]]
        return await self._answer("list_items", target, Answer(AnswerKind.OK, 200, data=items))

    # -- what was received ------------------------------------------------------------------------

    def calls_of(self, target: str | None = None, *ops: str) -> list[Call]:
        return [call for call in self.calls
                if (target is None or call.target == target) and (not ops or call.op in ops)]

    def delete_times(self, target: str | None = None) -> list[float]:
        return [call.at for call in self.calls_of(target, "delete_item", "delete_record")]

    def read_times(self, target: str) -> list[float]:
        return [call.at for call in self.calls_of(target, "get_item", "list_items")]

    def max_outstanding(self) -> int:
        """The most tasks outstanding at once (``most_outstanding``); listings of what is in progress aside."""
        return most_outstanding(call for call in self.calls if "=" not in call.target)

    # -- the service ------------------------------------------------------------------------------

    def _record(self, checkpoint_id: str) -> list[Backup]:
        return [backup for backup in self.backups.values() if backup.checkpoint_id == checkpoint_id]

    def _delete(self, backups: Sequence[Backup]) -> Answer:
        now = self.clock.now()
        scripted = backups[0].delete_answers.pop(0) if backups and backups[0].delete_answers else None
        if isinstance(scripted, Answer):
            return scripted
        present = [backup for backup in backups if self._body(backup, now) is not None]
        if scripted is None:
            if not present:
                return _not_found()
            if any(backup.segment_at(now).phase.busy for backup in present):
                return http(400, "CSBS.2003", "The backup is being deleted, backed up or restored")
        for backup in present:
            deletion = backup.deletions[min(backup.accepted, len(backup.deletions) - 1)]
            backup.accepted += 1
            self._tasks += 1
            if deletion:
                self._extend(backup, now, deletion, f"task-{self._tasks}", self._body(backup, now))
        return scripted.answer if scripted is not None else Answer(AnswerKind.OK, 200, data={})

    def _read(self, backups: Sequence[Backup], *, single: bool) -> Answer:
        now = self.clock.now()
        first = backups[0] if backups else None
        if first is not None and first.read_answers:
            return first.read_answers.pop(0)
        if first is not None and first.read_forever is not None:
            return first.read_forever
        bodies = [body for backup in backups if (body := self._body(backup, now)) is not None]
        if single:
            return Answer(AnswerKind.OK, 200, data=bodies[0]) if bodies else _not_found()
        return Answer(AnswerKind.OK, 200, data=bodies)

    def _extend(self, backup: Backup, start: float, phases: Sequence[Phase], task_id: str,
                shown: dict[str, Any] | None) -> None:
        del backup.timeline[self._index_after(backup, start):]
        for phase in phases:
            backup.timeline.append(_Segment(start, phase, task_id, shown if phase.status == "lag" else None))
            start += phase.seconds

    @staticmethod
    def _index_after(backup: Backup, start: float) -> int:
        for number, segment in enumerate(backup.timeline):
            if segment.start > start:
                return number
        return len(backup.timeline)

    def _body(self, backup: Backup, now: float) -> dict[str, Any] | None:
        """The backup as ``GET checkpoint_items/{id}`` shows it at ``now``; None when it is gone (404)."""
        segment = backup.segment_at(now)
        phase = segment.phase
        if phase.status == "lag":
            return dict(segment.shown) if segment.shown is not None else None
        if phase.status == "gone":
            return None
        progress = 0
        if phase.status == "deleting" and math.isfinite(phase.seconds) and not phase.silent:
            progress = int(100 * (now - segment.start) / phase.seconds)
        extend: dict[str, Any] = {"progress": progress, "taskid": segment.task_id,
                                  "fail_op": "delete" if phase.fail_code is not None else "",
                                  "fail_reason": phase.fail_reason or "",
                                  "fail_code": {"Code": phase.fail_code} if phase.fail_code else {},
                                  "finished_at": _csbs_time(self.clock.wall() - now + segment.start)}
        return {"id": backup.item_id, "checkpoint_id": backup.checkpoint_id, "status": phase.status,
                "updated_at": _csbs_time(self.clock.wall() - now + segment.start), "extend_info": extend}

    def _crash(self, backups: Sequence[Backup], kind: str, op: str, target: str) -> None:
        """Raise the scripted exception of a backup (recorded as a call whose answer says so)."""
        for backup in backups:
            if backup.crash is not None and backup.crash_on in (kind, "any"):
                placeholder = Answer(AnswerKind.TRANSIENT, error_msg=f"raised {backup.crash!r}")
                self.calls.append(Call(len(self.calls), self.clock.now(), op, target, placeholder))
                raise backup.crash

    async def _answer(self, op: str, target: str, answer: Answer) -> Answer:
        now = self.clock.now()
        seq = len(self.calls)
        server_time = (math.floor(self.clock.wall()) if self.dated and answer.status is not None else None)
        answer = dataclasses.replace(answer, request_id=f"req-{seq}", server_time=server_time)
        self.calls.append(Call(seq, now, op, target, answer))
        if self.latency_s:
            await self.clock.sleep(self.latency_s)
        return answer


def _not_found() -> Answer:
    return http(404, "CSBS.3001", "The backup does not exist")


def _csbs_time(posix: float) -> str:
    """A time as CSBS writes it: UTC, no zone designator."""
    return datetime.fromtimestamp(posix, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")


class _Called(Protocol):
    @property
    def seq(self) -> int: ...

    @property
    def op(self) -> str: ...

    @property
    def target(self) -> str: ...

    @property
    def answer(self) -> Answer: ...


def most_outstanding(calls: Iterable[_Called]) -> int:
    """The most tasks outstanding at once, from the calls alone: a task is outstanding from the first call
    about it (its DELETE, or the first look at an adopted or foreign deletion) to the last; a DELETE answered
    busy started nothing (the task stepped aside), so it does not open a span."""
    spans: dict[str, list[int]] = {}
    seqs: list[int] = []
    for call in calls:
        seqs.append(call.seq)
        refused = call.op.startswith("delete") and call.answer.kind is AnswerKind.BUSY
        if not (refused and call.target not in spans):
            spans.setdefault(call.target, [call.seq, call.seq])[1] = call.seq
    return max((sum(first <= seq <= last for first, last in spans.values()) for seq in seqs), default=0)
