"""CBR plans: backups by id, the vault as a check, and plans of the other service refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from worker.errors import PlanError
from worker.plan import MAX_DUPLICATE_WARNINGS, Plan, Task, read_plan
from worker.services.registry import entries

from .samples import C1, C2, C3, I1, I2, PROJECT, read_stdin

B1, B2, B3 = C1, C2, C3  # backup ids
V1, V2 = I1, I2  # vault ids
NIL = "00000000-0000-0000-0000-000000000000"


def cbr(content: str, **options: object) -> Plan:
    """A CBR plan read from standard input."""
    return read_stdin(content, service=entries("cbr"), **options)


def backups(plan: Plan) -> list[tuple[str | None, str]]:
    """The (backup, vault or "") of every task, in order."""
    return [(task.backup_id, task.container_id) for task in plan]


def refused(content: str, **options: object) -> PlanError:
    with pytest.raises(PlanError) as caught:
        read_stdin(content, **options)
    return caught.value


# -- reading every format


def test_text_plan_has_one_backup_id_per_line() -> None:
    """Plain text: one backup id a line, comments and blank lines skipped; no vault given means ""."""
    plan = cbr(f"# CBR backups\n{B1}\n\n{B2.upper()}  # old one\n\t{B3}\n")
    assert plan.service == "cbr"
    assert list(plan) == [
        Task("", B1, "<stdin>", 2),
        Task("", B2, "<stdin>", 4),
        Task("", B3, "<stdin>", 5),
    ]
    assert plan.counts() == (0, 3)


def test_yaml_mapping_with_service_project_and_vaults() -> None:
    """A YAML plan `{service: cbr, project_id, deletions}`; vault_id is optional, and lands in checkpoint_id."""
    content = (
        f"service: cbr\nproject_id: {PROJECT}\ndeletions:\n"
        f"  - backup_id: {B1}\n    vault_id: {V1.upper()}\n  - backup_id: {B2}\n"
    )
    plan = cbr(content, project_id=PROJECT)
    assert list(plan) == [Task(V1, B1, "<stdin>", 4), Task("", B2, "<stdin>", 6)]
    assert plan.project_id == PROJECT


@pytest.mark.parametrize(
    "content",
    [
        f"- backup_id: {B1}\n  vault_id: {V1}\n- {{backup_id: {B2}}}\n",
        json.dumps({"service": "cbr", "deletions": [{"backup_id": B1, "vault_id": V1}, {"backup_id": B2}]}) + "\n",
        json.dumps({"deletions": [{"backup_id": B1, "vault_id": V1}, {"backup_id": B2}]}, indent=2),
        json.dumps([{"backup_id": B1, "vault_id": V1}, {"backup_id": B2}]) + "\n",
        f'{{"backup_id": "{B1}", "vault_id": "{V1}"}}\n# note\n\n{{"backup_id": "{B2}"}}\n',
    ],
    ids=["yaml-list", "json-document", "json-pretty", "json-array", "jsonl"],
)
def test_every_document_form_reads_the_same_backups(content: str) -> None:
    """A bare YAML list, a JSON document (one line or several), a JSON array and JSON Lines all read alike."""
    assert backups(cbr(content)) == [(B1, V1), (B2, "")]


def test_sources_are_read_in_order_with_their_lines(tmp_path: Path) -> None:
    """Several sources of different formats make one plan, each task naming its file and line."""
    text, jsonl = tmp_path / "a.txt", tmp_path / "b.jsonl"
    text.write_text(f"{B1}\n{B2}\n")
    jsonl.write_text(f'{{"backup_id": "{B3}", "vault_id": "{V2}"}}\n')
    plan = read_plan([str(text), str(jsonl)], service=entries("cbr"))
    assert [(task.backup_id, task.source, task.line) for task in plan] == [
        (B1, str(text), 1),
        (B2, str(text), 2),
        (B3, str(jsonl), 1),
    ]
    assert plan.sources == (str(text), str(jsonl))


def test_compact_storage_round_trips_no_vault_and_every_vault() -> None:
    """No vault ("") and a vault id (the nil UUID too) come back as given, however read."""
    plan = cbr(
        f'{{"backup_id": "{B1}"}}\n{{"backup_id": "{B2}", "vault_id": "{NIL}"}}\n{{"backup_id": "{B3}", '
        f'"vault_id": "{V1}"}}\n'
    )
    expected = [Task("", B1, "<stdin>", 1), Task(NIL, B2, "<stdin>", 2), Task(V1, B3, "<stdin>", 3)]
    assert list(plan) == expected
    assert [plan[0], plan[1], plan[-1]] == expected
    assert plan[1:] == expected[1:]
    assert all(task.backup_id is not None for task in plan)
    assert "3 CBR backups" in repr(plan)


def test_csbs_plans_say_csbs() -> None:
    """A plan read the default way is a CSBS plan, as before; so is an empty one."""
    assert read_stdin(f"{C1} {I1}\n").service == "csbs"
    assert Plan().service == "csbs"
    assert cbr("").service == "cbr"


def test_an_unknown_service_argument_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown service 'vbs'"):
        read_stdin(f"{C1}\n", service=entries("vbs"))


# -- duplicates


def test_a_backup_listed_twice_is_deleted_once_with_a_warning() -> None:
    """The same backup twice (any case, any format) is one task; the warning names both places."""
    warnings: list[str] = []
    plan = cbr(f"{B1}\n{B2}\n{B1.upper()}\n", on_warning=warnings.append)
    assert backups(plan) == [(B1, ""), (B2, "")]
    assert warnings == [f"backup {B1} is listed at <stdin>:1 and again at <stdin>:3; deleted once"]


def test_a_repeat_that_names_the_vault_adds_the_check() -> None:
    """A backup first listed without a vault, then with one, is one task that keeps the vault as its check."""
    warnings: list[str] = []
    content = f'{{"backup_id": "{B1}"}}\n{{"backup_id": "{B2}"}}\n{{"backup_id": "{B1}", "vault_id": "{V1}"}}\n'
    plan = cbr(content, on_warning=warnings.append)
    assert list(plan) == [Task(V1, B1, "<stdin>", 1), Task("", B2, "<stdin>", 2)]
    assert len(warnings) == 1
    same = cbr(f"- backup_id: {B1}\n  vault_id: {V1}\n- backup_id: {B1}\n- backup_id: {B1}\n  vault_id: {V1}\n")
    assert backups(same) == [(B1, V1)]


def test_one_backup_in_two_vaults_is_an_error_naming_both_lines() -> None:
    error = refused(
        f"- backup_id: {B1}\n  vault_id: {V1}\n- backup_id: {B2}\n- backup_id: {B1}\n  vault_id: {V2}\n",
        service=entries("cbr"),
    )
    assert (error.source, error.line) == ("<stdin>", 4)
    assert f"listed at <stdin>:1 with vault_id {V1} and at <stdin>:4 with vault_id {V2}" in error.reason


def test_duplicates_across_sources_and_the_warning_cap(tmp_path: Path) -> None:
    """Repeats in another file merge too; past the cap the warnings are counted, not listed."""
    first, second = tmp_path / "a.txt", tmp_path / "b.txt"
    ids = [f"{n:08x}-0000-4000-8000-{n:012x}" for n in range(MAX_DUPLICATE_WARNINGS + 5)]
    first.write_text("".join(f"{backup}\n" for backup in ids))
    second.write_text("".join(f"{backup}\n" for backup in ids))
    warnings: list[str] = []
    plan = read_plan([str(first), str(second)], service=entries("cbr"), on_warning=warnings.append)
    assert len(plan) == len(ids)
    assert len(warnings) == MAX_DUPLICATE_WARNINGS + 1
    assert f"{first}:1 and again at {second}:1" in warnings[0]
    assert warnings[-1].startswith(f"{len(ids)} duplicate tasks were merged")


# -- the other service's plans and entries


@pytest.mark.parametrize(
    ("content", "service", "line", "run_with"),
    [
        (f"service: cbr\ndeletions:\n  - backup_id: {B1}\n", "csbs", 1, "--service cbr"),
        (f"project_id: {PROJECT}\nservice: csbs\ndeletions:\n  - checkpoint_id: {C1}\n", "cbr", 2, "--service csbs"),
        (f"deletions:\n  - backup_id: {B1}\nservice: CBR\n", "csbs", 3, "--service cbr"),
        (json.dumps({"service": "csbs", "deletions": [{"checkpoint_id": C1}]}, indent=2), "cbr", 2, "--service csbs"),
        (json.dumps({"service": "cbr", "deletions": []}) + "\n", "csbs", 1, "--service cbr"),
    ],
    ids=["cbr-plan-csbs-run", "csbs-plan-cbr-run", "service-last", "json-pretty", "json-one-line"],
)
def test_a_plan_for_the_other_service_is_refused(content: str, service: str, line: int, run_with: str) -> None:
    """`service:` names the plan's service; run against the other, it is refused at that line (exit 2)."""
    error = refused(content, service=entries(service))
    assert (error.source, error.line) == ("<stdin>", line)
    assert "this plan is made for" in error.reason and f"run it with {run_with}" in error.reason
    assert error.exit_code == 2


def test_a_plan_for_the_run_service_is_accepted() -> None:
    assert len(read_stdin(f"service: csbs\ndeletions:\n  - checkpoint_id: {C1}\n")) == 1
    assert len(cbr(f"service: cbr\ndeletions:\n  - backup_id: {B1}\n")) == 1


@pytest.mark.parametrize(
    ("value", "found"),
    [("vbs", "a string 'vbs'"), ("", "nothing (null)"), ("[cbr]", "a list"), ("3", "a number 3")],
)
def test_an_unknown_service_value_is_refused(value: str, found: str) -> None:
    for service in ("csbs", "cbr"):
        error = refused(f"deletions: []\nservice: {value}\n", service=entries(service))
        assert error.line == 2
        assert error.reason == f"service must be one of csbs, cbr, found {found}"


CSBS_ENTRY = "this entry names a CSBS backup record; CBR plans name backups: backup_id"
CBR_ENTRY = "run it with --service cbr"


@pytest.mark.parametrize(
    ("content", "service", "line", "words"),
    [
        (f"- checkpoint_id: {C1}\n", "cbr", 1, CSBS_ENTRY),
        (f"- backup_id: {B1}\n  checkpoint_items: [{I1}]\n", "cbr", 2, CSBS_ENTRY),
        (f'{{"checkpoint_id": "{C1}"}}\n', "cbr", 1, CSBS_ENTRY),
        (f"deletions:\n  - backup_id: {B1}\n", "csbs", 2, CBR_ENTRY),
        (f"- checkpoint_id: {C1}\n  vault_id: {V1}\n", "csbs", 2, CBR_ENTRY),
        (f'{{"checkpoint_id": "{C2}"}}\n{{"backup_id": "{B1}"}}\n', "csbs", 2, CBR_ENTRY),
    ],
    ids=[
        "yaml-cbr-run",
        "yaml-items-cbr-run",
        "jsonl-cbr-run",
        "yaml-csbs-run",
        "yaml-vault-csbs-run",
        "jsonl-csbs-run",
    ],
)
def test_an_entry_of_the_other_service_is_refused(content: str, service: str, line: int, words: str) -> None:
    error = refused(content, service=entries(service))
    assert (error.source, error.line) == ("<stdin>", line)
    assert words in error.reason


# -- the plan rules, for CBR too

BAD_CBR_PLANS = {
    "text: second id": (
        f"{B1}\n{B2} {B3}\n",
        2,
        f"a second id '{B3}' on this line: a CBR plan has one backup id per line",
    ),
    "text: bad id": (f"{B1}\nnope\n", 2, "bad backup id 'nope': not a UUID"),
    "text: odd separator": (f"{B1}\u2028{B2}\n", 1, "U+2028 separates ids"),
    "yaml: no backup_id": (f"- vault_id: {V1}\n", 1, "the entry has no backup_id"),
    "yaml: unknown key": (
        f"- backup_id: {B1}\n  vault: x\n",
        2,
        "unknown key 'vault' in this entry (known keys: backup_id, vault_id)",
    ),
    "yaml: backup_id null": ("- backup_id:\n", 1, "backup_id must be a string, found nothing (null)"),
    "yaml: bad vault id": (f"- backup_id: {B1}\n  vault_id: abc\n", 2, "bad vault id 'abc': not a UUID"),
    "yaml: vault_id a list": (f"- backup_id: {B1}\n  vault_id: [{V1}]\n", 2, "vault_id must be a string, found a list"),
    "yaml: entry a string": (f"- {B1}\n", 1, "an entry must be a mapping with backup_id (and optional vault_id)"),
    "yaml: entry key at the top": (f"backup_id: {B1}\n", 1, "entries go in a 'deletions' list"),
    "yaml: key twice": (f"- backup_id: {B1}\n  backup_id: {B2}\n", 2, "key 'backup_id' appears twice"),
    "yaml: project differs": (
        "project_id: ffffffffffffffffffffffffffffffff\nservice: cbr\ndeletions: []\n",
        1,
        f"differs from the configured project '{PROJECT}'",
    ),
    "jsonl: no backup_id": (f'{{"vault_id": "{V1}"}}\n', 1, "the entry has no backup_id"),
    "jsonl: backup_id a number": ('{"backup_id": 7}\n', 1, "backup_id must be a string, found a number 7"),
    "jsonl: vault_id null": (
        f'{{"backup_id": "{B1}", "vault_id": null}}\n',
        1,
        "vault_id must be a string, found null",
    ),
    "jsonl: service in an entry": (
        f'{{"backup_id": "{B1}", "service": "cbr"}}\n',
        1,
        "service is not read from a JSON Lines entry",
    ),
    "jsonl: project in an entry": (
        f'{{"backup_id": "{B1}", "project_id": "{PROJECT}"}}\n',
        1,
        "project_id is not read from a JSON Lines entry",
    ),
    "jsonl: unknown key": (f'{{"backup_id": "{B1}", "id": "{B2}"}}\n', 1, "unknown key 'id' in this entry"),
}


@pytest.mark.parametrize(("content", "line", "reason"), BAD_CBR_PLANS.values(), ids=BAD_CBR_PLANS.keys())
def test_a_bad_cbr_plan_is_refused_at_its_line(content: str, line: int, reason: str) -> None:
    error = refused(content, service=entries("cbr"), project_id=PROJECT)
    assert (error.source, error.line) == ("<stdin>", line)
    assert reason in error.reason


def test_an_invalid_cbr_plan_gives_no_task_and_no_warning(tmp_path: Path) -> None:
    """Checked whole first: a fault in the last source means no plan, and the duplicates are not told."""
    good, bad = tmp_path / "good.txt", tmp_path / "bad.txt"
    good.write_text(f"{B1}\n{B1}\n")
    bad.write_text(f"{B2}\n{B3} {B1}\n")
    warnings: list[str] = []
    with pytest.raises(PlanError) as caught:
        read_plan([str(good), str(bad)], service=entries("cbr"), on_warning=warnings.append)
    assert (caught.value.source, caught.value.line, warnings) == (str(bad), 2, [])


@pytest.mark.parametrize("line_end", ["\r", "\r\n", "\n"], ids=["CR", "CRLF", "LF"])
def test_every_line_end_ends_a_line(tmp_path: Path, line_end: str) -> None:
    """A CR-only file of backup ids is one backup a line, never one line of several ids."""
    path = tmp_path / "plan.txt"
    path.write_bytes(f"{B1}\n{B2}\n{B3}\n".replace("\n", line_end).encode())
    plan = read_plan([str(path)], service=entries("cbr"))
    assert [(task.backup_id, task.line) for task in plan] == [(B1, 1), (B2, 2), (B3, 3)]


@pytest.mark.parametrize(
    "content",
    [
        f"urn:uuid:{B1}\n",
        f"- backup_id: urn:uuid:{B1}\n",
        f'{{"backup_id": "URN:UUID:{B1}"}}\n',
        f'{{"backup_id": "{B1}", "vault_id": "urn:uuid:{V1}"}}\n',
    ],
    ids=["text", "yaml", "jsonl", "jsonl-vault"],
)
def test_urn_uuid_form_is_named(content: str) -> None:
    error = refused(content, service=entries("cbr"))
    assert error.line == 1
    assert "ids are bare UUIDs; drop the urn:uuid: prefix" in error.reason


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ('{"backup_id": ' + "[" * 1000 + "]" * 1000 + "}\n", "nested far too deeply"),
        ('{"backup_id": ' + "9" * 5000 + "}\n", "a number of 5000 digits"),
        (f'{{"backup_id": "{B1}", "vault_id": ' + "1" * 4301 + "}\n", "4301 digits"),
        ("- backup_id: " + "[" * 1000 + "]" * 1000 + "\n", "nest"),
    ],
    ids=["deep-jsonl", "big-int", "big-int-vault", "deep-yaml"],
)
def test_hostile_input_is_refused_at_its_line(content: str, reason: str) -> None:
    error = refused(
        f'{{"backup_id": "{B2}"}}\n' + content if content.startswith("{") else f"- backup_id: {B2}\n" + content,
        service=entries("cbr"),
    )
    assert error.line == 2
    assert reason in error.reason


def test_a_huge_value_is_cut_in_the_message() -> None:
    """A 5 MB service or backup id comes back as its start and its length, not whole."""
    for content in (f"service: {'c' * 5_000_000}\ndeletions: []\n", f"{'b' * 5_000_000}\n"):
        error = refused(content, service=entries("cbr"))
        assert "(5000000 characters)" in str(error) and len(str(error)) < 300


def test_large_text_plan_is_read(tmp_path: Path) -> None:
    """200,000 backup ids, one a line: one task each, in order, none with a vault."""
    count = 200_000
    path = tmp_path / "large.txt"
    path.write_text("".join(f"{n:08x}-1111-4000-9000-{n:012x}\n" for n in range(count)))
    plan = read_plan([str(path)], service=entries("cbr"))
    assert len(plan) == count and plan.counts() == (0, count)
    assert plan[-1] == Task("", f"{count - 1:08x}-1111-4000-9000-{count - 1:012x}", str(path), count)


# -- property: the formats agree, and merging follows one model

_pool = [f"{n:08x}-1111-4222-8333-{n:012x}" for n in range(1, 6)]
_spelled = st.tuples(st.sampled_from(_pool), st.booleans()).map(lambda pair: pair[0].upper() if pair[1] else pair[0])
_entries = st.lists(st.tuples(_spelled, st.none() | _spelled), max_size=10)  # (backup, vault or None)


def _model(entries: list[tuple[str, str | None]]) -> list[tuple[str, str]] | None:
    """The (backup, vault or "") tasks the entries mean, first-listed order; None when a backup is in two vaults."""
    vaults: dict[str, str] = {}
    for backup, vault in entries:
        known = vaults.setdefault(backup.lower(), "")
        if vault is not None:
            if known and known != vault.lower():
                return None
            vaults[backup.lower()] = vault.lower()
    return list(vaults.items())


@settings(max_examples=150, deadline=None)
@given(entries=_entries, declare=st.booleans())
def test_every_format_reads_the_same_backups(entries: list[tuple[str, str | None]], declare: bool) -> None:
    dicts = [{"backup_id": b} if v is None else {"backup_id": b, "vault_id": v} for b, v in entries]
    documents = {
        "yaml": yaml.safe_dump({"service": "cbr", "deletions": dicts} if declare else dicts),
        "jsonl": "".join(json.dumps(entry) + "\n" for entry in dicts),
    }
    if all(vault is None for _, vault in entries):
        documents["text"] = "".join(f"{backup}\n" for backup, _ in entries)
    expected = _model(entries)
    for content in documents.values():
        if expected is None:
            with pytest.raises(PlanError, match="a backup is in one vault"):
                cbr(content)
        else:
            assert [(b, v) for b, v in backups(cbr(content))] == expected
