"""Reading valid plans: each format, detection, sources, stdin, lines, case and the Plan sequence."""

from __future__ import annotations

import io
import sys

import pytest

from worker.errors import PlanError
from worker.plan import Plan, Task, detect_format, read_plan

from .samples import C1, C2, C3, I1, I2, I3, PROJECT, pairs, places, read_stdin

# The same three entries (whole C1; C2 items I1, I2; C3 item I3) in every way a plan can be written.
EXPECTED = [(C1, None), (C2, I1), (C2, I2), (C3, I3)]
SAME_PLAN = {
    "yaml mapping": f"""\
project_id: {PROJECT}
deletions:
  - checkpoint_id: {C1}
  - checkpoint_id: {C2}
    checkpoint_items:
      - {I1}
      - {I2}
  - checkpoint_id: {C3}
    checkpoint_items: [{I3}]
""",
    "yaml bare list": f"""\
- checkpoint_id: {C1}
- checkpoint_id: {C2}
  checkpoint_items: [{I1}, {I2}]
- {{checkpoint_id: {C3}, checkpoint_items: ['{I3}']}}
""",
    "yaml flow, after comments": f"""\
# made by hand
---
{{deletions: [{{checkpoint_id: "{C1}"}}, {{checkpoint_id: {C2}, checkpoint_items: [{I1}, {I2}]}},
  {{checkpoint_id: {C3}, checkpoint_items: [{I3}]}}]}}
""",
    "text": f"{C1}\n{C2} {I1} {I2}\n{C3} {I3}\n",
    "text with comments, blanks and tabs": f"""\
# retention run 2024-05-01

{C1}   # the whole record: old
\t{C2}\t{I1}  {I2}
   # indented comment
{C3} {I3}#glued comment
""",
    "jsonl": (
        f'{{"checkpoint_id": "{C1}"}}\n'
        f'{{"checkpoint_id": "{C2}", "checkpoint_items": ["{I1}", "{I2}"]}}\n'
        f'{{"checkpoint_items": ["{I3}"], "checkpoint_id": "{C3}"}}\n'
    ),
    "jsonl with blanks and comments": (
        f'# generated\n\n{{"checkpoint_id": "{C1}"}}\n  \n'
        f'{{ "checkpoint_id" : "{C2}", "checkpoint_items": ["{I1}", "{I2}"] }}\n'
        f'# done\n{{"checkpoint_id": "{C3}", "checkpoint_items": ["{I3}"]}}\n'
    ),
}


@pytest.mark.parametrize("content", SAME_PLAN.values(), ids=SAME_PLAN.keys())
def test_every_format_gives_the_same_tasks(content: str) -> None:
    """Each way of writing the plan gives the same tasks, in the order listed."""
    plan = read_stdin(content)
    assert pairs(plan) == EXPECTED
    assert plan.counts() == (1, 3)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (f"{C1}", "text"),
        (f"{C1} {I1} {I2}", "text"),
        (f"{C1}  # note: keep: no", "text"),
        ("not-an-id", "text"),
        (f"{{{C1}}}", "text"),
        (f"{C1}: {I1}", "text"),
        ("deletions:", "yaml"),
        ("project_id: abc", "yaml"),
        (f"- checkpoint_id: {C1}", "yaml"),
        ("---", "yaml"),
        ("%YAML 1.1", "yaml"),
        ("[", "yaml"),
        ("{deletions: []}", "yaml"),
        ("{", "yaml"),
        (f'{{"checkpoint_id": "{C1}"}}', "jsonl"),
        (f"urn:uuid:{C1}", "text"),
        (f'{{"deletions": [{{"checkpoint_id": "{C1}"}}]}}', "yaml"),
        (f'{{"project_id": "{PROJECT}", "deletions": []}}', "yaml"),
        ('{"deletions": [', "yaml"),
        (f'{{"project_id": "{PROJECT}", "checkpoint_id": "{C1}"}}', "jsonl"),
        ('  { "checkpoint_id": 1}', "jsonl"),
    ],
)
def test_detect_format(line: str, expected: str) -> None:
    """The first meaningful line decides the format."""
    assert detect_format(line) == expected


@pytest.mark.parametrize(
    ("fmt", "content"),
    [
        ("yaml", SAME_PLAN["yaml mapping"]),
        ("text", SAME_PLAN["text"]),
        ("jsonl", SAME_PLAN["jsonl"]),
        ("yaml", f'[{{"checkpoint_id": "{C1}"}}]\n'),  # JSON is YAML
    ],
)
def test_forced_format_reads_its_format(fmt: str, content: str) -> None:
    """A forced format reads a plan of that format."""
    assert pairs(read_stdin(content, fmt=fmt))[0] == (C1, None)


def test_forced_format_wins_over_detection() -> None:
    """A forced format is used even when the content looks like another one."""
    with pytest.raises(PlanError) as caught:
        read_stdin(SAME_PLAN["yaml mapping"], fmt="text")
    assert caught.value.line == 1
    assert "bad checkpoint id 'project_id:'" in caught.value.reason


@pytest.mark.parametrize(
    "content",
    [
        "",
        "\n\n",
        "# nothing to do\n",
        "deletions: []\n",
        "deletions:\n",
        "[]\n",
        "---\n",
        f"project_id: {PROJECT}\ndeletions: []\n",
    ],
)
def test_a_plan_without_entries_is_empty(content: str) -> None:
    """A plan with no entries is valid and has no tasks."""
    plan = read_stdin(content, project_id=PROJECT)
    assert len(plan) == 0
    assert plan.counts() == (0, 0)
    assert list(plan) == []


@pytest.mark.parametrize(
    "content",
    [
        f"{C1.upper()} {I1.upper()}\n",
        f"- checkpoint_id: {C1.upper()}\n  checkpoint_items: [{I1.upper()}]\n",
        f'{{"checkpoint_id": "{C1.upper()}", "checkpoint_items": ["{I1.title()}"]}}\n',
    ],
)
def test_ids_are_normalised_to_lower_case(content: str) -> None:
    """Ids in any case come out lower case."""
    assert pairs(read_stdin(content)) == [(C1, I1)]


def test_tasks_name_their_source_and_line_in_yaml() -> None:
    """A whole record carries its entry's line; each item carries its own line."""
    plan = read_stdin(SAME_PLAN["yaml mapping"])
    assert places(plan) == [("<stdin>", 3), ("<stdin>", 6), ("<stdin>", 7), ("<stdin>", 9)]


def test_tasks_name_their_source_and_line_in_text(write) -> None:
    """Every task of a text line carries that line, comments and blanks counted."""
    path = write("plan.txt", SAME_PLAN["text with comments, blanks and tabs"])
    plan = read_plan([path])
    assert places(plan) == [(path, 3), (path, 4), (path, 4), (path, 6)]
    assert plan.sources == (path,)


def test_tasks_name_their_source_and_line_in_jsonl() -> None:
    """Every task of a JSON line carries that line."""
    plan = read_stdin(SAME_PLAN["jsonl with blanks and comments"])
    assert [line for _, line in places(plan)] == [3, 5, 5, 7]


def test_several_sources_make_one_plan_in_order(write) -> None:
    """Files of different formats and stdin make one plan, tasks in the order of the sources."""
    yaml_path = write("a.yaml", f"deletions:\n  - checkpoint_id: {C1}\n")
    text_path = write("b.txt", f"{C2} {I1}\n")
    stdin = io.StringIO(f'{{"checkpoint_id": "{C3}", "checkpoint_items": ["{I3}"]}}\n')
    plan = read_plan([yaml_path, "-", text_path], stdin=stdin)
    assert plan.sources == (yaml_path, "<stdin>", text_path)
    assert pairs(plan) == [(C1, None), (C3, I3), (C2, I1)]
    assert places(plan) == [(yaml_path, 2), ("<stdin>", 1), (text_path, 1)]


def test_empty_sources_in_between_keep_sources_right(write) -> None:
    """A source without entries does not shift the source of the tasks after it."""
    first = write("first.txt", f"{C1}\n")
    empty = write("empty.txt", "# nothing\n")
    last = write("last.txt", f"{C2}\n")
    plan = read_plan([first, empty, last])
    assert places(plan) == [(first, 1), (last, 1)]


def test_no_source_reads_stdin() -> None:
    """read_plan([]) reads standard input, like ["-"]."""
    plan = read_plan([], stdin=io.StringIO(f"{C1}\n"))
    assert plan.sources == ("<stdin>",)
    assert pairs(plan) == [(C1, None)]


def test_default_stdin_is_sys_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a stdin argument, "-" reads the process's standard input."""
    raw = io.BytesIO(f"{C1} {I1}\n".encode())
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(raw, encoding="utf-8"))
    assert pairs(read_plan(["-"])) == [(C1, I1)]


@pytest.mark.parametrize("name", ["yaml mapping", "text", "jsonl"])
def test_windows_line_ends_and_bom_are_accepted(write, tmp_path, name: str) -> None:
    """A file saved with CRLF line ends and a UTF-8 BOM reads like any other."""
    path = tmp_path / "windows.plan"
    path.write_bytes(b"\xef\xbb\xbf" + SAME_PLAN[name].replace("\n", "\r\n").encode())
    assert pairs(read_plan([str(path)])) == EXPECTED


def test_project_id_that_matches_is_accepted_in_any_case() -> None:
    """A plan for the configured project is read, whatever the case of its project_id."""
    content = f"project_id: {PROJECT.upper()}\ndeletions:\n  - checkpoint_id: {C1}\n"
    plan = read_stdin(content, project_id=PROJECT)
    assert pairs(plan) == [(C1, None)]
    assert plan.project_id == PROJECT.upper()


def test_project_id_without_a_configured_project_is_kept() -> None:
    """With no configured project, the plan's own project_id is accepted and exposed."""
    plan = read_stdin(f"project_id: {PROJECT}\ndeletions: []\n")
    assert plan.project_id == PROJECT


def test_plan_is_a_sequence_of_tasks() -> None:
    """A plan supports len, indexing (negative too), slicing and iteration."""
    plan = read_stdin(SAME_PLAN["text"])
    assert isinstance(plan, Plan)
    assert len(plan) == 4
    assert plan[0] == Task(C1, None, "<stdin>", 1)
    assert plan[-1] == Task(C3, I3, "<stdin>", 3)
    assert [task.backup_id for task in plan[1:3]] == [I1, I2]
    assert list(plan) == [plan[i] for i in range(4)]
    with pytest.raises(IndexError):
        plan[4]
    assert "4 tasks (1 whole-record, 3 single-backup)" in repr(plan)


def test_sources_must_be_a_list_not_a_string() -> None:
    """A lone path string is refused instead of being read letter by letter."""
    with pytest.raises(TypeError):
        read_plan("plan.yaml")


def test_unknown_format_is_refused() -> None:
    """A format name that does not exist is a programming error."""
    with pytest.raises(ValueError, match="unknown plan format 'xml'"):
        read_plan(["-"], fmt="xml", stdin=io.StringIO(""))
