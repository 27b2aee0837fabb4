"""The one clock of a run: monotonic time, wall time and sleep, injected into tracking and the scheduler.

Production uses the running event loop's clock (``LoopClock``). Unit tests run the same code on an event
loop whose time is virtual (``tests/virtual_time.py``), so a 30-minute task timeout passes in milliseconds
and every path of the scheduler and the tracker can be asserted exactly.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    """What tracking, pacing and the scheduler read time from."""

    def now(self) -> float:
        """Monotonic seconds (for deadlines and pauses)."""
        ...

    def wall(self) -> float:
        """POSIX seconds (for the report's timestamps)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Pause this coroutine for ``seconds``."""
        ...


class LoopClock:
    """The running event loop's clock; wall time is anchored once, then follows the loop's clock, so that a
    loop with virtual time gives virtual wall times too."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wall_at_start = time.time() - self._loop.time()

    def __repr__(self) -> str:
        return f"<LoopClock now={self.now():.3f}>"

    def now(self) -> float:
        return self._loop.time()

    def wall(self) -> float:
        return self._wall_at_start + self._loop.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))
