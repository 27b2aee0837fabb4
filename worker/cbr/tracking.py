"""Carry one CBR deletion from its DELETE to a seen end (``docs/design.md``, "CBR"; ``docs/cbr-api.md``).

The same contract as ``worker.tracking.TaskRunner``, which the scheduler drives: ``run`` returns a
``TaskEnd`` or a ``RunAbort`` and raises nothing for the task's own troubles; what it counts goes into
the ``TaskTrace``; time comes from the injected ``Clock``; calls are retried by ``worker.retry``.

What differs is what CBR shows (``worker.cbr.observe``):

- The end is a GONE answer: 404 ``BackupService.6200`` (or the other gone codes, or the 401 "Malformed
  request url" the client has confirmed). ``deleted`` if a DELETE of ours may have applied, else
  ``already_absent``. A gateway 404 is NO_SERVICE: retried within the task's time, never the end.
- Busy answers are followed; the capped ones (``answers.busy_limit``: 6201, 6112) fail the task once a
  code came more often than its cap. Permanent answers fail it at once; fatal ones abort the run,
  except a 403 for a backup that a GET shows is another project's (shared in, point 9): that task fails.
- There is no ``fail_op`` (point 5): a deletion that failed shows only as the backup back in
  ``available`` or in ``error``. Seen so after the lag window (or after it was seen queued or running),
  the DELETE is re-sent, at most ``MAX_RESENDS`` times for DELETEs that were accepted; then the task is
  ``failed`` (``delete_failed``), never ``deleted``. Before each such re-send the ``delete`` operation
  logs of the backup's vault are read (point 7): a ``failed``/``timeout`` log of this backup fails the
  task at once with its ``error_info``. A listing that fails, or finds nothing, changes nothing.
- A status the docs do not list is logged once and followed, never re-sent, until the task timeout.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial

import structlog

from worker.cbr.answers import busy_limit, full_code
from worker.cbr.client import CbrClient
from worker.cbr.observe import CbrSeen, CbrSighting, LogVerdict, read_answer, read_delete_log
from worker.clock import Clock
from worker.csbs.answers import Answer, AnswerKind
from worker.observe import Seen, Sighting
from worker.outcomes import Outcome, RunAbort, TaskEnd
from worker.pacing import Pacer
from worker.retry import call_with_retries
from worker.tracking import (
    TaskSpec,
    TaskTrace,
    TrackingPolicy,
    abort_run,
    end_task,
    note_delete,
    note_unknown,
    retried_until,
    unreadable_end,
    wait_for_look,
)

log = structlog.get_logger()

Ending = TaskEnd | RunAbort

MAX_RESENDS = 3
"""Re-sends of an accepted DELETE whose deletion fell back (``available``/``error``) before the task fails."""
LOG_SLACK_S = 2.0
"""Operation logs created this long before our first DELETE (server time) still count as ours: the ``Date``
header is whole seconds, and a log is written before the answer goes out."""

_PACING = {CbrSeen.QUEUED: Seen.QUEUED, CbrSeen.RUNNING: Seen.RUNNING, CbrSeen.BLOCKED: Seen.BLOCKED,
           CbrSeen.UNKNOWN: Seen.UNKNOWN}


@dataclass
class _CbrTask:
    """The running state of one CBR task: what was sent and what was seen."""

    spec: TaskSpec
    trace: TaskTrace
    backup_id: str
    deadline: float
    deleted_at: float  # when the last DELETE was answered (or the task adopted)
    pacer: Pacer
    maybe_applied: bool = False  # a DELETE of ours may have been applied (answered OK, busy or unknown)
    accepted: bool = False  # the last DELETE was accepted, or may have been applied: a fall-back counts
    seen_working: bool = False  # seen queued or running since the last DELETE
    resends: int = 0  # re-sends counted against MAX_RESENDS
    first_sent_at: float | None = None  # clock.now() when the first DELETE went out
    log_since: float | None = None  # server POSIX time from which delete logs may be ours
    vault_id: str | None = None  # the backup's vault, from a look (the operation-log filter)
    unknown_status: str | None = None  # the last unknown status, once logged
    oplog_unread: bool = False  # a failed operation-log listing was logged
    last_sighting: CbrSighting = field(default_factory=lambda: CbrSighting(CbrSeen.UNTOUCHED))
    busy: Counter[str] = field(default_factory=Counter)  # capped busy answers, by code


class CbrTaskRunner:
    """Runs CBR tasks (``spec.item_id`` is the backup id) against a ``CbrClient``; one serves a whole run."""

    def __init__(self, client: CbrClient, policy: TrackingPolicy, clock: Clock) -> None:
        self.client = client
        self.policy = policy
        self.clock = clock

    def __repr__(self) -> str:
        return (f"<CbrTaskRunner timeout={self.policy.task_timeout_s:g}s lag={self.policy.lag_window_s:g}s "
                f"resends={MAX_RESENDS}>")

    async def run(self, spec: TaskSpec, trace: TaskTrace, *, adopted: bool = False) -> Ending:
        """Delete and follow the backup of ``spec`` until its end is seen or its timeout passes.

        ``adopted``: the backup was already being deleted when the run began; follow it without a DELETE.
        """
        now = self.clock.now()
        task = _CbrTask(spec, trace, _backup_id(spec), now + self.policy.task_timeout_s, now,
                        Pacer(self.policy.timing, now))
        if adopted:
            task.maybe_applied = task.accepted = task.seen_working = True
            # The adopted deletion was sent by an earlier run, at most about one task timeout ago.
            task.log_since = self.clock.wall() - self.policy.task_timeout_s
            trace.state = "adopted"
            log.info("task_adopted")
        else:
            ending = await self._check_vault(task) if spec.checkpoint_id else None
            ending = ending or await self._delete(task)
            if ending is not None:
                return ending
        while True:
            ending = await self._look(task)
            if ending is not None:
                return ending

    async def _check_vault(self, task: _CbrTask) -> Ending | None:
        """The plan named the backup's vault: look before the DELETE, and refuse a backup in another vault."""
        expected = task.spec.checkpoint_id

        async def look() -> Answer:
            task.trace.polls += 1
            return await self.client.get_backup(task.backup_id)

        answer = await self._with_retries(task, look)
        if answer.kind is AnswerKind.GONE:
            return self._end(task, Outcome.ALREADY_ABSENT)
        if answer.kind is AnswerKind.FATAL:
            return abort_run(answer)
        if answer.kind is not AnswerKind.OK:
            return None  # no verdict on the vault: the DELETE and its answer decide, as without one
        actual = str(answer.data.get("vault_id") or "")
        if actual.lower() != expected.lower():
            return self._end(task, Outcome.FAILED, code="vault_mismatch",
                             message=f"the backup is in vault {actual or '(none)'}, not in the plan's vault "
                                     f"{expected}; nothing was sent")
        task.vault_id = actual
        return None

    async def has_ended(self, spec: TaskSpec) -> bool:
        """One look, retried within ``look_budget_s`` at most: True when the deletion is seen to no longer
        run at the provider (gone, back in ``available``/``error``, or held by another operation)."""
        deadline = self.clock.now() + self.policy.look_budget_s
        answer, _ = await call_with_retries(partial(self.client.get_backup, _backup_id(spec)), self.policy.retry,
                                            deadline=deadline)
        sighting = read_answer(answer)
        return sighting is not None and sighting.seen not in (CbrSeen.QUEUED, CbrSeen.RUNNING, CbrSeen.UNKNOWN)

    # -- sending ---------------------------------------------------------------------------------

    async def _delete(self, task: _CbrTask) -> Ending | None:
        """Send the DELETE (retrying throttled and transient answers) and read its answer."""
        maybe_applied = False

        async def attempt() -> Answer:
            nonlocal maybe_applied
            note_delete(task.trace, self.clock)
            if task.first_sent_at is None:
                task.first_sent_at = self.clock.now()
            answer = await self.client.delete_backup(task.backup_id)
            if answer.retryable and (answer.status is None or answer.status >= 500):
                maybe_applied = True  # the DELETE may have reached the service all the same
            if task.log_since is None and answer.server_time is not None and task.first_sent_at is not None:
                task.log_since = answer.server_time - (self.clock.now() - task.first_sent_at) - LOG_SLACK_S
            return answer

        answer = await self._with_retries(task, attempt)
        task.maybe_applied = task.maybe_applied or maybe_applied
        task.accepted = maybe_applied or answer.kind is AnswerKind.OK
        task.deleted_at = self.clock.now()
        if task.log_since is None and task.first_sent_at is not None:  # no Date header: our wall clock
            task.log_since = self.clock.wall() - (task.deleted_at - task.first_sent_at) - LOG_SLACK_S
        task.seen_working = False
        task.pacer.restart(task.deleted_at)
        if answer.kind is AnswerKind.FATAL and answer.status == 403:
            owner = await self._foreign_owner(task)
            if owner is not None:  # point 9: a shared-in backup is refused for this task only, not the run
                return self._end(task, Outcome.FAILED, answer, message=(
                    f"the backup is shared in from project {owner}, not this project's own: "
                    f"{answer.error_msg or 'access denied'}"))
        return self._read_delete_answer(task, answer)

    async def _foreign_owner(self, task: _CbrTask) -> str | None:
        """After a 403 DELETE: the backup's owning project when it is another project's (shared in), else None
        (then the 403 is the credentials' and aborts the run)."""
        async def look() -> Answer:
            task.trace.polls += 1
            return await self.client.get_backup(task.backup_id)

        answer = await self._with_retries(task, look)
        owner = answer.data.get("project_id") if answer.kind is AnswerKind.OK else None
        ours = self.client.project_url.name
        return owner if isinstance(owner, str) and owner and owner.lower() != ours.lower() else None


    def _read_delete_answer(self, task: _CbrTask, answer: Answer) -> Ending | None:
        kind = answer.kind
        if kind is AnswerKind.OK:
            task.maybe_applied = True
            task.trace.state = "submitted"
            log.info("task_submitted", attempt=task.trace.attempts, request_id=answer.request_id)
            return None
        if kind is AnswerKind.BUSY:
            return self._busy(task, answer)
        if kind is AnswerKind.GONE:
            return self._end(task, Outcome.DELETED if task.maybe_applied else Outcome.ALREADY_ABSENT)
        if kind is AnswerKind.FATAL:
            return abort_run(answer)
        if kind is AnswerKind.PERMANENT:
            return self._end(task, Outcome.FAILED, answer)
        return self._end(task, Outcome.TIMED_OUT, answer, code="task_timeout",
                         message=f"no usable answer before the task timeout: {answer.error_msg}")

    def _busy(self, task: _CbrTask, answer: Answer) -> Ending | None:
        """A busy DELETE: followed (the backup may be ours being deleted), or failed past its code's cap."""
        # Already being deleted (our earlier attempt, an interrupted run), or busy with another operation or
        # the provider's queue: following it tells which. As for CSBS, a later 404 then reads as deleted.
        task.maybe_applied = True
        limit = busy_limit(answer)
        if limit is not None:
            code = full_code(answer.error_code) or ""
            task.busy[code] += 1
            if task.busy[code] > limit:
                return self._end(task, Outcome.FAILED, answer,
                                 message=f"{answer.error_msg} (answered {task.busy[code]} times)")
        log.info("task_busy", attempt=task.trace.attempts, **answer.log_fields())
        return None

    async def _with_retries(self, task: _CbrTask, call: Callable[[], Awaitable[Answer]]) -> Answer:
        return await retried_until(call, self.policy.retry, task.deadline)

    # -- following -------------------------------------------------------------------------------

    async def _look(self, task: _CbrTask) -> Ending | None:
        """Wait for the next look, look, and act on what is seen; an ending when the task is over."""
        if not await wait_for_look(self.clock, task.pacer, task.trace, _pacing_view(task.last_sighting),
                                   task.deadline):
            return self._timed_out(task)

        async def poll() -> Answer:
            task.trace.polls += 1
            return await self.client.get_backup(task.backup_id)

        answer = await self._with_retries(task, poll)
        sighting = read_answer(answer)
        if sighting is None:
            return unreadable_end(task.trace, answer)
        if answer.kind is AnswerKind.OK and isinstance(answer.data, dict):
            vault = answer.data.get("vault_id")
            task.vault_id = vault if isinstance(vault, str) and vault else task.vault_id
        task.last_sighting = sighting
        return await self._act(task, sighting)

    async def _act(self, task: _CbrTask, sighting: CbrSighting) -> Ending | None:
        seen = sighting.seen
        if seen is CbrSeen.GONE:
            return self._end(task, Outcome.DELETED if task.maybe_applied else Outcome.ALREADY_ABSENT)
        if seen in (CbrSeen.QUEUED, CbrSeen.RUNNING):
            self._working(task, sighting)
            return None
        if seen is CbrSeen.BLOCKED:
            return None
        if seen is CbrSeen.UNKNOWN:
            task.unknown_status = note_unknown(task.trace, task.unknown_status, sighting.status)
            return None
        # available or error: not started yet (the status lag), lost, or fallen back (point 5)
        if not (task.seen_working or self._lag_over(task)):
            return None
        return await self._fallen_back(task, sighting)

    async def _fallen_back(self, task: _CbrTask, sighting: CbrSighting) -> Ending | None:
        """The backup is still (or again) deletable after our DELETE: fail on a verdict or the cap, or re-send."""
        status = sighting.status or sighting.seen.value
        how = "fell back to" if task.seen_working else "still"
        if task.accepted:
            verdict = await self._log_verdict(task)
            if verdict is not None and verdict.failed:
                return self._end(task, Outcome.FAILED, code=verdict.error_code or "delete_failed",
                                 message=verdict.error_message or f"the delete operation log says {verdict.status}")
            if task.resends >= MAX_RESENDS:
                return self._end(task, Outcome.FAILED, code="delete_failed", message=(
                    f"the deletion never ended: the backup {how} {status!r} after {task.trace.attempts} DELETEs "
                    f"({task.resends} re-sent), no failed operation log"))
            task.resends += 1
        task.trace.state = "resent"
        log.info("task_resent", reason=f"backup {how} {status} after its DELETE", resend=task.resends,
                 max_resends=MAX_RESENDS)
        return await self._delete(task)

    async def _log_verdict(self, task: _CbrTask) -> LogVerdict | None:
        """The newest ``delete`` log of the backup since our DELETE, if it can be read (point 7)."""
        if task.vault_id is None or task.log_since is None:
            return None
        since = datetime.fromtimestamp(task.log_since, UTC)
        deadline = min(task.deadline, self.clock.now() + self.policy.look_budget_s)
        answer = await self.client.list_operation_logs(
            deadline=deadline, operation_type="delete", vault_id=task.vault_id,
            start_time=since.strftime("%Y-%m-%dT%H:%M:%SZ"))
        if answer.kind is not AnswerKind.OK or not isinstance(answer.data, list):
            if not task.oplog_unread:
                task.oplog_unread = True
                log.info("task_oplog_unread", detail="no operation-log verdict: followed by status only",
                         kind=str(answer.kind), **answer.log_fields())
            return None
        return read_delete_log(answer.data, task.backup_id, since=since)

    def _working(self, task: _CbrTask, sighting: CbrSighting) -> None:
        state = "queued" if sighting.seen is CbrSeen.QUEUED else "running"
        if not task.seen_working or task.trace.state != state:
            log.info(f"task_{state}", progress=sighting.progress)
        task.seen_working = True
        task.trace.progress = sighting.progress
        task.trace.state = state

    def _lag_over(self, task: _CbrTask) -> bool:
        return self.clock.now() - task.deleted_at >= self.policy.lag_window_s

    # -- endings ---------------------------------------------------------------------------------

    def _timed_out(self, task: _CbrTask) -> TaskEnd:
        last = task.last_sighting
        timeout = f"{self.policy.task_timeout_s:g} s"
        if task.unknown_status is not None and last.seen is CbrSeen.UNKNOWN:
            message = f"still in status {task.unknown_status!r}, which this worker does not know, after {timeout}"
        elif last.status is not None and task.trace.polls:
            shown = f"{last.status!r}" + (f" at {last.progress}%" if last.progress is not None else "")
            message = f"not seen to end within {timeout} (last seen {shown})"
        else:
            message = f"not seen to end within {timeout}"
        return self._end(task, Outcome.TIMED_OUT, code="task_timeout", message=message)

    def _end(self, task: _CbrTask, outcome: Outcome, answer: Answer | None = None, *,
             message: str | None = None, code: str | None = None) -> TaskEnd:
        return end_task(task.trace, outcome, answer, message=message, code=code)


def _backup_id(spec: TaskSpec) -> str:
    if not spec.item_id:
        raise ValueError(f"a CBR task needs its backup id as item_id (task {spec.checkpoint_id})")
    return spec.item_id


def _pacing_view(sighting: CbrSighting) -> Sighting:
    """The CSBS-shaped sighting the pacer reads (only queued/running and progress matter to it)."""
    return Sighting(_PACING.get(sighting.seen, Seen.UNTOUCHED), sighting.progress, status=sighting.status)
