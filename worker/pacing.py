"""When to look at a deletion task next: pure, learns the task's speed from ``extend_info.progress``.

A CSBS deletion takes seconds to 30 minutes and nobody is told when it ends, so the worker must ask.
Asking often wastes calls (and the provider's patience); asking rarely leaves the provider's five slots
idle after a task ended. The pacer estimates the end from the progress the service reports and looks
shortly after it; without usable progress it backs off from ``min_s`` towards ``max_s``.
"""

from __future__ import annotations

from dataclasses import dataclass

from worker.observe import Seen, Sighting


@dataclass(frozen=True)
class PollTiming:
    """The poll intervals of a run, in seconds."""

    first_s: float = 5.0  # the first look, after the DELETE (Terraform waits 5 s)
    min_s: float = 2.0  # never look again sooner than this
    max_s: float = 60.0  # the longest pause without progress to go by (an estimate may wait 5 times this)


class Pacer:
    """Chooses the pause before the next look at one task."""

    # Progress is reported in whole percent: below this, an estimate is too coarse to aim at the end,
    # so the pacer looks again halfway to the estimated end to learn more.
    COARSE_PROGRESS = 10
    # Aim a little after the estimated end: an early look costs a call and another pause, a late one only
    # this fraction of the remaining time.
    MARGIN = 1.03
    # An estimate from progress may wait this many times poll_max: a deletion of 30 minutes that reports
    # its progress needs a few looks, not one a minute.
    ESTIMATE_CAP = 5.0

    def __init__(self, timing: PollTiming, started_at: float) -> None:
        self.timing = timing
        self._idle_since = started_at  # the last instant the task was known not to be running
        self._previous: tuple[float, int] | None = None  # (time, progress) of the last running look
        self._idle_delay_s = timing.min_s

    def first_delay(self) -> float:
        return self.timing.first_s

    def restart(self, now: float) -> None:
        """Forget what was learnt (a DELETE was sent again)."""
        self._idle_since = now
        self._previous = None
        self._idle_delay_s = self.timing.min_s

    def next_delay(self, now: float, sighting: Sighting) -> float:
        """The pause after a look that saw ``sighting`` at ``now``."""
        progress = sighting.progress
        if sighting.seen is not Seen.RUNNING or not progress:
            if sighting.seen is not Seen.RUNNING:
                self._idle_since = now
            return self._backoff()
        remaining = self._remaining_s(now, progress) * self.MARGIN
        self._previous = (now, progress)
        if progress < self.COARSE_PROGRESS:
            remaining /= 2
        return min(self.timing.max_s * self.ESTIMATE_CAP, max(self.timing.min_s, remaining))

    def _remaining_s(self, now: float, progress: int) -> float:
        """Seconds left, from the speed between two looks or since the task started running."""
        if self._previous is not None and progress > self._previous[1]:
            then, before = self._previous
            rate = (progress - before) / max(now - then, 1e-9)
        else:
            # Reported progress is truncated: the true value lies in [p, p + 1), so take the middle.
            rate = (progress + 0.5) / max(now - self._idle_since, 1e-9)
        return max(100.0 - progress - 0.5, 0.0) / rate

    def _backoff(self) -> float:
        delay = self._idle_delay_s
        self._idle_delay_s = min(self.timing.max_s, self._idle_delay_s * 1.5)
        return delay

