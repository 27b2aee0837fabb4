"""The pacer looks again just after a task's end as its progress bounds it, and backs off without progress."""

from __future__ import annotations

import pytest

from worker.engine.pacing import Pacer, PollTiming
from worker.engine.sighting import Seen, Sighting

TIMING = PollTiming(first_s=5.0, min_s=2.0, max_s=60.0)


def running(progress: int) -> Sighting:
    return Sighting(Seen.RUNNING, progress)


def test_first_look_waits_the_first_pause() -> None:
    """The first look comes poll_first seconds after the DELETE."""
    assert Pacer(TIMING, started_at=0.0).first_delay() == 5.0


def test_fine_progress_looks_at_the_latest_possible_end() -> None:
    """A task seen 40% done 20 s after its DELETE ends by 50 s: the pacer looks just after, 30 s later."""
    delay = Pacer(TIMING, started_at=0.0).next_delay(20.0, running(40))
    assert delay == pytest.approx(20.0 * 100 / 40 * Pacer.LATE_MARGIN - 20.0)
    assert 30.0 <= delay < 30.2


def test_coarse_progress_looks_at_the_earliest_possible_end() -> None:
    """A task seen 2% done after 5 s ends after 5 * 100 / 3 s at the earliest: the pacer looks then, when it
    will be far enough along to bound the end closely."""
    delay = Pacer(TIMING, started_at=0.0).next_delay(5.0, running(2))
    assert delay == pytest.approx(5.0 * 100 / 3 - 5.0)


@pytest.mark.parametrize(("elapsed", "progress", "edge"), [
    (43.0, 14, "early"),  # the end lies between 286.7 s and 307.1 s: a 20 s window, wider than min_s
    (1.5, 14, "late"),  # between 10.0 s and 10.7 s: within min_s (2 s), one look at its late edge sees it
    (43.0, 25, "early"),  # between 165.4 s and 172.0 s: 6.6 s, still wider than min_s
    (43.0, 30, "late"),  # from 30 % the window is at most 3.3 %: the late edge
    (1.5, 9, "early"),  # below 10 % the early edge, however narrow
])
def test_between_10_and_30_percent_the_window_in_seconds_decides(elapsed: float, progress: int, edge: str) -> None:
    """A first look learned late (tens of seconds into a long deletion) sees 10-30 %: aiming at the late edge
    of so wide a window would come up to 9 % of the deletion late, so the pacer looks at its early edge first,
    unless the window is no wider than min_s."""
    early, late = elapsed * 100 / (progress + 1), elapsed * 100 / progress
    expected = (late * Pacer.LATE_MARGIN if edge == "late" else early) - elapsed
    assert Pacer(TIMING, 0.0).next_delay(elapsed, running(progress)) == pytest.approx(max(expected, TIMING.min_s))


def test_the_late_edge_is_never_before_the_true_end() -> None:
    """For every true duration and look time, a look at the late edge comes at or after the true end."""
    for duration in (30.0, 61.0, 165.0, 299.0):
        for look in (5.0, 11.0, 27.0):
            if look >= duration:
                continue
            progress = int(100 * look / duration)
            if progress < Pacer.FINE_PROGRESS:
                continue
            assert look + Pacer(TIMING, 0.0).next_delay(look, running(progress)) >= duration


def test_after_a_queue_wait_the_speed_between_looks_decides() -> None:
    """Once seen queued, the start is unknown: two running looks 10 s apart (50% then 75%) put the next look
    about 10 s later, with a small margin."""
    pacer = Pacer(TIMING, started_at=0.0)
    pacer.next_delay(10.0, Sighting(Seen.QUEUED, 0))
    pacer.next_delay(40.0, running(50))
    assert pacer.next_delay(50.0, running(75)) == pytest.approx(24.5 / 2.5 * Pacer.SPEED_MARGIN)


def test_after_a_queue_wait_the_first_running_look_looks_again_halfway() -> None:
    """The first running look after a queue wait takes the whole wait as running time and looks halfway."""
    pacer = Pacer(TIMING, started_at=0.0)
    pacer.next_delay(100.0, Sighting(Seen.QUEUED, 0))
    assert pacer.next_delay(110.0, running(50)) == pytest.approx(49.5 / (50.5 / 10.0) / 2)


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


def test_a_resent_delete_starts_afresh() -> None:
    """After restart the pacer forgets a queue wait and counts running time from the new DELETE."""
    pacer = Pacer(TIMING, started_at=0.0)
    pacer.next_delay(10.0, Sighting(Seen.QUEUED, 0))
    pacer.restart(100.0)
    assert pacer.next_delay(120.0, running(40)) == pytest.approx(20.0 * 100 / 40 * Pacer.LATE_MARGIN - 20.0)
