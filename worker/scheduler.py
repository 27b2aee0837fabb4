"""The slots: at most ``concurrency`` deletion tasks outstanding, refilled as soon as one is seen to end.

Each slot is one worker coroutine that takes the next task from the plan, carries it to its seen end and
only then takes another, so the limit holds through retries, timeouts and shutdown by construction. A
task that timed out may still run at the provider (and hold one of the provider's five slots there), so
its slot stays taken while the worker keeps watching it; when every slot is held that way, no further
DELETE could start anyway, and the run ends with the rest ``not_attempted``.

Stopping (SIGTERM, SIGINT, ``--deadline``) takes no new task, follows those in flight for up to
``grace_s``, then cancels them. An ``AbortError`` (credentials, permission or project refused) cancels
everything at once.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog

from worker.errors import AbortError
from worker.outcomes import Outcome
from worker.report import Results, TaskResult
from worker.tracking import TaskRunner, TaskSpec

log = structlog.get_logger()


@dataclass
class RunProgress:
    """Live counters of a run, read by the progress display and the summary."""

    total: int
    started_at: float = field(default_factory=time.monotonic)
    ended: Counter[Outcome] = field(default_factory=Counter)
    in_flight: int = 0
    holding: int = 0  # slots held by timed-out tasks that may still run at the provider

    @property
    def finished(self) -> int:
        return sum(self.ended.values())

    def rate_per_s(self) -> float:
        elapsed = time.monotonic() - self.started_at
        return self.finished / elapsed if elapsed > 0 else 0.0

    def eta_s(self) -> float | None:
        rate = self.rate_per_s()
        return (self.total - self.finished) / rate if rate > 0 else None


class Scheduler:
    """Runs a plan's tasks through ``concurrency`` slots."""

    def __init__(self, runner: TaskRunner, results: Results, *, concurrency: int, grace_s: float,
                 hold_poll_s: float = 60.0) -> None:
        self.runner = runner
        self.results = results
        self.concurrency = concurrency
        self.grace_s = grace_s
        self.hold_poll_s = hold_poll_s
        self.progress = RunProgress(total=len(results.plan))
        self.stop_reason: str | None = None
        self.aborted: AbortError | None = None
        self.slots_exhausted = False
        self._stopping = asyncio.Event()
        self._workers: list[asyncio.Task[None]] = []
        self._pending: Iterator[tuple[int, TaskSpec]] = iter(())
        self._taken = 0

    def __repr__(self) -> str:
        p = self.progress
        return (f"<Scheduler concurrency={self.concurrency} in_flight={p.in_flight} "
                f"finished={p.finished}/{p.total} stop={self.stop_reason!r}>")

    def request_stop(self, reason: str) -> None:
        """Take no new task; a second request skips the grace period."""
        if self.stop_reason is not None:
            log.warning("run_stop_now", reason=reason)
            self._cancel_workers()
            return
        self.stop_reason = reason
        log.warning("run_stopping", reason=reason, in_flight=self.progress.in_flight, grace_s=self.grace_s)
        self._stopping.set()

    async def run(self, plan: Sequence[TaskSpec]) -> None:
        """Carry every task of ``plan`` (or as many as a stop allows) to its end."""
        self._pending = iter(enumerate(plan))
        self._workers = [asyncio.create_task(self._slot(), name=f"slot-{n}") for n in range(self.concurrency)]
        everything: asyncio.Future[Any] = asyncio.gather(*self._workers, return_exceptions=True)
        stop: asyncio.Future[Any] = asyncio.create_task(self._stopping.wait())
        await asyncio.wait({everything, stop}, return_when=asyncio.FIRST_COMPLETED)
        if not everything.done() and self.aborted is None:
            await asyncio.wait({everything}, timeout=self.grace_s)
        self._cancel_workers()
        stop.cancel()
        await everything

    def _cancel_workers(self) -> None:
        for worker in self._workers:
            worker.cancel()

    def _more_to_take(self) -> bool:
        return not self._stopping.is_set() and not self.slots_exhausted and self._taken < self.progress.total

    async def _slot(self) -> None:
        while self._more_to_take():
            try:
                index, spec = next(self._pending)
            except StopIteration:
                return
            self._taken += 1
            await self._carry(index, spec)

    async def _carry(self, index: int, spec: TaskSpec) -> None:
        live: list[TaskResult] = []

        def keep(result: TaskResult) -> None:
            live.append(result)
            self.results.record(index, result)

        with structlog.contextvars.bound_contextvars(checkpoint_id=spec.checkpoint_id,
                                                     checkpoint_item=spec.item_id):
            self.progress.in_flight += 1
            try:
                result = await self.runner.run(spec, keep)
            except AbortError as error:
                self._abort(error)
                return
            except asyncio.CancelledError:
                self._interrupted(index, live)
                raise
            finally:
                self.progress.in_flight -= 1
            self.progress.ended[result.outcome] += 1
            if result.outcome is Outcome.TIMED_OUT and result.attempts:
                await self._hold(spec)

    def _interrupted(self, index: int, live: list[TaskResult]) -> None:
        """A stop or abort cancelled the task before its end was seen."""
        if not live or live[0].attempts == 0:
            self.results.by_index.pop(index, None)  # never sent: not_attempted
            return
        result = live[0]
        result.outcome = Outcome.TIMED_OUT
        result.error_code = "run_stopped" if self.aborted is None else "run_aborted"
        result.error_message = "the run stopped before the deletion was seen to end"
        result.ended_at = time.time()
        self.progress.ended[Outcome.TIMED_OUT] += 1
        log.error("task_timed_out", reason=result.error_code, attempts=result.attempts, polls=result.polls)

    def _abort(self, error: AbortError) -> None:
        if self.aborted is None:
            self.aborted = error
            log.error("run_aborted", reason=str(error))
            self._stopping.set()
            self._cancel_workers()

    async def _hold(self, spec: TaskSpec) -> None:
        """Keep the slot of a timed-out task while it may still run and others wait for a slot."""
        self.progress.holding += 1
        try:
            if self.progress.holding >= self.concurrency and self._more_to_take():
                self.slots_exhausted = True
                log.error("slots_exhausted", reason="every slot holds a task that timed out and may still run",
                          not_attempted=self.progress.total - self._taken)
            while self._more_to_take():
                await asyncio.sleep(self.hold_poll_s)
                if await self.runner.has_ended(spec):
                    log.info("task_ended_after_timeout")
                    return
        finally:
            self.progress.holding -= 1
