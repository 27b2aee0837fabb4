"""Fixtures for every test: fresh logging, and for the end-to-end tests the CLI runner and plan files."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import structlog

if TYPE_CHECKING:
    from tests.harness import Run


@pytest.fixture(autouse=True)
def fresh_logging() -> Iterator[None]:
    """Each test starts and ends with structlog's defaults: a run configures logging for the process, and
    its writer may point at a capture stream that is closed once the test is over."""
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()


@pytest.fixture
def write_plan(tmp_path: Path) -> Callable[..., str]:
    """Write a plan (or config, or policy) text to a file and return its path."""
    def write(text: str, name: str = "plan.yaml") -> str:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return str(path)
    return write


@pytest.fixture
def policy(tmp_path: Path) -> Callable[[str], str]:
    """Write a retention policy to ``policy.yaml`` and return its path."""
    def write(text: str) -> str:
        path = tmp_path / "policy.yaml"
        path.write_text(text, encoding="utf-8")
        return str(path)
    return write


@pytest.fixture
def worker(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
           tmp_path: Path) -> Callable[..., Run]:
    """Run the CLI in-process; the report goes to a temp file and is loaded."""
    from tests.harness import run_worker  # not at import: the unit tests need no CLI

    def run(argv: list[str], env: dict[str, str], **kwargs: Any) -> Run:
        kwargs.setdefault("report", str(tmp_path / "report.json"))
        return run_worker(argv, env, monkeypatch, capsys, **kwargs)
    return run
