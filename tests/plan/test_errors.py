"""Invalid plans: every fault raises PlanError naming the source, the line and what was found."""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

import pytest

from worker.errors import PlanError
from worker.plan import read_plan

from .samples import C1, C2, I1, I2, PROJECT, read_stdin

GOOD_YAML = f"deletions:\n  - checkpoint_id: {C1}\n"

# (content on stdin, the line named, a part of the message)
BAD_PLANS = {
    # plain text
    "text: bad checkpoint id": ("abc\n", 1, "bad checkpoint id 'abc': not a UUID"),
    "text: bad item id": (f"{C1} {I1} xyz\n", 1, f"bad item id 'xyz' of checkpoint {C1}: not a UUID"),
    "text: id too long": (f"{C1}0\n", 1, f"bad checkpoint id '{C1}0'"),
    "text: id without dashes": (f"{C1.replace('-', '')}\n", 1, "not a UUID"),
    "text: braces around id": (f"{{{C1}}}\n", 1, "not a UUID"),
    "text: bad line among good ones": (f"{C1}\n# ok\n{C2} {I2}\n{C2} {I1},\n{C1} {I1}\n", 4, f"bad item id '{I1},'"),
    # YAML syntax
    "yaml: bad indentation": (f"deletions:\n  - checkpoint_id: {C1}\n   checkpoint_items: [\n", 3, "not valid YAML"),
    "yaml: unclosed flow list": (f"- checkpoint_id: {C1}\n  checkpoint_items: [{I1}\n", 3, "not valid YAML"),
    "yaml: two documents": (f"{GOOD_YAML}---\n{GOOD_YAML}", 3, "not valid YAML"),
    "yaml: tab indentation": (f"deletions:\n\t- checkpoint_id: {C1}\n", 2, "not valid YAML"),
    # YAML structure
    "yaml: unknown plan key": (f"{GOOD_YAML}deletion: []\n", 3, "unknown key 'deletion' in this plan"),
    "yaml: entry key at the top": (f"checkpoint_id: {C1}\n", 1, "entries go in a 'deletions' list"),
    "yaml: no deletions": (f"project_id: {PROJECT}\n", 1, "the plan has no 'deletions' list"),
    "yaml: deletions not a list": ("deletions: 5\n", 1, "'deletions' must be a list, found a number 5"),
    "yaml: plan is a string": ("just words: no\n\n- x\n", 3, "not valid YAML"),
    "yaml: plan is a number": ("---\n42\n", 2, "found a number 42"),
    "yaml: entry not a mapping": (
        f"- {C1}\n",
        1,
        f"an entry must be a mapping with checkpoint_id (and optional checkpoint_items), found a string '{C1}'",
    ),
    "yaml: unknown entry key": (
        f"deletions:\n  - checkpoint_id: {C1}\n    checkpoint_item: [{I1}]\n",
        3,
        "unknown key 'checkpoint_item' in this entry (known keys: checkpoint_id, checkpoint_items)",
    ),
    "yaml: key given twice": (
        f"- checkpoint_id: {C1}\n  checkpoint_id: {C2}\n",
        2,
        "key 'checkpoint_id' appears twice (first at line 1)",
    ),
    "yaml: missing checkpoint_id": (f"deletions:\n  - checkpoint_items: [{I1}]\n", 2, "the entry has no checkpoint_id"),
    "yaml: empty checkpoint_id": ("- checkpoint_id:\n", 1, "checkpoint_id must be a string, found nothing (null)"),
    "yaml: checkpoint_id a list": (f"- checkpoint_id: [{C1}]\n", 1, "checkpoint_id must be a string, found a list"),
    "yaml: bad checkpoint id": ("- checkpoint_id: abc\n", 1, "bad checkpoint id 'abc': not a UUID"),
    "yaml: number as id": ("- checkpoint_id: 12345\n", 1, "bad checkpoint id '12345': not a UUID"),
    "yaml: empty checkpoint_items": (
        f"- checkpoint_id: {C1}\n  checkpoint_items: []\n",
        2,
        "checkpoint_items is empty",
    ),
    "yaml: null checkpoint_items": (f"- checkpoint_id: {C1}\n  checkpoint_items:\n", 2, "checkpoint_items is empty"),
    "yaml: checkpoint_items a string": (
        f"- checkpoint_id: {C1}\n  checkpoint_items: {I1}\n",
        2,
        f"checkpoint_items must be a list of item ids, found a string '{I1}'",
    ),
    "yaml: checkpoint_items a mapping": (
        f"- checkpoint_id: {C1}\n  checkpoint_items: {{a: b}}\n",
        2,
        "checkpoint_items must be a list of item ids, found a mapping",
    ),
    "yaml: bad item on its own line": (
        f"- checkpoint_id: {C1}\n  checkpoint_items:\n    - {I1}\n    - nope\n",
        4,
        f"bad item id 'nope' of checkpoint {C1}",
    ),
    "yaml: item a list": (
        f"- checkpoint_id: {C1}\n  checkpoint_items:\n    - [{I1}]\n",
        3,
        f"an item id of checkpoint {C1} must be a string, found a list",
    ),
    "yaml: project_id empty": ("project_id:\ndeletions: []\n", 1, "project_id must be a project id, found nothing"),
    "yaml: project_id differs": (
        "project_id: ffffffffffffffffffffffffffffffff\ndeletions: []\n",
        1,
        f"project_id 'ffffffffffffffffffffffffffffffff' differs from the configured project '{PROJECT}'",
    ),
    # JSON Lines
    "jsonl: syntax": (f'{{"checkpoint_id": "{C1}"\n', 1, "not valid JSON: Expecting ',' delimiter"),
    "jsonl: bad line among good ones": (
        f'{{"checkpoint_id": "{C1}"}}\n\n{{"checkpoint_id": "{C2}",}}\n',
        3,
        "not valid JSON",
    ),
    "jsonl: not an object": (
        f'{{"checkpoint_id": "{C1}"}}\n["{C2}"]\n',
        2,
        "an entry must be a JSON object, found a list",
    ),
    "jsonl: unknown key": (f'{{"checkpoint_id": "{C1}", "item": "{I1}"}}\n', 1, "unknown key 'item' in this entry"),
    "jsonl: project_id": (
        f'{{"project_id": "{PROJECT}", "checkpoint_id": "{C1}"}}\n',
        1,
        "project_id is not read from a JSON Lines entry",
    ),
    "jsonl: key given twice": (
        f'{{"checkpoint_id": "{C1}", "checkpoint_id": "{C2}"}}\n',
        1,
        "'checkpoint_id' is given twice",
    ),
    "jsonl: missing checkpoint_id": (f'{{"checkpoint_items": ["{I1}"]}}\n', 1, "the entry has no checkpoint_id"),
    "jsonl: checkpoint_id a number": ('{"checkpoint_id": 7}\n', 1, "checkpoint_id must be a string, found a number 7"),
    "jsonl: checkpoint_id null": ('{"checkpoint_id": null}\n', 1, "checkpoint_id must be a string, found null"),
    "jsonl: bad checkpoint id": ('{"checkpoint_id": "abc"}\n', 1, "bad checkpoint id 'abc': not a UUID"),
    "jsonl: empty checkpoint_items": (
        f'{{"checkpoint_id": "{C1}", "checkpoint_items": []}}\n',
        1,
        "checkpoint_items is empty",
    ),
    "jsonl: checkpoint_items a string": (
        f'{{"checkpoint_id": "{C1}", "checkpoint_items": "{I1}"}}\n',
        1,
        f"checkpoint_items must be a list of item ids, found a string '{I1}'",
    ),
    "jsonl: item a number": (
        f'{{"checkpoint_id": "{C1}", "checkpoint_items": [1]}}\n',
        1,
        f"an item id of checkpoint {C1} must be a string, found a number 1",
    ),
    "jsonl: bad item id": (
        f'{{"checkpoint_id": "{C1}", "checkpoint_items": ["{I1}", "x"]}}\n',
        1,
        f"bad item id 'x' of checkpoint {C1}",
    ),
}


@pytest.mark.parametrize(("content", "line", "message"), BAD_PLANS.values(), ids=BAD_PLANS.keys())
def test_bad_plan_names_source_line_and_fault(content: str, line: int, message: str) -> None:
    """Each fault raises PlanError with the source, the 1-based line and a message showing what was found."""
    with pytest.raises(PlanError) as caught:
        read_stdin(content, project_id=PROJECT)
    error = caught.value
    assert (error.source, error.line) == ("<stdin>", line)
    assert message in error.reason
    assert str(error).startswith(f"<stdin>:{line}: ")


def test_a_long_bad_value_is_cut_short_in_the_message() -> None:
    """A huge bad token is quoted only in part, so the message stays readable."""
    with pytest.raises(PlanError) as caught:
        read_stdin("x" * 10_000 + "\n")
    assert len(str(caught.value)) < 200


def test_missing_file_is_named() -> None:
    """A plan file that does not exist is named, without a line."""
    with pytest.raises(PlanError) as caught:
        read_plan(["/nonexistent/plan.yaml"])
    assert (caught.value.source, caught.value.line) == ("/nonexistent/plan.yaml", None)
    assert "cannot read the plan: No such file or directory" in caught.value.reason


def test_directory_is_not_a_plan(tmp_path: Path) -> None:
    """A directory given as a plan is refused with the reason."""
    with pytest.raises(PlanError) as caught:
        read_plan([str(tmp_path)])
    assert caught.value.source == str(tmp_path)
    assert "cannot read the plan" in caught.value.reason


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads every file")
def test_unreadable_file_is_named(write) -> None:
    """A plan file without read permission is named."""
    path = write("secret.txt", f"{C1}\n")
    os.chmod(path, 0)
    with pytest.raises(PlanError, match="Permission denied"):
        read_plan([path])


def test_error_in_a_later_source_names_that_source(write) -> None:
    """With several sources, the error names the one at fault and its line."""
    good = write("good.txt", f"{C1}\n")
    bad = write("bad.yaml", f"deletions:\n  - checkpoint_id: {C2}\n    checkpoint_items: []\n")
    with pytest.raises(PlanError) as caught:
        read_plan([good, bad])
    assert (caught.value.source, caught.value.line) == (bad, 3)


def test_bad_utf8_names_its_line_in_a_file(tmp_path: Path) -> None:
    """Bytes that are not UTF-8 are reported at their line, even far into a file."""
    path = tmp_path / "plan.txt"
    path.write_bytes(f"{C1}\n".encode() * 5000 + b"\xff\xfe\n" + f"{C2}\n".encode())
    with pytest.raises(PlanError) as caught:
        read_plan([str(path)])
    assert (caught.value.line, "not UTF-8" in caught.value.reason) == (5001, True)


def test_bad_utf8_names_its_line_on_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    """Standard input is read as bytes, so bad UTF-8 there is reported at its line too."""
    raw = io.BytesIO(f"{C1}\n{C2}\n".encode() + b"\xc3(\n")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(raw, encoding="utf-8"))
    with pytest.raises(PlanError) as caught:
        read_plan(["-"])
    assert (caught.value.source, caught.value.line) == ("<stdin>", 3)


def test_stdin_twice_is_refused() -> None:
    """Standard input can be read once, so '-' given twice is an error."""
    with pytest.raises(PlanError, match="more than once"):
        read_plan(["-", "-"], stdin=io.StringIO(""))


def test_sources_that_declare_different_projects_are_refused(write) -> None:
    """Two plan files for two different projects cannot make one plan, even with no project configured."""
    first = write("a.yaml", f"project_id: {PROJECT}\ndeletions: []\n")
    second = write("b.yaml", "deletions: []\nproject_id: ffffffffffffffffffffffffffffffff\n")
    with pytest.raises(PlanError) as caught:
        read_plan([first, second])
    assert (caught.value.source, caught.value.line) == (second, 2)
    assert f"declared at {first}:1" in caught.value.reason


def test_nothing_is_returned_when_the_last_line_is_bad() -> None:
    """A fault on the very last line still rejects the whole plan (no partial plan)."""
    good = "".join(f"{C1} {int(n):08x}-0000-4000-8000-000000000000\n" for n in range(1000))
    with pytest.raises(PlanError) as caught:
        read_stdin(good + f"{C1} {I1[:-1]}\n")
    assert caught.value.line == 1001
