"""Property: any list of entries reads the same whether written as YAML, plain text or JSON Lines."""

from __future__ import annotations

import json

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from .samples import pairs, read_stdin

Entry = tuple[str, list[str] | None]  # (checkpoint id, item ids or None for the whole record)

# A small pool of ids, so that duplicates and items covered by their whole record happen often.
ids = st.sampled_from([f"{n:08x}-1111-4222-8333-{n:012x}" for n in range(1, 7)])
spelled = st.tuples(ids, st.booleans()).map(lambda pair: pair[0].upper() if pair[1] else pair[0])
entries = st.lists(st.tuples(spelled, st.none() | st.lists(spelled, min_size=1, max_size=4)), max_size=12)


def as_dicts(plan: list[Entry]) -> list[dict[str, object]]:
    return [
        {"checkpoint_id": checkpoint} if items is None else {"checkpoint_id": checkpoint, "checkpoint_items": items}
        for checkpoint, items in plan
    ]


def as_yaml(plan: list[Entry], bare: bool) -> str:
    return yaml.safe_dump(as_dicts(plan) if bare else {"deletions": as_dicts(plan)})


def as_text(plan: list[Entry]) -> str:
    return "".join(" ".join([checkpoint, *(items or [])]) + "\n" for checkpoint, items in plan)


def as_jsonl(plan: list[Entry]) -> str:
    return "".join(json.dumps(entry) + "\n" for entry in as_dicts(plan))


def expected_tasks(plan: list[Entry]) -> set[tuple[str, str | None]]:
    """The tasks the plan means: whole records, and the items of records not deleted whole."""
    whole = {checkpoint.lower() for checkpoint, items in plan if items is None}
    items = {
        (checkpoint.lower(), item.lower())
        for checkpoint, listed in plan
        if listed is not None and checkpoint.lower() not in whole
        for item in listed
    }
    return {(checkpoint, None) for checkpoint in whole} | items


@settings(max_examples=150, deadline=None)
@given(plan=entries, bare=st.booleans())
def test_every_format_reads_the_same_tasks(plan: list[Entry], bare: bool) -> None:
    """YAML, text and JSON Lines versions of one plan give the same tasks in the same order, each once."""
    as_read = {
        "yaml": pairs(read_stdin(as_yaml(plan, bare))),
        "text": pairs(read_stdin(as_text(plan))),
        "jsonl": pairs(read_stdin(as_jsonl(plan))),
    }
    assert as_read["yaml"] == as_read["text"] == as_read["jsonl"]
    assert len(set(as_read["text"])) == len(as_read["text"])
    assert set(as_read["text"]) == expected_tasks(plan)
