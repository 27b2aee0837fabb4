"""Carry one deletion task from its DELETE to a seen end: send, retry, follow, decide the outcome.

A DELETE only queues a task at the provider, so ``200`` proves nothing: the task ends when the worker
sees the backup gone (404 ``CSBS.3001`` or ``deleted``) or failed (``error`` with ``fail_op: delete``, see
docs/csbs-api.md, silent points 1-3). Answers that leave the DELETE's fate open (a dropped connection, a
5xx) make a later "busy" or 404 mean running or done, never failed. A backup that is already being deleted
(an interrupted earlier run) is followed, not failed; one adopted before any DELETE (docs/design.md,
"Adoption") is followed without one.

A failure is ours only when the service dates it at or after our first DELETE (its ``finished_at`` or
``updated_at`` against the ``Date`` of the DELETE's answer), or when a new deletion task id replaced one we
saw fail before; an older failure seen through the status lag is treated as "untouched" and never fails the
task (docs/design.md, "Fresh and stale failures"). Without those fields the lag window decides, as before.

``TaskRunner.run`` returns a value, a ``TaskEnd`` or a ``RunAbort``; it raises nothing for the task's own
troubles. What it counts on the way (DELETEs, looks, state) goes into the ``TaskTrace`` the scheduler gave it,
so a stop that cancels the task loses none of it. Time comes from the injected ``Clock``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol

import structlog

from worker.clock import Clock
from worker.csbs.answers import Answer, AnswerKind
from worker.observe import Seen, Sighting, read_item, read_record
from worker.outcomes import Outcome, RunAbort, TaskEnd
from worker.pacing import Pacer, PollTiming
from worker.retry import RetryPolicy, call_with_retries

log = structlog.get_logger()

Ending = TaskEnd | RunAbort


class TaskClient(Protocol):
    """The calls of ``worker.csbs.CsbsClient`` that following a task needs."""

    async def delete_record(self, checkpoint_id: str) -> Answer: ...

    async def delete_item(self, checkpoint_id: str, item_id: str) -> Answer: ...

    async def get_item(self, item_id: str) -> Answer: ...

    async def list_items(self, *, deadline: float | None = None, **filters: str) -> Answer: ...


class TaskSpec(Protocol):
    """What the runner needs of a plan entry (``worker.plan.Task`` has it)."""

    @property
    def checkpoint_id(self) -> str: ...

    @property
    def item_id(self) -> str | None: ...


@dataclass
class TaskTrace:
    """What is known of a task in flight: counted by the runner, owned and read by the scheduler and the
    live display. Written synchronously, so a cancellation at any await loses nothing."""

    checkpoint_id: str
    item_id: str | None
    started_at: float  # clock.now() when the task took its slot
    state: str = "sending"  # sending, submitted, queued, running, resent, adopted, holding
    progress: int | None = None
    attempts: int = 0  # DELETE requests sent (counted before each is sent: one in the air may have landed)
    polls: int = 0
    submitted_at: float | None = None  # wall time of the first DELETE


@dataclass(frozen=True)
class TrackingPolicy:
    """How long and how often a task is followed."""

    task_timeout_s: float = 1800.0
    lag_window_s: float = 60.0  # how long a backup may look untouched after its DELETE before it is re-sent
    timing: PollTiming = field(default_factory=PollTiming)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    look_budget_s: float = 120.0  # the most one look of a held slot may take, its retries included


class _Task:
    """The running state of one task: what was sent and what was seen."""

    def __init__(self, spec: TaskSpec, trace: TaskTrace, policy: TrackingPolicy, clock: Clock) -> None:
        self.spec = spec
        self.trace = trace
        self.deadline = clock.now() + policy.task_timeout_s
        self.maybe_applied = False  # a DELETE of ours may have been applied (answered OK, busy or unknown)
        self.deleted_at = clock.now()  # when the last DELETE was sent (or the task adopted)
        self.delete_server_time: float | None = None  # the server's Date of the first DELETE's answer
        self.seen_working = False  # seen queued or running since the last DELETE
        self.stale_task_id: str | None = None  # the task id of an old failure seen since the DELETE
        self.unknown_status: str | None = None  # the last status the worker does not know, once logged
        self.pacer = Pacer(policy.timing, clock.now())
        self.last_sighting = Sighting(Seen.UNTOUCHED)


class TaskRunner:
    """Runs tasks against a client; one runner serves every task of a run."""

    def __init__(self, client: TaskClient, policy: TrackingPolicy, clock: Clock) -> None:
        self.client = client
        self.policy = policy
        self.clock = clock

    def __repr__(self) -> str:
        return f"<TaskRunner timeout={self.policy.task_timeout_s:g}s lag={self.policy.lag_window_s:g}s>"

    async def run(self, spec: TaskSpec, trace: TaskTrace, *, adopted: bool = False) -> Ending:
        """Delete and follow ``spec`` until its end is seen or its timeout passes.

        ``adopted``: the backup was already being deleted when the run began; follow it without a DELETE.
        """
        task = _Task(spec, trace, self.policy, self.clock)
        if adopted:
            task.maybe_applied = task.seen_working = True
            self._set_state(task, "adopted")
            log.info("task_adopted")
        else:
            ending = await self._delete(task)
            if ending is not None:
                return ending
        while True:
            ending = await self._look(task)
            if ending is not None:
                return ending

    # -- sending ---------------------------------------------------------------------------------

    async def _delete(self, task: _Task) -> Ending | None:
        """Send the DELETE (retrying throttled and transient answers) and read its answer."""
        spec = task.spec
        send: Callable[[], Awaitable[Answer]] = (
            partial(self.client.delete_record, spec.checkpoint_id) if spec.item_id is None
            else partial(self.client.delete_item, spec.checkpoint_id, spec.item_id))

        async def attempt() -> Answer:
            note_delete(task.trace, self.clock)
            answer = await send()
            if answer.retryable and (answer.status is None or answer.status >= 500):
                task.maybe_applied = True  # the DELETE may have reached the service all the same
            return answer

        answer = await self._with_retries(task, attempt)
        task.deleted_at = self.clock.now()
        if task.delete_server_time is None:
            task.delete_server_time = answer.server_time
        task.seen_working = False
        task.pacer.restart(task.deleted_at)
        return self._read_delete_answer(task, answer)

    def _read_delete_answer(self, task: _Task, answer: Answer) -> Ending | None:
        kind = answer.kind
        if kind is AnswerKind.OK:
            task.maybe_applied = True
            self._set_state(task, "submitted")
            log.info("task_submitted", attempt=task.trace.attempts, request_id=answer.request_id)
            return None
        if kind is AnswerKind.BUSY:
            # Already being deleted (by our earlier attempt or an interrupted run), or busy with a backup
            # or restore: following it tells which.
            task.maybe_applied = True
            log.info("task_busy", attempt=task.trace.attempts, **answer.log_fields())
            return None
        if kind is AnswerKind.GONE:
            return self._end(task, Outcome.DELETED if task.maybe_applied else Outcome.ALREADY_ABSENT)
        if kind is AnswerKind.FATAL:
            return abort_run(answer)
        if kind is AnswerKind.PERMANENT:
            return self._end(task, Outcome.FAILED, answer)
        return self._end(task, Outcome.TIMED_OUT, answer, code="task_timeout",
                         message=f"no usable answer before the task timeout: {answer.error_msg}")

    async def _with_retries(self, task: _Task, call: Callable[[], Awaitable[Answer]]) -> Answer:
        return await retried_until(call, self.policy.retry, task.deadline)

    # -- following -------------------------------------------------------------------------------

    async def _look(self, task: _Task) -> Ending | None:
        """Wait for the next look, look, and act on what is seen; an ending when the task is over."""
        if not await wait_for_look(self.clock, task.pacer, task.trace, task.last_sighting, task.deadline):
            return self._timed_out(task)

        async def poll() -> Answer:
            task.trace.polls += 1
            return await self._look_up(task.spec, task.deadline)

        answer = await self._with_retries(task, poll)
        sighting = _sighting(task.spec, answer)
        if sighting is None:
            return unreadable_end(task.trace, answer)
        task.last_sighting = sighting
        return await self._act(task, sighting)

    async def _look_up(self, spec: TaskSpec, deadline: float | None = None) -> Answer:
        """One look at the task: its backup, or every backup of its record."""
        if spec.item_id is None:
            return await self.client.list_items(deadline=deadline, checkpoint_id=spec.checkpoint_id)
        return await self.client.get_item(spec.item_id)

    async def _act(self, task: _Task, sighting: Sighting) -> Ending | None:
        seen = sighting.seen
        if seen is Seen.GONE:
            return self._end(task, Outcome.DELETED if task.maybe_applied else Outcome.ALREADY_ABSENT)
        if seen in (Seen.QUEUED, Seen.RUNNING):
            self._working(task, sighting)
            return None
        if seen is Seen.FAILED and self._fresh_failure(task, sighting):
            return self._end(task, Outcome.FAILED, code=sighting.fail_code or "delete_failed",
                             message=sighting.fail_reason)
        if seen is Seen.BLOCKED:
            return None
        if seen is Seen.UNKNOWN:
            task.unknown_status = note_unknown(task.trace, task.unknown_status, sighting.status)
            return None
        # Untouched (or a failure older than our DELETE) after the status lag: the DELETE was lost or refused
        # silently.
        if self._lag_over(task) or task.seen_working:
            self._set_state(task, "resent")
            log.info("task_resent", reason=f"backup still {seen.value} after its DELETE")
            return await self._delete(task)
        return None

    def _working(self, task: _Task, sighting: Sighting) -> None:
        state = "queued" if sighting.seen is Seen.QUEUED else "running"
        if not task.seen_working or task.trace.state != state:
            log.info(f"task_{state}", progress=sighting.progress)
        task.seen_working = True
        task.trace.progress = sighting.progress
        self._set_state(task, state)

    def _fresh_failure(self, task: _Task, sighting: Sighting) -> bool:
        """True when a failure sighting belongs to our deletion (see the module docstring)."""
        if sighting.failed_at is not None and task.delete_server_time is not None:
            fresh = sighting.failed_at >= task.delete_server_time
        elif task.stale_task_id is not None and sighting.task_id is not None:
            fresh = sighting.task_id != task.stale_task_id
        else:
            fresh = task.seen_working or self._lag_over(task)
        if not fresh:
            if task.stale_task_id is None:
                log.info("task_stale_failure", detail="an error older than our DELETE: not ours, followed",
                         fail_code=sighting.fail_code)
            task.stale_task_id = sighting.task_id or task.stale_task_id or ""
        return fresh

    def _lag_over(self, task: _Task) -> bool:
        return self.clock.now() - task.deleted_at >= self.policy.lag_window_s

    # -- endings ---------------------------------------------------------------------------------

    def _timed_out(self, task: _Task) -> TaskEnd:
        if task.unknown_status is not None and task.last_sighting.seen is Seen.UNKNOWN:
            message = (f"still in status {task.unknown_status!r}, which this worker does not know, after "
                       f"{self.policy.task_timeout_s:g} s")
        else:
            message = f"not seen to end within {self.policy.task_timeout_s:g} s"
        return self._end(task, Outcome.TIMED_OUT, code="task_timeout", message=message)

    def _end(self, task: _Task, outcome: Outcome, answer: Answer | None = None, *,
             message: str | None = None, code: str | None = None) -> TaskEnd:
        return end_task(task.trace, outcome, answer, message=message, code=code)

    def _set_state(self, task: _Task, state: str) -> None:
        task.trace.state = state

    async def has_ended(self, spec: TaskSpec) -> bool:
        """One look, retried within ``look_budget_s`` at most: True when the task is seen to no longer run at
        the provider (gone, failed, or back to untouched)."""
        deadline = self.clock.now() + self.policy.look_budget_s
        answer, _ = await call_with_retries(partial(self._look_up, spec, deadline), self.policy.retry,
                                            deadline=deadline)
        sighting = _sighting(spec, answer)
        return sighting is not None and sighting.seen not in (Seen.QUEUED, Seen.RUNNING, Seen.UNKNOWN)


def note_delete(trace: TaskTrace, clock: Clock) -> None:
    """Count a DELETE before it is sent (one in the air may land); the first one's wall time is the task's."""
    trace.attempts += 1
    if trace.submitted_at is None:
        trace.submitted_at = clock.wall()


async def retried_until(call: Callable[[], Awaitable[Answer]], retry: RetryPolicy, deadline: float) -> Answer:
    """One call, retried on throttled, transient and no-service answers until ``deadline``."""
    answer, _ = await call_with_retries(call, retry, deadline=deadline, on_retry=log_retry)
    return answer


async def wait_for_look(clock: Clock, pacer: Pacer, trace: TaskTrace, last: Sighting, deadline: float) -> bool:
    """Sleep until the next look the pacer chooses (one last look at the deadline); False once it has passed."""
    now = clock.now()
    delay = pacer.first_delay() if trace.polls == 0 else pacer.next_delay(now, last)
    if now >= deadline:
        return False
    await clock.sleep(min(now + delay, deadline) - now)
    return True


def unreadable_end(trace: TaskTrace, answer: Answer) -> Ending:
    """The end of a task whose look said nothing of it, even after retries."""
    if answer.kind is AnswerKind.FATAL:
        return abort_run(answer)
    if answer.retryable:
        return end_task(trace, Outcome.TIMED_OUT, answer, code="task_timeout",
                        message=f"no usable answer before the task timeout: {answer.error_msg}")
    return end_task(trace, Outcome.FAILED, answer, message=f"cannot follow the task: {answer.error_msg}")


def note_unknown(trace: TaskTrace, logged: str | None, status: str | None) -> str | None:
    """A status this worker does not know: logged once per new status, shown as the task's state; returns
    the status now logged."""
    if logged != status:
        log.warning("task_status_unknown", status=status,
                    detail="a status this worker does not know: followed until the task timeout")
    trace.state = status or "unknown"
    return status


def end_task(trace: TaskTrace, outcome: Outcome, answer: Answer | None = None, *, message: str | None = None,
             code: str | None = None) -> TaskEnd:
    """The ending of a task, with the answer that decided it, logged as ``task_<outcome>`` (both services)."""
    if answer is not None:
        ending = TaskEnd(outcome, code or answer.error_code, message or answer.error_msg, answer.status,
                         answer.request_id)
    else:
        ending = TaskEnd(outcome, code, message)
    fields: dict[str, Any] = {"attempts": trace.attempts, "polls": trace.polls}
    if ending.ok:
        log.info(f"task_{outcome}", **fields)
    else:
        log.error(f"task_{outcome}", **fields, http_status=ending.http_status, error_code=ending.error_code,
                  error_msg=ending.error_message, request_id=ending.request_id)
    return ending


def log_retry(answer: Answer, attempt: int, delay_s: float) -> None:
    log.warning("request_retry", attempt=attempt, delay_s=round(delay_s, 3), kind=str(answer.kind),
                **answer.log_fields())


def abort_run(answer: Answer) -> RunAbort:
    return RunAbort(f"the cloud refused the run: HTTP {answer.status} {answer.error_code or ''} "
                    f"{answer.error_msg or ''} (request id {answer.request_id})".replace("  ", " "))


def _sighting(spec: TaskSpec, answer: Answer) -> Sighting | None:
    """What a look's answer says of the task; None when the answer says nothing of it (an error)."""
    if answer.kind is AnswerKind.GONE:
        return Sighting(Seen.GONE)
    if answer.kind is not AnswerKind.OK:
        return None
    return read_record(answer.data) if spec.item_id is None else read_item(answer.data)
