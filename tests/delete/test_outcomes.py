"""CSBS whole records end to end: a record's one DELETE followed through its backups, an absent record, a
backup also covered by its record, and records whose listings fail. What every service promises of
`delete` is in tests/contract."""

from __future__ import annotations

import time
from collections.abc import Callable

from tests.harness import Run, ServedEmulator, cloud_env, emulator_on_loopback, new_id
from worker.emulator import FaultRule

BUDGET_FLAGS = ["--retry-cap", "0.2", "--request-timeout", "0.5"]


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


def test_a_backup_also_covered_by_its_whole_record_is_deleted_once(worker: Callable[..., Run],
                                                                  write_plan: Callable[..., str]) -> None:
    """A backup listed twice, and one also covered by its whole record, each get one DELETE and a warning
    (the record's one DELETE covers its backup: none of its own)."""
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


def test_dry_run_of_a_record_whose_listing_fails_ends_within_the_budget(worker: Callable[..., Run]) -> None:
    """After a good preflight, a dry run's record listings that keep failing end within the budget each."""
    faults = (FaultRule("list", "503"),)
    with emulator_on_loopback(faults=faults) as served:
        records = [new_id() for _ in range(2)]
        started = time.monotonic()
        run = worker(["delete", "--dry-run", "-", *BUDGET_FLAGS], cloud_env(served.url),
                     stdin="".join(f"{r}\n" for r in records))
        took = time.monotonic() - started
    assert run.code == 0
    assert took < len(records) * (0.2 + 0.5) + 3.0
    assert all("could not be listed" in line for line in run.stdout.splitlines())
    assert len(run.stdout.splitlines()) == len(records)


def test_timed_out_records_on_a_dead_cloud_still_end_within_the_settings(worker: Callable[..., Run],
                                                                         write_plan: Callable[..., str]) -> None:
    """Whole-record tasks that time out while every listing fails (the looks that decide whether a held
    slot may be freed included), with more tasks waiting: the run ends within a bound of its settings."""
    records = [new_id() for _ in range(7)]
    faults = (FaultRule("list", "503", after=2), FaultRule("get_item", "503"))
    task_timeout, budget = 0.5, 0.2 + 0.5
    with emulator_on_loopback(faults=faults) as served:
        for record in records:
            seed_items(served, 1, checkpoint_id=record)
        started = time.monotonic()
        run = worker(["delete", write_plan("".join(f"{r}\n" for r in records), "plan.txt"),
                      "--task-timeout", str(task_timeout), *BUDGET_FLAGS], cloud_env(served.url))
        took = time.monotonic() - started
    # two rounds of slots, each: the task timeout, then the hold of its slot (as long again) and one look
    assert took < 2 * (2 * task_timeout + 2 * budget) + 3.0
    assert run.code == 1
    assert run.report is not None
    assert run.report["counts"]["deleted"] == run.report["counts"]["already_absent"] == 0
    assert run.report["counts"]["failed"] == 0
