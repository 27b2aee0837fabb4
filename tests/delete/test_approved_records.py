"""CSBS whole records in an approvable plan (`plan` never writes them; a person may): the record is deleted only
while it holds exactly the backups the plan names, unchanged (docs/plans.md, "Approvable plans")."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.harness import PROJECT, Run, ServedEmulator, cloud_env, emulator_on_loopback, new_id
from worker.plan.approval import Approving, written_digest


def approvable_record(served: ServedEmulator, record: str) -> str:
    """An approvable plan deleting the whole record, naming each of its backups as the emulator shows it."""
    items = served.emulator.items(checkpoint_id=record)
    planned = [{"backup_id": item["id"], "checkpoint_id": record, "resource_id": item["resource_id"],
                "created_at": item["created_at"]} for item in items]
    kept: list[dict[str, Any]] = [{"resource_id": item["resource_id"], "kept": 0} for item in items]
    return Approving(served.url, datetime.now(UTC)).render(
        {"project_id": PROJECT, "deletions": [{"checkpoint_id": record}]}, "csbs", planned, kept)


@pytest.mark.parametrize("change", ["none", "a backup joined", "a backup replaced"])
def test_a_whole_record_is_deleted_only_as_planned(change: str, worker: Callable[..., Run],
                                                   write_plan: Callable[..., str]) -> None:
    """Unchanged, the record is deleted (one DELETE). A record that holds a backup the plan does not name, or
    one whose backup now shows another creation time, is `not_attempted` (`changed_since_plan`): no DELETE,
    exit 1."""
    record = new_id()
    with emulator_on_loopback() as served:
        for _ in range(2):
            served.emulator.add_item(checkpoint_id=record)
        text = approvable_record(served, record)
        if change == "a backup joined":
            served.emulator.add_item(checkpoint_id=record)
        elif change == "a backup replaced":
            first = served.emulator.items(checkpoint_id=record)[0]["id"]
            served.emulator.replace_identity(first, created_at=datetime(2020, 1, 1, tzinfo=UTC))
        run = worker(["delete", "--expect-digest", written_digest(text), write_plan(text)], cloud_env(served.url))
        deletes = sum(served.emulator.stats.deletes_by_target.values())
        left = served.emulator.items(checkpoint_id=record)
    if change == "none":
        assert run.code == 0 and run.outcomes() == {record: "deleted"}
        assert deletes == 1 and left == []
        return
    assert run.code == 1 and run.outcomes() == {record: "not_attempted"}
    assert run.report is not None and run.report["results"][0]["error_code"] == "changed_since_plan"
    assert deletes == 0 and len(left) >= 2
