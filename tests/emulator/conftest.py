"""Fixtures of every emulator test: a steppable ``clock``, and ``side``, each API face in turn."""

from __future__ import annotations

import pytest

from tests.emulator.helpers import FakeClock
from tests.emulator.sides import SIDES, Side


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=SIDES, ids=lambda side: side.name)
def side(request: pytest.FixtureRequest) -> Side:
    """One API face, as the tests of what both share drive it (``core/``)."""
    face: Side = request.param
    return face
