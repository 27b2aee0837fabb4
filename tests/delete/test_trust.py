"""The odd readings of a real CSBS, end to end (issue 9): a lingering ``deleted`` status, stale failures seen
through the status lag, every error body shape, progress as a float or a string, a numeric fail code, an
undocumented status, a listing marker that vanished. Each is run through the real CLI against the CSBS
emulator and judged by what a user sees: exit code, report, log events and the calls the cloud received.
What every service promises (wrong endpoints, gateway 404s, adoption, ...) is in tests/contract.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from tests.delete.test_outcomes import seed_items, text_plan
from tests.harness import CSBS_PROVIDER, PROJECT, TOKEN, Run, ServedEmulator, cloud_env, emulator_on_loopback, new_id
from tests.harness import gateway_in_thread as gateway_in_thread  # tests/metrics imports it from here
from worker.emulator import ERROR_SHAPES, FaultRule, OddStatus


def delete_now(served: ServedEmulator, checkpoint_id: str, item_id: str) -> None:
    """Send a DELETE before the run, as an interrupted earlier run would have."""
    url = f"{served.url}/v1/{PROJECT}/providers/{CSBS_PROVIDER}/checkpoints/{checkpoint_id}?checkpoint_items={item_id}"
    request = urllib.request.Request(url, method="DELETE", headers={"X-Auth-Token": TOKEN})
    with urllib.request.urlopen(request, timeout=5) as answer:
        assert answer.status == 200


def test_lingering_deleted_status_means_done(worker: Callable[..., Run]) -> None:
    """A finished deletion that lingers as status `deleted` counts as deleted."""
    with emulator_on_loopback(gone_mode="deleted", deleted_linger_s=60.0) as served:
        pairs = seed_items(served, 4)
        run = worker(["delete", "-"], cloud_env(served.url), stdin=text_plan(pairs))
        statuses = {item["status"] for item in served.emulator.items()}
    assert run.code == 0
    assert set(run.outcomes().values()) == {"deleted"}
    assert statuses == {"deleted"}


@pytest.mark.parametrize("how", ["add_item", "scenario"])
def test_stale_failure_seen_through_the_status_lag_never_fails(how: str, worker: Callable[..., Run]) -> None:
    """A backup left in error by an earlier failed deletion, still shown so for 1.5 s after our DELETE:
    never failed, deleted in the end."""
    pairs = [(new_id(), new_id()) for _ in range(3)]
    stale = frozenset(item for _, item in pairs) if how == "scenario" else frozenset()
    with emulator_on_loopback(status_lag_s=1.5, stale_failed_items=stale) as served:
        for checkpoint, item in pairs:
            served.emulator.add_item(checkpoint_id=checkpoint, item_id=item, stale_delete_failure=how == "add_item")
        assert {served.emulator.item(item)["status"] for _, item in pairs} == {"error"}  # type: ignore[index]
        run = worker(["delete", "-", "--lag-window", "3"], cloud_env(served.url), stdin=text_plan(pairs))
    assert run.code == 0, run.report
    assert set(run.outcomes().values()) == {"deleted"}
    assert run.named("task_failed") == []


@pytest.mark.parametrize("shape", ERROR_SHAPES)
@pytest.mark.parametrize("id_in_body", [False, True])
def test_error_shapes_and_request_ids_are_read(shape: str, id_in_body: bool, worker: Callable[..., Run]) -> None:
    """Every error body shape: a refused DELETE is failed with its code and request id, a finished deletion
    is seen as such (the openstack shape carries no CSBS code, so only the lingering ``deleted`` status can
    say a backup is gone there)."""
    image = new_id()
    gone_mode = "deleted" if shape == "openstack" else "404"
    with emulator_on_loopback(error_shape=shape, request_id_in_body=id_in_body, image_items=frozenset({image}),
                              gone_mode=gone_mode) as served:
        pairs = seed_items(served, 2)
        record = pairs[0][0]
        served.emulator.add_item(checkpoint_id=record, item_id=image)
        run = worker(["delete", "-"], cloud_env(served.url), stdin=text_plan([*pairs, (record, image)]))
    assert run.code == 1
    assert run.outcomes() == {pairs[0][1]: "deleted", pairs[1][1]: "deleted", image: "failed"}
    assert run.report is not None
    (refused,) = [r for r in run.report["results"] if r["checkpoint_item"] == image]
    assert refused["error_code"] == ("400" if shape == "openstack" else "CSBS.8007")
    assert refused["http_status"] == 400
    assert isinstance(refused["request_id"], str) and len(refused["request_id"]) >= 16
    (failed,) = run.named("task_failed")
    assert failed["error_code"] == refused["error_code"] and failed["request_id"] == refused["request_id"]


@pytest.mark.parametrize("progress_format", ["float", "string"])
def test_progress_as_float_or_string(progress_format: str, worker: Callable[..., Run]) -> None:
    """``extend_info.progress`` as 42.0 or "42" is read: progress shows in the running events, all deleted."""
    with emulator_on_loopback(progress_format=progress_format, delete_duration_s=(0.5, 0.7)) as served:
        pairs = seed_items(served, 3)
        run = worker(["delete", "-"], cloud_env(served.url), stdin=text_plan(pairs))
    assert run.code == 0
    assert set(run.outcomes().values()) == {"deleted"}
    progress = [e["progress"] for e in run.named("task_running") if e.get("progress") is not None]
    assert progress and all(isinstance(p, int) and 0 <= p <= 100 for p in progress)


def test_numeric_fail_code_is_reported_as_text(worker: Callable[..., Run]) -> None:
    """``fail_code.Code`` as a number: the report's error_code is still a string."""
    failing = new_id()
    with emulator_on_loopback(fail_items=frozenset({failing}), fail_code_numeric=True) as served:
        served.emulator.add_item(checkpoint_id=new_id(), item_id=failing)
        run = worker(["delete", "-"], cloud_env(served.url),
                     stdin=text_plan([(served.emulator.item(failing)["checkpoint_id"], failing)]))  # type: ignore[index]
    assert run.code == 1
    assert run.report is not None
    (result,) = run.report["results"]
    assert result["outcome"] == "failed"
    assert isinstance(result["error_code"], str) and result["error_code"]


def test_odd_status_is_followed_to_the_end(worker: Callable[..., Run]) -> None:
    """A backup shown as ``error-deleting`` while it is deleted: logged once with the status, followed, and
    deleted (never re-sent as if untouched)."""
    pairs = [(new_id(), new_id()) for _ in range(2)]
    odd = pairs[0][1]
    with emulator_on_loopback(delete_duration_s=(0.5, 0.7), odd_status=OddStatus(items=frozenset({odd}))) as served:
        for checkpoint, item in pairs:
            served.emulator.add_item(checkpoint_id=checkpoint, item_id=item)
        run = worker(["delete", "-"], cloud_env(served.url), stdin=text_plan(pairs))
        sent = served.emulator.stats.deletes_by_target[odd]
    assert run.code == 0
    assert set(run.outcomes().values()) == {"deleted"}
    assert sent == 1
    (unknown,) = run.named("task_status_unknown")
    assert unknown["status"] == "error-deleting" and unknown["checkpoint_item"] == odd


def test_odd_status_that_persists_is_timed_out_naming_the_status(worker: Callable[..., Run]) -> None:
    """A stuck deletion that keeps showing an unknown status ends timed_out with the status in its message."""
    stuck = new_id()
    with emulator_on_loopback(stuck_items=frozenset({stuck}), odd_status=OddStatus(items=frozenset({stuck}))
                              ) as served:
        served.emulator.add_item(checkpoint_id=new_id(), item_id=stuck)
        checkpoint = served.emulator.item(stuck)["checkpoint_id"]  # type: ignore[index]
        run = worker(["delete", "-", "--task-timeout", "0.5"], cloud_env(served.url),
                     stdin=text_plan([(checkpoint, stuck)]))
        sent = served.emulator.stats.deletes_by_target[stuck]
    assert run.code == 1
    assert run.report is not None
    (result,) = run.report["results"]
    assert result["outcome"] == "timed_out"
    assert "error-deleting" in result["error_message"]
    assert sent == 1
    assert len(run.named("task_status_unknown")) == 1


@pytest.mark.parametrize("mode", ["404", "page"])
def test_vanished_marker_never_makes_a_record_gone(mode: str, worker: Callable[..., Run],
                                                   write_plan: Callable[..., str]) -> None:
    """A whole record of 1,001 backups (two pages) whose page-one marker is deleted between the pages:
    the record is not read as gone while its other backups exist; it ends deleted with nothing left."""
    record = new_id()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    # Adoption lists waiting_delete (1 page) and deleting (2 pages); the task's first look is the 4th and
    # 5th list request: the 5th (page two, after the marker) waits 2 s, while the marker's deletion ends.
    slow_page_two = FaultRule("list", "slow", after=4, times=1, delay_s=2.0)
    with emulator_on_loopback(vanished_marker=mode, faults=(slow_page_two,), delete_duration_s=(1.5, 1.5)) as served:
        ids = []
        for n in range(1001):
            item = new_id()
            served.emulator.add_item(checkpoint_id=record, item_id=item,
                                     created_at=(start + timedelta(minutes=n)).strftime("%Y-%m-%dT%H:%M:%S.%f"))
            ids.append(item)
        marker = ids[1]  # newest first: page one ends with the second oldest
        delete_now(served, record, marker)  # a crashed run's deletion of that one backup
        run = worker(["delete", write_plan(f"{record}\n", "plan.txt")], cloud_env(served.url))
        left = served.emulator.items(checkpoint_id=record)
        slowed = served.emulator.stats.faults_by_kind["slow"]
    assert slowed == 1
    assert run.outcomes() == {record: "deleted"}
    assert left == []
    if mode == "404":
        assert run.named("csbs_listing_restarted")

