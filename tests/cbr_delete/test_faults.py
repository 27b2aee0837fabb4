"""Flaky, busy, slow and ambiguous CBR: the limit holds, faults are retried, busy answers followed, a ghost
accept ends deleted, a stuck deletion keeps its slot (docs/cbr-api.md, silent points 1-4)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.cbr_delete.conftest import CBR, by_backup, delete_now, high_water, new_id, outcomes, seed, text_plan
from tests.harness import Run, cbr_emulator_on_loopback, cloud_env
from worker.emulator.cbr import CbrFaultRule


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    seed_=st.integers(0, 2**16),
    concurrency=st.integers(1, 7),
    transient=st.floats(0.0, 0.25),
    throttled=st.floats(0.0, 0.2),
    dropped=st.floats(0.0, 0.1),
    applied_500=st.floats(0.0, 0.3),
)
def test_limit_never_exceeded_under_random_faults(seed_: int, concurrency: int, transient: float, throttled: float,
                                                  dropped: float, applied_500: float,
                                                  worker: Callable[..., Run]) -> None:
    """Whatever the faults, CBR never sees more deletions outstanding than --concurrency, and every backup
    ends deleted (a fault is never a failure, a ghost accept never already_absent)."""
    faults = (CbrFaultRule("delete", "applied-500", rate=applied_500), CbrFaultRule("*", "500", rate=transient),
              CbrFaultRule("*", "429", rate=throttled), CbrFaultRule("*", "drop", rate=dropped))
    with cbr_emulator_on_loopback(seed=seed_, faults=faults, delete_duration_s=(0.02, 0.12)) as served:
        ids = seed(served, 15, children=1)
        run = worker(["delete", *CBR, "--concurrency", str(concurrency), "-"], cloud_env(served.url),
                     stdin=text_plan(ids))
        high = high_water(served)
        left = served.emulator.backup_ids()
    assert high <= concurrency
    assert run.code == 0, run.report["counts"] if run.report else run.stderr[-2000:]
    assert set(outcomes(run).values()) == {"deleted"}
    assert left == []


@pytest.mark.parametrize("kind", ["429", "429-retry-after", "500", "503", "drop"])
def test_retryable_answers_are_retried(kind: str, worker: Callable[..., Run]) -> None:
    """Throttled (with and without Retry-After) and transient answers on every route are retried; the run
    still ends deleted."""
    # After the preflight read and the listing of deletions in progress: the tasks' own calls.
    rule = CbrFaultRule("*", kind, times=6, after=2, retry_after_s=0.05)
    with cbr_emulator_on_loopback(faults=(rule,)) as served:
        ids = seed(served, 3)
        run = worker(["delete", *CBR, "-"], cloud_env(served.url), stdin=text_plan(ids))
        fired = served.emulator.stats.faults_by_kind[kind]
    assert fired == 6
    assert run.code == 0
    assert set(outcomes(run).values()) == {"deleted"}
    retries = run.named("request_retry")
    assert retries and all("kind" in e for e in retries)
    if kind != "drop":
        assert all(e.get("request_id") for e in retries)
    if kind == "429-retry-after":
        assert all(e["delay_s"] >= 0.05 for e in retries)


@pytest.mark.parametrize("delete_mode", ["queued", "sync"])
def test_ghost_accept_is_deleted(delete_mode: str, worker: Callable[..., Run]) -> None:
    """A DELETE that CBR applied but answered 500: the retried DELETE meets the deletion (busy) or the gone
    backup (404), and the task is deleted, never already_absent nor failed."""
    with cbr_emulator_on_loopback(faults=(CbrFaultRule("delete", "applied-500"),), delete_mode=delete_mode) as served:
        ids = seed(served, 3)
        run = worker(["delete", *CBR, "-"], cloud_env(served.url), stdin=text_plan(ids))
        stats = served.emulator.stats
        left = served.emulator.backup_ids()
    assert run.code == 0
    assert outcomes(run) == dict.fromkeys(ids, "deleted")
    assert all(stats.deletes_by_target[b] >= 2 for b in ids)
    assert stats.faults_by_kind["applied-500"] >= 3
    assert left == []


@pytest.mark.parametrize("over_limit", ["2003", "6216", "409", "429"])
def test_busy_answers_past_the_providers_limit_are_followed(over_limit: str, worker: Callable[..., Run]) -> None:
    """A CBR that runs two deletions per user and refuses the third with CSBS.2003, 6216, 409 or 429: the
    refused tasks are followed and sent again, never failed, and all end deleted."""
    with cbr_emulator_on_loopback(deletions_per_user=2, over_limit=over_limit, delete_duration_s=(0.1, 0.2)) as served:
        ids = seed(served, 6)
        run = worker(["delete", *CBR, "-"], cloud_env(served.url), stdin=text_plan(ids))
        high = high_water(served)
        sent = sum(served.emulator.stats.deletes_by_target.values())
    assert run.code == 0, run.report
    assert outcomes(run) == dict.fromkeys(ids, "deleted")
    assert high <= 2
    assert sent > 6  # some were refused and sent again
    if over_limit == "429":
        assert run.named("request_retry")
    else:
        assert run.named("task_busy")


@pytest.mark.parametrize("repeat", ["2003", "409", "204"])
def test_repeated_delete_answers_are_followed(repeat: str, worker: Callable[..., Run]) -> None:
    """A backup already being deleted that the run could not adopt (its listing of deletions in progress
    was refused): CBR's answer to the repeated DELETE (busy CSBS.2003, 409, or a second 204) is followed to
    the end, and the task is deleted."""
    skip_adoption = CbrFaultRule("list_backups", "403", times=1)
    with cbr_emulator_on_loopback(repeat_delete=repeat, delete_duration_s=(0.4, 0.5),
                                  faults=(skip_adoption,)) as served:
        ids = seed(served, 2)
        delete_now(served, ids[0])
        run = worker(["delete", *CBR, "-"], cloud_env(served.url), stdin=text_plan(ids))
        sent = dict(served.emulator.stats.deletes_by_target)
    assert run.code == 0
    assert outcomes(run) == dict.fromkeys(ids, "deleted")
    assert run.named("adoption_skipped")
    assert sent[ids[0]] == 2
    if repeat != "204":
        assert [e["backup_id"] for e in run.named("task_busy")] == [ids[0]]


def test_stuck_deletions_time_out_and_keep_their_slots(worker: Callable[..., Run]) -> None:
    """Deletions stuck at the provider time out but keep their slot; with every slot stuck the rest is not
    attempted, and CBR never sees more outstanding than the limit."""
    ids = [new_id() for _ in range(4)]
    with cbr_emulator_on_loopback(stuck_items=frozenset(ids)) as served:
        for backup_id in ids:
            served.emulator.add_backup(backup_id=backup_id)
        run = worker(["delete", *CBR, "--concurrency", "2", "--task-timeout", "0.3", "-"], cloud_env(served.url),
                     stdin=text_plan(ids))
        high = high_water(served)
        sent = sum(served.emulator.stats.deletes_by_target.values())
    assert run.code == 1
    assert run.report is not None
    assert run.report["counts"]["timed_out"] == 2 and run.report["counts"]["not_attempted"] == 2
    assert high == 2 and sent == 2
    assert run.named("slots_exhausted")
    timed_out = [row for row in by_backup(run).values() if row["outcome"] == "timed_out"]
    assert all(row["error_code"] == "task_timeout" for row in timed_out)


def test_timed_out_slot_is_freed_when_the_deletion_ends(worker: Callable[..., Run]) -> None:
    """A deletion that outlives its task timeout holds its slot until it is seen to end; then the next
    backup's DELETE goes out, never two at once."""
    with cbr_emulator_on_loopback(delete_duration_s=(0.55, 0.55)) as served:
        ids = seed(served, 2)
        run = worker(["delete", *CBR, "--concurrency", "1", "--task-timeout", "0.4", "--poll-max", "0.05", "-"],
                     cloud_env(served.url), stdin=text_plan(ids))
        high = high_water(served)
    assert high == 1
    assert outcomes(run) == dict.fromkeys(ids, "timed_out")
    assert run.named("task_ended_after_timeout")


def test_status_lag_is_waited_out_without_resending(worker: Callable[..., Run]) -> None:
    """A backup that still looks available for a while after its DELETE is waited for, not re-sent."""
    with cbr_emulator_on_loopback(status_lag_s=0.2) as served:
        ids = seed(served, 3)
        run = worker(["delete", *CBR, "-"], cloud_env(served.url), stdin=text_plan(ids))
        sent = dict(served.emulator.stats.deletes_by_target)
    assert run.code == 0
    assert outcomes(run) == dict.fromkeys(ids, "deleted")
    assert sent == dict.fromkeys(ids, 1)
    assert run.named("task_resent") == []


@pytest.mark.parametrize("status", [200, 202])
def test_delete_answered_with_a_body_is_accepted(status: int, worker: Callable[..., Run]) -> None:
    """Any 2xx DELETE answer is accepted, its body ignored (point 4)."""
    with cbr_emulator_on_loopback(delete_status=status) as served:
        ids = seed(served, 2)
        run = worker(["delete", *CBR, "-"], cloud_env(served.url), stdin=text_plan(ids))
    assert run.code == 0
    assert outcomes(run) == dict.fromkeys(ids, "deleted")


@pytest.mark.parametrize(("time_form", "code_form"), [("naive", "bare"), ("z", "prefixed")])
def test_time_and_code_forms(time_form: str, code_form: str, worker: Callable[..., Run]) -> None:
    """Zone-less or Z times and bare error codes (6200, 6204) are read as the documented forms."""
    with cbr_emulator_on_loopback(time_form=time_form, code_form=code_form) as served:
        ids = seed(served, 2)
        (image,) = seed(served, 1, image_backed=True)
        absent = new_id()
        run = worker(["delete", *CBR, "-"], cloud_env(served.url), stdin=text_plan([*ids, image, absent]))
    assert run.code == 1
    assert outcomes(run) == {**dict.fromkeys(ids, "deleted"), image: "failed", absent: "already_absent"}
    assert by_backup(run)[image]["error_code"] in ("6204", "BackupService.6204")


@pytest.mark.parametrize("route", ["delete", "get_backup"])
def test_answers_slower_than_the_request_timeout_are_retried(route: str, worker: Callable[..., Run]) -> None:
    """Answers that take longer than --request-timeout (the DELETE's may still be applied) are retried as
    transient: every task ends deleted, never already_absent or failed."""
    slow = CbrFaultRule(route, "slow", delay_s=0.6, times=3)
    with cbr_emulator_on_loopback(faults=(slow,)) as served:
        ids = seed(served, 3)
        run = worker(["delete", *CBR, "--request-timeout", "0.3", "-"], cloud_env(served.url), stdin=text_plan(ids))
        slowed = served.emulator.stats.faults_by_kind["slow"]
    assert slowed == 3
    assert run.code == 0
    assert outcomes(run) == dict.fromkeys(ids, "deleted")
    assert run.named("request_retry")
