"""What the emulator tests share: a steppable clock, and a small HTTP helper bound to a served emulator."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp

from worker.emulator.core.server import Served, serve

PROJECT = "0123456789abcdef0123456789abcdef"
USER = "user-1"


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Answer:
    """What came back: status, parsed JSON body (or None) and headers."""

    status: int
    body: Any
    headers: Mapping[str, str]


class HttpCloud:
    """Thin HTTP helper bound to one served emulator (either face) and one set of default headers."""

    def __init__(self, base: str, session: aiohttp.ClientSession, headers: dict[str, str]) -> None:
        self.base = base
        self.session = session
        self.headers = headers

    async def call(self, method: str, path: str, headers: Mapping[str, str] | None = None,
                   **kwargs: Any) -> Answer:
        merged = {**self.headers, **(headers or {})}
        async with self.session.request(method, self.base + path, headers=merged, **kwargs) as response:
            body = await response.json(content_type=None) if await response.read() else None
            return Answer(response.status, body, response.headers)


C = TypeVar("C", bound=HttpCloud)


@contextlib.asynccontextmanager
async def served(emulator: Served, kind: Callable[[str, aiohttp.ClientSession, dict[str, str]], C],
                 token: str | None) -> AsyncIterator[C]:
    """Serve ``emulator`` on loopback and yield a ``kind`` helper that sends ``X-Auth-Token: token``."""
    headers = {"X-Auth-Token": token} if token else {}
    async with serve(emulator) as base, aiohttp.ClientSession() as session:
        session._retry_connection = False  # aiohttp would resend a dropped GET by itself
        yield kind(base, session, headers)
