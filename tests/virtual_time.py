"""An asyncio event loop whose time is virtual: sleeps, timeouts and timers pass at once, in order.

``VirtualTimeLoop`` is a ``SelectorEventLoop`` whose ``time()`` is a virtual clock. Its selector never
blocks: when the loop would wait for the next timer, the clock jumps to it and no I/O is reported (the
tests that use it do no real I/O; the loop's own wake-up pipe is still polled, without waiting). When the
loop would wait forever (nothing ready, no timer: every task waits for something that can never happen),
the selector raises ``VirtualDeadlock`` instead of hanging the test.

So ``worker.engine.clock.LoopClock`` on this loop, ``asyncio.sleep``, ``asyncio.timeout``, ``asyncio.wait`` and
``TaskGroup`` all run in virtual time: a 30-minute task timeout passes in microseconds, and each instant is
exact. ``VirtualClock`` is the ``Clock`` of the tests: the loop's time, with a fixed wall clock
(``WALL_EPOCH + now``) so report timestamps and the fake cloud's ``Date`` headers are exact too.

    result = run_virtual(main())  # creates the loop, runs main to its end, closes the loop
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

WALL_EPOCH = 1_750_000_000.0
"""The wall time (POSIX seconds) at virtual instant 0: 2025-06-15T15:06:40Z."""


class VirtualDeadlock(RuntimeError):
    """The loop would wait forever: nothing is ready and no timer is set."""


class _VirtualSelector(selectors.DefaultSelector):
    """A selector whose ``select(timeout)`` polls without waiting and advances the loop's virtual clock by
    ``timeout`` instead (the loop computes it as the delay to its next timer)."""

    def __init__(self) -> None:
        super().__init__()
        self.loop: VirtualTimeLoop | None = None

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = super().select(0)  # the loop's wake-up pipe (call_soon_threadsafe, signals), never waiting
        if ready:
            return ready
        if timeout is None:
            raise VirtualDeadlock("the loop would wait forever: no callback is ready and no timer is set")
        if timeout > 0:
            assert self.loop is not None
            self.loop.advance(timeout)
        return []


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """A selector event loop whose clock only moves when every task waits for a timer."""

    def __init__(self, start: float = 0.0) -> None:
        selector = _VirtualSelector()
        self._virtual_now = start
        super().__init__(selector)
        selector.loop = self

    def time(self) -> float:
        return self._virtual_now

    def advance(self, seconds: float) -> None:
        """Move the virtual clock forward (the selector does this when the loop waits for a timer)."""
        if seconds < 0:
            raise ValueError(f"virtual time cannot go back ({seconds} s)")
        self._virtual_now += seconds


class VirtualClock:
    """The ``worker.engine.clock.Clock`` of the tests: the running loop's (virtual) time, and a wall clock that is
    ``WALL_EPOCH`` at instant 0 (``LoopClock`` anchors its wall clock to the real time instead). It reads
    whichever loop is running, so it can be made (and a fake cloud scripted with it) before the loop."""

    def __repr__(self) -> str:
        return "<VirtualClock>"

    def now(self) -> float:
        return asyncio.get_running_loop().time()

    def wall(self) -> float:
        return WALL_EPOCH + self.now()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


def run_virtual(main: Coroutine[Any, Any, T], *, start: float = 0.0) -> T:
    """Run ``main`` to its end on a new ``VirtualTimeLoop`` (clock at ``start``) and close the loop; tasks
    still pending at the end are cancelled, as ``asyncio.run`` does."""
    with asyncio.Runner(loop_factory=lambda: VirtualTimeLoop(start)) as runner:
        return runner.run(main)
