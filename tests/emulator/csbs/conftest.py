"""The CSBS face's test helpers: its scenario for the test project and token, and its calls by name."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from tests.emulator.helpers import PROJECT, USER, Answer, HttpCloud, served
from tests.emulator.helpers import FakeClock as FakeClock  # for the CSBS tests
from worker.emulator import Emulator, Scenario
from worker.emulator.csbs import CSBS_PROVIDER_ID

__all__ = ["PROJECT", "TOKEN", "USER", "Cloud", "FakeClock", "cloud", "scenario"]

TOKEN = "test-token"


def scenario(**fields: Any) -> Scenario:
    """A scenario for project PROJECT with the static token TOKEN (user USER), plus ``fields``."""
    fields.setdefault("tokens", {TOKEN: USER})
    return Scenario(project_id=PROJECT, **fields)


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
    async with served(emulator, Cloud, token) as c:
        yield c
