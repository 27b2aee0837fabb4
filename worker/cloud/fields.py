"""Reading the values of Huawei API bodies that every service shares: progress, timestamps, optional text.

One reader each, so the services cannot drift apart (``extend_info.progress`` of ``"45"`` is 45 for both).
Times come in three forms (docs/cbr-api.md, point 14; docs/csbs-api.md, point 9): ISO 8601 with a zone, with
``Z``, or without a zone, which is UTC.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any


def read_progress(value: Any) -> int | None:
    """``extend_info.progress`` as a whole percent 0-100: an int, a float or a numeric string; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if isinstance(value, int | float) and math.isfinite(value):
        return min(100, max(0, int(value)))
    return None


def read_datetime(value: Any) -> datetime | None:
    """A timestamp of the API as an aware UTC ``datetime`` (zone-less is UTC); None when unreadable."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def read_time(value: Any) -> float | None:
    """A timestamp of the API as POSIX seconds; None when unreadable."""
    moment = read_datetime(value)
    return None if moment is None else moment.timestamp()


def text(value: Any) -> str | None:
    """An optional text field: None for absent or empty, else its text."""
    return None if value is None or value == "" else str(value)
