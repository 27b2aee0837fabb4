"""What a tracker sees in one CBR backup (or a GONE answer), in all three timestamp forms."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from worker.cloud.fields import read_datetime as parse_time
from worker.engine.answer import Answer, AnswerKind
from worker.engine.sighting import Seen
from worker.services.cbr.observe import read_answer, read_backup, read_delete_log


@pytest.mark.parametrize(("status", "seen"), [
    ("waiting_delete", Seen.QUEUED), ("deleting", Seen.RUNNING), ("available", Seen.UNTOUCHED),
    ("error", Seen.UNTOUCHED), ("protecting", Seen.BLOCKED), ("restoring", Seen.BLOCKED),
    ("waiting_restore", Seen.BLOCKED), ("frobnicating", Seen.UNKNOWN),
])
def test_each_status_has_its_reading(status: str, seen: Seen) -> None:
    """No fail_op in CBR: error is ERROR (re-send, bounded), available after a DELETE is UNTOUCHED."""
    sighting = read_backup({"status": status, "extend_info": {"progress": 40}})
    assert sighting.seen is seen and sighting.status == status


def test_progress_is_read_while_queued_or_running() -> None:
    """extend_info.progress while deleting; 0 while waiting even when absent."""
    assert read_backup({"status": "deleting", "extend_info": {"progress": 70}}).progress == 70
    assert read_backup({"status": "waiting_delete"}).progress == 0


def test_a_gone_answer_is_gone_and_other_answers_say_nothing() -> None:
    """GONE answers end the task; a throttled one is no sighting."""
    assert read_answer(Answer(AnswerKind.GONE, 404, "BackupService.6200")).seen is Seen.GONE  # type: ignore[union-attr]
    assert read_answer(Answer(AnswerKind.THROTTLED, 429)) is None


@pytest.mark.parametrize("text", ["2019-05-10T07:59:12.085+00:00", "2019-05-10T07:59:12.085000",
                                  "2019-05-10T07:59:12.085Z"])
def test_all_three_time_forms_read_as_utc(text: str) -> None:
    """Point 14: zone-less is UTC."""
    assert parse_time(text) == datetime(2019, 5, 10, 7, 59, 12, 85000, tzinfo=UTC)
    assert parse_time("yesterday") is None


def test_the_newest_delete_log_of_the_backup_gives_the_verdict() -> None:
    """Matched on extra_info.delete.backup_id; older logs (before since) and other backups are ignored."""
    def log(backup_id: str, status: str, created: str, code: str = "") -> dict[str, object]:
        return {"operation_type": "delete", "status": status, "created_at": created,
                "error_info": {"code": code, "message": "boom" if code else ""},
                "extra_info": {"delete": {"backup_id": backup_id}}}

    logs = [log("a", "success", "2025-01-01T00:00:00Z"), log("a", "failed", "2025-01-02T00:00:00Z", "6201"),
            log("b", "success", "2025-01-03T00:00:00Z")]
    verdict = read_delete_log(logs, "a")
    assert verdict is not None and verdict.failed and verdict.error_code == "6201"
    assert read_delete_log(logs, "a", since=datetime(2025, 1, 5, tzinfo=UTC)) is None
    assert read_delete_log(logs, "c") is None
