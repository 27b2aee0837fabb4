"""Shared helpers: a steppable clock, and a small HTTP helper that talks to a served emulator."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from worker.emulator import Emulator, Scenario, serve
from worker.emulator.scenario import CSBS_PROVIDER_ID

PROJECT = "0123456789abcdef0123456789abcdef"
TOKEN = "test-token"
USER = "user-1"


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def scenario(**fields: Any) -> Scenario:
    """A scenario for project PROJECT with the static token TOKEN (user USER), plus ``fields``."""
    fields.setdefault("tokens", {TOKEN: USER})
    return Scenario(project_id=PROJECT, **fields)


@dataclass
class Answer:
    """What came back: status, parsed JSON body (or None) and headers."""

    status: int
    body: Any
    headers: Mapping[str, str]


class HttpCloud:
    """Thin HTTP helper bound to one served emulator (CSBS or CBR) and one set of default headers."""

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


class Cloud(HttpCloud):
    """The CSBS calls, by name."""

    async def delete_record(self, checkpoint_id: str, provider: str = CSBS_PROVIDER_ID, **kw: Any) -> Answer:
        return await self.call("DELETE", f"/v1/{PROJECT}/providers/{provider}/checkpoints/{checkpoint_id}", **kw)

    async def delete_item(self, checkpoint_id: str, item_id: str, **kw: Any) -> Answer:
        return await self.call("DELETE", f"/v1/{PROJECT}/providers/{CSBS_PROVIDER_ID}/checkpoints/{checkpoint_id}",
                               params={"checkpoint_items": item_id}, **kw)

    async def get_item(self, item_id: str, **kw: Any) -> Answer:
        return await self.call("GET", f"/v1/{PROJECT}/checkpoint_items/{item_id}", **kw)

    async def list(self, **params: Any) -> Answer:
        return await self.call("GET", f"/v1/{PROJECT}/checkpoint_items", params=params)

    async def count(self, **params: Any) -> Answer:
        return await self.call("GET", f"/v1/{PROJECT}/checkpoint_items/count", params=params)

    async def status_of(self, item_id: str) -> str | int:
        """The item's status, or the HTTP status when there is no item to show."""
        answer = await self.get_item(item_id)
        return answer.body["checkpoint_item"]["status"] if answer.status == 200 else answer.status


@contextlib.asynccontextmanager
async def cloud(emulator: Emulator, token: str | None = TOKEN) -> AsyncIterator[Cloud]:
    """Serve ``emulator`` on loopback and yield a helper that sends ``X-Auth-Token: token``."""
    headers = {"X-Auth-Token": token} if token else {}
    async with serve(emulator) as base, aiohttp.ClientSession() as session:
        yield Cloud(base, session, headers)
