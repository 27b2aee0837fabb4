"""A fake Pushgateway on loopback (aiohttp.web, 127.0.0.1, port 0) that records what it is sent."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@dataclass
class PushedRequest:
    """One request the fake gateway received."""

    method: str
    path: str
    body: str
    headers: dict[str, str]

    def samples(self) -> Samples:
        """The pushed text exposition as {(series name, sorted labels): value}."""
        return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
                for family in text_string_to_metric_families(self.body) for sample in family.samples}

    def series_names(self) -> set[str]:
        return {name for name, _ in self.samples()}


@dataclass
class FakePushgateway:
    """Records every request and answers with ``status`` and ``answer``; ``hang`` makes it never answer."""

    url: str = ""
    requests: list[PushedRequest] = field(default_factory=list)
    status: int = 200
    answer: str = ""
    hang: asyncio.Event | None = None

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append(PushedRequest(request.method, request.path, await request.text(), dict(request.headers)))
        if self.hang is not None:
            await self.hang.wait()
        return web.Response(status=self.status, text=self.answer)


@contextlib.asynccontextmanager
async def fake_pushgateway() -> AsyncIterator[FakePushgateway]:
    """Serve a FakePushgateway on 127.0.0.1 (a free port) for the duration of the block."""
    fake = FakePushgateway()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fake.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    fake.url = f"http://127.0.0.1:{port}"
    try:
        yield fake
    finally:
        if fake.hang is not None:
            fake.hang.set()
        await runner.cleanup()
