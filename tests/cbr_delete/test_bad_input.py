"""Plans for the wrong service and bad CBR plans: exit 2, a message naming the place, and nothing sent."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from tests.cbr_delete.conftest import CBR, new_id
from tests.harness import PROJECT, Run, ServedCbrEmulator, cbr_emulator_on_loopback, cloud_env

BACKUP = "6df2b54c-dd62-4059-a07c-1b8f24f2725d"
RECORD = "6f1c8a52-3d4e-4b8f-9a0b-1c2d3e4f5a6b"
ITEM = "3f9d8c2e-1b4a-4c2d-9e7f-0a1b2c3d4e5f"


def requests(served: ServedCbrEmulator) -> int:
    return sum(served.emulator.stats.requests_by_route.values())


CSBS_PLANS = [
    # (what, plan text, file name, words the message must hold)
    ("yaml record", f"deletions:\n  - checkpoint_id: {RECORD}\n    checkpoint_items: [{ITEM}]\n", "plan.yaml",
     ["plan.yaml:2", "CSBS backup record", "--service csbs"]),
    ("service csbs", f"service: csbs\ndeletions:\n  - backup_id: {BACKUP}\n", "plan.yaml", ["plan.yaml:1", "csbs"]),
    ("text record and item", f"{RECORD} {ITEM}\n", "plan.txt", ["plan.txt:1"]),
    ("json lines record", json.dumps({"checkpoint_id": RECORD, "checkpoint_items": [ITEM]}) + "\n", "plan.jsonl",
     ["plan.jsonl:1", "CSBS backup record"]),
]


@pytest.mark.parametrize(("what", "text", "name", "words"), CSBS_PLANS, ids=[case[0] for case in CSBS_PLANS])
def test_a_csbs_plan_is_refused_by_a_cbr_run(what: str, text: str, name: str, words: list[str],
                                             worker: Callable[..., Run], write_plan: Callable[..., str]) -> None:
    """A plan made for CSBS run with --service cbr: exit 2 naming the file and line, not a request sent."""
    with cbr_emulator_on_loopback() as served:
        served.emulator.add_backup(backup_id=BACKUP)
        run = worker(["delete", *CBR, write_plan(text, name)], cloud_env(served.url))
        sent = requests(served)
    assert run.code == 2, what
    assert sent == 0
    message = run.named("bad_input")[0]["error"]
    for word in words:
        assert word in message, message


CBR_PLANS = [
    ("service cbr", f"service: cbr\ndeletions:\n  - backup_id: {BACKUP}\n", "plan.yaml",
     ["plan.yaml:1", "--service cbr"]),
    ("backup_id entries", f"deletions:\n  - backup_id: {BACKUP}\n", "plan.yaml", ["plan.yaml:2", "--service cbr"]),
    ("json lines backup", json.dumps({"backup_id": BACKUP}) + "\n", "plan.jsonl", ["plan.jsonl:1", "--service cbr"]),
]


@pytest.mark.parametrize(("what", "text", "name", "words"), CBR_PLANS, ids=[case[0] for case in CBR_PLANS])
def test_a_cbr_plan_is_refused_without_service_cbr(what: str, text: str, name: str, words: list[str],
                                                   worker: Callable[..., Run], write_plan: Callable[..., str]) -> None:
    """A plan made for CBR (`service: cbr`, or backup_id entries) run without --service cbr: exit 2 saying
    which --service to use, not a request sent."""
    with cbr_emulator_on_loopback() as served:
        served.emulator.add_backup(backup_id=BACKUP)
        run = worker(["delete", write_plan(text, name)], cloud_env(served.url))
        sent = requests(served)
        left = served.emulator.backup_ids()
    assert run.code == 2, what
    assert sent == 0 and left == [BACKUP]
    message = run.named("bad_input")[0]["error"]
    for word in words:
        assert word in message, message


BAD_PLANS = [
    ("bad id", f"deletions:\n  - backup_id: {BACKUP}\n  - backup_id: abc\n", "plan.yaml", ["plan.yaml:3", "abc"]),
    ("unknown key", f"deletions:\n  - backup_id: {BACKUP}\n    vault: {RECORD}\n", "plan.yaml",
     ["plan.yaml:3", "vault"]),
    ("bad vault id", f"deletions:\n  - backup_id: {BACKUP}\n    vault_id: nope\n", "plan.yaml",
     ["plan.yaml:3", "nope"]),
    ("other project", f"service: cbr\nproject_id: ffffffffffffffffffffffffffffffff\ndeletions:\n"
     f"  - backup_id: {BACKUP}\n", "plan.yaml", ["plan.yaml:2", "ffffffffffffffffffffffffffffffff"]),
    ("bad text line", f"{BACKUP}\nnot-a-uuid\n", "plan.txt", ["plan.txt:2", "not-a-uuid"]),
    ("json line without backup_id", json.dumps({"backup_id": BACKUP}) + "\n" + json.dumps({"vault_id": RECORD})
     + "\n", "plan.jsonl", ["plan.jsonl:2", "backup_id"]),
]


@pytest.mark.parametrize(("what", "text", "name", "words"), BAD_PLANS, ids=[case[0] for case in BAD_PLANS])
def test_bad_cbr_plan_file(what: str, text: str, name: str, words: list[str], worker: Callable[..., Run],
                           write_plan: Callable[..., str]) -> None:
    """Each kind of bad CBR plan gives exit 2, names file and line, and no request reaches CBR."""
    with cbr_emulator_on_loopback() as served:
        served.emulator.add_backup(backup_id=BACKUP)
        run = worker(["delete", *CBR, write_plan(text, name)], cloud_env(served.url))
        sent = requests(served)
    assert run.code == 2, what
    assert sent == 0
    message = run.named("bad_input")[0]["error"]
    for word in words:
        assert word in message, message


def test_one_bad_line_among_good_ones_on_stdin(worker: Callable[..., Run]) -> None:
    """One bad line in a long stdin plan stops everything before the first request, naming <stdin>:line."""
    with cbr_emulator_on_loopback() as served:
        ids = [str(served.emulator.add_backup()["id"]) for _ in range(30)]
        lines = list(ids)
        lines.insert(20, "zzzz-not-an-id")
        run = worker(["delete", *CBR, "-"], cloud_env(served.url), stdin="\n".join(lines) + "\n")
        sent = requests(served)
    assert run.code == 2
    assert sent == 0
    assert "<stdin>:21" in run.named("bad_input")[0]["error"]


def test_the_plans_project_must_be_the_configured_one(worker: Callable[..., Run],
                                                      write_plan: Callable[..., str]) -> None:
    """A CBR plan for this project runs; the project is checked before anything is sent."""
    with cbr_emulator_on_loopback() as served:
        backup = str(served.emulator.add_backup()["id"])
        plan = write_plan(f"service: cbr\nproject_id: {PROJECT}\ndeletions:\n  - backup_id: {backup}\n")
        run = worker(["delete", *CBR, plan], cloud_env(served.url))
    assert run.code == 0
    assert run.report is not None and run.report["counts"]["deleted"] == 1


def test_unknown_service_is_refused(worker: Callable[..., Run], capsys: pytest.CaptureFixture[str]) -> None:
    """A service other than csbs or cbr is a usage error (exit 2), as a flag or from the environment."""
    run = worker(["delete", "-"], {**cloud_env("http://127.0.0.1:9"), "CSBS_SERVICE": "vbs"}, stdin=f"{new_id()}\n")
    assert run.code == 2
    assert "vbs" in run.stderr
    with pytest.raises(SystemExit) as exited:
        worker(["delete", "--service", "vbs", "-"], cloud_env("http://127.0.0.1:9"), stdin=f"{new_id()}\n")
    assert exited.value.code == 2
    assert "invalid choice: 'vbs'" in capsys.readouterr().err
