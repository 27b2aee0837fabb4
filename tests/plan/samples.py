"""Ids and small helpers shared by the plan tests."""

from __future__ import annotations

import io
from typing import Any

from worker.plan import Plan, read_plan

C1 = "6f1c8a52-3d4e-4b8f-9a0b-1c2d3e4f5a6b"
C2 = "9d2e7b41-5c6f-4a1b-8e9d-0f1a2b3c4d5e"
C3 = "2b7e4c19-8a3f-4d6e-b1c5-7f9a0d2e3b48"
I1 = "3f9d8c2e-1b4a-4c2d-9e7f-0a1b2c3d4e5f"
I2 = "7a4b1e6d-2c9f-4e83-a5d7-6b0c8f1e2a39"
I3 = "e5d2a8c4-7b3f-41e9-9c6a-0f8b2d4e1a76"
PROJECT = "0123456789abcdef0123456789abcdef"


def read_stdin(content: str, **options: Any) -> Plan:
    """Read a plan given on standard input."""
    return read_plan(["-"], stdin=io.StringIO(content), **options)


def pairs(plan: Plan) -> list[tuple[str, str | None]]:
    """The (checkpoint, item) of every task, in order."""
    return [(task.container_id, task.backup_id) for task in plan]


def places(plan: Plan) -> list[tuple[str, int | None]]:
    """The (source, line) of every task, in order."""
    return [(task.source, task.line) for task in plan]
