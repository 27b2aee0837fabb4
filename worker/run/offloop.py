"""Blocking work (reading plans, a fleet file) off the event loop, so that a stop never waits for it."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


async def in_daemon_thread(work: Callable[[], T]) -> T:
    """``work()`` in a daemon thread: a stop stops waiting for it at once, and the process never waits for
    a read of a terminal or a pipe that has not ended (``asyncio.to_thread`` would, at shutdown)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]  # None only with an error

    def run() -> None:
        try:
            result, error = work(), None
        except BaseException as exc:  # handed to the awaiting coroutine, whatever it is
            result, error = None, exc
        with contextlib.suppress(RuntimeError):  # the loop is closed: the run ended without this result
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=run, name="plan-reader", daemon=True).start()
    return await future
