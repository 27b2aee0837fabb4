"""Run the real command line against an emulator served on loopback from a thread of its own.

The CLI runs in the test's main thread (so signal handlers and ``asyncio.run`` work as in production);
the emulator runs in a second thread with its own event loop and a real TCP socket on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import io
import json
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import AbstractAsyncContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

from worker.cli import main
from worker.emulator import Emulator, Scenario, serve
from worker.emulator.cbr import CbrEmulator, CbrScenario
from worker.emulator.cbr import serve as serve_cbr

PROJECT = "0123456789abcdef0123456789abcdef"
TOKEN = "test-token-aaaabbbbccccdddd"

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
    import os

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
