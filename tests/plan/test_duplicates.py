"""Duplicates are merged into one task, with a warning naming both places, capped for huge plans."""

from __future__ import annotations

import io

import pytest

from worker.errors import PlanError
from worker.plan import MAX_DUPLICATE_WARNINGS, read_plan

from .samples import C1, C2, C3, I1, I2, I3, pairs, places, read_stdin


def read_with_warnings(content: str) -> tuple[list[tuple[str, str | None]], list[str]]:
    """The tasks of a plan on stdin, and the warnings given while reading it."""
    warnings: list[str] = []
    plan = read_stdin(content, on_warning=warnings.append)
    return pairs(plan), warnings


def test_item_listed_twice_is_one_task() -> None:
    """The same backup listed twice is deleted once; the warning names both lines."""
    tasks, warnings = read_with_warnings(f"{C1} {I1}\n{C2} {I2}\n{C1} {I1}\n")
    assert tasks == [(C1, I1), (C2, I2)]
    assert len(warnings) == 1
    assert I1 in warnings[0] and C1 in warnings[0]
    assert "<stdin>:1" in warnings[0] and "<stdin>:3" in warnings[0]


def test_item_listed_twice_on_one_line_is_one_task() -> None:
    """An item repeated within one entry is deleted once."""
    tasks, warnings = read_with_warnings(f'{{"checkpoint_id": "{C1}", "checkpoint_items": ["{I1}", "{I1}"]}}\n')
    assert tasks == [(C1, I1)]
    assert len(warnings) == 1


def test_ids_differing_only_in_case_are_duplicates() -> None:
    """Upper and lower case spellings of one id are the same task."""
    tasks, warnings = read_with_warnings(f"{C1} {I1}\n{C1.upper()} {I1.upper()}\n")
    assert tasks == [(C1, I1)]
    assert len(warnings) == 1


def test_whole_record_listed_twice_is_one_task() -> None:
    """The same whole record listed twice is deleted once; the warning names both lines."""
    tasks, warnings = read_with_warnings(f"- checkpoint_id: {C1}\n- checkpoint_id: {C2}\n- checkpoint_id: {C1}\n")
    assert tasks == [(C1, None), (C2, None)]
    assert len(warnings) == 1
    assert "<stdin>:1" in warnings[0] and "<stdin>:3" in warnings[0]


@pytest.mark.parametrize(
    "content",
    [
        f"{C1}\n{C2} {I2}\n{C1} {I1}\n",  # the whole record first
        f"{C1} {I1}\n{C2} {I2}\n{C1}\n",  # the item first
    ],
    ids=["whole first", "item first"],
)
def test_item_covered_by_its_whole_record_is_dropped(content: str) -> None:
    """An item whose whole record is also listed is not deleted on its own, in either order."""
    tasks, warnings = read_with_warnings(content)
    assert sorted(tasks, key=str) == sorted([(C1, None), (C2, I2)], key=str)
    assert len(warnings) == 1
    assert "covered by the whole-record entry" in warnings[0]
    assert "<stdin>:1" in warnings[0] and "<stdin>:3" in warnings[0]


@pytest.mark.parametrize("whole_first", [True, False], ids=["whole in first source", "whole in second source"])
def test_duplicates_across_sources_are_merged(write, whole_first: bool) -> None:
    """An item in one file and its whole record in another make one task; the warning names both files."""
    whole = write("whole.yaml", f"deletions:\n  - checkpoint_id: {C1}\n")
    items = write("items.txt", f"{C2} {I2}\n{C1} {I1} {I3}\n")
    sources = [whole, items] if whole_first else [items, whole]
    warnings: list[str] = []
    plan = read_plan(sources, on_warning=warnings.append)
    assert sorted(pairs(plan), key=str) == sorted([(C1, None), (C2, I2)], key=str)
    assert len(warnings) == 2  # I1 and I3
    assert all(f"{items}:2" in warning and f"{whole}:2" in warning for warning in warnings)


def test_places_stay_right_after_covered_items_are_dropped(write) -> None:
    """Dropping early items keeps every remaining task's source and line right."""
    first = write("first.txt", f"{C1} {I1}\n{C2} {I2}\n{C1} {I3}\n")
    second = write("second.txt", f"{C3}\n{C1}\n")
    plan = read_plan([first, second])
    assert pairs(plan) == [(C2, I2), (C3, None), (C1, None)]
    assert places(plan) == [(first, 2), (second, 1), (second, 2)]
    assert plan.counts() == (2, 1)


def test_duplicate_warnings_are_capped_with_a_summary() -> None:
    """A plan full of duplicates gives a bounded number of warnings, then one with the total."""
    ids = [f"{n:08x}-0000-4000-8000-000000000000" for n in range(50)]
    content = "".join(f"{C1} {item}\n" for item in ids) * 3  # each item listed three times: 100 merges
    tasks, warnings = read_with_warnings(content)
    assert len(tasks) == 50
    assert len(warnings) == MAX_DUPLICATE_WARNINGS + 1
    assert "100 duplicate tasks were merged" in warnings[-1]


def test_no_warning_when_the_plan_is_invalid() -> None:
    """An invalid plan gives its error alone, without the duplicate warnings found before it."""
    warnings: list[str] = []
    with pytest.raises(PlanError):
        read_plan(["-"], stdin=io.StringIO(f"{C1}\n{C1}\nbad\n"), on_warning=warnings.append)
    assert warnings == []


def test_duplicates_without_a_callback_are_merged_silently() -> None:
    """Without on_warning, duplicates are still merged."""
    assert pairs(read_stdin(f"{C1}\n{C1}\n")) == [(C1, None)]
