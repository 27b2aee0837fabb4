"""Fixtures and helpers of the CBR delete tests: the CLI runner, plans written to files, seeding, counts."""

from __future__ import annotations

import urllib.request
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from tests.harness import PROJECT, TOKEN, Run, ServedCbrEmulator, run_worker

CBR = ["--service", "cbr"]
ZERO_COUNTS = {"deleted": 0, "already_absent": 0, "failed": 0, "timed_out": 0, "not_attempted": 0}


def new_id() -> str:
    return str(uuid.uuid4())


def seed(served: ServedCbrEmulator, count: int, **backup: Any) -> list[str]:
    """``count`` backups (manual, in vault ``default`` unless told otherwise); returns their ids."""
    return [str(served.emulator.add_backup(**backup)["id"]) for _ in range(count)]


def text_plan(ids: Iterable[str]) -> str:
    return "".join(f"{backup_id}\n" for backup_id in ids)


def deletes(served: ServedCbrEmulator) -> int:
    """DELETEs the emulator received, refused and faulted ones included."""
    return sum(served.emulator.stats.deletes_by_target.values())


def high_water(served: ServedCbrEmulator) -> int:
    """The most deletions outstanding (waiting + running) for any user at once."""
    return max(served.emulator.stats.max_outstanding.values(), default=0)


def delete_now(served: ServedCbrEmulator, backup_id: str, token: str = TOKEN) -> None:
    """Send a DELETE before the run, as an interrupted earlier run would have."""
    request = urllib.request.Request(f"{served.url}/v3/{PROJECT}/backups/{backup_id}", method="DELETE",
                                     headers={"X-Auth-Token": token})
    with urllib.request.urlopen(request, timeout=5) as answer:
        assert answer.status == 204


def by_backup(run: Run) -> dict[str, dict[str, Any]]:
    """The report's rows by backup id."""
    assert run.report is not None
    return {row["backup_id"]: row for row in run.report["results"]}


def outcomes(run: Run) -> dict[str, str]:
    """Task outcome by backup id, from the report."""
    return {backup_id: row["outcome"] for backup_id, row in by_backup(run).items()}


@pytest.fixture
def write_plan(tmp_path: Path) -> Callable[..., str]:
    """Write a plan text to a file and return its path."""
    def write(text: str, name: str = "plan.yaml") -> str:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return str(path)
    return write


@pytest.fixture
def worker(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
           tmp_path: Path) -> Callable[..., Run]:
    """Run the CLI in-process; the report goes to a temp file and is loaded."""
    def run(argv: list[str], env: dict[str, str], **kwargs: Any) -> Run:
        kwargs.setdefault("report", str(tmp_path / "report.json"))
        return run_worker(argv, env, monkeypatch, capsys, **kwargs)
    return run


class GatewayProxy:
    """A loopback gateway in front of a served emulator: it forwards every request unless ``answer`` says
    otherwise (``answer(method, path, n)`` gets the 1-based count of requests so far of that method and
    path kind, and returns a response to send instead, or None)."""

    def __init__(self, upstream: str, answer: Callable[[str, str, int], Any]) -> None:
        from collections import Counter

        from aiohttp import ClientSession, web

        from tests.delete.test_trust import LoopbackApp

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
        import asyncio

        for session in self._sessions:  # closed on the proxy's own loop, before it stops
            asyncio.run_coroutine_threadsafe(session.close(), self.app._loop).result(5)
        self.app.__exit__()

    @property
    def url(self) -> str:
        return self.app.url


def path_kind(path: str) -> str:
    """``backup`` (one backup), ``backups`` (the listing), ``vaults``, ``operation-logs``, ``auth`` or ``other``."""
    parts = path.strip("/").split("/")
    if parts[:3] == ["v3", "auth", "tokens"]:
        return "auth"
    if len(parts) >= 3 and parts[0] == "v3":
        return parts[2] if len(parts) == 3 else parts[2].rstrip("s")
    return "other"


def gateway_404() -> Any:
    """The API gateway's 404 for an API it does not have (never "gone")."""
    from aiohttp import web

    return web.json_response({"error_code": "APIGW.0101", "error_msg": "The API does not exist or has not been "
                              "published in the environment."}, status=404)
