"""Issues 10 and 14 end to end: stops honoured in every phase, no wait without a deadline, no echoed secret.

Signals need a real process: those tests run ``python -m worker`` against the emulator or a loopback server
of their own, and send SIGTERM or SIGINT at a point they can see (a request the server received, a log
line). Bounds on how long a run took are the run's own settings, set small by the test.
"""

from __future__ import annotations

import asyncio
import json
import os
import pty
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import pytest
from aiohttp import ClientSession, web

from tests.delete.conftest import new_id
from tests.delete.test_outcomes import seed_items, text_plan
from tests.delete.test_trust import LoopbackApp, closed_port, html_200
from tests.harness import FAST, PROJECT, TOKEN, Run, ServedEmulator, cloud_env, emulator_on_loopback
from worker.emulator import FaultRule

STOPPED_SOON_S = 5.0  # "exit 4 within a few seconds"


# -- a real process --------------------------------------------------------------------------------------------


def spawn(argv: list[str], env: dict[str, str], *, stdin: int | IO[Any] | None = subprocess.DEVNULL,
          fast: bool = True) -> subprocess.Popen[str]:
    """``python -m worker ARGV --log-format json`` with ``env`` as its only CSBS_ environment."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("CSBS_", "HUAWEICLOUD_"))}
    if fast:
        full_env.update({"CSBS_" + key.upper(): value for key, value in FAST.items()})
    full_env.update(env)
    return subprocess.Popen([sys.executable, "-m", "worker", *argv, "--log-format", "json"], env=full_env,
                            stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def events_of(stderr: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]


def read_until(process: subprocess.Popen[str], event: str, count: int = 1) -> list[dict[str, Any]]:
    """Read the worker's JSON log lines until ``count`` lines of ``event`` were seen."""
    assert process.stderr is not None
    seen: list[dict[str, Any]] = []
    for line in process.stderr:
        if not line.startswith("{"):
            continue
        seen.append(json.loads(line))
        if sum(1 for record in seen if record["event"] == event) >= count:
            return seen
    raise AssertionError(f"the worker ended before logging {count} {event}")


def wait_for(condition: Callable[[], bool], timeout_s: float = 15.0) -> None:
    end = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > end:
            raise AssertionError("the condition never came true")
        time.sleep(0.01)


def stop_and_time(process: subprocess.Popen[str], signum: int = signal.SIGTERM,
                  timeout_s: float = 30.0) -> tuple[float, str]:
    """Send ``signum``; how long until the process ended, and the rest of its stderr."""
    sent = time.monotonic()
    process.send_signal(signum)
    _, rest = process.communicate(timeout=timeout_s)
    return time.monotonic() - sent, rest


def counted(served: ServedEmulator, route: str) -> int:
    return int(served.call(lambda: served.emulator.stats.requests_by_route[route]))


@contextmanager
def hanging_server() -> Iterator[LoopbackApp]:
    """A loopback HTTP server that records each request and answers none while the block runs."""
    released = threading.Event()

    async def hang(_: web.Request) -> web.Response:
        await asyncio.to_thread(released.wait)
        return web.Response(status=503)

    with LoopbackApp(hang) as app:
        try:
            yield app
        finally:
            released.set()


# -- issue 10: a stop is honoured in every phase ---------------------------------------------------------------


def test_sigterm_during_the_preflight_exits_4_with_a_report(tmp_path: Path) -> None:
    """The endpoint never answers and the preflight could wait two minutes: SIGTERM ends the run in
    seconds, exit 4, and the report says every task was not attempted."""
    report = tmp_path / "report.json"
    plan = tmp_path / "plan.txt"
    plan.write_text(text_plan([(new_id(), new_id()) for _ in range(3)]), encoding="utf-8")
    with hanging_server() as server:
        process = spawn(["delete", str(plan), "--report", str(report), "--request-timeout", "60",
                         "--retry-cap", "60"], cloud_env(server.url))
        wait_for(lambda: bool(server.requests))
        took, rest = stop_and_time(process)
    assert process.returncode == 4, rest[-2000:]
    assert took < STOPPED_SOON_S
    written = json.loads(report.read_text(encoding="utf-8"))
    assert written["exit_code"] == 4
    assert {r["outcome"] for r in written["results"]} == {"not_attempted"} and len(written["results"]) == 3
    assert any(e["event"] == "run_stopping" and e["reason"] == "SIGTERM" for e in events_of(rest))


def test_sigterm_during_a_policy_listing_answering_503_exits_4_fast(tmp_path: Path) -> None:
    """A --policy run whose listing keeps answering 503 (it may retry for the task timeout): SIGTERM is
    exit 4 within seconds, not 1 half a minute later; nothing is deleted."""
    policy = tmp_path / "policy.yaml"
    policy.write_text("keep:\n  last: 1\n", encoding="utf-8")
    report = tmp_path / "report.json"
    with emulator_on_loopback(faults=(FaultRule("list", "503"),)) as served:
        seed_items(served, 3)
        process = spawn(["delete", "--policy", str(policy), "--report", str(report), "--task-timeout", "120",
                         "--retry-cap", "2"], cloud_env(served.url))
        wait_for(lambda: counted(served, "list") >= 2)
        took, rest = stop_and_time(process)
        deletes = counted(served, "delete")
    assert process.returncode == 4, rest[-2000:]
    assert took < STOPPED_SOON_S
    assert deletes == 0
    assert json.loads(report.read_text(encoding="utf-8"))["exit_code"] == 4


def test_second_sigterm_skips_the_grace(tmp_path: Path) -> None:
    """With deletions in flight and --grace 60, a second SIGTERM ends the run at once: exit 4, the tasks
    in flight timed_out (never failed), the rest not_attempted."""
    report = tmp_path / "report.json"
    plan = tmp_path / "plan.txt"
    with emulator_on_loopback(delete_duration_s=(30.0, 30.0)) as served:
        pairs = seed_items(served, 8)
        plan.write_text(text_plan(pairs), encoding="utf-8")
        process = spawn(["delete", str(plan), "--report", str(report), "--grace", "60"], cloud_env(served.url))
        read_until(process, "task_submitted", 5)
        process.send_signal(signal.SIGTERM)
        read_until(process, "run_stopping")
        took, rest = stop_and_time(process)
    assert process.returncode == 4, rest[-2000:]
    assert took < STOPPED_SOON_S
    counts = json.loads(report.read_text(encoding="utf-8"))["counts"]
    assert counts == {"deleted": 0, "already_absent": 0, "failed": 0, "timed_out": 5, "not_attempted": 3}
    assert any(e["event"] == "run_stop_now" for e in events_of(rest))


def test_delete_reading_a_terminal_shows_a_hint_and_ctrl_c_stops_it(tmp_path: Path) -> None:
    """`delete` with no plan and stdin a terminal says it reads stdin; SIGINT ends it at once, exit 4,
    and nothing is sent."""
    controller, terminal = pty.openpty()
    try:
        with emulator_on_loopback() as served:
            seed_items(served, 2)
            process = spawn(["delete"], cloud_env(served.url), stdin=terminal)
            assert process.stderr is not None
            hint = process.stderr.readline()
            took, rest = stop_and_time(process, signal.SIGINT)
            requests = served.call(lambda: sum(served.emulator.stats.requests_by_route.values()))
    finally:
        os.close(controller)
        os.close(terminal)
    assert "reading the plan from stdin; end with Ctrl-D" in hint
    assert process.returncode == 4, rest[-2000:]
    assert took < STOPPED_SOON_S
    assert requests == 0


def test_sigterm_while_reading_a_pipe_that_never_ends(tmp_path: Path) -> None:
    """A plan on a pipe whose writer never closes it: SIGTERM ends the run at once with exit 4."""
    read_end, write_end = os.pipe()
    try:
        with emulator_on_loopback() as served:
            pairs = seed_items(served, 2)
            os.write(write_end, text_plan(pairs[:1]).encode())
            process = spawn(["delete", "-"], cloud_env(served.url), stdin=read_end)
            time.sleep(0.5)  # not an assert on timing: the reader must be blocked by now, or will be
            took, rest = stop_and_time(process)
            deletes = counted(served, "delete")
    finally:
        os.close(read_end)
        os.close(write_end)
    assert process.returncode == 4, rest[-2000:]
    assert took < STOPPED_SOON_S
    assert deletes == 0


def test_empty_plan_is_a_warning_and_exit_0(worker: Callable[..., Run]) -> None:
    """A plan that names nothing: a plan_empty warning, exit 0, nothing sent."""
    with emulator_on_loopback() as served:
        run = worker(["delete", "-"], cloud_env(served.url), stdin="# nothing today\n\n")
        deletes = served.emulator.stats.requests_by_route["delete"]
    assert run.code == 0
    (empty,) = run.named("plan_empty")
    assert empty["level"] == "warning"
    assert deletes == 0


# -- issue 14: never wait without a deadline -------------------------------------------------------------------


BUDGET_FLAGS = ["--retry-cap", "0.2", "--request-timeout", "0.5"]
BUDGET_BOUND_S = 0.2 + 0.5 + 0.5 + 3.0  # the preflight budget, one request in the air at its end, start-up


@pytest.mark.parametrize("cloud", ["closed port", "html 200"])
def test_dry_run_against_a_dead_or_garbage_endpoint_ends_within_the_budget(cloud: str,
                                                                          worker: Callable[..., Run]) -> None:
    """A dry run obeys the preflight budget: a refused connection or a 200 with HTML is exit 1, soon."""
    plan = text_plan([(new_id(), new_id())]) + f"{new_id()}\n"
    started = time.monotonic()
    if cloud == "closed port":
        url = closed_port()
        run = worker(["delete", "--dry-run", "-", *BUDGET_FLAGS], cloud_env(url), stdin=plan)
    else:
        with LoopbackApp(html_200) as app:
            url = app.url
            run = worker(["delete", "--dry-run", "-", *BUDGET_FLAGS], cloud_env(url), stdin=plan)
    took = time.monotonic() - started
    assert run.code == 1
    assert took < BUDGET_BOUND_S
    assert url in run.named("run_failed")[0]["reason"]


def test_dry_run_obeys_sigterm(tmp_path: Path) -> None:
    """A dry run against a server that never answers stops on SIGTERM with exit 4."""
    plan = tmp_path / "plan.txt"
    plan.write_text(f"{new_id()}\n", encoding="utf-8")
    with hanging_server() as server:
        process = spawn(["delete", "--dry-run", str(plan), "--request-timeout", "60", "--retry-cap", "60"],
                        cloud_env(server.url))
        wait_for(lambda: bool(server.requests))
        took, rest = stop_and_time(process)
    assert process.returncode == 4, rest[-2000:]
    assert took < STOPPED_SOON_S


def test_dry_run_of_a_record_whose_listing_fails_ends_within_the_budget(worker: Callable[..., Run]) -> None:
    """After a good preflight, a dry run's record listings that keep failing end within the budget each."""
    faults = (FaultRule("list", "503"),)
    with emulator_on_loopback(faults=faults) as served:
        records = [new_id() for _ in range(3)]
        started = time.monotonic()
        run = worker(["delete", "--dry-run", "-", *BUDGET_FLAGS], cloud_env(served.url),
                     stdin="".join(f"{r}\n" for r in records))
        took = time.monotonic() - started
    assert run.code == 0
    assert took < 3 * (0.2 + 0.5) + 3.0
    assert all("could not be listed" in line for line in run.stdout.splitlines())


def test_timed_out_records_on_a_dead_cloud_still_end_within_the_settings(worker: Callable[..., Run],
                                                                         write_plan: Callable[..., str]) -> None:
    """Whole-record tasks that time out while every listing fails (the looks that decide whether a held
    slot may be freed included), with more tasks waiting: the run ends within a bound of its settings."""
    records = [new_id() for _ in range(7)]
    faults = (FaultRule("list", "503", after=2), FaultRule("get_item", "503"))
    task_timeout, budget = 1.0, 0.2 + 0.5
    with emulator_on_loopback(faults=faults) as served:
        for record in records:
            seed_items(served, 1, checkpoint_id=record)
        started = time.monotonic()
        run = worker(["delete", write_plan("".join(f"{r}\n" for r in records), "plan.txt"),
                      "--task-timeout", str(task_timeout), *BUDGET_FLAGS], cloud_env(served.url))
        took = time.monotonic() - started
    # two rounds of slots, each: the task timeout, then the hold of its slot (as long again) and one look
    assert took < 2 * (2 * task_timeout + 2 * budget) + 3.0
    assert run.code == 1
    assert run.report is not None
    assert run.report["counts"]["deleted"] == run.report["counts"]["already_absent"] == 0
    assert run.report["counts"]["failed"] == 0


@pytest.mark.parametrize("delay_s", [0.0, 0.05, 0.1, 0.15, 0.2, 0.3])
def test_sigterm_right_at_the_start_logs_and_exits_4(delay_s: float, tmp_path: Path) -> None:
    """SIGTERM in the first instants of a run: exit 4 with a log line and the report, never a silent death
    once the worker's code runs (the interpreter's own start-up, before any of it, is out of its reach)."""
    report = tmp_path / "report.json"
    plan = tmp_path / "plan.txt"
    plan.write_text(text_plan([(new_id(), new_id())]), encoding="utf-8")
    with hanging_server() as server:
        process = spawn(["delete", str(plan), "--report", str(report)], cloud_env(server.url))
        time.sleep(delay_s)
        _, rest = stop_and_time(process, timeout_s=15)
    if process.returncode == -signal.SIGTERM:  # died inside the interpreter's start-up
        assert delay_s < 0.1, "a SIGTERM after the start-up killed the worker silently"
        return
    assert process.returncode == 4, rest[-2000:]
    assert any(e["event"] == "run_summary" and e["exit_code"] == 4 for e in events_of(rest))
    assert json.loads(report.read_text(encoding="utf-8"))["exit_code"] == 4


# -- issue 14: secrets in what the server says -----------------------------------------------------------------


async def echo_token_500(request: web.Request) -> web.Response:
    """A gateway that puts the caller's credentials into its error message."""
    echoed = f"upstream refused token {request.headers.get('X-Auth-Token')} from {request.remote}"
    return web.json_response({"error_code": "APIGW.0500", "error_msg": echoed}, status=500)


def test_a_token_echoed_in_error_bodies_is_never_shown(worker: Callable[..., Run]) -> None:
    """A gateway answering 500 with the X-Auth-Token in error_msg: the retries and the run's error are
    logged, the token nowhere (stderr, report)."""
    with LoopbackApp(echo_token_500) as app:
        run = worker(["delete", "-", *BUDGET_FLAGS], cloud_env(app.url), stdin=text_plan([(new_id(), new_id())]))
        answered = len(app.requests)
    assert answered >= 1
    assert run.code == 1
    assert run.named("request_retry") and all("***" in e["error_msg"] for e in run.named("request_retry"))
    assert "***" in run.named("run_failed")[0]["reason"]
    assert TOKEN not in run.stderr
    assert run.report is not None and TOKEN not in json.dumps(run.report)


def test_a_token_echoed_by_a_refused_delete_is_not_in_the_report(worker: Callable[..., Run]) -> None:
    """Through a proxy that answers DELETE 400 with the token in error_msg (and passes the rest on to the
    emulator), the failed task's message in the report and the logs is masked."""
    with emulator_on_loopback() as served:
        pairs = seed_items(served, 2)

        async def proxy(request: web.Request) -> web.Response:
            token = request.headers.get("X-Auth-Token", "")
            if request.method == "DELETE":
                return web.json_response({"error_code": "CSBS.1234", "error_msg": f"bad request, token {token}"},
                                         status=400)
            async with ClientSession() as session, session.request(
                    request.method, served.url + request.path_qs, headers={"X-Auth-Token": token}) as answer:
                return web.Response(status=answer.status, body=await answer.read(),
                                    content_type=answer.content_type, headers={"Date": answer.headers["Date"]})

        with LoopbackApp(proxy) as app:
            run = worker(["delete", "-"], cloud_env(app.url), stdin=text_plan(pairs))
    assert run.code == 1
    assert set(run.outcomes().values()) == {"failed"}
    assert run.report is not None
    assert all(r["error_message"] == "bad request, token ***" for r in run.report["results"])
    assert TOKEN not in run.stderr and TOKEN not in json.dumps(run.report)
    assert PROJECT in run.stderr  # the project id is no secret: masking is by value, not by accident
