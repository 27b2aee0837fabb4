"""Carry one deletion task from its DELETE to a seen end: send, retry, look, decide. Written once, for every
service: a service plugs in its ``ServiceRules`` (how to send, how to look, how to read a look into a
``Sighting``, and the few points where it differs) and the loop does the rest.

A DELETE only queues a task at the provider, so an OK answer proves nothing: the task ends when the worker
sees the backup gone (a GONE answer or sighting) or failed (a FAILED sighting the service pins on our
deletion, or a verdict of the service's rules). Answers that leave the DELETE's fate open (a dropped
connection, a 5xx) make a later "busy" or GONE mean running or done, never failed. A backup already being
deleted (an interrupted earlier run) is followed, not failed; one adopted before any DELETE
(docs/design.md, "Adoption") is followed without one.

A failure is ours only when the service dates it at or after our first DELETE (its ``failed_at`` against the
``Date`` of the DELETE's answer), or when a new deletion task id replaced one we saw fail before; an older
failure seen through the status lag is treated as "untouched" and never fails the task (docs/design.md,
"Fresh and stale failures"). Without those fields the lag window decides.

A backup that is deletable again after our DELETE (``UNTOUCHED``: the DELETE was lost, refused silently, or
the deletion fell back) is sent again once the lag window has passed or it was seen working. A service may
cap those re-sends (``ServiceRules.max_resends``) and give a verdict before each (CBR's operation logs).

``TaskRunner.run`` returns a value, a ``TaskEnd`` or a ``RunAbort``; it raises nothing for the task's own
troubles. What it counts on the way (DELETEs, looks, state) goes into the ``TaskTrace`` the scheduler gave it,
so a stop that cancels the task loses none of it. Time comes from the injected ``Clock``.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol

import structlog

from worker.engine.answer import Answer, AnswerKind, refuses_signin
from worker.engine.clock import Clock
from worker.engine.outcomes import AbortScope, Outcome, RunAbort, TaskEnd
from worker.engine.pacing import PaceBook, Pacer, PollTiming
from worker.engine.retry import RetryPolicy, Rng, backoff_s, call_with_retries
from worker.engine.sighting import Seen, Sighting
from worker.engine.sweep import Sweeper

log = structlog.get_logger()

Call = Callable[[], Awaitable[Answer]]
_WORKING = (Seen.QUEUED, Seen.RUNNING)
DATE_RESOLUTION_S = 1.0  # an HTTP Date header names whole seconds


class TaskSpec(Protocol):
    """What the loop needs of a plan entry (``worker.plan.Task`` has it): the backup, and what holds it."""

    @property
    def container_id(self) -> str: ...

    @property
    def backup_id(self) -> str | None: ...


@dataclass
class TaskTrace:
    """What is known of a task in flight: counted by the runner, owned and read by the scheduler and the
    live display. Written synchronously, so a cancellation at any await loses nothing."""

    container_id: str
    backup_id: str | None
    started_at: float  # clock.now() when the task took its slot
    state: str = "sending"  # sending, submitted, queued, running, resent, adopted, holding, aside
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
    sweeps: bool = True  # one listing serves the tasks that wait blind (False: each looks for itself)


@dataclass(frozen=True)
class Verdict:
    """A service's word that its deletion failed (e.g. a failed operation log). ``final``: the task ends
    ``failed``; not final (the service says "try again"): the backup is sent again within the re-send cap,
    and the task fails with this code and message only once the cap is reached."""

    code: str
    message: str
    final: bool = True


@dataclass
class TaskState:
    """The running state of one task: what was sent and what was seen. The rules may read all of it and
    note ``where``; everything else is the loop's."""

    spec: TaskSpec
    trace: TaskTrace
    deadline: float
    deleted_at: float  # when the last DELETE was answered (or the task adopted)
    pacer: Pacer
    retry: RetryPolicy
    maybe_applied: bool = False  # a DELETE of ours may have been applied (answered OK, busy or unknown)
    accepted: bool = False  # the last DELETE was accepted, or may have been applied: a fall-back counts
    seen_working: bool = False  # seen queued or running since the last DELETE
    looked: bool = False  # the loop has looked at the task (a rule's own look before the DELETE does not count)
    resends: int = 0  # re-sends of an accepted deletion, counted against ``ServiceRules.max_resends``
    first_sent_at: float | None = None  # clock.now() when the first DELETE went out
    delete_server_time: float | None = None  # the server's Date of the first DELETE's answer
    last_delete_time: float | None = None  # the server's Date of the last DELETE's answer
    working_at: float | None = None  # clock.now() when last seen working since the last DELETE
    resent_after: float | None = None  # the service's date of the change the last re-send answered
    called_at: float = float("-inf")  # clock.now() of the task's own last look or DELETE
    swept: bool = False  # its last sighting came from a sweep
    asides: int = 0  # times the task stepped aside, its first DELETE answered busy
    sent_at_server: float | None = None  # the server's clock (else ours) when the first DELETE went out
    where: str | None = None  # the backup's container as last seen (``Sighting.where``)
    stale_task_id: str | None = None  # the task id of an old failure seen since the DELETE
    unknown_status: str | None = None  # the last status the worker does not know, once logged
    busy: Counter[str] = field(default_factory=Counter)  # capped busy answers, by the cap's key
    logged: set[str] = field(default_factory=set)  # once-only notes the rules have logged
    last_sighting: Sighting = field(default_factory=lambda: Sighting(Seen.UNTOUCHED))

    async def retried(self, call: Call) -> Answer:
        """One call, retried on throttled, transient and no-service answers within the task's time."""
        return await retried_until(call, self.retry, self.deadline)


@dataclass(frozen=True)
class StepAside:
    """A task whose DELETE was refused as busy while no deletion of ours may run for its backup: nothing of
    ours runs at the provider, so it gives its slot up until ``until`` (``clock.now()``) and then resumes
    (``TaskRunner.run(..., resume=)``) with everything it counted."""

    until: float
    task: TaskState


Ending = TaskEnd | RunAbort | StepAside


class ServiceRules(Protocol):
    """What a service plugs into the loop. ``BaseRules`` gives the hooks a service does not need."""

    max_resends: int | None  # re-sends of an accepted deletion that fell back before the task fails; None: no cap
    sweep_covers: frozenset[Seen]  # the states ``sweep`` lists (empty: the service has no sweep)

    async def send(self, spec: TaskSpec) -> Answer:
        """One DELETE of the task's backup (or record)."""

    async def look(self, spec: TaskSpec, deadline: float) -> Answer:
        """One look at the task (its retries, e.g. of a listing's pages, end by ``deadline``)."""

    def read(self, spec: TaskSpec, data: Any) -> Sighting:
        """What an OK look's ``data`` says of the task."""

    async def before_first_send(self, task: TaskState) -> Ending | None:
        """A check before the first DELETE; an ending stops the task there."""

    async def refused(self, task: TaskState, answer: Answer) -> TaskEnd | None:
        """A FATAL DELETE answer that concerns this task alone (its ending), or None: the run aborts."""

    def busy_cap(self, answer: Answer) -> tuple[str, int] | None:
        """A busy answer that may come only so often: (its key, the cap); past the cap the task fails."""

    async def verdict(self, task: TaskState, deadline: float) -> Verdict | None:
        """Before an accepted deletion that fell back is sent again: the service's failure verdict, if any."""

    async def sweep(self, deadline: float) -> Answer:
        """One listing of the service's deletions in progress (``sweep_covers``); ``data`` maps a task's key
        (``task_key``) to its sighting (``worker.engine.sweep``)."""


class BaseRules:
    """The hooks a service does not need: no check before the DELETE, no caps, no verdicts, no sweep."""

    max_resends: int | None = None
    sweep_covers: frozenset[Seen] = frozenset()

    async def before_first_send(self, task: TaskState) -> Ending | None:
        return None

    async def refused(self, task: TaskState, answer: Answer) -> TaskEnd | None:
        return None

    def busy_cap(self, answer: Answer) -> tuple[str, int] | None:
        return None

    async def verdict(self, task: TaskState, deadline: float) -> Verdict | None:
        return None

    async def sweep(self, deadline: float) -> Answer:
        raise NotImplementedError("this service has no sweep (sweep_covers is empty)")


def task_key(spec: TaskSpec) -> str:
    """The id a sweep lists a task under: its backup, or its whole record."""
    return spec.backup_id or spec.container_id


class TaskRunner:
    """Runs tasks through one service's rules; one runner serves every task of a run."""

    SWEEP_SHARE = 0.11  # the sweep's period, as a share of the run's median duration

    def __init__(self, rules: ServiceRules, policy: TrackingPolicy, clock: Clock, rng: Rng = random.random) -> None:
        self.rules = rules
        self.policy = policy
        self.clock = clock
        self.rng = rng  # the jitter of busy step-asides
        self.pace = PaceBook()  # what this run has seen of how long deletions take
        sweep = rules.sweep if rules.sweep_covers and policy.sweeps else None
        self.sweeper = Sweeper(sweep, rules.sweep_covers, clock, self._sweep_period_s, self._settle_s)

    def __repr__(self) -> str:
        resends = "" if self.rules.max_resends is None else f" resends={self.rules.max_resends}"
        return (f"<TaskRunner {type(self.rules).__name__} timeout={self.policy.task_timeout_s:g}s "
                f"lag={self.policy.lag_window_s:g}s{resends}>")

    async def run(self, spec: TaskSpec, trace: TaskTrace, *, adopted: bool = False,
                  resume: StepAside | None = None) -> Ending:
        """Delete and follow ``spec`` until its end is seen or its timeout passes.

        ``adopted``: the backup was already being deleted when the run began; follow it without a DELETE.
        ``resume``: the task stepped aside (its DELETE was busy); send it again, with what it counted.
        """
        if resume is not None:
            return await self._follow(resume.task, await self._delete(resume.task))
        now = self.clock.now()
        deadline = now + self.policy.task_timeout_s
        task = TaskState(spec, trace, deadline, now, Pacer(self.policy.timing, now, self.pace, _kind(spec)),
                         self.policy.retry)
        if adopted:
            task.maybe_applied = task.accepted = task.seen_working = True
            # The adopted deletion was sent by an earlier run, at most about one task timeout ago.
            task.sent_at_server = self.clock.wall() - self.policy.task_timeout_s
            trace.state = "adopted"
            log.info("task_adopted")
            return await self._follow(task, None)
        return await self._follow(task, await self.rules.before_first_send(task) or await self._delete(task))

    async def _follow(self, task: TaskState, ending: Ending | None) -> Ending:
        """Look until the task ends (``ending``: how its DELETE already ended it)."""
        while ending is None:
            ending = await self._look(task)
        return ending

    async def has_ended(self, spec: TaskSpec) -> bool:
        """One look, retried within ``look_budget_s`` at most: True when the task is seen to no longer run at
        the provider (gone, failed, back to untouched, or held by another operation)."""
        deadline = self.clock.now() + self.policy.look_budget_s
        answer, _ = await call_with_retries(partial(self.rules.look, spec, deadline), self.policy.retry,
                                            deadline=deadline)
        sighting = self._sighting(spec, answer)
        return sighting is not None and sighting.seen not in (*_WORKING, Seen.UNKNOWN)

    # -- sending ---------------------------------------------------------------------------------

    async def _delete(self, task: TaskState) -> Ending | None:
        """Send the DELETE (retrying throttled and transient answers) and read its answer."""
        reached = False  # a DELETE of this round may have reached the service all the same

        async def attempt() -> Answer:
            nonlocal reached
            note_delete(task.trace, self.clock)
            sent_at = self.clock.now()
            if task.first_sent_at is None:
                task.first_sent_at = sent_at
            answer = await self.rules.send(task.spec)
            reached = reached or (answer.retryable and (answer.status is None or answer.status >= 500))
            if task.sent_at_server is None and answer.server_time is not None:
                task.sent_at_server = answer.server_time - (self.clock.now() - task.first_sent_at)
            return answer

        answer = await task.retried(attempt)
        task.maybe_applied = task.maybe_applied or reached
        task.accepted = reached or answer.kind is AnswerKind.OK
        task.deleted_at = task.called_at = self.clock.now()
        if task.delete_server_time is None:
            task.delete_server_time = answer.server_time
        task.last_delete_time = answer.server_time
        task.working_at = None
        if task.sent_at_server is None and task.first_sent_at is not None:  # no Date header: our wall clock
            task.sent_at_server = self.clock.wall() - (task.deleted_at - task.first_sent_at)
        task.seen_working = False
        task.pacer.restart(task.deleted_at)
        return await self._read_delete_answer(task, answer)

    async def _read_delete_answer(self, task: TaskState, answer: Answer) -> Ending | None:
        kind = answer.kind
        if kind is AnswerKind.OK:
            if task.asides and not task.maybe_applied:
                # Its deletion starts only now: the time it stood aside, waiting for a slot, was not following
                # a deletion, so following this one gets the whole task timeout.
                task.deadline = max(task.deadline, self.clock.now() + self.policy.task_timeout_s)
            task.maybe_applied = True
            task.trace.state = "submitted"
            log.info("task_submitted", attempt=task.trace.attempts, request_id=answer.request_id)
            return None
        if kind is AnswerKind.BUSY:
            return self._busy(task, answer)
        if kind is AnswerKind.GONE:
            return self._gone(task)
        if kind is AnswerKind.FATAL:
            return await self.rules.refused(task, answer) or abort_run(answer, nothing_applied=not task.maybe_applied)
        if kind is AnswerKind.PERMANENT:
            return end_task(task.trace, Outcome.FAILED, answer)
        return end_task(task.trace, Outcome.TIMED_OUT, answer, code="task_timeout",
                        message=f"no usable answer before the task timeout: {answer.error_msg}")

    def _busy(self, task: TaskState, answer: Answer) -> Ending | None:
        """A busy DELETE: failed once a capped busy answer came more often than its cap; else, while no
        deletion of ours may run for the backup, the task steps aside; else it is followed.

        A busy answer to our first DELETE created no deletion at the provider (the backup is in use, being
        deleted by someone else, or the queue is full), so holding a slot for it would idle the slot. A busy
        answer to a re-send, or after a DELETE whose fate is unknown, may mean our own deletion runs: following
        it tells, and a later GONE then reads as deleted.
        """
        cap = self.rules.busy_cap(answer)
        if cap is not None:
            key, limit = cap
            task.busy[key] += 1
            if task.busy[key] > limit:
                return end_task(task.trace, Outcome.FAILED, answer,
                                message=f"{answer.error_msg} (answered {task.busy[key]} times)")
        if not task.maybe_applied:
            return self._step_aside(task, answer)
        log.info("task_busy", attempt=task.trace.attempts, **answer.log_fields())
        return None

    def _step_aside(self, task: TaskState, answer: Answer) -> Ending:
        """Give the slot up for a backoff of a few seconds (doubling, jittered), within the task timeout."""
        task.asides += 1
        steps = RetryPolicy(base_s=2.0 * self.policy.timing.min_s, cap_s=self.policy.timing.max_s)
        delay = backoff_s(steps, task.asides, rng=lambda: 0.5 + 0.5 * self.rng())  # half to all of each step
        until = self.clock.now() + delay
        if until >= task.deadline:
            return end_task(task.trace, Outcome.FAILED, answer, message=(
                f"{answer.error_msg or 'busy'} (answered busy to {task.trace.attempts} DELETEs within the task "
                f"timeout; nothing of ours was deleting it)"))
        task.trace.state = "aside"
        log.info("task_stepped_aside", attempt=task.trace.attempts, back_in_s=round(delay, 3),
                 **answer.log_fields())
        return StepAside(until, task)

    # -- following -------------------------------------------------------------------------------

    async def _look(self, task: TaskState) -> Ending | None:
        """Wait for the next look (or a sweep that sees the task), look, and act on what is seen; an ending
        when the task is over."""
        now = self.clock.now()
        if now >= task.deadline:
            return self._timed_out(task)
        last = task.last_sighting
        # The floor counts from the task's own last call: a sweep's sighting cost it none.
        floor = max(0.0, task.called_at + self.policy.timing.min_s - now)
        delay = task.pacer.next_delay(now, last, floor) if task.looked else task.pacer.first_delay()
        blind = not (task.looked and last.seen is Seen.RUNNING and last.progress)
        if blind and task.swept:  # the sweeps follow it: its own look only if they stop
            delay = max(delay, self.sweeper.cover_s())
        swept = await self.sweeper.wait(task_key(task.spec), min(delay, task.deadline - now), since=task.deleted_at,
                                        last=last.seen if task.looked else None, blind=blind)
        task.looked = True
        task.swept = swept is not None
        if swept is not None:  # a sweep saw it still working: that was its look
            task.last_sighting = swept
            self._working(task, swept)
            return None

        async def poll() -> Answer:
            task.trace.polls += 1
            return await self.rules.look(task.spec, task.deadline)

        answer = await task.retried(poll)
        task.called_at = self.clock.now()
        sighting = self._sighting(task.spec, answer)
        if sighting is None:
            return unreadable_end(task.trace, answer)
        task.where = sighting.where or task.where
        task.last_sighting = sighting
        return await self._act(task, sighting)

    def _sighting(self, spec: TaskSpec, answer: Answer) -> Sighting | None:
        """What a look's answer says of the task; None when the answer says nothing of it (an error)."""
        if answer.kind is AnswerKind.GONE:
            return Sighting(Seen.GONE)
        if answer.kind is not AnswerKind.OK:
            return None
        return self.rules.read(spec, answer.data)

    async def _act(self, task: TaskState, sighting: Sighting) -> Ending | None:
        seen = sighting.seen
        if seen is Seen.GONE:
            return self._gone(task)
        if seen in _WORKING:
            self._working(task, sighting)
            return None
        if seen is Seen.FAILED and self._fresh_failure(task, sighting):
            return end_task(task.trace, Outcome.FAILED, code=sighting.fail_code or "delete_failed",
                            message=sighting.fail_reason)
        if seen is Seen.BLOCKED:
            return None
        if seen is Seen.UNKNOWN:
            task.unknown_status = note_unknown(task.trace, task.unknown_status, sighting.status)
            return None
        # Deletable (or a failure older than our DELETE): not started yet, lost, or fallen back. The status
        # may lag behind the DELETE, so only a change dated after it, or the lag window, says which.
        if not (task.seen_working or self._dated_after_delete(task, sighting) or self._lag_over(task)):
            return None
        return await self._fallen_back(task, sighting)

    async def _fallen_back(self, task: TaskState, sighting: Sighting) -> Ending | None:
        """Still (or again) deletable after our DELETE: fail on the service's verdict or its cap, or re-send."""
        status = sighting.status or sighting.seen.value
        how = "fell back to" if task.seen_working else "still"
        cap = self.rules.max_resends
        if task.accepted and cap is not None:
            verdict = await self.rules.verdict(task, min(task.deadline, self.clock.now() + self.policy.look_budget_s))
            if verdict is not None and verdict.final:
                return end_task(task.trace, Outcome.FAILED, code=verdict.code, message=verdict.message)
            if task.resends >= cap and verdict is not None:
                return end_task(task.trace, Outcome.FAILED, code=verdict.code, message=(
                    f"{verdict.message} (the backup {how} {status!r} after {task.trace.attempts} DELETEs, "
                    f"{task.resends} re-sent)"))
            if task.resends >= cap:
                return end_task(task.trace, Outcome.FAILED, code="delete_failed", message=(
                    f"the deletion never ended: the backup {how} {status!r} after {task.trace.attempts} DELETEs "
                    f"({task.resends} re-sent), no failed operation log"))
            task.resends += 1
        task.trace.state = "resent"
        task.resent_after = sighting.changed_at
        capped = {} if cap is None else {"resend": task.resends, "max_resends": cap}
        log.info("task_resent", reason=f"backup {how} {status} after its DELETE", **capped)
        return await self._delete(task)

    def _working(self, task: TaskState, sighting: Sighting) -> None:
        state = "queued" if sighting.seen is Seen.QUEUED else "running"
        if not task.seen_working or task.trace.state != state:
            log.info(f"task_{state}", progress=sighting.progress)
        task.seen_working = True
        task.working_at = self.clock.now()
        task.trace.progress = sighting.progress
        task.trace.state = state

    def _fresh_failure(self, task: TaskState, sighting: Sighting) -> bool:
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

    def _lag_over(self, task: TaskState) -> bool:
        return self.clock.now() - task.deleted_at >= self.policy.lag_window_s

    @staticmethod
    def _dated_after_delete(task: TaskState, sighting: Sighting) -> bool:
        """The service dates the backup's last change after our last DELETE: a fall-back of that deletion, not
        the status lag (docs/design.md, "Lag window and re-send"). After the second its answer's ``Date``
        names (whole seconds: a change within that second may be older), or, after a re-send, later than the
        change that re-send answered."""
        changed = sighting.changed_at
        if changed is None:
            return False
        if task.resent_after is not None and changed > task.resent_after:
            return True
        return task.last_delete_time is not None and changed >= task.last_delete_time + DATE_RESOLUTION_S

    def _settle_s(self) -> float:
        """How long after its DELETE a task has a fair chance to have ended: the first look's quantile."""
        return self.pace.overall(PaceBook.FIRST) or 0.0

    def _sweep_period_s(self) -> float:
        """How often a sweep may list: a share of the run's median duration, within the poll bounds."""
        timing = self.policy.timing
        median = self.pace.median()
        return min(timing.max_s, max(timing.min_s, self.SWEEP_SHARE * median if median else timing.min_s))

    # -- endings ---------------------------------------------------------------------------------

    def _gone(self, task: TaskState) -> TaskEnd:
        if task.accepted and task.looked and task.trace.attempts:  # a deletion of ours, seen to end: learn its pace
            since = task.deleted_at
            lo = 0.0 if task.working_at is None else task.working_at - since
            self.pace.record(_kind(task.spec), lo, self.clock.now() - since)
        return end_task(task.trace, Outcome.DELETED if task.maybe_applied else Outcome.ALREADY_ABSENT)

    def _timed_out(self, task: TaskState) -> TaskEnd:
        last = task.last_sighting
        timeout = f"{self.policy.task_timeout_s:g} s"
        if task.unknown_status is not None and last.seen is Seen.UNKNOWN:
            message = f"still in status {task.unknown_status!r}, which this worker does not know, after {timeout}"
        elif last.status is not None and task.trace.polls:
            shown = f"{last.status!r}" + (f" at {last.progress}%" if last.progress is not None else "")
            message = f"not seen to end within {timeout} (last seen {shown})"
        else:
            message = f"not seen to end within {timeout}"
        return end_task(task.trace, Outcome.TIMED_OUT, code="task_timeout", message=message)


def _kind(spec: TaskSpec) -> str:
    """Tasks of one kind take alike: a whole record, or one backup."""
    return "record" if spec.backup_id is None else "backup"


def note_delete(trace: TaskTrace, clock: Clock) -> None:
    """Count a DELETE before it is sent (one in the air may land); the first one's wall time is the task's."""
    trace.attempts += 1
    if trace.submitted_at is None:
        trace.submitted_at = clock.wall()


async def retried_until(call: Call, retry: RetryPolicy, deadline: float) -> Answer:
    """One call, retried on throttled, transient and no-service answers until ``deadline``."""
    answer, _ = await call_with_retries(call, retry, deadline=deadline, on_retry=log_retry)
    return answer


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
    """The ending of a task, with the answer that decided it, logged as ``task_<outcome>``."""
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


def abort_run(answer: Answer, *, nothing_applied: bool = False) -> RunAbort:
    """The abort a refusal means: of every target of the user when it refuses the credentials, else of the
    target (its project or permission); ``nothing_applied``: it refused a DELETE of which nothing runs."""
    return RunAbort(f"the cloud refused the run: HTTP {answer.status} {answer.error_code or ''} "
                    f"{answer.error_msg or ''} (request id {answer.request_id})".replace("  ", " "),
                    scope=AbortScope.USER if refuses_signin(answer) else AbortScope.TARGET,
                    error_code=answer.error_code, http_status=answer.status, request_id=answer.request_id,
                    nothing_applied=nothing_applied)
