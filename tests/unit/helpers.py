"""What the unit tests share: plan entries, quick policies, and the runs of a task or a plan in virtual time."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Callable, Collection, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, cast

from structlog.typing import EventDict, WrappedLogger

from tests.unit.fake_cloud import FakeCloud
from tests.virtual_time import WALL_EPOCH, VirtualClock, run_virtual
from worker.engine.adoption import InProgress
from worker.engine.outcomes import TaskResult
from worker.engine.pacing import PollTiming
from worker.engine.report import Results
from worker.engine.retry import RetryPolicy
from worker.engine.scheduler import Scheduler
from worker.engine.tracking import Ending, StepAside, TaskRunner, TaskSpec, TaskTrace, TrackingPolicy
from worker.plan import Task
from worker.services.csbs.client import CsbsClient
from worker.services.csbs.rules import CsbsRules
from worker.services.csbs.service import SERVICE, CsbsSession
from worker.settings import Settings

CLOCK = VirtualClock()

# Looks every 10 s while nothing moves (5 s after a DELETE for the first), so instants are easy to read.
TIMING = PollTiming(first_s=5.0, min_s=10.0, max_s=10.0)
# Each task looks for itself (sweeps are pinned by tests of their own: test_sweep.py).
POLICY = TrackingPolicy(task_timeout_s=600.0, lag_window_s=60.0, timing=TIMING,
                        retry=RetryPolicy(base_s=1.0, cap_s=60.0), look_budget_s=120.0, sweeps=False)
STEP_ASIDE_RNG = 1.0  # the jitter of a busy step-aside at its top: back after exactly 2 * min_s, doubling


@dataclass(frozen=True)
class Spec:
    """A plan entry (what ``worker.plan.Task`` gives the runner and the report)."""

    container_id: str
    backup_id: str | None


def item(name: str) -> Spec:
    """The task of deleting backup ``name`` (of record ``cp-name``, as ``FakeCloud.add`` makes it)."""
    return Spec(f"cp-{name}", name)


def wall(instant: float) -> float:
    """The wall time of a virtual instant."""
    return WALL_EPOCH + instant


def stamp_virtual_time(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    """A structlog processor: ``t``, the virtual instant of the event."""
    with contextlib.suppress(RuntimeError):  # logged outside a loop: no instant
        event["t"] = asyncio.get_running_loop().time()
    return event


def events(entries: Sequence[EventDict], name: str | None = None) -> list[EventDict]:
    """The captured events called ``name`` (all when None)."""
    return [entry for entry in entries if name is None or entry["event"] == name]


def names(entries: Sequence[EventDict]) -> list[str]:
    return [str(entry["event"]) for entry in entries]


@dataclass
class Followed:
    """One task followed to its end."""

    ending: Ending
    trace: TaskTrace
    ended_at: float


def follow(cloud: FakeCloud, spec: Spec, *, policy: TrackingPolicy = POLICY, adopted: bool = False) -> Followed:
    """Run one task against ``cloud`` from instant 0 to its end."""
    return run_virtual(follow_with(csbs_runner(cloud, policy), spec, adopted=adopted))


async def follow_with(runner: TaskRunner, spec: Spec, *, adopted: bool = False) -> Followed:
    """Run one task through ``runner`` to its end, taking it back after each step aside (as a free slot
    would at once)."""
    trace = TaskTrace(spec.container_id, spec.backup_id, started_at=CLOCK.now())
    ending = await runner.run(spec, trace, adopted=adopted)
    while isinstance(ending, StepAside):
        await CLOCK.sleep(ending.until - CLOCK.now())
        ending = await runner.run(spec, trace, resume=ending)
    return Followed(ending, trace, CLOCK.now())


class RecordingResults(Results):
    """``Results`` that remembers every write and who made it: the scheduler alone, once per task."""

    def __init__(self, plan: Sequence[TaskSpec]) -> None:
        super().__init__(plan)
        self.writes: list[tuple[int, str]] = []

    def record(self, index: int, result: TaskResult) -> None:
        self.writes.append((index, sys._getframe(1).f_code.co_qualname))
        super().record(index, result)


@dataclass
class Ran:
    """A plan run through the scheduler."""

    scheduler: Scheduler
    results: RecordingResults
    ended_at: float

    def outcomes(self) -> list[str]:
        return [record["outcome"] for record in self.results.iter_json()]

    def result(self, index: int) -> TaskResult:
        return self.results.by_index[index]


def schedule(cloud: FakeCloud, plan: Sequence[Spec], *, concurrency: int = 5, policy: TrackingPolicy = POLICY,
             grace_s: float = 30.0, hold_s: float = 300.0, hold_poll_s: float = 60.0,
             adopted: Collection[int] = (), foreign: Sequence[TaskSpec] = (),
             stops: Sequence[tuple[float, str]] = (),
             before_run: Callable[[Scheduler], None] | None = None, runner: TaskRunner | None = None) -> Ran:
    """Run ``plan`` through a scheduler against ``cloud`` from instant 0; ``stops``: (instant, reason) of
    each stop request; ``before_run``: called with the scheduler just before its run; ``runner``: another
    service's runner over ``cloud`` (CSBS's by default)."""
    async def main() -> Ran:
        results = RecordingResults(plan)
        scheduler = Scheduler(runner or csbs_runner(cloud, policy), results, concurrency=concurrency,
                              grace_s=grace_s, clock=CLOCK, hold_s=hold_s, hold_poll_s=hold_poll_s,
                              log_ids=SERVICE.log_ids)
        loop = asyncio.get_running_loop()
        for instant, reason in stops:
            loop.call_at(instant, scheduler.request_stop, reason)
        if before_run is not None:
            before_run(scheduler)
        await scheduler.run(plan, adopted=adopted, foreign=foreign)
        return Ran(scheduler, results, CLOCK.now())
    return run_virtual(main())


def csbs_runner(cloud: FakeCloud, policy: TrackingPolicy = POLICY) -> TaskRunner:
    """The engine's task loop with CSBS's rules, over the fake cloud (it answers as ``CsbsClient`` does)."""
    return TaskRunner(CsbsRules(cast(CsbsClient, cloud)), policy, CLOCK, rng=lambda: STEP_ASIDE_RNG)


def find_in_progress(cloud: FakeCloud, plan: Sequence[TaskSpec], deadline: float) -> Coroutine[Any, Any, InProgress]:
    """The CSBS session's listing of the deletions in progress, over the fake cloud."""
    session = CsbsSession(cast(CsbsClient, cloud), cast(Settings, None))
    return session.in_progress(cast(Sequence[Task], plan), deadline)
