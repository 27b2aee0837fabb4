"""When to look at a deletion task next: pure, learns the task's speed from ``extend_info.progress``.

A CSBS deletion takes seconds to 30 minutes and nobody is told when it ends, so the worker must ask.
Asking often wastes calls (and the provider's patience); asking rarely leaves the provider's five slots
idle after a task ended. The pacer estimates the end from the progress the service reports and looks
shortly after it; without usable progress it backs off from ``min_s`` towards ``max_s``.
"""

from __future__ import annotations

from dataclasses import dataclass

from worker.engine.sighting import Seen, Sighting


@dataclass(frozen=True)
class PollTiming:
    """The poll intervals of a run, in seconds."""

    first_s: float = 5.0  # the first look, after the DELETE (Terraform waits 5 s)
    min_s: float = 2.0  # never look again sooner than this
    max_s: float = 60.0  # the longest pause without progress to go by (an estimate may wait 5 times this)


class Pacer:
    """Chooses the pause before the next look at one task.

    Progress comes in whole percent, so one look at ``p`` percent after ``elapsed`` seconds of running
    bounds the end: after ``elapsed * 100 / (p + 1)`` and no later than ``elapsed * 100 / p``. Once that
    window is narrow (``p`` at least ``FINE_PROGRESS``) the pacer looks at its late edge, one look that
    sees the end; before, at its early edge, which is never past the end and shows the task well along.
    Both need the running time, known when the task started at the DELETE (it was never seen queued);
    after a wait in the provider's queue the start is unknown, and the speed between two looks decides.
    """

    FINE_PROGRESS = 10
    LATE_MARGIN = 1.002  # just past the late edge, for clocks and rounding
    # A speed measured between two looks is less exact: aim this much after the estimated end.
    SPEED_MARGIN = 1.03
    # An estimate from progress may wait this many times poll_max: a deletion of 30 minutes that reports
    # its progress needs a few looks, not one a minute.
    ESTIMATE_CAP = 5.0

    def __init__(self, timing: PollTiming, started_at: float) -> None:
        self.timing = timing
        self._idle_since = started_at  # the last instant the task was known not to be running
        self._queued = False  # seen waiting in the provider's queue since the DELETE
        self._previous: tuple[float, int] | None = None  # (time, progress) of the last running look
        self._idle_delay_s = timing.min_s

    def first_delay(self) -> float:
        return self.timing.first_s

    def restart(self, now: float) -> None:
        """Forget what was learnt (a DELETE was sent again)."""
        self._idle_since = now
        self._queued = False
        self._previous = None
        self._idle_delay_s = self.timing.min_s

    def next_delay(self, now: float, sighting: Sighting) -> float:
        """The pause after a look that saw ``sighting`` at ``now``."""
        progress = sighting.progress
        if sighting.seen is not Seen.RUNNING or not progress:
            if sighting.seen is not Seen.RUNNING:
                self._idle_since = now
                self._queued = self._queued or sighting.seen is Seen.QUEUED
            return self._backoff()
        if self._queued:
            remaining = self._remaining_by_speed_s(now, progress)
        else:
            remaining = self._remaining_by_bounds_s(now - self._idle_since, progress)
        self._previous = (now, progress)
        return min(self.timing.max_s * self.ESTIMATE_CAP, max(self.timing.min_s, remaining))

    def _remaining_by_bounds_s(self, elapsed: float, progress: int) -> float:
        if progress >= self.FINE_PROGRESS:
            return elapsed * 100.0 / progress * self.LATE_MARGIN - elapsed
        return elapsed * 100.0 / (progress + 1) - elapsed

    def _remaining_by_speed_s(self, now: float, progress: int) -> float:
        """From the speed between two running looks; from the first, as if it started at the last idle look
        (an overestimate of its running time), looking again halfway to be safe."""
        if self._previous is not None and progress > self._previous[1]:
            then, before = self._previous
            rate = (progress - before) / max(now - then, 1e-9)
            return max(100.0 - progress - 0.5, 0.0) / rate * self.SPEED_MARGIN
        rate = (progress + 0.5) / max(now - self._idle_since, 1e-9)
        return max(100.0 - progress - 0.5, 0.0) / rate / 2

    def _backoff(self) -> float:
        delay = self._idle_delay_s
        self._idle_delay_s = min(self.timing.max_s, self._idle_delay_s * 1.5)
        return delay
