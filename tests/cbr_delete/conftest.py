"""Helpers of the CBR-only delete tests: seeding, plans, counts, the report by backup id (the CLI runner and
plan files are fixtures of tests/conftest.py)."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterable
from typing import Any

from tests.harness import PROJECT, TOKEN, Run, ServedCbrEmulator, new_id

CBR = ["--service", "cbr"]
ZERO_COUNTS = {"deleted": 0, "already_absent": 0, "failed": 0, "timed_out": 0, "not_attempted": 0}
__all__ = ["CBR", "ZERO_COUNTS", "by_backup", "delete_now", "deletes", "high_water", "new_id", "outcomes", "seed",
           "text_plan"]


def seed(served: ServedCbrEmulator, count: int, **backup: Any) -> list[str]:
    """``count`` backups (manual, in vault ``default`` unless told otherwise); returns their ids."""
    return [str(served.emulator.add_backup(**backup)["id"]) for _ in range(count)]


def text_plan(ids: Iterable[str]) -> str:
    return "".join(f"{backup_id}\n" for backup_id in ids)


def deletes(served: ServedCbrEmulator) -> int:
    """DELETEs the emulator received, refused and faulted ones included."""
    return sum(served.emulator.stats.deletes_by_target.values())


def high_water(served: ServedCbrEmulator) -> int:
    """The most deletions outstanding (waiting + running) for any user at once."""
    return max(served.emulator.stats.max_outstanding.values(), default=0)


def delete_now(served: ServedCbrEmulator, backup_id: str, token: str = TOKEN) -> None:
    """Send a DELETE before the run, as an interrupted earlier run would have."""
    request = urllib.request.Request(f"{served.url}/v3/{PROJECT}/backups/{backup_id}", method="DELETE",
                                     headers={"X-Auth-Token": token})
    with urllib.request.urlopen(request, timeout=5) as answer:
        assert answer.status == 204


def by_backup(run: Run) -> dict[str, dict[str, Any]]:
    """The report's rows by backup id."""
    assert run.report is not None
    return {row["backup_id"]: row for row in run.report["results"]}


def outcomes(run: Run) -> dict[str, str]:
    """Task outcome by backup id, from the report."""
    return {backup_id: row["outcome"] for backup_id, row in by_backup(run).items()}
