"""Issue 13, Metrics, end to end: what a real run pushes to a (loopback) Pushgateway, whatever ends it."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.delete.test_outcomes import seed_items, text_plan
from tests.delete.test_trust import gateway_in_thread
from tests.harness import Run, cloud_env, emulator_on_loopback, run_worker
from tests.metrics.gateway import FakePushgateway, Samples


@pytest.fixture
def worker(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Callable[..., Run]:
    def run(argv: list[str], env: dict[str, str], **kwargs: Any) -> Run:
        return run_worker(argv, env, monkeypatch, capsys, **kwargs)
    return run


def pushed(gateway: FakePushgateway) -> Samples:
    (request,) = [r for r in gateway.requests if r.method in ("POST", "PUT")]
    return request.samples()


def test_in_flight_at_exit_is_what_the_stop_cut_off(worker: Callable[..., Run], tmp_path: Path) -> None:
    """`--deadline 2 --grace 1` with deletions of 10 s: the gateway gets the tasks still in flight (5),
    the number run_stopping logged, not 0."""
    with emulator_on_loopback(delete_duration_s=(10.0, 10.0)) as served, gateway_in_thread() as gateway:
        pairs = seed_items(served, 8)
        run = worker(["delete", "-", "--deadline", "2", "--grace", "1", "--pushgateway", gateway.url],
                     cloud_env(served.url), stdin=text_plan(pairs), report=str(tmp_path / "report.json"))
        samples = pushed(gateway)
    assert run.code == 4
    in_flight = samples[("csbs_worker_run_tasks_in_flight_at_exit", ())]
    assert in_flight == 5
    assert run.named("run_stopping")[0]["in_flight"] == in_flight
    assert samples[("csbs_worker_run_exit_code", ())] == 4
    assert samples[("csbs_worker_run_tasks", (("outcome", "not_attempted"),))] == 3


def test_a_bad_plan_still_pushes_exit_code_2(worker: Callable[..., Run]) -> None:
    """A run that read its settings and then found the plan invalid pushes exit_code 2 (the alerts see it)."""
    with emulator_on_loopback() as served, gateway_in_thread() as gateway:
        run = worker(["delete", "-", "--pushgateway", gateway.url], cloud_env(served.url),
                     stdin="not-a-uuid at all\n")
        deletes = served.emulator.stats.requests_by_route["delete"]
        samples = pushed(gateway)
    assert run.code == 2
    assert deletes == 0
    assert samples[("csbs_worker_run_exit_code", ())] == 2
    assert samples[("csbs_worker_run_succeeded", ())] == 0


@pytest.mark.parametrize("where", ["a directory", "/proc"])
def test_an_unwritable_report_path_is_refused_before_any_delete(where: str, worker: Callable[..., Run],
                                                                tmp_path: Path) -> None:
    """--report into a directory or /proc: exit 2 before any DELETE, one clear message naming the path;
    the metrics say exit 2."""
    report = str(tmp_path) if where == "a directory" else "/proc/csbs-worker-report.json"
    with emulator_on_loopback() as served, gateway_in_thread() as gateway:
        pairs = seed_items(served, 3)
        run = worker(["delete", "-", "--pushgateway", gateway.url, "--report", report], cloud_env(served.url),
                     stdin=text_plan(pairs))
        deletes = served.emulator.stats.requests_by_route["delete"]
        samples = pushed(gateway)
    assert run.code == 2
    assert deletes == 0
    (bad,) = run.named("bad_input")
    assert report in bad["error"] and "cannot write the report" in bad["error"]
    assert "Traceback" not in run.stderr
    assert samples[("csbs_worker_run_exit_code", ())] == 2


def test_a_report_that_fails_at_the_end_is_exit_1_and_still_pushed(worker: Callable[..., Run],
                                                                    tmp_path: Path) -> None:
    """The report's directory is removed while the deletions run: the run logs report_failed, exits 1
    (never a traceback), and the metrics are pushed all the same."""
    folder = tmp_path / "reports"
    folder.mkdir()
    with emulator_on_loopback(delete_duration_s=(0.4, 0.5)) as served, gateway_in_thread() as gateway:
        pairs = seed_items(served, 3)

        def remove_when_deleting() -> None:
            for _ in range(1000):
                if served.call(lambda: served.emulator.stats.requests_by_route["delete"]) >= 3:
                    shutil.rmtree(folder)
                    return
                threading.Event().wait(0.01)

        remover = threading.Thread(target=remove_when_deleting, daemon=True)
        remover.start()
        run = worker(["delete", "-", "--pushgateway", gateway.url], cloud_env(served.url),
                     stdin=text_plan(pairs), report=str(folder / "report.json"))
        remover.join(10)
        samples = pushed(gateway)
    assert not folder.exists()
    assert run.code == 1
    assert len(run.named("task_deleted")) == 3
    (failed,) = run.named("report_failed")
    assert str(folder / "report.json") in failed["report"]
    assert "Traceback" not in run.stderr
    assert samples[("csbs_worker_run_exit_code", ())] == 1
    assert samples[("csbs_worker_run_tasks", (("outcome", "deleted"),))] == 3
