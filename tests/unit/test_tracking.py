"""One task from its DELETE to its seen end, in virtual time, against a scripted cloud: every path exact.

The policy of these tests (``helpers.POLICY``): task timeout 600 s, lag window 60 s, the first look 5 s
after a DELETE, then every 10 s while nothing moves (progress estimates between 10 and 50 s).
"""

from __future__ import annotations

import pytest
from structlog.typing import EventDict

from tests.unit.fake_cloud import (
    FakeCloud,
    Landed,
    available,
    deleted,
    failed,
    forbidden,
    gone,
    http,
    lag,
    queued,
    refused,
    running,
    status,
    throttled,
    unavailable,
)
from tests.unit.helpers import CLOCK, Spec, csbs_runner, events, follow, item, names, wall
from tests.virtual_time import run_virtual
from worker.engine.outcomes import AbortScope, Outcome, RunAbort, TaskEnd

EVERY_10_S = [5.0 + 10.0 * n for n in range(7)]  # 5, 15, ..., 65: the looks while nothing moves


def approx(values: list[float]) -> object:
    return pytest.approx(values, abs=1e-9)


def test_deleted_after_queueing_and_running(logs: list[EventDict]) -> None:
    """Queued 10 s, then running 100 s: the pacer learns the speed from the progress and looks 0.8 s after
    the end. One DELETE, four looks, each state logged once."""
    cloud = FakeCloud(CLOCK)
    cloud.add("b1", deletions=[[queued(10), running(100), gone()]])
    done = follow(cloud, item("b1"))

    assert done.ending == TaskEnd(Outcome.DELETED)
    assert cloud.delete_times("b1") == [0.0]
    # 5: queued; 15: 5 % after 5 s of running (speed unknown: halfway to a guess, capped at 50 s);
    # 65: 55 %, 1 %/s since the last look, so the end is at 65 + 44.5 * 1.03; seen gone then.
    assert cloud.read_times("b1") == approx([5.0, 15.0, 65.0, 65.0 + 44.5 * 1.03])
    assert (done.trace.attempts, done.trace.polls, done.trace.submitted_at) == (1, 4, wall(0.0))
    assert (done.trace.state, done.trace.progress) == ("running", 55)
    assert names(logs) == ["task_submitted", "task_queued", "task_running", "task_deleted"]
    assert [entry["t"] for entry in logs] == approx([0.0, 5.0, 15.0, 65.0 + 44.5 * 1.03])
    assert events(logs, "task_submitted")[0]["request_id"] == "req-0"


def test_deleted_when_the_status_says_deleted() -> None:
    """``deleted`` is an end as good as a 404."""
    cloud = FakeCloud(CLOCK)
    cloud.add("b1", deletions=[[running(10), deleted()]])
    done = follow(cloud, item("b1"))
    assert done.ending == TaskEnd(Outcome.DELETED)
    assert cloud.read_times("b1") == approx([5.0, 15.0])


def test_already_absent(logs: list[EventDict]) -> None:
    """A DELETE answered 404 CSBS.3001 with nothing before it that may have landed: already absent, no look."""
    cloud = FakeCloud(CLOCK)
    cloud.add("b1", before=[gone()])
    done = follow(cloud, item("b1"))
    assert done.ending == TaskEnd(Outcome.ALREADY_ABSENT)
    assert [call.op for call in cloud.calls] == ["delete_item"]
    assert (done.trace.attempts, done.trace.polls, done.ended_at) == (1, 0, 0.0)
    assert names(logs) == ["task_already_absent"]


def test_a_5xx_delete_that_landed_makes_a_later_404_a_deletion() -> None:
    """A DELETE answered 503 may have been applied: the retry's 404 means deleted, not already absent."""
    cloud = FakeCloud(CLOCK)
    cloud.add("b1", deletions=[[gone()]], delete_answers=[Landed(unavailable(retry_after=2.0))])
    done = follow(cloud, item("b1"))
    assert done.ending == TaskEnd(Outcome.DELETED)
    assert cloud.delete_times("b1") == [0.0, 2.0]
    assert done.trace.attempts == 2


def test_permanent_refusal_fails_the_task_with_the_answer() -> None:
    """400 CSBS.8007 (registered as an image): failed at once, with the service's code, message, request id."""
    cloud = FakeCloud(CLOCK)
    cloud.add("b1", delete_answers=[refused()])
    done = follow(cloud, item("b1"))
    assert done.ending == TaskEnd(Outcome.FAILED, "CSBS.8007", "The backup is registered as an image", 400,
                                  "req-0")
    assert cloud.read_times("b1") == []


def test_fresh_failure_fails_at_the_first_look_that_shows_it(logs: list[EventDict]) -> None:
    """The deletion fails at 30 s, dated after the DELETE's Date: failed at the first look that shows the
    error (31.3 s, 16 % seen at 5 s), with the service's fail code and reason."""
    cloud = FakeCloud(CLOCK)
    cloud.add("b1", deletions=[[running(30), failed("BackupService.6004", "disk busy")]])
    done = follow(cloud, item("b1"))

    assert done.ending == TaskEnd(Outcome.FAILED, "BackupService.6004", "disk busy")
    looks = cloud.calls_of("b1", "get_item")
    assert [call.at for call in looks] == approx([5.0, 5.0 * 100 / 16 * 1.002])
    assert looks[-1].answer.data["status"] == "error"
    assert cloud.calls_of("b1", "delete_item")[0].answer.server_time == int(wall(0.0))
    assert done.ended_at == looks[-1].at
    assert events(logs, "task_failed")[0]["error_code"] == "BackupService.6004"


def test_stale_failure_seen_through_the_lag_never_fails_the_task(logs: list[EventDict]) -> None:
    """The backup shows an hour-old failed deletion (another task id) for 100 s after our DELETE (the status
    lag), then runs 30 s. The old error is recognised as stale (dated before our DELETE's Date): never a
    failure; the DELETE is re-sent once, at the first look past the 60 s lag window (answered busy: the
    deletion does run), and the task ends deleted."""
    cloud = FakeCloud(CLOCK)
    cloud.add("b1", before=[failed("BackupService.6004", "old failure")], since=-3600.0,
              deletions=[[lag(100), running(30), gone()]])
    done = follow(cloud, item("b1"))

    assert done.ending == TaskEnd(Outcome.DELETED)
    assert cloud.delete_times("b1") == [0.0, 65.0]
    assert cloud.calls_of("b1", "delete_item")[1].answer.error_code == "CSBS.2003"
    # 5..95: the stale error; 105: running 16 % (10 s after the last idle look), next at most 50 s later.
    assert cloud.read_times("b1") == approx([*EVERY_10_S, 75.0, 85.0, 95.0, 105.0, 155.0])
    assert done.trace.attempts == 2
    assert [(entry["event"], entry["t"]) for entry in logs if entry["event"] != "task_running"] == [
        ("task_submitted", 0.0), ("task_stale_failure", 5.0), ("task_resent", 65.0), ("task_busy", 65.0),
        ("task_deleted", 155.0)]


def test_without_a_date_a_new_task_id_tells_a_fresh_failure(logs: list[EventDict]) -> None:
    """No Date header on the answers, so the failure's date cannot be compared: the error of the task id
    seen first counts as stale (the lost first DELETE is re-sent at 65 s); once the re-sent DELETE's own
    task fails (a new task id), the task fails."""
    cloud = FakeCloud(CLOCK, dated=False)
    cloud.add("b1", before=[failed("BackupService.6004", "old failure")],
              deletions=[[], [running(20), failed("BackupService.6005", "new failure")]])
    done = follow(cloud, item("b1"))

    assert done.ending == TaskEnd(Outcome.FAILED, "BackupService.6005", "new failure")
    assert cloud.delete_times("b1") == [0.0, 65.0]
    assert cloud.read_times("b1") == approx([*EVERY_10_S, 75.0, 65.0 + 10.0 * 100 / 50 * 1.002])
    assert [entry["t"] for entry in events(logs, "task_stale_failure")] == [5.0]


def test_a_lost_delete_is_resent_once_after_the_lag_window(logs: list[EventDict]) -> None:
    """The service drops the first DELETE silently: the backup stays available. The worker re-sends exactly
    one DELETE, at the first look past the 60 s lag window (65 s), and follows that one to its end."""
    cloud = FakeCloud(CLOCK)
    cloud.add("b1", deletions=[[], [running(20), gone()]])
    done = follow(cloud, item("b1"))

    assert done.ending == TaskEnd(Outcome.DELETED)
    assert cloud.delete_times("b1") == [0.0, 65.0]
    # 75: 50 % after 10 s of running, so the end is at most 10 s later (with the late margin): 85.04.
    assert cloud.read_times("b1") == approx([*EVERY_10_S, 75.0, 65.0 + 10.0 * 100 / 50 * 1.002])
    assert done.trace.attempts == 2
    resent = events(logs, "task_resent")
    assert [(entry["t"], entry["reason"]) for entry in resent] == [
        (65.0, "backup still available after its DELETE")]
    assert [entry["attempt"] for entry in events(logs, "task_submitted")] == [1, 2]


def test_a_busy_first_delete_steps_aside_until_the_backup_is_free(logs: list[EventDict]) -> None:
    """An interrupted run left the backup being deleted (ends at 50 s), not adopted: our first DELETE is
    answered busy (CSBS.2003), which started nothing of ours, so the task steps aside (no look, no slot) and
    comes back every 10 s; the DELETE at 50 s finds it gone: already absent, none of ours deleted it."""
    cloud = FakeCloud(CLOCK)
    cloud.add("b1", before=[running(100), gone()], since=-50.0)
    done = follow(cloud, item("b1"))

    assert done.ending == TaskEnd(Outcome.ALREADY_ABSENT)
    assert cloud.delete_times("b1") == approx([0.0, 10.0, 20.0, 30.0, 40.0, 50.0])
    assert cloud.read_times("b1") == []
    aside = events(logs, "task_stepped_aside")
    assert [(entry["t"], entry["error_code"], entry["back_in_s"]) for entry in aside] == [
        (10.0 * n, "CSBS.2003", 10.0) for n in range(5)]
    assert events(logs, "task_busy") == []


def test_a_backup_busy_with_another_operation_gets_its_delete_when_free() -> None:
    """Protected (a backup runs) until 90 s: each DELETE is answered busy and the task steps aside; the first
    DELETE once it is free (at 90 s) is taken and followed to its end."""
    cloud = FakeCloud(CLOCK)
    cloud.add("b1", before=[status("protecting", 100, busy=True), available()], since=-10.0,
              deletions=[[running(30), gone()]])
    done = follow(cloud, item("b1"))

    assert done.ending == TaskEnd(Outcome.DELETED)
    assert cloud.delete_times("b1") == approx([10.0 * n for n in range(10)])
    assert cloud.read_times("b1")[0] == 95.0


def test_unknown_status_is_logged_once_followed_and_timed_out(logs: list[EventDict]) -> None:
    """A status the worker does not know is never read as untouched (no re-send): logged once, followed
    every 10 s to the task timeout (the last look at exactly 600 s), timed out naming the status."""
    cloud = FakeCloud(CLOCK)
    cloud.add("b1", deletions=[[status("frozen")]])
    done = follow(cloud, item("b1"))

    message = "still in status 'frozen', which this worker does not know, after 600 s"
    assert done.ending == TaskEnd(Outcome.TIMED_OUT, "task_timeout", message)
    assert cloud.delete_times("b1") == [0.0]
    assert cloud.read_times("b1") == approx([5.0 + 10.0 * n for n in range(60)] + [600.0])
    assert (done.ended_at, done.trace.state, done.trace.polls) == (600.0, "frozen", 61)
    unknown = events(logs, "task_status_unknown")
    assert [(entry["status"], entry["t"]) for entry in unknown] == [("frozen", 5.0)]


def test_a_task_not_seen_to_end_times_out_at_the_task_timeout() -> None:
    """Running without progress and without end: timed out at exactly the task timeout."""
    cloud = FakeCloud(CLOCK)
    cloud.add("b1", deletions=[[running()]])
    done = follow(cloud, item("b1"))
    assert done.ending == TaskEnd(Outcome.TIMED_OUT, "task_timeout",
                                  "not seen to end within 600 s (last seen 'deleting' at 0%)")
    assert done.ended_at == 600.0


def test_transient_answers_are_retried_within_the_task_time(logs: list[EventDict]) -> None:
    """Throttled then 503 on the DELETE, 503 on the first look: each retried after its Retry-After; the
    deletion then runs and is seen to end."""
    cloud = FakeCloud(CLOCK)
    cloud.add("b1", deletions=[[running(30), gone()]],
              delete_answers=[throttled(retry_after=7.0), unavailable(retry_after=3.0)],
              read_answers=[unavailable(retry_after=4.0)])
    done = follow(cloud, item("b1"))

    assert done.ending == TaskEnd(Outcome.DELETED)
    assert cloud.delete_times("b1") == [0.0, 7.0, 10.0]
    # 15: 503; 19: 30 % after 9 s of running (since the DELETE that was answered), so the end by 40.06.
    assert cloud.read_times("b1") == approx([15.0, 19.0, 10.0 + 9.0 * 100 / 30 * 1.002])
    assert (done.trace.attempts, done.trace.polls, done.trace.submitted_at) == (3, 3, wall(0.0))
    retries = events(logs, "request_retry")
    assert [(entry["t"], entry["delay_s"], entry["http_status"]) for entry in retries] == [
        (0.0, 7.0, 429), (7.0, 3.0, 503), (15.0, 4.0, 503)]


def test_a_look_that_keeps_failing_times_out_within_the_task_time(logs: list[EventDict]) -> None:
    """Every look answered 503, Retry-After 30: retried until the next retry would pass the task timeout
    (the last at 575 s), then timed out with that answer."""
    cloud = FakeCloud(CLOCK)
    cloud.add("b1", read_forever=unavailable(retry_after=30.0))
    done = follow(cloud, item("b1"))

    assert done.ending == TaskEnd(Outcome.TIMED_OUT, "task_timeout",
                                  "no usable answer before the task timeout: Service Unavailable", 503, "req-20")
    assert cloud.read_times("b1") == approx([5.0 + 30.0 * n for n in range(20)])
    assert done.ended_at == 575.0
    assert len(events(logs, "request_retry")) == 19


def test_a_delete_that_keeps_failing_times_out_within_the_task_time() -> None:
    """Every DELETE answered 503, Retry-After 50: sent at 0, 50, ..., 600 s, then timed out with that answer."""
    cloud = FakeCloud(CLOCK)
    cloud.add("b1", delete_answers=[unavailable(retry_after=50.0)] * 20)
    done = follow(cloud, item("b1"))
    assert done.ending == TaskEnd(Outcome.TIMED_OUT, "task_timeout",
                                  "no usable answer before the task timeout: Service Unavailable", 503, "req-12")
    assert cloud.delete_times("b1") == [50.0 * n for n in range(13)]
    assert (done.trace.attempts, done.trace.polls) == (13, 0)


def test_an_answer_that_cannot_be_followed_fails_the_task() -> None:
    """A look refused for good (400 with a code that means nothing here): failed, saying why."""
    cloud = FakeCloud(CLOCK)
    cloud.add("b1", read_answers=[http(400, "CSBS.0001", "bad request")])
    done = follow(cloud, item("b1"))
    assert done.ending == TaskEnd(Outcome.FAILED, "CSBS.0001", "cannot follow the task: bad request", 400, "req-1")


@pytest.mark.parametrize("where", ["delete", "look"])
def test_fatal_answer_aborts_the_run(where: str) -> None:
    """403 on the DELETE or on a look: the tracker returns a RunAbort naming the answer."""
    cloud = FakeCloud(CLOCK)
    if where == "delete":
        cloud.add("b1", delete_answers=[forbidden()])
    else:
        cloud.add("b1", read_answers=[forbidden()])
    done = follow(cloud, item("b1"))
    request = "req-0" if where == "delete" else "req-1"
    assert done.ending == RunAbort(f"the cloud refused the run: HTTP 403 CSBS.1020 No permission for this project "
                                   f"(request id {request})", AbortScope.TARGET, "CSBS.1020", 403, request,
                                   nothing_applied=where == "delete")


def test_an_adopted_task_is_followed_without_a_delete(logs: list[EventDict]) -> None:
    """A deletion already running when the run began (ends at 20 s): followed to its end, no DELETE sent."""
    cloud = FakeCloud(CLOCK)
    cloud.add("b1", before=[running(40), gone()], since=-20.0)
    done = follow(cloud, item("b1"), adopted=True)

    assert done.ending == TaskEnd(Outcome.DELETED)
    assert cloud.delete_times() == []
    assert cloud.read_times("b1") == approx([5.0, 15.0, 25.0])
    assert (done.trace.attempts, done.trace.submitted_at, done.trace.state) == (0, None, "running")
    assert names(logs)[0] == "task_adopted"


def test_a_whole_record_is_followed_through_its_listing() -> None:
    """A record of two backups (20 s and 50 s to delete): one DELETE for the record; the slowest backup's
    progress paces the looks (10 % at 5 s: done by 50.1 s); deleted when the listing is empty."""
    cloud = FakeCloud(CLOCK)
    cloud.add("b1", "cp-r", deletions=[[running(20), gone()]])
    cloud.add("b2", "cp-r", deletions=[[running(50), gone()]])
    done = follow(cloud, Spec("cp-r", None))

    assert done.ending == TaskEnd(Outcome.DELETED)
    assert [(call.op, call.at) for call in cloud.calls] == [
        ("delete_record", 0.0), ("list_items", 5.0), ("list_items", pytest.approx(5.0 * 100 / 10 * 1.002))]
    assert cloud.calls[-1].answer.data == []


def test_has_ended_is_bounded_by_the_look_budget() -> None:
    """A held slot's look at a cloud answering only 503 (Retry-After 30) gives up at look_budget_s (120 s):
    five calls, the answer 'not seen to end'."""
    cloud = FakeCloud(CLOCK)
    cloud.add("b1", read_forever=unavailable(retry_after=30.0))

    async def main() -> tuple[bool, float]:
        return await csbs_runner(cloud).has_ended(item("b1")), CLOCK.now()

    assert run_virtual(main()) == (False, 120.0)
    assert cloud.read_times("b1") == [0.0, 30.0, 60.0, 90.0, 120.0]


@pytest.mark.parametrize(("phases", "ended"), [
    ([gone()], True), ([deleted()], True), ([failed()], True), ([available()], True),
    ([running()], False), ([queued()], False), ([status("frozen")], False)])
def test_has_ended_reads_one_look(phases: list, ended: bool) -> None:  # type: ignore[type-arg]
    """Gone, failed or back to untouched: ended; queued, running or unknown: may still run."""
    cloud = FakeCloud(CLOCK)
    cloud.add("b1", before=phases)

    async def main() -> bool:
        return await csbs_runner(cloud).has_ended(item("b1"))

    assert run_virtual(main()) is ended
    assert len(cloud.calls) == 1


def test_runner_repr_names_its_policy() -> None:
    assert repr(csbs_runner(FakeCloud(CLOCK))) == "<TaskRunner CsbsRules timeout=600s lag=60s>"
