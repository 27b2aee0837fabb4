"""What a person reads on a terminal: the live panel, the summary and short console lines."""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console

from worker.display import error_line, live_panel
from worker.engine.outcomes import Outcome
from worker.engine.scheduler import LiveTask, RunProgress
from worker.errors import PlanError, SettingsError
from worker.logs import shorten_for_console
from worker.summary import RunView, problems_of, render_summary

CHECKPOINT = "6f1c8a52-3d4e-4b8f-9a0b-1c2d3e4f5a6b"
ITEM = "3f9d8c2e-1b4a-4c2d-9e7f-0a1b2c3d4e5f"


class FixedClock:
    def __init__(self, now: float) -> None:
        self._now = now

    def now(self) -> float:
        return self._now

    def wall(self) -> float:
        return self._now

    async def sleep(self, seconds: float) -> None:
        self._now += seconds


def rendered(renderable: Any, width: int) -> list[str]:
    console = Console(file=io.StringIO(), width=width, color_system=None, legacy_windows=False)
    with console.capture() as capture:
        console.print(renderable)
    return capture.get().splitlines()


class Ended:
    def __init__(self, outcome: Outcome, number: int) -> None:
        self.container_id = f"{number:08d}-3d4e-4b8f-9a0b-1c2d3e4f5a6b"
        self.backup_id = None
        self.outcome = outcome
        self.error_code = "CSBS.8007"
        self.error_message = f"registered to an image, token tok-secret-{number}"


def test_the_panel_shows_counters_and_tasks_in_flight_within_60_columns() -> None:
    """Done, failed, in flight, rate, ETA, then each task with short ids, state, progress and age."""
    progress = RunProgress(total=30, clock=FixedClock(100.0))
    progress.ended[Outcome.DELETED] = 9
    progress.ended[Outcome.FAILED] = 1
    progress.live[3] = LiveTask(CHECKPOINT, ITEM, started_at=25.0, state="running", progress=40)
    lines = rendered(live_panel(progress), 60)
    assert all(len(line) <= 60 for line in lines)
    text = "\n".join(lines)
    assert "10/30" in text and "done 9" in text and "failed 1" in text and "in flight 1" in text
    assert "ETA" in text and "/min" in text
    [row] = [line for line in lines if "6f1c8a52" in line]
    assert "3f9d8c2e" in row and "running 40%" in row and "01:15" in row and CHECKPOINT not in row


def test_the_summary_lists_counts_facts_and_the_first_20_problems() -> None:
    """Counts per outcome, duration and calls per task, then 20 problems and "and 5 more"."""
    ended = [Ended(Outcome.FAILED, n) for n in range(25)] + [Ended(Outcome.DELETED, 99)]
    problems, count = problems_of(ended, lambda text: text.replace("tok-secret", "***"))
    assert len(problems) == 20 and count == 25
    view = RunView({"deleted": 1, "already_absent": 0, "failed": 25, "timed_out": 0, "not_attempted": 0},
                   12.34, 3.5, 1, problems, count)
    text = "\n".join(rendered(render_summary(view), 100))
    assert "deleted" in text and "12.3 s" in text and "calls per task 3.5" in text and "exit 1" in text
    assert "and 5 more, see the report" in text
    assert "00000019" in text and "00000020" not in text and "CSBS.8007" in text
    assert "tok-secret" not in text and "***" in text


def test_a_clean_run_lists_no_problems() -> None:
    view = RunView({"deleted": 3}, 1.0, None, 0)
    text = "\n".join(rendered(render_summary(view), 60))
    assert "failed or timed out" not in text and "more" not in text and "calls per task -" in text


def test_console_lines_leave_out_the_run_id_and_cut_ids() -> None:
    """Routine console lines stay short; the JSON lines keep everything."""
    event = shorten_for_console(None, "info", {"event": "task_deleted", "run_id": "3a3a00a405c64b75",
                                               "checkpoint_id": CHECKPOINT, "checkpoint_item": ITEM})
    assert event == {"event": "task_deleted", "checkpoint_id": "6f1c8a52", "checkpoint_item": "3f9d8c2e"}


def test_bad_input_reads_as_a_person_writes_it() -> None:
    """One line: what is wrong, then what to do."""
    line = error_line(PlanError("plan.yaml", 3, "bad id 'abc'\n(not a UUID)"))
    assert line == "csbs-worker: error: plan.yaml:3: bad id 'abc' (not a UUID); fix the plan and run again " \
                   "(nothing was deleted)"
    said = error_line(SettingsError("several sign-in methods are set: token; keep exactly one"))
    assert said == "csbs-worker: error: several sign-in methods are set: token; keep exactly one"
