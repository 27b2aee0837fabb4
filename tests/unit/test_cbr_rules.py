"""The engine's task loop with CBR's rules, in virtual time, against a scripted CBR cloud: every path exact.

``TaskRunner(CbrRules(fake), POLICY, CLOCK)``, and the scheduler where slots matter. The policy of these tests
(``helpers.POLICY``): task timeout 600 s, lag window 60 s, the first look 5 s after a DELETE, then every
10 s while nothing moves (progress estimates aside). What CBR adds to the loop
(``worker.services.cbr.rules``): the vault check before the first DELETE, the capped busy codes, the
shared-in 403, and the re-send cap ``MAX_RESENDS`` with an operation-log verdict before each re-send.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import pytest
from structlog.typing import EventDict

from tests.unit.fake_cbr import (
    OTHER_PROJECT,
    PROJECT,
    VAULT,
    FakeCbr,
    cannot_delete,
    conflict,
    fell_back,
    forbidden,
    http,
    in_use,
    malformed_url,
    protecting,
    unavailable,
)
from tests.unit.fake_cloud import Landed, Phase, available, gone, lag, queued, running, status
from tests.unit.helpers import (
    CLOCK,
    POLICY,
    STEP_ASIDE_RNG,
    Followed,
    Ran,
    RecordingResults,
    Spec,
    events,
    follow_with,
    names,
    wall,
)
from tests.virtual_time import run_virtual
from worker.engine.answer import Answer
from worker.engine.outcomes import AbortScope, Outcome, RunAbort, TaskEnd
from worker.engine.scheduler import Scheduler
from worker.engine.tracking import TaskRunner, TrackingPolicy
from worker.services.cbr.rules import MAX_RESENDS, CbrRules, backup_id
from worker.services.cbr.service import SERVICE

EVERY_10_S = [5.0 + 10.0 * n for n in range(7)]  # 5, 15, ..., 65: the looks while nothing moves
SINCE_FIRST_DELETE = "2025-06-15T15:06:38Z"  # the Date of a DELETE at instant 0, less LOG_SLACK_S
# A deletion that fails after 12 s of waiting in the queue: looks at 5 (queued) and 15 (fallen back).
FAILS_IN_QUEUE = (queued(12), fell_back())


def approx(values: object) -> object:
    return pytest.approx(values, abs=1e-9)


def runner(cloud: FakeCbr, policy: TrackingPolicy = POLICY) -> TaskRunner:
    """The engine's task loop with CBR's rules, over the fake (it answers as ``CbrClient`` does)."""
    return TaskRunner(CbrRules(cloud), policy, CLOCK,  # type: ignore[arg-type]  # the fake, not a CbrClient
                      rng=lambda: STEP_ASIDE_RNG)


def task(name: str, vault: str = "") -> Spec:
    """The task of deleting backup ``name``; ``vault``: the plan's vault ("" when it names none)."""
    return Spec(vault, name)


def follow(cloud: FakeCbr, spec: Spec, *, policy: TrackingPolicy = POLICY, adopted: bool = False) -> Followed:
    """Run one task against ``cloud`` from instant 0 to its end (taken back at once after a step aside)."""
    return run_virtual(follow_with(runner(cloud, policy), spec, adopted=adopted))


def schedule(cloud: FakeCbr, plan: Sequence[Spec], *, concurrency: int = 5) -> Ran:
    """Run ``plan`` through a scheduler of ``concurrency`` slots against ``cloud`` from instant 0."""
    async def main() -> Ran:
        results = RecordingResults(plan)
        scheduler = Scheduler(runner(cloud), results, concurrency=concurrency, grace_s=30.0, clock=CLOCK,
                              hold_s=300.0, hold_poll_s=60.0, log_ids=SERVICE.log_ids)
        await scheduler.run(plan)
        return Ran(scheduler, results, CLOCK.now())
    return run_virtual(main())


def ended(done: Followed) -> TaskEnd:
    assert isinstance(done.ending, TaskEnd), done.ending
    return done.ending


# -- deleted, already absent --------------------------------------------------------------------------------

def test_deleted_after_queueing_and_running(logs: list[EventDict]) -> None:
    """Queued 10 s, then running 100 s: the pacer learns the speed from ``extend_info.progress`` and looks
    0.8 s after the end; one DELETE, four looks, no operation-log listing."""
    cloud = FakeCbr(CLOCK)
    cloud.add("b1", deletions=[[queued(10), running(100), gone()]])
    done = follow(cloud, task("b1"))

    assert done.ending == TaskEnd(Outcome.DELETED)
    assert cloud.delete_times("b1") == [0.0]
    assert cloud.read_times("b1") == approx([5.0, 15.0, 65.0, 65.0 + 44.5 * 1.03])
    assert cloud.calls[-1].answer.error_code == "BackupService.6200"
    assert (done.trace.attempts, done.trace.polls, done.trace.submitted_at) == (1, 4, wall(0.0))
    assert (done.trace.state, done.trace.progress) == ("running", 55)
    assert names(logs) == ["task_submitted", "task_queued", "task_running", "task_deleted"]
    assert cloud.log_queries == []


def test_already_absent(logs: list[EventDict]) -> None:
    """404 BackupService.6200 to the first DELETE, nothing before it that may have landed: no look."""
    cloud = FakeCbr(CLOCK)
    cloud.add("b1", before=[gone()])
    done = follow(cloud, task("b1"))

    assert done.ending == TaskEnd(Outcome.ALREADY_ABSENT)
    assert [(call.op, call.at) for call in cloud.calls] == [("delete_backup", 0.0)]
    assert (done.trace.attempts, done.trace.polls, done.ended_at) == (1, 0, 0.0)
    assert names(logs) == ["task_already_absent"]


@pytest.mark.parametrize(("where", "outcome", "ended_at"), [("delete", Outcome.ALREADY_ABSENT, 0.0),
                                                          ("look", Outcome.DELETED, 5.0)])
def test_the_confirmed_malformed_url_401_is_gone(where: str, outcome: Outcome, ended_at: float) -> None:
    """Point 6: the 401 "Malformed request url" that the client confirmed reads as gone, on the DELETE (already
    absent) and on a look after it (deleted) alike."""
    cloud = FakeCbr(CLOCK)
    if where == "delete":
        cloud.add("b1", delete_answers=[malformed_url()])
    else:
        cloud.add("b1", deletions=[[running()]], read_answers=[malformed_url()])
    done = follow(cloud, task("b1"))
    assert done.ending == TaskEnd(outcome)
    assert (done.ended_at, cloud.calls[-1].answer.status) == (ended_at, 401)


def test_a_5xx_delete_that_landed_makes_a_later_404_a_deletion() -> None:
    """A DELETE answered 503 may have been applied: the retry's 404 means deleted, not already absent."""
    cloud = FakeCbr(CLOCK)
    cloud.add("b1", deletions=[[gone()]], delete_answers=[Landed(unavailable(retry_after=2.0))])
    done = follow(cloud, task("b1"))
    assert done.ending == TaskEnd(Outcome.DELETED)
    assert cloud.delete_times("b1") == [0.0, 2.0]
    assert done.trace.attempts == 2


def test_a_look_answered_5xx_is_retried_after_its_retry_after(logs: list[EventDict]) -> None:
    cloud = FakeCbr(CLOCK)
    cloud.add("b1", deletions=[[running(20), gone()]], read_answers=[unavailable(retry_after=4.0)])
    done = follow(cloud, task("b1"))
    assert done.ending == TaskEnd(Outcome.DELETED)
    assert cloud.read_times("b1")[:2] == [5.0, 9.0]
    assert [(entry["t"], entry["delay_s"]) for entry in events(logs, "request_retry")] == [(5.0, 4.0)]


def test_a_permanent_refusal_fails_at_once() -> None:
    """400 BackupService.6204 (the backup made an image): failed with the answer, one DELETE, no look."""
    cloud = FakeCbr(CLOCK)
    cloud.add("b1", delete_answers=[http(400, "BackupService.6204", "An image was created from the backup")])
    done = follow(cloud, task("b1"))
    assert done.ending == TaskEnd(Outcome.FAILED, "BackupService.6204", "An image was created from the backup",
                                  400, "req-0")
    assert len(cloud.calls) == 1


# -- the vault check ------------------------------------------------------------------------------------

def test_a_backup_in_another_vault_fails_without_a_delete(logs: list[EventDict]) -> None:
    """The plan names vault-2, the backup is in vault-1: one look, zero DELETEs, failed vault_mismatch."""
    cloud = FakeCbr(CLOCK)
    cloud.add("b1")
    done = follow(cloud, task("b1", "vault-2"))

    assert done.ending == TaskEnd(Outcome.FAILED, "vault_mismatch",
                                  "the backup is in vault vault-1, not in the plan's vault vault-2; nothing was sent")
    assert [(call.op, call.at) for call in cloud.calls] == [("get_backup", 0.0)]
    assert (done.trace.attempts, done.trace.polls) == (0, 1)
    assert names(logs) == ["task_failed"]


def test_a_backup_without_a_vault_fails_the_check() -> None:
    cloud = FakeCbr(CLOCK)
    cloud.add("b1", vault_id=None)
    done = follow(cloud, task("b1", VAULT))
    assert ended(done).error_code == "vault_mismatch"
    assert ended(done).error_message == (
        "the backup is in vault (none), not in the plan's vault vault-1; nothing was sent")
    assert cloud.delete_times() == []


def test_a_matching_vault_in_another_case_is_deleted() -> None:
    """The check ignores case; then the DELETE goes out at once."""
    cloud = FakeCbr(CLOCK)
    cloud.add("b1", deletions=[[running(10), gone()]])
    done = follow(cloud, task("b1", VAULT.upper()))
    assert done.ending == TaskEnd(Outcome.DELETED)
    assert [(call.op, call.at) for call in cloud.calls][:2] == [("get_backup", 0.0), ("delete_backup", 0.0)]
    assert done.trace.attempts == 1


def test_the_vault_check_does_not_advance_the_first_look() -> None:
    """With or without the vault check, the first look after the DELETE comes ``first_s`` (5 s) after it."""
    cloud = FakeCbr(CLOCK)
    cloud.add("b1", deletions=[[running(100), gone()]])
    follow(cloud, task("b1", VAULT))
    assert cloud.read_times("b1")[:2] == [0.0, 5.0]


def test_a_backup_gone_before_the_delete_is_already_absent() -> None:
    cloud = FakeCbr(CLOCK)
    cloud.add("b1", before=[gone()])
    done = follow(cloud, task("b1", VAULT))
    assert done.ending == TaskEnd(Outcome.ALREADY_ABSENT)
    assert [call.op for call in cloud.calls] == ["get_backup"]


def test_a_refused_vault_check_aborts_the_run() -> None:
    cloud = FakeCbr(CLOCK)
    cloud.add("b1", read_answers=[forbidden()])
    done = follow(cloud, task("b1", VAULT))
    assert done.ending == RunAbort("the cloud refused the run: HTTP 403 BackupService.8600 Not authenticated or "
                                   "no permission (request id req-0)", AbortScope.TARGET, "BackupService.8600", 403,
                                   "req-0", nothing_applied=True)
    assert cloud.delete_times() == []


def test_an_unreadable_vault_check_lets_the_delete_decide() -> None:
    """A look refused for good (no verdict on the vault): the DELETE goes out as without a vault, and the
    deletion is followed to its end."""
    cloud = FakeCbr(CLOCK)
    cloud.add("b1", deletions=[[running(10), gone()]], read_answers=[http(400, "BackupService.1234", "odd")])
    done = follow(cloud, task("b1", VAULT))
    assert done.ending == TaskEnd(Outcome.DELETED)
    assert [(call.op, call.at, call.answer.status) for call in cloud.calls][:2] == [
        ("get_backup", 0.0, 400), ("delete_backup", 0.0, 204)]


def test_a_task_without_a_backup_id_is_a_bug() -> None:
    with pytest.raises(ValueError, match="needs its backup id"):
        backup_id(Spec(VAULT, None))


# -- busy answers -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("codes", [["BackupService.6201"] * 4, ["BackupService.6112"] * 4,
                                   ["6201", "BackupService.6201", "6201", "BackupService.6201"]])
def test_a_capped_busy_code_fails_the_task_past_its_cap(codes: list[str], logs: list[EventDict]) -> None:
    """6201 and 6112 (also bare, counted with the prefixed code) may come 3 times: the task steps aside after
    each (nothing of ours runs) and is sent again when its backoff ends, then fails at the 4th with the count
    in the message."""
    cloud = FakeCbr(CLOCK)
    cloud.add("b1", delete_answers=[cannot_delete(code) for code in codes])
    done = follow(cloud, task("b1"))

    assert done.ending == TaskEnd(Outcome.FAILED, codes[-1],
                                  "The backup cannot be deleted now. Try again later. (answered 4 times)", 400,
                                  cloud.calls[-1].answer.request_id)
    assert cloud.delete_times("b1") == [0.0, 10.0, 20.0, 30.0]  # back after 2 x min_s, capped by max_s (10 s)
    assert done.ended_at == 30.0
    assert [entry["t"] for entry in events(logs, "task_stepped_aside")] == [0.0, 10.0, 20.0]
    assert cloud.log_queries == []  # a busy DELETE was not accepted: no verdict, no re-send counted
    assert cloud.read_times("b1") == []


@pytest.mark.parametrize("answer", [in_use(), conflict(), cannot_delete("BackupService.6203")],
                         ids=["6216", "409", "6203"])
def test_an_uncapped_busy_code_is_followed_however_often(answer: Answer, logs: list[EventDict]) -> None:
    """Busy four times (more than any cap): the task steps aside each time and comes back; the 5th DELETE is
    taken and the deletion is followed to its end, with no look while it was aside."""
    cloud = FakeCbr(CLOCK)
    cloud.add("b1", deletions=[[running(10), gone()]], delete_answers=[answer] * 4)
    done = follow(cloud, task("b1"))

    assert done.ending == TaskEnd(Outcome.DELETED)
    assert cloud.delete_times("b1") == [0.0, 10.0, 20.0, 30.0, 40.0]
    assert cloud.read_times("b1") == [45.0, 55.0]
    assert len(events(logs, "task_stepped_aside")) == 4
    assert events(logs, "task_busy") == events(logs, "task_resent") == []


def test_a_backup_already_being_deleted_steps_aside_until_it_is_gone(logs: list[EventDict]) -> None:
    """An interrupted run left the backup queued (running from 10 s, gone at 40 s), not adopted: our DELETE is
    answered CSBS.2003, so the task steps aside and comes back every 10 s; the DELETE at 40 s finds it gone:
    already absent (none of our DELETEs deleted it)."""
    cloud = FakeCbr(CLOCK)
    cloud.add("b1", before=[queued(20), running(30), gone()], since=-10.0)
    done = follow(cloud, task("b1"))

    assert done.ending == TaskEnd(Outcome.ALREADY_ABSENT)
    assert cloud.delete_times("b1") == [0.0, 10.0, 20.0, 30.0, 40.0]
    assert {(entry["error_code"], entry["http_status"]) for entry in events(logs, "task_stepped_aside")} == {
        ("CSBS.2003", 400)}


def test_a_protected_backup_gets_its_delete_once_free() -> None:
    """Protecting (a backup runs) until 90 s: each DELETE is answered 6216 and the task steps aside (no slot
    held, no look); the first DELETE after 90 s is taken and runs."""
    cloud = FakeCbr(CLOCK)
    cloud.add("b1", before=[protecting(100), available()], since=-10.0, busy_answer=in_use())
    done = follow(cloud, task("b1"))
    assert done.ending == TaskEnd(Outcome.DELETED)
    assert cloud.delete_times("b1") == approx([10.0 * n for n in range(10)])  # the one at 90 s is taken
    assert cloud.read_times("b1")[0] == 95.0


# -- 403 and other fatal answers ------------------------------------------------------------------------------

def test_a_403_for_a_shared_in_backup_fails_that_task(logs: list[EventDict]) -> None:
    """Point 9: the DELETE is refused 403, one look shows the backup is another project's: failed with the
    answer of the DELETE; nothing else is sent."""
    cloud = FakeCbr(CLOCK)
    cloud.add("b1", project_id=OTHER_PROJECT, delete_answers=[forbidden()])
    done = follow(cloud, task("b1"))

    assert done.ending == TaskEnd(Outcome.FAILED, "BackupService.8600", (
        f"the backup is shared in from project {OTHER_PROJECT}, not this project's own: "
        "Not authenticated or no permission"), 403, "req-0")
    assert [(call.op, call.at) for call in cloud.calls] == [("delete_backup", 0.0), ("get_backup", 0.0)]
    assert (done.trace.attempts, done.trace.polls) == (1, 1)
    assert names(logs) == ["task_failed"]


def test_a_403_without_a_message_names_the_refusal() -> None:
    cloud = FakeCbr(CLOCK)
    cloud.add("b1", project_id=OTHER_PROJECT, delete_answers=[forbidden(None)])
    assert ended(follow(cloud, task("b1"))).error_message == (
        f"the backup is shared in from project {OTHER_PROJECT}, not this project's own: access denied")


@pytest.mark.parametrize("owner", [PROJECT, PROJECT.upper(), ""])
def test_a_403_for_our_own_backup_aborts_the_run(owner: str) -> None:
    """Our own project (in any case), or no owner shown: the credentials' own 403 aborts the run."""
    cloud = FakeCbr(CLOCK)
    cloud.add("b1", project_id=owner, delete_answers=[forbidden()])
    done = follow(cloud, task("b1"))
    assert done.ending == RunAbort("the cloud refused the run: HTTP 403 BackupService.8600 Not authenticated or "
                                   "no permission (request id req-0)", AbortScope.TARGET, "BackupService.8600", 403,
                                   "req-0", nothing_applied=True)
    assert [call.op for call in cloud.calls] == ["delete_backup", "get_backup"]


def test_a_403_whose_look_fails_aborts_the_run() -> None:
    """The look that would show the owner is refused too: no proof of sharing, so the run aborts."""
    cloud = FakeCbr(CLOCK)
    cloud.add("b1", project_id=OTHER_PROJECT, delete_answers=[forbidden()], read_answers=[forbidden()])
    assert isinstance(follow(cloud, task("b1")).ending, RunAbort)


def test_a_401_aborts_without_a_look() -> None:
    cloud = FakeCbr(CLOCK)
    cloud.add("b1", project_id=OTHER_PROJECT, delete_answers=[http(401, "APIGW.0301", "Incorrect IAM authentication")])
    assert isinstance(follow(cloud, task("b1")).ending, RunAbort)
    assert [call.op for call in cloud.calls] == ["delete_backup"]


def test_through_the_slots_a_shared_in_403_fails_one_task_and_our_own_aborts_the_run(logs: list[EventDict]) -> None:
    """Five slots. A shared-in backup fails alone and the plan goes on; a 403 for our own backup aborts the
    run: its task failed with the refusal, the task in flight is reported interrupted, the rest never sent."""
    cloud = FakeCbr(CLOCK)
    cloud.add("b0", deletions=[[running(30), gone()]])
    cloud.add("shared", project_id=OTHER_PROJECT, delete_answers=[forbidden()])
    cloud.add("b2", deletions=[[running(30), gone()]])
    ran = schedule(cloud, [task("b0"), task("shared"), task("b2")])
    assert ran.outcomes() == ["deleted", "failed", "deleted"]
    assert ran.scheduler.aborted is None

    cloud = FakeCbr(CLOCK)
    cloud.add("b0", deletions=[[running()]])
    cloud.add("ours", delete_answers=[forbidden()])
    cloud.add("b2")
    ran = schedule(cloud, [task("b0"), task("ours"), task("b2")], concurrency=2)
    assert ran.outcomes() == ["timed_out", "failed", "not_attempted"]
    assert [ran.result(n).error_code for n in (0, 1)] == ["BackupService.8600", "BackupService.8600"]
    assert isinstance(ran.scheduler.aborted, RunAbort) and ran.ended_at == 0.0
    assert cloud.calls_of("b2") == []
    assert [entry["backup_id"] for entry in events(logs, "run_aborted")] == ["ours"]


# -- fall-backs, re-sends and the operation-log verdict -------------------------------------------------------

@pytest.mark.parametrize("to", ["available", "error"])
def test_a_deletion_that_keeps_falling_back_fails_after_max_resends(to: str, logs: list[EventDict]) -> None:
    """Point 5: each deletion waits 12 s in the queue, then the backup is back in ``to``. Seen working, so
    re-sent at the first look that shows it deletable (15, 35, 55 s), each after an operation-log listing
    that gives no verdict; at the 4th fall-back (75 s) failed delete_failed, never deleted."""
    cloud = FakeCbr(CLOCK)
    cloud.add("b1", deletions=[[queued(12), fell_back(to)]])
    done = follow(cloud, task("b1"))

    assert done.ending == TaskEnd(Outcome.FAILED, "delete_failed", (
        f"the deletion never ended: the backup fell back to {to!r} after 4 DELETEs (3 re-sent), "
        "no failed operation log"))
    assert MAX_RESENDS == 3
    assert cloud.delete_times("b1") == [0.0, 15.0, 35.0, 55.0]
    assert cloud.read_times("b1") == [5.0, 15.0, 25.0, 35.0, 45.0, 55.0, 65.0, 75.0]
    assert cloud.log_times() == [15.0, 35.0, 55.0, 75.0]
    assert (done.ended_at, done.trace.attempts, done.trace.polls) == (75.0, 4, 8)
    resent = events(logs, "task_resent")
    assert [(entry["t"], entry["resend"], entry["max_resends"], entry["reason"]) for entry in resent] == [
        (t, n, 3, f"backup fell back to {to} after its DELETE") for n, t in ((1, 15.0), (2, 35.0), (3, 55.0))]
    assert events(logs, "task_deleted") == []


def test_the_verdict_asks_for_the_delete_logs_of_the_vault_since_the_first_delete() -> None:
    """Filters: operation_type delete, the backup's vault as last seen, start_time the first DELETE's Date
    less 2 s; bounded by the look budget (120 s)."""
    cloud = FakeCbr(CLOCK)
    cloud.add("b1", vault_id="vault-7", deletions=[FAILS_IN_QUEUE])
    follow(cloud, task("b1"))
    first = cloud.log_queries[0]
    assert first.filters == {"operation_type": "delete", "vault_id": "vault-7", "start_time": SINCE_FIRST_DELETE}
    assert (first.at, first.deadline) == (15.0, 135.0)
    assert {query.filters["start_time"] for query in cloud.log_queries} == {SINCE_FIRST_DELETE}


def test_a_delete_lost_in_silence_is_resent_each_lag_window_then_failed(logs: list[EventDict]) -> None:
    """Every DELETE is dropped: the backup stays available, never seen working, so each re-send waits the lag
    window (65, 125, 185 s); failed at 245 s saying it was still available."""
    cloud = FakeCbr(CLOCK)
    cloud.add("b1", deletions=[[]])
    done = follow(cloud, task("b1"))

    assert done.ending == TaskEnd(Outcome.FAILED, "delete_failed", (
        "the deletion never ended: the backup still 'available' after 4 DELETEs (3 re-sent), no failed operation log"))
    assert cloud.delete_times("b1") == [0.0, 65.0, 125.0, 185.0]
    assert cloud.read_times("b1")[:7] == EVERY_10_S
    assert (cloud.log_times(), done.ended_at) == ([65.0, 125.0, 185.0, 245.0], 245.0)
    assert [entry["reason"] for entry in events(logs, "task_resent")] == [
        "backup still available after its DELETE"] * 3


def test_a_delete_hidden_by_the_status_lag_is_resent_once_and_followed() -> None:
    """The status shows ``available`` for 100 s after the DELETE while the deletion runs: re-sent at 65 s
    (answered busy: it runs), then followed to its end; deleted."""
    cloud = FakeCbr(CLOCK)
    cloud.add("b1", deletions=[[lag(100), running(30), gone()]])
    done = follow(cloud, task("b1"))

    assert done.ending == TaskEnd(Outcome.DELETED)
    assert cloud.delete_times("b1") == [0.0, 65.0]
    assert cloud.calls_of("b1", "delete_backup")[1].answer.error_code == "CSBS.2003"
    assert cloud.log_times() == [65.0]


def test_a_deletion_that_fell_back_once_is_resent_and_deleted(logs: list[EventDict]) -> None:
    cloud = FakeCbr(CLOCK)
    cloud.add("b1", deletions=[FAILS_IN_QUEUE, [running(20), gone()]])
    done = follow(cloud, task("b1"))

    assert done.ending == TaskEnd(Outcome.DELETED)
    assert cloud.delete_times("b1") == [0.0, 15.0]
    assert [(entry["t"], entry["resend"]) for entry in events(logs, "task_resent")] == [(15.0, 1)]


@pytest.mark.parametrize(("status_", "code", "message", "expected"), [
    ("failed", "BackupService.4004", "The backup storage did not release the snapshot data.",
     ("BackupService.4004", "The backup storage did not release the snapshot data.")),
    ("timeout", None, None, ("delete_failed", "the delete operation log says timeout")),
])
def test_a_failed_operation_log_since_the_first_delete_fails_at_once(
        status_: str, code: str | None, message: str | None, expected: tuple[str, str], logs: list[EventDict]) -> None:
    """Point 7: at the first fall-back (15 s) the vault's delete logs show ours failed (written at 12 s):
    failed with its error_info, no re-send."""
    cloud = FakeCbr(CLOCK)
    cloud.add("b1", deletions=[FAILS_IN_QUEUE])
    cloud.add("other", deletions=[[running(5), gone()]])
    cloud.add_log("other", at=3.0, status="failed", code="BackupService.6711", message="not ours")
    cloud.add_log("b1", at=12.0, status=status_, code=code, message=message)
    done = follow(cloud, task("b1"))

    assert done.ending == TaskEnd(Outcome.FAILED, *expected)
    assert (cloud.delete_times("b1"), cloud.log_times(), done.ended_at) == ([0.0], [15.0], 15.0)
    assert events(logs, "task_resent") == []
    assert events(logs, "task_failed")[0]["error_code"] == expected[0]


@pytest.mark.parametrize("filters_logs", [True, False], ids=["server filters", "server ignores start_time"])
@pytest.mark.parametrize(("at", "verdict"), [(-1.0, True), (-3.0, False), (-100.0, False)])
def test_a_log_older_than_the_first_delete_is_not_ours(at: float, verdict: bool, filters_logs: bool) -> None:
    """A failed log from 1 s before our DELETE's Date still counts (the Date is whole seconds); one from 3 s
    or more before is an older deletion's, ignored even when the service does not filter on start_time."""
    cloud = FakeCbr(CLOCK, filters_logs=filters_logs)
    cloud.add("b1", deletions=[FAILS_IN_QUEUE, [running(20), gone()]])
    cloud.add_log("b1", at=at, status="failed", code="BackupService.4004", message="old failure")
    done = follow(cloud, task("b1"))
    if verdict:
        assert done.ending == TaskEnd(Outcome.FAILED, "BackupService.4004", "old failure")
        assert cloud.delete_times("b1") == [0.0]
    else:
        assert done.ending == TaskEnd(Outcome.DELETED)
        assert cloud.delete_times("b1") == [0.0, 15.0]


@pytest.mark.parametrize("newest", ["running", "success", "waiting"])
def test_the_newest_log_decides_and_only_a_failure_is_a_verdict(newest: str) -> None:
    """A failed log of ours followed by a newer one that did not fail: no verdict, re-sent."""
    cloud = FakeCbr(CLOCK)
    cloud.add("b1", deletions=[FAILS_IN_QUEUE, [running(20), gone()]])
    cloud.add_log("b1", at=5.0, status="failed", code="BackupService.4004")
    cloud.add_log("b1", at=10.0, status=newest)
    done = follow(cloud, task("b1"))
    assert done.ending == TaskEnd(Outcome.DELETED)
    assert cloud.delete_times("b1") == [0.0, 15.0]


@pytest.mark.parametrize("answer", [unavailable(), forbidden(), http(200)], ids=["503", "403", "not a list"])
def test_an_unreadable_log_listing_is_logged_once_and_changes_nothing(answer: Answer, logs: list[EventDict]) -> None:
    """The listing fails (or answers something else than a list) at every verdict: logged once, and the
    re-sends go on to the cap, as without logs; a failed log that exists is never seen."""
    cloud = FakeCbr(CLOCK)
    cloud.add("b1", deletions=[FAILS_IN_QUEUE])
    cloud.add_log("b1", at=12.0, status="failed", code="BackupService.4004")
    cloud.log_forever = answer
    done = follow(cloud, task("b1"))

    assert ended(done).error_code == "delete_failed"
    assert cloud.delete_times("b1") == [0.0, 15.0, 35.0, 55.0]
    assert cloud.log_times() == [15.0, 35.0, 55.0, 75.0]
    unread = events(logs, "task_oplog_unread")
    assert [entry["t"] for entry in unread] == [15.0]
    assert (unread[0]["kind"], unread[0]["http_status"]) == (str(answer.kind), answer.status)


def test_without_the_vault_no_log_is_asked_for() -> None:
    """A backup whose body names no vault: no listing can be filtered, so no verdict; the cap still holds."""
    cloud = FakeCbr(CLOCK)
    cloud.add("b1", vault_id=None, deletions=[FAILS_IN_QUEUE])
    done = follow(cloud, task("b1"))
    assert ended(done).error_code == "delete_failed"
    assert cloud.log_queries == []
    assert cloud.delete_times("b1") == [0.0, 15.0, 35.0, 55.0]


def test_without_a_date_header_the_log_window_starts_at_our_wall_clock() -> None:
    """No Date on the answers: the first DELETE's instant on our wall clock starts the window."""
    cloud = FakeCbr(CLOCK, dated=False)
    cloud.add("b1", deletions=[FAILS_IN_QUEUE])
    cloud.add_log("b1", at=12.0, status="failed", code="BackupService.4004", message="refused")
    done = follow(cloud, task("b1"))
    assert done.ending == TaskEnd(Outcome.FAILED, "BackupService.4004", "refused")
    assert cloud.log_queries[0].filters["start_time"] == SINCE_FIRST_DELETE


# -- unknown status, timeouts ------------------------------------------------------------------------------

def test_an_unknown_status_is_followed_until_the_timeout(logs: list[EventDict]) -> None:
    """``error-deleting`` is no backup status CBR lists: never read as deletable (no re-send, no verdict),
    logged once, followed every 10 s to the task timeout, timed out naming it."""
    cloud = FakeCbr(CLOCK)
    cloud.add("b1", deletions=[[status("error-deleting")]])
    done = follow(cloud, task("b1"))

    message = "still in status 'error-deleting', which this worker does not know, after 600 s"
    assert done.ending == TaskEnd(Outcome.TIMED_OUT, "task_timeout", message)
    assert cloud.delete_times("b1") == [0.0]
    assert cloud.read_times("b1") == approx([5.0 + 10.0 * n for n in range(60)] + [600.0])
    assert (done.ended_at, done.trace.state, cloud.log_queries) == (600.0, "error-deleting", [])
    assert [(entry["status"], entry["t"]) for entry in events(logs, "task_status_unknown")] == [
        ("error-deleting", 5.0)]


def test_a_stuck_deletion_times_out_with_its_last_state() -> None:
    cloud = FakeCbr(CLOCK)
    cloud.add("b1", deletions=[[running()]])
    done = follow(cloud, task("b1"))
    assert done.ending == TaskEnd(Outcome.TIMED_OUT, "task_timeout",
                                  "not seen to end within 600 s (last seen 'deleting' at 0%)")
    assert done.ended_at == 600.0


# -- adopted tasks -------------------------------------------------------------------------------------------

def test_an_adopted_deletion_is_followed_without_a_delete(logs: list[EventDict]) -> None:
    cloud = FakeCbr(CLOCK)
    cloud.add("b1", before=[running(40), gone()], since=-20.0)
    done = follow(cloud, task("b1"), adopted=True)

    assert done.ending == TaskEnd(Outcome.DELETED)
    assert cloud.delete_times() == []
    assert cloud.read_times("b1") == [5.0, 15.0, 25.0]
    assert (done.trace.attempts, done.trace.submitted_at) == (0, None)
    assert names(logs)[0] == "task_adopted"


@pytest.mark.parametrize(("at", "verdict"), [(-590.0, True), (-700.0, False)])
def test_an_adopted_deletion_that_fell_back_reads_logs_one_task_timeout_back(at: float, verdict: bool) -> None:
    """Adopted while queued, back in ``error`` at 20 s (seen at 25 s): its DELETE was sent by an earlier run at
    most one task timeout (600 s) ago, so the log window starts at -602 s. A failed log from -590 s is the
    verdict; one from -700 s is an older deletion's, and the backup is re-sent (and deleted)."""
    cloud = FakeCbr(CLOCK)
    cloud.add("b1", before=[queued(100), fell_back("error")], since=-80.0, deletions=[[running(10), gone()]])
    cloud.add_log("b1", at=at, status="failed", code="BackupService.4004", message="earlier run")
    done = follow(cloud, task("b1"), adopted=True)

    assert cloud.read_times("b1")[:3] == [5.0, 15.0, 25.0]
    assert cloud.log_queries[0].filters["start_time"] == "2025-06-15T14:56:38Z"
    if verdict:
        assert done.ending == TaskEnd(Outcome.FAILED, "BackupService.4004", "earlier run")
        assert (cloud.delete_times(), done.ended_at) == ([], 25.0)
    else:
        assert done.ending == TaskEnd(Outcome.DELETED)
        assert (cloud.delete_times(), done.ended_at) == ([25.0], 35.0)


# -- has_ended, the runner ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("phase", "has_ended"), [
    (gone(), True), (available(), True), (fell_back("error"), True), (protecting(), True),
    (queued(), False), (running(), False), (status("error-deleting"), False)])
def test_has_ended_reads_one_look(phase: Phase, has_ended: bool) -> None:
    """Gone, deletable again or held by another operation: ended; queued, running or unknown: may still run."""
    cloud = FakeCbr(CLOCK)
    cloud.add("b1", before=[phase])

    async def main() -> bool:
        return await runner(cloud).has_ended(task("b1"))

    assert run_virtual(main()) is has_ended
    assert len(cloud.calls) == 1


def test_has_ended_is_bounded_by_the_look_budget() -> None:
    cloud = FakeCbr(CLOCK)
    cloud.add("b1", read_forever=unavailable(retry_after=30.0))

    async def main() -> tuple[bool, float]:
        return await runner(cloud).has_ended(task("b1")), CLOCK.now()

    assert run_virtual(main()) == (False, 120.0)
    assert cloud.read_times("b1") == [0.0, 30.0, 60.0, 90.0, 120.0]


def test_runner_repr_names_the_resend_cap() -> None:
    assert repr(runner(FakeCbr(CLOCK))) == "<TaskRunner CbrRules timeout=600s lag=60s resends=3>"


# -- through the slots ----------------------------------------------------------------------------------

def test_through_five_slots_every_cbr_outcome_and_the_limit(logs: list[EventDict]) -> None:
    """Twelve CBR tasks through five slots: never more than five outstanding at the fake; each CBR path ends
    as it does alone (deleted, already absent, vault mismatch, shared in, capped busy, fell back)."""
    cloud = FakeCbr(CLOCK)
    plan = []
    for n in range(7):
        cloud.add(f"b{n}", deletions=[[running(20.0 + 10.0 * n), gone()]])
        plan.append(task(f"b{n}", VAULT if n % 2 else ""))
    cloud.add("absent", before=[gone()])
    cloud.add("elsewhere", vault_id="vault-2")
    cloud.add("shared", project_id=OTHER_PROJECT, delete_answers=[forbidden()])
    cloud.add("stubborn", delete_answers=[cannot_delete()] * 4)
    cloud.add("falls", deletions=[FAILS_IN_QUEUE])
    plan += [task("absent"), task("elsewhere", VAULT), task("shared"), task("stubborn"), task("falls")]
    ran = schedule(cloud, plan)

    assert ran.outcomes() == ["deleted"] * 7 + ["already_absent"] + ["failed"] * 4
    assert [ran.result(n).error_code for n in range(8, 12)] == [
        "vault_mismatch", "BackupService.8600", "BackupService.6201", "delete_failed"]
    assert cloud.max_outstanding() == 5
    assert ran.scheduler.aborted is None
    assert {entry["backup_id"] for entry in events(logs, "task_failed")} == {"elsewhere", "shared", "stubborn",
                                                                             "falls"}


def test_the_lag_window_is_the_policys() -> None:
    """The re-send instants follow the policy: a 30 s lag window re-sends a lost DELETE at 35 s."""
    cloud = FakeCbr(CLOCK)
    cloud.add("b1", deletions=[[], [running(10), gone()]])
    done = follow(cloud, task("b1"), policy=dataclasses.replace(POLICY, lag_window_s=30.0))
    assert done.ending == TaskEnd(Outcome.DELETED)
    assert cloud.delete_times("b1") == [0.0, 35.0]
