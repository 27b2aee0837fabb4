"""What became of every task: results, counts, the JSON report and the exit code."""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from worker.outcomes import ExitCode, Outcome


class PlannedTask(Protocol):
    """What the report needs of a plan entry (``worker.plan.Task`` has it)."""

    @property
    def checkpoint_id(self) -> str: ...

    @property
    def item_id(self) -> str | None: ...


def iso(timestamp: float | None) -> str | None:
    """A Unix time as ISO 8601 UTC, or None."""
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class TaskResult:
    """The end of one task, as the report shows it."""

    checkpoint_id: str
    checkpoint_item: str | None
    outcome: Outcome
    attempts: int = 0  # DELETE requests sent for this task
    polls: int = 0  # read requests sent to follow it
    error_code: str | None = None
    error_message: str | None = None
    http_status: int | None = None
    request_id: str | None = None
    submitted_at: float | None = None  # Unix time of the first DELETE
    ended_at: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "checkpoint_id": self.checkpoint_id,
            "checkpoint_item": self.checkpoint_item,
            "outcome": str(self.outcome),
            "attempts": self.attempts,
            "polls": self.polls,
            "error_code": self.error_code,
            "error_message": self.error_message,
            "http_status": self.http_status,
            "request_id": self.request_id,
            "submitted_at": iso(self.submitted_at),
            "ended_at": iso(self.ended_at),
        }


@dataclass
class Results:
    """Results by plan index; tasks without one were never attempted (kept implicit: plans can be huge)."""

    plan: Sequence[PlannedTask]
    by_index: dict[int, TaskResult] = field(default_factory=dict)

    def record(self, index: int, result: TaskResult) -> None:
        self.by_index[index] = result

    def counts(self) -> dict[str, int]:
        """One key per outcome (design.md), zeros included."""
        counted = Counter(result.outcome for result in self.by_index.values())
        counted[Outcome.NOT_ATTEMPTED] += len(self.plan) - len(self.by_index)
        return {str(outcome): counted[outcome] for outcome in Outcome}

    def iter_json(self) -> Iterator[dict[str, Any]]:
        """Every task's result in plan order, streaming."""
        for index, task in enumerate(self.plan):
            result = self.by_index.get(index)
            if result is None:
                result = TaskResult(task.checkpoint_id, task.item_id, Outcome.NOT_ATTEMPTED)
            yield result.to_json()


def exit_code(counts: Mapping[str, int], *, stopped: bool, aborted: bool, unfinished: bool = False) -> ExitCode:
    """The exit code of design.md: abort beats stop beats failures; ``unfinished`` (the cloud failed
    before the tasks could be known) counts as a failure."""
    if aborted:
        return ExitCode.ABORTED
    if stopped:
        return ExitCode.STOPPED
    if unfinished or counts.get(Outcome.FAILED, 0) or counts.get(Outcome.TIMED_OUT, 0):
        return ExitCode.INCOMPLETE
    return ExitCode.OK


def write_report(path: str, header: Mapping[str, Any], results: Results) -> None:
    """Write the JSON report (``-`` = stdout), streaming ``results`` so big plans stay cheap."""
    handle = sys.stdout if path == "-" else open(path, "w", encoding="utf-8")  # noqa: SIM115
    try:
        body = dict(header)
        body["counts"] = results.counts()
        head = json.dumps(body, indent=2)
        handle.write(head[:-2] + ',\n  "results": [')
        for number, record in enumerate(results.iter_json()):
            handle.write(("\n    " if number == 0 else ",\n    ") + json.dumps(record))
        handle.write("\n  ]\n}\n")
    finally:
        if handle is not sys.stdout:
            handle.close()
        else:
            handle.flush()
