"""When to look at a deletion task next: pure, learns a task's speed from its progress and the run's pace
from the tasks seen to end.

A deletion takes seconds to 30 minutes and nobody is told when it ends, so the worker must ask. Asking often
wastes calls (and the provider's patience); asking rarely leaves the provider's five slots idle after a task
ended. With progress reported, the pacer estimates the end and looks shortly after it. Without (the first
look, a service that reports none, a task that waits), it follows the run's ``PaceBook``: once tasks of the
same kind were seen to end, the first look comes when a few of them had ended (a low quantile of their
durations) and the next ones at higher quantiles; before anything was learned, and past the last quantile,
it backs off from ``min_s`` towards ``max_s`` (docs/design.md, "Pacing").
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass

from worker.engine.sighting import Seen, Sighting


@dataclass(frozen=True)
class PollTiming:
    """The poll intervals of a run, in seconds."""

    first_s: float = 1.0  # the first look, until the run has seen tasks of the kind end (then learned)
    min_s: float = 1.0  # the floor: never look again sooner than this
    max_s: float = 60.0  # the longest pause without progress to go by (an estimate may wait 5 times this)


class PaceBook:
    """How long this run's deletions took, by kind of task: where first and blind looks go.

    A task seen gone ``hi`` seconds after its DELETE, last seen working at ``lo`` (0 if never), took between
    the two; the book keeps the midpoints of the last ``WINDOW`` tasks of each kind. One book serves a run.
    """

    FIRST = 0.05  # the first look: when one task in twenty has ended
    STEPS = (0.05, 0.3, 0.55, 0.8, 0.95)  # the blind looks after it, as quantiles of the durations seen
    WINDOW = 200

    def __init__(self) -> None:
        self._recent: dict[Hashable, deque[float]] = {}
        self._sorted: dict[Hashable, list[float]] = {}
        self._every: list[float] = []  # every kind's, sorted: the median

    def __repr__(self) -> str:
        return f"<PaceBook {', '.join(f'{kind}={len(v)}' for kind, v in self._sorted.items())}>"

    def record(self, kind: Hashable, lo: float, hi: float) -> None:
        """A task of ``kind`` ended between ``lo`` and ``hi`` seconds after its DELETE."""
        recent = self._recent.setdefault(kind, deque())
        ordered = self._sorted.setdefault(kind, [])
        if len(recent) == self.WINDOW:
            dropped = recent.popleft()
            ordered.pop(bisect.bisect_left(ordered, dropped))
            self._every.pop(bisect.bisect_left(self._every, dropped))
        duration = (max(0.0, lo) + max(lo, hi)) / 2
        recent.append(duration)
        bisect.insort(ordered, duration)
        bisect.insort(self._every, duration)

    def quantile(self, kind: Hashable, q: float) -> float | None:
        """The ``q`` quantile of the durations seen (the lower one), None before any task of ``kind`` ended."""
        ordered = self._sorted.get(kind)
        if not ordered:
            return None
        return ordered[int(q * (len(ordered) - 1))]

    def next_step(self, kind: Hashable, after: float) -> float | None:
        """The first of ``STEPS`` (as seconds since the DELETE) later than ``after``; None past the last one or
        before anything was learned."""
        for q in self.STEPS:
            at = self.quantile(kind, q)
            if at is None:
                return None
            if at > after:
                return at
        return None

    def overall(self, q: float) -> float | None:
        """The ``q`` quantile over every kind (the sweeps follow it), None before any task ended."""
        return self._every[int(q * (len(self._every) - 1))] if self._every else None

    def median(self) -> float | None:
        return self.overall(0.5)


class Pacer:
    """Chooses the pause before the next look at one task.

    Progress comes in whole percent, so one look at ``p`` percent after ``elapsed`` seconds of running
    bounds the end: after ``elapsed * 100 / (p + 1)`` and no later than ``elapsed * 100 / p``. Once that
    window is narrow (``p`` at least ``FINE_PROGRESS``, a window of 3.3 % at most, or at least
    ``COARSE_PROGRESS`` with a window no wider than ``min_s``) the pacer looks at its late edge, one look
    that sees the end; before, at its early edge, which is never past the end and shows the task well along.
    Both need the running time, known when the task started at the DELETE (it was never seen queued);
    after a wait in the provider's queue the start is unknown, and the speed between two looks decides.
    """

    FINE_PROGRESS = 30
    COARSE_PROGRESS = 10
    LATE_MARGIN = 1.002  # just past the late edge, for clocks and rounding
    # A speed measured between two looks is less exact: aim this much after the estimated end.
    SPEED_MARGIN = 1.03
    # An estimate from progress may wait this many times poll_max: a deletion of 30 minutes that reports
    # its progress needs a few looks, not one a minute.
    ESTIMATE_CAP = 5.0

    def __init__(self, timing: PollTiming, started_at: float, book: PaceBook | None = None,
                 kind: Hashable = None) -> None:
        self.timing = timing
        self.book = book or PaceBook()
        self.kind = kind
        self._sent_at = started_at  # the last DELETE (answered), or the start of the task
        self._idle_since = started_at  # the last instant the task was known not to be running
        self._queued = False  # seen waiting in the provider's queue since the DELETE
        self._previous: tuple[float, int] | None = None  # (time, progress) of the last running look
        self._idle_delay_s = timing.min_s

    def first_delay(self) -> float:
        """The first look after the DELETE: learned once tasks of this kind were seen to end."""
        learned = self.book.quantile(self.kind, PaceBook.FIRST)
        if learned is None:
            return self.timing.first_s
        return min(self.timing.max_s * self.ESTIMATE_CAP, max(self.timing.min_s, learned))

    def restart(self, now: float) -> None:
        """Forget what was learnt of the task (a DELETE was sent again)."""
        self._sent_at = now
        self._idle_since = now
        self._queued = False
        self._previous = None
        self._idle_delay_s = self.timing.min_s

    def next_delay(self, now: float, sighting: Sighting, floor_s: float | None = None) -> float:
        """The pause after a look that saw ``sighting`` at ``now``; never shorter than ``floor_s`` (``min_s``
        after a look of the task's own; less after a sweep's, which cost the task no call)."""
        floor_s = self.timing.min_s if floor_s is None else floor_s
        progress = sighting.progress
        if sighting.seen is not Seen.RUNNING or not progress:
            if sighting.seen is not Seen.RUNNING:
                self._idle_since = now
                self._queued = self._queued or sighting.seen is Seen.QUEUED
            return self._backoff(now)
        if self._queued:
            remaining = self._remaining_by_speed_s(now, progress)
        else:
            remaining = self._remaining_by_bounds_s(now - self._idle_since, progress)
        self._previous = (now, progress)
        return min(self.timing.max_s * self.ESTIMATE_CAP, max(floor_s, remaining))

    def _remaining_by_bounds_s(self, elapsed: float, progress: int) -> float:
        early, late = elapsed * 100.0 / (progress + 1), elapsed * 100.0 / progress
        narrow = progress >= self.FINE_PROGRESS or (
            progress >= self.COARSE_PROGRESS and late - early <= self.timing.min_s)
        return (late * self.LATE_MARGIN if narrow else early) - elapsed

    def _remaining_by_speed_s(self, now: float, progress: int) -> float:
        """From the speed between two running looks; from the first, as if it started at the last idle look
        (an overestimate of its running time), looking again halfway to be safe."""
        if self._previous is not None and progress > self._previous[1]:
            then, before = self._previous
            rate = (progress - before) / max(now - then, 1e-9)
            return max(100.0 - progress - 0.5, 0.0) / rate * self.SPEED_MARGIN
        rate = (progress + 0.5) / max(now - self._idle_since, 1e-9)
        return max(100.0 - progress - 0.5, 0.0) / rate / 2

    def _backoff(self, now: float) -> float:
        """No progress to go by: the next quantile of the run's durations; past the last one, half the time
        since the DELETE (a growth by half per look); before anything was learned, from ``min_s`` by half."""
        elapsed = now - self._sent_at
        step = self.book.next_step(self.kind, elapsed + self.timing.min_s)
        if step is not None:
            return step - elapsed
        if self.book.quantile(self.kind, 0.0) is not None:
            return min(self.timing.max_s, max(self.timing.min_s, elapsed / 2))
        delay = self._idle_delay_s
        self._idle_delay_s = min(self.timing.max_s, self._idle_delay_s * 1.5)
        return delay
