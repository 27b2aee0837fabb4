"""SIGTERM, SIGINT and the run deadline, from the first instant of a run to its last.

``install_early`` runs first thing in ``main`` (before settings and plan are read, before the event loop
exists): a signal then is only recorded, so a pod stopped in its first second still ends with a log line,
its report and exit 4 instead of dying silently. ``install`` hands the signals to the event loop once the
run's loop is up, starts the deadline clock, and replays what came early. Every request goes to the one
handler the run attached (docs/design.md, "Stops").
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # asyncio costs 35 ms to import: too long before the first signal handler
    import asyncio

_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopRequests:
    """Collects stop requests (signals and the deadline) and forwards each to the attached handler."""

    def __init__(self) -> None:
        self.early: list[str] = []  # requests that came before a handler was attached
        self._handler: Callable[[str], None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._previous: dict[int, object] = {}

    def __repr__(self) -> str:
        return f"<StopRequests early={self.early!r} attached={self._handler is not None}>"

    def install_early(self) -> None:
        """Record SIGTERM and SIGINT from now on (main thread only; elsewhere signals stay as they are)."""
        try:
            for signum in _SIGNALS:
                self._previous[signum] = signal.signal(signum, self._on_signal)
        except ValueError:  # not the main thread: the embedding program owns its signals
            self._previous.clear()

    def _on_signal(self, signum: int, _: FrameType | None) -> None:
        self.request(signal.Signals(signum).name)

    def install(self, deadline_s: float | None, handler: Callable[[str], None]) -> None:
        """From now on, the running loop delivers signals, the deadline counts, and requests go to ``handler``
        (those that came early are passed on at once)."""
        import asyncio

        self._loop = asyncio.get_running_loop()
        for signum in _SIGNALS:
            self._loop.add_signal_handler(signum, self.request, signal.Signals(signum).name)
        if deadline_s is not None:
            self._timer = self._loop.call_later(deadline_s, self.request, "deadline")
        self._handler = handler
        for reason in self.early:
            handler(reason)

    def request(self, reason: str) -> None:
        if self._handler is None:
            self.early.append(reason)
            return
        self._handler(reason)

    def remove(self) -> None:
        """Hand the signals back: to the loop-less recorder while the process winds down, then as they were."""
        if self._loop is not None and not self._loop.is_closed():
            for signum in _SIGNALS:
                self._loop.remove_signal_handler(signum)
        if self._timer is not None:
            self._timer.cancel()
        self._loop = None

    def restore(self) -> None:
        """The signal handlers from before ``install_early`` (for programs that run the CLI in-process)."""
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)  # type: ignore[arg-type]  # what signal.signal returned
        self._previous.clear()
