"""Stopping early (SIGTERM, the run deadline) and running the same plan again to finish the job."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.delete.test_outcomes import seed_items, text_plan
from tests.harness import FAST, Run, cloud_env, emulator_on_loopback


def start_worker(argv: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    """The worker as users run it: its own process, JSON logs on stderr."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("CSBS_", "HUAWEICLOUD_"))}
    full_env.update({"CSBS_" + key.upper(): value for key, value in FAST.items()})
    full_env.update(env)
    return subprocess.Popen([sys.executable, "-m", "worker", *argv, "--log-format", "json"], env=full_env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_events(process: subprocess.Popen[str], event: str, count: int) -> list[dict[str, object]]:
    """Read the worker's log lines until ``count`` lines of ``event`` were seen."""
    assert process.stderr is not None
    seen: list[dict[str, object]] = []
    for line in process.stderr:
        record = json.loads(line)
        seen.append(record)
        if sum(1 for r in seen if r["event"] == event) >= count:
            return seen
    raise AssertionError(f"the worker ended before logging {count} {event}")


def test_sigterm_stops_then_a_rerun_finishes(tmp_path: Path, worker: Callable[..., Run]) -> None:
    """SIGTERM stops new DELETEs, follows those in flight, writes the report and exits 4; the same plan run
    again finishes the job without a single failed task."""
    report = tmp_path / "first.json"
    with emulator_on_loopback(delete_duration_s=(0.4, 0.8)) as served:
        pairs = seed_items(served, 25)
        plan = tmp_path / "plan.txt"
        plan.write_text(text_plan(pairs), encoding="utf-8")
        process = start_worker(["delete", str(plan), "--report", str(report), "--grace", "2"],
                               cloud_env(served.url))
        wait_for_events(process, "task_submitted", 5)
        process.send_signal(signal.SIGTERM)
        _, rest = process.communicate(timeout=30)
        first = json.loads(report.read_text(encoding="utf-8"))
        rerun = worker(["delete", str(plan)], cloud_env(served.url))
        high = max(served.emulator.stats.max_outstanding.values())
    assert process.returncode == 4
    assert '"run_stopping"' in rest and "SIGTERM" in rest
    assert first["counts"]["not_attempted"] > 0
    assert first["counts"]["failed"] == 0
    assert first["exit_code"] == 4
    assert rerun.code == 0
    assert rerun.report is not None
    assert rerun.report["counts"]["failed"] == 0
    assert rerun.report["counts"]["deleted"] + rerun.report["counts"]["already_absent"] == 25
    assert high <= 5


def test_deadline_stops_the_run_with_exit_4(worker: Callable[..., Run]) -> None:
    """--deadline ends the run: in-flight tasks are followed for --grace, the rest is not_attempted, exit 4."""
    with emulator_on_loopback(delete_duration_s=(0.3, 0.5)) as served:
        pairs = seed_items(served, 30)
        run = worker(["delete", "--deadline", "0.5", "--grace", "2", "-"], cloud_env(served.url),
                     stdin=text_plan(pairs))
    assert run.code == 4
    assert run.report is not None
    counts = run.report["counts"]
    assert counts["not_attempted"] > 0
    assert counts["failed"] == 0 and counts["timed_out"] == 0  # grace was long enough to see them end
    assert run.named("run_stopping")[0]["reason"] == "deadline"


def test_grace_too_short_reports_unfinished_tasks(worker: Callable[..., Run]) -> None:
    """With no grace, tasks in flight at the stop are reported timed_out (run_stopped), never failed."""
    with emulator_on_loopback(delete_duration_s=(1.0, 1.0)) as served:
        pairs = seed_items(served, 10)
        run = worker(["delete", "--deadline", "0.3", "--grace", "0", "-"], cloud_env(served.url),
                     stdin=text_plan(pairs))
    assert run.code == 4
    assert run.report is not None
    stopped = [r for r in run.report["results"] if r["error_code"] == "run_stopped"]
    assert len(stopped) == 5
    assert all(r["outcome"] == "timed_out" for r in stopped)
    assert run.report["counts"]["not_attempted"] == 5
