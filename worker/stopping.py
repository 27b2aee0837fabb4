"""SIGTERM, SIGINT and the run deadline, from the first second of a run.

A Kubernetes pod may get SIGTERM while the worker still lists and plans; the request is kept and
handed to the scheduler once it exists, so the run still ends with its report and exit 4.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

import structlog

log = structlog.get_logger()

_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopRequests:
    """Collects stop requests; forwards them to ``attach``-ed handler (the scheduler's ``request_stop``)."""

    def __init__(self) -> None:
        self.reason: str | None = None
        self._handler: Callable[[str], None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        return f"<StopRequests reason={self.reason!r} attached={self._handler is not None}>"

    def install(self, deadline_s: float | None) -> None:
        """Listen to SIGTERM and SIGINT, and start the deadline clock (if any) now."""
        self._loop = asyncio.get_running_loop()
        for signum in _SIGNALS:
            self._loop.add_signal_handler(signum, self.request, signal.Signals(signum).name)
        if deadline_s is not None:
            self._timer = self._loop.call_later(deadline_s, self.request, "deadline")

    def remove(self) -> None:
        if self._loop is not None:
            for signum in _SIGNALS:
                self._loop.remove_signal_handler(signum)
        if self._timer is not None:
            self._timer.cancel()

    def request(self, reason: str) -> None:
        if self._handler is not None:
            self._handler(reason)
            return
        if self.reason is None:
            self.reason = reason
            log.warning("run_stopping", reason=reason, in_flight=0)

    def attach(self, handler: Callable[[str], None]) -> None:
        """From now on requests go to ``handler``; one that came before is passed on at once."""
        self._handler = handler
        if self.reason is not None:
            handler(self.reason)
