"""The slots in virtual time against a scripted cloud: the limit, refills, holds and lost slots, stops,
aborts, crashes and adoption, each asserted from the calls the cloud received and the log events.

Tracking policy as in ``helpers.POLICY`` (first look 5 s after the DELETE, then every 10 s while nothing
moves); holds look every 60 s for up to 300 s unless a test says otherwise.
"""

from __future__ import annotations

import dataclasses

import pytest
from structlog.typing import EventDict

from tests.unit.fake_cloud import FakeCloud, forbidden, gone, running
from tests.unit.helpers import (
    CLOCK,
    POLICY,
    Ran,
    RecordingResults,
    Spec,
    csbs_runner,
    events,
    find_in_progress,
    item,
    schedule,
    wall,
)
from tests.virtual_time import run_virtual
from worker.engine.adoption import ForeignDeletion
from worker.engine.outcomes import Outcome, TaskResult
from worker.engine.scheduler import RunProgress, Scheduler
from worker.stopping import StopRequests

SHORT = dataclasses.replace(POLICY, task_timeout_s=100.0)


def approx(value: object) -> object:
    return pytest.approx(value, abs=1e-9)


def written_once_by_the_scheduler(ran: Ran) -> None:
    """Every result was written once, by the scheduler's one writer."""
    indices = [index for index, _ in ran.results.writes]
    assert len(indices) == len(set(indices))
    assert {writer for _, writer in ran.results.writes} <= {"Scheduler._record"}


def plan_of(cloud: FakeCloud, *durations: float | None) -> list[Spec]:
    """One backup per duration (None: never ends), each deleted in that many seconds."""
    plan = []
    for number, seconds in enumerate(durations):
        name = f"b{number}"
        cloud.add(name, deletions=[[running()] if seconds is None else [running(seconds), gone()]])
        plan.append(item(name))
    return plan


def test_never_more_than_concurrency_outstanding_and_slots_refilled_at_once() -> None:
    """12 tasks of 20 to 97 s through 5 slots: 5 DELETEs at instant 0, never more than 5 tasks outstanding
    (from the cloud's calls), and each later DELETE is sent at the very look that saw a task end."""
    cloud = FakeCloud(CLOCK)
    plan = plan_of(cloud, *(20.0 + 7.0 * n for n in range(12)))
    ran = schedule(cloud, plan, concurrency=5)

    assert ran.outcomes() == ["deleted"] * 12
    assert cloud.max_outstanding() == 5
    deletes = cloud.calls_of(None, "delete_item")
    assert [call.target for call in deletes] == [f"b{n}" for n in range(12)]
    assert [call.at for call in deletes[:5]] == [0.0] * 5
    for delete in deletes[5:]:
        seen_end = cloud.calls[delete.seq - 1]
        assert (seen_end.op, seen_end.answer.status, seen_end.at) == ("get_item", 404, delete.at)
    progress = ran.scheduler.progress
    assert (progress.finished, progress.in_flight, progress.live, progress.holding) == (12, 0, {}, 0)
    written_once_by_the_scheduler(ran)


def test_results_carry_what_the_task_counted() -> None:
    """The report row: outcome, DELETEs, looks, and the wall times of the first DELETE and of the end."""
    cloud = FakeCloud(CLOCK)
    plan = plan_of(cloud, 10.0)
    ran = schedule(cloud, plan)
    ended = cloud.read_times("b0")[-1]
    assert ran.result(0) == TaskResult("cp-b0", "b0", Outcome.DELETED, 1, 2, submitted_at=wall(0.0),
                                       ended_at=wall(ended))


def test_a_timed_out_task_holds_its_slot_then_loses_it(logs: list[EventDict]) -> None:
    """b0 never ends: timed out at 100 s, its slot then held (a look every 60 s) until 400 s, then lost;
    the other slot carries the rest of the plan meanwhile."""
    cloud = FakeCloud(CLOCK)
    plan = plan_of(cloud, None, 10.0, 10.0)
    ran = schedule(cloud, plan, concurrency=2, policy=SHORT, hold_s=300.0, hold_poll_s=60.0)

    assert ran.outcomes() == ["timed_out", "deleted", "deleted"]
    assert ran.result(0).error_message == "not seen to end within 100 s (last seen 'deleting' at 0%)"
    assert ran.result(0).ended_at == wall(100.0)
    assert cloud.read_times("b0")[-6:] == [100.0, 160.0, 220.0, 280.0, 340.0, 400.0]
    assert cloud.max_outstanding() == 2
    lost = events(logs, "slot_lost")
    assert [(entry["t"], entry["slots_left"], entry["held_s"]) for entry in lost] == [(400.0, 1, 300.0)]
    assert events(logs, "slots_exhausted") == []
    assert (ran.scheduler.progress.lost, ran.scheduler.progress.holding, ran.ended_at) == (1, 0, 400.0)


def test_a_held_task_that_ends_frees_its_slot_for_the_next(logs: list[EventDict]) -> None:
    """b0 runs 200 s, longer than its 100 s timeout: timed out, held; seen ended at the hold's second look
    (220 s), and b1's DELETE goes out at that instant."""
    cloud = FakeCloud(CLOCK)
    plan = plan_of(cloud, 200.0, 10.0)
    ran = schedule(cloud, plan, concurrency=1, policy=SHORT)

    assert ran.outcomes() == ["timed_out", "deleted"]
    assert cloud.read_times("b0")[-3:] == [100.0, 160.0, 220.0]
    assert cloud.delete_times("b1") == [220.0]
    assert [entry["t"] for entry in events(logs, "task_ended_after_timeout")] == [220.0]


def test_when_every_slot_is_lost_the_rest_is_not_attempted(logs: list[EventDict]) -> None:
    """Two slots, two tasks that never end: both slots lost at 400 s; the rest is never sent."""
    cloud = FakeCloud(CLOCK)
    plan = plan_of(cloud, None, None, 10.0, 10.0)
    ran = schedule(cloud, plan, concurrency=2, policy=SHORT)

    assert ran.outcomes() == ["timed_out", "timed_out", "not_attempted", "not_attempted"]
    assert cloud.calls_of("b2") == cloud.calls_of("b3") == []
    exhausted = events(logs, "slots_exhausted")
    assert [(entry["t"], entry["not_attempted"]) for entry in exhausted] == [(400.0, 2)]
    assert ran.results.counts()["not_attempted"] == 2


def test_stop_takes_no_new_task_and_gives_the_grace_to_those_in_flight(logs: list[EventDict]) -> None:
    """SIGTERM at 30 s, grace 30 s: b1 ends within the grace (deleted at 41.75 s), b0 is cancelled at 60 s
    and reported timed_out/run_stopped (it was sent), b2 and b3 are never sent."""
    cloud = FakeCloud(CLOCK)
    plan = plan_of(cloud, 1000.0, 40.0, 10.0, 10.0)
    ran = schedule(cloud, plan, concurrency=2, grace_s=30.0, stops=[(30.0, "SIGTERM")])

    assert ran.outcomes() == ["timed_out", "deleted", "not_attempted", "not_attempted"]
    assert (ran.result(0).error_code, ran.result(0).ended_at) == ("run_stopped", wall(60.0))
    assert ran.result(1).ended_at == approx(wall(5.0 * 100 / 12 * 1.002))
    assert max(call.at for call in cloud.calls) < 60.0
    assert cloud.calls_of("b2") == cloud.calls_of("b3") == []
    assert (ran.scheduler.stop_reason, ran.scheduler.progress.interrupted, ran.ended_at) == ("SIGTERM", 1, 60.0)
    stopping = events(logs, "run_stopping")
    assert [(entry["t"], entry["in_flight"], entry["grace_s"]) for entry in stopping] == [(30.0, 2, 30.0)]
    stopped = [entry for entry in events(logs, "task_timed_out") if entry.get("reason") == "run_stopped"]
    assert [(entry["t"], entry["checkpoint_item"]) for entry in stopped] == [(60.0, "b0")]
    written_once_by_the_scheduler(ran)


def test_a_second_stop_cancels_at_once(logs: list[EventDict]) -> None:
    """A stop at 30 s with a long grace, a second at 45 s: what is in flight is cancelled at 45 s."""
    cloud = FakeCloud(CLOCK)
    plan = plan_of(cloud, 1000.0, 1000.0, 10.0)
    ran = schedule(cloud, plan, concurrency=2, grace_s=600.0, stops=[(30.0, "SIGTERM"), (45.0, "SIGINT")])

    assert ran.outcomes() == ["timed_out", "timed_out", "not_attempted"]
    assert [ran.result(n).ended_at for n in (0, 1)] == [wall(45.0), wall(45.0)]
    assert (ran.ended_at, ran.scheduler.progress.interrupted, ran.scheduler.stop_reason) == (45.0, 2, "SIGTERM")
    now = events(logs, "run_stop_now")
    assert [(entry["t"], entry["reason"], entry["in_flight"]) for entry in now] == [(45.0, "SIGINT", 2)]


def test_a_stop_before_the_run_sends_nothing() -> None:
    cloud = FakeCloud(CLOCK)
    plan = plan_of(cloud, 10.0, 10.0)
    ran = schedule(cloud, plan, before_run=lambda scheduler: scheduler.request_stop("SIGTERM"))
    assert ran.outcomes() == ["not_attempted", "not_attempted"]
    assert cloud.calls == []
    assert ran.scheduler.stopping


def test_the_deadline_stops_the_run(logs: list[EventDict]) -> None:
    """--deadline 50 (StopRequests, as in production), grace 10 s: b0 cancelled at 60 s, b1 never sent."""
    cloud = FakeCloud(CLOCK)
    plan = plan_of(cloud, 1000.0, 10.0)
    requests = StopRequests()

    def install(scheduler: Scheduler) -> None:
        requests.install(50.0, scheduler.request_stop)

    try:
        ran = schedule(cloud, plan, concurrency=1, grace_s=10.0, before_run=install)
    finally:
        requests.remove()
    assert ran.outcomes() == ["timed_out", "not_attempted"]
    assert (ran.scheduler.stop_reason, ran.ended_at, ran.result(0).error_code) == ("deadline", 60.0, "run_stopped")
    assert [entry["t"] for entry in events(logs, "run_stopping")] == [50.0]


def test_abort_cancels_everything_and_leaves_unsent_tasks_not_attempted(logs: list[EventDict]) -> None:
    """b2's DELETE is refused 403 (at 20.04 s, when b1 ended): the run aborts at once; b2 failed with the
    refusal's code, b0 (in flight) timed_out with it, b3 and b4 never sent."""
    cloud = FakeCloud(CLOCK)
    plan = plan_of(cloud, 1000.0, 20.0, 10.0, 10.0, 10.0)
    cloud.backups["b2"].delete_answers.append(forbidden())
    ran = schedule(cloud, plan, concurrency=2)

    end_of_b1 = 5.0 * 100 / 25 * 1.002
    assert ran.outcomes() == ["timed_out", "deleted", "failed", "not_attempted", "not_attempted"]
    assert [ran.result(n).error_code for n in (0, 2)] == ["CSBS.1020", "CSBS.1020"]
    assert ran.result(2).http_status == 403
    assert cloud.calls[-1].target == "b2"
    assert cloud.calls[-1].at == approx(end_of_b1)
    assert ran.ended_at == approx(end_of_b1)
    assert ran.scheduler.aborted is not None
    assert ran.scheduler.aborted.reason.startswith("the cloud refused the run: HTTP 403 CSBS.1020")
    assert len(events(logs, "run_aborted")) == 1
    assert ran.scheduler.progress.interrupted == 1
    written_once_by_the_scheduler(ran)


@pytest.mark.parametrize("crash_on", ["delete", "read"])
def test_a_crashing_task_fails_with_internal_error_and_its_slot_goes_on(logs: list[EventDict],
                                                                        crash_on: str) -> None:
    """A bug in one task (here: the client raises): logged once as task_crashed with its traceback, the
    task failed with internal_error, and with one slot the rest of the plan still runs."""
    cloud = FakeCloud(CLOCK)
    plan = plan_of(cloud, 10.0, 10.0, 10.0)
    cloud.backups["b0"].crash, cloud.backups["b0"].crash_on = RuntimeError("boom"), crash_on
    ran = schedule(cloud, plan, concurrency=1)

    assert ran.outcomes() == ["failed", "deleted", "deleted"]
    crashed = ran.result(0)
    assert (crashed.error_code, crashed.error_message) == ("internal_error",
                                                           "the worker failed on this task: RuntimeError('boom')")
    assert (crashed.attempts, crashed.polls) == ((1, 0) if crash_on == "delete" else (1, 1))
    entries = events(logs, "task_crashed")
    assert len(entries) == 1
    assert entries[0]["checkpoint_item"] == "b0"
    assert entries[0]["error"] == "RuntimeError: boom"
    assert "Traceback" in entries[0]["exception"] and "RuntimeError: boom" in entries[0]["exception"]
    written_once_by_the_scheduler(ran)


def test_adopted_tasks_go_first_without_delete_and_foreign_deletions_hold_slots(logs: list[EventDict]) -> None:
    """At the start the provider deletes b2 (the plan's; ends at 40 s) and x9 (not the plan's; ends at 90 s),
    as the listing of deletions in progress shows. Two slots: one waits for x9 (seen ended at its second
    look, 120 s), the other follows b2 without a DELETE (seen gone at 41.6 s); nothing new is sent before
    that, and the rest of the plan then goes through the one free slot, each DELETE at the look that saw
    the previous task end."""
    cloud = FakeCloud(CLOCK)
    plan = plan_of(cloud, 30.0, 30.0, 30.0, 30.0)
    cloud.add("b2", before=[running(50), gone()], since=-10.0)
    cloud.add("x9", before=[running(100), gone()], since=-10.0)

    found = run_virtual(find_in_progress(cloud, plan, deadline=60.0))
    assert found.adopted == frozenset({2})
    assert found.foreign == (ForeignDeletion("cp-x9", "x9"),)
    ran = schedule(cloud, plan, concurrency=2, adopted=found.adopted, foreign=found.foreign)

    assert ran.outcomes() == ["deleted"] * 4
    assert cloud.delete_times("b2") == []
    assert (ran.result(2).attempts, ran.result(2).submitted_at) == (0, None)
    assert cloud.read_times("x9") == [60.0, 120.0]
    deletes = cloud.calls_of(None, "delete_item")
    assert [call.target for call in deletes] == ["b0", "b1", "b3"]
    # b2 seen 30 % at 5 s (adopted: the pacer counts from the run's start), 53 % at 16.7 s, 83 % at 31.57 s
    # (the estimate below the 10 s minimum), gone at 41.57 s.
    assert cloud.read_times("b2") == approx([5.0, 16.7, 16.7 * 100 / 53 * 1.002, 16.7 * 100 / 53 * 1.002 + 10.0])
    assert deletes[0].at == cloud.read_times("b2")[-1]
    for delete in deletes:
        seen_end = cloud.calls[delete.seq - 1]
        assert (seen_end.op, seen_end.answer.status, seen_end.at) == ("get_item", 404, delete.at)
    assert deletes[-1].at < 120.0  # all sent while x9 still held the other slot
    assert cloud.max_outstanding() == 2
    assert [entry["t"] for entry in events(logs, "foreign_deletion_ended")] == [120.0]
    assert [entry["event"] for entry in logs].count("task_adopted") == 1


def test_a_foreign_deletion_that_never_ends_takes_its_slot(logs: list[EventDict]) -> None:
    cloud = FakeCloud(CLOCK)
    plan = plan_of(cloud, 10.0)
    cloud.add("x9", before=[running()])
    ran = schedule(cloud, plan, concurrency=1, foreign=[ForeignDeletion("cp-x9", "x9")])
    assert ran.outcomes() == ["not_attempted"]
    assert cloud.read_times("x9") == [60.0, 120.0, 180.0, 240.0, 300.0]
    assert [entry["t"] for entry in events(logs, "slot_lost")] == [300.0]


def test_progress_counts_rate_and_eta() -> None:
    """The live counters: no rate nor ETA before anything ended; 4 of 10 in 100 s: 0.04/s, 150 s left."""
    async def main() -> tuple[float, float | None, float, float | None, str]:
        progress = RunProgress(total=10, clock=CLOCK)
        before = progress.rate_per_s(), progress.eta_s()
        await CLOCK.sleep(100.0)
        progress.ended[Outcome.DELETED] += 4
        scheduler = Scheduler(csbs_runner(FakeCloud(CLOCK)), RecordingResults([]),
                              concurrency=5, grace_s=30.0, clock=CLOCK)
        return *before, progress.rate_per_s(), progress.eta_s(), repr(scheduler)

    assert run_virtual(main()) == (0.0, None, 0.04, approx(150.0),
                                   "<Scheduler concurrency=5 lanes=1 in_flight=0 finished=0/0 stop=None>")


def test_a_crash_while_holding_a_slot_is_logged_and_does_not_end_the_run(logs: list[EventDict]) -> None:
    """The look at a foreign deletion raises (a bug below the scheduler): logged once as task_crashed with its
    traceback; the deletion counts as not seen to end, so its slot is held to hold_s and then lost, while the
    other slot carries the plan; nothing else is cancelled and the run ends normally."""
    cloud = FakeCloud(CLOCK)
    plan = plan_of(cloud, 200.0, 10.0)
    cloud.add("x9", before=[running()], crash=RuntimeError("boom"))
    ran = schedule(cloud, plan, concurrency=2, foreign=[ForeignDeletion("cp-x9", "x9")])

    assert ran.outcomes() == ["deleted", "deleted"]
    assert cloud.read_times("x9") == [60.0, 120.0, 180.0, 240.0, 300.0]
    crashed = events(logs, "task_crashed")
    assert [(entry["t"], entry["checkpoint_item"], entry["error"]) for entry in crashed] == [
        (60.0, "x9", "RuntimeError: boom")]
    assert "Traceback" in crashed[0]["exception"]
    assert [entry["t"] for entry in events(logs, "slot_lost")] == [300.0]


def test_a_stop_ends_the_holds_at_once(logs: list[EventDict]) -> None:
    """b0 timed out at 100 s and its slot is held; x9 (foreign) holds the other. SIGTERM at 130 s, grace 100 s:
    nothing is in flight, so the run ends at once (a held slot waits only to take a new task, and none will
    be taken): no further look, b1 never sent, b0 keeps its task_timeout, no slot counted lost."""
    cloud = FakeCloud(CLOCK)
    plan = plan_of(cloud, None, 10.0)
    cloud.add("x9", before=[running()])
    ran = schedule(cloud, plan, concurrency=2, policy=SHORT, grace_s=100.0, stops=[(130.0, "SIGTERM")],
                   foreign=[ForeignDeletion("cp-x9", "x9")])

    assert ran.outcomes() == ["timed_out", "not_attempted"]
    assert ran.result(0).error_code == "task_timeout"
    assert cloud.read_times("b0")[-1] == 100.0
    assert cloud.read_times("x9") == [60.0, 120.0]
    assert (ran.ended_at, ran.scheduler.progress.lost, ran.scheduler.progress.interrupted) == (130.0, 0, 0)
    assert (ran.scheduler.progress.holding, events(logs, "slot_lost")) == (0, [])
    written_once_by_the_scheduler(ran)


def test_a_task_that_times_out_during_the_grace_is_not_held() -> None:
    """SIGTERM at 90 s, grace 30 s; b0 times out at 100 s, within the grace: recorded, not held, run over."""
    cloud = FakeCloud(CLOCK)
    plan = plan_of(cloud, None, 10.0)
    ran = schedule(cloud, plan, concurrency=1, policy=SHORT, grace_s=30.0, stops=[(90.0, "SIGTERM")])
    assert ran.outcomes() == ["timed_out", "not_attempted"]
    assert (ran.result(0).error_code, ran.ended_at, ran.scheduler.progress.interrupted) == ("task_timeout", 100.0, 0)
    assert cloud.read_times("b0")[-1] == 100.0
