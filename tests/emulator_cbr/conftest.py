"""Shared helpers: a steppable clock, and a small HTTP helper that talks to a served CBR emulator."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.emulator.conftest import Answer, HttpCloud
from tests.emulator.conftest import FakeClock as FakeClock  # re-exported for the CBR tests
from worker.emulator.cbr import CbrEmulator, CbrScenario, serve

PROJECT = "0123456789abcdef0123456789abcdef"
TOKEN = "cbr-test-token"
USER = "user-1"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def scenario(**fields: Any) -> CbrScenario:
    """A scenario for PROJECT with the static token TOKEN (user USER), plus ``fields``."""
    fields.setdefault("tokens", {TOKEN: USER})
    return CbrScenario(project_id=PROJECT, **fields)


Reply = Answer  # what came back: status, parsed JSON body (or None) and headers


class Cloud(HttpCloud):
    """The CBR calls, by name."""

    async def delete(self, backup_id: str, **kw: Any) -> Reply:
        return await self.call("DELETE", f"/v3/{PROJECT}/backups/{backup_id}", **kw)

    async def get(self, backup_id: str, **kw: Any) -> Reply:
        return await self.call("GET", f"/v3/{PROJECT}/backups/{backup_id}", **kw)

    async def list(self, params: Any = None) -> Reply:
        return await self.call("GET", f"/v3/{PROJECT}/backups", params=params or {})

    async def logs(self, params: Any = None) -> Reply:
        return await self.call("GET", f"/v3/{PROJECT}/operation-logs", params=params or {})

    async def status_of(self, backup_id: str) -> str | int:
        """The backup's status, or the HTTP status when there is no backup to show."""
        reply = await self.get(backup_id)
        return str(reply.body["backup"]["status"]) if reply.status == 200 else reply.status


@contextlib.asynccontextmanager
async def cloud(emulator: CbrEmulator, token: str | None = TOKEN) -> AsyncIterator[Cloud]:
    """Serve ``emulator`` on loopback and yield a helper that sends ``X-Auth-Token: token``."""
    headers = {"X-Auth-Token": token} if token else {}
    async with serve(emulator) as base, aiohttp.ClientSession() as session:
        session._retry_connection = False  # aiohttp would resend a dropped GET by itself
        yield Cloud(base, session, headers)
