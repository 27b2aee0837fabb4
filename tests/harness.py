"""Run the real command line against an emulator served on loopback from a thread of its own.

The CLI runs in the test's main thread (so signal handlers and ``asyncio.run`` work as in production);
the emulator runs in a second thread with its own event loop and a real TCP socket on 127.0.0.1. The
worker can also run as users run it, in a process of its own (``spawn``), to receive signals.

Loopback servers of the tests' own stand where a cloud misbehaves beyond what the emulators do: a closed
port, a server that never answers, an aiohttp app (``LoopbackApp``), a gateway in front of an emulator
(``GatewayProxy``) and the fake Pushgateway of tests/metrics (``gateway_in_thread``).
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractAsyncContextManager, contextmanager
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from aiohttp import ClientSession, web

from worker.cli import main
from worker.emulator import Emulator, Scenario, serve
from worker.emulator.cbr import CbrEmulator, CbrScenario
from worker.emulator.cbr import serve as serve_cbr

if TYPE_CHECKING:
    from tests.metrics.gateway import FakePushgateway

PROJECT = "0123456789abcdef0123456789abcdef"
TOKEN = "test-token-aaaabbbbccccdddd"
CSBS_PROVIDER = "fc4d5750-22e7-4798-8a46-f48f62c4c1da"  # the provider id a CSBS DELETE path carries

# Poll and retry timings scaled down for tests: a deletion of 0.05-0.3 s is watched like one of minutes.
FAST = {
    "poll_first": "0.05", "poll_min": "0.02", "poll_max": "0.2", "lag_window": "0.5",
    "retry_base": "0.01", "retry_cap": "0.05", "progress_interval": "30", "max_rps": "1000",
    "request_timeout": "5",
}


class _Served:
    """Something served on 127.0.0.1 (port 0) from a daemon thread until ``close``."""

    def __init__(self) -> None:
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._loop.run_until_complete, args=(self._serve(),), daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the emulator did not start")

    def _open(self) -> AbstractAsyncContextManager[str]:
        raise NotImplementedError

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        async with self._open() as url:
            self.url = url
            self._ready.set()
            await self._stop.wait()

    def call(self, function: Any, *args: Any, **kwargs: Any) -> Any:
        """Run ``function`` on the emulator's thread (its state is not shared across threads)."""
        async def run() -> Any:
            return function(*args, **kwargs)
        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(10)

    def close(self) -> None:
        assert self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


class ServedEmulator(_Served):
    """A CSBS emulator serving on 127.0.0.1 (port 0) from a daemon thread until ``close``."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        super().__init__()

    def _open(self) -> AbstractAsyncContextManager[str]:
        return serve(self.emulator, host="127.0.0.1", port=0)


class ServedCbrEmulator(_Served):
    """A CBR emulator serving on 127.0.0.1 (port 0) from a daemon thread until ``close``."""

    def __init__(self, emulator: CbrEmulator) -> None:
        self.emulator = emulator
        super().__init__()

    def _open(self) -> AbstractAsyncContextManager[str]:
        return serve_cbr(self.emulator, host="127.0.0.1", port=0)


@contextmanager
def emulator_on_loopback(seed: int = 1, **scenario: Any) -> Iterator[ServedEmulator]:
    """An emulator of project PROJECT accepting TOKEN, with fast deletions unless told otherwise."""
    settings: dict[str, Any] = {"project_id": PROJECT, "tokens": {TOKEN: "user-1"}, "delete_duration_s": (0.05, 0.3)}
    settings.update(scenario)
    served = ServedEmulator(Emulator(Scenario(**settings), seed=seed))
    try:
        yield served
    finally:
        served.close()


@contextmanager
def cbr_emulator_on_loopback(seed: int = 1, **scenario: Any) -> Iterator[ServedCbrEmulator]:
    """A CBR emulator of project PROJECT accepting TOKEN, with fast deletions unless told otherwise."""
    settings: dict[str, Any] = {"project_id": PROJECT, "tokens": {TOKEN: "user-1"}, "delete_duration_s": (0.05, 0.3)}
    settings.update(scenario)
    served = ServedCbrEmulator(CbrEmulator(CbrScenario(**settings), seed=seed))
    try:
        yield served
    finally:
        served.close()


@dataclass
class Run:
    """What a user sees of one run: exit code, stdout, the JSON log events and the report."""

    code: int
    stdout: str
    events: list[dict[str, Any]]
    report: dict[str, Any] | None = None
    stderr: str = ""

    def named(self, event: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("event") == event]

    def outcomes(self) -> dict[str | None, str]:
        """Task outcome by item id (or checkpoint id for whole records), from the report."""
        assert self.report is not None
        return {r["checkpoint_item"] or r["checkpoint_id"]: r["outcome"] for r in self.report["results"]}


def cloud_env(url: str, token: str = TOKEN) -> dict[str, str]:
    return {"CSBS_ENDPOINT": url, "CSBS_PROJECT_ID": PROJECT, "CSBS_AUTH_TOKEN": token}


def run_worker(argv: list[str], env: Mapping[str, str], monkeypatch: Any, capsys: Any, *,
               stdin: str | None = None, report: str | None = None, fast: bool = True) -> Run:
    """Run ``csbs-worker ARGV`` in-process with ``env`` as the only CSBS_/HUAWEICLOUD_ environment."""
    for name in list(os.environ):
        if name.startswith(("CSBS_", "HUAWEICLOUD_")):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    if fast:
        for key, value in FAST.items():
            monkeypatch.setenv("CSBS_" + key.upper(), value)
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin or ""))
    full = [*argv, "--log-format", "json"]
    if report is not None:
        full += ["--report", report]
    code = main(full)
    captured = capsys.readouterr()
    events = [json.loads(line) for line in captured.err.splitlines() if line.startswith("{")]
    loaded = None
    if report is not None and os.path.exists(report):
        with open(report, encoding="utf-8") as handle:
            loaded = json.load(handle)
    return Run(code, captured.out, events, loaded, captured.err)


def new_id() -> str:
    return str(uuid.uuid4())


# -- the worker in a process of its own (signals) -----------------------------------------------------------


def spawn(argv: list[str], env: Mapping[str, str], *, stdin: int | IO[Any] | None = subprocess.DEVNULL,
          fast: bool = True, stderr: int = subprocess.PIPE) -> subprocess.Popen[str]:
    """``python -m worker ARGV --log-format json`` with ``env`` as its only CSBS_/HUAWEICLOUD_ environment;
    ``stderr=subprocess.STDOUT`` sends the log lines down stdout's pipe (``2>&1``)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("CSBS_", "HUAWEICLOUD_"))}
    if fast:
        full_env.update({"CSBS_" + key.upper(): value for key, value in FAST.items()})
    full_env.update(env)
    return subprocess.Popen([sys.executable, "-m", "worker", *argv, "--log-format", "json"], env=full_env,
                            stdin=stdin, stdout=subprocess.PIPE, stderr=stderr, text=True)


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


# -- loopback servers of the tests' own ----------------------------------------------------------------------


def closed_port() -> str:
    """The URL of a loopback port nothing listens on (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@contextmanager
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


async def html_200(_: web.Request) -> web.Response:
    """Garbage where JSON belongs: a portal's login page, answered 200."""
    return web.Response(status=200, text="<html><body>Welcome</body></html>", content_type="text/html")


@contextmanager
def gateway_in_thread() -> Iterator[FakePushgateway]:
    """The fake Pushgateway of tests/metrics, served from a thread of its own."""
    from tests.metrics.gateway import fake_pushgateway

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


# -- an API gateway in front of an emulator ------------------------------------------------------------------

GATEWAY_MESSAGE = "The API does not exist or has not been published in the environment."
GATEWAY_PAGE = ("<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n<center><h1>404 Not Found</h1>"
                "</center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")


def gateway_404(kind: str = "apigw") -> web.Response:
    """The API gateway's 404 for an API it does not have (never "gone"): ``apigw`` (APIGW.0101), ``apig``
    (APIG.0101) or ``html`` (an nginx page)."""
    if kind == "html":
        return web.Response(status=404, text=GATEWAY_PAGE, content_type="text/html")
    code = "APIGW.0101" if kind == "apigw" else "APIG.0101"
    return web.json_response({"error_code": code, "error_msg": GATEWAY_MESSAGE}, status=404)


def path_kind(path: str) -> str:
    """What a request is about, for either service: ``backup`` (one backup: its GET or DELETE; a CSBS
    record's DELETE too), ``backups`` (the listing), ``count`` (CSBS), ``vaults``/``vault``,
    ``operation-logs`` (CBR), ``auth`` or ``other``."""
    parts = path.strip("/").split("/")
    if parts[:3] == ["v3", "auth", "tokens"]:
        return "auth"
    if len(parts) >= 3 and parts[0] == "v1":  # CSBS: /v1/{project}/checkpoint_items[/{id}|/count], .../providers/
        if parts[2] == "checkpoint_items":
            return "backups" if len(parts) == 3 else ("count" if parts[3] == "count" else "backup")
        return "backup" if parts[2] == "providers" else "other"
    if len(parts) >= 3 and parts[0] == "v3":  # CBR: /v3/{project}/backups[/{id}], vaults, operation-logs
        return parts[2] if len(parts) == 3 else parts[2].rstrip("s")
    return "other"


class GatewayProxy:
    """A loopback gateway in front of a served emulator (either service): it forwards every request unless
    ``answer`` says otherwise (``answer(method, path_kind, n)`` gets the 1-based count of requests so far of
    that method and path kind, and returns a response to send instead, or None)."""

    def __init__(self, upstream: str, answer: Callable[[str, str, int], Any]) -> None:
        self.seen: Counter[tuple[str, str]] = Counter()
        sessions: list[ClientSession] = []
        self._sessions = sessions

        async def handle(request: web.Request) -> web.StreamResponse:
            kind = path_kind(request.path)
            self.seen[(request.method, kind)] += 1
            replaced = answer(request.method, kind, self.seen[(request.method, kind)])
            if replaced is not None:
                return replaced  # type: ignore[no-any-return]
            if not sessions:
                sessions.append(ClientSession())
            body = await request.read()
            headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
            async with sessions[0].request(request.method, upstream + request.path_qs, headers=headers,
                                           data=body or None) as reply:
                data = await reply.read()
                kept = {k: v for k, v in reply.headers.items()
                        if k.lower() in ("content-type", "x-request-id", "retry-after", "date", "x-subject-token")}
                return web.Response(status=reply.status, body=data, headers=kept)

        self.app = LoopbackApp(handle)

    def __enter__(self) -> GatewayProxy:
        self.app.__enter__()
        return self

    def __exit__(self, *_: object) -> None:
        for session in self._sessions:  # closed on the proxy's own loop, before it stops
            asyncio.run_coroutine_threadsafe(session.close(), self.app._loop).result(5)
        self.app.__exit__()

    @property
    def url(self) -> str:
        return self.app.url
