"""The virtual-time loop: timers fire in order at their exact instants, without real waiting; a loop that
would wait forever raises instead of hanging; the worker's clock and asyncio's timeouts follow it."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.virtual_time import WALL_EPOCH, VirtualClock, VirtualDeadlock, VirtualTimeLoop, run_virtual
from worker.engine.clock import LoopClock


def test_an_hour_of_sleeps_passes_at_once_and_exactly() -> None:
    """Three tasks sleeping in a TaskGroup wake in order at their own instants; nothing waits for real."""
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await asyncio.sleep(seconds)
        woke.append((name, asyncio.get_running_loop().time()))

    async def main() -> float:
        async with asyncio.TaskGroup() as group:
            group.create_task(sleeper("hour", 3600.0))
            group.create_task(sleeper("second", 1.0))
            group.create_task(sleeper("minute", 60.0))
        return asyncio.get_running_loop().time()

    began = time.monotonic()
    assert run_virtual(main()) == 3600.0
    assert time.monotonic() - began < 1.0
    assert woke == [("second", 1.0), ("minute", 60.0), ("hour", 3600.0)]


def test_timeouts_and_waits_expire_in_virtual_time() -> None:
    """asyncio.timeout, wait_for and wait(timeout=) end at the virtual instant they name."""
    async def main() -> list[float]:
        loop = asyncio.get_running_loop()
        instants = []
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(30.0):
                await asyncio.sleep(1000.0)
        instants.append(loop.time())
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(asyncio.sleep(1000.0), 15.0)
        instants.append(loop.time())
        pending = asyncio.ensure_future(asyncio.sleep(1000.0))
        done, _ = await asyncio.wait({pending}, timeout=5.0)
        instants.append(loop.time())
        pending.cancel()
        assert not done
        return instants

    assert run_virtual(main()) == [30.0, 45.0, 50.0]


def test_a_loop_that_would_wait_forever_raises() -> None:
    """Waiting for a future nobody will resolve is a deadlock: reported at once, not a hung test."""
    async def main() -> None:
        await asyncio.get_running_loop().create_future()

    with pytest.raises(VirtualDeadlock):
        run_virtual(main())


def test_the_clocks_read_the_virtual_time() -> None:
    """LoopClock (production) and VirtualClock (tests) both follow the loop; VirtualClock's wall clock is
    WALL_EPOCH at instant 0, LoopClock's moves in step with the virtual time. Wake-ups from other threads
    (call_soon_threadsafe) are still delivered."""
    async def main() -> tuple[float, float, float, float, float]:
        production, virtual = LoopClock(), VirtualClock()
        wall_offset = production.wall() - production.now()
        await production.sleep(90.0)
        await virtual.sleep(10.0)
        await production.sleep(-5.0)  # a negative pause is no pause
        loop = asyncio.get_running_loop()
        woken = loop.create_future()
        loop.call_soon_threadsafe(woken.set_result, None)
        await woken
        return (production.now(), virtual.now(), virtual.wall(), production.wall() - production.now(),
                wall_offset)

    now, virtual_now, virtual_wall, offset_after, offset_before = run_virtual(main(), start=1000.0)
    assert (now, virtual_now, virtual_wall) == (1100.0, 1100.0, WALL_EPOCH + 1100.0)
    assert offset_after == pytest.approx(offset_before)


def test_time_never_goes_back() -> None:
    loop = VirtualTimeLoop(5.0)
    try:
        with pytest.raises(ValueError):
            loop.advance(-1.0)
        assert loop.time() == 5.0
    finally:
        loop.close()
