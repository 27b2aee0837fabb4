"""How a check before a task's first DELETE ends it: a look that did not answer, or a backup that changed since
its approvable plan was made (``worker.engine.identity``). The services' ``before_first_send`` use these."""

from __future__ import annotations

from worker.engine.answer import Answer, AnswerKind
from worker.engine.identity import Identity, difference
from worker.engine.outcomes import CHANGED_SINCE_PLAN, Outcome, TaskEnd
from worker.engine.tracking import Ending, TaskState, TaskTrace, abort_run, end_task, unreadable_end


def changed_since_plan(trace: TaskTrace, reason: str) -> TaskEnd:
    """The end of a task whose backup is not the one planned: nothing was sent (logged as ``task_not_attempted``
    with ``error_code: changed_since_plan``; the run exits 1)."""
    return end_task(trace, Outcome.NOT_ATTEMPTED, code=CHANGED_SINCE_PLAN,
                    message=f"not deleted: the backup changed since the plan was made ({reason}); nothing was sent")


def look_ending(task: TaskState, answer: Answer, *, required: bool) -> Ending | None:
    """How a look before the first DELETE that did not answer OK ends the task: gone is ``already_absent``, a
    refusal aborts the run. Anything else (the look kept failing within the task's time) ends it only when the
    look was ``required`` to check its identity (what could not be checked is never deleted); else the
    DELETE and its answer decide."""
    if answer.kind is AnswerKind.GONE:
        return end_task(task.trace, Outcome.ALREADY_ABSENT)
    if required:
        return unreadable_end(task.trace, answer)
    return abort_run(answer, nothing_applied=True) if answer.kind is AnswerKind.FATAL else None


def unchanged(task: TaskState, planned: Identity, seen: Identity) -> TaskEnd | None:
    """None when the backup seen is the one planned; else the task's end (``changed_since_plan``)."""
    reason = difference(planned, seen)
    return None if reason is None else changed_since_plan(task.trace, reason)
