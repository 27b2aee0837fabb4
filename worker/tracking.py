"""Carry one deletion task from its DELETE to a seen end: send, retry, follow, decide the outcome.

A DELETE only queues a task at the provider, so ``200`` proves nothing: the task ends when the worker
sees the backup gone (404 or ``deleted``) or failed (``error`` with ``fail_op: delete``). Answers that
leave the DELETE's fate open (a dropped connection, a 5xx) make a later "busy" or 404 mean running or
done, never failed. A backup that is already being deleted (an interrupted earlier run) is followed,
not failed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol

import structlog

from worker.csbs.answers import Answer, AnswerKind
from worker.errors import AbortError
from worker.observe import Seen, Sighting, read_item, read_record
from worker.outcomes import Outcome
from worker.pacing import Pacer, PollTiming
from worker.report import TaskResult
from worker.retry import RetryPolicy, call_with_retries

log = structlog.get_logger()


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


@dataclass(frozen=True)
class TrackingPolicy:
    """How long and how often a task is followed."""

    task_timeout_s: float = 1800.0
    lag_window_s: float = 60.0  # how long a backup may look untouched after its DELETE before it is re-sent
    timing: PollTiming = field(default_factory=PollTiming)
    retry: RetryPolicy = field(default_factory=RetryPolicy)


class TaskEnded(Exception):
    """Raised inside the runner when the task's outcome is known."""


class _Task:
    """The running state of one task: what was sent, what was seen, and the result being built."""

    def __init__(self, spec: TaskSpec, policy: TrackingPolicy, loop: asyncio.AbstractEventLoop) -> None:
        self.spec = spec
        self.loop = loop
        self.deadline = loop.time() + policy.task_timeout_s
        self.result = TaskResult(spec.checkpoint_id, spec.item_id, Outcome.TIMED_OUT)
        self.maybe_applied = False  # a DELETE of ours may have been applied (answered OK, busy or unknown)
        self.deleted_at = loop.time()  # when the last DELETE was sent
        self.seen_working = False  # seen queued or running since the last DELETE
        self.pacer = Pacer(policy.timing, loop.time())
        self.last_sighting = Sighting(Seen.UNTOUCHED)

    def end(self, outcome: Outcome, answer: Answer | None = None, *, message: str | None = None,
            code: str | None = None) -> TaskEnded:
        self.result.outcome = outcome
        self.result.ended_at = time.time()
        if answer is not None:
            self.result.http_status = answer.status
            self.result.request_id = answer.request_id
            self.result.error_code = code or answer.error_code
            self.result.error_message = message or answer.error_msg
        elif message is not None or code is not None:
            self.result.error_code, self.result.error_message = code, message
        return TaskEnded()


class TaskRunner:
    """Runs tasks against a client; one runner serves every task of a run."""

    def __init__(self, client: TaskClient, policy: TrackingPolicy) -> None:
        self.client = client
        self.policy = policy

    async def run(self, spec: TaskSpec, result_sink: Callable[[TaskResult], None] | None = None) -> TaskResult:
        """Delete and follow ``spec`` until its end is seen or its timeout passes; never raises for the
        task's own troubles, only ``AbortError`` (credentials, permission, project refused)."""
        task = _Task(spec, self.policy, asyncio.get_running_loop())
        if result_sink is not None:
            result_sink(task.result)
        try:
            await self._delete(task)
            while True:
                await self._look(task)
        except TaskEnded:
            pass
        except TimeoutError:
            self._finish(task, Outcome.TIMED_OUT, code="task_timeout",
                         message=f"not seen to end within {self.policy.task_timeout_s:g} s")
        return task.result

    # -- sending ---------------------------------------------------------------------------------

    async def _delete(self, task: _Task) -> None:
        """Send the DELETE (retrying throttled and transient answers) and read its answer."""
        spec = task.spec
        send: Callable[[], Awaitable[Answer]] = (
            partial(self.client.delete_record, spec.checkpoint_id) if spec.item_id is None
            else partial(self.client.delete_item, spec.checkpoint_id, spec.item_id))
        if task.result.submitted_at is None:
            task.result.submitted_at = time.time()
        answer = await self._with_retries(task, send, counts_as="attempts")
        task.deleted_at = task.loop.time()
        task.seen_working = False
        task.pacer.restart(task.deleted_at)
        self._read_delete_answer(task, answer)

    def _read_delete_answer(self, task: _Task, answer: Answer) -> None:
        kind = answer.kind
        if kind is AnswerKind.OK:
            task.maybe_applied = True
            self._state("task_submitted", attempt=task.result.attempts, request_id=answer.request_id)
        elif kind is AnswerKind.BUSY:
            # Already being deleted (by our earlier attempt or an interrupted run), or busy with a backup
            # or restore: following it tells which.
            task.maybe_applied = True
            self._state("task_busy", attempt=task.result.attempts, **answer.log_fields())
        elif kind is AnswerKind.GONE:
            raise self._finish(task, Outcome.DELETED if task.maybe_applied else Outcome.ALREADY_ABSENT)
        elif kind is AnswerKind.FATAL:
            raise self._abort(answer)
        elif kind is AnswerKind.PERMANENT:
            raise self._finish(task, Outcome.FAILED, answer)
        else:  # retries ran out of the task's time
            raise self._finish(task, Outcome.TIMED_OUT, answer,
                               message=f"no usable answer before the task timeout: {answer.error_msg}")

    async def _with_retries(self, task: _Task, call: Callable[[], Awaitable[Answer]], counts_as: str) -> Answer:
        """One call, retried on throttled and transient answers within the task's time."""
        sending_delete = counts_as == "attempts"

        async def attempt() -> Answer:
            setattr(task.result, counts_as, getattr(task.result, counts_as) + 1)
            answer = await call()
            if sending_delete and answer.retryable and (answer.status is None or answer.status >= 500):
                task.maybe_applied = True  # the DELETE may have reached the service all the same
            return answer

        def on_retry(answer: Answer, attempt: int, delay_s: float) -> None:
            log.warning("request_retry", attempt=attempt, delay_s=round(delay_s, 3), kind=str(answer.kind),
                        **answer.log_fields())

        answer, _ = await call_with_retries(attempt, self.policy.retry, deadline=task.deadline, on_retry=on_retry)
        return answer

    # -- following -------------------------------------------------------------------------------

    async def _look(self, task: _Task) -> None:
        """Wait for the next look, look, and act on what is seen."""
        delay = task.pacer.first_delay() if task.result.polls == 0 else task.pacer.next_delay(
            task.loop.time(), task.last_sighting)
        await self._sleep_until(task, task.loop.time() + delay)
        sighting = await self._observe(task)
        task.last_sighting = sighting
        await self._act(task, sighting)

    async def _sleep_until(self, task: _Task, when: float) -> None:
        if when >= task.deadline:
            # One last look exactly at the deadline, then time out.
            if task.loop.time() >= task.deadline:
                raise TimeoutError
            when = task.deadline
        await asyncio.sleep(max(0.0, when - task.loop.time()))

    async def _observe(self, task: _Task) -> Sighting:
        answer = await self._with_retries(task, partial(self._look_up, task.spec, task.deadline), counts_as="polls")
        sighting = _sighting(task.spec, answer)
        if sighting is not None:
            return sighting
        if answer.kind is AnswerKind.FATAL:
            raise self._abort(answer)
        if answer.retryable:
            raise TimeoutError
        raise self._finish(task, Outcome.FAILED, answer, message=f"cannot follow the task: {answer.error_msg}")

    async def _look_up(self, spec: TaskSpec, deadline: float | None = None) -> Answer:
        """One look at the task: its backup, or every backup of its record."""
        if spec.item_id is None:
            return await self.client.list_items(deadline=deadline, checkpoint_id=spec.checkpoint_id)
        return await self.client.get_item(spec.item_id)

    async def _act(self, task: _Task, sighting: Sighting) -> None:
        seen = sighting.seen
        if seen is Seen.GONE:
            outcome = Outcome.DELETED if task.maybe_applied else Outcome.ALREADY_ABSENT
            raise self._finish(task, outcome)
        if seen in (Seen.QUEUED, Seen.RUNNING):
            if not task.seen_working:
                self._state("task_queued" if seen is Seen.QUEUED else "task_running",
                            progress=sighting.progress)
            task.seen_working = True
            return
        if seen is Seen.FAILED and (task.seen_working or self._lag_over(task)):
            raise self._finish(task, Outcome.FAILED, code=sighting.fail_code or "delete_failed",
                               message=sighting.fail_reason)
        if seen is Seen.BLOCKED:
            return
        # Untouched (or an old error) after the status lag: the DELETE was lost or refused silently.
        if self._lag_over(task) or task.seen_working:
            self._state("task_resent", reason=f"backup still {seen.value} after its DELETE")
            await self._delete(task)

    def _lag_over(self, task: _Task) -> bool:
        return task.loop.time() - task.deleted_at >= self.policy.lag_window_s

    # -- endings ---------------------------------------------------------------------------------

    def _finish(self, task: _Task, outcome: Outcome, answer: Answer | None = None, *,
                message: str | None = None, code: str | None = None) -> TaskEnded:
        ended = task.end(outcome, answer, message=message, code=code)
        level = "info" if outcome in (Outcome.DELETED, Outcome.ALREADY_ABSENT) else "error"
        fields: dict[str, Any] = {"attempts": task.result.attempts, "polls": task.result.polls}
        if level == "error":
            fields.update(http_status=task.result.http_status, error_code=task.result.error_code,
                          error_msg=task.result.error_message, request_id=task.result.request_id)
        self._state(f"task_{outcome}", level=level, **fields)
        return ended

    def _abort(self, answer: Answer) -> AbortError:
        return AbortError(f"the cloud refused the run: HTTP {answer.status} {answer.error_code or ''} "
                          f"{answer.error_msg or ''} (request id {answer.request_id})".replace("  ", " "))

    def _state(self, event: str, level: str = "info", **fields: Any) -> None:
        """One log event per state change of the task (its ids are bound by the scheduler)."""
        getattr(log, level)(event, **fields)

    async def has_ended(self, spec: TaskSpec) -> bool:
        """One look (no retries): True when the task is seen to no longer run at the provider."""
        sighting = _sighting(spec, await self._look_up(spec))
        return sighting is not None and sighting.seen not in (Seen.QUEUED, Seen.RUNNING)


def _sighting(spec: TaskSpec, answer: Answer) -> Sighting | None:
    """What a look's answer says of the task; None when the answer says nothing of it (an error)."""
    if answer.kind is AnswerKind.GONE:
        return Sighting(Seen.GONE)
    if answer.kind is not AnswerKind.OK:
        return None
    return read_record(answer.data) if spec.item_id is None else read_item(answer.data)
