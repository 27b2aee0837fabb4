"""Serve an emulator (either face) on a real TCP socket for as long as an ``async with`` block runs."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Protocol

from aiohttp import web

SHUTDOWN_TIMEOUT_S = 0.5  # a slow fault must not hold a test's teardown for aiohttp's default minute


class Served(Protocol):
    """An emulator (either face): what it serves is its aiohttp application."""

    @property
    def app(self) -> web.Application: ...


@contextlib.asynccontextmanager
async def serve(emulator: Served, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """Listen on ``host:port`` (0 picks a free port) and yield the base URL, e.g. ``http://127.0.0.1:8080``."""
    runner = web.AppRunner(emulator.app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT_S)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound_host, bound_port = runner.addresses[0][:2]
        shown_host = f"[{bound_host}]" if ":" in bound_host else bound_host
        yield f"http://{shown_host}:{bound_port}"
    finally:
        await runner.cleanup()
