"""Shared helpers: a CBR emulator served on loopback and a CbrClient bound to it, and a few-line server for what
the emulator has no switch for."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from worker.cloud.auth import Authenticator, TokenAuth
from worker.emulator.cbr import CbrEmulator, CbrScenario, serve
from worker.engine.retry import RetryPolicy
from worker.services.cbr.client import CbrClient

PROJECT = "0123456789abcdef0123456789abcdef"
TOKEN = "cbr-static-token-8d1f2c"
USER = "user-1"
FAST_RETRY = RetryPolicy(base_s=0.01, cap_s=0.05)


def scenario(**fields: Any) -> CbrScenario:
    """A scenario for PROJECT with the static token TOKEN, plus ``fields``."""
    fields.setdefault("tokens", {TOKEN: USER})
    return CbrScenario(project_id=PROJECT, **fields)


@contextlib.asynccontextmanager
async def cloud(emulator: CbrEmulator, auth: Authenticator | None = None, project_id: str = PROJECT,
                **options: Any) -> AsyncIterator[CbrClient]:
    """The emulator on 127.0.0.1 and an open client of ``project_id`` on it (fast retries)."""
    options.setdefault("retry", FAST_RETRY)
    async with serve(emulator) as base:
        client = CbrClient(endpoint=base, project_id=project_id, auth=auth or TokenAuth(TOKEN), **options)
        async with client:
            yield client


@contextlib.asynccontextmanager
async def app_on_loopback(app: web.Application) -> AsyncIterator[str]:
    """``app`` served on 127.0.0.1 (a free port), with its base URL."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()
