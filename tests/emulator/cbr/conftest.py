"""The CBR face's test helpers: its scenario for the test project and token, and its calls by name."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from tests.emulator.helpers import PROJECT, USER, Answer, HttpCloud, served
from tests.emulator.helpers import FakeClock as FakeClock  # for the CBR tests
from worker.emulator.cbr import CbrEmulator, CbrScenario

__all__ = ["PROJECT", "TOKEN", "USER", "Cloud", "FakeClock", "Reply", "cloud", "scenario"]

TOKEN = "cbr-test-token"


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
    async with served(emulator, Cloud, token) as c:
        yield c
