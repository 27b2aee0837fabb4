"""The outcomes of a task and the exit codes of a run (docs/design.md, "Tasks and outcomes"), and the
values a task ends with.

``TaskEnd`` is what the tracker returns for one task; ``TaskResult`` is the report's row, built by the
scheduler (the only writer of results) from the task, its ``TaskEnd`` and what was counted on the way.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

CHANGED_SINCE_PLAN = "changed_since_plan"
"""The error code of a task not sent because its backup is not the one an approvable plan recorded
(``worker.engine.identity``); such a task is ``not_attempted`` and makes the run exit 1."""

ID_KEYS = ("container_id", "backup_id")
"""A report row's names for a task's two ids when no service names them (each service gives its own)."""


class Outcome(enum.StrEnum):
    """How one task (one DELETE) ended."""

    DELETED = "deleted"  # seen gone (404 or status deleted) after our DELETE
    ALREADY_ABSENT = "already_absent"  # did not exist when the worker came to it
    FAILED = "failed"  # refused for good, or the deletion ended in error
    TIMED_OUT = "timed_out"  # not seen to end within the task timeout
    NOT_ATTEMPTED = "not_attempted"  # never sent: dry run, early stop or abort


class ExitCode(enum.IntEnum):
    """What a pipeline reads from the process."""

    OK = 0  # every task deleted or already absent (dry run: the plan is valid)
    INCOMPLETE = 1  # the run finished, but some tasks failed or timed out
    USAGE = 2  # bad input, configuration or usage; nothing was deleted
    ABORTED = 3  # credentials or permission refused, or the service refuses the project
    STOPPED = 4  # SIGTERM/SIGINT or the run deadline stopped it early


@dataclass(frozen=True, slots=True)
class TaskEnd:
    """How the tracker saw one task end, with the answer that decided it when there was one."""

    outcome: Outcome
    error_code: str | None = None
    error_message: str | None = None
    http_status: int | None = None
    request_id: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome in (Outcome.DELETED, Outcome.ALREADY_ABSENT)


class AbortScope(enum.StrEnum):
    """What a refusal ends: the target (its project or permission refused, or no API at its endpoint), or
    every target of the user (its credentials refused: they are the same for all of them)."""

    TARGET = "target"
    USER = "user"


@dataclass(frozen=True, slots=True)
class RunAbort:
    """The tracker's answer when the cloud refused the run (credentials, permission, project), with the answer
    that refused it. ``nothing_applied``: the refused call was the task's DELETE and no deletion of ours runs
    for it, so the task itself ``failed``; the other tasks the abort cuts off are ``timed_out``."""

    reason: str
    scope: AbortScope = AbortScope.TARGET
    error_code: str | None = None
    http_status: int | None = None
    request_id: str | None = None
    nothing_applied: bool = False

    @property
    def code(self) -> str:
        """The error code the tasks it ends carry: the refusal's own, else ``run_aborted``."""
        return self.error_code or "run_aborted"


def iso(timestamp: float | None) -> str | None:
    """A Unix time as ISO 8601 UTC, or None."""
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class TaskResult:
    """The end of one task, as the report shows it."""

    container_id: str
    backup_id: str | None
    outcome: Outcome
    attempts: int = 0  # DELETE requests sent for this task
    polls: int = 0  # read requests sent to follow it
    error_code: str | None = None
    error_message: str | None = None
    http_status: int | None = None
    request_id: str | None = None
    submitted_at: float | None = None  # Unix time of the first DELETE
    ended_at: float | None = None

    def to_json(self, id_keys: tuple[str, str] = ID_KEYS) -> dict[str, Any]:
        """The report's row; ``id_keys`` name the task's two ids as its service does (an empty id is null)."""
        return {
            id_keys[0]: self.container_id or None,
            id_keys[1]: self.backup_id or None,
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
