"""The emulator's two times: the injected clock that drives state, and the UTC wall time it shows.

All state (task ends, token expiry, locks) is kept in clock seconds, so a test that injects a fake clock
controls it completely. Wall times (``created_at``, ``expires_at``, the ``X-Sdk-Date`` check) are derived
from the clock through one fixed anchor taken at start, so they move exactly as the clock moves.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], float]


class TimeBase:
    """Reads the injected clock and turns clock seconds into UTC datetimes.

    Args:
        clock: monotonic seconds (``time.monotonic`` or a test's fake).
        wall_clock: POSIX seconds read once, at construction, to anchor wall times.
    """

    def __init__(self, clock: Clock, wall_clock: Clock = time.time) -> None:
        self.clock = clock
        self._clock_anchor = clock()
        self._wall_anchor = datetime.fromtimestamp(wall_clock(), UTC)

    def now(self) -> float:
        """Clock seconds now."""
        return self.clock()

    def wall(self, at: float | None = None) -> datetime:
        """The UTC wall time of clock instant ``at`` (now if None)."""
        instant = self.now() if at is None else at
        return self._wall_anchor + timedelta(seconds=instant - self._clock_anchor)


def format_iso_z(moment: datetime) -> str:
    """A UTC datetime as IAM writes ``expires_at``: ``2025-01-01T00:00:00.000000Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> datetime:
    """Parse an ISO 8601 time (a trailing ``Z`` too); without a zone it is UTC. Raises ValueError."""
    return as_utc(datetime.fromisoformat(text.strip().replace("Z", "+00:00")))


def as_utc(moment: datetime) -> datetime:
    """The same instant as an aware UTC datetime; a naive one is taken to be UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
