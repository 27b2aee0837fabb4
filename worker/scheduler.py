"""The slots: at most ``concurrency`` deletion tasks outstanding, refilled as soon as one is seen to end.

Each slot is one worker coroutine that takes the next task from the plan, carries it to its seen end and
only then takes another, so the limit holds through retries, timeouts and shutdown by construction. A
task that timed out may still run at the provider (and hold one of the provider's five slots there), so
its slot stays taken while the worker keeps watching it, for up to another task timeout; a task not
seen to end by then takes its slot with it for the rest of the run. When every slot is lost that way,
the rest of the plan is ``not_attempted`` (the provider would only queue it behind the stuck tasks).

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
    lost: int = 0  # slots given up: their task never ended where the worker could see it

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
                 hold_s: float = 1800.0, hold_poll_s: float = 60.0) -> None:
        self.runner = runner
        self.results = results
        self.concurrency = concurrency
        self.grace_s = grace_s
        self.hold_s = hold_s
        self.hold_poll_s = hold_poll_s
        self.progress = RunProgress(total=len(results.plan))
        self.stop_reason: str | None = None
        self.aborted: AbortError | None = None
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
        return not self._stopping.is_set() and self._taken < self.progress.total

    async def _slot(self) -> None:
        while self._more_to_take():
            try:
                index, spec = next(self._pending)
            except StopIteration:
                return
            self._taken += 1
            if not await self._carry(index, spec):
                break
        if self.progress.lost == self.concurrency and self._taken < self.progress.total:
            log.error("slots_exhausted", reason="every slot holds a task that timed out and may still run",
                      not_attempted=self.progress.total - self._taken)

    async def _carry(self, index: int, spec: TaskSpec) -> bool:
        """Carry one task to its end; False when its slot is lost (see ``_hold``)."""
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
                self._interrupted(index, live)
                return False
            except asyncio.CancelledError:
                self._interrupted(index, live)
                raise
            finally:
                self.progress.in_flight -= 1
            self.progress.ended[result.outcome] += 1
            if result.outcome is Outcome.TIMED_OUT and result.attempts:
                return await self._hold(spec)
        return True

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

    async def _hold(self, spec: TaskSpec) -> bool:
        """Keep the slot of a timed-out task while it may still run and others wait for a slot.

        Returns False when the task was not seen to end within another ``hold_s``: the slot is then lost
        for the rest of the run, since the provider may still count the task against the limit.
        """
        self.progress.holding += 1
        loop = asyncio.get_running_loop()
        give_up_at = loop.time() + self.hold_s
        try:
            while self._more_to_take():
                if loop.time() >= give_up_at:
                    self.progress.lost += 1
                    log.error("slot_lost", reason="the timed-out task was not seen to end", held_s=self.hold_s,
                              slots_left=self.concurrency - self.progress.lost)
                    return False
                await asyncio.sleep(min(self.hold_poll_s, max(0.0, give_up_at - loop.time())))
                if await self.runner.has_ended(spec):
                    log.info("task_ended_after_timeout")
                    return True
            return True
        finally:
            self.progress.holding -= 1
