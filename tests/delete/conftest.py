"""Fixtures of the delete tests: plans written to files, ids, and the CLI runner bound to this test."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.harness import Run, run_worker


def new_id() -> str:
    return str(uuid.uuid4())


@pytest.fixture
def write_plan(tmp_path: Path) -> Callable[[str, str], str]:
    """Write a plan text to a file and return its path."""
    def write(text: str, name: str = "plan.yaml") -> str:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return str(path)
    return write


@pytest.fixture
def worker(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
           tmp_path: Path) -> Callable[..., Run]:
    """Run the CLI in-process; the report goes to a temp file and is loaded."""
    def run(argv: list[str], env: dict[str, str], **kwargs: Any) -> Run:
        kwargs.setdefault("report", str(tmp_path / "report.json"))
        return run_worker(argv, env, monkeypatch, capsys, **kwargs)
    return run
