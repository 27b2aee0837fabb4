"""Exact look schedules of the pacing before anything is learned (first look 5 s, 2 s to 60 s between looks),
driven through the tracker in virtual time against the scripted cloud."""

from __future__ import annotations

import dataclasses

import pytest

from tests.unit.fake_cloud import FakeCloud, gone, queued, running
from tests.unit.helpers import CLOCK, POLICY, follow, item
from worker.engine.outcomes import Outcome, TaskEnd
from worker.engine.pacing import Pacer, PollTiming
from worker.engine.sighting import Seen, Sighting

TIMING = PollTiming(first_s=5.0, min_s=2.0, max_s=60.0)  # the cold start of an earlier default
DEFAULT = dataclasses.replace(POLICY, timing=TIMING)


def test_without_progress_the_pauses_grow_by_half_up_to_the_maximum() -> None:
    pacer = Pacer(TIMING, started_at=0.0)
    delays = [pacer.next_delay(float(n), Sighting(Seen.UNTOUCHED)) for n in range(11)]
    assert delays == [2.0, 3.0, 4.5, 6.75, 10.125, 15.1875, 22.78125, 34.171875, 51.2578125, 60.0, 60.0]


def test_a_deletion_of_100_s_is_seen_to_end_in_three_looks() -> None:
    """5 % at 5 s bounds the end after 5 * 100 / 6 s (83.3 s); 83 % then bounds it by 100.4 s: the third look,
    just past the late edge, sees it gone 0.6 s after the end."""
    cloud = FakeCloud(CLOCK)
    cloud.add("b1", deletions=[[running(100), gone()]])
    done = follow(cloud, item("b1"), policy=DEFAULT)
    early = 5.0 * 100 / 6
    assert done.ending == TaskEnd(Outcome.DELETED)
    assert cloud.read_times("b1") == pytest.approx([5.0, early, early * 100 / 83 * 1.002], abs=1e-9)


def test_after_a_wait_in_the_queue_the_first_running_look_guesses_the_speed() -> None:
    """Queued 20 s, then running 60 s: the idle looks back off (5, 7, 10, 14.5, 21.25 s). The look at 21.25 s
    sees 2 % (1.25 s of running); the start being unknown, the pacer takes the running time as 6.75 s (since
    the last idle look) and looks again halfway to the end that speed gives: 131.6 s later, at 152.9 s,
    where it sees the end. (An overestimate by design; here the end, at 80 s, is seen 73 s late.)"""
    cloud = FakeCloud(CLOCK)
    cloud.add("b1", deletions=[[queued(20), running(60), gone()]])
    done = follow(cloud, item("b1"), policy=DEFAULT)
    guess = (100 - 2 - 0.5) / ((2 + 0.5) / (21.25 - 14.5)) / 2
    assert done.ending == TaskEnd(Outcome.DELETED)
    assert cloud.read_times("b1") == pytest.approx([5.0, 7.0, 10.0, 14.5, 21.25, 21.25 + guess], abs=1e-9)
