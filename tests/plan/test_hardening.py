"""Inputs that were once misread or crashed the reader: each is read right, or refused at its line."""

from __future__ import annotations

import io
import json
import sys
import threading
from pathlib import Path

import pytest
import yaml

from worker import yamlsource
from worker.errors import PlanError
from worker.plan import read_plan, reads_stdin

from .samples import C1, C2, C3, I1, I2, PROJECT, pairs, places, read_stdin

THREE_LINES = f"{C1}\n{C2} {I1}\n{C3}\n"


@pytest.mark.parametrize("line_end", ["\r", "\r\n", "\n"], ids=["CR", "CRLF", "LF"])
def test_every_line_end_ends_a_line_in_a_file(tmp_path: Path, line_end: str) -> None:
    """A text plan saved with CR-only (old Mac), CRLF or LF line ends gives one entry per line."""
    path = tmp_path / "plan.txt"
    path.write_bytes(THREE_LINES.replace("\n", line_end).encode())
    plan = read_plan([str(path)])
    assert pairs(plan) == [(C1, None), (C2, I1), (C3, None)]
    assert [line for _, line in places(plan)] == [1, 2, 3]


def test_mixed_line_ends_on_stdin() -> None:
    """CR, CRLF and LF mixed in one stream each end a line, also when the stream is already text."""
    plan = read_stdin(f"{C1}\r{C2} {I1}\r\n{C3}\n{C2} {I2}")
    assert pairs(plan) == [(C1, None), (C2, I1), (C3, None), (C2, I2)]
    assert [line for _, line in places(plan)] == [1, 2, 3, 4]


def test_cr_only_jsonl_and_yaml_are_read_line_by_line() -> None:
    """CR-only line ends work in every format, with the right lines."""
    jsonl = f'{{"checkpoint_id": "{C1}"}}\r{{"checkpoint_id": "{C2}"}}\r'
    yaml_plan = f"deletions:\r  - checkpoint_id: {C1}\r  - checkpoint_id: {C2}\r"
    for content in (jsonl, yaml_plan):
        assert pairs(read_stdin(content)) == [(C1, None), (C2, None)]
    with pytest.raises(PlanError) as caught:
        read_stdin(f"{C1}\r{C2}\rnope\r")
    assert caught.value.line == 3


def test_an_odd_separator_between_ids_is_refused() -> None:
    """A form feed or U+2028 between ids is not taken for a space: the next id is no item of this record."""
    for separator in ("\x0c", "\u2028", "\x1e"):
        with pytest.raises(PlanError) as caught:
            read_stdin(f"{C1}\n{C2}{separator}{C3}\n")
        assert caught.value.line == 2
        assert f"U+{ord(separator):04X}" in caught.value.reason


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ('{"checkpoint_id": ' + "[" * 1000 + "]" * 1000 + "}\n", "nested far too deeply"),
        ('{"checkpoint_id": ' + "9" * 5000 + "}\n", "a number of 5000 digits"),
        (f'{{"checkpoint_id": "{C1}", "checkpoint_items": [' + "1" * 4301 + "]}\n", "4301 digits"),
    ],
    ids=["deep", "big-int", "big-int-item"],
)
def test_hostile_json_lines_are_refused_at_their_line(content: str, reason: str) -> None:
    """Deep nesting and huge numbers in JSON Lines are a PlanError at their line, not a traceback."""
    with pytest.raises(PlanError) as caught:
        read_stdin(f'{{"checkpoint_id": "{C2}"}}\n' + content)
    assert caught.value.line == 2
    assert reason in caught.value.reason


@pytest.mark.parametrize("depth", [100, 1000, 100_000])
def test_deep_yaml_is_refused_at_its_line(depth: int) -> None:
    """YAML nested a hundred levels deep or far more is refused at the line where it gets too deep."""
    with pytest.raises(PlanError) as caught:
        read_stdin(f"- checkpoint_id: {C1}\n  checkpoint_items: " + "[" * depth + "]" * depth + "\n")
    assert caught.value.line == 2
    assert "nest" in caught.value.reason


@pytest.mark.parametrize("loader", [yaml.SafeLoader, getattr(yaml, "CSafeLoader", yaml.SafeLoader)])
def test_yaml_control_character_names_its_line(monkeypatch: pytest.MonkeyPatch, loader: type) -> None:
    """A control character in a YAML plan is reported at its line (with libyaml or without, after non-ASCII
    text whose bytes and characters count differently)."""
    monkeypatch.setattr(yamlsource, "_LOADER", loader)
    with pytest.raises(PlanError) as caught:
        read_stdin(f"# Löschplan für März\ndeletions:\n  - checkpoint_id: {C1}\n  - checkpoint_id: {C2}\x07\n")
    assert (caught.value.line, "U+0007" in caught.value.reason) == (4, True)


@pytest.mark.parametrize(
    "content",
    [f"urn:uuid:{C1}\n", f"- checkpoint_id: urn:uuid:{C1}\n", f'{{"checkpoint_id": "URN:UUID:{C1}"}}\n'],
    ids=["text", "yaml", "jsonl"],
)
def test_urn_uuid_form_is_named(content: str) -> None:
    """An id written as urn:uuid:<uuid> is refused with what to do, in every format."""
    with pytest.raises(PlanError) as caught:
        read_stdin(content)
    assert caught.value.line == 1
    assert "ids are bare UUIDs; drop the urn:uuid: prefix" in caught.value.reason


@pytest.mark.parametrize(
    "document",
    [
        {"deletions": [{"checkpoint_id": C1}, {"checkpoint_id": C2, "checkpoint_items": [I1]}]},
        {"project_id": PROJECT, "deletions": [{"checkpoint_id": C1}, {"checkpoint_id": C2, "checkpoint_items": [I1]}]},
        [{"checkpoint_id": C1}, {"checkpoint_id": C2, "checkpoint_items": [I1]}],
    ],
    ids=["deletions", "project-first", "array"],
)
def test_one_line_json_document_is_a_plan(document: object) -> None:
    """`{"deletions": [...]}` (with or without project_id) or a JSON array of entries on one line is a plan."""
    plan = read_stdin(json.dumps(document) + "\n", project_id=PROJECT)
    assert pairs(plan) == [(C1, None), (C2, I1)]


def test_json_document_over_several_lines_is_a_plan_with_lines() -> None:
    """A pretty-printed JSON plan is read too, each entry at its own line."""
    document = json.dumps({"deletions": [{"checkpoint_id": C1}, {"checkpoint_id": C2}]}, indent=2)
    assert places(read_stdin(document)) == [("<stdin>", 3), ("<stdin>", 6)]


def test_json_document_forced_as_json_lines_says_so() -> None:
    """With --format jsonl, a whole plan document on a line is refused with a hint, not 'unknown key'."""
    with pytest.raises(PlanError, match="whole plan, not a JSON Lines entry"):
        read_stdin(json.dumps({"deletions": []}) + "\n", fmt="jsonl")


def test_a_huge_value_is_cut_in_the_message() -> None:
    """A 5 MB project_id comes back as its start and its length, not whole."""
    huge = "a" * 5_000_000
    with pytest.raises(PlanError) as caught:
        read_stdin(f"project_id: {huge}\ndeletions: []\n", project_id=PROJECT)
    assert caught.value.line == 1
    assert "(5000000 characters)" in str(caught.value)
    assert len(str(caught.value)) < 300


def test_reads_stdin() -> None:
    """A run can tell before reading whether the plan comes from standard input."""
    assert reads_stdin([]) and reads_stdin(["a.txt", "-"])
    assert not reads_stdin(["a.txt", "b.yaml"])


def test_read_plan_works_off_the_main_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """read_plan can run in a worker thread (no signals, no event loop), and leaves stdin open."""
    raw = io.TextIOWrapper(io.BytesIO(THREE_LINES.encode()), encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", raw)
    results: list[object] = []
    thread = threading.Thread(target=lambda: results.append(read_plan(["-"])))
    thread.start()
    thread.join()
    assert len(results[0]) == 3  # type: ignore[arg-type]
    assert not raw.buffer.closed
