"""The outcomes of a task and the exit codes of a run: the contract of design.md."""

from __future__ import annotations

import enum


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
