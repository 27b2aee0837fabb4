"""The slots: at most ``concurrency`` deletion tasks outstanding, refilled as soon as one is seen to end.

Each slot is one coroutine that takes the next task, carries it to its seen end and only then takes
another, so the limit holds through retries, timeouts and shutdown by construction (docs/design.md,
"Slots"). Deletions already running at the provider when the run began come first: the plan's own are
adopted (followed to their end without a DELETE), others are only watched until they end, so that what is
outstanding at the provider never exceeds ``concurrency`` (docs/design.md, "Adoption").

A task that timed out may still run at the provider, so its slot stays taken while the worker keeps
watching it, for up to ``hold_s``; a task not seen to end by then takes its slot with it for the rest of the
run. When every slot is lost that way, the rest of the plan is ``not_attempted``.

The scheduler is the only writer of ``Results``. A task's counters live in its ``TaskTrace``, so a task
cancelled by a stop is still reported as sent (``timed_out``, ``run_stopped``) when a DELETE went out. An
unexpected exception in a task is logged once (``task_crashed``), the task is ``failed`` with
``internal_error`` and its slot goes on (docs/design.md, "Crashes in a task").

Stopping: ``request_stop`` takes no new task, ends the holds at once (a held slot only waits to take a new
task), follows the tasks in flight for up to ``grace_s``, then cancels them; a second request cancels at once.
A ``RunAbort`` (credentials, permission or project refused) cancels everything at once.

A task whose DELETE was answered busy while no deletion of ours runs for its backup steps aside
(``StepAside``): its slot takes the next task, and the task comes back to a free slot once its backoff has
passed (docs/design.md, "Busy is not a slot"). A stop leaves such tasks ``not_attempted``: nothing of ours
runs for them.

A pool (``Scheduler.pool``) runs several lanes, one per target of one IAM user, through the same slots: the
provider's five are per user, over every project and service (docs/fleet.md, "One pool per user"). The
deletions already running in any lane come first, then the lanes take turns (round robin), so a freed slot
goes at once to any lane with work and a big target does not starve a small one. A refusal of the project
(``RunAbort.scope`` TARGET) ends its lane alone; a refusal of the credentials ends the pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
from collections import Counter, deque
from collections.abc import Callable, Collection, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

import structlog

from worker.engine.clock import Clock
from worker.engine.outcomes import AbortScope, Outcome, RunAbort, TaskEnd, TaskResult
from worker.engine.report import Results
from worker.engine.tracking import Ending, StepAside, TaskSpec, TaskTrace

log = structlog.get_logger()

INTERNAL_ERROR = "internal_error"  # the error code of a task the worker itself failed on

LogIds = Callable[[TaskSpec], dict[str, str | None]]
"""The ids a task's log lines carry, as its service names them (``Service.log_ids``)."""


def spec_log_ids(spec: TaskSpec) -> dict[str, str | None]:
    """The task's ids under the spec's own names, for a scheduler that was given no service's names."""
    return {"container_id": spec.container_id, "backup_id": spec.backup_id}


class Runner(Protocol):
    """What the slots need of a task runner (``TaskRunner`` of ``worker.engine.tracking``)."""

    async def run(self, spec: TaskSpec, trace: TaskTrace, *, adopted: bool = False,
                  resume: StepAside | None = None) -> TaskEnd | RunAbort | StepAside: ...

    async def has_ended(self, spec: TaskSpec) -> bool: ...


LiveTask = TaskTrace
"""A task in flight, as the live display shows it (container_id, backup_id, state, progress, started_at)."""


@dataclass
class RunProgress:
    """Live counters of a run, read by the progress display and the summary."""

    total: int
    clock: Clock
    started_at: float = 0.0
    ended: Counter[Outcome] = field(default_factory=Counter)
    holding: int = 0  # slots held by timed-out tasks (or foreign deletions) that may still run at the provider
    lost: int = 0  # slots given up: their task never ended where the worker could see it
    interrupted: int = 0  # tasks in flight that a stop or an abort cancelled
    aside: int = 0  # tasks that stepped aside (busy) and wait for a slot again
    live: dict[Hashable, LiveTask] = field(default_factory=dict)  # (lane, plan index) -> the task in flight

    def __post_init__(self) -> None:
        self.started_at = self.started_at or self.clock.now()

    @property
    def in_flight(self) -> int:
        """Tasks taken and not yet seen to end (timed-out tasks whose slot is held are not counted)."""
        return len(self.live)

    @property
    def finished(self) -> int:
        return sum(self.ended.values())

    def rate_per_s(self) -> float:
        elapsed = self.clock.now() - self.started_at
        return self.finished / elapsed if elapsed > 0 else 0.0

    def eta_s(self) -> float | None:
        rate = self.rate_per_s()
        return (self.total - self.finished) / rate if rate > 0 else None


@dataclass(eq=False)
class Lane:
    """One target's share of the slots: its plan, its runner, its results and what its log lines carry.

    ``adopted`` (plan indices) and ``foreign`` are the deletions already running at the provider for it
    (docs/design.md, "Adoption"); ``fields`` are logged with each of its tasks (a fleet's ``target``).
    ``aborted`` is set when the cloud refused its project: its other tasks are cut off, its unsent ones left.
    """

    runner: Runner
    results: Results
    plan: Sequence[TaskSpec] = ()
    log_ids: LogIds = spec_log_ids
    fields: Mapping[str, str] = field(default_factory=dict)
    adopted: Collection[int] = ()
    foreign: Sequence[TaskSpec] = ()
    aborted: RunAbort | None = None
    number: int = 0
    running: set[asyncio.Task[Ending]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.plan = self.plan or self.results.plan

    def ids(self, spec: TaskSpec) -> dict[str, str | None]:
        return {**self.fields, **self.log_ids(spec)}


@dataclass(frozen=True)
class _Job:
    """One entry of the slots' queue: a plan task (``index``), or a foreign deletion to wait for (None)."""

    lane: Lane
    index: int | None
    spec: TaskSpec
    adopted: bool = False
    resume: StepAside | None = None  # a task back from stepping aside


class Scheduler:
    """Runs a plan's tasks through ``concurrency`` slots; ``Scheduler.pool`` runs several lanes through them."""

    def __init__(self, runner: Runner, results: Results, *, concurrency: int, grace_s: float, clock: Clock,
                 hold_s: float = 1800.0, hold_poll_s: float = 60.0, log_ids: LogIds = spec_log_ids) -> None:
        self.lanes = [Lane(runner, results, log_ids=log_ids)]
        self.concurrency = concurrency
        self.grace_s = grace_s
        self.clock = clock
        self.hold_s = hold_s
        self.hold_poll_s = hold_poll_s
        self.progress = RunProgress(total=len(results.plan), clock=clock)
        self.stop_reason: str | None = None
        self.aborted: RunAbort | None = None
        self._stopping = asyncio.Event()
        self._slots: list[asyncio.Task[None]] = []
        self._head: Iterator[_Job] = iter(())  # deletions already running, in every lane: first
        self._turns: deque[Iterator[_Job]] = deque()  # each lane's new tasks, taken in turn
        self._aside: list[tuple[float, int, _Job]] = []  # (back at, order, job): tasks that stepped aside
        self._aside_order = itertools.count()
        self._grace: asyncio.Task[None] | None = None
        self._holding: set[asyncio.Task[object]] = set()  # slots in _hold: a stop ends them at once

    @classmethod
    def pool(cls, lanes: Sequence[Lane], *, concurrency: int, grace_s: float, clock: Clock,
             hold_s: float = 1800.0, hold_poll_s: float = 60.0) -> Scheduler:
        """One pool of ``concurrency`` slots over ``lanes`` (one per target of one user)."""
        scheduler = cls(lanes[0].runner, lanes[0].results, concurrency=concurrency, grace_s=grace_s, clock=clock,
                        hold_s=hold_s, hold_poll_s=hold_poll_s)
        scheduler.lanes = list(lanes)
        for number, lane in enumerate(lanes):
            lane.number = number
        scheduler.progress.total = sum(len(lane.plan) for lane in lanes)
        return scheduler

    def __repr__(self) -> str:
        p = self.progress
        return (f"<Scheduler concurrency={self.concurrency} lanes={len(self.lanes)} in_flight={p.in_flight} "
                f"finished={p.finished}/{p.total} stop={self.stop_reason!r}>")

    @property
    def stopping(self) -> bool:
        """True once a stop (or an abort) was asked for: no new task is taken."""
        return self._stopping.is_set()

    def request_stop(self, reason: str) -> None:
        """Take no new task and cancel what is in flight after ``grace_s``; a second request cancels now."""
        if self.stop_reason is not None:
            log.warning("run_stop_now", reason=reason, in_flight=self.progress.in_flight)
            self._cancel_slots()
            return
        self.stop_reason = reason
        log.warning("run_stopping", reason=reason, in_flight=self.progress.in_flight, grace_s=self.grace_s)
        self._stopping.set()
        for slot in self._holding:  # only in-flight tasks get the grace; a held slot waits for nothing now
            slot.cancel()
        if self._slots:
            self._grace = asyncio.create_task(self._cancel_after_grace(), name="grace")

    async def run(self, plan: Sequence[TaskSpec], *, adopted: Collection[int] = (),
                  foreign: Sequence[TaskSpec] = ()) -> None:
        """Carry every task of ``plan`` (or as many as a stop allows) to its end.

        ``adopted``: plan indices already being deleted at the provider (followed first, without a DELETE);
        ``foreign``: deletions running at the provider that are not the plan's (waited for first).
        """
        lane = self.lanes[0]
        lane.plan, lane.adopted, lane.foreign = plan, adopted, foreign
        self.progress.total = len(plan)
        await self.run_lanes()

    async def run_lanes(self) -> None:
        """Carry every task of every lane (or as many as a stop or abort allows) to its end."""
        self._head = itertools.chain.from_iterable(_running(lane) for lane in self.lanes)
        self._turns = deque(_new(lane) for lane in self.lanes)
        try:
            async with asyncio.TaskGroup() as group:
                self._slots = [group.create_task(self._slot(), name=f"slot-{n}") for n in range(self.concurrency)]
                if self._stopping.is_set():
                    self._cancel_slots()
        finally:
            if self._grace is not None:
                self._grace.cancel()
            self._left_aside()
        if self.progress.lost == self.concurrency and self.progress.finished < self.progress.total:
            log.error("slots_exhausted", reason="every slot holds a task that timed out and may still run",
                      not_attempted=self.progress.total - self.progress.finished)

    async def _cancel_after_grace(self) -> None:
        await self.clock.sleep(self.grace_s)
        self._cancel_slots()

    def _cancel_slots(self) -> None:
        for slot in self._slots:
            slot.cancel()

    async def _slot(self) -> None:
        while (job := await self._next_job()) is not None:
            if job.index is None:
                if not await self._wait_foreign(job):
                    return
            elif not await self._carry(job):
                return

    async def _next_job(self) -> _Job | None:
        """A task back from stepping aside whose time has come, else the next of the queue; with the queue
        empty, wait for the next to come back. None: nothing left, or a stop."""
        while not self._stopping.is_set():
            if self._aside and self._aside[0][0] <= self.clock.now():
                self.progress.aside -= 1
                back = heapq.heappop(self._aside)[2]
                if back.lane.aborted is None:
                    return back
                self._left(back)
                continue
            queued = self._queued()
            if queued is not None:
                return queued
            if not self._aside:
                return None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._aside[0][0] - self.clock.now())
        return None

    def _queued(self) -> _Job | None:
        """The next deletion already running (any lane), else the next lane's next task (lanes take turns);
        an aborted lane's tasks are skipped: they stay not_attempted."""
        for job in self._head:
            if job.lane.aborted is None:
                return job
        while self._turns:
            jobs = self._turns.popleft()
            new = next(jobs, None)
            if new is None or new.lane.aborted is not None:
                continue  # the lane is done, or over: drop the rest of its queue
            self._turns.append(jobs)
            return new
        return None

    def _set_aside(self, job: _Job, aside: StepAside) -> None:
        heapq.heappush(self._aside, (aside.until, next(self._aside_order), replace(job, resume=aside)))
        self.progress.aside += 1

    def _left_aside(self) -> None:
        """Tasks still aside when the run ends (a stop): not attempted, with the DELETEs they were refused."""
        for _, _, job in self._aside:
            self._left(job)
        self._aside.clear()
        self.progress.aside = 0

    def _left(self, job: _Job) -> None:
        """A task that stepped aside and will not come back (a stop, an abort): not attempted, with the DELETEs
        it was refused."""
        assert job.index is not None and job.resume is not None
        aborted = self.aborted or job.lane.aborted
        code = "run_stopped" if aborted is None else "run_aborted"
        self._record(job.lane, job.index, job.resume.task.trace, TaskEnd(
            Outcome.NOT_ATTEMPTED, code, "the run stopped while the backup was answered busy; nothing of "
            "ours was deleting it"))

    async def _carry(self, job: _Job) -> bool:
        """Carry one task to its end; False when its slot is lost (see ``_hold``)."""
        assert job.index is not None
        lane, spec, index = job.lane, job.spec, job.index
        trace = (job.resume.task.trace if job.resume is not None
                 else TaskTrace(spec.container_id, spec.backup_id, started_at=self.clock.now()))
        with structlog.contextvars.bound_contextvars(**lane.ids(spec)):
            self.progress.live[lane.number, index] = trace
            try:
                ending = await self._run_task(job, trace)
            except asyncio.CancelledError:
                self._interrupted(lane, index, trace, job.adopted)
                raise
            finally:
                self.progress.live.pop((lane.number, index), None)
            if isinstance(ending, RunAbort):
                return self._aborted_by(job, trace, ending)
            if isinstance(ending, StepAside):
                self._set_aside(job, ending)
                return True
            self._record(lane, index, trace, ending)
            # A task that timed out may still run at the provider: hold its slot. (A crashed one goes on with the
            # next task, as docs/design.md, "Crashes in a task", says: the bug must not take the slot with it.)
            if ending.outcome is Outcome.TIMED_OUT and (trace.attempts or job.adopted):
                return await self._hold(lane, spec, trace)
        return True

    async def _run_task(self, job: _Job, trace: TaskTrace) -> Ending:
        """The runner's ending, or ``failed``/``internal_error`` when it crashed (logged once, with traceback);
        the lane's abort when it cut the task off (the task ran as a task of its own, which that abort cancels)."""
        lane = job.lane
        running = asyncio.create_task(self._run_guarded(job, trace))
        lane.running.add(running)
        try:
            return await running
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if lane.aborted is None or (current is not None and current.cancelling()):
                raise  # a stop or the pool's abort cancelled the slot itself
            return lane.aborted
        finally:
            lane.running.discard(running)

    async def _run_guarded(self, job: _Job, trace: TaskTrace) -> Ending:
        try:
            return await job.lane.runner.run(job.spec, trace, adopted=job.adopted, resume=job.resume)
        except Exception as error:  # a bug must not vanish, nor take the slot with it
            log.exception("task_crashed", error=f"{type(error).__name__}: {error}")
            return TaskEnd(Outcome.FAILED, INTERNAL_ERROR, f"the worker failed on this task: {error!r}")

    def _record(self, lane: Lane, index: int, trace: TaskTrace, ending: TaskEnd) -> None:
        lane.results.record(index, TaskResult(
            trace.container_id, trace.backup_id, ending.outcome, trace.attempts, trace.polls, ending.error_code,
            ending.error_message, ending.http_status, ending.request_id, trace.submitted_at, self.clock.wall()))
        self.progress.ended[ending.outcome] += 1

    def _interrupted(self, lane: Lane, index: int, trace: TaskTrace, adopted: bool) -> None:
        """A stop or abort cancelled the task before its end was seen; one never sent (nor adopted while
        running at the provider) stays not_attempted."""
        if trace.attempts == 0 and not adopted:
            return
        self.progress.interrupted += 1
        abort = self.aborted or lane.aborted
        code = "run_stopped" if abort is None else abort.code
        self._record(lane, index, trace, TaskEnd(Outcome.TIMED_OUT, code,
                                                 "the run stopped before the deletion was seen to end"))
        log.error("task_timed_out", reason=code, attempts=trace.attempts, polls=trace.polls)

    def _aborted_by(self, job: _Job, trace: TaskTrace, abort: RunAbort) -> bool:
        """The cloud refused the task's call: the task ends (``failed`` when the refused call was a DELETE of
        which nothing runs), and so do its lane, or the whole pool when the credentials were refused (or the
        pool has one lane). False: the slot ends."""
        lane = job.lane
        assert job.index is not None
        if abort is not lane.aborted:  # the task's own refusal (not the lane's abort that cut it off)
            whole = abort.scope is AbortScope.USER or len(self.lanes) == 1
            self._abort(abort) if whole else self._abort_lane(lane, abort)
            if trace.attempts and abort.nothing_applied:
                self._record(lane, job.index, trace, TaskEnd(Outcome.FAILED, abort.code, abort.reason,
                                                             abort.http_status, abort.request_id))
                return self.aborted is None
        self._interrupted(lane, job.index, trace, job.adopted)
        return self.aborted is None

    def _abort(self, abort: RunAbort) -> None:
        if self.aborted is None:
            self.aborted = abort
            log.error("run_aborted", reason=abort.reason, scope=str(abort.scope))
            self._stopping.set()
            self._cancel_slots()

    def _abort_lane(self, lane: Lane, abort: RunAbort) -> None:
        """The cloud refused this lane's project: its tasks in flight are cut off, its unsent ones left; the
        other lanes go on."""
        if lane.aborted is None:
            lane.aborted = abort
            log.error("target_aborted", reason=abort.reason, **lane.fields)
            for running in list(lane.running):
                if running is not asyncio.current_task():
                    running.cancel()

    async def _wait_foreign(self, job: _Job) -> bool:
        """Hold a slot while a deletion that is not the plan's runs at the provider; False when it never ends."""
        with structlog.contextvars.bound_contextvars(**job.lane.ids(job.spec)):
            return await self._hold(job.lane, job.spec, None)

    async def _hold(self, lane: Lane, spec: TaskSpec, trace: TaskTrace | None) -> bool:
        """Keep the slot while the task may still run at the provider and others wait for a slot.

        Returns False when it was not seen to end within another ``hold_s``: the slot is then lost for the
        rest of the run, since the provider may still count the task against the limit.
        """
        self.progress.holding += 1
        give_up_at = self.clock.now() + self.hold_s
        crashed = False
        slot = asyncio.current_task()
        if slot is not None:
            self._holding.add(slot)
        try:
            while not self._stopping.is_set() and lane.aborted is None:
                if self.clock.now() >= give_up_at:
                    self.progress.lost += 1
                    log.error("slot_lost", reason="the task was not seen to end", held_s=self.hold_s,
                              slots_left=self.concurrency - self.progress.lost)
                    return False
                await self.clock.sleep(min(self.hold_poll_s, max(0.0, give_up_at - self.clock.now())))
                try:
                    ended = await lane.runner.has_ended(spec)
                except Exception as error:  # a bug must not end the run (the TaskGroup would cancel it all)
                    if not crashed:
                        log.exception("task_crashed", phase="holding", error=f"{type(error).__name__}: {error}")
                    crashed, ended = True, False  # not seen to end: held on, then lost
                if ended:
                    log.info("task_ended_after_timeout" if trace is not None else "foreign_deletion_ended")
                    return True
            return True
        finally:
            self.progress.holding -= 1
            if slot is not None:
                self._holding.discard(slot)


def _running(lane: Lane) -> Iterator[_Job]:
    """The lane's deletions already running at the provider: foreign ones, then the plan's adopted ones."""
    for spec in lane.foreign:
        yield _Job(lane, None, spec)
    for index in sorted(frozenset(lane.adopted)):
        yield _Job(lane, index, lane.plan[index], adopted=True)


def _new(lane: Lane) -> Iterator[_Job]:
    """The rest of the lane's plan in order (lazily: plans are big)."""
    adopted = frozenset(lane.adopted)
    for index, spec in enumerate(lane.plan):
        if index not in adopted:
            yield _Job(lane, index, spec)
