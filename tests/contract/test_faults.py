"""Flaky, busy, slow and ambiguous clouds, for each service: the limit holds, faults are retried, a deletion
applied but answered 500 ends deleted, a stuck one keeps its slot; nothing is failed that was not refused."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.harness import Run, cloud_env, new_id
from tests.services import Service


def test_limit_never_exceeded_under_random_faults(service: Service, worker: Callable[..., Run]) -> None:
    """Whatever the faults, the cloud never sees more deletions outstanding than --concurrency, and every
    backup ends deleted (a fault is never a failure, a deletion applied but answered 500 never
    already_absent)."""

    @settings(max_examples=service.fault_examples, deadline=None)
    @given(
        seed=st.integers(0, 2**16),
        concurrency=st.integers(1, 7),
        transient=st.floats(0.0, 0.25),
        throttled=st.floats(0.0, 0.2),
        dropped=st.floats(0.0, 0.1),
        applied_500=st.floats(0.0, 0.3),
    )
    def check(seed: int, concurrency: int, transient: float, throttled: float, dropped: float,
              applied_500: float) -> None:
        faults = (service.fault("delete", "applied-500", rate=applied_500), service.fault("*", "500", rate=transient),
                  service.fault("*", "429", rate=throttled), service.fault("*", "drop", rate=dropped))
        with service.serve(seed, faults=faults, delete_duration_s=(0.02, 0.12)) as cloud:
            backups = cloud.seed(15, children=1)
            run = worker(["delete", *service.flags, "--concurrency", str(concurrency), "-"], cloud_env(cloud.url),
                         stdin=service.text_plan(backups))
            high = cloud.high_water()
            left = cloud.remaining()
        assert high <= concurrency
        assert run.code == 0, run.report["counts"] if run.report else run.stderr[-2000:]
        assert set(service.outcomes(run).values()) == {"deleted"}
        assert left == []

    check()


def test_delete_applied_but_answered_500_is_deleted(service: Service, worker: Callable[..., Run]) -> None:
    """A DELETE that the cloud applied but answered 500: the retried DELETE meets the deletion (busy) or the
    gone backup (404), and the task is deleted, never already_absent nor failed."""
    with service.serve(faults=(service.fault("delete", "applied-500"),)) as cloud:
        backups = cloud.seed(3)
        run = worker(["delete", *service.flags, "-"], cloud_env(cloud.url), stdin=service.text_plan(backups))
        sent = cloud.sent()
        fired = cloud.fired("applied-500")
        left = cloud.remaining()
    assert run.code == 0
    assert service.outcomes(run) == {b.key: "deleted" for b in backups}
    assert all(sent[b.key] >= 2 for b in backups)  # re-sent, then "busy" or 404
    assert fired >= 3
    assert left == []


def test_busy_first_deletes_step_aside_and_every_backup_is_deleted(service: Service,
                                                                    worker: Callable[..., Run]) -> None:
    """A service that answers the first two DELETEs of each backup busy, starting nothing: each task steps
    aside twice (no slot held, no look while aside), comes back, and is deleted with its third DELETE;
    never more than five outstanding."""
    with service.serve(busy_first_deletes=2, delete_duration_s=(0.1, 0.3)) as cloud:
        backups = cloud.seed(8)
        run = worker(["delete", *service.flags, "-"], cloud_env(cloud.url), stdin=service.text_plan(backups))
        sent, high, busy = cloud.sent(), cloud.high_water(), cloud.fired("busy-first")
    assert run.code == 0
    assert service.outcomes(run) == {b.key: "deleted" for b in backups}
    assert sent == {b.key: 3 for b in backups} and busy == 16
    assert high <= 5
    assert len(run.named("task_stepped_aside")) == 16 and run.named("task_busy") == []
    assert run.report is not None and {row["attempts"] for row in run.report["results"]} == {3}


@pytest.mark.parametrize("busy_mode", ["400", "409"])
def test_adopted_deletion_is_followed_not_failed(service: Service, busy_mode: str, worker: Callable[..., Run]) -> None:
    """A backup already being deleted when the run starts is adopted: followed to its end, no DELETE sent
    again (which would only be answered busy, 400 CSBS.2003 or 409)."""
    with service.serve(busy=busy_mode, delete_duration_s=(0.3, 0.5)) as cloud:
        backups = cloud.seed(3)
        for backup in backups:
            cloud.delete_now(backup)
        run = worker(["delete", *service.flags, "-"], cloud_env(cloud.url), stdin=service.text_plan(backups))
        sent = cloud.sent()
    assert run.code == 0
    assert service.outcomes(run) == {b.key: "deleted" for b in backups}
    assert len(run.named("task_adopted")) == 3
    assert run.named("deletions_in_progress")[0]["adopted"] == 3
    assert all(sent[b.key] == 1 for b in backups)  # only the earlier run's
    assert run.named("task_busy") == []


def test_status_lag_is_waited_out_without_resending(service: Service, worker: Callable[..., Run]) -> None:
    """A backup that still looks available for a while after its DELETE is waited for, not re-sent."""
    with service.serve(status_lag_s=0.2) as cloud:
        backups = cloud.seed(3)
        run = worker(["delete", *service.flags, "-"], cloud_env(cloud.url), stdin=service.text_plan(backups))
        sent = cloud.sent()
    assert run.code == 0
    assert service.outcomes(run) == {b.key: "deleted" for b in backups}
    assert sent == {b.key: 1 for b in backups}
    assert run.named("task_resent") == []


@pytest.mark.parametrize("kind", ["429", "429-retry-after", "500", "503", "drop"])
def test_retryable_answers_are_retried(service: Service, kind: str, worker: Callable[..., Run]) -> None:
    """Throttled (with and without Retry-After) and transient answers on every route are retried; the run
    still ends deleted."""
    # After the preflight read and the listings of deletions in progress: the tasks' own calls.
    rule = service.fault("*", kind, times=6, after=service.preflight_calls, retry_after_s=0.05)
    with service.serve(faults=(rule,)) as cloud:
        backups = cloud.seed(3)
        run = worker(["delete", *service.flags, "-"], cloud_env(cloud.url), stdin=service.text_plan(backups))
        fired = cloud.fired(kind)
    assert fired == 6
    assert run.code == 0
    assert service.outcomes(run) == {b.key: "deleted" for b in backups}
    retries = run.named("request_retry")
    assert retries and all("kind" in e for e in retries)
    if kind != "drop":
        assert all(e.get("request_id") for e in retries)
    if kind == "429-retry-after":
        assert all(e["delay_s"] >= 0.05 for e in retries)


@pytest.mark.parametrize("route", ["delete", "get"])
def test_answers_slower_than_the_request_timeout_are_retried(service: Service, route: str,
                                                             worker: Callable[..., Run]) -> None:
    """Answers that take longer than --request-timeout (the DELETE's may still be applied) are retried as
    transient: every task ends deleted, never already_absent or failed."""
    slow = service.fault(route, "slow", delay_s=0.6, times=3)
    with service.serve(faults=(slow,)) as cloud:
        backups = cloud.seed(3)
        run = worker(["delete", *service.flags, "--request-timeout", "0.3", "-"], cloud_env(cloud.url),
                     stdin=service.text_plan(backups))
        slowed = cloud.fired("slow")
    assert slowed == 3
    assert run.code == 0
    assert service.outcomes(run) == {b.key: "deleted" for b in backups}
    assert run.named("request_retry")


def test_stuck_tasks_keep_their_slots(service: Service, worker: Callable[..., Run]) -> None:
    """Deletions stuck at the provider time out but keep their slot; when every slot is stuck the rest is
    not attempted, and the cloud never sees more than the limit outstanding."""
    ids = [new_id() for _ in range(4)]
    with service.serve(stuck_items=frozenset(ids)) as cloud:
        backups = [cloud.add(key) for key in ids]
        run = worker(["delete", *service.flags, "--concurrency", "2", "--task-timeout", "0.3", "-"],
                     cloud_env(cloud.url), stdin=service.text_plan(backups))
        high = cloud.high_water()
        sent = cloud.deletes()
    assert run.code == 1
    assert run.report is not None
    assert run.report["counts"]["timed_out"] == 2
    assert run.report["counts"]["not_attempted"] == 2
    assert high == 2 and sent == 2
    assert run.named("slots_exhausted")
    timed_out = [row for row in service.rows(run).values() if row["outcome"] == "timed_out"]
    assert all(row["error_code"] == "task_timeout" for row in timed_out)


def test_timed_out_slot_is_freed_when_the_task_ends(service: Service, worker: Callable[..., Run]) -> None:
    """A task that outlives its timeout holds its slot until it is seen to end (within another task timeout);
    then the next one starts, never two at once."""
    with service.serve(delete_duration_s=(0.55, 0.55)) as cloud:
        backups = cloud.seed(2)
        run = worker(["delete", *service.flags, "--concurrency", "1", "--task-timeout", "0.4", "--poll-max", "0.05",
                      "-"], cloud_env(cloud.url), stdin=service.text_plan(backups))
        high = cloud.high_water()
    assert high == 1
    assert service.outcomes(run) == {b.key: "timed_out" for b in backups}
    assert run.named("task_ended_after_timeout")
