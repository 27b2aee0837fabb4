"""No idle slot, both services' rules in virtual time: the learned pace, fresh observations acted on at once,
busy first DELETEs that step aside instead of holding a slot, and the sweep that looks for many blind tasks.

Each rule is pinned for CSBS (``FakeCloud``) and CBR (``FakeCbr``) through one ``Side`` per service: the same
script, the same instants. Policies are the unit tests' (``helpers.POLICY``: first look 5 s, then every 10 s
while nothing moves, lag window 60 s) unless a test says otherwise.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import pytest
from structlog.typing import EventDict

from tests.unit.fake_cbr import FakeCbr, fell_back, in_use
from tests.unit.fake_cloud import FakeCloud, Phase, available, gone, http, queued, running, status
from tests.unit.helpers import (
    CLOCK,
    POLICY,
    STEP_ASIDE_RNG,
    Followed,
    Ran,
    Spec,
    csbs_runner,
    events,
    follow_with,
    schedule,
)
from tests.virtual_time import run_virtual
from worker.engine.answer import Answer
from worker.engine.outcomes import Outcome, TaskEnd
from worker.engine.pacing import PaceBook, PollTiming
from worker.engine.tracking import TaskRunner, TrackingPolicy
from worker.services.cbr.rules import MAX_RESENDS, CbrRules

Fake = FakeCloud | FakeCbr


@dataclass(frozen=True)
class Side:
    """One service as these tests drive it."""

    name: str
    fake: Callable[..., Fake]
    runner: Callable[[Any, TrackingPolicy], TaskRunner]
    spec: Callable[[str], Spec]
    busy: Callable[[], Answer]  # its answer to a DELETE of a backup in use
    fall_back: Callable[[], Phase]  # a deletion that failed: deletable again


def cbr_runner(cloud: FakeCbr, policy: TrackingPolicy) -> TaskRunner:
    return TaskRunner(CbrRules(cast(Any, cloud)), policy, CLOCK, rng=lambda: STEP_ASIDE_RNG)


CSBS = Side("csbs", FakeCloud, csbs_runner, lambda name: Spec(f"cp-{name}", name),
            lambda: http(400, "CSBS.2003", "The backup is being deleted, backed up or restored"), available)
CBR = Side("cbr", FakeCbr, cbr_runner, lambda name: Spec("", name), in_use, fell_back)
SIDES = pytest.mark.parametrize("side", [CSBS, CBR], ids=["csbs", "cbr"])


def follow(side: Side, cloud: Fake, name: str, policy: TrackingPolicy = POLICY) -> Followed:
    return run_virtual(follow_with(side.runner(cloud, policy), side.spec(name)))


def through_slots(side: Side, cloud: Fake, names: Sequence[str], *, concurrency: int,
                  policy: TrackingPolicy = POLICY, stops: Sequence[tuple[float, str]] = ()) -> Ran:
    return schedule(cast(FakeCloud, cloud), [side.spec(name) for name in names], concurrency=concurrency,
                    policy=policy, stops=stops, runner=side.runner(cloud, policy))


# -- the pace book ------------------------------------------------------------------------------------------

def test_the_pace_book_keeps_midpoints_and_answers_quantiles_by_kind() -> None:
    book = PaceBook()
    assert book.quantile("backup", 0.05) is None and book.next_step("backup", 0.0) is None
    for lo, hi in [(0.0, 4.0), (10.0, 20.0), (30.0, 40.0), (6.0, 6.0)]:
        book.record("backup", lo, hi)
    assert [book.quantile("backup", q) for q in (0.0, 0.3, 0.55, 1.0)] == [2.0, 2.0, 6.0, 35.0]
    assert book.quantile("record", 0.05) is None  # another kind learns apart
    assert [book.next_step("backup", after) for after in (0.0, 2.0, 6.0, 15.0)] == [2.0, 6.0, 15.0, None]
    assert book.median() == 6.0  # the lower median


def test_the_pace_book_forgets_beyond_its_window() -> None:
    book = PaceBook()
    for n in range(PaceBook.WINDOW + 50):
        book.record("backup", n, n)
    assert book.quantile("backup", 0.0) == 50.0


@SIDES
def test_the_first_look_follows_the_durations_seen(side: Side) -> None:
    """Six deletions of 1 s, one slot, the first look 5 s cold: a task seen gone at its first look took
    (0, t], so the next first look comes at half the last one, never below the floor (min_s, 1 s): looks at
    5, 2.5, 1.25, then 1 s after each DELETE."""
    policy = dataclasses.replace(POLICY, timing=PollTiming(first_s=5.0, min_s=1.0, max_s=60.0))
    cloud = side.fake(CLOCK)
    names = [f"b{n}" for n in range(6)]
    for name in names:
        cloud.add(name, deletions=[[running(1.0), gone()]])
    ran = through_slots(side, cloud, names, concurrency=1, policy=policy)

    assert ran.outcomes() == ["deleted"] * 6
    firsts = [cloud.read_times(name)[0] - cloud.delete_times(name)[0] for name in names]
    assert firsts == pytest.approx([5.0, 2.5, 1.25, 1.0, 1.0, 1.0])


@SIDES
def test_blind_looks_step_through_the_quantiles_seen(side: Side) -> None:
    """A service that reports no progress, one slot. The first task (10 s) is looked at cold: 5 s, then
    backing off by half from min_s. Each task seen gone adds the midpoint of (last seen working, seen gone] to
    the book. The fifth (40 s) is looked at the quantiles of the four durations seen (11.44, 21.45, 32.17 s
    after its DELETE), then, past the last, after half its time since the DELETE: 4 looks, where backing off
    from 1 s would take 10 to pass 40 s."""
    policy = dataclasses.replace(POLICY, timing=PollTiming(first_s=5.0, min_s=1.0, max_s=60.0))
    cloud = side.fake(CLOCK)
    names = ["b10", "b20", "b30", "b40", "last"]
    for name, seconds in zip(names, (10, 20, 30, 40, 40), strict=True):
        cloud.add(name, deletions=[[running(seconds, silent=True), gone()]])
    ran = through_slots(side, cloud, names, concurrency=1, policy=policy)

    assert ran.outcomes() == ["deleted"] * 5
    assert cloud.read_times("b10") == [5.0, 6.0, 7.5, 9.75, 13.125]
    sent = cloud.delete_times("last")[0]
    assert [at - sent for at in cloud.read_times("last")] == pytest.approx(
        [11.4375, 21.4453125, 32.16796875, 32.16796875 * 1.5])


# -- fresh observations ---------------------------------------------------------------------------------

@SIDES
def test_a_fall_back_dated_after_the_delete_is_sent_again_at_the_look_that_sees_it(
        side: Side, logs: list[EventDict]) -> None:
    """The deletion fails 3 s after the DELETE, before any look saw it work: the backup is deletable again,
    dated 3 s. The first look (5 s) sees it and re-sends at once, not after the 60 s lag window."""
    cloud = side.fake(CLOCK)
    cloud.add("b1", deletions=[[status("deleting", 3.0), side.fall_back()], [running(10), gone()]])
    done = follow(side, cloud, "b1")

    assert done.ending == TaskEnd(Outcome.DELETED)
    assert cloud.delete_times("b1") == [0.0, 5.0]
    assert [entry["t"] for entry in events(logs, "task_resent")] == [5.0]


@SIDES
@pytest.mark.parametrize("dated", [True, False], ids=["dated before the DELETE", "no Date header"])
def test_an_untouched_backup_waits_for_the_lag_window_when_nothing_dates_it_after_the_delete(
        side: Side, dated: bool) -> None:
    """A DELETE that was lost (the backup stays as it was, last changed an hour ago), or answers without a
    Date: the status may lag behind the DELETE, so it is sent again only after the lag window (65 s)."""
    cloud = side.fake(CLOCK, dated=dated)
    if dated:
        cloud.add("b1", deletions=[[], [running(10), gone()]])
    else:
        cloud.add("b1", deletions=[[status("deleting", 3.0), side.fall_back()], [running(10), gone()]])
    done = follow(side, cloud, "b1")
    assert done.ending == TaskEnd(Outcome.DELETED)
    assert cloud.delete_times("b1") == [0.0, 65.0]


@SIDES
def test_a_fall_back_within_the_second_of_the_delete_waits_for_the_lag_window_once(side: Side) -> None:
    """The deletion falls back 0.3 s after each DELETE. The ``Date`` of the DELETE's answer names whole
    seconds, so a change dated within that second may be older than the DELETE: the first fall-back waits for
    the lag window (re-sent at 65 s). After a re-send, a change later than the one it answered is new: the next
    fall-backs are sent again at the look that sees them (every min_s, 10 s)."""
    cloud = side.fake(CLOCK)
    cloud.add("b1", deletions=[[status("deleting", 0.3), side.fall_back()]] * 3 + [[running(10), gone()]])
    done = follow(side, cloud, "b1")
    assert done.ending == TaskEnd(Outcome.DELETED)
    assert cloud.delete_times("b1") == [0.0, 65.0, 75.0, 85.0]


def test_a_cbr_backup_in_error_after_the_delete_is_sent_again_at_once() -> None:
    """CBR: the deletion left the backup in ``error`` 2 s after the DELETE (dated): re-sent at the first look,
    and again at each look that sees a new error, up to the re-send cap; then failed."""
    cloud = FakeCbr(CLOCK)
    cloud.add("b1", deletions=[[status("deleting", 2.0), fell_back("error")]])
    done = follow(CBR, cloud, "b1")

    assert done.ending is not None and isinstance(done.ending, TaskEnd)
    assert (done.ending.outcome, done.ending.error_code) == (Outcome.FAILED, "delete_failed")
    assert cloud.delete_times("b1") == [0.0, 5.0, 15.0, 25.0]  # the look after a re-send: min_s (10 s) later
    assert len(cloud.delete_times("b1")) == 1 + MAX_RESENDS


def test_a_cbr_delete_log_that_says_try_again_is_not_final() -> None:
    """A failed ``delete`` log with 6201 ("try again") while the backup is available again: sent again at
    once; the second deletion succeeds."""
    cloud = FakeCbr(CLOCK)
    cloud.add("b1", deletions=[[status("deleting", 3.0), fell_back()], [running(10), gone()]])
    cloud.add_log("b1", at=3.0, status="failed", code="BackupService.6201", message="try again")
    done = follow(CBR, cloud, "b1")
    assert done.ending == TaskEnd(Outcome.DELETED)
    assert cloud.delete_times("b1") == [0.0, 5.0]


def test_a_cbr_delete_log_that_says_try_again_fails_the_task_at_the_cap_with_its_words() -> None:
    """Every deletion falls back with a 6201 log: re-sent up to the cap, then failed with the log's code and
    message (not the generic "never ended")."""
    cloud = FakeCbr(CLOCK)
    cloud.add("b1", deletions=[[status("deleting", 3.0), fell_back()]])
    for n in range(1 + MAX_RESENDS):
        cloud.add_log("b1", at=5.0 * n + 3.0, status="failed", code="BackupService.6201",
                      message="The backup storage did not release the snapshot data.")
    done = follow(CBR, cloud, "b1")

    assert isinstance(done.ending, TaskEnd)
    assert done.ending.outcome is Outcome.FAILED and done.ending.error_code == "BackupService.6201"
    assert (done.ending.error_message or "").startswith("The backup storage did not release the snapshot data.")
    assert len(cloud.delete_times("b1")) == 1 + MAX_RESENDS


# -- busy is not a slot ---------------------------------------------------------------------------------

@SIDES
def test_a_busy_first_delete_gives_its_slot_to_the_next_task(side: Side, logs: list[EventDict]) -> None:
    """One slot. "busy" is refused twice; it steps aside at 0 s and the slot takes "next" at once; "busy"
    comes back when "next" has ended, and is deleted. Never two outstanding at the provider."""
    cloud = side.fake(CLOCK)
    cloud.add("busy", delete_answers=[side.busy(), side.busy()], deletions=[[running(20), gone()]])
    cloud.add("next", deletions=[[running(30), gone()]])
    ran = through_slots(side, cloud, ["busy", "next"], concurrency=1)

    assert ran.outcomes() == ["deleted", "deleted"]
    assert cloud.delete_times("next") == [0.0]
    next_end = cloud.read_times("next")[-1]
    assert cloud.delete_times("busy")[0] == 0.0 and cloud.delete_times("busy")[1] == next_end
    assert cloud.max_outstanding() == 1
    assert [entry["t"] for entry in events(logs, "task_stepped_aside")] == [0.0, next_end]
    assert ran.result(0).attempts == 3


@SIDES
def test_a_step_aside_backs_off_doubling_with_jitter_within_the_task_timeout(side: Side, logs: list[EventDict]) -> None:
    """Busy at every DELETE: back after 2 x min_s, doubling, jittered to [1/2, 1] of the step (here the top),
    capped at max_s; the step that would pass the task timeout fails the task, naming the busy answer."""
    policy = dataclasses.replace(POLICY, task_timeout_s=100.0, timing=PollTiming(first_s=5.0, min_s=1.0, max_s=30.0))
    cloud = side.fake(CLOCK)
    cloud.add("b1", delete_answers=[side.busy()] * 20)
    done = follow(side, cloud, "b1", policy)

    assert cloud.delete_times("b1") == [0.0, 2.0, 6.0, 14.0, 30.0, 60.0, 90.0]
    assert isinstance(done.ending, TaskEnd) and done.ending.outcome is Outcome.FAILED
    assert done.ending.error_code == side.busy().error_code
    assert "answered busy to 7 DELETEs within the task timeout" in (done.ending.error_message or "")
    assert cloud.read_times("b1") == []


def test_the_jitter_draws_within_half_and_the_whole_step() -> None:
    cloud = FakeCloud(CLOCK)
    cloud.add("b1", delete_answers=[CSBS.busy()], deletions=[[running(5), gone()]])
    runner = TaskRunner(csbs_runner(cloud, POLICY).rules, POLICY, CLOCK, rng=lambda: 0.0)
    run_virtual(follow_with(runner, CSBS.spec("b1")))
    assert cloud.delete_times("b1") == [0.0, 5.0]  # 2 x min_s (10 s), capped at max_s (10 s), times 0.5


@SIDES
def test_waiting_for_a_slot_after_stepping_aside_does_not_eat_the_task_timeout(side: Side) -> None:
    """One slot, task timeout 600 s. "busy" steps aside at 0 s; "long" then holds the slot for 580 s. Back at
    580 s, its DELETE is taken and its 30 s deletion runs past 600 s: deleted, for following a deletion gets
    the whole task timeout from the DELETE that started it."""
    cloud = side.fake(CLOCK)
    cloud.add("busy", delete_answers=[side.busy()], deletions=[[running(30), gone()]])
    cloud.add("long", deletions=[[running(575), gone()]])
    ran = through_slots(side, cloud, ["busy", "long"], concurrency=1)

    assert ran.outcomes() == ["deleted", "deleted"]
    assert cloud.delete_times("busy")[1] > 570.0 and cloud.read_times("busy")[-1] > 600.0


@SIDES
def test_a_busy_answer_to_a_resend_keeps_the_slot(side: Side, logs: list[EventDict]) -> None:
    """The first DELETE was accepted and lost; the re-send after the lag window is answered busy (our first
    deletion may run after all): followed in its slot, not stepped aside."""
    cloud = side.fake(CLOCK)
    cloud.add("b1", deletions=[[]], delete_answers=[Answer(http(200).kind, 200, data={}), side.busy()])
    cloud.add("b2")
    ran = through_slots(side, cloud, ["b1", "b2"], concurrency=1,
                        policy=dataclasses.replace(POLICY, task_timeout_s=100.0))
    assert events(logs, "task_stepped_aside") == []
    assert [entry["t"] for entry in events(logs, "task_busy")] == [65.0]
    assert cloud.delete_times("b2")[0] >= 100.0  # b1 kept the one slot to its timeout and hold
    assert ran.outcomes()[0] == "timed_out"


@SIDES
def test_a_stop_leaves_a_task_that_stepped_aside_not_attempted_with_its_deletes(side: Side) -> None:
    cloud = side.fake(CLOCK)
    cloud.add("busy", delete_answers=[side.busy()] * 10)
    cloud.add("next", deletions=[[running(100), gone()]])
    ran = through_slots(side, cloud, ["busy", "next"], concurrency=1, stops=[(20.0, "SIGTERM")])

    result = ran.result(0)
    assert (result.outcome, result.error_code, result.attempts) == (Outcome.NOT_ATTEMPTED, "run_stopped", 1)
    assert ran.scheduler.progress.aside == 0
    assert cloud.delete_times("busy") == [0.0]


# -- the sweep ------------------------------------------------------------------------------------------

SWEEPING = dataclasses.replace(POLICY, sweeps=True, timing=PollTiming(first_s=5.0, min_s=1.0, max_s=60.0))


def listings(cloud: Fake) -> list[float]:
    return [call.at for call in cloud.calls if call.op in ("list_items", "list_backups") and "=" in call.target]


@SIDES
def test_one_listing_serves_the_blind_tasks_and_a_task_no_longer_listed_looks_at_once(side: Side) -> None:
    """Five deletions that report no progress, ending at 12, 17, 22, 27 and 32 s. Each looks for itself at
    5 and 6 s (nothing learned yet); once their own next looks are further away than a sweep's period, one
    listing of what is being deleted stands in for the looks of all: every 0.8 s at first (min_s, 1 s,
    shortened because it serves five), then every 11 % of the median duration seen, stretched as fewer tasks
    remain. A task no longer listed looks at once and is seen gone, the first three within a second of their
    ends; the last one, alone, follows its own pace. Each task looking for itself makes as many calls (38)
    and sees the ends up to 7.5 s late."""
    cloud = side.fake(CLOCK)
    names = [f"b{n}" for n in range(5)]
    for n, name in enumerate(names):
        cloud.add(name, deletions=[[running(12.0 + 5.0 * n, silent=True), gone()]])
    ran = through_slots(side, cloud, names, concurrency=5, policy=SWEEPING)

    assert ran.outcomes() == ["deleted"] * 5
    assert [cloud.read_times(name) for name in names] == [
        [5.0, 6.0, pytest.approx(at)] for at in (12.4, 17.68, 22.96, 30.4488, 45.6732)]
    assert listings(cloud)[:9] == pytest.approx([6.0 + 0.8 * n for n in range(9)])
    assert len(cloud.calls) == 38


@SIDES
def test_a_task_never_seen_working_is_not_concluded_from_its_absence(side: Side) -> None:
    """The status lags 8 s behind the DELETE (shown as before): listings do not show it, which says nothing;
    it keeps its own looks (5, 6, 7.5 s); a listing then shows it deleting, and the listing after its end
    (38 s) no longer does: seen gone at 38.7 s. The two others end at 40 s; two tasks left, the listings
    come half as often: seen at 47 s."""
    cloud = side.fake(CLOCK)
    names = ["lagging", "other1", "other2"]
    cloud.add("lagging", deletions=[[Phase("lag", 8.0, busy=True), running(30, silent=True), gone()]])
    for name in names[1:]:
        cloud.add(name, deletions=[[running(40, silent=True), gone()]])
    ran = through_slots(side, cloud, names, concurrency=3, policy=SWEEPING)

    assert ran.outcomes() == ["deleted"] * 3
    assert [cloud.read_times(name) for name in names] == [
        [5.0, 6.0, 7.5, pytest.approx(38 + 2 / 3)], [5.0, 6.0, pytest.approx(47.02667)],
        [5.0, 6.0, pytest.approx(47.02667)]]
    assert cloud.delete_times("lagging") == [0.0]


@SIDES
def test_a_listing_that_fails_is_skipped(side: Side, logs: list[EventDict]) -> None:
    """The first three listings fail: each is logged and skipped, the tasks keep their own looks (5, 6, 7.5,
    9.75 s) until listings work again, and the one after their end (20 s) sends them to look (20.7 s)."""
    cloud = side.fake(CLOCK)
    cloud.listing_answers = [http(500, None, "boom")] * 3
    names = [f"b{n}" for n in range(3)]
    for name in names:
        cloud.add(name, deletions=[[running(20, silent=True), gone()]])
    ran = through_slots(side, cloud, names, concurrency=3, policy=SWEEPING)

    assert ran.outcomes() == ["deleted"] * 3
    assert len(events(logs, "sweep_unread")) == 3
    assert [cloud.read_times(name) for name in names] == [[5.0, 6.0, 7.5, 9.75, pytest.approx(20 + 2 / 3)]] * 3


def test_without_sweeps_each_blind_task_looks_for_itself() -> None:
    cloud = FakeCloud(CLOCK)
    names = [f"b{n}" for n in range(3)]
    for name in names:
        cloud.add(name, deletions=[[running(20, silent=True), gone()]])
    through_slots(CSBS, cloud, names, concurrency=3)
    assert listings(cloud) == []


def test_csbs_lists_only_deleting_so_queued_tasks_look_for_themselves() -> None:
    """CSBS's sweep lists ``deleting``: two tasks seen queued (30 s) would not be in it, so no listing is
    made for them; they look for themselves, backing off."""
    cloud = FakeCloud(CLOCK)
    names = ["q1", "q2"]
    for name in names:
        cloud.add(name, deletions=[[queued(30), running(10), gone()]])
    ran = through_slots(CSBS, cloud, names, concurrency=2, policy=SWEEPING)

    assert ran.outcomes() == ["deleted"] * 2
    assert listings(cloud) == []
    assert cloud.read_times("q1") == cloud.read_times("q2")
    assert cloud.read_times("q1")[:5] == [5.0, 6.0, 7.5, 9.75, 13.125]
