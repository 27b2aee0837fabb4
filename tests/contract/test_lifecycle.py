"""Issues 10 and 14 end to end, for each service: stops honoured in every phase, no wait without a deadline,
no echoed secret.

Signals need a real process: those tests run ``python -m worker`` against the emulator or a loopback server
of their own, and send SIGTERM or SIGINT at a point they can see (a request the server received, a log
line). Bounds on how long a run took are the run's own settings, set small by the test.
"""

from __future__ import annotations

import json
import os
import pty
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from aiohttp import web

from tests.harness import (
    PROJECT,
    TOKEN,
    LoopbackApp,
    Run,
    closed_port,
    cloud_env,
    events_of,
    hanging_server,
    html_200,
    read_until,
    spawn,
    stop_and_time,
    wait_for,
)
from tests.services import Service

STOPPED_SOON_S = 5.0  # "exit 4 within a few seconds"


# -- issue 10: a stop is honoured in every phase ---------------------------------------------------------------


def test_sigterm_during_the_preflight_exits_4_with_a_report(service: Service, tmp_path: Path) -> None:
    """The endpoint never answers and the preflight could wait two minutes: SIGTERM ends the run in
    seconds, exit 4, and the report says every task was not attempted."""
    report = tmp_path / "report.json"
    plan = tmp_path / "plan.txt"
    plan.write_text(service.text_plan([service.absent() for _ in range(3)]), encoding="utf-8")
    with hanging_server() as server:
        process = spawn(["delete", *service.flags, str(plan), "--report", str(report), "--request-timeout", "60",
                         "--retry-cap", "60"], cloud_env(server.url))
        wait_for(lambda: bool(server.requests))
        took, rest = stop_and_time(process)
    assert process.returncode == 4, rest[-2000:]
    assert took < STOPPED_SOON_S
    written = json.loads(report.read_text(encoding="utf-8"))
    assert written["exit_code"] == 4
    assert {r["outcome"] for r in written["results"]} == {"not_attempted"} and len(written["results"]) == 3
    assert any(e["event"] == "run_stopping" and e["reason"] == "SIGTERM" for e in events_of(rest))


def test_sigterm_during_a_policy_listing_answering_503_exits_4_fast(service: Service, tmp_path: Path) -> None:
    """A --policy run whose listing keeps answering 503 (it may retry for the task timeout): SIGTERM is
    exit 4 within seconds, not 1 half a minute later; nothing is deleted."""
    policy = tmp_path / "policy.yaml"
    policy.write_text("keep:\n  last: 1\n", encoding="utf-8")
    report = tmp_path / "report.json"
    with service.serve(faults=(service.fault("list", "503"),)) as cloud:
        cloud.seed(3)
        process = spawn(["delete", *service.flags, "--policy", str(policy), "--report", str(report),
                         "--task-timeout", "120", "--retry-cap", "2"], cloud_env(cloud.url))
        wait_for(lambda: cloud.requests("list") >= 2)
        took, rest = stop_and_time(process)
        deletes = cloud.requests("delete")
    assert process.returncode == 4, rest[-2000:]
    assert took < STOPPED_SOON_S
    assert deletes == 0
    assert json.loads(report.read_text(encoding="utf-8"))["exit_code"] == 4


def test_second_sigterm_skips_the_grace(service: Service, tmp_path: Path) -> None:
    """With deletions in flight and --grace 60, a second SIGTERM ends the run at once: exit 4, the tasks
    in flight timed_out (never failed), the rest not_attempted."""
    report = tmp_path / "report.json"
    plan = tmp_path / "plan.txt"
    with service.serve(delete_duration_s=(30.0, 30.0)) as cloud:
        plan.write_text(service.text_plan(cloud.seed(8)), encoding="utf-8")
        process = spawn(["delete", *service.flags, str(plan), "--report", str(report), "--grace", "60"],
                        cloud_env(cloud.url))
        read_until(process, "task_submitted", 5)
        process.send_signal(signal.SIGTERM)
        read_until(process, "run_stopping")
        took, rest = stop_and_time(process)
    assert process.returncode == 4, rest[-2000:]
    assert took < STOPPED_SOON_S
    counts = json.loads(report.read_text(encoding="utf-8"))["counts"]
    assert counts == {"deleted": 0, "already_absent": 0, "failed": 0, "timed_out": 5, "not_attempted": 3}
    assert any(e["event"] == "run_stop_now" for e in events_of(rest))


def test_delete_reading_a_terminal_shows_a_hint_and_ctrl_c_stops_it(service: Service) -> None:
    """`delete` with no plan and stdin a terminal says it reads stdin; SIGINT ends it at once, exit 4,
    and nothing is sent."""
    controller, terminal = pty.openpty()
    try:
        with service.serve() as cloud:
            cloud.seed(2)
            process = spawn(["delete", *service.flags], cloud_env(cloud.url), stdin=terminal)
            assert process.stderr is not None
            hint = process.stderr.readline()
            took, rest = stop_and_time(process, signal.SIGINT)
            requests = cloud.requests()
    finally:
        os.close(controller)
        os.close(terminal)
    assert "reading the plan from stdin; end with Ctrl-D" in hint
    assert process.returncode == 4, rest[-2000:]
    assert took < STOPPED_SOON_S
    assert requests == 0


def test_sigterm_while_reading_a_pipe_that_never_ends(service: Service) -> None:
    """A plan on a pipe whose writer never closes it: SIGTERM ends the run at once with exit 4."""
    read_end, write_end = os.pipe()
    try:
        with service.serve() as cloud:
            backups = cloud.seed(2)
            os.write(write_end, service.text_plan(backups[:1]).encode())
            process = spawn(["delete", *service.flags, "-"], cloud_env(cloud.url), stdin=read_end)
            time.sleep(0.5)  # not an assert on timing: the reader must be blocked by now, or will be
            took, rest = stop_and_time(process)
            deletes = cloud.requests("delete")
    finally:
        os.close(read_end)
        os.close(write_end)
    assert process.returncode == 4, rest[-2000:]
    assert took < STOPPED_SOON_S
    assert deletes == 0


def test_empty_plan_is_a_warning_and_exit_0(service: Service, worker: Callable[..., Run]) -> None:
    """A plan that names nothing: a plan_empty warning, exit 0, nothing sent."""
    with service.serve() as cloud:
        run = worker(["delete", *service.flags, "-"], cloud_env(cloud.url), stdin="# nothing today\n\n")
        deletes = cloud.requests("delete")
    assert run.code == 0
    (empty,) = run.named("plan_empty")
    assert empty["level"] == "warning"
    assert deletes == 0


@pytest.mark.parametrize("delay_s", [0.0, 0.05, 0.1, 0.15, 0.2, 0.3])
def test_sigterm_right_at_the_start_logs_and_exits_4(service: Service, delay_s: float, tmp_path: Path) -> None:
    """SIGTERM in the first instants of a run: exit 4 with a log line and the report, never a silent death
    once the worker's code runs (the interpreter's own start-up, before any of it, is out of its reach)."""
    report = tmp_path / "report.json"
    plan = tmp_path / "plan.txt"
    plan.write_text(service.text_plan([service.absent()]), encoding="utf-8")
    with hanging_server() as server:
        process = spawn(["delete", *service.flags, str(plan), "--report", str(report)], cloud_env(server.url))
        time.sleep(delay_s)
        _, rest = stop_and_time(process, timeout_s=15)
    if process.returncode == -signal.SIGTERM:  # died inside the interpreter's start-up
        assert delay_s < 0.1, "a SIGTERM after the start-up killed the worker silently"
        return
    assert process.returncode == 4, rest[-2000:]
    assert any(e["event"] == "run_summary" and e["exit_code"] == 4 for e in events_of(rest))
    assert json.loads(report.read_text(encoding="utf-8"))["exit_code"] == 4


# -- issue 14: never wait without a deadline -------------------------------------------------------------------


BUDGET_FLAGS = ["--retry-cap", "0.2", "--request-timeout", "0.5"]
BUDGET_BOUND_S = 0.2 + 0.5 + 0.5 + 3.0  # the preflight budget, one request in the air at its end, start-up


@pytest.mark.parametrize("cloud", ["closed port", "html 200"])
def test_dry_run_against_a_dead_or_garbage_endpoint_ends_within_the_budget(service: Service, cloud: str,
                                                                          worker: Callable[..., Run]) -> None:
    """A dry run obeys the preflight budget: a refused connection or a 200 with HTML is exit 1, soon."""
    plan = service.text_plan([service.absent(), service.absent()])
    started = time.monotonic()
    if cloud == "closed port":
        url = closed_port()
        run = worker(["delete", *service.flags, "--dry-run", "-", *BUDGET_FLAGS], cloud_env(url), stdin=plan)
    else:
        with LoopbackApp(html_200) as app:
            url = app.url
            run = worker(["delete", *service.flags, "--dry-run", "-", *BUDGET_FLAGS], cloud_env(url), stdin=plan)
    took = time.monotonic() - started
    assert run.code == 1
    assert took < BUDGET_BOUND_S
    assert url in run.named("run_failed")[0]["reason"]


def test_dry_run_obeys_sigterm(service: Service, tmp_path: Path) -> None:
    """A dry run against a server that never answers stops on SIGTERM with exit 4."""
    plan = tmp_path / "plan.txt"
    plan.write_text(service.text_plan([service.absent()]), encoding="utf-8")
    with hanging_server() as server:
        process = spawn(["delete", *service.flags, "--dry-run", str(plan), "--request-timeout", "60",
                         "--retry-cap", "60"], cloud_env(server.url))
        wait_for(lambda: bool(server.requests))
        took, rest = stop_and_time(process)
    assert process.returncode == 4, rest[-2000:]
    assert took < STOPPED_SOON_S


# -- issue 14: secrets in what the server says -----------------------------------------------------------------


async def echo_token_500(request: web.Request) -> web.Response:
    """A gateway that puts the caller's credentials into its error message."""
    echoed = f"upstream refused token {request.headers.get('X-Auth-Token')} from {request.remote}"
    return web.json_response({"error_code": "APIGW.0500", "error_msg": echoed}, status=500)


def test_a_token_echoed_in_error_bodies_is_never_shown(service: Service, worker: Callable[..., Run]) -> None:
    """A gateway answering 500 with the X-Auth-Token in error_msg: the retries and the run's error are
    logged, the token nowhere (stderr, report)."""
    with LoopbackApp(echo_token_500) as app:
        run = worker(["delete", *service.flags, "-", *BUDGET_FLAGS], cloud_env(app.url),
                     stdin=service.text_plan([service.absent()]))
        answered = len(app.requests)
    assert answered >= 1
    assert run.code == 1
    assert run.named("request_retry") and all("***" in e["error_msg"] for e in run.named("request_retry"))
    assert "***" in run.named("run_failed")[0]["reason"]
    assert TOKEN not in run.stderr
    assert run.report is not None and TOKEN not in json.dumps(run.report)


def test_a_token_echoed_by_a_refused_delete_is_not_in_the_report(service: Service, worker: Callable[..., Run]) -> None:
    """Through a gateway that answers DELETE 400 with the token in error_msg (and passes the rest on to the
    emulator), the failed task's message in the report and the logs is masked."""
    def refuse(method: str, kind: str, n: int) -> web.Response | None:
        if method != "DELETE":
            return None
        return web.json_response({"error_code": "CSBS.1234", "error_msg": f"bad request, token {TOKEN}"},
                                 status=400)

    with service.serve(answer=refuse) as cloud:
        backups = cloud.seed(2)
        run = worker(["delete", *service.flags, "-"], cloud_env(cloud.url), stdin=service.text_plan(backups))
    assert run.code == 1
    assert set(service.outcomes(run).values()) == {"failed"}
    assert run.report is not None
    assert all(r["error_message"] == "bad request, token ***" for r in run.report["results"])
    assert TOKEN not in run.stderr and TOKEN not in json.dumps(run.report)
    assert PROJECT in run.stderr  # the project id is no secret: masking is by value, not by accident
