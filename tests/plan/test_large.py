"""A large plain-text plan is read whole and right (the 1M-line figures are measured outside the suite)."""

from __future__ import annotations

from pathlib import Path

from worker.plan import Task, read_plan

LINES = 200_000


def checkpoint(n: int) -> str:
    return f"{n:08x}-0000-4000-8000-{n:012x}"


def item(n: int) -> str:
    return f"{n:08x}-1111-4000-9000-{n:012x}"


def test_large_text_plan_is_read(tmp_path: Path) -> None:
    """A 200,000-line plan of distinct checkpoint-item pairs gives one task per line, in order."""
    path = tmp_path / "large.txt"
    path.write_text("".join(f"{checkpoint(n)} {item(n)}\n" for n in range(LINES)))
    plan = read_plan([str(path)])
    assert len(plan) == LINES
    assert plan.counts() == (0, LINES)
    assert plan[0] == Task(checkpoint(0), item(0), str(path), 1)
    assert plan[-1] == Task(checkpoint(LINES - 1), item(LINES - 1), str(path), LINES)
    assert sum(1 for _ in plan) == LINES
