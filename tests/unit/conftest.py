"""Fixtures of the unit tests: captured log events, each stamped with the virtual instant it was logged at."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import structlog
from structlog.testing import capture_logs
from structlog.typing import EventDict, Processor

from tests.unit.helpers import stamp_virtual_time


@pytest.fixture
def logs() -> Iterator[list[EventDict]]:
    """Every log event of the test, with the context bound to it, the virtual time (``t``) and any
    traceback rendered (``exception``)."""
    processors: list[Processor] = [structlog.contextvars.merge_contextvars, stamp_virtual_time,
                  structlog.processors.format_exc_info]
    with capture_logs(processors=processors) as entries:
        yield entries

