"""The run as a person sees it in a terminal (a real pseudo-terminal at 60, 80 and 120 columns), against the
embedded emulator: a live panel that leaves no copies behind, a summary table, readable errors, no colour
when NO_COLOR asks for none."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.terminal.pty_run import TerminalRun, run_in_terminal

ROOT = Path(__file__).resolve().parents[2]
PLAN = str(ROOT / "config" / "plan.example.yaml")
IMAGE_ITEM = "e5d2a8c4-7b3f-41e9-9c6a-0f8b2d4e1a76"  # a backup of the example plan, registered to an image
FAST = {"CSBS_POLL_FIRST": "0.2", "CSBS_POLL_MIN": "0.1", "CSBS_POLL_MAX": "0.5"}
SGR = re.compile(r"\x1b\[([0-9;]*)m")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def colour_codes(raw: str) -> list[str]:
    """SGR parameters that set a colour (foreground, background, 256 or true colour)."""
    found = []
    for match in SGR.finditer(raw):
        for number in filter(None, match.group(1).split(";")):
            if 30 <= int(number) <= 48 or 90 <= int(number) <= 107:
                found.append(number)
    return found


def run_with_a_failing_backup(tmp_path: Path, columns: int, env: dict[str, str] | None = None) -> TerminalRun:
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text("project_id: 0123456789abcdef0123456789abcdef\ndelete_duration_s: [0.3, 1.2]\n"
                        f"image_items: [{IMAGE_ITEM}]\n", encoding="utf-8")
    return run_in_terminal(["delete", "--emulator", "--emulator-scenario", str(scenario), PLAN],
                           columns=columns, env={**FAST, **(env or {})}, cwd=str(ROOT))


@pytest.mark.parametrize("columns", [60, 80, 120])
def test_the_panel_leaves_no_copies_and_the_summary_lists_the_failure(tmp_path: Path, columns: int) -> None:
    """While it runs the panel shows the tasks in flight; afterwards the screen and its scrollback hold log
    lines and the summary, not one stale copy of the panel."""
    run = run_with_a_failing_backup(tmp_path, columns)
    assert run.code == 1
    plain = ANSI.sub("", run.raw)
    assert "ETA" in plain  # the panel was drawn ...
    assert re.search(r"6f1c8a52\s+-\s+(sending|submitted|queued|running)", plain)  # ... with a task in flight
    assert run.lines_with("ETA") == [] and run.lines_with("in flight") == []  # ... and left no copy
    assert all(len(line) <= columns for line in run.lines)
    assert run.lines_with("deleted", "4") and run.lines_with("failed", "1")  # the outcome table
    assert run.lines_with("exit 1")
    [failure] = run.lines_with("c83f5a27", "e5d2a8c4", "CSBS.8007")  # the failed task, short ids
    assert "failed" in failure
    assert run.lines_with("task_deleted")  # log lines scrolled above the panel
    assert not run.lines_with("run_id") and not [line for line in run.lines if line.startswith("{")]
    assert colour_codes(run.raw)  # coloured levels and outcomes (see the NO_COLOR test)


def test_no_color_means_no_colour_codes(tmp_path: Path) -> None:
    """NO_COLOR set: the log lines, the panel and the summary come without colour."""
    run = run_with_a_failing_backup(tmp_path, 80, {"NO_COLOR": "1"})
    assert run.code == 1 and run.lines_with("c83f5a27", "CSBS.8007")
    assert colour_codes(run.raw) == []


def test_bad_input_on_a_terminal_is_one_readable_line() -> None:
    """What is wrong and what to do, as ``csbs-worker: error: ...``; no JSON event, no traceback."""
    run = run_in_terminal(["delete", "--emulator", "--concurrency", "0", PLAN], columns=80, cwd=str(ROOT))
    assert run.code == 2
    [line] = [line for line in ANSI.sub("", run.raw).splitlines() if line.strip()]
    assert line.startswith("csbs-worker: error: --concurrency: bad concurrency '0': must be at least 1; fix ")
    assert "{" not in run.raw and "bad_input" not in run.raw and "Traceback" not in run.raw


def test_console_lines_off_a_terminal_have_no_colour_codes() -> None:
    """``--log-format console`` into a pipe: readable lines, no escape codes."""
    done = subprocess.run([sys.executable, "-m", "worker", "delete", "--emulator", "--log-format", "console",
                           "--concurrency", "0", PLAN], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 2
    assert "bad_input" in done.stderr and "\x1b" not in done.stderr and not done.stderr.startswith("{")
