"""Issue 9 end to end: outcomes a pipeline can trust when the endpoint or the cloud misbehaves.

Wrong endpoints, gateway 404s mid-run, an unreachable cloud, fresh and stale failures, deletions left
running by a crashed run, every error shape and the odd readings of a real CSBS: each is run through the
real CLI against the emulator (or a loopback server of the test's own) and judged by what a user sees:
exit code, report, log events and the calls the cloud received.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.delete.conftest import new_id
from tests.delete.test_faults import delete_now
from tests.delete.test_outcomes import seed_items, text_plan
from tests.harness import Run, cloud_env, emulator_on_loopback
from tests.metrics.gateway import FakePushgateway, fake_pushgateway
from worker.emulator import FaultRule, OddStatus
from worker.emulator.errors import ERROR_SHAPES

# -- loopback servers of the tests' own ------------------------------------------------------------------------


def closed_port() -> str:
    """The URL of a loopback port nothing listens on (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@contextlib.contextmanager
def silent_server() -> Iterator[str]:
    """A loopback TCP server that accepts connections (the kernel's backlog) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


class LoopbackApp:
    """An aiohttp application served on 127.0.0.1 from a thread of its own (the CLI owns the main thread)."""

    def __init__(self, handler: Callable[[web.Request], Any]) -> None:
        self.url = ""
        self.requests: list[tuple[str, str]] = []
        self._handler = handler
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._loop.run_until_complete, args=(self._serve(),), daemon=True)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append((request.method, request.path))
        answer: web.StreamResponse = await self._handler(request)
        return answer

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
        self._ready.set()
        await self._stop.wait()
        await runner.cleanup()

    def __enter__(self) -> LoopbackApp:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the loopback server did not start")
        return self

    def __exit__(self, *_: object) -> None:
        assert self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


async def html_200(_: web.Request) -> web.Response:
    """Garbage where JSON belongs: a portal's login page, answered 200."""
    return web.Response(status=200, text="<html><body>Welcome</body></html>", content_type="text/html")


@contextlib.contextmanager
def gateway_in_thread() -> Iterator[FakePushgateway]:
    """The fake Pushgateway of tests/metrics, served from a thread of its own."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    stop = asyncio.Event()
    box: list[FakePushgateway] = []

    async def serve() -> None:
        async with fake_pushgateway() as fake:
            box.append(fake)
            ready.set()
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(10), "the fake Pushgateway did not start"
    try:
        yield box[0]
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)


def errors_logged(run: Run) -> list[dict[str, Any]]:
    return [e for e in run.events if e.get("level") == "error"]


def policy_file(tmp_path: Path) -> str:
    path = tmp_path / "policy.yaml"
    path.write_text("keep:\n  last: 1\n", encoding="utf-8")
    return str(path)


# -- 1. a 404 is "gone" only when the service says so -------------------------------------------------------------


@pytest.mark.parametrize("gateway", ["apigw", "apig", "html"])
def test_wrong_endpoint_aborts_before_any_delete(gateway: str, worker: Callable[..., Run]) -> None:
    """An endpoint that answers every call with the gateway's 404: exit 3, no DELETE, every task
    not_attempted, and one error event naming the endpoint and saying it serves no CSBS API."""
    with emulator_on_loopback(gateway_404=gateway) as served:
        pairs = seed_items(served, 3)
        run = worker(["delete", "-"], cloud_env(served.url), stdin=text_plan(pairs))
        deletes = served.emulator.stats.requests_by_route["delete"]
    assert run.code == 3
    assert deletes == 0
    assert run.report is not None and set(run.outcomes().values()) == {"not_attempted"}
    (error,) = errors_logged(run)
    assert served.url in error["reason"] and "serves no CSBS API" in error["reason"]


@pytest.mark.parametrize("gateway", ["apigw", "html"])
def test_plan_on_a_wrong_endpoint_prints_nothing(gateway: str, worker: Callable[..., Run], tmp_path: Path) -> None:
    """`csbs-worker plan` against a gateway that serves no CSBS API: exit 3 and nothing on stdout."""
    with emulator_on_loopback(gateway_404=gateway) as served:
        seed_items(served, 3)
        run = worker(["plan", "--policy", policy_file(tmp_path)], cloud_env(served.url), report=None)
    assert run.code == 3
    assert run.stdout == ""
    (error,) = errors_logged(run)
    assert served.url in error["reason"] and "serves no CSBS API" in error["reason"]


@pytest.mark.parametrize("kind", ["404-apigw", "404-apig", "404-html"])
def test_gateway_404_mid_run_is_never_gone(kind: str, worker: Callable[..., Run], write_plan: Callable[..., str]
                                           ) -> None:
    """After a good preflight every look answers the gateway's 404: no task is deleted or already_absent
    (they time out), whole records included."""
    record = new_id()
    faults = (FaultRule("get_item", kind), FaultRule("list", kind, after=2))  # adoption's two listings pass
    with emulator_on_loopback(faults=faults) as served:
        pairs = seed_items(served, 3)
        seed_items(served, 2, checkpoint_id=record)
        plan = write_plan(text_plan(pairs) + f"{record}\n", "plan.txt")
        run = worker(["delete", plan, "--task-timeout", "1", "--request-timeout", "1"], cloud_env(served.url))
    assert run.code == 1
    assert set(run.outcomes().values()) == {"timed_out"}
    assert run.named("task_deleted") == [] and run.named("task_already_absent") == []


def test_gateway_404_that_stops_gives_deleted_never_already_absent(worker: Callable[..., Run]) -> None:
    """A gateway that loses the API for a while: the tasks end deleted once the service answers again."""
    with emulator_on_loopback(faults=(FaultRule("get_item", "404-apigw", times=12),)) as served:
        pairs = seed_items(served, 4)
        run = worker(["delete", "-"], cloud_env(served.url), stdin=text_plan(pairs))
        fired = served.emulator.stats.faults_by_kind["404-apigw"]
    assert fired == 12
    assert run.code == 0
    assert set(run.outcomes().values()) == {"deleted"}


def test_gateway_404_on_delete_is_not_already_absent(worker: Callable[..., Run]) -> None:
    """A DELETE answered with the gateway's 404 is retried: the backup is not reported absent."""
    with emulator_on_loopback(faults=(FaultRule("delete", "404-html", times=2),)) as served:
        pairs = seed_items(served, 2)
        run = worker(["delete", "-"], cloud_env(served.url), stdin=text_plan(pairs))
        left = [item for _, item in pairs if served.emulator.item(item) is not None]
    assert run.code == 0
    assert set(run.outcomes().values()) == {"deleted"}
    assert left == []


# -- 2. an unreachable cloud ends the run soon, with nothing claimed ------------------------------------------------


UNREACHABLE_FLAGS = ["--retry-cap", "0.2", "--request-timeout", "0.5", "--task-timeout", "60"]
UNREACHABLE_BOUND_S = 0.2 + 0.5 + 0.5 + 3.0  # the budget, one request in the air at its end, start-up


@pytest.mark.parametrize("where", ["closed port", "silent server"])
def test_unreachable_cloud_ends_within_the_preflight_budget(where: str, worker: Callable[..., Run]) -> None:
    """Refused or never answered: exit 1 once retry_cap + request_timeout are spent (not the task timeout),
    every task not_attempted, metrics pushed, and one error event naming the endpoint and the last error."""
    pairs = [(new_id(), new_id()) for _ in range(3)]
    with contextlib.ExitStack() as stack:
        url = closed_port() if where == "closed port" else stack.enter_context(silent_server())
        gateway = stack.enter_context(gateway_in_thread())
        started = time.monotonic()
        run = worker(["delete", "-", *UNREACHABLE_FLAGS, "--pushgateway", gateway.url], cloud_env(url),
                     stdin=text_plan(pairs))
        took = time.monotonic() - started
    assert run.code == 1
    assert took < UNREACHABLE_BOUND_S
    assert run.report is not None
    assert set(run.outcomes().values()) == {"not_attempted"} and len(run.outcomes()) == 3
    assert run.report["exit_code"] == 1
    (error,) = errors_logged(run)
    assert url in error["reason"] and "last error" in error["reason"]
    (pushed,) = [r for r in gateway.requests if r.method in ("POST", "PUT")]
    samples = pushed.samples()
    assert samples[("csbs_worker_run_exit_code", ())] == 1
    assert samples[("csbs_worker_run_tasks", (("outcome", "not_attempted"),))] == 3


# -- 3. a fresh failure at once, a stale one never -------------------------------------------------------------------


def test_fresh_failure_is_failed_without_waiting_for_the_lag_window(worker: Callable[..., Run]) -> None:
    """A deletion that ends in error right after our DELETE is failed at the first look that shows it,
    long before a lag window of 30 s."""
    pairs = [(new_id(), new_id()) for _ in range(3)]
    failing = pairs[0][1]
    with emulator_on_loopback(fail_items=frozenset({failing})) as served:
        for checkpoint, item in pairs:
            served.emulator.add_item(checkpoint_id=checkpoint, item_id=item)
        started = time.monotonic()
        run = worker(["delete", "-", "--lag-window", "30"], cloud_env(served.url), stdin=text_plan(pairs))
        took = time.monotonic() - started
    assert run.code == 1
    assert run.outcomes()[failing] == "failed"
    assert [run.outcomes()[item] for _, item in pairs[1:]] == ["deleted", "deleted"]
    assert took < 10


@pytest.mark.parametrize("how", ["add_item", "scenario"])
def test_stale_failure_seen_through_the_status_lag_never_fails(how: str, worker: Callable[..., Run]) -> None:
    """A backup left in error by an earlier failed deletion, still shown so for 1.5 s after our DELETE:
    never failed, deleted in the end."""
    pairs = [(new_id(), new_id()) for _ in range(3)]
    stale = frozenset(item for _, item in pairs) if how == "scenario" else frozenset()
    with emulator_on_loopback(status_lag_s=1.5, stale_failed_items=stale) as served:
        for checkpoint, item in pairs:
            served.emulator.add_item(checkpoint_id=checkpoint, item_id=item, stale_delete_failure=how == "add_item")
        assert {served.emulator.item(item)["status"] for _, item in pairs} == {"error"}  # type: ignore[index]
        run = worker(["delete", "-", "--lag-window", "3"], cloud_env(served.url), stdin=text_plan(pairs))
    assert run.code == 0, run.report
    assert set(run.outcomes().values()) == {"deleted"}
    assert run.named("task_failed") == []


# -- 4. deletions left running by a crashed run count against the five -------------------------------------------


def test_crashed_runs_deletions_are_adopted_and_count_against_the_five(worker: Callable[..., Run]) -> None:
    """A crashed run left five deletions running; the plan, made again in another order, never puts more
    than five outstanding at the provider, and the five get no new DELETE."""
    with emulator_on_loopback(delete_duration_s=(0.6, 0.9)) as served:
        pairs = seed_items(served, 12)
        crashed = pairs[:5]
        for checkpoint, item in crashed:
            delete_now(served, checkpoint, item)
        run = worker(["delete", "-"], cloud_env(served.url), stdin=text_plan(list(reversed(pairs))))
        stats = served.emulator.stats
        high = max(stats.max_outstanding.values())
        sent = dict(stats.deletes_by_target)
    assert run.code == 0
    assert set(run.outcomes().values()) == {"deleted"}
    assert high <= 5
    assert all(sent[item] == 1 for _, item in crashed)  # only the crashed run's
    assert run.named("deletions_in_progress")[0]["adopted"] == 5
    assert {e["checkpoint_item"] for e in run.named("task_adopted")} == {item for _, item in crashed}


# -- 5. shapes the client must read ----------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", ERROR_SHAPES)
@pytest.mark.parametrize("id_in_body", [False, True])
def test_error_shapes_and_request_ids_are_read(shape: str, id_in_body: bool, worker: Callable[..., Run]) -> None:
    """Every error body shape: a refused DELETE is failed with its code and request id, a finished deletion
    is seen as such (the openstack shape carries no CSBS code, so only the lingering ``deleted`` status can
    say a backup is gone there)."""
    image = new_id()
    gone_mode = "deleted" if shape == "openstack" else "404"
    with emulator_on_loopback(error_shape=shape, request_id_in_body=id_in_body, image_items=frozenset({image}),
                              gone_mode=gone_mode) as served:
        pairs = seed_items(served, 2)
        record = pairs[0][0]
        served.emulator.add_item(checkpoint_id=record, item_id=image)
        run = worker(["delete", "-"], cloud_env(served.url), stdin=text_plan([*pairs, (record, image)]))
    assert run.code == 1
    assert run.outcomes() == {pairs[0][1]: "deleted", pairs[1][1]: "deleted", image: "failed"}
    assert run.report is not None
    (refused,) = [r for r in run.report["results"] if r["checkpoint_item"] == image]
    assert refused["error_code"] == ("400" if shape == "openstack" else "CSBS.8007")
    assert refused["http_status"] == 400
    assert isinstance(refused["request_id"], str) and len(refused["request_id"]) >= 16
    (failed,) = run.named("task_failed")
    assert failed["error_code"] == refused["error_code"] and failed["request_id"] == refused["request_id"]


@pytest.mark.parametrize("progress_format", ["float", "string"])
def test_progress_as_float_or_string(progress_format: str, worker: Callable[..., Run]) -> None:
    """``extend_info.progress`` as 42.0 or "42" is read: progress shows in the running events, all deleted."""
    with emulator_on_loopback(progress_format=progress_format, delete_duration_s=(0.5, 0.7)) as served:
        pairs = seed_items(served, 3)
        run = worker(["delete", "-"], cloud_env(served.url), stdin=text_plan(pairs))
    assert run.code == 0
    assert set(run.outcomes().values()) == {"deleted"}
    progress = [e["progress"] for e in run.named("task_running") if e.get("progress") is not None]
    assert progress and all(isinstance(p, int) and 0 <= p <= 100 for p in progress)


def test_numeric_fail_code_is_reported_as_text(worker: Callable[..., Run]) -> None:
    """``fail_code.Code`` as a number: the report's error_code is still a string."""
    failing = new_id()
    with emulator_on_loopback(fail_items=frozenset({failing}), fail_code_numeric=True) as served:
        served.emulator.add_item(checkpoint_id=new_id(), item_id=failing)
        run = worker(["delete", "-"], cloud_env(served.url),
                     stdin=text_plan([(served.emulator.item(failing)["checkpoint_id"], failing)]))  # type: ignore[index]
    assert run.code == 1
    assert run.report is not None
    (result,) = run.report["results"]
    assert result["outcome"] == "failed"
    assert isinstance(result["error_code"], str) and result["error_code"]


def test_odd_status_is_followed_to_the_end(worker: Callable[..., Run]) -> None:
    """A backup shown as ``error-deleting`` while it is deleted: logged once with the status, followed, and
    deleted (never re-sent as if untouched)."""
    pairs = [(new_id(), new_id()) for _ in range(2)]
    odd = pairs[0][1]
    with emulator_on_loopback(delete_duration_s=(0.5, 0.7), odd_status=OddStatus(items=frozenset({odd}))) as served:
        for checkpoint, item in pairs:
            served.emulator.add_item(checkpoint_id=checkpoint, item_id=item)
        run = worker(["delete", "-"], cloud_env(served.url), stdin=text_plan(pairs))
        sent = served.emulator.stats.deletes_by_target[odd]
    assert run.code == 0
    assert set(run.outcomes().values()) == {"deleted"}
    assert sent == 1
    (unknown,) = run.named("task_status_unknown")
    assert unknown["status"] == "error-deleting" and unknown["checkpoint_item"] == odd


def test_odd_status_that_persists_is_timed_out_naming_the_status(worker: Callable[..., Run]) -> None:
    """A stuck deletion that keeps showing an unknown status ends timed_out with the status in its message."""
    stuck = new_id()
    with emulator_on_loopback(stuck_items=frozenset({stuck}), odd_status=OddStatus(items=frozenset({stuck}))
                              ) as served:
        served.emulator.add_item(checkpoint_id=new_id(), item_id=stuck)
        checkpoint = served.emulator.item(stuck)["checkpoint_id"]  # type: ignore[index]
        run = worker(["delete", "-", "--task-timeout", "1"], cloud_env(served.url),
                     stdin=text_plan([(checkpoint, stuck)]))
        sent = served.emulator.stats.deletes_by_target[stuck]
    assert run.code == 1
    assert run.report is not None
    (result,) = run.report["results"]
    assert result["outcome"] == "timed_out"
    assert "error-deleting" in result["error_message"]
    assert sent == 1
    assert len(run.named("task_status_unknown")) == 1


@pytest.mark.parametrize("mode", ["404", "page"])
def test_vanished_marker_never_makes_a_record_gone(mode: str, worker: Callable[..., Run],
                                                   write_plan: Callable[..., str]) -> None:
    """A whole record of 1,001 backups (two pages) whose page-one marker is deleted between the pages:
    the record is not read as gone while its other backups exist; it ends deleted with nothing left."""
    record = new_id()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    # Adoption lists waiting_delete (1 page) and deleting (2 pages); the task's first look is the 4th and
    # 5th list request: the 5th (page two, after the marker) waits 2 s, while the marker's deletion ends.
    slow_page_two = FaultRule("list", "slow", after=4, times=1, delay_s=2.0)
    with emulator_on_loopback(vanished_marker=mode, faults=(slow_page_two,), delete_duration_s=(1.5, 1.5)) as served:
        ids = []
        for n in range(1001):
            item = new_id()
            served.emulator.add_item(checkpoint_id=record, item_id=item,
                                     created_at=(start + timedelta(minutes=n)).strftime("%Y-%m-%dT%H:%M:%S.%f"))
            ids.append(item)
        marker = ids[1]  # newest first: page one ends with the second oldest
        delete_now(served, record, marker)  # a crashed run's deletion of that one backup
        run = worker(["delete", write_plan(f"{record}\n", "plan.txt")], cloud_env(served.url))
        left = served.emulator.items(checkpoint_id=record)
        slowed = served.emulator.stats.faults_by_kind["slow"]
    assert slowed == 1
    assert run.outcomes() == {record: "deleted"}
    assert left == []
    if mode == "404":
        assert run.named("csbs_listing_restarted")
