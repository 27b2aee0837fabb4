"""Flaky, slow and ambiguous clouds: the limit holds, nothing is failed that was not refused for good."""

from __future__ import annotations

import urllib.request
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.delete.conftest import new_id
from tests.delete.test_outcomes import seed_items, text_plan
from tests.harness import PROJECT, TOKEN, Run, ServedEmulator, cloud_env, emulator_on_loopback
from worker.emulator import FaultRule


def delete_now(served: ServedEmulator, checkpoint_id: str, item_id: str) -> None:
    """Send a DELETE before the run, as an interrupted earlier run would have."""
    url = (f"{served.url}/v1/{PROJECT}/providers/fc4d5750-22e7-4798-8a46-f48f62c4c1da/checkpoints/"
           f"{checkpoint_id}?checkpoint_items={item_id}")
    request = urllib.request.Request(url, method="DELETE", headers={"X-Auth-Token": TOKEN})
    with urllib.request.urlopen(request, timeout=5) as answer:
        assert answer.status == 200


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    seed=st.integers(0, 2**16),
    concurrency=st.integers(1, 7),
    transient=st.floats(0.0, 0.25),
    throttled=st.floats(0.0, 0.2),
    dropped=st.floats(0.0, 0.1),
    applied_500=st.floats(0.0, 0.3),
)
def test_limit_never_exceeded_under_random_faults(seed: int, concurrency: int, transient: float, throttled: float,
                                                  dropped: float, applied_500: float,
                                                  worker: Callable[..., Run]) -> None:
    """Whatever the faults, the cloud never sees more outstanding tasks than --concurrency, and every backup
    ends deleted (a fault is never reported as a failure)."""
    faults = (FaultRule("delete", "applied-500", rate=applied_500), FaultRule("*", "500", rate=transient),
              FaultRule("*", "429", rate=throttled), FaultRule("*", "drop", rate=dropped))
    with emulator_on_loopback(seed=seed, faults=faults, delete_duration_s=(0.02, 0.12)) as served:
        pairs = seed_items(served, 20)
        run = worker(["delete", "--concurrency", str(concurrency), "-"], cloud_env(served.url),
                     stdin=text_plan(pairs))
        high = max(served.emulator.stats.max_outstanding.values())
    assert high <= concurrency
    assert run.code == 0, run.report["counts"] if run.report else run.stderr[-2000:]
    assert set(run.outcomes().values()) == {"deleted"}


def test_delete_applied_but_answered_500_is_deleted(worker: Callable[..., Run]) -> None:
    """A DELETE that the cloud applied but answered 500 ends deleted (never failed), after a busy retry."""
    with emulator_on_loopback(faults=(FaultRule("delete", "applied-500"),)) as served:
        pairs = seed_items(served, 3)
        run = worker(["delete", "-"], cloud_env(served.url), stdin=text_plan(pairs))
        stats = served.emulator.stats
    assert run.code == 0
    assert set(run.outcomes().values()) == {"deleted"}
    assert all(stats.deletes_by_target[item] >= 2 for _, item in pairs)  # re-sent, then "busy" or 404


@pytest.mark.parametrize("busy_mode", ["400", "409"])
def test_adopted_deletion_is_followed_not_failed(busy_mode: str, worker: Callable[..., Run]) -> None:
    """A backup already being deleted when the run starts is adopted: followed to its end, no DELETE sent
    again (which would only be answered busy, 400 CSBS.2003 or 409)."""
    with emulator_on_loopback(busy_mode=busy_mode, delete_duration_s=(0.3, 0.5)) as served:
        pairs = seed_items(served, 3)
        for checkpoint, item in pairs:
            delete_now(served, checkpoint, item)
        run = worker(["delete", "-"], cloud_env(served.url), stdin=text_plan(pairs))
        stats = served.emulator.stats
    assert run.code == 0
    assert set(run.outcomes().values()) == {"deleted"}
    assert len(run.named("task_adopted")) == 3
    assert run.named("deletions_in_progress")[0]["adopted"] == 3
    assert all(stats.deletes_by_target[item] == 1 for _, item in pairs)  # only the earlier run's
    assert run.named("task_busy") == []


def test_lingering_deleted_status_means_done(worker: Callable[..., Run]) -> None:
    """A finished deletion that lingers as status `deleted` counts as deleted."""
    with emulator_on_loopback(gone_mode="deleted", deleted_linger_s=60.0) as served:
        pairs = seed_items(served, 4)
        run = worker(["delete", "-"], cloud_env(served.url), stdin=text_plan(pairs))
        statuses = {item["status"] for item in served.emulator.items()}
    assert run.code == 0
    assert set(run.outcomes().values()) == {"deleted"}
    assert statuses == {"deleted"}


def test_status_lag_is_waited_out_without_resending(worker: Callable[..., Run]) -> None:
    """A backup that still looks available shortly after its DELETE is waited for, not re-sent."""
    with emulator_on_loopback(status_lag_s=0.2) as served:
        pairs = seed_items(served, 3)
        run = worker(["delete", "-"], cloud_env(served.url), stdin=text_plan(pairs))
        stats = served.emulator.stats
    assert run.code == 0
    assert set(run.outcomes().values()) == {"deleted"}
    assert all(stats.deletes_by_target[item] == 1 for _, item in pairs)
    assert run.named("task_resent") == []


@pytest.mark.parametrize("kind", ["429", "429-retry-after", "500", "503", "drop"])
def test_retryable_answers_are_retried(kind: str, worker: Callable[..., Run]) -> None:
    """Throttled and transient answers on every route are retried; the run still ends deleted."""
    # After the preflight read and the two listings of deletions in progress: the tasks' own calls.
    rule = FaultRule("*", kind, times=6, after=3, retry_after_s=0.05)
    with emulator_on_loopback(faults=(rule,)) as served:
        pairs = seed_items(served, 3)
        run = worker(["delete", "-"], cloud_env(served.url), stdin=text_plan(pairs))
        fired = served.emulator.stats.faults_by_kind[kind]
    assert fired == 6
    assert run.code == 0
    assert set(run.outcomes().values()) == {"deleted"}
    retries = run.named("request_retry")
    assert retries and all("kind" in e for e in retries)
    if kind != "drop":
        assert all(e.get("request_id") for e in retries)


def test_stuck_tasks_keep_their_slots(worker: Callable[..., Run]) -> None:
    """Tasks stuck at the provider time out but keep their slot; when every slot is stuck the rest is
    not attempted, and the cloud never sees more than the limit outstanding."""
    with emulator_on_loopback(stuck_rate=1.0) as served:
        pairs = seed_items(served, 4)
        run = worker(["delete", "--concurrency", "2", "--task-timeout", "0.3", "-"], cloud_env(served.url),
                     stdin=text_plan(pairs))
        high = max(served.emulator.stats.max_outstanding.values())
    assert run.code == 1
    assert run.report is not None
    assert run.report["counts"]["timed_out"] == 2
    assert run.report["counts"]["not_attempted"] == 2
    assert high == 2
    assert run.named("slots_exhausted")


def test_timed_out_slot_is_freed_when_the_task_ends(worker: Callable[..., Run]) -> None:
    """A task that outlives its timeout holds its slot until it is seen to end (within another task timeout);
    then the next one starts."""
    first, second = new_id(), new_id()
    with emulator_on_loopback(delete_duration_s=(0.55, 0.55)) as served:
        record = new_id()
        for item in (first, second):
            served.emulator.add_item(checkpoint_id=record, item_id=item)
        run = worker(["delete", "--concurrency", "1", "--task-timeout", "0.4", "--poll-max", "0.05", "-"],
                     cloud_env(served.url),
                     stdin=text_plan([(record, first), (record, second)]))
        high = max(served.emulator.stats.max_outstanding.values())
    assert high == 1
    assert run.outcomes() == {first: "timed_out", second: "timed_out"}
    assert run.named("task_ended_after_timeout")
