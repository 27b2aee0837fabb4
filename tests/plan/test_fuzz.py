"""Fuzz: any bytes, in any format, give a valid plan or a PlanError naming the source; never another error."""

from __future__ import annotations

import io
import sys
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from worker.errors import PlanError
from worker.plan import FORMATS, Plan, read_plan
from worker.services.registry import entries

from .samples import C1, I1, PROJECT

# Pieces that steer the reader into each format and its corners, glued in any order.
FRAGMENTS = [
    C1.encode(), I1.encode(), C1.upper().encode(), b"urn:uuid:", b" ", b"\t", b"\n", b"\r", b"\r\n", b"#",
    b"{", b"}", b"[", b"]", b'"', b":", b",", b"- ", b"  ", b"---\n", b"&a ", b"*a", b"!!int ", b"~", b"null",
    b'{"checkpoint_id": ', b'"checkpoint_items": ', b'{"deletions": ', b"deletions:\n", b"project_id: ",
    PROJECT.encode(), b"checkpoint_id: ", b"checkpoint_items: ", b'{"backup_id": ', b'"vault_id": ', b"backup_id: ",
    b"vault_id: ", b"service: ", b'"service": ', b"cbr", b"csbs", b"9" * 5000, b"[" * 200, b"[" * 1001, b"\xef\xbb\xbf",
    b"\xff", b"\xc3(", b"\x00", b"\x07", b"\x0c", b"\xc2\x85", b"\xe2\x80\xa8", b"1e999", b"NaN", b"true",
]
crafted = st.lists(st.sampled_from(FRAGMENTS), max_size=30).map(b"".join)
inputs = st.one_of(crafted, st.binary(max_size=300))


@pytest.mark.parametrize("service", ["csbs", "cbr"])
@pytest.mark.parametrize("fmt", FORMATS)
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=inputs)
def test_any_bytes_give_a_plan_or_a_plan_error(fmt: str, service: str, data: bytes) -> None:
    """Whatever the bytes on standard input, for either service, the reader answers with a Plan or a PlanError
    at <stdin>."""
    stdin = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8")
    with mock.patch.object(sys, "stdin", stdin):
        try:
            plan = read_plan(["-"], fmt=fmt, project_id=PROJECT, service=entries(service))
        except PlanError as error:
            assert error.source == "<stdin>"
            assert len(str(error)) < 400  # echoed input is cut short
            return
    assert isinstance(plan, Plan)
    assert plan.service == service
    assert all(task.line is not None and task.line >= 1 for task in plan)
    if service == "cbr":
        assert all(task.backup_id is not None for task in plan)
