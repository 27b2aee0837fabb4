"""Every reading of a backup's state that docs/csbs-api.md allows is understood."""

from __future__ import annotations

from typing import Any

import pytest

from worker.engine.sighting import Seen
from worker.services.csbs.observe import read_item, read_record


def item(status: str, **extend: Any) -> dict[str, Any]:
    return {"id": "i", "status": status, "extend_info": extend}


@pytest.mark.parametrize(
    ("status", "extend", "seen"),
    [
        ("deleted", {}, Seen.GONE),  # a finished deletion that lingers
        ("waiting_delete", {"progress": 0}, Seen.QUEUED),
        ("deleting", {"progress": 40}, Seen.RUNNING),
        ("error", {"fail_op": "delete", "fail_reason": "disk busy"}, Seen.FAILED),
        ("error", {"fail_op": "backup"}, Seen.UNTOUCHED),  # an old backup failure: deletable, not ours
        ("available", {}, Seen.UNTOUCHED),  # before the DELETE took effect (status lag)
        ("protecting", {}, Seen.BLOCKED),
        ("restoring", {}, Seen.BLOCKED),
    ],
)
def test_item_states(status: str, extend: dict[str, Any], seen: Seen) -> None:
    """Each status reads as the task state the worker acts on."""
    assert read_item(item(status, **extend)).seen is seen


def test_failed_deletion_keeps_its_reason_and_code() -> None:
    """A failed deletion carries fail_reason and fail_code.Code into the report."""
    sighting = read_item(item("error", fail_op="delete", fail_reason="no space", fail_code={"Code": "X.1"}))
    assert (sighting.fail_reason, sighting.fail_code) == ("no space", "X.1")


def test_record_runs_while_any_backup_runs() -> None:
    """A whole record is running while one backup still runs, with the slowest progress."""
    sighting = read_record([item("deleting", progress=80), item("deleting", progress=20), item("deleted")])
    assert (sighting.seen, sighting.progress) == (Seen.RUNNING, 20)


def test_record_gone_when_empty_or_all_deleted() -> None:
    """No backups left, or all of them deleted, means the record's task is done."""
    assert read_record([]).seen is Seen.GONE
    assert read_record([item("deleted"), item("deleted")]).seen is Seen.GONE


def test_record_failed_when_the_rest_is_gone() -> None:
    """A record whose backups ended gone or in a delete error failed."""
    assert read_record([item("deleted"), item("error", fail_op="delete")]).seen is Seen.FAILED
