"""One look for many tasks: a listing of the deletions in progress serves every task that waits blind.

A task whose service reports no progress can only be followed by looking again and again: per task, no
schedule keeps the slots 90 % busy within four calls (docs/design.md, "Sweeps"). But one listing of what the
service shows as being deleted answers for every such task at once. So when two or more tasks wait blind
(no progress to estimate their end from) and their own next looks are further away than the sweep's period,
one of them lists, and each waiting task acts on what the listing shows:

- listed: still working; that is its look (its progress included), and its own next look moves on;
- not listed, though seen working before: something changed (gone, failed, fallen back): it looks now;
- not listed and never seen working: nothing is concluded (the status may lag behind its DELETE).

A listing asked before a task's DELETE was answered says nothing of that task. A listing that fails is
skipped: every task still has its own next look. The service says which states its listing covers (CSBS
lists ``deleting`` only, so a task seen queued is never concluded from its absence).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog

from worker.engine.answer import Answer, AnswerKind
from worker.engine.clock import Clock
from worker.engine.sighting import Seen, Sighting

log = structlog.get_logger()

SweepCall = Callable[[float], Awaitable[Answer]]
"""The service's listing of its deletions in progress, to end by a deadline; ``data``: key -> sighting."""


@dataclass(eq=False)
class _Waiter:
    key: str
    wake_at: float  # its own next look
    since: float  # when its last DELETE was answered
    last: Seen | None  # what it was last seen as (None: not looked at since its DELETE)
    woken: asyncio.Future[Sighting | None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class Sweeper:
    """Shares one listing among the blind waits of a run's tasks."""

    FULL = 4  # waits served at the base period; more shorten it, fewer stretch it, in proportion

    def __init__(self, sweep: SweepCall | None, covers: Collection[Seen], clock: Clock,
                 period_s: Callable[[], float], settle_s: Callable[[], float]) -> None:
        self._sweep = sweep
        self._covers = frozenset(covers)
        self._clock = clock
        self._period_s = period_s  # how often a sweep may list
        self._settle_s = settle_s  # how long after its DELETE a task may have ended (few end sooner)
        self._waiting: list[_Waiter] = []
        self._last_at = float("-inf")
        self._sweeping: asyncio.Future[Answer] | None = None  # the listing in the air
        self.sweeps = 0

    def __repr__(self) -> str:
        return f"<Sweeper waiting={len(self._waiting)} sweeps={self.sweeps} on={self._sweep is not None}>"

    async def wait(self, key: str, delay: float, *, since: float, last: Seen | None, blind: bool) -> Sighting | None:
        """Sleep ``delay``, or less when a sweep sees the task: its sighting (still working), or None when
        the task should look itself now (its time came, or a sweep no longer lists it)."""
        if self._sweep is None or not blind or delay <= self._period_s():  # a sweep could not come sooner
            await self._clock.sleep(delay)
            return None
        waiter = _Waiter(key, self._clock.now() + delay, since, last)
        if self._last_at == float("-inf"):
            self._last_at = waiter.since  # the first sweep comes a period after the first DELETE it could see
        self._waiting.append(waiter)
        try:
            return await self._wait(waiter)
        finally:
            self._waiting.remove(waiter)

    async def _wait(self, waiter: _Waiter) -> Sighting | None:
        while not waiter.woken.done():
            if self._sweeping is not None:  # a sweep in the air may answer for this task: wait for it
                pending: list[asyncio.Future[Any]] = [waiter.woken, self._sweeping]
                await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                continue
            due = self._due_at()
            now = self._clock.now()  # after: a due sweep is due now at the latest
            if due is not None and now >= due:
                await self._run()
            elif now >= waiter.wake_at:
                return None
            else:
                until = waiter.wake_at if due is None else min(waiter.wake_at, due)
                await asyncio.wait([waiter.woken], timeout=until - now)
        return waiter.woken.result()

    def cover_s(self) -> float:
        """How long a task a sweep saw working may leave its own next look: twice the longest period (two
        waits served), so that it looks itself only once the sweeps stop."""
        return self._period_s() * self.FULL

    def _due_at(self) -> float | None:
        """When the next sweep is due: a period after the last, once it would tell two waits or more something
        worth a call: tasks seen working (in a state the listing covers), old enough to have ended, that
        would look later than that."""
        period, now = self._period_s(), self._clock.now()
        served = self._served(max(self._last_at + period, now))
        if served < 2:
            return None
        # The more waits a sweep serves, the more often it pays: the calls per task stay about the same.
        at = max(self._last_at + period * self.FULL / served, now)
        return at if self._served(at) >= 2 else None

    def _served(self, at: float) -> int:
        settled = at - self._settle_s()
        return sum(1 for w in self._waiting if w.last in self._covers and w.wake_at > at and w.since <= settled
                   and not w.woken.done())

    async def _run(self) -> None:
        assert self._sweep is not None
        started = self._last_at = self._clock.now()
        self._sweeping = asyncio.ensure_future(self._sweep(started + self._period_s()))
        try:
            answer = await self._sweeping  # a stop that cancels this waiter cancels the listing too
        finally:
            self._sweeping = None
        self.sweeps += 1
        if answer.kind is not AnswerKind.OK or not isinstance(answer.data, Mapping):
            log.info("sweep_unread", kind=str(answer.kind), **answer.log_fields())
            return
        for waiter in self._waiting:
            if waiter.since < started and not waiter.woken.done():
                self._tell(waiter, answer.data.get(waiter.key))

    def _tell(self, waiter: _Waiter, seen: Sighting | None) -> None:
        if seen is not None:
            waiter.woken.set_result(seen)
        elif waiter.last in self._covers:
            waiter.woken.set_result(None)  # seen working before, not listed now: look
