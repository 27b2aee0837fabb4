"""Shared helpers: an emulator served on loopback, a client bound to it, and a steppable clock."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

from worker.cloud.auth import Authenticator, TokenAuth
from worker.emulator import Emulator, Scenario, serve
from worker.engine.retry import RetryPolicy
from worker.services.csbs.client import CsbsClient

PROJECT = "0123456789abcdef0123456789abcdef"
TOKEN = "static-token-5e3b1f0c9a7d"
USER = "user-1"
FAST_RETRY = RetryPolicy(base_s=0.01, cap_s=0.05)


class FakeClock:
    """Monotonic seconds that move only when told to."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def scenario(**fields: Any) -> Scenario:
    """A scenario for PROJECT with the static token TOKEN, plus ``fields``."""
    fields.setdefault("tokens", {TOKEN: USER})
    return Scenario(project_id=PROJECT, **fields)


@contextlib.asynccontextmanager
async def served(emulator: Emulator | None = None) -> AsyncIterator[tuple[Emulator, str]]:
    """The emulator (a default one if None) on 127.0.0.1, with its base URL."""
    emulator = emulator or Emulator(scenario(), seed=1)
    async with serve(emulator, host="127.0.0.1", port=0) as base_url:
        yield emulator, base_url


def make_client(base_url: str, auth: Authenticator | None = None, **options: Any) -> CsbsClient:
    """A client of PROJECT on the served emulator (static token unless ``auth``), fast retries."""
    options.setdefault("retry", FAST_RETRY)
    return CsbsClient(endpoint=base_url, project_id=PROJECT, auth=auth or TokenAuth(TOKEN), **options)


@contextlib.asynccontextmanager
async def cloud(
    emulator: Emulator | None = None, auth: Authenticator | None = None, **options: Any
) -> AsyncIterator[tuple[Emulator, CsbsClient]]:
    """A served emulator and an open client on it."""
    async with served(emulator) as (emu, base_url), make_client(base_url, auth, **options) as client:
        yield emu, client


def wall_anchor() -> float:
    """A wall-clock start shared by an emulator's fake clock and an authenticator's clock."""
    return time.time()
