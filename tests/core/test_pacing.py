"""The pacer looks again shortly after a task's estimated end, and backs off without progress."""

from __future__ import annotations

import pytest

from worker.observe import Seen, Sighting
from worker.pacing import Pacer, PollTiming

TIMING = PollTiming(first_s=5.0, min_s=2.0, max_s=60.0)


def running(progress: int) -> Sighting:
    return Sighting(Seen.RUNNING, progress)


def test_first_look_waits_the_first_pause() -> None:
    """The first look comes poll_first seconds after the DELETE."""
    assert Pacer(TIMING, started_at=0.0).first_delay() == 5.0


def test_aims_at_the_estimated_end_from_progress_since_start() -> None:
    """A task seen 40% done 20 s after its DELETE is looked at again about 30 s later (3% after the end)."""
    pacer = Pacer(TIMING, started_at=0.0)
    delay = pacer.next_delay(20.0, running(40))
    assert delay == pytest.approx(59.5 / (40.5 / 20.0) * Pacer.MARGIN, rel=1e-6)
    assert 29.0 < delay < 31.0


def test_learns_the_speed_between_two_looks() -> None:
    """Two looks 10 s apart that saw 50% then 75% put the next look 10 s later (25% per 10 s)."""
    pacer = Pacer(TIMING, started_at=0.0)
    pacer.next_delay(40.0, running(50))
    assert pacer.next_delay(50.0, running(75)) == pytest.approx(24.5 / 2.5 * Pacer.MARGIN)


def test_coarse_progress_looks_again_halfway() -> None:
    """Below 10% the estimate is too coarse: the pacer looks again halfway to the estimated end."""
    pacer = Pacer(TIMING, started_at=0.0)
    full = Pacer(TIMING, started_at=0.0)._remaining_s(10.0, 5) * Pacer.MARGIN
    assert pacer.next_delay(10.0, running(5)) == pytest.approx(full / 2)


def test_without_progress_pauses_grow_to_the_cap() -> None:
    """Queued or untouched tasks are looked at after 2, 3, 4.5 ... seconds, never more than poll_max."""
    pacer = Pacer(TIMING, started_at=0.0)
    delays = [pacer.next_delay(float(n), Sighting(Seen.QUEUED, 0)) for n in range(12)]
    assert delays[:3] == [2.0, 3.0, 4.5]
    assert max(delays) == 60.0
    assert delays == sorted(delays)


def test_estimates_are_clamped() -> None:
    """An almost finished task is not looked at sooner than poll_min, a slow one not later than 5 x poll_max."""
    assert Pacer(TIMING, started_at=0.0).next_delay(100.0, running(99)) == 2.0
    assert Pacer(TIMING, started_at=0.0).next_delay(1000.0, running(10)) == 300.0


def test_queue_time_does_not_count_as_running_time() -> None:
    """Time spent queued is not taken as running time: the estimate starts from the last idle look."""
    pacer = Pacer(TIMING, started_at=0.0)
    pacer.next_delay(100.0, Sighting(Seen.QUEUED, 0))
    assert pacer.next_delay(110.0, running(50)) == pytest.approx(49.5 / (50.5 / 10.0) * Pacer.MARGIN)
