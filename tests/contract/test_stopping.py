"""Stopping early (SIGTERM, the run deadline) and running the same plan again to finish the job, for each
service."""

from __future__ import annotations

import json
import signal
from collections.abc import Callable
from pathlib import Path

from tests.harness import Run, cloud_env, read_until, spawn
from tests.services import Service


def test_sigterm_stops_then_a_rerun_finishes(service: Service, tmp_path: Path, worker: Callable[..., Run]) -> None:
    """SIGTERM stops new DELETEs, follows those in flight, writes the report and exits 4; the same plan run
    again adopts or deletes what is left, finishing the job without a failed task."""
    report = tmp_path / "first.json"
    with service.serve(delete_duration_s=(0.3, 0.6)) as cloud:
        backups = cloud.seed(15, children=1)
        plan = tmp_path / "plan.txt"
        plan.write_text(service.text_plan(backups), encoding="utf-8")
        process = spawn(["delete", *service.flags, str(plan), "--report", str(report), "--grace", "2"],
                        cloud_env(cloud.url))
        read_until(process, "task_submitted", 5)
        process.send_signal(signal.SIGTERM)
        _, rest = process.communicate(timeout=30)
        first = json.loads(report.read_text(encoding="utf-8"))
        rerun = worker(["delete", *service.flags, str(plan)], cloud_env(cloud.url))
        high = cloud.high_water()
        left = cloud.remaining()
        sent = cloud.sent()
    assert process.returncode == 4
    assert '"run_stopping"' in rest and "SIGTERM" in rest
    assert first["service"] == service.name and first["exit_code"] == 4
    assert first["counts"]["not_attempted"] > 0 and first["counts"]["failed"] == 0
    assert {service.key_of(row) for row in first["results"]} == {b.key for b in backups}
    assert rerun.code == 0
    assert rerun.report is not None
    counts = rerun.report["counts"]
    assert counts["failed"] == 0 and counts["deleted"] + counts["already_absent"] == 15
    done_first = {service.key_of(row) for row in first["results"] if row["outcome"] == "deleted"}
    assert all(service.rows(rerun)[key]["outcome"] == "already_absent" for key in done_first)
    assert left == []
    assert high <= 5
    assert all(n <= 2 for n in sent.values())  # the first run's, then at most the rerun's (404 if gone)
    assert rerun.named("task_busy") == []  # nothing still running was sent again: it was adopted


def test_deadline_stops_the_run_with_exit_4_and_a_rerun_finishes(service: Service, worker: Callable[..., Run]) -> None:
    """--deadline ends the run: in-flight deletions are followed for --grace, the rest is not_attempted,
    exit 4; the rerun deletes the rest."""
    with service.serve(delete_duration_s=(0.3, 0.5)) as cloud:
        backups = cloud.seed(15)
        run = worker(["delete", *service.flags, "--deadline", "0.5", "--grace", "2", "-"], cloud_env(cloud.url),
                     stdin=service.text_plan(backups))
        rerun = worker(["delete", *service.flags, "-"], cloud_env(cloud.url), stdin=service.text_plan(backups))
        left = cloud.remaining()
    assert run.code == 4
    assert run.report is not None
    counts = run.report["counts"]
    assert counts["not_attempted"] > 0
    assert counts["failed"] == 0 and counts["timed_out"] == 0  # grace was long enough to see them end
    assert run.named("run_stopping")[0]["reason"] == "deadline"
    assert rerun.code == 0 and left == []


def test_no_grace_reports_unfinished_deletions_timed_out(service: Service, worker: Callable[..., Run]) -> None:
    """With no grace, deletions in flight at the stop are reported timed_out (run_stopped), never failed;
    a rerun adopts them (still running at the provider) instead of sending them again."""
    with service.serve(delete_duration_s=(1.0, 1.0)) as cloud:
        backups = cloud.seed(8)
        run = worker(["delete", *service.flags, "--deadline", "0.3", "--grace", "0", "-"], cloud_env(cloud.url),
                     stdin=service.text_plan(backups))
        rerun = worker(["delete", *service.flags, "-"], cloud_env(cloud.url), stdin=service.text_plan(backups))
        sent = cloud.sent()
    assert run.code == 4
    assert run.report is not None
    stopped = [r for r in run.report["results"] if r["error_code"] == "run_stopped"]
    assert len(stopped) == 5 and all(r["outcome"] == "timed_out" for r in stopped)
    assert run.report["counts"]["not_attempted"] == 3
    assert rerun.code == 0
    assert len(rerun.named("task_adopted")) == 5
    assert all(n == 1 for n in sent.values())
