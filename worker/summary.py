"""The end of a run as a person reads it in a second: outcomes with counts, duration, calls per task, and
the tasks that failed or timed out with their error (terminal only; the ``run_summary`` event stays)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from worker.display import Display
from worker.engine.outcomes import CHANGED_SINCE_PLAN, Outcome

MAX_PROBLEMS_SHOWN = 20  # the report lists them all
PROBLEM_OUTCOMES = (Outcome.FAILED, Outcome.TIMED_OUT)

_OUTCOME_STYLE = {"deleted": "green", "already_absent": "green", "failed": "red", "timed_out": "red",
                  "not_attempted": "yellow"}
_EXIT_MEANING = {0: "all done", 1: "some tasks failed or timed out (or changed since their plan)",
                 2: "bad input, nothing deleted", 3: "aborted", 4: "stopped early, the report says what is left"}


class EndedTask(Protocol):
    """What the summary needs of a task's result (``worker.engine.outcomes.TaskResult`` has it)."""

    @property
    def container_id(self) -> str: ...
    @property
    def backup_id(self) -> str | None: ...
    @property
    def outcome(self) -> Outcome: ...
    @property
    def error_code(self) -> str | None: ...
    @property
    def error_message(self) -> str | None: ...


@dataclass(frozen=True)
class Problem:
    """A task that failed or timed out, as the summary lists it."""

    container_id: str
    backup_id: str | None
    outcome: str
    error_code: str | None
    error_message: str | None


@dataclass(frozen=True)
class RunView:
    """What the summary shows; ``problem_count`` may exceed ``len(problems)`` (only the first are kept)."""

    counts: Mapping[str, int]
    duration_s: float
    calls_per_task: float | None
    exit_code: int
    problems: tuple[Problem, ...] = ()
    problem_count: int = 0
    dry_run: bool = False


def problems_of(results: Iterable[EndedTask], redact: Callable[[str], str] = str,
                keep: int = MAX_PROBLEMS_SHOWN) -> tuple[tuple[Problem, ...], int]:
    """The first ``keep`` failed or timed-out tasks, and those not sent because their backup changed since the
    plan (messages passed through ``redact``: a server may echo a secret in one), and how many there are in all."""
    kept: list[Problem] = []
    count = 0
    for result in results:
        if result.outcome not in PROBLEM_OUTCOMES and result.error_code != CHANGED_SINCE_PLAN:
            continue
        count += 1
        if len(kept) < keep:
            message = None if result.error_message is None else redact(result.error_message)
            kept.append(Problem(result.container_id, result.backup_id, str(result.outcome),
                                result.error_code, message))
    return tuple(kept), count


def _outcomes_table(view: RunView) -> Table:
    table = Table(title="csbs-worker run", title_justify="left", show_edge=False, pad_edge=False)
    table.add_column("outcome")
    table.add_column("tasks", justify="right")
    for outcome, count in view.counts.items():
        table.add_row(Text(outcome, style=_OUTCOME_STYLE.get(outcome, "") if count else "dim"), str(count))
    return table


def _facts(view: RunView) -> Text:
    calls = "-" if view.calls_per_task is None else f"{view.calls_per_task:.1f}"
    meaning = _EXIT_MEANING.get(view.exit_code, "")
    kind = "dry run, " if view.dry_run else ""
    return Text(f"{kind}duration {view.duration_s:.1f} s, calls per task {calls}, "
                f"exit {view.exit_code} ({meaning})")


def _problems_table(view: RunView) -> Table:
    table = Table(title="failed or timed out", title_justify="left", show_edge=False, pad_edge=False)
    table.add_column("checkpoint", no_wrap=True)
    table.add_column("backup", no_wrap=True)
    table.add_column("outcome", no_wrap=True, style="red")
    table.add_column("error", no_wrap=True)
    table.add_column("message", overflow="fold")
    for problem in view.problems:
        table.add_row(problem.container_id[:8], (problem.backup_id or "-")[:8], problem.outcome,
                      problem.error_code or "-", problem.error_message or "")
    return table


def render_summary(view: RunView) -> RenderableType:
    """The summary: outcomes with counts, one line of facts, then the failed and timed-out tasks."""
    parts: list[RenderableType] = [_outcomes_table(view), _facts(view)]
    if view.problems:
        parts.append(_problems_table(view))
    hidden = view.problem_count - len(view.problems)
    if hidden > 0:
        parts.append(Text(f"and {hidden} more, see the report"))
    return Group(*parts)


def show_summary(display: Display, view: RunView) -> None:
    """Print the summary on a terminal; off one nothing (the ``run_summary`` event says it all)."""
    display.show(render_summary(view))
