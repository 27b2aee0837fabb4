"""A reader that closes the pipe early (`| head -1`) ends the run quietly, with the exit code its work earns.

The worker runs as users run it, ``python -m worker`` in a process of its own, its stdout a pipe. To make the
closed pipe certain rather than a race with ``head``, most tests close the reading end before the worker
writes a byte: every write then finds the reader gone. One test runs the issue's own command line through a
shell, ``set -o pipefail; ... | head -1``, with a listing far larger than a pipe holds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.contract.test_demo import fast_scenario
from tests.harness import FAST, cloud_env, events_of, new_id, spawn
from tests.services import Service

START = datetime(2026, 1, 1, tzinfo=UTC)
RUN_S = 60  # a bound on a run that would hang, never a timing assert


def run_with_reader_gone(argv: list[str], env: dict[str, str], *, logs_too: bool = False) -> tuple[int, str]:
    """Run the worker with its stdout's reader gone before the start (and its log lines with it when
    ``logs_too``, as `2>&1 | head` does); its exit code and stderr."""
    stderr = subprocess.STDOUT if logs_too else subprocess.PIPE
    process = spawn(argv, env, stderr=stderr)
    assert process.stdout is not None
    process.stdout.close()
    _, err = process.communicate(timeout=RUN_S)
    return process.returncode, err or ""


def assert_quiet(stderr: str, output: str) -> list[dict[str, Any]]:
    """No traceback, no crash, no error event; one ``output_closed`` naming the output. The events."""
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr[-3000:]
    events = events_of(stderr)
    assert [e["event"] for e in events if e["level"] == "error"] == []
    assert [e["output"] for e in events if e["event"] == "output_closed"] == [output]
    return events


def summary(events: list[dict[str, Any]]) -> dict[str, Any]:
    (found,) = [e for e in events if e["event"] == "run_summary"]
    return found


def id_lines(count: int) -> str:
    """A plain-text plan of ``count`` bare ids: whole records for CSBS (each listed by a dry run), backups
    for CBR."""
    return "".join(f"{new_id()}\n" for _ in range(count))


def test_a_dry_run_into_a_closed_pipe_ends_quietly_with_exit_0(service: Service, tmp_path: Path) -> None:
    """`delete --emulator --dry-run plan | head`: exit 0 (the plan is valid), the report says so, and the
    listing stops once nobody reads it (CSBS lists each whole record: fewer listings than records)."""
    plan = tmp_path / "plan.txt"
    plan.write_text(id_lines(400), encoding="utf-8")
    report = tmp_path / "report.json"
    code, stderr = run_with_reader_gone(["delete", *service.flags, "--emulator", "--dry-run", str(plan),
                                         "--report", str(report)], {})
    assert code == 0, stderr[-3000:]
    events = assert_quiet(stderr, "dry_run")
    ran = summary(events)
    assert ran["exit_code"] == 0 and ran["not_attempted"] == 400
    assert ran["calls"].get("list", 0) < 400
    written = json.loads(report.read_text(encoding="utf-8"))
    assert written["exit_code"] == 0 and written["counts"]["not_attempted"] == 400


def test_the_issues_command_line_through_head(service: Service, tmp_path: Path) -> None:
    """`set -o pipefail; csbs-worker delete --emulator --dry-run plan.txt | head -1`, as a shell runs it:
    the first line of the listing, exit 0 for the whole pipeline, no traceback."""
    plan = tmp_path / "plan.txt"
    ids = id_lines(5000)  # the listing is far above what a pipe holds: the worker must meet the closed end
    plan.write_text(ids, encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("CSBS_", "HUAWEICLOUD_"))}
    env.update({"CSBS_" + key.upper(): value for key, value in FAST.items()})
    command = (f"set -o pipefail; {sys.executable} -m worker delete {' '.join(service.flags)} --emulator "
               f"--dry-run {plan} --log-format json | head -1")
    shell = subprocess.run(["bash", "-c", command], env=env, capture_output=True, text=True, timeout=RUN_S)
    assert shell.returncode == 0, shell.stderr[-3000:]
    assert shell.stdout.split()[0] == ids.split()[0]
    assert summary(assert_quiet(shell.stderr, "dry_run"))["exit_code"] == 0


def test_logs_and_listing_into_one_closed_pipe(service: Service, tmp_path: Path) -> None:
    """`... 2>&1 | head`: the log lines' reader is gone too; the run still ends with exit 0 and writes its
    report."""
    plan = tmp_path / "plan.txt"
    plan.write_text(id_lines(50), encoding="utf-8")
    report = tmp_path / "report.json"
    code, _ = run_with_reader_gone(["delete", *service.flags, "--emulator", "--dry-run", str(plan),
                                    "--report", str(report)], {}, logs_too=True)
    assert code == 0
    written = json.loads(report.read_text(encoding="utf-8"))
    assert written["exit_code"] == 0 and written["counts"]["not_attempted"] == 50


def test_a_report_into_a_closed_pipe_keeps_the_runs_exit_code(service: Service, tmp_path: Path) -> None:
    """`delete --report - | head`: the deletions are done and the exit code says so (0), not a report
    failure; the log says the report's reader left."""
    plan = tmp_path / "plan.txt"
    plan.write_text(id_lines(5), encoding="utf-8")
    code, stderr = run_with_reader_gone(["delete", *service.flags, "--emulator", "--emulator-scenario",
                                         fast_scenario(tmp_path), str(plan), "--report", "-"], {})
    assert code == 0, stderr[-3000:]
    ran = summary(assert_quiet(stderr, "report"))
    assert ran["exit_code"] == 0 and ran["deleted"] == 5


def test_plan_into_a_closed_pipe_ends_quietly_with_exit_0(service: Service, tmp_path: Path) -> None:
    """`plan --policy ... | head`: the plan was made; exit 0, quietly."""
    policy = tmp_path / "policy.yaml"
    policy.write_text("keep:\n  last: 1\n", encoding="utf-8")
    with service.serve() as cloud:
        cloud.history(4, new_id(), START)
        code, stderr = run_with_reader_gone(["plan", *service.flags, "--policy", str(policy)],
                                            cloud_env(cloud.url))
    assert code == 0, stderr[-3000:]
    events = assert_quiet(stderr, "plan")
    assert [e["deletions"] for e in events if e["event"] == "plan_ready"] == [3]
