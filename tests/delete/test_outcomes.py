"""`csbs-worker delete` end to end against the emulator: outcomes, exit codes, calls the cloud received."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.delete.conftest import new_id
from tests.harness import PROJECT, Run, ServedEmulator, cloud_env, emulator_on_loopback


def seed_items(served: ServedEmulator, count: int, checkpoint_id: str | None = None) -> list[tuple[str, str]]:
    """``count`` available backups, each in a record of its own unless one is given."""
    pairs = []
    for _ in range(count):
        pair = (checkpoint_id or new_id(), new_id())
        served.emulator.add_item(checkpoint_id=pair[0], item_id=pair[1])
        pairs.append(pair)
    return pairs


def text_plan(pairs: list[tuple[str, str]]) -> str:
    return "".join(f"{checkpoint} {item}\n" for checkpoint, item in pairs)


def deletes(served: ServedEmulator) -> int:
    return sum(served.emulator.stats.deletes_by_target.values())


def test_every_backup_deleted_exit_0(worker: Callable[..., Run]) -> None:
    """A plan of existing backups ends with every task deleted, exit 0, one DELETE per backup."""
    with emulator_on_loopback() as served:
        pairs = seed_items(served, 12)
        run = worker(["delete", "-"], cloud_env(served.url), stdin=text_plan(pairs))
        stats = served.emulator.stats
    assert run.code == 0
    assert run.report is not None
    assert run.report["counts"] == {"deleted": 12, "already_absent": 0, "failed": 0, "timed_out": 0,
                                    "not_attempted": 0}
    assert all(stats.deletes_by_target[item] == 1 for _, item in pairs)
    assert max(stats.max_outstanding.values()) <= 5
    assert len(run.named("task_deleted")) == 12
    summary = run.named("run_summary")[0]
    assert summary["exit_code"] == 0 and summary["deleted"] == 12


def test_mixed_outcomes_exit_1(worker: Callable[..., Run], write_plan: Callable[..., str]) -> None:
    """Absent, image-registered, failing and stuck backups give their own outcomes; the rest are deleted."""
    good, absent, image, failing, stuck = (new_id() for _ in range(5))
    record = new_id()
    with emulator_on_loopback(image_items=frozenset({image}), fail_items=frozenset({failing}),
                              stuck_items=frozenset({stuck})) as served:
        for item in (good, image, failing, stuck):
            served.emulator.add_item(checkpoint_id=record, item_id=item)
        plan = write_plan(text_plan([(record, i) for i in (good, absent, image, failing, stuck)]), "plan.txt")
        run = worker(["delete", plan, "--task-timeout", "1.5"], cloud_env(served.url))
    assert run.code == 1
    assert run.outcomes() == {good: "deleted", absent: "already_absent", image: "failed", failing: "failed",
                              stuck: "timed_out"}
    by_item = {r["checkpoint_item"]: r for r in run.report["results"]}  # type: ignore[index]
    assert by_item[image]["error_code"] == "CSBS.8007"
    assert by_item[image]["http_status"] == 400
    assert by_item[failing]["error_message"]
    failed_events = run.named("task_failed")
    assert {e["checkpoint_item"] for e in failed_events} == {image, failing}
    assert all(e["run_id"] for e in failed_events)


def test_whole_record_followed_through_its_backups(worker: Callable[..., Run], write_plan: Callable[..., str]) -> None:
    """A whole-record entry is one DELETE and ends deleted when every backup of the record is gone."""
    record = new_id()
    with emulator_on_loopback() as served:
        seed_items(served, 3, checkpoint_id=record)
        plan = write_plan(f"deletions:\n  - checkpoint_id: {record}\n")
        run = worker(["delete", plan], cloud_env(served.url))
        stats = served.emulator.stats
        left = [i for i in served.emulator.items() if i["checkpoint_id"] == record]
    assert run.code == 0
    assert run.outcomes() == {record: "deleted"}
    assert stats.deletes_by_target[record] == 1
    assert left == []


def test_absent_record_is_already_absent(worker: Callable[..., Run]) -> None:
    """A record that does not exist is already_absent, and the run still succeeds."""
    record = new_id()
    with emulator_on_loopback() as served:
        run = worker(["delete", "-"], cloud_env(served.url), stdin=f"{record}\n")
    assert run.code == 0
    assert run.outcomes() == {record: "already_absent"}


def test_dry_run_sends_no_delete(worker: Callable[..., Run]) -> None:
    """--dry-run prints what would be deleted, reports every task not_attempted, exits 0, sends no DELETE."""
    record = new_id()
    with emulator_on_loopback() as served:
        pairs = seed_items(served, 4)
        seed_items(served, 2, checkpoint_id=record)
        run = worker(["delete", "--dry-run", "-"], cloud_env(served.url),
                     stdin=text_plan(pairs) + f"{record}\n")
        sent = deletes(served)
    assert run.code == 0
    assert sent == 0
    assert run.report is not None and run.report["counts"]["not_attempted"] == 5
    assert run.report["dry_run"] is True
    for _, item in pairs:
        assert item in run.stdout
    assert f"{record}  # whole record: 2 backups" in run.stdout


def test_duplicates_are_deleted_once_with_a_warning(worker: Callable[..., Run], write_plan: Callable[..., str]) -> None:
    """A backup listed twice, and one also covered by its whole record, each get one DELETE and a warning."""
    record = new_id()
    with emulator_on_loopback() as served:
        (single,) = seed_items(served, 1)
        inner = seed_items(served, 2, checkpoint_id=record)
        plan = write_plan(text_plan([single, single, inner[0]]) + f"{record}\n", "plan.txt")
        run = worker(["delete", plan], cloud_env(served.url))
        stats = served.emulator.stats
    assert run.code == 0
    assert stats.deletes_by_target[single[1]] == 1
    assert stats.deletes_by_target[record] == 1
    assert stats.deletes_by_target[inner[0][1]] == 0
    assert len(run.named("plan_duplicate")) >= 2


def test_max_deletions_refuses_the_plan(worker: Callable[..., Run]) -> None:
    """--max-deletions N refuses a bigger plan with exit 2 before any DELETE."""
    with emulator_on_loopback() as served:
        pairs = seed_items(served, 4)
        run = worker(["delete", "--max-deletions", "3", "-"], cloud_env(served.url), stdin=text_plan(pairs))
        sent = deletes(served)
    assert run.code == 2
    assert sent == 0
    assert "more than --max-deletions 3" in run.named("bad_input")[0]["error"]


def test_concurrency_setting_is_the_limit(worker: Callable[..., Run]) -> None:
    """--concurrency 2 keeps at most two deletion tasks outstanding at the provider."""
    with emulator_on_loopback() as served:
        pairs = seed_items(served, 10)
        run = worker(["delete", "--concurrency", "2", "-"], cloud_env(served.url), stdin=text_plan(pairs))
        high = served.emulator.stats.max_outstanding
    assert run.code == 0
    assert max(high.values()) == 2


def test_json_lines_plan_on_stdin(worker: Callable[..., Run]) -> None:
    """A JSON Lines plan on stdin is detected and carried out."""
    with emulator_on_loopback() as served:
        pairs = seed_items(served, 3)
        lines = "".join(f'{{"checkpoint_id": "{c}", "checkpoint_items": ["{i}"]}}\n' for c, i in pairs)
        run = worker(["delete"], cloud_env(served.url), stdin=lines)
    assert run.code == 0
    assert set(run.outcomes().values()) == {"deleted"}


def test_report_to_stdout(worker: Callable[..., Run]) -> None:
    """--report - writes the JSON report to stdout."""
    import json

    with emulator_on_loopback() as served:
        pairs = seed_items(served, 2)
        run = worker(["delete", "--report", "-", "-"], cloud_env(served.url), stdin=text_plan(pairs), report=None)
    report: dict[str, Any] = json.loads(run.stdout)
    assert report["counts"]["deleted"] == 2
    assert report["project_id"] == PROJECT
    assert {"run_id", "started_at", "ended_at", "results"} <= set(report)
    assert {"checkpoint_id", "checkpoint_item", "outcome", "attempts", "error_code", "error_message",
            "submitted_at", "ended_at"} <= set(report["results"][0])


def test_dry_run_with_the_report_on_stdout_keeps_stdout_one_json_document(worker: Callable[..., Run]) -> None:
    """--dry-run --report -: the report alone on stdout (the plan listing goes to stderr), nothing deleted."""
    import json

    with emulator_on_loopback() as served:
        pairs = seed_items(served, 2)
        run = worker(["delete", "--dry-run", "--report", "-", "-"], cloud_env(served.url), stdin=text_plan(pairs),
                     report=None)
        left = served.emulator.items()
    report: dict[str, Any] = json.loads(run.stdout)
    assert run.code == 0 and report["dry_run"] is True
    assert report["counts"]["not_attempted"] == 2
    assert all(f"{checkpoint} {item}" in run.stderr for checkpoint, item in pairs)
    assert len(left) == 2


def test_progress_events_off_a_terminal(worker: Callable[..., Run]) -> None:
    """Off a terminal the run logs `progress` events (done, failed, in flight, rate, ETA) at the set interval."""
    with emulator_on_loopback(delete_duration_s=(0.3, 0.4)) as served:
        pairs = seed_items(served, 10)
        run = worker(["delete", "--progress-interval", "0.1", "-"], cloud_env(served.url), stdin=text_plan(pairs))
    assert run.code == 0
    progress = run.named("progress")
    assert len(progress) >= 3
    assert {"total", "finished", "in_flight", "deleted", "failed", "rate_per_min", "eta_s"} <= set(progress[-1])
    assert all(event["total"] == 10 and 0 <= event["in_flight"] <= 5 for event in progress)
