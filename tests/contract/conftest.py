"""The contract suite: what `csbs-worker delete` and `plan` promise whatever the service, run for each.

Every test takes the ``service`` fixture (CSBS, then CBR: see ``tests/services.py``) and runs the real CLI
against that service's emulator on loopback. A test whose cases are written differently per service
(plan syntax, scenario switches) lists them per service with ``per_service``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from tests.services import SERVICES, Service


@pytest.fixture(params=list(SERVICES))
def service(request: pytest.FixtureRequest) -> Service:
    """The service under test (``csbs``, ``cbr``): flags, plans, report keys and its emulator."""
    return SERVICES[request.param]


def per_service(argnames: Sequence[str], cases: Mapping[str, Sequence[tuple[Any, ...]]]) -> pytest.MarkDecorator:
    """Parametrize over ``service`` and each of that service's own cases; a case's first value names it
    in the test id (``csbs-bad id``)."""
    values = [pytest.param(SERVICES[name], *case, id=f"{name}-{case[0]}")
              for name, service_cases in cases.items() for case in service_cases]
    return pytest.mark.parametrize(("service", *argnames), values)
